//! Random operation sequences on a small pool of values.
//!
//! The input is decoded (with `arbitrary::Unstructured`) into at most
//! [`MAX_OPS`] operations: build values (list, dict, tuple, set, instances
//! of several kinds of class, cells, weak references with and without a
//! callback, shared fields, closures over cells, interpreter-locals),
//! mutate them, attach pre-freeze hooks (that mutate, refuse, freeze their
//! own object, re-arm themselves), freeze some of them (several roots at
//! once), share frozen values with another thread and drop them there,
//! send values over a runtime channel in each transfer mode, pickle and
//! unpickle, deep-copy, read weak references, run weakref callbacks, drop
//! values and collect.
//!
//! Checked on every run:
//! * no operation panics (every fallible one returns `Result`);
//! * writes to a frozen object are refused and change nothing;
//! * `is_frozen(v)` and `v.share().is_ok()` agree;
//! * what pickles, unpickles, and what unpickles pickles again;
//! * a thread that received values leaves its own heap empty;
//! * the crate's invariant checker (`check_invariants`) passes over the
//!   pool after every operation, and over what another thread receives;
//! * weakref callbacks run at most once per weakref that has one;
//! * at the end, once everything is dropped and collected, this thread's
//!   `heap_live()` and the process's `frozen_live()` are back to where
//!   they were before the run.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use permafrost_freeze::{collect, deep_copy, freeze, is_frozen, pickle, run_weak_callbacks, set_freezable, set_pre_freeze_hook, unpickle, unset_freezable, Error, Freezability, Value};
use permafrost_freeze::diag::{check_invariants, frozen_live, heap_live};
use permafrost_freeze::embed::{clear_interpreter_locals};
use permafrost_runtime::Mode;

mod common;
use common::CALLBACKS_RUN;

/// Most operations decoded from one input.
const MAX_OPS: usize = 64;
/// Most values in the pool.
const POOL: usize = 16;
/// Most items a new container takes from the pool.
const MAX_ITEMS: usize = 4;

const STRS: &[&str] = &["", "a", "key", "sealed", "é", "next"];
const ATTRS: &[&str] = &["a", "b", "next", "sealed", "kind"];
const FLOATS: &[f64] = &[0.0, -0.0, 1.5, f64::NAN, f64::INFINITY, 1.0];

type R<T> = arbitrary::Result<T>;

struct State {
    pool: Vec<Value>,
    /// Weak references made with a callback in this run.
    callbacks_made: usize,
}

fn frozen_bit(v: &Value) -> bool {
    v.as_obj().is_some_and(|r| r.is_frozen_bit())
}

/// Objects whose writes a frozen state does not refuse: a shared field
/// stays writable (it only ever holds frozen values).
fn writable_when_frozen(v: &Value) -> bool {
    v.type_name() == "SharedField"
}

/// Runs a write on `target`; if `target` was frozen, the write must fail.
fn write<T>(target: &Value, what: &str, f: impl FnOnce(&Value) -> Result<T, Error>) {
    let frozen = frozen_bit(target) && !writable_when_frozen(target);
    let r = f(target);
    if frozen {
        assert!(
            r.is_err(),
            "{what} on a frozen {} was accepted",
            target.type_name()
        );
    }
}

impl State {
    fn pick(&self, u: &mut Unstructured<'_>) -> R<usize> {
        if self.pool.is_empty() {
            return Ok(0);
        }
        u.choose_index(self.pool.len())
    }

    fn get(&self, u: &mut Unstructured<'_>) -> R<Value> {
        if self.pool.is_empty() {
            return Ok(Value::None);
        }
        Ok(self.pool[self.pick(u)?].clone())
    }

    fn put(&mut self, u: &mut Unstructured<'_>, v: Value) -> R<()> {
        if self.pool.len() < POOL {
            self.pool.push(v);
        } else {
            let i = self.pick(u)?;
            self.pool[i] = v;
        }
        Ok(())
    }

    fn items(&self, u: &mut Unstructured<'_>) -> R<Vec<Value>> {
        let n = u.int_in_range(0..=MAX_ITEMS)?;
        (0..n).map(|_| self.item(u)).collect()
    }

    /// A pool value or a fresh leaf.
    fn item(&self, u: &mut Unstructured<'_>) -> R<Value> {
        if u.ratio(2, 3)? {
            self.get(u)
        } else {
            leaf(u)
        }
    }
}

