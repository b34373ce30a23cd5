//! Workers: named "interpreters", each an OS thread with its own heap,
//! running a Rust closure against it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel as cb;
use parking_lot::Mutex;
use permafrost_freeze::diag::heap_live;
use permafrost_freeze::Value;

use crate::channel::{self, Receiver, Sender};
use crate::error::{RecvError, WorkerError};
use crate::message::Message;

/// What a worker's closure gets: its name and its inbox.
pub struct Ctx {
    name: Arc<str>,
    index: usize,
    inbox: Receiver,
    stop: cb::Receiver<()>,
}

impl Ctx {
    /// The worker's name (also its thread's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker's number in its runtime, in spawn order from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The worker's inbox: what was sent to [`WorkerHandle::sender`].
    pub fn inbox(&self) -> &Receiver {
        &self.inbox
    }

    /// The next message in the inbox, as a value in this worker's heap.
    ///
    /// Gives [`RecvError::Disconnected`] once the inbox is empty and either
    /// every sender to it is gone or the runtime is shutting down, so
    /// `while let Ok(v) = ctx.recv()` is a worker's main loop.
    pub fn recv(&self) -> Result<Value, RecvError> {
        self.next_message()?.into_value().map_err(RecvError::Decode)
    }

    /// The next message as it travelled, or the end of the inbox.
    fn next_message(&self) -> Result<Message, RecvError> {
        let inbox = self.inbox.raw();
        if let Ok(m) = inbox.try_recv() {
            return Ok(m);
        }
        let mut sel = cb::Select::new();
        sel.recv(inbox);
        sel.recv(&self.stop);
        let op = sel.select();
        if op.index() == 0 {
            return op.recv(inbox).map_err(|_| RecvError::Disconnected);
        }
        let _ = op.recv(&self.stop);
        // Shutting down: what is already queued is still delivered.
        inbox.try_recv().map_err(|_| RecvError::Disconnected)
    }

    /// True once the runtime has begun shutting down.
    pub fn is_stopping(&self) -> bool {
        matches!(self.stop.try_recv(), Err(cb::TryRecvError::Disconnected))
    }
}

/// How a worker finished: what its heap still held after cleanup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    /// The worker's name.
    pub name: String,
    /// The worker's number in its runtime, in spawn order from 0.
    pub index: usize,
    /// Live mutable objects left in the worker's heap after its closure
    /// returned, its interpreter-local values and registered classes were
    /// dropped and its cycle collector ran. Zero unless something leaked.
    pub heap_live: usize,
    /// True if the closure panicked.
    pub panicked: bool,
}

/// A joined worker: its result and its report.
#[derive(Debug)]
pub struct Joined<R> {
    /// What the closure returned, or how it failed.
    pub result: Result<R, WorkerError>,
    /// The worker's final state.
    pub report: WorkerReport,
}

struct Slot<R> {
    name: String,
    index: usize,
    thread: Mutex<Option<JoinHandle<()>>>,
    outcome: Mutex<Option<Result<R, WorkerError>>>,
    report: Mutex<Option<WorkerReport>>,
}

trait Joinable: Send + Sync {
    fn join_thread(&self) -> WorkerReport;
    fn is_joined(&self) -> bool;
}

impl<R: Send> Joinable for Slot<R> {
    fn join_thread(&self) -> WorkerReport {
        let mut t = self.thread.lock();
        if let Some(h) = t.take() {
            if h.thread().id() == std::thread::current().id() {
                // A worker cannot wait for itself; leave it to finish.
                *t = Some(h);
            } else if let Err(p) = h.join() {
                let message = panic_message(&*p);
                let mut o = self.outcome.lock();
                if o.is_none() {
                    *o = Some(Err(WorkerError::Panicked {
                        name: self.name.clone(),
                        message,
                    }));
                }
            }
        }
        drop(t);
        self.report.lock().clone().unwrap_or_else(|| WorkerReport {
            name: self.name.clone(),
            index: self.index,
            heap_live: 0,
            panicked: true,
        })
    }

    fn is_joined(&self) -> bool {
        self.thread.lock().is_none()
    }
}

/// A handle to a running worker. Dropping it does not stop the worker:
/// the [`Runtime`] joins it at shutdown.
pub struct WorkerHandle<R> {
    slot: Arc<Slot<R>>,
    inbox: Sender,
}

impl<R: Send + 'static> WorkerHandle<R> {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// A sender to the worker's inbox ([`Ctx::recv`]). Once the worker has
    /// finished, sends fail and hand the message back.
    pub fn sender(&self) -> Sender {
        self.inbox.clone()
    }

    /// True once the worker's closure has finished and its heap is clean.
    pub fn is_finished(&self) -> bool {
        self.slot.report.lock().is_some()
    }

    /// Waits for the worker and returns what its closure returned, or its
    /// panic as [`WorkerError::Panicked`].
    ///
    /// The handle's own inbox sender is dropped first, so a worker looping
    /// on [`Ctx::recv`] ends once no other sender to it is left.
    pub fn join(self) -> Result<R, WorkerError> {
        self.join_report().result
    }

    /// Like [`join`](WorkerHandle::join), with the worker's final report
    /// (use it to check that nothing leaked: `report.heap_live == 0`).
    pub fn join_report(self) -> Joined<R> {
        let WorkerHandle { slot, inbox } = self;
        drop(inbox);
        let report = slot.join_thread();
        let result = slot.outcome.lock().take().unwrap_or_else(|| {
            Err(WorkerError::Panicked {
                name: slot.name.clone(),
                message: "the worker's result was lost".into(),
            })
        });
        Joined { result, report }
    }
}

impl<R> std::fmt::Debug for WorkerHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("name", &self.slot.name)
            .finish_non_exhaustive()
    }
}

