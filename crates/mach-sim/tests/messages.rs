//! `mach_msg`: header dispositions and what arrives, descriptors, out-of-line memory,
//! validation with the kernel's errors, receive options, trailers and `mach_msg_destroy`.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::{Kernel, Task};

fn pair(k: &Kernel) -> (Task, Task, mach_sim::Name, mach_sim::Name) {
    let server = k.task_create("server", 4242, 501, 20);
    let client = k.task_create("client", 77, 502, 21);
    let p = k.bootstrap().check_in(&server, "svc").unwrap();
    let s = k.bootstrap().look_up(&client, "svc").unwrap();
    (server, client, p, s)
}

#[test]
fn simple_message_arrives_with_swapped_header_and_its_body() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    assert_eq!(
        send(&client, s, MACH_MSG_TYPE_COPY_SEND, 1234, b"hello world!"),
        0
    );
    let m = expect_msg(&server, p);
    assert_eq!(m.id(), 1234);
    assert_eq!(m.size(), 24 + 12);
    assert_eq!(&m.bytes()[24..36], b"hello world!");
    // Received bits: remote = no reply, local = PORT_SEND (17).
    assert_eq!(m.bits(), MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
    assert_eq!(m.remote(), 0);
    assert_eq!(m.local(), p);
    assert_eq!(m.header().msgh_voucher_port, 0);
    // Default trailer: format 0, size 8.
    assert_eq!(m.trailer_u32(0), 0);
    assert_eq!(m.trailer_u32(4), 8);
    // COPY_SEND left the sender its right.
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(1));
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn mig_style_request_and_send_once_reply() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let reply = client.reply_port();
    let mut req = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .reply(reply, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .id(500)
        .build();
    assert_eq!(req.bits(), 0x1513);
    assert_eq!(send_buf(&client, &mut req, 0, 0), 0);
    let got = expect_msg(&server, p);
    // A MIG server sees remote = 18 (the reply), local = 17.
    assert_eq!(
        got.bits(),
        MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_PORT_SEND)
    );
    let so = got.remote();
    assert_eq!(server.port_type(so), Ok(MACH_PORT_TYPE_SEND_ONCE));
    let mut rep = MsgBuilder::new(so, MACH_MSG_TYPE_MOVE_SEND_ONCE)
        .id(600)
        .build();
    assert_eq!(rep.bits(), 0x12);
    assert_eq!(send_buf(&server, &mut rep, 0, 0), 0);
    // The send-once right was consumed.
    assert_eq!(server.port_type(so), Err(KERN_INVALID_NAME));
    let r = expect_msg(&client, reply);
    assert_eq!(r.id(), 600);
    assert_eq!(r.bits(), MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND_ONCE));
    assert_eq!(r.local(), reply);
    client.port_close(reply).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn make_send_destination_from_a_receive_right() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_MAKE_SEND).build();
    assert_eq!(m.bits(), 0x14);
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    assert_eq!(t.port_status(p).unwrap().mscount, 1);
    let got = expect_msg(&t, p);
    assert_eq!(got.bits(), MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
    // The send right made for the destination was consumed at receive.
    assert_eq!(t.port_status(p).unwrap().srights, 0);
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn move_send_destination_moves_one_uref() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    client
        .port_insert_right(s, s, MACH_MSG_TYPE_COPY_SEND)
        .unwrap();
    assert_eq!(send(&client, s, MACH_MSG_TYPE_MOVE_SEND, 1, &[]), 0);
    assert_eq!(client.port_get_refs(s, MACH_PORT_RIGHT_SEND), Ok(1));
    assert_eq!(send(&client, s, MACH_MSG_TYPE_MOVE_SEND, 2, &[]), 0);
    assert_eq!(client.port_type(s), Err(KERN_INVALID_NAME));
    expect_msg(&server, p);
    expect_msg(&server, p);
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn reply_dispositions_arrive_as_their_port_types() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let r = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let cases = [
        (
            MACH_MSG_TYPE_MAKE_SEND,
            MACH_MSG_TYPE_PORT_SEND,
            MACH_PORT_TYPE_SEND,
        ),
        (
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
            MACH_MSG_TYPE_PORT_SEND_ONCE,
            MACH_PORT_TYPE_SEND_ONCE,
        ),
    ];
    for (disp, arrives, ty) in cases {
        let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
            .reply(r, disp)
            .build();
        assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
        let mut got = expect_msg(&server, p);
        assert_eq!(MACH_MSGH_BITS_REMOTE(got.bits()), arrives);
        assert_eq!(server.port_type(got.remote()), Ok(ty));
        destroy(&server, &mut got);
        if disp == MACH_MSG_TYPE_MAKE_SEND_ONCE {
            // Destroying an unused send-once right notifies its port.
            assert_eq!(expect_msg(&client, r).id(), MACH_NOTIFY_SEND_ONCE);
        }
    }
    client.port_close(r).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn port_descriptors_carry_every_disposition() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let a = port_with_send(&client); // receive + send
    let b = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let c = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .port(a, MACH_MSG_TYPE_COPY_SEND)
        .port(b, MACH_MSG_TYPE_MAKE_SEND)
        .port(b, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .port(a, MACH_MSG_TYPE_MOVE_SEND)
        .port(c, MACH_MSG_TYPE_MOVE_RECEIVE)
        .port(0, MACH_MSG_TYPE_COPY_SEND)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    // COPY_SEND kept, MOVE_SEND took the only uref, MOVE_RECEIVE took `c`.
    assert_eq!(client.port_type(a), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(client.port_type(c), Err(KERN_INVALID_NAME));
    let got = expect_msg(&server, p);
    assert_eq!(got.bits() & MACH_MSGH_BITS_COMPLEX, MACH_MSGH_BITS_COMPLEX);
    assert_eq!(got.u32_at(24), 6);
    let desc = |i: usize| {
        let off = 28 + 12 * i;
        (
            got.u32_at(off),
            got.bytes()[off + 10] as u32,
            got.bytes()[off + 11],
        )
    };
    let (n0, t0, ty) = desc(0);
    assert_eq!(
        (t0, ty),
        (MACH_MSG_TYPE_PORT_SEND, MACH_MSG_PORT_DESCRIPTOR)
    );
    let (n1, t1, _) = desc(1);
    let (n2, t2, _) = desc(2);
    let (n3, t3, _) = desc(3);
    let (n4, t4, _) = desc(4);
    let (n5, _, _) = desc(5);
    assert_eq!((t1, t2, t3, t4), (17, 18, 17, 16));
    // Two send rights to the same port merge under one name with two urefs.
    assert_eq!(n0, n3);
    assert_eq!(server.port_get_refs(n0, MACH_PORT_RIGHT_SEND), Ok(2));
    assert_eq!(server.port_type(n1), Ok(MACH_PORT_TYPE_SEND));
    assert_eq!(server.port_type(n2), Ok(MACH_PORT_TYPE_SEND_ONCE));
    assert_eq!(server.port_type(n4), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(n5, 0);
    assert_eq!(server.port_status(n4).unwrap().msgcount, 0);
    // Clean up through mach_msg_destroy semantics.
    let mut got = got;
    destroy(&server, &mut got);
    assert_eq!(server.port_type(n4), Err(KERN_INVALID_NAME));
    assert_eq!(expect_msg(&client, b).id(), MACH_NOTIFY_SEND_ONCE);
    for n in [a, b] {
        client.port_close(n).unwrap();
    }
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn move_receive_transfers_the_port_with_its_queue() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let c = port_with_send(&client);
    for id in 1..=3 {
        assert_eq!(send(&client, c, MACH_MSG_TYPE_COPY_SEND, id, &[]), 0);
    }
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .port(c, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    // The client keeps its send right under the same name.
    assert_eq!(client.port_type(c), Ok(MACH_PORT_TYPE_SEND));
    assert_eq!(
        recv_opt(&client, c, MACH_RCV_TIMEOUT, 1024, 0).0,
        MACH_RCV_INVALID_NAME
    );
    let got = expect_msg(&server, p);
    let moved = got.u32_at(28);
    assert_eq!(server.port_status(moved).unwrap().msgcount, 3);
    for id in 1..=3 {
        assert_eq!(expect_msg(&server, moved).id(), id);
    }
    // Sends from the client still reach the port, now received by the server.
    assert_eq!(send(&client, c, MACH_MSG_TYPE_COPY_SEND, 9, &[]), 0);
    assert_eq!(expect_msg(&server, moved).id(), 9);
    server.port_close(moved).unwrap();
    assert_eq!(client.port_type(c), Ok(MACH_PORT_TYPE_DEAD_NAME));
    client.port_deallocate(c).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn sending_a_receive_right_into_its_own_queue_destroys_the_message() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(p, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    // XNU treats the circular message as sent and destroys it (and with it the port).
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    assert_eq!(k.stats().ports, 0);
    assert_eq!(t.port_type(p), Ok(MACH_PORT_TYPE_DEAD_NAME));
    t.port_deallocate(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn out_of_line_memory_is_copied_at_send_and_malloced_at_receive() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .ool(&data)
        .ool(&[])
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    drop(m); // the sender's memory is gone: the kernel copied it
    let mut got = expect_msg(&server, p);
    assert_eq!(got.bytes()[28 + 11], MACH_MSG_OOL_DESCRIPTOR);
    let addr = got.u64_at(28) as usize as *const u8;
    let size = got.u32_at(28 + 12) as usize;
    assert_eq!(size, data.len());
    assert!(!addr.is_null());
    // SAFETY: the kernel allocated `size` bytes at `addr` for us.
    let received = unsafe { std::slice::from_raw_parts(addr, size) };
    assert_eq!(received, &data[..]);
    assert_eq!(
        got.bytes()[28 + 8],
        1,
        "deallocate: the receiver owns the memory"
    );
    // An empty region arrives as a null address.
    assert_eq!(got.u64_at(44), 0);
    assert_eq!(got.u32_at(44 + 12), 0);
    destroy(&server, &mut got); // frees the malloc'd copy
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn out_of_line_port_arrays_carry_rights() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let a = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let b = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .ool_ports(&[a, b, 0], MACH_MSG_TYPE_MAKE_SEND)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    let mut got = expect_msg(&server, p);
    assert_eq!(got.bytes()[28 + 11], MACH_MSG_OOL_PORTS_DESCRIPTOR);
    assert_eq!(got.bytes()[28 + 10] as u32, MACH_MSG_TYPE_PORT_SEND);
    assert_eq!(got.u32_at(28 + 12), 3);
    let addr = got.u64_at(28) as usize as *const u32;
    // SAFETY: the kernel allocated an array of 3 names.
    let names = unsafe { std::slice::from_raw_parts(addr, 3) }.to_vec();
    assert_eq!(server.port_type(names[0]), Ok(MACH_PORT_TYPE_SEND));
    assert_eq!(server.port_type(names[1]), Ok(MACH_PORT_TYPE_SEND));
    assert_eq!(names[2], 0);
    destroy(&server, &mut got);
    assert_eq!(server.port_type(names[0]), Err(KERN_INVALID_NAME));
    for n in [a, b] {
        client.port_close(n).unwrap();
    }
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn size_validation_uses_the_kernel_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .body(&[0; 8])
        .build();
    let ptr = m.ptr();
    // SAFETY: the buffer holds 32 bytes; every size passed is within it.
    let send_with = |size: u32| unsafe { t.mach_msg(ptr, MACH_SEND_MSG, size, 0, 0, 0, 0) };
    assert_eq!(send_with(20), MACH_SEND_MSG_TOO_SMALL);
    assert_eq!(send_with(0), MACH_SEND_MSG_TOO_SMALL);
    assert_eq!(send_with(26), MACH_SEND_MSG_TOO_SMALL);
    // SAFETY: a null buffer is rejected before any access.
    let null = unsafe { t.mach_msg(std::ptr::null_mut(), MACH_SEND_MSG, 24, 0, 0, 0, 0) };
    assert_eq!(null, MACH_SEND_INVALID_DATA);
    // The kernel takes the size from send_size, not msgh_size.
    assert_eq!(send_with(28), 0);
    assert_eq!(expect_msg(&t, p).size(), 28);
    // Nothing was queued by the failures.
    expect_empty(&t, p);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn complex_body_validation_uses_the_kernel_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // Complex bit with no room for the body count.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).build();
    m.set_u32(0, m.bits() | MACH_MSGH_BITS_COMPLEX);
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    // Descriptor count larger than the message.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(q, MACH_MSG_TYPE_MAKE_SEND)
        .build();
    m.set_u32(24, 2);
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    // Unknown descriptor type.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(q, MACH_MSG_TYPE_MAKE_SEND)
        .build();
    m.set_u32(28 + 8, 9 << 24);
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_TYPE);
    // OOL descriptor with a null address and a size.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .ool(&[1, 2, 3])
        .build();
    m.set_u32(28, 0);
    m.set_u32(32, 0);
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_MEMORY);
    // A right the sender does not hold, or a bad disposition, in the body.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(q, MACH_MSG_TYPE_COPY_SEND)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_RIGHT);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(q, MACH_MSG_TYPE_COPY_RECEIVE)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_RIGHT);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(77, MACH_MSG_TYPE_MAKE_SEND)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_RIGHT);
    // Header errors are reported before body errors.
    let mut m = MsgBuilder::new(77, MACH_MSG_TYPE_COPY_SEND)
        .port(q, 9)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_DEST);
    expect_empty(&t, p);
    t.port_close(p).unwrap();
    t.port_close(q).unwrap();
    k.assert_no_leaks();
}

#[test]
fn header_validation_uses_the_kernel_errors() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let dead = t.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap();
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let cases: Vec<(MsgBuilder, mach_msg_return_t)> = vec![
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_MOVE_RECEIVE),
            MACH_SEND_INVALID_HEADER,
        ),
        (MsgBuilder::new(p, 0), MACH_SEND_INVALID_HEADER),
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).reply(q, MACH_MSG_TYPE_MOVE_RECEIVE),
            MACH_SEND_INVALID_HEADER,
        ),
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).reply(q, 0),
            MACH_SEND_INVALID_HEADER,
        ),
        (
            MsgBuilder::new(0, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(MACH_PORT_DEAD, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(99, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(dead, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(set, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(q, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(q, MACH_MSG_TYPE_MOVE_SEND_ONCE),
            MACH_SEND_INVALID_DEST,
        ),
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).reply(q, MACH_MSG_TYPE_COPY_SEND),
            MACH_SEND_INVALID_REPLY,
        ),
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).reply(99, MACH_MSG_TYPE_MAKE_SEND_ONCE),
            MACH_SEND_INVALID_REPLY,
        ),
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).reply(set, MACH_MSG_TYPE_MAKE_SEND),
            MACH_SEND_INVALID_REPLY,
        ),
        // The destination's only uref cannot be moved twice.
        (
            MsgBuilder::new(p, MACH_MSG_TYPE_MOVE_SEND).reply(p, MACH_MSG_TYPE_MOVE_SEND),
            MACH_SEND_INVALID_REPLY,
        ),
    ];
    for (b, want) in cases {
        let mut m = b.build();
        assert_eq!(send_buf(&t, &mut m, 0, 0), want, "bits {:#x}", m.bits());
    }
    // The caller kept every right.
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
    assert_eq!(t.port_type(q), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(t.port_status(p).unwrap().mscount, 1);
    expect_empty(&t, p);
    for n in [p, q, dead, set] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn failed_send_leaves_the_caller_all_its_rights() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    // MOVE_SEND destination, MOVE_RECEIVE descriptor, then an invalid descriptor.
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_MOVE_SEND)
        .port(q, MACH_MSG_TYPE_MOVE_RECEIVE)
        .port(55, MACH_MSG_TYPE_COPY_SEND)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), MACH_SEND_INVALID_RIGHT);
    assert_eq!(t.port_get_refs(p, MACH_PORT_RIGHT_SEND), Ok(1));
    assert_eq!(t.port_type(q), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(t.port_status(p).unwrap().srights, 1);
    t.port_close(p).unwrap();
    t.port_close(q).unwrap();
    k.assert_no_leaks();
}

