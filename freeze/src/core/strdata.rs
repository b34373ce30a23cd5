//! String storage: short strings live inside the object (one allocation
//! per string instead of two), long ones in a box.

use std::ops::Deref;

const INLINE: usize = 30;

pub(crate) enum StrData {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl StrData {
    pub(crate) fn new(s: &str) -> StrData {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            StrData::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            StrData::Heap(s.into())
        }
    }
}

impl Deref for StrData {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match self {
            StrData::Inline { len, buf } => {
                // SAFETY: `buf[..len]` was copied from a `&str` in `new` and
                // never changes, so it is valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(&buf[..*len as usize]) }
            }
            StrData::Heap(b) => b,
        }
    }
}
