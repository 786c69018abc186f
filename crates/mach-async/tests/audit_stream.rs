//! Audit of `MachRecvStream` against native-filter.md §5 (rules not pinned down elsewhere).
//!
//! Each test runs on its own simulated kernel and ends with the no-leak assertion.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::{MachRecvStream, MessageBuilder, ReceiveRight, Space};

/// A port in `a` and a port in `b` with the same name, plus the spare ports allocated on the
/// way (names are the lowest free number in each space).
fn same_number(a: &Space, b: &Space) -> (ReceiveRight, ReceiveRight, Vec<ReceiveRight>) {
    let mut pa = ReceiveRight::new_in(a).unwrap();
    let mut pb = ReceiveRight::new_in(b).unwrap();
    let mut spare = Vec::new();
    while pa.name() != pb.name() {
        if pa.name() < pb.name() {
            spare.push(std::mem::replace(&mut pa, ReceiveRight::new_in(a).unwrap()));
        } else {
            spare.push(std::mem::replace(&mut pb, ReceiveRight::new_in(b).unwrap()));
        }
    }
    (pa, pb, spare)
}

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

/// Names are per space: a port of another space handed to a stream (or a port set) must be
/// refused with an error, not resolved by its number in the stream's space, where the same
/// number denotes an unrelated right.
#[test]
fn a_port_from_another_space_is_refused_not_confused_with_a_local_name() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let theirs = ReceiveRight::new_in(&fx.server).unwrap();
        let ours = ReceiveRight::new_in(&fx.client).unwrap();
        assert_eq!(theirs.name(), ours.name(), "precondition: same number");
        let built = MachRecvStream::builder()
            .space(fx.client.clone())
            .port(theirs)
            .build();
        assert!(
            matches!(built, Err(mach_async::Error::WrongSpace { .. })),
            "a foreign port was accepted: {built:?}"
        );
        drop(built);
        assert_eq!(
            fx.client.task().port_status(ours.name()).unwrap().pset,
            0,
            "the local port with the same number was not touched"
        );

        // insert_port: the same check on a live stream.
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::builder()
            .space(fx.server.clone())
            .port(port)
            .build()
            .unwrap();
        let other = ReceiveRight::new_in(&fx.client).unwrap();
        let clash = fx
            .server
            .task()
            .port_allocate(mach_abi::MACH_PORT_RIGHT_RECEIVE);
        let clash = clash.unwrap();
        assert_eq!(
            other.name(),
            clash,
            "precondition: same number in the two spaces"
        );
        assert!(matches!(
            stream.insert_port(other),
            Err(mach_async::Error::WrongSpace { .. })
        ));
        assert_eq!(fx.server.task().port_status(clash).unwrap().pset, 0);
        fx.server.task().port_close(clash).unwrap();

        // PortSet::insert / remove.
        let set = mach_async::PortSet::new_in(&fx.client).unwrap();
        let local = fx
            .client
            .task()
            .port_allocate(mach_abi::MACH_PORT_RIGHT_RECEIVE)
            .unwrap();
        // A server port with the same number (allocating past lower free names).
        let mut spare = Vec::new();
        let foreign = loop {
            let p = ReceiveRight::new_in(&fx.server).unwrap();
            assert!(
                p.name() <= local,
                "precondition: same number in the two spaces"
            );
            if p.name() == local {
                break p;
            }
            spare.push(p);
        };
        assert!(matches!(
            set.insert(&foreign),
            Err(mach_async::Error::WrongSpace { .. })
        ));
        assert_eq!(fx.client.task().port_status(local).unwrap().pset, 0);
        assert!(set.remove(&foreign).is_err());
        fx.client.task().port_close(local).unwrap();
        drop((set, foreign, spare, stream, sender, ours));
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

