//! Fault injection on device notifications (simulated kernel and registry, `Kernel::faults`): a
//! watch dropped while its events are queued, the client task dying in the middle of a drain or
//! while the port's knote registers, interrupted receives. Each test ends with the streams in a
//! defined state (events delivered exactly once, or ended) and the no-leak assertion.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use iokit_notify::registry::SimDevice;
use iokit_notify::registry_abi::IOKIT_NOTIFY_MSG_ID;
use iokit_notify::{Criteria, DeviceEvent, Error, EventKinds, NotificationPort, WatchStream};
mod common;

use common::{Fixture, HANG};
use mach_abi::MACH_RCV_INTERRUPTED;
use mach_sim::{FaultAction, MsgMatch};

async fn next(stream: &mut WatchStream) -> Option<DeviceEvent> {
    tokio::time::timeout(HANG, stream.next())
        .await
        .expect("an event or the end in time")
        .map(|item| {
            item.expect("no stream error")
                .device()
                .expect("a device event, not a resync")
        })
}

#[tokio::test]
async fn a_watch_dropped_while_its_events_are_queued_loses_nothing_elsewhere() {
    let fx = Fixture::new();
    let port = fx.port();
    let (_, dropped) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let (_, mut kept) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    // The first event's delivery drops the first watch; on this single-threaded runtime the
    // port's driver cannot run before all three events are queued in the kernel.
    let slot = Arc::new(Mutex::new(Some(dropped)));
    let taken = Arc::clone(&slot);
    let fired = fx.kernel.faults().on_deliver(
        MsgMatch::any().task(&fx.task).id(IOKIT_NOTIFY_MSG_ID),
        FaultAction::call(move || drop(taken.lock().unwrap().take())),
    );
    let ids: Vec<u64> = (0..3)
        .map(|i| {
            fx.registry
                .probe_and_attach(SimDevice::new(&format!("em{i}")).class("em"))
        })
        .collect();
    assert_eq!(fired.fired(), 1);
    assert!(slot.lock().unwrap().is_none(), "dropped at the first event");
    // The other watch gets every event exactly once, in order.
    for id in &ids {
        assert_eq!(next(&mut kept).await.expect("open").id, *id);
    }
    assert_eq!(port.stats().unattributed, 0);
    drop(kept);
    fx.finish(port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_task_dying_in_the_middle_of_a_drain_ends_the_streams() {
    let fx = Fixture::new();
    let port = fx.port();
    let (_, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let fired = fx.kernel.faults().on_receive(
        MsgMatch::any().task(&fx.task).nth(2),
        FaultAction::TerminateTask(fx.task.clone()),
    );
    for i in 0..4 {
        fx.registry
            .probe_and_attach(SimDevice::new(&format!("em{i}")).class("em"));
    }
    // Some events may come through before the death; then the stream ends instead of hanging.
    let mut got = 0;
    while next(&mut s).await.is_some() {
        got += 1;
        assert!(got <= 2, "at most the events received before the task died");
    }
    assert_eq!(fired.fired(), 1);
    assert!(!fx.task.is_active());
    drop(s);
    fx.finish(port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_task_dying_while_the_knote_registers_fails_later_watches() {
    let fx = Fixture::new();
    let fired = fx
        .kernel
        .faults()
        .on_knote_register(Some(&fx.task), FaultAction::TerminateTask(fx.task.clone()));
    // The registration itself succeeds (the set was valid when looked up); the port is built,
    // its knote reports EOF, and every later use fails with a typed error.
    let port = NotificationPort::open(&fx.space()).await.expect("port");
    let watch = port.watch(&Criteria::all().class("em"), EventKinds::ARRIVE);
    assert!(
        matches!(watch, Err(Error::Mach(_))),
        "a watch in a dead task fails: {watch:?}"
    );
    tokio::time::timeout(HANG, port.close())
        .await
        .expect("close completes");
    assert_eq!(fired.fired(), 1);
    assert!(!fx.task.is_active());
    fx.finish_without_port();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_receives_in_the_driver_lose_no_event() {
    let fx = Fixture::new();
    let port = fx.port();
    let (_, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let fault = fx
        .kernel
        .faults()
        .fail_next_receives_in(&fx.task, 3, MACH_RCV_INTERRUPTED);
    let ids: Vec<u64> = (0..3)
        .map(|i| {
            fx.registry
                .probe_and_attach(SimDevice::new(&format!("em{i}")).class("em"))
        })
        .collect();
    for id in &ids {
        assert_eq!(next(&mut s).await.expect("open").id, *id);
    }
    assert_eq!(fault.fired(), 3);
    drop(s);
    fx.finish(port).await;
}
