//! The payload types: what each kind of object holds. Access goes through
//! `payload.rs`.

use std::cell::Cell;

use crate::core::handle::NativeFn;
use crate::core::key::{DictMap, SetMap};
use crate::core::object::{ObjPtr, Slot};
use crate::core::payload::{InstAttrs, Payload, StrData};
use crate::core::sym::Sym;

/// Attribute storage: small and ordered; attribute lists are short.
pub(crate) type AttrMap = Vec<(Sym, Slot)>;

pub(crate) enum Body {
    Str(StrData),
    Bytes(Box<[u8]>),
    Tuple(Payload<Box<[Slot]>>),
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
    /// Immutable at birth (no mutator exists); deeply immutable once its
    /// members are frozen (`is_frozen` freezes it then, as a tuple).
    FrozenSet(Box<FrozenSetData>),
    /// `complex`: immutable, so frozen from birth.
    Complex(f64, f64),
    /// `range(start, stop, step)`: immutable, so frozen from birth.
    Range(RangeData),
    /// `collections.deque`.
    Deque(Box<DequeData>),
    /// `collections.defaultdict`.
    DefaultDict(Box<DefaultDictData>),
}

pub(crate) struct DequeData {
    pub(crate) items: Payload<std::collections::VecDeque<Slot>>,
    /// Appends beyond this many items drop from the other end.
    pub(crate) maxlen: Option<usize>,
}

pub(crate) struct DefaultDictData {
    pub(crate) map: Payload<DictMap>,
    /// `default_factory` (`Slot::None`: missing keys are `KeyError`s); a
    /// counted edge like any other, so it freezes with the dict and the
    /// collector can cut a cycle through it.
    pub(crate) factory: Payload<Slot>,
}

pub(crate) struct FrozenSetData {
    pub(crate) members: Payload<SetMap>,
    /// The frozenset's hash, computed when its members are set (at
    /// construction, or by the decoder's fills, before anyone can use it
    /// as a key); read only afterwards, so a frozen one is never written.
    pub(crate) hash: Cell<u64>,
}

/// `range`'s three numbers; `step` is never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RangeData {
    pub(crate) start: i64,
    pub(crate) stop: i64,
    pub(crate) step: i64,
}

impl RangeData {
    /// How many numbers the range yields.
    pub(crate) fn len(&self) -> usize {
        let (a, b, k) = (self.start as i128, self.stop as i128, self.step as i128);
        let n = if k > 0 && a < b {
            (b - a - 1) / k + 1
        } else if k < 0 && a > b {
            (a - b - 1) / (-k) + 1
        } else {
            0
        };
        n as usize
    }

    /// Item `i` (in range).
    pub(crate) fn at(&self, i: usize) -> i64 {
        (self.start as i128 + i as i128 * self.step as i128) as i64
    }
}

pub(crate) struct ClassData {
    pub(crate) name: Sym,
    pub(crate) bases: Payload<Vec<Slot>>,
    pub(crate) dict: Payload<AttrMap>,
    /// The instances' shape: attribute names in the order instances first
    /// set them (at most `payload::MAX_INLINE`). Append-only, so a name's
    /// slot index never changes; fixed once the class is frozen.
    pub(crate) layout: Payload<Vec<Sym>>,
    /// Inherits from `NotFreezable`: instances can never be frozen.
    pub(crate) not_freezable: bool,
    /// Whether the class defines or inherits `__pre_freeze__`, cached as
    /// `epoch << 1 | bool` (see `ops::class_has_hook`); fixed once frozen.
    pub(crate) hook_cache: Cell<u64>,
}

pub(crate) struct InstanceData {
    pub(crate) class: ObjPtr,
    /// Values inline after the object, named by the class's `layout`;
    /// the rest in a map (see `payload::InstAttrs`).
    pub(crate) attrs: Payload<InstAttrs>,
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
    /// str, bytes, complex and range are immutable at creation (PEP 795: inherently
    /// immutable), so they are frozen from birth and shared freely.
    pub(crate) fn born_frozen(&self) -> bool {
        matches!(
            self,
            Body::Str(_) | Body::Bytes(_) | Body::Complex(..) | Body::Range(_)
        )
    }

    pub(crate) fn can_have_children(&self) -> bool {
        !matches!(
            self,
            Body::Str(_) | Body::Bytes(_) | Body::Buffer(_) | Body::Complex(..) | Body::Range(_)
        )
    }

    /// The entries of a dict or defaultdict.
    pub(crate) fn dict_map(&self) -> Option<&Payload<DictMap>> {
        match self {
            Body::Dict(d) => Some(d),
            Body::DefaultDict(d) => Some(&d.map),
            _ => None,
        }
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
            Body::FrozenSet(_) => "frozenset",
            Body::Complex(..) => "complex",
            Body::Range(_) => "range",
            Body::Deque(_) => "deque",
            Body::DefaultDict(_) => "defaultdict",
        }
    }
}

/// Sets attribute `sym`; returns the slot it replaced (to be released).
pub(crate) fn set_attr(m: &mut AttrMap, sym: Sym, v: Slot) -> Option<Slot> {
    match m.iter_mut().find(|(n, _)| *n == sym) {
        Some(e) => Some(std::mem::replace(&mut e.1, v)),
        None => {
            m.push((sym, v));
            None
        }
    }
}
