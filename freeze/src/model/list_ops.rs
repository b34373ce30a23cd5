//! The rest of `list`'s Python API: `remove`, `reverse`, `sort`, slices,
//! `*=`, `index`, `count`. Every mutator checks writability before it
//! does anything, changes the list under one write guard (which refuses
//! frozen and shallow-frozen lists with the standard error) and releases
//! what it removed only after the guard ends; on any error nothing changed.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::heap::drop_slots;
use crate::core::object::{self, ObjPtr, Slot};
use crate::model::base::{type_err, writable};
use crate::model::order::{py_lt, sort_permutation};

/// The indices a Python slice `[start:stop:step]` selects in a sequence
/// of `len` items, in order (CPython's `PySlice_AdjustIndices`).
pub(crate) fn slice_indices(
    len: usize,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> Result<Vec<usize>, Error> {
    let step = step.unwrap_or(1) as i128;
    if step == 0 {
        return Err(Error::Value("slice step cannot be zero".into()));
    }
    let n = len as i128;
    let adjust = |v: Option<i64>, default: i128, lo: i128, hi: i128| -> i128 {
        match v {
            None => default,
            Some(v) => {
                let v = v as i128;
                let v = if v < 0 { v + n } else { v };
                v.clamp(lo, hi)
            }
        }
    };
    let (start, stop) = if step > 0 {
        (adjust(start, 0, 0, n), adjust(stop, n, 0, n))
    } else {
        (adjust(start, n - 1, -1, n - 1), adjust(stop, -1, -1, n - 1))
    };
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    Ok(out)
}

fn list_of(v: &Value) -> Result<(ObjPtr, &crate::core::payload::Payload<Vec<Slot>>), Error> {
    let p = v.slot().obj().ok_or_else(|| type_err("a list", v))?;
    match v.body() {
        Some(Body::List(l)) => Ok((p, l)),
        _ => Err(type_err("a list", v)),
    }
}

fn items_of(v: &Value, expected: &'static str) -> Result<Vec<Value>, Error> {
    match v.body() {
        Some(Body::List(_) | Body::Tuple(_)) => v.to_vec(),
        _ => Err(type_err(expected, v)),
    }
}

impl Value {
    /// `list.reverse()`, in place.
    pub fn reverse(&self) -> Result<(), Error> {
        let (p, l) = list_of(self)?;
        writable(p)?;
        l.write(p)?.reverse();
        Ok(())
    }

    /// `list.remove(x)`: removes the first item `== x`; for a set, the
    /// member `x` (`KeyError` if absent, see [`Value::set_remove`]).
    pub fn remove(&self, x: &Value) -> Result<(), Error> {
        if matches!(self.body(), Some(Body::Set(_))) {
            return self.set_remove(x);
        }
        let (p, l) = list_of(self)?;
        writable(p)?;
        let at = self.to_vec()?.iter().position(|v| v.py_eq(x));
        let Some(at) = at else {
            return Err(Error::Value("list.remove(x): x not in list".into()));
        };
        // No user code ran since the snapshot: the item is still at `at`.
        let old = l.write(p)?.remove(at);
        object::decref_slot(old);
        Ok(())
    }

    /// `list.index(x)` (also for tuples): the first position of an item
    /// `== x`, else `ValueError`.
    pub fn index(&self, x: &Value) -> Result<usize, Error> {
        items_of(self, "a list or tuple")?
            .iter()
            .position(|v| v.py_eq(x))
            .ok_or_else(|| Error::Value("x not in sequence".into()))
    }

    /// `list.count(x)` (also for tuples): how many items are `== x`.
    pub fn count(&self, x: &Value) -> Result<usize, Error> {
        Ok(items_of(self, "a list or tuple")?
            .iter()
            .filter(|v| v.py_eq(x))
            .count())
    }

    /// `list.sort(key=key, reverse=reverse)`: stable, Python's ordering
    /// ([`Value::py_lt`]); `key` is called once per item. On an
    /// unorderable pair, a failing key function, or a key function that
    /// changed the list, the error is returned and the list is as before.
    ///
    /// ```
    /// use permafrost_freeze::Value;
    /// let l = Value::list(vec![3.into(), 1.into(), 2.into()]);
    /// l.sort(None, true).unwrap();
    /// assert_eq!(format!("{l:?}"), "[3, 2, 1]");
    /// let mixed = Value::list(vec![1.into(), "a".into()]);
    /// assert!(mixed.sort(None, false).is_err());
    /// assert_eq!(format!("{mixed:?}"), "[1, 'a']");
    /// ```
    pub fn sort(&self, key: Option<&Value>, reverse: bool) -> Result<(), Error> {
        let (p, l) = list_of(self)?;
        writable(p)?;
        let items = self.to_vec()?;
        let keys: Vec<Value> = match key {
            None => items.clone(),
            Some(f) => items
                .iter()
                .map(|v| f.call(std::slice::from_ref(v)))
                .collect::<Result<_, _>>()?,
        };
        let key_slots: Vec<Slot> = keys.iter().map(Value::slot).collect();
        let order = sort_permutation(&key_slots, reverse, py_lt)?;
        let mut list = l.write(p)?;
        let unchanged =
            list.len() == items.len() && list.iter().zip(&items).all(|(s, v)| s.is(v.slot()));
        if !unchanged {
            return Err(Error::Value("list modified during sort".into()));
        }
        // A permutation of the same slots: no count changes.
        for (dst, src) in list.iter_mut().zip(order) {
            *dst = items[src].slot();
        }
        Ok(())
    }

    /// `seq[start:stop:step]` for a list (a new list) or a tuple (a new
    /// tuple).
    pub fn slice(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    ) -> Result<Value, Error> {
        let items = items_of(self, "a list or tuple")?;
        let picked: Vec<Value> = slice_indices(items.len(), start, stop, step)?
            .into_iter()
            .map(|i| items[i].clone())
            .collect();
        Ok(if matches!(self.body(), Some(Body::Tuple(_))) {
            Value::tuple(picked)
        } else {
            Value::list(picked)
        })
    }

    /// `list[start:stop:step] = items`. With step 1 the slice may change
    /// length; an extended slice needs exactly as many items as it selects.
    pub fn set_slice(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
        items: Vec<Value>,
    ) -> Result<(), Error> {
        let (p, l) = list_of(self)?;
        writable(p)?;
        let len = l.read(p).len();
        let idx = slice_indices(len, start, stop, step)?;
        let old: Vec<Slot> = if step.unwrap_or(1) == 1 {
            // The insertion point when the slice is empty (stop <= start).
            let at = slice_indices(len, start, None, None)?
                .first()
                .copied()
                .unwrap_or(len);
            let end = at + idx.len();
            let mut list = l.write(p)?;
            list.splice(at..end, items.iter().map(Value::slot))
                .collect()
        } else {
            if idx.len() != items.len() {
                return Err(Error::Value(format!(
                    "attempt to assign sequence of size {} to extended slice of size {}",
                    items.len(),
                    idx.len()
                )));
            }
            let mut list = l.write(p)?;
            idx.iter()
                .zip(&items)
                .map(|(&i, v)| std::mem::replace(&mut list[i], v.slot()))
                .collect()
        };
        // The list holds the new items' counts now.
        items.into_iter().for_each(std::mem::forget);
        drop_slots(old);
        Ok(())
    }

    /// `del list[start:stop:step]`.
    pub fn del_slice(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    ) -> Result<(), Error> {
        let (p, l) = list_of(self)?;
        writable(p)?;
        let len = l.read(p).len();
        let mut idx = slice_indices(len, start, stop, step)?;
        idx.sort_unstable();
        let old: Vec<Slot> = {
            let mut list = l.write(p)?;
            let mut removed = Vec::with_capacity(idx.len());
            let mut next = idx.iter().peekable();
            let mut i = 0;
            list.retain(|s| {
                let drop_it = next.peek().is_some_and(|&&j| j == i);
                if drop_it {
                    next.next();
                    removed.push(*s);
                }
                i += 1;
                !drop_it
            });
            removed
        };
        drop_slots(old);
        Ok(())
    }

    /// `list *= n`: repeats the items in place (`n <= 0` empties it).
    pub fn imul(&self, n: i64) -> Result<(), Error> {
        let (p, l) = list_of(self)?;
        writable(p)?;
        if n <= 0 {
            return self.clear();
        }
        let len = l.read(p).len();
        let total = len
            .checked_mul(n as usize)
            .filter(|t| *t <= isize::MAX as usize / std::mem::size_of::<Slot>())
            .ok_or_else(|| Error::Other("repeated list would be too large".into()))?;
        let mut list = l.write(p)?;
        list.reserve(total - len);
        for _ in 1..n {
            for i in 0..len {
                let s = list[i];
                object::incref_slot(s);
                list.push(s);
            }
        }
        Ok(())
    }

    /// A shallow copy (`list.copy()`, `dict.copy()`, `set.copy()`): a new
    /// mutable container holding the same items.
    pub fn copy(&self) -> Result<Value, Error> {
        match self.body() {
            Some(Body::List(_)) => Ok(Value::list(self.to_vec()?)),
            Some(Body::Dict(_)) => Value::dict_from(self.items()?),
            Some(Body::DefaultDict(_)) => crate::model::collections::copy_defaultdict(self),
            Some(Body::Deque(d)) => Ok(Value::deque(self.to_vec()?, d.maxlen)),
            Some(Body::Set(_)) => Value::set_from(self.to_vec()?),
            _ => Err(type_err("a list, dict, set, deque or defaultdict", self)),
        }
    }
}
