//! The pickle path: a graph to self-contained bytes (serde ops with an
//! identity memo, encoded by a [`Codec`]) and back into a mutable graph in
//! this heap.
//!
//! The format: the magic `PFPK` and a version byte naming the codec, then
//! the ops (see `transfer`). `\x02`: each op encoded by bincode 2 (the
//! codec the project was specified with). `\x03`: frames of at most
//! [`FRAME_OPS`] ops, each a varint op count, a varint byte length and a
//! bitcode-encoded `Vec` of ops. [`unpickle`] reads both. Classes, native
//! functions and modules travel by registered name, as Python's pickle
//! does.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};

use std::borrow::Cow;

use crate::core::error::{DecodeError, DecodeProblem, Error};
use crate::core::handle::Value;
use crate::core::heap;
use crate::transfer::format::{get_varint, put_varint, Blob, StrBatch};
use crate::transfer::{
    decode::Builder,
    encode::{walk, Mode},
    format::Op,
};

const MAGIC: &[u8] = b"PFPK\x02";
const MAGIC_BITCODE: &[u8] = b"PFPK\x03";

/// No single op (bincode) or frame (bitcode) may claim more than this
/// (bounds what corrupt input can make the decoder allocate).
const OP_LIMIT: usize = 64 << 20;

/// Most ops in one bitcode frame.
const FRAME_OPS: usize = 4096;

type Config = Configuration<LittleEndian, Varint, Limit<OP_LIMIT>>;

fn config() -> Config {
    bincode::config::standard().with_limit::<OP_LIMIT>()
}

/// The byte encoding of a pickle's ops; serde is the data model of both.
/// [`unpickle`] recognises either from the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// bincode 2 (varint integers), one op at a time: the codec the
    /// project was specified with, and the default by measurement
    /// (bitcode did not win across the board: its round trip was slower
    /// on tuple in every run and won or lost on the others from run to
    /// run; see `docs/benchmarks.md`).
    #[default]
    Bincode,
    /// bitcode 0.6 through its serde support, ops in frames of up to
    /// 4096.
    Bitcode,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 2] = [Codec::Bincode, Codec::Bitcode];

    /// Its name: `"bincode"` or `"bitcode"`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Bincode => "bincode",
            Codec::Bitcode => "bitcode",
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialises the graph under `v` to bytes with the default [`Codec`].
/// Shared objects and cycles are kept (identity memo). Weak references,
/// shared fields and interpreter-local fields cannot be pickled.
///
/// ```
/// use permafrost_freeze::{pickle, unpickle, Value};
/// let inner = Value::list(vec![Value::Int(1)]);
/// let outer = Value::list(vec![inner.clone(), inner]);
/// let back = unpickle(&pickle(&outer).unwrap()).unwrap();
/// assert!(back.get(0).unwrap().is(&back.get(1).unwrap())); // sharing kept
/// ```
pub fn pickle(v: &Value) -> Result<Vec<u8>, Error> {
    pickle_with(v, Codec::default())
}

/// [`pickle`] with a chosen codec; [`unpickle`] reads the result.
///
/// ```
/// use permafrost_freeze::{pickle_with, unpickle, Codec, Value};
/// let v = Value::list(vec![Value::from("a"), Value::Int(2)]);
/// for codec in Codec::ALL {
///     let back = unpickle(&pickle_with(&v, codec).unwrap()).unwrap();
///     assert_eq!(back.get(0).unwrap().as_str(), Some("a"));
/// }
/// ```
pub fn pickle_with(v: &Value, codec: Codec) -> Result<Vec<u8>, Error> {
    match codec {
        Codec::Bincode => pickle_bincode(v),
        Codec::Bitcode => pickle_bitcode(v),
    }
}

fn pickle_bincode(v: &Value) -> Result<Vec<u8>, Error> {
    let mut out = MAGIC.to_vec();
    let mut batch = StrBatch::default();
    let enc = |op: &Op<'_>, out: &mut Vec<u8>| {
        bincode::serde::encode_into_std_write(op, out, config())
            .map(|_| ())
            .map_err(|e| Error::Other(format!("pickle: {e}")))
    };
    // Runs of strings (dict keys, tuple items) go out as one op.
    walk(v, Mode::Pickle, |op| {
        if let Op::Str(s) = op {
            batch.push(&s);
            return Ok(());
        }
        if !batch.is_empty() {
            enc(&Op::Strs(Blob(Cow::Borrowed(batch.finish()))), &mut out)?;
        }
        enc(&op, &mut out)
    })?;
    Ok(out)
}

