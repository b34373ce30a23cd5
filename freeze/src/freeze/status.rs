//! `set_freezable`, `get_freezable`, `unset_freezable`, `disabled` and the
//! decorator equivalents `frozen`, `freezable`, `unfreezable`.

use crate::core::body::Body;
use crate::core::error::{Error, FreezeError};
use crate::core::handle::Value;
use crate::core::object::{ObjPtr, STATUS_MASK, STATUS_SHIFT};
use crate::core::status::Freezability;
use crate::freeze::walk::freeze;

fn target(v: &Value) -> Result<ObjPtr, Error> {
    let p = v.slot().obj().ok_or(Error::Type {
        expected: "an object",
        found: v.type_name(),
    })?;
    if p.is_frozen() {
        return Err(Error::Immutable(p.body().type_name()));
    }
    Ok(p)
}

/// Sets an object's own freezability, which overrides its type's default.
/// `Proxy` is accepted for modules only.
pub fn set_freezable(v: &Value, status: Freezability) -> Result<(), Error> {
    let p = target(v)?;
    if status == Freezability::Proxy && !matches!(p.body(), Body::Module(_)) {
        return Err(Error::Other(format!(
            "Proxy freezability is for modules, not {}",
            p.body().type_name()
        )));
    }
    p.clear_flags(STATUS_MASK);
    p.set_flags(status.bits() << STATUS_SHIFT);
    Ok(())
}

/// The object's own status, or `None` when unset (type default applies).
pub fn get_freezable(v: &Value) -> Option<Freezability> {
    let p = v.slot().obj()?;
    Freezability::from_bits((p.flags() & STATUS_MASK) >> STATUS_SHIFT)
}

/// The status that applies: the object's own, or its type's default
/// (classes `Explicit`, modules `No`, everything else `Yes`).
pub fn effective_freezable(v: &Value) -> Freezability {
    match v.slot().obj() {
        None => Freezability::Yes,
        Some(p) => {
            get_freezable(v).unwrap_or_else(|| crate::freeze::walk::default_status(p.body()))
        }
    }
}

/// Removes the object's own status.
pub fn unset_freezable(v: &Value) -> Result<(), Error> {
    target(v)?.clear_flags(STATUS_MASK);
    Ok(())
}

/// PEP 795 `with disabled(obj):` — freezing `obj` fails while the guard
/// lives; its previous status returns when the guard drops.
///
/// ```
/// use permafrost_freeze::{disabled, freeze, Value};
/// let v = Value::list(vec![]);
/// {
///     let _g = disabled(&v).unwrap();
///     assert!(freeze(&[&v]).is_err());
/// }
/// assert!(freeze(&[&v]).is_ok());
/// ```
pub fn disabled(v: &Value) -> Result<Disabled, Error> {
    let prev = get_freezable(v);
    set_freezable(v, Freezability::No)?;
    Ok(Disabled {
        obj: v.clone(),
        prev,
    })
}

/// Guard returned by [`disabled`].
pub struct Disabled {
    obj: Value,
    prev: Option<Freezability>,
}

impl Drop for Disabled {
    fn drop(&mut self) {
        // The object cannot have frozen meanwhile: its status was No.
        let _ = match self.prev {
            Some(s) => set_freezable(&self.obj, s),
            None => unset_freezable(&self.obj),
        };
    }
}

/// `@frozen`: mark `Yes` and freeze now.
pub fn frozen(v: &Value) -> Result<(), FreezeError> {
    if let Some(p) = v.slot().obj() {
        if !p.is_frozen() {
            let _ = set_freezable(v, Freezability::Yes);
        }
    }
    freeze(&[v])
}

/// `@freezable`: mark `Yes`, so freezing may reach it implicitly.
pub fn freezable(v: &Value) -> Result<(), Error> {
    set_freezable(v, Freezability::Yes)
}

/// `@unfreezable`: mark `No`.
pub fn unfreezable(v: &Value) -> Result<(), Error> {
    set_freezable(v, Freezability::No)
}
