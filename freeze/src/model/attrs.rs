//! Instance attributes over the core's inline storage.
//!
//! A class's `layout` is its instances' shape, as CPython 3.11's shared
//! keys and V8's hidden classes: the attribute names in the order its
//! instances first set them. An instance keeps the values of a prefix of
//! that layout in slots allocated with it (one allocation per instance),
//! so a lookup is a scan of the layout's interned names for the slot
//! index, then one load. Anything off the shape (a name set out of layout
//! order, past [`MAX_INLINE`], or on an instance of a frozen class whose
//! layout lacks it) goes to the instance's insertion-ordered `extra` map,
//! which keeps Python's attribute order exact.

use crate::core::body::{Body, InstanceData};
use crate::core::error::Error;
use crate::core::object::{ObjPtr, Slot};
use crate::core::payload::{InstAttrs, Payload, MAX_INLINE};
use crate::core::sym::Sym;

/// `sym`'s slot index in `class`'s layout; appended (when `grow` and the
/// class's layout can still change) if it is not there.
fn slot_of(class: ObjPtr, sym: Sym, grow: bool) -> Option<usize> {
    let Body::Class(c) = class.body() else {
        return None;
    };
    if let Some(k) = c.layout.read(class).iter().position(|n| *n == sym) {
        return Some(k);
    }
    if !grow {
        return None;
    }
    // Frozen (fixed), or read or walked right now: the name stays off the
    // shape, which only costs this instance an `extra` entry.
    let mut l = c.layout.write_internal(class).ok()?;
    if l.len() >= MAX_INLINE {
        return None;
    }
    l.push(sym);
    Some(l.len() - 1)
}

/// The names of `class`'s layout (empty for a non-class).
fn layout(class: ObjPtr) -> Vec<Sym> {
    match class.body() {
        Body::Class(c) => c.layout.read(class).clone(),
        _ => Vec::new(),
    }
}

/// A new instance of the (counted, by the caller) `class` holding the
/// (counted) values `attrs`, with inline room for at least `room` values
/// (up to [`MAX_INLINE`]: a decoder's hint for attributes set later); a
/// repeated name keeps its last value.
pub(crate) fn new_instance(class: ObjPtr, attrs: Vec<(Sym, Slot)>, room: usize) -> ObjPtr {
    // The common case: the names are the layout's first ones, in order.
    let on_shape = match class.body() {
        Body::Class(c) => {
            let l = c.layout.read(class);
            attrs.len() <= l.len() && attrs.iter().zip(l.iter()).all(|(a, n)| a.0 == *n)
        }
        _ => false,
    };
    if !on_shape {
        attrs.iter().for_each(|(n, _)| {
            slot_of(class, *n, true);
        });
    }
    let cap = layout(class).len().max(room);
    let p = crate::core::object::alloc(Body::Instance(InstanceData {
        class,
        attrs: Payload::new(InstAttrs::with_capacity(cap)),
    }));
    let Body::Instance(i) = p.body() else {
        unreachable!("just made")
    };
    if on_shape {
        let mut a = i.attrs.write(p).expect("a new instance is writable");
        for (n, v) in attrs {
            // `cap` covers the layout, so this only falls back if the
            // layout was longer than `MAX_INLINE` allows inline.
            if let Err(v) = a.push_inline(v) {
                a.extra_mut().push((n, v));
            }
        }
    } else {
        for (n, v) in attrs {
            let old = set(p, i, n, v).expect("a new instance is writable");
            crate::core::object::decref_slot(old.unwrap_or(Slot::None));
        }
    }
    p
}

/// The instance's own value of `sym`.
pub(crate) fn get(p: ObjPtr, i: &InstanceData, sym: Sym) -> Option<Slot> {
    let k = slot_of(i.class, sym, false);
    let a = i.attrs.read(p);
    if let Some(v) = k.and_then(|k| a.inline().get(k)) {
        return Some(*v);
    }
    a.extra().iter().find(|(n, _)| *n == sym).map(|e| e.1)
}

