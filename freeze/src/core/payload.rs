//! Payload access: the one place where an object's contents are read or
//! written, and the one labelled edge visitor every graph walk uses.
//!
//! # The rule, checked
//!
//! A [`Payload`] is an `UnsafeCell` inside an object's [`Body`]. Handing out
//! `&T` or `&mut T` to it is sound when
//!
//! 1. the object is frozen (never written again: any thread may read), or
//!    it is mutable and the caller is its owning thread (mutable objects are
//!    only reachable from their thread: `Ref` is `!Send`, see `send.rs`);
//! 2. no `&mut T` coexists with another reference to the same payload.
//!
//! (1) is the crate's ownership invariant. (2) is checked here, at run
//! time, per object, with two header bits, instead of being re-proved by
//! every caller:
//!
//! * a [`Read`] guard on a mutable object sets `BORROWED` (if not already
//!   set by an outer guard, which then clears it); mutators refuse with
//!   [`Error::Borrowed`] while it is set. Frozen objects need no mark;
//! * a [`Write`] guard first checks that the object is mutable (else
//!   [`Error::Immutable`]) and not borrowed, then sets `BORROWED | WRITING`;
//!   a read of an object being written is a bug and panics, never aliases;
//! * an object a freeze walk is visiting has `VISITED` set from its first
//!   visit until the walk commits (then it is frozen) or rolls back; writes
//!   refuse it as they refuse `BORROWED`, so the walk's own reads, the hot
//!   path, set no mark.
//!
//! Both guards check that the payload belongs to the object named as its
//! owner (the bits live in that object's header), so a guard for one
//! object can never unlock another's payload.
//!
//! The free loop and the cycle collector run no user code and touch no
//! guard: they use [`for_each_child`] on objects nobody else can reach.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use crate::core::body::{AttrMap, Body, WeakTarget};
use crate::core::error::Error;
use crate::core::handle::Frozen;
use crate::core::object::{ObjPtr, Slot, BORROWED, FROZEN, SHALLOW, VISITED, WRITING};
use crate::core::sym::Sym;

/// An interior-mutable part of an object's payload.
pub(crate) struct Payload<T>(UnsafeCell<T>);

impl<T> Payload<T> {
    pub(crate) fn new(v: T) -> Self {
        Payload(UnsafeCell::new(v))
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Reads the payload of `owner`. Panics if `self` is not `owner`'s or
    /// `owner` is being written (both are bugs in this crate).
    #[inline]
    pub(crate) fn read(&self, owner: ObjPtr) -> Read<'_, T> {
        assert!(
            owns(owner, self.addr()),
            "payload read through a foreign owner"
        );
        self.read_owned(owner)
    }

