//! Property tests with the invariant checker over random graphs that mix
//! in everything that touches the unsafe core beyond plain containers:
//! weak references (with and without callbacks), shared fields, closures
//! with captured cells, and pre-freeze hooks that succeed, fail, panic,
//! mutate the graph, freeze their own object or re-arm themselves.
//! After every freeze attempt (successful or not) the checker runs with
//! exact counts; at the end every count returns to baseline.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{check_invariants, check_invariants_exact, frozen_live, heap_live};
use permafrost_freeze::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Debug, Clone, Copy)]
enum Node {
    List,
    Dict,
    Cell,
    Closure,
    /// weak reference to node `.0 % n`, with a callback if `.1`
    Weak(usize, bool),
    /// a shared field holding a frozen tuple, or the frozen node `.0 % n`
    Field(usize),
}

#[derive(Debug, Clone, Copy)]
enum Hook {
    Ok,
    Fails,
    Panics,
    /// appends a fresh list to its object (if it is a list)
    Grows,
    FreezesSelf,
    Rearms,
}

#[derive(Debug, Clone)]
struct Spec {
    nodes: Vec<Node>,
    /// edges: (from, to) over node indices (reduced modulo n)
    edges: Vec<(usize, usize)>,
    hooks: Vec<(usize, Hook)>,
    /// freeze attempts, each with one or two roots
    freezes: Vec<Vec<usize>>,
    drop_keys: Vec<u32>,
}

fn node() -> impl Strategy<Value = Node> {
    prop_oneof![
        3 => Just(Node::List),
        2 => Just(Node::Dict),
        1 => Just(Node::Cell),
        1 => Just(Node::Closure),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(t, cb)| Node::Weak(t, cb)),
        1 => any::<usize>().prop_map(Node::Field),
    ]
}

fn hook() -> impl Strategy<Value = Hook> {
    prop_oneof![
        Just(Hook::Ok),
        Just(Hook::Fails),
        Just(Hook::Panics),
        Just(Hook::Grows),
        Just(Hook::FreezesSelf),
        Just(Hook::Rearms),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (2usize..=12).prop_flat_map(|n| {
        (
            prop::collection::vec(node(), n),
            prop::collection::vec((0..n, 0..n), 0..=2 * n),
            prop::collection::vec((0..n, hook()), 0..=4),
            prop::collection::vec(prop::collection::vec(0..n, 1..=2), 1..=3),
            prop::collection::vec(any::<u32>(), n),
        )
            .prop_map(|(nodes, edges, hooks, freezes, drop_keys)| Spec {
                nodes,
                edges,
                hooks,
                freezes,
                drop_keys,
            })
    })
}

fn read_cell(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.cell_get()
}

fn count_cb(_: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::None)
}

fn rearm(me: &Value) -> Result<(), Error> {
    set_pre_freeze_hook(me, rearm)
}

fn attach(v: &Value, h: Hook) {
    let r = match h {
        Hook::Ok => set_pre_freeze_hook(v, |_| Ok(())),
        Hook::Fails => set_pre_freeze_hook(v, |_| Err(Error::Other("refused".into()))),
        Hook::Panics => set_pre_freeze_hook(v, |_| panic!("hook panicked")),
        Hook::Grows => set_pre_freeze_hook(v, |me| {
            if me.type_name() == "list" {
                me.append(Value::list(vec![Value::Int(1)]))?;
            }
            Ok(())
        }),
        Hook::FreezesSelf => set_pre_freeze_hook(v, |me| freeze(&[me]).map_err(Error::from)),
        Hook::Rearms => set_pre_freeze_hook(v, rearm),
    };
    // Frozen objects refuse hooks: that is fine here.
    let _ = r;
}

