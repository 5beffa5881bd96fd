; Kaizen's definitions and imports for Rust (see ../syntax.py for the captures).
; An impl has no @name: it is named by its header, ``impl Display for Cart``.

(function_item name: (_) @name) @function
(function_signature_item name: (_) @name) @function
(macro_definition name: (_) @name) @function

(impl_item) @class
(trait_item name: (_) @name) @class
(struct_item name: (_) @name) @class
(enum_item name: (_) @name) @class
(union_item name: (_) @name) @class
(mod_item name: (_) @name body: (_)) @namespace

(use_declaration argument: [(scoped_identifier) (identifier) (crate) (self) (super)] @spec) @import
(use_declaration argument: (use_as_clause path: (_) @spec)) @import
(use_declaration argument: (scoped_use_list path: (_) @spec)) @import
(use_declaration argument: (use_wildcard (_) @spec)) @import
(use_declaration argument: (use_list)) @import
(extern_crate_declaration name: (_) @spec) @import
(mod_item !body name: (_) @spec) @import

(use_declaration argument: (scoped_identifier name: (_) @import.name))
(use_declaration argument: (identifier) @import.name)
(use_as_clause path: (scoped_identifier name: (_) @import.name) alias: (_) @import.alias)
(use_as_clause path: (identifier) @import.name alias: (_) @import.alias)
(use_list (identifier) @import.name)
(use_list (self) @import.name)
(use_list (scoped_identifier name: (_) @import.name))
(use_wildcard) @import.name
