//! `set_freezable`, `get_freezable`, `unset_freezable`, the scoped
//! `FreezabilityOverride` (and `disabled`, its `No` case) and the
//! decorator equivalents `frozen`, `freezable`, `unfreezable`.
//!
//! Statuses resolve as in the prototype (see `model/freezable.rs`): an
//! object's own, else its class's, else the type default.

use crate::core::error::{Error, FreezeError};
use crate::core::handle::Value;
use crate::core::object::ObjPtr;
use crate::core::status::Freezability;
use crate::freeze::walk::freeze;
use crate::model::freezable::{check_proxy, inherited_status, own_status, store_status};

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

/// Sets an object's own freezability, which overrides its class's and its
/// type's default. On a class it is also what the class's instances and
/// subclasses report (`__freezable__` is looked up through the class, as
/// in the prototype). `Proxy` is accepted for modules only.
pub fn set_freezable(v: &Value, status: Freezability) -> Result<(), Error> {
    let p = target(v)?;
    check_proxy(p, status)?;
    store_status(p, Some(status));
    Ok(())
}

/// The status the object reports, as the prototype's `get_freezable`: its
/// own, else (an instance) its class's, else (a class) its bases', else
/// `None` (the type default applies; the prototype returns -1).
///
/// ```
/// use permafrost_freeze::{get_freezable, set_freezable, unset_freezable, Freezability, Value};
/// let cls = Value::class("C", vec![], vec![]).unwrap();
/// let obj = cls.instantiate(vec![]).unwrap();
/// set_freezable(&cls, Freezability::No).unwrap();
/// assert_eq!(get_freezable(&obj), Some(Freezability::No)); // the class's
/// set_freezable(&obj, Freezability::Yes).unwrap();
/// assert_eq!(get_freezable(&obj), Some(Freezability::Yes)); // its own
/// unset_freezable(&obj).unwrap();
/// assert_eq!(get_freezable(&obj), Some(Freezability::No)); // the class's again
/// ```
pub fn get_freezable(v: &Value) -> Option<Freezability> {
    inherited_status(v.slot().obj()?)
}

/// The status that applies: [`get_freezable`]'s, else the type's default
/// (classes `Explicit`, or `Yes` under [`set_prototype_class_default`];
/// modules `No`; everything else `Yes`).
///
/// [`set_prototype_class_default`]: crate::set_prototype_class_default
pub fn effective_freezable(v: &Value) -> Freezability {
    match v.slot().obj() {
        None => Freezability::Yes,
        Some(p) => {
            inherited_status(p).unwrap_or_else(|| crate::freeze::walk::default_status(p.body()))
        }
    }
}

/// Removes the object's own status: its class's (or its type's default)
/// applies again.
pub fn unset_freezable(v: &Value) -> Result<(), Error> {
    store_status(target(v)?, None);
    Ok(())
}

/// The prototype's `with FreezabilityOverride(obj, status) as obj:` —
/// `obj`'s own status is `status` while the guard lives, and exactly the
/// previous own status (or none) comes back when it drops. Guards nest;
/// drop them in reverse order (as `with` blocks do) to restore each
/// level. [`object`](FreezabilityOverride::object) hands the object back.
///
/// ```
/// use permafrost_freeze::{freeze, get_freezable, FreezabilityOverride, Freezability, Value};
/// let v = Value::list(vec![]);
/// {
///     let outer = FreezabilityOverride::new(&v, Freezability::No).unwrap();
///     assert!(freeze(&[outer.object()]).is_err());
///     {
///         let _inner = FreezabilityOverride::new(&v, Freezability::Explicit).unwrap();
///         assert_eq!(get_freezable(&v), Some(Freezability::Explicit));
///     }
///     assert_eq!(get_freezable(&v), Some(Freezability::No));
/// }
/// assert_eq!(get_freezable(&v), None);
/// assert!(freeze(&[&v]).is_ok());
/// ```
pub struct FreezabilityOverride {
    obj: Value,
    prev: Option<Freezability>,
}

impl FreezabilityOverride {
    /// Overrides `v`'s own status until the guard drops. Refused (nothing
    /// changed) for a frozen object, an immediate, or `Proxy` on a
    /// non-module.
    pub fn new(v: &Value, status: Freezability) -> Result<FreezabilityOverride, Error> {
        let p = target(v)?;
        let prev = own_status(p);
        set_freezable(v, status)?;
        Ok(FreezabilityOverride {
            obj: v.clone(),
            prev,
        })
    }

    /// The object whose status is overridden (`as obj` in the prototype).
    pub fn object(&self) -> &Value {
        &self.obj
    }
}

impl Drop for FreezabilityOverride {
    fn drop(&mut self) {
        // If the object froze meanwhile (possible unless the status was
        // `No`) its status no longer matters, and a frozen header is not
        // written: `target` refuses it.
        if let Ok(p) = target(&self.obj) {
            store_status(p, self.prev);
        }
    }
}

/// The guard [`disabled`] returns: a [`FreezabilityOverride`] to `No`.
pub type Disabled = FreezabilityOverride;

/// PEP 795 `with disabled(obj):` — freezing `obj` fails while the guard
/// lives; its previous status returns when the guard drops. The `No` case
/// of [`FreezabilityOverride`].
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
    FreezabilityOverride::new(v, Freezability::No)
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
