//! Rights and user references: allocation, clone/drop, make-send(-once), raw names, port sets,
//! rights carried in messages, and the no-senders / dead-name / send-once notifications.

use std::time::Duration;

use futures::StreamExt;
use mach_abi::{MACH_NOTIFY_SEND_ONCE, MACH_SEND_INVALID_DEST};
use mach_async::{
    Descriptor, MachRecvStream, MessageBuilder, Notified, PortRight, PortSet, PortSlot,
    ReceiveRight, SendRight,
};
use mach_conformance::{current_thread_rt, not_within, within, Fixture, Outcome, HANG};

crate::tests!(
    a_receive_right_is_released_on_drop,
    a_port_set_is_released_on_drop,
    make_send_then_drop_releases_everything,
    clones_are_independent_user_references,
    try_clone_of_a_live_right_succeeds,
    raw_round_trip_keeps_the_right,
    no_senders_fires_when_the_last_send_right_goes,
    no_senders_waits_for_every_clone,
    dead_name_fires_when_the_receiver_dies,
    an_unused_send_once_right_notifies_its_port,
    a_send_once_right_carries_one_message,
    a_send_right_travels_in_a_message_and_the_reply_comes_back,
    a_receive_right_travels_in_a_message,
    a_port_set_takes_and_gives_back_members,
    sending_to_a_destroyed_port_fails_and_returns_the_message,
    dropping_a_receive_right_destroys_queued_messages_and_their_rights,
);

fn a_receive_right_is_released_on_drop() -> Outcome {
    let fx = Fixture::new();
    let port = ReceiveRight::new_in(fx.server()).expect("allocate");
    assert!(port.name() != 0, "a valid name");
    assert_eq!(port.space(), fx.server());
    drop(port);
    fx.assert_no_leaks();
    Ok(())
}

fn a_port_set_is_released_on_drop() -> Outcome {
    let fx = Fixture::new();
    let set = PortSet::new_in(fx.server()).expect("allocate a set");
    let port = ReceiveRight::new_in(fx.server()).expect("allocate");
    set.insert(&port).expect("insert");
    drop(set);
    drop(port);
    fx.assert_no_leaks();
    Ok(())
}

fn make_send_then_drop_releases_everything() -> Outcome {
    let fx = Fixture::new();
    let port = ReceiveRight::new_in(fx.server()).unwrap();
    let send = port.make_send().expect("make_send");
    let once = port.make_send_once().expect("make_send_once");
    drop(once);
    drop(send);
    drop(port);
    fx.assert_no_leaks();
    Ok(())
}

fn clones_are_independent_user_references() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        let a = send.clone();
        let b = a.clone();
        drop(send);
        a.send(MessageBuilder::new(1).build())
            .await
            .expect("clone a sends");
        drop(a);
        b.send(MessageBuilder::new(2).build())
            .await
            .expect("clone b sends");
        for id in [1, 2] {
            let msg = within(HANG, stream.next(), "a message from a clone").await;
            assert_eq!(msg.unwrap().unwrap().id(), id);
        }
        drop(b);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn try_clone_of_a_live_right_succeeds() -> Outcome {
    let fx = Fixture::new();
    let (port, send) = fx.connect();
    let copy = send.try_clone().expect("try_clone");
    assert_eq!(copy.name(), send.name(), "one name, two user references");
    drop(send);
    drop(copy);
    drop(port);
    fx.assert_no_leaks();
    Ok(())
}

fn raw_round_trip_keeps_the_right() -> Outcome {
    let fx = Fixture::new();
    let port = ReceiveRight::new_in(fx.server()).unwrap();
    let name = port.into_raw();
    // SAFETY: `name` came from `into_raw` in this space; ownership returns to a ReceiveRight.
    let port = unsafe { ReceiveRight::from_raw_in(fx.server(), name) };
    assert_eq!(port.name(), name);
    let send = port.make_send().unwrap();
    drop(send);
    drop(port);
    fx.assert_no_leaks();
    Ok(())
}

