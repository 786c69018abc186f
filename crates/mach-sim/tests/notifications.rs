//! Mach notifications (`mach-abi.md` §8): no-senders, dead-name, port-deleted,
//! port-destroyed and send-once, with their layouts, and `mach_port_request_notification`'s
//! argument checks.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, Name, Task};

/// Asserts the common shape of a notification and returns it.
#[track_caller]
fn expect_notification(t: &Task, port: Name, id: i32, size: u32) -> Buf {
    let opt = MACH_RCV_TIMEOUT | MACH_RCV_LARGE | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
    let (mr, m) = recv_opt(t, port, opt, 256, 0);
    assert_eq!(mr, MACH_MSG_SUCCESS, "no notification on {port}");
    assert_eq!(m.id(), id);
    assert_eq!(m.size(), size);
    assert_eq!(MACH_MSGH_BITS_LOCAL(m.bits()), MACH_MSG_TYPE_PORT_SEND_ONCE);
    assert_eq!(MACH_MSGH_BITS_REMOTE(m.bits()), 0);
    assert_eq!(m.remote(), 0);
    assert_eq!(m.local(), port);
    // Kernel sender, zero audit token.
    assert_eq!((m.trailer_u32(12), m.trailer_u32(16)), (0, 1));
    assert!((0..8).all(|i| m.trailer_u32(20 + 4 * i) == 0));
    m
}

