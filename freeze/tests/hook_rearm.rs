//! Pre-freeze hooks that re-arm themselves and then freeze their own object
//! through a shallow walk (`is_frozen`, `share`), and a freeze run from a
//! thread-local destructor. Found by review; each failed before its fix.

use std::cell::RefCell;
use std::sync::Mutex;

use permafrost_freeze::{diag, freeze, is_frozen, set_pre_freeze_hook, shallow_freeze, Value};

#[test]
fn a_rearmed_hook_is_dropped_when_is_frozen_freezes_its_object() {
    let before = diag::heap_live();
    {
        let t = Value::tuple(vec![1.into(), Value::from("x")]);
        set_pre_freeze_hook(&t, |me| {
            let captured = Value::list(vec![Value::list(vec![])]);
            set_pre_freeze_hook(me, move |_| {
                let _ = &captured;
                Ok(())
            })?;
            // Freezes `me` in this same call: the re-armed hook never runs.
            assert!(is_frozen(me));
            Ok(())
        })
        .unwrap();
        freeze(&[&t]).unwrap();
        assert!(diag::check_invariants(&[&t]).is_ok());
    }
    permafrost_freeze::collect();
    // The re-armed hook's captured lists were kept alive by the stale hook.
    assert_eq!(diag::heap_live(), before);
}

#[test]
fn a_rearmed_hook_is_dropped_when_share_freezes_its_object() {
    let before = diag::heap_live();
    {
        let l = Value::list(vec![1.into()]);
        shallow_freeze(&[&l]).unwrap();
        set_pre_freeze_hook(&l, |me| {
            let captured = Value::list(vec![]);
            set_pre_freeze_hook(me, move |_| {
                let _ = &captured;
                Ok(())
            })?;
            let shared = me.share()?;
            std::thread::spawn(move || drop(shared)).join().unwrap();
            Ok(())
        })
        .unwrap();
        freeze(&[&l]).unwrap();
    }
    permafrost_freeze::collect();
    assert_eq!(diag::heap_live(), before);
}

static TEARDOWN: Mutex<Option<String>> = Mutex::new(None);

/// Freezes a fresh graph when its thread's locals are destroyed.
struct FreezeOnDrop;

impl Drop for FreezeOnDrop {
    fn drop(&mut self) {
        let r = std::panic::catch_unwind(|| {
            let v = Value::list(vec![Value::list(vec![])]);
            freeze(&[&v]).map_err(|e| e.to_string())
        });
        *TEARDOWN.lock().unwrap() = Some(match r {
            Ok(Ok(())) => "ok".into(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => "panic".into(),
        });
    }
}

thread_local! {
    static USER: RefCell<Option<FreezeOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn a_freeze_from_a_thread_local_destructor_does_not_panic() {
    std::thread::spawn(|| {
        // The heap's local is made first, the user's next, the walk's
        // scratch last, so the scratch is destroyed before the user's.
        let _first = Value::list(vec![]);
        USER.with(|u| *u.borrow_mut() = Some(FreezeOnDrop));
        let w = Value::list(vec![]);
        freeze(&[&w]).unwrap();
    })
    .join()
    .unwrap();
    let got = TEARDOWN.lock().unwrap().clone();
    // A clear result either way (it ran, or `ThreadExiting`), not a panic.
    let clear = got
        .as_deref()
        .is_some_and(|s| s == "ok" || s.starts_with("error"));
    assert!(clear, "{got:?}");
}

/// Sets a hook on another object when dropped.
struct SetsHookOnDrop(Value);

impl Drop for SetsHookOnDrop {
    fn drop(&mut self) {
        set_pre_freeze_hook(&self.0, |_| Ok(())).unwrap();
    }
}

#[test]
fn a_replaced_hook_whose_captures_set_a_hook_when_dropped() {
    let before = diag::heap_live();
    {
        let a = Value::list(vec![]);
        let b = Value::list(vec![]);
        let guard = SetsHookOnDrop(b.clone());
        set_pre_freeze_hook(&a, move |_| {
            let _ = &guard;
            Ok(())
        })
        .unwrap();
        // Replacing drops the first hook, whose capture sets `b`'s hook:
        // that must happen after the hook table's borrow has ended.
        set_pre_freeze_hook(&a, |_| Ok(())).unwrap();
        freeze(&[&a, &b]).unwrap();
        assert!(diag::check_invariants(&[&a, &b]).is_ok());
    }
    assert_eq!(diag::heap_live(), before);
}
