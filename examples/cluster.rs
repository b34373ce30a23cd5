//! A frozen dataset shared with workers on three nodes of a ractor cluster,
//! each node a separate process on 127.0.0.1.
//!
//! The driver (this program, run without `--node`) starts a ractor_cluster
//! node and re-executes itself twice with `--node NAME --driver PORT`; each
//! of those processes is a node with two worker actors that connects to the
//! driver. The driver publishes a large frozen table and asks every worker,
//! several times, for the sum of a column, in two ways:
//!
//! * **sent once per node** ([`permafrost_cluster::Graph::to`]): the table's
//!   pickle crosses to each node once; later requests carry its 32-byte id,
//!   and the node's workers share the one frozen copy by reference;
//! * **pickle every time**: each request carries a fresh pickle, which the
//!   worker unpickles.
//!
//! It prints the bytes sent to each node and the time per request.
//!
//! ```text
//! cargo run --release --example cluster
//! cargo run --release --example cluster -- --rows 500000 --rounds 5
//! cargo run --release --example cluster -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use permafrost::diag::{frozen_live, heap_live};
use permafrost::{collect, freeze, pickle, unpickle, Error, Value};
use permafrost_cluster::{Graph, Remote};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{NodeServer, RactorClusterMessage};

const COOKIE: &str = "permafrost-example";
const NODES: usize = 2;
const WORKERS_PER_NODE: usize = 2;

// ---------------------------------------------------------------------------
// Worker: sums column 2 of whatever table it gets.

#[derive(RactorClusterMessage)]
enum WorkerMsg {
    /// The table as a graph field: bytes or id. Replies (sum, micros spent
    /// turning the message into a readable table).
    #[rpc]
    Sum(Remote, RpcReplyPort<Vec<u64>>),
    /// The table as pickle bytes, every time.
    #[rpc]
    SumPickled(Vec<u8>, RpcReplyPort<Vec<u64>>),
}

struct Worker;

