//! One heap per worker thread: live-object accounting, the container list
//! for the cycle collector, and per-object pre-freeze hooks.
//!
//! The heap is thread-local because a mutable object can only ever be used
//! on the thread that made it (`Ref` is `!Send`). Frozen objects belong to
//! no heap; they are counted globally.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use rustc_hash::FxHashMap;

use crate::core::error::Error;
use crate::core::handle::Ref;
use crate::core::object::{self, ObjPtr, Slot, FROZEN, MARK, TRACKED};

/// A pre-freeze hook attached to one object.
pub(crate) type Hook = Box<dyn FnOnce(&Ref) -> Result<(), Error>>;

static FROZEN_LIVE: AtomicIsize = AtomicIsize::new(0);

pub(crate) struct Tracker {
    /// Containers that may be part of a cycle; null = tombstone.
    pub(crate) slots: Vec<Option<ObjPtr>>,
    tombstones: usize,
}

impl Tracker {
    /// Forgets a container that froze (it left the heap).
    #[inline]
    pub(crate) fn untrack(&mut self, p: ObjPtr) {
        self.slots[p.header().gc_idx.get() as usize] = None;
        self.tombstones += 1;
    }

    /// Undoes `untrack` (a failed freeze rolls back).
    #[inline]
    pub(crate) fn retrack(&mut self, p: ObjPtr) {
        self.slots[p.header().gc_idx.get() as usize] = Some(p);
        self.tombstones -= 1;
    }

    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        for (i, p) in self.slots.iter().flatten().enumerate() {
            p.header().gc_idx.set(i as u32);
        }
        self.tombstones = 0;
    }
}

struct HeapState {
    live: Cell<usize>,
    tracker: RefCell<Tracker>,
    since_gc: Cell<usize>,
    threshold: Cell<usize>,
    paused: Cell<usize>,
    collecting: Cell<bool>,
    hooks: RefCell<FxHashMap<ObjPtr, Hook>>,
}

const MIN_THRESHOLD: usize = 100_000;

thread_local! {
    static HEAP: HeapState = HeapState {
        live: Cell::new(0),
        tracker: RefCell::new(Tracker { slots: Vec::new(), tombstones: 0 }),
        since_gc: Cell::new(0),
        threshold: Cell::new(MIN_THRESHOLD),
        paused: Cell::new(0),
        collecting: Cell::new(false),
        hooks: RefCell::new(FxHashMap::default()),
    };
}

pub(crate) fn on_alloc(p: ObjPtr, tracked: bool) {
    let due = HEAP
        .try_with(|h| {
            h.live.set(h.live.get() + 1);
            if !tracked {
                return false;
            }
            track(h, p);
            let n = h.since_gc.get() + 1;
            h.since_gc.set(n);
            n >= h.threshold.get() && h.paused.get() == 0 && !h.collecting.get()
        })
        .unwrap_or(false);
    if due && !object::draining() {
        collect();
    }
}

pub(crate) fn on_free(p: ObjPtr, tracked: bool) {
    let _ = HEAP.try_with(|h| {
        h.live.set(h.live.get().wrapping_sub(1));
        if tracked {
            let mut t = h.tracker.borrow_mut();
            t.untrack(p);
            if t.tombstones > 1024 && t.tombstones * 2 > t.slots.len() && !h.collecting.get() {
                t.compact();
            }
        }
    });
}

pub(crate) fn frozen_born(n: usize) {
    FROZEN_LIVE.fetch_add(n as isize, Relaxed);
}

pub(crate) fn frozen_freed(n: usize) {
    FROZEN_LIVE.fetch_sub(n as isize, Relaxed);
}

/// Moves `n` objects from this heap's count to the frozen count.
pub(crate) fn moved_to_frozen(n: usize) {
    let _ = HEAP.try_with(|h| h.live.set(h.live.get() - n));
    FROZEN_LIVE.fetch_add(n as isize, Relaxed);
}

/// Runs `f` with this heap's container list (the freeze walk untracks);
/// `None` once the thread's heap is gone (thread teardown).
pub(crate) fn with_tracker<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    HEAP.try_with(|h| f(&mut h.tracker.borrow_mut())).ok()
}

/// Stores `p`'s hook; `false` (the hook dropped) once this thread's heap
/// is gone. A replaced hook is dropped after the table's borrow ends: its
/// captures' destructors may set hooks themselves (`hook_rearm.rs`).
pub(crate) fn set_hook(p: ObjPtr, hook: Hook) -> bool {
    match HEAP.try_with(|h| h.hooks.borrow_mut().insert(p, hook)) {
        Ok(old) => {
            drop(old);
            true
        }
        Err(_) => false,
    }
}

