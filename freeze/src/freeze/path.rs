//! The freeze walk's open path: the nodes it has entered and not yet
//! finished, as runs of consecutive preorder numbers.
//!
//! A node finishes when the walk's stack of unvisited children is back at
//! the height it had when the node was entered, so a node on the path needs
//! only its preorder number and that height; the walk finds the object
//! itself in its preorder list. A node whose only pending child is entered
//! next (every link of a chain) extends the run below it, so a
//! 10,000,000-link path costs the path nothing per level, where a stack of
//! post-order frames costs a word per level and the fresh memory to hold
//! it.

/// Preorder numbers `[start, end)`, entered in turn, each above stack
/// height `height`.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    height: usize,
}

/// The open path, bottom (the root) to top.
#[derive(Default)]
pub(crate) struct OpenPath {
    runs: Vec<Run>,
}

impl OpenPath {
    /// Enters `pre` (larger than every number on the path), whose children
    /// sit above stack height `height`.
    #[inline]
    pub(crate) fn push(&mut self, pre: usize, height: usize) {
        match self.runs.last_mut() {
            Some(top) if top.end == pre && top.height == height => top.end = pre + 1,
            _ => self.runs.push(Run {
                start: pre,
                end: pre + 1,
                height,
            }),
        }
    }

    /// The top node, if its children are done: the stack is at `height`.
    #[inline]
    pub(crate) fn finished(&self, height: usize) -> Option<usize> {
        match self.runs.last() {
            Some(top) if top.height == height => Some(top.end - 1),
            _ => None,
        }
    }

    /// Leaves the top node.
    #[inline]
    pub(crate) fn pop(&mut self) {
        if let Some(top) = self.runs.last_mut() {
            top.end -= 1;
            if top.end == top.start {
                self.runs.pop();
            }
        }
    }

    /// The node `k` places below the top, if it is in the top run: a deep
    /// run (a chain) finishes nodes that left the cache long ago, so the
    /// walk prefetches them. Where the path branches, the nodes it finishes
    /// were touched just before, by their subtrees.
    #[inline]
    pub(crate) fn below(&self, k: usize) -> Option<usize> {
        let top = self.runs.last()?;
        (top.end - top.start > k).then(|| top.end - 1 - k)
    }

    /// Every node on the path, bottom to top.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.runs.iter().flat_map(|r| r.start..r.end)
    }

    pub(crate) fn clear(&mut self) {
        self.runs.clear();
    }

    pub(crate) fn capacity(&self) -> usize {
        self.runs.capacity()
    }

    pub(crate) fn shrink_to(&mut self, n: usize) {
        self.runs.shrink_to(n);
    }
}

#[cfg(test)]
mod tests {
    use super::OpenPath;

    /// The runs behave as the plain stack of (number, height) they stand
    /// for, whatever the heights.
    #[test]
    fn matches_a_plain_stack() {
        let mut model: Vec<(usize, usize)> = Vec::new();
        let mut p = OpenPath::default();
        let mut next = 0usize;
        let mut x = 0x9e37_79b9_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let height = model.last().map_or(0, |t| t.1) + (x >> 9) as usize % 2;
            match x % 4 {
                0 | 1 => {
                    next += 1 + (x >> 12) as usize % 2;
                    p.push(next, height);
                    model.push((next, height));
                }
                2 => {
                    p.pop();
                    model.pop();
                }
                _ => {}
            }
            let top = model.last().copied();
            assert_eq!(p.finished(top.map_or(0, |t| t.1)), top.map(|t| t.0));
            if let Some(t) = top {
                assert_eq!(p.finished(t.1 + 1), None);
            }
            // `below` looks only inside the top run.
            let k = (x >> 24) as usize % 12;
            let in_top = p.runs.last().is_some_and(|r| r.end - r.start > k);
            let expect = in_top.then(|| model[model.len() - 1 - k].0);
            assert_eq!(p.below(k), expect);
        }
        assert!(p.iter().eq(model.iter().map(|t| t.0)));
    }

    /// A chain (each node's one child entered next, at the same height) is
    /// a single run.
    #[test]
    fn a_chain_is_one_run() {
        let mut p = OpenPath::default();
        for i in 0..1000 {
            p.push(i, 0);
        }
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.finished(0), Some(999));
        assert_eq!(p.below(999), Some(0));
        assert_eq!(p.below(1000), None);
    }
}
