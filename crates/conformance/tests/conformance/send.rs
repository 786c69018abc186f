//! Async send: a full queue (limit 5), timeouts that hand the message back, cancellation, a
//! waiting send completing when the receiver makes room, send-once rights past the limit.

use std::time::Duration;

use futures::StreamExt;
use mach_abi::MACH_SEND_TIMED_OUT;
use mach_async::{
    Descriptor, Error, MachRecvStream, MessageBuilder, PortRight, PortSlot, ReceiveRight,
};
use mach_conformance::{current_thread_rt, multi_thread_rt, within, Fixture, Outcome, HANG};

crate::tests!(
    try_send_to_a_full_queue_hands_the_message_back,
    a_send_timeout_on_a_full_queue_keeps_the_rights_it_carries,
    a_waiting_send_completes_when_the_receiver_makes_room,
    a_cancelled_send_releases_its_message,
    many_senders_through_a_full_queue_all_arrive,
    send_once_rights_are_not_held_back_by_the_queue_limit,
    request_gets_its_reply_on_a_per_call_reply_port,
);

fn fill(sender: &mach_async::SendRight) {
    for i in 0..5 {
        sender
            .try_send(MessageBuilder::new(i).build())
            .expect("room for 5");
    }
}

fn try_send_to_a_full_queue_hands_the_message_back() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        fill(&sender);
        let err = sender
            .try_send(MessageBuilder::new(9).body(&b"back"[..]).build())
            .expect_err("the queue is full");
        assert_eq!(err.code(), Some(MACH_SEND_TIMED_OUT));
        let msg = err.into_message();
        assert_eq!((msg.id(), &msg.body()[..]), (9, &b"back"[..]));
        drop(msg);
        drop(sender);
        drop(port);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_send_timeout_on_a_full_queue_keeps_the_rights_it_carries() -> Outcome {
    let fx = Fixture::new();
    multi_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        fill(&sender);
        let carried = ReceiveRight::new_in(fx.client()).unwrap();
        let msg = MessageBuilder::new(99)
            .port(PortSlot::Right(carried.into()))
            .build();
        let err = within(
            HANG,
            sender.send_timeout(msg, Some(Duration::from_millis(60))),
            "the send to time out",
        )
        .await
        .expect_err("no room within 60 ms");
        assert!(matches!(err.error(), Error::TimedOut), "{err:?}");
        let mut msg = err.into_message();
        let Descriptor::Port(Some(PortSlot::Right(PortRight::Receive(r)))) =
            msg.descriptors_mut().remove(0)
        else {
            panic!("the receive right is still the message's")
        };
        // Still a working receive right.
        let send = r.make_send().expect("make_send on the returned right");
        drop(send);
        drop(r);
        drop(sender);
        drop(port);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_waiting_send_completes_when_the_receiver_makes_room() -> Outcome {
    let fx = Fixture::new();
    multi_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        fill(&sender);
        let s2 = sender.clone();
        let later = tokio::spawn(async move { s2.send(MessageBuilder::new(101).build()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut stream = MachRecvStream::new(port).unwrap();
        let mut ids = Vec::new();
        while ids.len() < 6 {
            let msg = within(
                HANG,
                stream.next(),
                "the queued messages and the waiting one",
            )
            .await;
            ids.push(msg.unwrap().unwrap().id());
        }
        within(HANG, later, "the waiting send")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids, [0, 1, 2, 3, 4, 101]);
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_cancelled_send_releases_its_message() -> Outcome {
    let fx = Fixture::new();
    multi_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        fill(&sender);
        let carried = ReceiveRight::new_in(fx.client()).unwrap();
        let msg = MessageBuilder::new(100)
            .port(PortSlot::Right(carried.into()))
            .build();
        let s2 = sender.clone();
        let waiting = tokio::spawn(async move { s2.send(msg).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        waiting.abort();
        let _ = waiting.await;
        // A cancelled send gives up at the end of its current blocking slice; then the five
        // queued messages are all there is (or six, if it completed within that slice).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (ports, queued) = MachRecvStream::new(port).unwrap().into_ports();
        drop(queued);
        drop(ports);
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn many_senders_through_a_full_queue_all_arrive() -> Outcome {
    let fx = Fixture::new();
    multi_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let s = sender.clone();
                tokio::spawn(async move {
                    for i in 0..25 {
                        s.send(MessageBuilder::new(t * 100 + i).build())
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        drop(sender);
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 200 {
            let msg = within(HANG, stream.next(), "all 200 messages").await;
            assert!(seen.insert(msg.unwrap().unwrap().id()), "delivered once");
        }
        for t in tasks {
            within(HANG, t, "a sender task").await.unwrap();
        }
    });
    fx.assert_no_leaks();
    Ok(())
}

fn send_once_rights_are_not_held_back_by_the_queue_limit() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(fx.server()).unwrap();
        let send = port.make_send().unwrap();
        fill(&send);
        let once = port.make_send_once().unwrap();
        once.try_send(MessageBuilder::new(50).build())
            .expect("a send-once message is queued past the limit");
        let mut stream = MachRecvStream::new(port).unwrap();
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(
                within(HANG, stream.next(), "six messages")
                    .await
                    .unwrap()
                    .unwrap()
                    .id(),
            );
        }
        assert_eq!(ids, [0, 1, 2, 3, 4, 50]);
        drop(send);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn request_gets_its_reply_on_a_per_call_reply_port() -> Outcome {
    let fx = Fixture::new();
    multi_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut server = MachRecvStream::new(port).unwrap();
        let answering = tokio::spawn(async move {
            for _ in 0..3 {
                let mut req = within(HANG, server.next(), "a request")
                    .await
                    .unwrap()
                    .unwrap();
                let reply = req
                    .take_reply()
                    .and_then(PortRight::into_send_once)
                    .expect("reply");
                reply
                    .send(
                        MessageBuilder::new(req.id() + 100)
                            .body(req.body().clone())
                            .build(),
                    )
                    .await
                    .unwrap();
            }
            server
        });
        for i in 0..3 {
            let reply = within(
                HANG,
                sender.request(
                    MessageBuilder::new(i)
                        .body((i as u32).to_le_bytes().to_vec())
                        .build(),
                    Some(HANG),
                ),
                "the reply",
            )
            .await
            .expect("a reply");
            assert_eq!(
                (reply.id(), &reply.body()[..]),
                (i + 100, &(i as u32).to_le_bytes()[..])
            );
        }
        drop(within(HANG, answering, "the answering task").await.unwrap());
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}
