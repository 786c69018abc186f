//! The kqueue model and NextBSD's `EVFILT_MACHPORT` (`native-filter.md` §3): registration
//! errors, edge- and level-triggered delivery, the peek, signals and their absence, EOF, flags,
//! and the pollable descriptor.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, KernelConfig, Kqueue, Name, SetCloseSemantics, Task};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const ZERO: Option<Duration> = Some(Duration::ZERO);

/// A port (with a send right) in a set; returns (port, set).
fn port_in_set(t: &Task) -> (Name, Name) {
    let p = port_with_send(t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.port_move_member(p, s).unwrap();
    (p, s)
}

fn add(kq: &Kqueue, set: Name, flags: u16) {
    kq.kevent(&[kev(set, EV_ADD | flags)], &mut [], None)
        .unwrap();
}

fn collect(kq: &Kqueue) -> Vec<kevent_freebsd> {
    let mut evs = [kevent_freebsd::zeroed(); 8];
    let n = kq.kevent(&[], &mut evs, ZERO).unwrap();
    evs[..n].to_vec()
}

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

fn drain(t: &Task, name: Name) -> usize {
    let mut n = 0;
    while poll(t, name).0 == MACH_MSG_SUCCESS {
        n += 1;
    }
    n
}

#[test]
fn registration_errors_come_back_as_errno_without_an_eventlist() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let err = |ch: kevent_freebsd| kq.kevent(&[ch], &mut [], None).unwrap_err().raw_os_error();
    assert_eq!(err(kev(99, EV_ADD)), Some(libc::ENOENT), "unknown name");
    assert_eq!(
        err(kev(p, EV_ADD)),
        Some(libc::ENOTSUP),
        "a receive right is not a set"
    );
    assert_eq!(err(kev(p, EV_DELETE)), Some(libc::ENOENT), "no such knote");
    let mut other = kev(p, EV_ADD);
    other.filter = EVFILT_READ;
    assert_eq!(err(other), Some(libc::EINVAL), "only EVFILT_MACHPORT");
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let mut direct = kev(s, EV_ADD);
    direct.fflags = MACH_RCV_MSG;
    assert_eq!(
        err(direct),
        Some(libc::EINVAL),
        "direct-receive mode is not supported"
    );
    assert_eq!(k.stats().knotes, 0);
    drop(kq);
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn registration_errors_become_ev_error_events_when_there_is_room() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    let mut evs = [kevent_freebsd::zeroed(); 4];
    let n = kq
        .kevent(
            &[kev(99, EV_ADD), kev(s, EV_ADD | EV_CLEAR)],
            &mut evs,
            ZERO,
        )
        .unwrap();
    // One error event; the second change is applied; no scan when errors were reported.
    assert_eq!(n, 1);
    assert_eq!(evs[0].flags, EV_ERROR);
    assert_eq!(evs[0].data, i64::from(libc::ENOENT));
    assert_eq!(evs[0].ident, 99);
    assert_eq!(k.stats().knotes, 1);
    // EV_RECEIPT reports success as EV_ERROR with data 0.
    let n = kq
        .kevent(&[kev(s, EV_ADD | EV_CLEAR | EV_RECEIPT)], &mut evs, ZERO)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!((evs[0].flags, evs[0].data), (EV_ERROR, 0));
    drop(kq);
    assert_eq!(
        k.stats().knotes,
        0,
        "dropping the kqueue removes its knotes"
    );
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn ev_clear_gives_one_edge_per_enqueue_coalesced_while_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    assert!(
        collect(&kq).is_empty(),
        "empty set: the register peek finds nothing"
    );
    for i in 0..3 {
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, i, &[]), 0);
    }
    let evs = collect(&kq);
    assert_eq!(
        evs.len(),
        1,
        "three enqueues while queued coalesce into one event"
    );
    assert_eq!(evs[0].ident, s as usize);
    assert_eq!(evs[0].filter, EVFILT_MACHPORT_NEXTBSD);
    assert_eq!(
        evs[0].data,
        i64::from(p),
        "data names the member with a message"
    );
    assert_eq!(evs[0].flags & EV_CLEAR, EV_CLEAR);
    // The edge was consumed: without a new enqueue nothing more, even though messages remain.
    assert!(collect(&kq).is_empty());
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 9, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    assert_eq!(drain(&t, s), 4);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn register_peeks_and_reports_messages_already_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    add(&kq, s, EV_CLEAR);
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].data, i64::from(p));
    drain(&t, s);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn nothing_is_remembered_without_a_knote() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    // A message comes and goes with no knote attached...
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(drain(&t, s), 1);
    // ...so registering afterwards reports nothing.
    add(&kq, s, EV_CLEAR);
    assert!(collect(&kq).is_empty());
    assert!(!readable(&kq));
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_spurious_event_is_dropped_by_the_scan_peek() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(readable(&kq));
    // Drained before the kqueue was read: the queued knote now peeks an empty set.
    assert_eq!(drain(&t, s), 1);
    assert!(collect(&kq).is_empty());
    assert!(
        !readable(&kq),
        "the collection left the queue empty: the fd is drained"
    );
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn without_ev_clear_the_knote_stays_queued_while_messages_remain() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, 0);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    assert_eq!(
        collect(&kq).len(),
        1,
        "level: reported again while the set is non-empty"
    );
    assert!(readable(&kq));
    assert_eq!(drain(&t, s), 1);
    assert!(collect(&kq).is_empty());
    assert!(!readable(&kq));
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn the_fd_is_readable_exactly_while_events_are_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    assert!(!readable(&kq));
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(readable(&kq));
    // A kevent call with no room consumes nothing.
    assert_eq!(kq.kevent(&[], &mut [], ZERO).unwrap(), 0);
    assert!(readable(&kq));
    assert_eq!(collect(&kq).len(), 1);
    assert!(!readable(&kq));
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(
        readable(&kq),
        "a newly queued knote makes the fd readable again"
    );
    // Deleting the queued knote leaves nothing queued.
    kq.kevent(&[kev(s, EV_DELETE)], &mut [], None).unwrap();
    assert!(!readable(&kq));
    assert_eq!(drain(&t, s), 2);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_blocked_receiver_takes_the_message_directly_and_no_knote_fires() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    let receiver = std::thread::spawn({
        let t = t.clone();
        move || {
            let (mr, m) = recv_opt(
                &t,
                s,
                MACH_RCV_LARGE | MACH_RCV_TIMEOUT,
                256,
                HAND_OFF_WAIT_MS,
            );
            assert_eq!(mr, MACH_MSG_SUCCESS, "lost: message 42 (the hand-off)");
            m.id()
        }
    });
    // Wait until the receiver is blocked on the set.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !receiver_blocked(&k) {
        assert!(Instant::now() < deadline, "receiver never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 42, &[]), 0);
    assert_eq!(receiver.join().unwrap(), 42);
    // Readiness first: a scan (collect) peeks at the queue and drops a wrongly queued knote,
    // which would hide a signal on the hand-off; the descriptor's readiness cannot be hidden.
    assert!(
        !readable(&kq),
        "a direct hand-off signalled the knote (the kqueue became readable)"
    );
    assert!(
        collect(&kq).is_empty(),
        "no knote activity for a direct hand-off"
    );
    // Control: with nobody blocked the same send does signal.
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 43, &[]), 0);
    assert!(readable(&kq), "an enqueue with nobody blocked signals");
    assert_eq!(collect(&kq).len(), 1);
    assert_eq!(expect_msg(&t, s).id(), 43);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

