//! Moving isolated mutable graphs between heaps (`detach_moved`): same
//! objects on arrival, still mutable; refused (and handed back untouched)
//! when anything outside refers into the graph.

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{check_invariants, check_invariants_exact, heap_live};
use permafrost_freeze::*;
use proptest::prelude::*;

/// A graph with cycles, an instance of a frozen class, a frozen shared
/// part and strings; returns (root, number of mutable objects).
fn graph(cls: &Value, shared: &Value) -> (Value, usize) {
    let root = Value::list(vec![]);
    let d = Value::dict();
    d.set_item("back".into(), root.clone()).unwrap(); // cycle
    d.set_item("shared".into(), shared.clone()).unwrap();
    let inst = cls
        .instantiate(vec![("owner", d.clone()), ("name", "x".into())])
        .unwrap();
    let cell = Value::cell(inst.clone());
    root.append(d).unwrap();
    root.append(inst.clone()).unwrap();
    root.append(inst).unwrap(); // aliased inside: fine
    root.append(cell).unwrap();
    (root, 4)
}

fn on_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::spawn(f).join().unwrap()
}

#[test]
fn a_moved_graph_arrives_with_the_same_ids_and_is_mutable() {
    let _g = lock();
    on_thread(|| {
        let cls = Value::class("Moved", vec![], vec![]).unwrap();
        freeze(&[&cls]).unwrap();
        let shared = Value::list(vec![Value::from("frozen part")]);
        freeze(&[&shared]).unwrap();
        let (root, n) = graph(&cls, &shared);
        let ids: Vec<usize> = root.to_vec().unwrap().iter().map(Value::id).collect();
        let root_id = root.id();
        let before = heap_live();
        let shared_f = shared.share().unwrap();
        let moved = detach_moved(root).unwrap();
        assert_eq!(moved.len(), n);
        assert_eq!(
            heap_live(),
            before - n,
            "the sender's heap lost exactly the graph"
        );
        let (got_root, got_ids, live, shared_same) = on_thread(move || {
            let root = moved.adopt();
            assert_eq!(
                heap_live(),
                n,
                "the receiver's heap gained exactly the graph"
            );
            // Not exact: the frozen part has handles on the sender too.
            check_invariants(&[&root]).unwrap();
            let items = root.to_vec().unwrap();
            let d = &items[0];
            assert!(d.get_str("back").unwrap().unwrap().is(&root));
            let shared_same = d.get_str("shared").unwrap().unwrap().id() == shared_f.id();
            // Mutable here.
            root.append(Value::Int(5)).unwrap();
            d.set_item("new".into(), Value::list(vec![])).unwrap();
            let ids: Vec<usize> = items.iter().map(Value::id).collect();
            let rid = root.id();
            drop((items, root));
            collect();
            (rid, ids, heap_live(), shared_same)
        });
        assert_eq!(got_root, root_id);
        assert_eq!(got_ids[..4], ids[..4]);
        assert!(shared_same, "frozen parts are shared, not moved");
        assert_eq!(live, 0, "dropped on the receiver, nothing is left there");
        assert_eq!(heap_live(), before - n);
        assert!(is_frozen(&shared) && shared.len().unwrap() == 1);
    });
}

#[test]
fn an_outside_alias_refuses_the_move_with_its_path() {
    let _g = lock();
    on_thread(|| {
        let inner = Value::dict();
        let child = Value::list(vec![Value::Int(1)]);
        inner.set_item("child".into(), child.clone()).unwrap();
        let root = Value::list(vec![Value::None, inner]);
        let before = heap_live();
        let e = detach_moved(root).unwrap_err();
        assert_eq!(e.reason, MoveRefusal::Aliased { extra: 1 });
        assert_eq!(e.path, "root[1]['child']");
        assert_eq!(e.type_name, "list");
        assert!(e.to_string().contains("1 reference from outside"), "{e}");
        let root = e.into_inner();
        assert_eq!(heap_live(), before, "nothing moved");
        check_invariants_exact(&[&root, &child]).unwrap();
        root.append(Value::Int(2)).unwrap(); // still usable here
        drop(child);
        let moved = detach_moved(root).unwrap();
        assert_eq!(moved.len(), 3);
        drop(moved); // dropped undelivered: adopted back here and freed
        assert_eq!(heap_live(), before - 3);
    });
}

