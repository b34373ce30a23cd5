//! Writes the seed corpora: real pickles of varied graphs plus truncated
//! and corrupted ones for `unpickle`, and a few hand-made operation
//! sequences for `ops`.
//!
//! ```sh
//! cd fuzz && cargo run --example gen_corpus            # writes corpus/
//! cd fuzz && cargo run --example gen_corpus -- OUTDIR  # somewhere else
//! ```
//!
//! The output is deterministic: running it again rewrites the same files.

use std::fs;
use std::path::{Path, PathBuf};

use permafrost_freeze::{freeze, pickle, pickle_with, unpickle, Codec, Value};

#[path = "../fuzz_targets/common.rs"]
mod common;

fn node(cls: &Value, id: i64) -> Value {
    cls.instantiate(vec![
        ("id", Value::Int(id)),
        ("label", Value::from(format!("node-{id}"))),
    ])
    .unwrap()
}

/// A ring of instances (a cycle through `next`), shared children, and a
/// `meta` dict per node holding a tuple, a buffer, bytes, a set and a
/// pointer back to its node.
fn graph(n: i64) -> Value {
    let classes = common::registered_classes();
    let nodes: Vec<Value> = (0..n)
        .map(|i| node(&classes[(i % 2) as usize], i))
        .collect();
    let common = Value::tuple(vec![Value::from("common"), Value::Float(2.5)]);
    for (i, nd) in nodes.iter().enumerate() {
        let i = i as i64;
        nd.setattr("next", nodes[((i + 1) % n) as usize].clone())
            .unwrap();
        let kids: Vec<Value> = (0..(i % 3))
            .map(|k| nodes[((i * 7 + k) % n) as usize].clone())
            .collect();
        nd.setattr("kids", Value::list(kids)).unwrap();
        let meta = Value::dict();
        meta.set_item(
            "t".into(),
            Value::tuple(vec![Value::Int(i), Value::None, Value::Bool(true)]),
        )
        .unwrap();
        meta.set_item("common".into(), common.clone()).unwrap();
        if i % 2 == 0 {
            meta.set_item("buf".into(), Value::buffer(vec![i as f64, 0.5, -1.0]))
                .unwrap();
        }
        if i % 3 == 0 {
            meta.set_item("raw".into(), Value::bytes(&[i as u8, 0, 255]))
                .unwrap();
            meta.set_item(
                "tags".into(),
                Value::set_from(vec![Value::Int(1), Value::from("x"), Value::Int(i + 7)]).unwrap(),
            )
            .unwrap();
        }
        meta.set_item("owner".into(), nd.clone()).unwrap();
        nd.setattr("meta", meta).unwrap();
    }
    let mut items = nodes;
    items.push(common.clone());
    items.push(common);
    Value::list(items)
}

