//! Real node processes on loopback.
//!
//! Each test starts its nodes by re-running this test binary with
//! `PFC_ROLE=node` (only `node_entry` then does anything), and drives them
//! over stdin/stdout: one command a line, answered by `PFC ...` lines and a
//! closing `PFC done`. Every read has a deadline, and a [`Node`] kills its
//! process when dropped, so a failing test leaves nothing running. Ports
//! come from binding port 0, so the tests can run in parallel.
//!
//! Wire bytes are counted by a byte-counting TCP proxy between the nodes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use permafrost_cluster::{start, Graph, Remote};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{collect, freeze, Value};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{BytesConvertable, NodeServer, RactorClusterMessage};

/// How long one command may take (generous: the machine is small and
/// shared).
const DEADLINE: Duration = Duration::from_secs(90);
const COOKIE: &str = "permafrost-test";
/// Objects in the bulk part of the test graph.
const BULK: i64 = 20_000;

// ---------------------------------------------------------------------------
// The test side.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind port 0")
        .port()
}

/// A node process, killed on drop.
struct Node {
    name: &'static str,
    port: u16,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Node {
    fn start(name: &'static str) -> Node {
        let port = free_port();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["node_entry", "--exact", "--nocapture", "--test-threads=1"])
            .env("PFC_ROLE", "node")
            .env("PFC_NAME", name)
            .env("PFC_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a node process");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest's "test node_entry ... " may start the first line.
                if let Some(at) = line.find("PFC ") {
                    if tx.send(line[at + 4..].to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        let mut node = Node {
            name,
            port,
            child,
            stdin,
            lines,
        };
        node.wait_for("ready");
        node
    }

    fn next(&mut self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("node {} said nothing for {DEADLINE:?}", self.name))
    }

    fn wait_for(&mut self, what: &str) -> Vec<String> {
        let mut said = Vec::new();
        loop {
            let line = self.next();
            if line == what {
                return said;
            }
            said.push(line);
        }
    }

    /// Sends a command; returns the lines before `PFC done`.
    fn cmd(&mut self, line: &str) -> Vec<String> {
        writeln!(self.stdin, "{line}").expect("write to the node");
        self.stdin.flush().unwrap();
        let said = self.wait_for("done");
        assert!(
            !said.iter().any(|l| l.starts_with("failed")),
            "{} {line}: {said:?}",
            self.name
        );
        said
    }

    /// Replies of remote workers in a `send`/`corrupt` answer.
    fn replies(&mut self, line: &str) -> Vec<String> {
        self.cmd(line)
            .into_iter()
            .filter_map(|l| l.strip_prefix("reply ").map(str::to_string))
            .collect()
    }

    /// Ends the node and returns its live object counts.
    fn quit(mut self) -> String {
        writeln!(self.stdin, "quit").unwrap();
        self.stdin.flush().unwrap();
        let live = loop {
            let l = self.next();
            if let Some(live) = l.strip_prefix("live ") {
                break live.to_string();
            }
        };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "node {} exited with {status}", self.name);
        live
    }

    fn assert_clean_exit(self) {
        let name = self.name;
        let live = self.quit();
        assert_eq!(live, "heap=0 frozen=0", "node {name} left objects alive");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Ends the process unless `quit` already did.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A byte-counting TCP proxy to `127.0.0.1:upstream`; `down` counts the
/// bytes from the upstream (the listening node) to the node that dialled.
struct Proxy {
    port: u16,
    down: Arc<AtomicU64>,
}

fn proxy(upstream: u16) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let down = Arc::new(AtomicU64::new(0));
    let up = Arc::new(AtomicU64::new(0));
    let counter = down.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            pipe(
                server.try_clone().unwrap(),
                client.try_clone().unwrap(),
                counter.clone(),
            );
            pipe(client, server, up.clone());
        }
    });
    Proxy { port, down }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, count: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
            count.fetch_add(n as u64, Ordering::Relaxed);
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

fn field<'a>(reply: &'a str, key: &str) -> &'a str {
    reply
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {reply:?}"))
}

/// The driver's pickled size of the test graph.
fn pickled_len(driver: &mut Node) -> u64 {
    let said = driver.cmd("publish");
    let line = said.iter().find(|l| l.starts_with("published")).unwrap();
    field(line, "bytes").parse().unwrap()
}

#[test]
fn a_graph_with_cycles_and_shared_parts_arrives_intact() {
    let mut a = Node::start("a");
    let mut b = Node::start("b");
    b.cmd(&format!("connect {}", a.port));
    a.cmd("await-peer");
    let replies = a.replies("send");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let r = &replies[0];
    assert_eq!(field(r, "intact"), "true", "{r}");
    assert_eq!(field(r, "carried"), "bytes", "{r}");
    assert_eq!(field(r, "source"), "decoded", "{r}");
    b.assert_clean_exit();
    a.assert_clean_exit();
}

