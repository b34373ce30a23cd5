//! Revision histories (shoobx.immutable's revisioned immutables): new
//! versions, locked old ones, refused child updates, metadata, filters,
//! order, batches, rollback, optimistic concurrency with no lost update.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use permafrost_freeze::diag::frozen_live;
use permafrost_freeze::*;
use proptest::prelude::*;

mod common;
use common::{path_to, tree};

fn frozen(v: &Value) -> Frozen {
    freeze(&[v]).unwrap();
    v.share().unwrap()
}

fn doc() -> Frozen {
    frozen(
        &Value::dict_from(vec![
            ("title".into(), "draft".into()),
            (
                "sections".into(),
                Value::list(vec![Value::list(vec!["intro".into()])]),
            ),
            ("n".into(), 0.into()),
        ])
        .unwrap(),
    )
}

fn get_int(f: &Frozen, key: &str) -> i64 {
    f.value().get_str(key).unwrap().unwrap().as_int().unwrap()
}

fn bump(d: &Node<'_>) -> Result<(), DraftError> {
    let n = d.get_str("n")?.value().as_int().unwrap();
    d.set_item("n".into(), (n + 1).into())
}

#[test]
fn an_update_makes_a_new_version_and_locks_the_old_one() {
    let _g = lock();
    let revs = Revisions::new();
    let v1 = doc();
    assert_eq!(revs.put("doc", v1.clone()).unwrap(), 1);
    assert_eq!(
        revs.put("doc", v1.clone()),
        Err(RevisionError::Exists("doc".into()))
    );
    let before = SystemTime::now();
    let r2 = revs
        .update("doc", "ana", "add a section", |d| {
            d.get_str("sections")?
                .append(Value::list(vec!["body".into()]))
        })
        .unwrap();
    assert_eq!(
        (r2.version(), r2.creator(), r2.comment()),
        (2, "ana", "add a section")
    );
    assert_eq!(r2.state(), RevisionState::Locked);
    assert!(r2.started() >= before && r2.ended().is_none());
    assert_eq!(r2.copied(), 2, "the root dict and the sections list");

    let r1 = revs.get("doc", 1).unwrap();
    assert_eq!(r1.state(), RevisionState::Retired);
    assert!(r1.ended().unwrap() >= r2.started());
    assert!(r1.root().is(&v1), "the old version is the very same graph");
    assert_eq!(
        v1.value()
            .get_str("sections")
            .unwrap()
            .unwrap()
            .len()
            .unwrap(),
        1
    );
    assert!(v1
        .value()
        .get_str("sections")
        .unwrap()
        .unwrap()
        .append(1.into())
        .is_err());
    // Untouched objects are shared by identity.
    let first = |f: &Frozen| {
        f.value()
            .get_str("sections")
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
    };
    assert!(first(&v1).is(&first(r2.root())));
    assert!(revs.current("doc").unwrap().root().is(r2.root()));
    assert_eq!(revs.len("doc"), 2);
    assert_eq!(revs.len("nothing"), 0);
    assert_eq!(revs.names(), vec!["doc".to_string()]);
}

#[test]
fn updates_from_a_child_or_a_retired_revision_are_refused() {
    let _g = lock();
    let revs = Revisions::new();
    let v1 = doc();
    revs.put("doc", v1.clone()).unwrap();
    let child = v1
        .value()
        .get_str("sections")
        .unwrap()
        .unwrap()
        .share()
        .unwrap();
    let err = revs
        .update_root(&child, "bo", "", |d| d.append(1.into()))
        .unwrap_err();
    assert_eq!(err, RevisionError::NotARoot);
    assert!(err.to_string().contains("only available for the root"));

    let r2 = revs.update_root(&v1, "bo", "via root", bump).unwrap();
    assert_eq!(r2.version(), 2);
    let err = revs.update_root(&v1, "bo", "", bump).unwrap_err();
    assert_eq!(
        err,
        RevisionError::Retired {
            name: "doc".into(),
            version: 1
        }
    );
    assert!(revs.update_root(r2.root(), "bo", "", bump).is_ok());
    assert!(matches!(
        revs.update("nope", "", "", bump),
        Err(RevisionError::Unknown(_))
    ));
    assert_eq!(revs.len("doc"), 3);
}

