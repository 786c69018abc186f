//! Fault injection (`Kernel::faults`): failing sends and receives, full queues, and actions at
//! chosen points (delivery, receive, knote registration). Every test ends with the leak check.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{FaultAction, Kernel, MsgMatch, Name, Task};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ZERO: Option<Duration> = Some(Duration::ZERO);

fn wait_blocked(k: &Kernel, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while k.blocked_threads() < n {
        assert!(Instant::now() < deadline, "threads never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A server task with a receive right and a client task holding a send right to it.
struct Pair {
    k: Kernel,
    server: Task,
    client: Task,
    service: Name,
    to_service: Name,
}

fn pair() -> Pair {
    let k = Kernel::new();
    let server = k.task_create("server", 10, 0, 0);
    let client = k.task_create("client", 20, 501, 20);
    let service = k.bootstrap().check_in(&server, "svc").unwrap();
    let to_service = k.bootstrap().look_up(&client, "svc").unwrap();
    Pair {
        k,
        server,
        client,
        service,
        to_service,
    }
}

impl Pair {
    /// Sends a request with a `MAKE_SEND_ONCE` reply right on a fresh reply port; returns it.
    fn request(&self, id: i32) -> Name {
        let reply = self.client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
        let mut buf = MsgBuilder::new(self.to_service, MACH_MSG_TYPE_COPY_SEND)
            .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
            .id(id)
            .build();
        assert_eq!(send_buf(&self.client, &mut buf, 0, 0), MACH_MSG_SUCCESS);
        reply
    }

    fn finish(self) {
        let _ = self.k.bootstrap().unregister("svc");
        for t in [&self.server, &self.client] {
            if t.is_active() {
                t.terminate().unwrap();
            }
        }
        self.k.assert_no_leaks();
    }
}

// ---- failing sends ----

#[test]
fn injected_send_failures_leave_the_sender_every_right_and_count_down() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let reply = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let fault = k.faults().fail_next_sends(2, MACH_SEND_INVALID_DEST);
    assert_eq!(k.faults().armed(), 1);
    for _ in 0..2 {
        let mut buf = MsgBuilder::new(p, MACH_MSG_TYPE_MOVE_SEND)
            .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
            .build();
        assert_eq!(send_buf(&t, &mut buf, 0, 0), MACH_SEND_INVALID_DEST);
        // A failed check: the moved send right is still ours, nothing was queued.
        assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
        assert_eq!(t.port_status(p).unwrap().msgcount, 0);
    }
    assert_eq!(fault.fired(), 2);
    assert_eq!(k.faults().armed(), 0);
    // Used up: the third send goes through.
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 7, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(expect_msg(&t, p).id(), 7);
    assert_eq!(fault.fired(), 2);
    t.port_close(p).unwrap();
    t.port_destroy(reply).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_failures_can_target_one_task() {
    let k = Kernel::new();
    let a = k.task_create("a", 1, 0, 0);
    let b = k.task_create("b", 2, 0, 0);
    let pa = port_with_send(&a);
    let pb = port_with_send(&b);
    let fault = k
        .faults()
        .fail_next_sends_from(&b, 1, MACH_SEND_INVALID_RIGHT);
    assert_eq!(
        send(&a, pa, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(fault.fired(), 0);
    assert_eq!(
        send(&b, pb, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_SEND_INVALID_RIGHT
    );
    assert_eq!(fault.fired(), 1);
    assert_eq!(
        send(&b, pb, MACH_MSG_TYPE_COPY_SEND, 2, &[]),
        MACH_MSG_SUCCESS
    );
    a.port_close(pa).unwrap();
    b.port_close(pb).unwrap();
    k.assert_no_leaks();
}

#[test]
fn an_injected_send_timeout_pseudo_receives_the_message_like_a_full_queue() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let reply = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let carried = port_with_send(&t);
    k.faults().fail_next_sends(1, MACH_SEND_TIMED_OUT);
    let mut buf = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .port(carried, MACH_MSG_TYPE_MOVE_SEND)
        .id(77)
        .build();
    assert_eq!(
        send_buf(&t, &mut buf, MACH_SEND_TIMEOUT, 0),
        MACH_SEND_TIMED_OUT
    );
    assert_eq!(t.port_status(p).unwrap().msgcount, 0);
    // Pseudo-received: remote = the destination (a send right, 17), local = the reply
    // (send-once, 18); the moved send right came back as a descriptor.
    assert_eq!(
        buf.bits() & !MACH_MSGH_BITS_COMPLEX,
        MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND_ONCE)
    );
    assert_eq!(buf.remote(), p);
    assert_eq!(buf.id(), 77);
    // The made send-once right came back under a name of its own.
    let so = buf.local();
    assert_eq!(t.port_type(so), Ok(MACH_PORT_TYPE_SEND_ONCE));
    // The moved send right is back in the table under its name (the descriptor names it).
    assert_eq!(buf.u32_at(28), carried);
    assert_eq!(t.port_get_refs(carried, MACH_PORT_RIGHT_SEND), Ok(1));
    // The caller owns every right in it: destroy the message and the send-once right.
    destroy(&t, &mut buf);
    t.port_deallocate(so).unwrap();
    t.port_destroy(reply).unwrap();
    t.port_close(p).unwrap();
    t.port_close(carried).unwrap();
    k.assert_no_leaks();
}

// ---- failing receives ----

#[test]
fn injected_receive_failures_keep_the_message_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let other = k.task_create("other", 2, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 5, &[]),
        MACH_MSG_SUCCESS
    );
    let only_other = k
        .faults()
        .fail_next_receives_in(&other, 1, MACH_RCV_INTERRUPTED);
    let fault = k.faults().fail_next_receives(1, MACH_RCV_INTERRUPTED);
    // A bad name is still reported as such (the fault applies to receives that would run).
    assert_eq!(poll(&t, 0x999).0, MACH_RCV_INVALID_NAME);
    assert_eq!(fault.fired(), 0);
    assert_eq!(poll(&t, p).0, MACH_RCV_INTERRUPTED);
    assert_eq!(fault.fired(), 1);
    assert_eq!(only_other.fired(), 0);
    assert_eq!(t.port_status(p).unwrap().msgcount, 1);
    assert_eq!(expect_msg(&t, p).id(), 5);
    assert_eq!(
        k.faults().armed(),
        1,
        "the other task's fault is still armed"
    );
    k.faults().clear();
    assert_eq!(k.faults().armed(), 0);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

// ---- full queues ----

#[test]
fn a_filled_queue_times_out_sends_but_keeps_its_messages_receivable() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1),
        MACH_MSG_SUCCESS
    );
    k.faults().fill_queue(&t, p).unwrap();
    assert_eq!(
        k.faults().fill_queue(&t, p),
        Err(KERN_INVALID_ARGUMENT),
        "already full"
    );
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2),
        MACH_SEND_TIMED_OUT
    );
    assert_eq!(t.port_status(p).unwrap().qlimit, 0);
    // Queued messages are still receivable; the queue stays "full" while held.
    assert_eq!(expect_msg(&t, p).id(), 1);
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3),
        MACH_SEND_TIMED_OUT
    );
    // A send-once destination bypasses the limit, as always.
    let mut so = MsgBuilder::new(p, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .id(4)
        .build();
    assert_eq!(
        send_buf(&t, &mut so, MACH_SEND_TIMEOUT, 0),
        MACH_MSG_SUCCESS
    );
    assert_eq!(expect_msg(&t, p).id(), 4);
    k.faults().release_queue(&t, p).unwrap();
    assert_eq!(t.port_status(p).unwrap().qlimit, 5);
    assert_eq!(k.faults().release_queue(&t, p), Err(KERN_INVALID_ARGUMENT));
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 5),
        MACH_MSG_SUCCESS
    );
    assert_eq!(expect_msg(&t, p).id(), 5);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn fill_queue_needs_a_receive_right() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let u = k.task_create("u", 2, 0, 0);
    let p = port_with_send(&t);
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(k.faults().fill_queue(&t, set), Err(KERN_INVALID_RIGHT));
    assert_eq!(k.faults().fill_queue(&u, p), Err(KERN_INVALID_NAME));
    t.port_close(p).unwrap();
    t.port_close(set).unwrap();
    k.assert_no_leaks();
}

