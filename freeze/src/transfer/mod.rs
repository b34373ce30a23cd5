//! Layer 4: carrying graphs to other heaps: the op format, the encoder
//! (graph to ops) and decoder (ops to graph), pickle's bytes, deep copy,
//! and move.

pub(crate) mod copy;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod format;
pub(crate) mod frozensets;
pub(crate) mod moving;
pub(crate) mod pickle;