/// Named graphs, each to be pickled.
fn graphs() -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = vec![
        ("int", Value::Int(-42)),
        ("none", Value::None),
        ("float", Value::Float(-0.0)),
        ("bool", Value::Bool(true)),
        ("str", Value::from("héllo")),
        ("bytes", Value::bytes(b"\x00\x01\xff")),
        ("empty-list", Value::list(vec![])),
        ("empty-tuple", Value::tuple(vec![])),
        ("empty-dict", Value::dict()),
        (
            "ints",
            Value::list((0..20).map(|i| Value::Int(i * 1000 - 7)).collect()),
        ),
        (
            "strs",
            Value::list((0..12).map(|i| Value::from(format!("s{i}"))).collect()),
        ),
        ("buffer", Value::buffer(vec![1.0, -2.5, f64::INFINITY, 0.0])),
    ];

    let inner = Value::list(vec![Value::Int(1), Value::from("x")]);
    let s = Value::from("twice-referenced");
    out.push((
        "sharing",
        Value::list(vec![inner.clone(), inner, s.clone(), s]),
    ));

    let d = Value::dict_from(vec![
        (Value::from("k"), Value::bytes(b"\x00\x01\x02")),
        (
            Value::Int(7),
            Value::set_from(vec![Value::Float(1.5), Value::None]).unwrap(),
        ),
        (
            Value::tuple(vec![Value::Int(1), Value::from("t")]),
            Value::Bool(false),
        ),
        (Value::Float(2.5), Value::list(vec![])),
        (Value::None, Value::Int(0)),
        (Value::bytes(b"b"), Value::Int(1)),
    ])
    .unwrap();
    d.set_item("self".into(), d.clone()).unwrap();
    out.push(("dict-cycle", d));

    let set = Value::set_from(vec![
        Value::Int(1),
        Value::from("a"),
        Value::tuple(vec![Value::Int(2), Value::Int(3)]),
        Value::bytes(b"z"),
    ])
    .unwrap();
    out.push(("set", set));

    let a = Value::list(vec![]);
    let b = Value::list(vec![a.clone()]);
    a.append(b.clone()).unwrap();
    let cell = Value::cell(a.clone());
    a.append(cell.clone()).unwrap();
    out.push(("cell-cycle", cell));

    let f = Value::function(
        common::TWICE,
        1,
        common::twice,
        vec![Value::from("captured"), Value::list(vec![])],
        vec![Value::Int(3)],
    );
    out.push(("function", Value::list(vec![f.clone(), f])));

    let c = Value::cell(Value::Int(0));
    let clo = Value::function(common::CLOSURE, 0, common::closure, vec![c.clone()], vec![]);
    out.push(("closure", Value::tuple(vec![clo, c])));

    let mut chain = Value::None;
    for i in 0..40 {
        chain = Value::tuple(vec![Value::Int(i), chain, Value::from("x")]);
    }
    out.push(("tuple-chain", chain));

    let mut lists = Value::Int(0);
    for _ in 0..30 {
        lists = Value::list(vec![lists]);
    }
    out.push(("list-chain", lists));

    out.push(("graph-1", graph(1)));
    out.push(("graph-4", graph(4)));
    out.push(("graph-9", graph(9)));

    let classes = common::registered_classes();
    out.push(("class-ref", classes[0].clone()));
    let lone = node(&classes[1], 5);
    out.push(("instance", lone));

    let fg = graph(3);
    freeze(&[&fg]).unwrap();
    out.push(("frozen-graph", fg));

    let t = Value::tuple(vec![Value::from("a"), Value::Int(1)]);
    freeze(&[&t]).unwrap();
    out.push((
        "frozen-tuple-in-list",
        Value::list(vec![t.clone(), t, Value::dict()]),
    ));
    out
}

