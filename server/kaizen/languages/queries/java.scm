; Kaizen's definitions and imports for Java (see ../syntax.py for the captures).

(class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class
(record_declaration name: (_) @name) @class
(annotation_type_declaration name: (_) @name) @class

(method_declaration name: (_) @name) @function
(constructor_declaration name: (_) @name) @function
(compact_constructor_declaration name: (_) @name) @function

(import_declaration [(scoped_identifier) (identifier)] @spec) @import
(import_declaration (scoped_identifier name: (_) @import.name))
(import_declaration (asterisk) @import.name)
(package_declaration) @package
