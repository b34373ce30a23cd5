//! The floor for freeze: a walk that only visits and marks.

use crate::core::object::{ObjPtr, Slot, FROZEN, MARK};
use crate::core::handle::Value;

/// Visits every mutable object reachable from `root` once, marking and
/// then unmarking it; returns how many it visited. This is what a freeze
/// must do at the least, so benchmarks use it as freeze's baseline.
pub fn traverse(root: &Value) -> usize {
    reachable_mutable(root.slot()).len()
}

/// Every mutable object reachable from `root`, each once, in the order the
/// freeze walk meets them (first child first).
pub(crate) fn reachable_mutable(root: Slot) -> Vec<ObjPtr> {
    let mut seen: Vec<ObjPtr> = Vec::new();
    let mut stack: Vec<ObjPtr> = root.obj().into_iter().collect();
    while let Some(p) = stack.pop() {
        if p.flags() & (MARK | FROZEN) != 0 {
            continue;
        }
        p.set_flags(MARK);
        seen.push(p);
        let start = stack.len();
        crate::core::payload::for_each_child(p, |c| {
            if !c.is_frozen() {
                stack.push(c)
            }
        });
        stack[start..].reverse();
    }
    for p in &seen {
        p.clear_flags(MARK);
    }
    seen
}
