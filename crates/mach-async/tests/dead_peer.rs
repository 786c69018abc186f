//! Dead peers and dying runtimes (issue 16): what a caller gets when the other end of a port, its
//! own task, or the tokio runtime goes away in the middle of an operation. Every case ends with a
//! clear error (or a clean end), the message and its rights handed back or released, and no
//! kernel object leaked.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::mach_sim::mach_abi::{
    KERN_INVALID_RIGHT, MACH_PORT_DEAD, MACH_PORT_TYPE_DEAD_NAME, MACH_PORT_TYPE_SEND,
    MACH_SEND_INVALID_DEST, MACH_SEND_TIMED_OUT,
};
use mach_async::{
    Descriptor, Error, MachNotifyStream, MessageBuilder, PortRight, ReceiveRight, SendRight,
};

/// Bound on every wait in this file.
const BOUND: Duration = Duration::from_secs(5);

/// Issue 16 item 5: cloning a send right whose port died must not panic. `try_clone` reports
/// the kernel's `KERN_INVALID_RIGHT`; `clone` gives a right named `MACH_PORT_DEAD` whose sends
/// fail with `MACH_SEND_INVALID_DEST` and whose drop releases nothing.
#[test]
fn cloning_a_send_right_to_a_dead_port_does_not_panic() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let live = send.clone();
        assert_eq!(live.name(), send.name(), "a live clone shares the name");
        drop(live);
        drop(port);
        let ty = fx.client.task().port_type(send.name()).unwrap();
        assert_eq!(ty & MACH_PORT_TYPE_DEAD_NAME, MACH_PORT_TYPE_DEAD_NAME);

        let err = send
            .try_clone()
            .expect_err("a dead name takes no send reference");
        assert!(
            matches!(err, Error::Kern { kr, .. } if kr == KERN_INVALID_RIGHT),
            "{err:?}"
        );
        let dead = send.clone();
        assert_eq!(dead.name(), MACH_PORT_DEAD);
        let err = dead
            .send(MessageBuilder::new(1).build())
            .await
            .expect_err("sending to a dead right");
        assert_eq!(err.code(), Some(MACH_SEND_INVALID_DEST));
        drop(dead);
        // The original still holds its dead-name reference; dropping it releases that.
        assert_eq!(
            fx.client.task().port_type(send.name()).unwrap() & MACH_PORT_TYPE_SEND,
            0
        );
        drop(send);
    });
    fx.kernel.assert_no_leaks();
}