fn pickle_bitcode(v: &Value) -> Result<Vec<u8>, Error> {
    let mut out = MAGIC_BITCODE.to_vec();
    let mut batch = StrBatch::default();
    let mut frame: Vec<Op<'static>> = Vec::with_capacity(FRAME_OPS);
    walk(v, Mode::Pickle, |op| {
        if let Op::Str(s) = op {
            batch.push(&s);
            return Ok(());
        }
        if !batch.is_empty() {
            batch.finish();
            let buf = std::mem::take(&mut batch.buf);
            frame.push(Op::Strs(Blob(Cow::Owned(buf))));
        }
        // why: bitcode encodes a whole value at once, so the ops must
        // outlive the walk's borrow of the graph.
        frame.push(op.into_owned());
        if frame.len() >= FRAME_OPS - 1 {
            put_frame(&mut frame, &mut out)?;
        }
        Ok(())
    })?;
    if !frame.is_empty() {
        put_frame(&mut frame, &mut out)?;
    }
    Ok(out)
}

fn put_frame(frame: &mut Vec<Op<'static>>, out: &mut Vec<u8>) -> Result<(), Error> {
    let bytes = bitcode::serialize(frame).map_err(|e| Error::Other(format!("pickle: {e}")))?;
    put_varint(out, frame.len() as u64);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(&bytes);
    frame.clear();
    Ok(())
}

/// Rebuilds a pickled graph (either [`Codec`]), mutable, in this thread's
/// heap. Corrupt or hostile bytes give an error (never a panic), and
/// nothing is leaked.
pub fn unpickle(bytes: &[u8]) -> Result<Value, Error> {
    let result = if let Some(rest) = bytes.strip_prefix(MAGIC) {
        decode(rest)
    } else if let Some(rest) = bytes.strip_prefix(MAGIC_BITCODE) {
        decode_bitcode(rest)
    } else {
        Err(DecodeError::new(DecodeProblem::BadHeader).into())
    };
    if result.is_err() {
        // A half-built graph may hold cycles; reclaim them now.
        heap::collect();
    }
    result
}

/// Adds the op index to a decode error.
fn at(index: usize) -> impl Fn(Error) -> Error {
    move |e: Error| match e {
        Error::Decode(d) => Error::Decode(d.at(index)),
        e => e,
    }
}

fn malformed(what: String, index: usize) -> Error {
    DecodeError::new(DecodeProblem::Malformed(what))
        .at(index)
        .into()
}