#[test]
fn the_root_itself_aliased_is_refused() {
    let _g = lock();
    on_thread(|| {
        let root = Value::list(vec![]);
        let alias = root.clone();
        let e = detach_moved(root).unwrap_err();
        assert_eq!(
            (e.path.to_string().as_str(), e.reason),
            ("root", MoveRefusal::Aliased { extra: 1 })
        );
        drop((e, alias));
        assert_eq!(heap_live(), 0);
    });
}

fn noop(_: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::None)
}

#[test]
fn weak_references_inside_move_with_the_graph() {
    let _g = lock();
    on_thread(|| {
        let target = Value::list(vec![Value::Int(1)]);
        let cb = Value::function("cb", 1, noop, vec![], vec![]);
        let w = Value::weakref_with_callback(&target, Some(cb)).unwrap();
        let frozen = Value::list(vec![]);
        freeze(&[&frozen]).unwrap();
        let cb2 = Value::function("cb2", 1, noop, vec![], vec![]);
        let wf = Value::weakref_with_callback(&frozen, Some(cb2)).unwrap();
        let root = Value::list(vec![target, w, wf]);
        let moved = detach_moved(root).unwrap();
        check_invariants(&[]).unwrap(); // no entry left behind
        let ran = on_thread(move || {
            let root = moved.adopt();
            check_invariants_exact(&[&root]).unwrap();
            let items = root.to_vec().unwrap();
            assert!(items[1].weak_get().unwrap().unwrap().is(&items[0]));
            // The referent dies here: the callback runs here.
            root.set(0, Value::None).unwrap();
            drop(items);
            assert!(root.get(1).unwrap().weak_get().unwrap().is_none());
            let ran = run_weak_callbacks().unwrap();
            drop(root);
            collect();
            assert_eq!(heap_live(), 0);
            ran
        });
        assert_eq!(ran, 1);
        // The frozen referent dies on this thread; its weakref (and its
        // callback) moved away and died there.
        drop(frozen);
        assert_eq!(run_weak_callbacks().unwrap(), 0);
        check_invariants(&[]).unwrap();
        assert_eq!(heap_live(), 0);
    });
}

#[test]
fn what_cannot_move_is_refused_and_handed_back() {
    let _g = lock();
    on_thread(|| {
        // A weak reference from outside into the graph.
        let target = Value::list(vec![]);
        let w = Value::weakref(&target).unwrap();
        let e = detach_moved(Value::list(vec![target])).unwrap_err();
        assert_eq!(
            (e.reason, e.path.to_string().as_str()),
            (MoveRefusal::WeaklyReferenced, "root[0]")
        );
        drop((e, w));
        // A weak reference inside to an object left behind.
        let left = Value::list(vec![]);
        let e = detach_moved(Value::list(vec![Value::weakref(&left).unwrap()])).unwrap_err();
        assert_eq!(e.reason, MoveRefusal::WeakToOutside);
        drop((e, left));
        // A pre-freeze hook (a closure of this worker's).
        let hooked = Value::dict();
        set_pre_freeze_hook(&hooked, |_| Ok(())).unwrap();
        let e = detach_moved(Value::list(vec![hooked])).unwrap_err();
        assert_eq!(e.reason, MoveRefusal::Hook);
        drop(e);
        // A module.
        let e = detach_moved(Value::list(vec![Value::module("m")])).unwrap_err();
        assert_eq!(e.reason, MoveRefusal::Module);
        drop(e);
        // A pending weakref callback holds its weakref: an outside reference.
        let t = Value::list(vec![]);
        let cb = Value::function("cb", 1, noop, vec![], vec![]);
        let w = Value::weakref_with_callback(&t, Some(cb)).unwrap();
        drop(t);
        let e = detach_moved(Value::list(vec![w])).unwrap_err();
        assert!(matches!(e.reason, MoveRefusal::Aliased { .. }));
        drop(e);
        run_weak_callbacks().unwrap();
        collect();
        assert_eq!(heap_live(), 0);
    });
}

