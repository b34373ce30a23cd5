//! The op vocabulary of a serialised graph: what the encoder emits, the
//! decoder applies, and pickle's bytes carry.
//!
//! Containers appear twice: an `Open*` op when first reached (so cycles
//! can point at them) and `Fill` ops once their contents exist, in chunks
//! of at most [`CHUNK`] items so that no single op is large.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

use crate::core::error::{DecodeError, DecodeProblem, Error};
use crate::core::handle::NativeFn;
use crate::core::object::ObjPtr;

/// Most items in one fill op.
pub(crate) const CHUNK: usize = 1 << 15;

/// A value inside an op: an immediate or an object id.
#[derive(Clone, Copy, Serialize, Deserialize, Debug)]
pub(crate) enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Ref(u32),
}

/// One step of a serialised graph.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Op<'a> {
    /// Defines name id `n` (ids count up from 0).
    Name(#[serde(borrow)] Cow<'a, str>),
    Str(#[serde(borrow)] Cow<'a, str>),
    /// Several strings in a row (the pickle encoder batches `Str`s).
    Strs(#[serde(borrow)] Blob<'a>),
    Bytes(#[serde(borrow, with = "bytes_slice")] Cow<'a, [u8]>),
    OpenBuffer,
    BufferData(u32, Vec<f64>),
    ClassRef(#[serde(borrow)] Cow<'a, str>),
    ModuleRef(#[serde(borrow)] Cow<'a, str>),
    /// A tuple of this many items (filled in chunks).
    OpenTuple(u32),
    /// A list, dict or set with this many items (a hint for reserving).
    OpenList(u32),
    OpenDict(u32),
    OpenSet(u32),
    OpenCell,
    /// An instance of this class with this many own attributes (a hint
    /// for its inline slots; they follow in `FillAttrs`).
    OpenInstance(V, u32),
    /// A whole instance in one op: class, then attributes as in
    /// `FillAttrs` (used when every attribute value already exists).
    Instance(V, #[serde(borrow)] Items<'a>),
    OpenFunction {
        name: u32,
        arity: u32,
        /// Copy only: the code itself (pickles name it instead).
        #[serde(skip)]
        code: Option<NativeFn>,
    },
    /// Copy only: a class copied whole.
    OpenClass {
        name: u32,
        not_freezable: bool,
    },
    /// Copy only: a mutable shared field (holding a frozen value).
    OpenSharedField,
    /// Items for the object with this id: appended to a tuple or list;
    /// key/value pairs for a dict; items for a set; the value of a cell or
    /// shared field; captures for a function.
    Fill(u32, #[serde(borrow)] Items<'a>),
    /// Function defaults.
    FillDefaults(u32, #[serde(borrow)] Items<'a>),
    /// Class bases (copy only).
    FillBases(u32, #[serde(borrow)] Items<'a>),
    /// Attributes of an instance or class: name id (as an int), value,
    /// name id, value, ...
    FillAttrs(u32, #[serde(borrow)] Items<'a>),
    End(V),
    /// A frozenset with this many members (filled like a set).
    OpenFrozenSet(u32),
    /// A complex number.
    Complex(f64, f64),
    /// `range(start, stop, step)`.
    Range(i64, i64, i64),
    /// A deque with this many items (filled like a list) and its maxlen.
    OpenDeque(u32, Option<u32>),
    /// A defaultdict with this many entries (filled like a dict); its
    /// factory follows as its one `FillDefaults` item.
    OpenDefaultDict(u32),
    /// Key/value pairs for a dict or defaultdict as columns: the chunk's
    /// keys, then its values in the same order, so that each side packs
    /// into runs (a dict of str to int is one string run and one int run,
    /// where alternating pairs form none).
    FillPairs(u32, #[serde(borrow)] Items<'a>),
    /// Copy only: a frozen object passed by reference. (Last, so skipping
    /// it leaves the other variants' indices alone.)
    #[serde(skip)]
    Shared(ObjPtr),
}

/// Bytes inside an op: borrowed from the input where the codec allows
/// (bincode), owned where it hands out a buffer (bitcode).
impl Op<'_> {
    /// The same op owning everything it borrowed (a codec that encodes
    /// many ops at once must hold them past the walk's borrow).
    pub(crate) fn into_owned(self) -> Op<'static> {
        fn own<T: ToOwned + ?Sized>(c: Cow<'_, T>) -> Cow<'static, T> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Op::Name(s) => Op::Name(own(s)),
            Op::Str(s) => Op::Str(own(s)),
            Op::Strs(b) => Op::Strs(Blob(own(b.0))),
            Op::Bytes(b) => Op::Bytes(own(b)),
            Op::OpenBuffer => Op::OpenBuffer,
            Op::BufferData(id, d) => Op::BufferData(id, d),
            Op::ClassRef(s) => Op::ClassRef(own(s)),
            Op::ModuleRef(s) => Op::ModuleRef(own(s)),
            Op::OpenTuple(n) => Op::OpenTuple(n),
            Op::OpenList(n) => Op::OpenList(n),
            Op::OpenDict(n) => Op::OpenDict(n),
            Op::OpenSet(n) => Op::OpenSet(n),
            Op::OpenCell => Op::OpenCell,
            Op::OpenInstance(v, n) => Op::OpenInstance(v, n),
            Op::Instance(v, i) => Op::Instance(v, i.into_owned()),
            Op::OpenFunction { name, arity, code } => Op::OpenFunction { name, arity, code },
            Op::OpenClass {
                name,
                not_freezable,
            } => Op::OpenClass {
                name,
                not_freezable,
            },
            Op::OpenSharedField => Op::OpenSharedField,
            Op::Fill(id, i) => Op::Fill(id, i.into_owned()),
            Op::FillDefaults(id, i) => Op::FillDefaults(id, i.into_owned()),
            Op::FillBases(id, i) => Op::FillBases(id, i.into_owned()),
            Op::FillAttrs(id, i) => Op::FillAttrs(id, i.into_owned()),
            Op::End(v) => Op::End(v),
            Op::OpenFrozenSet(n) => Op::OpenFrozenSet(n),
            Op::Complex(re, im) => Op::Complex(re, im),
            Op::Range(start, stop, step) => Op::Range(start, stop, step),
            Op::OpenDeque(n, maxlen) => Op::OpenDeque(n, maxlen),
            Op::OpenDefaultDict(n) => Op::OpenDefaultDict(n),
            Op::FillPairs(id, i) => Op::FillPairs(id, i.into_owned()),
            Op::Shared(p) => Op::Shared(p),
        }
    }
}

pub(crate) mod bytes_slice {
    use serde::{de, Deserializer, Serializer};
    use std::borrow::Cow;

    pub(crate) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, [u8]>, D::Error> {
        struct Vis;
        impl<'de> de::Visitor<'de> for Vis {
            type Value = Cow<'de, [u8]>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_bytes(Vis)
    }
}

// Packed item lists: Compact encoding of item lists inside pickle ops: one varint per item
// (the low 3 bits are the tag; a reference's id is in the rest), ints as a
// following zigzag varint, floats as 8 little-endian bytes. Decoding a
// packed list costs a few instructions per item, where a serde enum per
// item costs hundreds.

const T_NONE: u64 = 0;
const T_FALSE: u64 = 1;
const T_TRUE: u64 = 2;
const T_INT: u64 = 3;
const T_FLOAT: u64 = 4;
const T_REF: u64 = 5;
const T_STR: u64 = 6;
const T_BYTES: u64 = 7;

fn corrupt(what: &str) -> Error {
    DecodeError::new(DecodeProblem::Malformed(what.to_string())).into()
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, Error> {
    // Most varints (tags, small ints, ids below 16) are one byte.
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Ok(u64::from(b));
        }
    }
    get_varint_slow(buf, pos)
}

#[cold]
fn get_varint_slow(buf: &[u8], pos: &mut usize) -> Result<u64, Error> {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos).ok_or_else(|| corrupt("truncated varint"))?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(corrupt("varint overflow"));
        }
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(x);
        }
        shift += 7;
        if shift > 63 {
            return Err(corrupt("varint overflow"));
        }
    }
}

// `always`: the encoder's per-item paths are measurably slower with it
// out of line (callgrind, binary-tree pickle), which `inline` allowed.
#[inline(always)]
pub(crate) fn put_v(out: &mut Vec<u8>, v: V) {
    match v {
        V::None => out.push(T_NONE as u8),
        V::Bool(false) => out.push(T_FALSE as u8),
        V::Bool(true) => out.push(T_TRUE as u8),
        V::Int(i) => {
            out.push(T_INT as u8);
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        V::Float(x) => {
            out.push(T_FLOAT as u8);
            out.extend_from_slice(&x.to_le_bytes());
        }
        V::Ref(id) => put_varint(out, (u64::from(id) << 3) | T_REF),
    }
}

/// An inline string item (a str referenced once needs no id).
#[inline]
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(T_STR as u8);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// An inline bytes item.
#[inline]
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(T_BYTES as u8);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_blob<'b>(buf: &'b [u8], pos: &mut usize) -> Result<&'b [u8], Error> {
    let n = get_varint(buf, pos)?;
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| pos.checked_add(n))
        .filter(|e| *e <= buf.len())
        .ok_or_else(|| corrupt("truncated string"))?;
    let b = &buf[*pos..end];
    *pos = end;
    Ok(b)
}

/// One decoded item: a value or an inline leaf.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'b> {
    V(V),
    Str(&'b str),
    Bytes(&'b [u8]),
}

/// Items as decoded: one item, or a run of many the decoder builds in
/// one go.
pub(crate) enum Run<'b> {
    One(Item<'b>),
    Ints(IntRun<'b>),
    Strs(StrRun<'b>),
}

/// Runs: a varint whose tag is `T_INT` or `T_STR` and whose payload
/// (above the tag) is not zero starts a run instead of one item.
///
/// * ints: payload `count << 2 | w` (w = 0..3: 1, 2, 4 or 8 bytes), then
///   `count` zigzag ints of that fixed width, little-endian;
/// * strings: payload `count`, then a varint byte length, that many
///   bytes of UTF-8 (every string of the run, back to back, checked
///   once), then `count` varint lengths.
///
/// Runs shorter than this go as single items.
pub(crate) const RUN_MIN: usize = 4;

/// A run of fixed-width zigzag ints.
#[derive(Clone, Copy)]
pub(crate) struct IntRun<'b> {
    bytes: &'b [u8],
    width: usize,
}

#[inline]
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[inline]
fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

impl IntRun<'_> {
    /// How many ints.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    /// Calls `f` on each int (the width is matched once, not per item).
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(i64)) {
        let b = self.bytes;
        match self.width {
            1 => b.iter().for_each(|x| f(unzigzag(u64::from(*x)))),
            2 => b
                .chunks_exact(2)
                .for_each(|c| f(unzigzag(u64::from(u16::from_le_bytes([c[0], c[1]]))))),
            4 => b.chunks_exact(4).for_each(|c| {
                f(unzigzag(u64::from(u32::from_le_bytes([
                    c[0], c[1], c[2], c[3],
                ]))))
            }),
            _ => b.chunks_exact(8).for_each(|c| {
                f(unzigzag(u64::from_le_bytes(
                    c.try_into().expect("chunks of 8"),
                )))
            }),
        }
    }
}

/// A run of strings: their text (valid UTF-8, checked once) and their
/// lengths.
#[derive(Clone, Copy)]
pub(crate) struct StrRun<'b> {
    text: &'b str,
    lens: &'b [u8],
    count: usize,
}

impl<'b> StrRun<'b> {
    /// How many strings.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Calls `f` on each string. Lengths that overrun the text, end
    /// inside a character or leave text over are errors.
    #[inline]
    pub(crate) fn try_for_each(
        &self,
        mut f: impl FnMut(&'b str) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut pos = 0;
        let mut at = 0usize;
        for _ in 0..self.count {
            let n = get_varint(self.lens, &mut pos)?;
            let s = usize::try_from(n)
                .ok()
                .and_then(|n| at.checked_add(n))
                .and_then(|end| self.text.get(at..end))
                .ok_or_else(|| corrupt("bad string length in a run"))?;
            at += s.len();
            f(s)?;
        }
        if at != self.text.len() {
            return Err(corrupt("string run lengths do not add up"));
        }
        Ok(())
    }
}

/// Parses the body of a string run of `count` at `pos`; moves `pos` past
/// it.
fn get_str_run<'b>(buf: &'b [u8], pos: &mut usize, count: u64) -> Result<StrRun<'b>, Error> {
    let text = get_blob(buf, pos)?;
    let text = std::str::from_utf8(text).map_err(|_| corrupt("invalid UTF-8"))?;
    let start = *pos;
    // Each length is at least one byte.
    let count = usize::try_from(count)
        .ok()
        .filter(|c| *c <= buf.len() - start)
        .ok_or_else(|| corrupt("truncated string run"))?;
    for _ in 0..count {
        get_varint(buf, pos)?;
    }
    Ok(StrRun {
        text,
        lens: &buf[start..*pos],
        count,
    })
}

/// A run of ints (at least one) in the narrowest width that holds them
/// all.
pub(crate) fn put_int_run(out: &mut Vec<u8>, ints: impl Iterator<Item = i64> + Clone) {
    let (count, max) = ints
        .clone()
        .fold((0u64, 0u64), |(n, m), i| (n + 1, m.max(zigzag(i))));
    let (code, width) = match max {
        0..=0xff => (0, 1),
        0x100..=0xffff => (1, 2),
        0x1_0000..=0xffff_ffff => (2, 4),
        _ => (3, 8),
    };
    put_varint(out, (((count << 2) | code) << 3) | T_INT);
    out.reserve(count as usize * width);
    for i in ints {
        out.extend_from_slice(&zigzag(i).to_le_bytes()[..width]);
    }
}

/// A run of inline strings (at least one).
pub(crate) fn put_str_run<'s>(out: &mut Vec<u8>, strs: impl Iterator<Item = &'s str> + Clone) {
    let (count, total) = strs
        .clone()
        .fold((0u64, 0usize), |(n, t), s| (n + 1, t + s.len()));
    put_varint(out, (count << 3) | T_STR);
    put_varint(out, total as u64);
    out.reserve(total);
    for s in strs.clone() {
        out.extend_from_slice(s.as_bytes());
    }
    for s in strs {
        put_varint(out, s.len() as u64);
    }
}

