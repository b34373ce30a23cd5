//! Ops to graph: the [`Builder`] rebuilds objects in the current heap,
//! checking every op (a pickle may come from anywhere).

use rustc_hash::FxHashMap;

use crate::core::body::{
    Body, ClassData, DefaultDictData, DequeData, FrozenSetData, FunctionData, SharedFieldData,
};
use crate::core::error::{DecodeError, DecodeProblem, Error};
use crate::core::key::{check_hashable, frozenset_hash, DictMap, Key, SetMap};

use crate::core::handle::Value;
use crate::core::object::{self, ObjPtr, Slot};
use crate::core::payload::Payload;
use crate::core::sym::Sym;
use crate::transfer::format::{str_batch, Item, Items, Run};
use crate::transfer::frozensets::PendingSets;

use crate::transfer::format::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Done,
    Tuple,
    TupleFilled,
    /// A frozenset still gathering its members.
    FrozenSet,
    /// A frozenset with all its members (an empty fill is still taken).
    FrozenSetFull,
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
    /// Tuples not yet filled and frozensets without their set yet (a key
    /// reaching one would hash wrong).
    unfinished: usize,
    sets: PendingSets,
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
    /// Reused while decoding an attribute list.
    attr_scratch: Vec<(Sym, Slot)>,
}