    /// `read` for a payload taken from `owner`'s own body by this module.
    #[inline]
    fn read_owned(&self, owner: ObjPtr) -> Read<'_, T> {
        let f = owner.flags();
        assert!(f & WRITING == 0, "payload read while it is being written");
        // A freeze walk holds its objects as it holds a guard (`VISITED`
        // makes every write refuse), so its reads need no mark of their own.
        let marked = f & (FROZEN | BORROWED | VISITED) == 0;
        if marked {
            owner.set_flags(BORROWED);
        }
        // SAFETY: `owner` holds this payload (checked by `read`, or taken
        // from `owner`'s body by the caller in this module). It is frozen
        // (never written: shared reads are fine on any thread) or mutable on
        // this thread (the ownership invariant) and not being written
        // (checked), and from here until the guard drops `BORROWED` (or the
        // walk's `VISITED`) makes every `write` refuse, so no `&mut` to it
        // can exist meanwhile.
        let val = unsafe { &*self.0.get() };
        Read { val, owner, marked }
    }

    /// Writes the payload of `owner`: refused with the immutability error
    /// on a frozen or shallow-frozen object, with [`Error::Borrowed`]
    /// while it is read. Every user-level mutator goes through here.
    #[inline]
    pub(crate) fn write(&self, owner: ObjPtr) -> Result<Write<'_, T>, Error> {
        self.write_unless(owner, FROZEN | SHALLOW)
    }

    /// `write` for the runtime's own bookkeeping on an object that may be
    /// shallow-frozen (a weakref whose referent died, the collector
    /// clearing garbage, a pre-freeze built-in step of a deep freeze):
    /// shallow freezing is a promise to user code, not a change of
    /// ownership, so only frozen objects refuse.
    #[inline]
    pub(crate) fn write_internal(&self, owner: ObjPtr) -> Result<Write<'_, T>, Error> {
        self.write_unless(owner, FROZEN)
    }

    #[inline]
    fn write_unless(&self, owner: ObjPtr, locked: u32) -> Result<Write<'_, T>, Error> {
        assert!(
            owns(owner, self.addr()),
            "payload write through a foreign owner"
        );
        let f = owner.flags();
        if f & locked != 0 {
            return Err(Error::Immutable(type_label(owner)));
        }
        if f & (BORROWED | VISITED) != 0 {
            return Err(Error::Borrowed(type_label(owner)));
        }
        owner.set_flags(BORROWED | WRITING);
        // SAFETY: `owner` holds this payload (checked), is mutable (every
        // caller's `locked` includes `FROZEN`), so only this thread can
        // reach it (ownership invariant), and no guard of it is live
        // (`BORROWED` was clear: every `Read` and `Write` sets it for its
        // whole life). Until this guard drops, reads panic and writes
        // refuse, so this `&mut` is the only reference.
        let val = unsafe { &mut *self.0.get() };
        Ok(Write { val, owner })
    }

    /// Reads a payload of an object in a frozen graph for as long as the
    /// graph's handle is borrowed.
    #[inline]
    pub(crate) fn frozen<'a>(&'a self, owner: Reach<'a>) -> &'a T {
        let owned = owner.slot().obj().is_some_and(|p| owns(p, self.addr()));
        assert!(owned, "payload read through a foreign owner");
        // SAFETY: `owner` is frozen (`Reach` only holds frozen objects) and
        // holds this payload (checked): frozen payloads are never written.
        unsafe { &*self.0.get() }
    }
}

/// Shared access to a payload; see the module docs.
pub(crate) struct Read<'a, T> {
    val: &'a T,
    owner: ObjPtr,
    marked: bool,
}

impl<T> Deref for Read<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.val
    }
}

impl<T> Drop for Read<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.marked {
            if self.owner.is_frozen() {
                // Frozen (and maybe shared) while read: clear atomically, so
                // a concurrent `fetch_or` of another bit is not lost.
                crate::core::sync::flags_remove(&self.owner.header().flags, BORROWED);
            } else {
                self.owner.clear_flags(BORROWED);
            }
        }
    }
}

/// Exclusive access to a payload; see the module docs.
pub(crate) struct Write<'a, T> {
    val: &'a mut T,
    owner: ObjPtr,
}

impl<T> Deref for Write<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.val
    }
}

impl<T> DerefMut for Write<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.val
    }
}

impl<T> Drop for Write<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Still mutable: nothing freezes an object while it is written.
        self.owner.clear_flags(BORROWED | WRITING);
    }
}

/// The most attribute values an instance keeps inline, after its header
/// (a class's layout stops growing here; later names live in `extra`).
pub(crate) const MAX_INLINE: usize = 16;

/// An instance's attribute state. Values of the first `len` names of its
/// class's layout live inline, in the `cap` slots allocated right after
/// the object (`object::alloc` sizes them from `cap`); every other
/// attribute lives in `extra`, in insertion order. Iteration order is the
/// inline prefix, then `extra`, which is insertion order: a name joins
/// the prefix only while `extra` is empty.
///
/// The fields are private to this module: `len <= cap`, and `cap` equal to
/// the slots allocated, are what make the inline slots' accesses below
/// sound, so nothing else may change them.
pub(crate) struct InstAttrs {
    len: u32,
    cap: u32,
    extra: Option<Box<AttrMap>>,
}

impl InstAttrs {
    /// No attributes, room for `cap` (at most [`MAX_INLINE`]) inline.
    pub(crate) fn with_capacity(cap: usize) -> InstAttrs {
        InstAttrs {
            len: 0,
            cap: cap.min(MAX_INLINE) as u32,
            extra: None,
        }
    }