#[test]
fn releasing_a_filled_queue_wakes_every_blocked_sender_that_fits() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    k.faults().fill_queue(&t, p).unwrap();
    let senders: Vec<_> = (0..3)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut buf = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).id(i).build();
                send_buf(&t, &mut buf, MACH_SEND_TIMEOUT, 20_000)
            })
        })
        .collect();
    wait_blocked(&k, 3);
    assert_eq!(t.port_status(p).unwrap().blocked_senders, 3);
    // clear() releases filled queues too.
    k.faults().clear();
    for s in senders {
        assert_eq!(s.join().unwrap(), MACH_MSG_SUCCESS);
    }
    let mut ids: Vec<i32> = (0..3).map(|_| expect_msg(&t, p).id()).collect();
    ids.sort();
    assert_eq!(ids, [0, 1, 2]);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

// ---- actions at chosen points ----

#[test]
fn server_terminated_between_request_and_reply_gives_the_client_a_send_once_notification() {
    let s = pair();
    let fired = s.k.faults().on_deliver(
        MsgMatch::any().id(500).task(&s.server),
        FaultAction::TerminateTask(s.server.clone()),
    );
    // A message with another id does not fire it.
    assert_eq!(
        send(&s.client, s.to_service, MACH_MSG_TYPE_COPY_SEND, 499, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(fired.fired(), 0);
    assert!(s.server.is_active());
    let reply = s.request(500);
    assert_eq!(fired.fired(), 1);
    assert!(!s.server.is_active());
    // The request died with the server's port; its reply right produced the notification.
    let mut n = expect_msg(&s.client, reply);
    assert_eq!(n.id(), MACH_NOTIFY_SEND_ONCE);
    destroy(&s.client, &mut n);
    // The client's send right is now a dead name.
    assert_eq!(
        s.client.port_type(s.to_service),
        Ok(MACH_PORT_TYPE_DEAD_NAME)
    );
    s.client.port_destroy(reply).unwrap();
    s.client.port_deallocate(s.to_service).unwrap();
    s.finish();
}

#[test]
fn server_terminated_after_receiving_the_request_gives_the_same_notification() {
    let s = pair();
    let fired = s.k.faults().on_receive(
        MsgMatch::any().task(&s.server).name(s.service),
        FaultAction::TerminateTask(s.server.clone()),
    );
    let reply = s.request(600);
    let req = expect_msg(&s.server, s.service);
    assert_eq!(req.id(), 600);
    assert_eq!(fired.fired(), 1);
    // The server holds the request (and its reply right) but is already gone: mid-RPC death.
    assert!(!s.server.is_active());
    assert_eq!(poll(&s.server, s.service).0, MACH_RCV_INVALID_NAME);
    let mut n = expect_msg(&s.client, reply);
    assert_eq!(n.id(), MACH_NOTIFY_SEND_ONCE);
    destroy(&s.client, &mut n);
    s.client.port_destroy(reply).unwrap();
    s.client.port_deallocate(s.to_service).unwrap();
    s.finish();
}

#[test]
fn client_terminated_before_reading_its_reply_loses_nothing() {
    let s = pair();
    let reply = s.request(700);
    let req = expect_msg(&s.server, s.service);
    let reply_right = req.remote();
    assert_eq!(
        req.bits() & 0xff,
        MACH_MSG_TYPE_PORT_SEND_ONCE,
        "the request carries a send-once reply right"
    );
    let fired = s.k.faults().on_deliver(
        MsgMatch::any().id(800).task(&s.client),
        FaultAction::TerminateTask(s.client.clone()),
    );
    let mut answer = MsgBuilder::new(reply_right, MACH_MSG_TYPE_MOVE_SEND_ONCE)
        .id(800)
        .body(&[1, 2, 3, 4])
        .build();
    // The reply is delivered (the send succeeds), then the client dies with it queued.
    assert_eq!(send_buf(&s.server, &mut answer, 0, 0), MACH_MSG_SUCCESS);
    assert_eq!(fired.fired(), 1);
    assert!(!s.client.is_active());
    let _ = reply;
    // The server's service keeps working; the no-senders side is clean.
    assert_eq!(s.server.port_status(s.service).unwrap().msgcount, 0);
    s.finish();
}

#[test]
fn a_set_destroyed_in_the_middle_of_a_drain_stops_it_and_posts_eof() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let a = port_with_send(&t);
    let b = port_with_send(&t);
    t.port_move_member(a, set).unwrap();
    t.port_move_member(b, set).unwrap();
    let kq = t.kqueue().unwrap();
    kq.kevent(&[kev(set, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    for (i, p) in [a, b, a, b].into_iter().enumerate() {
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, i as i32, &[]), 0);
    }
    let fired = k.faults().on_receive(
        MsgMatch::any().task(&t).name(set).nth(2),
        FaultAction::DestroyName(t.clone(), set),
    );
    assert_eq!(expect_msg(&t, set).id(), 0);
    assert_eq!(fired.fired(), 0);
    assert_eq!(expect_msg(&t, set).id(), 2, "set order: a's queue first");
    assert_eq!(fired.fired(), 1);
    // The set is gone after the second receive: the drain ends with an error, not a hang.
    assert_eq!(poll(&t, set).0, MACH_RCV_INVALID_NAME);
    // Its members are plain ports again, their messages intact.
    assert_eq!(t.port_status(a).unwrap().pset, 0);
    assert_eq!(expect_msg(&t, b).id(), 1);
    assert_eq!(expect_msg(&t, b).id(), 3);
    // The knote saw EOF (one-shot) and is gone after collection.
    let mut evs = [kevent_freebsd::zeroed(); 4];
    let n = kq.kevent(&[], &mut evs, ZERO).unwrap();
    assert!(evs[..n]
        .iter()
        .any(|e| e.flags & EV_EOF != 0 && e.flags & EV_ONESHOT != 0));
    drop(kq);
    t.port_close(a).unwrap();
    t.port_close(b).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_task_terminated_in_the_middle_of_a_drain_fails_the_next_receive() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let sender = k.task_create("sender", 2, 0, 0);
    let p = port_with_send(&t);
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    let _ = sender;
    for i in 0..4 {
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, i, &[]), 0);
    }
    let fired = k.faults().on_receive(
        MsgMatch::any().task(&t).nth(3),
        FaultAction::TerminateTask(t.clone()),
    );
    for i in 0..3 {
        assert_eq!(expect_msg(&t, p).id(), i);
    }
    assert_eq!(fired.fired(), 1);
    assert_eq!(poll(&t, p).0, MACH_RCV_INVALID_NAME);
    // The fourth message died with the port.
    k.assert_no_leaks();
}

