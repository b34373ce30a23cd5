//! For runtimes that run workers on threads of their own (this crate's
//! runtime does, and so does an actor system embedding it): what to call
//! when a worker is done with the object model.

pub use crate::freeze::escape::clear_interpreter_locals;
pub use crate::model::modules::clear_modules;
pub use crate::model::registry::clear_local_classes;

use crate::core::heap::{collect, heap_live};
use crate::core::weak::run_weak_callbacks;

/// Ends this thread's use of the object model: runs pending weak-reference
/// callbacks, drops the thread's interpreter-local values, local classes
/// and imported modules, and collects cyclic garbage, repeating while that
/// frees anything (a callback or a module's state may hold the last
/// reference to more). Returns the mutable objects still alive on this
/// heap, which is zero unless the thread still holds values.
///
/// ```
/// use permafrost_freeze::{embed, Value};
/// let n = std::thread::spawn(|| {
///     let a = Value::list(vec![]);
///     a.append(a.clone()).unwrap(); // a cycle
///     drop(a);
///     embed::end_worker()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(n, 0);
/// ```
pub fn end_worker() -> usize {
    for _ in 0..4 {
        let ran = run_weak_callbacks().unwrap_or(1);
        clear_interpreter_locals();
        clear_local_classes();
        clear_modules();
        let freed = collect();
        if ran == 0 && freed == 0 {
            break;
        }
    }
    heap_live()
}
