//! Object payloads and the edge enumeration every graph walk uses.

use std::cell::Cell;

use crate::core::key::{DictMap, SetMap};
use crate::core::object::{ObjPtr, Payload, Slot};
use crate::core::sym::Sym;
use crate::core::handle::NativeFn;

/// Attribute storage: small and ordered; attribute lists are short.
pub(crate) type AttrMap = Vec<(Sym, Slot)>;

pub(crate) enum Body {
    Str(crate::core::strdata::StrData),
    Bytes(Box<[u8]>),
    Tuple(Box<[Slot]>),
    List(Payload<Vec<Slot>>),
    Dict(Box<Payload<DictMap>>),
    Set(Box<Payload<SetMap>>),
    Class(Box<ClassData>),
    Instance(InstanceData),
    Function(Box<FunctionData>),
    Buffer(Payload<Vec<f64>>),
    Cell(Payload<Slot>),
    Module(Box<ModuleData>),
    SharedField(Box<SharedFieldData>),
    Local(Box<LocalData>),
    WeakRef(Box<WeakData>),
}

pub(crate) struct ClassData {
    pub(crate) name: Sym,
    pub(crate) bases: Payload<Vec<Slot>>,
    pub(crate) dict: Payload<AttrMap>,
    /// Inherits from `NotFreezable`: instances can never be frozen.
    pub(crate) not_freezable: bool,
    /// Whether the class defines or inherits `__pre_freeze__`, cached as
    /// `epoch << 1 | bool` (see `ops::class_has_hook`); fixed once frozen.
    pub(crate) hook_cache: Cell<u64>,
}

pub(crate) struct InstanceData {
    pub(crate) class: ObjPtr,
    pub(crate) attrs: Payload<AttrMap>,
}

pub(crate) struct FunctionData {
    pub(crate) name: Sym,
    pub(crate) code: NativeFn,
    /// Positional parameters; defaults fill the last ones.
    pub(crate) arity: usize,
    pub(crate) captures: Payload<Vec<Slot>>,
    pub(crate) defaults: Payload<Vec<Slot>>,
}

pub(crate) struct ModuleData {
    pub(crate) name: Sym,
    /// `None` once frozen as a proxy: reads resolve to the current worker's
    /// module of the same name.
    pub(crate) dict: Payload<Option<AttrMap>>,
}

pub(crate) struct SharedFieldData {
    /// Always an immediate or a frozen object; counted.
    pub(crate) value: parking_lot::Mutex<Slot>,
}

pub(crate) struct LocalData {
    pub(crate) id: u64,
    /// A frozen function (or frozen/immediate default value).
    pub(crate) factory: Slot,
}

pub(crate) enum WeakTarget {
    Dead,
    /// Weak reference to a mutable object on this thread.
    Local(ObjPtr),
    /// Weak reference to a frozen object; the token is in the global table.
    Shared(u64),
    /// Strengthened by a freeze: a counted reference.
    Strong(ObjPtr),
}

pub(crate) struct WeakData {
    pub(crate) target: Payload<WeakTarget>,
    /// The callback (`Slot::None` if none): a counted edge like any other,
    /// so a callback that refers back to its weakref is an ordinary cycle
    /// the collector can free.
    pub(crate) callback: Payload<Slot>,
}

impl Body {
    /// str and bytes are immutable at creation (PEP 795: inherently
    /// immutable), so they are frozen from birth and shared freely.
    pub(crate) fn born_frozen(&self) -> bool {
        matches!(self, Body::Str(_) | Body::Bytes(_))
    }

    pub(crate) fn can_have_children(&self) -> bool {
        !matches!(self, Body::Str(_) | Body::Bytes(_) | Body::Buffer(_))
    }

