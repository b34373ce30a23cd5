//! Every `unsafe impl Send` / `Sync` of the crate, each with its proof.
//!
//! The rule they all rest on: a mutable object is reachable from one
//! thread only, so its plain (non-atomic) count and its payload are touched
//! by that thread alone; a frozen object is never written again and its
//! count is atomic (on its SCC's representative). `Ref` and `Value` hold
//! raw pointers and are therefore `!Send + !Sync` by default; only the
//! types below cross threads.

use crate::core::handle::{Frozen, Value};
use crate::core::heap;
use crate::core::object::{ObjPtr, Slot};

// SAFETY: a `Frozen` only ever holds an immediate or a frozen object (its
// constructors check `is_frozen` or freeze first); frozen objects are
// never written and their counts are updated atomically, so moving the
// handle to another thread and dropping or cloning it there is race-free.
unsafe impl Send for Frozen {}
// SAFETY: `&Frozen` allows only reads of frozen objects and atomic count
// increments (`clone`, `value`), which are race-free from any thread.
unsafe impl Sync for Frozen {}

// SAFETY: the objects of a `Detached` are reachable only through it (the
// contract of `Detached::new`, which its two callers discharge): a
// copy's because the builder's handles were released and nothing else
// ever saw them; a moved graph's because `detach_moved` checked that every
// count is explained by edges inside the graph plus the one handle it
// consumed. They are in no heap's container list, and their per-thread
// table entries travel inside the value, so whoever holds the `Detached`
// has exclusive access. Frozen objects it references are shared safely by
// construction.
unsafe impl Send for Detached {}

// SAFETY: a `Reach` holds an immediate or a frozen object (checked when
// it is made), alive while the frozen handle it borrows is: frozen objects
// are never written and a `Reach` updates no count, so it may be read from
// any thread.
unsafe impl Send for crate::core::payload::Reach<'_> {}
// SAFETY: a shared `&Reach` offers only the reads of frozen objects that
// a `Reach` itself does, and updates no count.
unsafe impl Sync for crate::core::payload::Reach<'_> {}

/// The address of a frozen object, as kept in the process-wide weak
/// table. It is only turned back into a counted handle under that table's
/// lock, after the SCC's count was checked to be non-zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct SharedPtr(ObjPtr);

impl SharedPtr {
    /// Wraps a frozen object's pointer.
    pub(crate) fn new(p: ObjPtr) -> SharedPtr {
        assert!(p.is_frozen(), "only frozen objects are shared");
        SharedPtr(p)
    }

    pub(crate) fn ptr(self) -> ObjPtr {
        self.0
    }
}

// SAFETY: a `SharedPtr` holds a frozen object (checked in `new`), which
// any thread may read; it is never dereferenced except under the weak
// table's lock while the object is known to be alive (its entry is removed
// by the thread that frees it, under the same lock, before the free).
unsafe impl Send for SharedPtr {}

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

impl Detached {
    /// Wraps a graph that left this thread's heap.
    ///
    /// Contract (what makes `Detached` `Send`): `objs` are every mutable
    /// object reachable from `root`, none is reachable from anywhere but
    /// `root`, and `heap::detach` took them off this heap. `deep_copy`
    /// builds such a graph fresh; `detach_moved` checks one it is given.
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
