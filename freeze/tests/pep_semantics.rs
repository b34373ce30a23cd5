//! PEP 795 behaviours 9-15 and 19-25 (see `PEP795.md` section 6 and
//! `docs/semantics.md`), one test per behaviour, named after it.
//!
//! Where this runtime deliberately differs from the PEP the test asserts
//! what this runtime does, and `docs/semantics.md` says why.
//!
//! Behaviours 20-23 involve several interpreters: each is a real
//! `std::thread` with its own heap; frozen values cross as [`Frozen`].
//!
//! `frozen_live()` is process-global and every test here allocates frozen
//! objects (`str` is frozen from birth), so every test holds [`LOCK`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::embed::clear_interpreter_locals;
use permafrost_freeze::*;

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn int(v: &Value) -> i64 {
    v.as_int().expect("an int")
}

fn thread_tag() -> String {
    format!("{:?}", std::thread::current().id())
}

// ---------------------------------------------------------------------------
// Native function bodies used below.

/// A method of one class that reads the other class through a captured
/// module-level variable (a cell), as `B.tag` inside `A.ping` would.
fn ping_partner(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.cell_get()?.getattr("tag")
}

/// `lambda: x` with `x` captured by reference (a cell).
fn read_cell(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.cell_get()
}

/// Returns the captured cell itself (to look at what the closure holds).
fn captured_cell(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)
}

/// `global g; g += 1` with `g` captured as a cell.
fn bump_global(c: &Call<'_>) -> Result<Value, Error> {
    let g = c.captured(0)?;
    let n = int(&g.cell_get()?);
    g.cell_set((n + 1).into())?;
    Ok(Value::None)
}

/// `captured_list.append(1)`.
fn append_captured(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.append(1.into())?;
    Ok(Value::None)
}

/// `arg.append(1)`: a frozen function may mutate its (mutable) arguments.
fn append_arg(c: &Call<'_>) -> Result<Value, Error> {
    c.arg(0)?.append(1.into())?;
    Ok(Value::None)
}

/// `def f(x=<default>): return x`.
fn identity_or_default(c: &Call<'_>) -> Result<Value, Error> {
    c.arg(0)
}

fn return_one(_: &Call<'_>) -> Result<Value, Error> {
    Ok(1.into())
}

/// Reads `counter` from the captured module object.
fn read_counter(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.getattr("counter")
}

/// `import pf_b14_cfg` inside the function body.
fn import_inside(_: &Call<'_>) -> Result<Value, Error> {
    import("pf_b14_cfg")
}

fn b14_init(m: &Value) -> Result<(), Error> {
    m.setattr("counter", 0.into())
}

/// `__pre_freeze__(self)`: counts its runs and records whether `self` was
/// still mutable when it ran.
fn pre_freeze_count(c: &Call<'_>) -> Result<Value, Error> {
    let this = c.arg(0)?;
    let n = this.getattr("hook_runs").ok().and_then(|v| v.as_int());
    this.setattr("hook_runs", (n.unwrap_or(0) + 1).into())?;
    this.setattr("frozen_during_hook", is_frozen(&this).into())?;
    Ok(Value::None)
}

/// `__pre_freeze__(self)` that leaves a trace and then raises.
fn pre_freeze_refuse(c: &Call<'_>) -> Result<Value, Error> {
    c.arg(0)?.setattr("touched", true.into())?;
    Err(Error::Other("refused by __pre_freeze__".into()))
}

fn make_list(_: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::list(vec![]))
}

/// Weakref callback: appends the running thread's id to the captured log.
fn log_thread(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.append(Value::from(thread_tag()))?;
    Ok(Value::None)
}

// ---------------------------------------------------------------------------

/// Two classes whose methods reference each other through module-level
/// variables (cells). Returns `(A, B, global_A, global_B)`.
fn mutual_pair(extra_b: Vec<(&str, Value)>) -> (Value, Value, Value, Value) {
    let g_a = Value::cell(Value::None);
    let g_b = Value::cell(Value::None);
    let a = Value::class(
        "A",
        vec![],
        vec![
            ("tag", "A".into()),
            (
                "ping",
                Value::function("ping", 1, ping_partner, vec![g_b.clone()], vec![]),
            ),
        ],
    )
    .unwrap();
    let mut b_attrs = vec![
        ("tag", Value::from("B")),
        (
            "ping",
            Value::function("ping", 1, ping_partner, vec![g_a.clone()], vec![]),
        ),
    ];
    b_attrs.extend(extra_b);
    let b = Value::class("B", vec![], b_attrs).unwrap();
    g_a.cell_set(a.clone()).unwrap();
    g_b.cell_set(b.clone()).unwrap();
    (a, b, g_a, g_b)
}

