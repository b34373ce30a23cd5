//! Graph to ops: one iterative walk with an identity memo, so sharing and
//! cycles survive. Pickling puts the stream through bincode; copying feeds
//! it to the decoder directly, with frozen objects passed by reference.

use rustc_hash::FxHashMap;

use crate::core::body::Body;
use crate::core::error::Error;
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

use crate::core::handle::Value;
use crate::core::object::{ObjPtr, Slot, MARK};
use crate::core::sym::Sym;
use crate::transfer::format::{self, Items};

use crate::transfer::format::*;

/// What the walk is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Self-contained bytes: classes, functions and modules by name.
    Pickle,
    /// Same process: frozen objects by reference, mutable classes copied.
    Copy,
}

enum Frame {
    Visit(ObjPtr),
    Fill(ObjPtr),
    /// An instance whose attributes were queued before it (pickle's post
    /// order): now one `Instance` op, or its fill if a cycle opened it.
    Finish(ObjPtr),
}

/// The scratch word of a mutable instance whose attributes are being
/// walked (marked, but without an id yet).
const PENDING: usize = usize::MAX;

/// The identity memo: mutable objects (on this thread, not being frozen or
/// collected meanwhile) keep their id in the header's scratch word with a
/// mark, frozen ones (possibly shared with other threads) in a map.
struct Memo {
    frozen: FxHashMap<ObjPtr, u32>,
    /// Frozen instances pending (mutable ones use their scratch word).
    frozen_pending: rustc_hash::FxHashSet<ObjPtr>,
    marked: Vec<ObjPtr>,
}

impl Memo {
    #[inline]
    fn get(&self, p: ObjPtr) -> Option<u32> {
        if p.is_frozen() {
            self.frozen.get(&p).copied()
        } else if p.flags() & MARK != 0 {
            let aux = p.header().aux.load(Relaxed);
            (aux != PENDING).then_some(aux as u32)
        } else {
            None
        }
    }

    #[inline]
    fn insert(&mut self, p: ObjPtr, id: u32) {
        if p.is_frozen() {
            self.frozen.insert(p, id);
        } else {
            if p.flags() & MARK == 0 {
                p.set_flags(MARK);
                self.marked.push(p);
            }
            p.header().aux.store(id as usize, Relaxed);
        }
    }

    /// Marks `p` as being walked (no id yet).
    fn set_pending(&mut self, p: ObjPtr) {
        if p.is_frozen() {
            self.frozen_pending.insert(p);
        } else {
            p.set_flags(MARK);
            p.header().aux.store(PENDING, Relaxed);
            self.marked.push(p);
        }
    }

    fn is_pending(&self, p: ObjPtr) -> bool {
        if p.is_frozen() {
            self.frozen_pending.contains(&p)
        } else {
            p.flags() & MARK != 0 && p.header().aux.load(Relaxed) == PENDING
        }
    }

    #[inline]
    fn id(&self, p: ObjPtr) -> Result<u32, Error> {
        self.get(p)
            .ok_or_else(|| Error::Other("pickle: internal error: child not visited".into()))
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        for p in &self.marked {
            p.clear_flags(MARK);
            p.header().aux.store(0, Relaxed);
        }
    }
}

/// A str or bytes referenced once goes inline in its parent's items (no
/// id, no memo entry); anything referenced twice has a count of two.
#[inline]
fn inline_leaf(p: ObjPtr) -> bool {
    matches!(p.body(), Body::Str(_) | Body::Bytes(_)) && p.header().rc.load(Relaxed) == 1
}

/// Which fill op an item list becomes.
#[derive(Clone, Copy)]
enum FillKind {
    /// A whole instance of this class (the id passed is unused).
    Instance(u32),
    Items,
    /// A dict's keys, then its values (`Op::FillPairs`).
    Pairs,
    Defaults,
    Bases,
    Attrs,
}

/// Builds one item list: packed bytes (pickle, with inline leaves) or
/// plain values (copy).
struct ItemWriter {
    mode: Mode,
    packed: Vec<u8>,
    direct: Vec<V>,
}