/// `get` on a frozen instance's parts (`Payload::frozen_parts`).
pub(crate) fn frozen_get(
    class: ObjPtr,
    inline: &[Slot],
    extra: &[(Sym, Slot)],
    sym: Sym,
) -> Option<Slot> {
    let k = slot_of(class, sym, false);
    if let Some(v) = k.and_then(|k| inline.get(k)) {
        return Some(*v);
    }
    extra.iter().find(|(n, _)| *n == sym).map(|e| e.1)
}

/// Sets `sym` to the (counted) `v`; returns the value it replaced, for
/// the caller to release. Refused as `Payload::write` refuses (and `v`
/// released).
pub(crate) fn set(p: ObjPtr, i: &InstanceData, sym: Sym, v: Slot) -> Result<Option<Slot>, Error> {
    let k = slot_of(i.class, sym, true);
    let mut a = match i.attrs.write(p) {
        Ok(a) => a,
        Err(e) => {
            crate::core::object::decref_slot(v);
            return Err(e);
        }
    };
    if let Some(k) = k {
        if let Some(s) = a.inline_mut().get_mut(k) {
            return Ok(Some(std::mem::replace(s, v)));
        }
    }
    if let Some(e) = a.extra().iter().position(|(n, _)| *n == sym) {
        return Ok(Some(std::mem::replace(&mut a.extra_mut()[e].1, v)));
    }
    let v = if k == Some(a.inline_len()) {
        match a.push_inline(v) {
            Ok(()) => return Ok(None),
            Err(v) => v,
        }
    } else {
        v
    };
    a.extra_mut().push((sym, v));
    Ok(None)
}

/// Removes `sym`; returns its value, for the caller to release.
pub(crate) fn remove(p: ObjPtr, i: &InstanceData, sym: Sym) -> Result<Option<Slot>, Error> {
    let k = slot_of(i.class, sym, false);
    let names = layout(i.class);
    let mut a = i.attrs.write(p)?;
    if let Some(k) = k.filter(|k| *k < a.inline_len()) {
        // The names after `k` leave the prefix and go, in order, to the
        // front of `extra`: the order of what remains is unchanged.
        let mut moved = a.truncate_inline(k);
        let v = moved.remove(0);
        let extra = a.extra_mut();
        let tail: Vec<(Sym, Slot)> = names[k + 1..].iter().copied().zip(moved).collect();
        extra.splice(0..0, tail);
        return Ok(Some(v));
    }
    let e = a.extra().iter().position(|(n, _)| *n == sym);
    Ok(e.map(|e| a.extra_mut().remove(e).1))
}

/// Calls `f` with every own attribute, in order.
pub(crate) fn each(p: ObjPtr, i: &InstanceData, mut f: impl FnMut(Sym, Slot)) {
    let names = layout(i.class);
    let a = i.attrs.read(p);
    a.inline().iter().zip(&names).for_each(|(v, n)| f(*n, *v));
    a.extra().iter().for_each(|(n, v)| f(*n, *v));
}

/// Every own attribute, in order (uncounted).
pub(crate) fn pairs(p: ObjPtr, i: &InstanceData) -> Vec<(Sym, Slot)> {
    let mut out = Vec::new();
    each(p, i, |n, v| out.push((n, v)));
    out
}

/// Replaces every own attribute by the (counted) `attrs`; returns the old
/// values, for the caller to release.
pub(crate) fn replace_all(
    p: ObjPtr,
    i: &InstanceData,
    attrs: Vec<(Sym, Slot)>,
) -> Result<Vec<Slot>, Error> {
    let mut old = match i.attrs.write(p) {
        Ok(mut a) => a.take_all(),
        Err(e) => {
            crate::core::heap::drop_slots(attrs.into_iter().map(|e| e.1));
            return Err(e);
        }
    };
    for (n, v) in attrs {
        // Cannot fail: the instance was writable just above and nothing
        // ran since; a replaced value is a repeated name's.
        if let Some(o) = set(p, i, n, v).ok().flatten() {
            old.push(o);
        }
    }
    Ok(old)
}
