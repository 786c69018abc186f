//! Port queues: the limit of 5 and what bypasses it, blocking and timed sends, pseudo-receive,
//! receive timeouts and wake-ups, FIFO order, and a multi-thread stress run.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, KernelConfig, Name, Task};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fill(t: &Task, p: Name) {
    for i in 0..5 {
        assert_eq!(try_send(t, p, MACH_MSG_TYPE_COPY_SEND, i), MACH_MSG_SUCCESS);
    }
}

fn wait_blocked(k: &Kernel, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while k.blocked_threads() < n {
        assert!(Instant::now() < deadline, "threads never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn queue_limit_is_five_and_a_zero_timeout_send_times_out_at_once() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(t.port_status(p).unwrap().qlimit, 5);
    fill(&t, p);
    let start = Instant::now();
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 9),
        MACH_SEND_TIMED_OUT
    );
    assert!(start.elapsed() < Duration::from_millis(100));
    assert_eq!(t.port_status(p).unwrap().msgcount, 5);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn the_default_limit_comes_from_the_config() {
    let k = Kernel::with_config(KernelConfig {
        default_qlimit: 2,
        ..Default::default()
    });
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1), 0);
    assert_eq!(try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 2), 0);
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 3),
        MACH_SEND_TIMED_OUT
    );
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_timed_send_waits_for_its_timeout() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    fill(&t, p);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).build();
    let start = Instant::now();
    assert_eq!(
        send_buf(&t, &mut m, MACH_SEND_TIMEOUT, 40),
        MACH_SEND_TIMED_OUT
    );
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(t.port_status(p).unwrap().blocked_senders, 0);
    // The pseudo-received COPY_SEND came back as one more uref: destroy it.
    destroy(&t, &mut m);
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_timed_out_message_is_returned_to_the_sender_with_its_rights() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    fill(&client, s);
    let reply = client.reply_port();
    let moved = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_MOVE_SEND)
        .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .port(moved, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    assert_eq!(
        send_buf(&client, &mut m, MACH_SEND_TIMEOUT, 0),
        MACH_SEND_TIMED_OUT
    );
    // Pseudo-receive: remote = the destination (as PORT_SEND), local = the reply right.
    assert_eq!(
        m.bits() & !MACH_MSGH_BITS_COMPLEX,
        MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND_ONCE)
    );
    assert_eq!(m.remote(), s, "the moved send uref is back under its name");
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(1));
    assert_eq!(client.port_type(m.local()), Ok(MACH_PORT_TYPE_SEND_ONCE));
    assert_eq!(
        client.port_type(m.u32_at(28)),
        Ok(MACH_PORT_TYPE_RECEIVE),
        "the receive right is back"
    );
    assert_eq!(m.bytes()[28 + 10] as u32, MACH_MSG_TYPE_PORT_RECEIVE);
    // The caller owns the returned rights; the unused send-once right goes to its port.
    client.port_deallocate(m.local()).unwrap();
    assert_eq!(expect_msg(&client, reply).id(), MACH_NOTIFY_SEND_ONCE);
    client.port_close(m.u32_at(28)).unwrap();
    client.port_close(reply).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_once_destinations_bypass_the_limit() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    fill(&t, p);
    for i in 0..10 {
        assert_eq!(
            try_send(&t, p, MACH_MSG_TYPE_MAKE_SEND_ONCE, 100 + i),
            MACH_MSG_SUCCESS
        );
    }
    assert_eq!(t.port_status(p).unwrap().msgcount, 15);
    assert_eq!(
        try_send(&t, p, MACH_MSG_TYPE_COPY_SEND, 9),
        MACH_SEND_TIMED_OUT
    );
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn kernel_messages_bypass_the_limit() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    fill(&t, p);
    let kr = t.kernel_send_right(p).unwrap();
    assert!(kr.is_alive());
    for i in 0..10 {
        kr.send(i, &i.to_le_bytes()).unwrap();
    }
    assert_eq!(kr.send(0, &[1, 2, 3]), Err(MACH_SEND_MSG_TOO_SMALL));
    assert_eq!(t.port_status(p).unwrap().msgcount, 15);
    drop(kr);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_blocked_sender_proceeds_when_a_receive_makes_room() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    fill(&t, p);
    let sender = std::thread::spawn({
        let t = t.clone();
        move || send(&t, p, MACH_MSG_TYPE_COPY_SEND, 99, &[])
    });
    wait_blocked(&k, 1);
    assert_eq!(t.port_status(p).unwrap().blocked_senders, 1);
    assert_eq!(expect_msg(&t, p).id(), 0);
    assert_eq!(sender.join().unwrap(), MACH_MSG_SUCCESS);
    let ids: Vec<i32> = (0..5).map(|_| expect_msg(&t, p).id()).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 99]);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn each_receive_wakes_exactly_one_blocked_sender() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    fill(&t, p);
    let done = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..3)
        .map(|i| {
            let (t, done) = (t.clone(), done.clone());
            std::thread::spawn(move || {
                let mr = send(&t, p, MACH_MSG_TYPE_COPY_SEND, 100 + i, &[]);
                done.fetch_add(1, Ordering::SeqCst);
                mr
            })
        })
        .collect();
    wait_blocked(&k, 3);
    expect_msg(&t, p);
    let deadline = Instant::now() + Duration::from_secs(5);
    while done.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "one receive, one sender released"
    );
    assert_eq!(t.port_status(p).unwrap().blocked_senders, 2);
    expect_msg(&t, p);
    expect_msg(&t, p);
    for s in senders {
        assert_eq!(s.join().unwrap(), MACH_MSG_SUCCESS);
    }
    assert_eq!(drain_count(&t, p), 5);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