pub(crate) fn take_hook(p: ObjPtr) -> Option<Hook> {
    HEAP.try_with(|h| h.hooks.borrow_mut().remove(&p))
        .ok()
        .flatten()
}

/// Whether `p` has a hook in this thread's table (the invariant checker:
/// exactly the objects flagged `HAS_HOOK`).
pub(crate) fn has_hook(p: ObjPtr) -> bool {
    HEAP.try_with(|h| h.hooks.borrow().contains_key(&p))
        .unwrap_or(false)
}

/// Removes a freed object's hook without running or dropping it (the free
/// loop drops it later, outside the loop).
pub(crate) fn take_hook_quietly(p: ObjPtr) -> Option<Hook> {
    HEAP.try_with(|h| h.hooks.borrow_mut().remove(&p))
        .ok()
        .flatten()
}

/// Live mutable objects in this thread's heap.
pub fn heap_live() -> usize {
    HEAP.try_with(|h| h.live.get()).unwrap_or(0)
}

/// Live frozen objects in the whole process (str and bytes are frozen from
/// birth, so they count here).
pub fn frozen_live() -> isize {
    FROZEN_LIVE.load(Relaxed)
}

/// Containers this heap's cycle collector currently watches.
pub fn tracked_containers() -> usize {
    HEAP.try_with(|h| {
        let t = h.tracker.borrow();
        t.slots.len() - t.tombstones
    })
    .unwrap_or(0)
}

/// The containers on this heap's list (for the invariant checker).
pub(crate) fn tracked_set() -> rustc_hash::FxHashSet<ObjPtr> {
    HEAP.try_with(|h| {
        let t = h.tracker.borrow();
        t.slots.iter().flatten().copied().collect()
    })
    .unwrap_or_default()
}

/// Keeps the automatic cycle collector from running while alive (bulk
/// builders use it; an explicit [`collect`] still runs).
pub struct GcPause(());

impl GcPause {
    /// Pauses automatic collection on this thread until dropped.
    pub fn new() -> GcPause {
        // Once the heap is gone there is no collector to pause.
        let _ = HEAP.try_with(|h| h.paused.set(h.paused.get() + 1));
        GcPause(())
    }
}

impl Default for GcPause {
    fn default() -> Self {
        GcPause::new()
    }
}

impl Drop for GcPause {
    fn drop(&mut self) {
        let _ = HEAP.try_with(|h| h.paused.set(h.paused.get() - 1));
    }
}

/// Frees this heap's unreachable cycles; returns how many objects it freed.
///
/// CPython's algorithm over the container list: subtract internal
/// references from each count; what keeps a positive count is referenced
/// from outside and marks everything it reaches; the rest is garbage, whose
/// containers are emptied so plain reference counting frees them.
/// Frozen objects are never on the list, so this never looks at them.
pub fn collect() -> usize {
    if object::draining() {
        return 0;
    }
    HEAP.try_with(|h| collect_in(h, false)).unwrap_or(0)
}

/// Thread teardown: the heap's cyclic garbage is freed, not leaked (a
/// plain thread that ends holding dropped cycles, or a worker whose clean
/// up was cut short). Frees that run now skip the accounting: the heap is
/// going away.
impl Drop for HeapState {
    fn drop(&mut self) {
        if !self.collecting.get() && !object::draining() {
            collect_in(self, true);
        }
    }
}

/// `teardown`: the heap's thread-local is being destroyed, so frees cannot
/// tombstone their container-list slots; the list is discarded instead.
fn collect_in(h: &HeapState, teardown: bool) -> usize {
    if h.collecting.replace(true) {
        return 0;
    }
    h.since_gc.set(0);
    /// Ends the collection however it ends: a panic in user code reached
    /// from a release (a hook capture's `Drop`) must not leave the heap
    /// marked as collecting forever.
    struct Finish<'h>(&'h HeapState, bool);
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            let h = self.0;
            let mut t = h.tracker.borrow_mut();
            if self.1 {
                // Slots of objects freed now were not tombstoned.
                t.slots.clear();
                t.tombstones = 0;
            }
            t.compact();
            let survivors = t.slots.len();
            h.threshold.set((survivors * 2).max(MIN_THRESHOLD));
            h.collecting.set(false);
        }
    }
    let finish = Finish(h, teardown);
    let before = h.live.get();
    let garbage = find_garbage(h);
    // Keep every garbage object alive while we cut its edges, so nothing is
    // freed under our feet; then drop the keep-alive references.
    let mut cut = Vec::new();
    for &p in &garbage {
        object::incref(p);
    }
    for &p in &garbage {
        // Garbage is unreachable, so no guard of it is live: a refusal
        // would be a bug, and keeps the object (leaked, not freed early).
        let cut_ok = crate::core::payload::take_children(p, &mut cut);
        debug_assert!(cut_ok.is_ok(), "garbage was borrowed");
    }
    // Every release happens even if one of them panics (user code in a
    // hook capture's `Drop`): the rest of the garbage is not leaked, and
    // the first panic goes on after.
    let mut panicked = None;
    let mut release = |f: &mut dyn FnMut()| {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            panicked.get_or_insert(p);
        }
    };
    for s in cut {
        release(&mut || object::decref_slot(s));
    }
    for p in garbage {
        release(&mut || object::decref(p));
    }
    drop(finish);
    if let Some(p) = panicked {
        std::panic::resume_unwind(p);
    }
    before.saturating_sub(h.live.get())
}

