//! Dict/set keys with Python's hashing rules: numbers by value (`1 == 1.0
//! == True`), str and bytes by content, tuples structurally, other objects
//! by identity; list, dict and set are unhashable. Hashing and equality
//! walk nested tuples with an explicit stack.

use std::hash::{Hash, Hasher};

use indexmap::{Equivalent, IndexMap, IndexSet};

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::object::Slot;

/// foldhash: fast on short strings, and its high bits (which the table's
/// tag bytes come from) are well mixed.
pub(crate) type KeyHasher = foldhash::fast::FixedState;
pub(crate) type DictMap = IndexMap<Key, Slot, KeyHasher>;
pub(crate) type SetMap = IndexSet<Key, KeyHasher>;

/// A counted key slot inside a dict or set.
#[derive(Clone, Copy)]
pub(crate) struct Key(pub(crate) Slot);

/// A borrowed lookup key: a plain `&str` finds str keys without allocating.
pub(crate) enum Probe<'a> {
    Str(&'a str),
    Slot(Slot),
}

const TAG_NUM: u8 = 1;
const TAG_STR: u8 = 2;
const TAG_BYTES: u8 = 3;
const TAG_TUPLE: u8 = 4;
const TAG_ID: u8 = 5;
const TAG_NONE: u8 = 6;
const TAG_COMPLEX: u8 = 7;
const TAG_RANGE: u8 = 8;
const TAG_FROZENSET: u8 = 9;

