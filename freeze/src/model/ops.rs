//! Constructors and operations on values: what a program needs on each
//! type. Every mutator checks the frozen bit first and changes nothing on
//! error; old values are released only after the payload borrow ends.

use crate::core::body::{AttrMap, Body, ClassData, FunctionData};
use crate::core::error::Error;
use crate::core::handle::{Call, NativeFn, Ref, Value};
use crate::core::key::{check_hashable, DictMap, Key, Probe, SetMap};
use crate::core::object::{self, ObjPtr, Slot};
use crate::core::payload::Payload;
use crate::core::sym::Sym;
use crate::model::freezable;

pub(crate) use crate::model::base::{new_obj, slots, writable};

use crate::core::body::set_attr;
pub(crate) use crate::core::payload::type_label;

pub(crate) use crate::model::base::{norm_index, type_err};

impl Value {
    /// A new `str` (immutable, so frozen from birth).
    pub fn str(s: &str) -> Value {
        new_obj(Body::Str(crate::core::payload::StrData::new(s)))
    }

    /// A new `bytes` (immutable, so frozen from birth).
    pub fn bytes(b: &[u8]) -> Value {
        new_obj(Body::Bytes(b.into()))
    }

    /// A new tuple.
    pub fn tuple(items: Vec<Value>) -> Value {
        new_obj(Body::Tuple(Payload::new(slots(items).into_boxed_slice())))
    }

    /// A new list.
    pub fn list(items: Vec<Value>) -> Value {
        new_obj(Body::List(Payload::new(slots(items))))
    }

    /// A new empty dict (insertion-ordered).
    pub fn dict() -> Value {
        new_obj(Body::Dict(Box::new(Payload::new(DictMap::default()))))
    }