impl ItemWriter {
    #[inline]
    fn push(&mut self, memo: &Memo, s: Slot) -> Result<(), Error> {
        let v = match s {
            Slot::None => V::None,
            Slot::Bool(b) => V::Bool(b),
            Slot::Int(i) => V::Int(i),
            Slot::Float(x) => V::Float(x),
            Slot::Obj(p) => match memo.get(p) {
                Some(id) => V::Ref(id),
                None if self.mode == Mode::Pickle => {
                    match p.body() {
                        Body::Str(s) => format::put_str(&mut self.packed, s),
                        Body::Bytes(b) => format::put_bytes(&mut self.packed, b),
                        _ => return memo.id(p).map(|_| ()),
                    }
                    return Ok(());
                }
                None => V::Ref(memo.id(p)?),
            },
        };
        match self.mode {
            Mode::Pickle => format::put_v(&mut self.packed, v),
            Mode::Copy => self.direct.push(v),
        }
        Ok(())
    }

    /// `items` in order; in a pickle, runs of ints and of inline strings
    /// go as runs (see `format::Run`).
    fn push_all(&mut self, memo: &Memo, items: &[Slot]) -> Result<(), Error> {
        if self.mode != Mode::Pickle {
            return items.iter().try_for_each(|s| self.push(memo, *s));
        }
        let int = |s: &Slot| match s {
            Slot::Int(i) => Some(*i),
            _ => None,
        };
        // The body first: the memo lookup (a hash probe) only for strings.
        fn text<'s>(memo: &Memo, s: &'s Slot) -> Option<&'s str> {
            match s {
                Slot::Obj(p) => match p.body() {
                    Body::Str(t) if memo.get(*p).is_none() => Some(&**t),
                    _ => None,
                },
                _ => None,
            }
        }
        let mut rest = items;
        while let Some(first) = rest.first() {
            match first {
                Slot::Int(_) => {
                    let ints = rest.iter().take_while(|s| int(s).is_some()).count();
                    if ints >= RUN_MIN {
                        let run = rest[..ints].iter().filter_map(int);
                        format::put_int_run(&mut self.packed, run);
                        rest = &rest[ints..];
                        continue;
                    }
                }
                Slot::Obj(p) => {
                    if let Body::Str(t) = p.body() {
                        // One memo probe per string, here or in `text`.
                        match memo.get(*p) {
                            Some(id) => format::put_v(&mut self.packed, V::Ref(id)),
                            None if rest.len() >= RUN_MIN
                                && rest[1..RUN_MIN].iter().all(|s| text(memo, s).is_some()) =>
                            {
                                let mut texts: Vec<&str> = vec![t];
                                texts.extend(rest[1..].iter().map_while(|s| text(memo, s)));
                                format::put_str_run(&mut self.packed, texts.iter().copied());
                                rest = &rest[texts.len()..];
                                continue;
                            }
                            None => format::put_str(&mut self.packed, t),
                        }
                        rest = &rest[1..];
                        continue;
                    }
                }
                _ => {}
            }
            self.push(memo, *first)?;
            rest = &rest[1..];
        }
        Ok(())
    }

    /// Hands the items gathered so far to `emit` as `mk(id, items)`, then
    /// starts over (keeping the buffers' capacity).
    fn flush(
        &mut self,
        emit: &mut dyn FnMut(Op<'_>) -> Result<(), Error>,
        kind: FillKind,
        id: u32,
    ) -> Result<(), Error> {
        let items = match self.mode {
            Mode::Pickle => Items::Packed(Cow::Borrowed(&self.packed)),
            Mode::Copy => Items::Direct(Cow::Borrowed(&self.direct)),
        };
        let op = match kind {
            FillKind::Instance(class) => Op::Instance(V::Ref(class), items),
            FillKind::Items => Op::Fill(id, items),
            FillKind::Pairs => Op::FillPairs(id, items),
            FillKind::Defaults => Op::FillDefaults(id, items),
            FillKind::Bases => Op::FillBases(id, items),
            FillKind::Attrs => Op::FillAttrs(id, items),
        };
        let r = emit(op);
        self.packed.clear();
        self.direct.clear();
        r
    }
}

