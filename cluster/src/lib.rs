//! Frozen permafrost graphs as fields of [`ractor_cluster`] messages.
//!
//! Inside one process a frozen graph is passed by reference (a
//! [`Frozen`](permafrost_freeze::Frozen) is `Send + Sync`). Between nodes
//! of a ractor cluster it has to be bytes; this crate makes that cheap:
//!
//! * **Pickled once.** [`Graph::publish`] pickles a frozen graph and hashes
//!   the bytes once; the [`Graph`] keeps both, keyed by the root's
//!   identity, so publishing the same graph again, from any actor, is a
//!   lookup.
//! * **Sent once per node.** [`Graph::to`] makes the message field
//!   ([`Remote`]). The first time a graph goes to a node the field carries
//!   the pickled bytes; after that, only the 32-byte content id.
//! * **Frozen once on arrival, shared by reference.** [`Remote::resolve`]
//!   verifies the bytes against the id, unpickles and freezes them once on
//!   tokio's blocking pool and caches the [`Graph`] node-wide; every later
//!   arrival of that id, for any actor of the node, gets the very same
//!   frozen objects.
//! * **The cache drops what no one holds.** It keeps weak handles: when the
//!   last [`Graph`] on a node is dropped, the graph is freed. An id that
//!   then arrives (or arrives at a restarted node) misses, and `resolve`
//!   fetches the bytes from the sender's [fetch server](start) by itself.
//! * **Bad bytes are that message's error.** A corrupt, truncated or
//!   tampered frame resolves to a [`ClusterError`]; nothing panics, nothing
//!   leaks, the node and its other actors go on.
//!
//! The content id is the SHA-256 of the pickled bytes (see `docs/embedding.md`
//! for why it is the bytes and not a walk of the graph).
//!
//! # Example
//!
//! A worker actor whose messages carry a graph, and a sender on another
//! node. Every node starts a ractor_cluster `NodeServer` and this crate's
//! fetch server; `examples/cluster.rs` in the repository runs this across
//! three processes.
//!
//! ```no_run
//! use permafrost_cluster::{start, Graph, Remote};
//! use permafrost_freeze::Value;
//! use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
//! use ractor_cluster::RactorClusterMessage;
//!
//! #[derive(RactorClusterMessage)]
//! enum WorkerMsg {
//!     #[rpc]
//!     Sum(Remote, RpcReplyPort<i64>),
//! }
//!
//! struct Worker;
//!
//! impl Actor for Worker {
//!     type Msg = WorkerMsg;
//!     type State = ();
//!     type Arguments = ();
//!     async fn pre_start(&self, me: ActorRef<WorkerMsg>, _: ()) -> Result<(), ActorProcessingErr> {
//!         ractor::pg::join("workers".into(), vec![me.get_cell()]);
//!         Ok(())
//!     }
//!     async fn handle(&self, _: ActorRef<WorkerMsg>, msg: WorkerMsg, _: &mut ())
//!         -> Result<(), ActorProcessingErr> {
//!         let WorkerMsg::Sum(data, reply) = msg;
//!         // Bytes or id, cached or fetched: resolve sorts it out.
//!         let graph = data.resolve().await?;
//!         let sum = {
//!             let v = graph.value(); // no await while a Value is alive
//!             v.to_vec()?.iter().filter_map(Value::as_int).sum()
//!         };
//!         let _ = reply.send(sum);
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // On every node: the cluster's node server, then the fetch server.
//! let node = ractor_cluster::NodeServer::new(
//!     4697, "cookie".into(), "node-a".into(), "127.0.0.1".into(), None, None,
//! )
//! .with_max_inbound_frame_size(permafrost_cluster::MAX_FRAME);
//! let (node, _) = Actor::spawn(None, node, ()).await?;
//! let fetch = start().await?;
//!
//! // On the sending node, once connected (ractor_cluster::client_connect):
//! let data = Value::list((1..=1000).map(Value::Int).collect());
//! let graph = Graph::publish_value(&data)?; // freeze, pickle, hash: once
//! drop(data);
//! for cell in ractor::pg::get_members(&"workers".to_string()) {
//!     let worker: ActorRef<WorkerMsg> = cell.into();
//!     // Bytes to each node the first time, the id after that.
//!     let sum = ractor::call!(worker, WorkerMsg::Sum, graph.to(&worker))?;
//!     assert_eq!(sum, 500_500);
//! }
//! fetch.stop().await;
//! node.stop(None);
//! # Ok(())
//! # }
//! ```
//!
//! # What to configure
//!
//! * ractor_cluster refuses inbound frames over 16 MiB by default; a large
//!   graph's pickle is bigger. Raise it on every node
//!   (`NodeServer::with_max_inbound_frame_size`, e.g. to [`MAX_FRAME`]).
//! * Classes travel by registered name, as with `unpickle`: register the
//!   same (frozen) classes on every node.
//! * Call [`start`] on every node before graphs flow.
#![forbid(unsafe_code)]

mod error;
mod graph;
mod server;
mod wire;

pub use error::ClusterError;
pub use graph::{stats, ContentId, Graph, Stats, Traffic};
pub use server::{start, FetchMsg, FetchServer};
pub use wire::{set_fetch_timeout, Remote};

/// The versions of ractor and ractor_cluster this crate is built on.
pub use {ractor, ractor_cluster};

/// ractor_cluster's node id: which connected node a remote actor is on.
/// Ids are per connection, so a node that reconnects gets a new one.
pub type NodeId = ractor_cluster::NodeId;

/// A suggested inbound frame limit for nodes that exchange large graphs
/// (1 GiB; ractor_cluster's default is 16 MiB).
pub const MAX_FRAME: u64 = 1 << 30;
