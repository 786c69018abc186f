//! `kevent` argument validation paths the main kqueue tests do not take (issue 16): names that
//! cannot be sets, a dead owner, direct-receive mode on the modify path, receipts without room
//! in the eventlist, empty change slots, and a kqueue whose owner exited.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::Kernel;
use std::time::Duration;

const ZERO: Option<Duration> = Some(Duration::ZERO);

#[test]
fn names_that_cannot_be_sets_and_a_dead_owner_are_enoent() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let err = |ch: kevent_freebsd| kq.kevent(&[ch], &mut [], None).unwrap_err().raw_os_error();
    assert_eq!(err(kev(0, EV_ADD)), Some(libc::ENOENT), "MACH_PORT_NULL");
    let mut huge = kev(0, EV_ADD);
    huge.ident = usize::MAX;
    assert_eq!(err(huge), Some(libc::ENOENT), "not a 32-bit name");
    assert_eq!(
        err(kev(MACH_PORT_DEAD, EV_ADD)),
        Some(libc::ENOENT),
        "MACH_PORT_DEAD"
    );
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.terminate().unwrap();
    assert_eq!(
        kq.kevent(&[kev(s, EV_ADD)], &mut [], None)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOENT),
        "the owner is gone"
    );
    assert_eq!(k.stats().knotes, 0);
    drop(kq);
    k.assert_no_leaks();
}

#[test]
fn direct_receive_mode_is_refused_on_the_modify_path_too() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    kq.kevent(&[kev(s, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    let mut direct = kev(s, EV_ADD | EV_CLEAR);
    direct.fflags = MACH_RCV_MSG;
    assert_eq!(
        kq.kevent(&[direct], &mut [], None)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EINVAL)
    );
    // The knote is unchanged and still works.
    let p = port_with_send(&t);
    t.port_move_member(p, s).unwrap();
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_MSG_SUCCESS
    );
    let mut evs = [kevent_freebsd::zeroed(); 2];
    assert_eq!(kq.kevent(&[], &mut evs, ZERO).unwrap(), 1);
    assert_eq!(evs[0].fflags, 0, "fflags not modified");
    drop(kq);
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn receipts_stop_when_the_eventlist_is_full_and_empty_slots_are_skipped() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let kq = t.kqueue().unwrap();
    let s1 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let s2 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let s3 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    // Three receipts, room for one (FreeBSD `kern_kevent`): the first is applied and reported,
    // the second applied with no room left to report it, and processing stops there.
    let mut evs = [kevent_freebsd::zeroed(); 1];
    let n = kq
        .kevent(
            &[
                kev(s1, EV_ADD | EV_CLEAR | EV_RECEIPT),
                kev(s2, EV_ADD | EV_CLEAR | EV_RECEIPT),
                kev(s3, EV_ADD | EV_CLEAR | EV_RECEIPT),
            ],
            &mut evs,
            ZERO,
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        (evs[0].ident, evs[0].flags, evs[0].data),
        (s1 as usize, EV_ERROR, 0)
    );
    assert_eq!(k.stats().knotes, 2, "the third change was not processed");
    // A receipt with no eventlist at all: applied, nothing reported.
    assert_eq!(
        kq.kevent(&[kev(s3, EV_ADD | EV_CLEAR | EV_RECEIPT)], &mut [], ZERO)
            .unwrap(),
        0
    );
    assert_eq!(k.stats().knotes, 3);
    // A change slot with filter 0 is skipped.
    let mut empty = kev(s1, EV_DELETE);
    empty.filter = 0;
    assert_eq!(kq.kevent(&[empty], &mut [], ZERO).unwrap(), 0);
    assert_eq!(k.stats().knotes, 3);
    drop(kq);
    for s in [s1, s2, s3] {
        t.port_close(s).unwrap();
    }
    k.assert_no_leaks();
}