#[test]
fn history_filters_orders_and_batches() {
    let _g = lock();
    let revs = Revisions::new();
    revs.put("doc", doc()).unwrap();
    let mut marks = Vec::new();
    for (i, who) in ["ana", "bo", "ana", "cy", "ana"].iter().enumerate() {
        std::thread::sleep(Duration::from_millis(2));
        marks.push(SystemTime::now());
        revs.update("doc", who, &format!("edit {i} by {who}"), bump)
            .unwrap();
    }
    let versions = |f: HistoryFilter, o: Order, b: Batch| -> Vec<u64> {
        revs.history("doc", &f, o, b)
            .unwrap()
            .iter()
            .map(Revision::version)
            .collect()
    };
    let all = HistoryFilter::all;
    assert_eq!(
        versions(all(), Order::OldestFirst, Batch::all()),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        versions(all(), Order::NewestFirst, Batch::all()),
        [6, 5, 4, 3, 2, 1]
    );
    assert_eq!(
        versions(all().creator("ana"), Order::OldestFirst, Batch::all()),
        [2, 4, 6]
    );
    assert_eq!(
        versions(
            all().comment_contains("by cy"),
            Order::OldestFirst,
            Batch::all()
        ),
        [5]
    );
    assert_eq!(
        versions(
            all().started_after(marks[3]),
            Order::OldestFirst,
            Batch::all()
        ),
        [5, 6]
    );
    assert_eq!(
        versions(
            all().started_before(marks[1]),
            Order::OldestFirst,
            Batch::all()
        ),
        [1, 2]
    );
    assert_eq!(
        versions(
            all()
                .creator("ana")
                .started_after(marks[0])
                .started_before(marks[4]),
            Order::NewestFirst,
            Batch::all()
        ),
        [4, 2]
    );
    assert_eq!(
        versions(all(), Order::NewestFirst, Batch::new(1, 2)),
        [5, 4]
    );
    assert_eq!(
        versions(all(), Order::OldestFirst, Batch::new(4, 10)),
        [5, 6]
    );
    assert_eq!(
        versions(all(), Order::OldestFirst, Batch::new(9, 1)),
        Vec::<u64>::new()
    );
    let h = revs
        .history("doc", &all(), Order::OldestFirst, Batch::all())
        .unwrap();
    for (r, next) in h.iter().zip(&h[1..]) {
        assert_eq!(r.state(), RevisionState::Retired);
        assert!(r.ended().unwrap() >= next.started());
        assert_eq!(get_int(next.root(), "n"), get_int(r.root(), "n") + 1);
    }
    assert!(revs
        .history("other", &all(), Order::OldestFirst, Batch::all())
        .is_err());
}

