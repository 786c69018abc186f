//! Tasks: termination (rights destroyed, notifications, kqueues, blocked threads, later calls)
//! and the calling thread's current task.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, Task};
use std::time::{Duration, Instant};

fn wait_blocked(k: &Kernel, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while k.blocked_threads() < n {
        assert!(Instant::now() < deadline, "threads never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn killing_a_server_turns_client_rights_into_dead_names_with_notifications() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let _p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let n = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    client
        .port_request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, n, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .unwrap();
    assert_eq!(send(&client, s, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    server.terminate().unwrap();
    assert!(!server.is_active());
    assert_eq!(k.stats().tasks, 1);
    assert_eq!(client.port_type(s), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(expect_msg(&client, n).id(), MACH_NOTIFY_DEAD_NAME);
    assert_eq!(
        send(&client, s, MACH_MSG_TYPE_COPY_SEND, 2, &[]),
        MACH_SEND_INVALID_DEST
    );
    // The service is gone with its port.
    assert_eq!(
        k.bootstrap().look_up(&client, "svc"),
        Err(BOOTSTRAP_UNKNOWN_SERVICE)
    );
    client
        .port_mod_refs(s, MACH_PORT_RIGHT_DEAD_NAME, -2)
        .unwrap();
    client.port_close(n).unwrap();
    k.assert_no_leaks();
}

#[test]
fn killing_a_server_with_an_unanswered_request_sends_send_once_to_the_reply_port() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let reply = client.reply_port();
    // One request received (the server holds the reply right), one still queued.
    for id in [1, 2] {
        let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
            .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
            .id(id)
            .build();
        assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    }
    let got = expect_msg(&server, p);
    assert_eq!(server.port_type(got.remote()), Ok(MACH_PORT_TYPE_SEND_ONCE));
    server.terminate().unwrap();
    for _ in 0..2 {
        let m = expect_msg(&client, reply);
        assert_eq!(m.id(), MACH_NOTIFY_SEND_ONCE);
        assert_eq!(m.size(), 24);
    }
    expect_empty(&client, reply);
    client.port_close(reply).unwrap();
    client.port_deallocate(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn killing_a_client_fires_no_senders_at_the_server() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let _s = k.bootstrap().look_up(&client, "svc").unwrap();
    server
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            p,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    client.terminate().unwrap();
    assert_eq!(expect_msg(&server, p).id(), MACH_NOTIFY_NO_SENDERS);
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn termination_destroys_queued_messages_and_the_rights_inside_them() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let _p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    // A receive right travels to the server inside a queued message.
    let inner = port_with_send(&client);
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .port(inner, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    assert_eq!(k.stats().queued_messages, 1);
    server.terminate().unwrap();
    assert_eq!(k.stats().queued_messages, 0);
    assert_eq!(
        k.stats().ports,
        0,
        "the port in transit died with the message"
    );
    assert_eq!(client.port_type(inner), Ok(MACH_PORT_TYPE_DEAD_NAME));
    client.port_deallocate(inner).unwrap();
    client.port_deallocate(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn calls_on_a_terminated_task_fail() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    t.terminate().unwrap();
    assert_eq!(t.terminate(), Err(KERN_INVALID_TASK));
    assert_eq!(
        t.port_allocate(MACH_PORT_RIGHT_RECEIVE),
        Err(KERN_INVALID_TASK)
    );
    assert_eq!(t.reply_port(), 0);
    assert_eq!(t.port_deallocate(p), Err(KERN_INVALID_TASK));
    assert_eq!(t.port_destroy(p), Err(KERN_INVALID_TASK));
    assert_eq!(t.port_close(p), Err(KERN_INVALID_TASK));
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_SEND, 1),
        Err(KERN_INVALID_TASK)
    );
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_INVALID_TASK)
    );
    assert_eq!(t.port_move_member(p, 0), Err(KERN_INVALID_TASK));
    assert_eq!(t.port_type(p), Err(KERN_INVALID_TASK));
    assert_eq!(
        t.port_get_refs(p, MACH_PORT_RIGHT_SEND),
        Err(KERN_INVALID_TASK)
    );
    assert_eq!(
        t.port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            p,
            MACH_MSG_TYPE_MAKE_SEND_ONCE
        ),
        Err(KERN_INVALID_TASK)
    );
    assert_eq!(t.kernel_send_right(p).unwrap_err(), KERN_INVALID_TASK);
    assert_eq!(k.bootstrap().check_in(&t, "x"), Err(KERN_INVALID_TASK));
    assert_eq!(
        send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_SEND_INVALID_DEST
    );
    assert_eq!(
        recv_opt(&t, p, MACH_RCV_TIMEOUT, 64, 0).0,
        MACH_RCV_INVALID_NAME
    );
    assert!(t.kqueue().is_err());
    assert!(k.task(t.id()).is_none());
    k.assert_no_leaks();
}

#[test]
fn blocked_threads_in_a_terminated_task_wake_with_errors() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let victim = k.task_create("victim", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&victim, "svc").unwrap();
    for i in 0..5 {
        assert_eq!(try_send(&victim, s, MACH_MSG_TYPE_COPY_SEND, i), 0);
    }
    let own = victim.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let sender = std::thread::spawn({
        let v = victim.clone();
        move || send(&v, s, MACH_MSG_TYPE_COPY_SEND, 9, &[])
    });
    let receiver = std::thread::spawn({
        let v = victim.clone();
        move || recv_opt(&v, own, 0, 64, 0).0
    });
    wait_blocked(&k, 2);
    victim.terminate().unwrap();
    assert_eq!(sender.join().unwrap(), MACH_SEND_INTERRUPTED);
    assert_eq!(receiver.join().unwrap(), MACH_RCV_PORT_DIED);
    assert_eq!(
        server.port_status(p).unwrap().msgcount,
        5,
        "the interrupted message was not queued"
    );
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn current_task_follows_enter_and_set_current() {
    let k = Kernel::new();
    let a = k.task_create("a", 10, 0, 0);
    let b = k.task_create("b", 11, 0, 0);
    assert_eq!(a.name(), "a");
    let before = Task::current();
    {
        let _g = a.enter();
        assert_eq!(Task::current(), a);
        {
            let _g = b.enter();
            assert_eq!(Task::current(), b);
        }
        assert_eq!(Task::current(), a);
    }
    assert_eq!(Task::current(), before);
    assert_eq!(b.set_current(), None);
    assert_eq!(a.set_current(), Some(b.clone()));
    assert_eq!(Task::clear_current(), Some(a.clone()));
    // Other threads have their own current task: the global kernel's default task.
    let other = std::thread::spawn(|| Task::current().id()).join().unwrap();
    assert_eq!(other, Kernel::global().default_task().id());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    assert_eq!(Kernel::global().default_task().audit_token().val[5], pid);
    k.assert_no_leaks();
}

#[test]
fn audit_token_carries_the_configured_identity() {
    let k = Kernel::new();
    let t = k.task_create("t", 321, 1000, 2000);
    assert_eq!(t.audit_token().val, [0, 1000, 2000, 1000, 2000, 321, 0, 0]);
    assert_eq!(k.task(t.id()).unwrap(), t);
    k.assert_no_leaks();
}

/// A terminated task's record is freed (issue 17: the soak's resident memory grew by about 1 KB
/// per task that ever ran); its handle still answers, as for any terminated task.
#[test]
fn terminated_tasks_leave_no_record_behind() {
    let k = Kernel::new();
    let keeper = k.task_create("keeper", 1, 0, 0);
    for i in 0..100 {
        let t = k.task_create("short-lived", 100 + i, 501, 20);
        let port = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
        t.port_insert_right(port, port, MACH_MSG_TYPE_MAKE_SEND)
            .unwrap();
        assert_eq!(k.task_records(), 2);
        assert_eq!(t.audit_token().val[5], 100 + i, "pid while alive");
        t.terminate().unwrap();
        assert_eq!(k.task_records(), 1, "the record went with the task");
        assert!(!t.is_active());
        assert_eq!(t.terminate(), Err(KERN_INVALID_TASK));
        assert_eq!(
            t.port_allocate(MACH_PORT_RIGHT_RECEIVE),
            Err(KERN_INVALID_TASK)
        );
        assert_eq!(t.name(), "");
        assert_eq!(t.audit_token().val, [0; 8]);
    }
    assert_eq!(k.stats().tasks, 1);
    assert_eq!(keeper.name(), "keeper");
    k.assert_no_leaks();
}
