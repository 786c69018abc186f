//! Stream paths around the stream's surroundings (issue 16): the tokio runtime it was built in
//! shuts down while the stream lives on, and its port set is destroyed behind its back while a
//! port is taken out. Also the notify stream's counters. Each test ends with the leak assertion.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use common::*;
use futures::StreamExt;
use mach_async::{Error, MachNotifyStream, MachRecvStream, MessageBuilder};

/// A message stream built in a runtime that has since shut down cannot wait for readiness any
/// more: its next poll reports an `Io` error naming the operation, then the stream ends. Nothing
/// is lost: the ports it hands back still hold the message sent meanwhile, and a stream built
/// on them in a new runtime receives it.
#[test]
fn a_message_stream_outliving_its_runtime_reports_it_and_gives_its_ports_back() {
    let fx = fixture();
    let (port, send) = fx.connect();
    let first = current_thread_rt();
    let mut stream = first.block_on(async {
        let mut stream = MachRecvStream::new(port).unwrap();
        send.try_send(MessageBuilder::new(1).build()).unwrap();
        let m = within(WAIT, stream.next(), "message 1").await;
        assert_eq!(m.unwrap().unwrap().id(), 1);
        stream
    });
    drop(first);
    send.try_send(MessageBuilder::new(2).build()).unwrap();
    let second = current_thread_rt();
    second.block_on(async {
        let err = within(WAIT, stream.next(), "the error")
            .await
            .expect("an item")
            .expect_err("the runtime is gone");
        assert!(
            matches!(
                err,
                Error::Io {
                    op: "poll kqueue",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("poll kqueue failed: "), "{err}");
        assert!(within(WAIT, stream.next(), "the end").await.is_none());
        let (ports, undelivered) = stream.into_ports();
        assert!(undelivered.is_empty());
        let mut again = MachRecvStream::builder().ports(ports).build().unwrap();
        let m = within(WAIT, again.next(), "message 2 in the new runtime").await;
        assert_eq!(m.unwrap().unwrap().id(), 2);
    });
    drop(send);
    fx.kernel.assert_no_leaks();
}

/// The same for a notify stream: after its runtime shut down the next poll is an `Io` error
/// naming the operation, then the end; its ports come back with their messages queued. Its
/// counters count the signal and the message `try_recv` received.
#[test]
fn a_notify_stream_outliving_its_runtime_reports_it_and_counts_what_it_did() {
    let fx = fixture();
    let (port, send) = fx.connect();
    let first = current_thread_rt();
    let mut stream = first.block_on(async {
        let mut stream = MachNotifyStream::new(port).unwrap();
        send.try_send(MessageBuilder::new(1).build()).unwrap();
        within(WAIT, stream.next(), "the signal")
            .await
            .expect("a signal")
            .expect("no error");
        assert_eq!(stream.try_recv().unwrap().map(|m| m.id()), Some(1));
        assert!(stream.try_recv().unwrap().is_none(), "drained");
        stream
    });
    let stats = stream.stats();
    assert_eq!((stats.signals, stats.messages), (1, 1), "{stats:?}");
    drop(first);
    send.try_send(MessageBuilder::new(2).build()).unwrap();
    current_thread_rt().block_on(async {
        let err = within(WAIT, stream.next(), "the error")
            .await
            .expect("an item")
            .expect_err("the runtime is gone");
        assert!(
            matches!(
                err,
                Error::Io {
                    op: "poll kqueue",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(within(WAIT, stream.next(), "the end").await.is_none());
        assert!(
            stream.try_recv().unwrap().is_none(),
            "an ended stream is empty"
        );
        let ports = stream.into_ports();
        let mut again = MachRecvStream::builder().ports(ports).build().unwrap();
        let m = within(WAIT, again.next(), "message 2 in the new runtime").await;
        assert_eq!(m.unwrap().unwrap().id(), 2);
    });
    drop(send);
    fx.kernel.assert_no_leaks();
}

/// A port taken out of a stream whose set was destroyed behind its back (as exec or exit
/// would) is still handed back, and works: the stream itself ends.
#[test]
fn remove_port_after_the_set_was_destroyed_elsewhere_still_gives_the_port_back() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let name = port.name();
        let mut stream = MachRecvStream::new(port).unwrap();
        fx.server_task().port_close(stream.set_name()).unwrap();
        let back = stream.remove_port(name).expect("the port is handed back");
        assert_eq!(back.name(), name);
        assert!(stream.remove_port(name).is_none(), "only once");
        assert!(within(WAIT, stream.next(), "the end").await.is_none());
        assert!(stream.set_died());
        drop(stream);
        let mut again = MachRecvStream::new(back).unwrap();
        send.try_send(MessageBuilder::new(3).build()).unwrap();
        let m = within(WAIT, again.next(), "message 3").await;
        assert_eq!(m.unwrap().unwrap().id(), 3);
        drop((again, send));
    });
    fx.kernel.assert_no_leaks();
}
