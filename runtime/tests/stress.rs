//! Stress: several workers pass tens of thousands of shared frozen graphs
//! among themselves, keep some, make new ones, and drop them on whichever
//! thread holds the last reference; at the end nothing is live anywhere.

mod common;

use std::sync::Mutex;
use std::time::Instant;

use common::{make_frozen_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{freeze, Frozen, Value};
use permafrost_runtime::{unbounded, Mode, Runtime, Sender};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

static LOCK: Mutex<()> = Mutex::new(());

const WORKERS: usize = 6;
const SEEDS: usize = 200;
const HOPS: i64 = 500; // SEEDS * (HOPS + 1) = 100_200 receives

#[test]
fn workers_exchange_tens_of_thousands_of_shared_graphs() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cls = node_class("StressNode");
    let (hbase, fbase) = (heap_live(), frozen_live());
    let t0 = Instant::now();
    {
        let rt = Runtime::new();
        let (done_tx, done_rx) = unbounded();
        // Spawn the workers, then hand each the senders to every inbox.
        let (cfg_txs, handles): (Vec<_>, Vec<_>) = (0..WORKERS)
            .map(|i| {
                let (cfg_tx, cfg_rx) = crossbeam_channel::bounded::<Vec<Sender>>(1);
                let done = done_tx.clone();
                let cls: Frozen = cls.share().unwrap();
                let h = rt.spawn(format!("stress{i}"), move |ctx| {
                    let peers = cfg_rx.recv().unwrap();
                    let mut rng = StdRng::seed_from_u64(i as u64);
                    let mut held: Vec<Option<Frozen>> = (0..16).map(|_| None).collect();
                    let mut seen = 0usize;
                    let mut made = 0usize;
                    while let Ok(msg) = ctx.recv() {
                        seen += 1;
                        let ttl = msg.get(0).unwrap().as_int().unwrap();
                        let mut payload = msg.get(1).unwrap();
                        drop(msg);
                        // Read a little of it: it is the same frozen graph.
                        if payload.type_name() == "list" {
                            let n = payload.get(0).unwrap();
                            assert!(n.getattr("label").unwrap().as_str().is_some());
                        }
                        // Keep some graphs for a while (dropping older ones
                        // here), swap in held or brand-new ones.
                        let slot = rng.gen_range(0..held.len());
                        let kept = held[slot].replace(payload.share().unwrap());
                        match rng.gen_range(0..10) {
                            0 => {
                                payload = make_frozen_graph(4, &cls.value(), rng.gen());
                                made += 1;
                            }
                            1 => {
                                if let Some(k) = kept {
                                    payload = k.into_value();
                                }
                            }
                            _ => {}
                        }
                        if ttl == 0 {
                            done.send(payload, Mode::Share).unwrap();
                            continue;
                        }
                        let next = Value::tuple(vec![Value::Int(ttl - 1), payload]);
                        freeze(&[&next]).unwrap();
                        peers[rng.gen_range(0..peers.len())]
                            .send(next, Mode::Share)
                            .unwrap();
                    }
                    (seen, made)
                });
                (cfg_tx, h)
            })
            .unzip();
        let inboxes: Vec<Sender> = handles.iter().map(|h| h.sender()).collect();
        for c in &cfg_txs {
            c.send(inboxes.clone()).unwrap();
        }
        // Seed graphs made on the main thread.
        for s in 0..SEEDS {
            let g = make_frozen_graph(8, &cls, s as u64);
            let m = Value::tuple(vec![Value::Int(HOPS), g]);
            freeze(&[&m]).unwrap();
            inboxes[s % WORKERS].send(m, Mode::Share).unwrap();
        }
        drop(inboxes);
        for _ in 0..SEEDS {
            let g = done_rx.recv().unwrap();
            assert!(g.len().is_ok());
        }
        // Every message has arrived: the workers only wait now.
        let reports = rt.shutdown();
        let mut seen = 0;
        let mut made = 0;
        for h in handles {
            let (s, m) = h.join().unwrap();
            seen += s;
            made += m;
        }
        assert_eq!(seen, SEEDS * (HOPS as usize + 1));
        assert!(made > 1000, "workers made {made} graphs of their own");
        for r in reports {
            assert_eq!(r.heap_live, 0, "{} leaked", r.name);
            assert!(!r.panicked);
        }
        eprintln!(
            "stress: {WORKERS} workers, {seen} shared receives, {made} graphs made on workers, {:?}",
            t0.elapsed()
        );
    }
    assert_eq!(heap_live(), hbase);
    assert_eq!(frozen_live(), fbase, "every frozen object was freed");
}
