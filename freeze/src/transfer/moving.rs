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
//! collector does); one pass over the marked objects compares them with
//! the counts, clears the marks and takes each object off this heap's
//! container list (put back if a later object refuses). Scratch is one
//! word per object (the object list) plus the walk's stack; nothing is
//! allocated per object, and the error path is found again only on
//! refusal.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use crate::core::body::Body;
use crate::core::error::Path;
use crate::core::handle::Value;
use crate::core::heap;
use crate::core::object::{ObjPtr, BORROWED, FROZEN, HAS_HOOK, HAS_WEAK, MARK, TRACKED};
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
    if let Some(fast) = Fast::walk(root) {
        heap::forget(fast.objs.len());
        let weak = crate::core::weak::detach_moved(&fast.weakish);
        return Ok(Detached::new(v.into_slot(), fast.objs).with_weak(weak));
    }
    // Refused (or in doubt): the exact walk names the first object that
    // keeps the graph from moving, as it would have without the fast path.
    let mut walk = Walk::default();
    walk.mark(root);
    let weak_refusal = walk.weak_refusal();
    if let Err((i, reason)) = walk.check_and_untrack(weak_refusal) {
        let at = walk.objs[i];
        return Err(MoveError {
            value: v,
            type_name: crate::freeze::walk::describe_type(at),
            path: crate::freeze::walk::find_path(&[(0, root)], 1, at),
            reason,
        });
    }
    heap::forget(walk.objs.len());
    let weakish: Vec<ObjPtr> = walk.weakish.iter().map(|w| w.1).collect();
    let weak = crate::core::weak::detach_moved(&weakish);
    Ok(Detached::new(v.into_slot(), walk.objs).with_weak(weak))
}

/// The common case in one walk: every object's count is at least the
/// references it gets from inside the graph (plus the moved handle for
/// the root), so the graph is isolated exactly when the counts **sum** to
/// the number of those references. No per-object scratch count, no second
/// pass: each object is marked, taken off the container list and listed
/// as the walk meets it, and `adopt` clears the marks on the far side.
struct Fast {
    objs: Vec<ObjPtr>,
    /// Objects with weak references, or that are one (few).
    weakish: Vec<ObjPtr>,
}

impl Fast {
    /// The graph under `root`, detached from this heap's container list;
    /// `None`, with everything put back as it was, if it is not isolated
    /// or holds anything else that could refuse the move.
    fn walk(root: ObjPtr) -> Option<Fast> {
        let mut fast = Fast {
            objs: Vec::new(),
            weakish: Vec::new(),
        };
        let (mut edges, mut counts, mut doubt) = (0usize, 0usize, false);
        let mut stack = vec![root];
        heap::with_tracker(|t| {
            while let Some(p) = stack.pop() {
                let f = p.flags();
                if f & FROZEN != 0 {
                    continue; // shared, not moved
                }
                // The reference that led here: an edge from inside, or the
                // moved handle for the root.
                edges += 1;
                if f & MARK != 0 {
                    continue;
                }
                p.set_flags(MARK);
                fast.objs.push(p);
                counts += p.count();
                if f & TRACKED != 0 {
                    t.untrack(p); // TRACKED stays set in transit
                }
                if f & (HAS_HOOK | BORROWED) != 0 || matches!(p.body(), Body::Module(_)) {
                    doubt = true;
                }
                if f & HAS_WEAK != 0 || matches!(p.body(), Body::WeakRef(_)) {
                    fast.weakish.push(p);
                }
                let start = stack.len();
                crate::core::payload::for_each_child(p, |c| stack.push(c));
                stack[start..].reverse();
            }
        })?;
        let weak_ok = || {
            let walk = Walk {
                objs: Vec::new(),
                weakish: fast.weakish.iter().map(|&p| (0, p)).collect(),
            };
            walk.weak_refusal().is_none()
        };
        if counts == edges && !doubt && (fast.weakish.is_empty() || weak_ok()) {
            return Some(fast);
        }
        let _ = heap::with_tracker(|t| {
            for p in &fast.objs {
                if p.flags() & TRACKED != 0 {
                    t.retrack(*p);
                }
            }
        });
        for p in &fast.objs {
            p.clear_flags(MARK);
        }
        None
    }
}

#[derive(Default)]
struct Walk {
    /// The graph's mutable objects, root first, in depth-first order.
    objs: Vec<ObjPtr>,
    /// Those (by index in `objs`) that have weak references or are one:
    /// few, and checked while every mark is still set.
    weakish: Vec<(usize, ObjPtr)>,
}