#[test]
fn a_second_send_carries_only_the_id() {
    let mut a = Node::start("a");
    let mut b = Node::start("b");
    let wire = proxy(a.port);
    b.cmd(&format!("connect {}", wire.port));
    a.cmd("await-peer");
    let size = pickled_len(&mut a);

    let before = wire.down.load(Ordering::Relaxed);
    let first = a.replies("send");
    let first_wire = wire.down.load(Ordering::Relaxed) - before;
    assert_eq!(field(&first[0], "carried"), "bytes");

    let before = wire.down.load(Ordering::Relaxed);
    let second = a.replies("send");
    let second_wire = wire.down.load(Ordering::Relaxed) - before;
    assert_eq!(field(&second[0], "carried"), "id", "{second:?}");
    assert_eq!(field(&second[0], "source"), "cache", "{second:?}");
    assert_eq!(field(&second[0], "intact"), "true");

    // The first send moved the pickle; the second one a frame of ~100 bytes
    // in ractor_cluster's envelope.
    assert!(
        first_wire >= size,
        "first send: {first_wire} B on the wire, pickle {size} B"
    );
    assert!(
        second_wire < 1024,
        "second send: {second_wire} B on the wire"
    );
    b.assert_clean_exit();
    a.assert_clean_exit();
}

#[test]
fn an_evicted_or_restarted_node_gets_the_bytes_again() {
    let mut a = Node::start("a");
    let mut b = Node::start("b");
    b.cmd(&format!("connect {}", a.port));
    a.cmd("await-peer");
    assert_eq!(field(&a.replies("send")[0], "carried"), "bytes");

    // The worker lets go: the node-local cache drops the graph; the next
    // id-only send misses and fetches the bytes from the driver.
    a.replies("forget");
    let r = &a.replies("send")[0];
    assert_eq!(field(r, "carried"), "id", "{r}");
    assert_eq!(field(r, "source"), "fetched", "{r}");
    assert_eq!(field(r, "intact"), "true", "{r}");

    // A restarted node is a new connection: it gets the bytes again.
    b.assert_clean_exit();
    a.cmd("await-no-peer");
    let mut b2 = Node::start("b2");
    b2.cmd(&format!("connect {}", a.port));
    a.cmd("await-peer");
    let r = &a.replies("send")[0];
    assert_eq!(field(r, "intact"), "true", "{r}");
    assert_eq!(field(r, "carried"), "bytes", "{r}");
    assert_eq!(field(r, "source"), "decoded", "{r}");
    b2.assert_clean_exit();
    a.assert_clean_exit();
}

#[test]
fn a_corrupted_frame_is_rejected_and_the_next_message_works() {
    let mut a = Node::start("a");
    let mut b = Node::start("b");
    b.cmd(&format!("connect {}", a.port));
    a.cmd("await-peer");
    for kind in [
        "garbage",
        "truncated",
        "flipped",
        "bad-pickle",
        "unknown-id",
    ] {
        let r = &a.replies(&format!("corrupt {kind}"))[0];
        assert!(r.starts_with("error"), "{kind}: {r}");
        let good = &a.replies("send")[0];
        assert_eq!(field(good, "intact"), "true", "after {kind}: {good}");
        a.replies("forget");
    }
    let stats = b.cmd("stats").join(" ");
    assert!(stats.contains("rejected: 5"), "{stats}");
    b.assert_clean_exit();
    a.assert_clean_exit();
}

// ---------------------------------------------------------------------------
// The node side.

#[derive(RactorClusterMessage)]
enum WorkerMsg {
    /// Resolve, check the graph, keep it, and say how it came.
    #[rpc]
    Check(Remote, RpcReplyPort<String>),
    /// Drop the kept graph.
    #[rpc]
    Forget(RpcReplyPort<String>),
}

/// The same variants with raw bytes where `Remote` is: how a test puts
/// arbitrary bytes in the graph field on the wire.
mod raw {
    use super::*;
    #[derive(RactorClusterMessage)]
    pub enum WorkerMsg {
        #[rpc]
        Check(Vec<u8>, RpcReplyPort<String>),
    }
}

struct Worker;