#[inline]
fn get_run<'b>(buf: &'b [u8], pos: &mut usize) -> Result<Run<'b>, Error> {
    let x = get_varint(buf, pos)?;
    Ok(Run::One(Item::V(match x & 7 {
        T_NONE if x == T_NONE => V::None,
        T_FALSE if x == T_FALSE => V::Bool(false),
        T_TRUE if x == T_TRUE => V::Bool(true),
        T_INT if x == T_INT => V::Int(unzigzag(get_varint(buf, pos)?)),
        T_INT => {
            let width = 1usize << ((x >> 3) & 3);
            let bytes = (x >> 5)
                .checked_mul(width as u64)
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| pos.checked_add(n))
                .and_then(|end| buf.get(*pos..end))
                .ok_or_else(|| corrupt("bad or truncated int run"))?;
            *pos += bytes.len();
            return Ok(Run::Ints(IntRun { bytes, width }));
        }
        T_FLOAT if x == T_FLOAT => {
            let b = buf
                .get(*pos..*pos + 8)
                .ok_or_else(|| corrupt("truncated float"))?;
            *pos += 8;
            V::Float(f64::from_le_bytes(b.try_into().expect("8 bytes")))
        }
        T_REF => V::Ref(u32::try_from(x >> 3).map_err(|_| corrupt("object id too large"))?),
        T_STR if x == T_STR => {
            let b = get_blob(buf, pos)?;
            let s = std::str::from_utf8(b).map_err(|_| corrupt("invalid UTF-8"))?;
            return Ok(Run::One(Item::Str(s)));
        }
        T_STR => return get_str_run(buf, pos, x >> 3).map(Run::Strs),
        T_BYTES if x == T_BYTES => return Ok(Run::One(Item::Bytes(get_blob(buf, pos)?))),
        _ => return Err(corrupt("bad item tag")),
    })))
}

