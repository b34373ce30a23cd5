//! The unsafe core: object header, allocation, reference counting and freeing.
//!
//! # Safety argument
//!
//! Every heap object is an [`ObjBox`]: a [`Header`] followed by a [`Body`].
//! Two kinds of handle reach it:
//!
//! * [`crate::Ref`] is `!Send + !Sync`. While an object is mutable, only its
//!   owning thread holds `Ref`s to it or stores it in a container, so its
//!   refcount and payload are touched by one thread only: plain (relaxed
//!   load + store) refcount updates and `UnsafeCell` payload access are
//!   race-free.
//! * [`crate::Frozen`] is `Send + Sync` and only ever points at objects
//!   whose `FROZEN` bit is set. Frozen objects are never written again
//!   (every mutator checks the bit first), so any number of threads may read
//!   them; their refcounts are updated with atomic read-modify-write on
//!   their SCC representative.
//!
//! The `FROZEN` bit is only set by the freeze walk on the owning thread,
//! before any `Frozen` handle exists; publishing a `Frozen` to another thread
//! goes through a channel (release/acquire), so the other thread sees the
//! finished header. Nothing ever clears `FROZEN` except the rollback of a
//! failed freeze, which runs before anything was published.
//!
//! Freeing never recurses: releases go to a worklist drained by one loop.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};

use crate::core::body::Body;
use crate::core::heap;

/// Frozen: deeply immutable, refcount is atomic on the SCC representative.
pub(crate) const FROZEN: u32 = 1;
/// Frozen non-representative: `aux` holds the representative's address.
pub(crate) const FORWARD: u32 = 1 << 1;
/// Freeze walk: visited in the current walk.
pub(crate) const VISITED: u32 = 1 << 2;
/// Freeze walk: SCC assigned in the current walk.
pub(crate) const COMPLETE: u32 = 1 << 3;
/// Freeze walk: passed to `freeze` directly (matters for `Explicit`).
pub(crate) const ROOT: u32 = 1 << 4;
/// A read view is open: mutators refuse until it closes.
pub(crate) const BORROWED: u32 = 1 << 5;
/// A pre-freeze hook is attached (object hook or built-in detachment).
pub(crate) const HAS_HOOK: u32 = 1 << 6;
/// The pre-freeze hook already ran (it runs at most once).
pub(crate) const HOOK_RAN: u32 = 1 << 7;
/// Scratch mark for walks that are not the freeze (gc, free, traverse).
pub(crate) const MARK: u32 = 1 << 8;
/// In the owning heap's container list (cycle collector).
pub(crate) const TRACKED: u32 = 1 << 9;
/// Weak references point here.
pub(crate) const HAS_WEAK: u32 = 1 << 10;
/// Function: its captured cells were detached (the built-in step ran).
pub(crate) const DETACHED: u32 = 1 << 11;
/// Frozen: nothing reachable from here (not counting the contents of
/// shared fields) is a shared field; set lazily by shared-field stores.
pub(crate) const NO_FIELDS: u32 = 1 << 15;
/// A `payload::Write` guard is live: reads of the payload are bugs.
pub(crate) const WRITING: u32 = 1 << 16;
/// Shallow-frozen (`shallow_freeze`): the object's own state refuses
/// writes, but it stays a mutable-heap object (counted per object, owned
/// by its thread, never shared) because what it refers to may be mutable.
/// Never cleared while the object lives.
pub(crate) const SHALLOW: u32 = 1 << 17;
/// Frozen representative of an SCC with more than one member (set by the
/// walk as the SCC completes). Without it the SCC is the representative
/// alone, and freeing it needs no member enumeration.
pub(crate) const MULTI: u32 = 1 << 18;
/// Freezability status lives in bits 12..15 (0 = unset).
pub(crate) const STATUS_SHIFT: u32 = 12;
pub(crate) const STATUS_MASK: u32 = 0b111 << STATUS_SHIFT;

