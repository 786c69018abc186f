//! Message and name-service paths that need two spaces or an injected failure (issue 16): a
//! failed send-once send hands its destination back for a retry, a port of another space cannot
//! be registered, and a bare-name slot carries no right.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use common::*;
use futures::StreamExt;
use mach_async::mach_sim::mach_abi::{MACH_MSG_TYPE_PORT_NAME, MACH_SEND_NO_BUFFER};
use mach_async::{bootstrap, Error, MachRecvStream, MessageBuilder, PortRight, PortSlot};

/// `SendOnceRight::send` consumes the right; when the kernel refuses the send before taking
/// it, the error hands the message back and `take_destination` gives the right back, so the
/// caller can retry with it (and the reply is delivered once).
#[test]
fn a_failed_send_once_send_gives_the_right_back_for_a_retry() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, _send) = fx.connect();
        let once = port.make_send_once().expect("a send-once right");
        let mut stream = MachRecvStream::new(port).unwrap();
        let fault =
            fx.kernel
                .faults()
                .fail_next_sends_from(fx.server_task(), 1, MACH_SEND_NO_BUFFER);
        let err = once
            .send(MessageBuilder::new(80).build())
            .await
            .expect_err("the injected failure");
        assert_eq!(fault.fired(), 1);
        assert_eq!(err.code(), Some(MACH_SEND_NO_BUFFER));
        let mut msg = err.into_message();
        let dest = msg.take_destination().expect("the destination slot");
        assert!(msg.take_destination().is_none(), "taken once");
        let once = match dest {
            PortSlot::Right(PortRight::SendOnce(r)) => r,
            other => panic!("expected the send-once right back, got {other:?}"),
        };
        once.send(msg).await.expect("the retry is delivered");
        let got = within(WAIT, stream.next(), "message 80").await;
        assert_eq!(got.unwrap().unwrap().id(), 80);
        drop((stream, _send));
    });
    fx.kernel.assert_no_leaks();
}

/// A port can be registered only by the space that holds it; the refusal names the call, and
/// nothing is registered.
#[test]
fn registering_a_port_of_another_space_is_refused() {
    let fx = fixture();
    let (port, send) = fx.connect();
    let err = bootstrap::register(&fx.client, "message.paths.foreign", &port)
        .expect_err("the port lives in the server");
    assert!(
        matches!(
            err,
            Error::WrongSpace {
                op: "bootstrap_register"
            }
        ),
        "{err:?}"
    );
    let err = bootstrap::look_up(&fx.client, "message.paths.foreign").expect_err("not registered");
    assert!(bootstrap::is_unknown_service(&err), "{err:?}");
    drop((send, port));
    fx.kernel.assert_no_leaks();
}

/// A bare name (`MACH_MSG_TYPE_PORT_NAME`) is sent as a number, not a right: the slot has no
/// right to hand out.
#[test]
fn a_bare_name_slot_holds_no_right() {
    let slot = PortSlot::Name(0x1203);
    assert_eq!(slot.name(), 0x1203);
    assert_eq!(slot.disposition(), MACH_MSG_TYPE_PORT_NAME);
    assert!(slot.into_right().is_none());
}