impl Actor for Worker {
    type Msg = WorkerMsg;
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
            WorkerMsg::Check(remote, reply) => {
                let carried = if remote.is_id_only() { "id" } else { "bytes" };
                let before = permafrost_cluster::stats();
                let answer = match remote.resolve().await {
                    Ok(g) => {
                        let after = permafrost_cluster::stats();
                        let source = if after.fetches > before.fetches {
                            "fetched"
                        } else if after.decodes > before.decodes {
                            "decoded"
                        } else {
                            "cache"
                        };
                        let intact = check(&g.value());
                        *kept = Some(g);
                        format!("ok intact={intact} carried={carried} source={source}")
                    }
                    Err(e) => format!("error {e}"),
                };
                let _ = reply.send(answer);
            }
            WorkerMsg::Forget(reply) => {
                *kept = None;
                let cached = permafrost_cluster::stats().cached;
                let _ = reply.send(format!("forgot cached={cached}"));
            }
        }
        Ok(())
    }
}

/// The test graph: shared parts, a two-object cycle, a self-cycle and a
/// bulk list.
fn build() -> Value {
    let shared = Value::list(vec![
        Value::Int(1),
        Value::from("two"),
        Value::tuple(vec![Value::Float(3.0), Value::None]),
    ]);
    let a = Value::list(vec![shared.clone(), shared.clone()]);
    let d = Value::dict();
    d.set_item("a".into(), a.clone()).unwrap();
    d.set_item("shared".into(), shared).unwrap();
    a.append(d.clone()).unwrap();
    d.set_item("self".into(), d.clone()).unwrap();
    let bulk = (0..BULK)
        .map(|i| match i % 3 {
            0 => Value::Int(i),
            1 => Value::from(format!("s{i}").as_str()),
            _ => Value::tuple(vec![Value::Int(i)]),
        })
        .collect();
    d.set_item("bulk".into(), Value::list(bulk)).unwrap();
    freeze(&[&d]).unwrap();
    d
}

/// Each property of `build`'s graph (identity, sharing and cycles
/// included), checked on `d`; a missing part fails its property.
fn checks(d: &Value) -> Vec<bool> {
    let get = |k: &str| d.get_str(k).ok().flatten().unwrap_or(Value::None);
    let at = |v: &Value, i: i64| v.get(i).unwrap_or(Value::None);
    let (a, shared, bulk) = (get("a"), get("shared"), get("bulk"));
    vec![
        at(&a, 0).is(&shared) && at(&a, 1).is(&shared),
        at(&a, 2).is(d),
        get("self").is(d),
        at(&shared, 1).as_str() == Some("two"),
        at(&at(&shared, 2), 0).as_float() == Some(3.0),
        bulk.len().ok() == Some(BULK as usize),
        at(&bulk, BULK - 2).as_int() == Some(BULK - 2),
        at(&bulk, BULK - 1).as_str() == Some(&*format!("s{}", BULK - 1)),
        permafrost_freeze::is_frozen(d) && permafrost_freeze::is_frozen(&bulk),
    ]
}

fn check(d: &Value) -> bool {
    checks(d).into_iter().all(|ok| ok)
}

async fn remote_workers() -> Vec<ActorRef<WorkerMsg>> {
    ractor::pg::get_members(&"workers".to_string())
        .into_iter()
        .filter(|c| !c.get_id().is_local())
        .map(ActorRef::from)
        .collect()
}

