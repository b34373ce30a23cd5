//! Pre-freeze hooks (PEP 795 `__pre_freeze__`) and the built-in steps:
//! function detachment, weak reference strengthening, module proxying,
//! stubbing `@unfreezable` methods. They run between freeze walks, never
//! during one.
//!
//! Two kinds of work, kept apart so that neither can skip the other:
//!
//! * **User hooks** (an object's own hook, a class's `__pre_freeze__`) run
//!   at most once per arming, and at most once per outermost `freeze` call
//!   even if they re-arm themselves, so a freeze always terminates. Their
//!   flags are consumed *before* they run: a hook that fails or panics has
//!   still run.
//! * **Built-in steps** are idempotent and decided by the object's state
//!   (a weakref that is still weak, a `Proxy` module that still has its
//!   dict, a function not yet detached, a class still holding an
//!   `@unfreezable` method), never by a flag a user hook could leave
//!   behind. They always run before the object freezes, and never on an
//!   object that is already frozen (a hook may freeze its own object).

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use crate::core::body::{Body, WeakTarget};
use crate::core::error::{Error, FreezeReason};
use crate::core::handle::{Ref, Value};
use crate::core::heap;
use crate::core::object::{self, ObjPtr, DETACHED, HAS_HOOK, HOOK_RAN, STATUS_MASK, STATUS_SHIFT};
use crate::core::status::Freezability;
use crate::core::sym::Sym;
use crate::model::ops::{class_has_hook, class_lookup};

thread_local! {
    /// The outermost `freeze` call on this thread: its nesting depth and
    /// the objects whose user hooks ran in it (held, so that an address is
    /// not reused by a new object while the call lasts).
    static CALL: RefCell<(usize, FxHashMap<ObjPtr, Ref>)> = RefCell::new((0, FxHashMap::default()));
}

/// Marks one (possibly nested) `freeze` call; the outermost one forgets
/// which user hooks ran when it ends, however it ends.
pub(crate) struct CallScope(());

impl CallScope {
    pub(crate) fn enter() -> CallScope {
        let _ = CALL.try_with(|c| c.borrow_mut().0 += 1);
        CallScope(())
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        let done = CALL
            .try_with(|c| {
                let mut c = c.borrow_mut();
                c.0 -= 1;
                if c.0 == 0 {
                    std::mem::take(&mut c.1)
                } else {
                    FxHashMap::default()
                }
            })
            .unwrap_or_default();
        // Dropping the handles may free objects (and run user code):
        // outside the borrow.
        drop(done);
    }
}

fn ran_in_call(p: ObjPtr) -> bool {
    CALL.try_with(|c| c.borrow().1.contains_key(&p))
        .unwrap_or(true)
}

/// Whether the walk must stop for `w` (flags `f`) to run hooks first.
#[inline]
pub(crate) fn pending(w: ObjPtr, f: u32) -> bool {
    builtin_pending(w, f) || user_pending(w, f)
}

/// A user hook is armed for `w` and has not run in this call.
fn user_pending(w: ObjPtr, f: u32) -> bool {
    let armed = f & HAS_HOOK != 0
        || match w.body() {
            Body::Instance(i) => f & HOOK_RAN == 0 && class_has_hook(i.class),
            _ => false,
        };
    armed && !ran_in_call(w)
}

/// A built-in step still has work to do on `w` (decided by its state).
fn builtin_pending(w: ObjPtr, f: u32) -> bool {
    match w.body() {
        Body::Class(_) => {
            // Settle the class's cached answer while it can still change.
            class_has_hook(w);
            has_unfreezable_method(w)
        }
        Body::Module(m) => {
            (f & STATUS_MASK) >> STATUS_SHIFT == Freezability::Proxy.bits()
                && m.dict.read(w).is_some()
        }
        Body::WeakRef(wr) => matches!(
            *wr.target.read(w),
            WeakTarget::Local(_) | WeakTarget::Shared(_)
        ),
        Body::Function(fd) => {
            f & DETACHED == 0
                && fd.captures.read(w).iter().any(|s| {
                    s.obj()
                        .is_some_and(|c| !c.is_frozen() && matches!(c.body(), Body::Cell(_)))
                })
        }
        _ => false,
    }
}

/// Runs what the walk asked for on `r`: its user hooks if still pending in
/// this call, then the built-in step unless a hook froze the object.
/// A panicking user hook is reported as an error, with the graph
/// consistent (the walk was rolled back before any hook ran).
pub(crate) fn run(r: &Ref) -> Result<(), FreezeReason> {
    run_user(r)?;
    if r.ptr.is_frozen() {
        // The hook froze its own object; that freeze ran the built-in
        // step already.
        return Ok(());
    }
    run_builtin(r).map_err(|e| FreezeReason::Hook(Box::new(e)))
}

/// Whether `w` has a user hook still to run in this call (what
/// `shallow_freeze` runs: the built-in steps prepare a deep freeze).
pub(crate) fn user_hook_pending(w: ObjPtr) -> bool {
    user_pending(w, w.flags())
}

