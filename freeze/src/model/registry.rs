//! Classes and native functions by name, as pickle refers to them.
//!
//! Frozen classes are registered process-wide (every worker may use them);
//! mutable classes per worker. Native functions are plain `fn` pointers
//! and registered process-wide.

use std::cell::RefCell;
use std::sync::OnceLock;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::{Frozen, NativeFn, Value};
use crate::core::sym::Sym;

#[derive(Default)]
struct Global {
    classes: FxHashMap<Sym, Frozen>,
    functions: FxHashMap<Sym, NativeFn>,
}

fn global() -> &'static RwLock<Global> {
    static G: OnceLock<RwLock<Global>> = OnceLock::new();
    G.get_or_init(Default::default)
}

thread_local! {
    static LOCAL_CLASSES: RefCell<FxHashMap<Sym, Value>> = RefCell::new(FxHashMap::default());
}

/// Registers `class` under `name` for unpickling. A frozen class is seen
/// by every worker; a mutable one only by this worker.
pub fn register_class(name: &str, class: &Value) -> Result<(), Error> {
    if !matches!(class.body(), Some(Body::Class(_))) {
        return Err(Error::Type {
            expected: "a class",
            found: class.type_name(),
        });
    }
    let sym = Sym::new(name);
    match class.share() {
        Ok(f) => {
            global().write().classes.insert(sym, f);
        }
        Err(_) => {
            // `try_with`: called from a thread-local destructor, the table
            // may be gone; that is an error, not a panic (which aborts).
            let old = LOCAL_CLASSES
                .try_with(|l| l.borrow_mut().insert(sym, class.clone()))
                .map_err(|_| Error::thread_exiting("register_class"))?;
            drop(old);
        }
    }
    Ok(())
}

/// The class registered under `name`: this worker's own first, then the
/// process-wide frozen ones.
pub fn lookup_class(name: &str) -> Option<Value> {
    let sym = Sym::new(name);
    if let Ok(Some(v)) = LOCAL_CLASSES.try_with(|l| l.borrow().get(&sym).cloned()) {
        return Some(v);
    }
    global().read().classes.get(&sym).map(Frozen::value)
}

/// Registers a native function under `name` for unpickling.
pub fn register_function(name: &str, f: NativeFn) {
    global().write().functions.insert(Sym::new(name), f);
}

pub(crate) fn lookup_function(name: Sym) -> Option<NativeFn> {
    global().read().functions.get(&name).copied()
}

/// Drops this worker's registered mutable classes (workers call it when
/// they finish).
pub fn clear_local_classes() {
    let old = LOCAL_CLASSES
        .try_with(|l| std::mem::take(&mut *l.borrow_mut()))
        .unwrap_or_default();
    drop(old);
}
