//! Audit of the `EVFILT_MACHPORT` model (native-filter.md §3.5, §3.9): rules whose effect the
//! scan's peek would hide if a test only looked at collected events.
//!
//! A wrong signal (a knote queued when the kernel would not queue it) is filtered out by the
//! peek at scan time, so `kevent` alone cannot tell; the kqueue descriptor's readiness (checked
//! *before* any scan) and the knote's queued state can. Each test ends with the no-leak
//! assertion on its own kernel.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, Kqueue, Name, Task};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn readable(kq: &Kqueue) -> bool {
    let mut pfd = libc::pollfd {
        fd: kq.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

fn collect(kq: &Kqueue) -> Vec<kevent_freebsd> {
    let mut evs = [kevent_freebsd::zeroed(); 8];
    let n = kq.kevent(&[], &mut evs, Some(Duration::ZERO)).unwrap();
    evs[..n].to_vec()
}

fn wait_blocked(k: &Kernel) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while k.blocked_threads() == 0 {
        assert!(Instant::now() < deadline, "the receiver never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A receive right with a send right, in a new set with an `EV_CLEAR` knote.
fn watched_port(t: &Task, kq: &Kqueue) -> (Name, Name) {
    let p = port_with_send(t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    kq.kevent(&[kev(s, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    t.port_move_member(p, s).unwrap();
    (p, s)
}

/// §3.5: a message handed straight to a receiver blocked on the set (or on the member itself)
/// does not signal the set: the kqueue never becomes readable, not even spuriously.
#[test]
fn a_direct_hand_off_never_makes_the_kqueue_readable() {
    for on_member in [false, true] {
        let k = Kernel::new();
        let t = k.task_create("t", 1, 0, 0);
        let kq = t.kqueue().unwrap();
        let (p, s) = watched_port(&t, &kq);
        let target = if on_member { p } else { s };
        let receiver = std::thread::spawn({
            let t = t.clone();
            move || {
                // Bounded: a lost hand-off fails the assertion below instead of hanging.
                let (mr, m) = recv_opt(&t, target, MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 256, 10_000);
                (mr, m.id())
            }
        });
        wait_blocked(&k);
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 42, &[]), 0);
        assert_eq!(receiver.join().unwrap(), (MACH_MSG_SUCCESS, 42));
        assert!(
            !readable(&kq),
            "hand-off to a receiver blocked on the {}: the knote was signalled",
            if on_member { "member" } else { "set" }
        );
        assert!(collect(&kq).is_empty());
        // Control: with nobody blocked the same send signals.
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 43, &[]), 0);
        assert!(readable(&kq));
        assert_eq!(collect(&kq).len(), 1);
        assert_eq!(expect_msg(&t, s).id(), 43);
        drop(kq);
        t.port_close(s).unwrap();
        t.port_close(p).unwrap();
        k.assert_no_leaks();
    }
}

/// §3.5: moving a port out of the set and destroying a member are silent: no readiness, even
/// with messages queued on the member.
#[test]
fn move_out_and_member_destruction_never_make_the_kqueue_readable() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = watched_port(&t, &kq);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq).len(), 1, "the enqueue signalled");
    assert!(!readable(&kq));
    t.port_move_member(p, 0).unwrap();
    assert!(!readable(&kq), "move-out signalled");
    t.port_move_member(p, s).unwrap();
    assert!(readable(&kq), "move-in of a non-empty port signals");
    assert_eq!(collect(&kq).len(), 1);
    t.port_close(p).unwrap();
    assert!(!readable(&kq), "member destruction signalled");
    assert!(collect(&kq).is_empty());
    drop(kq);
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

/// §3.6: a disabled knote is not queued by a signal (the descriptor stays unreadable), and
/// `EV_ENABLE` re-probes and queues it at once.
#[test]
fn a_disabled_knote_is_not_queued_until_enabled() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = watched_port(&t, &kq);
    kq.kevent(&[kev(s, EV_DISABLE)], &mut [], None).unwrap();
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(!readable(&kq), "a signal queued a disabled knote");
    kq.kevent(&[kev(s, EV_ENABLE)], &mut [], None).unwrap();
    assert!(readable(&kq), "EV_ENABLE re-probes a non-empty set");
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].data, i64::from(p));
    assert_eq!(expect_msg(&t, s).id(), 1);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}
