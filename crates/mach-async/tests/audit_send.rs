//! Audit of the async send path and the RAII rights (issue 3, parts 2 and 5).
//!
//! Each test runs on its own simulated kernel and ends with the no-leak assertion.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use mach_abi::{
    MACH_NOTIFY_SEND_ONCE, MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_SEND_ONCE, MACH_SEND_TIMED_OUT,
};
use mach_async::{MachRecvStream, MessageBuilder, SendOnceRight, SendRight};

/// Runs `f` on its own thread and fails (instead of hanging) if it does not finish in time.
fn bounded(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: surface its panic.
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung"),
    }
}

/// Issue 3 part 5: a send to a full queue never blocks a runtime thread and does not spin:
/// on a current-thread runtime the waiting send is parked in the kernel (a blocked sender on
/// the port) while the same thread keeps running the receiver that makes room.
#[test]
fn a_full_queue_send_waits_in_the_kernel_not_on_the_runtime_thread() {
    bounded("send on a current-thread runtime", || {
        let fx = fixture();
        let rt = current_thread_rt();
        let (port, sender) = fx.connect();
        let port_name = port.name();
        let server = fx.server.task().clone();
        rt.block_on(async move {
            for i in 0..5 {
                sender.try_send(MessageBuilder::new(i).build()).unwrap();
            }
            let err = sender
                .try_send(MessageBuilder::new(99).build())
                .unwrap_err();
            assert_eq!(err.code(), Some(MACH_SEND_TIMED_OUT), "the queue is full");
            drop(err);
            let s2 = sender.clone();
            let waiting =
                tokio::spawn(async move { s2.send(MessageBuilder::new(5).build()).await });
            // The send waits inside the kernel (not in a loop of failing tries), and this
            // runtime thread stays free: this loop runs on it.
            let deadline = Instant::now() + Duration::from_secs(10);
            while server.port_status(port_name).unwrap().blocked_senders != 1 {
                assert!(
                    Instant::now() < deadline,
                    "the send never waited in the kernel"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(!waiting.is_finished());
            let mut stream = MachRecvStream::new(port).unwrap();
            for want in 0..6 {
                let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
                    .await
                    .expect("served on the same runtime thread")
                    .unwrap()
                    .unwrap();
                assert_eq!(m.id(), want, "FIFO, the waiting send last");
            }
            within(WAIT, waiting, "`waiting` to finish")
                .await
                .unwrap()
                .unwrap();
            drop(stream);
            drop(sender);
        });
        drop(rt);
        fx.kernel.assert_no_leaks();
    });
}

/// Issue 3 part 2: `into_raw` gives up ownership without releasing, `from_raw_in` takes it back
/// and releases exactly once, for every right kind; a clone is one more user reference and
/// each drop releases one.
#[test]
fn raw_conversions_and_clones_release_exactly_once() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let client = fx.client.task().clone();
        let refs = |name| {
            client
                .port_get_refs(name, MACH_PORT_RIGHT_SEND)
                .unwrap_or(0)
        };
        let name = sender.name();
        assert_eq!(refs(name), 1);
        let c1 = sender.clone();
        let c2 = c1.clone();
        assert_eq!(
            (c1.name(), c2.name()),
            (name, name),
            "clones share the name"
        );
        assert_eq!(refs(name), 3);
        let raw = c1.into_raw();
        assert_eq!(refs(name), 3, "into_raw releases nothing");
        drop(c2);
        assert_eq!(refs(name), 2);
        // SAFETY: the reference given up by `into_raw` above.
        drop(unsafe { SendRight::from_raw_in(&fx.client, raw) });
        assert_eq!(
            refs(name),
            1,
            "from_raw_in + drop releases exactly one reference"
        );

        // Send-once: into_raw keeps the right (no notification); dropping the re-adopted right
        // destroys it, and the port gets exactly one MACH_NOTIFY_SEND_ONCE.
        let once = port.make_send_once().unwrap();
        let once_name = once.into_raw();
        let server = fx.server.task().clone();
        assert_eq!(
            server
                .port_get_refs(once_name, MACH_PORT_RIGHT_SEND_ONCE)
                .unwrap(),
            1
        );
        let mut stream = MachRecvStream::new(port).unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err(),
            "into_raw destroyed nothing"
        );
        // SAFETY: the right given up by `into_raw` above.
        drop(unsafe { SendOnceRight::from_raw_in(&fx.server, once_name) });
        let n = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(n.id(), MACH_NOTIFY_SEND_ONCE);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err(),
            "released once"
        );
        drop(stream);
        drop(sender);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}
