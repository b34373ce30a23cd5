//! Module objects: a named namespace per worker. Modules default to
//! freezability `No`; with `Proxy`, freezing turns the module into a proxy
//! whose reads and writes go to the current worker's module of that name.

use std::cell::RefCell;
use std::sync::OnceLock;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

use crate::core::body::set_attr;
use crate::core::body::{Body, ModuleData};
use crate::core::error::Error;
use crate::core::handle::{Ref, Value};
use crate::core::object::{self, ObjPtr};
use crate::core::payload::Payload;
use crate::core::sym::Sym;

/// Builds a module's initial contents in a worker that has none yet.
pub type ModuleInit = fn(&Value) -> Result<(), Error>;

thread_local! {
    static MODULES: RefCell<FxHashMap<Sym, Value>> = RefCell::new(FxHashMap::default());
}

fn inits() -> &'static RwLock<FxHashMap<Sym, ModuleInit>> {
    static I: OnceLock<RwLock<FxHashMap<Sym, ModuleInit>>> = OnceLock::new();
    I.get_or_init(Default::default)
}

impl Value {
    /// A new, empty module object. It is not registered anywhere; see
    /// [`import`] for the current worker's module of a name.
    pub fn module(name: &str) -> Value {
        Value::Obj(Ref::from_owned(object::alloc(Body::Module(Box::new(
            ModuleData {
                name: Sym::new(name),
                dict: Payload::new(Some(Vec::new())),
            },
        )))))
    }
}

/// Registers how to build module `name` in a worker that imports it first
/// (through [`import`] or a frozen proxy).
pub fn register_module(name: &str, init: ModuleInit) {
    inits().write().insert(Sym::new(name), init);
}

/// The current worker's module `name`, created and initialised on first
/// use from the function given to [`register_module`].
pub fn import(name: &str) -> Result<Value, Error> {
    let sym = Sym::new(name);
    // `try_with` throughout: from a thread-local destructor the registry
    // may be gone, and a panic there aborts the process.
    let found = MODULES
        .try_with(|m| m.borrow().get(&sym).cloned())
        .map_err(|_| Error::thread_exiting("import"))?;
    if let Some(m) = found {
        return Ok(m);
    }
    let init = inits().read().get(&sym).copied();
    let Some(init) = init else {
        return Err(Error::Other(format!(
            "no module named '{name}' in this worker"
        )));
    };
    // Registered before init runs, as Python's `sys.modules` is: a
    // circular import finds the module half-built instead of recursing.
    let m = Value::module(name);
    MODULES
        .try_with(|ms| ms.borrow_mut().insert(sym, m.clone()))
        .map_err(|_| Error::thread_exiting("import"))?;
    if let Err(e) = init(&m) {
        let gone = MODULES.try_with(|ms| ms.borrow_mut().remove(&sym));
        drop(gone);
        return Err(e);
    }
    // An init that froze its module as a proxy has replaced the entry
    // with the module's state (see `proxify`): use that, never the proxy
    // itself, which would resolve to itself.
    let state = MODULES
        .try_with(|ms| ms.borrow().get(&sym).cloned())
        .ok()
        .flatten()
        .unwrap_or(m);
    if is_proxy(&state) {
        let gone = MODULES.try_with(|ms| ms.borrow_mut().remove(&sym));
        drop(gone);
        return Err(Error::Other(format!(
            "module '{name}': its init left only a proxy behind"
        )));
    }
    Ok(state)
}

fn is_proxy(m: &Value) -> bool {
    match m.slot().obj() {
        Some(p) => match p.body() {
            Body::Module(md) => md.dict.read(p).is_none(),
            _ => false,
        },
        None => false,
    }
}