/// Owns a set of workers. [`shutdown`](Runtime::shutdown), or dropping the
/// runtime, wakes workers waiting in [`Ctx::recv`] and joins every worker.
///
/// ```
/// use permafrost_runtime::Runtime;
/// let rt = Runtime::new();
/// let w = rt.spawn("adder", |ctx| format!("{} says {}", ctx.name(), 1 + 1));
/// assert_eq!(w.join().unwrap(), "adder says 2");
/// let reports = rt.shutdown();
/// assert_eq!(reports[0].heap_live, 0);
/// ```
///
/// A mutable value cannot be moved into a worker: it is `!Send`. Freeze
/// and share it, or send it by pickle or copy.
///
/// ```compile_fail
/// use permafrost_runtime::{Runtime, Value};
/// let rt = Runtime::new();
/// let list = Value::list(vec![Value::Int(1)]);
/// rt.spawn("w", move |_ctx| list.len().unwrap()); // Value is !Send
/// ```
///
/// Nor can a worker return one:
///
/// ```compile_fail
/// use permafrost_runtime::{Runtime, Value};
/// let rt = Runtime::new();
/// let w = rt.spawn("w", |_ctx| Value::list(vec![])); // R must be Send
/// ```
pub struct Runtime {
    workers: Mutex<Vec<Arc<dyn Joinable>>>,
    stop: Mutex<Option<cb::Sender<()>>>,
    stop_rx: cb::Receiver<()>,
    next: AtomicUsize,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime with no workers yet.
    pub fn new() -> Runtime {
        let (s, r) = cb::bounded(0);
        Runtime {
            workers: Mutex::new(Vec::new()),
            stop: Mutex::new(Some(s)),
            stop_rx: r,
            next: AtomicUsize::new(0),
        }
    }

    /// Starts a worker named `name`: a new thread with its own heap runs
    /// `f`. When `f` returns (or panics) the worker drops its locals, its
    /// interpreter-local values and registered mutable classes, runs its
    /// due weakref callbacks and its cycle collector, and records how many
    /// objects its heap still holds ([`WorkerReport::heap_live`]).
    ///
    /// If the thread cannot be started, [`WorkerHandle::join`] reports
    /// [`WorkerError::Spawn`].
    pub fn spawn<R, F>(&self, name: impl Into<String>, f: F) -> WorkerHandle<R>
    where
        F: FnOnce(&Ctx) -> R + Send + 'static,
        R: Send + 'static,
    {
        let name: String = name.into().replace('\0', " ");
        let index = self.next.fetch_add(1, Relaxed);
        let slot = Arc::new(Slot {
            name: name.clone(),
            index,
            thread: Mutex::new(None),
            outcome: Mutex::new(None),
            report: Mutex::new(None),
        });
        let (tx, rx) = channel::unbounded();
        let ctx = Ctx {
            name: name.as_str().into(),
            index,
            inbox: rx,
            stop: self.stop_rx.clone(),
        };
        let out = slot.clone();
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || run_worker(ctx, f, &out));
        match spawned {
            Ok(h) => *slot.thread.lock() = Some(h),
            Err(e) => {
                *slot.outcome.lock() = Some(Err(WorkerError::Spawn {
                    name: name.clone(),
                    message: e.to_string(),
                }));
                *slot.report.lock() = Some(WorkerReport {
                    name,
                    index,
                    heap_live: 0,
                    panicked: false,
                });
            }
        }
        let mut ws = self.workers.lock();
        ws.retain(|w| !w.is_joined());
        ws.push(slot.clone());
        drop(ws);
        WorkerHandle { slot, inbox: tx }
    }

    /// Workers started and not yet joined.
    pub fn workers(&self) -> usize {
        let ws = self.workers.lock();
        ws.iter().filter(|w| !w.is_joined()).count()
    }

    /// Signals shutdown (workers waiting in [`Ctx::recv`] see the end of
    /// their inbox once it is empty), joins every worker and returns their
    /// reports in spawn order. Results not yet taken stay available to
    /// [`WorkerHandle::join`].
    ///
    /// A worker blocked somewhere else (on a channel of its own, say) is
    /// waited for: close that channel first.
    pub fn shutdown(self) -> Vec<WorkerReport> {
        self.join_all()
    }

    pub(crate) fn join_all(&self) -> Vec<WorkerReport> {
        drop(self.stop.lock().take());
        let ws = std::mem::take(&mut *self.workers.lock());
        let mut reports: Vec<WorkerReport> = ws.iter().map(|w| w.join_thread()).collect();
        reports.sort_by_key(|r| r.index);
        reports
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.join_all();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}

fn run_worker<R, F>(ctx: Ctx, f: F, out: &Slot<R>)
where
    F: FnOnce(&Ctx) -> R,
{
    let name = ctx.name.to_string();
    let index = ctx.index;
    // The closure and the context (the inbox) are dropped inside, also
    // when unwinding.
    let result = catch_unwind(AssertUnwindSafe(move || {
        let ctx = ctx;
        f(&ctx)
    }));
    let result = result.map_err(|p| WorkerError::Panicked {
        name: name.clone(),
        message: panic_message(&*p),
    });
    let panicked = result.is_err();
    let heap_live = catch_unwind(clean_heap).unwrap_or_else(|_| heap_live());
    *out.outcome.lock() = Some(result);
    *out.report.lock() = Some(WorkerReport {
        name,
        index,
        heap_live,
        panicked,
    });
}

/// Releases what a finished worker's heap still holds; returns how many
/// objects are left.
fn clean_heap() -> usize {
    permafrost_freeze::embed::end_worker()
}

pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".to_string()
    }
}
