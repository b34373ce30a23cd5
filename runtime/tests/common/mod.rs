//! Shared test helpers: graph builders and an isomorphism check.
#![allow(dead_code)]

use std::collections::HashMap;

use permafrost_freeze::{freeze, is_frozen, register_class, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Attribute names the graphs below give their instances.
pub const ATTRS: &[&str] = &["id", "label", "next", "kids", "meta"];

/// A frozen class registered process-wide under `name`.
pub fn node_class(name: &str) -> Value {
    let cls = Value::class(name, vec![], vec![("kind", Value::from("node"))]).unwrap();
    freeze(&[&cls]).unwrap();
    register_class(name, &cls).unwrap();
    cls
}

/// A mutable graph of `n` instances of `cls`: a ring through `next` (a
/// cycle), random shared children in `kids`, and a `meta` dict holding a
/// tuple, a buffer, bytes, a set and immediates; plus a root list holding
/// every node and one tuple twice (sharing at the top).
pub fn make_graph(n: usize, cls: &Value, seed: u64) -> Value {
    let mut rng = StdRng::seed_from_u64(seed);
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            cls.instantiate(vec![
                ("id", Value::Int(i as i64)),
                ("label", Value::from(format!("node-{i}"))),
            ])
            .unwrap()
        })
        .collect();
    let common = Value::tuple(vec![Value::from("common"), Value::Float(2.5)]);
    for (i, node) in nodes.iter().enumerate() {
        node.setattr("next", nodes[(i + 1) % n].clone()).unwrap();
        let kids: Vec<Value> = (0..rng.gen_range(0..4))
            .map(|_| nodes[rng.gen_range(0..n)].clone())
            .collect();
        node.setattr("kids", Value::list(kids)).unwrap();
        let meta = Value::dict();
        meta.set_item(
            "t".into(),
            Value::tuple(vec![Value::Int(i as i64), Value::None, Value::Bool(true)]),
        )
        .unwrap();
        meta.set_item("common".into(), common.clone()).unwrap();
        if i % 3 == 0 {
            meta.set_item("buf".into(), Value::buffer(vec![i as f64, 0.5, -1.0]))
                .unwrap();
        }
        if i % 5 == 0 {
            meta.set_item("raw".into(), Value::bytes(&[i as u8, 0, 255]))
                .unwrap();
            meta.set_item(
                "tags".into(),
                Value::set_from(vec![
                    Value::Int(1),
                    Value::from("x"),
                    Value::Int(i as i64 + 7),
                ])
                .unwrap(),
            )
            .unwrap();
        }
        // A dict pointing back at its node: another cycle.
        meta.set_item("owner".into(), node.clone()).unwrap();
        node.setattr("meta", meta).unwrap();
    }
    let mut items = nodes;
    items.push(common.clone());
    items.push(common);
    Value::list(items)
}

/// Like [`make_graph`], then frozen together with its class.
pub fn make_frozen_graph(n: usize, cls: &Value, seed: u64) -> Value {
    let g = make_graph(n, cls, seed);
    freeze(&[&g, cls]).unwrap();
    g
}

/// Pairs of corresponding objects found by [`iso`].
pub type Pairs = Vec<(Value, Value)>;

/// Checks that `a` and `b` are isomorphic: same types, same immediates and
/// contents, and the correspondence between their objects is a bijection
/// (so sharing and cycles are the same on both sides). Instances are
/// compared on their class name and the attributes in [`ATTRS`]. Returns
/// the corresponding object pairs.
pub fn iso(a: &Value, b: &Value) -> Result<Pairs, String> {
    let mut fwd: HashMap<usize, usize> = HashMap::new();
    let mut back: HashMap<usize, usize> = HashMap::new();
    let mut pairs = Vec::new();
    let mut stack = vec![(a.clone(), b.clone(), String::from("root"))];
    while let Some((x, y, path)) = stack.pop() {
        let (ox, oy) = match (x.as_obj(), y.as_obj()) {
            (Some(ox), Some(oy)) => (ox.id(), oy.id()),
            (None, None) => {
                if !x.is(&y) {
                    return Err(format!("{path}: {x:?} != {y:?}"));
                }
                continue;
            }
            _ => return Err(format!("{path}: object vs immediate")),
        };
        match (fwd.get(&ox), back.get(&oy)) {
            (Some(&m), _) if m != oy => return Err(format!("{path}: sharing differs")),
            (_, Some(&m)) if m != ox => return Err(format!("{path}: sharing differs (back)")),
            (Some(_), _) => continue,
            _ => {}
        }
        fwd.insert(ox, oy);
        back.insert(oy, ox);
        if x.type_name() != y.type_name() {
            return Err(format!("{path}: {} vs {}", x.type_name(), y.type_name()));
        }
        pairs.push((x.clone(), y.clone()));
        let mut push = |xs: Vec<Value>, ys: Vec<Value>, what: &str| -> Result<(), String> {
            if xs.len() != ys.len() {
                return Err(format!(
                    "{path}: {what} lengths {} vs {}",
                    xs.len(),
                    ys.len()
                ));
            }
            for (i, (p, q)) in xs.into_iter().zip(ys).enumerate().rev() {
                stack.push((p, q, format!("{path}.{what}[{i}]")));
            }
            Ok(())
        };
        match x.type_name() {
            "str" => {
                if x.as_str() != y.as_str() {
                    return Err(format!("{path}: strings differ"));
                }
            }
            "bytes" => {
                if x.as_bytes() != y.as_bytes() {
                    return Err(format!("{path}: bytes differ"));
                }
            }
            "buffer" => {
                if x.buffer_to_vec().unwrap() != y.buffer_to_vec().unwrap() {
                    return Err(format!("{path}: buffers differ"));
                }
            }
            "list" | "tuple" | "set" => push(x.to_vec().unwrap(), y.to_vec().unwrap(), "items")?,
            "dict" => {
                let (xi, yi) = (x.items().unwrap(), y.items().unwrap());
                let flat =
                    |v: Vec<(Value, Value)>| v.into_iter().flat_map(|(k, v)| [k, v]).collect();
                push(flat(xi), flat(yi), "kv")?;
            }
            "instance" => {
                if x.name().unwrap() != y.name().unwrap() {
                    return Err(format!("{path}: classes differ"));
                }
                let get = |v: &Value| {
                    ATTRS
                        .iter()
                        .map(|a| v.getattr(a).unwrap_or(Value::None))
                        .collect()
                };
                push(get(&x), get(&y), "attrs")?;
            }
            "class" => {
                if x.name().unwrap() != y.name().unwrap() {
                    return Err(format!("{path}: class names differ"));
                }
            }
            other => return Err(format!("{path}: no comparison for {other}")),
        }
    }
    Ok(pairs)
}

/// Checks that every object of a rebuilt graph is fresh and mutable,
/// except strs and bytes (frozen from birth) and classes (looked up by
/// name).
pub fn assert_rebuilt_mutable(pairs: &Pairs) {
    for (orig, new) in pairs {
        match new.type_name() {
            "str" | "bytes" | "class" => {}
            t => {
                assert!(!is_frozen(new) || t == "tuple", "rebuilt {t} is frozen");
                assert!(!orig.is(new), "rebuilt {t} is the original object");
            }
        }
    }
}