/// Per-object header: 24 bytes.
#[repr(C)]
pub(crate) struct Header {
    /// Mutable: the object's count. Frozen representative: the SCC's count.
    /// Frozen non-representative: unused.
    pub(crate) rc: AtomicUsize,
    /// Freeze walk: preorder index, then (representative) the pre-freeze
    /// count for rollback. Frozen non-representative: representative address.
    /// Cycle collector: scratch `gc_refs`.
    pub(crate) aux: AtomicUsize,
    pub(crate) flags: AtomicU32,
    /// Slot in the owning heap's container list.
    pub(crate) gc_idx: Cell<u32>,
}

/// A heap object: header + payload.
#[repr(C)]
pub(crate) struct ObjBox {
    pub(crate) header: Header,
    pub(crate) body: Body,
}

/// A raw, uncounted pointer to a live heap object. Bit 1 of the address
/// ([`BORN_FROZEN_BIT`]) is set on objects that are frozen from birth (str,
/// bytes, complex, range), so that a walk can skip them without loading
/// their header: a string key is a cache miss the freeze need not pay.
/// Every pointer to one object carries the same bit (it is set once, by
/// `alloc_filled`), so equality, hashing and `addr` stay identities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjPtr(NonNull<ObjBox>);

/// The address bit of an [`ObjPtr`] that marks a born-frozen object
/// (objects are 8-aligned, so bits 0..3 of a real address are zero; bit 0
/// is [`Tagged`]'s).
const BORN_FROZEN_BIT: usize = 2;

const _: () = assert!(std::mem::align_of::<ObjBox>() >= 4);

impl std::fmt::Debug for ObjPtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:p}", self.0)
    }
}

/// A raw, uncounted value as stored inside containers. Copy; owning code
/// does the counting explicitly.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(ObjPtr),
}

impl Slot {
    /// Python's `is`: the same object, or equal immediates (floats by
    /// bits). Touches no count.
    #[inline]
    pub(crate) fn is(self, other: Slot) -> bool {
        match (self, other) {
            (Slot::Obj(a), Slot::Obj(b)) => a == b,
            (Slot::None, Slot::None) => true,
            (Slot::Bool(a), Slot::Bool(b)) => a == b,
            (Slot::Int(a), Slot::Int(b)) => a == b,
            (Slot::Float(a), Slot::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }

    #[inline]
    pub(crate) fn obj(self) -> Option<ObjPtr> {
        match self {
            Slot::Obj(p) => Some(p),
            _ => None,
        }
    }
}

impl ObjPtr {
    /// The object's real address (the born-frozen bit cleared).
    #[inline]
    fn raw(self) -> *mut ObjBox {
        self.0.as_ptr().map_addr(|a| a & !BORN_FROZEN_BIT)
    }

    /// Frozen from birth (str, bytes, complex, range): read off the
    /// pointer, without touching the object.
    #[inline]
    pub(crate) fn born_frozen(self) -> bool {
        self.0.addr().get() & BORN_FROZEN_BIT != 0
    }

    /// The header, borrowed as long as this pointer value is.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: `ObjPtr`'s invariant: the object is alive while a pointer
        // to it is in use (a counted reference, or the freeing thread's
        // exclusive ownership, keeps it alive; see docs/design.md, I1).
        unsafe { &(*self.raw()).header }
    }

    /// The payload enum, borrowed as long as this pointer value is. Its
    /// interior-mutable parts are read and written through `payload.rs`.
    #[inline]
    pub(crate) fn body(&self) -> &Body {
        // SAFETY: `ObjPtr`'s invariant: the object is alive while a pointer
        // to it is in use (docs/design.md, I1); the enum itself is never
        // replaced while the object lives (only `Payload`s change).
        unsafe { &(*self.raw()).body }
    }

    /// The payload with a caller-chosen lifetime.
    ///
    /// # Safety
    /// The object must stay alive for `'a` (a counted handle outlives it).
    #[inline]
    pub(super) unsafe fn body_unbounded<'a>(self) -> &'a Body {
        // SAFETY: guaranteed by the caller.
        unsafe { &(*self.raw()).body }
    }

    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        self.header().flags.load(Relaxed)
    }

