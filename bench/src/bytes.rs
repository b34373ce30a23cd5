//! The `bytes` suite: memory per object of every Table 1 shape and of
//! verona-rt's shapes, this runtime against CPython.
//!
//! * This runtime: real allocation bytes, counted from outside the
//!   allocator. The bench re-runs its own binary (so with its global
//!   allocator, mimalloc) as a child that generates the shape's input,
//!   reads its resident set (`/proc/self/statm`), builds the graph and
//!   reads it again; the difference is what building the graph took from
//!   the system (object headers and bodies, attribute storage, container
//!   buffers, string bytes, the allocator's size-class rounding and
//!   metadata). A fresh process for each shape, so nothing freed earlier
//!   is reused; a warm-up graph of the same shape (an eighth the size,
//!   kept alive) is built first, so first-use costs of the allocator
//!   (segments, pages per size class) are not charged to the objects.
//!   Page granularity (4 KiB) is negligible at these sizes.
//! * CPython (when `python3` runs): `bench/cpython_bytes.py` builds the
//!   same shape and reports the `sys.getsizeof` sum over the reachable
//!   objects (CPython 3.11's `getsizeof` already includes the 16-byte GC
//!   header of GC-tracked objects; the script adds it only where it is
//!   missing) and, beside it, tracemalloc's count of the bytes the build
//!   allocated and still holds.
//!
//! Rows: suite `bytes`, workload the shape, op `build`, mode `rust`,
//! `cpython-getsizeof` or `cpython-tracemalloc`, `n` the shape's size
//! parameter, `workers` (re-used) the object count, `bytes` the total.

use std::path::Path;
use std::process::Command;

use permafrost::diag::{frozen_live, heap_live};

use crate::csv::Row;
use crate::shapes::{build, Input, Shape};
use crate::verona::{build_variant, VShape, Variant};

const ENV: &str = "PERMAFROST_BENCH_BYTES_CHILD";

/// The CPython script, as shipped in `bench/cpython_bytes.py`.
pub const SCRIPT: &str = include_str!("../cpython_bytes.py");

/// What to measure: (shape name, size parameter).
#[derive(Clone, Debug)]
pub struct Config {
    /// Table 1 shapes and verona shapes by name, with their sizes.
    pub items: Vec<(String, usize)>,
}

impl Config {
    /// Every Table 1 shape at its size under `sizes` (deep ones capped at
    /// `cap`), and every verona shape at `verona_n`.
    pub fn new(sizes: &crate::shapes::Sizes, cap: usize, verona_n: usize) -> Config {
        let mut items: Vec<(String, usize)> = Shape::ALL
            .iter()
            .map(|s| (s.name().to_string(), s.size(sizes).min(cap)))
            .collect();
        items.extend(VShape::ALL.iter().map(|v| (v.name().to_string(), verona_n)));
        Config { items }
    }
}

/// Steps of [`run`].
pub fn total_steps(cfg: &Config) -> u64 {
    2 * cfg.items.len() as u64
}

/// Resident set of this process, bytes.
fn rss() -> Option<u64> {
    crate::sharing::rss_bytes().and_then(|b| u64::try_from(b).ok())
}

