//! The copy path: a deep copy with no byte stream, built on the sending
//! thread, detached from its heap, and adopted by the receiving heap.
//! Frozen parts are not copied: they travel by reference.

use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::heap;
pub use crate::core::send::Detached;
use crate::transfer::{
    decode::Builder,
    encode::{walk, Mode},
};

/// Deep-copies the graph under `v` for another heap. Mutable classes and
/// functions are copied too; frozen objects (str and bytes included) are
/// shared by reference. Weak references, modules and interpreter-local
/// fields cannot be copied.
pub fn deep_copy(v: &Value) -> Result<Detached, Error> {
    let mut b = Builder::new();
    let built = {
        let _pause = heap::GcPause::new();
        walk(v, Mode::Copy, |op| b.apply(op))
    };
    if let Err(e) = built {
        drop(b);
        heap::collect();
        return Err(e);
    }
    // Hold every new object while the builder lets go of its handles; the
    // copy is what the root reaches (anything only the builder held, such
    // as a duplicate dict key, is garbage and dies with `made`).
    let made: Vec<Value> = b
        .made()
        .filter(|v| v.slot().obj().is_some_and(|p| !p.is_frozen()))
        .cloned()
        .collect();
    let root = b.finish()?.into_slot();
    let objs = heap::reachable_mutable(root);
    drop(made);
    heap::detach(&objs);
    Ok(Detached::new(root, objs))
}
