//! Audit of queue-limit wake-ups and kernel sends (issue 2 part 3), with every wait bounded so
//! that a broken rule fails instead of hanging. Each test ends with the no-leak assertion on its
//! own kernel.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, Name, Task};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn fill(t: &Task, p: Name) {
    for i in 0..5 {
        assert_eq!(try_send(t, p, MACH_MSG_TYPE_COPY_SEND, i), MACH_MSG_SUCCESS);
    }
}

fn wait_blocked_senders(t: &Task, p: Name, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.port_status(p).unwrap().blocked_senders < n {
        assert!(Instant::now() < deadline, "senders never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `mach-abi.md` §7: each receive that drops the count below the limit wakes one blocked
/// sender (a receive that dequeues a too-large message without `MACH_RCV_LARGE` included).
#[test]
fn a_receive_below_the_limit_wakes_a_blocked_sender() {
    for destroying_receive in [false, true] {
        let k = Kernel::new();
        let t = k.task_create("t", 1, 0, 0);
        let p = port_with_send(&t);
        fill(&t, p);
        let (tx, rx) = mpsc::channel();
        let sender = std::thread::spawn({
            let t = t.clone();
            move || {
                let _ = tx.send(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 99, &[]));
            }
        });
        wait_blocked_senders(&t, p, 1);
        if destroying_receive {
            // Too small a buffer, no MACH_RCV_LARGE: the message is dequeued and destroyed.
            let (mr, _) = recv_opt(&t, p, MACH_RCV_TIMEOUT, 24, 0);
            assert_eq!(mr, MACH_RCV_TOO_LARGE);
        } else {
            assert_eq!(expect_msg(&t, p).id(), 0);
        }
        let mr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the blocked sender was not woken by the receive");
        assert_eq!(mr, MACH_MSG_SUCCESS);
        sender.join().unwrap();
        let ids: Vec<i32> = (0..5).map(|_| expect_msg(&t, p).id()).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 99]);
        expect_empty(&t, p);
        t.port_close(p).unwrap();
        k.assert_no_leaks();
    }
}

/// A kernel send with a body that does not fit the kernel's maximum is `MACH_SEND_TOO_LARGE`
/// (as a user send of that size is), not `MACH_SEND_MSG_TOO_SMALL`; a misaligned body is
/// `MACH_SEND_MSG_TOO_SMALL`. Neither queues anything nor leaks the kernel's right.
#[test]
fn kernel_send_size_errors_match_the_user_send_path() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let kr = t.kernel_send_right(p).unwrap();
    assert_eq!(kr.send(1, &[0; 3]), Err(MACH_SEND_MSG_TOO_SMALL));
    let too_big = vec![0u8; NEXTBSD_MAX_INLINE_SEND as usize - 24 + 4];
    assert_eq!(kr.send(2, &too_big), Err(MACH_SEND_TOO_LARGE));
    drop(too_big);
    let status = t.port_status(p).unwrap();
    assert_eq!((status.msgcount, status.srights), (0, 1));
    // The largest body that fits is accepted.
    let biggest = vec![0u8; NEXTBSD_MAX_INLINE_SEND as usize - 24];
    assert_eq!(kr.send(3, &biggest), Ok(()));
    drop(biggest);
    assert_eq!(t.port_status(p).unwrap().msgcount, 1);
    drop(kr);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}
