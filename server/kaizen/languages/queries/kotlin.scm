; Kaizen's definitions and imports for Kotlin (see ../syntax.py for the captures).

(function_declaration name: (_) @name) @function

(class_declaration name: (_) @name) @class
(object_declaration name: (_) @name) @class
(companion_object) @class

(import (qualified_identifier) @spec) @import
(import (qualified_identifier (identifier) @import.name .) . (identifier)? @import.alias)
(package_header) @package
