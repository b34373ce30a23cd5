//! Runs every example in `examples/` at its small size, so none of them
//! rots: each must exit successfully and print its key line.
//!
//! The examples are built once, by a nested `cargo build --examples` into
//! this test's own target directory and profile (so a plain `cargo test`,
//! which has built them already, finds them fresh), then each binary runs
//! with `--small` and `PERMAFROST_SMALL=1` under a time limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one example may run at its small size (generous: CI machines
/// are small and busy).
const LIMIT: Duration = Duration::from_secs(120);

/// `<target>/<profile dir>`, the directory holding this test's binary.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/<profile dir>/deps/examples-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds all examples once (a no-op when `cargo test` already did) and
/// returns the directory they are in.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let target = dir.parent().expect("a target directory").to_path_buf();
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "test".to_string(),
            Some(other) => other.to_string(),
            None => "test".to_string(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "permafrost", "--examples"])
            .args(["--profile", &profile])
            .arg("--target-dir")
            .arg(&target)
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed: {status}");
        dir.join("examples")
    })
}

/// Runs example `name` at its small size and returns its standard output.
fn run(name: &str) -> String {
    let exe = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(exe.exists(), "{} was not built", exe.display());
    let mut child = Command::new(&exe)
        .arg("--small")
        .env("PERMAFROST_SMALL", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for the example").is_some() {
            break;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{name} ran longer than {LIMIT:?}; stdout so far:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{name} ({:.2} s):\n{stdout}", start.elapsed().as_secs_f64());
    stdout
}

fn assert_has(out: &str, needle: &str) {
    assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
}

#[test]
fn matrix_sharing() {
    let out = run("matrix_sharing");
    assert_has(&out, "2 consumers x 2000 matrices");
    assert_has(&out, "shared  (by reference):");
    assert_has(&out, "pickled (serialised copies):");
    assert_has(&out, "invertible matrices in every mode");
}

#[test]
fn map_reduce() {
    let out = run("map_reduce");
    assert_has(&out, "5000 lines");
    assert_has(&out, "shared corpus:");
    assert_has(&out, "pickled slices:");
    assert_has(&out, "all modes agree");
}

#[test]
fn pipeline() {
    let out = run("pipeline");
    assert_has(&out, "object of type Reading is immutable");
    assert_has(&out, "5000 readings through 3 stages");
}

#[test]
fn shared_counter() {
    let out = run("shared_counter");
    assert_has(&out, "= 4000 (expected 4000)");
    assert_has(&out, "-> version 200 (expected 200)");
    assert_has(&out, "object of type dict is not frozen");
}

#[test]
fn freeze_errors() {
    let out = run("freeze_errors");
    assert_has(&out, "at roots[0].handlers[1][");
    assert_has(&out, "conn");
    assert_has(&out, "object of type list is immutable");
    assert_has(&out, "cannot send a mutable list by share");
    assert_has(&out, "class 'Unregistered' is not registered");
    assert_has(&out, "all six cases behaved as shown");
}

#[test]
fn actor_embedding() {
    let out = run("actor_embedding");
    assert_has(&out, "2000 books");
    assert_has(&out, "catalogue now 2003 books");
    assert_has(&out, "all actors stopped");
}

#[test]
fn move_pipeline() {
    let out = run("move_pipeline");
    assert_has(&out, "20 batches of 500 records");
    assert_has(
        &out,
        "refused: cannot move: object of type dict at root[1] has 1 reference from outside",
    );
    assert_has(&out, "sent once the alias was gone");
    assert_has(&out, "all modes agree; every worker's heap ended empty");
}

#[test]
fn object_store() {
    let out = run("object_store");
    assert_has(&out, "a table of 20000 rows");
    assert_has(&out, "(matches the driver's own sum)");
    assert_has(&out, "workers got the same table");
    assert_has(&out, "spilled 1 object(s) to");
    assert_has(
        &out,
        "equal contents, new objects (identity is kept only while resident)",
    );
    assert_has(&out, "spill directory removed");
}

#[test]
fn cluster() {
    let out = run("cluster");
    assert_has(&out, "3 nodes (separate processes on 127.0.0.1)");
    assert_has(&out, "a table of 20000 rows");
    assert_has(&out, "sent once per node");
    assert_has(&out, "pickle every time");
    assert_has(&out, "all workers agree");
    assert_has(&out, "node-1: decoded the table 1 time(s)");
    assert_has(&out, "node-2: live objects heap=0 frozen=0");
    assert_has(&out, "driver: live objects heap=0 frozen=0");
}

#[test]
fn revisions() {
    let out = run("revisions");
    assert_has(&out, "document: 1000 sections");
    assert_has(
        &out,
        "edits: 4 workers x 25 edits -> version 101 (expected 101)",
    );
    assert_has(&out, "4.0 objects copied per edit");
    assert_has(
        &out,
        "update() is only available for the root of a current revision",
    );
    assert_has(&out, "version 1 of 'doc' is retired");
    assert_has(
        &out,
        "rollback: to version 51 (50 later revisions removed), now 51 revisions",
    );
    assert_has(&out, "all revisions freed");
}