#[test]
fn b09_mutually_dependent_classes() {
    let _g = serial();
    let (a, b, g_a, g_b) = mutual_pair(vec![]);

    // freeze(A) alone reaches B, which is Explicit and not a root.
    let e = freeze(&[&a]).unwrap_err();
    assert_eq!(e.reason, FreezeReason::Explicit);
    assert_eq!(e.type_name, "type (B)");
    assert_eq!(e.path, "root.ping.__closure__[0].cell_contents");
    assert!(!is_frozen(&a) && !is_frozen(&b));
    assert!(!is_frozen(&a.getattr("ping").unwrap()));
    a.setattr("extra", 1.into()).unwrap(); // still mutable

    // freeze(A, B) in one call succeeds.
    freeze(&[&a, &b]).unwrap();
    assert!(is_frozen(&a) && is_frozen(&b));
    assert!(is_frozen(&a.getattr("ping").unwrap()));
    assert!(is_frozen(&b.getattr("ping").unwrap()));
    assert!(a.setattr("extra", 2.into()).is_err());
    let ai = a.instantiate(vec![]).unwrap();
    let bi = b.instantiate(vec![]).unwrap();
    assert_eq!(ai.call_method("ping", &[]).unwrap().as_str(), Some("B"));
    assert_eq!(bi.call_method("ping", &[]).unwrap().as_str(), Some("A"));
    // The methods were detached: the module-level variables stay rebindable
    // and rebinding them does not change what the frozen methods see.
    assert!(!is_frozen(&g_a) && !is_frozen(&g_b));
    g_b.cell_set(Value::None).unwrap();
    assert_eq!(ai.call_method("ping", &[]).unwrap().as_str(), Some("B"));

    // If B fails for another reason, nothing stays frozen.
    let cache = Value::list(vec![]);
    unfreezable(&cache).unwrap();
    let (a2, b2, g_a2, g_b2) = mutual_pair(vec![("cache", cache.clone())]);
    let e = freeze(&[&a2, &b2]).unwrap_err();
    assert_eq!(e.reason, FreezeReason::StatusNo);
    assert_eq!(e.type_name, "list");
    assert!(e.path.to_string().ends_with(".cache"), "path {}", e.path);
    for v in [
        &a2,
        &b2,
        &g_a2,
        &g_b2,
        &cache,
        &a2.getattr("ping").unwrap(),
        &b2.getattr("ping").unwrap(),
    ] {
        assert!(!is_frozen(v), "{v:?} stayed frozen");
    }
    a2.setattr("x", 1.into()).unwrap();
    b2.setattr("x", 1.into()).unwrap();
    cache.append(1.into()).unwrap();
}

#[test]
fn b10_closure_snapshot() {
    let _g = serial();
    let x = Value::cell(42.into());
    let foo = Value::function("foo", 0, read_cell, vec![x.clone()], vec![]);
    // Before freezing, the closure shares the variable with its scope.
    x.cell_set(43.into()).unwrap();
    assert_eq!(int(&foo.call(&[]).unwrap()), 43);
    x.cell_set(42.into()).unwrap();

    frozen(&foo).unwrap();
    assert!(is_frozen(&foo));
    // x in the defining scope is still rebindable...
    assert!(!is_frozen(&x));
    x.cell_set(4711.into()).unwrap();
    // ...and the frozen function keeps the value it had at freeze time.
    assert_eq!(int(&foo.call(&[]).unwrap()), 42);

    // The function now holds a fresh frozen cell, not the scope's cell.
    let peek = Value::function("peek", 0, captured_cell, vec![x.clone()], vec![]);
    frozen(&peek).unwrap();
    let inner = peek.call(&[]).unwrap();
    assert!(!inner.is(&x));
    assert!(is_frozen(&inner));
    assert_eq!(int(&inner.cell_get().unwrap()), 4711);
    assert_eq!(
        inner.cell_set(0.into()).unwrap_err(),
        Error::Immutable("cell")
    );

    // This runtime: detachment is the function's pre-freeze hook, so (like
    // any hook side effect) it stays done when the freeze fails later on.
    let y = Value::cell(1.into());
    let bad = Value::list(vec![]);
    unfreezable(&bad).unwrap();
    let g = Value::function("g", 0, read_cell, vec![y.clone(), bad.clone()], vec![]);
    assert_eq!(freeze(&[&g]).unwrap_err().reason, FreezeReason::StatusNo);
    assert!(!is_frozen(&g) && !is_frozen(&y));
    y.cell_set(2.into()).unwrap();
    assert_eq!(
        int(&g.call(&[]).unwrap()),
        1,
        "g was detached by the failed freeze"
    );
}