#[test]
fn a_set_destroyed_while_its_knote_registers_yields_eof_not_a_stuck_knote() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let p = port_with_send(&t);
    t.port_move_member(p, set).unwrap();
    let kq = t.kqueue().unwrap();
    let fired = k
        .faults()
        .on_knote_register(Some(&t), FaultAction::DestroyName(t.clone(), set));
    // The registration itself succeeds (the set was valid when looked up).
    kq.kevent(&[kev(set, EV_ADD | EV_CLEAR)], &mut [], None)
        .unwrap();
    assert_eq!(fired.fired(), 1);
    assert_eq!(k.stats().knotes, 1);
    let mut evs = [kevent_freebsd::zeroed(); 2];
    let n = kq.kevent(&[], &mut evs, ZERO).unwrap();
    assert_eq!(n, 1);
    assert_eq!(evs[0].ident, set as usize);
    assert_eq!(evs[0].flags & (EV_EOF | EV_ONESHOT), EV_EOF | EV_ONESHOT);
    assert_eq!(evs[0].data, 0);
    // One-shot: delivered once and dropped.
    assert_eq!(k.stats().knotes, 0);
    assert_eq!(kq.kevent(&[], &mut evs, ZERO).unwrap(), 0);
    drop(kq);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_task_terminated_while_its_knote_registers_yields_eof() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let kq = t.kqueue().unwrap();
    // A hook for another task's kqueue does not fire here.
    let other = k.task_create("other", 2, 0, 0);
    let not_ours = k
        .faults()
        .on_knote_register(Some(&other), FaultAction::TerminateTask(other.clone()));
    let fired = k
        .faults()
        .on_knote_register(None, FaultAction::TerminateTask(t.clone()));
    kq.kevent(&[kev(set, EV_ADD)], &mut [], None).unwrap();
    assert_eq!((fired.fired(), not_ours.fired()), (1, 0));
    assert!(!t.is_active());
    let mut evs = [kevent_freebsd::zeroed(); 2];
    let n = kq.kevent(&[], &mut evs, ZERO).unwrap();
    assert_eq!(n, 1);
    assert_ne!(evs[0].flags & EV_EOF, 0);
    // Nothing left queued on a dead task's kqueue: a blocking kevent fails instead of hanging.
    assert_eq!(
        kq.kevent(&[], &mut evs, None).unwrap_err().raw_os_error(),
        Some(libc_ebadf())
    );
    k.faults().clear();
    drop(kq);
    k.assert_no_leaks();
}

