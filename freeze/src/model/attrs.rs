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
use crate::core::handle::Value;
use crate::core::object::{ObjPtr, Slot};
use crate::core::payload::{InstAttrs, Payload, Read, MAX_INLINE};
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

/// The names of `class`'s layout, under a read guard for as long as
/// `class` is borrowed (`None` for a non-class). Hold it only while
/// nothing writes the class.
fn layout(class: &ObjPtr) -> Option<Read<'_, Vec<Sym>>> {
    match class.body() {
        Body::Class(c) => Some(c.layout.read(*class)),
        _ => None,
    }
}

/// A counted reference: a handle, or a slot that holds a count.
pub(crate) trait Counted {
    /// The slot, its count handed over.
    fn into_counted(self) -> Slot;
}

impl Counted for Value {
    fn into_counted(self) -> Slot {
        self.into_slot()
    }
}

impl Counted for Slot {
    fn into_counted(self) -> Slot {
        self
    }
}

/// A new instance of the (counted, by the caller) `class` holding the
/// values `attrs` (drained: the caller keeps the buffer), with inline room
/// for at least `room` values (up to [`MAX_INLINE`]: a decoder's hint for
/// attributes set later); a repeated name keeps its last value.
pub(crate) fn new_instance<V: Counted>(
    class: ObjPtr,
    attrs: &mut Vec<(Sym, V)>,
    room: usize,
) -> ObjPtr {
    // Names the layout lacks join it first, so the slots cover them. The
    // common case (the names are the layout's first ones, in order) needs
    // one read of the layout, not one per name.
    let on_shape = layout(&class).map(|l| {
        let fits = attrs.len() <= l.len() && attrs.iter().zip(l.iter()).all(|(a, n)| a.0 == *n);
        (fits, l.len())
    });
    if let Some((true, len)) = on_shape {
        // The names are the layout's first ones (so no more than the
        // layout's `MAX_INLINE`): the values go straight into the slots,
        // written as the object is made.
        let cap = len.max(room).min(MAX_INLINE);
        return crate::core::object::alloc_filled(
            Body::Instance(InstanceData {
                class,
                attrs: Payload::new(InstAttrs::filled(cap, attrs.len())),
            }),
            attrs.drain(..).map(|(_, v)| v.into_counted()),
        );
    }
    for (n, _) in attrs.iter() {
        slot_of(class, *n, true);
    }
    let len = layout(&class).map_or(0, |l| l.len());
    let cap = len.max(room);
    let p = crate::core::object::alloc(Body::Instance(InstanceData {
        class,
        attrs: Payload::new(InstAttrs::with_capacity(cap)),
    }));
    let Body::Instance(i) = p.body() else {
        unreachable!("just made")
    };
    let replaced = add_all(p, i, attrs.drain(..).map(|(n, v)| (n, v.into_counted())));
    crate::core::heap::drop_slots(replaced);
    p
}

/// Sets the (counted) `attrs` in order on a writable instance; returns
/// the values they replaced (a repeated name's), for the caller to
/// release. The run of names that continues the layout goes inline under
/// one guard (the decoder's and constructors' common case); the rest one
/// by one through `set`.
fn add_all(p: ObjPtr, i: &InstanceData, attrs: impl IntoIterator<Item = (Sym, Slot)>) -> Vec<Slot> {
    let mut later = Vec::new();
    match (layout(&i.class), i.attrs.write(p)) {
        (Some(names), Ok(mut a)) => {
            for (n, v) in attrs {
                if later.is_empty() && names.get(a.inline_len()) == Some(&n) {
                    match a.push_inline(v) {
                        Ok(()) => continue,
                        Err(v) => later.push((n, v)),
                    }
                } else {
                    later.push((n, v));
                }
            }
        }
        _ => later.extend(attrs),
    }
    later
        .into_iter()
        .filter_map(|(n, v)| set(p, i, n, v).ok().flatten())
        .collect()
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
    let mut a = i.attrs.write(p)?;
    if let Some(k) = k.filter(|k| *k < a.inline_len()) {
        // The names after `k` leave the prefix and go, in order, to the
        // front of `extra`: the order of what remains is unchanged.
        let mut moved = a.truncate_inline(k);
        let v = moved.remove(0);
        let names = layout(&i.class).expect("an instance's class");
        let tail: Vec<(Sym, Slot)> = names[k + 1..].iter().copied().zip(moved).collect();
        a.extra_mut().splice(0..0, tail);
        return Ok(Some(v));
    }
    let e = a.extra().iter().position(|(n, _)| *n == sym);
    Ok(e.map(|e| a.extra_mut().remove(e).1))
}

/// Calls `f` with every own attribute, in order, until it fails.
pub(crate) fn try_each<E>(
    p: ObjPtr,
    i: &InstanceData,
    mut f: impl FnMut(Sym, Slot) -> Result<(), E>,
) -> Result<(), E> {
    let a = i.attrs.read(p);
    if let Some(names) = layout(&i.class) {
        for (v, n) in a.inline().iter().zip(names.iter()) {
            f(*n, *v)?;
        }
    }
    a.extra().iter().try_for_each(|(n, v)| f(*n, *v))
}

/// Every own attribute, in order (uncounted).
pub(crate) fn pairs(p: ObjPtr, i: &InstanceData) -> Vec<(Sym, Slot)> {
    let mut out = Vec::new();
    let _ = try_each(p, i, |n, v| {
        out.push((n, v));
        Ok::<(), ()>(())
    });
    out
}

/// Replaces every own attribute by the (counted) `attrs`; returns the old
/// values, for the caller to release. `attrs` is consumed whole either
/// way (a refused write releases it).
pub(crate) fn replace_all(
    p: ObjPtr,
    i: &InstanceData,
    attrs: impl IntoIterator<Item = (Sym, Slot)>,
) -> Result<Vec<Slot>, Error> {
    let mut old = match i.attrs.write(p) {
        Ok(mut a) => a.take_all(),
        Err(e) => {
            crate::core::heap::drop_slots(attrs.into_iter().map(|e| e.1));
            return Err(e);
        }
    };
    old.extend(add_all(p, i, attrs));
    Ok(old)
}
