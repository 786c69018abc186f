//! Public API paths that ordinary traffic does not take (issue 16): every trailer request, the
//! stream's behaviour on injected receive failures (a lost message, an interrupted receive, a
//! fatal receive error), building a stream outside a runtime, notify-mode port hand-back,
//! send-once `try_send`, replaced notification requests, and the `Debug` output used in logs.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::mach_sim::mach_abi::{
    MACH_RCV_INTERRUPTED, MACH_RCV_INVALID_DATA, MACH_RCV_INVALID_TRAILER,
};
use mach_async::stream::TrailerRequest;
use mach_async::{Error, MachNotifyStream, MachRecvStream, MessageBuilder, ReceiveRight};

const BOUND: Duration = Duration::from_secs(5);

async fn next(stream: &mut MachRecvStream) -> Option<Result<mach_async::Message, Error>> {
    tokio::time::timeout(BOUND, stream.next())
        .await
        .expect("an item within the bound")
}

/// Each trailer request yields exactly the trailer elements it asks for.
#[test]
fn every_trailer_request_delivers_its_elements() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        for (req, size) in [
            (TrailerRequest::Minimal, 8),
            (TrailerRequest::Seqno, 12),
            (TrailerRequest::Sender, 20),
            (TrailerRequest::Audit, 52),
            (TrailerRequest::Context, 60),
        ] {
            let (port, send) = fx.connect();
            let mut stream = MachRecvStream::builder()
                .port(port)
                .trailer(req)
                .build()
                .unwrap();
            send.try_send(MessageBuilder::new(1).build()).unwrap();
            let m = next(&mut stream).await.unwrap().unwrap();
            let t = m.trailer().expect("a trailer");
            assert_eq!(t.size(), size, "{req:?}");
            assert_eq!(t.seqno().is_some(), size >= 12, "{req:?}");
            assert_eq!(t.sender().is_some(), size >= 20, "{req:?}");
            assert_eq!(m.audit_token().is_some(), size >= 52, "{req:?}");
            assert_eq!(t.context().is_some(), size >= 60, "{req:?}");
            drop((m, stream, send));
        }
    });
    fx.kernel.assert_no_leaks();
}

/// Message mode: a lost message is reported in order and the stream goes on; an interrupted
/// receive is retried without the caller seeing it; any other receive error is reported and
/// ends the stream (the ports are still torn down cleanly).
#[test]
fn injected_receive_failures_are_reported_retried_or_end_the_stream() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        let faults = fx.kernel.faults();
        for id in [1, 2] {
            send.try_send(MessageBuilder::new(id).build()).unwrap();
        }
        let lost = faults.fail_next_receives_in(fx.server_task(), 1, MACH_RCV_INVALID_DATA);
        assert!(matches!(
            next(&mut stream).await,
            Some(Err(Error::MessageLost))
        ));
        assert_eq!(lost.fired(), 1);
        // (The injected failure left message 1 queued: it and message 2 follow.)
        assert_eq!(next(&mut stream).await.unwrap().unwrap().id(), 1);
        assert_eq!(next(&mut stream).await.unwrap().unwrap().id(), 2);

        let interrupted = faults.fail_next_receives_in(fx.server_task(), 1, MACH_RCV_INTERRUPTED);
        send.try_send(MessageBuilder::new(3).build()).unwrap();
        assert_eq!(next(&mut stream).await.unwrap().unwrap().id(), 3);
        assert_eq!(interrupted.fired(), 1);

        let fatal = faults.fail_next_receives_in(fx.server_task(), 1, MACH_RCV_INVALID_TRAILER);
        send.try_send(MessageBuilder::new(4).build()).unwrap();
        match next(&mut stream).await {
            Some(Err(Error::Msg { mr, .. })) => assert_eq!(mr, MACH_RCV_INVALID_TRAILER),
            other => panic!("expected the receive error, got {other:?}"),
        }
        assert_eq!(fatal.fired(), 1);
        assert!(next(&mut stream).await.is_none(), "the stream ended");
        drop((stream, send));
    });
    fx.kernel.assert_no_leaks();
}

