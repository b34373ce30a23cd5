//! Runs `bench/cpython_bench.py` (embedded in the binary) for one shape and
//! reads its rows back.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::csv::Row;

/// The CPython script, as shipped in `bench/cpython_bench.py`.
pub const SCRIPT: &str = include_str!("../cpython_bench.py");

/// What one run of the script gave.
#[derive(Debug, Default)]
pub struct PyOutcome {
    /// Parsed `table1` rows.
    pub rows: Vec<Row>,
    /// `#error` lines and anything else that went wrong.
    pub errors: Vec<String>,
    /// `#info` lines.
    pub info: Vec<String>,
    /// The first random string, when the shape uses strings.
    pub first: Option<String>,
}

/// The version of `python` (`python3 --version`), or `None` if it does not run.
pub fn version(python: &str) -> Option<String> {
    let out = Command::new(python).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if s.is_empty() {
        s = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Some(s)
}

/// Writes the script into `dir` and returns its path.
pub fn install(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("cpython_bench.py");
    std::fs::write(&path, SCRIPT)?;
    Ok(path)
}

/// Runs the script for `shape` at size `n`; `progress(op, k)` is called on
/// each finished timed run.
pub fn run_shape(
    python: &str,
    script: &Path,
    shape: &str,
    n: usize,
    runs: usize,
    keep_gc: bool,
    progress: &mut dyn FnMut(&str),
) -> PyOutcome {
    let mut out = PyOutcome::default();
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(["--shape", shape, "--n", &n.to_string()])
        .args(["--runs", &runs.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if keep_gc {
        cmd.arg("--gc");
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            out.errors
                .push(format!("{shape}: cannot run {python}: {e}"));
            return out;
        }
    };
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().expect("piped");
    read_lines(stdout, shape, &mut out, progress);
    let status = child.wait();
    let err_text = err_reader.join().unwrap_or_default();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            let tail: String = err_text
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ");
            out.errors
                .push(format!("{shape}: CPython exited with {s}: {tail}"));
        }
        Err(e) => out.errors.push(format!("{shape}: CPython: {e}")),
    }
    out
}

/// Reads the script's output: progress ticks, errors, notes, its first
/// random string (the shapes check) and its CSV rows.
fn read_lines(
    stdout: impl std::io::Read,
    shape: &str,
    out: &mut PyOutcome,
    progress: &mut dyn FnMut(&str),
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("#progress ") {
            progress(rest.split_whitespace().next().unwrap_or(""));
        } else if let Some(rest) = line.strip_prefix("#error ") {
            out.errors.push(format!("{shape}: CPython {rest}"));
        } else if let Some(rest) = line.strip_prefix("#info ") {
            out.info.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("#first ") {
            out.first = Some(rest.trim().to_string());
        } else if line.starts_with("table1,") {
            match Row::parse(&line) {
                Ok(r) => out.rows.push(r),
                Err(e) => out.errors.push(format!("{shape}: bad CPython row: {e}")),
            }
        }
    }
}
