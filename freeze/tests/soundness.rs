//! Regression tests for issue 10's findings, one (or more) per finding,
//! named `fN_...` after it. Every graph a test builds is checked with the
//! invariant checker after each hook runs, and every test ends with this
//! thread's heap back where it started.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use permafrost_freeze::diag::{check_invariants, check_invariants_exact, frozen_live, heap_live};
use permafrost_freeze::embed::clear_modules;
use permafrost_freeze::*;

/// Runs `f` on a fresh thread (its own heap) and fails if it takes longer
/// than `secs` (a hang is a failure, not a stuck test run).
fn on_thread<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("did not finish within {secs} s"),
    }
}

fn failing(_: &Value) -> Result<(), Error> {
    Err(Error::Other("no".into()))
}

// ---- 1. a failing (or panicking) hook must not skip the built-in step ----

#[test]
fn f1_weakref_whose_hook_fails_is_strengthened_when_frozen() {
    on_thread(30, || {
        let base = heap_live();
        let target = Value::list(vec![1.into()]);
        let w = Value::weakref(&target).unwrap();
        set_pre_freeze_hook(&w, failing).unwrap();
        let e = freeze(&[&w]).unwrap_err();
        assert!(matches!(&e.reason, FreezeReason::Hook(h) if h.to_string() == "no"));
        assert!(!is_frozen(&w) && !is_frozen(&target));
        check_invariants(&[&w, &target]).unwrap();
        freeze(&[&w]).unwrap();
        assert!(is_frozen(&w.weak_get().unwrap().unwrap()));
        assert!(is_frozen(&target));
        check_invariants_exact(&[&w, &target]).unwrap();
        drop(w);
        drop(target);
        assert_eq!(heap_live(), base);
    });
}

#[test]
fn f1_weakref_whose_hook_panics_is_strengthened_when_frozen() {
    on_thread(30, || {
        let base = heap_live();
        let target = Value::list(vec![1.into()]);
        let w = Value::weakref(&target).unwrap();
        set_pre_freeze_hook(&w, |_| panic!("hook blew up")).unwrap();
        let e = freeze(&[&w]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::HookPanicked("hook blew up".into()));
        check_invariants(&[&w, &target]).unwrap();
        freeze(&[&w]).unwrap();
        assert!(is_frozen(&target));
        check_invariants_exact(&[&w, &target]).unwrap();
        drop((w, target));
        assert_eq!(heap_live(), base);
    });
}

#[test]
fn f1_proxy_module_whose_hook_fails_still_becomes_a_proxy() {
    on_thread(30, || {
        let m = Value::module("f1_proxy_mod");
        m.setattr("state", Value::list(vec![])).unwrap();
        set_freezable(&m, Freezability::Proxy).unwrap();
        set_pre_freeze_hook(&m, failing).unwrap();
        assert!(freeze(&[&m]).is_err());
        freeze(&[&m]).unwrap();
        // Its namespace moved to this worker's module: not frozen.
        let state = m.getattr("state").unwrap();
        assert!(!is_frozen(&state));
        state.append(1.into()).unwrap();
        check_invariants(&[&m]).unwrap();
        drop((m, state));
        clear_modules();
        assert_eq!(heap_live(), 0);
    });
}

fn read_capture(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.cell_get()
}

#[test]
fn f1_closure_whose_hook_fails_still_detaches_its_cells() {
    on_thread(30, || {
        let base = heap_live();
        let cell = Value::cell(1.into());
        let f = Value::function("f", 0, read_capture, vec![cell.clone()], vec![]);
        set_pre_freeze_hook(&f, failing).unwrap();
        assert!(freeze(&[&f]).is_err());
        freeze(&[&f]).unwrap();
        // The defining scope's cell is not the function's, and stays free.
        assert!(!is_frozen(&cell));
        cell.cell_set(2.into()).unwrap();
        assert_eq!(f.call(&[]).unwrap().as_int(), Some(1));
        check_invariants(&[&f, &cell]).unwrap();
        drop((f, cell));
        assert_eq!(heap_live(), base);
    });
}

// ---- 2. a hook that freezes its own object ----

fn freeze_me(me: &Value) -> Result<(), Error> {
    freeze(&[me]).map_err(Error::from)
}

#[test]
fn f2_weakref_whose_hook_freezes_it_points_at_a_frozen_object() {
    on_thread(30, || {
        let base = heap_live();
        let target = Value::list(vec![1.into()]);
        let w = Value::weakref(&target).unwrap();
        set_pre_freeze_hook(&w, freeze_me).unwrap();
        freeze(&[&w]).unwrap();
        check_invariants_exact(&[&w, &target]).unwrap();
        let shared = w.share().unwrap();
        std::thread::spawn(move || {
            let t = shared.value().weak_get().unwrap().unwrap();
            assert!(is_frozen(&t));
            assert!(t.append(2.into()).is_err());
        })
        .join()
        .unwrap();
        assert_eq!(target.len().unwrap(), 1);
        drop((w, target));
        assert_eq!(heap_live(), base);
    });
}