fn decode(rest: &[u8]) -> Result<Value, Error> {
    let _pause = heap::GcPause::new();
    let mut b = Builder::for_bytes(rest.len());
    let mut pos = 0;
    let mut index = 0;
    while !b.done() {
        if pos >= rest.len() {
            return Err(DecodeError::new(DecodeProblem::Truncated).at(index).into());
        }
        let (op, n): (Op<'_>, usize) =
            bincode::serde::borrow_decode_from_slice(&rest[pos..], config())
                .map_err(|e| malformed(e.to_string(), index))?;
        pos += n;
        b.apply(op).map_err(at(index))?;
        index += 1;
    }
    finish(b, rest.len() - pos, index)
}

/// The graph, once every op is applied and nothing is left over.
fn finish(b: Builder, left: usize, index: usize) -> Result<Value, Error> {
    if left != 0 {
        return Err(DecodeError::new(DecodeProblem::TrailingData)
            .at(index)
            .into());
    }
    b.finish().map_err(at(index))
}

fn decode_bitcode(rest: &[u8]) -> Result<Value, Error> {
    let _pause = heap::GcPause::new();
    let mut b = Builder::for_bytes(rest.len());
    let mut pos = 0;
    let mut index = 0;
    while !b.done() {
        if pos >= rest.len() {
            return Err(DecodeError::new(DecodeProblem::Truncated).at(index).into());
        }
        let count = get_varint(rest, &mut pos).map_err(at(index))?;
        if count == 0 || count > FRAME_OPS as u64 {
            return Err(malformed(format!("a frame of {count} ops"), index));
        }
        let len = get_varint(rest, &mut pos).map_err(at(index))?;
        let end = usize::try_from(len)
            .ok()
            .filter(|n| *n <= OP_LIMIT)
            .and_then(|n| pos.checked_add(n))
            .filter(|e| *e <= rest.len())
            .ok_or_else(|| Error::from(DecodeError::new(DecodeProblem::Truncated).at(index)))?;
        let ops: Vec<Op<'_>> =
            bitcode::deserialize(&rest[pos..end]).map_err(|e| malformed(e.to_string(), index))?;
        pos = end;
        if ops.len() as u64 != count {
            return Err(malformed(
                format!("a frame of {} ops, {count} announced", ops.len()),
                index,
            ));
        }
        for op in ops {
            b.apply(op).map_err(at(index))?;
            index += 1;
        }
    }
    finish(b, rest.len() - pos, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::format::{Items, V};

    fn encode(ops: &[Op<'_>]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for op in ops {
            bincode::serde::encode_into_std_write(op, &mut out, config()).unwrap();
        }
        out
    }

    #[test]
    fn copy_only_ops_are_refused_in_bytes() {
        let base = heap::heap_live();
        for op in [
            Op::OpenSharedField,
            Op::OpenClass {
                name: 0,
                not_freezable: false,
            },
        ] {
            let bytes = encode(&[
                Op::Name(Cow::Borrowed("C")),
                op,
                Op::End(crate::transfer::format::V::Ref(0)),
            ]);
            let err = unpickle(&bytes).unwrap_err().to_string();
            assert!(err.contains("same-process copy"), "{err}");
        }
        assert_eq!(heap::heap_live(), base);
    }

    #[test]
    fn trailing_bytes_and_bad_magic_are_errors() {
        let mut good = pickle(&Value::list(vec![Value::Int(1)])).unwrap();
        assert!(unpickle(&good).is_ok());
        good.push(0);
        assert!(unpickle(&good)
            .unwrap_err()
            .to_string()
            .contains("after the end"));
        assert!(unpickle(b"NOPE")
            .unwrap_err()
            .to_string()
            .contains("bad header"));
    }

    /// Packed items: the given strings and ints, alternating as listed.
    fn packed(items: &[Result<&str, i64>]) -> Items<'static> {
        let mut out = Vec::new();
        for it in items {
            match it {
                Ok(s) => crate::transfer::format::put_str(&mut out, s),
                Err(i) => crate::transfer::format::put_v(&mut out, V::Int(*i)),
            }
        }
        Items::Packed(Cow::Owned(out))
    }

    #[test]
    fn dict_fills_of_alternating_pairs_still_decode() {
        // What encoders before `FillPairs` wrote for {"a": 1, "b": 2}.
        let bytes = encode(&[
            Op::OpenDict(2),
            Op::Fill(0, packed(&[Ok("a"), Err(1), Ok("b"), Err(2)])),
            Op::End(V::Ref(0)),
        ]);
        let d = unpickle(&bytes).unwrap();
        assert_eq!(d.get_item(&Value::from("a")).unwrap().as_int(), Some(1));
        assert_eq!(d.get_item(&Value::from("b")).unwrap().as_int(), Some(2));
    }

    #[test]
    fn a_column_fill_without_a_value_per_key_is_an_error() {
        let base = heap::heap_live();
        let bytes = encode(&[
            Op::OpenDict(2),
            Op::FillPairs(0, packed(&[Ok("a"), Ok("b"), Err(1)])),
            Op::End(V::Ref(0)),
        ]);
        let err = unpickle(&bytes).unwrap_err().to_string();
        assert!(err.contains("as many values as keys"), "{err}");
        // Column fills are for dicts only.
        let bytes = encode(&[
            Op::OpenList(2),
            Op::FillPairs(0, packed(&[Ok("a"), Err(1)])),
            Op::End(V::Ref(0)),
        ]);
        assert!(unpickle(&bytes).is_err());
        assert_eq!(heap::heap_live(), base);
    }

    #[test]
    fn dicts_over_several_column_chunks_keep_every_pair_and_the_order() {
        use crate::transfer::format::CHUNK;
        let base = heap::heap_live();
        let n = 2 * CHUNK as i64 + 5;
        let shared = Value::list(vec![]);
        let d = Value::dict();
        for i in 0..n {
            // Mixed keys and values, so runs break at varying points.
            let k = match i % 7 {
                0 => Value::Int(i),
                1 => Value::tuple(vec![Value::Int(i), Value::from("t")]),
                _ => Value::str(&format!("k{i}")),
            };
            let v = match i % 5 {
                0 => shared.clone(),
                1 => Value::str(&format!("v{i}")),
                2 => Value::Float(i as f64 / 2.0),
                _ => Value::Int(-i),
            };
            d.set_item(k, v).unwrap();
        }
        let v = Value::list(vec![d.clone(), shared]);
        for codec in Codec::ALL {
            let back = unpickle(&pickle_with(&v, codec).unwrap()).unwrap();
            let got = back.get(0).unwrap();
            let shared_back = back.get(1).unwrap();
            assert_eq!(got.len().unwrap(), n as usize, "{codec}");
            let (want, have) = (d.items().unwrap(), got.items().unwrap());
            for (i, ((wk, wv), (hk, hv))) in want.iter().zip(&have).enumerate() {
                assert_eq!(repr_of(wk), repr_of(hk), "{codec}: key {i}");
                if i % 5 == 0 {
                    assert!(hv.is(&shared_back), "{codec}: value {i} shared");
                } else {
                    assert_eq!(repr_of(wv), repr_of(hv), "{codec}: value {i}");
                }
            }
            drop((back, got, shared_back));
            heap::collect();
        }
        drop((v, d));
        heap::collect();
        assert_eq!(heap::heap_live(), base);
    }

    fn repr_of(v: &Value) -> String {
        format!("{v:?}")
    }

    fn sample() -> Value {
        let shared = Value::list(vec![Value::from("s"), Value::Float(1.5)]);
        let d = Value::dict();
        d.set_item(Value::from("k"), shared.clone()).unwrap();
        d.set_item(Value::from("b"), Value::bytes(b"xy")).unwrap();
        let outer = Value::list(vec![shared, d, Value::Int(-7)]);
        outer.append(outer.clone()).unwrap(); // a cycle
        outer
    }

    #[test]
    fn both_codecs_round_trip_with_sharing_and_cycles() {
        let base = heap::heap_live();
        for codec in Codec::ALL {
            let v = sample();
            let bytes = pickle_with(&v, codec).unwrap();
            let back = unpickle(&bytes).unwrap();
            assert!(back.get(3).unwrap().is(&back), "{codec}: cycle kept");
            let d = back.get(1).unwrap();
            assert!(d
                .get_item(&Value::from("k"))
                .unwrap()
                .is(&back.get(0).unwrap()));
            assert_eq!(
                d.get_item(&Value::from("b")).unwrap().as_bytes(),
                Some(&b"xy"[..])
            );
            assert_eq!(back.get(2).unwrap().as_int(), Some(-7));
            drop((v, back, d));
            heap::collect();
        }
        assert_eq!(heap::heap_live(), base);
    }

    #[test]
    fn bitcode_frames_split_long_streams() {
        // More ops than one frame holds.
        let v = Value::list(
            (0..3 * FRAME_OPS)
                .map(|i| Value::list(vec![Value::Int(i as i64)]))
                .collect(),
        );
        let back = unpickle(&pickle_with(&v, Codec::Bitcode).unwrap()).unwrap();
        assert_eq!(back.len().unwrap(), 3 * FRAME_OPS);
        assert_eq!(back.get(5000).unwrap().get(0).unwrap().as_int(), Some(5000));
    }

    #[test]
    fn corrupt_bitcode_is_an_error_and_leaks_nothing() {
        let base = heap::heap_live();
        let good = pickle_with(&sample(), Codec::Bitcode).unwrap();
        heap::collect();
        let base2 = heap::heap_live();
        assert_eq!(base, base2);
        // Every truncation, and every single-byte change, fails cleanly
        // or decodes to something; none panics or leaks.
        for cut in MAGIC_BITCODE.len()..good.len() {
            assert!(unpickle(&good[..cut]).is_err(), "cut at {cut}");
        }
        for i in MAGIC_BITCODE.len()..good.len() {
            for x in [0x00u8, 0xff, 0x80, 0x7f] {
                let mut bad = good.clone();
                bad[i] = x;
                drop(unpickle(&bad));
                heap::collect();
            }
        }
        let mut huge = MAGIC_BITCODE.to_vec();
        put_varint(&mut huge, FRAME_OPS as u64 + 1);
        assert!(unpickle(&huge)
            .unwrap_err()
            .to_string()
            .contains("frame of"));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(unpickle(&trailing).is_err());
        assert_eq!(heap::heap_live(), base);
    }
}
