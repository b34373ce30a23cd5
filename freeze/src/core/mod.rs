//! Layer 0: the object representation and everything that must know it.
//!
//! Only `object`, `payload` and `send` may contain `unsafe`; every other
//! module of the crate goes through their safe interfaces. Nothing here
//! imports a module outside `core`.

pub(crate) mod body;
pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod heap;
pub(crate) mod key;
#[allow(unsafe_code)]
pub(crate) mod object;
#[allow(unsafe_code)]
pub(crate) mod payload;
#[allow(unsafe_code)]
pub(crate) mod send;
pub(crate) mod status;
pub(crate) mod sym;
pub(crate) mod sync;
pub(crate) mod weak;