    /// Python-style type name used in errors.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Body::Str(_) => "str",
            Body::Bytes(_) => "bytes",
            Body::Tuple(_) => "tuple",
            Body::List(_) => "list",
            Body::Dict(_) => "dict",
            Body::Set(_) => "set",
            Body::Class(_) => "type",
            Body::Instance(_) => "instance",
            Body::Function(_) => "function",
            Body::Buffer(_) => "buffer",
            Body::Cell(_) => "cell",
            Body::Module(_) => "module",
            Body::SharedField(_) => "SharedField",
            Body::Local(_) => "InterpreterLocal",
            Body::WeakRef(_) => "weakref",
        }
    }

    /// Every counted reference this object holds (used by free, the cycle
    /// collector and the freeze walk).
    ///
    /// Must only be called on the owning thread, or on a frozen object.
    pub(crate) fn for_each_owned_child(&self, mut f: impl FnMut(ObjPtr)) {
        let mut s = |s: &Slot| {
            if let Slot::Obj(p) = s {
                f(*p)
            }
        };
        // SAFETY: payload reads: per this function's contract the
        // caller is the owning thread or the object is frozen, and no
        // mutable borrow is live during an edge enumeration (none of the
        // callers run user code).
        unsafe {
            match self {
                Body::Str(_) | Body::Bytes(_) | Body::Buffer(_) => {}
                Body::Tuple(items) => items.iter().for_each(s),
                Body::List(items) => items.get().iter().for_each(s),
                Body::Dict(d) => d.get().iter().for_each(|(k, v)| {
                    s(&k.0);
                    s(v)
                }),
                Body::Set(d) => d.get().iter().for_each(|k| s(&k.0)),
                Body::Class(c) => {
                    c.bases.get().iter().for_each(&mut s);
                    c.dict.get().iter().for_each(|(_, v)| s(v));
                }
                Body::Instance(i) => {
                    f(i.class);
                    i.attrs.get().iter().for_each(|(_, v)| {
                        if let Slot::Obj(p) = v {
                            f(*p)
                        }
                    });
                }
                Body::Function(fd) => {
                    fd.captures.get().iter().for_each(&mut s);
                    fd.defaults.get().iter().for_each(&mut s);
                }
                Body::Cell(c) => s(c.get()),
                Body::Module(m) => {
                    if let Some(d) = m.dict.get() {
                        d.iter().for_each(|(_, v)| s(v))
                    }
                }
                Body::SharedField(sf) => {
                    let v = *sf.value.lock();
                    s(&v)
                }
                Body::Local(l) => s(&l.factory),
                Body::WeakRef(w) => {
                    if let WeakTarget::Strong(p) = w.target.get() {
                        s(&Slot::Obj(*p))
                    }
                    s(w.callback.get())
                }
            }
        }
    }

    /// Removes and returns every reference the cycle collector may cut to
    /// break a garbage cycle. Leaves the object valid (empty).
    ///
    /// # Safety
    /// The object is mutable and on this thread, no borrow of its payload
    /// is live.
    pub(crate) unsafe fn take_children(&self, out: &mut Vec<Slot>) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            match self {
                Body::List(items) => out.append(items.get_mut()),
                Body::Dict(d) => {
                    for (k, v) in std::mem::take(d.get_mut()) {
                        out.push(k.0);
                        out.push(v);
                    }
                }
                Body::Set(d) => out.extend(std::mem::take(d.get_mut()).into_iter().map(|k| k.0)),
                Body::Class(c) => {
                    out.append(c.bases.get_mut());
                    out.extend(std::mem::take(c.dict.get_mut()).into_iter().map(|(_, v)| v));
                }
                Body::Instance(i) => out.extend(
                    std::mem::take(i.attrs.get_mut())
                        .into_iter()
                        .map(|(_, v)| v),
                ),
                Body::Function(fd) => {
                    out.append(fd.captures.get_mut());
                    out.append(fd.defaults.get_mut());
                }
                Body::Cell(c) => out.push(std::mem::replace(c.get_mut(), Slot::None)),
                Body::Module(m) => {
                    if let Some(d) = m.dict.get_mut() {
                        out.extend(std::mem::take(d).into_iter().map(|(_, v)| v))
                    }
                }
                Body::WeakRef(w) => {
                    if let WeakTarget::Strong(p) = *w.target.get() {
                        *w.target.get_mut() = WeakTarget::Dead;
                        out.push(Slot::Obj(p));
                    }
                    out.push(std::mem::replace(w.callback.get_mut(), Slot::None));
                }
                Body::Str(_)
                | Body::Bytes(_)
                | Body::Buffer(_)
                | Body::Tuple(_)
                | Body::SharedField(_)
                | Body::Local(_) => {}
            }
        }
    }
}
