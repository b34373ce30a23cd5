//! The copy path: a deep copy with no byte stream, built on the sending
//! thread, detached from its heap, and adopted by the receiving heap.
//! Frozen parts are not copied: they travel by reference.

use crate::core::error::Error;
use crate::core::heap;
use crate::core::object::{ObjPtr, Slot};
use crate::transfer::walk::{walk, Builder, Mode};
use crate::core::handle::Value;

/// A deep copy that belongs to no heap yet. `Send`: hand it to another
/// worker and [`adopt`](Detached::adopt) it there.
///
/// ```
/// use permafrost_freeze::{deep_copy, Value};
/// let v = Value::list(vec![Value::from("a")]);
/// let copy = deep_copy(&v).unwrap();
/// let back = std::thread::spawn(move || copy.adopt().len().unwrap()).join().unwrap();
/// assert_eq!(back, 1);
/// ```
pub struct Detached {
    root: Slot,
    objs: Vec<ObjPtr>,
    /// Weak-table entries of a moved graph (empty for a copy).
    weak: crate::core::weak::MovedWeak,
}

// SAFETY: the objects are reachable only through this value: a copy's
// because the builder's handles were released and nothing else ever saw
// them; a moved graph's because `detach_moved` checked that every count is
// explained by edges inside the graph plus the one handle it consumed. They
// are in no heap's container list, and their per-thread table entries
// (weak references, callback tokens) travel inside this value; whoever
// holds the `Detached` has exclusive access. Frozen objects it references
// are shared safely by construction.
unsafe impl Send for Detached {}

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
    let objs = crate::diag::traverse::reachable_mutable(root);
    drop(made);
    heap::detach(&objs);
    Ok(Detached::new(root, objs))
}

impl Detached {
    pub(crate) fn new(root: Slot, objs: Vec<ObjPtr>) -> Detached {
        Detached {
            root,
            objs,
            weak: Default::default(),
        }
    }

    pub(crate) fn with_weak(mut self, weak: crate::core::weak::MovedWeak) -> Detached {
        self.weak = weak;
        self
    }

    /// Moves the graph into this thread's heap and returns its root.
    pub fn adopt(mut self) -> Value {
        self.take_home()
    }

    fn take_home(&mut self) -> Value {
        heap::adopt(&std::mem::take(&mut self.objs));
        crate::core::weak::adopt_moved(std::mem::take(&mut self.weak));
        Value::from_slot_owned(std::mem::replace(&mut self.root, Slot::None))
    }

    /// Objects it carries (frozen objects shared by reference excluded).
    pub fn len(&self) -> usize {
        self.objs.len()
    }

    /// True when the copy made no new objects.
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }
}

impl std::fmt::Debug for Detached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Detached({} objects)", self.objs.len())
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if !self.objs.is_empty() || !matches!(self.root, Slot::None) {
            drop(self.take_home());
            heap::collect();
        }
    }
}