/// Walks the graph under `root`, handing each op to `emit`.
pub(crate) fn walk(
    root: &Value,
    mode: Mode,
    emit: impl FnMut(Op<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut e = Encoder {
        mode,
        memo: Memo {
            frozen: FxHashMap::default(),
            frozen_pending: Default::default(),
            marked: Vec::new(),
        },
        names: FxHashMap::default(),
        next: 0,
        stack: Vec::new(),
        w: ItemWriter {
            mode,
            packed: Vec::new(),
            direct: Vec::new(),
        },
        emit,
    };
    if let Some(p) = root.slot().obj() {
        e.stack.push(Frame::Visit(p));
    }
    while let Some(fr) = e.stack.pop() {
        match fr {
            Frame::Visit(p) => e.visit(p)?,
            Frame::Fill(p) => e.fill(p)?,
            Frame::Finish(p) => e.finish(p)?,
        }
    }
    let root_v = match root.slot() {
        Slot::Obj(p) => V::Ref(e.memo.id(p)?),
        Slot::None => V::None,
        Slot::Bool(b) => V::Bool(b),
        Slot::Int(i) => V::Int(i),
        Slot::Float(x) => V::Float(x),
    };
    (e.emit)(Op::End(root_v))
}

/// The walk's state: what was emitted (the memo, the names), what is left
/// (the stack), and where ops go.
struct Encoder<E> {
    mode: Mode,
    memo: Memo,
    names: FxHashMap<Sym, u32>,
    next: u32,
    stack: Vec<Frame>,
    w: ItemWriter,
    emit: E,
}

impl<E: FnMut(Op<'_>) -> Result<(), Error>> Encoder<E> {
    /// The id of name `s`, defining it on first use.
    fn name(&mut self, s: Sym) -> Result<u32, Error> {
        if let Some(&id) = self.names.get(&s) {
            return Ok(id);
        }
        let n = self.names.len() as u32;
        self.names.insert(s, n);
        (self.emit)(Op::Name(Cow::Borrowed(s.as_str())))?;
        Ok(n)
    }

    fn remember(&mut self, p: ObjPtr) {
        self.memo.insert(p, self.next);
        self.next += 1;
    }

    /// First meeting with `p`: emits the op that makes it (and, for an
    /// instance whose attributes all exist, fills it in the same op), then
    /// queues its fill and its children.
    fn visit(&mut self, p: ObjPtr) -> Result<(), Error> {
        if self.memo.get(p).is_some() {
            return Ok(());
        }
        if self.mode == Mode::Copy && p.is_frozen() {
            (self.emit)(Op::Shared(p))?;
            self.remember(p);
            return Ok(());
        }
        if let Body::Instance(i) = p.body() {
            // An instance's class must exist before the instance.
            if self.memo.get(i.class).is_none() {
                self.stack.push(Frame::Visit(p));
                self.stack.push(Frame::Visit(i.class));
                return Ok(());
            }
            if self.instance_in_one_op(p, i)? {
                return Ok(());
            }
            if self.mode == Mode::Pickle {
                if !self.memo.is_pending(p) {
                    // Post order (as the native build makes them): the
                    // attributes first, then the instance in one op.
                    self.memo.set_pending(p);
                    self.stack.push(Frame::Finish(p));
                    self.push_children(p);
                    return Ok(());
                }
                // Reached again through a cycle: it needs an id now; its
                // `Finish` fills it.
                self.open(p)?;
                self.remember(p);
                return Ok(());
            }
        }
        let fill = self.open(p)?;
        self.remember(p);
        if fill {
            self.stack.push(Frame::Fill(p));
            self.push_children(p);
        }
        Ok(())
    }

    /// An instance after its attributes (see [`Frame::Finish`]).
    fn finish(&mut self, p: ObjPtr) -> Result<(), Error> {
        if self.memo.get(p).is_some() {
            return self.fill(p);
        }
        let Body::Instance(i) = p.body() else {
            return Err(Error::Other(
                "pickle: internal error: not an instance".into(),
            ));
        };
        if self.instance_in_one_op(p, i)? {
            return Ok(());
        }
        // Too many attributes for one op.
        self.open(p)?;
        self.remember(p);
        self.fill(p)
    }

    /// An instance whose attributes all exist already (or are immediates,
    /// or leaves the pickle inlines) is one op. A leaf goes inline only when
    /// referenced once: one referenced twice must get an id, or sharing is
    /// lost.
    fn instance_in_one_op(
        &mut self,
        p: ObjPtr,
        i: &crate::core::body::InstanceData,
    ) -> Result<bool, Error> {
        let pickle = self.mode == Mode::Pickle;
        let (ready, n) = {
            let a = i.attrs.read(p);
            let ready = a.values().all(|s| match s {
                Slot::Obj(c) => self.memo.get(c).is_some() || (pickle && inline_leaf(c)),
                _ => true,
            });
            (ready, a.count())
        };
        if !ready || n > CHUNK {
            return Ok(false);
        }
        let class = self.memo.id(i.class)?;
        crate::model::attrs::try_each(p, i, |n, s| self.attr_item(n, s))?;
        self.w
            .flush(&mut self.emit, FillKind::Instance(class), self.next)?;
        self.remember(p);
        Ok(true)
    }

    /// Emits the op that makes `p`; true if its contents follow in fills.
    fn open(&mut self, p: ObjPtr) -> Result<bool, Error> {
        let pickle = self.mode == Mode::Pickle;
        let op = match p.body() {
            Body::Str(s) => {
                (self.emit)(Op::Str(Cow::Borrowed(s)))?;
                return Ok(false);
            }
            Body::Bytes(b) => {
                (self.emit)(Op::Bytes(Cow::Borrowed(b)))?;
                return Ok(false);
            }
            Body::Class(c) if pickle => {
                (self.emit)(Op::ClassRef(Cow::Borrowed(c.name.as_str())))?;
                return Ok(false);
            }
            Body::Module(m) if pickle => {
                (self.emit)(Op::ModuleRef(Cow::Borrowed(m.name.as_str())))?;
                return Ok(false);
            }
            Body::Complex(re, im) => {
                (self.emit)(Op::Complex(*re, *im))?;
                return Ok(false);
            }
            Body::Range(r) => {
                (self.emit)(Op::Range(r.start, r.stop, r.step))?;
                return Ok(false);
            }
            Body::FrozenSet(f) => Op::OpenFrozenSet(f.members.read(p).len() as u32),
            Body::Deque(d) => Op::OpenDeque(
                d.items.read(p).len() as u32,
                d.maxlen.map(|n| n.min(u32::MAX as usize) as u32),
            ),
            Body::DefaultDict(d) => Op::OpenDefaultDict(d.map.read(p).len() as u32),
            Body::Buffer(_) => Op::OpenBuffer,
            Body::Tuple(t) => Op::OpenTuple(t.read(p).len() as u32),
            Body::List(l) => Op::OpenList(l.read(p).len() as u32),
            Body::Dict(d) => Op::OpenDict(d.read(p).len() as u32),
            Body::Set(s) => Op::OpenSet(s.read(p).len() as u32),
            Body::Cell(_) => Op::OpenCell,
            Body::Instance(i) => {
                let n = i.attrs.read(p).count() as u32;
                Op::OpenInstance(V::Ref(self.memo.id(i.class)?), n)
            }
            Body::Function(fd) => Op::OpenFunction {
                name: self.name(fd.name)?,
                arity: fd.arity as u32,
                code: (!pickle).then_some(fd.code),
            },
            Body::Class(c) => Op::OpenClass {
                name: self.name(c.name)?,
                not_freezable: c.not_freezable,
            },
            Body::SharedField(_) if !pickle => Op::OpenSharedField,
            b => {
                return Err(Error::Type {
                    expected: if pickle {
                        "an object that can be pickled"
                    } else {
                        "an object that can be copied"
                    },
                    found: b.type_name(),
                })
            }
        };
        (self.emit)(op)?;
        Ok(true)
    }

    /// Queues `p`'s children, first child on top (inline leaves excepted:
    /// they travel inside `p`'s fill).
    fn push_children(&mut self, p: ObjPtr) {
        let start = self.stack.len();
        let pickle = self.mode == Mode::Pickle;
        let stack = &mut self.stack;
        let mut push = |c: ObjPtr| {
            if !(pickle && inline_leaf(c)) {
                stack.push(Frame::Visit(c))
            }
        };
        match p.body() {
            Body::Instance(i) => i.attrs.read(p).values().for_each(|s| {
                if let Slot::Obj(c) = s {
                    push(c)
                }
            }),
            Body::SharedField(sf) => {
                if let Slot::Obj(c) = *sf.value.lock() {
                    push(c)
                }
            }
            _ => crate::core::payload::for_each_child(p, push),
        }
        self.stack[start..].reverse();
    }

    /// `p`'s contents, once every object they refer to has an id.
    fn fill(&mut self, p: ObjPtr) -> Result<(), Error> {
        let id = self.memo.id(p)?;
        match p.body() {
            Body::Tuple(t) => self.chunks(&t.read(p), FillKind::Items, id),
            Body::List(l) => self.chunks(&l.read(p), FillKind::Items, id),
            Body::Cell(c) => self.chunks(&[*c.read(p)], FillKind::Items, id),
            Body::SharedField(sf) => {
                let s = *sf.value.lock();
                self.chunks(&[s], FillKind::Items, id)
            }
            Body::Set(s) => {
                let items: Vec<Slot> = s.read(p).iter().map(|k| k.0).collect();
                self.chunks(&items, FillKind::Items, id)
            }
            Body::FrozenSet(f) => {
                let items: Vec<Slot> = f.members.read(p).iter().map(|k| k.0).collect();
                self.chunks(&items, FillKind::Items, id)
            }
            Body::Dict(d) => self.dict_items(&d.read(p), id),
            Body::Deque(d) => {
                let items: Vec<Slot> = d.items.read(p).iter().copied().collect();
                self.chunks(&items, FillKind::Items, id)
            }
            Body::DefaultDict(d) => {
                self.dict_items(&d.map.read(p), id)?;
                let f = *d.factory.read(p);
                self.chunks(&[f], FillKind::Defaults, id)
            }
            Body::Buffer(b) => {
                for c in b.read(p).chunks(CHUNK) {
                    (self.emit)(Op::BufferData(id, c.to_vec()))?;
                }
                Ok(())
            }
            Body::Function(fd) => {
                self.chunks(&fd.captures.read(p), FillKind::Items, id)?;
                self.chunks(&fd.defaults.read(p), FillKind::Defaults, id)
            }
            Body::Instance(i) => {
                crate::model::attrs::try_each(p, i, |n, s| self.attr_item(n, s))?;
                self.w.flush(&mut self.emit, FillKind::Attrs, id)
            }
            Body::Class(c) => {
                self.chunks(&c.bases.read(p), FillKind::Bases, id)?;
                self.attr_items(&c.dict.read(p))?;
                self.w.flush(&mut self.emit, FillKind::Attrs, id)
            }
            _ => Ok(()),
        }
    }

    /// `items` as fills of at most `CHUNK` (one empty fill if none).
    fn chunks(&mut self, items: &[Slot], kind: FillKind, id: u32) -> Result<(), Error> {
        if items.is_empty() {
            return self.w.flush(&mut self.emit, kind, id);
        }
        for c in items.chunks(CHUNK) {
            self.w.push_all(&self.memo, c)?;
            self.w.flush(&mut self.emit, kind, id)?;
        }
        Ok(())
    }

    /// Name-id / value pairs into the item writer (the caller flushes).
    fn attr_items(&mut self, attrs: &crate::core::body::AttrMap) -> Result<(), Error> {
        attrs.iter().try_for_each(|(n, s)| self.attr_item(*n, *s))
    }

    /// One name-id / value pair into the item writer.
    fn attr_item(&mut self, n: Sym, s: Slot) -> Result<(), Error> {
        let n = self.name(n)?;
        self.w.push(&self.memo, Slot::Int(i64::from(n)))?;
        self.w.push(&self.memo, s)
    }

    /// Key / value pairs, `CHUNK` pairs per fill. A pickle sends each
    /// chunk as columns (`FillPairs`: keys, then values) so both sides
    /// pack into runs; a copy, which has no runs, sends them alternating.
    fn dict_items(&mut self, d: &crate::core::key::DictMap, id: u32) -> Result<(), Error> {
        if d.is_empty() {
            return self.w.flush(&mut self.emit, FillKind::Items, id);
        }
        if self.w.mode == Mode::Pickle {
            let (mut keys, mut vals) = (Vec::new(), Vec::new());
            let mut entries = d.iter().peekable();
            while entries.peek().is_some() {
                keys.clear();
                vals.clear();
                for (k, v) in entries.by_ref().take(CHUNK) {
                    keys.push(k.0);
                    vals.push(*v);
                }
                self.w.push_all(&self.memo, &keys)?;
                self.w.push_all(&self.memo, &vals)?;
                self.w.flush(&mut self.emit, FillKind::Pairs, id)?;
            }
            return Ok(());
        }
        let mut n = 0;
        for (k, val) in d {
            self.w.push(&self.memo, k.0)?;
            self.w.push(&self.memo, *val)?;
            n += 1;
            if n == CHUNK {
                self.w.flush(&mut self.emit, FillKind::Items, id)?;
                n = 0;
            }
        }
        if n > 0 {
            self.w.flush(&mut self.emit, FillKind::Items, id)?;
        }
        Ok(())
    }
}