fn drain_count(t: &Task, p: Name) -> usize {
    let mut n = 0;
    while poll(t, p).0 == MACH_MSG_SUCCESS {
        n += 1;
    }
    n
}

#[test]
fn a_sender_blocked_on_a_port_that_dies_succeeds_and_its_message_is_destroyed() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    fill(&client, s);
    let reply = client.reply_port();
    let sender = std::thread::spawn({
        let client = client.clone();
        move || {
            let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
                .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
                .build();
            send_buf(&client, &mut m, 0, 0)
        }
    });
    wait_blocked(&k, 1);
    server.port_close(p).unwrap();
    assert_eq!(sender.join().unwrap(), MACH_MSG_SUCCESS);
    // The destroyed message's reply right produced a send-once notification.
    assert_eq!(expect_msg(&client, reply).id(), MACH_NOTIFY_SEND_ONCE);
    client.port_close(reply).unwrap();
    client.port_deallocate(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn receive_with_zero_timeout_polls_and_a_timeout_waits() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let start = Instant::now();
    assert_eq!(
        recv_opt(&t, p, MACH_RCV_TIMEOUT, 64, 0).0,
        MACH_RCV_TIMED_OUT
    );
    assert!(start.elapsed() < Duration::from_millis(100));
    let start = Instant::now();
    assert_eq!(
        recv_opt(&t, p, MACH_RCV_TIMEOUT, 64, 30).0,
        MACH_RCV_TIMED_OUT
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(k.blocked_threads(), 0);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_blocked_receiver_wakes_with_a_message() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let rx = std::thread::spawn({
        let t = t.clone();
        move || {
            let (mr, m) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 256, 10_000);
            (mr, m.id(), m.trailer_u32(8))
        }
    });
    wait_blocked(&k, 1);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 5, &[]), 0);
    let (mr, id, _) = rx.join().unwrap();
    assert_eq!((mr, id), (MACH_MSG_SUCCESS, 5));
    assert_eq!(t.port_status(p).unwrap().seqno, 1);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn traffic_on_other_ports_does_not_wake_a_blocked_receiver_or_sender() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let idle = port_with_send(&t);
    let full = port_with_send(&t);
    let busy = port_with_send(&t);
    fill(&t, full);
    let rx = std::thread::spawn({
        let t = t.clone();
        move || recv_opt(&t, idle, MACH_RCV_TIMEOUT, 256, 10_000).0
    });
    let tx = std::thread::spawn({
        let t = t.clone();
        move || {
            let mut buf = MsgBuilder::new(full, MACH_MSG_TYPE_COPY_SEND).id(6).build();
            send_buf(&t, &mut buf, MACH_SEND_TIMEOUT, 10_000)
        }
    });
    wait_blocked(&k, 2);
    let before = k.msg_waiter_wakeups();
    for i in 0..200 {
        assert_eq!(
            send(&t, busy, MACH_MSG_TYPE_COPY_SEND, i, &[]),
            MACH_MSG_SUCCESS
        );
        assert_eq!(recv_opt(&t, busy, 0, 256, 0).0, MACH_MSG_SUCCESS);
    }
    // A woken thread that finds nothing for it goes back to sleep, so it is not blocked-count
    // that tells: the wake-ups are counted. Waking every blocked thread on every unlock would
    // make this 400 × 2; allow a few spurious futex returns.
    let woken = k.msg_waiter_wakeups() - before;
    assert!(woken < 10, "{woken} wake-ups from traffic on another port");
    assert_eq!(k.blocked_threads(), 2);
    // Each still wakes for its own event.
    assert_eq!(
        send(&t, idle, MACH_MSG_TYPE_COPY_SEND, 7, &[]),
        MACH_MSG_SUCCESS
    );
    assert_eq!(rx.join().unwrap(), MACH_MSG_SUCCESS);
    assert_eq!(recv_opt(&t, full, 0, 256, 0).0, MACH_MSG_SUCCESS);
    assert_eq!(tx.join().unwrap(), MACH_MSG_SUCCESS);
    for p in [idle, full, busy] {
        t.port_close(p).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn a_blocked_receiver_too_small_for_the_message_gets_too_large_and_it_stays_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let rx = std::thread::spawn({
        let t = t.clone();
        move || {
            let (mr, m) = recv_opt(&t, p, MACH_RCV_LARGE, 32, 0);
            (mr, m.size())
        }
    });
    wait_blocked(&k, 1);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 5, &[0; 100]), 0);
    assert_eq!(rx.join().unwrap(), (MACH_RCV_TOO_LARGE, 124));
    assert_eq!(expect_msg(&t, p).id(), 5);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_receiver_blocked_on_a_port_or_set_that_dies_gets_port_died() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let on_port = std::thread::spawn({
        let t = t.clone();
        move || recv_opt(&t, p, 0, 64, 0).0
    });
    let on_set = std::thread::spawn({
        let t = t.clone();
        move || recv_opt(&t, s, 0, 64, 0).0
    });
    wait_blocked(&k, 2);
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    assert_eq!(on_port.join().unwrap(), MACH_RCV_PORT_DIED);
    assert_eq!(on_set.join().unwrap(), MACH_RCV_PORT_DIED);
    k.assert_no_leaks();
}