#[test]
fn rollback_makes_an_old_revision_current_again() {
    let _g = lock();
    let revs = Revisions::new();
    revs.put("doc", doc()).unwrap();
    for _ in 0..4 {
        revs.update("doc", "ana", "bump", bump).unwrap();
    }
    let removed = revs.rollback_to("doc", 2).unwrap();
    assert_eq!(
        removed.iter().map(Revision::version).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(
        get_int(removed[2].root(), "n"),
        4,
        "removed revisions stay readable"
    );
    let cur = revs.current("doc").unwrap();
    assert_eq!(
        (cur.version(), cur.state(), cur.ended()),
        (2, RevisionState::Locked, None)
    );
    assert_eq!(get_int(cur.root(), "n"), 1);
    assert_eq!(revs.len("doc"), 2);
    let next = revs.update("doc", "bo", "after rollback", bump).unwrap();
    assert_eq!((next.version(), get_int(next.root(), "n")), (3, 2));
    assert_eq!(
        revs.rollback_to("doc", 9).unwrap_err(),
        RevisionError::NoVersion {
            name: "doc".into(),
            version: 9
        }
    );
}

#[test]
fn a_concurrent_update_gets_a_conflict_and_no_lock_is_held_while_drafting() {
    let _g = lock();
    let revs = Revisions::new();
    revs.put("doc", doc()).unwrap();
    // The closure itself updates the entry: it would deadlock if the lock
    // were held, and the outer update must lose.
    let err = revs
        .update("doc", "slow", "outer", |d| {
            revs.update("doc", "fast", "inner", bump).unwrap();
            bump(d)
        })
        .unwrap_err();
    assert_eq!(
        err,
        RevisionError::Conflict {
            name: "doc".into(),
            based_on: 1,
            current: 2
        }
    );
    assert_eq!(revs.len("doc"), 2);
    let mut tries = 0;
    let r = revs
        .update_retrying("doc", "slow", "outer again", 3, |d| {
            tries += 1;
            if tries == 1 {
                revs.update("doc", "fast", "inner", bump).unwrap();
            }
            bump(d)
        })
        .unwrap();
    assert_eq!((tries, r.version(), get_int(r.root(), "n")), (2, 4, 3));
}

#[test]
fn a_failing_closure_changes_nothing() {
    let _g = lock();
    let revs = Revisions::new();
    revs.put("doc", doc()).unwrap();
    let err = revs
        .update("doc", "ana", "", |d| d.get_str("missing").map(drop))
        .unwrap_err();
    assert!(matches!(
        err,
        RevisionError::Draft(DraftError::Op(Error::Key(_)))
    ));
    assert_eq!(revs.len("doc"), 1);
}

#[test]
fn revisions_of_a_million_node_tree_add_only_their_paths() {
    let _g = lock();
    const N: usize = 1_000_000;
    let frozen0 = frozen_live();
    let revs = Revisions::new();
    revs.put("tree", frozen(&tree(N))).unwrap();
    assert_eq!(frozen_live(), frozen0 + N as isize);
    let mut added = 0;
    let mut leaf = N / 2; // the first leaf of a heap-ordered tree
    for k in 0..40 {
        leaf = N / 2 + (leaf * 7919 + k) % (N / 2);
        let steps = path_to(leaf);
        let r = revs
            .update("tree", "w", &format!("leaf {leaf}"), |d| {
                let mut node = d.get(steps[0])?;
                for &s in &steps[1..] {
                    node = node.get(s)?;
                }
                node.set(0, Value::Int(-(k as i64)))
            })
            .unwrap();
        assert_eq!(
            r.copied(),
            steps.len() + 1,
            "the leaf and the objects above it"
        );
        added += r.copied();
        assert_eq!(frozen_live(), frozen0 + (N + added) as isize);
    }
    // Every old version is intact: the first still has its original leaves.
    let v1 = revs.get("tree", 1).unwrap();
    let mut v = v1.value();
    for s in path_to(leaf) {
        v = v.get(s).unwrap();
    }
    assert_eq!(v.get(0).unwrap().as_int(), Some(leaf as i64));
    drop((v, v1, revs));
    assert_eq!(frozen_live(), frozen0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Several workers bump one counter and log their name, each update
    /// retried until it wins; random pauses inside the drafts interleave
    /// them differently every case. Nothing is lost: the counter is the
    /// number of updates, every revision is its predecessor plus one.
    #[test]
    fn concurrent_updates_lose_nothing(
        plans in proptest::collection::vec(proptest::collection::vec(0u8..4, 1..12), 2..5)
    ) {
        let _g = lock();
        let revs = Arc::new(Revisions::new());
        revs.put("c", frozen(&Value::dict_from(vec![
            ("n".into(), 0.into()),
            ("log".into(), Value::list(vec![])),
        ]).unwrap())).unwrap();
        let total: usize = plans.iter().map(Vec::len).sum();
        let runs_and_conflicts: Vec<(usize, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = plans.iter().enumerate().map(|(w, plan)| {
                let revs = Arc::clone(&revs);
                s.spawn(move || {
                    let (mut runs, mut conflicts) = (0, 0);
                    for &pause in plan {
                        loop {
                            let r = revs.update("c", &format!("w{w}"), "bump", |d| {
                                runs += 1;
                                for _ in 0..pause { std::thread::yield_now(); }
                                bump(d)?;
                                d.get_str("log")?.append(Value::Int(w as i64))
                            });
                            match r {
                                Ok(_) => break,
                                Err(RevisionError::Conflict { .. }) => conflicts += 1,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                    (runs, conflicts)
                })
            }).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Every draft either won or lost to a conflict and was retried.
        for ((runs, conflicts), plan) in runs_and_conflicts.iter().zip(&plans) {
            prop_assert_eq!(*runs, plan.len() + conflicts);
        }
        let cur = revs.current("c").unwrap();
        prop_assert_eq!(get_int(cur.root(), "n"), total as i64);
        prop_assert_eq!(cur.version(), total as u64 + 1);
        prop_assert_eq!(revs.len("c"), total + 1);
        let log = cur.value().get_str("log").unwrap().unwrap();
        for (w, plan) in plans.iter().enumerate() {
            let mine = log.to_vec().unwrap().iter().filter(|v| v.as_int() == Some(w as i64)).count();
            prop_assert_eq!(mine, plan.len());
        }
        let h = revs.history("c", &HistoryFilter::all(), Order::OldestFirst, Batch::all()).unwrap();
        for (i, r) in h.iter().enumerate() {
            prop_assert_eq!(r.version(), i as u64 + 1);
            prop_assert_eq!(get_int(r.root(), "n"), i as i64);
        }
    }
}
