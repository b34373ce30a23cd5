//! The `cluster` suite: an n-object frozen graph (default 1,000,000) sent
//! to a worker actor on another node (a second process on 127.0.0.1,
//! connected with ractor_cluster), per request:
//!
//! * `first`: [`Graph::to`] to a node that has not seen the graph (the
//!   pickle crosses; the worker verifies, unpickles and freezes it);
//! * `id`: later requests with the same graph (the 32-byte id crosses; the
//!   worker resolves it from its node's cache);
//! * `pickle-every-time`: the baseline: pickle, send the bytes, unpickle,
//!   on every request.
//!
//! Plus `publish` (the sender's one pickle + hash). Each row's `bytes` is
//! what one request put on the wire for the graph. The remote node is this
//! same binary, started with `PERMAFROST_BENCH_CLUSTER_NODE` set (see
//! [`node_main_if_asked`]). Not in `all`: a run takes tens of seconds.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use permafrost::{freeze, pickle, unpickle, Value};
use permafrost_cluster::{Graph, Remote};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{NodeServer, RactorClusterMessage};

use crate::csv::Row;
use crate::measure::Stats;

const ENV: &str = "PERMAFROST_BENCH_CLUSTER_NODE";
const COOKIE: &str = "permafrost-bench";
const GROUP: &str = "permafrost-bench.cluster";

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Objects in the graph.
    pub n: usize,
    /// Repetitions of publish + first send (each on a fresh graph).
    pub runs: usize,
    /// Id-only and pickle-every-time requests per run.
    pub requests: usize,
}

/// Progress steps of [`run`].
pub fn total_steps(cfg: &Config) -> u64 {
    (cfg.runs * (2 + 2 * cfg.requests)) as u64 + 1
}

#[derive(RactorClusterMessage)]
enum BenchMsg {
    /// Resolve and keep the graph; reply its length.
    #[rpc]
    Graph(Remote, RpcReplyPort<u64>),
    /// Unpickle the bytes; reply the length.
    #[rpc]
    Pickled(Vec<u8>, RpcReplyPort<u64>),
    /// Drop the kept graph (the node's cache lets go of it).
    #[rpc]
    Forget(RpcReplyPort<u64>),
}

struct Worker;

impl Actor for Worker {
    type Msg = BenchMsg;
    type State = Option<Graph>;
    type Arguments = ();

    async fn pre_start(
        &self,
        me: ActorRef<BenchMsg>,
        _: (),
    ) -> Result<Option<Graph>, ActorProcessingErr> {
        ractor::pg::join(GROUP.into(), vec![me.get_cell()]);
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<BenchMsg>,
        msg: BenchMsg,
        kept: &mut Option<Graph>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BenchMsg::Graph(r, reply) => {
                let g = r.resolve().await?;
                let n = g.value().len()? as u64;
                *kept = Some(g);
                let _ = reply.send(n);
            }
            BenchMsg::Pickled(bytes, reply) => {
                let n = tokio::task::spawn_blocking(move || -> Result<u64, permafrost::Error> {
                    Ok(unpickle(&bytes)?.len()? as u64)
                })
                .await??;
                let _ = reply.send(n);
            }
            BenchMsg::Forget(reply) => {
                if let Some(g) = kept.take() {
                    // Freeing a large graph is real work: not on this thread.
                    tokio::task::spawn_blocking(move || drop(g)).await?;
                }
                let _ = reply.send(0);
            }
        }
        Ok(())
    }
}

fn server(port: u16, name: &str) -> NodeServer {
    NodeServer::new(
        port,
        COOKIE.into(),
        name.into(),
        "127.0.0.1".into(),
        None,
        None,
    )
    .with_listen_addr([127, 0, 0, 1].into())
    .with_max_inbound_frame_size(permafrost_cluster::MAX_FRAME)
}