#[test]
fn messages_are_fifo_per_port() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    for round in 0..4 {
        for i in 0..5 {
            assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, round * 10 + i, &[]), 0);
        }
        for i in 0..5 {
            let m = expect_msg(&t, p);
            assert_eq!(m.id(), round * 10 + i);
            assert_eq!(m.trailer_u32(8), 0, "no seqno without a trailer request");
        }
    }
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn stress_many_senders_and_receivers_keep_counts_and_per_port_order() {
    const PORTS: usize = 4;
    const SENDERS_PER_PORT: usize = 3;
    const PER_SENDER: u32 = 1000;
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let set = server.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let mut ports = Vec::new();
    for i in 0..PORTS {
        let p = k.bootstrap().check_in(&server, &format!("svc{i}")).unwrap();
        server.port_move_member(p, set).unwrap();
        ports.push(p);
    }
    let mut senders = Vec::new();
    for (pi, _) in ports.iter().enumerate() {
        for si in 0..SENDERS_PER_PORT {
            let k = k.clone();
            senders.push(std::thread::spawn(move || {
                let c = k.task_create("client", 100 + si as u32, 0, 0);
                let s = k.bootstrap().look_up(&c, &format!("svc{pi}")).unwrap();
                for seq in 0..PER_SENDER {
                    let body = [si as u32, seq].map(u32::to_le_bytes).concat();
                    // Blocking sends, some with a timeout retried.
                    loop {
                        let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
                            .id(pi as i32)
                            .body(&body)
                            .build();
                        let opt = if seq % 3 == 0 { MACH_SEND_TIMEOUT } else { 0 };
                        match send_buf(&c, &mut m, opt, 1) {
                            MACH_MSG_SUCCESS => break,
                            MACH_SEND_TIMED_OUT => destroy(&c, &mut m),
                            other => panic!("send failed {other:#x}"),
                        }
                    }
                }
                c.port_deallocate(s).unwrap();
                c.terminate().unwrap();
            }));
        }
    }
    let total = PORTS * SENDERS_PER_PORT * PER_SENDER as usize;
    let received = Arc::new(AtomicUsize::new(0));
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let (server, received) = (server.clone(), received.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let seqno = MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SEQNO);
                while received.load(Ordering::SeqCst) < total {
                    let (mr, m) = recv_opt(
                        &server,
                        set,
                        MACH_RCV_TIMEOUT | MACH_RCV_LARGE | seqno,
                        256,
                        20,
                    );
                    match mr {
                        MACH_MSG_SUCCESS => {
                            received.fetch_add(1, Ordering::SeqCst);
                            got.push((
                                m.local(),
                                m.id(),
                                m.u32_at(24),
                                m.u32_at(28),
                                m.trailer_u32(8),
                            ));
                        }
                        MACH_RCV_TIMED_OUT => {}
                        other => panic!("receive failed {other:#x}"),
                    }
                }
                got
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.join().unwrap());
    }
    assert_eq!(all.len(), total);
    // Per (port, sender): every sequence number exactly once and, ordered by the port's
    // sequence numbers, in send order.
    for (pi, p) in ports.iter().enumerate() {
        assert!(all.iter().filter(|m| m.0 == *p).all(|m| m.1 == pi as i32));
        for si in 0..SENDERS_PER_PORT as u32 {
            let mut msgs: Vec<_> = all.iter().filter(|m| m.0 == *p && m.2 == si).collect();
            msgs.sort_by_key(|m| m.4);
            let seqs: Vec<u32> = msgs.iter().map(|m| m.3).collect();
            assert_eq!(
                seqs,
                (0..PER_SENDER).collect::<Vec<_>>(),
                "port {p} sender {si}"
            );
        }
    }
    server.terminate().unwrap();
    k.assert_no_leaks();
}