    /// A new dict from pairs; fails on an unhashable key.
    pub fn dict_from(pairs: Vec<(Value, Value)>) -> Result<Value, Error> {
        let d = Value::dict();
        for (k, v) in pairs {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// A new set; fails on an unhashable item.
    pub fn set_from(items: Vec<Value>) -> Result<Value, Error> {
        let s = new_obj(Body::Set(Box::new(Payload::new(SetMap::default()))));
        for v in items {
            s.add(v)?;
        }
        Ok(s)
    }

    /// A new flat `f64` buffer (matrix-like payloads).
    pub fn buffer(data: Vec<f64>) -> Value {
        new_obj(Body::Buffer(Payload::new(data)))
    }

    /// A new cell (a variable captured by reference, as Python closures do).
    pub fn cell(v: Value) -> Value {
        new_obj(Body::Cell(Payload::new(v.into_slot())))
    }

    /// A new class. Bases must be classes; a class deriving from
    /// [`Value::not_freezable_class`] makes unfreezable instances.
    pub fn class(name: &str, bases: Vec<Value>, attrs: Vec<(&str, Value)>) -> Result<Value, Error> {
        let mut not_freezable = false;
        for b in &bases {
            match b.body() {
                Some(Body::Class(c)) => {
                    not_freezable |= c.not_freezable;
                }
                _ => return Err(type_err("a class as base", b)),
            }
        }
        let dict: AttrMap = attrs
            .into_iter()
            .map(|(n, v)| (Sym::new(n), v.into_slot()))
            .collect();
        Ok(new_obj(Body::Class(Box::new(ClassData {
            name: Sym::new(name),
            bases: Payload::new(slots(bases)),
            dict: Payload::new(dict),
            layout: Payload::new(Vec::new()),
            not_freezable,
            hook_cache: std::cell::Cell::new(0),
        }))))
    }

    /// PEP 795 `NotFreezable`: a base class whose subclasses' instances can
    /// never be frozen. Each call makes a fresh base class marked so.
    pub fn not_freezable_class() -> Value {
        new_obj(Body::Class(Box::new(ClassData {
            name: Sym::new("NotFreezable"),
            bases: Payload::new(Vec::new()),
            dict: Payload::new(Vec::new()),
            layout: Payload::new(Vec::new()),
            not_freezable: true,
            hook_cache: std::cell::Cell::new(0),
        })))
    }

    /// A native function with `arity` positional parameters, captured
    /// values (closure) and defaults for the last parameters.
    pub fn function(
        name: &str,
        arity: usize,
        code: NativeFn,
        captures: Vec<Value>,
        defaults: Vec<Value>,
    ) -> Value {
        new_obj(Body::Function(Box::new(FunctionData {
            name: Sym::new(name),
            code,
            arity,
            captures: Payload::new(slots(captures)),
            defaults: Payload::new(slots(defaults)),
        })))
    }

    fn obj(&self, expected: &'static str) -> Result<ObjPtr, Error> {
        self.slot().obj().ok_or_else(|| type_err(expected, self))
    }

    /// The string, for `str` values.
    pub fn as_str(&self) -> Option<&str> {
        match self.body()? {
            Body::Str(s) => Some(&**s),
            _ => None,
        }
    }

    /// The bytes, for `bytes` values.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self.body()? {
            Body::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Number of items (str: bytes of UTF-8; list, tuple, dict, set,
    /// buffer: elements).
    pub fn len(&self) -> Result<usize, Error> {
        let p = self.obj("a sized object")?;
        body_len(p).ok_or_else(|| type_err("a sized object", self))
    }

    /// True when `len()` is zero.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Item `i` of a list, tuple or buffer (negative counts from the end).
    pub fn get(&self, i: i64) -> Result<Value, Error> {
        let p = self.obj("a sequence")?;
        match p.body() {
            Body::Tuple(t) => {
                let t = t.read(p);
                Ok(Value::from_slot(t[norm_index(i, t.len())?]))
            }
            Body::List(l) => {
                let l = l.read(p);
                Ok(Value::from_slot(l[norm_index(i, l.len())?]))
            }
            Body::Buffer(b) => {
                let b = b.read(p);
                Ok(Value::Float(b[norm_index(i, b.len())?]))
            }
            Body::Range(r) => Ok(Value::Int(r.at(norm_index(i, r.len())?))),
            Body::Deque(d) => {
                let q = d.items.read(p);
                Ok(Value::from_slot(q[norm_index(i, q.len())?]))
            }
            _ => Err(type_err("a sequence", self)),
        }
    }

    /// Replaces item `i` of a list (or buffer, with a number).
    pub fn set(&self, i: i64, v: Value) -> Result<(), Error> {
        let p = self.obj("a list")?;
        match p.body() {
            Body::List(l) => {
                writable(p)?;
                // The guard ends before the old value is released.
                let old = {
                    let mut l = l.write(p)?;
                    let j = norm_index(i, l.len())?;
                    std::mem::replace(&mut l[j], v.into_slot())
                };
                object::decref_slot(old);
                Ok(())
            }
            Body::Buffer(b) => {
                writable(p)?;
                let x = v.as_float().ok_or_else(|| type_err("a number", &v))?;
                let mut b = b.write(p)?;
                let j = norm_index(i, b.len())?;
                b[j] = x;
                Ok(())
            }
            _ => Err(type_err("a list", self)),
        }
    }

    fn list_mut<R>(&self, f: impl FnOnce(&mut Vec<Slot>) -> R) -> Result<R, Error> {
        let p = self.obj("a list")?;
        let Body::List(l) = p.body() else {
            return Err(type_err("a list", self));
        };
        writable(p)?;
        let mut items = l.write(p)?;
        Ok(f(&mut items))
    }

    /// `list.append(v)`.
    pub fn append(&self, v: Value) -> Result<(), Error> {
        if matches!(self.body(), Some(Body::Deque(_))) {
            return self.deque_push(v, false);
        }
        self.list_mut(|l| l.push(v.slot()))?;
        std::mem::forget(v);
        Ok(())
    }

    /// `list.insert(i, v)` (clamped like Python's).
    pub fn insert(&self, i: i64, v: Value) -> Result<(), Error> {
        self.list_mut(|l| {
            let n = l.len() as i64;
            let j = if i < 0 { (i + n).max(0) } else { i.min(n) };
            l.insert(j as usize, v.slot());
        })?;
        std::mem::forget(v);
        Ok(())
    }

    /// `list.pop()` (last item) or `list.pop(i)`.
    pub fn pop(&self, i: Option<i64>) -> Result<Value, Error> {
        if matches!(self.body(), Some(Body::Deque(_))) && i.is_none() {
            return self.deque_pop(false);
        }
        let s = self.list_mut(|l| -> Result<Slot, Error> {
            let j = norm_index(i.unwrap_or(-1), l.len())?;
            Ok(l.remove(j))
        })??;
        Ok(Value::from_slot_owned(s))
    }

    /// `list.extend(items)`.
    pub fn extend(&self, items: impl IntoIterator<Item = Value>) -> Result<(), Error> {
        let items: Vec<Value> = items.into_iter().collect();
        if matches!(self.body(), Some(Body::Deque(_))) {
            let p = self.obj("a deque")?;
            writable(p)?;
            return items
                .into_iter()
                .try_for_each(|v| self.deque_push(v, false));
        }
        self.list_mut(|l| l.extend(items.iter().map(Value::slot)))?;
        items.into_iter().for_each(std::mem::forget);
        Ok(())
    }

    /// Empties a list, dict or set.
    pub fn clear(&self) -> Result<(), Error> {
        let p = self.obj("a container")?;
        writable(p)?;
        let mut old = Vec::new();
        match p.body() {
            Body::List(l) => old.append(&mut *l.write(p)?),
            Body::Dict(d) => {
                for (k, v) in std::mem::take(&mut *d.write(p)?) {
                    old.push(k.0);
                    old.push(v)
                }
            }
            Body::DefaultDict(d) => {
                for (k, v) in std::mem::take(&mut *d.map.write(p)?) {
                    old.push(k.0);
                    old.push(v)
                }
            }
            Body::Deque(d) => old.extend(std::mem::take(&mut *d.items.write(p)?)),
            Body::Set(s) => old.extend(std::mem::take(&mut *s.write(p)?).into_iter().map(|k| k.0)),
            _ => return Err(type_err("a list, dict or set", self)),
        }
        crate::core::heap::drop_slots(old);
        Ok(())
    }

    /// Snapshot of a list's or tuple's items (or a dict's keys, a set's items).
    pub fn to_vec(&self) -> Result<Vec<Value>, Error> {
        let p = self.obj("an iterable")?;
        Ok(match p.body() {
            Body::Tuple(t) => t.read(p).iter().map(|s| Value::from_slot(*s)).collect(),
            Body::List(l) => l.read(p).iter().map(|s| Value::from_slot(*s)).collect(),
            Body::Dict(d) => d.read(p).keys().map(|k| Value::from_slot(k.0)).collect(),
            Body::DefaultDict(d) => d
                .map
                .read(p)
                .keys()
                .map(|k| Value::from_slot(k.0))
                .collect(),
            Body::Deque(d) => d
                .items
                .read(p)
                .iter()
                .map(|s| Value::from_slot(*s))
                .collect(),
            Body::Set(s) => s.read(p).iter().map(|k| Value::from_slot(k.0)).collect(),
            Body::Buffer(b) => b.read(p).iter().map(|x| Value::Float(*x)).collect(),
            Body::FrozenSet(f) => f
                .members
                .read(p)
                .iter()
                .map(|k| Value::from_slot(k.0))
                .collect(),
            Body::Range(r) => (0..r.len()).map(|i| Value::Int(r.at(i))).collect(),
            _ => return Err(type_err("an iterable", self)),
        })
    }

    /// A buffer's contents, copied.
    pub fn buffer_to_vec(&self) -> Result<Vec<f64>, Error> {
        self.with_buffer(|b| b.to_vec())
    }

    /// Runs `f` over a buffer's contents without copying. While `f` runs
    /// the buffer refuses writes.
    pub fn with_buffer<R>(&self, f: impl FnOnce(&[f64]) -> R) -> Result<R, Error> {
        let p = self.obj("a buffer")?;
        let Body::Buffer(b) = p.body() else {
            return Err(type_err("a buffer", self));
        };
        // The guard makes every mutator refuse while `f` runs.
        let r = f(&b.read(p));
        Ok(r)
    }

    /// `d[key]` for a dict (an int index for a list or tuple).
    pub fn get_item(&self, key: &Value) -> Result<Value, Error> {
        let p = self.obj("a mapping")?;
        match p.body() {
            Body::Dict(d) => {
                check_hashable(key.slot())?;
                let d = d.read(p);
                d.get(&Probe::Slot(key.slot()))
                    .map(|s| Value::from_slot(*s))
                    .ok_or_else(|| Error::Key(crate::model::repr::short_repr(key.slot())))
            }
            Body::DefaultDict(dd) => {
                check_hashable(key.slot())?;
                let found = dd
                    .map
                    .read(p)
                    .get(&Probe::Slot(key.slot()))
                    .map(|s| Value::from_slot(*s));
                match found {
                    Some(v) => Ok(v),
                    None => crate::model::collections::missing(self, p, key),
                }
            }
            Body::List(_) | Body::Tuple(_) | Body::Buffer(_) => {
                self.get(key.as_int().ok_or_else(|| type_err("an int index", key))?)
            }
            _ => Err(type_err("a mapping", self)),
        }
    }

    /// `d.get(key)` with a `&str` key, without allocating.
    pub fn get_str(&self, key: &str) -> Result<Option<Value>, Error> {
        let p = self.obj("a dict")?;
        let Some(d) = p.body().dict_map() else {
            return Err(type_err("a dict", self));
        };
        let found = d
            .read(p)
            .get(&Probe::Str(key))
            .map(|s| Value::from_slot(*s));
        Ok(found)
    }

    /// `key in container` for dict, set, list and tuple.
    pub fn contains(&self, key: &Value) -> Result<bool, Error> {
        let p = self.obj("a container")?;
        match p.body() {
            Body::Dict(d) => {
                check_hashable(key.slot())?;
                Ok(d.read(p).contains_key(&Probe::Slot(key.slot())))
            }
            Body::DefaultDict(d) => {
                check_hashable(key.slot())?;
                Ok(d.map.read(p).contains_key(&Probe::Slot(key.slot())))
            }
            Body::Deque(_) => Ok(self.to_vec()?.iter().any(|v| v.py_eq(key))),
            Body::Set(s) => {
                check_hashable(key.slot())?;
                Ok(s.read(p).contains(&Probe::Slot(key.slot())))
            }
            Body::FrozenSet(f) => {
                check_hashable(key.slot())?;
                Ok(f.members.read(p).contains(&Probe::Slot(key.slot())))
            }
            Body::Range(r) => Ok(range_contains(r, key)),
            Body::List(_) | Body::Tuple(_) => Ok(self.to_vec()?.iter().any(|v| v.py_eq(key))),
            _ => Err(type_err("a container", self)),
        }
    }

    /// `d[key] = v`, or `l[i] = v` for a list.
    pub fn set_item(&self, key: Value, v: Value) -> Result<(), Error> {
        let p = self.obj("a mapping")?;
        let Some(d) = p.body().dict_map() else {
            if matches!(p.body(), Body::List(_) | Body::Buffer(_)) {
                let i = key.as_int().ok_or_else(|| type_err("an int index", &key))?;
                return self.set(i, v);
            }
            return Err(type_err("a mapping", self));
        };
        writable(p)?;
        check_hashable(key.slot())?;
        // Old values are released after the guard ends.
        let old = {
            let mut d = d.write(p)?;
            match d.get_index_of(&Probe::Slot(key.slot())) {
                Some(i) => Some(std::mem::replace(&mut d[i], v.into_slot())),
                None => {
                    d.insert(Key(key.clone().into_slot()), v.into_slot());
                    None
                }
            }
        };
        if let Some(old) = old {
            object::decref_slot(old);
        }
        Ok(())
    }

    /// `del d[key]` (keeps the order of the others); returns the value.
    pub fn del_item(&self, key: &Value) -> Result<Value, Error> {
        let p = self.obj("a dict")?;
        let Some(d) = p.body().dict_map() else {
            return Err(type_err("a dict", self));
        };
        writable(p)?;
        check_hashable(key.slot())?;
        let removed = d.write(p)?.shift_remove_entry(&Probe::Slot(key.slot()));
        let (k, v) =
            removed.ok_or_else(|| Error::Key(crate::model::repr::short_repr(key.slot())))?;
        object::decref_slot(k.0);
        Ok(Value::from_slot_owned(v))
    }

    /// Snapshot of a dict's `(key, value)` pairs, in insertion order.
    pub fn items(&self) -> Result<Vec<(Value, Value)>, Error> {
        let p = self.obj("a dict")?;
        let Some(d) = p.body().dict_map() else {
            return Err(type_err("a dict", self));
        };
        let pairs = d
            .read(p)
            .iter()
            .map(|(k, v)| (Value::from_slot(k.0), Value::from_slot(*v)))
            .collect();
        Ok(pairs)
    }

    /// `set.add(v)`.
    pub fn add(&self, v: Value) -> Result<(), Error> {
        let p = self.obj("a set")?;
        let Body::Set(s) = p.body() else {
            return Err(type_err("a set", self));
        };
        writable(p)?;
        check_hashable(v.slot())?;
        let inserted = s.write(p)?.insert(Key(v.slot()));
        if inserted {
            std::mem::forget(v);
        }
        Ok(())
    }

    /// `set.discard(v)`; returns whether it was there.
    pub fn discard(&self, v: &Value) -> Result<bool, Error> {
        let p = self.obj("a set")?;
        let Body::Set(s) = p.body() else {
            return Err(type_err("a set", self));
        };
        writable(p)?;
        check_hashable(v.slot())?;
        let removed = s.write(p)?.shift_take(&Probe::Slot(v.slot()));
        Ok(match removed {
            Some(k) => {
                object::decref_slot(k.0);
                true
            }
            None => false,
        })
    }

    /// A cell's contents.
    pub fn cell_get(&self) -> Result<Value, Error> {
        let p = self.obj("a cell")?;
        let Body::Cell(c) = p.body() else {
            return Err(type_err("a cell", self));
        };
        let v = Value::from_slot(*c.read(p));
        Ok(v)
    }

    /// Rebinds a cell (refused once frozen).
    pub fn cell_set(&self, v: Value) -> Result<(), Error> {
        let p = self.obj("a cell")?;
        let Body::Cell(c) = p.body() else {
            return Err(type_err("a cell", self));
        };
        writable(p)?;
        let old = std::mem::replace(&mut *c.write(p)?, v.into_slot());
        object::decref_slot(old);
        Ok(())
    }

    /// A new instance of this class with the given attributes.
    pub fn instantiate(&self, attrs: Vec<(&str, Value)>) -> Result<Value, Error> {
        self.instantiate_syms(attrs.into_iter().map(|(n, v)| (Sym::new(n), v)))
    }

    /// Like [`instantiate`](Value::instantiate) with pre-interned names
    /// (bulk builders). Any iterator of pairs will do, an array included:
    /// nothing is allocated but the instance.
    ///
    /// ```
    /// use permafrost_freeze::{Sym, Value};
    /// let node = Value::class("Node", vec![], vec![]).unwrap();
    /// let (key, next) = (Sym::new("key"), Sym::new("next"));
    /// let n = node.instantiate_syms([(key, Value::Int(1)), (next, Value::None)]).unwrap();
    /// assert_eq!(n.getattr("key").unwrap().as_int(), Some(1));
    /// ```
    pub fn instantiate_syms(
        &self,
        attrs: impl IntoIterator<Item = (Sym, Value)>,
    ) -> Result<Value, Error> {
        let p = self.obj("a class")?;
        if !matches!(p.body(), Body::Class(_)) {
            return Err(type_err("a class", self));
        }
        // One buffer per thread, taken while in use (a nested call, from
        // the caller's iterator, finds it empty and makes its own); it holds
        // `Value`s, so an iterator that panics midway leaks nothing.
        thread_local! {
            static BUF: std::cell::Cell<Vec<(Sym, Value)>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut buf = BUF.try_with(std::cell::Cell::take).unwrap_or_default();
        buf.extend(attrs);
        object::incref(p);
        let inst = crate::model::attrs::new_instance(p, &mut buf, 0);
        // Gone only while the thread exits: the buffer is then just freed.
        let _ = BUF.try_with(|b| b.set(buf));
        Ok(Value::Obj(Ref::from_owned(inst)))
    }

    /// An instance's own attributes in the order Python's `vars(obj)`
    /// gives them (insertion order), not its class's.
    ///
    /// ```
    /// use permafrost_freeze::Value;
    /// let point = Value::class("Point", vec![], vec![]).unwrap();
    /// let p = point.instantiate(vec![("x", Value::Int(1)), ("y", Value::Int(2))]).unwrap();
    /// p.delattr("x").unwrap();
    /// p.setattr("x", Value::Int(3)).unwrap();
    /// let names: Vec<&str> = p.own_attrs().unwrap().iter().map(|a| a.0).collect();
    /// assert_eq!(names, ["y", "x"]);
    /// ```
    pub fn own_attrs(&self) -> Result<Vec<(&'static str, Value)>, Error> {
        let p = self.obj("an instance")?;
        match p.body() {
            Body::Instance(i) => Ok(crate::model::attrs::pairs(p, i)
                .into_iter()
                .map(|(n, s)| (n.as_str(), Value::from_slot(s)))
                .collect()),
            _ => Err(type_err("an instance", self)),
        }
    }

    /// The class of an instance.
    pub fn class_of(&self) -> Result<Value, Error> {
        match self.obj("an instance")?.body() {
            Body::Instance(i) => Ok(Value::Obj(Ref::from_borrowed(i.class))),
            _ => Err(type_err("an instance", self)),
        }
    }

    /// The name of a class, function or module, or an instance's class.
    pub fn name(&self) -> Result<&'static str, Error> {
        Ok(match self.obj("a named object")?.body() {
            Body::Class(c) => c.name.as_str(),
            Body::Function(f) => f.name.as_str(),
            Body::Module(m) => m.name.as_str(),
            Body::Instance(i) => match i.class.body() {
                Body::Class(c) => c.name.as_str(),
                _ => "instance",
            },
            _ => return Err(type_err("a named object", self)),
        })
    }

    /// A class's bases.
    pub fn bases(&self) -> Result<Vec<Value>, Error> {
        let p = self.obj("a class")?;
        match p.body() {
            Body::Class(c) => Ok(c
                .bases
                .read(p)
                .iter()
                .map(|s| Value::from_slot(*s))
                .collect()),
            _ => Err(type_err("a class", self)),
        }
    }

    /// `cls.__bases__ = bases` (refused once the class is frozen).
    pub fn set_bases(&self, bases: Vec<Value>) -> Result<(), Error> {
        let p = self.obj("a class")?;
        let Body::Class(c) = p.body() else {
            return Err(type_err("a class", self));
        };
        writable(p)?;
        for b in &bases {
            if !matches!(b.body(), Some(Body::Class(_))) {
                return Err(type_err("a class as base", b));
            }
        }
        invalidate_hook_caches();
        let old = std::mem::replace(&mut *c.bases.write(p)?, slots(bases));
        crate::core::heap::drop_slots(old);
        Ok(())
    }

    /// Attribute lookup: an instance's own attributes, then its class and
    /// the class's bases (depth-first, left to right); a class's own dict
    /// then its bases; a module's namespace.
    pub fn getattr(&self, name: &str) -> Result<Value, Error> {
        self.getattr_sym(Sym::new(name))
    }

    /// [`getattr`](Value::getattr) with a pre-interned name (hot loops).
    pub fn getattr_sym(&self, sym: Sym) -> Result<Value, Error> {
        let name = sym.as_str();
        let p = self.obj("an object with attributes")?;
        if freezable::is_attr(sym) && has_attrs(p) {
            return freezable::get_attr(p).ok_or_else(|| Error::Attribute {
                type_name: self.name().unwrap_or("object").to_string(),
                name: name.to_string(),
            });
        }
        let found = match p.body() {
            Body::Instance(i) => {
                let own = crate::model::attrs::get(p, i, sym);
                own.or_else(|| class_lookup(i.class, sym))
            }
            Body::Class(_) => class_lookup(p, sym),
            Body::Module(_) => return crate::model::modules::module_getattr(p, sym),
            _ => return Err(type_err("an object with attributes", self)),
        };
        found.map(Value::from_slot).ok_or_else(|| Error::Attribute {
            type_name: self.name().unwrap_or("object").to_string(),
            name: name.to_string(),
        })
    }

    /// Attribute assignment on an instance, class or module (refused once
    /// frozen).
    pub fn setattr(&self, name: &str, v: Value) -> Result<(), Error> {
        self.setattr_sym(Sym::new(name), v)
    }

    /// [`setattr`](Value::setattr) with a pre-interned name (hot loops).
    pub fn setattr_sym(&self, sym: Sym, v: Value) -> Result<(), Error> {
        let name = sym.as_str();
        let p = self.obj("an object with attributes")?;
        if freezable::is_attr(sym) && has_attrs(p) {
            return freezable::set_attr(p, &v);
        }
        let map = match p.body() {
            Body::Instance(i) => {
                writable(p)?;
                let old = crate::model::attrs::set(p, i, sym, v.into_slot())?;
                object::decref_slot(old.unwrap_or(Slot::None));
                return Ok(());
            }
            Body::Class(c) => {
                writable(p)?;
                if name == "__pre_freeze__" {
                    invalidate_hook_caches();
                }
                &c.dict
            }
            Body::Module(_) => return crate::model::modules::module_setattr(p, sym, v),
            _ => return Err(type_err("an object with attributes", self)),
        };
        writable(p)?;
        let old = {
            let mut m = map.write(p)?;
            set_attr(&mut m, sym, v.into_slot())
        };
        if let Some(old) = old {
            object::decref_slot(old);
        }
        Ok(())
    }

    /// `del obj.name` on an instance or class.
    pub fn delattr(&self, name: &str) -> Result<(), Error> {
        let sym = Sym::new(name);
        let p = self.obj("an object with attributes")?;
        if freezable::is_attr(sym) && has_attrs(p) {
            return freezable::del_attr(p);
        }
        writable(p)?;
        let old = match p.body() {
            Body::Instance(i) => crate::model::attrs::remove(p, i, sym)?,
            Body::Class(c) => {
                if name == "__pre_freeze__" {
                    invalidate_hook_caches();
                }
                let mut m = c.dict.write(p)?;
                m.iter().position(|(n, _)| *n == sym).map(|i| m.remove(i).1)
            }
            _ => return Err(type_err("an object with attributes", self)),
        };
        match old {
            Some(s) => {
                object::decref_slot(s);
                Ok(())
            }
            None => Err(Error::Attribute {
                type_name: self.name().unwrap_or("object").to_string(),
                name: name.to_string(),
            }),
        }
    }

    /// Calls a function with positional arguments. Calling a class makes an
    /// instance (attributes from its `__init__`, if any, are up to it).
    pub fn call(&self, args: &[Value]) -> Result<Value, Error> {
        let Some(r) = self.as_obj() else {
            return Err(type_err("a callable", self));
        };
        match r.ptr.body() {
            Body::Function(fd) => {
                let code = fd.code;
                code(&Call { func: r, args })
            }
            Body::Class(_) => {
                let inst = self.instantiate(Vec::new())?;
                if let Some(init) = class_lookup(r.ptr, Sym::new("__init__")) {
                    let mut full = Vec::with_capacity(args.len() + 1);
                    full.push(inst.clone());
                    full.extend(args.iter().cloned());
                    Value::from_slot(init).call(&full)?;
                }
                Ok(inst)
            }
            _ => Err(type_err("a callable", self)),
        }
    }

    /// `obj.name(*args)`: looks the function up on the class and passes the
    /// instance first.
    pub fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        let f = self.getattr(name)?;
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(self.clone());
        full.extend(args.iter().cloned());
        f.call(&full)
    }
}

/// Instances, classes and modules: the objects with attributes (and so
/// with the `__freezable__` attribute protocol).
fn has_attrs(p: ObjPtr) -> bool {
    matches!(
        p.body(),
        Body::Instance(_) | Body::Class(_) | Body::Module(_)
    )
}

static HOOK_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Some class gained or lost `__pre_freeze__` or changed its bases: every
/// mutable class recomputes whether it has a hook on next use.
pub(crate) fn invalidate_hook_caches() {
    HOOK_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Whether instances of `cls` have a `__pre_freeze__` (own or inherited).
/// Cached per class; a frozen class's answer is fixed (its bases are
/// frozen too), and was computed when the walk visited it.
pub(crate) fn class_has_hook(cls: ObjPtr) -> bool {
    let Body::Class(cd) = cls.body() else {
        return false;
    };
    let cached = cd.hook_cache.get();
    if cls.is_frozen() {
        return cached & 1 == 1;
    }
    let epoch = HOOK_EPOCH.load(std::sync::atomic::Ordering::Relaxed);
    if cached >> 1 == epoch {
        return cached & 1 == 1;
    }
    static NAME: std::sync::OnceLock<Sym> = std::sync::OnceLock::new();
    let has = class_lookup(cls, *NAME.get_or_init(|| Sym::new("__pre_freeze__"))).is_some();
    cd.hook_cache.set(epoch << 1 | u64::from(has));
    has
}

/// `x in range(...)` by arithmetic (for an int-valued `x`).
fn range_contains(r: &crate::core::body::RangeData, x: &Value) -> bool {
    let Some(i) = x
        .as_int()
        .or_else(|| x.as_float().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    else {
        return false;
    };
    let (a, b, k) = (r.start as i128, r.stop as i128, r.step as i128);
    let i = i as i128;
    let inside = if k > 0 {
        a <= i && i < b
    } else {
        b < i && i <= a
    };
    inside && (i - a) % k == 0
}

/// Items in a sized object (str and bytes: bytes), or `None`.
///
pub(crate) fn body_len(p: ObjPtr) -> Option<usize> {
    Some(match p.body() {
        Body::Str(s) => s.len(),
        Body::Bytes(b) => b.len(),
        Body::Tuple(t) => t.read(p).len(),
        Body::List(l) => l.read(p).len(),
        Body::Dict(d) => d.read(p).len(),
        Body::DefaultDict(d) => d.map.read(p).len(),
        Body::Deque(d) => d.items.read(p).len(),
        Body::Set(s) => s.read(p).len(),
        Body::Buffer(b) => b.read(p).len(),
        Body::FrozenSet(f) => f.members.read(p).len(),
        Body::Range(r) => r.len(),
        _ => return None,
    })
}

/// Looks `sym` up in a class and its bases, depth-first, left to right.
pub(crate) fn class_lookup(cls: ObjPtr, sym: Sym) -> Option<Slot> {
    let mut stack = vec![cls];
    let mut seen = rustc_hash::FxHashSet::default();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        if let Body::Class(cd) = c.body() {
            if let Some((_, v)) = cd.dict.read(c).iter().find(|(n, _)| *n == sym) {
                return Some(*v);
            }
            stack.extend(cd.bases.read(c).iter().rev().filter_map(|s| s.obj()));
        }
    }
    None
}