/// In the remote node's process (`PERMAFROST_BENCH_CLUSTER_NODE=<port>`):
/// runs the node until its stdin closes, then exits the process. Does
/// nothing otherwise. Call it first thing in `main`.
pub fn node_main_if_asked() {
    let Some(port) = std::env::var(ENV).ok().and_then(|p| p.parse::<u16>().ok()) else {
        return;
    };
    let code = match tokio_rt().and_then(|rt| rt.block_on(node(port))) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cluster bench node: {e}");
            1
        }
    };
    std::process::exit(code);
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn tokio_rt() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn node(driver: u16) -> Res<()> {
    let (node, node_task) = Actor::spawn(None, server(0, "bench-worker"), ()).await?;
    let fetch = permafrost_cluster::start().await?;
    let (w, w_task) = Actor::spawn(None, Worker, ()).await?;
    ractor_cluster::client_connect(&node, ("127.0.0.1", driver)).await?;
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        while std::io::stdin().read_line(&mut s).is_ok_and(|n| n > 0) {}
    })
    .await?;
    w.stop(None);
    w_task.await?;
    fetch.stop().await;
    node.stop(None);
    node_task.await?;
    Ok(())
}

/// The graph: a list of n/2 tuples `(i, str)`, about n objects.
fn graph(n: usize) -> Value {
    let v = Value::list(
        (0..(n / 2).max(1))
            .map(|i| {
                Value::tuple(vec![
                    Value::Int(i as i64),
                    Value::from(format!("item-{i}").as_str()),
                ])
            })
            .collect(),
    );
    freeze(&[&v]).expect("a list of tuples freezes");
    v
}

struct RemoteNode {
    child: Child,
}

impl Drop for RemoteNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the suite; `progress` is called once per step.
pub fn run(cfg: &Config, progress: &mut dyn FnMut()) -> (Vec<Row>, Vec<String>) {
    match tokio_rt().and_then(|rt| rt.block_on(drive(cfg, progress))) {
        Ok(rows) => (rows, Vec::new()),
        Err(e) => (Vec::new(), vec![format!("cluster: {e}")]),
    }
}