    /// Room for `cap` (at most [`MAX_INLINE`]) inline, the first `len` of
    /// them in use: for [`alloc_filled`](crate::core::object::alloc_filled),
    /// which writes those `len` values.
    pub(crate) fn filled(cap: usize, len: usize) -> InstAttrs {
        let cap = cap.min(MAX_INLINE);
        assert!(len <= cap, "more inline values than slots");
        InstAttrs {
            len: len as u32,
            cap: cap as u32,
            extra: None,
        }
    }

    /// Inline values in use.
    #[inline]
    pub(crate) fn inline_len(&self) -> usize {
        self.len as usize
    }

    /// Inline slots allocated.
    #[inline]
    pub(crate) fn inline_cap(&self) -> usize {
        self.cap as usize
    }

    /// The attributes past the inline prefix.
    #[inline]
    pub(crate) fn extra(&self) -> &[(Sym, Slot)] {
        self.extra.as_deref().map_or(&[], |m| m.as_slice())
    }

    /// Own attributes in all.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.inline_len() + self.extra().len()
    }
}

/// Where the inline slots of `owner` start, given its attribute state `a`
/// (using the pointer is sound only under a guard for `a`: the slots are
/// part of that payload).
#[inline]
fn inline_ptr(owner: ObjPtr, a: &InstAttrs) -> *mut Slot {
    debug_assert!(a.len <= a.cap);
    owner.tail()
}

impl Read<'_, InstAttrs> {
    /// The inline values, in layout order.
    #[inline]
    pub(crate) fn inline(&self) -> &[Slot] {
        // SAFETY: this guard reads `owner`'s attribute state (the payload
        // comes from `owner`'s body: `read` checked ownership), and the
        // first `len <= cap` tail slots are initialised (alloc fills all
        // `cap`); the guard keeps writers out for the slice's lifetime.
        unsafe {
            std::slice::from_raw_parts(inline_ptr(self.owner, self.val), self.val.len as usize)
        }
    }

    /// Every own value, inline first.
    #[inline]
    pub(crate) fn values(&self) -> impl Iterator<Item = Slot> + '_ {
        self.inline()
            .iter()
            .copied()
            .chain(self.val.extra().iter().map(|e| e.1))
    }
}

impl Write<'_, InstAttrs> {
    /// The inline values in use, writable.
    #[inline]
    pub(crate) fn inline_mut(&mut self) -> &mut [Slot] {
        let len = self.val.len as usize;
        // SAFETY: this guard writes `owner`'s attribute state exclusively
        // (`write` checked ownership and that no other guard is live), and
        // the first `len <= cap` tail slots are initialised.
        unsafe { std::slice::from_raw_parts_mut(inline_ptr(self.owner, self.val), len) }
    }

    /// Appends an inline value; handed back if the inline slots are full
    /// or `extra` is not empty (a new inline name would then come before
    /// older names, breaking insertion order).
    pub(crate) fn push_inline(&mut self, v: Slot) -> Result<(), Slot> {
        if self.val.len >= self.val.cap || !self.val.extra().is_empty() {
            return Err(v);
        }
        let i = self.val.len as usize;
        // SAFETY: this guard writes `owner`'s attribute state exclusively
        // (ownership and exclusivity checked by `write`), and `i < cap`, so
        // slot `i` is one of the `cap` allocated after `owner`.
        unsafe { inline_ptr(self.owner, self.val).add(i).write(v) };
        self.val.len += 1;
        Ok(())
    }

    /// Removes the inline values from `from` on and returns them.
    pub(crate) fn truncate_inline(&mut self, from: usize) -> Vec<Slot> {
        let out = self.inline_mut().get(from..).map(<[Slot]>::to_vec);
        let out = out.unwrap_or_default();
        self.val.len -= out.len() as u32;
        out
    }

    /// The attributes past the inline prefix, writable.
    pub(crate) fn extra_mut(&mut self) -> &mut AttrMap {
        self.val.extra.get_or_insert_with(Default::default)
    }

    /// Removes every attribute, values inline first.
    pub(crate) fn take_all(&mut self) -> Vec<Slot> {
        // A decoded instance is filled right after it was opened, empty.
        if self.val.len == 0 && self.val.extra.is_none() {
            return Vec::new();
        }
        let mut out = self.truncate_inline(0);
        if let Some(m) = self.val.extra.take() {
            out.extend(m.into_iter().map(|e| e.1));
        }
        out
    }
}

