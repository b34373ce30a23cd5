//! Debug printing and structural equality, both iterative and safe on
//! cycles.

use std::fmt::{self, Write};

use rustc_hash::FxHashSet;

use crate::core::body::Body;
use crate::core::handle::Value;
use crate::core::object::{ObjPtr, Slot};

enum Tok {
    Val(Slot),
    Text(&'static str),
    Name(String),
    Leave(ObjPtr),
}

/// Python-like repr, cut off after `limit` bytes.
pub(crate) fn repr(root: Slot, limit: usize) -> String {
    let mut out = String::new();
    let mut open: FxHashSet<ObjPtr> = FxHashSet::default();
    let mut stack = vec![Tok::Val(root)];
    while let Some(t) = stack.pop() {
        if out.len() > limit {
            let mut cut = limit;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("...");
            break;
        }
        match t {
            Tok::Text(s) => out.push_str(s),
            Tok::Name(s) => out.push_str(&s),
            Tok::Leave(p) => {
                open.remove(&p);
            }
            Tok::Val(Slot::None) => out.push_str("None"),
            Tok::Val(Slot::Bool(b)) => out.push_str(if b { "True" } else { "False" }),
            Tok::Val(Slot::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            Tok::Val(Slot::Float(x)) => {
                let _ = write!(out, "{x:?}");
            }
            Tok::Val(Slot::Obj(p)) => {
                if !open.insert(p) {
                    out.push_str("...");
                    continue;
                }
                stack.push(Tok::Leave(p));
                push_obj(p, &mut stack, &mut out);
            }
        }
    }
    out
}

fn seq(stack: &mut Vec<Tok>, items: &[Slot], open: &'static str, close: &'static str) {
    stack.push(Tok::Text(close));
    for (i, s) in items.iter().enumerate().rev() {
        stack.push(Tok::Val(*s));
        if i > 0 {
            stack.push(Tok::Text(", "));
        }
    }
    stack.push(Tok::Text(open));
}

fn push_obj(p: ObjPtr, stack: &mut Vec<Tok>, out: &mut String) {
    {
        match p.body() {
            Body::Str(s) => py_str_repr(s, out),
            Body::Bytes(b) => {
                let _ = write!(out, "b{:?}", String::from_utf8_lossy(b));
            }
            Body::Tuple(t) => {
                let t = t.read(p);
                if t.len() == 1 {
                    seq(stack, &t, "(", ",)")
                } else {
                    seq(stack, &t, "(", ")")
                }
            }
            Body::List(l) => seq(stack, &l.read(p), "[", "]"),
            Body::Set(s) => {
                let items: Vec<Slot> = s.read(p).iter().map(|k| k.0).collect();
                if items.is_empty() {
                    out.push_str("set()")
                } else {
                    seq(stack, &items, "{", "}")
                }
            }
            Body::Dict(d) => {
                stack.push(Tok::Text("}"));
                let d = d.read(p);
                for (i, (k, v)) in d.iter().enumerate().rev() {
                    stack.push(Tok::Val(*v));
                    stack.push(Tok::Text(": "));
                    stack.push(Tok::Val(k.0));
                    if i > 0 {
                        stack.push(Tok::Text(", "));
                    }
                }
                stack.push(Tok::Text("{"));
            }
            Body::Instance(i) => {
                let cname = match i.class.body() {
                    Body::Class(c) => c.name.as_str(),
                    _ => "?",
                };
                stack.push(Tok::Text(")"));
                let attrs = crate::model::attrs::pairs(p, i);
                for (j, (n, v)) in attrs.iter().enumerate().rev() {
                    stack.push(Tok::Val(*v));
                    stack.push(Tok::Name(format!("{n}=")));
                    if j > 0 {
                        stack.push(Tok::Text(", "));
                    }
                }
                stack.push(Tok::Name(format!("{cname}(")));
            }
            Body::Class(c) => {
                let _ = write!(out, "<class '{}'>", c.name);
            }
            Body::Function(f) => {
                let _ = write!(out, "<function {}>", f.name);
            }
            Body::Buffer(b) => {
                let _ = write!(out, "buffer({:?})", &*b.read(p));
            }
            Body::Cell(c) => {
                stack.push(Tok::Text(")"));
                stack.push(Tok::Val(*c.read(p)));
                stack.push(Tok::Text("<cell "));
            }
            Body::Module(m) => {
                let _ = write!(out, "<module '{}'>", m.name);
            }
            Body::SharedField(_) => out.push_str("<SharedField>"),
            Body::Local(_) => out.push_str("<InterpreterLocal>"),
            Body::WeakRef(_) => out.push_str("<weakref>"),
            Body::FrozenSet(f) => {
                let items: Vec<Slot> = f.members.read(p).iter().map(|k| k.0).collect();
                if items.is_empty() {
                    out.push_str("frozenset()")
                } else {
                    seq(stack, &items, "frozenset({", "})")
                }
            }
            Body::Complex(re, im) => complex_repr(*re, *im, out),
            Body::Range(r) if r.step == 1 => {
                let _ = write!(out, "range({}, {})", r.start, r.stop);
            }
            Body::Range(r) => {
                let _ = write!(out, "range({}, {}, {})", r.start, r.stop, r.step);
            }
            Body::Deque(d) => {
                match d.maxlen {
                    Some(n) => stack.push(Tok::Name(format!("], maxlen={n})"))),
                    None => stack.push(Tok::Text("])")),
                }
                let items = d.items.read(p);
                for (i, s) in items.iter().enumerate().rev() {
                    stack.push(Tok::Val(*s));
                    if i > 0 {
                        stack.push(Tok::Text(", "));
                    }
                }
                stack.push(Tok::Text("deque(["));
            }
            Body::DefaultDict(d) => {
                stack.push(Tok::Text("})"));
                let m = d.map.read(p);
                for (i, (k, v)) in m.iter().enumerate().rev() {
                    stack.push(Tok::Val(*v));
                    stack.push(Tok::Text(": "));
                    stack.push(Tok::Val(k.0));
                    if i > 0 {
                        stack.push(Tok::Text(", "));
                    }
                }
                stack.push(Tok::Text(", {"));
                stack.push(Tok::Val(*d.factory.read(p)));
                stack.push(Tok::Text("defaultdict("));
            }
        }
    }
}

/// Python's `repr(complex)`: `1j`, `(1+2j)`, `(1.5-0j)`.
fn complex_repr(re: f64, im: f64, out: &mut String) {
    fn num(x: f64) -> String {
        if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
            format!("{}", x as i64)
        } else if x.is_nan() {
            "nan".into()
        } else if x.is_infinite() {
            if x > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else {
            format!("{x:?}")
        }
    }
    if re == 0.0 && re.is_sign_positive() {
        let _ = write!(out, "{}j", num(im));
    } else {
        let sign = if im.is_sign_negative() && !im.is_nan() {
            '-'
        } else {
            '+'
        };
        let _ = write!(out, "({}{}{}j)", num(re), sign, num(im.abs()));
    }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote
/// and no double quote.
fn py_str_repr(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// A short repr for error messages and paths.
pub(crate) fn short_repr(s: Slot) -> String {
    repr(s, 40)
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self.slot(), usize::MAX))
    }
}

impl fmt::Debug for crate::core::handle::Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(Slot::Obj(self.ptr), usize::MAX))
    }
}