async fn wait_peers(want_some: bool) -> Result<(), String> {
    for _ in 0..1000 {
        if remote_workers().await.is_empty() != want_some {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("peer presence never became {want_some}"))
}

/// A corrupt value for the graph field, of the given kind.
fn corrupt(kind: &str, good: &Graph) -> Vec<u8> {
    let frame = good.to_anyone().into_bytes();
    match kind {
        "garbage" => b"definitely not a frame".to_vec(),
        "truncated" => frame[..frame.len() / 2].to_vec(),
        "flipped" => {
            let mut f = frame;
            let at = f.len() - 10;
            f[at] ^= 0x55;
            f
        }
        // Bytes that hash right but are no pickle: the id is made to fit.
        "bad-pickle" => {
            let junk = b"PFPK\x02\xff\xff\xff\xff".to_vec();
            let g = permafrost_cluster::ContentId::of(&junk);
            let mut f = frame[..39].to_vec();
            f[6..38].copy_from_slice(&g.0);
            f.truncate(39);
            f[38] = 0;
            f.extend_from_slice(&junk);
            f
        }
        // An id no node has, from an origin that does not exist.
        _ => {
            let mut f = frame[..39].to_vec();
            f[5] = 2;
            f[6..38].copy_from_slice(&[0xab; 32]);
            f[38] = 4;
            f.extend_from_slice(b"nope");
            f
        }
    }
}

async fn node_main() -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let name = std::env::var("PFC_NAME").unwrap();
    let port: u16 = std::env::var("PFC_PORT").unwrap().parse().unwrap();
    let server = NodeServer::new(port, COOKIE.into(), name, "127.0.0.1".into(), None, None)
        .with_listen_addr([127, 0, 0, 1].into())
        .with_max_inbound_frame_size(permafrost_cluster::MAX_FRAME);
    let (node, node_task) = Actor::spawn(None, server, ()).await.map_err(|x| e(&x))?;
    let fetch = start().await.map_err(|x| e(&x))?;
    // The unknown-id case waits this long for a server that never comes.
    permafrost_cluster::set_fetch_timeout(Duration::from_secs(3));
    let (worker, worker_task) = Actor::spawn(None, Worker, ()).await.map_err(|x| e(&x))?;
    let mut held: Option<Graph> = None;
    println!("PFC ready");

    // stdin is read on a thread of its own: the runtime's one thread must
    // stay free to answer peers between commands.
    let mut stdin = BufReader::new(std::io::stdin()).lines();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Some(Ok(line)) = stdin.next() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let mut words = line.split_whitespace();
        let outcome: Result<(), String> = async {
            match words.next() {
                Some("connect") => {
                    let p: u16 = words.next().unwrap_or("0").parse().map_err(|x| e(&x))?;
                    ractor_cluster::client_connect(&node, ("127.0.0.1", p))
                        .await
                        .map_err(|x| format!("{x:?}"))?;
                    wait_peers(true).await
                }
                Some("await-peer") => wait_peers(true).await,
                Some("await-no-peer") => wait_peers(false).await,
                Some("publish") => {
                    let g = graph(&mut held)?;
                    println!("PFC published bytes={}", g.pickled_len());
                    Ok(())
                }
                Some("send") => {
                    let g = graph(&mut held)?;
                    for w in remote_workers().await {
                        let r = ractor::call!(w, WorkerMsg::Check, g.to(&w)).map_err(|x| e(&x))?;
                        println!("PFC reply {r}");
                    }
                    Ok(())
                }
                Some("forget") => {
                    for w in remote_workers().await {
                        let r = ractor::call!(w, WorkerMsg::Forget).map_err(|x| e(&x))?;
                        println!("PFC reply {r}");
                    }
                    Ok(())
                }
                Some("corrupt") => {
                    let g = graph(&mut held)?;
                    let bytes = corrupt(words.next().unwrap_or(""), &g);
                    for w in remote_workers().await {
                        let w: ActorRef<raw::WorkerMsg> = w.get_cell().into();
                        let r = ractor::call!(w, raw::WorkerMsg::Check, bytes.clone())
                            .map_err(|x| e(&x))?;
                        println!("PFC reply {r}");
                    }
                    Ok(())
                }
                Some("stats") => {
                    println!("PFC stats {:?}", permafrost_cluster::stats());
                    Ok(())
                }
                Some("quit") => Err("quit".into()),
                other => Err(format!("unknown command {other:?}")),
            }
        }
        .await;
        match outcome {
            Err(q) if q == "quit" => break,
            Err(why) => println!("PFC failed {why}"),
            Ok(()) => {}
        }
        println!("PFC done");
    }

    drop(held);
    worker.stop(None);
    let _ = worker_task.await;
    fetch.stop().await;
    node.stop(None);
    let _ = node_task.await;
    Ok(())
}

/// The node's test graph, published once.
fn graph(held: &mut Option<Graph>) -> Result<Graph, String> {
    if held.is_none() {
        let v = build();
        *held = Some(Graph::publish_value(&v).map_err(|e| e.to_string())?);
    }
    Ok(held.clone().unwrap())
}

/// The node process's body (a no-op in the ordinary test run).
#[test]
fn node_entry() {
    if std::env::var("PFC_ROLE").is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(node_main());
    // Let the runtime's tasks and blocking threads end before counting.
    rt.shutdown_timeout(Duration::from_secs(5));
    if let Err(e) = result {
        println!("PFC failed {e}");
    }
    collect();
    println!("PFC live heap={} frozen={}", heap_live(), frozen_live());
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

#[test]
fn the_check_accepts_the_graph_and_its_pickled_copy() {
    let d = build();
    for (i, ok) in checks(&d).into_iter().enumerate() {
        assert!(ok, "check {i}");
    }
    let g = Graph::publish_value(&d).unwrap();
    drop(d);
    let bytes = g.to_anyone().into_bytes();
    let back = Remote::from_bytes(bytes);
    assert!(back.carries_bytes());
    drop(g);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let g = rt.block_on(back.resolve()).unwrap();
    assert!(check(&g.value()));
}
