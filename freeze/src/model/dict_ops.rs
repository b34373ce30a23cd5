//! The rest of `dict`'s Python API: `popitem`, `setdefault`, `update`,
//! `keys`, `values` (`copy` and `items` live with the other containers).
//! Mutators check writability first, hash every new key before writing,
//! write under one guard and release replaced values after it.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::key::{check_hashable, Key, Probe};
use crate::core::object::{ObjPtr, Slot};
use crate::core::payload::Payload;
use crate::model::base::{type_err, writable};

fn dict_of(v: &Value) -> Result<(ObjPtr, &Payload<crate::core::key::DictMap>), Error> {
    let p = v.slot().obj().ok_or_else(|| type_err("a dict", v))?;
    match v.body().and_then(Body::dict_map) {
        Some(d) => Ok((p, d)),
        _ => Err(type_err("a dict", v)),
    }
}

/// The `(key, value)` pairs `dict.update(other)` takes: another dict's
/// items, or a list or tuple of 2-item lists or tuples.
fn pairs_of(other: &Value) -> Result<Vec<(Value, Value)>, Error> {
    match other.body() {
        Some(Body::Dict(_) | Body::DefaultDict(_)) => other.items(),
        Some(Body::List(_) | Body::Tuple(_)) => other
            .to_vec()?
            .into_iter()
            .enumerate()
            .map(|(i, pair)| match pair.body() {
                Some(Body::List(_) | Body::Tuple(_)) if pair.len()? == 2 => {
                    Ok((pair.get(0)?, pair.get(1)?))
                }
                _ => Err(Error::Value(format!(
                    "dictionary update sequence element #{i} is not a pair"
                ))),
            })
            .collect(),
        _ => Err(type_err("a dict or a sequence of pairs", other)),
    }
}

impl Value {
    /// `dict.popitem()`: removes and returns the last inserted pair.
    pub fn popitem(&self) -> Result<(Value, Value), Error> {
        let (p, d) = dict_of(self)?;
        writable(p)?;
        let (k, v) = d
            .write(p)?
            .pop()
            .ok_or_else(|| Error::Key("popitem(): dictionary is empty".into()))?;
        Ok((Value::from_slot_owned(k.0), Value::from_slot_owned(v)))
    }

    /// `dict.setdefault(key, default)`: the value under `key`, after
    /// inserting `default` there if the key was missing.
    pub fn setdefault(&self, key: Value, default: Value) -> Result<Value, Error> {
        let (p, d) = dict_of(self)?;
        writable(p)?;
        check_hashable(key.slot())?;
        let mut m = d.write(p)?;
        if let Some(v) = m.get(&Probe::Slot(key.slot())) {
            return Ok(Value::from_slot(*v));
        }
        let out = default.clone();
        m.insert(Key(key.into_slot()), default.into_slot());
        Ok(out)
    }

    /// `dict.update(other)` (a dict or a sequence of pairs, later pairs
    /// winning), or for a set, `set.update(other)` (any iterable). All
    /// keys are checked before any is written.
    pub fn update(&self, other: &Value) -> Result<(), Error> {
        if self.is_set_like() {
            return self.set_update(other);
        }
        let (p, d) = dict_of(self)?;
        writable(p)?;
        let pairs = pairs_of(other)?;
        for (k, _) in &pairs {
            check_hashable(k.slot())?;
        }
        // Replaced values and unused keys are released after the guard.
        let mut release: Vec<Slot> = Vec::new();
        {
            let mut m = d.write(p)?;
            for (k, v) in pairs {
                match m.get_index_of(&Probe::Slot(k.slot())) {
                    Some(i) => {
                        release.push(std::mem::replace(&mut m[i], v.into_slot()));
                        release.push(k.into_slot());
                    }
                    None => {
                        m.insert(Key(k.into_slot()), v.into_slot());
                    }
                }
            }
        }
        crate::core::heap::drop_slots(release);
        Ok(())
    }

    /// `list(dict.keys())`: a snapshot of the keys, in insertion order.
    pub fn keys(&self) -> Result<Vec<Value>, Error> {
        let (p, d) = dict_of(self)?;
        let keys = d.read(p).keys().map(|k| Value::from_slot(k.0)).collect();
        Ok(keys)
    }

    /// `list(dict.values())`: a snapshot of the values, in insertion order.
    pub fn values(&self) -> Result<Vec<Value>, Error> {
        let (p, d) = dict_of(self)?;
        let vals = d.read(p).values().map(|v| Value::from_slot(*v)).collect();
        Ok(vals)
    }
}