/// Outside a tokio runtime a stream cannot register its kqueue: `NoRuntime`, and the port
/// handed in is destroyed with everything the setup created.
#[test]
fn a_stream_built_outside_a_runtime_reports_no_runtime() {
    let fx = fixture();
    let port = ReceiveRight::new_in(&fx.server).unwrap();
    let err = MachRecvStream::new(port).expect_err("no runtime");
    assert!(matches!(err, Error::NoRuntime(_)), "{err:?}");
    let port = ReceiveRight::new_in(&fx.server).unwrap();
    let err = MachNotifyStream::new(port).expect_err("no runtime");
    assert!(matches!(err, Error::NoRuntime(_)), "{err:?}");
    fx.kernel.assert_no_leaks();
}

/// Notify mode hands its ports back with their messages still queued on them, and names them
/// while it owns them.
#[test]
fn a_notify_stream_hands_back_its_ports_with_their_messages() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let name = port.name();
        let notify = MachNotifyStream::new(port).unwrap();
        assert_eq!(notify.port_names(), [name]);
        assert!(format!("{notify:?}").contains("MachNotifyStream"));
        send.try_send(MessageBuilder::new(5).build()).unwrap();
        let ports = notify.into_ports();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].name(), name);
        // The message is still on the port: a new stream receives it.
        let mut stream = MachRecvStream::new(ports.into_iter().next().unwrap()).unwrap();
        assert_eq!(next(&mut stream).await.unwrap().unwrap().id(), 5);
        assert!(format!("{stream:?}").contains("MachRecvStream"));
        assert!(format!("{:?}", stream.stats_handle()).contains("wakeups"));
        drop((stream, send));
    });
    fx.kernel.assert_no_leaks();
}

/// A send-once right's non-blocking send delivers, even to a full queue (send-once bypasses
/// the limit), and consumes the right.
#[test]
fn send_once_try_send_bypasses_the_queue_limit() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        fx.kernel
            .faults()
            .fill_queue(fx.server_task(), port.name())
            .unwrap();
        let once = port.make_send_once().unwrap();
        once.try_send(MessageBuilder::new(6).build())
            .expect("send-once ignores the queue limit");
        fx.kernel
            .faults()
            .release_queue(fx.server_task(), port.name())
            .unwrap();
        let mut stream = MachRecvStream::new(port).unwrap();
        assert_eq!(next(&mut stream).await.unwrap().unwrap().id(), 6);
        drop((stream, send));
    });
    fx.kernel.assert_no_leaks();
}

/// Re-requesting a notification replaces the first request: the first future ends with
/// `NotificationCancelled`, the second fires.
#[test]
fn a_replaced_notification_request_is_cancelled() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let first = port.request_no_senders(1).unwrap();
        assert_eq!(
            first.kind(),
            mach_async::mach_sim::mach_abi::MACH_NOTIFY_NO_SENDERS
        );
        let second = port.request_no_senders(1).unwrap();
        let r = tokio::time::timeout(BOUND, first).await.expect("in time");
        assert!(matches!(r, Err(Error::NotificationCancelled)), "{r:?}");
        drop(send);
        let r = tokio::time::timeout(BOUND, second).await.expect("in time");
        assert!(matches!(r, Ok(mach_async::Notified::NoSenders(_))), "{r:?}");
        drop(port);
    });
    fx.kernel.assert_no_leaks();
}

/// Minting a send-once right needs a send and a receive on a private port; if either fails the
/// caller gets the step and the code, and nothing is left behind.
#[test]
fn a_failed_send_once_mint_says_which_step_failed() {
    use mach_async::mach_sim::mach_abi::{MACH_RCV_INVALID_NAME, MACH_SEND_NO_BUFFER};
    let fx = fixture();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(&fx.server).unwrap();
        let faults = fx.kernel.faults();
        faults.fail_next_sends_from(fx.server_task(), 1, MACH_SEND_NO_BUFFER);
        match port.make_send_once() {
            Err(Error::Msg { op, mr }) => {
                assert_eq!((op, mr), ("send (make_send_once)", MACH_SEND_NO_BUFFER))
            }
            other => panic!("{other:?}"),
        }
        faults.fail_next_receives_in(fx.server_task(), 1, MACH_RCV_INVALID_NAME);
        match port.make_send_once() {
            Err(Error::Msg { op, mr }) => {
                assert_eq!(
                    (op, mr),
                    ("receive (make_send_once)", MACH_RCV_INVALID_NAME)
                )
            }
            other => panic!("{other:?}"),
        }
        let once = port.make_send_once().expect("works again");
        drop((once, port));
    });
    fx.kernel.assert_no_leaks();
}