/// A sender granted room by a receive may hand its message straight to a receiver blocked in
/// `mach_msg`, so the queue does not grow and no later receive dequeues: the room it was granted
/// must pass on to the next blocked sender, or the other blocked senders wait forever beside an
/// empty queue.
#[test]
fn blocked_senders_are_all_released_when_messages_go_straight_to_a_blocked_receiver() {
    const SENDERS: usize = 64;
    const PER_SENDER: usize = 40;
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let received = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let (t, received) = (t.clone(), received.clone());
        std::thread::spawn(move || {
            let total = SENDERS * PER_SENDER;
            while received.load(Ordering::SeqCst) < total {
                // A blocking receive (bounded only to turn a hang into a failure): messages
                // are handed to this thread directly whenever it is parked.
                let (mr, mut buf) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 256, 10_000);
                assert_eq!(
                    mr, MACH_MSG_SUCCESS,
                    "receive stalled: a sender was never released"
                );
                destroy(&t, &mut buf);
                // Pause now and then so the queue fills and senders block.
                if received.fetch_add(1, Ordering::SeqCst) % 7 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };
    let senders: Vec<_> = (0..SENDERS)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                for j in 0..PER_SENDER {
                    let mr = send(&t, p, MACH_MSG_TYPE_COPY_SEND, (i * 1000 + j) as i32, &[]);
                    assert_eq!(mr, MACH_MSG_SUCCESS);
                }
            })
        })
        .collect();
    receiver.join().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(received.load(Ordering::SeqCst), SENDERS * PER_SENDER);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

