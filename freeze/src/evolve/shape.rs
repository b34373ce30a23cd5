//! Whether a frozen graph is a *tree* for drafts: every draftable object
//! is reached by exactly one draft edge (no aliasing, no cycle). A commit
//! on a tree needs no search for other paths (`commit.rs`).

use std::collections::HashSet;

use crate::core::handle::Value;
use crate::evolve::link::{children, draftable};

/// One walk with an explicit stack; stops at the first object reached twice.
pub(crate) fn is_tree(root: &Value) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![root.clone()];
    if draftable(root) {
        seen.insert(root.id());
    }
    while let Some(v) = stack.pop() {
        for (_, c) in children(&v) {
            if draftable(&c) {
                if !seen.insert(c.id()) {
                    return false;
                }
                stack.push(c);
            }
        }
    }
    true
}
