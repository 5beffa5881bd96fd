; Kaizen's definitions and imports for PHP (see ../syntax.py for the captures).

(function_definition name: (_) @name) @function
(method_declaration name: (_) @name) @function

(class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(trait_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class
(namespace_definition name: (_) @name body: (_)) @namespace

(namespace_use_declaration (namespace_use_clause [(qualified_name) (name)] @spec)) @import
(namespace_use_declaration (namespace_name) @spec body: (_)) @import
(expression_statement
  [(require_expression (_) @spec) (require_once_expression (_) @spec)
   (include_expression (_) @spec) (include_once_expression (_) @spec)]) @import

(namespace_use_clause (qualified_name (name) @import.name .) . alias: (_)? @import.alias)
(namespace_use_clause . (name) @import.name . alias: (_)? @import.alias)
(namespace_definition !body) @package
