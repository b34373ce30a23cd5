//! The prototype's `shallow_freeze`: lock an object's own state (its
//! attributes, items, entries) without touching what it refers to.
//!
//! A shallow-frozen object keeps the `SHALLOW` header bit for life. Every
//! user-level write refuses it with the standard immutability error (the
//! check lives in `Payload::write`), but it stays what it was: a mutable-
//! heap object on its thread, counted per object, tracked by the cycle
//! collector (which may still clear it once it is garbage), and never
//! shared or sent by reference: `Value::share` needs `is_frozen`, which is
//! true only once the whole graph is deeply frozen (`is_frozen` freezes a
//! shallow-frozen object whose contents are all frozen, as it does a
//! tuple's).

use crate::core::error::{FreezeError, FreezeReason, Path};
use crate::core::handle::{Ref, Value};
use crate::core::object::{ObjPtr, FROZEN, ROOT, SHALLOW};
use crate::freeze::hooks::{run_user, user_hook_pending, CallScope};
use crate::freeze::walk::{describe_type, refusal};

/// Shallow-freezes every root: afterwards each refuses writes to its own
/// state; the objects it refers to are untouched (a list's items stay
/// mutable). The same freezability rules as [`freeze`](crate::freeze)
/// apply to each root, as to a root of `freeze` (an `Explicit` root is
/// fine, a `No` or `NotFreezable` one refuses), and every root is checked
/// before any is locked: on error nothing is shallow-frozen. Each root's
/// pre-freeze hooks run first (user hooks only: the built-in steps, such
/// as strengthening a weak reference, prepare a deep freeze). Idempotent;
/// an already frozen root counts as shallow-frozen. Zero roots is an
/// error, as for `freeze`.
///
/// ```
/// use permafrost_freeze::{is_frozen, is_shallow_frozen, shallow_freeze, Value};
/// let inner = Value::list(vec![]);
/// let outer = Value::list(vec![inner.clone()]);
/// shallow_freeze(&[&outer]).unwrap();
/// assert!(is_shallow_frozen(&outer) && !is_frozen(&outer));
/// assert!(outer.append(1.into()).is_err());
/// inner.append(1.into()).unwrap(); // what it refers to stays mutable
/// assert!(outer.share().is_err()); // reaches a mutable list
/// ```
pub fn shallow_freeze(roots: &[&Value]) -> Result<(), FreezeError> {
    if roots.is_empty() {
        return Err(FreezeError::new(
            String::new(),
            Path::lost(),
            FreezeReason::NoRoots,
        ));
    }
    let n = roots.len();
    let objs: Vec<(usize, ObjPtr)> = roots
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.slot().obj().map(|p| (i, p)))
        .collect();
    let refused = |i: usize, p: ObjPtr, reason| {
        FreezeError::new(describe_type(p), Path::at_root(i, n), reason)
    };
    let _call = CallScope::enter();
    loop {
        // Every root is checked before anything runs or is locked.
        for &(i, p) in objs.iter().filter(|(_, p)| open(p)) {
            if let Some(reason) = refusal(p, p.flags() | ROOT) {
                return Err(refused(i, p, reason));
            }
        }
        // Counted first: a hook may drop references to the other roots.
        let hooked: Vec<(usize, Ref)> = objs
            .iter()
            .filter(|(_, p)| open(p) && user_hook_pending(*p))
            .map(|&(i, p)| (i, Ref::from_borrowed(p)))
            .collect();
        if hooked.is_empty() {
            break;
        }
        // User hooks run at most once per call, so this loop ends; the
        // roots are checked again after them (a hook may change a status).
        for (i, r) in hooked {
            run_user(&r).map_err(|reason| refused(i, r.ptr, reason))?;
        }
    }
    for (_, p) in objs.iter().filter(|(_, p)| open(p)) {
        p.set_flags(SHALLOW);
    }
    Ok(())
}

/// Whether `v`'s own state can no longer change: it was shallow-frozen,
/// or is deeply frozen, or is immutable at birth (immediates, str, bytes,
/// tuples, frozensets, complex, range). Says nothing about what it refers to; see
/// [`is_frozen`](crate::is_frozen).
pub fn is_shallow_frozen(v: &Value) -> bool {
    match v.slot().obj() {
        None => true,
        Some(p) => {
            use crate::core::body::Body;
            !open(&p) || matches!(v.body(), Some(Body::Tuple(_) | Body::FrozenSet(_)))
        }
    }
}

fn open(p: &ObjPtr) -> bool {
    p.flags() & (FROZEN | SHALLOW) == 0
}