fn sum(table: &Value) -> Result<i64, Error> {
    let mut s = 0;
    for row in table.to_vec()? {
        s += row.get(2)?.as_int().unwrap_or(0);
    }
    Ok(s)
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    /// The table last received. Holding it keeps it in the node's cache:
    /// the cache itself holds no strong reference.
    type State = Option<Graph>;
    type Arguments = ();

    async fn pre_start(
        &self,
        me: ActorRef<WorkerMsg>,
        _: (),
    ) -> Result<Option<Graph>, ActorProcessingErr> {
        ractor::pg::join("workers".into(), vec![me.get_cell()]);
        Ok(None)
    }

    async fn handle(
        &self,
        _me: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        kept: &mut Option<Graph>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Sum(table, reply) => {
                let t0 = Instant::now();
                // The first arrival on this node decodes; every other one,
                // on any worker of the node, is a cache hit.
                let graph = table.resolve().await?;
                let ready = t0.elapsed();
                let s = sum(&graph.value())?;
                *kept = Some(graph);
                let _ = reply.send(vec![s as u64, ready.as_micros() as u64]);
            }
            WorkerMsg::SumPickled(bytes, reply) => {
                let t0 = Instant::now();
                let (s, ready) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
                    let table = unpickle(&bytes)?; // a private mutable copy
                    let ready = t0.elapsed();
                    Ok((sum(&table)?, ready))
                })
                .await??;
                let _ = reply.send(vec![s as u64, ready.as_micros() as u64]);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Node processes.

fn node_server(port: u16, name: &str) -> NodeServer {
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

/// A worker node: connect to the driver, serve until stdin closes.
async fn run_node(name: &str, driver: u16) -> Result<(), Box<dyn std::error::Error>> {
    let (node, node_task) = Actor::spawn(None, node_server(0, name), ()).await?;
    let fetch = permafrost_cluster::start().await?;
    let mut workers = Vec::new();
    for _ in 0..WORKERS_PER_NODE {
        workers.push(Actor::spawn(None, Worker, ()).await?);
    }
    ractor_cluster::client_connect(&node, ("127.0.0.1", driver)).await?;
    // The driver closes our stdin when it is done.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await?;
    let s = permafrost_cluster::stats();
    for (w, task) in workers {
        w.stop(None);
        task.await?;
    }
    fetch.stop().await;
    node.stop(None);
    node_task.await?;
    println!(
        "{name}: decoded the table {} time(s), {} cache hit(s), {} fetch(es)",
        s.decodes, s.cache_hits, s.fetches
    );
    Ok(())
}

/// A node process, killed if the driver fails before it ends.
struct NodeProcess {
    name: String,
    child: Child,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The driver.

struct Config {
    rows: usize,
    rounds: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().collect();
    let small =
        args.iter().any(|a| a == "--small") || std::env::var_os("PERMAFROST_SMALL").is_some();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    Config {
        rows: arg("--rows").unwrap_or(if small { 20_000 } else { 300_000 }),
        rounds: arg("--rounds").unwrap_or(3).max(1),
    }
}

/// A frozen table of `rows` rows `(id, name, score)`: two objects a row (a
/// tuple and a str; the ints are immediates).
fn table(rows: usize) -> (Value, i64) {
    let mut total = 0;
    let t = Value::list(
        (0..rows)
            .map(|i| {
                let score = (i as i64 * 7919) % 1000;
                total += score;
                Value::tuple(vec![
                    Value::Int(i as i64),
                    Value::from(format!("row-{i:07}").as_str()),
                    Value::Int(score),
                ])
            })
            .collect(),
    );
    freeze(&[&t]).unwrap();
    (t, total)
}

#[derive(Default)]
struct Tally {
    bytes: BTreeMap<u64, u64>,
    times: Vec<Duration>,
    ready: Vec<Duration>,
}

impl Tally {
    fn line(&self, label: &str) {
        let n = self.times.len().max(1) as u32;
        let mean: Duration = self.times.iter().sum::<Duration>() / n;
        let first = self.times.first().copied().unwrap_or_default();
        let later: Vec<_> = self.times.iter().skip(NODES * WORKERS_PER_NODE).collect();
        let later_mean = if later.is_empty() {
            Duration::ZERO
        } else {
            later.iter().copied().sum::<Duration>() / later.len() as u32
        };
        let per_node: Vec<String> = self
            .bytes
            .iter()
            .map(|(node, b)| format!("node {node}: {:.2} MB", *b as f64 / 1e6))
            .collect();
        println!("{label}");
        println!("  bytes sent:       {}", per_node.join(", "));
        println!(
            "  time per request: mean {:.2} ms (first {:.2} ms, after the first round {:.2} ms)",
            ms(mean),
            ms(first),
            ms(later_mean)
        );
        let ready: Duration = self.ready.iter().sum::<Duration>() / n;
        println!(
            "  of which making the table readable: mean {:.2} ms",
            ms(ready)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn drive(c: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let (node, node_task) = Actor::spawn(None, node_server(port, "driver"), ()).await?;
    let fetch = permafrost_cluster::start().await?;

    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for i in 1..=NODES {
        let name = format!("node-{i}");
        let mut cmd = Command::new(&exe);
        cmd.args(["--node", &name, "--driver", &port.to_string()]);
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        children.push(NodeProcess { name, child });
    }

    // Wait for every remote worker to appear in the group.
    let want = NODES * WORKERS_PER_NODE;
    let t0 = Instant::now();
    let workers = loop {
        let w: Vec<ActorRef<WorkerMsg>> = ractor::pg::get_members(&"workers".to_string())
            .into_iter()
            .filter(|c| !c.get_id().is_local())
            .map(ActorRef::from)
            .collect();
        if w.len() == want {
            break w;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!("only {} of {want} workers joined", w.len()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "{} nodes (separate processes on 127.0.0.1), {} workers each",
        NODES + 1,
        WORKERS_PER_NODE
    );

    let rows = c.rows;
    let t = Instant::now();
    let (graph, expected) = tokio::task::spawn_blocking(move || {
        let (t, expected) = table(rows);
        (Graph::publish(&t.share().unwrap()).unwrap(), expected)
    })
    .await?;
    println!(
        "a table of {rows} rows ({} objects), pickled once to {:.2} MB, published in {:.0} ms",
        rows * 2,
        graph.pickled_len() as f64 / 1e6,
        ms(t.elapsed())
    );

    let mut once = Tally::default();
    let mut every = Tally::default();
    let mut agree = true;
    for _round in 0..c.rounds {
        for w in &workers {
            let t = Instant::now();
            let r = ractor::call!(w, WorkerMsg::Sum, graph.to(w))?;
            once.times.push(t.elapsed());
            once.ready.push(Duration::from_micros(r[1]));
            agree &= r[0] == expected as u64;
        }
    }
    for (n, traffic) in permafrost_cluster::stats().sent {
        once.bytes.insert(n, traffic.bytes);
    }
    for _round in 0..c.rounds {
        for w in &workers {
            let t = Instant::now();
            let g = graph.clone();
            let bytes = tokio::task::spawn_blocking(move || pickle(&g.value())).await??;
            *every.bytes.entry(w.get_id().node()).or_default() += bytes.len() as u64;
            let r = ractor::call!(w, WorkerMsg::SumPickled, bytes)?;
            every.times.push(t.elapsed());
            every.ready.push(Duration::from_micros(r[1]));
            agree &= r[0] == expected as u64;
        }
    }
    println!(
        "{} rounds x {} workers = {} requests per mode",
        c.rounds,
        want,
        c.rounds * want
    );
    once.line("sent once per node (Graph::to: bytes the first time, then the id):");
    let served = permafrost_cluster::stats().bytes_served;
    if served > 0 {
        println!(
            "  plus {:.2} MB answering fetches (a node's cache had let go)",
            served as f64 / 1e6
        );
    }
    every.line("pickle every time (pickle, send, unpickle per request):");
    if !agree {
        return Err("a worker's sum differs from the driver's".into());
    }
    println!("all workers agree: sum = {expected}");

    // Close the nodes' stdin: they stop their actors and report.
    for mut ch in children {
        drop(ch.child.stdin.take());
        let mut out = String::new();
        if let Some(so) = ch.child.stdout.take() {
            for line in BufReader::new(so).lines().map_while(Result::ok) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        let status = ch.child.wait()?;
        if !status.success() {
            return Err(format!("{} exited with {status}", ch.name).into());
        }
        print!("{out}");
    }
    drop(graph);
    drop(workers);
    fetch.stop().await;
    node.stop(None);
    node_task.await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(i) = args.iter().position(|a| a == "--node") {
        let name = args.get(i + 1).cloned().unwrap_or_default();
        let driver: u16 = args
            .iter()
            .position(|a| a == "--driver")
            .and_then(|j| args.get(j + 1))
            .and_then(|p| p.parse().ok())
            .ok_or("--node needs --driver PORT")?;
        rt.block_on(run_node(&name, driver))?;
        rt.shutdown_timeout(Duration::from_secs(5));
        collect();
        println!(
            "{name}: live objects heap={} frozen={}",
            heap_live(),
            frozen_live()
        );
        std::io::stdout().flush()?;
        return Ok(());
    }
    let c = config();
    rt.block_on(drive(&c))?;
    rt.shutdown_timeout(Duration::from_secs(5));
    collect();
    println!(
        "driver: live objects heap={} frozen={}",
        heap_live(),
        frozen_live()
    );
    Ok(())
}
