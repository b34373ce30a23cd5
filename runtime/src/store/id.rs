//! Object ids: 20 opaque bytes, as Plasma's, random or chosen by the caller.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The name of an object in a [`Store`](crate::Store): 20 bytes, as in
/// Plasma. [`ObjectId::random`] draws a fresh one; a caller that wants
/// well-known names (a driver telling workers where to put their results)
/// builds them with [`ObjectId::from_bytes`] or parses 40 hex digits.
///
/// ```
/// use permafrost_runtime::ObjectId;
/// let id = ObjectId::random();
/// assert_ne!(id, ObjectId::random());
/// let back: ObjectId = id.to_string().parse().unwrap(); // 40 hex digits
/// assert_eq!(back, id);
/// assert_eq!(ObjectId::from_bytes([0xab; 20]).to_string(), "ab".repeat(20));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; ObjectId::LEN]);

impl ObjectId {
    /// Length of an id in bytes.
    pub const LEN: usize = 20;

    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; ObjectId::LEN]) -> ObjectId {
        ObjectId(bytes)
    }

    /// A fresh random id. Unique within the process (a counter is mixed
    /// in) and unpredictable (std's randomly keyed SipHash), without a
    /// dependency on a random number crate.
    pub fn random() -> ObjectId {
        let mut out = [0u8; ObjectId::LEN];
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let word = random_u64(i as u64).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        ObjectId(out)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; ObjectId::LEN] {
        &self.0
    }
}

/// 64 random bits: a counter hashed with a fresh `RandomState` (per-thread
/// random keys, stepped on every `new`).
pub(crate) fn random_u64(salt: u64) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Relaxed));
    h.write_u64(salt);
    h.finish()
}

impl From<[u8; ObjectId::LEN]> for ObjectId {
    fn from(bytes: [u8; ObjectId::LEN]) -> ObjectId {
        ObjectId(bytes)
    }
}

impl fmt::Display for ObjectId {
    /// 40 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

/// A string that is not 40 hex digits, given to `ObjectId::from_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseIdError;

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object id is 40 hex digits")
    }
}

impl std::error::Error for ParseIdError {}

impl FromStr for ObjectId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<ObjectId, ParseIdError> {
        let s = s.as_bytes();
        if s.len() != 2 * ObjectId::LEN {
            return Err(ParseIdError);
        }
        let digit = |c: u8| (c as char).to_digit(16).ok_or(ParseIdError);
        let mut out = [0u8; ObjectId::LEN];
        for (i, b) in out.iter_mut().enumerate() {
            *b = (digit(s[2 * i])? << 4 | digit(s[2 * i + 1])?) as u8;
        }
        Ok(ObjectId(out))
    }
}
