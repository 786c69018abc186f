//! The raw-buffer paths of `mach_msg` that Miri checks (`.ci/reliability`): copyin from the
//! sender's buffer (header, port / OOL / OOL-ports descriptors, OOL reads), copyout into the
//! receiver's buffer (descriptor rewrite, `malloc`ed OOL memory, trailer), `MACH_RCV_TOO_LARGE`
//! writes, pseudo-receive into the send buffer, and `mach_msg_destroy` (OOL names read, memory
//! freed). No kqueue, no file descriptor: everything here runs under Miri as in the normal suite.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::Kernel;

/// Reads the OOL region a received descriptor at `off` points to (`unit` bytes per counted
/// element: 1 for memory, 4 for port names).
fn ool_bytes(buf: &Buf, off: usize, unit: usize) -> Vec<u8> {
    let addr = buf.u64_at(off) as usize as *const u8;
    let len = buf.u32_at(off + 12) as usize * unit;
    assert!(!addr.is_null());
    // SAFETY: the kernel malloc'ed `len` bytes at `addr` for this received message.
    unsafe { std::slice::from_raw_parts(addr, len) }.to_vec()
}

#[test]
fn complex_message_copies_in_and_out_with_every_descriptor_kind() {
    let k = Kernel::new();
    let t = k.task_create("t", 7, 501, 20);
    let dest = port_with_send(&t);
    let carried = port_with_send(&t);
    let extra = port_with_send(&t);
    let data: Vec<u8> = (0..37u8).collect();
    let mut msg = MsgBuilder::new(dest, MACH_MSG_TYPE_COPY_SEND)
        .id(4242)
        .port(carried, MACH_MSG_TYPE_COPY_SEND)
        .ool(&data)
        .ool_ports(&[extra, extra], MACH_MSG_TYPE_COPY_SEND)
        .body(&[9, 8, 7, 6])
        .build();
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_MSG_SUCCESS);
    let (mr, mut got) = recv_opt(
        &t,
        dest,
        MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0)
            | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)
            | MACH_RCV_TIMEOUT,
        512,
        0,
    );
    assert_eq!(mr, MACH_MSG_SUCCESS);
    assert_eq!(got.id(), 4242);
    assert_eq!(got.u32_at(24), 3, "descriptor count");
    assert_eq!(got.u32_at(28), carried, "port descriptor name");
    assert_eq!(ool_bytes(&got, 40, 1), data);
    let names = ool_bytes(&got, 56, 4);
    assert_eq!(names.len(), 8);
    assert_eq!(u32::from_le_bytes(names[0..4].try_into().unwrap()), extra);
    let size = got.size() as usize;
    assert_eq!(&got.bytes()[size - 4..size], &[9, 8, 7, 6]);
    // The audit trailer: pid 7, euid 501 at their token slots.
    assert_eq!(got.trailer_u32(4), 52);
    assert_eq!(got.trailer_u32(20 + 4), 501);
    assert_eq!(got.trailer_u32(20 + 20), 7);
    // Frees both OOL regions and releases the copied rights.
    destroy(&t, &mut got);
    for n in [dest, carried, extra] {
        t.port_close(n).unwrap();
    }
    k.assert_no_leaks();
}

#[test]
fn too_large_writes_only_the_size_and_identity_fields() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let set = t.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    let p = port_with_send(&t);
    t.port_move_member(p, set).unwrap();
    assert_eq!(send(&t, p, MACH_MSG_TYPE_COPY_SEND, 1, &[0u8; 64]), 0);
    // Exactly a header's room: the size and the member name are written, nothing past 24 bytes.
    let (mr, small) = recv_opt(
        &t,
        set,
        MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY | MACH_RCV_TIMEOUT,
        24,
        0,
    );
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    assert_eq!(small.size(), 88);
    assert_eq!(small.local(), p);
    // A buffer too small even for msgh_size: nothing is written at all (and no overflow).
    let (mr, tiny) = recv_opt(&t, set, MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 4, 0);
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    assert_eq!(tiny.u32_at(0), 0);
    // Without MACH_RCV_LARGE the message is destroyed.
    let (mr, _) = recv_opt(&t, set, MACH_RCV_TIMEOUT, 32, 0);
    assert_eq!(mr, MACH_RCV_TOO_LARGE);
    assert_eq!(t.port_status(p).unwrap().msgcount, 0);
    t.port_close(p).unwrap();
    t.port_close(set).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_timed_out_send_is_pseudo_received_into_the_send_buffer() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let dest = port_with_send(&t);
    let carried = port_with_send(&t);
    for i in 0..5 {
        assert_eq!(try_send(&t, dest, MACH_MSG_TYPE_COPY_SEND, i), 0);
    }
    let data = vec![0xabu8; 10];
    let mut msg = MsgBuilder::new(dest, MACH_MSG_TYPE_COPY_SEND)
        .port(carried, MACH_MSG_TYPE_MOVE_SEND)
        .ool(&data)
        .build();
    assert_eq!(
        send_buf(&t, &mut msg, MACH_SEND_TIMEOUT, 0),
        MACH_SEND_TIMED_OUT
    );
    // The OOL region came back as fresh kernel memory with the same bytes.
    assert_eq!(ool_bytes(&msg, 40, 1), data);
    assert_eq!(msg.u32_at(28), carried);
    destroy(&t, &mut msg);
    t.port_close(dest).unwrap();
    t.port_close(carried).unwrap();
    k.assert_no_leaks();
}

#[test]
fn malformed_bodies_are_rejected_before_any_read_past_the_buffer() {
    let k = Kernel::new();
    let t = k.task_create("t", 1, 0, 0);
    let dest = port_with_send(&t);
    // COMPLEX with a descriptor count that runs past the message.
    let mut msg = MsgBuilder::new(dest, MACH_MSG_TYPE_COPY_SEND)
        .complex()
        .build();
    msg.set_u32(24, 5);
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    // An OOL descriptor cut after 12 bytes.
    let mut msg = MsgBuilder::new(dest, MACH_MSG_TYPE_COPY_SEND)
        .port(dest, MACH_MSG_TYPE_COPY_SEND)
        .build();
    let off = 28;
    let b = msg.u32_at(off + 8) & 0x00ff_ffff | (u32::from(MACH_MSG_OOL_DESCRIPTOR) << 24);
    msg.set_u32(off + 8, b);
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    // Sizes that are not a whole header or not a multiple of 4.
    let mut msg = MsgBuilder::new(dest, MACH_MSG_TYPE_COPY_SEND).build();
    msg.len = 20;
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    msg.len = 26;
    assert_eq!(send_buf(&t, &mut msg, 0, 0), MACH_SEND_MSG_TOO_SMALL);
    assert_eq!(t.port_status(dest).unwrap().msgcount, 0);
    t.port_close(dest).unwrap();
    k.assert_no_leaks();
}
