//! Size estimates: what a graph costs against the store's capacity.

use std::collections::HashSet;

use permafrost_freeze::diag::{traverse, OBJECT_BYTES};
use permafrost_freeze::Value;

/// Bytes an item slot of a tuple, list, set or dict costs (a dict entry
/// is two).
pub const SLOT_BYTES: usize = std::mem::size_of::<Value>();

/// The size the store charges for `value`, in bytes: an estimate of the
/// memory its graph occupies, from public information only.
///
/// `OBJECT_BYTES × max(1, M + F) + P`, where
///
/// * `M` is the number of *mutable* objects reachable from `value`
///   ([`traverse`]: exactly the objects a freeze makes immutable, found
///   through every kind of edge, attributes included);
/// * `F` is the number of objects *already frozen* (every `str` and
///   `bytes`, and graphs frozen earlier) reachable through the items of
///   tuples, lists and sets, the keys and values of dicts, and cells;
/// * `P` is the payload found on that same walk: the bytes of each `str`
///   and `bytes`, 8 per float of a buffer, [`SLOT_BYTES`] per item of a
///   tuple, list or set and twice that per dict entry.
///
/// Instance, class and function attributes cannot be enumerated through
/// the object model's public API, so the second walk does not enter them:
/// mutable objects behind attributes count (in `M`), frozen ones and
/// payloads behind attributes do not. Each object counts once however
/// often it is reached. [`Store::put`](crate::Store::put) and
/// [`Store::seal`](crate::Store::seal) take the estimate *before* they
/// freeze the value; estimating an already frozen graph gives
/// `OBJECT_BYTES × F + P`. The cost is one walk of the graph (plus the
/// traversal), of the order of the freeze itself.
///
/// ```
/// use permafrost_freeze::diag::OBJECT_BYTES;
/// use permafrost_runtime::{estimate_size, Value, SLOT_BYTES};
/// let row = Value::list(vec![Value::from("abc"), Value::Int(7)]);
/// // The list (mutable, M = 1) and the str (frozen from birth, F = 1),
/// // 3 bytes of text and 2 item slots.
/// assert_eq!(estimate_size(&row), 2 * OBJECT_BYTES + 3 + 2 * SLOT_BYTES);
/// assert_eq!(estimate_size(&Value::Int(1)), OBJECT_BYTES); // at least one object
/// ```
pub fn estimate_size(value: &Value) -> usize {
    let mutable = traverse(value);
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Value> = vec![value.clone()];
    let (mut frozen, mut payload) = (0usize, 0usize);
    while let Some(v) = stack.pop() {
        let Some(r) = v.as_obj() else { continue };
        if !seen.insert(r.id()) {
            continue;
        }
        // why: mutable objects are M's (traverse counted them, through
        // attributes too); counting them here as well would count twice.
        if r.is_frozen_bit() {
            frozen += 1;
        }
        let bytes = match v.type_name() {
            "str" => v.as_str().map_or(0, str::len),
            "bytes" => v.as_bytes().map_or(0, <[u8]>::len),
            "buffer" => 8 * v.len().unwrap_or(0),
            "tuple" | "list" | "set" => {
                let items = v.to_vec().unwrap_or_default();
                let n = SLOT_BYTES * items.len();
                stack.extend(items.into_iter().filter(|x| x.as_obj().is_some()));
                n
            }
            "dict" => {
                let items = v.items().unwrap_or_default();
                let n = 2 * SLOT_BYTES * items.len();
                for (k, x) in items {
                    stack.push(k);
                    stack.push(x);
                }
                n
            }
            "cell" => {
                if let Ok(x) = v.cell_get() {
                    stack.push(x);
                }
                0
            }
            _ => 0,
        };
        payload = payload.saturating_add(bytes);
    }
    OBJECT_BYTES
        .saturating_mul((mutable + frozen).max(1))
        .saturating_add(payload)
}
