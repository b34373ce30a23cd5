//! The workloads of `WORKLOADS.md`, built in this runtime exactly as
//! `bench/cpython_bench.py` builds them in CPython (same sizes, seed,
//! distributions, attribute order).
//!
//! | name | shape |
//! |---|---|
//! | `dict-int` | dict: string -> its index (a repeated string keeps the last index) |
//! | `dict-student` | dict: string -> `Student(name=<the same string>, age=index % 100)` |
//! | `tuple` | tuple of the n strings |
//! | `binary-tree` | balanced BST over the sorted distinct strings: `Node(key, left, right)`, `None` at leaves; the root of `[lo, hi)` is `(lo + hi) / 2` |
//! | `ints` | list of the ints `0..n` |
//! | `graph` | list of `Vertex(id=i, edges=[v[(7i+1)%N], v[(13i+5)%N], v[(31i+11)%N]])` |
//! | `chain` | `Link(value=0, next=Link(value=1, ...))`, `next=None` at the end |
//!
//! Figure 1's matrices are `Matrix(data=<buffer of 16 floats>)`, the floats
//! drawn row by row from [`crate::prng`] (fresh generator, seed 795).
//!
//! Strings come from [`crate::prng::strings`]. Building them (Rust
//! `String`s) is [`Input::new`]; turning them into a graph is [`build`], the
//! part the `build` operation times.

use permafrost::{freeze, GcPause, Sym, Value};

use crate::prng::{SplitMix64, SEED};

/// The seven shapes, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// dict: string -> int.
    DictInt,
    /// dict: string -> Student.
    DictStudent,
    /// tuple of strings.
    Tuple,
    /// balanced binary search tree of Node instances.
    BinaryTree,
    /// list of ints.
    Ints,
    /// cyclic graph of Vertex instances.
    Graph,
    /// deep linked list of Link instances.
    Chain,
}

impl Shape {
    /// Every shape, Table 1's four first.
    pub const ALL: [Shape; 7] = [
        Shape::DictInt,
        Shape::DictStudent,
        Shape::Tuple,
        Shape::BinaryTree,
        Shape::Ints,
        Shape::Graph,
        Shape::Chain,
    ];

    /// The four shapes of the PEP's Table 1 (the targets apply to these).
    pub const TABLE1: [Shape; 4] = [
        Shape::DictInt,
        Shape::DictStudent,
        Shape::Tuple,
        Shape::BinaryTree,
    ];

