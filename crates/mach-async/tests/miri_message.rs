//! The unsafe edges of the owned-message layer, in a form Miri can run (`.ci/reliability`):
//! encoding into the aligned send buffer, a failed send handed back with its OOL memory and
//! rights reconciled (`reconcile_failed_send`), and a received complex message adopted from the
//! receive buffer (OOL memory copied and freed, OOL names read, rights adopted). Runs on the
//! simulated kernel; the receive goes through `MachNotifyStream::try_recv` on a current-thread
//! runtime.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use bytes::Bytes;
use mach_abi::{MACH_SEND_INVALID_DEST, MACH_SEND_TIMED_OUT};
use mach_async::mach_sim::Kernel;
use mach_async::{
    Descriptor, MachNotifyStream, MessageBuilder, PortRight, PortSlot, ReceiveRight, Space,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime")
}

#[test]
fn a_complex_message_round_trips_through_the_kernel() {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("t", 3, 0, 0));
    runtime().block_on(async {
        let port = ReceiveRight::new_in(&space).unwrap();
        let to_port = port.make_send().unwrap();
        let carried = ReceiveRight::new_in(&space).unwrap();
        let extra = carried.make_send().unwrap();
        let extra2 = extra.try_clone().unwrap();
        let reply = ReceiveRight::new_in(&space).unwrap();
        let ool: Vec<u8> = (0..100u8).collect();
        let msg = MessageBuilder::new(31)
            .body(Bytes::from_static(b"abcdef"))
            .reply_make_send_once(&reply)
            .make_send(&carried)
            .ool(ool.clone())
            .ool_ports(vec![PortRight::Send(extra), PortRight::Send(extra2)])
            .build();
        to_port.try_send(msg).map_err(|e| e.into_parts().0).unwrap();
        let mut stream = MachNotifyStream::new(port).unwrap();
        let got = stream.try_recv().unwrap().expect("a message");
        assert_eq!(got.id(), 31);
        assert_eq!(&got.body()[..6], b"abcdef");
        assert!(got.reply().is_some());
        assert_eq!(got.descriptors().len(), 3);
        match &got.descriptors()[1] {
            Descriptor::Ool(data) => assert_eq!(&data[..], &ool[..]),
            other => panic!("expected OOL memory, got {other:?}"),
        }
        match &got.descriptors()[2] {
            Descriptor::OolPorts(v) => assert_eq!(v.len(), 2),
            other => panic!("expected OOL ports, got {other:?}"),
        }
        assert!(stream.try_recv().unwrap().is_none());
        drop(got);
        drop(stream);
        drop((to_port, carried, reply));
    });
    kernel.assert_no_leaks();
}

#[test]
fn a_send_refused_by_a_full_queue_comes_back_whole() {
    let kernel = Kernel::new();
    let task = kernel.task_create("t", 3, 0, 0);
    let space = Space::from_task(task.clone());
    let port = ReceiveRight::new_in(&space).unwrap();
    let to_port = port.make_send().unwrap();
    let carried = ReceiveRight::new_in(&space).unwrap();
    kernel.faults().fill_queue(&task, port.name()).unwrap();
    let msg = MessageBuilder::new(5)
        .body(vec![1u8, 2, 3])
        .make_send(&carried)
        .ool(vec![7u8; 33])
        .build();
    let err = to_port.try_send(msg).expect_err("queue full");
    assert_eq!(err.code(), Some(MACH_SEND_TIMED_OUT));
    let (_, back) = err.into_parts();
    assert_eq!(back.id(), 5);
    match &back.descriptors()[1] {
        Descriptor::Ool(data) => assert_eq!(&data[..], &[7u8; 33][..]),
        other => panic!("expected OOL memory, got {other:?}"),
    }
    // An injected pre-copyin failure gives the message back untouched as well.
    kernel.faults().release_queue(&task, port.name()).unwrap();
    kernel.faults().fail_next_sends(1, MACH_SEND_INVALID_DEST);
    let err = to_port.try_send(back).expect_err("injected failure");
    assert_eq!(err.code(), Some(MACH_SEND_INVALID_DEST));
    let back = err.into_message();
    assert!(matches!(
        back.descriptors()[0],
        Descriptor::Port(Some(PortSlot::MakeSend(_)) | Some(PortSlot::Right(_)))
    ));
    drop(back);
    drop((port, to_port, carried));
    kernel.assert_no_leaks();
}
