//! The switch that reproduces the prototype's class default: today's
//! prototype lets a plain class freeze implicitly (`Yes`), while PEP 795
//! (and this runtime, by default) makes classes `Explicit`. Off by
//! default; set per heap (this worker thread) or for every heap that has
//! not chosen.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static EVERYWHERE: AtomicBool = AtomicBool::new(false);

thread_local! {
    static HERE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether classes without a status of their own default to `Yes`, as in
/// the prototype, on this heap (worker thread). Returns the previous
/// setting. With `None` this heap follows
/// [`set_prototype_class_default_everywhere`] again.
///
/// ```
/// use permafrost_freeze::{freeze, set_prototype_class_default, Value};
/// let cls = Value::class("Point", vec![], vec![]).unwrap();
/// let p = cls.instantiate(vec![]).unwrap();
/// assert!(freeze(&[&p]).is_err()); // PEP 795: the class is Explicit
/// let before = set_prototype_class_default(Some(true));
/// freeze(&[&p]).unwrap(); // the prototype: the class freezes implicitly
/// set_prototype_class_default(before);
/// ```
pub fn set_prototype_class_default(on: Option<bool>) -> Option<bool> {
    HERE.try_with(|h| h.replace(on)).unwrap_or(None)
}

/// The process-wide default for heaps that have not chosen with
/// [`set_prototype_class_default`]. Returns the previous value.
pub fn set_prototype_class_default_everywhere(on: bool) -> bool {
    EVERYWHERE.swap(on, Relaxed)
}

/// Whether plain classes default to `Yes` on this heap now.
pub fn prototype_class_default() -> bool {
    HERE.try_with(Cell::get)
        .ok()
        .flatten()
        .unwrap_or_else(|| EVERYWHERE.load(Relaxed))
}
