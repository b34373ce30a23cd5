//! Moving large mutable batches down a pipeline: producer -> enricher ->
//! sink, each batch handed on by **move** (the sender's own objects change
//! worker, nothing copied), against the same pipeline by copy and by
//! pickle.
//!
//! A batch is a list of records (dicts with a few fields and a list of
//! tags); the enricher mutates every record in place (a move keeps the
//! batch mutable), the sink totals them. A batch something else still
//! refers into cannot move: the producer shows that once, and gets its
//! batch back.
//!
//! ```text
//! cargo run --release --example move_pipeline
//! cargo run --release --example move_pipeline -- --batches 200 --batch 5000
//! cargo run --release --example move_pipeline -- --small   # or PERMAFROST_SMALL=1
//! ```

use std::time::{Duration, Instant};

use permafrost::{bounded, Error, Mode, Runtime, Sender, Value};

/// Run sizes, from the command line.
struct Config {
    batches: usize,
    batch: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    let (batches, batch) = if small { (20, 500) } else { (100, 10_000) };
    Config {
        batches: num("--batches").unwrap_or(batches),
        batch: num("--batch").unwrap_or(batch),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum How {
    Move,
    Copy,
    Pickle,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Move => "move",
            How::Copy => "copy",
            How::Pickle => "pickle",
        }
    }

    fn send(self, to: &Sender, batch: Value) -> Result<(), String> {
        let mode = match self {
            How::Move => Mode::Move,
            How::Copy => Mode::Copy,
            How::Pickle => Mode::Pickle,
        };
        to.send(batch, mode).map_err(|e| e.to_string())
    }
}

fn record(i: usize) -> Result<Value, Error> {
    let r = Value::dict();
    r.set_item("id".into(), Value::Int(i as i64))?;
    r.set_item("value".into(), Value::Float(i as f64 * 0.5))?;
    r.set_item("tags".into(), Value::list(vec![Value::from("raw")]))?;
    Ok(r)
}

fn batch(n: usize, start: usize) -> Result<Value, Error> {
    let b = Value::list(Vec::with_capacity(n));
    for i in 0..n {
        b.append(record(start + i)?)?;
    }
    Ok(b)
}

/// Runs the three stages once; returns the sink's total, the number of
/// records and the wall time.
fn run(how: How, cfg: &Config) -> Result<(f64, usize, Duration), String> {
    let rt = Runtime::new();
    let (to_enricher, enricher_in) = bounded(4);
    let (to_sink, sink_in) = bounded(4);
    let enricher = rt.spawn("enricher", move |_ctx| -> Result<(), String> {
        while let Ok(b) = enricher_in.recv() {
            for r in b.to_vec().map_err(|e| e.to_string())? {
                let v = r
                    .get_str("value")
                    .map_err(|e| e.to_string())?
                    .and_then(|v| v.as_float());
                r.set_item("value".into(), Value::Float(v.unwrap_or(0.0) * 2.0))
                    .map_err(|e| e.to_string())?;
                let tags = r
                    .get_str("tags")
                    .map_err(|e| e.to_string())?
                    .ok_or("no tags")?;
                tags.append(Value::from("enriched"))
                    .map_err(|e| e.to_string())?;
            }
            how.send(&to_sink, b)?;
        }
        Ok(())
    });
    let sink = rt.spawn("sink", move |_ctx| -> Result<(f64, usize), String> {
        let (mut total, mut records) = (0.0, 0);
        while let Ok(b) = sink_in.recv() {
            for r in b.to_vec().map_err(|e| e.to_string())? {
                let tags = r
                    .get_str("tags")
                    .map_err(|e| e.to_string())?
                    .ok_or("no tags")?;
                if tags.len().map_err(|e| e.to_string())? != 2 {
                    return Err("a record was not enriched".into());
                }
                total += r
                    .get_str("value")
                    .map_err(|e| e.to_string())?
                    .and_then(|v| v.as_float())
                    .unwrap_or(0.0);
                records += 1;
            }
        }
        Ok((total, records))
    });
    let t0 = Instant::now();
    for k in 0..cfg.batches {
        let b = batch(cfg.batch, k * cfg.batch).map_err(|e| e.to_string())?;
        how.send(&to_enricher, b)?;
    }
    drop(to_enricher);
    enricher.join().map_err(|e| e.to_string())??;
    let (total, records) = sink.join().map_err(|e| e.to_string())??;
    let elapsed = t0.elapsed();
    for r in rt.shutdown() {
        if r.heap_live != 0 {
            return Err(format!("worker {} kept {} objects", r.name, r.heap_live));
        }
    }
    Ok((total, records, elapsed))
}

fn main() -> Result<(), String> {
    let cfg = config();
    let objects = cfg.batch * 2 + 1;
    println!(
        "{} batches of {} records ({} objects each) through producer -> enricher -> sink",
        cfg.batches, cfg.batch, objects
    );

    // A batch that something else still refers into cannot move.
    {
        let (tx, _rx) = bounded(1);
        let b = batch(3, 0).map_err(|e| e.to_string())?;
        let kept = b.get(1).map_err(|e| e.to_string())?;
        let refused = tx.send(b, Mode::Move).unwrap_err();
        println!("refused: {refused}");
        let b = refused.into_inner();
        drop(kept);
        tx.send(b, Mode::Move).map_err(|e| e.to_string())?;
        println!("sent once the alias was gone");
    }

    let mut results = Vec::new();
    for how in [How::Move, How::Copy, How::Pickle] {
        let (total, records, t) = run(how, &cfg)?;
        println!(
            "{:<7} {:>9.1} ms  ({:.2} us per batch hop, {} records, total {total})",
            format!("{}:", how.name()),
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e6 / (2 * cfg.batches) as f64,
            records
        );
        results.push((how, total, records, t));
    }
    let all_same = results
        .iter()
        .all(|r| r.1 == results[0].1 && r.2 == cfg.batches * cfg.batch);
    if !all_same {
        return Err("the modes disagree".into());
    }
    let t = |h: How| {
        results
            .iter()
            .find(|r| r.0 == h)
            .map(|r| r.3)
            .unwrap_or_default()
    };
    println!(
        "copy / move = {:.1}x, pickle / move = {:.1}x (whole pipeline, building the batches included)",
        t(How::Copy).as_secs_f64() / t(How::Move).as_secs_f64(),
        t(How::Pickle).as_secs_f64() / t(How::Move).as_secs_f64()
    );
    println!("all modes agree; every worker's heap ended empty");
    Ok(())
}
