//! A shared document edited by several workers, with a full history and
//! rollback: copy-on-write drafts of a frozen graph and a revision manager
//! (shoobx.immutable's revisioned immutables, pandas' copy-on-write rule).
//!
//! 1. The driver freezes a document (`sections`, each a dict with a
//!    heading and a list of paragraphs) and puts it into a [`Revisions`]
//!    manager shared by every worker.
//! 2. Each worker edits its own section many times. An edit is a draft of
//!    the current revision: the write copies only the paragraph list, its
//!    section dict, the sections list and the root; every other object is
//!    shared with the previous revision. Workers race optimistically; a
//!    worker that lost a race gets a conflict and retries from the new
//!    head, so no edit is lost.
//! 3. The driver lists the history (by creator, newest first, in
//!    batches), reads an old revision (unchanged), refuses an update from a
//!    sub-object, and rolls back.
//!
//! ```text
//! cargo run --release --example revisions
//! cargo run --release --example revisions -- --workers 8 --edits 500 --sections 100000
//! cargo run --release --example revisions -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::sync::Arc;
use std::time::Instant;

use permafrost::{
    diag, freeze, Batch, DraftError, HistoryFilter, Order, RevisionError, Revisions, Runtime, Value,
};

struct Config {
    workers: usize,
    edits: usize,
    sections: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        workers: num("--workers").unwrap_or(4).max(1),
        edits: num("--edits").unwrap_or(if small { 25 } else { 250 }),
        sections: num("--sections").unwrap_or(if small { 1_000 } else { 100_000 }),
    }
}

/// A document of `n` sections, each `{heading, paragraphs: [..]}`.
fn document(n: usize) -> Value {
    let sections = (0..n)
        .map(|i| {
            Value::dict_from(vec![
                ("heading".into(), format!("Section {i}").into()),
                ("paragraphs".into(), Value::list(vec!["(empty)".into()])),
            ])
            .unwrap()
        })
        .collect();
    let doc = Value::dict_from(vec![
        ("title".into(), "Design notes".into()),
        ("sections".into(), Value::list(sections)),
    ])
    .unwrap();
    freeze(&[&doc]).unwrap();
    doc
}

fn paragraphs(doc: &Value, section: usize) -> usize {
    let s = doc.get_str("sections").unwrap().unwrap();
    let p = s
        .get(section as i64)
        .unwrap()
        .get_str("paragraphs")
        .unwrap()
        .unwrap();
    p.len().unwrap()
}

fn main() {
    let c = config();
    let revs = Arc::new(Revisions::new());
    let t = Instant::now();
    let frozen0 = diag::frozen_live();
    revs.put("doc", document(c.sections).share().unwrap())
        .unwrap();
    let one_copy = diag::frozen_live() - frozen0;
    println!(
        "document: {} sections, {} frozen objects, put in {:.1} ms",
        c.sections,
        one_copy,
        t.elapsed().as_secs_f64() * 1e3
    );

    // ---- Workers edit their own sections concurrently. ----
    let rt = Runtime::new();
    let t = Instant::now();
    let handles: Vec<_> = (0..c.workers)
        .map(|w| {
            let revs = Arc::clone(&revs);
            let edits = c.edits;
            rt.spawn(format!("editor-{w}"), move |_ctx| {
                let (mut conflicts, mut copied) = (0usize, 0usize);
                for e in 0..edits {
                    loop {
                        let r = revs.update(
                            "doc",
                            &format!("editor-{w}"),
                            &format!("paragraph {e}"),
                            |d| {
                                let section = d.get_str("sections")?.get(w as i64)?;
                                section
                                    .get_str("paragraphs")?
                                    .append(format!("w{w} p{e}").into())
                            },
                        );
                        match r {
                            Ok(rev) => {
                                copied += rev.copied();
                                break;
                            }
                            Err(RevisionError::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                (conflicts, copied)
            })
        })
        .collect();
    let (mut conflicts, mut copied) = (0, 0);
    for h in handles {
        let (c, k) = h.join().unwrap();
        conflicts += c;
        copied += k;
    }
    let took = t.elapsed();
    let total = c.workers * c.edits;
    let cur = revs.current("doc").unwrap();
    for w in 0..c.workers {
        assert_eq!(
            paragraphs(&cur.value(), w),
            c.edits + 1,
            "lost edits of worker {w}"
        );
    }
    assert_eq!(cur.version(), total as u64 + 1);
    println!(
        "edits: {} workers x {} edits -> version {} (expected {}), {} conflicts retried, {:.1} ms",
        c.workers,
        c.edits,
        cur.version(),
        total + 1,
        conflicts,
        took.as_secs_f64() * 1e3
    );
    let held = diag::frozen_live() - frozen0;
    println!(
        "memory: {} revisions hold {} frozen objects = {:.3}x one copy ({:.1} objects copied per edit)",
        revs.len("doc"),
        held,
        held as f64 / one_copy as f64,
        copied as f64 / total as f64
    );

    // ---- History: by creator, newest first, in batches. ----
    let mine = revs
        .history(
            "doc",
            &HistoryFilter::all().creator("editor-0"),
            Order::NewestFirst,
            Batch::new(0, 3),
        )
        .unwrap();
    for r in &mine {
        println!(
            "  v{} by {} ({}): {:?}",
            r.version(),
            r.creator(),
            r.comment(),
            r.state()
        );
    }
    assert!(mine.windows(2).all(|w| w[0].version() > w[1].version()));
    let tens = revs
        .history(
            "doc",
            &HistoryFilter::all().comment_contains("paragraph 1"),
            Order::OldestFirst,
            Batch::all(),
        )
        .unwrap();
    println!("history: {} revisions mention \"paragraph 1\"", tens.len());

    // ---- The first revision is unchanged, and locked. ----
    let v1 = revs.get("doc", 1).unwrap();
    assert_eq!(paragraphs(&v1.value(), 0), 1);
    let sub = v1
        .value()
        .get_str("sections")
        .unwrap()
        .unwrap()
        .share()
        .unwrap();
    let err = revs
        .update_root(&sub, "driver", "from a child", |d| d.append(Value::None))
        .unwrap_err();
    println!("update from a sub-object: {err}");
    let err = revs
        .update_root(v1.root(), "driver", "old", |_| Ok::<(), DraftError>(()))
        .unwrap_err();
    println!("update of version 1: {err}");

    // ---- Roll back to half-way. ----
    let half = (total / 2) as u64 + 1;
    let removed = revs.rollback_to("doc", half).unwrap();
    let now = revs.current("doc").unwrap();
    println!(
        "rollback: to version {} ({} later revisions removed), now {} revisions",
        now.version(),
        removed.len(),
        revs.len("doc")
    );
    assert_eq!(now.version(), half);
    drop((removed, now, v1, sub, cur, mine, tens, revs));
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
    assert_eq!(diag::frozen_live(), frozen0, "revisions freed");
    println!("all revisions freed; every worker's heap ended empty");
}