impl Payload<InstAttrs> {
    /// A frozen instance's inline values and `extra`, for as long as the
    /// graph's handle is borrowed.
    pub(crate) fn frozen_parts<'a>(&'a self, owner: Reach<'a>) -> (&'a [Slot], &'a [(Sym, Slot)]) {
        let a = self.frozen(owner);
        let p = owner.slot().obj().expect("checked by `frozen`");
        // SAFETY: `frozen` checked that `owner` is frozen (never written
        // again) and holds `a`; its first `len <= cap` tail slots are
        // initialised and live as long as `owner`, which the handle behind
        // `Reach<'a>` keeps alive for `'a`.
        let inline = unsafe { std::slice::from_raw_parts(inline_ptr(p, a), a.len as usize) };
        (inline, a.extra())
    }
}

/// The tail slots an object of this body needs (its instance's `cap`).
pub(super) fn tail_slots(body: &mut Body) -> usize {
    match body {
        Body::Instance(i) => i.attrs.0.get_mut().inline_cap(),
        _ => 0,
    }
}

/// The tail slots `p` was allocated with.
pub(super) fn tail_slots_of(p: ObjPtr) -> usize {
    match p.body() {
        // SAFETY: `cap` never changes after allocation, and the callers
        // (the free loop) own `p` outright: no guard is live.
        Body::Instance(i) => unsafe { (*i.attrs.0.get()).inline_cap() },
        _ => 0,
    }
}

/// The type name Python would print: an instance's class name, else the
/// built-in type's.
pub(crate) fn type_label(p: ObjPtr) -> &'static str {
    match p.body() {
        Body::Instance(i) => match i.class.body() {
            Body::Class(c) => c.name.as_str(),
            _ => "instance",
        },
        b => b.type_name(),
    }
}

/// An instance's class and its attributes under a read guard (the freeze
/// walk's common case: the payload comes from `p`'s own body, so it needs
/// no ownership check).
#[inline]
pub(crate) fn instance_attrs(p: &ObjPtr) -> Option<(ObjPtr, Read<'_, InstAttrs>)> {
    match p.body() {
        Body::Instance(i) => Some((i.class, i.attrs.read_owned(*p))),
        _ => None,
    }
}

/// Whether the payload at `addr` is one of `p`'s: inside its body, or
/// inside the box its body owns.
#[inline]
fn owns(p: ObjPtr, addr: usize) -> bool {
    fn within<B>(b: &B, addr: usize) -> bool {
        let start = b as *const B as usize;
        addr >= start && addr < start + std::mem::size_of::<B>()
    }
    // Most payloads (an instance's attributes, a list's items) live in the
    // body itself: one range check before any dispatch on the variant.
    if within(p.body(), addr) {
        return true;
    }
    match p.body() {
        Body::Dict(b) => within(&**b, addr),
        Body::Set(b) => within(&**b, addr),
        Body::Class(b) => within(&**b, addr),
        Body::Function(b) => within(&**b, addr),
        Body::Module(b) => within(&**b, addr),
        Body::WeakRef(b) => within(&**b, addr),
        Body::FrozenSet(b) => within(&**b, addr),
        Body::Deque(b) => within(&**b, addr),
        Body::DefaultDict(b) => within(&**b, addr),
        _ => false,
    }
}

/// An immediate, or a frozen object reachable from a frozen handle
/// borrowed for `'a`: its payload can be read for `'a` with no guard
/// (frozen graphs never change, and the handle keeps the whole graph
/// alive). What a [`View`](crate::View) holds.
#[derive(Clone, Copy)]
pub(crate) struct Reach<'a>(Slot, PhantomData<&'a Frozen>);