fn leaf(u: &mut Unstructured<'_>) -> R<Value> {
    Ok(match u.int_in_range(0..=6u8)? {
        0 => Value::None,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Int(i64::from(u.arbitrary::<i8>()?)),
        3 => Value::Float(*u.choose(FLOATS)?),
        4 => Value::str(u.choose(STRS)?),
        5 => {
            let n = u.int_in_range(0..=6)?;
            Value::bytes(u.bytes(n)?)
        }
        _ => Value::Int(i64::MIN + i64::from(u.arbitrary::<u8>()?)),
    })
}

fn class(u: &mut Unstructured<'_>) -> R<Value> {
    let registered = common::registered_classes();
    let made = match u.int_in_range(0..=5u8)? {
        0 => Ok(registered[0].clone()),
        1 => Ok(registered[1].clone()),
        2 => Value::class("FuzzMut", vec![], vec![("kind", Value::from("mut"))]),
        3 => Value::class(
            "FuzzPre",
            vec![],
            vec![(
                "__pre_freeze__",
                Value::function(common::PRE_FREEZE, 1, common::pre_freeze, vec![], vec![]),
            )],
        ),
        4 => Value::class(
            "FuzzPreFail",
            vec![],
            vec![(
                "__pre_freeze__",
                Value::function(
                    common::PRE_FREEZE_FAIL,
                    1,
                    common::pre_freeze_fail,
                    vec![],
                    vec![],
                ),
            )],
        ),
        _ => Value::class("FuzzNoFreeze", vec![Value::not_freezable_class()], vec![]),
    };
    Ok(made.expect("making a class from classes cannot fail"))
}

/// A pre-freeze hook of the kind `kind` on `target`.
fn hook(target: &Value, kind: u8) -> Result<(), Error> {
    match kind {
        // Mutates its own object.
        0 => set_pre_freeze_hook(target, |obj| match obj.type_name() {
            "list" => obj.append(Value::Int(7)),
            "dict" => obj.set_item("hooked".into(), Value::Bool(true)),
            "set" => obj.add(Value::Int(7)),
            "cell" => obj.cell_set(Value::from("hooked")),
            "instance" => obj.setattr("hooked", Value::Bool(true)),
            _ => Ok(()),
        }),
        // Refuses the freeze.
        1 => set_pre_freeze_hook(target, |_| Err(Error::Other("hook refused".into()))),
        // Freezes its own object (nested freeze).
        2 => set_pre_freeze_hook(target, |obj| {
            freeze(&[obj]).map_err(|e| Error::Freeze(Box::new(e)))
        }),
        // Grows the graph being frozen with new mutable objects.
        3 => set_pre_freeze_hook(target, |obj| match obj.type_name() {
            "list" => obj.append(Value::list(vec![Value::dict(), Value::from("new")])),
            "instance" => obj.setattr("next", Value::list(vec![Value::Int(1)])),
            _ => Ok(()),
        }),
        // Re-arms itself (must still terminate: at most once per freeze).
        4 => set_pre_freeze_hook(target, |obj| {
            set_pre_freeze_hook(obj, |obj| match obj.type_name() {
                "list" => obj.append(Value::Int(8)),
                _ => Ok(()),
            })
        }),
        _ => set_pre_freeze_hook(target, |_| Ok(())),
    }
}

