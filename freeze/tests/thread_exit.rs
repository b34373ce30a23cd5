//! The API called from a thread-local destructor, after the runtime's own
//! per-thread tables are destroyed: each call gives a result or a clear
//! error, never a panic (a panic in a thread-local destructor aborts the
//! process). Each `with` here panicked before it became `try_with`.

use std::cell::RefCell;
use std::sync::Mutex;

use permafrost_freeze::*;

type Seen = Vec<(&'static str, String)>;

static SEEN: Mutex<Vec<(&'static str, Seen)>> = Mutex::new(Vec::new());

fn outcome<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs every call that reaches a per-thread table when dropped.
struct CallsOnDrop {
    tag: &'static str,
    /// Made while the thread ran (making one freezes, which needs the heap).
    local: Value,
}

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        let local = self.local.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut seen: Seen = Vec::new();
            let class = Value::class("PfExitClass", vec![], vec![]).unwrap();
            seen.push((
                "register_class",
                outcome(register_class("pf_exit_class", &class)),
            ));
            // Not found (its table is gone), which is not an error.
            seen.push((
                "lookup_class",
                lookup_class("pf_exit_class").is_some().to_string(),
            ));
            seen.push(("import", outcome(import("pf_exit_module"))));
            seen.push(("local_get", outcome(local.local_get())));
            seen.push(("local_set", outcome(local.local_set(Value::from(8)))));
            let l = Value::list(vec![]);
            seen.push((
                "set_pre_freeze_hook",
                outcome(set_pre_freeze_hook(&l, |_| Ok(()))),
            ));
            drop(GcPause::new());
            seen.push(("tracked_containers", diag::tracked_containers().to_string()));
            // A Proxy module whose freeze is refused keeps its state.
            let m = Value::module("pf_exit_proxy");
            m.setattr("x", 1.into()).unwrap();
            set_freezable(&m, Freezability::Proxy).unwrap();
            seen.push(("freeze proxy", outcome(freeze(&[&m]).map_err(Error::from))));
            seen.push(("proxy state", outcome(m.getattr("x"))));
            seen
        }));
        let seen = r.unwrap_or_else(|_| vec![("panic", String::new())]);
        SEEN.lock().unwrap().push((self.tag, seen));
    }
}

thread_local! {
    static USER: RefCell<Option<CallsOnDrop>> = const { RefCell::new(None) };
}

/// Fills the runtime's per-thread tables (after `USER`, so they are
/// destroyed before it: glibc runs thread-local destructors in reverse
/// order of registration).
fn use_every_table() {
    let c = Value::class("PfExitWarm", vec![], vec![]).unwrap();
    register_class("pf_exit_warm", &c).unwrap();
    import("pf_exit_module").unwrap();
    Value::interpreter_local(Value::from(1))
        .unwrap()
        .local_get()
        .unwrap();
    let l = Value::list(vec![]);
    set_pre_freeze_hook(&l, |_| Ok(())).unwrap();
}

/// A thread whose heap is made before `USER` (so it outlives it), with
/// every other table made after.
fn run_heap_first(tag: &'static str) -> Seen {
    register_module("pf_exit_module", |m| m.setattr("n", 1.into()));
    std::thread::spawn(move || {
        let local = Value::interpreter_local(Value::from(7)).unwrap();
        USER.with(|u| *u.borrow_mut() = Some(CallsOnDrop { tag, local }));
        use_every_table();
    })
    .join()
    .unwrap();
    take(tag)
}

fn take(tag: &str) -> Seen {
    let all = SEEN.lock().unwrap();
    let (_, seen) = all
        .iter()
        .find(|(t, _)| *t == tag)
        .expect("the destructor ran");
    assert!(!seen.iter().any(|(k, _)| *k == "panic"), "{seen:?}");
    seen.clone()
}

fn get(seen: &Seen, k: &str) -> String {
    seen.iter()
        .find(|(n, _)| *n == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn exiting(seen: &Seen, k: &str) -> bool {
    let v = get(seen, k);
    v.starts_with("error") && v.contains("thread is exiting")
}

#[test]
fn with_the_heap_alive_the_other_tables_gone_calls_give_errors() {
    let seen = run_heap_first("heap alive");
    if cfg!(target_os = "linux") {
        for k in ["register_class", "import", "local_get", "local_set"] {
            assert!(exiting(&seen, k), "{k}: {seen:?}");
        }
        assert_eq!(get(&seen, "lookup_class"), "false");
        // The heap lives: hooks still work.
        assert_eq!(get(&seen, "set_pre_freeze_hook"), "ok");
        // The Proxy hook refuses before moving the module's state.
        assert!(exiting(&seen, "freeze proxy"), "{seen:?}");
    }
    assert_eq!(get(&seen, "proxy state"), "ok", "{seen:?}");
}

#[test]
fn with_every_table_gone_calls_give_errors() {
    register_module("pf_exit_module", |m| m.setattr("n", 1.into()));
    // The interpreter-local is made on this thread (it is frozen, so any
    // thread may use it), so the spawned thread's first local is `USER`.
    let local = Value::interpreter_local(Value::from(7)).unwrap();
    freeze(&[&local]).unwrap();
    let local = local.share().unwrap();
    std::thread::spawn(move || {
        USER.with(|u| *u.borrow_mut() = None); // `USER` registered first
        let local = local.value();
        USER.with(|u| {
            *u.borrow_mut() = Some(CallsOnDrop {
                tag: "all gone",
                local,
            })
        });
        use_every_table();
    })
    .join()
    .unwrap();
    let seen = take("all gone");
    if cfg!(target_os = "linux") {
        for k in [
            "register_class",
            "import",
            "local_get",
            "local_set",
            "set_pre_freeze_hook",
            "freeze proxy",
        ] {
            assert!(exiting(&seen, k), "{k}: {seen:?}");
        }
        assert_eq!(get(&seen, "tracked_containers"), "0");
    }
    assert_eq!(get(&seen, "proxy state"), "ok", "{seen:?}");
}