    #[inline]
    pub(crate) fn set_flags(&self, bits: u32) {
        let h = self.header();
        h.flags.store(h.flags.load(Relaxed) | bits, Relaxed);
    }

    #[inline]
    pub(crate) fn clear_flags(&self, bits: u32) {
        let h = self.header();
        h.flags.store(h.flags.load(Relaxed) & !bits, Relaxed);
    }

    #[inline]
    pub(crate) fn is_frozen(&self) -> bool {
        self.born_frozen() || self.flags() & FROZEN != 0
    }

    /// The SCC representative holding this frozen object's count.
    #[inline]
    pub(crate) fn rep(&self) -> ObjPtr {
        if self.flags() & FORWARD != 0 {
            let a = self.header().aux.load(Relaxed);
            // SAFETY: FORWARD is only set together with a non-null
            // representative address in `aux`, and the representative lives
            // as long as any member of its SCC.
            ObjPtr(unsafe { NonNull::new_unchecked(a as *mut ObjBox) })
        } else {
            *self
        }
    }

    /// The count word: the object's count (mutable), its SCC's (frozen
    /// representative), unused (other frozen members).
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.header().rc.load(Relaxed)
    }

    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// Where the object's inline slots start (right after it; computing
    /// the address is safe, using it is `payload.rs`'s business).
    #[inline]
    pub(super) fn tail(self) -> *mut Slot {
        (self.raw() as *mut u8).wrapping_add(std::mem::size_of::<ObjBox>()) as *mut Slot
    }
}

/// Drops and deallocates a dead object.
///
/// # Safety
/// `p` was allocated by `alloc`, its count reached zero (or its SCC's),
/// every reference it held was released, and nothing refers to it.
unsafe fn dealloc(p: ObjPtr) {
    let l = layout(crate::core::payload::tail_slots_of(p));
    // SAFETY: by the caller's contract `p` is a live `ObjBox` nobody else
    // can reach; its tail slots are `Copy` and need no drop; `l` is the
    // layout `alloc` used (the tail size never changes).
    unsafe {
        std::ptr::drop_in_place(p.raw());
        std::alloc::dealloc(p.raw() as *mut u8, l);
    }
}

/// The allocation of an object with `tail` inline slots after it (an
/// instance's attribute values; see `payload::InstAttrs`).
fn layout(tail: usize) -> Layout {
    let (l, off) = Layout::new::<ObjBox>()
        .extend(Layout::array::<Slot>(tail).expect("at most MAX_INLINE slots"))
        .expect("a small object");
    debug_assert_eq!(off, std::mem::size_of::<ObjBox>());
    l.pad_to_align()
}

/// Allocates a new object with count 1, tracked by this thread's heap when
/// it can hold references. Born-frozen kinds (str, bytes) skip the heap.
/// An instance gets the inline slots its attribute state asks for, all
/// `None` until the attribute code fills them.
pub(crate) fn alloc(body: Body) -> ObjPtr {
    alloc_filled(body, std::iter::empty())
}