/// Hostile streams from the regression tests (op indices: OpenTuple=8,
/// OpenList=9, OpenDict=10, OpenSet=11, OpenCell=12, Fill=18, End=22;
/// packed items Ref(n) = n<<3|5).
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let pk = |ops: &[u8]| {
        let mut b = b"PFPK\x02".to_vec();
        b.extend_from_slice(ops);
        b
    };
    vec![
        ("hostile-self-fill", pk(&[9, 2, 18, 0, 2, 5, 61, 22, 4, 0])),
        ("hostile-odd-dict", pk(&[10, 1, 18, 0, 1, 5, 22, 4, 0])),
        (
            "hostile-unhashable-key",
            pk(&[9, 0, 10, 1, 18, 1, 2, 5, 0, 22, 4, 1]),
        ),
        ("hostile-cell-two", pk(&[12, 18, 0, 2, 0, 0, 22, 4, 0])),
        (
            "hostile-tuple-overfill",
            pk(&[9, 1, 8, 1, 18, 0, 1, 13, 18, 1, 2, 5, 5, 22, 4, 0]),
        ),
        (
            "hostile-cyclic-tuple",
            pk(&[11, 1, 8, 1, 18, 1, 1, 13, 18, 0, 1, 13, 22, 4, 0]),
        ),
        ("hostile-truncated-open", pk(&[9, 1])),
        ("hostile-bad-magic", b"PFPK\x01\x16\x00".to_vec()),
        (
            "hostile-length-bomb",
            pk(&[8, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ),
    ]
}

/// Hand-made operation sequences for the `ops` target, written against
/// its decoder (`arbitrary::Unstructured`): each op is one byte (taken
/// modulo the number of ops), followed by that op's own choices, each one
/// byte here (pool picks are taken modulo the pool size; "item" is one
/// byte choosing pool (0, 1) or a fresh leaf (2) and then the pick or the
/// leaf's bytes). The pool starts as `[1, "s"]`. Run one with
/// `PERMAFROST_FUZZ_TRACE=1 target/.../ops FILE` to see the ops it decodes.
fn ops_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // list [1]; freeze it; writes refused; share it with a thread that
        // drops the last reference; a list sent in Copy, Pickle, Share.
        (
            "build-freeze-share",
            vec![
                1, 1, 0, 0, 18, 0, 2, 27, 2, 19, 2, 1, 1, 2, 0, 1, 2, 1, 1, 20, 2, 2, 20, 2, 1, 18,
                0, 2, 20, 2, 0,
            ],
        ),
        // instances of a registered class, a mutable class, a class with
        // __pre_freeze__, NotFreezable and a failing __pre_freeze__; freezes
        // that fail (Explicit class, NotFreezable, hook) and succeed (with
        // the class as a second root); a pickle round trip.
        (
            "instances-freeze",
            vec![
                5, 0, 2, 0, 2, 2, 5, 2, 0, 1, 0, 5, 2, 1, 2, 0, 2, 1, 5, 3, 0, 1, 18, 0, 3, 18, 1,
                3, 4, 18, 1, 5, 6, 27, 5, 5, 5, 0, 1, 18, 1, 7, 8, 5, 4, 0, 1, 18, 1, 9, 10, 21, 2,
                1,
            ],
        ),
        // weakrefs with and without callbacks (one failing, one capturing the
        // other weakref), the referent dropped, callbacks run; a callback
        // capturing its own referent; a frozen weakref shared and dropped.
        (
            "weakrefs",
            vec![
                1, 0, 7, 2, 8, 2, 0, 1, 3, 8, 2, 1, 0, 23, 3, 25, 6, 25, 2, 24, 23, 3, 1, 0, 8, 5,
                0, 1, 5, 18, 0, 6, 19, 6, 1, 24, 26,
            ],
        ),
        // closure over a fresh cell; call it; set the cell; freeze the
        // closure (detachment); call again (frozen cell refuses); the
        // original cell still writable; pickle it; copy the cell elsewhere.
        (
            "closure",
            vec![
                10, 1, 5, 0, 0, 1, 32, 2, 0, 1, 14, 3, 2, 2, 9, 18, 0, 2, 32, 2, 0, 1, 14, 3, 2, 2,
                10, 33, 2, 21, 2, 1, 22, 3, 2,
            ],
        ),
        // hooks of every kind (mutate, refuse, freeze self, re-arm, grow the
        // graph) on lists and a dict, each followed by a freeze.
        (
            "hooks",
            vec![
                1, 0, 3, 1, 2, 4, 2, 0, 2, 17, 2, 0, 17, 3, 0, 18, 0, 3, 1, 0, 17, 4, 1, 18, 0, 4,
                18, 0, 4, 1, 0, 17, 5, 2, 18, 0, 5, 1, 0, 17, 6, 4, 18, 0, 6, 1, 0, 17, 7, 3, 18,
                0, 7, 27, 7,
            ],
        ),
        // shared field: set frozen, set immediate, CAS hit and miss, mutable
        // refused; channel sends (Copy of the field, Share, Pickle); freeze
        // the field with a list; share the frozen field.
        (
            "shared-field-channel",
            vec![
                9, 2, 2, 3, 1, 1, 2, 4, 1, 18, 0, 3, 15, 2, 0, 3, 15, 2, 2, 1, 1, 16, 2, 1, 0, 3,
                16, 2, 0, 2, 0, 0, 1, 1, 0, 15, 2, 0, 4, 20, 2, 2, 20, 3, 0, 20, 4, 1, 18, 1, 2, 4,
                20, 2, 0, 21, 2, 1,
            ],
        ),
        // a two-list cycle; deep copies (kept, dropped, adopted on another
        // thread); a cycle through a cell; drops; collect; pickle.
        (
            "cycle-copy-collect",
            vec![
                1, 0, 1, 1, 0, 2, 11, 2, 0, 3, 22, 2, 0, 22, 3, 1, 22, 2, 2, 6, 0, 4, 11, 4, 0, 5,
                25, 2, 25, 3, 26, 21, 2, 1, 25, 2, 25, 2, 25, 2, 26,
            ],
        ),
        // interpreter-local: make, get, set to a mutable list, get; status
        // No refuses a freeze, unset lets it through; share; is_frozen.
        (
            "local-status",
            vec![
                31, 0, 0, 31, 2, 1, 1, 0, 31, 2, 2, 0, 4, 31, 2, 1, 28, 5, 1, 18, 0, 5, 28, 5, 3,
                18, 0, 5, 19, 2, 0, 33, 2,
            ],
        ),
        // dict, list, set, instance: set_item, insert, pop, reads, setattr,
        // delattr, discard; freeze; a write to the frozen dict refused.
        (
            "mutate-read",
            vec![
                3, 0, 12, 2, 2, 4, 2, 0, 0, 1, 2, 2, 2, 3, 0, 1, 30, 3, 2, 0, 0, 4, 30, 3, 2, 0,
                255, 0, 29, 2, 3, 5, 1, 1, 4, 2, 0, 0, 13, 4, 3, 0, 2, 30, 4, 2, 0, 0, 5, 0, 4, 2,
                2, 2, 7, 2, 4, 1, 30, 5, 2, 2, 7, 0, 3, 29, 4, 5, 18, 1, 4, 2, 30, 2, 2, 0, 0, 1,
                27, 4,
            ],
        ),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    common::init();
    let root: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let up = root.join("unpickle");
    let ops = root.join("ops");
    fs::create_dir_all(&up).unwrap();
    fs::create_dir_all(&ops).unwrap();
    let (mut n, mut bytes) = (0, 0);
    let mut put = |dir: &Path, name: &str, b: &[u8]| {
        write(dir, name, b);
        n += 1;
        bytes += b.len();
    };
    for (name, g) in graphs() {
        let p = pickle(&g).unwrap_or_else(|e| panic!("pickling {name}: {e}"));
        unpickle(&p).unwrap_or_else(|e| panic!("unpickling {name}: {e}"));
        put(&up, &format!("seed-{name}"), &p);
        // The same graph with the bitcode codec (its own header).
        let b = pickle_with(&g, Codec::Bitcode).unwrap_or_else(|e| panic!("bitcode {name}: {e}"));
        unpickle(&b).unwrap_or_else(|e| panic!("unpickling bitcode {name}: {e}"));
        put(&up, &format!("seed-bitcode-{name}"), &b);
        if name.starts_with("graph-4") || name == "dict-cycle" || name == "function" {
            // Truncated halfway and near the end, and one byte corrupted.
            put(&up, &format!("trunc-half-{name}"), &p[..p.len() / 2]);
            put(&up, &format!("trunc-end-{name}"), &p[..p.len() - 1]);
            let mut c = p.clone();
            let at = p.len() * 2 / 3;
            c[at] ^= 0x5a;
            put(&up, &format!("flip-{name}"), &c);
            let mut t = p.clone();
            t.push(0);
            put(&up, &format!("trailing-{name}"), &t);
        }
    }
    for (name, b) in hostile() {
        put(&up, name, &b);
    }
    for (name, b) in ops_seeds() {
        put(&ops, name, &b);
    }
    println!("wrote {n} files, {bytes} bytes, under {}", root.display());
}