#[test]
fn f2_self_referencing_proxy_module_whose_hook_freezes_it() {
    on_thread(30, || {
        let m = Value::module("f2_self_mod");
        m.setattr("me", m.clone()).unwrap();
        set_freezable(&m, Freezability::Proxy).unwrap();
        set_pre_freeze_hook(&m, freeze_me).unwrap();
        freeze(&[&m]).unwrap();
        check_invariants(&[&m]).unwrap();
        drop(m);
        let state = import("f2_self_mod").unwrap();
        let me = state.getattr("me").unwrap();
        assert!(is_frozen(&me));
        // Reads through the proxy reach this worker's state again.
        assert!(me.getattr("me").unwrap().is(&me));
        check_invariants(&[&state, &me]).unwrap();
        drop((state, me));
        clear_modules();
        collect();
        assert_eq!(heap_live(), 0);
    });
}

// ---- 3. thread teardown ----

struct LateDrop {
    held: std::cell::RefCell<Option<(Value, Value)>>,
    out: std::sync::mpsc::Sender<Option<bool>>,
}

impl Drop for LateDrop {
    fn drop(&mut self) {
        if let Some((target, w)) = self.held.borrow_mut().take() {
            drop(target);
            // The weak table was destroyed before this destructor ran.
            let _ = self.out.send(w.weak_get().ok().map(|r| r.is_none()));
        }
    }
}

#[test]
fn f3_weakref_read_after_the_weak_table_is_gone_says_none() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        thread_local! {
            static HOLD: std::cell::RefCell<Option<LateDrop>> = const { std::cell::RefCell::new(None) };
        }
        // Registered first, so destroyed after the crate's thread-locals.
        HOLD.with(|h| {
            *h.borrow_mut() = Some(LateDrop {
                held: Default::default(),
                out: tx,
            })
        });
        let target = Value::list(vec![1.into()]);
        let w = Value::weakref(&target).unwrap();
        assert!(w.weak_get().unwrap().is_some());
        HOLD.with(|h| *h.borrow().as_ref().unwrap().held.borrow_mut() = Some((target, w)));
    })
    .join()
    .unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got, Some(true), "weak_get after teardown must say None");
}

// ---- 4. circular imports ----

static B_INITS: AtomicUsize = AtomicUsize::new(0);

fn init_a(m: &Value) -> Result<(), Error> {
    let b = import("f4_b")?;
    m.setattr("b", b)?;
    m.setattr("ready", true.into())
}

fn init_b(m: &Value) -> Result<(), Error> {
    B_INITS.fetch_add(1, SeqCst);
    // `a` is half-built here, as in Python.
    let a = import("f4_a")?;
    assert!(a.getattr("ready").is_err());
    m.setattr("a", a)
}

fn init_fails(m: &Value) -> Result<(), Error> {
    m.setattr("x", 1.into())?;
    Err(Error::Other("init failed".into()))
}

#[test]
fn f4_circular_imports_find_the_half_built_module() {
    on_thread(30, || {
        register_module("f4_a", init_a);
        register_module("f4_b", init_b);
        let a = import("f4_a").unwrap();
        let b = import("f4_b").unwrap();
        assert!(a.getattr("b").unwrap().is(&b));
        assert!(b.getattr("a").unwrap().is(&a));
        assert_eq!(B_INITS.load(SeqCst), 1);
        drop((a, b));
        clear_modules();
        collect();
        assert_eq!(heap_live(), 0);
    });
}

#[test]
fn f4_a_failed_init_is_not_left_registered() {
    on_thread(30, || {
        register_module("f4_fails", init_fails);
        assert!(import("f4_fails").is_err());
        assert!(import("f4_fails").is_err(), "the half-built module stayed");
        assert_eq!(heap_live(), 0);
    });
}

// ---- 5. many hooks: linear work, paths only on error ----

static HOOKS_RAN: AtomicUsize = AtomicUsize::new(0);

fn count_hook(c: &Call<'_>) -> Result<Value, Error> {
    HOOKS_RAN.fetch_add(1, SeqCst);
    let me = c.arg(0)?;
    if me.getattr("poison").is_ok() {
        return Err(Error::Other("poisoned".into()));
    }
    Ok(Value::None)
}