/// [`alloc`], with the first inline slots holding the (counted) values of
/// `init` instead of `None`, so that a new instance needs no write guard
/// to get its attributes. `init` may hold at most as many values as the
/// body has tail slots: checked before anything is allocated, so a longer
/// one panics while its values are still its own to release.
pub(crate) fn alloc_filled(
    mut body: Body,
    mut init: impl ExactSizeIterator<Item = Slot>,
) -> ObjPtr {
    let born_frozen = body.born_frozen();
    let track = !born_frozen && body.can_have_children();
    let tail = crate::core::payload::tail_slots(&mut body);
    assert!(init.len() <= tail, "more values than inline slots");
    let l = layout(tail);
    // SAFETY: `l` has a non-zero size (it holds a header).
    let raw = unsafe { std::alloc::alloc(l) } as *mut ObjBox;
    let Some(nn) = NonNull::new(raw) else {
        std::alloc::handle_alloc_error(l)
    };
    // SAFETY: `raw` is a fresh allocation of `l`, which starts with room
    // for an `ObjBox` (aligned: `l` has its alignment) followed by `tail`
    // slots (`layout`'s offset is `size_of::<ObjBox>()`, where `tail()`
    // points); writing initialises them, so the object and all its slots
    // are valid from here on. `init` runs in between but cannot see the
    // object (it has no pointer to it), and a slot it does not fill gets
    // `None`.
    unsafe {
        raw.write(ObjBox {
            header: Header {
                rc: AtomicUsize::new(1),
                aux: AtomicUsize::new(0),
                flags: AtomicU32::new(if born_frozen { FROZEN } else { 0 }),
                gc_idx: Cell::new(0),
            },
            body,
        });
        let t = ObjPtr(nn).tail();
        for k in 0..tail {
            t.add(k).write(init.next().unwrap_or(Slot::None));
        }
    }
    let p = if born_frozen {
        ObjPtr(nn.map_addr(|a| a | BORN_FROZEN_BIT))
    } else {
        ObjPtr(nn)
    };
    if born_frozen {
        heap::frozen_born(1);
    } else {
        heap::on_alloc(p, track);
    }
    p
}

/// An object pointer with one tag bit in its low bit (objects are at least
/// 8-aligned, so the bit is free): a walk's stack frame in one word.
#[derive(Clone, Copy)]
pub(crate) struct Tagged(NonNull<ObjBox>);

const _: () = assert!(std::mem::align_of::<ObjBox>() >= 2);

impl Tagged {
    #[inline]
    pub(crate) fn new(p: ObjPtr, tag: bool) -> Tagged {
        Tagged(p.0.map_addr(|a| a | usize::from(tag)))
    }

    #[inline]
    pub(crate) fn ptr(self) -> ObjPtr {
        // The untagged address is the object's, never zero.
        ObjPtr(
            self.0
                .map_addr(|a| std::num::NonZeroUsize::new(a.get() & !1).unwrap_or(a)),
        )
    }

    #[inline]
    pub(crate) fn tag(self) -> bool {
        self.0.addr().get() & 1 != 0
    }
}

/// Hints the CPU to load `p`'s header soon (no effect on correctness).
#[inline]
pub(crate) fn prefetch(p: ObjPtr) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults and never changes memory, whatever
        // the address; `p` is a live object anyway. SSE is baseline on
        // x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.raw() as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Adds a reference.
#[inline]
pub(crate) fn incref(p: ObjPtr) {
    let h = p.header();
    if h.flags.load(Relaxed) & FROZEN == 0 {
        h.rc.store(h.rc.load(Relaxed) + 1, Relaxed);
    } else {
        crate::core::sync::scc_acquire(&p.rep().header().rc);
    }
}

/// Adds a reference if the value is an object.
#[inline]
pub(crate) fn incref_slot(s: Slot) {
    if let Slot::Obj(p) = s {
        incref(p)
    }
}

/// Drops a reference; frees (iteratively) whatever dies.
#[inline]
pub(crate) fn decref(p: ObjPtr) {
    if let Some(dead) = decref_no_free(p) {
        release(dead);
    }
}

/// Drops a reference if the value is an object.
#[inline]
pub(crate) fn decref_slot(s: Slot) {
    if let Slot::Obj(p) = s {
        decref(p)
    }
}

/// Something whose count reached zero.
#[derive(Clone, Copy)]
pub(crate) enum Dead {
    Mutable(ObjPtr),
    Scc(ObjPtr),
}

