//! Interned attribute and class names: compared by address, shared by all
//! workers, printed and pickled as strings. Interning takes a global lock
//! only the first time a thread meets a name; reading a name never locks.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

/// An interned name: one pointer, compared and hashed by address.
#[derive(Clone, Copy)]
pub struct Sym(&'static Interned);

struct Interned {
    name: Box<str>,
}

fn table() -> &'static Mutex<FxHashMap<&'static str, Sym>> {
    static T: OnceLock<Mutex<FxHashMap<&'static str, Sym>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// How many names unpickled streams may add to the process, in all.
pub const UNTRUSTED_NAME_BUDGET: usize = 65_536;
/// How many bytes of names unpickled streams may add to the process.
pub const UNTRUSTED_NAME_BYTES: usize = 4 << 20;

/// Names and bytes minted from untrusted input so far.
static MINTED: Mutex<(usize, usize)> = Mutex::new((0, 0));

thread_local! {
    static CACHE: RefCell<FxHashMap<&'static str, Sym>> = RefCell::new(FxHashMap::default());
}

impl Sym {
    /// Interns `name`. Names live for the whole process (there are few).
    pub fn new(name: &str) -> Sym {
        if let Ok(Some(s)) = CACHE.try_with(|c| c.borrow().get(name).copied()) {
            return s;
        }
        let s = {
            let mut t = table().lock();
            match t.get(name) {
                Some(s) => *s,
                None => {
                    let interned: &'static Interned =
                        Box::leak(Box::new(Interned { name: name.into() }));
                    let s = Sym(interned);
                    t.insert(&interned.name, s);
                    s
                }
            }
        };
        let _ = CACHE.try_with(|c| c.borrow_mut().insert(&s.0.name, s));
        s
    }

    /// Interns a name read from untrusted bytes (an unpickled stream).
    /// Names are never freed, so names new to the process are minted from
    /// a process-wide budget ([`UNTRUSTED_NAME_BUDGET`] names,
    /// [`UNTRUSTED_NAME_BYTES`] bytes): hostile streams cannot grow memory
    /// for good beyond it. Names already known cost nothing.
    pub(crate) fn from_untrusted(name: &str) -> Result<Sym, crate::core::error::Error> {
        if let Ok(Some(s)) = CACHE.try_with(|c| c.borrow().get(name).copied()) {
            return Ok(s);
        }
        let mut t = table().lock();
        if let Some(s) = t.get(name) {
            return Ok(*s);
        }
        let minted = &mut *MINTED.lock();
        if minted.0 >= UNTRUSTED_NAME_BUDGET || minted.1 + name.len() > UNTRUSTED_NAME_BYTES {
            return Err(crate::core::error::Error::Other(format!(
                "too many distinct names from untrusted bytes (the process keeps at most \
                 {UNTRUSTED_NAME_BUDGET} names, {UNTRUSTED_NAME_BYTES} bytes, minted by unpickle)"
            )));
        }
        minted.0 += 1;
        minted.1 += name.len();
        let interned: &'static Interned = Box::leak(Box::new(Interned { name: name.into() }));
        let s = Sym(interned);
        t.insert(&interned.name, s);
        Ok(s)
    }

    /// The name as a string.
    pub fn as_str(self) -> &'static str {
        &self.0.name
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Sym {}

impl Hash for Sym {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self.0 as *const Interned as usize).hash(h)
    }
}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by name (stable across runs, unlike addresses).
impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::fmt::Debug for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Sym {
    fn from(s: &str) -> Sym {
        Sym::new(s)
    }
}