/// The destination dies while a send waits on the blocking pool for queue room.
///
/// Between two blocking slices the next attempt finds the destination dead (injected here as
/// the `MACH_SEND_INVALID_DEST` a copyin reports): the send ends with that code and the message
/// comes back with the rights it carries. If the port dies while a slice is blocked in the kernel,
/// the message is already copied in and, as on XNU, the kernel destroys it and reports success:
/// the carried rights are released, nothing leaks.
#[test]
fn the_destination_dying_while_a_send_waits_for_room_returns_the_message() {
    let fx = fixture();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        let faults = fx.kernel.faults();
        faults.fill_queue(fx.server_task(), port.name()).unwrap();
        let carried = ReceiveRight::new_in(&fx.client).unwrap();
        let carried_name = carried.name();
        let msg = MessageBuilder::new(7)
            .port(mach_async::PortSlot::Right(carried.into()))
            .build();
        let s2 = send.clone();
        let waiting = tokio::spawn(async move { s2.send(msg).await });
        // Let the send reach the blocking pool (it stays there: the queue counts as full).
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiting.is_finished(), "the send waits for room");
        let fault = faults.fail_next_sends(1, MACH_SEND_INVALID_DEST);
        let err = tokio::time::timeout(BOUND, waiting)
            .await
            .expect("the waiting send ends when its destination dies")
            .unwrap()
            .expect_err("the destination is dead");
        assert_eq!(fault.fired(), 1);
        assert_eq!(err.code(), Some(MACH_SEND_INVALID_DEST), "{err}");
        let mut msg = err.into_message();
        let Descriptor::Port(Some(mach_async::PortSlot::Right(PortRight::Receive(r)))) =
            msg.descriptors_mut().remove(0)
        else {
            panic!("the carried receive right comes back with the message");
        };
        assert_eq!(r.name(), carried_name);

        // Now the real death, while a slice is blocked in the kernel.
        let msg = MessageBuilder::new(8)
            .port(mach_async::PortSlot::Right(r.into()))
            .build();
        let s3 = send.clone();
        let waiting = tokio::spawn(async move { s3.send(msg).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiting.is_finished(), "the send waits for room");
        drop(port);
        tokio::time::timeout(BOUND, waiting)
            .await
            .expect("the waiting send ends when its destination dies")
            .unwrap()
            .expect("copied in before the death: destroyed by the kernel, reported as sent");
        drop(send);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

/// A send that finds the queue full outside any tokio runtime cannot wait: `NoRuntime`, with
/// the message given back.
#[test]
fn a_full_queue_send_outside_a_runtime_reports_no_runtime() {
    let fx = fixture();
    let (port, send) = fx.connect();
    fx.kernel
        .faults()
        .fill_queue(fx.server_task(), port.name())
        .unwrap();
    let err = futures::executor::block_on(send.send(MessageBuilder::new(3).build()))
        .expect_err("no runtime to wait on");
    assert!(matches!(err.error(), Error::NoRuntime(_)), "{err:?}");
    assert_eq!(err.into_message().id(), 3);
    // A zero timeout needs no runtime: the plain "queue full" answer.
    let err = futures::executor::block_on(
        send.send_timeout(MessageBuilder::new(4).build(), Some(Duration::ZERO)),
    )
    .expect_err("queue full");
    assert!(matches!(err.error(), Error::TimedOut), "{err:?}");
    drop(err);
    // Send rights first: the receive right's destruction would turn them into dead names.
    drop(send);
    drop(port);
    fx.kernel.assert_no_leaks();
}

/// A send that finds the queue full on a runtime that has shut down cannot hand its blocking
/// part to the runtime's pool: it ends with `Ended` (the message was dropped with the refused
/// closure, releasing its rights).
#[test]
fn a_send_needing_a_shut_down_runtimes_blocking_pool_ends() {
    let fx = fixture();
    let rt = multi_thread_rt();
    let handle = rt.handle().clone();
    rt.shutdown_background();
    let (port, send) = fx.connect();
    fx.kernel
        .faults()
        .fill_queue(fx.server_task(), port.name())
        .unwrap();
    let carried = ReceiveRight::new_in(&fx.client).unwrap();
    let msg = MessageBuilder::new(5)
        .port(mach_async::PortSlot::Right(carried.into()))
        .build();
    let result = {
        let _enter = handle.enter();
        futures::executor::block_on(send.send(msg)).map_err(|e| e.into_parts().0)
    };
    assert!(matches!(result, Err(Error::Ended)), "{result:?}");
    drop(send);
    drop(port);
    fx.kernel.assert_no_leaks();
}

/// `try_recv` on a notify stream whose task died: `Ok(None)` (never an error or a panic), and
/// the stream then ends.
#[test]
fn try_recv_after_the_streams_task_died_ends_cleanly() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        tokio::time::timeout(BOUND, notify.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        send.try_send(MessageBuilder::new(1).build()).unwrap();
        fx.server_task().terminate().unwrap();
        assert!(notify.try_recv().unwrap().is_none(), "the set is gone");
        assert!(notify.try_recv().unwrap().is_none(), "and stays gone");
        let end = tokio::time::timeout(BOUND, notify.next()).await.unwrap();
        assert!(end.is_none(), "the stream ends: {end:?}");
        drop((notify, send));
    });
    fx.kernel.assert_no_leaks();
}

/// A message carrying an out-of-line port array that cannot be delivered (queue full) comes
/// back with the array's rights, still usable: resent later, the receiver gets all of them.
#[test]
fn an_ool_port_array_comes_back_after_a_failed_send() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let carried: Vec<SendRight> = (0..3)
            .map(|_| {
                let r = ReceiveRight::new_in(&fx.client).unwrap();
                let s = r.make_send().unwrap();
                let _ = r.into_raw();
                s
            })
            .collect();
        let names: Vec<u32> = carried.iter().map(SendRight::name).collect();
        let msg = MessageBuilder::new(9)
            .ool_ports(carried.into_iter().map(PortRight::from).collect())
            .build();
        fx.kernel
            .faults()
            .fill_queue(fx.server_task(), port.name())
            .unwrap();
        let err = send.try_send(msg).expect_err("queue full");
        assert_eq!(err.code(), Some(MACH_SEND_TIMED_OUT));
        let msg = err.into_message();
        let Some(Descriptor::OolPorts(back)) = msg.descriptors().first() else {
            panic!("the OOL port array is still in the message");
        };
        assert_eq!(back.len(), 3);
        for r in back {
            assert!(names.contains(&r.name()), "{r:?} not one of {names:?}");
        }
        fx.kernel
            .faults()
            .release_queue(fx.server_task(), port.name())
            .unwrap();
        send.try_send(msg).expect("resent once there is room");
        let mut stream = mach_async::MachRecvStream::new(port).unwrap();
        let got = tokio::time::timeout(BOUND, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Some(Descriptor::OolPorts(rights)) = got.descriptors().first() else {
            panic!("the receiver gets the array");
        };
        assert_eq!(rights.len(), 3);
        drop((got, stream, send));
        // The carried ports' receive rights (leaked above on purpose as raw names) go now.
        for n in names {
            fx.client.task().port_close(n).unwrap();
        }
    });
    fx.kernel.assert_no_leaks();
}