#[inline]
fn decref_no_free(p: ObjPtr) -> Option<Dead> {
    let h = p.header();
    if h.flags.load(Relaxed) & FROZEN == 0 {
        let rc = h.rc.load(Relaxed) - 1;
        h.rc.store(rc, Relaxed);
        (rc == 0).then_some(Dead::Mutable(p))
    } else {
        // The last release sees every other thread's reads of the SCC
        // (see `sync::scc_release`) before it frees it.
        let rep = p.rep();
        crate::core::sync::scc_release(&rep.header().rc).then_some(Dead::Scc(rep))
    }
}

/// The state of one thread's free loop.
struct Drain {
    work: Vec<Dead>,
    /// Pre-freeze hook closures of freed objects: user code (their
    /// captures' `Drop`), so they are dropped after the loop, never inside
    /// it where it could reach objects being freed.
    later: Vec<heap::Hook>,
}

thread_local! {
    static DRAINING: Cell<*mut Drain> = const { Cell::new(std::ptr::null_mut()) };
}

/// Frees `first` and everything that dies with it, with one loop per
/// thread: a release during a release only queues.
fn release(first: Dead) {
    let queued = DRAINING
        .try_with(|d| {
            let cur = d.get();
            if cur.is_null() {
                false
            } else {
                // SAFETY: `cur` points at the Drain owned by the loop below
                // on this same thread, alive while DRAINING is set, and no
                // other reference to it is live during this push.
                unsafe { (*cur).work.push(first) };
                true
            }
        })
        .unwrap_or(false);
    if queued {
        return;
    }
    /// Unsets DRAINING however the loop ends (a panic included), settles
    /// the frozen count (a shared atomic, so once per loop and only if an
    /// SCC was freed, not once per object), then drops the deferred hooks
    /// outside the loop.
    struct Reset {
        installed: bool,
        drain: Drain,
        frozen_freed: usize,
    }
    impl Drop for Reset {
        fn drop(&mut self) {
            if self.installed {
                let _ = DRAINING.try_with(|d| d.set(std::ptr::null_mut()));
            }
            if self.frozen_freed != 0 {
                heap::frozen_freed(self.frozen_freed);
            }
            drop(std::mem::take(&mut self.drain.later));
        }
    }
    let mut guard = Reset {
        installed: false,
        drain: Drain {
            work: vec![first],
            later: Vec::new(),
        },
        frozen_freed: 0,
    };
    let dp: *mut Drain = &mut guard.drain;
    guard.installed = DRAINING.try_with(|d| d.set(dp)).is_ok();
    loop {
        // SAFETY: `dp` is `guard.drain`; nested releases push only inside
        // the `free_*` calls below, never while this borrow is live.
        let next = unsafe { (*dp).work.pop() };
        let Some(dead) = next else { break };
        match dead {
            Dead::Mutable(p) => free_mutable(p, dp),
            Dead::Scc(rep) => guard.frozen_freed += free_scc(rep, dp),
        }
    }
}

/// True while this thread is freeing objects (no collection may start).
pub(crate) fn draining() -> bool {
    DRAINING.try_with(|d| !d.get().is_null()).unwrap_or(true)
}

fn push_dead(dp: *mut Drain, d: Dead) {
    // SAFETY: `dp` is the live Drain of `release` on this thread and no
    // other borrow of it is active while a `free_*` function runs.
    unsafe { (*dp).work.push(d) }
}

fn free_mutable(p: ObjPtr, dp: *mut Drain) {
    let f = p.flags();
    // Weak references first: from here on nothing can reach `p` again.
    if f & HAS_WEAK != 0 {
        crate::core::weak::referent_died(p);
    }
    if let Body::WeakRef(_) = p.body() {
        crate::core::weak::weakref_freed(p);
    }
    if f & HAS_HOOK != 0 {
        if let Some(hook) = heap::take_hook_quietly(p) {
            // SAFETY: `dp` is the live Drain of `release` on this thread and
            // no other borrow of it is active while `free_mutable` runs.
            unsafe { (*dp).later.push(hook) };
        }
    }
    assert!(
        f & (BORROWED | WRITING) == 0,
        "an object was freed while its payload was borrowed"
    );
    crate::core::payload::visit(p, &mut |_, c| {
        if let Some(d) = decref_no_free(c) {
            push_dead(dp, d)
        }
    });
    heap::on_free(p, f & TRACKED != 0);
    // SAFETY: the count reached zero on the owning thread: no handle or
    // container refers to `p` any more, its references were released
    // above, and it was allocated by `alloc`.
    unsafe { dealloc(p) };
}