/// Bound of the blocked receives of the hand-off tests (a lost message fails them, not hangs).
const HAND_OFF_WAIT_MS: u32 = 10_000;

/// Whether some thread is blocked in the kernel (a receiver, in these tests).
fn receiver_blocked(k: &Kernel) -> bool {
    k.blocked_threads() > 0
}

#[test]
fn moving_a_non_empty_port_in_signals_and_moving_out_is_silent() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let p = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    add(&kq, s, EV_CLEAR);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(collect(&kq).is_empty(), "not a member yet");
    t.port_move_member(p, s).unwrap();
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1, "move_member of a non-empty port signals");
    assert_eq!(evs[0].data, i64::from(p));
    // An empty port moved in: nothing.
    let q = port_with_send(&t);
    t.port_move_member(q, s).unwrap();
    assert!(collect(&kq).is_empty());
    // Move-out is silent, and so is a later enqueue on the departed port.
    t.port_move_member(p, 0).unwrap();
    assert!(collect(&kq).is_empty());
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(collect(&kq).is_empty());
    // Atomic move from another set signals the new set.
    let s2 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.port_move_member(p, s2).unwrap();
    t.port_move_member(p, s).unwrap();
    assert_eq!(collect(&kq).len(), 1);
    assert_eq!(drain(&t, s), 2);
    drop(kq);
    for n in [p, q, s, s2] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn destroying_a_member_is_silent() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    t.port_close(p).unwrap();
    assert!(collect(&kq).is_empty());
    assert_eq!(t.port_set_members(s), Ok(vec![]));
    drop(kq);
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn set_destruction_posts_eof_oneshot_with_data_zero() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    t.port_destroy(s).unwrap();
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].flags & (EV_EOF | EV_ONESHOT), EV_EOF | EV_ONESHOT);
    assert_eq!(evs[0].data, 0);
    // Delivered once, then the knote is gone: EV_DELETE gets ENOENT.
    assert!(collect(&kq).is_empty());
    assert_eq!(k.stats().knotes, 0);
    let err = kq.kevent(&[kev(s, EV_DELETE)], &mut [], None).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    drop(kq);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn close_of_the_set_posts_eof_or_removes_knotes_silently_as_configured() {
    for (semantics, expect_eof) in [
        (SetCloseSemantics::EofOnDestroy, true),
        (SetCloseSemantics::SilentOnClose, false),
    ] {
        let k = Kernel::with_config(KernelConfig {
            set_close: semantics,
            ..Default::default()
        });
        let t = k.task_create("t", 1, 0, 0);
        let kq = t.kqueue().unwrap();
        let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
        add(&kq, s, EV_CLEAR);
        t.port_close(s).unwrap();
        let evs = collect(&kq);
        if expect_eof {
            assert_eq!(evs.len(), 1);
            assert_eq!(evs[0].flags & EV_EOF, EV_EOF);
        } else {
            assert!(evs.is_empty());
            assert!(!readable(&kq));
        }
        assert_eq!(k.stats().knotes, 0);
        drop(kq);
        k.assert_no_leaks();
    }
}