fn ndr_ok(m: &Buf) {
    assert_eq!(&m.bytes()[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
}

#[test]
fn no_senders_fires_when_the_last_send_right_is_deallocated() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let n = server.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let s2 = k.bootstrap().look_up(&client, "svc").unwrap();
    assert_eq!(s, s2);
    let prev = server
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            n,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    assert_eq!(prev, 0);
    client.port_deallocate(s).unwrap();
    expect_empty(&server, n);
    client.port_deallocate(s).unwrap();
    let m = expect_notification(&server, n, MACH_NOTIFY_NO_SENDERS, 36);
    ndr_ok(&m);
    assert_eq!(m.u32_at(32), 2, "not_count = make-send count");
    // One-shot: a new sender and its departure do not fire again.
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    client.port_deallocate(s).unwrap();
    expect_empty(&server, n);
    server.port_close(p).unwrap();
    server.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_rights_in_flight_count_as_senders() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    server
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            p,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    // The client's only send right moves into a queued message: still one sender.
    assert_eq!(send(&client, s, MACH_MSG_TYPE_MOVE_SEND, 1, &[]), 0);
    assert_eq!(client.port_type(s), Err(KERN_INVALID_NAME));
    assert_eq!(server.port_status(p).unwrap().msgcount, 1);
    // Receiving consumes the destination right: now there are none.
    assert_eq!(expect_msg(&server, p).id(), 1);
    expect_notification(&server, p, MACH_NOTIFY_NO_SENDERS, 36);
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_kernel_send_right_counts_as_a_sender_until_dropped() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let kr = t.kernel_send_right(p).unwrap();
    assert_eq!(k.stats().kernel_rights, 1);
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        0,
        p,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    kr.send(7, &[1, 0, 0, 0]).unwrap();
    assert_eq!(expect_msg(&t, p).id(), 7);
    expect_empty(&t, p);
    drop(kr);
    let m = expect_notification(&t, p, MACH_NOTIFY_NO_SENDERS, 36);
    assert_eq!(m.u32_at(32), 1);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn no_senders_fires_at_once_when_armed_with_no_senders_and_sync_reached() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let n = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        0,
        n,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    let m = expect_notification(&t, n, MACH_NOTIFY_NO_SENDERS, 36);
    assert_eq!(m.u32_at(32), 0);
    // sync > mscount: armed, not fired.
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        1,
        n,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    expect_empty(&t, n);
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    t.port_deallocate(p).unwrap();
    let m = expect_notification(&t, n, MACH_NOTIFY_NO_SENDERS, 36);
    assert_eq!(m.u32_at(32), 1);
    t.port_close(p).unwrap();
    t.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn rearming_returns_the_previous_send_once_right() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let n1 = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let n2 = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    assert_eq!(
        t.port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            n1,
            MACH_MSG_TYPE_MAKE_SEND_ONCE
        ),
        Ok(0)
    );
    let prev = t
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            n2,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    assert_eq!(t.port_type(prev), Ok(MACH_PORT_TYPE_SEND_ONCE));
    // The returned right is ours: deallocating it unused notifies n1.
    t.port_deallocate(prev).unwrap();
    expect_notification(&t, n1, MACH_NOTIFY_SEND_ONCE, 24);
    // Cancelling (notify = 0) returns the armed right too.
    let prev = t
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            0,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    assert_ne!(prev, 0);
    t.port_deallocate(prev).unwrap();
    expect_notification(&t, n2, MACH_NOTIFY_SEND_ONCE, 24);
    t.port_deallocate(p).unwrap();
    expect_empty(&t, n2);
    for n in [p, n1, n2] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn request_notification_validates_its_arguments() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let so = MACH_MSG_TYPE_MAKE_SEND_ONCE;
    assert_eq!(
        t.port_request_notification(p, 99, 0, p, so),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_request_notification(p, MACH_NOTIFY_SEND_ONCE, 0, p, so),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 1, p, so),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_request_notification(0, MACH_NOTIFY_NO_SENDERS, 0, p, so),
        Err(KERN_INVALID_NAME)
    );
    assert_eq!(
        t.port_request_notification(77, MACH_NOTIFY_DEAD_NAME, 0, p, so),
        Err(KERN_INVALID_NAME)
    );
    assert_eq!(
        t.port_request_notification(s, MACH_NOTIFY_NO_SENDERS, 0, p, so),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, p, so),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, p, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, 77, so),
        Err(KERN_INVALID_CAPABILITY)
    );
    assert_eq!(
        t.port_request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, s, so),
        Err(KERN_INVALID_CAPABILITY)
    );
    assert_eq!(
        t.port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            p,
            MACH_MSG_TYPE_MOVE_SEND_ONCE
        ),
        Err(KERN_INVALID_CAPABILITY)
    );
    // Nothing was armed by the failures.
    t.port_deallocate(p).unwrap();
    expect_empty(&t, p);
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_moved_send_once_right_can_be_the_notify_right() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let n = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .reply(n, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    let so = expect_msg(&t, p).remote();
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        0,
        so,
        MACH_MSG_TYPE_MOVE_SEND_ONCE,
    )
    .unwrap();
    assert_eq!(t.port_type(so), Err(KERN_INVALID_NAME), "consumed");
    t.port_deallocate(p).unwrap();
    expect_notification(&t, n, MACH_NOTIFY_NO_SENDERS, 36);
    t.port_close(p).unwrap();
    t.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn dead_name_goes_to_requesters_when_the_port_dies() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let n = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    assert_eq!(
        client.port_request_notification(
            s,
            MACH_NOTIFY_DEAD_NAME,
            0,
            n,
            MACH_MSG_TYPE_MAKE_SEND_ONCE
        ),
        Ok(0)
    );
    assert_eq!(
        client.port_type(s),
        Ok(MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DNREQUEST)
    );
    server.port_close(p).unwrap();
    let m = expect_notification(&client, n, MACH_NOTIFY_DEAD_NAME, 36);
    ndr_ok(&m);
    assert_eq!(m.u32_at(32), s, "not_port names the dead right");
    // The dead name carries one extra uref for the notification.
    assert_eq!(client.port_type(s), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_DEAD_NAME), Ok(2));
    client.port_deallocate(s).unwrap();
    client.port_deallocate(s).unwrap();
    client.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn dead_name_request_on_a_dead_name_fires_at_once() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let d = t.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap();
    let n = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    t.port_request_notification(d, MACH_NOTIFY_DEAD_NAME, 0, n, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .unwrap();
    let m = expect_notification(&t, n, MACH_NOTIFY_DEAD_NAME, 36);
    assert_eq!(m.u32_at(32), d);
    assert_eq!(t.port_get_refs(d, MACH_PORT_RIGHT_DEAD_NAME), Ok(2));
    t.port_mod_refs(d, MACH_PORT_RIGHT_DEAD_NAME, -2).unwrap();
    t.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn deallocating_a_watched_right_sends_port_deleted() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let n = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    client
        .port_request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, n, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .unwrap();
    client.port_deallocate(s).unwrap();
    let m = expect_notification(&client, n, MACH_NOTIFY_PORT_DELETED, 36);
    assert_eq!(m.u32_at(32), s);
    // The request is gone: the port's death later says nothing.
    server.port_close(p).unwrap();
    expect_empty(&client, n);
    client.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn port_destroyed_hands_the_receive_right_and_its_queue_to_the_requester() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let backup = k.task_create("backup", 2, 0, 0);
    let p = port_with_send(&server);
    let b = backup.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // Give the server a send-once right to the backup's port, and arm port-destroyed with it.
    let relay = port_with_send(&backup);
    let carrier = k.bootstrap().check_in(&server, "carrier").unwrap();
    let c = k.bootstrap().look_up(&backup, "carrier").unwrap();
    let mut m = MsgBuilder::new(c, MACH_MSG_TYPE_COPY_SEND)
        .port(b, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .build();
    assert_eq!(send_buf(&backup, &mut m, 0, 0), 0);
    let so = expect_msg(&server, carrier).u32_at(28);
    server
        .port_request_notification(
            p,
            MACH_NOTIFY_PORT_DESTROYED,
            0,
            so,
            MACH_MSG_TYPE_MOVE_SEND_ONCE,
        )
        .unwrap();
    assert_eq!(send(&server, p, MACH_MSG_TYPE_COPY_SEND, 5, &[]), 0);
    server.port_close(p).unwrap();
    // The port survives, in transit to the backup.
    assert_eq!(k.stats().ports, 4);
    let m = expect_notification(&backup, b, MACH_NOTIFY_PORT_DESTROYED, 40);
    assert_eq!(m.bits() & MACH_MSGH_BITS_COMPLEX, MACH_MSGH_BITS_COMPLEX);
    assert_eq!(m.u32_at(24), 1);
    assert_eq!(m.bytes()[28 + 10] as u32, MACH_MSG_TYPE_PORT_RECEIVE);
    let got = m.u32_at(28);
    assert_eq!(backup.port_type(got), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(
        expect_msg(&backup, got).id(),
        5,
        "queued messages came along"
    );
    backup.port_close(got).unwrap();
    for n in [b, relay, c] {
        backup.port_close(n).unwrap();
    }
    server.port_close(carrier).unwrap();
    k.assert_no_leaks();
}

#[test]
fn port_destroyed_to_a_dead_port_destroys_the_port_for_real() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let b = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    t.port_request_notification(
        p,
        MACH_NOTIFY_PORT_DESTROYED,
        0,
        b,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    t.port_close(b).unwrap();
    t.port_close(p).unwrap();
    assert_eq!(k.stats().ports, 0);
    k.assert_no_leaks();
}

#[test]
fn destroying_an_unused_send_once_right_sends_send_once() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let reply = client.reply_port();
    for how in 0..3 {
        let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
            .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
            .build();
        assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
        let so = expect_msg(&server, p).remote();
        match how {
            0 => server.port_deallocate(so).unwrap(),
            1 => server
                .port_mod_refs(so, MACH_PORT_RIGHT_SEND_ONCE, -1)
                .unwrap(),
            _ => server.port_destroy(so).unwrap(),
        }
        expect_notification(&client, reply, MACH_NOTIFY_SEND_ONCE, 24);
    }
    // A queued request destroyed with its port: its reply right is destroyed too.
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    server.port_close(p).unwrap();
    expect_notification(&client, reply, MACH_NOTIFY_SEND_ONCE, 24);
    client.port_close(reply).unwrap();
    client.port_deallocate(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_destroyed_port_with_a_no_senders_request_destroys_its_notify_right() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let n = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // sync 1 > mscount 0: armed, not fired.
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        1,
        n,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    t.port_close(p).unwrap();
    expect_notification(&t, n, MACH_NOTIFY_SEND_ONCE, 24);
    // With a send right under the same name, XNU counts that send right's end first and the
    // request fires as no-senders instead.
    let p = port_with_send(&t);
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        0,
        n,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    t.port_close(p).unwrap();
    expect_notification(&t, n, MACH_NOTIFY_NO_SENDERS, 36);
    t.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn notifications_bypass_the_queue_limit() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let n = port_with_send(&t);
    for i in 0..5 {
        assert_eq!(try_send(&t, n, MACH_MSG_TYPE_COPY_SEND, i), 0);
    }
    let p = port_with_send(&t);
    t.port_request_notification(
        p,
        MACH_NOTIFY_NO_SENDERS,
        0,
        n,
        MACH_MSG_TYPE_MAKE_SEND_ONCE,
    )
    .unwrap();
    t.port_deallocate(p).unwrap();
    assert_eq!(t.port_status(n).unwrap().msgcount, 6);
    t.port_close(p).unwrap();
    t.port_close(n).unwrap();
    k.assert_no_leaks();
}