/// A message carrying a right of another space must not be sent: the kernel would move the
/// sender's right that has the same number. The send fails with [`Error::WrongSpace`] and hands
/// the message back with the right still in it.
#[test]
fn a_message_carrying_a_right_of_another_space_is_not_sent() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        // A client port and a server port with the same number.
        let (local, foreign, spare) = same_number(&fx.client, &fx.server);
        let foreign_name = foreign.name();
        let msg = MessageBuilder::new(5)
            .port(mach_async::PortSlot::Right(foreign.into()))
            .build();
        let err = sender.try_send(msg).expect_err("a foreign right was sent");
        assert!(
            matches!(err.error(), mach_async::Error::WrongSpace { .. }),
            "{err}"
        );
        let mut back = err.into_message();
        match back.take_descriptors().pop() {
            Some(mach_async::Descriptor::Port(Some(mach_async::PortSlot::Right(r)))) => {
                assert_eq!(r.name(), foreign_name);
                assert_eq!(r.space(), &fx.server, "the right came back untouched");
            }
            other => panic!("descriptor not handed back: {other:?}"),
        }
        // The client's own port with that number is still the client's.
        assert_eq!(
            fx.client.task().port_status(local.name()).unwrap().msgcount,
            0
        );
        // Nothing arrived.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err()
        );
        // The async path refuses it the same way.
        let msg = MessageBuilder::new(6)
            .port(mach_async::PortSlot::Right(
                ReceiveRight::new_in(&fx.server).unwrap().into(),
            ))
            .build();
        let err = within(WAIT, sender.send(msg), "the send's answer on `sender`")
            .await
            .expect_err("a foreign right was sent");
        assert!(matches!(err.error(), mach_async::Error::WrongSpace { .. }));
        drop((err, back, spare, local, stream, sender));
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

/// Rule 10: `MACH_RCV_HEADER_ERROR` / `MACH_RCV_BODY_ERROR` → destroy the damaged message and
/// keep draining. The stream must destroy only what the kernel wrote for *this* receive: the
/// buffer still holds the previous message (already delivered, its rights owned by the caller),
/// and releasing the rights found there would release the caller's rights a second time.
#[test]
fn a_damaged_receive_never_releases_rights_of_the_previous_message() {
    for code in [
        mach_abi::MACH_RCV_HEADER_ERROR,
        mach_abi::MACH_RCV_BODY_ERROR,
    ] {
        let fx = fixture();
        let rt = current_thread_rt();
        rt.block_on(async {
            let (port, sender) = fx.connect();
            let mut stream = MachRecvStream::new(port).unwrap();
            let mine = ReceiveRight::new_in(&fx.client).unwrap();
            sender
                .try_send(MessageBuilder::new(1).reply_make_send_once(&mine).build())
                .unwrap();
            let first = within(WAIT, stream.next(), "the next message on `stream`")
                .await
                .unwrap()
                .unwrap();
            let reply = first.reply().expect("a reply right").name();
            let server = fx.server.task().clone();
            let has_reply = || {
                server
                    .port_type(reply)
                    .is_ok_and(|t| t & mach_abi::MACH_PORT_TYPE_SEND_ONCE != 0)
            };
            assert!(has_reply());
            // The next receive fails as if the message were damaged (nothing is written to
            // the buffer, which still holds the first message), then the stream goes on.
            let fault = fx.kernel.faults().fail_next_receives(1, code);
            sender.try_send(MessageBuilder::new(2).build()).unwrap();
            let second = tokio::time::timeout(Duration::from_secs(2), stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(second.id(), 2);
            assert_eq!(fault.fired(), 1);
            assert!(
                has_reply(),
                "{code:#x}: the first message's reply right was released behind its back"
            );
            // Dropping the first message releases its reply right exactly once.
            drop(first);
            let mut notes = MachRecvStream::new(mine).unwrap();
            let n = tokio::time::timeout(Duration::from_secs(2), notes.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(n.id(), mach_abi::MACH_NOTIFY_SEND_ONCE);
            assert!(
                tokio::time::timeout(Duration::from_millis(20), notes.next())
                    .await
                    .is_err(),
                "one send-once notification only"
            );
            drop((second, notes, stream, sender));
        });
        drop(rt);
        fx.kernel.faults().clear();
        fx.kernel.assert_no_leaks();
    }
}