#[test]
fn task_exit_posts_eof_even_with_silent_close() {
    let k = Kernel::with_config(KernelConfig {
        set_close: SetCloseSemantics::SilentOnClose,
        ..Default::default()
    });
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (_p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    t.terminate().unwrap();
    assert!(readable(&kq));
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].flags & (EV_EOF | EV_ONESHOT), EV_EOF | EV_ONESHOT);
    // The owner is gone: a blocking wait on its kqueue fails instead of hanging.
    let mut evs = [kevent_freebsd::zeroed(); 1];
    assert_eq!(
        kq.kevent(&[], &mut evs, None).unwrap_err().raw_os_error(),
        Some(libc::EBADF)
    );
    drop(kq);
    k.assert_no_leaks();
}

#[test]
fn ev_dispatch_disables_after_delivery_and_ev_enable_reprobes() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_DISPATCH);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    // Disabled: a new enqueue is not queued.
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(collect(&kq).is_empty());
    assert!(!readable(&kq));
    // EV_ENABLE re-runs the filter: messages remain, so it is queued at once.
    kq.kevent(&[kev(s, EV_ENABLE)], &mut [], None).unwrap();
    assert_eq!(collect(&kq).len(), 1);
    assert_eq!(drain(&t, s), 2);
    // Re-enabled on an empty set: nothing.
    kq.kevent(&[kev(s, EV_ENABLE)], &mut [], None).unwrap();
    assert!(collect(&kq).is_empty());
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn ev_disable_suppresses_and_ev_enable_restores() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR | EV_DISABLE);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(collect(&kq).is_empty());
    kq.kevent(&[kev(s, EV_ENABLE)], &mut [], None).unwrap();
    assert_eq!(collect(&kq).len(), 1);
    kq.kevent(&[kev(s, EV_DISABLE)], &mut [], None).unwrap();
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(collect(&kq).is_empty());
    drain(&t, s);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn ev_oneshot_delivers_once_then_the_knote_is_gone() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_ONESHOT);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(k.stats().knotes, 0);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(collect(&kq).is_empty());
    drain(&t, s);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn re_add_modifies_udata_and_delete_removes() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    let mut ch = kev(s, EV_ADD | EV_CLEAR);
    ch.udata = 0x1234 as *mut _;
    kq.kevent(&[ch], &mut [], None).unwrap();
    assert_eq!(k.stats().knotes, 1);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    let evs = collect(&kq);
    assert_eq!(evs[0].udata as usize, 0x1234);
    kq.kevent(&[kev(s, EV_DELETE)], &mut [], None).unwrap();
    assert_eq!(k.stats().knotes, 0);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert!(collect(&kq).is_empty());
    drain(&t, s);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_knote_per_kqueue_each_sees_the_signal() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq1 = t.kqueue().unwrap();
    let kq2 = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq1, s, EV_CLEAR);
    add(&kq2, s, EV_CLEAR);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(collect(&kq1).len(), 1);
    assert_eq!(collect(&kq2).len(), 1);
    drain(&t, s);
    drop(kq1);
    drop(kq2);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn blocking_kevent_wakes_when_an_event_is_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    let sender = std::thread::spawn({
        let t = t.clone();
        move || {
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
        }
    });
    let mut evs = [kevent_freebsd::zeroed(); 2];
    let n = kq
        .kevent(&[], &mut evs, Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(n, 1);
    sender.join().unwrap();
    // A timed wait with nothing to report returns 0 after the timeout.
    drain(&t, s);
    let start = Instant::now();
    assert_eq!(
        kq.kevent(&[], &mut evs, Some(Duration::from_millis(30)))
            .unwrap(),
        0
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn name_reuse_trap_stale_eof_knote_takes_the_modify_path() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    add(&kq, s, EV_CLEAR);
    t.port_destroy(s).unwrap();
    // Same name again, EOF not collected yet: EV_ADD modifies the stale knote.
    let s2 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(s2, s);
    let p = port_with_send(&t);
    t.port_move_member(p, s2).unwrap();
    add(&kq, s2, EV_CLEAR);
    // Only the stale EOF arrives; enqueues on the new set never signal it.
    let evs = collect(&kq);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].flags & EV_EOF, EV_EOF);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert!(collect(&kq).is_empty());
    drain(&t, s2);
    drop(kq);
    t.port_close(s2).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_receiver_blocked_on_the_member_itself_also_suppresses_the_signal() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let (p, s) = port_in_set(&t);
    add(&kq, s, EV_CLEAR);
    let receiver = std::thread::spawn({
        let t = t.clone();
        move || {
            let (mr, m) = recv_opt(
                &t,
                p,
                MACH_RCV_LARGE | MACH_RCV_TIMEOUT,
                256,
                HAND_OFF_WAIT_MS,
            );
            assert_eq!(mr, MACH_MSG_SUCCESS, "lost: message 7 (the hand-off)");
            m.id()
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !receiver_blocked(&k) {
        assert!(Instant::now() < deadline, "receiver never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 7, &[]), 0);
    assert_eq!(receiver.join().unwrap(), 7);
    assert!(
        !readable(&kq),
        "a direct hand-off signalled the knote (the kqueue became readable)"
    );
    assert!(collect(&kq).is_empty());
    // With nobody blocked, the next message signals.
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 8, &[]), 0);
    assert_eq!(collect(&kq).len(), 1);
    drain(&t, s);
    drop(kq);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

/// Whether `fd` has `FD_CLOEXEC`.
fn close_on_exec(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: F_GETFD on a descriptor the caller holds open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "fcntl(F_GETFD) on {fd}");
    flags & libc::FD_CLOEXEC != 0
}

/// A kqueue's descriptor, and the duplicate the C ABI hands out, are close-on-exec: a program
/// that execs does not leak them into the new image (a kqueue is not inherited across exec).
#[test]
fn kqueue_descriptors_are_close_on_exec() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    assert!(close_on_exec(kq.as_raw_fd()), "Kqueue descriptor");
    drop(kq);
    t.terminate().unwrap();
    k.assert_no_leaks();

    // The C ABI's mach_sim_kqueue() (a duplicate, on the global kernel's default task).
    let fd = mach_sim::ffi::sim::mach_sim_kqueue();
    assert!(
        fd >= 0,
        "mach_sim_kqueue: {}",
        std::io::Error::last_os_error()
    );
    assert!(close_on_exec(fd), "mach_sim_kqueue() descriptor");
    assert_eq!(mach_sim::ffi::sim::mach_sim_kqueue_close(fd), 0);
}