fn find_garbage(h: &HeapState) -> Vec<ObjPtr> {
    {
        let t = h.tracker.borrow();
        let objs: Vec<ObjPtr> = t.slots.iter().flatten().copied().collect();
        drop(t);
        let watched = |c: ObjPtr| !c.is_frozen() && c.flags() & TRACKED != 0;
        for p in &objs {
            p.header().aux.store(p.header().rc.load(Relaxed), Relaxed);
        }
        for p in &objs {
            crate::core::payload::for_each_child(*p, |c| {
                if watched(c) {
                    let a = &c.header().aux;
                    a.store(a.load(Relaxed) - 1, Relaxed);
                }
            });
        }
        let mut stack: Vec<ObjPtr> = Vec::new();
        for p in &objs {
            if p.header().aux.load(Relaxed) > 0 && p.flags() & MARK == 0 {
                p.set_flags(MARK);
                stack.push(*p);
                while let Some(q) = stack.pop() {
                    crate::core::payload::for_each_child(q, |c| {
                        if watched(c) && c.flags() & MARK == 0 {
                            c.set_flags(MARK);
                            stack.push(c);
                        }
                    });
                }
            }
        }
        let mut garbage = Vec::new();
        for p in objs {
            p.header().aux.store(0, Relaxed);
            if p.flags() & MARK != 0 {
                p.clear_flags(MARK);
            } else {
                garbage.push(p);
            }
        }
        garbage
    }
}

/// Slot helper for code that builds graphs in bulk.
pub(crate) fn drop_slots(slots: impl IntoIterator<Item = Slot>) {
    for s in slots {
        object::decref_slot(s)
    }
}

/// `n` objects left this heap alive (a move took them off its list).
pub(crate) fn forget(n: usize) {
    let _ = HEAP.try_with(|h| h.live.set(h.live.get() - n));
}

/// Takes freshly built objects out of this heap (a copy on its way out).
pub(crate) fn detach(objs: &[ObjPtr]) {
    let _ = HEAP.try_with(|h| {
        let mut t = h.tracker.borrow_mut();
        for p in objs {
            if p.flags() & TRACKED != 0 {
                t.untrack(*p);
                p.clear_flags(TRACKED);
            }
        }
        h.live.set(h.live.get() - objs.len());
    });
}

/// Takes detached objects into this heap (one borrow of the container
/// list for all of them).
pub(crate) fn adopt(objs: &[ObjPtr]) {
    let _ = HEAP.try_with(|h| {
        h.live.set(h.live.get() + objs.len());
        let mut t = h.tracker.borrow_mut();
        t.slots.reserve(objs.len());
        for p in objs {
            // A move leaves its walk's marks for the new owner to clear.
            p.clear_flags(MARK);
            if p.body().can_have_children() {
                p.header().gc_idx.set(t.slots.len() as u32);
                t.slots.push(Some(*p));
                p.set_flags(TRACKED);
            }
        }
    });
}

/// Puts a container on this heap's list for the cycle collector.
fn track(h: &HeapState, p: ObjPtr) {
    let mut t = h.tracker.borrow_mut();
    p.header().gc_idx.set(t.slots.len() as u32);
    t.slots.push(Some(p));
    drop(t);
    p.set_flags(TRACKED);
}

/// Every mutable object reachable from `root`, each once, in the order the
/// freeze walk meets them (first child first).
pub(crate) fn reachable_mutable(root: Slot) -> Vec<ObjPtr> {
    let mut seen: Vec<ObjPtr> = Vec::new();
    let mut stack: Vec<ObjPtr> = root.obj().into_iter().collect();
    while let Some(p) = stack.pop() {
        if p.flags() & (MARK | FROZEN) != 0 {
            continue;
        }
        p.set_flags(MARK);
        seen.push(p);
        let start = stack.len();
        crate::core::payload::for_each_child(p, |c| {
            if !c.is_frozen() {
                stack.push(c)
            }
        });
        stack[start..].reverse();
    }
    for p in &seen {
        p.clear_flags(MARK);
    }
    seen
}
