//! Layer 4: carrying graphs to other heaps: pickle (encode, decode, the
//! byte format), deep copy, and move.

pub(crate) mod copy;
pub(crate) mod moving;
pub(crate) mod pack;
pub(crate) mod pickle;
pub(crate) mod walk;