fn bad(msg: impl Into<String>) -> Error {
    DecodeError::new(DecodeProblem::Invalid(msg.into())).into()
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
            unfinished: 0,
            sets: PendingSets::default(),
            tuple_parts: FxHashMap::default(),
            deferred: Vec::new(),
            root: None,
            attr_scratch: Vec::new(),
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
            Op::Name(_)
            | Op::Str(_)
            | Op::Strs(_)
            | Op::Bytes(_)
            | Op::Shared(_)
            | Op::ClassRef(_)
            | Op::ModuleRef(_)
            | Op::Complex(..)
            | Op::Range(..) => self.leaf(op),
            Op::BufferData(..)
            | Op::Fill(..)
            | Op::FillPairs(..)
            | Op::FillDefaults(..)
            | Op::FillBases(..)
            | Op::FillAttrs(..) => self.fill_op(op),
            Op::End(v) => self.end(v),
            _ => self.open(op),
        }
    }

    /// Names, strings, bytes and references to existing objects.
    fn leaf(&mut self, op: Op<'_>) -> Result<(), Error> {
        match op {
            Op::Name(s) if self.from_bytes => self.names.push(Sym::from_untrusted(&s)?),
            Op::Name(s) => self.names.push(Sym::new(&s)),
            Op::Str(s) => self.push(Value::str(&s), Kind::Done),
            Op::Strs(b) => {
                // One UTF-8 check for the whole batch.
                let run = str_batch(&b.0)?;
                self.objs.reserve(run.len());
                self.kinds.reserve(run.len());
                run.try_for_each(|s| {
                    self.push(Value::str(s), Kind::Done);
                    Ok(())
                })?
            }
            Op::Bytes(b) => self.push(Value::bytes(&b), Kind::Done),
            Op::Shared(p) => {
                object::incref(p);
                self.push(Value::from_slot_owned(Slot::Obj(p)), Kind::Done)
            }
            Op::ClassRef(n) => {
                let c = crate::model::registry::lookup_class(&n).ok_or_else(|| {
                    DecodeError::new(DecodeProblem::NotRegistered {
                        kind: "class",
                        name: n.to_string(),
                    })
                })?;
                self.push(c, Kind::Done)
            }
            Op::ModuleRef(n) => {
                let m = crate::model::modules::import(&n)?;
                self.push(m, Kind::Done)
            }
            Op::Complex(re, im) => self.push(Value::complex(re, im), Kind::Done),
            Op::Range(a, b, k) => {
                let r = Value::range(a, b, k).map_err(|_| bad("a range with step 0"))?;
                self.push(r, Kind::Done)
            }
            _ => unreachable!("dispatched by apply"),
        }
        Ok(())
    }

    /// A new object, contents to follow (or, for `Instance`, included).
    fn open(&mut self, op: Op<'_>) -> Result<(), Error> {
        match op {
            Op::Instance(..)
            | Op::OpenInstance(..)
            | Op::OpenFunction { .. }
            | Op::OpenClass { .. } => self.open_code(op),
            _ => self.open_container(op),
        }
    }

    /// A new container or cell (its items follow in fills).
    fn open_container(&mut self, op: Op<'_>) -> Result<(), Error> {
        match op {
            Op::OpenBuffer => self.new_obj(Body::Buffer(Payload::new(Vec::new())), Kind::Buffer),
            Op::OpenTuple(len) => {
                let id = self.objs.len() as u32;
                if len == 0 {
                    self.new_obj(Body::Tuple(Payload::new(Box::new([]))), Kind::TupleFilled)
                } else {
                    self.unfinished += 1;
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
            Op::OpenFrozenSet(n) => {
                // Its members are gathered apart until they are all
                // complete (see `frozensets`); an empty one is done now.
                let empty = SetMap::default();
                let hash = std::cell::Cell::new(frozenset_hash(&empty));
                let body = Body::FrozenSet(Box::new(FrozenSetData {
                    members: Payload::new(empty),
                    hash,
                }));
                if n == 0 {
                    self.new_obj(body, Kind::FrozenSetFull)
                } else {
                    self.new_obj(body, Kind::FrozenSet);
                    let p = self.objs.last().and_then(|v| v.slot().obj());
                    self.sets.open(p.expect("just made"), n as usize);
                    self.unfinished += 1;
                }
            }
            Op::OpenDeque(n, maxlen) => {
                let n = self.reservation(n);
                self.new_obj(
                    Body::Deque(Box::new(DequeData {
                        items: Payload::new(std::collections::VecDeque::with_capacity(n)),
                        maxlen: maxlen.map(|m| m as usize),
                    })),
                    Kind::List,
                )
            }
            Op::OpenDefaultDict(n) => {
                let map =
                    DictMap::with_capacity_and_hasher(self.reservation(n), Default::default());
                self.new_obj(
                    Body::DefaultDict(Box::new(DefaultDictData {
                        map: Payload::new(map),
                        factory: Payload::new(Slot::None),
                    })),
                    Kind::Dict,
                )
            }
            Op::OpenCell => self.new_obj(Body::Cell(Payload::new(Slot::None)), Kind::Cell),
            Op::OpenSharedField => self.new_obj(
                Body::SharedField(Box::new(SharedFieldData {
                    value: parking_lot::Mutex::new(Slot::None),
                })),
                Kind::SharedField,
            ),
            _ => unreachable!("dispatched by apply"),
        }
        Ok(())
    }

    /// A new instance, function or class.
    fn open_code(&mut self, op: Op<'_>) -> Result<(), Error> {
        match op {
            Op::Instance(c, attrs) => {
                // Its attributes exist already (the encoder's rule for this
                // op), so the instance is made with them in place; one that
                // names the instance itself is refused as an unknown id.
                let cp = self.class_of(c)?;
                let mut scratch = std::mem::take(&mut self.attr_scratch);
                let made = match self.gather_attrs(&attrs, &mut scratch) {
                    Ok(()) => {
                        let room = scratch.len();
                        Ok(crate::model::attrs::new_instance(cp, &mut scratch, room))
                    }
                    Err(e) => {
                        object::decref(cp);
                        Err(e)
                    }
                };
                self.attr_scratch = scratch;
                self.push_instance(made?);
            }
            Op::OpenInstance(c, n) => self.open_instance(c, n)?,
            Op::OpenFunction { name, arity, code } => {
                let sym = self.name(name)?;
                let code = code
                    .or_else(|| crate::model::registry::lookup_function(sym))
                    .ok_or_else(|| {
                        DecodeError::new(DecodeProblem::NotRegistered {
                            kind: "function",
                            name: sym.as_str().to_string(),
                        })
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
                        layout: Payload::new(Vec::new()),
                        not_freezable,
                        hook_cache: std::cell::Cell::new(0),
                    })),
                    Kind::Class,
                )
            }
            _ => unreachable!("dispatched by apply"),
        }
        Ok(())
    }

    /// The class `c` names, counted (for an instance to hold).
    fn class_of(&self, c: V) -> Result<ObjPtr, Error> {
        let class = self.get(c)?;
        let Some(cp) = class
            .slot()
            .obj()
            .filter(|p| matches!(p.body(), Body::Class(_)))
        else {
            return Err(bad("instance of something that is not a class"));
        };
        std::mem::forget(class);
        Ok(cp)
    }

    /// A new instance of class `c` (its attributes follow).
    fn open_instance(&mut self, c: V, n: u32) -> Result<(), Error> {
        let cp = self.class_of(c)?;
        let inst =
            crate::model::attrs::new_instance(cp, &mut Vec::<(Sym, Slot)>::new(), n as usize);
        self.push_instance(inst);
        Ok(())
    }

    /// Gives the builder a new instance (its next id).
    fn push_instance(&mut self, inst: ObjPtr) {
        let v = Value::Obj(crate::core::handle::Ref::from_owned(inst));
        self.push(v, Kind::Instance);
    }

    /// Decodes `pairs` (name id, value, ...) into the empty `scratch`, as
    /// counted slots; on error `scratch` is released and left empty.
    fn gather_attrs(&self, pairs: &Items<'_>, scratch: &mut Vec<(Sym, Slot)>) -> Result<(), Error> {
        let r = pairs.try_for_each_attr(|n, it| {
            let sym = self.name(n)?;
            scratch.push((sym, self.item(it)?.into_slot()));
            Ok(())
        });
        if r.is_err() {
            crate::core::heap::drop_slots(scratch.drain(..).map(|x| x.1));
        }
        r
    }

    /// Contents of an object opened earlier.
    fn fill_op(&mut self, op: Op<'_>) -> Result<(), Error> {
        match op {
            Op::BufferData(id, data) => {
                let p = self.target(id, &[Kind::Buffer])?;
                if let Body::Buffer(b) = p.body() {
                    // A fresh mutable object of this builder: never refused.
                    b.write(p)?.extend_from_slice(&data);
                }
            }
            Op::Fill(id, items) => self.fill(id, items)?,
            Op::FillPairs(id, items) => self.fill_pairs(id, items)?,
            Op::FillDefaults(id, items) => {
                let p = self.target(id, &[Kind::Function, Kind::Dict])?;
                let vals = self.values(&items)?;
                match p.body() {
                    Body::Function(fd) => fd.defaults.write(p)?.extend(vals),
                    Body::DefaultDict(dd) => {
                        let callable = |s: Slot| {
                            s.obj().is_none_or(|q| {
                                matches!(q.body(), Body::Function(_) | Body::Class(_))
                            })
                        };
                        if vals.len() != 1 || !callable(vals[0]) {
                            crate::core::heap::drop_slots(vals);
                            return Err(bad("a defaultdict's factory is one callable or None"));
                        }
                        let old = std::mem::replace(&mut *dd.factory.write(p)?, vals[0]);
                        object::decref_slot(old);
                    }
                    _ => {
                        crate::core::heap::drop_slots(vals);
                        return Err(bad("defaults for an object that takes none"));
                    }
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
            Op::FillAttrs(id, pairs) => self.fill_attrs(id, pairs)?,
            _ => unreachable!("dispatched by apply"),
        }
        Ok(())
    }

    /// Attributes of an instance or class (name id, value, ...), replacing
    /// any it had.
    fn fill_attrs(&mut self, id: u32, pairs: Items<'_>) -> Result<(), Error> {
        let p = self.target(id, &[Kind::Instance, Kind::Class])?;
        // Gathered in a reused buffer: an instance takes them straight from
        // it, a class copies them out at the exact size.
        let mut scratch = std::mem::take(&mut self.attr_scratch);
        let done = match (self.gather_attrs(&pairs, &mut scratch), p.body()) {
            (Err(e), _) => Err(e),
            (Ok(()), Body::Instance(i)) => {
                crate::model::attrs::replace_all(p, i, scratch.drain(..))
                    .map(crate::core::heap::drop_slots)
            }
            (Ok(()), Body::Class(c)) => {
                let out = scratch.to_vec();
                scratch.clear();
                match c.dict.write(p) {
                    Ok(mut d) => {
                        let old = std::mem::replace(&mut *d, out);
                        drop(d);
                        crate::core::heap::drop_slots(old.into_iter().map(|x| x.1));
                        Ok(())
                    }
                    Err(e) => {
                        crate::core::heap::drop_slots(out.into_iter().map(|x| x.1));
                        Err(e)
                    }
                }
            }
            (Ok(()), _) => unreachable!("checked by target"),
        };
        debug_assert!(scratch.is_empty());
        self.attr_scratch = scratch;
        done
    }

    /// The root: the stream is complete once deferred dict and set fills
    /// (whose keys had to be complete first) are in.
    fn end(&mut self, v: V) -> Result<(), Error> {
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
        // A fill holds at most `CHUNK` pairs; the hint only bounds the
        // first reservation.
        let mut out = Vec::with_capacity(items.size_hint().min(2 * CHUNK));
        match self.extend_slots(items, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => {
                crate::core::heap::drop_slots(out);
                Err(e)
            }
        }
    }

    /// Appends the items to `out`, runs in bulk (a run's length is
    /// backed by its bytes, so reserving it is bounded by the input).
    /// On error, what was appended stays in `out` (its owner frees it).
    fn extend_slots(&self, items: &Items<'_>, out: &mut Vec<Slot>) -> Result<(), Error> {
        items.try_for_each_run(|r| {
            match r {
                Run::One(it) => out.push(self.item(it)?.into_slot()),
                Run::Ints(run) => {
                    out.reserve(run.len());
                    run.for_each(|i| out.push(Slot::Int(i)));
                }
                Run::Strs(run) => {
                    out.reserve(run.len());
                    run.try_for_each(|s| {
                        out.push(Value::str(s).into_slot());
                        Ok(())
                    })?;
                }
            }
            Ok(())
        })
    }

    /// Items of a tuple still being filled, gathered straight into its
    /// item vector; the tuple gets them once all have come.
    fn fill_tuple(&mut self, id: u32, p: ObjPtr, items: &Items<'_>) -> Result<(), Error> {
        let (want, mut got) = self.tuple_parts.remove(&id).expect("open tuple");
        if got.capacity() == 0 {
            got.reserve_exact(self.reservation(want as u32));
        }
        let r = self.extend_slots(items, &mut got).and_then(|_| {
            if got.len() > want {
                Err(bad("too many items for a tuple"))
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            crate::core::heap::drop_slots(got);
            return Err(e);
        }
        if got.len() < want {
            self.tuple_parts.insert(id, (want, got));
            return Ok(());
        }
        let Body::Tuple(t) = p.body() else {
            unreachable!("checked by target")
        };
        match t.write(p) {
            Ok(mut slot) => *slot = got.into_boxed_slice(),
            Err(e) => {
                crate::core::heap::drop_slots(got);
                return Err(e);
            }
        }
        // Complete (hashable) now that all its items are in.
        self.unfinished -= 1;
        self.kinds[id as usize] = Kind::TupleFilled;
        self.settle()
    }

    /// Members of a frozenset, gathered until all have come.
    fn fill_frozenset(&mut self, id: u32, p: ObjPtr, items: &Items<'_>) -> Result<(), Error> {
        let (want, mut got) = self.sets.take(p);
        if got.capacity() == 0 {
            got.reserve_exact(self.reservation(want as u32));
        }
        let r = self.extend_slots(items, &mut got).and_then(|_| {
            if got.len() > want {
                Err(bad("too many members for a frozenset"))
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            crate::core::heap::drop_slots(got);
            return Err(e);
        }
        if self.sets.put(p, want, got) {
            self.kinds[id as usize] = Kind::FrozenSetFull;
            self.settle()?;
        }
        Ok(())
    }

    /// Completes the waiting frozensets once nothing else hashable is
    /// unfinished (before that, a member could still change its hash).
    fn settle(&mut self) -> Result<(), Error> {
        if self.unfinished > 0 && self.unfinished == self.sets.ready_len() {
            self.unfinished -= self.sets.complete_ready()?;
        }
        Ok(())
    }

    /// A dict's keys, then its values: put back into pairs, then filled
    /// as `Fill` pairs are.
    fn fill_pairs(&mut self, id: u32, items: Items<'_>) -> Result<(), Error> {
        self.target(id, &[Kind::Dict])?;
        let cols = self.values(&items)?;
        if cols.len() % 2 != 0 {
            crate::core::heap::drop_slots(cols);
            return Err(bad("a dict fill needs as many values as keys"));
        }
        let (keys, vals) = cols.split_at(cols.len() / 2);
        let pairs = keys.iter().zip(vals).flat_map(|(k, v)| [*k, *v]).collect();
        self.fill_keys_when_final(id, pairs)
    }

    /// A dict or set fill: now, or once nothing hashable in the stream is
    /// unfinished (a key must not be hashed before it is final).
    fn fill_keys_when_final(&mut self, id: u32, vals: Vec<Slot>) -> Result<(), Error> {
        if self.unfinished > 0 {
            self.deferred.push((id, vals));
            return Ok(());
        }
        self.fill_keys(id, vals)
    }

    fn fill(&mut self, id: u32, items: Items<'_>) -> Result<(), Error> {
        let all = [
            Kind::Tuple,
            Kind::TupleFilled,
            Kind::FrozenSet,
            Kind::FrozenSetFull,
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
            return self.fill_keys_when_final(id, vals);
        }
        if kind == Kind::Tuple {
            return self.fill_tuple(id, p, &items);
        }
        if kind == Kind::FrozenSet {
            return self.fill_frozenset(id, p, &items);
        }
        if kind == Kind::FrozenSetFull {
            let vals = self.values(&items)?;
            if !vals.is_empty() {
                crate::core::heap::drop_slots(vals);
                return Err(bad("too many members for a frozenset"));
            }
            return Ok(());
        }
        if let (Kind::List, Body::List(l)) = (kind, p.body()) {
            // Straight into the list (reserved from its `OpenList`).
            return self.extend_slots(&items, &mut *l.write(p)?);
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
                Body::List(l) => l.write(p).inspect_err(|_| held(&vals))?.extend(vals),
                Body::Deque(d) => {
                    let mut q = d.items.write(p).inspect_err(|_| held(&vals))?;
                    if d.maxlen.is_some_and(|m| q.len() + vals.len() > m) {
                        drop(q);
                        crate::core::heap::drop_slots(vals);
                        return Err(bad("more items than the deque's maxlen"));
                    }
                    q.extend(vals)
                }
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
                    let old =
                        std::mem::replace(&mut *c.write(p).inspect_err(|_| held(&vals))?, vals[0]);
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
                Body::DefaultDict(dd) => {
                    let mut d = dd.map.write(p).inspect_err(|_| held(&vals))?;
                    d.reserve(vals.len() / 2);
                    for c in vals.chunks(2) {
                        if let Some(old) = d.insert(Key(c[0]), c[1]) {
                            dup.push(c[0]);
                            dup.push(old);
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
        if self.unfinished > 0 {
            return Err(bad("a tuple or frozenset was never filled"));
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
