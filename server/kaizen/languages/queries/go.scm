; Kaizen's definitions and imports for Go (see ../syntax.py for the captures).

(function_declaration name: (_) @name) @function
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [(type_identifier) @receiver
             (pointer_type (type_identifier) @receiver)
             (generic_type type: (type_identifier) @receiver)
             (pointer_type (generic_type type: (type_identifier) @receiver))]))
  name: (_) @name) @method

(type_declaration (type_spec name: (_) @name type: [(struct_type) (interface_type)])) @class

(import_spec path: (_) @spec) @import
(import_spec name: (_) @import.alias path: (_) @import.name)
(import_declaration) @package
(package_clause) @package
