//! The fetch server: one actor per node that hands out the pickled bytes of
//! graphs in this node's cache, for receivers whose cache missed.
//!
//! It joins the process group `permafrost-cluster.fetch.<origin>`, which
//! ractor_cluster mirrors onto every connected node, so a receiver finds
//! the sender's server from the origin name in an id-only frame.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr};
use ractor_cluster::RactorClusterMessage;

use crate::graph::{cache, lookup, ContentId};
use crate::wire::fetch_timeout;
use crate::ClusterError;

/// This process's name in frames: unique per process run, so a restarted
/// node is a new origin and never answers for its past life.
pub(crate) fn origin() -> &'static str {
    static ORIGIN: OnceLock<String> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:x}-{:x}", std::process::id(), nanos as u64)
    })
}

fn group(origin: &str) -> String {
    format!("permafrost-cluster.fetch.{origin}")
}

/// The fetch server's messages (public only because ractor_cluster's
/// derive needs the type to be nameable; use [`start`]).
#[derive(RactorClusterMessage)]
pub enum FetchMsg {
    /// The pickled bytes of the graph with this content id, or nothing if
    /// this node no longer holds it.
    #[rpc]
    Fetch(Vec<u8>, RpcReplyPort<Vec<u8>>),
}

struct Server;

impl Actor for Server {
    type Msg = FetchMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, me: ActorRef<FetchMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        ractor::pg::join(group(origin()), vec![me.get_cell()]);
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<FetchMsg>,
        msg: FetchMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let FetchMsg::Fetch(id, reply) = msg;
        let bytes = <[u8; 32]>::try_from(id.as_slice())
            .ok()
            .and_then(|id| lookup(&ContentId(id)))
            .map(|g| {
                let c = &cache().counters;
                c.served.fetch_add(1, Relaxed);
                c.served_bytes.fetch_add(g.pickled_len() as u64, Relaxed);
                g.pickled().to_vec()
            })
            .unwrap_or_default();
        // The asker may have given up; that is its business.
        let _ = reply.send(bytes);
        Ok(())
    }
}

/// This node's fetch server. Stop it with [`FetchServer::stop`] before the
/// node shuts down (dropping it leaves the actor running).
#[derive(Debug)]
pub struct FetchServer {
    actor: ActorRef<FetchMsg>,
    handle: tokio::task::JoinHandle<()>,
}

impl FetchServer {
    /// The server actor.
    pub fn actor(&self) -> &ActorRef<FetchMsg> {
        &self.actor
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.actor.stop(None);
        let _ = self.handle.await;
    }
}

/// Starts this node's fetch server, which lets other nodes fetch the bytes
/// of graphs this node holds when their cache misses. Start one per node,
/// on every node that sends graphs (starting it on every node is simplest:
/// a receiver can forward what it got).
pub async fn start() -> Result<FetchServer, SpawnErr> {
    let (actor, handle) = Actor::spawn(None, Server, ()).await?;
    Ok(FetchServer { actor, handle })
}

/// Asks `origin`'s fetch server for the bytes of `id`.
pub(crate) async fn fetch(origin: &str, id: ContentId) -> Result<Vec<u8>, ClusterError> {
    let fail = |reason: String| ClusterError::Fetch { id, reason };
    let deadline = Instant::now() + fetch_timeout();
    let group = group(origin);
    loop {
        // Group membership reaches this node shortly after the session
        // comes up: wait for it rather than fail.
        if let Some(cell) = ractor::pg::get_members(&group).into_iter().next() {
            let server: ActorRef<FetchMsg> = cell.into();
            let left = deadline.saturating_duration_since(Instant::now());
            let got = server
                .call(|r| FetchMsg::Fetch(id.0.to_vec(), r), Some(left))
                .await
                .map_err(|e| fail(e.to_string()))?;
            return match got {
                ractor::rpc::CallResult::Success(b) if !b.is_empty() => Ok(b),
                ractor::rpc::CallResult::Success(_) => {
                    Err(fail("the sender no longer holds this graph".into()))
                }
                ractor::rpc::CallResult::Timeout => Err(fail("timed out".into())),
                ractor::rpc::CallResult::SenderError => {
                    Err(fail("the sender dropped the request".into()))
                }
            };
        }
        if Instant::now() >= deadline {
            return Err(fail(format!(
                "no fetch server for origin {origin} (node gone, or not connected)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
