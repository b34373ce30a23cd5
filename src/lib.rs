//! permafrost: a runtime for PEP 795's experiment.
//!
//! (The full tour lands with the runtime.)

pub use permafrost_freeze::*;
