//! Moving a mutable graph to another heap without copying it: ownership
//! transfer, as Ruby's `send(obj, move: true)` or a Lungfish region's
//! bridge. The graph must be **isolated**: every object's count is fully
//! explained by references from inside the graph, plus the one handle
//! being moved for the root. Then nothing outside can reach it, so it can
//! leave this heap as a [`Detached`] and be adopted, unchanged and
//! mutable, by another. Frozen objects it reaches are shared, not moved.
//!
//! ```
//! use permafrost_freeze::{detach_moved, diag::heap_live, Value};
//! let batch = Value::list((0..3).map(Value::Int).collect());
//! let id = batch.id();
//! let before = heap_live();
//! let moved = detach_moved(batch).unwrap(); // nothing is copied
//! assert_eq!(heap_live(), before - 1); // the list left this heap
//! let same = std::thread::spawn(move || {
//!     let batch = moved.adopt();
//!     assert_eq!(heap_live(), 1); // ... and joined this one
//!     batch.append(Value::Int(3)).unwrap(); // still mutable
//!     batch.id()
//! })
//! .join()
//! .unwrap();
//! assert_eq!(same, id); // the very same object
//! ```
//!
//! One walk with an explicit stack marks the graph (`MARK`) and counts the
//! references each object receives from inside it (in `aux`, as the cycle
//! collector does); a pass over the marked objects compares them with the
//! counts. Scratch is
//! two words per object; nothing is allocated per object.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use crate::core::body::Body;
use crate::core::error::Path;
use crate::core::handle::Value;
use crate::core::heap;
use crate::core::object::{ObjPtr, BORROWED, HAS_HOOK, HAS_WEAK, MARK};
use crate::transfer::copy::Detached;

/// Why a graph cannot move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MoveRefusal {
    /// Something outside the graph holds `extra` references to the object.
    Aliased {
        /// References from outside the graph.
        extra: usize,
    },
    /// A weak reference outside the graph points at the object.
    WeaklyReferenced,
    /// The object is a weak reference to a mutable object outside the graph.
    WeakToOutside,
    /// A pre-freeze hook is attached (a closure of this worker's, not `Send`).
    Hook,
    /// Modules belong to their worker's registry.
    Module,
    /// A read view of the object is open.
    Borrowed,
}

/// A refused move: the value handed back untouched, with the first object
/// that keeps the graph from moving and the path to it.
pub struct MoveError {
    value: Value,
    /// The offending object's type (the class name for instances).
    pub type_name: String,
    /// How the graph reaches it from the root, e.g. `root[3].cb`.
    pub path: Path,
    /// Why it cannot move.
    pub reason: MoveRefusal,
}

impl MoveError {
    /// The value that was to be moved, unchanged.
    pub fn into_inner(self) -> Value {
        self.value
    }
}

impl fmt::Debug for MoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoveError")
            .field("type_name", &self.type_name)
            .field("path", &self.path)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for MoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            MoveRefusal::Aliased { extra: 1 } => "1 reference from outside the graph".into(),
            MoveRefusal::Aliased { extra } => format!("{extra} references from outside the graph"),
            MoveRefusal::WeaklyReferenced => "a weak reference from outside the graph".into(),
            MoveRefusal::WeakToOutside => "it is a weak reference to an object left behind".into(),
            MoveRefusal::Hook => "a pre-freeze hook (a closure of this worker's)".into(),
            MoveRefusal::Module => "modules belong to their worker".into(),
            MoveRefusal::Borrowed => "a read view of it is open".into(),
        };
        write!(
            f,
            "cannot move: object of type {} at {} has {}; nothing was moved",
            self.type_name, self.path, why
        )
    }
}

impl std::error::Error for MoveError {}

