//! Waiting for a notification or a reply in a task that dies (issue 16): the wait ends with an
//! error instead of hanging (`Error::Ended`: the task's ports are gone), and everything is released with the task.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use common::*;
use mach_async::mach_sim::mach_abi::MACH_RCV_INVALID_TRAILER;
use mach_async::mach_sim::{FaultAction, MsgMatch};
use mach_async::{Error, MessageBuilder};

/// A no-senders notification pending in a task that is terminated resolves with an error.
#[test]
fn a_pending_notification_in_a_task_that_dies_ends_with_an_error() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let pending = port.request_no_senders(1).expect("armed");
        fx.server_task().terminate().unwrap();
        let result = within(WAIT, pending, "the notification's end").await;
        let err = result.expect_err("the task died");
        assert!(matches!(err, Error::Ended), "{err:?}");
        drop((port, send));
    });
    fx.kernel.assert_no_leaks();
}

/// A receive on the notification port that fails is the notification's error (with the code).
#[test]
fn a_failing_receive_on_the_notification_port_is_its_error() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let pending = port.request_no_senders(1).expect("armed");
        fx.kernel
            .faults()
            .fail_next_receives_in(fx.server_task(), 1, MACH_RCV_INVALID_TRAILER);
        let err = within(WAIT, pending, "the notification's error")
            .await
            .expect_err("the injected failure");
        assert!(
            matches!(
                err,
                Error::Msg {
                    op: "receive",
                    mr: MACH_RCV_INVALID_TRAILER
                }
            ),
            "{err:?}"
        );
        drop((port, send));
    });
    fx.kernel.assert_no_leaks();
}

/// A request whose own task is terminated while the server holds it ends with an error.
#[test]
fn a_request_whose_task_dies_ends_with_an_error() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        fx.kernel.faults().on_deliver(
            MsgMatch::any().id(77),
            FaultAction::TerminateTask(fx.client.task().clone()),
        );
        let err = within(
            WAIT,
            send.request(MessageBuilder::new(77).build(), None),
            "the request's end",
        )
        .await
        .expect_err("the task died");
        assert!(matches!(err, Error::Ended), "{err:?}");
        drop((port, send));
    });
    fx.kernel.assert_no_leaks();
}
