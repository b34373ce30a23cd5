//! Graph builders shared by the drafts and revisions tests.

use permafrost_freeze::Value;

/// A binary tree of `n` nodes in heap order: node `i` has children
/// `2i+1` and `2i+2`. An inner node is `[left, right]` (or `[left]`), a
/// leaf is `[i]`. Built bottom-up with no recursion.
pub fn tree(n: usize) -> Value {
    let mut nodes: Vec<Option<Value>> = vec![None; n];
    for i in (0..n).rev() {
        let kids: Vec<Value> = [2 * i + 1, 2 * i + 2]
            .into_iter()
            .filter(|&c| c < n)
            .map(|c| nodes[c].take().unwrap())
            .collect();
        nodes[i] = Some(if kids.is_empty() {
            Value::list(vec![Value::Int(i as i64)])
        } else {
            Value::list(kids)
        });
    }
    nodes[0].take().unwrap()
}

/// The child positions from the root to node `i` of a heap-ordered tree.
pub fn path_to(mut i: usize) -> Vec<i64> {
    let mut steps = Vec::new();
    while i > 0 {
        steps.push(((i - 1) % 2) as i64);
        i = (i - 1) / 2;
    }
    steps.reverse();
    steps
}
