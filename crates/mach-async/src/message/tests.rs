//! [`Message::own_borrowed`], the safety net of a send that continues on the blocking pool
//! (send.rs, design step 2). Every kernel pseudo-receives a timed-out send (mach-abi.md §4.2), so
//! by the time a send reaches the blocking pool its borrowed slots have already come back as
//! owned rights and the conversion has nothing to do; these tests call it directly on a message
//! whose slots are still borrowed, as a kernel that handed the message back unchanged would
//! leave it.

use mach_abi::{MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_RIGHT_SEND};
use mach_sim::Kernel;

use crate::message::{Descriptor, MessageBuilder, PortSlot};
use crate::rights::{PortRight, ReceiveRight};
use crate::sys::Space;

fn kind(slot: Option<&PortSlot>) -> Option<u32> {
    match slot {
        Some(PortSlot::Right(r)) => Some(r.move_disposition()),
        _ => None,
    }
}

/// Each borrowed slot (`COPY_SEND`, `MAKE_SEND`, `MAKE_SEND_ONCE` by name) becomes a right the
/// message owns, taken in the kernel (an extra user reference, a minted send right, a minted
/// send-once right), so the caller may release its own rights afterwards; the message then
/// sends, and its rights reach the receiver.
#[test]
fn borrowed_slots_become_owned_rights_that_outlive_the_callers() {
    let kernel = Kernel::new();
    let task = kernel.task_create("t", 1, 0, 0);
    let space = Space::from_task(task.clone());
    let dest = ReceiveRight::new_in(&space).unwrap();
    let to_dest = dest.make_send().unwrap();
    let reply = ReceiveRight::new_in(&space).unwrap();
    let carried = ReceiveRight::new_in(&space).unwrap();
    let mut msg = MessageBuilder::new(90)
        .reply(PortSlot::MakeSendOnce(reply.name()))
        .make_send(&carried)
        .build();
    msg.remote = Some(PortSlot::CopySend(to_dest.name()));
    let refs = |name| task.port_get_refs(name, MACH_PORT_RIGHT_SEND).unwrap();
    assert_eq!(refs(to_dest.name()), 1);

    msg.own_borrowed(&space).expect("owned");
    assert_eq!(kind(msg.remote.as_ref()), Some(MACH_MSG_TYPE_MOVE_SEND));
    assert_eq!(kind(msg.local.as_ref()), Some(MACH_MSG_TYPE_MOVE_SEND_ONCE));
    match &msg.descriptors[..] {
        [Descriptor::Port(slot)] => assert_eq!(kind(slot.as_ref()), Some(MACH_MSG_TYPE_MOVE_SEND)),
        other => panic!("one port descriptor expected, got {other:?}"),
    }
    assert_eq!(refs(to_dest.name()), 2, "the destination's own reference");
    assert_eq!(refs(carried.name()), 1, "the minted send right");
    // Already owned: a second call changes nothing.
    msg.own_borrowed(&space).expect("idempotent");
    assert_eq!(refs(to_dest.name()), 2);

    // The caller's send right goes; the message still sends with its own.
    drop(to_dest);
    let mut slot = Some(msg);
    crate::send::attempt(&space, &mut slot, 0).expect("sent");
    assert!(slot.is_none());
    let mut stream_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = receive_one(&mut stream_rt, dest);
    assert_eq!(got.0, 90);
    assert_eq!(got.1, (true, true), "reply right and carried right arrived");
    drop((reply, carried));
    kernel.assert_no_leaks();
}

/// Receives one message on `port` and reports its id and whether it carried its reply right and
/// a port right (both released here).
fn receive_one(rt: &mut tokio::runtime::Runtime, port: ReceiveRight) -> (i32, (bool, bool)) {
    use futures::StreamExt;
    rt.block_on(async {
        let mut stream = crate::stream::MachRecvStream::new(port).unwrap();
        let mut m = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("the message within the bound")
            .unwrap()
            .unwrap();
        let reply = matches!(m.take_reply(), Some(PortRight::SendOnce(_)));
        let carried = matches!(
            m.take_descriptors().pop(),
            Some(Descriptor::Port(Some(PortSlot::Right(PortRight::Send(_)))))
        );
        (m.id(), (reply, carried))
    })
}

/// A borrowed name that denotes nothing (the caller released it, and the number was not
/// reused) is an error, and the message keeps what it had.
#[test]
fn a_borrowed_name_that_is_gone_is_an_error() {
    let kernel = Kernel::new();
    let task = kernel.task_create("t", 1, 0, 0);
    let space = Space::from_task(task);
    // Far above the lowest free names, which the conversion's own temporary port may take.
    let gone = 0x7777;
    for slot in [
        PortSlot::CopySend(gone),
        PortSlot::MakeSend(gone),
        PortSlot::MakeSendOnce(gone),
    ] {
        let mut msg = MessageBuilder::new(91).build();
        msg.local = Some(slot);
        let err = msg.own_borrowed(&space).expect_err("nothing to take");
        assert!(err.code().is_some(), "{err:?}");
        assert_eq!(msg.local.as_ref().map(PortSlot::name), Some(gone));
    }
    kernel.assert_no_leaks();
}
