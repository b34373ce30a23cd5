//! Layer 2: the Python-like object model over the core: operations,
//! modules, the class/function registry, repr and equality, read views.

pub(crate) mod attrs;
pub(crate) mod base;
pub(crate) mod collections;
pub(crate) mod dict_ops;
pub(crate) mod freezable;
pub(crate) mod immutable;
pub(crate) mod list_ops;
pub(crate) mod modules;
pub(crate) mod ops;
pub(crate) mod order;
pub(crate) mod registry;
pub(crate) mod repr;
pub(crate) mod set_ops;
pub(crate) mod view;
