//! `SetSignalSemantics::XnuPrepost`: XNU's prepost rule for port-set members (issue 16,
//! `native-filter.md` §5 rules 17 and 27). A preposted member raises no new knote event; the
//! prepost clears only when a receive through the set (or the filter's probe) finds the member
//! empty; receives through the set serve the preposted members round-robin.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, KernelConfig, Kqueue, Name, SetSignalSemantics, Task};
use std::time::Duration;

const ZERO: Option<Duration> = Some(Duration::ZERO);

fn xnu() -> Kernel {
    Kernel::with_config(KernelConfig {
        set_signal: SetSignalSemantics::XnuPrepost,
        ..Default::default()
    })
}

/// A set with `n` member ports (each with a send right) and an `EV_CLEAR` knote on it.
fn watched_set(t: &Task, n: usize) -> (Kqueue, Name, Vec<Name>) {
    let kq = t.kqueue().unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    kq.kevent(&[kev(s, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    let ports = (0..n)
        .map(|_| {
            let p = port_with_send(t);
            t.port_move_member(p, s).unwrap();
            p
        })
        .collect();
    (kq, s, ports)
}

fn events(kq: &Kqueue) -> usize {
    let mut evs = [kevent_freebsd::zeroed(); 8];
    kq.kevent(&[], &mut evs, ZERO).unwrap()
}

fn teardown(k: &Kernel, t: &Task, kq: Kqueue, s: Name, ports: &[Name]) {
    drop(kq);
    for &p in ports {
        t.port_close(p).unwrap();
    }
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

/// The rule itself, and the default kernel's contrast: after one event and one receive that
/// leaves the member empty (no TIMED_OUT through the set), a new message raises an event on
/// NextBSD but not under XNU's prepost rule; a receive through the set that times out clears
/// the prepost and the next message raises an event again.
#[test]
fn a_preposted_member_raises_no_event_until_a_set_receive_times_out() {
    for (k, xnu_rule) in [(Kernel::new(), false), (xnu(), true)] {
        let t = k.task_create("t", 1, 0, 0);
        let (kq, s, ports) = watched_set(&t, 1);
        let p = ports[0];
        assert_eq!(
            send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
            MACH_MSG_SUCCESS
        );
        assert_eq!(events(&kq), 1, "the first message raises an event");
        expect_msg(&t, s);
        // Stopped early: the set was never seen empty.
        assert_eq!(
            send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]),
            MACH_MSG_SUCCESS
        );
        assert_eq!(
            events(&kq),
            usize::from(!xnu_rule),
            "a message on a still-preposted member (xnu rule: {xnu_rule})"
        );
        expect_msg(&t, s);
        // Drained to TIMED_OUT through the set: the prepost is gone.
        expect_empty(&t, s);
        assert_eq!(
            send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3, &[]),
            MACH_MSG_SUCCESS
        );
        assert_eq!(
            events(&kq),
            1,
            "after TIMED_OUT, a new message raises an event"
        );
        expect_msg(&t, s);
        expect_empty(&t, s);
        teardown(&k, &t, kq, s, &ports);
    }
}

/// Receiving on the member's own name never clears its prepost (rule 17 is a hard requirement
/// on macOS); the filter's probe of the empty member does.
#[test]
fn receiving_on_the_member_name_leaves_it_preposted_and_the_probe_clears_it() {
    let k = xnu();
    let t = k.task_create("t", 1, 0, 0);
    let (kq, s, ports) = watched_set(&t, 1);
    let p = ports[0];
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(events(&kq), 1);
    expect_msg(&t, p);
    expect_empty(&t, p);
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(
        events(&kq),
        0,
        "a receive on the member name cleared nothing"
    );
    expect_msg(&t, p);
    // The probe at EV_ADD (re-registration runs the filter) walks the prepost list, finds the
    // member empty and clears the prepost.
    kq.kevent(&[kev(s, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    assert_eq!(events(&kq), 0, "empty set: the probe reports nothing");
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(events(&kq), 1, "the probe cleared the prepost");
    expect_msg(&t, s);
    teardown(&k, &t, kq, s, &ports);
}

/// Receives through the set serve preposted members round-robin (not set order); per-port
/// order is FIFO. A member that leaves the set loses its prepost.
#[test]
fn set_receives_rotate_across_preposted_members_and_keep_per_port_order() {
    let k = xnu();
    let t = k.task_create("t", 1, 0, 0);
    let (kq, s, ports) = watched_set(&t, 2);
    let (a, b) = (ports[0], ports[1]);
    for id in [10, 11] {
        assert_eq!(
            send(&t, a, MACH_MSG_TYPE_COPY_SEND, id, &[]),
            MACH_MSG_SUCCESS
        );
    }
    for id in [20, 21] {
        assert_eq!(
            send(&t, b, MACH_MSG_TYPE_COPY_SEND, id, &[]),
            MACH_MSG_SUCCESS
        );
    }
    assert_eq!(events(&kq), 1);
    let order: Vec<i32> = (0..4).map(|_| expect_msg(&t, s).id()).collect();
    assert_eq!(order, [10, 20, 11, 21], "round-robin across members");
    expect_empty(&t, s);

    // Default kernel: set order.
    let k2 = Kernel::new();
    let t2 = k2.task_create("t", 1, 0, 0);
    let (kq2, s2, ports2) = watched_set(&t2, 2);
    for (p, id) in [(0, 10), (0, 11), (1, 20), (1, 21)] {
        assert_eq!(
            send(&t2, ports2[p], MACH_MSG_TYPE_COPY_SEND, id, &[]),
            MACH_MSG_SUCCESS
        );
    }
    let order: Vec<i32> = (0..4).map(|_| expect_msg(&t2, s2).id()).collect();
    assert_eq!(order, [10, 11, 20, 21], "NextBSD: set order");
    teardown(&k2, &t2, kq2, s2, &ports2);

    // A preposted member moved out and back in signals again (its prepost went with it).
    assert_eq!(
        send(&t, a, MACH_MSG_TYPE_COPY_SEND, 12, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(events(&kq), 1);
    expect_msg(&t, a);
    t.port_move_member(a, 0).unwrap();
    assert_eq!(
        send(&t, a, MACH_MSG_TYPE_COPY_SEND, 13, &[]),
        MACH_MSG_SUCCESS
    );
    t.port_move_member(a, s).unwrap();
    assert_eq!(
        events(&kq),
        1,
        "joining with a message preposts and signals"
    );
    expect_msg(&t, s);
    expect_empty(&t, s);
    teardown(&k, &t, kq, s, &ports);
}