/// Takes the graph under `v` out of this heap if it is isolated, for
/// another worker to [`adopt`](Detached::adopt): same objects, still
/// mutable, nothing copied. `v` must be the only handle from outside the
/// graph; otherwise the move is refused and `v` handed back (see
/// [`MoveRefusal`] for every reason). Weak references inside the graph
/// move with it; weak references into it from outside refuse the move.
/// Immediates and frozen values "move" as the shared reference they are.
pub fn detach_moved(v: Value) -> Result<Detached, MoveError> {
    let Some(root) = v.slot().obj().filter(|p| !p.is_frozen()) else {
        return Ok(Detached::new(v.into_slot(), Vec::new()));
    };
    let mut walk = Walk::default();
    walk.mark(root);
    if let Some((i, reason)) = walk.check() {
        let at = walk.objs[i];
        let path = walk.path(i);
        walk.unmark();
        return Err(MoveError {
            value: v,
            type_name: crate::freeze::walk::describe_type(at),
            path,
            reason,
        });
    }
    walk.unmark();
    let weak = crate::core::weak::detach_moved(&walk.objs);
    heap::detach(&walk.objs);
    Ok(Detached::new(v.into_slot(), walk.objs).with_weak(weak))
}

#[derive(Default)]
struct Walk {
    /// The graph's mutable objects, root first, in depth-first order.
    objs: Vec<ObjPtr>,
    /// For each object: (index of the object it was reached from, edge
    /// label), for error paths only.
    links: Vec<(u32, u32)>,
}

impl Walk {
    fn mark(&mut self, root: ObjPtr) {
        let mut stack: Vec<(ObjPtr, u32, u32)> = vec![(root, u32::MAX, 0)];
        while let Some((p, from, label)) = stack.pop() {
            if p.flags() & MARK != 0 {
                continue;
            }
            p.set_flags(MARK);
            let me = self.objs.len() as u32;
            self.objs.push(p);
            self.links.push((from, label));
            let start = stack.len();
            let mut k = 0u32;
            // Every edge of the graph is met here exactly once (from its
            // source's one visit), so the references from inside are
            // counted in the same pass. A mutable object's `aux` is zero
            // outside a walk (every walk resets it; `check_invariants`
            // checks it).
            crate::core::payload::for_each_child(p, |c| {
                if !c.is_frozen() {
                    let a = &c.header().aux;
                    a.store(a.load(Relaxed) + 1, Relaxed);
                    stack.push((c, me, k));
                }
                k += 1;
            });
            stack[start..].reverse();
        }
    }

    /// The first object (depth-first) that keeps the graph from moving.
    fn check(&self) -> Option<(usize, MoveRefusal)> {
        for (i, &p) in self.objs.iter().enumerate() {
            let f = p.flags();
            let inside = p.header().aux.load(Relaxed) + usize::from(i == 0);
            let rc = p.count();
            if rc != inside {
                return Some((i, MoveRefusal::Aliased { extra: rc - inside }));
            }
            if f & HAS_HOOK != 0 {
                return Some((i, MoveRefusal::Hook));
            }
            if f & BORROWED != 0 {
                return Some((i, MoveRefusal::Borrowed));
            }
            match p.body() {
                Body::Module(_) => return Some((i, MoveRefusal::Module)),
                Body::WeakRef(_) => {
                    if let Some(t) = crate::core::weak::local_target(p) {
                        if t.flags() & MARK == 0 {
                            return Some((i, MoveRefusal::WeakToOutside));
                        }
                    }
                }
                _ => {}
            }
            if f & HAS_WEAK != 0 && !crate::core::weak::weakrefs_all(p, |w| w.flags() & MARK != 0) {
                return Some((i, MoveRefusal::WeaklyReferenced));
            }
        }
        None
    }

    fn unmark(&self) {
        for p in &self.objs {
            p.clear_flags(MARK);
            p.header().aux.store(0, Relaxed);
        }
    }

    /// `root[2].next`: the chain of links back to the root.
    fn path(&self, mut i: usize) -> Path {
        let mut steps = Vec::new();
        while let Some(&(from, label)) = self.links.get(i).filter(|l| l.0 != u32::MAX) {
            steps.push((self.objs[from as usize], label));
            i = from as usize;
        }
        let mut path = Path::at_root(0, 1);
        for (p, label) in steps.into_iter().rev() {
            path.push(crate::freeze::walk::edge_step(p, label));
        }
        path
    }
}