#[test]
fn b11_frozen_function_writing_captured_state() {
    let _g = serial();
    // global g; g += 1
    let g = Value::cell(0.into());
    let unrelated = Value::list(vec![]);
    let f = Value::function("f", 0, bump_global, vec![g.clone()], vec![]);
    f.call(&[]).unwrap();
    assert_eq!(int(&g.cell_get().unwrap()), 1);
    frozen(&f).unwrap();
    assert_eq!(f.call(&[]).unwrap_err(), Error::Immutable("cell"));
    assert_eq!(
        f.call(&[]).unwrap_err().to_string(),
        "object of type cell is immutable"
    );
    // The defining scope's variable is untouched and still rebindable; the
    // unrelated global is not frozen.
    assert!(!is_frozen(&g));
    assert_eq!(int(&g.cell_get().unwrap()), 1);
    g.cell_set(10.into()).unwrap();
    assert!(!is_frozen(&unrelated));
    unrelated.append(1.into()).unwrap();

    // A captured list is frozen with the function; appending raises.
    let lst = Value::list(vec![Value::Int(7)]);
    let h = Value::function("h", 0, append_captured, vec![lst.clone()], vec![]);
    frozen(&h).unwrap();
    assert!(is_frozen(&lst));
    assert_eq!(h.call(&[]).unwrap_err(), Error::Immutable("list"));
    assert_eq!(lst.len().unwrap(), 1);
    assert!(lst.append(2.into()).is_err()); // through the outer alias too
    assert!(!is_frozen(&unrelated));

    // A frozen function may still mutate its mutable arguments.
    let k = Value::function("k", 1, append_arg, vec![], vec![]);
    frozen(&k).unwrap();
    let arg = Value::list(vec![]);
    k.call(std::slice::from_ref(&arg)).unwrap();
    assert_eq!(arg.len().unwrap(), 1);
    assert!(!is_frozen(&arg));
}

#[test]
fn b12_defaults_frozen_with_function() {
    let _g = serial();
    let default_list = Value::list(vec![Value::Int(1)]);
    let default_dict = Value::dict();
    let f = Value::function(
        "f",
        1,
        identity_or_default,
        vec![],
        vec![default_list.clone()],
    );
    let f2 = Value::function(
        "f2",
        1,
        identity_or_default,
        vec![],
        vec![default_dict.clone()],
    );
    assert!(!is_frozen(&default_list));
    frozen(&f).unwrap();
    frozen(&f2).unwrap();
    assert!(is_frozen(&default_list));
    assert!(is_frozen(&default_dict));
    let d = f.call(&[]).unwrap();
    assert!(d.is(&default_list));
    assert_eq!(d.append(2.into()).unwrap_err(), Error::Immutable("list"));
    assert_eq!(d.len().unwrap(), 1);
    assert!(default_dict.set_item("k".into(), 1.into()).is_err());
    // An explicit argument is passed as is (and stays mutable).
    let arg = Value::list(vec![]);
    let got = f.call(std::slice::from_ref(&arg)).unwrap();
    assert!(got.is(&arg) && !is_frozen(&got));
}

#[test]
fn b13_class_freezes_methods_and_class_vars() {
    let _g = serial();
    let units = Value::list(vec![Value::from("cm")]);
    let c = Value::class(
        "Shape",
        vec![],
        vec![
            (
                "area",
                Value::function("area", 1, return_one, vec![], vec![]),
            ),
            ("units", units.clone()),
        ],
    )
    .unwrap();
    freeze(&[&c]).unwrap();
    let area = c.getattr("area").unwrap();
    assert!(is_frozen(&area));
    assert!(is_frozen(&units));
    assert!(units.append("m".into()).is_err());
    // A frozen class cannot gain, lose or change methods or class variables.
    assert_eq!(
        c.setattr("perimeter", Value::None).unwrap_err(),
        Error::Immutable("type")
    );
    assert!(c.setattr("area", Value::None).is_err());
    assert!(c.delattr("area").is_err());
    let inst = c.instantiate(vec![]).unwrap();
    assert_eq!(int(&inst.call_method("area", &[]).unwrap()), 1);

    // As in PEP 795: an @unfreezable method does not block its class. The
    // frozen class gets a stub in its place, and calling it raises.
    let units2 = Value::list(vec![]);
    let bad = Value::function("bad", 1, return_one, vec![], vec![]);
    unfreezable(&bad).unwrap();
    let c2 = Value::class(
        "Shape2",
        vec![],
        vec![
            (
                "area",
                Value::function("area", 1, return_one, vec![], vec![]),
            ),
            ("bad", bad.clone()),
            ("units", units2.clone()),
        ],
    )
    .unwrap();
    freeze(&[&c2]).unwrap();
    assert!(is_frozen(&c2) && is_frozen(&units2));
    assert!(!is_frozen(&bad), "the original method stays mutable");
    assert_eq!(int(&bad.call(&[Value::None]).unwrap()), 1);
    let inst2 = c2.instantiate(vec![]).unwrap();
    assert_eq!(int(&inst2.call_method("area", &[]).unwrap()), 1);
    let err = inst2.call_method("bad", &[]).unwrap_err().to_string();
    assert!(err.contains("unfreezable"), "{err}");

    // A function marked No that is reached other than as a class's method
    // still blocks the freeze, with nothing frozen.
    let holder = Value::list(vec![bad.clone()]);
    let e = freeze(&[&holder]).unwrap_err();
    assert_eq!(e.reason, FreezeReason::StatusNo);
    assert_eq!(e.path, "root[0]");
    assert!(!is_frozen(&holder));
}

