//! Interned attribute and class names: compared as integers, shared by all
//! workers, printed and pickled as strings.

use std::sync::OnceLock;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

/// An interned name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

struct Table {
    ids: FxHashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

fn table() -> &'static RwLock<Table> {
    static T: OnceLock<RwLock<Table>> = OnceLock::new();
    T.get_or_init(|| {
        RwLock::new(Table {
            ids: FxHashMap::default(),
            names: Vec::new(),
        })
    })
}

impl Sym {
    /// Interns `name`. Names live for the whole process (there are few).
    pub fn new(name: &str) -> Sym {
        if let Some(&id) = table().read().ids.get(name) {
            return Sym(id);
        }
        let mut t = table().write();
        if let Some(&id) = t.ids.get(name) {
            return Sym(id);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let id = u32::try_from(t.names.len()).expect("fewer than 2^32 distinct names");
        t.names.push(leaked);
        t.ids.insert(leaked, id);
        Sym(id)
    }

    /// The name as a string.
    pub fn as_str(self) -> &'static str {
        table().read().names[self.0 as usize]
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
