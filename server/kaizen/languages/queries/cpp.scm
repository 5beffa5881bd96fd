; Kaizen's definitions and imports for C++ (see ../syntax.py for the captures).
; ``template <...>`` above a definition is part of it (syntax.WRAPPERS).

(function_definition declarator: (function_declarator declarator: (_) @name)) @function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @function
(function_definition
  declarator: (reference_declarator (function_declarator declarator: (_) @name))) @function

(class_specifier name: (_) @name body: (_)) @class
(struct_specifier name: (_) @name body: (_)) @class
(union_specifier name: (_) @name body: (_)) @class
(enum_specifier name: (_) @name body: (_)) @class
(namespace_definition name: (_) @name body: (_)) @namespace

(preproc_include path: (_) @spec) @import
(using_declaration (_) @spec) @import