#[test]
fn b14_module_capture() {
    let _g = serial();
    register_module("pf_b14_cfg", b14_init);
    let m = import("pf_b14_cfg").unwrap();
    m.setattr("counter", 5.into()).unwrap();
    let f = Value::function("f", 0, read_counter, vec![m.clone()], vec![]);

    // Modules default to No: a function referencing one cannot be frozen.
    assert_eq!(effective_freezable(&m), Freezability::No);
    let e = freeze(&[&f]).unwrap_err();
    assert_eq!(e.reason, FreezeReason::StatusNo);
    assert_eq!(e.type_name, "module (pf_b14_cfg)");
    assert_eq!(e.path, "root.__closure__[0]");
    assert!(!is_frozen(&f) && !is_frozen(&m));

    // With Proxy the module becomes a proxy for the current interpreter's
    // module of that name.
    set_freezable(&m, Freezability::Proxy).unwrap();
    freeze(&[&f]).unwrap();
    assert!(is_frozen(&f) && is_frozen(&m));
    assert_eq!(int(&f.call(&[]).unwrap()), 5);
    let here = import("pf_b14_cfg").unwrap();
    assert!(!here.is(&m) && !is_frozen(&here));
    m.setattr("counter", 6.into()).unwrap(); // writes go to this worker's module
    assert_eq!(int(&here.getattr("counter").unwrap()), 6);
    assert_eq!(int(&f.call(&[]).unwrap()), 6);

    let shared = f.share().unwrap();
    let seen = std::thread::spawn(move || {
        let f = shared.value();
        let first = int(&f.call(&[]).unwrap()); // fresh module in this worker
        import("pf_b14_cfg")
            .unwrap()
            .setattr("counter", 100.into())
            .unwrap();
        (first, int(&f.call(&[]).unwrap()))
    })
    .join()
    .unwrap();
    assert_eq!(seen, (0, 100));
    assert_eq!(
        int(&f.call(&[]).unwrap()),
        6,
        "other worker's state is separate"
    );

    // `import` inside a frozen function gets this interpreter's mutable module.
    let g = Value::function("g", 0, import_inside, vec![], vec![]);
    frozen(&g).unwrap();
    let got = g.call(&[]).unwrap();
    assert!(got.is(&here) && !is_frozen(&got));

    // With Yes, the module's state itself is frozen.
    let m2 = Value::module("pf_b14_plain");
    m2.setattr("counter", 1.into()).unwrap();
    set_freezable(&m2, Freezability::Yes).unwrap();
    let f2 = Value::function("f2", 0, read_counter, vec![m2.clone()], vec![]);
    freeze(&[&f2]).unwrap();
    assert!(is_frozen(&m2));
    assert_eq!(int(&f2.call(&[]).unwrap()), 1);
    assert_eq!(
        m2.setattr("counter", 2.into()).unwrap_err(),
        Error::Immutable("module")
    );
}

