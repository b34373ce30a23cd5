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
pub(crate) fn instance_attrs(p: &ObjPtr) -> Option<(ObjPtr, Read<'_, AttrMap>)> {
    match p.body() {
        Body::Instance(i) => Some((i.class, i.attrs.read_owned(*p))),
        _ => None,
    }
}

/// Whether the payload at `addr` is one of `p`'s: inside its header+body,
/// or inside the box its body owns.
fn owns(p: ObjPtr, addr: usize) -> bool {
    fn within<B>(b: &B, addr: usize) -> bool {
        let start = b as *const B as usize;
        addr >= start && addr < start + std::mem::size_of::<B>()
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
        b => within(b, addr),
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
            get(&i.attrs).iter().for_each(|(n, v)| s(Edge::Attr(*n), v));
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
        Body::Instance(i) => values(std::mem::take(&mut *i.attrs.write_internal(p)?), out),
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

const INLINE: usize = 30;

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
