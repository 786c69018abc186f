//! Audit of `MachRecvStream` against native-filter.md §5 (rules not pinned down elsewhere).
//!
//! Each test runs on its own simulated kernel and ends with the no-leak assertion.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::{MachRecvStream, MessageBuilder, ReceiveRight};

/// Rule 15 with §3.7's name-reuse trap: after `EV_EOF` the set name no longer belongs to the
/// stream; the stream must end without receiving on that name, which may already denote
/// another right of the same task. `before_first_poll` destroys the set before the stream's
/// initial drain (rule 6) rather than after it.
fn eof_then_reused_set_name(before_first_poll: bool) {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        if !before_first_poll {
            assert!(
                tokio::time::timeout(Duration::from_millis(20), stream.next())
                    .await
                    .is_err(),
                "nothing to deliver yet"
            );
        }
        let set = stream.set_name();
        // The set is destroyed by someone else in the task (EV_EOF is queued on the knote)...
        fx.server_task().port_destroy(set).unwrap();
        // ...and its name is reused at once by a new port (lowest free name), which gets a
        // message that is none of the stream's business.
        let foreign = ReceiveRight::new_in(&fx.server).unwrap();
        assert_eq!(
            foreign.name(),
            set,
            "precondition: the set's name was reused"
        );
        let foreign_send = foreign.make_send().unwrap();
        foreign_send
            .try_send(MessageBuilder::new(4242).build())
            .unwrap();
        drop(foreign_send);

        let end = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the stream ends promptly after EV_EOF");
        assert!(
            end.is_none(),
            "the stream received on a name that is no longer its set: {end:?}"
        );
        assert_eq!(stream.stats().eof_events, 1);
        // The foreign port still has its message.
        let status = fx.server_task().port_status(foreign.name()).unwrap();
        assert_eq!(status.msgcount, 1, "the foreign message is still queued");
        // A message on the stream's own port stays there (the port is still the stream's and
        // is destroyed with it).
        sender.try_send(MessageBuilder::new(1).build()).unwrap();
        drop(stream);
        drop(sender);
        drop(foreign);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn after_eof_the_stream_never_receives_on_a_reused_set_name() {
    eof_then_reused_set_name(false);
}

#[test]
fn eof_before_the_first_poll_also_ends_without_receiving_on_the_name() {
    eof_then_reused_set_name(true);
}

/// The same trap in notify mode: the caller's `try_recv` receives on the set name, so after
/// `EV_EOF` the stream must end and `try_recv` must not touch the (reused) name.
#[test]
fn notify_mode_eof_ends_and_try_recv_leaves_a_reused_name_alone() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachRecvStream::builder().port(port).build_notify().unwrap();
        let set = notify.set_name();
        fx.server_task().port_destroy(set).unwrap();
        let foreign = ReceiveRight::new_in(&fx.server).unwrap();
        assert_eq!(
            foreign.name(),
            set,
            "precondition: the set's name was reused"
        );
        let foreign_send = foreign.make_send().unwrap();
        foreign_send
            .try_send(MessageBuilder::new(4242).build())
            .unwrap();
        drop(foreign_send);
        let end = tokio::time::timeout(Duration::from_secs(2), notify.next())
            .await
            .expect("the stream ends promptly after EV_EOF");
        assert!(end.is_none(), "EV_EOF ends a notify stream: {end:?}");
        assert!(notify.try_recv().unwrap().is_none());
        let status = fx.server_task().port_status(foreign.name()).unwrap();
        assert_eq!(status.msgcount, 1, "the foreign message is still queued");
        drop(notify);
        drop(sender);
        drop(foreign);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}