    /// The name used in CSV, reports and the Python script.
    pub fn name(self) -> &'static str {
        match self {
            Shape::DictInt => "dict-int",
            Shape::DictStudent => "dict-student",
            Shape::Tuple => "tuple",
            Shape::BinaryTree => "binary-tree",
            Shape::Ints => "ints",
            Shape::Graph => "graph",
            Shape::Chain => "chain",
        }
    }

    /// Parses [`Shape::name`].
    pub fn from_name(s: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Is this one of the PEP's Table 1 shapes?
    pub fn in_table1(self) -> bool {
        Shape::TABLE1.contains(&self)
    }

    /// Whether the shape is drawn from the random strings.
    pub fn uses_strings(self) -> bool {
        self.in_table1()
    }

    /// The size parameter of this shape under `sizes`: strings for the
    /// string shapes and `ints`, vertices for `graph`, links for `chain`.
    pub fn size(self, sizes: &Sizes) -> usize {
        match self {
            Shape::Graph => sizes.graph_n,
            Shape::Chain => sizes.chain_n,
            _ => sizes.n,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Sizes of one run: `n` for the string shapes and `ints`, and the graph's
/// and chain's own sizes (WORKLOADS.md: n = 1,000,000, graph 100,000,
/// chain 10,000,000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Strings (Table 1 shapes) and ints.
    pub n: usize,
    /// Vertices of `graph`.
    pub graph_n: usize,
    /// Links of `chain`.
    pub chain_n: usize,
}

impl Sizes {
    /// WORKLOADS.md's sizes.
    pub const SPEC: Sizes = Sizes {
        n: 1_000_000,
        graph_n: 100_000,
        chain_n: 10_000_000,
    };
}

/// What a shape is built from, made outside any timed region.
#[derive(Clone, Debug)]
pub struct Input {
    /// Which shape.
    pub shape: Shape,
    /// Its size parameter.
    pub n: usize,
    /// The random strings (string shapes), or empty.
    pub strings: Vec<String>,
    /// Sorted distinct strings (`binary-tree` only).
    pub sorted: Vec<String>,
}

impl Input {
    /// Generates the raw data of `shape` at size `n`.
    pub fn new(shape: Shape, n: usize) -> Input {
        let strings = if shape.uses_strings() {
            crate::prng::strings(n)
        } else {
            Vec::new()
        };
        let sorted = if shape == Shape::BinaryTree {
            let mut s = strings.clone();
            s.sort_unstable();
            s.dedup();
            s
        } else {
            Vec::new()
        };
        let strings = if shape == Shape::BinaryTree {
            Vec::new()
        } else {
            strings
        };
        Input {
            shape,
            n,
            strings,
            sorted,
        }
    }
}

/// A built graph: its root and the classes its instances use (classes are
/// `Explicit`: freeze them with the root).
pub struct Built {
    /// The root of the graph.
    pub root: Value,
    /// Classes of the graph's instances.
    pub classes: Vec<Value>,
}

impl Built {
    /// The roots to hand to [`freeze`]: the root and its classes.
    pub fn roots(&self) -> Vec<&Value> {
        std::iter::once(&self.root).chain(&self.classes).collect()
    }

    /// Freezes the graph with its classes.
    pub fn freeze(&self) -> Result<(), permafrost::FreezeError> {
        freeze(&self.roots())
    }
}

/// Builds `input`'s graph in the current thread's heap. Each call makes
/// fresh classes, so repeated builds are independent.
pub fn build(input: &Input) -> Built {
    let _pause = GcPause::new();
    match input.shape {
        Shape::DictInt => dict_int(&input.strings),
        Shape::DictStudent => dict_student(&input.strings),
        Shape::Tuple => tuple(&input.strings),
        Shape::BinaryTree => binary_tree(&input.sorted),
        Shape::Ints => ints(input.n),
        Shape::Graph => graph(input.n),
        Shape::Chain => chain(input.n),
    }
}

fn dict_int(strings: &[String]) -> Built {
    let d = Value::dict();
    for (i, s) in strings.iter().enumerate() {
        d.set_item(Value::str(s), Value::Int(i as i64))
            .expect("str keys are hashable");
    }
    Built {
        root: d,
        classes: vec![],
    }
}

/// The `Student` class (attributes `name`, `age`).
pub fn student_class() -> Value {
    Value::class("Student", vec![], vec![]).expect("no bases")
}

fn dict_student(strings: &[String]) -> Built {
    let class = student_class();
    let (name, age) = (Sym::new("name"), Sym::new("age"));
    let d = Value::dict();
    for (i, s) in strings.iter().enumerate() {
        let key = Value::str(s);
        let st = class
            .instantiate_syms([(name, key.clone()), (age, Value::Int((i % 100) as i64))])
            .expect("a class");
        d.set_item(key, st).expect("str keys are hashable");
    }
    Built {
        root: d,
        classes: vec![class],
    }
}

fn tuple(strings: &[String]) -> Built {
    Built {
        root: Value::tuple(strings.iter().map(|s| Value::str(s)).collect()),
        classes: vec![],
    }
}

/// The `Node` class of `binary-tree` (attributes `key`, `left`, `right`).
pub fn node_class() -> Value {
    Value::class("Node", vec![], vec![]).expect("no bases")
}

fn binary_tree(sorted: &[String]) -> Built {
    let class = node_class();
    let syms = [Sym::new("key"), Sym::new("left"), Sym::new("right")];
    fn sub(class: &Value, syms: &[Sym; 3], keys: &[String], lo: usize, hi: usize) -> Value {
        if lo >= hi {
            return Value::None;
        }
        let mid = (lo + hi) / 2;
        let left = sub(class, syms, keys, lo, mid);
        let right = sub(class, syms, keys, mid + 1, hi);
        class
            .instantiate_syms([
                (syms[0], Value::str(&keys[mid])),
                (syms[1], left),
                (syms[2], right),
            ])
            .expect("a class")
    }
    // Recursion depth is log2(n): about 24 for 10 million keys.
    let root = sub(&class, &syms, sorted, 0, sorted.len());
    Built {
        root,
        classes: vec![class],
    }
}

fn ints(n: usize) -> Built {
    Built {
        root: Value::list((0..n as i64).map(Value::Int).collect()),
        classes: vec![],
    }
}

/// The `Vertex` class of `graph` (attributes `id`, `edges`).
pub fn vertex_class() -> Value {
    Value::class("Vertex", vec![], vec![]).expect("no bases")
}

/// The three edges of vertex `i` in a graph of `n` vertices.
pub fn graph_edges(i: usize, n: usize) -> [usize; 3] {
    [(i * 7 + 1) % n, (i * 13 + 5) % n, (i * 31 + 11) % n]
}

fn graph(n: usize) -> Built {
    let class = vertex_class();
    let (id, edges) = (Sym::new("id"), Sym::new("edges"));
    let lists: Vec<Value> = (0..n).map(|_| Value::list(Vec::new())).collect();
    let nodes: Vec<Value> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| {
            class
                .instantiate_syms([(id, Value::Int(i as i64)), (edges, l.clone())])
                .expect("a class")
        })
        .collect();
    for (i, l) in lists.iter().enumerate() {
        for j in graph_edges(i, n) {
            l.append(nodes[j].clone()).expect("a mutable list");
        }
    }
    Built {
        root: Value::list(nodes),
        classes: vec![class],
    }
}

/// The `Link` class of `chain` (attributes `value`, `next`).
pub fn link_class() -> Value {
    Value::class("Link", vec![], vec![]).expect("no bases")
}

fn chain(n: usize) -> Built {
    let class = link_class();
    let (value, next) = (Sym::new("value"), Sym::new("next"));
    let mut head = Value::None;
    for i in (0..n).rev() {
        head = class
            .instantiate_syms([(value, Value::Int(i as i64)), (next, head)])
            .expect("a class");
    }
    Built {
        root: head,
        classes: vec![class],
    }
}

/// The `Matrix` class of Figure 1 (attribute `data`: a buffer of 16 floats).
pub fn matrix_class() -> Value {
    Value::class("Matrix", vec![], vec![]).expect("no bases")
}

/// The raw floats of `count` 4x4 matrices, 16 per matrix in row order, from
/// a fresh generator seeded with 795.
pub fn matrix_floats(count: usize) -> Vec<[f64; 16]> {
    let mut g = SplitMix64::new(SEED);
    (0..count)
        .map(|_| std::array::from_fn(|_| g.next_float()))
        .collect()
}

/// `count` matrices in batches (lists) of at most `batch` Matrix instances
/// of `class`.
pub fn matrix_batches(class: &Value, floats: &[[f64; 16]], batch: usize) -> Vec<Value> {
    let _pause = GcPause::new();
    let data = Sym::new("data");
    floats
        .chunks(batch.max(1))
        .map(|chunk| {
            Value::list(
                chunk
                    .iter()
                    .map(|m| {
                        class
                            .instantiate_syms([(data, Value::buffer(m.to_vec()))])
                            .expect("a class")
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Determinant of a 4x4 matrix in row order (Gaussian elimination with
/// partial pivoting).
pub fn det4(m: &[f64]) -> f64 {
    let mut a = [0.0f64; 16];
    a.copy_from_slice(&m[..16]);
    let mut det = 1.0;
    for c in 0..4 {
        let mut p = c;
        for r in c + 1..4 {
            if a[r * 4 + c].abs() > a[p * 4 + c].abs() {
                p = r;
            }
        }
        if a[p * 4 + c] == 0.0 {
            return 0.0;
        }
        if p != c {
            for k in 0..4 {
                a.swap(c * 4 + k, p * 4 + k);
            }
            det = -det;
        }
        let pivot = a[c * 4 + c];
        det *= pivot;
        for r in c + 1..4 {
            let f = a[r * 4 + c] / pivot;
            for k in c..4 {
                a[r * 4 + k] -= f * a[c * 4 + k];
            }
        }
    }
    det
}

/// Figure 1's unit of work: is this Matrix instance invertible?
pub fn is_invertible(matrix: &Value) -> bool {
    let data = matrix.getattr("data").expect("a Matrix");
    data.with_buffer(|b| det4(b).abs() > 1e-12)
        .expect("a buffer")
}

/// Counts the invertible matrices of one batch (a list of Matrix).
///
/// A frozen batch is read through a [`permafrost::View`]: no reference
/// counts change, so workers reading the same shared matrices do not
/// contend on their counts. A mutable (unpickled) batch is read through
/// ordinary counted values.
pub fn count_invertible(batch: &Value) -> usize {
    if let Some(view) = batch.view() {
        let data = Sym::new("data");
        return view
            .iter()
            .filter(|m| {
                let b = m.getattr_sym(data).and_then(|d| d.buffer());
                det4(b.expect("a Matrix with a data buffer")).abs() > 1e-12
            })
            .count();
    }
    batch
        .to_vec()
        .expect("a list")
        .iter()
        .filter(|m| is_invertible(m))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_right() {
        let n = 1000;
        for shape in Shape::ALL {
            let b = build(&Input::new(shape, n));
            match shape {
                Shape::DictInt | Shape::DictStudent => {
                    let len = b.root.len().unwrap();
                    assert!(len <= n && len > n - 5, "{shape}: {len}");
                }
                Shape::Tuple | Shape::Ints | Shape::Graph => {
                    assert_eq!(b.root.len().unwrap(), n)
                }
                Shape::BinaryTree => {
                    // One Node per distinct key.
                    assert!(permafrost::diag::traverse(&b.root) > n - 5);
                }
                Shape::Chain => {
                    // The chain's mutable objects: n links and their class.
                    assert_eq!(permafrost::diag::traverse(&b.root), n + 1);
                }
            }
            b.freeze().unwrap();
            assert!(permafrost::is_frozen(&b.root));
        }
    }

    #[test]
    fn same_strings_as_python() {
        // The Python script draws the same strings; its first string is
        // the spec's first string (see prng tests).
        let input = Input::new(Shape::Tuple, 3);
        let b = build(&input);
        assert_eq!(
            b.root.get(0).unwrap().as_str().unwrap(),
            crate::prng::strings(1)[0]
        );
    }

    #[test]
    fn tree_is_a_search_tree() {
        let input = Input::new(Shape::BinaryTree, 200);
        let b = build(&input);
        let mut stack = vec![b.root.clone()];
        let mut count = 0;
        while let Some(node) = stack.pop() {
            if node.is_none() {
                continue;
            }
            count += 1;
            let key = node.getattr("key").unwrap();
            for (side, ok) in [("left", true), ("right", false)] {
                let child = node.getattr(side).unwrap();
                if !child.is_none() {
                    let ck = child.getattr("key").unwrap();
                    assert_eq!(ck.as_str().unwrap() < key.as_str().unwrap(), ok);
                    stack.push(child);
                }
            }
        }
        assert_eq!(count, input.sorted.len());
    }

    #[test]
    fn determinants() {
        let id = [
            1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        ];
        assert_eq!(det4(&id), 1.0);
        let mut sing = id;
        sing[5] = 0.0;
        assert_eq!(det4(&sing), 0.0);
        let class = matrix_class();
        let batches = matrix_batches(&class, &matrix_floats(10), 4);
        assert_eq!(batches.len(), 3);
        assert_eq!(
            batches.iter().map(count_invertible).sum::<usize>(),
            10,
            "random matrices are invertible"
        );
    }
}
