//! Python 3's `<` for the built-in orderable types, and the stable,
//! fallible merge sort `list.sort` uses.
//!
//! Numbers (bool, int, float) compare by value, str by code point, bytes
//! bytewise, tuples and lists lexicographically (the first unequal pair
//! decides, else the shorter is smaller). Anything else, or a mix such as
//! `str < int`, is unorderable: the error Python's `TypeError` carries.
//! Only `<` is used, as CPython's sort does, so NaN behaves as there.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::object::Slot;

fn label(s: Slot) -> &'static str {
    Value::from_slot(s).type_name()
}

fn num(s: Slot) -> Option<Result<i64, f64>> {
    match s {
        Slot::Bool(b) => Some(Ok(b as i64)),
        Slot::Int(i) => Some(Ok(i)),
        Slot::Float(x) => Some(Err(x)),
        _ => None,
    }
}

/// 2^63: every i64 is below it, and every float in `[-2^63, 2^63)`
/// truncates to an i64 exactly.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// Exact `<` between an int and a float (no rounding of large ints).
fn int_lt_float(i: i64, x: f64) -> bool {
    if x.is_nan() {
        return false;
    }
    if x >= TWO_63 {
        return true;
    }
    if x < -TWO_63 {
        return false;
    }
    let t = x.trunc();
    let ti = t as i64;
    if ti != i {
        i < ti
    } else {
        x > t
    }
}

fn float_lt_int(x: f64, i: i64) -> bool {
    if x.is_nan() {
        return false;
    }
    if x >= TWO_63 {
        return false;
    }
    if x < -TWO_63 {
        return true;
    }
    let t = x.trunc();
    let ti = t as i64;
    if ti != i {
        ti < i
    } else {
        x < t
    }
}

/// Python `a < b`. Iterative through nested tuples and lists.
pub(crate) fn py_lt(a: Slot, b: Slot) -> Result<bool, Error> {
    let (mut a, mut b) = (a, b);
    loop {
        if let (Some(x), Some(y)) = (num(a), num(b)) {
            return Ok(match (x, y) {
                (Ok(i), Ok(j)) => i < j,
                (Err(x), Err(y)) => x < y,
                (Ok(i), Err(y)) => int_lt_float(i, y),
                (Err(x), Ok(j)) => float_lt_int(x, j),
            });
        }
        let unorderable = || Error::Unorderable {
            left: label(a),
            right: label(b),
        };
        let (Slot::Obj(p), Slot::Obj(q)) = (a, b) else {
            return Err(unorderable());
        };
        let pair = match (p.body(), q.body()) {
            (Body::Str(x), Body::Str(y)) => return Ok(**x < **y),
            (Body::Bytes(x), Body::Bytes(y)) => return Ok(x < y),
            (Body::Tuple(x), Body::Tuple(y)) => first_unequal(&x.read(p), &y.read(q)),
            (Body::List(x), Body::List(y)) => first_unequal(&x.read(p), &y.read(q)),
            _ => return Err(unorderable()),
        };
        match pair {
            Err(shorter) => return Ok(shorter),
            Ok((x, y)) => {
                a = x;
                b = y;
            }
        }
    }
}

/// The first pair of items that are not `==`, or (all equal up to the
/// shorter length) whether `x` is shorter than `y`.
fn first_unequal(x: &[Slot], y: &[Slot]) -> Result<(Slot, Slot), bool> {
    for (s, t) in x.iter().zip(y) {
        if !Value::from_slot(*s).py_eq(&Value::from_slot(*t)) {
            return Ok((*s, *t));
        }
    }
    Err(x.len() < y.len())
}

/// The permutation that stably sorts `keys` by `lt` (with `reverse`, by
/// the reversed order, equal keys still in their original order, as
/// CPython's `list.sort(reverse=True)`). Bottom-up merge sort: no
/// recursion, `O(n log n)` comparisons, and the first error stops it.
pub(crate) fn sort_permutation(
    keys: &[Slot],
    reverse: bool,
    lt: impl Fn(Slot, Slot) -> Result<bool, Error>,
) -> Result<Vec<usize>, Error> {
    let n = keys.len();
    // `before(i, j)`: must item i come strictly before item j?
    let before = |i: usize, j: usize| -> Result<bool, Error> {
        if reverse {
            lt(keys[j], keys[i])
        } else {
            lt(keys[i], keys[j])
        }
    };
    let mut src: Vec<usize> = (0..n).collect();
    let mut dst: Vec<usize> = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                // Take from the right run only if strictly before: stable.
                if before(src[j], src[i])? {
                    dst[k] = src[j];
                    j += 1;
                } else {
                    dst[k] = src[i];
                    i += 1;
                }
                k += 1;
            }
            dst[k..k + (mid - i)].copy_from_slice(&src[i..mid]);
            k += mid - i;
            dst[k..k + (hi - j)].copy_from_slice(&src[j..hi]);
            lo = hi;
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    Ok(src)
}

impl Value {
    /// Python `self < other` for numbers, str, bytes, tuples and lists;
    /// [`Error::Unorderable`] for anything else or a mix of kinds.
    pub fn py_lt(&self, other: &Value) -> Result<bool, Error> {
        py_lt(self.slot(), other.slot())
    }
}