impl Walk {
    fn mark(&mut self, root: ObjPtr) {
        let mut stack: Vec<ObjPtr> = vec![root];
        while let Some(p) = stack.pop() {
            let f = p.flags();
            if f & MARK != 0 {
                continue;
            }
            p.set_flags(MARK);
            let me = self.objs.len();
            self.objs.push(p);
            if f & HAS_WEAK != 0 || matches!(p.body(), Body::WeakRef(_)) {
                self.weakish.push((me, p));
            }
            let start = stack.len();
            // Every edge of the graph is met here exactly once (from its
            // source's one visit), so the references from inside are
            // counted in the same pass. A mutable object's `aux` is zero
            // outside a walk (every walk resets it; `check_invariants`
            // checks it).
            crate::core::payload::for_each_child(p, |c| {
                if !c.is_frozen() {
                    let a = &c.header().aux;
                    a.store(a.load(Relaxed) + 1, Relaxed);
                    stack.push(c);
                }
            });
            stack[start..].reverse();
        }
    }

    /// The first weak-reference refusal, by index in `objs`. Runs while the
    /// whole graph is marked: both rules ask whether an object is inside.
    fn weak_refusal(&self) -> Option<(usize, MoveRefusal)> {
        self.weakish.iter().find_map(|&(i, p)| {
            if matches!(p.body(), Body::WeakRef(_)) {
                if let Some(t) = crate::core::weak::local_target(p) {
                    if t.flags() & MARK == 0 {
                        return Some((i, MoveRefusal::WeakToOutside));
                    }
                }
            }
            let outside = p.flags() & HAS_WEAK != 0
                && !crate::core::weak::weakrefs_all(p, |w| w.flags() & MARK != 0);
            outside.then_some((i, MoveRefusal::WeaklyReferenced))
        })
    }

    /// One pass that checks each object, clears the walk's marks and takes
    /// the object off this heap's container list. At the first object that
    /// cannot move (depth-first), what was taken off is put back, and the
    /// rest of the pass only clears marks: the graph is left as it was.
    fn check_and_untrack(
        &self,
        weak: Option<(usize, MoveRefusal)>,
    ) -> Result<(), (usize, MoveRefusal)> {
        // The heap is gone only in thread teardown: then there is no
        // container list to update, but the marks must still be cleared.
        // Split up front: the comparison below then reads two plain values
        // (optimised code comparing inside the `Option` reads its padding,
        // which memcheck reports).
        let (weak_at, weak_why) = match weak {
            Some((i, why)) => (i, Some(why)),
            None => (usize::MAX, None),
        };
        let pass = |mut t: Option<&mut heap::Tracker>| {
            let mut refused = None;
            for (i, &p) in self.objs.iter().enumerate() {
                let f = p.flags();
                let h = p.header();
                if refused.is_none() {
                    let inside = h.aux.load(Relaxed) + usize::from(i == 0);
                    let why = refusal(p, f, inside).or(if i == weak_at { weak_why } else { None });
                    if let Some(why) = why {
                        refused = Some((i, why));
                        if let Some(t) = t.as_deref_mut() {
                            for q in self.objs[..i].iter().filter(|q| q.flags() & TRACKED != 0) {
                                t.retrack(*q);
                            }
                        }
                    } else if let Some(t) = t.as_deref_mut().filter(|_| f & TRACKED != 0) {
                        t.untrack(p);
                    }
                }
                // TRACKED stays set in transit; `adopt` re-homes it.
                p.clear_flags(MARK);
                h.aux.store(0, Relaxed);
            }
            refused.map_or(Ok(()), Err)
        };
        heap::with_tracker(|t| pass(Some(t))).unwrap_or_else(|| pass(None))
    }
}

/// Why `p` (with flags `f`, and `inside` references from the graph and
/// the moved handle) cannot move, weak-reference rules aside.
fn refusal(p: ObjPtr, f: u32, inside: usize) -> Option<MoveRefusal> {
    let rc = p.count();
    if rc != inside {
        return Some(MoveRefusal::Aliased { extra: rc - inside });
    }
    if f & HAS_HOOK != 0 {
        return Some(MoveRefusal::Hook);
    }
    if f & BORROWED != 0 {
        return Some(MoveRefusal::Borrowed);
    }
    matches!(p.body(), Body::Module(_)).then_some(MoveRefusal::Module)
}