async fn drive(cfg: &Config, progress: &mut dyn FnMut()) -> Res<Vec<Row>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (node, node_task) = Actor::spawn(None, server(port, "bench-driver"), ()).await?;
    let fetch = permafrost_cluster::start().await?;
    let mut remote = RemoteNode {
        child: Command::new(std::env::current_exe()?)
            .env(ENV, port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?,
    };
    let t0 = Instant::now();
    let worker: ActorRef<BenchMsg> = loop {
        let found = ractor::pg::get_members(&GROUP.to_string())
            .into_iter()
            .find(|c| !c.get_id().is_local());
        if let Some(c) = found {
            break c.into();
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(
                "the remote node did not join (is this the permafrost-bench binary?)".into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    progress();

    let n = cfg.n;
    let expect = (n / 2).max(1) as u64;
    let (mut publish, mut first, mut id, mut every) = (vec![], vec![], vec![], vec![]);
    let (mut first_b, mut id_b, mut every_b) = (0, 0, 0);
    let v = tokio::task::spawn_blocking(move || graph(n).share()).await??;
    let wire = |stats: permafrost_cluster::Stats| stats.sent.iter().map(|t| t.1.bytes).sum::<u64>();
    for _ in 0..cfg.runs {
        // A fresh entry each run, so the first send is a first send again.
        let fv = v.clone();
        let t = Instant::now();
        let g = tokio::task::spawn_blocking(move || Graph::publish(&fv)).await??;
        publish.push(t.elapsed().as_nanos() as f64);
        progress();

        let before = wire(permafrost_cluster::stats());
        let t = Instant::now();
        let got = ractor::call!(worker, BenchMsg::Graph, g.to(&worker))?;
        first.push(t.elapsed().as_nanos() as f64);
        first_b = wire(permafrost_cluster::stats()) - before;
        check(got, expect)?;
        progress();

        for _ in 0..cfg.requests {
            let before = wire(permafrost_cluster::stats());
            let t = Instant::now();
            let got = ractor::call!(worker, BenchMsg::Graph, g.to(&worker))?;
            id.push(t.elapsed().as_nanos() as f64);
            id_b = wire(permafrost_cluster::stats()) - before;
            check(got, expect)?;
            progress();
        }
        for _ in 0..cfg.requests {
            let gv = g.clone();
            let t = Instant::now();
            let bytes = tokio::task::spawn_blocking(move || pickle(&gv.value())).await??;
            every_b = bytes.len() as u64;
            let got = ractor::call!(worker, BenchMsg::Pickled, bytes)?;
            every.push(t.elapsed().as_nanos() as f64);
            check(got, expect)?;
            progress();
        }
        ractor::call!(worker, BenchMsg::Forget)?;
        tokio::task::spawn_blocking(move || drop(g)).await?;
    }
    drop(remote.child.stdin.take());
    let _ = remote.child.wait();
    tokio::task::spawn_blocking(move || drop(v)).await?;
    fetch.stop().await;
    node.stop(None);
    node_task.await?;

    let row = |op: &str, mode: &str, samples: &[f64], bytes: Option<u64>| {
        let mut r = Row::new("cluster", "lists", op, mode);
        r.n = Some(n as u64);
        r.workers = Some(1);
        r.bytes = bytes;
        match Stats::from_samples(samples) {
            Some(s) => r.with_stats(&s),
            None => r,
        }
    };
    Ok(vec![
        row("publish", "once", &publish, None),
        row("request", "first", &first, Some(first_b)),
        row("request", "id", &id, Some(id_b)),
        row("request", "pickle-every-time", &every, Some(every_b)),
    ])
}

fn check(got: u64, expect: u64) -> Res<()> {
    if got == expect {
        Ok(())
    } else {
        Err(format!("the worker saw {got} items, expected {expect}").into())
    }
}

/// The report's section (nothing if the suite did not run).
pub fn section(w: &mut String, rows: &[Row]) {
    let t: Vec<&Row> = rows.iter().filter(|r| r.suite == "cluster").collect();
    if t.is_empty() {
        return;
    }
    let get = |op: &str, mode: &str| t.iter().find(|r| r.op == op && r.mode == mode);
    let n = t.first().and_then(|r| r.n).unwrap_or(0);
    let _ = writeln!(
        w,
        "## Cluster: a {n}-object frozen graph to another node (median)\n\nA worker actor on a second process on 127.0.0.1, over ractor_cluster. `first`: `Graph::to` to a node that has not seen the graph (pickle crosses; receiver verifies, unpickles, freezes once). `id`: later sends (32-byte id; receiver's node cache). `pickle every time`: pickle, send, unpickle per request. Bytes: the graph's frame per request (ractor_cluster's envelope not counted). The sender's one pickle + hash (`publish`): {}.\n",
        get("publish", "once")
            .and_then(|r| r.median_ns)
            .map_or("-".into(), crate::report::fmt_ns)
    );
    let _ = writeln!(
        w,
        "| request | time | bytes on the wire | pickle every time / this |\n|---|---|---|---|"
    );
    let base = get("request", "pickle-every-time").and_then(|r| r.median_ns);
    for (mode, label) in [
        ("first", "first send to a node"),
        ("id", "later sends (id only)"),
        ("pickle-every-time", "pickle every time"),
    ] {
        let Some(r) = get("request", mode) else {
            continue;
        };
        let vs = match (r.median_ns, base) {
            (Some(a), Some(b)) if a > 0.0 => crate::report::fmt_ratio(b / a),
            _ => "-".into(),
        };
        let _ = writeln!(
            w,
            "| {label} | {} | {} | {vs} |",
            r.median_ns.map_or("-".into(), crate::report::fmt_ns),
            r.bytes.map_or("-".into(), |b| b.to_string()),
        );
    }
    let _ = writeln!(w);
}