impl<'a> Reach<'a> {
    /// The root of a frozen handle.
    pub(crate) fn root(f: &'a Frozen) -> Reach<'a> {
        Reach::checked(f.value_slot())
    }

    /// The value, if it is frozen (or an immediate).
    pub(crate) fn of(v: &'a crate::core::handle::Value) -> Option<Reach<'a>> {
        match v.slot() {
            Slot::Obj(p) if !p.is_frozen() => None,
            s => Some(Reach(s, PhantomData)),
        }
    }

    fn checked(s: Slot) -> Reach<'a> {
        assert!(
            s.obj().is_none_or(|p| p.is_frozen()),
            "a view of a mutable object"
        );
        Reach(s, PhantomData)
    }

    /// A slot read from this object's payload (every object a frozen
    /// object refers to is frozen, and alive while its parent is).
    pub(crate) fn child(self, s: Slot) -> Reach<'a> {
        Reach::checked(s)
    }

    pub(crate) fn slot(self) -> Slot {
        self.0
    }

    /// The payload enum, borrowed for `'a`.
    pub(crate) fn body(self) -> Option<&'a Body> {
        // SAFETY: the object is reachable from a frozen handle borrowed for
        // `'a`, which keeps it alive for `'a` (see `Reach`); the body enum
        // is never replaced while the object lives.
        self.0.obj().map(|p| unsafe { p.body_unbounded() })
    }
}

/// Which reference of its parent an edge is (for error paths and repr).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Edge {
    /// Item `i` of a tuple or list.
    Item(usize),
    /// A set member (the member itself).
    Member(Slot),
    /// A dict key (the key itself).
    Key(Slot),
    /// The value under a dict key.
    Value(Slot),
    /// An instance's class.
    Class,
    /// An attribute (instance, class or module).
    Attr(Sym),
    /// An instance's inline attribute `k`: the `k`th name of the class's
    /// layout (see [`Edge::attr_name`]).
    Inline(ObjPtr, u32),
    /// Base class `i`.
    Base(usize),
    /// Captured value `i` of a function.
    Capture(usize),
    /// Default value `i` of a function.
    Default(usize),
    /// A cell's contents.
    CellContents,
    /// A shared field's value.
    FieldValue,
    /// An interpreter-local's factory.
    Factory,
    /// A strengthened weak reference's referent.
    Referent,
    /// A weak reference's callback.
    Callback,
}