/// Every write that applies to `t`'s type; all must be refused if `t` is
/// frozen, and `t` must look the same afterwards.
fn frozen_writes_refused(t: &Value) {
    if !frozen_bit(t) || writable_when_frozen(t) || t.type_name() == "module" {
        return;
    }
    let before = shallow(t);
    let len = t.len().ok();
    let mut results: Vec<(&str, Result<(), Error>)> = Vec::new();
    match t.type_name() {
        "list" => {
            results.push(("append", t.append(Value::Int(1))));
            results.push(("insert", t.insert(0, Value::Int(1))));
            results.push(("set", t.set(0, Value::Int(1))));
            results.push(("pop", t.pop(None).map(drop)));
            results.push(("extend", t.extend([Value::None])));
            results.push(("clear", t.clear()));
        }
        "dict" => {
            results.push(("set_item", t.set_item("k".into(), Value::None)));
            results.push(("del_item", t.del_item(&Value::from("k")).map(drop)));
            results.push(("clear", t.clear()));
        }
        "set" => {
            results.push(("add", t.add(Value::Int(3))));
            results.push(("discard", t.discard(&Value::Int(3)).map(drop)));
            results.push(("clear", t.clear()));
        }
        "cell" => results.push(("cell_set", t.cell_set(Value::Int(2)))),
        "buffer" => results.push(("set", t.set(0, Value::Float(2.0)))),
        "class" => {
            results.push(("setattr", t.setattr("x", Value::Int(1))));
            results.push(("set_bases", t.set_bases(vec![])));
        }
        _ => {
            results.push(("setattr", t.setattr("x", Value::Int(1))));
            results.push(("delattr", t.delattr("kind")));
        }
    }
    for (what, r) in results {
        assert!(
            r.is_err(),
            "{what} on a frozen {} was accepted",
            t.type_name()
        );
    }
    assert_eq!(t.len().ok(), len, "a refused write changed a length");
    let after = shallow(t);
    assert!(
        before.len() == after.len() && before.iter().zip(&after).all(|(a, b)| a.is(b)),
        "a refused write changed a frozen {}",
        t.type_name()
    );
}

/// What `t` holds directly (items, key/value pairs, cell contents, the
/// attributes the ops use), compared by identity. Not `{t:?}`: repr
/// expands shared sub-objects, so a small DAG prints exponentially long.
fn shallow(t: &Value) -> Vec<Value> {
    let mut out = t.to_vec().unwrap_or_default();
    if let Ok(items) = t.items() {
        out.extend(items.into_iter().flat_map(|(k, v)| [k, v]));
    }
    out.extend(t.cell_get().ok());
    out.extend(ATTRS.iter().filter_map(|a| t.getattr(a).ok()));
    out
}

/// Reads that must not panic (results ignored).
fn read_all(v: &Value, other: &Value) {
    // No `{v:?}`: repr expands sharing (exponential on a DAG).
    let _ = v.py_eq(other);
    let _ = v.len();
    let _ = v.to_vec();
    let _ = v.items();
    let _ = v.get(0);
    let _ = v.get(-1);
    let _ = v.contains(other);
    let _ = v.get_item(other);
    let _ = v.cell_get();
    let _ = v.field_get();
    let _ = v.weak_get();
    let _ = v.getattr("kind");
    let _ = v.class_of();
    let _ = v.name();
    let _ = v.bases();
    let _ = v.buffer_to_vec();
    let _ = v.view().map(|w| (w.len(), w.type_name()));
    let _ = permafrost_freeze::effective_freezable(v);
}

/// What a receiving thread does with a value it was given: reads, refused
/// writes, its own pickle and copy, then drops it all. Its heap must end
/// empty (it is a fresh thread).
fn on_other_thread(v: Value) {
    if let Err(e) = check_invariants(&[&v]) {
        panic!("a received value: {e}");
    }
    read_all(&v, &Value::None);
    frozen_writes_refused(&v);
    if let Ok(items) = v.to_vec() {
        for it in &items {
            frozen_writes_refused(it);
        }
    }
    if let Ok(bytes) = pickle(&v) {
        if let Ok(back) = unpickle(&bytes) {
            pickle(&back).expect("an unpickled graph pickles again");
        }
    }
    if let Ok(copy) = deep_copy(&v) {
        drop(copy.adopt());
    }
    let _ = v.local_get();
    let _ = v.call(&[]);
    drop(v);
    clear_interpreter_locals();
    let _ = run_weak_callbacks();
    collect();
    assert_eq!(heap_live(), 0, "a receiving thread's heap did not empty");
}

/// Operation names, by code (for `PERMAFROST_FUZZ_TRACE=1`).
const OPS: [&str; 34] = [
    "leaf",
    "list",
    "tuple",
    "dict",
    "set",
    "instance",
    "cell",
    "weakref",
    "weakref+callback",
    "shared_field",
    "closure",
    "append",
    "set_item",
    "setattr",
    "cell_set",
    "field_set",
    "field_compare_and_swap",
    "pre_freeze_hook",
    "freeze",
    "share_to_thread",
    "channel_send",
    "pickle_roundtrip",
    "deep_copy",
    "weak_get",
    "run_weak_callbacks",
    "drop",
    "collect",
    "frozen_writes_refused",
    "set_freezable",
    "reads",
    "mutate",
    "interpreter_local",
    "call",
    "is_frozen_vs_share",
];

