//! `collections.deque` and `collections.defaultdict`. A deque's mutators
//! and a defaultdict's missing-key insertion refuse frozen and
//! shallow-frozen objects like every other write; a defaultdict's
//! `default_factory` is an ordinary edge, so freezing the dict freezes it.

use std::collections::VecDeque;

use crate::core::body::{Body, DefaultDictData, DequeData};
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::key::{check_hashable, DictMap, Key, Probe};
use crate::core::object::{self, ObjPtr, Slot};
use crate::core::payload::Payload;
use crate::model::base::{new_obj, type_err, writable};
use crate::model::repr::short_repr;

fn deque_of(v: &Value) -> Result<(ObjPtr, &DequeData), Error> {
    let p = v.slot().obj().ok_or_else(|| type_err("a deque", v))?;
    match v.body() {
        Some(Body::Deque(d)) => Ok((p, d)),
        _ => Err(type_err("a deque", v)),
    }
}

impl Value {
    /// A new `collections.deque(items, maxlen)`: with a `maxlen`, only
    /// the last `maxlen` items are kept, and appends drop from the other
    /// end. `append`, `pop()`, `extend`, `clear`, `len`, `get` and
    /// `to_vec` work on it as on a list.
    pub fn deque(items: Vec<Value>, maxlen: Option<usize>) -> Value {
        let mut q: VecDeque<Slot> = items.into_iter().map(Value::into_slot).collect();
        let mut extra = Vec::new();
        if let Some(n) = maxlen {
            while q.len() > n {
                extra.extend(q.pop_front());
            }
        }
        crate::core::heap::drop_slots(extra);
        new_obj(Body::Deque(Box::new(DequeData {
            items: Payload::new(q),
            maxlen,
        })))
    }

    /// `deque.appendleft(v)`.
    pub fn appendleft(&self, v: Value) -> Result<(), Error> {
        self.deque_push(v, true)
    }

    /// `deque.popleft()` (`IndexError` when empty).
    pub fn popleft(&self) -> Result<Value, Error> {
        self.deque_pop(true)
    }

    /// A deque's `maxlen`.
    pub fn maxlen(&self) -> Result<Option<usize>, Error> {
        Ok(deque_of(self)?.1.maxlen)
    }

    pub(crate) fn deque_push(&self, v: Value, left: bool) -> Result<(), Error> {
        let (p, d) = deque_of(self)?;
        writable(p)?;
        if d.maxlen == Some(0) {
            return Ok(()); // dropped at once, as in Python
        }
        let dropped = {
            let mut q = d.items.write(p)?;
            let full = d.maxlen.is_some_and(|n| q.len() >= n);
            let s = v.into_slot();
            if left {
                let out = if full { q.pop_back() } else { None };
                q.push_front(s);
                out
            } else {
                let out = if full { q.pop_front() } else { None };
                q.push_back(s);
                out
            }
        };
        if let Some(s) = dropped {
            object::decref_slot(s);
        }
        Ok(())
    }

    pub(crate) fn deque_pop(&self, left: bool) -> Result<Value, Error> {
        let (p, d) = deque_of(self)?;
        writable(p)?;
        let mut q = d.items.write(p)?;
        let s = if left { q.pop_front() } else { q.pop_back() };
        drop(q);
        s.map(Value::from_slot_owned)
            .ok_or(Error::Index { index: 0, len: 0 })
    }

    /// A new `collections.defaultdict(default_factory)`: `get_item` on a
    /// missing key calls the factory (with no arguments), stores its
    /// result under the key and returns it; with a `None` factory it is a
    /// plain `KeyError`. Every dict operation works on it.
    ///
    /// ```
    /// use permafrost_freeze::{freeze, Call, Error, Value};
    /// fn zero(_: &Call<'_>) -> Result<Value, Error> { Ok(0.into()) }
    /// let d = Value::defaultdict(Value::function("zero", 0, zero, vec![], vec![])).unwrap();
    /// assert_eq!(d.get_item(&"a".into()).unwrap().as_int(), Some(0));
    /// assert_eq!(d.len().unwrap(), 1);
    /// freeze(&[&d]).unwrap(); // the factory freezes with it
    /// assert!(d.get_item(&"b".into()).is_err()); // inserting is a write
    /// ```
    pub fn defaultdict(default_factory: Value) -> Result<Value, Error> {
        let callable = matches!(
            default_factory.body(),
            Some(Body::Function(_) | Body::Class(_))
        );
        if !default_factory.is_none() && !callable {
            return Err(type_err(
                "a callable or None as default_factory",
                &default_factory,
            ));
        }
        Ok(new_obj(Body::DefaultDict(Box::new(DefaultDictData {
            map: Payload::new(DictMap::default()),
            factory: Payload::new(default_factory.into_slot()),
        }))))
    }

    /// A defaultdict's `default_factory`.
    pub fn default_factory(&self) -> Result<Value, Error> {
        let p = self
            .slot()
            .obj()
            .ok_or_else(|| type_err("a defaultdict", self))?;
        match self.body() {
            Some(Body::DefaultDict(d)) => Ok(Value::from_slot(*d.factory.read(p))),
            _ => Err(type_err("a defaultdict", self)),
        }
    }
}

/// `defaultdict.__missing__(key)`: the factory's value, stored under `key`
/// (refused, with nothing called, when the dict cannot be written).
pub(crate) fn missing(d: &Value, p: ObjPtr, key: &Value) -> Result<Value, Error> {
    let Some(Body::DefaultDict(dd)) = d.body() else {
        unreachable!("defaultdicts only")
    };
    let factory = Value::from_slot(*dd.factory.read(p));
    if factory.is_none() {
        return Err(Error::Key(short_repr(key.slot())));
    }
    writable(p)?;
    check_hashable(key.slot())?;
    let v = factory.call(&[])?;
    // The factory may have stored something under `key`: ours wins, as
    // `self[key] = value` in CPython's `__missing__`.
    let old = {
        let mut m = dd.map.write(p)?;
        match m.get_index_of(&Probe::Slot(key.slot())) {
            Some(i) => Some(std::mem::replace(&mut m[i], v.clone().into_slot())),
            None => {
                m.insert(Key(key.clone().into_slot()), v.clone().into_slot());
                None
            }
        }
    };
    if let Some(old) = old {
        object::decref_slot(old);
    }
    Ok(v)
}

/// `defaultdict.copy()`: same factory, same entries.
pub(crate) fn copy_defaultdict(d: &Value) -> Result<Value, Error> {
    let out = Value::defaultdict(d.default_factory()?)?;
    out.update(d)?;
    Ok(out)
}
