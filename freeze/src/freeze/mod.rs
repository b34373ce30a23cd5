//! Layer 3: PEP 795's `freeze` (the SCC walk), freezability statuses,
//! pre-freeze hooks and the escape hatches.

pub(crate) mod compat;
pub(crate) mod escape;
pub(crate) mod hooks;
pub(crate) mod path;
pub(crate) mod pending;
pub(crate) mod shallow;
pub(crate) mod status;
pub(crate) mod walk;