#[test]
fn b15_pre_freeze_hook() {
    let _g = serial();
    // __pre_freeze__ runs once, before the object is frozen.
    let c = Value::class(
        "Hooked",
        vec![],
        vec![(
            "__pre_freeze__",
            Value::function("__pre_freeze__", 1, pre_freeze_count, vec![], vec![]),
        )],
    )
    .unwrap();
    let i1 = c.instantiate(vec![]).unwrap();
    let i2 = c.instantiate(vec![("peer", i1.clone())]).unwrap();
    i1.setattr("peer", i2.clone()).unwrap(); // a cycle: each reached twice
    let holder = Value::list(vec![i1.clone(), i2.clone(), i1.clone()]);
    freeze(&[&holder, &c]).unwrap();
    for i in [&i1, &i2] {
        assert!(is_frozen(i));
        assert_eq!(int(&i.getattr("hook_runs").unwrap()), 1);
        assert_eq!(
            i.getattr("frozen_during_hook").unwrap().as_bool(),
            Some(false)
        );
    }

    // If it raises, nothing is frozen, but its side effects remain.
    let d = Value::class(
        "Refuses",
        vec![],
        vec![(
            "__pre_freeze__",
            Value::function("__pre_freeze__", 1, pre_freeze_refuse, vec![], vec![]),
        )],
    )
    .unwrap();
    let child = Value::list(vec![]);
    let di = d.instantiate(vec![("child", child.clone())]).unwrap();
    let e = freeze(&[&di, &d]).unwrap_err();
    assert!(
        matches!(&e.reason, FreezeReason::Hook(h) if h.to_string() == "refused by __pre_freeze__"),
        "{e}"
    );
    assert_eq!(e.type_name, "Refuses");
    assert!(!is_frozen(&di) && !is_frozen(&d) && !is_frozen(&child));
    assert_eq!(di.getattr("touched").unwrap().as_bool(), Some(true));
    // This runtime (as the prototype): a hook runs at most once per object,
    // so a second attempt does not run it again and succeeds.
    freeze(&[&di, &d]).unwrap();
    assert!(is_frozen(&di) && is_frozen(&child));

    // set_pre_freeze_hook: the hook may mutate, e.g. drop what cannot freeze.
    let runs = Rc::new(Cell::new(0));
    let secret = Value::list(vec![]);
    unfreezable(&secret).unwrap();
    let cfg = Value::dict_from(vec![("secret".into(), secret.clone())]).unwrap();
    let r = runs.clone();
    set_pre_freeze_hook(&cfg, move |d| {
        r.set(r.get() + 1);
        d.del_item(&"secret".into())?;
        d.set_item("sealed".into(), true.into())
    })
    .unwrap();
    freeze(&[&cfg]).unwrap();
    assert_eq!(runs.get(), 1);
    assert!(is_frozen(&cfg) && !is_frozen(&secret));
    assert_eq!(cfg.len().unwrap(), 1);

    // A hook's side effects remain when the freeze fails for another reason.
    let runs = Rc::new(Cell::new(0));
    let bad = Value::list(vec![]);
    unfreezable(&bad).unwrap();
    let d1 = Value::dict();
    let r = runs.clone();
    set_pre_freeze_hook(&d1, move |d| {
        r.set(r.get() + 1);
        d.set_item("sealed".into(), true.into())
    })
    .unwrap();
    let root = Value::list(vec![d1.clone(), bad.clone()]);
    assert_eq!(freeze(&[&root]).unwrap_err().reason, FreezeReason::StatusNo);
    assert_eq!(runs.get(), 1);
    assert!(!is_frozen(&d1) && !is_frozen(&root));
    assert!(d1.get_str("sealed").unwrap().is_some());

    // This runtime: a hook may itself call freeze (hooks run between walks).
    let other = Value::list(vec![Value::Int(1)]);
    let obj = Value::list(vec![]);
    let o = other.clone();
    set_pre_freeze_hook(&obj, move |_| freeze(&[&o]).map_err(Error::from)).unwrap();
    freeze(&[&obj]).unwrap();
    assert!(is_frozen(&obj) && is_frozen(&other));
}

