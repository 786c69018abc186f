//! RAII rights, messages, async send and notifications on the simulated kernel.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_abi::{MACH_NOTIFY_SEND_ONCE, MACH_PORT_RIGHT_SEND};
use mach_async::{
    Descriptor, Error, MachRecvStream, MessageBuilder, Notified, PortRight, PortSet, PortSlot,
    ReceiveRight, SendRight,
};

#[test]
fn drop_releases_and_clone_adds_a_user_reference() {
    let fx = fixture();
    let port = ReceiveRight::new_in(&fx.server).unwrap();
    assert_eq!(fx.kernel.stats().ports, 1);
    let send = port.make_send().unwrap();
    let task = fx.server.task();
    assert_eq!(
        task.port_get_refs(send.name(), MACH_PORT_RIGHT_SEND)
            .unwrap(),
        1
    );
    let clone = send.clone();
    assert_eq!(
        task.port_get_refs(send.name(), MACH_PORT_RIGHT_SEND)
            .unwrap(),
        2
    );
    drop(clone);
    assert_eq!(
        task.port_get_refs(send.name(), MACH_PORT_RIGHT_SEND)
            .unwrap(),
        1
    );
    drop(send);
    assert_eq!(
        task.port_get_refs(port.name(), MACH_PORT_RIGHT_SEND)
            .unwrap_or(0),
        0
    );
    let set = PortSet::new_in(&fx.server).unwrap();
    set.insert(&port).unwrap();
    assert_eq!(
        task.port_set_members(set.name()).unwrap(),
        vec![port.name()]
    );
    set.remove(&port).unwrap();
    drop(set);
    drop(port);
    fx.kernel.assert_no_leaks();
}

#[test]
fn raw_round_trip() {
    let fx = fixture();
    let port = ReceiveRight::new_in(&fx.server).unwrap();
    let name = port.into_raw();
    assert_eq!(fx.kernel.stats().ports, 1, "into_raw does not release");
    // SAFETY: the name we just gave up.
    let port = unsafe { ReceiveRight::from_raw_in(&fx.server, name) };
    drop(port);
    fx.kernel.assert_no_leaks();
}