#[test]
fn dead_names_travel_as_dead_rights_in_bodies() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let d = t.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap();
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(d, MACH_MSG_TYPE_MOVE_SEND)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    assert_eq!(t.port_type(d), Err(KERN_INVALID_NAME));
    let got = expect_msg(&t, p);
    assert_eq!(got.u32_at(28), MACH_PORT_DEAD);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn trailers_carry_seqno_sender_and_the_sending_tasks_audit_token() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let opt = MACH_RCV_TIMEOUT | MACH_RCV_LARGE | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
    for i in 0..2 {
        assert_eq!(send(&client, s, MACH_MSG_TYPE_COPY_SEND, i, &[0; 4]), 0);
        let (mr, m) = recv_opt(&server, p, opt, 256, 0);
        assert_eq!(mr, 0);
        assert_eq!(m.trailer_u32(0), 0);
        assert_eq!(m.trailer_u32(4), 52);
        assert_eq!(m.trailer_u32(8), i as u32, "seqno");
        assert_eq!(
            (m.trailer_u32(12), m.trailer_u32(16)),
            (0, 0),
            "user sender token"
        );
        let audit: Vec<u32> = (0..8).map(|j| m.trailer_u32(20 + 4 * j)).collect();
        // euid, egid, ruid, rgid, pid of the client task.
        assert_eq!(audit, vec![0, 502, 21, 502, 21, 77, 0, 0]);
    }
    assert_eq!(client.audit_token().val, [0, 502, 21, 502, 21, 77, 0, 0]);
    // A kernel message: sender {0, 1}, all-zero audit token.
    let kr = server.kernel_send_right(p).unwrap();
    kr.send(9, &[]).unwrap();
    let (mr, m) = recv_opt(&server, p, opt, 256, 0);
    assert_eq!(mr, 0);
    assert_eq!((m.trailer_u32(12), m.trailer_u32(16)), (0, 1));
    assert!((0..8).all(|j| m.trailer_u32(20 + 4 * j) == 0));
    drop(kr);
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn trailer_size_follows_the_requested_elements() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    for (elements, size) in [(0, 8), (1, 12), (2, 20), (3, 52), (4, 60), (7, 68), (8, 68)] {
        assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
        let (mr, m) = recv_opt(
            &t,
            p,
            MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_ELEMENTS(elements),
            24 + size,
            0,
        );
        assert_eq!(mr, 0, "elements {elements}");
        assert_eq!(m.trailer_u32(4), size);
    }
    // Only trailer format 0 exists.
    let (mr, _) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_TYPE(1), 256, 0);
    assert_eq!(mr, MACH_RCV_INVALID_TRAILER);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn receive_buffer_must_hold_message_plus_requested_trailer() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[0; 16]), 0);
    let audit = MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
    // 40 + 52 = 92 bytes needed.
    let (mr, m) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_LARGE | audit, 91, 0);
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    assert_eq!(m.size(), 40, "needed size without trailer");
    let (mr, _) = recv_opt(&t, p, MACH_RCV_TIMEOUT | MACH_RCV_LARGE | audit, 92, 0);
    assert_eq!(mr, 0);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn rcv_large_keeps_a_too_large_message_queued() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.port_move_member(p, s).unwrap();
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 5, &[7; 200]), 0);
    let (mr, m) = recv_opt(
        &t,
        s,
        MACH_RCV_TIMEOUT | MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY,
        64,
        0,
    );
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    assert_eq!(m.size(), 224);
    assert_eq!(m.local(), p, "LARGE_IDENTITY names the member");
    assert_eq!(t.port_status(p).unwrap().msgcount, 1);
    // Retrying with room gets it.
    let (mr, m) = recv_opt(&t, s, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 224 + 8, 0);
    assert_eq!(mr, 0);
    assert_eq!(m.id(), 5);
    t.port_close(s).unwrap();
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn without_rcv_large_a_too_large_message_is_destroyed() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let r = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(r, MACH_MSG_TYPE_MAKE_SEND)
        .body(&[0; 64])
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    assert_eq!(t.port_status(r).unwrap().srights, 1);
    let (mr, _) = recv_opt(&t, p, MACH_RCV_TIMEOUT, 64, 0);
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    // Dequeued, and the right it carried released.
    assert_eq!(t.port_status(p).unwrap().msgcount, 0);
    assert_eq!(t.port_status(r).unwrap().srights, 0);
    assert_eq!(t.port_status(p).unwrap().seqno, 1);
    t.port_close(p).unwrap();
    t.port_close(r).unwrap();
    k.assert_no_leaks();
}