#[test]
fn b19_weakref_strengthened() {
    let _g = serial();
    let target = Value::list(vec![Value::Int(1), Value::Int(2)]);
    let w = Value::weakref(&target).unwrap();
    let holder = Value::list(vec![w.clone()]);
    freeze(&[&holder]).unwrap();
    assert!(is_frozen(&w));
    assert!(is_frozen(&target), "the referent froze with the graph");
    let id = target.as_obj().unwrap().id();
    drop(target);
    let got = w
        .weak_get()
        .unwrap()
        .expect("referent survives: the ref is strong");
    assert_eq!(got.as_obj().unwrap().id(), id);
    assert_eq!(got.len().unwrap(), 2);
    assert!(is_frozen(&got));

    // This runtime: strengthening is a built-in pre-freeze hook, so a failed
    // freeze leaves the weakref strong (and the referent mutable).
    let t2 = Value::list(vec![]);
    let w2 = Value::weakref(&t2).unwrap();
    let bad = Value::list(vec![]);
    unfreezable(&bad).unwrap();
    let h2 = Value::list(vec![w2.clone(), bad.clone()]);
    assert!(freeze(&[&h2]).is_err());
    assert!(!is_frozen(&w2) && !is_frozen(&t2));
    drop(t2);
    let kept = w2
        .weak_get()
        .unwrap()
        .expect("still strong after the failure");
    assert!(!is_frozen(&kept));
    kept.append(1.into()).unwrap();

    // This runtime: a referent that dies while the freeze runs (here a hook
    // drops its last reference before the weakref is strengthened) leaves a
    // dead frozen weakref; the freeze succeeds rather than failing.
    let t5 = Value::list(vec![]);
    let w5 = Value::weakref(&t5).unwrap();
    let victim = Value::dict();
    let h5 = Value::list(vec![victim.clone(), w5.clone()]);
    let last_ref = RefCell::new(Some(t5));
    set_pre_freeze_hook(&victim, move |_| {
        last_ref.borrow_mut().take();
        Ok(())
    })
    .unwrap();
    freeze(&[&h5]).unwrap();
    assert!(is_frozen(&w5));
    assert!(w5.weak_get().unwrap().is_none());

    // A weakref made later to a frozen object is an ordinary weak reference.
    let t3 = Value::list(vec![]);
    freeze(&[&t3]).unwrap();
    let w3 = Value::weakref(&t3).unwrap();
    assert!(w3.weak_get().unwrap().is_some());
    drop(t3);
    assert!(w3.weak_get().unwrap().is_none());

    // A weakref to a mutable object outside any freeze stays weak.
    let t4 = Value::list(vec![]);
    let w4 = Value::weakref(&t4).unwrap();
    drop(t4);
    assert!(w4.weak_get().unwrap().is_none());
}

#[test]
fn b20_shared_field() {
    let _g = serial();
    let init = Value::list(vec![Value::Int(0)]);
    let field = Value::shared_field(init.clone()).unwrap();
    assert!(
        is_frozen(&init),
        "the constructor freezes the initial value"
    );
    assert!(field.field_get().unwrap().is(&init));

    // Only frozen values may be stored.
    let m = Value::list(vec![]);
    assert_eq!(
        field.field_set(m.clone()).unwrap_err(),
        Error::NotFrozen("list")
    );
    assert!(field.field_get().unwrap().is(&init));
    assert!(!is_frozen(&m));

    // The field freezes (so it can be shared) and stays writable.
    let holder = Value::tuple(vec![field.clone()]);
    freeze(&[&holder]).unwrap();
    assert!(is_frozen(&field));
    let old = field.field_get().unwrap();

    let shared = holder.share().unwrap();
    let from_b = std::thread::spawn(move || {
        let f = shared.value().get(0).unwrap();
        assert!(f.field_set(Value::list(vec![])).is_err());
        let v = Value::tuple(vec![Value::from("from B"), Value::Int(7)]);
        assert!(is_frozen(&v));
        f.field_set(v.clone()).unwrap();
        v.share().unwrap()
    })
    .join()
    .unwrap();
    // B's write is visible in A, by identity.
    let now = field.field_get().unwrap();
    assert!(now.is(&from_b.value()));
    assert_eq!(now.get(0).unwrap().as_str(), Some("from B"));

    // compare_and_swap compares by identity.
    let new = Value::from("new");
    assert!(!field.field_compare_and_swap(&old, new.clone()).unwrap());
    assert!(field.field_get().unwrap().is(&now));
    let lookalike = Value::tuple(vec![Value::from("from B"), Value::Int(7)]);
    assert!(lookalike.py_eq(&now) && !lookalike.is(&now));
    assert!(!field
        .field_compare_and_swap(&lookalike, new.clone())
        .unwrap());
    assert!(field.field_get().unwrap().is(&now));
    assert!(field.field_compare_and_swap(&now, new.clone()).unwrap());
    assert!(field.field_get().unwrap().is(&new));
    // swap returns the previous value; a mutable new value is refused.
    assert!(field
        .field_compare_and_swap(&new, Value::list(vec![]))
        .is_err());
    let prev = field.field_swap(Value::Int(3)).unwrap();
    assert!(prev.is(&new));
    assert_eq!(int(&field.field_get().unwrap()), 3);
}

