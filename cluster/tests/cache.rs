//! The node-local cache in one process (no network): publish once per
//! root, decode once per id however many resolve it at once, share by
//! reference, and let go of what no one holds. One test function, since the
//! counters are per process.

use permafrost_cluster::{stats, Graph, Remote};
use permafrost_freeze::diag::frozen_live;
use permafrost_freeze::{collect, freeze, Value};
use ractor::{ActorId, BytesConvertable};

fn graph(n: i64) -> Value {
    let shared = Value::tuple(vec![Value::from("shared")]);
    let v = Value::list(
        (0..n)
            .map(|i| Value::list(vec![Value::Int(i), shared.clone()]))
            .collect(),
    );
    freeze(&[&v]).unwrap();
    v
}

#[test]
fn the_cache_decodes_once_shares_by_reference_and_lets_go() {
    let base_frozen = frozen_live();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let v = graph(5000);
    let frozen = v.share().unwrap();
    drop(v);
    let s0 = stats();
    let g = Graph::publish(&frozen).unwrap();
    let again = Graph::publish(&frozen).unwrap();
    assert!(g.ptr_eq(&again), "the same root publishes once");
    assert_eq!(stats().publishes, s0.publishes + 1);
    drop(again);

    // To a local actor: by reference, nothing serialised.
    let local = rt
        .block_on(g.to_actor(ActorId::Local(1)).resolve())
        .unwrap();
    assert!(local.ptr_eq(&g) && local.frozen().is(&frozen));
    drop(local);

    // Frames as they would arrive from the network; then the sender's
    // handles go, so the cache must decode.
    let frames: Vec<Vec<u8>> = (0..8).map(|_| g.to_anyone().into_bytes()).collect();
    let id = g.id();
    drop(g);
    drop(frozen);
    assert_eq!(
        stats().cached,
        s0.cached,
        "nobody holds the graph: not cached"
    );

    let s1 = stats();
    let got: Vec<Graph> = rt.block_on(async {
        let tasks: Vec<_> = frames
            .into_iter()
            .map(|f| tokio::spawn(Remote::from_bytes(f).resolve()))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    let s2 = stats();
    assert_eq!(
        s2.decodes,
        s1.decodes + 1,
        "eight concurrent arrivals, one decode"
    );
    assert_eq!(s2.cache_hits, s1.cache_hits + 7);
    assert!(got
        .iter()
        .all(|x| x.ptr_eq(&got[0]) && x.frozen().is(got[0].frozen())));
    assert_eq!(got[0].id(), id);
    let first = got[0].value();
    assert!(first
        .get(0)
        .unwrap()
        .get(1)
        .unwrap()
        .is(&first.get(1).unwrap().get(1).unwrap()));
    drop(first);

    drop(got);
    assert_eq!(stats().cached, s0.cached, "the last holder gone: evicted");
    drop(rt);
    collect();
    assert_eq!(frozen_live(), base_frozen, "every frozen object freed");
}
