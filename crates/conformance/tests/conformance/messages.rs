//! Message contents and the name service: what a received message reports about itself, a copied
//! send right in a descriptor, empty out-of-line data and port arrays, and bootstrap look-up,
//! check-in and registration refusals; what a space says about itself in logs.

use futures::StreamExt;
use mach_abi::MACH_MSG_TYPE_PORT_SEND;
use mach_async::{
    bootstrap, Descriptor, Error, MachRecvStream, Message, MessageBuilder, PortRight, PortSlot,
    ReceiveRight,
};
use mach_conformance::{current_thread_rt, within, Fixture, Outcome, Skipped, HANG};

crate::tests!(
    a_received_message_reports_its_label_body_and_a_copied_send_right,
    empty_out_of_line_data_and_port_arrays_arrive_empty,
    looking_up_an_unknown_service_says_so,
    check_in_gives_the_receive_right_that_look_up_reaches,
    registering_a_taken_name_is_refused_and_the_holder_keeps_it,
    a_space_identifies_itself,
);

async fn next(stream: &mut MachRecvStream, what: &str) -> Message {
    within(HANG, stream.next(), what)
        .await
        .expect("the stream is alive")
        .expect("a message")
}

/// A message built with `Message::builder`, its body replaced before the send, carrying a copy
/// of the sender's own send right: the receiver sees the destination's label (send), the new
/// body, and a send right that works, while the sender keeps its own.
fn a_received_message_reports_its_label_body_and_a_copied_send_right() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).expect("a stream");
        let mut msg = Message::builder(41).copy_send(&sender).build();
        msg.set_body(&b"replaced"[..]);
        sender.send(msg).await.expect("sent");
        let mut got = next(&mut stream, "message 41").await;
        assert_eq!(got.id(), 41);
        assert_eq!(got.local_type(), MACH_MSG_TYPE_PORT_SEND);
        assert_eq!(&got.body()[..], b"replaced");
        assert!(
            got.take_destination().is_none(),
            "a received message has no destination to take back"
        );
        let copy = match got.take_descriptors().pop() {
            Some(Descriptor::Port(Some(PortSlot::Right(PortRight::Send(s))))) => s,
            other => panic!("expected a send right, got {other:?}"),
        };
        // The copy and the sender's own right both reach the port.
        copy.send(MessageBuilder::new(42).build())
            .await
            .expect("the copy sends");
        assert_eq!(next(&mut stream, "message 42").await.id(), 42);
        sender
            .send(MessageBuilder::new(43).build())
            .await
            .expect("the sender kept its right");
        assert_eq!(next(&mut stream, "message 43").await.id(), 43);
        drop((copy, sender, stream));
    });
    fx.assert_no_leaks();
    Ok(())
}

/// Zero bytes of out-of-line data and an empty port array are legal descriptors; they arrive as
/// empty data and an empty array, in place.
fn empty_out_of_line_data_and_port_arrays_arrive_empty() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).expect("a stream");
        let msg = MessageBuilder::new(50)
            .ool(Vec::new())
            .ool_ports(Vec::new())
            .ool(vec![7u8; 3])
            .build();
        sender.send(msg).await.expect("sent");
        let got = next(&mut stream, "message 50").await;
        match got.descriptors() {
            [Descriptor::Ool(a), Descriptor::OolPorts(p), Descriptor::Ool(b)] => {
                assert!(a.is_empty(), "empty data stays empty");
                assert!(p.is_empty(), "an empty array stays empty");
                assert_eq!(&b[..], &[7, 7, 7]);
            }
            other => panic!("three descriptors expected, got {other:?}"),
        }
        drop((got, stream, sender));
    });
    fx.assert_no_leaks();
    Ok(())
}

fn unique(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "org.nextbsd.conformance.{what}.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A name nobody registered: `BOOTSTRAP_UNKNOWN_SERVICE`, recognised by
/// `bootstrap::is_unknown_service`, with the call named in the text.
fn looking_up_an_unknown_service_says_so() -> Outcome {
    let fx = Fixture::new();
    let err = bootstrap::look_up(fx.client(), &unique("nobody")).expect_err("nobody has it");
    assert!(bootstrap::is_unknown_service(&err), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("bootstrap_look_up failed: "), "{text}");
    assert!(!bootstrap::is_unknown_service(&Error::Ended));
    fx.assert_no_leaks();
    Ok(())
}

/// `bootstrap_check_in` hands the service's receive right to the server; a look-up of the same
/// name reaches it. (Natively launchd knows only the services its plists declare; a refusal
/// with `BOOTSTRAP_UNKNOWN_SERVICE` skips.)
fn check_in_gives_the_receive_right_that_look_up_reaches() -> Outcome {
    let fx = Fixture::new();
    let name = unique("check-in");
    let port = match bootstrap::check_in(fx.server(), &name) {
        Ok(port) => port,
        Err(e) if bootstrap::is_unknown_service(&e) => {
            return Err(Skipped(
                "the name server checks in only services declared for this job",
            ))
        }
        Err(e) => panic!("check_in: {e}"),
    };
    current_thread_rt().block_on(async {
        let sender = bootstrap::look_up(fx.client(), &name).expect("look_up after check_in");
        let mut stream = MachRecvStream::new(port).expect("a stream");
        sender
            .send(MessageBuilder::new(60).build())
            .await
            .expect("sent");
        assert_eq!(next(&mut stream, "message 60").await.id(), 60);
        drop((sender, stream));
    });
    fx.assert_no_leaks();
    Ok(())
}

/// While a registration's port lives, registering another port under the name is refused with
/// the call named in the error, and look-ups still reach the first port.
fn registering_a_taken_name_is_refused_and_the_holder_keeps_it() -> Outcome {
    let fx = Fixture::new();
    let name = unique("taken");
    let first = ReceiveRight::new_in(fx.server()).expect("a port");
    fx.register_service(&name, &first)?;
    let second = ReceiveRight::new_in(fx.server()).expect("a port");
    let err = bootstrap::register(fx.server(), &name, &second).expect_err("the name is taken");
    assert!(
        matches!(err, Error::Kern { op: "bootstrap_register", kr } if kr != 0),
        "{err:?}"
    );
    current_thread_rt().block_on(async {
        let sender = bootstrap::look_up(fx.client(), &name).expect("still registered");
        let mut stream = MachRecvStream::new(first).expect("a stream");
        sender
            .send(MessageBuilder::new(70).build())
            .await
            .expect("sent");
        assert_eq!(
            next(&mut stream, "message 70 on the first port").await.id(),
            70
        );
        drop((sender, stream));
    });
    drop(second);
    fx.assert_no_leaks();
    Ok(())
}

/// `Space::id` is a stable diagnostic identity: the same for every handle on a space, different
/// for different spaces, and the pid where the process is the space. `Debug` says it is a space.
fn a_space_identifies_itself() -> Outcome {
    let fx = Fixture::new();
    let server = fx.server();
    assert_eq!(server.id(), server.clone().id());
    if Fixture::SEPARATE_SPACES {
        assert_ne!(server.id(), fx.client().id());
    } else {
        assert_eq!(server.id(), u64::from(std::process::id()));
    }
    let shown = format!("{server:?}");
    assert!(shown.starts_with("Space"), "{shown}");
    fx.assert_no_leaks();
    Ok(())
}