#[test]
fn b21_interpreter_local() {
    let _g = serial();
    let factory = Value::function("make_list", 0, make_list, vec![], vec![]);
    let loc = Value::interpreter_local(factory.clone()).unwrap();
    assert!(is_frozen(&factory), "the constructor freezes the factory");

    // A's value: made by the factory on first access, mutable, stable.
    let a_list = loc.local_get().unwrap();
    assert!(!is_frozen(&a_list));
    a_list.append(1.into()).unwrap();
    assert!(loc.local_get().unwrap().is(&a_list));

    // The field inside a frozen object; its per-interpreter values are
    // hidden from the freeze walk.
    let holder = Value::tuple(vec![Value::from("config"), loc.clone()]);
    freeze(&[&holder]).unwrap();
    assert!(is_frozen(&loc));
    assert!(!is_frozen(&a_list));
    a_list.append(2.into()).unwrap();

    // set in A replaces only A's value.
    let a_set = Value::list(vec![Value::Int(99)]);
    loc.local_set(a_set.clone()).unwrap();

    let shared = holder.share().unwrap();
    let s2 = shared.clone();
    let b_len = std::thread::spawn(move || {
        let loc = shared.value().get(1).unwrap();
        let b_list = loc.local_get().unwrap();
        let fresh = b_list.len().unwrap(); // B's default, not A's value
        b_list.append(10.into()).unwrap();
        b_list.append(11.into()).unwrap();
        let again = loc.local_get().unwrap().len().unwrap();
        drop((loc, b_list));
        clear_interpreter_locals();
        (fresh, again)
    })
    .join()
    .unwrap();
    assert_eq!(b_len, (0, 2));
    // B's appends are invisible in A.
    let a_now = loc.local_get().unwrap();
    assert!(a_now.is(&a_set));
    assert_eq!(a_now.len().unwrap(), 1);
    assert_eq!(a_list.len().unwrap(), 2);
    // A third interpreter gets its own fresh default too.
    let c_len = std::thread::spawn(move || {
        let n = s2
            .value()
            .get(1)
            .unwrap()
            .local_get()
            .unwrap()
            .len()
            .unwrap();
        clear_interpreter_locals();
        n
    })
    .join()
    .unwrap();
    assert_eq!(c_len, 0);
    clear_interpreter_locals();
}

#[test]
fn b22_share_by_reference() {
    let _g = serial();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Frozen>();

    // A mutable object is refused (the pickle/copy path is for those).
    let m = Value::list(vec![Value::Int(1)]);
    assert_eq!(m.share().unwrap_err(), Error::NotFrozen("list"));
    let back = m.clone().into_shared().unwrap_err();
    assert!(back.is(&m));
    // It goes by copy instead (the pickle path): B gets a new, mutable
    // object in its own heap, and its writes do not reach A's.
    let bytes = pickle(&m).unwrap();
    let m_id = m.as_obj().unwrap().id();
    let (copy_id, copy_len, copy_frozen) = std::thread::spawn(move || {
        let c = unpickle(&bytes).unwrap();
        c.append(2.into()).unwrap();
        (c.as_obj().unwrap().id(), c.len().unwrap(), is_frozen(&c))
    })
    .join()
    .unwrap();
    assert_ne!(copy_id, m_id);
    assert_eq!((copy_len, copy_frozen), (2, false));
    assert_eq!(m.len().unwrap(), 1);
    // A shallow-immutable tuple reaching a mutable object is refused too.
    let t = Value::tuple(vec![Value::Int(1), m.clone()]);
    assert!(!is_frozen(&t));
    assert!(t.share().is_err());

    // A frozen graph crosses with the same identity and is read in place.
    let c = Value::class("Point", vec![], vec![]).unwrap();
    let p = c
        .instantiate(vec![("x", 3.into()), ("items", m.clone())])
        .unwrap();
    freeze(&[&p, &c]).unwrap();
    let ids = (p.as_obj().unwrap().id(), m.as_obj().unwrap().id());
    let shared = p.share().unwrap();
    assert_eq!(shared.id(), ids.0);
    let (seen_ids, x, len, heap_growth) = std::thread::spawn(move || {
        let before = heap_live();
        let v = shared.value();
        let items = v.getattr("items").unwrap();
        let x = int(&v.getattr("x").unwrap());
        let len = items.len().unwrap();
        let ids = (v.as_obj().unwrap().id(), items.as_obj().unwrap().id());
        let growth = heap_live() as isize - before as isize;
        (ids, x, len, growth)
    })
    .join()
    .unwrap();
    assert_eq!(seen_ids, ids, "same objects, not copies");
    assert_eq!((x, len), (3, 1));
    assert_eq!(heap_growth, 0, "reading allocated nothing in B's heap");
}