/// `del sys.mut_modules[name]`: drops module `name` from this worker's
/// registry and returns it (`None` if it was not imported here). The next
/// [`import`], or the next read or write through a frozen `Proxy` of that
/// name, builds it afresh from its registered init. Handles to the old
/// module stay valid; they no longer are this worker's module.
///
/// ```
/// use permafrost_freeze::{import, register_module, unload_module, Value};
/// register_module("pf_doc_unload", |m| m.setattr("n", 0.into()));
/// let m = import("pf_doc_unload").unwrap();
/// m.setattr("n", 5.into()).unwrap();
/// assert!(unload_module("pf_doc_unload").unwrap().is(&m));
/// let again = import("pf_doc_unload").unwrap();
/// assert_eq!(again.getattr("n").unwrap().as_int(), Some(0));
/// ```
#[doc(alias = "mut_modules")]
pub fn unload_module(name: &str) -> Option<Value> {
    let sym = Sym::new(name);
    MODULES
        .try_with(|m| m.borrow_mut().remove(&sym))
        .ok()
        .flatten()
}

/// Whether module `name` is in this worker's registry (`name in
/// sys.mut_modules`).
pub fn module_loaded(name: &str) -> bool {
    let sym = Sym::new(name);
    MODULES
        .try_with(|m| m.borrow().contains_key(&sym))
        .unwrap_or(false)
}

/// Forgets this worker's imported modules (workers call it when they
/// finish, so module state dies with the worker's heap).
pub fn clear_modules() {
    let mods = MODULES
        .try_with(|m| std::mem::take(&mut *m.borrow_mut()))
        .unwrap_or_default();
    drop(mods);
}

fn current(p: ObjPtr) -> Result<Value, Error> {
    let Body::Module(md) = p.body() else {
        unreachable!("modules only")
    };
    import(md.name.as_str())
}

pub(crate) fn module_getattr(p: ObjPtr, sym: Sym) -> Result<Value, Error> {
    let Body::Module(md) = p.body() else {
        unreachable!("modules only")
    };
    let own = md.dict.read(p).as_ref().map(|d| {
        d.iter()
            .find(|(n, _)| *n == sym)
            .map(|(_, v)| Value::from_slot(*v))
    });
    match own {
        Some(found) => found.ok_or_else(|| Error::Attribute {
            type_name: format!("module {}", md.name),
            name: sym.as_str().into(),
        }),
        None => current(p)?.getattr(sym.as_str()),
    }
}

pub(crate) fn module_setattr(p: ObjPtr, sym: Sym, v: Value) -> Result<(), Error> {
    let Body::Module(md) = p.body() else {
        unreachable!("modules only")
    };
    if md.dict.read(p).is_none() {
        return current(p)?.setattr(sym.as_str(), v);
    }
    if p.is_frozen() {
        return Err(Error::Immutable("module"));
    }
    let old = md
        .dict
        .write(p)?
        .as_mut()
        .map(|d| set_attr(d, sym, v.into_slot()));
    if let Some(Some(old)) = old {
        object::decref_slot(old);
    }
    Ok(())
}

/// The `Proxy` pre-freeze hook: the module's state moves into this worker's
/// registry as a fresh module object; this one keeps only its name.
pub(crate) fn proxify(p: ObjPtr) -> Result<(), Error> {
    let Body::Module(md) = p.body() else {
        return Ok(());
    };
    if p.is_frozen() {
        return Ok(());
    }
    // The state moves only inside the registry's `try_with`: once this
    // thread's registry is gone (a freeze from a thread-local destructor)
    // the module is refused whole.
    let old = MODULES
        .try_with(|ms| -> Result<Option<Value>, Error> {
            let Some(state) = md.dict.write_internal(p)?.take() else {
                return Ok(None);
            };
            let holder = Value::module(md.name.as_str());
            let (Some(h), Some(Body::Module(hd))) = (holder.slot().obj(), holder.body()) else {
                unreachable!("just made a module")
            };
            *hd.dict.write(h)? = Some(state);
            Ok(ms.borrow_mut().insert(md.name, holder))
        })
        .map_err(|_| Error::thread_exiting("freezing a Proxy module"))??;
    drop(old);
    Ok(())
}
