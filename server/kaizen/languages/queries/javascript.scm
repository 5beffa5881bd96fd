; Kaizen's definitions and imports for JavaScript and JSX (see ../syntax.py for the captures).

(function_declaration name: (_) @name) @function
(generator_function_declaration name: (_) @name) @function
(lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @function
(variable_declaration
  (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @function

(method_definition name: (_) @name) @function
(field_definition property: (_) @name value: [(arrow_function) (function_expression)]) @function

(class_declaration name: (_) @name) @class

(import_statement source: (string (string_fragment) @spec)) @import
(export_statement source: (string (string_fragment) @spec)) @import @reexport
(lexical_declaration
  (variable_declarator
    value: (call_expression function: (identifier) @_require
      arguments: (arguments . (string (string_fragment) @spec))))
  (#eq? @_require "require")) @import
(expression_statement
  (call_expression function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @spec)))
  (#eq? @_require "require")) @import

(import_specifier name: (_) @import.name alias: (_)? @import.alias)
(import_clause (identifier) @import.name)
(namespace_import (identifier) @import.alias) @import.name
(export_specifier name: (_) @import.name alias: (_)? @import.alias)
(lexical_declaration
  (variable_declarator name: (identifier) @import.name
    value: (call_expression function: (identifier) @_require))
  (#eq? @_require "require"))
(lexical_declaration
  (variable_declarator
    name: (object_pattern [(shorthand_property_identifier_pattern) @import.name
                           (pair_pattern key: (_) @import.name value: (identifier) @import.alias)])
    value: (call_expression function: (identifier) @_require))
  (#eq? @_require "require"))

; test files: a describe block qualifies its tests the way a namespace does, each test is a unit
(expression_statement
  (call_expression
    function: (identifier) @_describe
    arguments: (arguments . (string (string_fragment) @name) [(arrow_function) (function_expression)]))
  (#any-of? @_describe "describe" "suite" "context")) @namespace
(expression_statement
  (call_expression
    function: (identifier) @_test
    arguments: (arguments . (string (string_fragment) @name) [(arrow_function) (function_expression)]))
  (#any-of? @_test "it" "test" "specify")) @function