#[test]
fn f5_a_long_chain_of_hooked_instances_freezes_and_names_a_failing_one() {
    on_thread(120, || {
        let hook = Value::function("__pre_freeze__", 1, count_hook, vec![], vec![]);
        let cls = Value::class("Hooked", vec![], vec![("__pre_freeze__", hook)]).unwrap();
        let n = 20_000;
        let mut head = cls.instantiate(vec![("next", Value::None)]).unwrap();
        let mut nodes = vec![head.clone()];
        for _ in 1..n {
            head = cls.instantiate(vec![("next", head)]).unwrap();
            nodes.push(head.clone());
        }
        // A failing hook 3 links from the head: its path is reported.
        nodes[n - 4].setattr("poison", true.into()).unwrap();
        drop(nodes);
        HOOKS_RAN.store(0, SeqCst);
        let e = freeze(&[&head, &cls]).unwrap_err();
        assert!(
            matches!(&e.reason, FreezeReason::Hook(m) if m.to_string().ends_with("poisoned")),
            "{e}"
        );
        assert_eq!(e.path, "roots[0].next.next.next");
        let ran = HOOKS_RAN.load(SeqCst);
        assert!(ran <= n, "{ran} hooks ran for {n} objects");
        // Remove the poison; the rest runs once each, never again.
        let mut p = head.clone();
        for _ in 0..3 {
            p = p.getattr("next").unwrap();
        }
        p.delattr("poison").unwrap();
        drop(p);
        freeze(&[&head, &cls]).unwrap();
        assert_eq!(HOOKS_RAN.load(SeqCst), n, "every hook ran exactly once");
        check_invariants(&[&head]).unwrap();
    });
}

#[test]
fn f5_many_closures_with_cells_freeze_in_one_pass_each() {
    on_thread(120, || {
        let base = heap_live();
        let fns: Vec<Value> = (0..100_000)
            .map(|i| Value::function("c", 0, read_capture, vec![Value::cell(i.into())], vec![]))
            .collect();
        let l = Value::list(fns);
        freeze(&[&l]).unwrap();
        assert_eq!(
            l.get(99_999).unwrap().call(&[]).unwrap().as_int(),
            Some(99_999)
        );
        check_invariants_exact(&[&l]).unwrap();
        drop(l);
        assert_eq!(heap_live(), base);
    });
}

// ---- 6. a panic inside collect() ----

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("capture dropped");
        }
    }
}

#[test]
fn f6_a_panic_inside_collect_leaves_the_collector_working() {
    on_thread(30, || {
        let base = heap_live();
        for _ in 0..2 {
            let a = Value::list(vec![]);
            let b = Value::list(vec![a.clone()]);
            a.append(b.clone()).unwrap();
            let spy = PanicOnDrop;
            set_pre_freeze_hook(&a, move |_| {
                let _ = &spy;
                Ok(())
            })
            .unwrap();
            drop((a, b));
        }
        assert_eq!(heap_live(), base + 4);
        let r = std::panic::catch_unwind(collect);
        assert!(r.is_err(), "the capture's panic goes on");
        // Everything the first collection held was released anyway.
        assert_eq!(heap_live(), base);
        // And the collector still runs.
        let a = Value::list(vec![]);
        a.append(a.clone()).unwrap();
        drop(a);
        assert_eq!(collect(), 1);
        assert_eq!(heap_live(), base);
    });
}

// ---- 7. a hook that re-arms itself ----

static REARMS: AtomicUsize = AtomicUsize::new(0);

fn rearm(me: &Value) -> Result<(), Error> {
    REARMS.fetch_add(1, SeqCst);
    set_pre_freeze_hook(me, rearm)
}

#[test]
fn f7_a_hook_that_rearms_itself_runs_once_and_freeze_ends() {
    on_thread(30, || {
        let base = heap_live();
        let obj = Value::list(vec![1.into()]);
        set_pre_freeze_hook(&obj, rearm).unwrap();
        freeze(&[&obj]).unwrap();
        assert_eq!(REARMS.load(SeqCst), 1);
        assert!(is_frozen(&obj));
        check_invariants_exact(&[&obj]).unwrap();
        drop(obj);
        assert_eq!(heap_live(), base);
    });
}

// ---- 9. leaks ----

#[test]
fn f9_a_shared_field_cannot_be_made_to_reach_itself() {
    on_thread(30, || {
        let base = heap_live();
        let fbase = frozen_live();
        let field = Value::shared_field(Value::None).unwrap();
        let l = Value::list(vec![field.clone()]);
        freeze(&[&l]).unwrap();
        assert_eq!(field.field_set(l.clone()), Err(Error::FieldCycle));
        // Through a second field as well.
        let g = Value::shared_field(Value::None).unwrap();
        let m = Value::list(vec![g.clone()]);
        freeze(&[&m]).unwrap();
        field.field_set(m.clone()).unwrap(); // field -> m -> g
        assert_eq!(g.field_set(l.clone()), Err(Error::FieldCycle)); // g -> l -> field
        assert!(!g
            .field_compare_and_swap(&Value::None, l.clone())
            .is_ok_and(|b| b));
        // A field-free value goes in (and is remembered as field-free).
        let t = Value::tuple(vec![1.into(), Value::str("x")]);
        g.field_set(t.clone()).unwrap();
        g.field_set(t).unwrap();
        check_invariants(&[&l, &m, &field, &g]).unwrap();
        drop((field, l, g, m));
        assert_eq!(heap_live(), base);
        assert_eq!(frozen_live(), fbase);
    });
}

