//! The streams on a simulated kernel that follows XNU's prepost rule
//! (`SetSignalSemantics::XnuPrepost`, issue 16): a port-set member that was never seen empty by
//! a receive through the set raises no new event, so a stream that stops draining early without
//! signalling again would stall for good on macOS.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::mach_sim::mach_abi::{MACH_RCV_INVALID_DATA, MACH_RCV_INVALID_TRAILER};
use mach_async::mach_sim::{Kernel, KernelConfig, SetSignalSemantics};
use mach_async::{Error, MachNotifyStream, MachRecvStream, MessageBuilder, Space};

/// Bound on every wait for a signal; reaching it is the stall this file tests for.
const STALL: Duration = Duration::from_secs(5);

fn xnu_fixture() -> Fixture {
    let kernel = Kernel::with_config(KernelConfig {
        set_signal: SetSignalSemantics::XnuPrepost,
        ..Default::default()
    });
    let server = Space::from_task(kernel.task_create("server", 100, 501, 20));
    let client = Space::from_task(kernel.task_create("client", 200, 502, 20));
    Fixture {
        kernel,
        server,
        client,
    }
}

async fn next_signal(notify: &mut MachNotifyStream, what: &str) {
    match tokio::time::timeout(STALL, notify.next()).await {
        Ok(Some(Ok(()))) => {}
        Ok(other) => panic!("{what}: expected a signal, got {other:?}"),
        Err(_) => panic!("{what}: no signal within {STALL:?} (the notify stream stalled)"),
    }
}

/// The defect: the first `try_recv` after a signal fails (a lost message, a receive error), the
/// caller stops there (as scnotify's drain did), and later messages on the port must still be
/// signalled and received. Fails on a `try_recv` that leaves the stream waiting for an edge XNU
/// never raises (the member is still preposted).
#[test]
fn after_a_failed_try_recv_later_messages_are_still_signalled() {
    for (code, lost) in [
        (MACH_RCV_INVALID_DATA, true),
        (MACH_RCV_INVALID_TRAILER, false),
    ] {
        let fx = xnu_fixture();
        let rt = current_thread_rt();
        rt.block_on(async {
            let (port, sender) = fx.connect();
            let mut notify = MachNotifyStream::new(port).unwrap();
            next_signal(&mut notify, "first poll").await;
            assert!(notify.try_recv().unwrap().is_none());

            sender.try_send(MessageBuilder::new(1).build()).unwrap();
            next_signal(&mut notify, "first message").await;
            let faults = fx.kernel.faults();
            let fault = faults.fail_next_receives_in(fx.server_task(), 1, code);
            let err = notify.try_recv().expect_err("the injected receive failure");
            assert_eq!(fault.fired(), 1);
            if lost {
                assert!(matches!(err, Error::MessageLost), "{err:?}");
            } else {
                assert!(
                    matches!(err, Error::Msg { mr, .. } if mr == code),
                    "{err:?}"
                );
            }
            // The caller gives up on this drain; a second message arrives.
            sender.try_send(MessageBuilder::new(2).build()).unwrap();
            next_signal(&mut notify, "after a failed try_recv").await;
            let mut ids = Vec::new();
            while let Some(m) = notify.try_recv().unwrap() {
                ids.push(m.id());
            }
            assert_eq!(ids, [1, 2], "both messages, in order");

            // Drained to TIMED_OUT: the next message signals again, and an idle stream is quiet.
            sender.try_send(MessageBuilder::new(3).build()).unwrap();
            next_signal(&mut notify, "after a full drain").await;
            assert_eq!(notify.try_recv().unwrap().map(|m| m.id()), Some(3));
            assert!(notify.try_recv().unwrap().is_none());
            assert!(
                tokio::time::timeout(Duration::from_millis(30), notify.next())
                    .await
                    .is_err(),
                "no signal when idle"
            );
            drop(sender);
        });
        drop(rt);
        fx.kernel.assert_no_leaks();
    }
}

/// Stopping after one message (no error) is covered by the stream's level-like safety net: the
/// next poll signals at once even though XNU raises no new edge.
#[test]
fn stopping_a_drain_early_is_safe_under_the_prepost_rule() {
    let fx = xnu_fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        next_signal(&mut notify, "first poll").await;
        for id in 1..=3 {
            sender.try_send(MessageBuilder::new(id).build()).unwrap();
        }
        let mut ids = Vec::new();
        while ids.len() < 3 {
            next_signal(&mut notify, "one message per signal").await;
            // Take one message, then stop (the member stays preposted).
            if let Some(m) = notify.try_recv().unwrap() {
                ids.push(m.id());
            }
        }
        assert_eq!(ids, [1, 2, 3]);
        next_signal(&mut notify, "after stopping early").await;
        assert!(notify.try_recv().unwrap().is_none());
        sender.try_send(MessageBuilder::new(4).build()).unwrap();
        next_signal(&mut notify, "after the drain saw TIMED_OUT").await;
        assert_eq!(notify.try_recv().unwrap().map(|m| m.id()), Some(4));
        drop(sender);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

/// Message mode drains to TIMED_OUT after every event, so it never leaves a member preposted:
/// several ports, repeated bursts, everything arrives, per-port order holds (cross-port order is
/// round-robin under XNU, not set order).
#[test]
fn message_mode_delivers_every_burst_under_the_prepost_rule() {
    let fx = xnu_fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (p1, s1) = fx.connect();
        let (p2, s2) = fx.connect();
        let mut stream = MachRecvStream::builder()
            .ports([p1, p2])
            .fairness_cap(2)
            .build()
            .unwrap();
        for round in 0..5 {
            for seq in 0..4 {
                s1.try_send(MessageBuilder::new(100 + seq).build()).unwrap();
                s2.try_send(MessageBuilder::new(200 + seq).build()).unwrap();
            }
            let mut got = Vec::new();
            while got.len() < 8 {
                let m = tokio::time::timeout(STALL, stream.next())
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: stalled after {got:?}"))
                    .expect("stream open")
                    .expect("message");
                got.push(m.id());
            }
            let per_port = |base: i32| -> Vec<i32> {
                got.iter()
                    .copied()
                    .filter(|id| (base..base + 100).contains(id))
                    .collect()
            };
            assert_eq!(per_port(100), [100, 101, 102, 103], "round {round}");
            assert_eq!(per_port(200), [200, 201, 202, 203], "round {round}");
        }
        drop((s1, s2));
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}