#[test]
fn immediates_and_frozen_values_move_as_shared_references() {
    let _g = lock();
    on_thread(|| {
        assert_eq!(
            detach_moved(Value::Int(3)).unwrap().adopt().as_int(),
            Some(3)
        );
        let f = Value::list(vec![]);
        freeze(&[&f]).unwrap();
        let id = f.id();
        let alias = f.clone();
        let m = detach_moved(f).unwrap(); // aliases are fine: it is shared
        assert!(m.is_empty());
        assert_eq!(on_thread(move || m.adopt().id()), id);
        drop(alias);
    });
}

/// Random graphs over `n` lists with random edges, and random handles kept
/// outside: the move succeeds iff no kept handle is reachable from the root
/// (other than the root's own handle), which a model computes.
#[derive(Debug, Clone)]
struct Case {
    n: usize,
    edges: Vec<(usize, usize)>,
    kept: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=12).prop_flat_map(|n| {
        (
            prop::collection::vec((0..n, 0..n), 0..=3 * n),
            prop::collection::vec(0..n, 0..=3),
        )
            .prop_map(move |(edges, kept)| Case { n, edges, kept })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn a_move_succeeds_iff_the_graph_is_isolated(c in case()) {
        let _g = lock();
        let base = heap_live();
        let nodes: Vec<Value> = (0..c.n).map(|_| Value::list(vec![])).collect();
        for &(a, b) in &c.edges {
            nodes[a].append(nodes[b].clone()).unwrap();
        }
        // The model: what node 0 reaches, and what the kept handles keep
        // alive outside it; isolated iff nothing alive outside points in.
        let reach_from = |starts: &[usize]| {
            let mut seen = vec![false; c.n];
            let mut stack = starts.to_vec();
            while let Some(i) = stack.pop() {
                if !std::mem::replace(&mut seen[i], true) {
                    stack.extend(c.edges.iter().filter(|e| e.0 == i).map(|e| e.1));
                }
            }
            seen
        };
        let reach = reach_from(&[0]);
        let alive = reach_from(&c.kept);
        let isolated = !c.kept.iter().any(|&k| reach[k])
            && !c.edges.iter().any(|&(a, b)| alive[a] && !reach[a] && reach[b]);
        let kept: Vec<Value> = c.kept.iter().map(|&k| nodes[k].clone()).collect();
        let mut nodes = nodes.into_iter();
        let root = nodes.next().unwrap();
        drop(nodes);
        collect(); // dropped cycles would still refer into the graph
        match detach_moved(root) {
            Ok(m) => {
                prop_assert!(isolated, "moved a graph with an outside handle");
                prop_assert_eq!(m.len(), reach.iter().filter(|r| **r).count());
                let n = m.len();
                let live = on_thread(move || {
                    let r = m.adopt();
                    let ok = check_invariants_exact(&[&r]).is_ok();
                    drop(r);
                    collect();
                    (ok, heap_live(), n)
                });
                prop_assert!(live.0);
                prop_assert_eq!(live.1, 0);
            }
            Err(e) => {
                prop_assert!(!isolated, "refused an isolated graph: {}", e);
                let root = e.into_inner();
                let mut all = vec![&root];
                all.extend(kept.iter());
                prop_assert!(check_invariants(&all).is_ok());
                drop(root);
            }
        }
        drop(kept);
        collect();
        prop_assert_eq!(heap_live(), base);
    }
}