fn callback_via_cell(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)
}

#[test]
fn f9_a_weakref_callback_that_refers_to_its_weakref_is_collected() {
    on_thread(30, || {
        let base = heap_live();
        let target = Value::list(vec![]);
        let cell = Value::cell(Value::None);
        let cb = Value::function("cb", 1, callback_via_cell, vec![cell.clone()], vec![]);
        let w = Value::weakref_with_callback(&target, Some(cb)).unwrap();
        cell.cell_set(w.clone()).unwrap();
        check_invariants(&[&w, &target]).unwrap();
        drop((w, cell));
        assert_eq!(heap_live(), base + 4);
        assert_eq!(collect(), 3);
        assert_eq!(heap_live(), base + 1);
        check_invariants_exact(&[&target]).unwrap();
        drop(target);
        assert_eq!(run_weak_callbacks().unwrap(), 0);
        assert_eq!(heap_live(), base);
    });
}

// ---- 10. one admission rule ----

#[test]
fn f10_a_tuple_of_frozen_values_is_admitted_everywhere() {
    on_thread(30, || {
        let t = Value::tuple(vec![1.into(), Value::str("a")]);
        assert!(is_frozen(&t));
        t.share().unwrap();
        let f = Value::shared_field(Value::None).unwrap();
        f.field_set(Value::tuple(vec![1.into()])).unwrap();
        assert!(f.field_compare_and_swap(&Value::None, t.clone()).is_ok());
        let old = f.field_swap(t.clone()).unwrap();
        assert_eq!(old.get(0).unwrap().as_int(), Some(1));
        Value::interpreter_local(Value::tuple(vec![2.into()])).unwrap();
        // A tuple holding a mutable value is refused by all of them.
        let bad = Value::tuple(vec![Value::list(vec![])]);
        assert_eq!(f.field_set(bad.clone()), Err(Error::NotFrozen("tuple")));
        assert!(bad.share().is_err());
        assert!(!is_frozen(&bad));
    });
}

// ---- hooks in general: consistent after every kind of outcome ----

#[test]
fn hooks_leave_a_consistent_graph_whatever_they_do() {
    on_thread(60, || {
        let base = heap_live();
        type Hook = fn(&Value) -> Result<(), Error>;
        let kinds: [Hook; 4] = [failing, freeze_me, rearm, |me| me.append(1.into())];
        for (i, hook) in kinds.into_iter().enumerate() {
            let target = Value::list(vec![]);
            let w = Value::weakref(&target).unwrap();
            let root = Value::list(vec![w.clone(), target.clone()]);
            set_pre_freeze_hook(&root, hook).unwrap();
            set_pre_freeze_hook(&target, hook).unwrap();
            // Each failing hook fails one freeze (it has run); then it works.
            let mut tries = 0;
            while freeze(&[&root]).is_err() {
                check_invariants(&[&root]).unwrap_or_else(|e| panic!("hook {i}: {e}"));
                tries += 1;
                assert!(tries <= 2, "hook {i}: a hook ran twice");
            }
            assert!(
                is_frozen(&root) && is_frozen(&target) && is_frozen(&w),
                "hook {i}"
            );
            check_invariants_exact(&[&root, &w, &target]).unwrap_or_else(|e| panic!("{i}: {e}"));
            drop((root, w, target));
            assert_eq!(heap_live(), base, "hook {i}");
        }
    });
}

// ---- found by the property tests under valgrind ----

fn never_called(_: &Call<'_>) -> Result<Value, Error> {
    panic!("a dead weakref's callback ran");
}

#[test]
fn a_weakref_dying_with_its_referent_runs_no_callback() {
    on_thread(30, || {
        let base = heap_live();
        let target = Value::list(vec![]);
        let cb = Value::function("cb", 1, never_called, vec![], vec![]);
        let w = Value::weakref_with_callback(&target, Some(cb)).unwrap();
        // The free loop frees the referent first (last pushed, first
        // popped) while the weakref, already at count zero, waits in the
        // queue: it must not be resurrected for its callback.
        let holder = Value::list(vec![w, target]);
        drop(holder);
        assert_eq!(run_weak_callbacks().unwrap(), 0);
        check_invariants(&[]).unwrap();
        assert_eq!(heap_live(), base);
    });
}