/// A frozenset's hash: independent of member order, computed once when
/// its members are set (a nested frozenset contributes its own cached
/// hash, so hashing never walks nested frozensets).
pub(crate) fn frozenset_hash(members: &SetMap) -> u64 {
    use std::hash::BuildHasher;
    let st = KeyHasher::default();
    let sum = members.iter().fold(0u64, |acc, k| {
        let h = st.hash_one(k);
        // Mix before summing, so that equal sums of members rarely collide.
        acc.wrapping_add((h ^ (h >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    });
    sum ^ members.len() as u64
}

/// `(re, im)` of a complex number, or of an int, float or bool.
fn complex_parts(s: Slot) -> Option<(f64, f64)> {
    match s {
        Slot::Bool(b) => Some((b as i64 as f64, 0.0)),
        Slot::Int(i) => Some((i as f64, 0.0)),
        Slot::Float(x) => Some((x, 0.0)),
        Slot::Obj(p) => match p.body() {
            Body::Complex(re, im) => Some((*re, *im)),
            _ => None,
        },
        _ => None,
    }
}

fn hash_num<H: Hasher>(x: f64, i: Option<i64>, h: &mut H) {
    h.write_u8(TAG_NUM);
    match i {
        Some(i) => h.write_i64(i),
        None if x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64 => {
            h.write_i64(x as i64)
        }
        None => h.write_u64(x.to_bits()),
    }
}

/// Hashes `root`, walking nested tuples iteratively.
#[inline]
fn hash_slot<H: Hasher>(root: Slot, h: &mut H) {
    // Fast path: anything but a tuple hashes without a stack.
    if let Slot::Obj(p) = root {
        match p.body() {
            Body::Str(s) => {
                h.write_u8(TAG_STR);
                h.write(s.as_bytes());
                h.write_u8(0xff);
                return;
            }
            Body::Tuple(_) => return hash_nested(root, h),
            _ => {}
        }
    }
    hash_nested(root, h)
}

/// Most items a nested key is walked through. Only corrupt input can make
/// a tuple contain itself (tuples are immutable at birth); such keys are
/// refused by `check_hashable`, and the other walks stop here too.
const NESTED_LIMIT: usize = 1 << 20;

fn hash_nested<H: Hasher>(root: Slot, h: &mut H) {
    let mut stack = vec![root];
    let mut steps = 0usize;
    while let Some(s) = stack.pop() {
        steps += 1;
        if steps > NESTED_LIMIT {
            return;
        }
        match s {
            Slot::None => h.write_u8(TAG_NONE),
            Slot::Bool(b) => hash_num(b as i64 as f64, Some(b as i64), h),
            Slot::Int(i) => hash_num(i as f64, Some(i), h),
            Slot::Float(x) => hash_num(x, None, h),
            Slot::Obj(p) => match p.body() {
                Body::Str(s) => {
                    h.write_u8(TAG_STR);
                    h.write(s.as_bytes());
                    h.write_u8(0xff);
                }
                Body::Bytes(b) => {
                    h.write_u8(TAG_BYTES);
                    h.write(b);
                    h.write_u8(0xff);
                }
                Body::Tuple(items) => {
                    let items = items.read(p);
                    h.write_u8(TAG_TUPLE);
                    h.write_usize(items.len());
                    stack.extend(items.iter().rev());
                }
                // complex(x, 0) == x: it hashes as the number x.
                Body::Complex(re, im) if *im == 0.0 => hash_num(*re, None, h),
                Body::Complex(re, im) => {
                    h.write_u8(TAG_COMPLEX);
                    h.write_u64(re.to_bits());
                    h.write_u64(im.to_bits());
                }
                // Equal ranges yield the same numbers: hash those facts.
                Body::Range(r) => {
                    let n = r.len();
                    h.write_u8(TAG_RANGE);
                    h.write_usize(n);
                    if n > 0 {
                        h.write_i64(r.start);
                    }
                    if n > 1 {
                        h.write_i64(r.step);
                    }
                }
                Body::FrozenSet(f) => {
                    h.write_u8(TAG_FROZENSET);
                    h.write_u64(f.hash.get());
                }
                _ => {
                    h.write_u8(TAG_ID);
                    h.write_usize(p.addr());
                }
            },
        }
    }
}

/// Python's numeric `==` across bool, int and float: exact (an int equals a
/// float only if the float is integral and the same number), as the hash
/// treats them.
fn num_eq(a: Slot, b: Slot) -> bool {
    fn int(s: Slot) -> Option<i64> {
        match s {
            Slot::Bool(b) => Some(b as i64),
            Slot::Int(i) => Some(i),
            _ => None,
        }
    }
    match (a, b) {
        (Slot::Float(x), Slot::Float(y)) => x == y,
        (Slot::Float(x), o) | (o, Slot::Float(x)) => match int(o) {
            Some(i) => {
                x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64 && x as i64 == i
            }
            None => false,
        },
        _ => match (int(a), int(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Python `==` for hashable values, iterative over tuples.
#[inline]
pub(crate) fn key_eq(a: Slot, b: Slot) -> bool {
    match (a, b) {
        (Slot::Int(x), Slot::Int(y)) => x == y,
        (Slot::Obj(p), Slot::Obj(q)) if p == q => true,
        (Slot::Obj(p), Slot::Obj(q)) => match (p.body(), q.body()) {
            (Body::Str(x), Body::Str(y)) => **x == **y,
            (Body::Tuple(_), Body::Tuple(_)) => key_eq_nested(a, b),
            (Body::Complex(..) | Body::Range(_) | Body::FrozenSet(_), _) => key_eq_nested(a, b),
            _ => false,
        },
        _ => key_eq_nested(a, b),
    }
}

fn key_eq_nested(a: Slot, b: Slot) -> bool {
    let mut stack = vec![(a, b)];
    let mut steps = 0usize;
    while let Some((a, b)) = stack.pop() {
        steps += 1;
        if steps > NESTED_LIMIT {
            return false;
        }
        let same = match (a, b) {
            (Slot::None, Slot::None) => true,
            (Slot::Int(x), Slot::Int(y)) => x == y,
            (Slot::Obj(p), Slot::Obj(q)) => {
                if p == q {
                    true
                } else {
                    match (p.body(), q.body()) {
                        (Body::Str(x), Body::Str(y)) => **x == **y,
                        (Body::Bytes(x), Body::Bytes(y)) => x == y,
                        (Body::Tuple(x), Body::Tuple(y)) => {
                            let (x, y) = (x.read(p), y.read(q));
                            if x.len() != y.len() {
                                false
                            } else {
                                stack.extend(x.iter().copied().zip(y.iter().copied()));
                                true
                            }
                        }
                        (Body::Range(x), Body::Range(y)) => {
                            let n = x.len();
                            n == y.len()
                                && (n == 0 || x.start == y.start)
                                && (n <= 1 || x.step == y.step)
                        }
                        (Body::FrozenSet(x), Body::FrozenSet(y)) => {
                            x.hash.get() == y.hash.get() && {
                                let (x, y) = (x.members.read(p), y.members.read(q));
                                x.len() == y.len() && frozenset_pairs(&x, &y, &mut stack)
                            }
                        }
                        (Body::Complex(..), _) | (_, Body::Complex(..)) => complex_eq(a, b),
                        _ => false,
                    }
                }
            }
            (Slot::Obj(_), _) | (_, Slot::Obj(_)) => complex_eq(a, b),
            _ => num_eq(a, b),
        };
        if !same {
            return false;
        }
    }
    true
}

/// Whether two frozensets of one size can be equal, pushing the member
/// pairs still to compare onto `stack` (so nested frozensets compare
/// without recursion). Members are paired by hash; only when one set has
/// two members with the same hash does it fall back to membership lookups
/// (which compare those members directly).
fn frozenset_pairs(x: &SetMap, y: &SetMap, stack: &mut Vec<(Slot, Slot)>) -> bool {
    use std::hash::BuildHasher;
    let st = KeyHasher::default();
    let by_hash = |m: &SetMap| {
        let mut v: Vec<(u64, Slot)> = m.iter().map(|k| (st.hash_one(k), k.0)).collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    };
    let (hx, hy) = (by_hash(x), by_hash(y));
    let distinct = |v: &[(u64, Slot)]| v.windows(2).all(|w| w[0].0 != w[1].0);
    if !(distinct(&hx) && distinct(&hy)) {
        return x.iter().all(|k| y.contains(k));
    }
    if hx.iter().zip(&hy).any(|(a, b)| a.0 != b.0) {
        return false;
    }
    stack.extend(hx.iter().zip(&hy).map(|(a, b)| (a.1, b.1)));
    true
}

/// `==` where one side is a complex number (the other a number or not).
fn complex_eq(a: Slot, b: Slot) -> bool {
    match (complex_parts(a), complex_parts(b)) {
        (Some((ar, ai)), Some((br, bi))) if ai == 0.0 && bi == 0.0 => {
            // Both real: compare exactly as numbers (int vs float rules).
            let real = |s: Slot, x: f64| match s {
                Slot::Obj(_) => Slot::Float(x),
                s => s,
            };
            num_eq(real(a, ar), real(b, br))
        }
        (Some((ar, ai)), Some((br, bi))) => ar == br && ai == bi,
        _ => false,
    }
}

/// Refuses unhashable keys (list, dict, set, ... anywhere inside a tuple).
#[inline]
pub(crate) fn check_hashable(root: Slot) -> Result<(), Error> {
    match root {
        Slot::Obj(p) => match p.body() {
            Body::Tuple(_) => check_nested(root),
            Body::List(_)
            | Body::Dict(_)
            | Body::Set(_)
            | Body::Buffer(_)
            | Body::Deque(_)
            | Body::DefaultDict(_) => Err(Error::Unhashable(p.body().type_name())),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn check_nested(root: Slot) -> Result<(), Error> {
    let mut stack = vec![root];
    let mut steps = 0usize;
    while let Some(s) = stack.pop() {
        steps += 1;
        if steps > NESTED_LIMIT {
            return Err(Error::Other(
                "key too deeply nested (or a tuple that contains itself)".into(),
            ));
        }
        if let Slot::Obj(p) = s {
            match p.body() {
                Body::Tuple(items) => stack.extend(items.read(p).iter().copied()),
                Body::List(_)
                | Body::Dict(_)
                | Body::Set(_)
                | Body::Buffer(_)
                | Body::Deque(_)
                | Body::DefaultDict(_) => return Err(Error::Unhashable(p.body().type_name())),
                _ => {}
            }
        }
    }
    Ok(())
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_slot(self.0, h)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        key_eq(self.0, other.0)
    }
}

impl Eq for Key {}

impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Probe::Str(s) => {
                h.write_u8(TAG_STR);
                h.write(s.as_bytes());
                h.write_u8(0xff);
            }
            Probe::Slot(s) => hash_slot(*s, h),
        }
    }
}

impl Equivalent<Key> for Probe<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        match self {
            Probe::Str(s) => {
                matches!(key.0, Slot::Obj(p) if matches!(p.body(), Body::Str(k) if &**k == *s))
            }
            Probe::Slot(s) => key_eq(*s, key.0),
        }
    }
}
