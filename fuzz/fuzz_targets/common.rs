//! What the targets and the corpus generator share: the classes and native
//! functions that pickles refer to by name, registered once per process.
//!
//! Everything registered here is made before any target takes its
//! baselines (`heap_live`, `frozen_live`), and lives for the whole process.

#![allow(dead_code)]

use std::cell::Cell;
use std::sync::{Once, OnceLock};

use permafrost_freeze::{
    freeze, lookup_class, register_class, register_function, Call, Error, Frozen, Value,
};

/// The frozen class registered process-wide (pickles name it).
pub const NODE: &str = "FuzzNode";
/// A second registered frozen class, with a base.
pub const LEAF: &str = "FuzzLeaf";

/// Native functions, registered process-wide so pickles can name them.
pub const TWICE: &str = "fuzz_twice";
pub const CLOSURE: &str = "fuzz_closure";
pub const CALLBACK: &str = "fuzz_callback";
pub const PRE_FREEZE: &str = "fuzz_pre_freeze";
pub const PRE_FREEZE_FAIL: &str = "fuzz_pre_freeze_fail";

thread_local! {
    /// How many weakref callbacks ran on this thread.
    pub static CALLBACKS_RUN: Cell<usize> = const { Cell::new(0) };
}

/// `twice(x)`: 2 * x for an int.
pub fn twice(c: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::Int(c.arg(0)?.as_int().unwrap_or(0).wrapping_mul(2)))
}

/// A closure over a cell: returns the cell's value and stores value + 1
/// (an error if the cell is frozen, which is what a frozen closure sees
/// after detachment made it a fresh frozen cell).
pub fn closure(c: &Call<'_>) -> Result<Value, Error> {
    let cell = c.captured(0)?;
    let v = cell.cell_get()?;
    if let Some(i) = v.as_int() {
        cell.cell_set(Value::Int(i.wrapping_add(1)))?;
    }
    Ok(v)
}

/// A weakref callback: counts its runs; fails if its first captured value
/// is `True` (so `run_weak_callbacks` has errors to report).
pub fn callback(c: &Call<'_>) -> Result<Value, Error> {
    let _ = CALLBACKS_RUN.try_with(|n| n.set(n.get() + 1));
    if c.captured(0).ok().and_then(|v| v.as_bool()) == Some(true) {
        return Err(Error::Call("callback asked to fail".into()));
    }
    Ok(Value::None)
}

/// A class's `__pre_freeze__`: marks the instance before it freezes.
pub fn pre_freeze(c: &Call<'_>) -> Result<Value, Error> {
    c.arg(0)?.setattr("sealed", Value::Bool(true))?;
    Ok(Value::None)
}

/// A class's `__pre_freeze__` that refuses.
pub fn pre_freeze_fail(_: &Call<'_>) -> Result<Value, Error> {
    Err(Error::Other("pre-freeze refused".into()))
}

static INIT: Once = Once::new();
static CLASSES: OnceLock<Vec<Frozen>> = OnceLock::new();

/// Registers the named classes and functions (once per process).
pub fn init() {
    INIT.call_once(|| {
        register_function(TWICE, twice);
        register_function(CLOSURE, closure);
        register_function(CALLBACK, callback);
        register_function(PRE_FREEZE, pre_freeze);
        register_function(PRE_FREEZE_FAIL, pre_freeze_fail);
        let node = Value::class(NODE, vec![], vec![("kind", Value::from("node"))]).unwrap();
        freeze(&[&node]).unwrap();
        register_class(NODE, &node).unwrap();
        let leaf = Value::class(LEAF, vec![node.clone()], vec![("depth", Value::Int(0))]).unwrap();
        freeze(&[&leaf]).unwrap();
        register_class(LEAF, &leaf).unwrap();
        let _ = CLASSES.set(vec![node.share().unwrap(), leaf.share().unwrap()]);
        // Touch the names the targets use so that interning them happens
        // here, not inside a measured run.
        for n in [NODE, LEAF] {
            assert!(lookup_class(n).is_some());
        }
    });
}

/// The registered frozen classes, as values on this thread.
pub fn registered_classes() -> Vec<Value> {
    CLASSES
        .get()
        .expect("init() first")
        .iter()
        .map(Frozen::value)
        .collect()
}