/// Frees a dead SCC; returns how many objects it held.
fn free_scc(rep: ObjPtr, wp: *mut Drain) -> usize {
    // The SCC's count is zero: this thread owns every member exclusively.
    if rep.flags() & MULTI == 0 {
        // One member (born frozen, or the walk completed it alone): its only
        // possible internal edge is to itself, which is uncounted.
        crate::core::payload::visit(rep, &mut |_, c| {
            if c != rep {
                if let Some(d) = decref_no_free(c) {
                    push_dead(wp, d)
                }
            }
        });
        forget_weak(rep);
        // SAFETY: the SCC (`rep` alone) has count zero and its external
        // edges were released above, so nothing refers to `rep`; it was
        // allocated by `alloc`.
        unsafe { dealloc(rep) };
        return 1;
    }
    // Members are exactly the frozen objects forwarding to `rep`, all
    // reachable from `rep` through members.
    // Depth first, as graphs are usually built, so that both passes meet
    // members roughly in allocation order.
    let mut members = vec![rep];
    let mut todo = vec![rep];
    rep.set_flags(MARK);
    let mut weak = false;
    while let Some(m) = todo.pop() {
        weak |= m.flags() & HAS_WEAK != 0 || matches!(m.body(), Body::WeakRef(_));
        crate::core::payload::visit(m, &mut |_, c| {
            if c.is_frozen() && c.rep() == rep {
                if c.flags() & MARK == 0 {
                    c.set_flags(MARK);
                    members.push(c);
                    todo.push(c);
                }
            } else if let Some(d) = decref_no_free(c) {
                push_dead(wp, d)
            }
        });
    }
    if weak {
        for m in &members {
            forget_weak(*m);
        }
    }
    let n = members.len();
    for m in members {
        // SAFETY: the SCC's count is zero, internal edges are uncounted and
        // all external edges were released, so nothing else refers to `m`;
        // it was allocated by `alloc`.
        unsafe { dealloc(m) };
    }
    n
}

/// Clears the weak references to a member of a dead SCC, and unregisters
/// it if it is a weakref itself.
fn forget_weak(m: ObjPtr) {
    if m.flags() & HAS_WEAK != 0 {
        crate::core::weak::referent_died(m);
    }
    if let Body::WeakRef(_) = m.body() {
        crate::core::weak::frozen_weakref_freed(m);
    }
}

#[cfg(test)]
mod tests {
    use crate::core::handle::Value;

    /// The born-frozen bit is on exactly the kinds frozen from birth, and a
    /// pointer carrying it still reaches the object's header and body.
    #[test]
    fn born_frozen_bit_follows_the_kind() {
        let cases = [
            (Value::from("key"), true),
            (Value::complex(1.0, 2.0), true),
            (Value::list(vec![]), false),
            (Value::tuple(vec![Value::Int(1)]), false),
        ];
        for (v, born) in &cases {
            let p = v.slot().obj().expect("an object");
            assert_eq!(p.born_frozen(), *born, "{}", p.body().type_name());
            assert_eq!(p.body().born_frozen(), *born);
            assert_eq!(p.is_frozen(), *born);
            assert_eq!(p.count(), 1);
        }
        let s = cases[0].0.clone();
        assert_eq!(s.slot().obj().expect("a str").count(), 2);
        assert_eq!(s.as_str(), Some("key"));
    }
}