#[test]
fn make_send_once_and_its_destruction_notifies_the_port() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(&fx.server).unwrap();
        let once = port.make_send_once().unwrap();
        assert_ne!(once.name(), port.name());
        let once2 = port.make_send_once().unwrap();
        let mut stream = MachRecvStream::new(port).unwrap();
        within(
            WAIT,
            once.send(MessageBuilder::new(11).build()),
            "room to send on `once`",
        )
        .await
        .unwrap();
        assert_eq!(
            within(WAIT, stream.next(), "message 11 on `stream`")
                .await
                .unwrap()
                .unwrap()
                .id(),
            11
        );
        drop(once2); // destroyed unused: the port gets a send-once notification
        let m = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.id(), MACH_NOTIFY_SEND_ONCE);
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn no_senders_notification_fires() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(&fx.server).unwrap();
        let s1 = port.make_send().unwrap();
        let s2 = s1.clone();
        let fut = port.request_no_senders(1).unwrap();
        drop(s1);
        tokio::pin!(fut);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut fut)
                .await
                .is_err(),
            "a sender remains"
        );
        drop(s2);
        let n = tokio::time::timeout(Duration::from_secs(2), fut)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, Notified::NoSenders(1));
        drop(port);
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn dead_name_notification_fires() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let fut = send.request_dead_name().unwrap();
        tokio::pin!(fut);
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut fut)
            .await
            .is_err());
        drop(port); // the server destroys its receive right
        let n = tokio::time::timeout(Duration::from_secs(2), fut)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, Notified::DeadName(send.name()));
        // The send right is a dead name now; sending fails with the message given back.
        let err = within(
            WAIT,
            send.send(MessageBuilder::new(1).build()),
            "room to send on `send`",
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some(mach_abi::MACH_SEND_INVALID_DEST));
        drop(send);
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn rights_travel_in_messages_and_replies_come_back() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let mut server = MachRecvStream::new(port).unwrap();
        // Client: a reply port; request with a send right to it as a descriptor too.
        let reply_port = ReceiveRight::new_in(&fx.client).unwrap();
        let mut replies = MachRecvStream::builder().port(reply_port).build().unwrap();
        let reply_name = replies.port_names()[0];
        let msg = MessageBuilder::new(500)
            .reply(PortSlot::MakeSendOnce(reply_name))
            .port(PortSlot::MakeSend(reply_name))
            .ool(&b"out-of-line data"[..])
            .body(vec![1u8, 2, 3, 4])
            .build();
        within(WAIT, send.send(msg), "room to send on `send`")
            .await
            .unwrap();
        let mut req = within(WAIT, server.next(), "the next message on `server`")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(req.id(), 500);
        assert_eq!(req.reply_type(), 18);
        assert_eq!(&req.body()[..], &[1, 2, 3, 4]);
        assert_eq!(req.audit_token().unwrap().euid(), 502);
        let mut descs = req.take_descriptors();
        let Descriptor::Ool(data) = &descs[1] else {
            panic!("ool")
        };
        assert_eq!(&data[..], b"out-of-line data");
        let Descriptor::Port(Some(PortSlot::Right(PortRight::Send(back)))) = descs.remove(0) else {
            panic!("port")
        };
        let reply_right = req.take_reply().unwrap().into_send_once().unwrap();
        within(
            WAIT,
            reply_right.send(MessageBuilder::new(600).build()),
            "room to send on `reply_right`",
        )
        .await
        .unwrap();
        within(
            WAIT,
            back.send(MessageBuilder::new(601).build()),
            "room to send on `back`",
        )
        .await
        .unwrap();
        assert_eq!(
            within(WAIT, replies.next(), "message 600 on `replies`")
                .await
                .unwrap()
                .unwrap()
                .id(),
            600
        );
        assert_eq!(
            within(WAIT, replies.next(), "message 601 on `replies`")
                .await
                .unwrap()
                .unwrap()
                .id(),
            601
        );
        drop(back);
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn request_reply_helper_uses_a_per_call_reply_port() {
    let fx = fixture();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        let mut server = MachRecvStream::new(port).unwrap();
        let srv = tokio::spawn(async move {
            while let Some(Ok(mut req)) =
                within(WAIT, server.next(), "the next message on `server`").await
            {
                let reply = req
                    .take_reply()
                    .and_then(PortRight::into_send_once)
                    .unwrap();
                let body = req.body().clone();
                within(
                    WAIT,
                    reply.send(MessageBuilder::new(req.id() + 100).body(body).build()),
                    "room to send on `reply`",
                )
                .await
                .unwrap();
                if req.id() == 3 {
                    break;
                }
            }
        });
        for i in 1..=3 {
            let r = send
                .request(
                    MessageBuilder::new(i).body(vec![i as u8; 4]).build(),
                    Some(Duration::from_secs(2)),
                )
                .await
                .unwrap();
            assert_eq!(r.id(), i + 100);
            assert_eq!(&r.body()[..], &[i as u8; 4]);
        }
        within(WAIT, srv, "`srv` to finish").await.unwrap();
        // Server gone (its stream and port dropped): a request fails instead of hanging.
        let e = send
            .request(
                MessageBuilder::new(9).build(),
                Some(Duration::from_millis(500)),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Msg { .. } | Error::TimedOut), "{e:?}");
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn full_queue_send_times_out_without_losing_or_leaking_the_message() {
    let fx = fixture();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        for i in 0..5 {
            send.try_send(MessageBuilder::new(i).build()).unwrap();
        }
        let carried = ReceiveRight::new_in(&fx.client).unwrap();
        let carried_name = carried.name();
        let msg = MessageBuilder::new(99)
            .port(PortSlot::Right(carried.into()))
            .build();
        let err = send.try_send(msg).unwrap_err();
        assert_eq!(err.code(), Some(mach_abi::MACH_SEND_TIMED_OUT));
        let msg = err.into_message();
        let err = send
            .send_timeout(msg, Some(Duration::from_millis(60)))
            .await
            .unwrap_err();
        assert!(matches!(err.error(), Error::TimedOut));
        let mut msg = err.into_message();
        // The receive right is still the message's (and still ours).
        let Descriptor::Port(Some(PortSlot::Right(PortRight::Receive(r)))) =
            msg.descriptors_mut().remove(0)
        else {
            panic!("right kept")
        };
        assert!(
            fx.client.task().port_type(r.name()).unwrap() & mach_abi::MACH_PORT_TYPE_RECEIVE != 0
        );
        let _ = carried_name;
        // Cancelling a waiting send drops (releases) the message.
        let msg = MessageBuilder::new(100)
            .port(PortSlot::Right(r.into()))
            .build();
        let s2 = send.clone();
        let waiting = tokio::spawn(async move { s2.send(msg).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        waiting.abort();
        let _ = within(WAIT, waiting, "`waiting` to finish").await;
        // A cancelled send gives up at the end of its current blocking slice (a send that
        // completes within that slice is delivered); wait past it.
        tokio::time::sleep(SEND_SLICE_WAIT).await;
        // A waiting send completes when the receiver makes room.
        let s3 = send.clone();
        let later = tokio::spawn(async move { s3.send(MessageBuilder::new(101).build()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut stream = MachRecvStream::new(port).unwrap();
        let mut ids = Vec::new();
        while ids.len() < 6 {
            ids.push(
                tokio::time::timeout(Duration::from_secs(2), stream.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap()
                    .id(),
            );
        }
        within(WAIT, later, "`later` to finish")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 101]);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

const SEND_SLICE_WAIT: Duration = Duration::from_millis(300);

#[test]
fn send_right_clone_send_and_drop_in_other_space() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let clones: Vec<SendRight> = (0..3).map(|_| send.clone()).collect();
        let mut stream = MachRecvStream::new(port).unwrap();
        for (i, c) in clones.iter().enumerate() {
            within(
                WAIT,
                c.send(MessageBuilder::new(i as i32).build()),
                "room to send on `c`",
            )
            .await
            .unwrap();
        }
        for i in 0..3 {
            assert_eq!(
                within(WAIT, stream.next(), "message i on `stream`")
                    .await
                    .unwrap()
                    .unwrap()
                    .id(),
                i
            );
        }
        drop(clones);
        let (ports, undelivered) = stream.into_ports();
        assert_eq!(ports.len(), 1);
        assert!(undelivered.is_empty());
        drop(ports);
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn a_waiting_send_owns_what_it_borrowed() {
    let fx = fixture();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        for i in 0..5 {
            send.try_send(MessageBuilder::new(i).build()).unwrap();
        }
        let mine = ReceiveRight::new_in(&fx.client).unwrap();
        let msg = MessageBuilder::new(50)
            .reply_make_send_once(&mine)
            .make_send(&mine)
            .build();
        let s2 = send.clone();
        let waiting = tokio::spawn(async move { s2.send(msg).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The caller's names may go away while the send waits on the blocking pool.
        drop(send);
        let mut stream = MachRecvStream::new(port).unwrap();
        let mut got = Vec::new();
        while got.len() < 6 {
            got.push(
                tokio::time::timeout(Duration::from_secs(2), stream.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        }
        within(WAIT, waiting, "`waiting` to finish")
            .await
            .unwrap()
            .unwrap();
        let last = got.pop().unwrap();
        assert_eq!(last.id(), 50);
        assert_eq!(last.reply_type(), 18, "reply arrives as a send-once right");
        assert!(matches!(
            last.descriptors()[0],
            Descriptor::Port(Some(PortSlot::Right(PortRight::Send(_))))
        ));
        drop(got);
        drop(last); // destroys the send-once reply right: `mine` gets a send-once notification
        let mut mine_stream = MachRecvStream::new(mine).unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), mine_stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(n.id(), MACH_NOTIFY_SEND_ONCE);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}
