; Kaizen's definitions and imports for C# (see ../syntax.py for the captures).

(class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(struct_declaration name: (_) @name) @class
(record_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class
(namespace_declaration name: (_) @name) @namespace

(method_declaration name: (_) @name) @function
(constructor_declaration name: (_) @name) @function
(destructor_declaration name: (_) @name) @function
(operator_declaration) @function
(local_function_statement name: (_) @name) @function

(using_directive [(qualified_name) (identifier)] @spec .) @import
(using_directive name: (_) @import.alias [(qualified_name) (identifier)] @import.name .)
(file_scoped_namespace_declaration) @package