fn build(s: &Spec) -> Vec<Value> {
    let n = s.nodes.len();
    let mut vals: Vec<Value> = Vec::with_capacity(n);
    for (i, k) in s.nodes.iter().enumerate() {
        let v = match *k {
            Node::List => Value::list(vec![]),
            Node::Dict => Value::dict(),
            Node::Cell => Value::cell(Value::None),
            Node::Closure => {
                let cell = Value::cell(Value::Int(i as i64));
                Value::function("f", 0, read_cell, vec![cell], vec![])
            }
            Node::Weak(t, cb) if t % n < i => {
                let cb = cb.then(|| Value::function("cb", 1, count_cb, vec![], vec![]));
                Value::weakref_with_callback(&vals[t % n], cb).unwrap()
            }
            Node::Weak(..) => Value::list(vec![]),
            Node::Field(t) => {
                let init = if t % n < i && is_frozen(&vals[t % n]) {
                    vals[t % n].clone()
                } else {
                    Value::tuple(vec![Value::Int(t as i64)])
                };
                Value::shared_field(init).unwrap()
            }
        };
        vals.push(v);
    }
    for &(a, b) in &s.edges {
        let (from, to) = (&vals[a], vals[b].clone());
        match from.type_name() {
            "list" => from.append(to).unwrap(),
            "dict" => from.set_item(Value::Int(b as i64), to).unwrap(),
            "cell" => from.cell_set(to).unwrap(),
            // A shared field takes frozen values only; a mutable one is
            // refused and nothing changes.
            "SharedField" => {
                let _ = from.field_set(to);
            }
            _ => {}
        }
    }
    for &(i, h) in &s.hooks {
        attach(&vals[i], h);
    }
    vals
}

/// Panicking hooks are expected here: keep their messages out of the log
/// (any other panic is still printed).
fn quiet_hook_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"hook panicked") {
                default(info);
            }
        }));
    });
}

fn check(vals: &[Value], when: &str) -> Result<(), TestCaseError> {
    let all: Vec<&Value> = vals.iter().collect();
    check_invariants_exact(&all)
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(format!("{when}: {e}")))
}

fn run(s: &Spec) -> Result<(), TestCaseError> {
    let h0 = heap_live();
    let f0 = frozen_live();
    let vals = build(s);
    check(&vals, "after build")?;
    for roots in &s.freezes {
        let rs: Vec<&Value> = roots.iter().map(|&i| &vals[i]).collect();
        // Each failing hook fails at most one attempt (it has run then),
        // so a few retries always end in success or a status refusal.
        for attempt in 0..8 {
            let r = freeze(&rs);
            check(&vals, &format!("after freeze attempt {attempt} ({r:?})"))?;
            match r {
                Ok(()) => {
                    for v in &rs {
                        prop_assert!(is_frozen(v));
                        prop_assert!(v.share().is_ok());
                    }
                    break;
                }
                Err(e) => {
                    let hook = matches!(
                        e.reason,
                        FreezeReason::Hook(_) | FreezeReason::HookPanicked(_)
                    );
                    prop_assert!(hook, "only hooks refuse here: {}", e);
                    prop_assert!(attempt < 7, "a freeze kept failing: {}", e);
                }
            }
        }
    }
    let _ = run_weak_callbacks();
    let mut order: Vec<(u32, Value)> = s.drop_keys.iter().copied().zip(vals).collect();
    order.sort_by_key(|(k, _)| *k);
    for (_, v) in order {
        let desc = format!("{} {:?}", v.type_name(), v.id());
        drop(v);
        if let Err(e) = check_invariants(&[]) {
            return Err(TestCaseError::fail(format!("after dropping {desc}: {e}")));
        }
    }
    collect();
    let _ = run_weak_callbacks();
    collect();
    prop_assert_eq!(heap_live(), h0, "mutable objects leaked");
    prop_assert_eq!(frozen_live(), f0, "frozen objects leaked");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_through_hooks_weakrefs_and_fields(s in spec()) {
        let _g = lock();
        quiet_hook_panics();
        run(&s)?;
    }
}