/// Set `PERMAFROST_FUZZ_TRACE=1` to print each operation (when running a
/// single input to see what it does).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PERMAFROST_FUZZ_TRACE").is_some())
}

fn run(u: &mut Unstructured<'_>, st: &mut State) -> R<()> {
    for step in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let op = u.int_in_range(0..=33u8)?;
        if tracing() {
            eprintln!(
                "op {step:2}: {:24} pool {:2}  heap_live {:3}  frozen_live {:3}",
                OPS[usize::from(op)],
                st.pool.len(),
                heap_live(),
                frozen_live()
            );
        }
        match op {
            0 => {
                let v = leaf(u)?;
                st.put(u, v)?;
            }
            1 => {
                let v = Value::list(st.items(u)?);
                st.put(u, v)?;
            }
            2 => {
                let v = Value::tuple(st.items(u)?);
                st.put(u, v)?;
            }
            3 => {
                let n = u.int_in_range(0..=MAX_ITEMS)?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    pairs.push((st.item(u)?, st.item(u)?));
                }
                if let Ok(d) = Value::dict_from(pairs) {
                    st.put(u, d)?;
                }
            }
            4 => {
                if let Ok(s) = Value::set_from(st.items(u)?) {
                    st.put(u, s)?;
                }
            }
            5 => {
                let cls = class(u)?;
                let n = u.int_in_range(0..=3usize)?;
                let mut attrs = Vec::new();
                for _ in 0..n {
                    attrs.push((*u.choose(ATTRS)?, st.item(u)?));
                }
                if let Ok(inst) = cls.instantiate(attrs) {
                    st.put(u, inst)?;
                }
                if u.arbitrary()? {
                    st.put(u, cls)?;
                }
            }
            6 => {
                let v = Value::cell(st.item(u)?);
                st.put(u, v)?;
            }
            7 => {
                let t = st.get(u)?;
                if let Ok(w) = Value::weakref(&t) {
                    st.put(u, w)?;
                }
            }
            8 => {
                let t = st.get(u)?;
                let fail = u.arbitrary::<bool>()?;
                let mut caps = vec![Value::Bool(fail)];
                if u.arbitrary()? {
                    // May refer back to the weakref or its referent: a cycle
                    // through the callback.
                    caps.push(st.get(u)?);
                }
                let cb = Value::function(common::CALLBACK, 1, common::callback, caps, vec![]);
                if let Ok(w) = Value::weakref_with_callback(&t, Some(cb)) {
                    st.callbacks_made += 1;
                    st.put(u, w)?;
                }
            }
            9 => {
                if let Ok(f) = Value::shared_field(st.item(u)?) {
                    st.put(u, f)?;
                }
            }
            10 => {
                let cell = if u.arbitrary()? {
                    Value::cell(Value::Int(i64::from(u.arbitrary::<i8>()?)))
                } else {
                    st.get(u)?
                };
                let mut caps = vec![cell.clone()];
                if u.arbitrary()? {
                    caps.push(st.get(u)?);
                }
                let defaults = if u.arbitrary()? {
                    vec![st.item(u)?]
                } else {
                    vec![]
                };
                let f = Value::function(common::CLOSURE, 1, common::closure, caps, defaults);
                st.put(u, f)?;
                if u.arbitrary()? {
                    st.put(u, cell)?;
                }
            }
            11 => {
                let (t, v) = (st.get(u)?, st.item(u)?);
                write(&t, "append", |t| t.append(v));
            }
            12 => {
                let (t, k, v) = (st.get(u)?, st.item(u)?, st.item(u)?);
                write(&t, "set_item", |t| t.set_item(k, v));
            }
            13 => {
                let (t, name, v) = (st.get(u)?, *u.choose(ATTRS)?, st.item(u)?);
                write(&t, "setattr", |t| t.setattr(name, v));
            }
            14 => {
                let (t, v) = (st.get(u)?, st.item(u)?);
                write(&t, "cell_set", |t| t.cell_set(v));
            }
            15 => {
                let (t, v) = (st.get(u)?, st.item(u)?);
                let _ = t.field_set(v);
            }
            16 => {
                let t = st.get(u)?;
                let expected = if u.arbitrary()? {
                    t.field_get().unwrap_or_default()
                } else {
                    st.item(u)?
                };
                let new = st.item(u)?;
                let _ = t.field_compare_and_swap(&expected, new);
            }
            17 => {
                let t = st.get(u)?;
                let kind = u.arbitrary::<u8>()? % 6;
                let frozen = frozen_bit(&t);
                let r = hook(&t, kind);
                if frozen || t.as_obj().is_none() {
                    assert!(
                        r.is_err(),
                        "a hook was attached to a frozen object or an immediate"
                    );
                }
            }
            18 => {
                let n = u.int_in_range(1..=3usize)?;
                let roots: Vec<Value> = (0..n).map(|_| st.get(u)).collect::<R<_>>()?;
                let refs: Vec<&Value> = roots.iter().collect();
                let ok = freeze(&refs).is_ok();
                if ok {
                    for r in &roots {
                        assert!(is_frozen(r), "freeze succeeded but a root is not frozen");
                        frozen_writes_refused(r);
                    }
                }
            }
            19 => {
                // Share a frozen value with one or two other threads, which
                // drop it; this thread keeps its handle, drops it before
                // they start, or drops it while they run (so the last
                // reference may go on any of the threads).
                let i = st.pick(u)?;
                let how = u.int_in_range(0..=2u8)?;
                let two = u.arbitrary::<bool>()?;
                let Some(v) = st.pool.get(i).cloned() else {
                    continue;
                };
                if let Ok(f) = v.share() {
                    drop(v);
                    if how == 1 {
                        st.pool.swap_remove(i);
                    }
                    let f2 = two.then(|| f.clone());
                    let pool = &mut st.pool;
                    std::thread::scope(|s| {
                        let a = s.spawn(move || on_other_thread(f.into_value()));
                        let b = f2.map(|f2| s.spawn(move || on_other_thread(f2.into_value())));
                        if how == 2 && i < pool.len() {
                            pool.swap_remove(i);
                        }
                        a.join().expect("a receiving thread panicked");
                        if let Some(b) = b {
                            b.join().expect("a receiving thread panicked");
                        }
                    });
                }
            }
            20 => {
                // Send over a runtime channel in a chosen mode; the
                // receiving thread rebuilds or adopts, then drops it.
                let v = st.get(u)?;
                let mode = *u.choose(&[Mode::Share, Mode::Pickle, Mode::Copy])?;
                let (tx, rx) = permafrost_runtime::unbounded();
                if tx.send(v.clone(), mode).is_ok() {
                    drop(tx);
                    drop(v);
                    std::thread::scope(|s| {
                        s.spawn(move || {
                            let got = rx.recv();
                            if mode != Mode::Pickle {
                                assert!(got.is_ok(), "a {mode:?} message did not arrive");
                            }
                            if let Ok(got) = got {
                                on_other_thread(got);
                            }
                        })
                        .join()
                        .expect("the receiving thread panicked");
                    });
                }
            }
            21 => {
                let v = st.get(u)?;
                if let Ok(bytes) = pickle(&v) {
                    match unpickle(&bytes) {
                        Ok(back) => {
                            let again = pickle(&back).expect("an unpickled graph pickles again");
                            unpickle(&again).expect("a re-pickled graph unpickles");
                            if u.arbitrary()? {
                                st.put(u, back)?;
                            }
                        }
                        Err(e) => {
                            // Only names this worker does not know may fail.
                            let m = e.to_string();
                            assert!(
                                m.contains("not registered"),
                                "unpickle of a fresh pickle: {m}"
                            );
                        }
                    }
                }
            }
            22 => {
                let v = st.get(u)?;
                if let Ok(copy) = deep_copy(&v) {
                    match u.int_in_range(0..=2u8)? {
                        0 => {
                            let c = copy.adopt();
                            st.put(u, c)?;
                        }
                        1 => drop(copy),
                        _ => std::thread::scope(|s| {
                            s.spawn(move || on_other_thread(copy.adopt()))
                                .join()
                                .expect("the adopting thread panicked");
                        }),
                    }
                }
            }
            23 => {
                let v = st.get(u)?;
                if let Ok(Some(t)) = v.weak_get() {
                    st.put(u, t)?;
                }
            }
            24 => {
                let _ = run_weak_callbacks();
            }
            25 => {
                if !st.pool.is_empty() {
                    let i = st.pick(u)?;
                    st.pool.swap_remove(i);
                }
            }
            26 => {
                collect();
            }
            27 => {
                let v = st.get(u)?;
                frozen_writes_refused(&v);
            }
            28 => {
                let v = st.get(u)?;
                let _ = match u.int_in_range(0..=3u8)? {
                    0 => set_freezable(&v, Freezability::Yes),
                    1 => set_freezable(&v, Freezability::No),
                    2 => set_freezable(&v, Freezability::Explicit),
                    _ => unset_freezable(&v),
                };
            }
            29 => {
                let (v, o) = (st.get(u)?, st.get(u)?);
                read_all(&v, &o);
            }
            30 => {
                let (t, v) = (st.get(u)?, st.item(u)?);
                let i = i64::from(u.arbitrary::<i8>()?);
                match u.int_in_range(0..=7u8)? {
                    0 => write(&t, "pop", |t| t.pop(Some(i)).map(drop)),
                    1 => write(&t, "clear", |t| t.clear()),
                    2 => write(&t, "del_item", |t| t.del_item(&v).map(drop)),
                    3 => write(&t, "discard", |t| t.discard(&v).map(drop)),
                    4 => write(&t, "insert", |t| t.insert(i, v)),
                    5 => {
                        let name = *u.choose(ATTRS)?;
                        write(&t, "delattr", |t| t.delattr(name))
                    }
                    6 => write(&t, "set", |t| t.set(i, v)),
                    _ => write(&t, "add", |t| t.add(v)),
                }
            }
            31 => {
                let v = st.get(u)?;
                match u.int_in_range(0..=2u8)? {
                    0 => {
                        if let Ok(l) = Value::interpreter_local(v) {
                            st.put(u, l)?;
                        }
                    }
                    1 => {
                        if let Ok(x) = v.local_get() {
                            st.put(u, x)?;
                        }
                    }
                    _ => {
                        let x = st.item(u)?;
                        let _ = v.local_set(x);
                    }
                }
            }
            32 => {
                let f = st.get(u)?;
                let args = st.items(u)?;
                let r = if u.arbitrary()? {
                    f.call(&args[..args.len().min(2)])
                } else {
                    f.call_method("__pre_freeze__", &[])
                };
                if let Ok(x) = r {
                    st.put(u, x)?;
                }
            }
            _ => {
                let v = st.get(u)?;
                if v.as_obj().is_some() {
                    let frozen = is_frozen(&v);
                    assert_eq!(
                        frozen,
                        v.share().is_ok(),
                        "is_frozen and share disagree on a {}",
                        v.type_name()
                    );
                }
            }
        }
        // The crate's own invariant checker over everything the pool
        // reaches (frozen edges, SCC structure and counts, walk bits,
        // container lists, weak tables).
        let roots: Vec<&Value> = st.pool.iter().collect();
        if let Err(e) = check_invariants(&roots) {
            panic!("after op {step} ({}): {e}", OPS[usize::from(op)]);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    common::init();
    let _ = run_weak_callbacks();
    collect();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    let cb0 = CALLBACKS_RUN.with(|c| c.get());
    let mut st = State {
        pool: vec![Value::Int(1), Value::from("s")],
        callbacks_made: 0,
    };
    let mut u = Unstructured::new(data);
    let _ = run(&mut u, &mut st);
    let made = st.callbacks_made;
    drop(st);
    // Everything goes: interpreter-local values, due callbacks (they hold
    // their weakrefs), then cycles; callbacks may make more garbage.
    clear_interpreter_locals();
    let settle = || {
        for _ in 0..8 {
            let ran = run_weak_callbacks().unwrap_or(1);
            let freed = collect();
            if ran == 0 && freed == 0 {
                break;
            }
        }
    };
    settle();
    let ran = CALLBACKS_RUN.with(|c| c.get()) - cb0;
    assert!(
        ran <= made,
        "{ran} weakref callbacks ran for {made} weakrefs with a callback"
    );
    assert_eq!(
        heap_live(),
        heap0,
        "mutable objects left behind: heap_live {} -> {}",
        heap0,
        heap_live()
    );
    assert_eq!(
        frozen_live(),
        frozen0,
        "frozen objects left behind: frozen_live {} -> {}",
        frozen0,
        frozen_live()
    );
});
