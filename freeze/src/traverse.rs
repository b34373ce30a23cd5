//! The floor for freeze: a walk that only visits and marks.

use crate::raw::{ObjPtr, MARK};
use crate::value::Value;

/// Visits every mutable object reachable from `root` once, marking and
/// then unmarking it; returns how many it visited. This is what a freeze
/// must do at the least, so benchmarks use it as freeze's baseline.
pub fn traverse(root: &Value) -> usize {
    let Some(r) = root.slot().obj() else {
        return 0;
    };
    let mut seen: Vec<ObjPtr> = Vec::new();
    let mut stack = vec![r];
    while let Some(p) = stack.pop() {
        let f = p.flags();
        if f & (MARK | crate::raw::FROZEN) != 0 {
            continue;
        }
        p.set_flags(MARK);
        seen.push(p);
        // Same order as the freeze walk (first child first), so the two
        // meet memory in the same order.
        let start = stack.len();
        p.body().for_each_owned_child(|c| {
            if !c.is_frozen() {
                stack.push(c)
            }
        });
        stack[start..].reverse();
    }
    for p in &seen {
        p.clear_flags(MARK);
    }
    seen.len()
}