fn libc_ebadf() -> i32 {
    9 // EBADF on every supported system
}

#[test]
fn a_closure_action_runs_unlocked_and_may_call_the_kernel() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let ran = Arc::new(AtomicBool::new(false));
    let (t2, ran2) = (t.clone(), ran.clone());
    let fired = k.faults().on_deliver(
        MsgMatch::any().id(1),
        FaultAction::call(move || {
            // Calling into the kernel from the action would deadlock if it ran under the lock.
            assert_eq!(
                send(&t2, p, MACH_MSG_TYPE_COPY_SEND, 2, &[]),
                MACH_MSG_SUCCESS
            );
            ran2.store(true, Ordering::SeqCst);
        }),
    );
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_MSG_SUCCESS
    );
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(fired.fired(), 1);
    assert_eq!(expect_msg(&t, p).id(), 1);
    assert_eq!(expect_msg(&t, p).id(), 2);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn nth_counts_only_matching_events_and_hooks_fire_once() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let victim = port_with_send(&t);
    let fired = k.faults().on_deliver(
        MsgMatch::any().id(9).nth(2),
        FaultAction::CloseName(t.clone(), victim),
    );
    for id in [9, 8, 8] {
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, id, &[]), 0);
    }
    assert_eq!(fired.fired(), 0);
    assert!(t.port_type(victim).is_ok());
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 9, &[]), 0);
    assert_eq!(fired.fired(), 1);
    assert_eq!(t.port_type(victim), Err(KERN_INVALID_NAME));
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 9, &[]), 0);
    assert_eq!(fired.fired(), 1, "one-shot");
    for _ in 0..5 {
        expect_msg(&t, p);
    }
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_blocked_receiver_handed_a_message_still_fires_receive_hooks() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let victim = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let fired = k.faults().on_receive(
        MsgMatch::any().name(p),
        FaultAction::DestroyName(t.clone(), victim),
    );
    let rt = t.clone();
    let receiver = std::thread::spawn(move || recv_opt(&rt, p, MACH_RCV_TIMEOUT, 256, 20_000).0);
    wait_blocked(&k, 1);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3, &[]), 0);
    assert_eq!(receiver.join().unwrap(), MACH_MSG_SUCCESS);
    assert_eq!(fired.fired(), 1);
    assert_eq!(t.port_type(victim), Err(KERN_INVALID_NAME));
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}
