//! The error text users read (issue 16): every public error's `Display` names the operation and
//! the Mach code by name, for errors produced by real calls on the simulated kernel and for
//! every variant.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::io;

use common::*;
use mach_async::mach_sim::mach_abi::{
    KERN_NO_SPACE, MACH_RCV_INVALID_DATA, MACH_SEND_INVALID_DEST, MACH_SEND_TIMED_OUT,
};
use mach_async::mig::MigError;
use mach_async::{Error, MessageBuilder, ReceiveRight};

#[test]
fn errors_from_real_calls_name_the_call_and_the_code() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        // A send to a port that died.
        let (port, send) = fx.connect();
        drop(port);
        let err = send
            .send(MessageBuilder::new(42).build())
            .await
            .expect_err("dead destination");
        assert_eq!(
            err.to_string(),
            "send of message 42 failed: mach_msg send failed: MACH_SEND_INVALID_DEST (0x10000003)"
        );
        drop(err);
        // A port call the kernel refuses: cloning a dead name.
        let err = send.try_clone().expect_err("dead name");
        let text = err.to_string();
        assert!(
            text.starts_with("mach_port_mod_refs failed: KERN_INVALID_RIGHT (0x11)"),
            "{text}"
        );
        drop(send);
        // A port allocation in a task that is gone.
        let gone = mach_async::Space::from_task(fx.kernel.task_create("gone", 9, 0, 0));
        gone.task().terminate().unwrap();
        let err = ReceiveRight::new_in(&gone).expect_err("dead task");
        let text = err.to_string();
        assert!(
            text.starts_with("mach_port_allocate failed: KERN_"),
            "{text}"
        );
        assert!(!text.contains("unknown code"), "{text}");
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn every_error_variant_says_what_failed() {
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::Kern {
                op: "mach_port_allocate",
                kr: KERN_NO_SPACE,
            },
            "mach_port_allocate failed: KERN_NO_SPACE (0x3)",
        ),
        (
            Error::Msg {
                op: "send",
                mr: MACH_SEND_TIMED_OUT,
            },
            "mach_msg send failed: MACH_SEND_TIMED_OUT (0x10000004)",
        ),
        (
            Error::Msg {
                op: "receive",
                mr: 0x1000_7777,
            },
            "mach_msg receive failed: unknown code 0x10007777",
        ),
        (
            Error::Io {
                op: "kqueue",
                source: io::Error::from_raw_os_error(24),
            },
            "kqueue failed: ",
        ),
        (
            Error::MachUnavailable {
                what: "mach.syscall.mach_msg_trap",
            },
            "the Mach IPC layer is unavailable (mach.syscall.mach_msg_trap)",
        ),
        (
            Error::FilterUnavailable { errno: 22 },
            "the EVFILT_MACHPORT kqueue filter is unavailable (EV_ADD failed with errno 22)",
        ),
        (Error::TimedOut, "timed out"),
        (
            Error::MessageLost,
            "MACH_RCV_INVALID_DATA: a message was dequeued and lost",
        ),
        (
            Error::NotificationCancelled,
            "notification request cancelled",
        ),
        (Error::Ended, "the receive stream ended"),
        (
            Error::NoRuntime(io::Error::other("no reactor")),
            "no tokio reactor to register the kqueue: no reactor",
        ),
        (
            Error::WrongSpace { op: "send" },
            "send: the right belongs to another IPC space",
        ),
    ];
    for (err, text) in cases {
        let shown = err.to_string();
        assert!(
            shown.starts_with(text),
            "{err:?}: {shown:?} should start with {text:?}"
        );
    }
    assert_eq!(
        Error::Msg {
            op: "receive",
            mr: MACH_RCV_INVALID_DATA
        }
        .code(),
        Some(MACH_RCV_INVALID_DATA)
    );
    // The error's source chain reaches the OS error.
    let e = Error::Io {
        op: "kevent",
        source: io::Error::from_raw_os_error(9),
    };
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(
        MigError::Send(MACH_SEND_INVALID_DEST).to_string(),
        "mach_msg send failed: MACH_SEND_INVALID_DEST (0x10000003)"
    );
}

#[test]
fn every_mig_error_names_its_code() {
    use mach_async::mach_sim::mach_abi::{MACH_RCV_PORT_DIED, MIG_BAD_ID};
    let all = [
        MigError::TypeError,
        MigError::ReplyMismatch,
        MigError::RemoteError,
        MigError::BadId,
        MigError::BadArguments,
        MigError::NoReply,
        MigError::Exception,
        MigError::ArrayTooLarge,
        MigError::ServerDied,
        MigError::TrailerError,
        MigError::Remote(MIG_BAD_ID - 100),
        MigError::Send(MACH_SEND_INVALID_DEST),
        MigError::Receive(MACH_RCV_PORT_DIED),
        MigError::TimedOut,
    ];
    for e in all {
        let text = e.to_string();
        let name = mach_async::mach_sim::mach_abi::return_code_name(e.code());
        match name {
            Some(name) => assert!(text.contains(name), "{e:?}: {text}"),
            None => assert!(text.contains("unknown code"), "{e:?}: {text}"),
        }
        assert!(
            text.contains(&format!("0x{:08x}", e.code() as u32)),
            "{e:?}: {text}"
        );
    }
}

#[test]
fn a_send_error_shows_the_message_id_and_chains_its_cause() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        drop(port);
        let err = send
            .send(MessageBuilder::new(9).build())
            .await
            .expect_err("dead destination");
        let shown = format!("{err:?}");
        assert!(
            shown.contains("SendError") && shown.contains("id: 9"),
            "{shown}"
        );
        let cause = std::error::Error::source(&err).expect("the Mach error");
        assert!(
            cause.to_string().contains("MACH_SEND_INVALID_DEST"),
            "{cause}"
        );
        let plain: Error = err.into();
        assert_eq!(plain.code(), Some(MACH_SEND_INVALID_DEST));
        drop(send);
    });
    fx.kernel.assert_no_leaks();
}
