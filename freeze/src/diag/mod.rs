//! The measuring tools: live counts, sizes, reachability and the
//! invariant checker, kept out of the root namespace.

pub(crate) mod check;
pub(crate) mod traverse;