impl Edge {
    /// The attribute name of an `Attr` or `Inline` edge. An `Inline` name
    /// is read from the class's layout (the class is alive: the instance
    /// holds it), so call this outside any write of that class.
    pub(crate) fn attr_name(&self) -> Option<Sym> {
        match *self {
            Edge::Attr(n) => Some(n),
            Edge::Inline(class, k) => match class.body() {
                Body::Class(c) => c.layout.read(class).get(k as usize).copied(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Calls `f` with every counted reference `p` holds, labelled, in one
/// fixed order (the freeze walk's error paths count on it). Holds a read
/// guard on `p` while it runs.
#[inline]
pub(crate) fn for_each_edge(p: ObjPtr, mut f: impl FnMut(Edge, ObjPtr)) {
    let _g = EdgeGuard::new(p);
    // SAFETY (of `visit`'s contract): `p` is frozen or on this thread
    // (ownership invariant) and `_g` keeps writers out while we read.
    visit(p, &mut f);
}

/// `for_each_edge` without labels.
#[inline]
pub(crate) fn for_each_child(p: ObjPtr, mut f: impl FnMut(ObjPtr)) {
    for_each_edge(p, |_, c| f(c))
}

/// The mark `for_each_edge` holds: `BORROWED` on a mutable object, as a
/// `Read` guard does, without naming a payload.
struct EdgeGuard {
    p: ObjPtr,
    marked: bool,
}

impl EdgeGuard {
    #[inline]
    fn new(p: ObjPtr) -> EdgeGuard {
        let f = p.flags();
        assert!(f & WRITING == 0, "edges read while the object is written");
        let marked = f & (FROZEN | BORROWED | VISITED) == 0;
        if marked {
            p.set_flags(BORROWED);
        }
        EdgeGuard { p, marked }
    }
}

impl Drop for EdgeGuard {
    #[inline]
    fn drop(&mut self) {
        if self.marked {
            if self.p.is_frozen() {
                crate::core::sync::flags_remove(&self.p.header().flags, BORROWED);
            } else {
                self.p.clear_flags(BORROWED);
            }
        }
    }
}

/// The edge enumeration itself; the free loop calls it directly (on a
/// dead object: nobody else can reach it, so no guard is needed).
#[inline]
pub(super) fn visit(p: ObjPtr, f: &mut impl FnMut(Edge, ObjPtr)) {
    let mut s = |e: Edge, s: &Slot| {
        if let Slot::Obj(c) = s {
            f(e, *c)
        }
    };
    /// Reads a payload of `p` under the caller's guard.
    fn get<T>(x: &Payload<T>) -> &T {
        // SAFETY: `visit`'s callers hold `BORROWED` on `p` (or own a dead
        // `p` outright), `p` is frozen or on this thread, and `x` is one of
        // `p`'s payloads (it comes from `p.body()` below).
        unsafe { &*x.0.get() }
    }
    match p.body() {
        Body::Str(_) | Body::Bytes(_) | Body::Buffer(_) | Body::Complex(..) | Body::Range(_) => {}
        Body::FrozenSet(f) => get(&f.members)
            .iter()
            .for_each(|k| s(Edge::Member(k.0), &k.0)),
        Body::Deque(d) => get(&d.items)
            .iter()
            .enumerate()
            .for_each(|(i, v)| s(Edge::Item(i), v)),
        Body::DefaultDict(d) => {
            s(Edge::Factory, get(&d.factory));
            get(&d.map).iter().for_each(|(k, v)| {
                s(Edge::Key(k.0), &k.0);
                s(Edge::Value(k.0), v)
            })
        }
        Body::Tuple(items) => get(items)
            .iter()
            .enumerate()
            .for_each(|(i, v)| s(Edge::Item(i), v)),
        Body::List(items) => get(items)
            .iter()
            .enumerate()
            .for_each(|(i, v)| s(Edge::Item(i), v)),
        Body::Dict(d) => get(d).iter().for_each(|(k, v)| {
            s(Edge::Key(k.0), &k.0);
            s(Edge::Value(k.0), v)
        }),
        Body::Set(d) => get(d).iter().for_each(|k| s(Edge::Member(k.0), &k.0)),
        Body::Class(c) => {
            get(&c.bases)
                .iter()
                .enumerate()
                .for_each(|(i, v)| s(Edge::Base(i), v));
            get(&c.dict).iter().for_each(|(n, v)| s(Edge::Attr(*n), v));
        }
        Body::Instance(i) => {
            s(Edge::Class, &Slot::Obj(i.class));
            let a = get(&i.attrs);
            // SAFETY: `visit`'s callers hold `BORROWED` on `p` (or own a
            // dead `p` outright), which covers `p`'s attribute state `a`,
            // inline slots included; the first `len <= cap` of them are
            // initialised.
            let inline = unsafe { std::slice::from_raw_parts(inline_ptr(p, a), a.inline_len()) };
            inline
                .iter()
                .enumerate()
                .for_each(|(k, v)| s(Edge::Inline(i.class, k as u32), v));
            a.extra().iter().for_each(|(n, v)| s(Edge::Attr(*n), v));
        }
        Body::Function(fd) => {
            get(&fd.captures)
                .iter()
                .enumerate()
                .for_each(|(i, v)| s(Edge::Capture(i), v));
            get(&fd.defaults)
                .iter()
                .enumerate()
                .for_each(|(i, v)| s(Edge::Default(i), v));
        }
        Body::Cell(c) => s(Edge::CellContents, get(c)),
        Body::Module(m) => {
            if let Some(d) = get(&m.dict) {
                d.iter().for_each(|(n, v)| s(Edge::Attr(*n), v))
            }
        }
        Body::SharedField(sf) => {
            let v = *sf.value.lock();
            s(Edge::FieldValue, &v)
        }
        Body::Local(l) => s(Edge::Factory, &l.factory),
        Body::WeakRef(w) => {
            if let WeakTarget::Strong(c) = get(&w.target) {
                s(Edge::Referent, &Slot::Obj(*c))
            }
            s(Edge::Callback, get(&w.callback))
        }
    }
}

/// Removes and returns every reference the cycle collector may cut to
/// break a garbage cycle, leaving `p` valid and empty. A tuple is emptied
/// too (only corrupt input makes a tuple part of a cycle with no mutable
/// container in it, as in CPython's tuple clear). Refused, and nothing
/// changed, if `p` is frozen or being read; a shallow-frozen object is
/// cleared like any other (it is garbage: no user code can see it).
pub(crate) fn take_children(p: ObjPtr, out: &mut Vec<Slot>) -> Result<(), Error> {
    fn values(m: crate::core::body::AttrMap, out: &mut Vec<Slot>) {
        out.extend(m.into_iter().map(|(_, v)| v))
    }
    match p.body() {
        Body::Tuple(items) => out.extend(std::mem::take(&mut *items.write_internal(p)?).into_vec()),
        Body::List(items) => out.append(&mut *items.write_internal(p)?),
        Body::Dict(d) => {
            for (k, v) in std::mem::take(&mut *d.write_internal(p)?) {
                out.push(k.0);
                out.push(v);
            }
        }
        Body::Set(d) => out.extend(
            std::mem::take(&mut *d.write_internal(p)?)
                .into_iter()
                .map(|k| k.0),
        ),
        Body::FrozenSet(f) => out.extend(
            std::mem::take(&mut *f.members.write_internal(p)?)
                .into_iter()
                .map(|k| k.0),
        ),
        Body::Deque(d) => out.extend(std::mem::take(&mut *d.items.write_internal(p)?)),
        Body::DefaultDict(d) => {
            for (k, v) in std::mem::take(&mut *d.map.write_internal(p)?) {
                out.push(k.0);
                out.push(v);
            }
            out.push(std::mem::replace(
                &mut *d.factory.write_internal(p)?,
                Slot::None,
            ));
        }
        Body::Class(c) => {
            out.append(&mut *c.bases.write_internal(p)?);
            values(std::mem::take(&mut *c.dict.write_internal(p)?), out);
        }
        Body::Instance(i) => out.append(&mut i.attrs.write_internal(p)?.take_all()),
        Body::Function(fd) => {
            out.append(&mut *fd.captures.write_internal(p)?);
            out.append(&mut *fd.defaults.write_internal(p)?);
        }
        Body::Cell(c) => out.push(std::mem::replace(&mut *c.write_internal(p)?, Slot::None)),
        Body::Module(m) => {
            if let Some(d) = m.dict.write_internal(p)?.as_mut() {
                values(std::mem::take(d), out)
            }
        }
        Body::WeakRef(w) => {
            let mut t = w.target.write_internal(p)?;
            if let WeakTarget::Strong(c) = *t {
                *t = WeakTarget::Dead;
                out.push(Slot::Obj(c));
            }
            drop(t);
            out.push(std::mem::replace(
                &mut *w.callback.write_internal(p)?,
                Slot::None,
            ));
        }
        Body::Str(_)
        | Body::Bytes(_)
        | Body::Buffer(_)
        | Body::SharedField(_)
        | Body::Local(_)
        | Body::Complex(..)
        | Body::Range(_) => {}
    }
    Ok(())
}

/// String storage: short strings live inside the object (one allocation
/// per string instead of two), long ones in a box. The representation is
/// private: only `new` fills it, which keeps the inline bytes UTF-8.
pub(crate) struct StrData(StrRepr);

enum StrRepr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

/// 22 keeps `StrData` at 24 bytes, so no body outgrows a `Vec`.
const INLINE: usize = 22;

impl StrData {
    pub(crate) fn new(s: &str) -> StrData {
        StrData(if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            StrRepr::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            StrRepr::Heap(s.into())
        })
    }
}

impl Deref for StrData {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            StrRepr::Inline { len, buf } => {
                // SAFETY: `buf[..len]` was copied from a `&str` in `new`, and
                // `StrRepr` is private to this module, so nothing else can
                // build or change one: the bytes are valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(&buf[..*len as usize]) }
            }
            StrRepr::Heap(b) => b,
        }
    }
}
