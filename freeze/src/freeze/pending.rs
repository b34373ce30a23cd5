//! The freeze walk's stack of candidate SCC roots (Gabow's "boundaries"),
//! kept as runs of consecutive preorder numbers.
//!
//! Going down a path the walk pushes one root per node, each numbered one
//! more than the last, so a deep path (a 10,000,000-link chain) is a single
//! run: the stack costs nothing per level, where a plain stack of numbers
//! would cost 8 bytes.

/// A stack of increasing preorder numbers, stored as half-open runs
/// `[start, end)`.
#[derive(Default)]
pub(crate) struct Pending {
    runs: Vec<(usize, usize)>,
}

impl Pending {
    /// Pushes `pre`, larger than every number on the stack.
    #[inline]
    pub(crate) fn push(&mut self, pre: usize) {
        match self.runs.last_mut() {
            Some(top) if top.1 == pre => top.1 = pre + 1,
            _ => self.runs.push((pre, pre + 1)),
        }
    }

    /// The top number.
    #[inline]
    pub(crate) fn last(&self) -> Option<usize> {
        self.runs.last().map(|r| r.1 - 1)
    }

    /// Removes the top number.
    #[inline]
    pub(crate) fn pop(&mut self) {
        if let Some(top) = self.runs.last_mut() {
            top.1 -= 1;
            if top.0 == top.1 {
                self.runs.pop();
            }
        }
    }

    /// Removes every number larger than `pre` (an edge back to `pre`
    /// merges them into its SCC).
    #[inline]
    pub(crate) fn pop_above(&mut self, pre: usize) {
        while let Some(top) = self.runs.last_mut() {
            if top.0 > pre {
                self.runs.pop();
            } else {
                top.1 = top.1.min(pre + 1);
                break;
            }
        }
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
    use super::Pending;

    /// The runs behave as the plain stack they stand for.
    #[test]
    fn matches_a_plain_stack() {
        let mut model: Vec<usize> = Vec::new();
        let mut p = Pending::default();
        let mut next = 0usize;
        // A fixed pseudo-random sequence of pushes, pops and merges.
        let mut x = 0x2545_f491_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 5 {
                0 | 1 => {
                    // Numbers skip ahead sometimes (completed subtrees).
                    next += 1 + (x >> 8) as usize % 2 * ((x >> 16) as usize % 3);
                    p.push(next);
                    model.push(next);
                }
                2 => {
                    p.pop();
                    model.pop();
                }
                3 => {
                    if let Some(&b) = model.get((x >> 20) as usize % (model.len() + 1)) {
                        p.pop_above(b);
                        model.retain(|&t| t <= b);
                    }
                }
                _ => {}
            }
            assert_eq!(p.last(), model.last().copied());
        }
        // A deep path is one run.
        let mut p = Pending::default();
        for i in 0..1000 {
            p.push(10 + i);
        }
        assert_eq!(p.runs.len(), 1);
        p.pop_above(500);
        assert_eq!(p.last(), Some(500));
    }
}
