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
}

/// The identity memo: mutable objects (on this thread, not being frozen or
/// collected meanwhile) keep their id in the header's scratch word with a
/// mark, frozen ones (possibly shared with other threads) in a map.
struct Memo {
    frozen: FxHashMap<ObjPtr, u32>,
    marked: Vec<ObjPtr>,
}

impl Memo {
    #[inline]
    fn get(&self, p: ObjPtr) -> Option<u32> {
        if p.is_frozen() {
            self.frozen.get(&p).copied()
        } else if p.flags() & MARK != 0 {
            Some(p.header().aux.load(Relaxed) as u32)
        } else {
            None
        }
    }

    #[inline]
    fn insert(&mut self, p: ObjPtr, id: u32) {
        if p.is_frozen() {
            self.frozen.insert(p, id);
        } else {
            p.set_flags(MARK);
            p.header().aux.store(id as usize, Relaxed);
            self.marked.push(p);
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
    mut emit: impl FnMut(Op<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut memo = Memo {
        frozen: FxHashMap::default(),
        marked: Vec::new(),
    };
    let mut names: FxHashMap<Sym, u32> = FxHashMap::default();
    let mut next = 0u32;
    let mut stack: Vec<Frame> = Vec::new();
    let mut w = ItemWriter {
        mode,
        packed: Vec::new(),
        direct: Vec::new(),
    };
    let mut name = |emit: &mut dyn FnMut(Op<'_>) -> Result<(), Error>, s: Sym| {
        let n = names.len() as u32;
        match names.get(&s) {
            Some(&id) => Ok(id),
            None => {
                names.insert(s, n);
                emit(Op::Name(s.as_str())).map(|_| n)
            }
        }
    };
    if let Some(p) = root.slot().obj() {
        stack.push(Frame::Visit(p));
    }
    while let Some(fr) = stack.pop() {
        match fr {
            Frame::Visit(p) => {
                if memo.get(p).is_some() {
                    continue;
                }
                let body = p.body();
                if mode == Mode::Copy && p.is_frozen() {
                    emit(Op::Shared(p))?;
                    memo.insert(p, next);
                    next += 1;
                    continue;
                }
                // An instance's class must exist before the instance.
                if let Body::Instance(i) = body {
                    if memo.get(i.class).is_none() {
                        stack.push(Frame::Visit(p));
                        stack.push(Frame::Visit(i.class));
                        continue;
                    }
                    let attrs = i.attrs.read(p);
                    // Every attribute already made (or an immediate, or a
                    // leaf the pickle inlines): the whole instance is one op.
                    // (A leaf goes inline only when referenced once: one
                    // referenced twice must get an id, or sharing is lost.)
                    let ready = attrs.iter().all(|(_, s)| match s {
                        Slot::Obj(c) => {
                            memo.get(*c).is_some() || (mode == Mode::Pickle && inline_leaf(*c))
                        }
                        _ => true,
                    });
                    if ready && attrs.len() <= CHUNK {
                        let class = memo.id(i.class)?;
                        for (n, s) in attrs.iter() {
                            let n = name(&mut emit, *n)?;
                            w.push(&memo, Slot::Int(i64::from(n)))?;
                            w.push(&memo, *s)?;
                        }
                        w.flush(&mut emit, FillKind::Instance(class), next)?;
                        memo.insert(p, next);
                        next += 1;
                        continue;
                    }
                }
                let mut fill = true;
                match body {
                    Body::Str(s) => {
                        emit(Op::Str(s))?;
                        fill = false;
                    }
                    Body::Bytes(b) => {
                        emit(Op::Bytes(b))?;
                        fill = false;
                    }
                    Body::Buffer(_) => emit(Op::OpenBuffer)?,
                    Body::Tuple(t) => emit(Op::OpenTuple(t.read(p).len() as u32))?,
                    Body::List(l) => emit(Op::OpenList(l.read(p).len() as u32))?,
                    Body::Dict(d) => emit(Op::OpenDict(d.read(p).len() as u32))?,
                    Body::Set(s) => emit(Op::OpenSet(s.read(p).len() as u32))?,
                    Body::Cell(_) => emit(Op::OpenCell)?,
                    Body::Instance(i) => emit(Op::OpenInstance(V::Ref(memo.id(i.class)?)))?,
                    Body::Function(fd) => {
                        let n = name(&mut emit, fd.name)?;
                        emit(Op::OpenFunction {
                            name: n,
                            arity: fd.arity as u32,
                            code: (mode == Mode::Copy).then_some(fd.code),
                        })?;
                    }
                    Body::Class(c) if mode == Mode::Pickle => {
                        emit(Op::ClassRef(c.name.as_str()))?;
                        fill = false;
                    }
                    Body::Class(c) => {
                        let n = name(&mut emit, c.name)?;
                        emit(Op::OpenClass {
                            name: n,
                            not_freezable: c.not_freezable,
                        })?;
                    }
                    Body::Module(m) if mode == Mode::Pickle => {
                        emit(Op::ModuleRef(m.name.as_str()))?;
                        fill = false;
                    }
                    Body::SharedField(_) if mode == Mode::Copy => emit(Op::OpenSharedField)?,
                    b => {
                        return Err(Error::Other(format!(
                            "cannot {} an object of type {}",
                            if mode == Mode::Pickle {
                                "pickle"
                            } else {
                                "copy"
                            },
                            b.type_name()
                        )))
                    }
                }
                memo.insert(p, next);
                next += 1;
                if fill {
                    stack.push(Frame::Fill(p));
                    let start = stack.len();
                    let push = &mut |c: ObjPtr| {
                        if !(mode == Mode::Pickle && inline_leaf(c)) {
                            stack.push(Frame::Visit(c))
                        }
                    };
                    match body {
                        Body::Instance(i) => {
                            for (_, s) in i.attrs.read(p).iter() {
                                if let Slot::Obj(c) = s {
                                    push(*c)
                                }
                            }
                        }
                        Body::SharedField(sf) => {
                            if let Slot::Obj(c) = *sf.value.lock() {
                                push(c)
                            }
                        }
                        _ => crate::core::payload::for_each_child(p, push),
                    }
                    stack[start..].reverse();
                }
            }
            Frame::Fill(p) => {
                let id = memo.id(p)?;
                let mut chunks = |emit: &mut dyn FnMut(Op<'_>) -> Result<(), Error>,
                                  items: &[Slot],
                                  mk: FillKind|
                 -> Result<(), Error> {
                    if items.is_empty() {
                        return w.flush(emit, mk, id);
                    }
                    for c in items.chunks(CHUNK) {
                        for s in c {
                            w.push(&memo, *s)?;
                        }
                        w.flush(emit, mk, id)?;
                    }
                    Ok(())
                };
                {
                    match p.body() {
                        Body::Tuple(t) => chunks(&mut emit, &t.read(p), FillKind::Items)?,
                        Body::List(l) => chunks(&mut emit, &l.read(p), FillKind::Items)?,
                        Body::Cell(c) => chunks(&mut emit, &[*c.read(p)], FillKind::Items)?,
                        Body::SharedField(sf) => {
                            let s = *sf.value.lock();
                            chunks(&mut emit, &[s], FillKind::Items)?
                        }
                        Body::Set(s) => {
                            let items: Vec<Slot> = s.read(p).iter().map(|k| k.0).collect();
                            chunks(&mut emit, &items, FillKind::Items)?
                        }
                        Body::Dict(d) => {
                            let d = d.read(p);
                            if d.is_empty() {
                                w.flush(&mut emit, FillKind::Items, id)?;
                            }
                            let mut n = 0;
                            for (k, val) in d.iter() {
                                w.push(&memo, k.0)?;
                                w.push(&memo, *val)?;
                                n += 1;
                                if n == CHUNK {
                                    w.flush(&mut emit, FillKind::Items, id)?;
                                    n = 0;
                                }
                            }
                            if n > 0 {
                                w.flush(&mut emit, FillKind::Items, id)?;
                            }
                        }
                        Body::Buffer(b) => {
                            for c in b.read(p).chunks(CHUNK) {
                                emit(Op::BufferData(id, c.to_vec()))?;
                            }
                        }
                        Body::Function(fd) => {
                            chunks(&mut emit, &fd.captures.read(p), FillKind::Items)?;
                            chunks(&mut emit, &fd.defaults.read(p), FillKind::Defaults)?;
                        }
                        Body::Instance(i) => {
                            for (n, s) in i.attrs.read(p).iter() {
                                let n = name(&mut emit, *n)?;
                                w.push(&memo, Slot::Int(i64::from(n)))?;
                                w.push(&memo, *s)?;
                            }
                            w.flush(&mut emit, FillKind::Attrs, id)?;
                        }
                        Body::Class(c) => {
                            chunks(&mut emit, &c.bases.read(p), FillKind::Bases)?;
                            for (n, s) in c.dict.read(p).iter() {
                                let n = name(&mut emit, *n)?;
                                w.push(&memo, Slot::Int(i64::from(n)))?;
                                w.push(&memo, *s)?;
                            }
                            w.flush(&mut emit, FillKind::Attrs, id)?;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let root_v = match root.slot() {
        Slot::Obj(p) => V::Ref(memo.id(p)?),
        Slot::None => V::None,
        Slot::Bool(b) => V::Bool(b),
        Slot::Int(i) => V::Int(i),
        Slot::Float(x) => V::Float(x),
    };
    emit(Op::End(root_v))
}
