//! Finding 9 of issue 10: names read from untrusted bytes are interned for
//! good, so an unpickled stream may only mint new names from a bounded
//! process-wide budget. (Its own test binary: the budget is per process.)

use permafrost_freeze::diag::heap_live;
use permafrost_freeze::*;

#[test]
fn f9_unpickled_names_are_minted_from_a_bounded_budget() {
    let cls = Value::class("BudgetNode", vec![], vec![]).unwrap();
    freeze(&[&cls]).unwrap();
    register_class("BudgetNode", &cls).unwrap();
    let obj = cls.instantiate(vec![("zzzzzzzz", 1.into())]).unwrap();
    let bytes = pickle(&obj).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"zzzzzzzz")
        .expect("the name is in the stream");
    let with_name = |i: usize| {
        let mut b = bytes.clone();
        b[at..at + 8].copy_from_slice(format!("{i:08x}").as_bytes());
        b
    };
    let base = heap_live();
    let mut ok = 0usize;
    let mut refused = 0usize;
    for i in 0..UNTRUSTED_NAME_BUDGET + 100 {
        match unpickle(&with_name(i)) {
            Ok(v) => {
                assert_eq!(v.getattr(&format!("{i:08x}")).unwrap().as_int(), Some(1));
                ok += 1;
            }
            Err(e) => {
                assert!(e.to_string().contains("too many distinct names"), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!(ok, UNTRUSTED_NAME_BUDGET);
    assert_eq!(refused, 100);
    // Names already known cost nothing: earlier streams still load, and so
    // do names the program interned itself.
    assert!(unpickle(&with_name(7)).is_ok());
    assert!(unpickle(&bytes).is_ok());
    // Refused streams left nothing behind.
    assert_eq!(heap_live(), base);
}