#[test]
fn b23_reclaimed_where_last_dropped() {
    let _g = serial();
    let log = Value::list(vec![]);
    let cb = Value::function("on_dead", 1, log_thread, vec![log.clone()], vec![]);
    let obj = Value::list(vec![
        Value::list(vec![Value::Int(1)]),
        Value::list(vec![Value::Int(2)]),
        Value::from("s"),
    ]);
    freeze(&[&obj]).unwrap();
    let w = Value::weakref_with_callback(&obj, Some(cb)).unwrap();
    let shared = obj.share().unwrap();
    drop(obj);
    assert!(w.weak_get().unwrap().is_some());

    let (freed, b_ran) = std::thread::spawn(move || {
        assert_eq!(shared.value().len().unwrap(), 3);
        let before = frozen_live();
        drop(shared); // the last reference anywhere
        let freed = before - frozen_live();
        (freed, run_weak_callbacks().unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(freed, 4, "B reclaimed all four frozen objects");
    assert_eq!(b_ran, 0, "A's callback does not run in B");
    assert!(w.weak_get().unwrap().is_none());
    assert_eq!(log.len().unwrap(), 0, "not run until A asks");
    assert_eq!(run_weak_callbacks().unwrap(), 1);
    assert_eq!(log.len().unwrap(), 1);
    assert_eq!(log.get(0).unwrap().as_str(), Some(thread_tag().as_str()));
    assert_eq!(run_weak_callbacks().unwrap(), 0, "runs once");
}

#[test]
fn b24_subclass_of_frozen_class() {
    let _g = serial();
    let base = Value::class(
        "Base",
        vec![],
        vec![(
            "area",
            Value::function("area", 1, return_one, vec![], vec![]),
        )],
    )
    .unwrap();
    freeze(&[&base]).unwrap();
    // Subclassing a frozen class is allowed; the subclass is mutable.
    let sub = Value::class("Sub", vec![base.clone()], vec![]).unwrap();
    assert!(!is_frozen(&sub));
    sub.setattr("extra", 1.into()).unwrap();
    let other = Value::class("Other", vec![], vec![]).unwrap();
    sub.set_bases(vec![base.clone(), other.clone()]).unwrap();
    assert_eq!(sub.bases().unwrap().len(), 2);
    let s = sub.instantiate(vec![]).unwrap();
    assert_eq!(int(&s.call_method("area", &[]).unwrap()), 1);
    // Assigning __bases__ (or any attribute) on the frozen class raises.
    assert_eq!(
        base.set_bases(vec![other.clone()]).unwrap_err(),
        Error::Immutable("type")
    );
    assert!(base.bases().unwrap().is_empty());
    assert!(base.setattr("extra", 1.into()).is_err());
    assert!(!is_frozen(&sub) && !is_frozen(&other));
    // `__subclasses__()` is not implemented (see docs/semantics.md): a class
    // records only its bases, so frozen `base` holds no reference to `sub`,
    // and nothing about `sub` can reach another interpreter through it.
    assert_eq!(
        base.getattr("__subclasses__").unwrap_err().to_string(),
        "'Base' object has no attribute '__subclasses__'"
    );
}

#[test]
fn b25_disabled_scope() {
    let _g = serial();
    // No own status before: unset again afterwards.
    let v = Value::list(vec![]);
    let holder = Value::list(vec![v.clone()]);
    assert_eq!(get_freezable(&v), None);
    {
        let _d = disabled(&v).unwrap();
        assert_eq!(get_freezable(&v), Some(Freezability::No));
        assert_eq!(freeze(&[&v]).unwrap_err().reason, FreezeReason::StatusNo);
        let e = freeze(&[&holder]).unwrap_err();
        assert_eq!(
            (e.reason, e.path.to_string()),
            (FreezeReason::StatusNo, "root[0]".to_string())
        );
        assert!(!is_frozen(&v) && !is_frozen(&holder));
    }
    assert_eq!(get_freezable(&v), None);
    freeze(&[&holder]).unwrap();
    assert!(is_frozen(&v));

    // An Explicit status comes back as Explicit.
    let e_obj = Value::dict();
    set_freezable(&e_obj, Freezability::Explicit).unwrap();
    {
        let _d = disabled(&e_obj).unwrap();
        assert!(freeze(&[&e_obj]).is_err());
    }
    assert_eq!(get_freezable(&e_obj), Some(Freezability::Explicit));
    let outer = Value::list(vec![e_obj.clone()]);
    assert_eq!(
        freeze(&[&outer]).unwrap_err().reason,
        FreezeReason::Explicit
    );
    freeze(&[&e_obj]).unwrap();

    // A class (default Explicit, no own status) goes back to its default.
    let c = Value::class("K", vec![], vec![]).unwrap();
    {
        let _d = disabled(&c).unwrap();
        assert_eq!(effective_freezable(&c), Freezability::No);
        assert!(freeze(&[&c]).is_err());
    }
    assert_eq!(get_freezable(&c), None);
    assert_eq!(effective_freezable(&c), Freezability::Explicit);
    freeze(&[&c]).unwrap();
    // disabled() on a frozen object is refused.
    assert!(disabled(&c).is_err());
}
