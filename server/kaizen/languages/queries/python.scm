; Kaizen's definitions and imports for Python (see ../syntax.py for the captures). Python's
; units come from ``ast`` (units.py); this query serves ``outline`` (the symbol index).

(function_definition name: (_) @name
  body: (block . (expression_statement (string) @doc)?)) @function
(class_definition name: (_) @name
  body: (block . (expression_statement (string) @doc)?)) @class

(import_statement name: [(dotted_name) (aliased_import name: (_))] @spec) @import
(import_from_statement module_name: (_) @spec) @import

(import_from_statement name: (dotted_name) @import.name)
(import_from_statement name: (aliased_import name: (_) @import.name alias: (_) @import.alias))
(import_from_statement (wildcard_import) @import.name)
(import_statement name: (aliased_import name: (_) @import.name alias: (_) @import.alias))
(future_import_statement) @import
