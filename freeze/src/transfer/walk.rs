//! Graph transfer: one iterative walk that turns a graph into a flat stream
//! of [`Op`]s (with an identity memo, so sharing and cycles survive), and
//! one [`Builder`] that turns such a stream back into objects in the
//! current heap. Pickling puts the stream through bincode; copying feeds it
//! to the builder directly, with frozen objects passed by reference.
//!
//! Containers appear twice: an `Open*` op when first reached (so cycles
//! can point at them) and `Fill` ops once their contents exist, in chunks
//! of at most [`CHUNK`] items so that no single op is large.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::core::body::{Body, ClassData, FunctionData, InstanceData, SharedFieldData};
use crate::core::error::Error;
use crate::core::key::{check_hashable, DictMap, Key, SetMap};
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

use crate::transfer::pack::{self, for_each_str, Blob, Item, Items};
use crate::core::object::{self, ObjPtr, Slot, MARK};
use crate::core::payload::Payload;
use crate::core::sym::Sym;
use crate::core::handle::{NativeFn, Value};

/// Most items in one fill op.
pub(crate) const CHUNK: usize = 1 << 15;

/// A value inside an op: an immediate or an object id.
#[derive(Clone, Copy, Serialize, Deserialize, Debug)]
pub(crate) enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Ref(u32),
}

