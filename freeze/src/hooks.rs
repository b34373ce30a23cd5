//! Pre-freeze hooks (PEP 795 `__pre_freeze__`) and the built-in ones:
//! function detachment, weak reference strengthening, module proxying.
//! They run between freeze walks, never during one.

use crate::body::{Body, WeakTarget};
use crate::error::Error;
use crate::heap;
use crate::ops::class_lookup;
use crate::raw::{self, HAS_HOOK, HOOK_RAN};
use crate::sym::Sym;
use crate::value::{Ref, Value};

/// Attaches a pre-freeze hook to `obj`. It runs at most once, just before
/// `obj` is frozen; it may mutate `obj` (and anything else), or return an
/// error to abort the freeze. If it aborts, nothing is frozen, but what the
/// hook did stays done (as in PEP 795).
///
/// ```
/// use permafrost_freeze::{freeze, set_pre_freeze_hook, Value};
/// let cfg = Value::dict();
/// set_pre_freeze_hook(&cfg, |d| d.set_item("sealed".into(), true.into())).unwrap();
/// freeze(&[&cfg]).unwrap();
/// assert!(cfg.get_str("sealed").unwrap().unwrap().as_bool().unwrap());
/// ```
pub fn set_pre_freeze_hook(
    obj: &Value,
    hook: impl FnOnce(&Value) -> Result<(), Error> + 'static,
) -> Result<(), Error> {
    let Some(p) = obj.slot().obj() else {
        return Err(Error::Type {
            expected: "an object",
            found: obj.type_name(),
        });
    };
    if p.is_frozen() {
        return Err(Error::Immutable(p.body().type_name()));
    }
    heap::set_hook(p, Box::new(move |r: &Ref| hook(&Value::Obj(r.clone()))));
    p.set_flags(HAS_HOOK);
    p.clear_flags(HOOK_RAN);
    Ok(())
}

/// Runs the hooks that apply to `r`: user hooks only the `first` time,
/// built-in steps (all idempotent) whenever asked.
pub(crate) fn run(r: &Ref, first: bool) -> Result<(), Error> {
    if first {
        if let Some(h) = heap::take_hook(r.ptr) {
            h(r)?;
        }
    }
    let this = Value::Obj(r.clone());
    match r.ptr.body() {
        Body::Function(fd) => {
            // Detach: captured cells become fresh cells holding the same
            // values, so the defining scope can still rebind its variables.
            // SAFETY: mutable function on its thread; the borrow ends before
            // anything is allocated.
            let caps: Vec<Value> = unsafe { fd.captures.get() }
                .iter()
                .map(|s| Value::from_slot(*s))
                .collect();
            let fresh: Vec<raw::Slot> = caps
                .iter()
                .map(|c| match c.slot().obj().map(|p| p.body()) {
                    Some(Body::Cell(_)) if !c.slot().obj().is_some_and(|p| p.is_frozen()) => {
                        Value::cell(c.cell_get().unwrap_or_default()).into_slot()
                    }
                    _ => c.clone().into_slot(),
                })
                .collect();
            if r.ptr.is_frozen() {
                heap::drop_slots(fresh);
                return Ok(());
            }
            // SAFETY: as above.
            let old = unsafe { std::mem::replace(fd.captures.get_mut(), fresh) };
            heap::drop_slots(old);
        }
        Body::WeakRef(_) => crate::weak::strengthen(r.ptr),
        Body::Module(_) => crate::modules::proxify(r.ptr)?,
        Body::Class(_) => stub_unfreezable_methods(&this)?,
        Body::Instance(i) if first => {
            if let Some(f) = class_lookup(i.class, Sym::new("__pre_freeze__")) {
                Value::from_slot(f).call(&[this])?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn unfreezable_fn(p: crate::raw::ObjPtr) -> bool {
    matches!(p.body(), Body::Function(_))
        && !p.is_frozen()
        && (p.flags() & crate::raw::STATUS_MASK) >> crate::raw::STATUS_SHIFT
            == crate::status::Freezability::No.bits()
}

/// Whether a mutable class holds an `@unfreezable` method in its dict.
pub(crate) fn has_unfreezable_method(cls: crate::raw::ObjPtr) -> bool {
    let Body::Class(c) = cls.body() else {
        return false;
    };
    // SAFETY: mutable class on its owning thread, read during a walk (no
    // user code, no mutable borrow live).
    unsafe { c.dict.get() }
        .iter()
        .any(|(_, v)| v.obj().is_some_and(unfreezable_fn))
}

fn unfreezable_stub(call: &crate::value::Call<'_>) -> Result<Value, Error> {
    Err(Error::Call(format!(
        "method '{}' is unfreezable and was left out of its frozen class",
        Value::Obj(call.function().clone()).name().unwrap_or("?")
    )))
}

/// PEP 795: an `@unfreezable` method does not block freezing its class;
/// the frozen class gets a stub that raises when called.
fn stub_unfreezable_methods(cls: &Value) -> Result<(), Error> {
    let Some(Body::Class(c)) = cls.slot().obj().map(|p| p.body()) else {
        return Ok(());
    };
    // SAFETY: as in `has_unfreezable_method`; names are copied out before
    // anything is allocated or replaced.
    let names: Vec<Sym> = unsafe { c.dict.get() }
        .iter()
        .filter(|(_, v)| v.obj().is_some_and(unfreezable_fn))
        .map(|(n, _)| *n)
        .collect();
    for n in names {
        let stub = Value::function(n.as_str(), 0, unfreezable_stub, vec![], vec![]);
        cls.setattr(n.as_str(), stub)?;
    }
    Ok(())
}

/// Whether a weak target needs strengthening (used by the walk).
pub(crate) fn weak_needs_hook(t: &WeakTarget) -> bool {
    matches!(t, WeakTarget::Local(_) | WeakTarget::Shared(_))
}
