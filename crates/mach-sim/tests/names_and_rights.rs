//! Name tables and rights: allocation, user references, send-once and dead names, port sets,
//! and the kern_return of each misuse.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, KernelConfig, SetCloseSemantics};

#[test]
fn names_start_at_16_and_the_lowest_free_name_is_reused() {
    let k = Kernel::new();
    let t = k.task_create("t", 100, 501, 20);
    let a = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let b = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let c = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!((a, b, c), (16, 17, 18));
    t.port_close(a).unwrap();
    t.port_close(b).unwrap();
    // Lowest free first, as NextBSD's fd allocator does.
    assert_eq!(t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap(), 16);
    assert_eq!(t.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap(), 17);
    assert_eq!(t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap(), 19);
    for n in [16, 17, 18, 19] {
        t.port_destroy(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn each_task_has_its_own_name_table() {
    let k = Kernel::new();
    let a = k.task_create("a", 1, 0, 0);
    let b = k.task_create("b", 2, 0, 0);
    let pa = a.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let pb = b.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    assert_eq!((pa, pb), (16, 16));
    a.port_close(pa).unwrap();
    assert_eq!(b.port_type(pb), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(a.port_type(pa), Err(KERN_INVALID_NAME));
    b.port_close(pb).unwrap();
    k.assert_no_leaks();
}

#[test]
fn allocate_rejects_unknown_right_kinds() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    assert_eq!(
        t.port_allocate(MACH_PORT_RIGHT_SEND),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_allocate(MACH_PORT_RIGHT_SEND_ONCE),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_allocate(MACH_PORT_RIGHT_NUMBER),
        Err(KERN_INVALID_VALUE)
    );
    let d = t.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap();
    assert_eq!(t.port_type(d), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(t.port_get_refs(d, MACH_PORT_RIGHT_DEAD_NAME), Ok(1));
    t.port_deallocate(d).unwrap();
    assert_eq!(t.port_type(d), Err(KERN_INVALID_NAME));
    k.assert_no_leaks();
}

#[test]
fn send_and_receive_share_a_name_and_count_user_references() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_SEND_RECEIVE));
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    t.port_insert_right(p, p, MACH_MSG_TYPE_COPY_SEND).unwrap();
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(3));
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_RECEIVE), Ok(1));
    assert_eq!(t.port_status(p).unwrap().mscount, 2);
    // One send right exists however many urefs the name has.
    assert_eq!(t.port_status(p).unwrap().srights, 1);
    assert_eq!(k.stats().rights, 2);
    t.port_deallocate(p).unwrap();
    t.port_deallocate(p).unwrap();
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
    t.port_deallocate(p).unwrap();
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    // The no-senders rules see the last send right go: nothing armed, nothing queued.
    assert_eq!(t.port_status(p).unwrap().srights, 0);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_once_rights_get_names_of_their_own() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // Move a send-once right to ourselves through a message.
    let mut buf = MsgBuilder::new(p, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .reply(p, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .build();
    assert_eq!(send_buf(&t, &mut buf, 0, 0), 0);
    let m = expect_msg(&t, p);
    let so = m.remote();
    assert_ne!(so, p);
    assert_eq!(t.port_type(so), Ok(MACH_PORT_TYPE_SEND_ONCE));
    assert_eq!(t.port_get_refs(so, MACH_PORT_RIGHT_SEND_ONCE), Ok(1));
    // Inserting a send-once right under the receive right's name is impossible.
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND_ONCE),
        Err(KERN_NAME_EXISTS)
    );
    // Deallocating a send-once right destroys it: MACH_NOTIFY_SEND_ONCE to its port.
    t.port_deallocate(so).unwrap();
    assert_eq!(t.port_type(so), Err(KERN_INVALID_NAME));
    let n = expect_msg(&t, p);
    assert_eq!(n.id(), MACH_NOTIFY_SEND_ONCE);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn insert_right_rules_and_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    // NextBSD: name != poly is MACH_SEND_INVALID_DEST.
    assert_eq!(
        t.port_insert_right(q, p, MACH_MSG_TYPE_MAKE_SEND),
        Err(MACH_SEND_INVALID_DEST)
    );
    assert_eq!(
        t.port_insert_right(0, 0, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_insert_right(99, 99, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_INVALID_NAME)
    );
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_COPY_SEND),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_MOVE_SEND),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_COPY_RECEIVE),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(t.port_insert_right(p, p, 99), Err(KERN_INVALID_VALUE));
    assert_eq!(
        t.port_insert_right(s, s, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_INVALID_RIGHT)
    );
    // Nothing changed by the failures.
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(t.port_status(p).unwrap().mscount, 0);
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    t.port_insert_right(p, p, MACH_MSG_TYPE_MOVE_SEND).unwrap();
    t.port_insert_right(p, p, MACH_MSG_TYPE_MOVE_RECEIVE)
        .unwrap();
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_SEND_RECEIVE));
    for n in [p, q, s] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn deallocate_rules_and_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(t.port_deallocate(p), Err(KERN_INVALID_RIGHT));
    assert_eq!(t.port_deallocate(s), Err(KERN_INVALID_RIGHT));
    assert_eq!(t.port_deallocate(77), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_deallocate(MACH_PORT_NULL), Ok(()));
    assert_eq!(t.port_deallocate(MACH_PORT_DEAD), Ok(()));
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    t.port_close(p).unwrap();
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn mod_refs_rules_and_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_NUMBER, 1),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_mod_refs(55, MACH_PORT_RIGHT_SEND, 1),
        Err(KERN_INVALID_NAME)
    );
    assert_eq!(t.port_mod_refs(0, MACH_PORT_RIGHT_SEND, 1), Ok(()));
    assert_eq!(
        t.port_mod_refs(0, MACH_PORT_RIGHT_RECEIVE, -1),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_SEND_ONCE, -1),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_PORT_SET, -1),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_DEAD_NAME, 1),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_mod_refs(s, MACH_PORT_RIGHT_SEND, 1),
        Err(KERN_INVALID_RIGHT)
    );
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, 1),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -2),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_mod_refs(s, MACH_PORT_RIGHT_PORT_SET, 1),
        Err(KERN_INVALID_VALUE)
    );
    // Send urefs: below zero is invalid, above the maximum overflows.
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_SEND, -2),
        Err(KERN_INVALID_VALUE)
    );
    t.port_mod_refs(p, MACH_PORT_RIGHT_SEND, 0xFFFE).unwrap();
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(0xFFFF));
    assert_eq!(
        t.port_mod_refs(p, MACH_PORT_RIGHT_SEND, 1),
        Err(KERN_UREFS_OVERFLOW)
    );
    assert_eq!(
        t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND),
        Err(KERN_UREFS_OVERFLOW)
    );
    t.port_mod_refs(p, MACH_PORT_RIGHT_SEND, -0xFFFF).unwrap();
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    // Delta 0 is a no-op; -1 on a set destroys it.
    t.port_mod_refs(s, MACH_PORT_RIGHT_PORT_SET, 0).unwrap();
    t.port_mod_refs(s, MACH_PORT_RIGHT_PORT_SET, -1).unwrap();
    assert_eq!(t.port_type(s), Err(KERN_INVALID_NAME));
    t.port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1).unwrap();
    assert_eq!(t.port_type(p), Err(KERN_INVALID_NAME));
    k.assert_no_leaks();
}

