//! Evolving frozen data: copy-on-write [`Draft`]s that make a new version
//! of a frozen graph sharing every untouched object with the old one, and
//! [`Revisions`], a manager of named entries with a full history.
//!
//! Layer 4: above `transfer`, below `diag`; safe code over `core`, `model`
//! and `freeze`.

pub(crate) mod commit;
pub(crate) mod draft;
pub(crate) mod error;
pub(crate) mod history;
pub(crate) mod link;
pub(crate) mod revisions;
pub(crate) mod shallow;
pub(crate) mod shape;
pub(crate) mod update;
