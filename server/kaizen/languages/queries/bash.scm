; Kaizen's definitions and imports for Bash (see ../syntax.py for the captures).

(function_definition name: (_) @name) @function

(command
  name: (command_name (word) @_source)
  argument: (_) @spec
  (#any-of? @_source "source" "."))  @import