/// A list of items: built directly (walk) or borrowed packed bytes
/// (decoded pickle).
#[derive(Debug)]
pub(crate) enum Items<'a> {
    Direct(Cow<'a, [V]>),
    Packed(Cow<'a, [u8]>),
}

impl Items<'_> {
    /// The same items, owned.
    pub(crate) fn into_owned(self) -> Items<'static> {
        match self {
            Items::Direct(v) => Items::Direct(Cow::Owned(v.into_owned())),
            Items::Packed(b) => Items::Packed(Cow::Owned(b.into_owned())),
        }
    }

    /// Calls `f` on every single item or run, in order.
    #[inline]
    pub(crate) fn try_for_each_run(
        &self,
        mut f: impl FnMut(Run<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self {
            Items::Direct(v) => v.iter().try_for_each(|x| f(Run::One(Item::V(*x)))),
            Items::Packed(b) => {
                let mut pos = 0;
                while pos < b.len() {
                    f(get_run(b, &mut pos)?)?;
                }
                Ok(())
            }
        }
    }

    /// Calls `f` on each (name id, value) pair of an attribute list, in
    /// one pass without per-item dispatch.
    #[inline]
    pub(crate) fn try_for_each_attr(
        &self,
        mut f: impl FnMut(u32, Item<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        fn name_id(v: V) -> Result<u32, Error> {
            match v {
                V::Int(n) if (0..=i64::from(u32::MAX)).contains(&n) => Ok(n as u32),
                _ => Err(corrupt("attribute name id expected")),
            }
        }
        let pairs = || corrupt("attributes come in name/value pairs");
        match self {
            Items::Direct(v) => {
                if v.len() % 2 != 0 {
                    return Err(pairs());
                }
                v.chunks_exact(2)
                    .try_for_each(|c| f(name_id(c[0])?, Item::V(c[1])))
            }
            Items::Packed(b) => {
                let mut pos = 0;
                while pos < b.len() {
                    let Run::One(Item::V(n)) = get_run(b, &mut pos)? else {
                        return Err(corrupt("attribute name id expected"));
                    };
                    let n = name_id(n)?;
                    if pos >= b.len() {
                        return Err(pairs());
                    }
                    let Run::One(it) = get_run(b, &mut pos)? else {
                        return Err(corrupt("a run where an attribute value belongs"));
                    };
                    f(n, it)?;
                }
                Ok(())
            }
        }
    }

    /// Number of items if known cheaply (an upper bound for packed).
    pub(crate) fn size_hint(&self) -> usize {
        match self {
            Items::Direct(v) => v.len(),
            Items::Packed(b) => b.len(),
        }
    }
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Items::Packed(b) => s.serialize_bytes(b),
            Items::Direct(v) => {
                let mut out = Vec::with_capacity(v.len() * 3);
                for x in v.iter() {
                    put_v(&mut out, *x);
                }
                s.serialize_bytes(&out)
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Items<'a>, D::Error> {
        Ok(Items::Packed(bytes_slice::deserialize(d)?))
    }
}

/// Consecutive strings of a `Strs` op, laid out as a string run
/// (count, text, lengths) so the decoder checks UTF-8 once per batch.
#[derive(Default)]
pub(crate) struct StrBatch {
    text: Vec<u8>,
    lens: Vec<u8>,
    count: u64,
    /// The encoded batch, valid after [`StrBatch::finish`].
    pub(crate) buf: Vec<u8>,
}

impl StrBatch {
    pub(crate) fn push(&mut self, s: &str) {
        self.text.extend_from_slice(s.as_bytes());
        put_varint(&mut self.lens, s.len() as u64);
        self.count += 1;
    }

    /// No string pushed since the last `finish`.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encodes the strings pushed so far into `buf` and starts over.
    pub(crate) fn finish(&mut self) -> &[u8] {
        self.buf.clear();
        put_varint(&mut self.buf, self.count);
        put_varint(&mut self.buf, self.text.len() as u64);
        self.buf.extend_from_slice(&self.text);
        self.buf.extend_from_slice(&self.lens);
        self.text.clear();
        self.lens.clear();
        self.count = 0;
        &self.buf
    }
}

/// The strings of a `Strs` op (see [`StrBatch`]), checked.
pub(crate) fn str_batch(b: &[u8]) -> Result<StrRun<'_>, Error> {
    let mut pos = 0;
    let count = get_varint(b, &mut pos)?;
    let run = get_str_run(b, &mut pos, count)?;
    if pos != b.len() {
        return Err(corrupt("bytes after a string batch"));
    }
    Ok(run)
}

/// Raw bytes inside an op: owned when encoding, borrowed when decoding.
#[derive(Debug)]
pub(crate) struct Blob<'a>(pub(crate) Cow<'a, [u8]>);

impl Serialize for Blob<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Blob<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blob<'a>, D::Error> {
        Ok(Blob(bytes_slice::deserialize(d)?))
    }
}