/// If this process is a bytes child (`PERMAFROST_BENCH_BYTES_CHILD=shape:n`),
/// measures that shape, prints `bytes <total> <objects>` and exits.
pub fn child_main_if_asked() {
    let Ok(spec) = std::env::var(ENV) else {
        return;
    };
    let code = match measure_here(&spec) {
        Ok((bytes, objects)) => {
            println!("bytes {bytes} {objects}");
            0
        }
        Err(e) => {
            eprintln!("bytes child: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Builds `shape:n` in this process and returns (bytes, objects).
fn measure_here(spec: &str) -> Result<(u64, usize), String> {
    let (name, n) = spec.split_once(':').ok_or("expected shape:n")?;
    let n: usize = n.parse().map_err(|e| format!("{n:?}: {e}"))?;
    // A warm-up graph of the same shape, an eighth the size, kept alive:
    // the allocator's and the runtime's first-use costs (segments, size
    // class pages, thread caches) are paid before the measurement.
    let warm = if Shape::from_name(name).is_some() {
        Shape::from_name(name).map(|s| build(&Input::new(s, (n / 8).max(1))))
    } else {
        VShape::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .map(|shape| {
                build_variant(
                    Variant {
                        shape,
                        reversed: false,
                    },
                    (n / 8).max(1),
                )
            })
    };
    let (h0, f0) = (heap_live(), frozen_live());
    let r = measure_after_warm_up(name, n, h0, f0);
    drop(warm);
    r
}

fn measure_after_warm_up(
    name: &str,
    n: usize,
    h0: usize,
    f0: isize,
) -> Result<(u64, usize), String> {
    if let Some(shape) = Shape::from_name(name) {
        let input = Input::new(shape, n);
        let before = rss().ok_or("no /proc/self/statm")?;
        let b = build(&input);
        let after = rss().ok_or("no /proc/self/statm")?;
        let objects = objects_since(h0, f0, b.classes.len());
        std::hint::black_box(&b);
        Ok((after.saturating_sub(before), objects))
    } else if let Some(shape) = VShape::ALL.into_iter().find(|v| v.name() == name) {
        let before = rss().ok_or("no /proc/self/statm")?;
        let b = build_variant(
            Variant {
                shape,
                reversed: false,
            },
            n,
        );
        let after = rss().ok_or("no /proc/self/statm")?;
        let objects = objects_since(h0, f0, b.classes.len());
        std::hint::black_box(&b);
        Ok((after.saturating_sub(before), objects))
    } else {
        Err(format!("unknown shape {name:?}"))
    }
}

/// Objects made since the counts were `h0`, `f0` (mutable and frozen,
/// e.g. strings), classes not counted.
fn objects_since(h0: usize, f0: isize, classes: usize) -> usize {
    let frozen = usize::try_from(frozen_live() - f0).unwrap_or(0);
    (heap_live() - h0 + frozen).saturating_sub(classes)
}

/// Runs the Rust children and, if `python` is given, the CPython script
/// (written into `out`). `tick` after each measurement.
pub fn run(
    cfg: &Config,
    python: Option<&str>,
    out: &Path,
    tick: &mut dyn FnMut(&str),
) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let script = python.and_then(|_| {
        let path = out.join("cpython_bytes.py");
        let bench = out.join("cpython_bench.py");
        let ok = std::fs::write(&path, SCRIPT).is_ok()
            && std::fs::write(&bench, crate::python::SCRIPT).is_ok();
        ok.then_some(path)
    });
    if python.is_some() && script.is_none() {
        notes.push(format!(
            "bytes: cannot write the CPython script into {}",
            out.display()
        ));
    }
    for (name, n) in &cfg.items {
        match rust_child(name, *n) {
            Ok((bytes, objects)) => rows.push(row(name, *n, "rust", objects, bytes)),
            Err(e) => notes.push(format!("bytes {name}: {e}")),
        }
        tick(name);
        if let (Some(py), Some(script)) = (python, &script) {
            match python_side(py, script, name, *n) {
                Ok((objects, sized, traced)) => {
                    rows.push(row(name, *n, "cpython-getsizeof", objects, sized));
                    rows.push(row(name, *n, "cpython-tracemalloc", objects, traced));
                }
                Err(e) => notes.push(format!("bytes {name} (CPython): {e}")),
            }
        }
        tick(name);
    }
    (rows, notes)
}

fn row(name: &str, n: usize, mode: &str, objects: usize, bytes: u64) -> Row {
    let mut r = Row::new("bytes", name, "build", mode);
    r.n = Some(n as u64);
    r.workers = Some(objects as u64);
    r.bytes = Some(bytes);
    r
}

fn rust_child(name: &str, n: usize) -> Result<(u64, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(ENV, format!("{name}:{n}"))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("bytes "))
        .ok_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string())?;
    let mut it = line.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next()) {
        (Some(Ok(b)), Some(Ok(o))) => Ok((b, o as usize)),
        _ => Err(format!("bad child output {line:?}")),
    }
}

fn python_side(
    python: &str,
    script: &Path,
    name: &str,
    n: usize,
) -> Result<(usize, u64, u64), String> {
    let out = Command::new(python)
        .arg(script)
        .args([name, &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("bytes,"))
        .ok_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string())?;
    let f: Vec<&str> = line.split(',').collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok());
    match (num(3), num(4), num(5)) {
        (Some(o), Some(s), Some(t)) => Ok((o as usize, s, t)),
        _ => Err(format!("bad CPython output {line:?}")),
    }
}