impl Value {
    /// Python `==`: numbers by value, str/bytes/buffers by content,
    /// tuples, lists, dicts and sets structurally, everything else by
    /// identity. Iterative; a pair met again while being compared is
    /// taken as equal, so cyclic structures compare without looping.
    pub fn py_eq(&self, other: &Value) -> bool {
        slot_eq(self.slot(), other.slot())
    }
}

fn slot_eq(a: Slot, b: Slot) -> bool {
    let mut seen: FxHashSet<(ObjPtr, ObjPtr)> = FxHashSet::default();
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        let (p, q) = match (a, b) {
            (Slot::Obj(p), Slot::Obj(q)) => (p, q),
            // An object equals an immediate only as a number (complex).
            (Slot::Obj(_), _) | (_, Slot::Obj(_)) => {
                if !crate::core::key::key_eq(a, b) {
                    return false;
                }
                continue;
            }
            _ => {
                if !crate::core::key::key_eq(a, b) {
                    return false;
                }
                continue;
            }
        };
        if p == q || !seen.insert((p, q)) {
            continue;
        }
        let same = {
            match (p.body(), q.body()) {
                (Body::Tuple(x), Body::Tuple(y)) => pairs(&mut stack, &x.read(p), &y.read(q)),
                (Body::List(x), Body::List(y)) => pairs(&mut stack, &x.read(p), &y.read(q)),
                (Body::Deque(x), Body::Deque(y)) => {
                    let (x, y) = (x.items.read(p), y.items.read(q));
                    x.len() == y.len() && {
                        stack.extend(x.iter().copied().zip(y.iter().copied()));
                        true
                    }
                }
                (Body::Buffer(x), Body::Buffer(y)) => *x.read(p) == *y.read(q),
                (
                    x @ (Body::Dict(_) | Body::DefaultDict(_)),
                    y @ (Body::Dict(_) | Body::DefaultDict(_)),
                ) => {
                    let (x, y) = (
                        x.dict_map().expect("a dict").read(p),
                        y.dict_map().expect("a dict").read(q),
                    );
                    x.len() == y.len()
                        && x.iter()
                            .all(|(k, v)| match y.get(&crate::core::key::Probe::Slot(k.0)) {
                                Some(w) => {
                                    stack.push((*v, *w));
                                    true
                                }
                                None => false,
                            })
                }
                (
                    x @ (Body::Set(_) | Body::FrozenSet(_)),
                    y @ (Body::Set(_) | Body::FrozenSet(_)),
                ) => {
                    let (x, y) = (set_payload(x).read(p), set_payload(y).read(q));
                    x.len() == y.len()
                        && x.iter()
                            .all(|k| y.contains(&crate::core::key::Probe::Slot(k.0)))
                }
                _ => crate::core::key::key_eq(a, b),
            }
        };
        if !same {
            return false;
        }
    }
    true
}

/// The members of a set or frozenset.
fn set_payload(b: &Body) -> &crate::core::payload::Payload<crate::core::key::SetMap> {
    match b {
        Body::FrozenSet(f) => &f.members,
        Body::Set(s) => s,
        _ => unreachable!("sets only"),
    }
}

fn pairs(stack: &mut Vec<(Slot, Slot)>, x: &[Slot], y: &[Slot]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    stack.extend(x.iter().copied().zip(y.iter().copied()));
    true
}
