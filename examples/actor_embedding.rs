//! Frozen graphs passed between the actors of a real actor framework
//! ([ractor] on tokio), with the pickle path beside it, in one program.
//!
//! The actors:
//!
//! * `Store` keeps the current catalogue, a frozen dict `title -> Book`,
//!   as its state (a [`Frozen`] is `Send + Sync`, so it can sit in actor
//!   state). `Get` replies with the catalogue: an O(1) handle, whatever its
//!   size. `Replace` installs a new version.
//! * `Analyst`s count the books published after 2000. `Analyze` brings a
//!   frozen catalogue (O(1)); `AnalyzePickled` brings pickle bytes, which
//!   the analyst must rebuild into a heap first (on tokio's blocking pool,
//!   since that is real CPU work).
//! * `Editor` keeps *mutable* state: a draft list of new books. A mutable
//!   [`Value`] is `!Send`, so it cannot live in actor state (tokio may move
//!   the actor to another thread between messages). The editor keeps the
//!   draft as pickle bytes instead, and rebuilds it, changes it and pickles
//!   it again inside one handler, never holding a `Value` across `.await`.
//!   `Publish` merges the draft into the store's catalogue, freezes the
//!   result and hands it to the store.
//!
//! [ractor]: https://docs.rs/ractor
//!
//! ```text
//! cargo run --release --example actor_embedding
//! cargo run --release --example actor_embedding -- --books 200000 --analysts 4
//! cargo run --release --example actor_embedding -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use permafrost::{freeze, pickle, register_class, unpickle, Error, Frozen, Value};
use ractor::{call, cast, Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

// ---------------------------------------------------------------------------
// The data: a catalogue of books.

/// Books published after this year count as recent.
const RECENT: i64 = 2000;

/// The `Book` class, frozen and registered by name, so that any thread can
/// share `Book`s and rebuild pickled ones.
fn book_class() -> Value {
    let book = Value::class("Book", vec![], vec![]).unwrap();
    freeze(&[&book]).unwrap();
    register_class("Book", &book).unwrap();
    book
}

fn book(class: &Value, title: &str, year: i64) -> Value {
    let tags = Value::tuple(vec![Value::from("fiction"), Value::from(year % 7)]);
    class
        .instantiate(vec![
            ("title", title.into()),
            ("year", year.into()),
            ("tags", tags),
        ])
        .unwrap()
}

/// A frozen catalogue of `n` books.
fn make_catalogue(class: &Value, n: usize) -> Frozen {
    let cat = Value::dict();
    for i in 0..n {
        let title = format!("book-{i:07}");
        let year = 1950 + (i as i64 * 37) % 75;
        cat.set_item(Value::from(title.as_str()), book(class, &title, year))
            .unwrap();
    }
    freeze(&[&cat]).unwrap();
    cat.share().unwrap()
}

/// Counts the recent books of a catalogue (a dict of books).
fn count_recent(cat: &Value) -> Result<u64, Error> {
    let mut n = 0;
    for (_, b) in cat.items()? {
        n += (b.getattr("year")?.as_int().unwrap_or(0) > RECENT) as u64;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------
// Message types are local-only.
// The package's dev-dependencies include ractor_cluster (for
// examples/cluster.rs), which turns on ractor's `cluster` feature and with
// it turns off ractor's blanket `Message` impl: local-only message types say
// so themselves.
impl ractor::Message for StoreMsg {}
impl ractor::Message for AnalystMsg {}
impl ractor::Message for EditorMsg {}

// ---------------------------------------------------------------------------
// Store: holds the current frozen catalogue.

struct Store;

enum StoreMsg {
    /// Reply with the current catalogue (O(1): one atomic increment).
    Get(RpcReplyPort<Frozen>),
    /// Install a new catalogue.
    Replace(Frozen),
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = Frozen;
    type Arguments = Frozen;

    async fn pre_start(
        &self,
        _me: ActorRef<StoreMsg>,
        initial: Frozen,
    ) -> Result<Frozen, ActorProcessingErr> {
        Ok(initial)
    }

    async fn handle(
        &self,
        _me: ActorRef<StoreMsg>,
        msg: StoreMsg,
        current: &mut Frozen,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Get(reply) => {
                let _ = reply.send(current.clone());
            }
            StoreMsg::Replace(next) => {
                let old = std::mem::replace(current, next);
                // If this was the last reference, dropping it frees the
                // whole old graph: keep that off the async threads too.
                tokio::task::spawn_blocking(move || drop(old));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Analyst: reads catalogues, shared or pickled.

struct Analyst;

/// An analyst's answer: the count, and how long turning the message into a
/// `Value` took (O(1) when shared; a full rebuild when pickled).
type Answer = (u64, Duration);

enum AnalystMsg {
    /// A frozen catalogue, by reference.
    Analyze(Frozen, RpcReplyPort<Answer>),
    /// A pickled catalogue: immutable bytes, cheap to hand to many actors.
    AnalyzePickled(Arc<[u8]>, RpcReplyPort<Answer>),
}

impl Actor for Analyst {
    type Msg = AnalystMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<AnalystMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<AnalystMsg>,
        msg: AnalystMsg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AnalystMsg::Analyze(frozen, reply) => {
                // No `.await` while `cat` lives: the `Value` is made, used
                // and dropped on this thread, within this call.
                let t = Instant::now();
                let cat = frozen.value(); // O(1): the same objects
                let materialise = t.elapsed();
                let n = count_recent(&cat)?;
                drop(cat);
                let _ = reply.send((n, materialise));
            }
            AnalystMsg::AnalyzePickled(bytes, reply) => {
                // Rebuilding a large pickle is CPU-bound work: do it on
                // tokio's blocking pool, not on an async worker thread. The
                // closure takes bytes in and gives plain data out; the
                // `Value`s live and die inside it.
                let answer = tokio::task::spawn_blocking(move || -> Result<Answer, Error> {
                    let t = Instant::now();
                    let cat = unpickle(&bytes)?; // a mutable copy, in this thread's heap
                    let materialise = t.elapsed();
                    Ok((count_recent(&cat)?, materialise))
                })
                .await??;
                let _ = reply.send(answer);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Editor: mutable state kept as pickle bytes.

struct Editor {
    store: ActorRef<StoreMsg>,
}

enum EditorMsg {
    /// Add a book to the draft.
    Add { title: String, year: i64 },
    /// Merge the draft into the store's catalogue; reply with the new size.
    Publish(RpcReplyPort<usize>),
}

impl Actor for Editor {
    type Msg = EditorMsg;
    /// The draft (a mutable list of books), pickled.
    type State = Vec<u8>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _me: ActorRef<EditorMsg>,
        _: (),
    ) -> Result<Vec<u8>, ActorProcessingErr> {
        Ok(pickle(&Value::list(vec![]))?)
    }

    async fn handle(
        &self,
        _me: ActorRef<EditorMsg>,
        msg: EditorMsg,
        draft: &mut Vec<u8>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            EditorMsg::Add { title, year } => {
                // Rebuild, change, pickle again: all without an await.
                let list = unpickle(draft)?;
                let class = permafrost::lookup_class("Book").ok_or("Book is not registered")?;
                list.append(book(&class, &title, year))?;
                *draft = pickle(&list)?;
            }
            EditorMsg::Publish(reply) => {
                // An await with no Value alive: fetch the current catalogue.
                let base: Frozen = call!(self.store, StoreMsg::Get)?;
                // Then, synchronously: merge, freeze, share.
                let next = {
                    let base = base.value();
                    let merged = Value::dict();
                    for (k, v) in base.items()? {
                        merged.set_item(k, v)?; // frozen books, by reference
                    }
                    for b in unpickle(draft)?.to_vec()? {
                        merged.set_item(b.getattr("title")?, b)?;
                    }
                    freeze(&[&merged])?; // the walk stops at the frozen books
                    merged.share()?
                };
                let size = next.value().len()?;
                cast!(self.store, StoreMsg::Replace(next))?;
                *draft = pickle(&Value::list(vec![]))?;
                let _ = reply.send(size);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------

struct Config {
    books: usize,
    analysts: usize,
    rounds: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        books: num("--books").unwrap_or(if small { 2_000 } else { 50_000 }),
        analysts: num("--analysts").unwrap_or(4).max(1),
        rounds: num("--rounds").unwrap_or(3).max(1),
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let c = config();
    println!(
        "actor_embedding (ractor on tokio): {} books, {} analysts, {} rounds",
        c.books, c.analysts, c.rounds
    );

    // Build and freeze the catalogue in a block: the mutable `Value`s it
    // uses are gone before the first `.await`, and only `Frozen` remains.
    let (catalogue, expected) = {
        let class = book_class();
        let cat = make_catalogue(&class, c.books);
        let expected = count_recent(&cat.value())?;
        (cat, expected)
    };

    let (store, store_handle) = Actor::spawn(None, Store, catalogue).await?;
    let mut analysts = Vec::new();
    for _ in 0..c.analysts {
        analysts.push(Actor::spawn(None, Analyst, ()).await?);
    }

    // --- Shared: every analyst gets the store's catalogue by reference. ---
    let (mut shared_rt, mut shared_mat) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..c.rounds {
        for (a, _) in &analysts {
            let t = Instant::now();
            let cat: Frozen = call!(store, StoreMsg::Get)?;
            let (n, mat) = call!(a, AnalystMsg::Analyze, cat)?;
            shared_rt += t.elapsed();
            shared_mat += mat;
            assert_eq!(n, expected);
        }
    }

    // --- Pickled: the same catalogue as bytes; each analyst rebuilds it. ---
    let t = Instant::now();
    let bytes: Arc<[u8]> = {
        let cat: Frozen = call!(store, StoreMsg::Get)?;
        let v = cat.value();
        Arc::from(pickle(&v)?)
    };
    let pickle_time = t.elapsed();
    let (mut pickled_rt, mut pickled_mat) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..c.rounds {
        for (a, _) in &analysts {
            let t = Instant::now();
            let (n, mat) = call!(a, AnalystMsg::AnalyzePickled, bytes.clone())?;
            pickled_rt += t.elapsed();
            pickled_mat += mat;
            assert_eq!(n, expected);
        }
    }

    let msgs = (c.rounds * c.analysts) as u32;
    println!(
        "shared:  {:>10.1} us per request (receiving the catalogue: {:.2} us)",
        micros(shared_rt / msgs),
        micros(shared_mat / msgs)
    );
    println!(
        "pickled: {:>10.1} us per request (receiving the catalogue: {:.1} us; pickling it once: {:.1} ms, {:.1} MB)",
        micros(pickled_rt / msgs),
        micros(pickled_mat / msgs),
        pickle_time.as_secs_f64() * 1e3,
        bytes.len() as f64 / 1e6
    );
    println!(
        "receiving by reference is {:.0}x cheaper than rebuilding the pickle; every analyst counted {} recent books",
        pickled_mat.as_secs_f64() / shared_mat.as_secs_f64().max(1e-9),
        expected
    );

    // --- Mutable state through the pickle path: the editor's draft. ---
    let (editor, editor_handle) = Actor::spawn(
        None,
        Editor {
            store: store.clone(),
        },
        (),
    )
    .await?;
    for (i, year) in [2024, 2025, 1999].into_iter().enumerate() {
        let title = format!("new-book-{i}");
        cast!(editor, EditorMsg::Add { title, year })?;
    }
    let size = call!(editor, EditorMsg::Publish)?;
    assert_eq!(size, c.books + 3);
    // The analysts see the new version (two more recent books).
    let cat: Frozen = call!(store, StoreMsg::Get)?;
    let (n, _) = call!(analysts[0].0, AnalystMsg::Analyze, cat)?;
    assert_eq!(n, expected + 2);
    println!(
        "editor published 3 drafted books: catalogue now {size} books, {n} recent (was {expected})"
    );

    editor.stop(None);
    editor_handle.await?;
    for (a, h) in analysts {
        a.stop(None);
        h.await?;
    }
    store.stop(None);
    store_handle.await?;
    println!("all actors stopped");
    Ok(())
}