fn no_senders_fires_when_the_last_send_right_goes() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(fx.server()).unwrap();
        let send = port.make_send().unwrap();
        let notified = port.request_no_senders(1).expect("arm no-senders");
        drop(send);
        let n = within(HANG, notified, "the no-senders notification").await;
        assert_eq!(n.unwrap(), Notified::NoSenders(1));
        drop(port);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn no_senders_waits_for_every_clone() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(fx.server()).unwrap();
        let s1 = port.make_send().unwrap();
        let s2 = s1.clone();
        let notified = port.request_no_senders(1).unwrap();
        tokio::pin!(notified);
        drop(s1);
        not_within(
            Duration::from_millis(30),
            &mut notified,
            "no-senders with a clone alive",
        )
        .await;
        drop(s2);
        let n = within(HANG, notified, "no-senders after the last clone").await;
        assert_eq!(n.unwrap(), Notified::NoSenders(1));
        drop(port);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn dead_name_fires_when_the_receiver_dies() -> Outcome {
    let fx = Fixture::new();
    fx.require_separate_spaces(
        "in one space a send right shares its receive right's name, which the receiver's \
         destruction removes: there is no dead name",
    )?;
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let notified = send.request_dead_name().expect("arm dead-name");
        tokio::pin!(notified);
        not_within(
            Duration::from_millis(20),
            &mut notified,
            "dead-name while alive",
        )
        .await;
        drop(port);
        let n = within(HANG, notified, "the dead-name notification").await;
        assert_eq!(n.unwrap(), Notified::DeadName(send.name()));
        let err = send.send(MessageBuilder::new(1).build()).await.unwrap_err();
        assert_eq!(err.code(), Some(MACH_SEND_INVALID_DEST));
        drop(send);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn an_unused_send_once_right_notifies_its_port() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(fx.server()).unwrap();
        let once = port.make_send_once().unwrap();
        let mut stream = MachRecvStream::new(port).unwrap();
        drop(once);
        let msg = within(HANG, stream.next(), "MACH_NOTIFY_SEND_ONCE").await;
        assert_eq!(msg.unwrap().unwrap().id(), MACH_NOTIFY_SEND_ONCE);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_send_once_right_carries_one_message() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(fx.server()).unwrap();
        let once = port.make_send_once().unwrap();
        let mut stream = MachRecvStream::new(port).unwrap();
        once.send(MessageBuilder::new(77).body(&b"once"[..]).build())
            .await
            .expect("send through the send-once right");
        let msg = within(HANG, stream.next(), "the send-once message")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((msg.id(), &msg.body()[..]), (77, &b"once"[..]));
        // The right was consumed: no MACH_NOTIFY_SEND_ONCE follows.
        not_within(Duration::from_millis(30), stream.next(), "a second message").await;
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_send_right_travels_in_a_message_and_the_reply_comes_back() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (server_port, to_server) = fx.connect();
        let mut server = MachRecvStream::new(server_port).unwrap();
        let client_port = ReceiveRight::new_in(fx.client()).unwrap();
        let request = MessageBuilder::new(100).make_send(&client_port).build();
        let mut client = MachRecvStream::new(client_port).unwrap();
        to_server.send(request).await.unwrap();
        let mut got = within(HANG, server.next(), "the request")
            .await
            .unwrap()
            .unwrap();
        let right = match got.take_descriptors().pop() {
            Some(Descriptor::Port(Some(slot))) => slot.into_right(),
            other => panic!("expected a port descriptor, got {other:?}"),
        };
        let back: SendRight = right.and_then(PortRight::into_send).expect("a send right");
        assert_eq!(back.space(), fx.server());
        back.send(MessageBuilder::new(101).build()).await.unwrap();
        let reply = within(HANG, client.next(), "the reply")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.id(), 101);
        drop(back);
        drop(to_server);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_receive_right_travels_in_a_message() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (server_port, to_server) = fx.connect();
        let mut server = MachRecvStream::new(server_port).unwrap();
        let moved = ReceiveRight::new_in(fx.client()).unwrap();
        let msg = MessageBuilder::new(5)
            .port(PortSlot::Right(PortRight::Receive(moved)))
            .build();
        to_server.send(msg).await.unwrap();
        let mut got = within(HANG, server.next(), "the message")
            .await
            .unwrap()
            .unwrap();
        let Some(Descriptor::Port(Some(slot))) = got.take_descriptors().pop() else {
            panic!("expected a port descriptor");
        };
        let receive = slot
            .into_right()
            .and_then(PortRight::into_receive)
            .expect("a receive right");
        assert_eq!(receive.space(), fx.server());
        let send = receive.make_send().unwrap();
        drop(send);
        drop(receive);
        drop(to_server);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_port_set_takes_and_gives_back_members() -> Outcome {
    let fx = Fixture::new();
    let set = PortSet::new_in(fx.server()).unwrap();
    let a = ReceiveRight::new_in(fx.server()).unwrap();
    let b = ReceiveRight::new_in(fx.server()).unwrap();
    set.insert(&a).expect("insert a");
    set.insert(&b).expect("insert b");
    set.remove(&a).expect("remove a");
    assert!(
        set.remove(&a).is_err(),
        "a is no longer a member (KERN_NOT_IN_SET)"
    );
    drop(set);
    drop(b);
    drop(a);
    fx.assert_no_leaks();
    Ok(())
}

fn sending_to_a_destroyed_port_fails_and_returns_the_message() -> Outcome {
    let fx = Fixture::new();
    fx.require_separate_spaces("in one space the destroyed port's send right loses its name too")?;
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        drop(port);
        let extra = ReceiveRight::new_in(fx.client()).unwrap();
        let msg = MessageBuilder::new(9)
            .body(&b"keep"[..])
            .make_send(&extra)
            .build();
        let err = send.send(msg).await.expect_err("the port is dead");
        assert_eq!(err.code(), Some(MACH_SEND_INVALID_DEST));
        let back = err.into_message();
        assert_eq!((back.id(), &back.body()[..]), (9, &b"keep"[..]));
        drop(back);
        drop(extra);
        drop(send);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn dropping_a_receive_right_destroys_queued_messages_and_their_rights() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let carried = ReceiveRight::new_in(fx.client()).unwrap();
        let no_senders = carried.request_no_senders(1).unwrap();
        for id in 0..3 {
            send.send(MessageBuilder::new(id).make_send(&carried).build())
                .await
                .unwrap();
        }
        drop(send);
        // The queued messages die with the port, and with them the send rights they carried.
        drop(port);
        let n = within(HANG, no_senders, "no-senders of the carried port").await;
        assert_eq!(n.unwrap(), Notified::NoSenders(3));
        drop(carried);
    });
    fx.assert_no_leaks();
    Ok(())
}
