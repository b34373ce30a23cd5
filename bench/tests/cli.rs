//! End to end: the CLI's `all` at tiny sizes writes results.csv (a row for
//! every suite), report.md and the SVG plots; the CPython script draws the
//! same strings as the Rust side.

use std::path::PathBuf;
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn all_at_tiny_sizes_writes_every_output() {
    let out = out_dir("cli-all");
    let status = Command::new(env!("CARGO_BIN_EXE_permafrost-bench"))
        .args(["all", "--n", "300", "--matrices", "200", "--batch", "50"])
        .args(["--store-gets", "200"])
        .args(["--runs", "2", "--transfer-reps", "5", "--workers", "2"])
        .args(["--small", "--shape-sizes", "100", "--chain-links", "1000"])
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run the CLI");
    assert!(status.success());

    let csv = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("suite,workload,op,mode,n,workers,runs,median_ns,min_ns,max_ns,bytes")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 11));
    for suite in [
        "table1",
        "transfer",
        "sharing",
        "store",
        "shapes",
        "bytes",
        "codec",
        "revisions",
    ] {
        assert!(rows.iter().any(|r| r[0] == suite), "no {suite} rows");
    }
    // Every shape x op on the Rust side.
    for shape in [
        "dict-int",
        "dict-student",
        "tuple",
        "binary-tree",
        "ints",
        "graph",
        "chain",
    ] {
        for op in [
            "build", "traverse", "freeze", "pickle", "unpickle", "deepcopy", "drop",
        ] {
            assert!(
                rows.iter()
                    .any(|r| r[0] == "table1" && r[1] == shape && r[2] == op && r[3] == "rust"),
                "missing table1 {shape} {op}"
            );
        }
    }
    if python_available() {
        assert!(rows.iter().any(|r| r[0] == "table1" && r[3] == "cpython"));
    }
    for op in ["share", "pickle", "copy"] {
        assert!(rows.iter().any(|r| r[0] == "transfer" && r[2] == op));
    }
    for mode in ["shared", "pickled", "baseline"] {
        assert!(rows
            .iter()
            .any(|r| r[0] == "sharing" && r[2] == "throughput" && r[3] == mode));
    }

    // The shapes suite: 16 variants x alloc / freeze / dispose, and the
    // chain's traverse and freeze; bytes for this runtime on every shape.
    let shapes = rows.iter().filter(|r| r[0] == "shapes" && r[1] != "chain");
    assert_eq!(shapes.count(), 16 * 3);
    for op in ["traverse", "freeze"] {
        assert!(rows
            .iter()
            .any(|r| r[0] == "shapes" && r[1] == "chain" && r[2] == op && r[4] == "1000"));
    }
    let rust_bytes = rows.iter().filter(|r| r[0] == "bytes" && r[3] == "rust");
    assert_eq!(rust_bytes.count(), 7 + 8);
    if python_available() {
        assert!(rows
            .iter()
            .any(|r| r[0] == "bytes" && r[1] == "horrible2" && r[3] == "cpython-getsizeof"));
    }
    for codec in ["bincode", "bitcode"] {
        assert!(rows
            .iter()
            .any(|r| r[0] == "codec" && r[2] == "unpickle" && r[3] == codec));
    }

    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(report.contains("## verona-rt shapes"));
    assert!(report.contains("### Chain: freeze against a bare traversal"));
    assert!(report.contains("## Bytes per object"));
    assert!(report.contains("### Pickle codecs"));
    assert!(report.contains("## Targets"));
    assert!(report.contains("## Table 1"));
    assert!(report.contains("## Transfer"));
    assert!(report.contains("## Figure 1"));
    assert!(report.contains("## Object store"));
    for op in [
        "put",
        "get",
        "throughput",
        "spill",
        "restore",
        "pickle",
        "unpickle",
    ] {
        assert!(
            rows.iter().any(|r| r[0] == "store" && r[2] == op),
            "missing store {op}"
        );
    }
    assert!(report.contains("## Revisions"));
    for route in ["draft", "deepcopy", "pickle"] {
        assert!(
            rows.iter().any(|r| r[0] == "revisions"
                && r[1] == "binary-tree"
                && r[2] == "update"
                && r[3] == route),
            "missing revisions {route}"
        );
    }
    assert!(rows
        .iter()
        .any(|r| r[0] == "revisions" && r[2] == "objects" && !r[10].is_empty()));
    assert!(report.contains("one-leaf revisions of the binary tree hold under 1.1x"));
    for svg in [
        "table1.svg",
        "transfer.svg",
        "figure1.svg",
        "shapes.svg",
        "revisions.svg",
    ] {
        let text = std::fs::read_to_string(out.join(svg)).expect(svg);
        assert!(text.starts_with("<svg") || text.contains("<svg"), "{svg}");
        assert!(text.contains("<text"), "{svg} has no text");
    }
}

#[test]
fn bytes_child_counts_the_objects_it_built() {
    // The bytes suite's child: a tuple of 1000 strings is 1001 objects;
    // a 50,000-node list grows the resident set by at least its headers.
    let run = |spec: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_permafrost-bench"))
            .env("PERMAFROST_BENCH_BYTES_CHILD", spec)
            .output()
            .expect("run the child");
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("bytes "))
            .map(str::to_string);
        (out.status.success(), line)
    };
    let (ok, line) = run("tuple:1000");
    assert!(ok);
    assert!(line.unwrap().ends_with(" 1001"));
    let (ok, line) = run("list:50000");
    assert!(ok);
    let line = line.unwrap();
    let mut it = line.split(' ').map(|x| x.parse::<u64>().unwrap());
    let (bytes, objects) = (it.next().unwrap(), it.next().unwrap());
    assert_eq!(objects, 50_000);
    assert!(bytes >= 50_000 * 24, "{bytes}");
    let (ok, line) = run("no-such-shape:5");
    assert!(!ok && line.is_none());
}

#[test]
fn python_draws_the_same_strings() {
    if !python_available() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cpython_bench.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--print-strings", "50"])
        .output()
        .expect("run python3");
    assert!(out.status.success());
    let py: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(py, permafrost_bench::prng::strings(50));
}

#[test]
fn cluster_suite_reports_time_and_bytes_per_request() {
    let out = out_dir("cli-cluster");
    let status = Command::new(env!("CARGO_BIN_EXE_permafrost-bench"))
        .args(["cluster", "--n", "2000", "--runs", "1", "--out"])
        .arg(&out)
        .status()
        .expect("run the CLI");
    assert!(status.success());
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    for mode in ["first", "id", "pickle-every-time"] {
        let row = csv
            .lines()
            .find(|l| l.starts_with(&format!("cluster,lists,request,{mode},2000,")))
            .unwrap_or_else(|| panic!("no cluster {mode} row in:\n{csv}"));
        let bytes: u64 = row.rsplit(',').next().unwrap().parse().unwrap();
        // The id-only frame is a header; the others carry the pickle.
        assert!((mode == "id") == (bytes < 200), "{row}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(report.contains("## Cluster"), "{report}");
}