/// The `bytes` section of `report.md`.
pub fn section(w: &mut String, rows: &[Row]) {
    use std::fmt::Write as _;
    let t: Vec<&Row> = rows.iter().filter(|r| r.suite == "bytes").collect();
    if t.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Bytes per object (this runtime vs CPython)\n");
    let _ = writeln!(
        w,
        "Rust: the resident-set growth of a fresh child process (this binary, mimalloc) while it builds the graph, over the objects built (heap objects, strings included, classes not). CPython: `sys.getsizeof` summed over the reachable objects (3.11's `getsizeof` includes the 16-byte GC header of tracked objects), and tracemalloc's bytes held after the build (includes instances' value arrays, which `getsizeof` does not see). Objects = heap objects of each runtime (ints are immediates here, objects in CPython; so bytes per item is given too). `diag::OBJECT_BYTES` = {} (header {}).\n",
        permafrost::diag::OBJECT_BYTES,
        permafrost::diag::HEADER_BYTES
    );
    let _ = writeln!(
        w,
        "| shape | n | objects (rust / CPython) | rust bytes/object | CPython getsizeof bytes/object | CPython tracemalloc bytes/object | rust bytes/item | CPython getsizeof bytes/item | rust / CPython getsizeof (per item) |\n|---|---|---|---|---|---|---|---|---|"
    );
    let mut names: Vec<&str> = Vec::new();
    for r in &t {
        if !names.contains(&r.workload.as_str()) {
            names.push(&r.workload);
        }
    }
    for name in names {
        let get = |mode: &str| t.iter().find(|r| r.workload == name && r.mode == mode);
        let (rs, gs, tm) = (
            get("rust"),
            get("cpython-getsizeof"),
            get("cpython-tracemalloc"),
        );
        let per_obj =
            |r: Option<&&Row>| r.and_then(|r| Some(r.bytes? as f64 / r.workers?.max(1) as f64));
        let per_item =
            |r: Option<&&Row>| r.and_then(|r| Some(r.bytes? as f64 / r.n?.max(1) as f64));
        let f = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.1}"));
        let n = rs.or(gs).and_then(|r| r.n).unwrap_or(0);
        let ratio = match (per_item(rs), per_item(gs)) {
            (Some(a), Some(b)) if b > 0.0 => crate::report::fmt_ratio(a / b),
            _ => "–".into(),
        };
        let _ = writeln!(
            w,
            "| {name} | {n} | {} / {} | {} | {} | {} | {} | {} | {ratio} |",
            rs.and_then(|r| r.workers)
                .map_or("–".into(), |x| x.to_string()),
            gs.and_then(|r| r.workers)
                .map_or("–".into(), |x| x.to_string()),
            f(per_obj(rs)),
            f(per_obj(gs)),
            f(per_obj(tm)),
            f(per_item(rs)),
            f(per_item(gs)),
        );
    }
    let _ = writeln!(w);
}

/// The target: bytes per item at most CPython's (`getsizeof`
/// figure) on every shape.
pub fn target(rows: &[Row]) -> crate::report::Target {
    let mut parts = Vec::new();
    let mut all = true;
    for r in rows
        .iter()
        .filter(|r| r.suite == "bytes" && r.mode == "rust")
    {
        let py = rows.iter().find(|p| {
            p.suite == "bytes" && p.mode == "cpython-getsizeof" && p.workload == r.workload
        });
        if let (Some(a), Some(b)) = (r.bytes, py.and_then(|p| p.bytes)) {
            let ok = a <= b;
            all &= ok;
            parts.push(format!(
                "{} {}{}",
                r.workload,
                crate::report::fmt_ratio(a as f64 / b.max(1) as f64),
                if ok { "" } else { " ✗" }
            ));
        }
    }
    crate::report::Target {
        text: "bytes per object at most CPython 3.11's (sys.getsizeof with the GC header) on every shape (rust / CPython, same n)".into(),
        met: (!parts.is_empty()).then_some(all),
        measured: if parts.is_empty() {
            "–".into()
        } else {
            parts.join(", ")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_specs_are_errors() {
        // (Counts are checked through the real child in tests/cli.rs:
        // here other tests change the process-wide frozen count.)
        assert!(measure_here("nope:1").is_err());
        assert!(measure_here("tuple").is_err());
        assert!(measure_here("tuple:x").is_err());
    }

    #[test]
    fn section_and_target_from_rows() {
        let rows = vec![
            row("tuple", 10, "rust", 11, 500),
            row("tuple", 10, "cpython-getsizeof", 11, 1000),
            row("list", 10, "rust", 10, 880),
            row("list", 10, "cpython-getsizeof", 10, 800),
        ];
        let t = target(&rows);
        assert_eq!(t.met, Some(false));
        assert!(t.measured.contains("tuple 0.50×") && t.measured.contains("list 1.10× ✗"));
        let mut s = String::new();
        section(&mut s, &rows);
        assert!(s.contains("| tuple | 10 | 11 / 11 | 45.5 | 90.9 |"), "{s}");
    }
}
