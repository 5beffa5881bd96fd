; Kaizen's definitions and imports for Ruby (see ../syntax.py for the captures).

(method name: (_) @name) @function
(singleton_method name: (_) @name) @function

(class name: (_) @name) @class
(module name: (_) @name) @class
(singleton_class) @class

(call
  method: (identifier) @_require
  arguments: (argument_list . (string (string_content) @spec))
  (#any-of? @_require "require" "require_relative" "load" "autoload")) @import
