//! The pickle path: a graph to self-contained bytes (serde + bincode 2,
//! with an identity memo) and back into a mutable graph in this heap.
//!
//! The format: the magic `PFPK` and a version byte, then bincode-encoded
//! ops (see `transfer`). Classes, native functions and modules travel by
//! registered name, as Python's pickle does.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};

use std::borrow::Cow;

use crate::core::error::{DecodeError, DecodeProblem, Error};
use crate::core::handle::Value;
use crate::core::heap;
use crate::transfer::format::{Blob, StrBatch};
use crate::transfer::{
    decode::Builder,
    encode::{walk, Mode},
    format::Op,
};

const MAGIC: &[u8] = b"PFPK\x02";

/// No single op may claim more than this (bounds what corrupt input can
/// make the decoder allocate).
const OP_LIMIT: usize = 64 << 20;

type Config = Configuration<LittleEndian, Varint, Limit<OP_LIMIT>>;

fn config() -> Config {
    bincode::config::standard().with_limit::<OP_LIMIT>()
}

/// Serialises the graph under `v` to bytes. Shared objects and cycles are
/// kept (identity memo). Weak references, shared fields and
/// interpreter-local fields cannot be pickled.
///
/// ```
/// use permafrost_freeze::{pickle, unpickle, Value};
/// let inner = Value::list(vec![Value::Int(1)]);
/// let outer = Value::list(vec![inner.clone(), inner]);
/// let back = unpickle(&pickle(&outer).unwrap()).unwrap();
/// assert!(back.get(0).unwrap().is(&back.get(1).unwrap())); // sharing kept
/// ```
pub fn pickle(v: &Value) -> Result<Vec<u8>, Error> {
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
            batch.push(s);
            return Ok(());
        }
        if !batch.buf.is_empty() {
            enc(&Op::Strs(Blob(Cow::Borrowed(&batch.buf))), &mut out)?;
            batch.buf.clear();
        }
        enc(&op, &mut out)
    })?;
    Ok(out)
}

/// Rebuilds a pickled graph, mutable, in this thread's heap. Corrupt or
/// hostile bytes give an error (never a panic), and nothing is leaked.
pub fn unpickle(bytes: &[u8]) -> Result<Value, Error> {
    let result = decode(bytes);
    if result.is_err() {
        // A half-built graph may hold cycles; reclaim them now.
        heap::collect();
    }
    result
}

fn decode(bytes: &[u8]) -> Result<Value, Error> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| DecodeError::new(DecodeProblem::BadHeader))?;
    let _pause = heap::GcPause::new();
    let mut b = Builder::for_bytes(rest.len());
    let mut pos = 0;
    let mut index = 0;
    let at = |index: usize| {
        move |e: Error| match e {
            Error::Decode(d) => Error::Decode(d.at(index)),
            e => e,
        }
    };
    while !b.done() {
        if pos >= rest.len() {
            return Err(DecodeError::new(DecodeProblem::Truncated).at(index).into());
        }
        let (op, n): (Op<'_>, usize) =
            bincode::serde::borrow_decode_from_slice(&rest[pos..], config())
                .map_err(|e| DecodeError::new(DecodeProblem::Malformed(e.to_string())).at(index))?;
        pos += n;
        b.apply(op).map_err(at(index))?;
        index += 1;
    }
    if pos != rest.len() {
        return Err(DecodeError::new(DecodeProblem::TrailingData)
            .at(index)
            .into());
    }
    b.finish().map_err(at(index))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                Op::Name("C"),
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
}
