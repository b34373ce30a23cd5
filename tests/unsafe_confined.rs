//! The sealed core, checked: `unsafe` code appears only in the three core
//! modules of `permafrost-freeze` (plus one test-only allocator), and every
//! unsafe block or impl there states its own `// SAFETY:` argument in
//! place rather than pointing elsewhere.

use std::path::{Path, PathBuf};

/// The only files allowed to contain `unsafe` code.
const CORE: &[&str] = &[
    "freeze/src/core/object.rs",
    "freeze/src/core/payload.rs",
    "freeze/src/core/send.rs",
];

/// Test code that needs unsafe for a reason of its own: a counting
/// `GlobalAlloc` (implementing it is unsafe by definition).
const TEST_ONLY: &[&str] = &["runtime/tests/hostile.rs"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p.is_dir() {
            if !matches!(name.as_ref(), "target" | ".git" | "corpus" | "artifacts") {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The source with comments and the contents of string and char literals
/// blanked out (kept line by line, so line numbers stay right).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                if b[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            i += 3; // 'x'
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn has_unsafe_token(line: &str) -> bool {
    line.match_indices("unsafe").any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + 6..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn unsafe_only_in_the_core() {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "freeze", "runtime", "bench", "src", "tests", "examples", "fuzz", "cluster",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the scan found too few files: {}",
        files.len()
    );
    let mut offenders = Vec::new();
    let mut core_seen = 0;
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let uses = code.lines().any(has_unsafe_token);
        if CORE.contains(&rel.as_str()) {
            core_seen += uses as usize;
        } else if uses && !TEST_ONLY.contains(&rel.as_str()) {
            offenders.push(rel);
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe outside the sealed core: {offenders:?}"
    );
    assert_eq!(core_seen, CORE.len(), "every core module was scanned");
}

#[test]
fn every_core_unsafe_states_its_own_argument() {
    let root = root();
    let mut missing = Vec::new();
    for rel in CORE {
        let src = std::fs::read_to_string(root.join(rel)).unwrap();
        let code = code_only(&src);
        let raw: Vec<&str> = src.lines().collect();
        for (n, line) in code.lines().enumerate() {
            let t = line.trim_start();
            // Declarations (`unsafe fn`) carry a `# Safety` section instead.
            let needs = has_unsafe_token(line) && !t.contains("unsafe fn");
            if !needs {
                continue;
            }
            // The argument is the comment block just above the statement
            // (at most three code lines of the statement in between).
            let mut code_lines = 0;
            let mut argument = None;
            for l in raw[..n].iter().rev().take(20) {
                let l = l.trim_start();
                if l.starts_with("// SAFETY:") {
                    argument = Some(l.to_ascii_lowercase());
                    break;
                }
                if !l.starts_with("//") {
                    code_lines += 1;
                    if code_lines > 3 {
                        break;
                    }
                }
            }
            let argued = argument.is_some();
            let points_away = argument.is_some_and(|a| {
                ["as in", "see above", "as above", "as for"]
                    .iter()
                    .any(|p| a.starts_with(&format!("// safety: {p}")))
            });
            if !argued || points_away {
                missing.push(format!("{rel}:{}: {}", n + 1, raw[n].trim()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "unsafe without its own SAFETY argument: {missing:#?}"
    );
}

#[test]
fn the_scanner_sees_through_comments_and_strings() {
    let src = "let a = \"unsafe\"; // unsafe\n/* unsafe */ let c = '\"';\nunsafe { x }\n";
    let code = code_only(src);
    let flagged: Vec<usize> = code
        .lines()
        .enumerate()
        .filter(|(_, l)| has_unsafe_token(l))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(flagged, vec![2]);
    assert!(!has_unsafe_token("unsafe_code"));
    assert!(!has_unsafe_token("#![deny(unsafe_op_in_unsafe_fn)]"));
}