/// Runs `r`'s user hooks if they are still pending in this call.
pub(crate) fn run_user(r: &Ref) -> Result<(), FreezeReason> {
    let p = r.ptr;
    if p.is_frozen() {
        return Ok(());
    }
    if user_pending(p, p.flags()) {
        let _ = CALL.try_with(|c| c.borrow_mut().1.insert(p, r.clone()));
        let object_hook = if p.flags() & HAS_HOOK != 0 {
            p.clear_flags(HAS_HOOK);
            heap::take_hook(p)
        } else {
            None
        };
        let class_hook = match p.body() {
            Body::Instance(i) if p.flags() & HOOK_RAN == 0 => {
                p.set_flags(HOOK_RAN);
                class_lookup(i.class, Sym::new("__pre_freeze__"))
            }
            _ => None,
        };
        let this = Value::Obj(r.clone());
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if let Some(h) = object_hook {
                h(r)?;
            }
            if let Some(f) = class_hook {
                Value::from_slot(f).call(&[this])?;
            }
            Ok::<(), Error>(())
        }));
        match ran {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(FreezeReason::Hook(Box::new(e))),
            Err(panic) => return Err(FreezeReason::HookPanicked(panic_message(&panic))),
        }
    }
    Ok(())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".into()
    }
}

/// The built-in step for `r`'s kind. Idempotent; nothing on a frozen
/// object.
fn run_builtin(r: &Ref) -> Result<(), Error> {
    let p = r.ptr;
    if p.is_frozen() || !builtin_pending(p, p.flags()) {
        return Ok(());
    }
    match p.body() {
        Body::Function(_) => detach(p),
        Body::WeakRef(_) => crate::core::weak::strengthen(p),
        Body::Module(_) => crate::model::modules::proxify(p)?,
        Body::Class(_) => stub_unfreezable_methods(&Value::Obj(r.clone()))?,
        _ => {}
    }
    Ok(())
}

/// Function detachment: captured cells become fresh cells holding the same
/// values, so the defining scope can still rebind its variables.
fn detach(p: ObjPtr) {
    let Body::Function(fd) = p.body() else {
        return;
    };
    let caps: Vec<Value> = fd
        .captures
        .read(p)
        .iter()
        .map(|s| Value::from_slot(*s))
        .collect();
    let fresh: Vec<object::Slot> = caps
        .iter()
        .map(|c| match c.slot().obj() {
            Some(q) if !q.is_frozen() && matches!(q.body(), Body::Cell(_)) => {
                Value::cell(c.cell_get().unwrap_or_default()).into_slot()
            }
            _ => c.clone().into_slot(),
        })
        .collect();
    let Ok(mut captures) = fd.captures.write_internal(p) else {
        return; // frozen or being read meanwhile: nothing to detach now
    };
    let old = std::mem::replace(&mut *captures, fresh);
    drop(captures);
    p.set_flags(DETACHED);
    heap::drop_slots(old);
}

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
    if !heap::set_hook(p, Box::new(move |r: &Ref| hook(&Value::Obj(r.clone())))) {
        return Err(Error::thread_exiting("set_pre_freeze_hook"));
    }
    p.set_flags(HAS_HOOK);
    Ok(())
}

fn unfreezable_fn(p: crate::core::object::ObjPtr) -> bool {
    matches!(p.body(), Body::Function(_))
        && !p.is_frozen()
        && (p.flags() & crate::core::object::STATUS_MASK) >> crate::core::object::STATUS_SHIFT
            == crate::core::status::Freezability::No.bits()
}

/// Whether a mutable class holds an `@unfreezable` method in its dict.
pub(crate) fn has_unfreezable_method(cls: crate::core::object::ObjPtr) -> bool {
    let Body::Class(c) = cls.body() else {
        return false;
    };
    let any = c
        .dict
        .read(cls)
        .iter()
        .any(|(_, v)| v.obj().is_some_and(unfreezable_fn));
    any
}

fn unfreezable_stub(call: &crate::core::handle::Call<'_>) -> Result<Value, Error> {
    Err(Error::Call(format!(
        "method '{}' is unfreezable and was left out of its frozen class",
        Value::Obj(call.function().clone()).name().unwrap_or("?")
    )))
}

/// PEP 795: an `@unfreezable` method does not block freezing its class;
/// the frozen class gets a stub that raises when called.
fn stub_unfreezable_methods(cls: &Value) -> Result<(), Error> {
    let (Some(p), Some(Body::Class(c))) = (cls.slot().obj(), cls.body()) else {
        return Ok(());
    };
    // Names are copied out (the guard ends) before anything is replaced.
    let names: Vec<Sym> = c
        .dict
        .read(p)
        .iter()
        .filter(|(_, v)| v.obj().is_some_and(unfreezable_fn))
        .map(|(n, _)| *n)
        .collect();
    // A built-in step of a deep freeze: it may replace methods of a
    // shallow-frozen class too (`write_internal`).
    for n in names {
        let stub = Value::function(n.as_str(), 0, unfreezable_stub, vec![], vec![]);
        let old = {
            let mut d = c.dict.write_internal(p)?;
            crate::core::body::set_attr(&mut d, n, stub.into_slot())
        };
        if let Some(old) = old {
            object::decref_slot(old);
        }
    }
    Ok(())
}