#[test]
fn destroying_a_receive_right_with_send_urefs_leaves_a_dead_name() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    t.port_mod_refs(p, MACH_PORT_RIGHT_RECEIVE, -1).unwrap();
    assert_eq!(k.stats().ports, 0);
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_DEAD_NAME), Ok(2));
    t.port_mod_refs(p, MACH_PORT_RIGHT_DEAD_NAME, -2).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_rights_to_a_dead_port_become_dead_names_with_their_urefs() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    assert_eq!(k.bootstrap().look_up(&client, "svc"), Ok(s));
    assert_eq!(k.bootstrap().look_up(&client, "svc"), Ok(s));
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(3));
    server.port_close(p).unwrap();
    assert_eq!(client.port_type(s), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_DEAD_NAME), Ok(3));
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(0));
    // A dead name cannot be a destination.
    assert_eq!(
        send(&client, s, MACH_MSG_TYPE_COPY_SEND, 1, &[]),
        MACH_SEND_INVALID_DEST
    );
    client
        .port_mod_refs(s, MACH_PORT_RIGHT_DEAD_NAME, -3)
        .unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_once_right_to_a_dead_port_becomes_a_dead_name() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // A send-once right to `q`, received on `p`.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .reply(q, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    let so = expect_msg(&t, p).remote();
    t.port_close(q).unwrap();
    assert_eq!(t.port_type(so), Ok(MACH_PORT_TYPE_DEAD_NAME));
    assert_eq!(t.port_get_refs(so, MACH_PORT_RIGHT_DEAD_NAME), Ok(1));
    t.port_deallocate(so).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn move_member_in_out_and_atomically_between_sets() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s1 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let s2 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(t.port_move_member(p, 0), Err(KERN_NOT_IN_SET));
    t.port_move_member(q, s1).unwrap();
    t.port_move_member(p, s1).unwrap();
    assert_eq!(t.port_set_members(s1), Ok(vec![q, p]));
    assert_eq!(t.port_status(p).unwrap().pset, s1);
    // Atomic move: out of s1, into s2, in one call.
    t.port_move_member(p, s2).unwrap();
    assert_eq!(t.port_set_members(s1), Ok(vec![q]));
    assert_eq!(t.port_set_members(s2), Ok(vec![p]));
    t.port_move_member(p, 0).unwrap();
    assert_eq!(t.port_set_members(s2), Ok(vec![]));
    assert_eq!(t.port_move_member(p, 0), Err(KERN_NOT_IN_SET));
    // Misuse.
    assert_eq!(t.port_move_member(s1, s2), Err(KERN_INVALID_RIGHT));
    assert_eq!(t.port_move_member(p, q), Err(KERN_INVALID_RIGHT));
    assert_eq!(t.port_move_member(99, s1), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_move_member(p, 99), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_set_members(p), Err(KERN_INVALID_RIGHT));
    for n in [p, q, s1, s2] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn only_a_receive_right_can_join_a_set() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    let set = client.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(client.port_move_member(s, set), Err(KERN_INVALID_RIGHT));
    assert_eq!(client.port_insert_member(s, set), Err(KERN_INVALID_RIGHT));
    client.port_deallocate(s).unwrap();
    client.port_close(set).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn insert_and_extract_member() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s1 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let s2 = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(t.port_extract_member(p, s1), Err(KERN_NOT_IN_SET));
    t.port_insert_member(p, s1).unwrap();
    assert_eq!(t.port_extract_member(p, s2), Err(KERN_NOT_IN_SET));
    // One set per port (NextBSD): inserting into another set moves it.
    t.port_insert_member(p, s2).unwrap();
    assert_eq!(t.port_set_members(s1), Ok(vec![]));
    t.port_extract_member(p, s2).unwrap();
    assert_eq!(t.port_set_members(s2), Ok(vec![]));
    assert_eq!(t.port_insert_member(p, 0), Err(KERN_INVALID_NAME));
    for n in [p, s1, s2] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn destroying_a_set_unlinks_its_members() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.port_move_member(p, s).unwrap();
    t.port_destroy(s).unwrap();
    assert_eq!(t.port_status(p).unwrap().pset, 0);
    assert_eq!(t.port_move_member(p, 0), Err(KERN_NOT_IN_SET));
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn destroy_removes_every_right_under_the_name() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    t.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND).unwrap();
    assert_eq!(t.port_destroy(p), Ok(()));
    assert_eq!(t.port_type(p), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_destroy(p), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_destroy(MACH_PORT_NULL), Ok(()));
    k.assert_no_leaks();
}

