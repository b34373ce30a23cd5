//! The rest of `set`'s Python API: `pop`, `remove`, `update`, `union`,
//! `intersection`, `difference` and their in-place forms. The operators
//! that build a new set take any iterable (as the methods do in Python)
//! and return a set of the receiver's kind (`frozenset | x` is a
//! frozenset). In-place forms check every new member is hashable before
//! writing, and release what they removed after the write guard ends.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::heap::drop_slots;
use crate::core::key::{check_hashable, Key, Probe, SetMap};
use crate::core::object::{ObjPtr, Slot};
use crate::core::payload::Payload;
use crate::model::base::{type_err, writable};
use crate::model::repr::short_repr;

/// The members of a set or frozenset, if `v` is one.
pub(crate) fn set_map(v: &Value) -> Option<(ObjPtr, &Payload<SetMap>)> {
    let p = v.slot().obj()?;
    match v.body()? {
        Body::Set(s) => Some((p, s)),
        Body::FrozenSet(f) => Some((p, &f.members)),
        _ => None,
    }
}

fn mutable_set(v: &Value) -> Result<(ObjPtr, &Payload<SetMap>), Error> {
    let p = v.slot().obj().ok_or_else(|| type_err("a set", v))?;
    match v.body() {
        Some(Body::Set(s)) => Ok((p, s)),
        Some(Body::FrozenSet(_)) => Err(Error::Immutable("frozenset")),
        _ => Err(type_err("a set", v)),
    }
}

/// The items of any iterable `set.update` and the operators accept,
/// checked hashable.
fn members_of(other: &Value) -> Result<Vec<Value>, Error> {
    let items = other.to_vec()?;
    for v in &items {
        check_hashable(v.slot())?;
    }
    Ok(items)
}

impl Value {
    /// Whether this is a `set` or a `frozenset`.
    pub fn is_set_like(&self) -> bool {
        set_map(self).is_some()
    }

    /// `set.pop()`: removes and returns some member (the last inserted).
    pub fn set_pop(&self) -> Result<Value, Error> {
        let (p, s) = mutable_set(self)?;
        writable(p)?;
        let k = s
            .write(p)?
            .pop()
            .ok_or_else(|| Error::Key("pop from an empty set".into()))?;
        Ok(Value::from_slot_owned(k.0))
    }

    /// `set.remove(x)`: like `discard`, but `KeyError` if `x` is absent.
    pub fn set_remove(&self, x: &Value) -> Result<(), Error> {
        let (p, _) = mutable_set(self)?;
        writable(p)?;
        if self.discard(x)? {
            Ok(())
        } else {
            Err(Error::Key(short_repr(x.slot())))
        }
    }

    /// `set.update(other)` (`|=`): adds every member of an iterable.
    pub fn set_update(&self, other: &Value) -> Result<(), Error> {
        let (p, s) = mutable_set(self)?;
        writable(p)?;
        let items = members_of(other)?;
        let mut dup: Vec<Value> = Vec::new();
        {
            let mut m = s.write(p)?;
            for v in items {
                if m.contains(&Probe::Slot(v.slot())) {
                    dup.push(v);
                } else {
                    m.insert(Key(v.into_slot()));
                }
            }
        }
        drop(dup);
        Ok(())
    }

    /// `set.intersection_update(other)` (`&=`): keeps only members also in
    /// `other`.
    pub fn intersection_update(&self, other: &Value) -> Result<(), Error> {
        let keep = self.intersection(other)?;
        self.retain_members(|k| keep.contains_member(k))
    }

    /// `set.difference_update(other)` (`-=`): removes every member of
    /// `other`.
    pub fn difference_update(&self, other: &Value) -> Result<(), Error> {
        let (p, _) = mutable_set(self)?;
        writable(p)?;
        let gone = Value::set_from(members_of(other)?)?;
        self.retain_members(|k| !gone.contains_member(k))
    }

    /// `self | other`: a new set (or frozenset) with the members of both.
    pub fn union(&self, other: &Value) -> Result<Value, Error> {
        let mut items = self.members()?;
        items.extend(members_of(other)?);
        self.same_kind(items)
    }

    /// `self & other`: a new set (or frozenset) of the members in both.
    pub fn intersection(&self, other: &Value) -> Result<Value, Error> {
        let theirs = Value::set_from(members_of(other)?)?;
        let items = self
            .members()?
            .into_iter()
            .filter(|v| theirs.contains_member(v.slot()))
            .collect();
        self.same_kind(items)
    }

    /// `self - other`: a new set (or frozenset) of the members not in
    /// `other`.
    pub fn difference(&self, other: &Value) -> Result<Value, Error> {
        let theirs = Value::set_from(members_of(other)?)?;
        let items = self
            .members()?
            .into_iter()
            .filter(|v| !theirs.contains_member(v.slot()))
            .collect();
        self.same_kind(items)
    }

    fn members(&self) -> Result<Vec<Value>, Error> {
        let (p, s) = set_map(self).ok_or_else(|| type_err("a set", self))?;
        let items = s.read(p).iter().map(|k| Value::from_slot(k.0)).collect();
        Ok(items)
    }

    fn same_kind(&self, items: Vec<Value>) -> Result<Value, Error> {
        if matches!(self.body(), Some(Body::FrozenSet(_))) {
            return Value::frozenset(items);
        }
        Value::set_from(items)
    }

    fn contains_member(&self, k: Slot) -> bool {
        set_map(self).is_some_and(|(p, s)| s.read(p).contains(&Probe::Slot(k)))
    }

    /// Keeps the members `keep` accepts (decided before the write).
    fn retain_members(&self, keep: impl Fn(Slot) -> bool) -> Result<(), Error> {
        let (p, s) = mutable_set(self)?;
        writable(p)?;
        let verdict: Vec<bool> = s.read(p).iter().map(|k| keep(k.0)).collect();
        let mut removed = Vec::new();
        {
            let mut m = s.write(p)?;
            let mut i = 0;
            m.retain(|k| {
                let stay = verdict[i];
                i += 1;
                if !stay {
                    removed.push(k.0);
                }
                stay
            });
        }
        drop_slots(removed);
        Ok(())
    }
}
