//! Paths around blocked receivers and message destruction that ordinary traffic does not take
//! (issue 16): a port with queued messages joining a set a receiver is blocked on, oversized
//! messages offered to blocked receivers, the receiving task dying between hand-off and
//! wake-up, and destroying queued messages that carry out-of-line port arrays.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{FaultAction, Kernel, MsgMatch, Name, Task};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bound on every blocking receive in this file (ms).
const BOUND_MS: u32 = 10_000;

fn wait_blocked(k: &Kernel, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while k.blocked_threads() < n {
        assert!(Instant::now() < deadline, "the receiver never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A thread blocked (bounded) in a receive on `name` with `extra` options and a `size`-byte
/// buffer; returns the result and the buffer.
fn blocked_receive(t: &Task, name: Name, extra: u32, size: u32) -> JoinHandle<(u32, Buf)> {
    let t = t.clone();
    std::thread::spawn(move || {
        let (mr, buf) = recv_opt(&t, name, MACH_RCV_TIMEOUT | extra, size, BOUND_MS);
        (mr as u32, buf)
    })
}

/// `ipc_mqueue_add`: a port that already has messages joins a set a receiver is blocked on; the
/// receiver gets the first message at once and the rest stay queued (and are received through
/// the set afterwards, in order).
#[test]
fn a_port_with_queued_messages_joining_a_set_feeds_the_blocked_receiver() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let p = port_with_send(&t);
    for id in [1, 2] {
        assert_eq!(
            send(&t, p, MACH_MSG_TYPE_COPY_SEND, id, &[]),
            MACH_MSG_SUCCESS
        );
    }
    let receiver = blocked_receive(&t, s, 0, 1024);
    wait_blocked(&k, 1);
    t.port_move_member(p, s).unwrap();
    let (mr, buf) = receiver.join().unwrap();
    assert_eq!(mr, MACH_MSG_SUCCESS as u32);
    assert_eq!(buf.id(), 1);
    assert_eq!(expect_msg(&t, s).id(), 2);
    expect_empty(&t, s);

    // A receiver whose buffer is too small (with MACH_RCV_LARGE) is told the size; the message
    // stays queued for a receive with a larger buffer.
    t.port_move_member(p, 0).unwrap();
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3, &[0u8; 256]),
        MACH_MSG_SUCCESS
    );
    let receiver = blocked_receive(&t, s, MACH_RCV_LARGE, 64);
    wait_blocked(&k, 1);
    t.port_move_member(p, s).unwrap();
    let (mr, buf) = receiver.join().unwrap();
    assert_eq!(mr, MACH_RCV_TOO_LARGE as u32);
    assert_eq!(buf.size(), 24 + 256, "the size the message needs");
    assert_eq!(expect_msg(&t, s).id(), 3, "still queued");
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

/// A receiver blocked without `MACH_RCV_LARGE` whose buffer is too small: the message is
/// destroyed (the rights it carries are released) and the receiver gets `MACH_RCV_TOO_LARGE`.
/// With `MACH_RCV_LARGE` the message goes on to the queue instead.
#[test]
fn an_oversized_message_for_a_blocked_receiver_is_destroyed_without_rcv_large() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let carried = port_with_send(&t);
    let receiver = blocked_receive(&t, p, 0, 64);
    wait_blocked(&k, 1);
    let mut msg = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .id(9)
        .complex()
        .port(carried, MACH_MSG_TYPE_COPY_SEND)
        .body(&[0u8; 128])
        .build();
    // Sent (so the message held a copy of the right), and handed to the receiver at once.
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_MSG_SUCCESS);
    let (mr, _) = receiver.join().unwrap();
    assert_eq!(mr, MACH_RCV_TOO_LARGE as u32);
    assert_eq!(
        t.port_status(p).unwrap().msgcount,
        0,
        "destroyed, not queued"
    );
    assert_eq!(
        t.port_status(carried).unwrap().srights,
        1,
        "the carried right was released"
    );

    let receiver = blocked_receive(&t, p, MACH_RCV_LARGE, 64);
    wait_blocked(&k, 1);
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 10, &[0u8; 128]),
        MACH_MSG_SUCCESS
    );
    let (mr, _) = receiver.join().unwrap();
    assert_eq!(mr, MACH_RCV_TOO_LARGE as u32);
    assert_eq!(
        t.port_status(p).unwrap().msgcount,
        1,
        "kept for a larger buffer"
    );
    t.port_close(carried).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

/// The message is handed to a blocked receiver, and its task dies before the receiver wakes:
/// the receive reports `MACH_RCV_PORT_DIED` and the message (with its rights) is destroyed.
#[test]
fn the_receiving_task_dying_between_hand_off_and_wake_up_destroys_the_message() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "blocked.paths").unwrap();
    let to_p = k.bootstrap().look_up(&client, "blocked.paths").unwrap();
    let carried = port_with_send(&client);
    let receiver = blocked_receive(&server, p, 0, 1024);
    wait_blocked(&k, 1);
    // Delivery actions run at the end of the sender's call, under the kernel lock: after the
    // hand-off, before the receiver can wake.
    let fault = k.faults().on_deliver(
        MsgMatch::any().id(77),
        FaultAction::TerminateTask(server.clone()),
    );
    let mut msg = MsgBuilder::new(to_p, MACH_MSG_TYPE_COPY_SEND)
        .id(77)
        .complex()
        .port(carried, MACH_MSG_TYPE_COPY_SEND)
        .build();
    assert_eq!(send_buf(&client, &mut msg, 0, 0), MACH_MSG_SUCCESS);
    assert_eq!(fault.fired(), 1);
    let (mr, _) = receiver.join().unwrap();
    assert_eq!(mr, MACH_RCV_PORT_DIED as u32);
    assert_eq!(
        client.port_status(carried).unwrap().srights,
        1,
        "the message's copy of the right was destroyed"
    );
    let _ = k.bootstrap().unregister("blocked.paths");
    client.port_deallocate(to_p).unwrap();
    client.port_close(carried).unwrap();
    k.assert_no_leaks();
}

/// A queued message carrying an out-of-line port array is destroyed with its port: every
/// right in the array is released (the carried ports lose the send rights the message held).
#[test]
fn destroying_a_queued_message_releases_its_out_of_line_port_array() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let a = port_with_send(&t);
    let b = port_with_send(&t);
    let mut msg = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .id(5)
        .complex()
        .ool_ports(&[a, b, a], MACH_MSG_TYPE_COPY_SEND)
        .build();
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_MSG_SUCCESS);
    assert_eq!(t.port_status(a).unwrap().srights, 3);
    assert_eq!(t.port_status(b).unwrap().srights, 2);
    t.port_close(p).unwrap();
    assert_eq!(t.port_status(a).unwrap().srights, 1, "both copies released");
    assert_eq!(t.port_status(b).unwrap().srights, 1);
    t.port_close(a).unwrap();
    t.port_close(b).unwrap();
    k.assert_no_leaks();
}