#[test]
fn close_destroys_receive_rights_and_sets_and_drops_other_entries() {
    let k = Kernel::with_config(KernelConfig {
        set_close: SetCloseSemantics::SilentOnClose,
        ..Default::default()
    });
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    // Closing a send-only name drops the entry (and its send right).
    client.port_close(s).unwrap();
    assert_eq!(client.port_type(s), Err(KERN_INVALID_NAME));
    assert_eq!(server.port_status(p).unwrap().srights, 0);
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    // Closing the receive right destroys the port: the client's right becomes a dead name.
    server.port_close(p).unwrap();
    assert_eq!(k.stats().ports, 0);
    assert_eq!(client.port_type(s), Ok(MACH_PORT_TYPE_DEAD_NAME));
    client.port_close(s).unwrap();
    let set = server.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    server.port_close(set).unwrap();
    assert_eq!(k.stats().port_sets, 0);
    assert_eq!(server.port_close(set), Err(KERN_INVALID_NAME));
    k.assert_no_leaks();
}

#[test]
fn port_type_and_get_refs_validate_their_arguments() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    assert_eq!(t.port_type(0), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_type(16), Err(KERN_INVALID_NAME));
    assert_eq!(t.port_get_refs(0, MACH_PORT_RIGHT_SEND), Ok(0));
    assert_eq!(
        t.port_get_refs(0, MACH_PORT_RIGHT_RECEIVE),
        Err(KERN_INVALID_VALUE)
    );
    assert_eq!(
        t.port_get_refs(16, MACH_PORT_RIGHT_SEND),
        Err(KERN_INVALID_NAME)
    );
    assert_eq!(t.port_get_refs(16, 9), Err(KERN_INVALID_VALUE));
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(t.port_type(s), Ok(MACH_PORT_TYPE_PORT_SET));
    assert_eq!(t.port_get_refs(s, MACH_PORT_RIGHT_PORT_SET), Ok(1));
    assert_eq!(t.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(0));
    t.port_close(s).unwrap();
    k.assert_no_leaks();
}

#[test]
fn leak_check_lists_what_is_left() {
    let k = Kernel::new();
    let t = k.task_create("leaky", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    let result = std::panic::catch_unwind(|| k.assert_no_leaks());
    let msg = result.unwrap_err();
    let text = msg.downcast_ref::<String>().unwrap();
    assert!(text.contains("\"leaky\""), "{text}");
    assert!(text.contains("name 16: receive"), "{text}");
    assert!(text.contains("1 queued"), "{text}");
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}