#[test]
fn receive_on_a_name_that_is_not_a_receive_right_or_set_fails() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let d = client.port_allocate(MACH_PORT_RIGHT_DEAD_NAME).unwrap();
    for name in [s, d, 0, 99] {
        assert_eq!(
            recv_opt(&client, name, MACH_RCV_TIMEOUT, 256, 0).0,
            MACH_RCV_INVALID_NAME
        );
    }
    // SAFETY: a null buffer is rejected before any access.
    let mr = unsafe { server.mach_msg(std::ptr::null_mut(), MACH_RCV_MSG, 0, 64, p, 0, 0) };
    assert_eq!(mr, MACH_RCV_INVALID_DATA);
    client.port_deallocate(d).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn set_receive_serves_the_first_non_empty_member_in_set_order() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let a = port_with_send(&t);
    let b = port_with_send(&t);
    let s = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    t.port_move_member(b, s).unwrap();
    t.port_move_member(a, s).unwrap();
    assert_eq!(send(&t, a, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(send(&t, b, MACH_MSG_TYPE_COPY_SEND, 2, &[]), 0);
    assert_eq!(send(&t, a, MACH_MSG_TYPE_COPY_SEND, 3, &[]), 0);
    // `b` joined first: it is served first, then `a` in FIFO order.
    let got: Vec<(i32, u32)> = (0..3)
        .map(|_| {
            let m = expect_msg(&t, s);
            (m.id(), m.local())
        })
        .collect();
    assert_eq!(got, vec![(2, b), (1, a), (3, a)]);
    // NextBSD also allows receiving on a member directly.
    assert_eq!(send(&t, a, MACH_MSG_TYPE_COPY_SEND, 4, &[]), 0);
    assert_eq!(expect_msg(&t, a).id(), 4);
    expect_empty(&t, s);
    for n in [a, b, s] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn mach_msg_destroy_disposes_remote_and_descriptors_but_not_local() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let r = client.reply_port();
    let x = client.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut m = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .reply(r, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .port(x, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    assert_eq!(send_buf(&client, &mut m, 0, 0), 0);
    let mut got = expect_msg(&server, p);
    let moved = got.u32_at(28);
    destroy(&server, &mut got);
    // The local port (our own receive right) is untouched.
    assert_eq!(server.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    assert_eq!(server.port_type(moved), Err(KERN_INVALID_NAME));
    // The reply right was destroyed unused: the client is told.
    assert_eq!(expect_msg(&client, r).id(), MACH_NOTIFY_SEND_ONCE);
    client.port_close(r).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn send_and_receive_in_one_call() {
    let k = Kernel::new();
    let (server, client, p, s) = pair(&k);
    let r = client.reply_port();
    let srv = std::thread::spawn({
        let server = server.clone();
        move || {
            let (mr, m) = recv_opt(&server, p, 0, 256, 0);
            assert_eq!(mr, 0);
            let mut rep = MsgBuilder::new(m.remote(), MACH_MSG_TYPE_MOVE_SEND_ONCE)
                .id(m.id() + 100)
                .build();
            assert_eq!(send_buf(&server, &mut rep, 0, 0), 0);
        }
    });
    let mut buf = Buf::zeroed(256);
    let req = MsgBuilder::new(s, MACH_MSG_TYPE_COPY_SEND)
        .reply(r, MACH_MSG_TYPE_MAKE_SEND_ONCE)
        .id(7)
        .build();
    buf.bytes(); // keep the helper in use
                 // SAFETY: copy the 24-byte request into the 256-byte buffer, then send and receive in it.
    let mr = unsafe {
        std::ptr::copy_nonoverlapping(req.bytes().as_ptr(), buf.ptr().cast::<u8>(), 24);
        client.mach_msg(buf.ptr(), MACH_SEND_MSG | MACH_RCV_MSG, 24, 256, r, 0, 0)
    };
    assert_eq!(mr, 0);
    assert_eq!(buf.id(), 107);
    srv.join().unwrap();
    client.port_close(r).unwrap();
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn the_voucher_field_is_ignored() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND).build();
    m.set_u32(
        0,
        MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, MACH_MSG_TYPE_COPY_SEND, 0),
    );
    m.set_u32(16, 12345);
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    let got = expect_msg(&t, p);
    assert_eq!(got.header().msgh_voucher_port, 0);
    assert_eq!(MACH_MSGH_BITS_VOUCHER(got.bits()), 0);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_receiver_whose_receive_right_is_sent_away_gets_port_changed() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let p = port_with_send(&t);
    let q = t.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let rx = std::thread::spawn({
        let t = t.clone();
        move || recv_opt(&t, q, 0, 64, 0).0
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while k.blocked_threads() == 0 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut m = MsgBuilder::new(p, MACH_MSG_TYPE_COPY_SEND)
        .port(q, MACH_MSG_TYPE_MOVE_RECEIVE)
        .build();
    assert_eq!(send_buf(&t, &mut m, 0, 0), 0);
    assert_eq!(rx.join().unwrap(), MACH_RCV_PORT_CHANGED);
    let mut got = expect_msg(&t, p);
    destroy(&t, &mut got);
    t.port_close(p).unwrap();
    k.assert_no_leaks();
}
