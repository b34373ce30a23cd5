//! How an object's freezability is resolved, as in the prototype: the
//! object's own status, else (for an instance) its class's, else (for a
//! class) the first status found on its bases in attribute lookup order,
//! else the type's default. This is the lookup `obj.__freezable__` does
//! in the prototype; here the status lives in the header bits (the walk
//! reads them without an attribute search), and the `__freezable__`
//! attribute reads and writes those bits.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::object::{ObjPtr, STATUS_MASK, STATUS_SHIFT};
use crate::core::status::Freezability;
use crate::core::sym::Sym;
use crate::model::base::writable;

/// The attribute name of the protocol.
pub(crate) const ATTR: &str = "__freezable__";

/// The status stored on `p` itself.
#[inline]
pub(crate) fn own_status(p: ObjPtr) -> Option<Freezability> {
    Freezability::from_bits((p.flags() & STATUS_MASK) >> STATUS_SHIFT)
}

/// Stores (or with `None` removes) `p`'s own status.
pub(crate) fn store_status(p: ObjPtr, s: Option<Freezability>) {
    p.clear_flags(STATUS_MASK);
    if let Some(s) = s {
        p.set_flags(s.bits() << STATUS_SHIFT);
    }
}

/// A class's status as its instances and subclasses see it: its own, else
/// the first base's (depth-first, left to right, as attribute lookup).
pub(crate) fn class_status(cls: ObjPtr) -> Option<Freezability> {
    // Fast path: a single-inheritance chain needs no visited set.
    let mut c = cls;
    for _ in 0..64 {
        if let Some(s) = own_status(c) {
            return Some(s);
        }
        let Body::Class(cd) = c.body() else {
            return None;
        };
        let next = {
            let bases = cd.bases.read(c);
            match bases.len() {
                0 => return None,
                1 => bases[0].obj(),
                _ => break,
            }
        };
        match next {
            Some(n) => c = n,
            None => return None,
        }
    }
    let mut stack = vec![cls];
    let mut seen = rustc_hash::FxHashSet::default();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        if let Some(s) = own_status(c) {
            return Some(s);
        }
        if let Body::Class(cd) = c.body() {
            stack.extend(cd.bases.read(c).iter().rev().filter_map(|s| s.obj()));
        }
    }
    None
}

/// The status `p` reports: its own, else (an instance) its class's, else
/// (a class) its bases'. `None`: the type default applies.
#[inline]
pub(crate) fn inherited_status(p: ObjPtr) -> Option<Freezability> {
    own_status(p).or_else(|| match p.body() {
        Body::Instance(i) => class_status(i.class),
        Body::Class(_) => class_status(p),
        _ => None,
    })
}

/// `obj.__freezable__`: the status's name, if `obj` reports one.
pub(crate) fn get_attr(p: ObjPtr) -> Option<Value> {
    inherited_status(p).map(|s| Value::str(s.name()))
}

/// `obj.__freezable__ = v`: `v` must name a status (a `str`, see
/// [`Freezability::from_name`]); `Proxy` is for modules only. Refused on a
/// frozen or shallow-frozen object, like any attribute write.
pub(crate) fn set_attr(p: ObjPtr, v: &Value) -> Result<(), Error> {
    writable(p)?;
    let s = v
        .as_str()
        .and_then(Freezability::from_name)
        .ok_or_else(|| {
            Error::Value(format!(
                "__freezable__ must be 'Yes', 'No', 'Explicit' or 'Proxy', not {}",
                crate::model::repr::short_repr(v.slot())
            ))
        })?;
    check_proxy(p, s)?;
    store_status(p, Some(s));
    Ok(())
}

/// `del obj.__freezable__`: back to the class's (or the type's) status.
pub(crate) fn del_attr(p: ObjPtr) -> Result<(), Error> {
    writable(p)?;
    store_status(p, None);
    Ok(())
}

/// `Proxy` is for modules only.
pub(crate) fn check_proxy(p: ObjPtr, s: Freezability) -> Result<(), Error> {
    if s == Freezability::Proxy && !matches!(p.body(), Body::Module(_)) {
        return Err(Error::Other(format!(
            "Proxy freezability is for modules, not {}",
            p.body().type_name()
        )));
    }
    Ok(())
}

/// Whether `sym` is `__freezable__`.
#[inline]
pub(crate) fn is_attr(sym: Sym) -> bool {
    static S: std::sync::OnceLock<Sym> = std::sync::OnceLock::new();
    sym == *S.get_or_init(|| Sym::new(ATTR))
}
