//! The floor for freeze: a walk that only visits and marks.

use crate::core::handle::Value;
use crate::core::heap::reachable_mutable;

/// Visits every mutable object reachable from `root` once, marking and
/// then unmarking it; returns how many it visited. This is what a freeze
/// must do at the least, so benchmarks use it as freeze's baseline.
pub fn traverse(root: &Value) -> usize {
    reachable_mutable(root.slot()).len()
}
