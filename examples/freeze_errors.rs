//! What a user sees when things go wrong, and how to put them right.
//!
//! 1. A freeze that fails: the error names the culprit's type, the path
//!    from the root to it, and why it cannot be frozen; nothing was frozen
//!    (all-or-nothing, PEP 795).
//! 2. A class that was not frozen (classes are `Explicit`), fixed by
//!    freezing it with the instance or marking it freezable.
//! 3. A pre-freeze hook that refuses.
//! 4. Writing to a frozen object: refused, nothing changed.
//! 5. Sending a mutable object by reference: refused, and the value is
//!    handed back intact, to be frozen or pickled instead.
//! 6. A pickled instance whose class the receiver does not know.
//!
//! ```text
//! cargo run --release --example freeze_errors
//! ```
//!
//! (It has nothing to scale: `--small` and `PERMAFROST_SMALL` are accepted
//! and change nothing.)

use permafrost::{
    freezable, freeze, is_frozen, set_freezable, set_pre_freeze_hook, unbounded, Error,
    Freezability, FreezeReason, Message, Mode, RecvError, SendError, Value,
};

fn section(title: &str) {
    println!("\n== {title}");
}

fn main() {
    // ------------------------------------------------------------------
    section("1. a freeze that fails names the path to the culprit");
    // An app: a list of handlers, each a dict; one holds a socket, whose
    // class derives from NotFreezable (a live OS resource cannot be shared).
    let not_freezable = Value::not_freezable_class();
    let socket_class = Value::class("Socket", vec![not_freezable], vec![]).unwrap();
    let app_class = Value::class("App", vec![], vec![]).unwrap();
    let socket = socket_class.instantiate(vec![("fd", 7.into())]).unwrap();
    let handlers = Value::list(vec![
        Value::dict_from(vec![("name".into(), "index".into())]).unwrap(),
        Value::dict_from(vec![
            ("name".into(), "upload".into()),
            ("conn".into(), socket.clone()),
        ])
        .unwrap(),
    ]);
    let app = app_class
        .instantiate(vec![("handlers", handlers.clone())])
        .unwrap();

    let err = freeze(&[&app, &app_class]).unwrap_err();
    println!("freeze(app, App) -> Err: {err}");
    println!("  type_name = {:?}", err.type_name);
    println!("  path      = {:?}", err.path);
    println!("  reason    = {:?}", err.reason);
    assert_eq!(err.reason, FreezeReason::NotFreezable);
    // All-or-nothing: nothing was frozen, everything still works.
    assert!(!is_frozen(&app) && !is_frozen(&handlers) && !is_frozen(&app_class));
    handlers.append(Value::None).unwrap();
    handlers.pop(None).unwrap();
    println!(
        "  afterwards: app frozen? {}, handlers still mutable? yes",
        is_frozen(&app)
    );

    // The same with an object whose own status is No.
    let cache = Value::dict();
    set_freezable(&cache, Freezability::No).unwrap();
    app.setattr("cache", cache.clone()).unwrap();
    handlers.get(1).unwrap().del_item(&"conn".into()).unwrap();
    let err = freeze(&[&app, &app_class]).unwrap_err();
    println!("with the socket gone, a cache marked No: {err}");
    assert_eq!(err.reason, FreezeReason::StatusNo);

    // Fix: cut the link (or give the cache a pre-freeze hook that
    // replaces it with something freezable), then freeze.
    app.delattr("cache").unwrap();
    freeze(&[&app, &app_class]).unwrap();
    println!("after removing the cache: freeze(app, App) -> Ok");

    // ------------------------------------------------------------------
    section("2. classes are Explicit: freeze them directly");
    let point = Value::class("Point", vec![], vec![]).unwrap();
    let p = point.instantiate(vec![("x", 1.into())]).unwrap();
    let err = freeze(&[&p]).unwrap_err();
    println!("freeze(p) -> Err: {err}");
    assert_eq!(err.reason, FreezeReason::Explicit);
    // Either freeze the class with the instance, or mark it freezable
    // (PEP 795's @freezable) so freezing may reach it implicitly.
    freezable(&point).unwrap();
    freeze(&[&p]).unwrap();
    println!(
        "after freezable(Point): freeze(p) -> Ok; Point frozen too? {}",
        is_frozen(&point)
    );

    // ------------------------------------------------------------------
    section("3. a pre-freeze hook can refuse");
    let session = Value::dict_from(vec![("user".into(), "ada".into())]).unwrap();
    set_pre_freeze_hook(&session, |d| {
        if d.get_str("token")?.is_none() {
            return Err(Error::Other(
                "a session must be signed before it is frozen".into(),
            ));
        }
        Ok(())
    })
    .unwrap();
    let holder = Value::list(vec![session.clone()]);
    let err = freeze(&[&holder]).unwrap_err();
    println!("freeze([session]) -> Err: {err}");
    assert!(matches!(err.reason, FreezeReason::Hook(_)));
    assert!(!is_frozen(&holder) && !is_frozen(&session));

    // ------------------------------------------------------------------
    section("4. writing to a frozen object is refused");
    let scores = Value::list(vec![1.into(), 2.into(), 3.into()]);
    let table = Value::dict_from(vec![("scores".into(), scores.clone())]).unwrap();
    freeze(&[&table]).unwrap();
    // `scores` is an alias into the frozen graph: it sees the change.
    for (what, result) in [
        ("scores.append(4)", scores.append(4.into())),
        ("scores[0] = 9", scores.set(0, 9.into())),
        ("table['new'] = 1", table.set_item("new".into(), 1.into())),
        ("scores.clear()", scores.clear()),
    ] {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::Immutable(_)));
        println!("{what:<18} -> Err: {e}");
    }
    let e = p.setattr("x", 5.into()).unwrap_err();
    println!("{:<18} -> Err: {e}", "p.x = 5");
    assert_eq!(format!("{scores:?}"), "[1, 2, 3]");
    println!("scores is still {scores:?}");

    // ------------------------------------------------------------------
    section("5. sending a mutable object by reference is refused");
    let (tx, rx) = unbounded();
    let draft = Value::list(vec!["unfinished".into()]);
    let err = tx.send(draft.clone(), Mode::Share).unwrap_err();
    println!("send(draft, Share) -> Err: {err}");
    assert!(matches!(err, SendError::NotFrozen(_)));
    // The very same value comes back, unchanged and still mutable.
    let back = err.into_inner();
    assert!(back.is(&draft));
    back.append("still mine".into()).unwrap();
    println!("handed back: {back:?} (same object: {})", back.is(&draft));
    // Two ways forward: send a copy, or freeze and share.
    tx.send(back.clone(), Mode::Pickle).unwrap();
    println!(
        "send(draft, Pickle) -> Ok; received {:?}",
        rx.recv().unwrap()
    );
    freeze(&[&back]).unwrap();
    tx.send(back, Mode::Share).unwrap();
    println!(
        "freeze + send(draft, Share) -> Ok; received {:?}",
        rx.recv().unwrap()
    );
    // Lower level: Value::share refuses the same way.
    let e = Value::dict().share().unwrap_err();
    println!("Value::dict().share() -> Err: {e}");

    // ------------------------------------------------------------------
    section("6. a pickled instance needs its class registered by name");
    let secret = Value::class("Unregistered", vec![], vec![]).unwrap();
    freeze(&[&secret]).unwrap(); // frozen, but never register_class'ed
    let obj = secret.instantiate(vec![]).unwrap();
    let msg = Message::pickle(&obj).unwrap();
    tx.send_message(msg).unwrap();
    match std::thread::scope(|s| s.spawn(|| rx.recv().map(|_| ())).join().unwrap()) {
        Err(RecvError::Decode(e)) => println!("recv on another thread -> Err: {e}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    println!("\nfreeze_errors: all six cases behaved as shown");
}
