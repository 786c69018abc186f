//! The stress's accounting (issue 16): a kernel that drops a message, delivers one twice, fails
//! a set operation or leaks a descriptor during the run is reported as FAIL saying which, and
//! the run still cleans up everything it created. The misbehaviour is injected with the
//! simulated kernel's fault hooks.
//!
//! The stress counts the process's open descriptors, so the tests of this file run one at a time
//! (and nothing else in this test binary opens descriptors meanwhile).
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::sync::{Mutex, MutexGuard};

use mach_async::mach_sim::mach_abi::{
    MACH_PORT_RIGHT_SEND, MACH_PORT_TYPE_RECEIVE, MACH_RCV_TIMED_OUT,
};
use mach_async::mach_sim::Task;
use mach_async::mach_sim::{FaultAction, MsgMatch};
use mach_async::stress::{evfilt_machport_concurrent, Config, StressError};
use mach_async::{MessageBuilder, SendRight, Space};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn small(fx: &common::Fixture) -> Config {
    Config {
        rounds: 10,
        attachers: 2,
        movers: 1,
        ports: 2,
        space: Some(fx.server.clone()),
        ..Config::default()
    }
}

/// The receive rights of `task` (NextBSD names: the lowest free numbers from 16).
fn receive_rights(task: &Task) -> Vec<u32> {
    (16..256)
        .filter(|&n| {
            task.port_type(n)
                .is_ok_and(|t| t & MACH_PORT_TYPE_RECEIVE != 0)
        })
        .collect()
}

fn failure(err: StressError) -> String {
    match err {
        StressError::Fail(text) => text,
        other => panic!("expected FAIL, got {other:?}"),
    }
}

/// Every port's first receive in the final drain says "empty" although messages are queued: the
/// messages sent are not all received, and the run says how many.
#[test]
fn messages_left_undrained_are_an_accounting_mismatch() {
    let _serial = serial();
    let fx = common::fixture();
    let fault = fx
        .kernel
        .faults()
        .fail_next_receives_in(fx.server_task(), 2, MACH_RCV_TIMED_OUT);
    let text = failure(evfilt_machport_concurrent(small(&fx)).expect_err("nothing drained"));
    assert_eq!(fault.fired(), 2);
    assert!(
        text.starts_with("accounting mismatch: ")
            && text.contains(" sent but not received, 0 unexpected"),
        "{text}"
    );
    assert!(!text.starts_with("accounting mismatch: 0 "), "{text}");
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}

/// Right after the drain's first receive, a copy of message id 0 (the first one the mover sent)
/// is queued on every port: the drain receives id 0 again, and the run reports it.
#[test]
fn a_message_received_twice_is_reported() {
    let _serial = serial();
    let fx = common::fixture();
    let task = fx.server_task().clone();
    let hook = fx.kernel.faults().on_receive(
        MsgMatch::any().task(fx.server_task()),
        FaultAction::call(move || {
            let space = Space::from_task(task.clone());
            for name in receive_rights(&task) {
                task.port_mod_refs(name, MACH_PORT_RIGHT_SEND, 1).unwrap();
                // SAFETY: the user reference just taken is this value's to release.
                let copy = unsafe { SendRight::from_raw_in(&space, name) };
                // The first port has room (one message was just received); a full one refuses.
                let _ = copy.try_send(MessageBuilder::new(0).build());
            }
        }),
    );
    let text = failure(evfilt_machport_concurrent(small(&fx)).expect_err("a duplicate"));
    assert_eq!(hook.fired(), 1);
    assert!(text.contains(" messages received twice ("), "{text}");
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}

/// A port destroyed under the mover (its first send is delivered, then the port goes): taking
/// it out of the set fails with something other than "not in set", which ends the run.
#[test]
fn a_port_destroyed_under_the_mover_fails_the_run() {
    let _serial = serial();
    let fx = common::fixture();
    let task = fx.server_task().clone();
    let hook = fx.kernel.faults().on_deliver(
        MsgMatch::any().task(fx.server_task()),
        FaultAction::call(move || {
            for name in receive_rights(&task) {
                let _ = task.port_destroy(name);
            }
        }),
    );
    let text = failure(evfilt_machport_concurrent(small(&fx)).expect_err("a destroyed port"));
    assert_eq!(hook.fired(), 1);
    assert!(text.starts_with("move_member out: "), "{text}");
    assert!(text.contains("KERN_INVALID"), "{text}");
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}

/// A descriptor opened during the run and never closed: the accounting passes but the
/// descriptor count differs, and the run says so.
#[test]
fn a_descriptor_leaked_during_the_run_is_reported() {
    let _serial = serial();
    let fx = common::fixture();
    let leaked = std::sync::Arc::new(Mutex::new(None::<std::fs::File>));
    let keep = leaked.clone();
    let hook = fx.kernel.faults().on_deliver(
        MsgMatch::any().task(fx.server_task()),
        FaultAction::call(move || {
            *keep.lock().unwrap() = Some(std::fs::File::open("/dev/null").unwrap());
        }),
    );
    let text = failure(evfilt_machport_concurrent(small(&fx)).expect_err("a leaked descriptor"));
    assert_eq!(hook.fired(), 1);
    assert!(text.starts_with("descriptor count changed ("), "{text}");
    assert!(leaked.lock().unwrap().take().is_some(), "closed here");
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}
