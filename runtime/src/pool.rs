//! A pool of workers mapping a function over items, in the manner of
//! CPython's `InterpreterPoolExecutor`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crossbeam_channel as cb;
use permafrost_freeze::{freeze, is_frozen, Error, Value};

use crate::error::{PoolError, SendError};
use crate::message::{Message, Mode};
use crate::worker::{panic_message, Runtime, WorkerReport};

type Task = Arc<dyn Fn(Value) -> Result<Value, Error> + Send + Sync>;
type Reply = (usize, Result<Message, PoolError>);

struct Job {
    index: usize,
    input: Message,
    mode: Mode,
    task: Task,
    reply: cb::Sender<Reply>,
}

/// `n` workers taking items from one queue. Items go to the workers and
/// results come back in the transfer mode the caller picks; results are
/// returned in input order.
///
/// ```
/// use permafrost_runtime::{freeze, Pool, Value};
/// let pool = Pool::new(2);
/// use permafrost_runtime::Mode;
/// let items: Vec<_> = (0..4)
///     .map(|i| {
///         let v = Value::list(vec![Value::Int(i), Value::Int(10)]);
///         freeze(&[&v]).unwrap();
///         v
///     })
///     .collect();
/// let sums = pool
///     .map(items, Mode::Share, |v| Ok(Value::Int(v.get(0)?.as_int().unwrap() + v.get(1)?.as_int().unwrap())))
///     .unwrap();
/// let sums: Vec<i64> = sums.iter().map(|v| v.as_int().unwrap()).collect();
/// assert_eq!(sums, [10, 11, 12, 13]);
/// ```
pub struct Pool {
    jobs: Option<cb::Sender<Job>>,
    rt: Runtime,
    size: usize,
}

impl Pool {
    /// A pool of `n` workers (at least one), named `pool-0`, `pool-1`, ...
    pub fn new(n: usize) -> Pool {
        let size = n.max(1);
        let (tx, rx) = cb::unbounded::<Job>();
        let rt = Runtime::new();
        for i in 0..size {
            let rx = rx.clone();
            drop(rt.spawn(format!("pool-{i}"), move |_ctx| {
                while let Ok(job) = rx.recv() {
                    run_job(job);
                }
            }));
        }
        Pool {
            jobs: Some(tx),
            rt,
            size,
        }
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Applies `f` to every item on the pool's workers. Items travel in
    /// `mode` and results come back in `mode`, rebuilt in the caller's
    /// heap, in input order. This is the pool's one entry point: the mode
    /// says how items and results travel, as for
    /// [`Sender::send`](crate::Sender::send).
    ///
    /// * [`Mode::Share`]: every item must be frozen (or an immediate) and
    ///   goes by reference, O(1) whatever its size; each result is frozen
    ///   by the worker that made it and shared back (a result that cannot
    ///   be frozen is an error). Pass [`Frozen`](crate::Frozen) handles
    ///   as `f.into_value()`.
    /// * [`Mode::Pickle`], [`Mode::Copy`]: items and results are mutable
    ///   copies on the other side; the caller's items are unchanged.
    /// * [`Mode::Move`]: each item's isolated graph changes heap to a
    ///   worker and its result's graph moves back, the same objects,
    ///   nothing copied. An item (or a result) something else refers into
    ///   fails with the object and the path to it in the error.
    ///
    /// All items are encoded before any is sent, so a refused item means
    /// no work was done; the items are dropped then (the caller gave them
    /// up). The first failing item (lowest index) is reported; the
    /// function panicking on an item is reported as
    /// [`PoolError::Panicked`] and the worker carries on. Calling `map`
    /// from inside `f` on the same pool can deadlock (every worker waiting
    /// on the others).
    pub fn map<I, F>(&self, items: I, mode: Mode, f: F) -> Result<Vec<Value>, PoolError>
    where
        I: IntoIterator<Item = Value>,
        F: Fn(Value) -> Result<Value, Error> + Send + Sync + 'static,
    {
        let msgs = items
            .into_iter()
            .enumerate()
            .map(|(index, v)| {
                Message::new(v, mode).map_err(|e| PoolError::Send {
                    index,
                    error: plain_error(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.run(msgs, mode, Arc::new(f))?
            .into_iter()
            .enumerate()
            .map(|(index, m)| {
                m.into_value()
                    .map_err(|error| PoolError::Result { index, error })
            })
            .collect()
    }

    fn run(&self, msgs: Vec<Message>, mode: Mode, task: Task) -> Result<Vec<Message>, PoolError> {
        let jobs = self.jobs.as_ref().ok_or(PoolError::Closed)?;
        let n = msgs.len();
        let (reply, results) = cb::unbounded();
        for (index, input) in msgs.into_iter().enumerate() {
            let job = Job {
                index,
                input,
                mode,
                task: task.clone(),
                reply: reply.clone(),
            };
            jobs.send(job).map_err(|_| PoolError::Closed)?;
        }
        drop(reply);
        let mut out: Vec<Option<Message>> = (0..n).map(|_| None).collect();
        let mut first_err: Option<PoolError> = None;
        for _ in 0..n {
            let (index, r) = results.recv().map_err(|_| PoolError::Closed)?;
            match r {
                Ok(m) => out[index] = Some(m),
                Err(e) => {
                    if first_err.as_ref().is_none_or(|f| err_index(f) > index) {
                        first_err = Some(e);
                    }
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        out.into_iter()
            .map(|m| m.ok_or(PoolError::Closed))
            .collect()
    }

    /// Stops the workers once queued work is done, joins them and returns
    /// their reports.
    pub fn shutdown(mut self) -> Vec<WorkerReport> {
        drop(self.jobs.take());
        self.rt.join_all()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        self.rt.join_all();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.size).finish()
    }
}

fn err_index(e: &PoolError) -> usize {
    match e {
        PoolError::Send { index, .. }
        | PoolError::Task { index, .. }
        | PoolError::Result { index, .. }
        | PoolError::Panicked { index, .. } => *index,
        PoolError::Closed => usize::MAX,
    }
}

fn run_job(job: Job) {
    let Job {
        index,
        input,
        mode,
        task,
        reply,
    } = job;
    let out =
        catch_unwind(AssertUnwindSafe(|| apply(index, input, mode, &*task))).unwrap_or_else(|p| {
            Err(PoolError::Panicked {
                index,
                message: panic_message(&*p),
            })
        });
    drop(task);
    // The caller may have given up (it never does before all replies).
    let _ = reply.send((index, out));
}

fn apply(
    index: usize,
    input: Message,
    mode: Mode,
    f: &(dyn Fn(Value) -> Result<Value, Error> + Send + Sync),
) -> Result<Message, PoolError> {
    let v = input
        .into_value()
        .map_err(|error| PoolError::Result { index, error })?;
    let r = f(v).map_err(|error| PoolError::Task { index, error })?;
    let result = |error| PoolError::Result { index, error };
    if mode == Mode::Share && !is_frozen(&r) {
        freeze(&[&r]).map_err(|e| result(e.into()))?;
    }
    Message::new(r, mode).map_err(|e| result(plain_error(e)))
}

/// The object-model error behind a refused send, for [`PoolError`] (which
/// stays `Clone + Eq` and does not carry the value: the pool owns it).
fn plain_error(e: SendError) -> Error {
    match e {
        SendError::NotFrozen(v) => Error::NotFrozen(v.type_name()),
        SendError::Encode(e, _) => e,
        other => Error::Other(other.to_string()),
    }
}
