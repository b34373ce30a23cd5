//! Thread teardown: what a thread's heap still holds when the thread ends.
//! (Its own test binary: it asserts the process-wide frozen count.)

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;

#[test]
fn cyclic_garbage_left_at_thread_exit_is_freed() {
    let fbase = frozen_live();
    std::thread::spawn(move || {
        // Dropped cycles, never collected: the heap's teardown frees them
        // (valgrind reported them lost before). The strings inside are
        // frozen objects, so the process-wide count shows it.
        for i in 0..10 {
            let a = Value::list(vec![Value::str(&format!("cycle {i} with a long string"))]);
            let b = Value::dict();
            b.set_item("a".into(), a.clone()).unwrap();
            a.append(b).unwrap();
        }
        assert_eq!(heap_live(), 20);
        assert_eq!(frozen_live(), fbase + 20); // the strings and the "a" keys
    })
    .join()
    .unwrap();
    assert_eq!(frozen_live(), fbase);
}
