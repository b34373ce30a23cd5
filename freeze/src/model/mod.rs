//! Layer 2: the Python-like object model over the core: operations,
//! modules, the class/function registry, repr and equality, read views.

pub(crate) mod modules;
pub(crate) mod ops;
pub(crate) mod registry;
pub(crate) mod repr;
pub(crate) mod view;