/// The same, in the shape of MIG RPCs: 64 client threads each send a request (a send bounded
/// only to turn a hang into a failure, `MAKE_SEND_ONCE` reply right) and then receive the reply,
/// while one server thread receives with a timeout and replies on the send-once right.
#[test]
fn sixty_four_rpc_clients_against_a_blocking_server_all_complete() {
    const CLIENTS: usize = 64;
    const CALLS: usize = 30;
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let service = port_with_send(&server);
    let done = Arc::new(AtomicUsize::new(0));
    let server_thread = {
        let (server, done) = (server.clone(), done.clone());
        std::thread::spawn(move || {
            let mut served = 0;
            while done.load(Ordering::SeqCst) < CLIENTS {
                let (mr, buf) =
                    recv_opt(&server, service, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 256, 50);
                if mr == MACH_RCV_TIMED_OUT {
                    continue;
                }
                assert_eq!(mr, MACH_MSG_SUCCESS);
                let reply_to = buf.header().msgh_remote_port;
                let mut reply = MsgBuilder::new(reply_to, MACH_MSG_TYPE_MOVE_SEND_ONCE)
                    .id(buf.id() + 100)
                    .build();
                assert_eq!(send_buf(&server, &mut reply, 0, 0), MACH_MSG_SUCCESS);
                served += 1;
            }
            served
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let k = k.clone();
            let done = done.clone();
            let server = server.clone();
            std::thread::spawn(move || {
                let t = k.task_create("client", 100 + i as u32, 501, 20);
                let name = {
                    // A send right to the service in the client's task.
                    let kr = k.bootstrap().register(&server, &format!("svc{i}"), service);
                    assert_eq!(kr, Ok(()));
                    k.bootstrap().look_up(&t, &format!("svc{i}")).unwrap()
                };
                k.bootstrap().unregister(&format!("svc{i}")).unwrap();
                let reply = t.reply_port();
                for j in 0..CALLS {
                    let mut buf = MsgBuilder::new(name, MACH_MSG_TYPE_COPY_SEND)
                        .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
                        .id(1000 + j as i32)
                        .build();
                    let len = buf.len as u32;
                    let mut rcv = Buf::zeroed(256);
                    // SAFETY: both buffers valid and exclusively borrowed; the send reads `len`
                    // bytes of `buf`, the receive writes at most 256 bytes of `rcv`.
                    let mr = unsafe {
                        t.mach_msg(
                            buf.ptr(),
                            MACH_SEND_MSG | MACH_SEND_TIMEOUT,
                            len,
                            0,
                            0,
                            10_000,
                            0,
                        )
                    };
                    assert_eq!(mr, MACH_MSG_SUCCESS, "request send stalled");
                    // SAFETY: as above.
                    let mr = unsafe {
                        t.mach_msg(
                            rcv.ptr(),
                            MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                            0,
                            256,
                            reply,
                            10_000,
                            0,
                        )
                    };
                    assert_eq!(mr, MACH_MSG_SUCCESS, "reply never came");
                    assert_eq!(rcv.id(), 1100 + j as i32);
                }
                t.terminate().unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server_thread.join().unwrap(), CLIENTS * CALLS);
    server.port_close(service).unwrap();
    k.assert_no_leaks();
}

/// Blocked senders that send once and stop (no later sends to keep the queue moving), a full
/// queue, and a receiver that parks in `mach_msg` as soon as the queue is empty: every sender
/// must still be released, whether its message went through the queue or straight to the
/// parked receiver.
#[test]
fn one_shot_blocked_senders_are_released_by_a_parked_receiver() {
    for _ in 0..50 {
        let k = Kernel::new();
        let t = k.task_create("t", 1, 0, 0);
        let p = port_with_send(&t);
        fill(&t, p);
        let senders: Vec<_> = (0..6)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 100 + i, &[]), 0);
                })
            })
            .collect();
        wait_blocked(&k, 6);
        for n in 0..11 {
            let (mr, mut buf) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 256, 5_000);
            assert_eq!(
                mr, MACH_MSG_SUCCESS,
                "message {n}: a blocked sender was never released"
            );
            destroy(&t, &mut buf);
        }
        for s in senders {
            s.join().unwrap();
        }
        t.port_close(p).unwrap();
        k.assert_no_leaks();
    }
}
