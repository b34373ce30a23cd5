//! The immutable built-in types PEP 795 lists beside tuple: `frozenset`
//! (immutable at birth; deeply immutable once its members are frozen),
//! `complex` and `range` (frozen from birth, like str).

use crate::core::body::{Body, FrozenSetData, RangeData};
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::key::{check_hashable, frozenset_hash, Key, SetMap};
use crate::core::payload::Payload;
use crate::model::base::new_obj;

impl Value {
    /// A new `frozenset`; fails on an unhashable item. Hashable itself,
    /// so usable as a dict key or set member. Like a tuple, it is frozen
    /// by [`is_frozen`](crate::is_frozen) once its members are.
    ///
    /// ```
    /// use permafrost_freeze::{is_frozen, Value};
    /// let fs = Value::frozenset(vec![1.into(), "a".into()]).unwrap();
    /// let d = Value::dict_from(vec![(fs.clone(), true.into())]).unwrap();
    /// let same = Value::frozenset(vec!["a".into(), 1.into()]).unwrap();
    /// assert!(d.get_item(&same).unwrap().as_bool().unwrap());
    /// assert!(is_frozen(&fs));
    /// ```
    pub fn frozenset(items: Vec<Value>) -> Result<Value, Error> {
        for v in &items {
            check_hashable(v.slot())?;
        }
        let mut m = SetMap::default();
        let mut dup = Vec::new();
        for v in items {
            if m.contains(&Key(v.slot())) {
                dup.push(v);
            } else {
                m.insert(Key(v.into_slot()));
            }
        }
        let hash = frozenset_hash(&m);
        Ok(new_obj(Body::FrozenSet(Box::new(FrozenSetData {
            members: Payload::new(m),
            hash: std::cell::Cell::new(hash),
        }))))
    }

    /// A new `complex` number (frozen from birth). `complex(x, 0) == x`
    /// and hashes alike, as in Python.
    pub fn complex(re: f64, im: f64) -> Value {
        new_obj(Body::Complex(re, im))
    }

    /// `(real, imag)` of a `complex`.
    pub fn as_complex(&self) -> Option<(f64, f64)> {
        match self.body()? {
            Body::Complex(re, im) => Some((*re, *im)),
            _ => None,
        }
    }

    /// A new `range(start, stop, step)` (frozen from birth); a zero step
    /// is Python's `ValueError`.
    pub fn range(start: i64, stop: i64, step: i64) -> Result<Value, Error> {
        if step == 0 {
            return Err(Error::Value("range() arg 3 must not be zero".into()));
        }
        Ok(new_obj(Body::Range(RangeData { start, stop, step })))
    }

    /// `(start, stop, step)` of a `range`.
    pub fn range_parts(&self) -> Option<(i64, i64, i64)> {
        match self.body()? {
            Body::Range(r) => Some((r.start, r.stop, r.step)),
            _ => None,
        }
    }
}
