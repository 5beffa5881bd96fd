; Kaizen's definitions and imports for C (see ../syntax.py for the captures).

(function_definition declarator: (function_declarator declarator: (_) @name)) @function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @function
(function_definition
  declarator: (pointer_declarator
    declarator: (pointer_declarator
      declarator: (function_declarator declarator: (_) @name)))) @function

(struct_specifier name: (_) @name body: (_)) @class
(union_specifier name: (_) @name body: (_)) @class
(enum_specifier name: (_) @name body: (_)) @class
(type_definition
  type: [(struct_specifier body: (_)) (union_specifier body: (_)) (enum_specifier body: (_))]
  declarator: (_) @name) @class

(preproc_include path: (_) @spec) @import