/// One step of a serialised graph.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Op<'a> {
    /// Defines name id `n` (ids count up from 0).
    Name(&'a str),
    Str(&'a str),
    /// Several strings in a row (the pickle encoder batches `Str`s).
    Strs(#[serde(borrow)] Blob<'a>),
    Bytes(#[serde(with = "bytes_slice")] &'a [u8]),
    OpenBuffer,
    BufferData(u32, Vec<f64>),
    ClassRef(&'a str),
    ModuleRef(&'a str),
    /// A tuple of this many items (filled in chunks).
    OpenTuple(u32),
    /// A list, dict or set with this many items (a hint for reserving).
    OpenList(u32),
    OpenDict(u32),
    OpenSet(u32),
    OpenCell,
    OpenInstance(V),
    /// A whole instance in one op: class, then attributes as in
    /// `FillAttrs` (used when every attribute value already exists).
    Instance(V, #[serde(borrow)] Items<'a>),
    OpenFunction {
        name: u32,
        arity: u32,
        /// Copy only: the code itself (pickles name it instead).
        #[serde(skip)]
        code: Option<NativeFn>,
    },
    /// Copy only: a class copied whole.
    OpenClass {
        name: u32,
        not_freezable: bool,
    },
    /// Copy only: a mutable shared field (holding a frozen value).
    OpenSharedField,
    /// Items for the object with this id: appended to a tuple or list;
    /// key/value pairs for a dict; items for a set; the value of a cell or
    /// shared field; captures for a function.
    Fill(u32, #[serde(borrow)] Items<'a>),
    /// Function defaults.
    FillDefaults(u32, #[serde(borrow)] Items<'a>),
    /// Class bases (copy only).
    FillBases(u32, #[serde(borrow)] Items<'a>),
    /// Attributes of an instance or class: name id (as an int), value,
    /// name id, value, ...
    FillAttrs(u32, #[serde(borrow)] Items<'a>),
    End(V),
    /// Copy only: a frozen object passed by reference. (Last, so skipping
    /// it leaves the other variants' indices alone.)
    #[serde(skip)]
    Shared(ObjPtr),
}

pub(crate) mod bytes_slice {
    use serde::{de, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
        struct Vis;
        impl<'de> de::Visitor<'de> for Vis {
            type Value = &'de [u8];
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("borrowed bytes")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<&'de [u8], E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(Vis)
    }
}

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
                        Body::Str(s) => pack::put_str(&mut self.packed, s),
                        Body::Bytes(b) => pack::put_bytes(&mut self.packed, b),
                        _ => return memo.id(p).map(|_| ()),
                    }
                    return Ok(());
                }
                None => V::Ref(memo.id(p)?),
            },
        };
        match self.mode {
            Mode::Pickle => pack::put_v(&mut self.packed, v),
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
                        Body::Cell(c) => {
                            chunks(&mut emit, &[*c.read(p)], FillKind::Items)?
                        }
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Done,
    Tuple,
    TupleFilled,
    List,
    Dict,
    Set,
    Cell,
    Buffer,
    Instance,
    Function,
    Class,
    SharedField,
}

/// Rebuilds objects from ops in the current heap.
pub(crate) struct Builder {
    objs: Vec<Value>,
    kinds: Vec<Kind>,
    names: Vec<Sym>,
    /// Tuples opened but not yet filled (their hash would be wrong).
    open_tuples: usize,
    /// Items gathered for tuples still being filled: (expected, items).
    tuple_parts: FxHashMap<u32, (usize, Vec<Slot>)>,
    /// Dict/set fills waiting for tuple keys to be complete.
    deferred: Vec<(u32, Vec<Slot>)>,
    root: Option<Value>,
    /// Decoding bytes: ops only a same-process copy may use are refused.
    from_bytes: bool,
    /// Items containers may still reserve room for ahead of their contents
    /// (decoding: bounded by the input's size, so claims cannot add up).
    reserve_budget: usize,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Other(format!("corrupt pickle: {}", msg.into()))
}

impl Builder {
    /// A builder for a same-process copy.
    pub(crate) fn new() -> Builder {
        Builder::with_source(false, usize::MAX)
    }

    /// A builder for decoding `input_len` bytes of pickle. Every item takes
    /// at least one byte, so reservations never exceed what the input
    /// could fill.
    pub(crate) fn for_bytes(input_len: usize) -> Builder {
        Builder::with_source(true, input_len)
    }

    /// How many items to reserve for a container claiming `n`.
    fn reservation(&mut self, n: u32) -> usize {
        let n = (n as usize).min(self.reserve_budget);
        self.reserve_budget -= n;
        n
    }

    fn with_source(from_bytes: bool, reserve_budget: usize) -> Builder {
        Builder {
            from_bytes,
            reserve_budget,
            objs: Vec::new(),
            kinds: Vec::new(),
            names: Vec::new(),
            open_tuples: 0,
            tuple_parts: FxHashMap::default(),
            deferred: Vec::new(),
            root: None,
        }
    }

    fn push(&mut self, v: Value, k: Kind) {
        self.objs.push(v);
        self.kinds.push(k);
    }

    fn get(&self, v: V) -> Result<Value, Error> {
        Ok(match v {
            V::None => Value::None,
            V::Bool(b) => Value::Bool(b),
            V::Int(i) => Value::Int(i),
            V::Float(x) => Value::Float(x),
            V::Ref(id) => self
                .objs
                .get(id as usize)
                .cloned()
                .ok_or_else(|| bad(format!("reference to unknown object {id}")))?,
        })
    }

    fn target(&self, id: u32, want: &[Kind]) -> Result<ObjPtr, Error> {
        let k = *self
            .kinds
            .get(id as usize)
            .ok_or_else(|| bad(format!("fill of unknown object {id}")))?;
        if !want.contains(&k) {
            return Err(bad(format!("fill of object {id} of the wrong kind")));
        }
        Ok(self.objs[id as usize]
            .slot()
            .obj()
            .expect("containers are objects"))
    }

    fn name(&self, n: u32) -> Result<Sym, Error> {
        self.names
            .get(n as usize)
            .copied()
            .ok_or_else(|| bad(format!("unknown name {n}")))
    }

    fn new_obj(&mut self, body: Body, k: Kind) {
        let v = Value::Obj(crate::core::handle::Ref::from_owned(object::alloc(body)));
        self.push(v, k);
    }

    pub(crate) fn done(&self) -> bool {
        self.root.is_some()
    }

    pub(crate) fn apply(&mut self, op: Op<'_>) -> Result<(), Error> {
        if self.root.is_some() {
            return Err(bad("data after the end"));
        }
        if self.from_bytes
            && matches!(
                op,
                Op::OpenClass { .. } | Op::OpenSharedField | Op::FillBases(..) | Op::Shared(_)
            )
        {
            return Err(bad("an op only a same-process copy may use"));
        }
        match op {
            Op::Name(s) if self.from_bytes => self.names.push(Sym::from_untrusted(s)?),
            Op::Name(s) => self.names.push(Sym::new(s)),
            Op::Str(s) => self.push(Value::str(s), Kind::Done),
            Op::Strs(b) => {
                self.objs.reserve(b.0.len() / 8);
                for_each_str(&b.0, |s| {
                    self.push(Value::str(s), Kind::Done);
                    Ok(())
                })?
            }
            Op::Bytes(b) => self.push(Value::bytes(b), Kind::Done),
            Op::Shared(p) => {
                object::incref(p);
                self.push(Value::from_slot_owned(Slot::Obj(p)), Kind::Done)
            }
            Op::ClassRef(n) => {
                let c = crate::model::registry::lookup_class(n).ok_or_else(|| {
                    Error::Other(format!("class '{n}' is not registered in this worker"))
                })?;
                self.push(c, Kind::Done)
            }
            Op::ModuleRef(n) => {
                let m = crate::model::modules::import(n)?;
                self.push(m, Kind::Done)
            }
            Op::OpenBuffer => self.new_obj(Body::Buffer(Payload::new(Vec::new())), Kind::Buffer),
            Op::OpenTuple(len) => {
                let id = self.objs.len() as u32;
                if len == 0 {
                    self.new_obj(Body::Tuple(Payload::new(Box::new([]))), Kind::TupleFilled)
                } else {
                    self.open_tuples += 1;
                    // No reservation from the claimed length: a hostile
                    // stream of length claims must not add up to memory.
                    self.tuple_parts.insert(id, (len as usize, Vec::new()));
                    self.new_obj(Body::Tuple(Payload::new(Box::new([]))), Kind::Tuple)
                }
            }
            Op::OpenList(n) => {
                let n = self.reservation(n);
                self.new_obj(Body::List(Payload::new(Vec::with_capacity(n))), Kind::List)
            }
            Op::OpenDict(n) => {
                let map =
                    DictMap::with_capacity_and_hasher(self.reservation(n), Default::default());
                self.new_obj(Body::Dict(Box::new(Payload::new(map))), Kind::Dict)
            }
            Op::OpenSet(n) => {
                let set = SetMap::with_capacity_and_hasher(self.reservation(n), Default::default());
                self.new_obj(Body::Set(Box::new(Payload::new(set))), Kind::Set)
            }
            Op::OpenCell => self.new_obj(Body::Cell(Payload::new(Slot::None)), Kind::Cell),
            Op::OpenSharedField => self.new_obj(
                Body::SharedField(Box::new(SharedFieldData {
                    value: parking_lot::Mutex::new(Slot::None),
                })),
                Kind::SharedField,
            ),
            Op::Instance(c, attrs) => {
                self.apply(Op::OpenInstance(c))?;
                let id = (self.objs.len() - 1) as u32;
                self.apply(Op::FillAttrs(id, attrs))?;
            }
            Op::OpenInstance(c) => {
                let class = self.get(c)?;
                let Some(cp) = class
                    .slot()
                    .obj()
                    .filter(|p| matches!(p.body(), Body::Class(_)))
                else {
                    return Err(bad("instance of something that is not a class"));
                };
                std::mem::forget(class);
                self.new_obj(
                    Body::Instance(InstanceData {
                        class: cp,
                        attrs: Payload::new(Vec::new()),
                    }),
                    Kind::Instance,
                )
            }
            Op::OpenFunction { name, arity, code } => {
                let sym = self.name(name)?;
                let code = code
                    .or_else(|| crate::model::registry::lookup_function(sym))
                    .ok_or_else(|| {
                        Error::Other(format!(
                            "function '{sym}' is not registered in this process"
                        ))
                    })?;
                self.new_obj(
                    Body::Function(Box::new(FunctionData {
                        name: sym,
                        code,
                        arity: arity as usize,
                        captures: Payload::new(Vec::new()),
                        defaults: Payload::new(Vec::new()),
                    })),
                    Kind::Function,
                );
            }
            Op::OpenClass {
                name,
                not_freezable,
            } => {
                let sym = self.name(name)?;
                self.new_obj(
                    Body::Class(Box::new(ClassData {
                        name: sym,
                        bases: Payload::new(Vec::new()),
                        dict: Payload::new(Vec::new()),
                        not_freezable,
                        hook_cache: std::cell::Cell::new(0),
                    })),
                    Kind::Class,
                )
            }
            Op::BufferData(id, data) => {
                let p = self.target(id, &[Kind::Buffer])?;
                if let Body::Buffer(b) = p.body() {
                    // A fresh mutable object of this builder: never refused.
                    b.write(p)?.extend_from_slice(&data);
                }
            }
            Op::Fill(id, items) => self.fill(id, items)?,
            Op::FillDefaults(id, items) => {
                let p = self.target(id, &[Kind::Function])?;
                let vals = self.values(&items)?;
                if let Body::Function(fd) = p.body() {
                    fd.defaults.write(p)?.extend(vals);
                }
            }
            Op::FillBases(id, items) => {
                let p = self.target(id, &[Kind::Class])?;
                let vals = self.values(&items)?;
                let ok = vals
                    .iter()
                    .all(|s| s.obj().is_some_and(|q| matches!(q.body(), Body::Class(_))));
                if !ok {
                    crate::core::heap::drop_slots(vals);
                    return Err(bad("a base that is not a class"));
                }
                if let Body::Class(c) = p.body() {
                    c.bases.write(p)?.extend(vals);
                }
            }
            Op::FillAttrs(id, pairs) => {
                let p = self.target(id, &[Kind::Instance, Kind::Class])?;
                // Each pair takes at least two bytes (or two items).
                let mut out: Vec<(Sym, Slot)> =
                    Vec::with_capacity((pairs.size_hint() / 2).min(256));
                let mut pending: Option<Sym> = None;
                let r = pairs.try_for_each(|it| {
                    match pending.take() {
                        None => match it {
                            Item::V(V::Int(n)) if (0..=i64::from(u32::MAX)).contains(&n) => {
                                pending = Some(self.name(n as u32)?)
                            }
                            _ => return Err(bad("attribute name id expected")),
                        },
                        Some(sym) => out.push((sym, self.item(it)?.into_slot())),
                    }
                    Ok(())
                });
                let r = r.and_then(|_| match pending {
                    Some(_) => Err(bad("attributes come in name/value pairs")),
                    None => Ok(()),
                });
                if let Err(e) = r {
                    crate::core::heap::drop_slots(out.into_iter().map(|x| x.1));
                    return Err(e);
                }
                let old = match p.body() {
                    Body::Instance(i) => std::mem::replace(&mut *i.attrs.write(p)?, out),
                    Body::Class(c) => std::mem::replace(&mut *c.dict.write(p)?, out),
                    _ => unreachable!("checked by target"),
                };
                crate::core::heap::drop_slots(old.into_iter().map(|x| x.1));
            }
            Op::End(v) => {
                let root = self.get(v)?;
                let deferred = std::mem::take(&mut self.deferred);
                let mut rest = deferred.into_iter();
                for (id, items) in &mut rest {
                    if let Err(e) = self.fill_keys(id, items) {
                        rest.for_each(|(_, items)| crate::core::heap::drop_slots(items));
                        return Err(e);
                    }
                }
                self.root = Some(root);
            }
        }
        Ok(())
    }

    /// A decoded item as a value: inline leaves become new objects.
    #[inline]
    fn item(&self, it: Item<'_>) -> Result<Value, Error> {
        match it {
            Item::V(v) => self.get(v),
            Item::Str(s) => Ok(Value::str(s)),
            Item::Bytes(b) => Ok(Value::bytes(b)),
        }
    }

    fn values(&self, items: &Items<'_>) -> Result<Vec<Slot>, Error> {
        let mut out = Vec::with_capacity(items.size_hint().min(1 << 20));
        let r = items.try_for_each(|it| {
            out.push(self.item(it)?.into_slot());
            Ok(())
        });
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                crate::core::heap::drop_slots(out);
                Err(e)
            }
        }
    }

    fn fill(&mut self, id: u32, items: Items<'_>) -> Result<(), Error> {
        let all = [
            Kind::Tuple,
            Kind::TupleFilled,
            Kind::List,
            Kind::Dict,
            Kind::Set,
            Kind::Cell,
            Kind::Function,
            Kind::SharedField,
        ];
        let p = self.target(id, &all)?;
        let kind = self.kinds[id as usize];
        if matches!(kind, Kind::Dict | Kind::Set) {
            let vals = self.values(&items)?;
            if self.open_tuples > 0 {
                self.deferred.push((id, vals));
                return Ok(());
            }
            return self.fill_keys(id, vals);
        }
        let vals = self.values(&items)?;
        // `p` is a fresh object of this builder: its guards are never
        // refused, but if one were, nothing would leak.
        let held = |r: &[Slot]| crate::core::heap::drop_slots(r.iter().copied());
        {
            match p.body() {
                Body::Tuple(_) if kind == Kind::TupleFilled => {
                    if !vals.is_empty() {
                        crate::core::heap::drop_slots(vals);
                        return Err(bad("too many items for a tuple"));
                    }
                    return Ok(());
                }
                Body::Tuple(t) => {
                    let (want, got) = self.tuple_parts.get_mut(&id).expect("open tuple");
                    got.extend(vals);
                    if got.len() > *want {
                        return Err(bad("too many items for a tuple"));
                    }
                    if got.len() < *want {
                        return Ok(());
                    }
                    let (_, all) = self.tuple_parts.remove(&id).expect("open tuple");
                    let mut items = t.write(p).inspect_err(|_| held(&all))?;
                    *items = all.into_boxed_slice();
                }
                Body::List(l) => l.write(p).inspect_err(|_| held(&vals))?.extend(vals),
                Body::Function(fd) => fd
                    .captures
                    .write(p)
                    .inspect_err(|_| held(&vals))?
                    .extend(vals),
                Body::Cell(_) | Body::SharedField(_) if vals.len() != 1 => {
                    crate::core::heap::drop_slots(vals);
                    return Err(bad("a cell holds exactly one value"));
                }
                Body::Cell(c) => {
                    let old = std::mem::replace(
                        &mut *c.write(p).inspect_err(|_| held(&vals))?,
                        vals[0],
                    );
                    object::decref_slot(old);
                }
                Body::SharedField(sf) => {
                    if vals[0].obj().is_some_and(|q| !q.is_frozen()) {
                        crate::core::heap::drop_slots(vals);
                        return Err(bad("a shared field holds only frozen values"));
                    }
                    let old = std::mem::replace(&mut *sf.value.lock(), vals[0]);
                    object::decref_slot(old);
                }
                _ => unreachable!("checked by target"),
            }
        }
        self.kinds[id as usize] = match kind {
            Kind::Cell | Kind::SharedField => Kind::Done,
            Kind::Tuple => {
                // Complete (hashable) now that all its items are in.
                self.open_tuples -= 1;
                Kind::TupleFilled
            }
            k => k,
        };
        Ok(())
    }

    fn fill_keys(&mut self, id: u32, vals: Vec<Slot>) -> Result<(), Error> {
        let p = match self.target(id, &[Kind::Dict, Kind::Set]) {
            Ok(p) => p,
            Err(e) => {
                crate::core::heap::drop_slots(vals);
                return Err(e);
            }
        };
        if self.kinds[id as usize] == Kind::Dict && vals.len() % 2 != 0 {
            crate::core::heap::drop_slots(vals);
            return Err(bad("a dict fill needs key/value pairs"));
        }
        let step = if self.kinds[id as usize] == Kind::Dict {
            2
        } else {
            1
        };
        for c in vals.chunks(step) {
            if let Err(e) = check_hashable(c[0]) {
                crate::core::heap::drop_slots(vals);
                return Err(e);
            }
        }
        let mut dup = Vec::new();
        let held = |r: &[Slot]| crate::core::heap::drop_slots(r.iter().copied());
        {
            match p.body() {
                Body::Dict(d) => {
                    let mut d = d.write(p).inspect_err(|_| held(&vals))?;
                    d.reserve(vals.len() / 2);
                    for c in vals.chunks(2) {
                        if let Some(old) = d.insert(Key(c[0]), c[1]) {
                            dup.push(c[0]);
                            dup.push(old);
                        }
                    }
                }
                Body::Set(s) => {
                    let mut s = s.write(p).inspect_err(|_| held(&vals))?;
                    s.reserve(vals.len());
                    for k in vals {
                        if !s.insert(Key(k)) {
                            dup.push(k);
                        }
                    }
                }
                _ => unreachable!("checked by target"),
            }
        }
        crate::core::heap::drop_slots(dup);
        Ok(())
    }

    /// The rebuilt root once `End` was applied.
    pub(crate) fn finish(mut self) -> Result<Value, Error> {
        if self.open_tuples > 0 {
            return Err(bad("a tuple was never filled"));
        }
        self.root
            .take()
            .ok_or_else(|| bad("truncated (no end marker)"))
    }

    /// Every object this builder made (for detaching a copy).
    pub(crate) fn made(&self) -> impl Iterator<Item = &Value> {
        self.objs.iter()
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        for (_, (_, items)) in self.tuple_parts.drain() {
            crate::core::heap::drop_slots(items);
        }
        for (_, items) in self.deferred.drain(..) {
            crate::core::heap::drop_slots(items);
        }
    }
}
