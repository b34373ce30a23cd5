//! Channels: bounded and unbounded, blocking, try_, timeout, select over
//! several receivers, and decode errors that leave the channel usable.

use std::time::{Duration, Instant};

use permafrost_freeze::{freeze, Value};
use permafrost_runtime::{
    bounded, select, select_timeout, unbounded, Message, Mode, RecvError, RecvTimeoutError,
    Runtime, SelectTimeoutError, SendTimeoutError, TryRecvError, TrySendError,
};

const SHORT: Duration = Duration::from_millis(20);

#[test]
fn bounded_try_and_timeout() {
    let (tx, rx) = bounded(1);
    assert_eq!(tx.capacity(), Some(1));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    assert!(matches!(
        rx.recv_timeout(SHORT),
        Err(RecvTimeoutError::Timeout)
    ));

    tx.try_send(Message::new(Value::Int(1), Mode::Share).unwrap())
        .unwrap();
    assert_eq!(tx.len(), 1);
    match tx.try_send(Message::new(Value::Int(2), Mode::Share).unwrap()) {
        Err(TrySendError::Full(m)) => assert_eq!(m.into_value().unwrap().as_int(), Some(2)),
        other => panic!("expected Full, got {other:?}"),
    }
    let t = Instant::now();
    match tx.send_timeout(Message::new(Value::Int(3), Mode::Share).unwrap(), SHORT) {
        Err(SendTimeoutError::Timeout(m)) => assert_eq!(m.mode(), Mode::Share),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(t.elapsed() >= SHORT);

    assert_eq!(rx.try_recv().unwrap().as_int(), Some(1));
    assert!(rx.is_empty());
    drop(rx);
    match tx.try_send(Message::new(Value::Int(4), Mode::Share).unwrap()) {
        Err(TrySendError::Disconnected(m)) => {
            assert_eq!(m.into_value().unwrap().as_int(), Some(4))
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    match tx.send_timeout(Message::new(Value::Int(5), Mode::Share).unwrap(), SHORT) {
        Err(e @ SendTimeoutError::Disconnected(_)) => {
            assert_eq!(e.to_string(), "sending on a disconnected channel");
            assert_eq!(e.into_inner().into_value().unwrap().as_int(), Some(5));
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
}

#[test]
fn receivers_see_disconnection_after_draining() {
    let (tx, rx) = unbounded();
    assert_eq!(tx.capacity(), None);
    tx.send(Value::list(vec![Value::Int(1)]), Mode::Pickle)
        .unwrap();
    drop(tx);
    let v = rx.recv().unwrap();
    assert_eq!(v.len().unwrap(), 1);
    assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
    assert!(matches!(
        rx.recv_timeout(SHORT),
        Err(RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn rendezvous_between_workers() {
    let (tx, rx) = bounded(0);
    let rt = Runtime::new();
    let w = rt.spawn("producer", move |_ctx| {
        for i in 0..100 {
            let v = Value::list(vec![Value::Int(i)]);
            tx.send(v.clone(), Mode::Copy).unwrap();
        }
    });
    let mut total = 0;
    while let Ok(v) = rx.recv() {
        v.append(Value::None).unwrap(); // adopted here, mutable
        total += v.get(0).unwrap().as_int().unwrap();
    }
    assert_eq!(total, 4950);
    w.join().unwrap();
}

#[test]
fn select_fans_in_from_several_workers() {
    let rt = Runtime::new();
    let mut rxs = Vec::new();
    for (i, mode) in [Mode::Share, Mode::Pickle, Mode::Copy]
        .into_iter()
        .enumerate()
    {
        let (tx, rx) = bounded(4);
        rxs.push(rx);
        drop(rt.spawn(format!("fan{i}"), move |_ctx| {
            for k in 0..(100 * (i + 1)) {
                let v = Value::tuple(vec![Value::Int(i as i64), Value::Int(k as i64)]);
                if mode == Mode::Share {
                    freeze(&[&v]).unwrap();
                }
                tx.send(v.clone(), mode).unwrap();
            }
        }));
    }
    let mut counts = [0usize; 3];
    let mut live: Vec<(usize, _)> = rxs.into_iter().enumerate().collect();
    while !live.is_empty() {
        let refs: Vec<_> = live.iter().map(|(_, r)| r).collect();
        let (i, got) = select(&refs);
        match got {
            Ok(v) => {
                let from = v.get(0).unwrap().as_int().unwrap() as usize;
                assert_eq!(from, live[i].0);
                counts[from] += 1;
            }
            Err(RecvError::Disconnected) => {
                live.remove(i);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(counts, [100, 200, 300]);
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0);
    }
}

#[test]
fn select_with_timeouts_and_edge_cases() {
    let (_t1, r1) = unbounded();
    let (t2, r2) = unbounded();
    assert_eq!(
        select_timeout(&[&r1, &r2], SHORT).unwrap_err(),
        SelectTimeoutError
    );
    t2.send(Value::Int(7), Mode::Share).unwrap();
    let (i, v) = select_timeout(&[&r1, &r2], SHORT).unwrap();
    assert_eq!((i, v.unwrap().as_int()), (1, Some(7)));
    t2.send(Value::Int(8), Mode::Share).unwrap();
    let (i, v) = select(&[&r1, &r2]);
    assert_eq!((i, v.unwrap().as_int()), (1, Some(8)));
    // No receivers: nothing can ever arrive.
    assert!(matches!(select(&[]), (0, Err(RecvError::Disconnected))));
    drop(t2);
    assert!(matches!(
        select(&[&r1, &r2]),
        (1, Err(RecvError::Disconnected))
    ));
}

#[test]
fn a_bad_message_is_a_decode_error_and_the_channel_goes_on() {
    let (tx, rx) = unbounded();
    tx.send_message(Message::from_pickle_bytes(b"not a pickle"))
        .unwrap();
    tx.send_message(Message::from_pickle_bytes(b"")).unwrap();
    tx.send(Value::from("fine"), Mode::Pickle).unwrap();
    match rx.recv() {
        Err(RecvError::Decode(e)) => assert!(e.to_string().contains("corrupt"), "{e}"),
        other => panic!("expected Decode, got {other:?}"),
    }
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Decode(_))));
    assert_eq!(rx.recv().unwrap().as_str(), Some("fine"));
}

#[test]
fn senders_and_receivers_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<permafrost_runtime::Sender>();
    check::<permafrost_runtime::Receiver>();
    fn send<T: Send>() {}
    send::<Message>();
    send::<Runtime>();
    fn sync<T: Sync>() {}
    sync::<Runtime>();
}

#[test]
fn errors_chain_to_the_object_model_error_underneath() {
    use std::error::Error as _;
    let (tx, rx) = unbounded();
    // A weak reference cannot be copied: Encode, with the cause as source.
    let target = Value::list(vec![]);
    let weak = Value::weakref(&target).unwrap();
    let err = tx.send(weak.clone(), Mode::Copy).unwrap_err();
    let cause = err.source().expect("an encode error has a source");
    assert!(cause.to_string().contains("weakref"), "{cause}");
    assert!(err.into_inner().is(&weak), "the value comes back");
    // A refused move chains to the MoveError.
    let b = Value::list(vec![]);
    let alias = b.clone();
    let err = tx.send(b, Mode::Move).unwrap_err();
    assert!(err.source().unwrap().to_string().contains("cannot move"));
    drop((err, alias));
    // Sharing a mutable value has no cause beyond itself.
    assert!(tx
        .send(Value::list(vec![]), Mode::Share)
        .unwrap_err()
        .source()
        .is_none());
    // A decode error chains to the unpickling error.
    tx.send_message(Message::from_pickle_bytes(b"junk"))
        .unwrap();
    let err = rx.recv().unwrap_err();
    assert!(matches!(err, RecvError::Decode(_)));
    assert!(err.source().is_some());
}
