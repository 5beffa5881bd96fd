; Kaizen's definitions and imports for TypeScript and TSX (see ../syntax.py for the captures).

(function_declaration name: (_) @name) @function
(generator_function_declaration name: (_) @name) @function
(function_signature name: (_) @name) @function
(lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @function
(variable_declaration
  (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @function

(method_definition name: (_) @name) @function
(public_field_definition name: (_) @name value: [(arrow_function) (function_expression)]) @function
(abstract_method_signature name: (_) @name) @function

(class_declaration name: (_) @name) @class
(abstract_class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class
(internal_module name: (_) @name) @namespace
(module name: (_) @name) @namespace

(import_statement source: (string (string_fragment) @spec)) @import
(import_statement (import_require_clause source: (string (string_fragment) @spec))) @import
(export_statement source: (string (string_fragment) @spec)) @import @reexport

(import_specifier name: (_) @import.name alias: (_)? @import.alias)
(import_clause (identifier) @import.name)
(namespace_import (identifier) @import.alias) @import.name
(export_specifier name: (_) @import.name alias: (_)? @import.alias)
(lexical_declaration
  (variable_declarator
    value: (call_expression function: (identifier) @_require
      arguments: (arguments . (string (string_fragment) @spec))))
  (#eq? @_require "require")) @import
(lexical_declaration
  (variable_declarator name: (identifier) @import.name
    value: (call_expression function: (identifier) @_require))
  (#eq? @_require "require"))
(import_require_clause (identifier) @import.name)

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
