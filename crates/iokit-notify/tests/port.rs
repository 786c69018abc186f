//! The Rust API on the simulated registry: spec §8's scenarios (NextBSD's `iokitnotifytest` and
//! `iokitnotifyrt`) and one regression test per fixed §6 bug. Every test uses its own kernel and
//! ends with the no-leak assertion.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use iokit_notify::registry::{SimDevice, SimRegistryHandle, TestEventSupport};
use iokit_notify::registry_abi::{
    encode_event_message, ioreg_criteria, ioreg_node, ioreg_test_event, ioreg_watch_reg, RawEvent,
    IOREG_EVENT_ARRIVE, IOREG_EVENT_DEPART,
};
use iokit_notify::{
    Criteria, CriteriaError, DeviceEvent, Error, EventKind, EventKinds, NotificationPort,
    RegistryBackend, RegistryError, UnknownDepartures, WatchEvent, WatchStream,
};
use mach_abi::{
    mach_msg_header_t, MACH_MSGH_BITS, MACH_MSGH_BITS_COMPLEX, MACH_MSG_SUCCESS,
    MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE, MACH_SEND_MSG,
};
mod common;

use common::{Fixture, HANG};
use mach_async::Space;
use mach_sim::Task;

impl Fixture {
    fn inject(&self, kind: u32, id: u64, name: &str, class: &str) {
        self.emit(kind, id, name, class).unwrap();
    }
}

async fn next(stream: &mut WatchStream) -> DeviceEvent {
    tokio::time::timeout(HANG, stream.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("no stream error")
        .device()
        .expect("a device event, not a resync")
}

/// Injects a marker event for `stream`'s criteria and returns every event before it: after the
/// marker arrives, everything the kernel sent earlier to this watch has been delivered.
async fn events_until_marker(
    fx: &Fixture,
    stream: &mut WatchStream,
    kind: u32,
    name: &str,
    class: &str,
) -> Vec<DeviceEvent> {
    const MARKER: u64 = 0xfeed_0000_0000;
    fx.inject(kind, MARKER, name, class);
    let mut before = Vec::new();
    loop {
        let ev = next(stream).await;
        if ev.id == MARKER {
            return before;
        }
        before.push(ev);
    }
}

// ---- NextBSD's tests as scenarios --------------------------------------------------------------

#[tokio::test]
async fn iokitnotifytest_scenario() {
    let fx = Fixture::new();
    let em = fx
        .registry
        .probe_and_attach(SimDevice::new("em").pci(0x8086, 0x100e));
    let port = fx.port();
    assert_ne!(port.set_name(), 0);

    let (snapshot, arrivals) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    assert_eq!(
        snapshot.ids(),
        [em],
        "FirstMatch on a present class reports it"
    );
    let node = fx.dev.node(em).unwrap();
    assert_eq!(&node.name[..3], b"em\0");

    let (none, gone) = port
        .watch(
            &Criteria::all().class("ThisClassDoesNotExist"),
            EventKinds::DEPART,
        )
        .unwrap();
    assert!(none.is_empty());
    // Fix #8: a terminate watch starts empty even when the class is present.
    let (present_depart, departures) = port
        .watch(&Criteria::all().class("em"), EventKinds::DEPART)
        .unwrap();
    assert!(present_depart.is_empty());

    drop((arrivals, gone, departures));
    fx.finish(port).await;
}

#[tokio::test]
async fn iokitnotifyrt_scenario() {
    let fx = Fixture::new();
    // The presence probe: kind 0 is EINVAL on a kernel that has the call.
    let probe = ioreg_test_event::default();
    assert_eq!(
        fx.dev.test_event(&probe),
        Err(RegistryError::InvalidArgument)
    );

    let port = fx.port();
    let (snapshot, mut stream) = port
        .watch(
            &Criteria::all().name("nbiokit_rt_probe"),
            EventKinds::ARRIVE,
        )
        .unwrap();
    assert!(snapshot.is_empty());
    fx.inject(IOREG_EVENT_ARRIVE, 0x6e62_696f, "nbiokit_rt_probe", "");
    let ev = next(&mut stream).await;
    assert_eq!(
        (ev.kind, ev.id, ev.name.as_str(), ev.class.as_str()),
        (EventKind::Arrive, 0x6e62_696f, "nbiokit_rt_probe", "")
    );
    assert!(
        events_until_marker(&fx, &mut stream, IOREG_EVENT_ARRIVE, "nbiokit_rt_probe", "")
            .await
            .is_empty(),
        "exactly once"
    );

    drop(stream);
    fx.finish(port).await;
}

#[tokio::test]
async fn rt_probe_skips_on_absent_kernels() {
    let fx = Fixture::new();
    fx.registry.set_test_event_support(TestEventSupport::Absent);
    assert_eq!(
        fx.dev.test_event(&ioreg_test_event::default()),
        Err(RegistryError::Unsupported(libc::ENOTTY))
    );
    fx.registry
        .set_test_event_support(TestEventSupport::NoCompatMach);
    assert_eq!(
        fx.dev.test_event(&ioreg_test_event::default()),
        Err(RegistryError::Unsupported(libc::ENOSYS))
    );
    let port = fx.port();
    match port.watch(&Criteria::all(), EventKinds::ARRIVE) {
        Err(Error::Registry(RegistryError::Unsupported(e))) => assert_eq!(e, libc::ENOSYS),
        other => panic!("expected ENOSYS, got {other:?}"),
    }
    fx.registry
        .set_test_event_support(TestEventSupport::Present);
    fx.finish(port).await;
}

// ---- regression tests, one per fixed bug --------------------------------------------------------

#[tokio::test]
async fn overlapping_watches_fire_once_each() {
    // #1 (N×N) and #6 (16-watch cap).
    let fx = Fixture::new();
    let port = fx.port();
    let mut three = Vec::new();
    for c in [
        Criteria::all(),
        Criteria::all().class("em"),
        Criteria::all().name("em").class("em"),
    ] {
        three.push(port.watch(&c, EventKinds::ARRIVE).unwrap().1);
    }
    let (_, mut departs) = port
        .watch(&Criteria::all().class("em"), EventKinds::DEPART)
        .unwrap();
    let id = fx.registry.probe_and_attach(SimDevice::new("em")); // ARRIVE then MATCHED
    for s in &mut three {
        let evs = events_until_marker(&fx, s, IOREG_EVENT_ARRIVE, "em", "em").await;
        assert_eq!(
            evs.iter().map(|e| (e.kind, e.id)).collect::<Vec<_>>(),
            [(EventKind::Arrive, id)]
        );
    }
    assert!(
        events_until_marker(&fx, &mut departs, IOREG_EVENT_DEPART, "em", "em")
            .await
            .is_empty(),
        "no cross-firing"
    );

    let mut twenty: Vec<_> = (0..20)
        .map(|_| {
            port.watch(&Criteria::all().class("vtblk"), EventKinds::ARRIVE)
                .unwrap()
                .1
        })
        .collect();
    let vt = fx.registry.probe_and_attach(SimDevice::new("vtblk"));
    for s in &mut twenty {
        let evs = events_until_marker(&fx, s, IOREG_EVENT_ARRIVE, "vtblk", "vtblk").await;
        assert_eq!(evs.iter().map(|e| e.id).collect::<Vec<_>>(), [vt]);
    }
    assert_eq!(port.stats().malformed, 0);
    drop((three, twenty, departs));
    fx.finish(port).await;
}

#[tokio::test]
async fn driver_criterion_is_honoured() {
    // #2: the kernel is the only matcher.
    let fx = Fixture::new();
    let port = fx.port();
    let (_, mut by_driver) = port
        .watch(
            &Criteria::all().class("em").driver("if_em"),
            EventKinds::ARRIVE,
        )
        .unwrap();
    let (_, mut any_em) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let a = fx
        .registry
        .probe_and_attach(SimDevice::new("em").driver("if_em"));
    let b = fx
        .registry
        .probe_and_attach(SimDevice::new("em").driver("other"));
    assert_eq!(next(&mut by_driver).await.id, a);
    assert_eq!(next(&mut any_em).await.id, a);
    assert_eq!(next(&mut any_em).await.id, b);
    // Nothing else for the driver watch: a probe_and_attach marker that does match follows.
    let c = fx
        .registry
        .probe_and_attach(SimDevice::new("em").driver("if_em"));
    assert_eq!(next(&mut by_driver).await.id, c);
    drop((by_driver, any_em));
    fx.finish(port).await;
}

/// A registry that runs a hook between `WATCH` and the following `LOOKUP`: the window of #3.
struct RacyRegistry {
    inner: SimRegistryHandle,
    between: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl RegistryBackend for RacyRegistry {
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError> {
        let r = self.inner.watch(reg);
        if let Some(hook) = self.between.lock().unwrap().take() {
            hook();
        }
        r
    }
    fn lookup(&self, c: &ioreg_criteria, m: &mut [u64]) -> Result<usize, RegistryError> {
        self.inner.lookup(c, m)
    }
    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        self.inner.node(id)
    }
    fn test_event(&self, e: &ioreg_test_event) -> Result<(), RegistryError> {
        self.inner.test_event(e)
    }
}

fn racy_port(
    fx: &Fixture,
    policy: UnknownDepartures,
    hook: impl FnOnce() + Send + 'static,
) -> NotificationPort {
    let backend = RacyRegistry {
        inner: fx.registry.open(&fx.task),
        between: Mutex::new(Some(Box::new(hook))),
    };
    NotificationPort::builder(&Space::from_task(fx.task.clone()))
        .registry(backend)
        .unknown_departures(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn no_duplicate_and_no_miss_around_registration() {
    // #3, three ways a device can straddle WATCH and LOOKUP.
    let fx = Fixture::new();

    // (a) attached between WATCH and LOOKUP: in the snapshot and announced; reported once.
    let reg = fx.registry.clone();
    let attached = Arc::new(Mutex::new(0));
    let slot = Arc::clone(&attached);
    let port = racy_port(&fx, UnknownDepartures::Ignore, move || {
        *slot.lock().unwrap() = reg.probe_and_attach(SimDevice::new("em"));
    });
    let (snapshot, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let a = *attached.lock().unwrap();
    assert_eq!(snapshot.ids(), [a]);
    assert!(
        events_until_marker(&fx, &mut s, IOREG_EVENT_ARRIVE, "em", "em")
            .await
            .is_empty()
    );
    assert!(port.stats().duplicates_suppressed >= 1);
    drop(s);

    // (b) ARRIVE still pending in an open bracket when the snapshot is taken.
    let (_, keeper) = port
        .watch(&Criteria::all().class("none"), EventKinds::ARRIVE)
        .unwrap(); // makes attach queue
    fx.registry.match_start();
    let b = fx.registry.attach(SimDevice::new("vtblk"));
    let (snapshot, mut s) = port
        .watch(&Criteria::all().class("vtblk"), EventKinds::ARRIVE)
        .unwrap();
    assert_eq!(snapshot.ids(), [b]);
    fx.registry.match_end();
    let c = fx.registry.probe_and_attach(SimDevice::new("vtblk"));
    let evs = events_until_marker(&fx, &mut s, IOREG_EVENT_ARRIVE, "vtblk", "vtblk").await;
    assert_eq!(
        evs.iter().map(|e| e.id).collect::<Vec<_>>(),
        [c],
        "b once (snapshot), c once (stream)"
    );
    drop((s, keeper));
    port.close().await;

    // (c) departed between WATCH and LOOKUP: never seen, so its DEPART is dropped...
    let gone = fx.registry.probe_and_attach(SimDevice::new("ada"));
    let reg = fx.registry.clone();
    let port = racy_port(&fx, UnknownDepartures::Ignore, move || {
        reg.detach(gone).unwrap()
    });
    let (snapshot, mut s) = port
        .watch(&Criteria::all().class("ada"), EventKinds::ARRIVE_DEPART)
        .unwrap();
    assert!(snapshot.is_empty());
    assert!(
        events_until_marker(&fx, &mut s, IOREG_EVENT_ARRIVE, "ada", "ada")
            .await
            .is_empty()
    );
    assert_eq!(port.stats().unknown_departures_dropped, 1);
    drop(s);
    port.close().await;
    // ...unless asked for.
    let gone = fx.registry.probe_and_attach(SimDevice::new("ada"));
    let reg = fx.registry.clone();
    let port = racy_port(&fx, UnknownDepartures::Deliver, move || {
        reg.detach(gone).unwrap()
    });
    let (_, mut s) = port
        .watch(&Criteria::all().class("ada"), EventKinds::DEPART)
        .unwrap();
    let ev = next(&mut s).await;
    assert_eq!((ev.kind, ev.id), (EventKind::Depart, gone));
    drop(s);
    fx.finish(port).await;
}

#[tokio::test]
async fn departure_watch_reports_departures_of_present_and_new_devices() {
    let fx = Fixture::new();
    let old = fx.registry.probe_and_attach(SimDevice::new("em"));
    let port = fx.port();
    let (snapshot, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::DEPART)
        .unwrap();
    assert!(snapshot.is_empty());
    let new = fx.registry.probe_and_attach(SimDevice::new("em"));
    fx.registry.detach(new).unwrap();
    fx.registry.detach(old).unwrap();
    let ids: Vec<_> = [next(&mut s).await, next(&mut s).await]
        .iter()
        .map(|e| (e.kind, e.id))
        .collect();
    assert_eq!(ids, [(EventKind::Depart, new), (EventKind::Depart, old)]);
    drop(s);
    fx.finish(port).await;
}

#[tokio::test]
async fn cancelling_one_watch_leaves_the_others() {
    // #5 and #7.
    let fx = Fixture::new();
    let port = fx.port();
    let (_, cancelled) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let (_, mut kept) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    assert_eq!(fx.registry.watch_count(), 2);
    drop(cancelled);
    let id = fx.registry.probe_and_attach(SimDevice::new("em"));
    assert_eq!(next(&mut kept).await.id, id);
    // The next emission pruned the cancelled watch (its port was destroyed by the cancel, which
    // the driver handled before draining the event it was sent).
    fx.inject(IOREG_EVENT_ARRIVE, 5, "x", "x");
    assert_eq!(fx.registry.watch_count(), 1);
    assert_eq!(port.stats().unattributed, 0);
    drop(kept);
    fx.finish(port).await;
}

#[tokio::test]
async fn departure_carries_name_class_and_pci_ids() {
    // #13.
    let fx = Fixture::new();
    let id = fx
        .registry
        .probe_and_attach(SimDevice::new("em").pci(0x8086, 0x100e));
    let port = fx.port();
    let (_, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::DEPART)
        .unwrap();
    fx.registry.detach(id).unwrap();
    let ev = next(&mut s).await;
    assert_eq!(
        ev,
        DeviceEvent {
            kind: EventKind::Depart,
            id,
            name: "em".into(),
            class: "em".into(),
            pci_vendor: 0x8086,
            pci_device: 0x100e
        }
    );
    drop(s);
    fx.finish(port).await;
}

#[tokio::test]
async fn a_burst_of_1000_is_delivered_exactly_once_in_order() {
    // #16's first half: the kernel's sends ignore the queue limit and the stream drains them all.
    let fx = Fixture::new();
    let port = fx.port();
    let (_, mut s) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    let (_, mut other) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE)
        .unwrap();
    fx.registry.match_start();
    let ids: Vec<u64> = (0..1000)
        .map(|_| fx.registry.attach(SimDevice::new("em")))
        .collect();
    fx.registry.match_end();
    for stream in [&mut s, &mut other] {
        let mut got = Vec::new();
        for i in 0..1000 {
            match tokio::time::timeout(HANG, stream.next()).await {
                Ok(Some(Ok(WatchEvent::Device(ev)))) => got.push(ev.id),
                other => panic!(
                    "event {i} of 1000 missing ({other:?}); stats {:?}, kernel {:?}",
                    port.stats(),
                    fx.kernel.stats()
                ),
            }
        }
        assert_eq!(got, ids);
        assert!(
            events_until_marker(&fx, stream, IOREG_EVENT_ARRIVE, "em", "em")
                .await
                .is_empty()
        );
    }
    assert_eq!(port.stats().delivered, 2002);
    drop((s, other));
    fx.finish(port).await;
}

/// Sends raw bytes to a watch's port from the port's own task (test-only: real senders are the
/// kernel).
fn send_raw(task: &Task, port: u32, mut bytes: Vec<u8>) {
    task.port_insert_right(port, port, MACH_MSG_TYPE_MAKE_SEND)
        .unwrap();
    let complex = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) & MACH_MSGH_BITS_COMPLEX;
    bytes[0..4]
        .copy_from_slice(&(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | complex).to_le_bytes());
    bytes[8..12].copy_from_slice(&port.to_le_bytes()); // remote = the watch port
    bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
    let size = bytes.len() as u32;
    bytes[4..8].copy_from_slice(&size.to_le_bytes());
    let mut words = vec![0u32; bytes.len().div_ceil(4)];
    for (w, chunk) in words.iter_mut().zip(bytes.chunks(4)) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u32::from_le_bytes(b);
    }
    // SAFETY: `words` holds `size` readable, 4-aligned bytes of a message.
    let kr = unsafe {
        task.mach_msg(
            words.as_mut_ptr().cast::<mach_msg_header_t>(),
            MACH_SEND_MSG,
            size,
            0,
            0,
            0,
            0,
        )
    };
    assert_eq!(kr, MACH_MSG_SUCCESS);
    task.port_deallocate(port).unwrap();
}

// Two workers: user sends to a port can block on its queue limit of 5 until the driver drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_dropped_and_the_drain_carries_on() {
    // #9 and #12.
    let fx = Fixture::new();
    let port = fx.port();
    let (_, mut s) = port.watch(&Criteria::all(), EventKinds::ARRIVE).unwrap();
    let watch_port = s.port_name();
    let good = |id: u64| {
        RawEvent::from_event(&DeviceEvent {
            kind: EventKind::Arrive,
            id,
            name: "em".into(),
            class: "em".into(),
            pci_vendor: 0,
            pci_device: 0,
        })
    };

    let mut wrong_id = encode_event_message(&good(1), 0).to_vec();
    wrong_id[20..24].copy_from_slice(&0x494f_4b54u32.to_le_bytes());
    send_raw(&fx.task, watch_port, wrong_id);
    send_raw(
        &fx.task,
        watch_port,
        encode_event_message(&good(2), 0)[..116].to_vec(),
    ); // msgh_size 116 < 120
    let mut bad_kind = good(3);
    bad_kind.kind = 8;
    send_raw(
        &fx.task,
        watch_port,
        encode_event_message(&bad_kind, 0).to_vec(),
    );
    let mut long_name = good(4);
    long_name.name = [b'n'; 32];
    send_raw(
        &fx.task,
        watch_port,
        encode_event_message(&long_name, 0).to_vec(),
    );
    // A complex message carrying a send right to another port: dropped, right destroyed.
    let victim = fx.task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    let mut complex = vec![0u8; 40];
    complex[0..4].copy_from_slice(&MACH_MSGH_BITS_COMPLEX.to_le_bytes());
    complex[20..24].copy_from_slice(&0x494f_4e54u32.to_le_bytes());
    complex[24..28].copy_from_slice(&1u32.to_le_bytes()); // one descriptor
    complex[28..32].copy_from_slice(&victim.to_le_bytes());
    complex[38] = MACH_MSG_TYPE_MAKE_SEND as u8; // disposition; type byte 39 = 0 (port)
    send_raw(&fx.task, watch_port, complex);
    send_raw(
        &fx.task,
        watch_port,
        encode_event_message(&good(5), 0).to_vec(),
    ); // the plain 124 bytes

    let first = next(&mut s).await;
    assert_eq!(
        (first.id, first.name.as_str()),
        (4, "n".repeat(31).as_str()),
        "cut at byte 31"
    );
    assert_eq!(next(&mut s).await.id, 5);
    assert_eq!(port.stats().malformed, 4);
    fx.task.port_close(victim).unwrap();
    drop(s);
    fx.finish(port).await;
}

#[tokio::test]
async fn widening_criteria_are_rejected_and_nothing_is_registered() {
    // #15.
    let fx = Fixture::new();
    let port = fx.port();
    match port.watch(&Criteria::all().class("c".repeat(32)), EventKinds::ARRIVE) {
        Err(Error::Criteria(CriteriaError::TooLong {
            field: "class",
            len: 32,
        })) => {}
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert!(matches!(
        port.watch(&Criteria::all().name(""), EventKinds::ARRIVE),
        Err(Error::Criteria(_))
    ));
    assert!(matches!(
        port.watch(&Criteria::all(), EventKinds::NONE),
        Err(Error::NoKinds)
    ));
    assert_eq!(fx.registry.watch_count(), 0);
    fx.finish(port).await;
}

#[tokio::test]
async fn close_ends_every_stream_and_releases_everything() {
    // #7 and #14 in Rust form: close waits for the teardown.
    let fx = Fixture::new();
    fx.registry.probe_and_attach(SimDevice::new("em"));
    let port = fx.port();
    let (_, mut a) = port.watch(&Criteria::all(), EventKinds::ARRIVE).unwrap();
    let (_, mut b) = port.watch(&Criteria::all(), EventKinds::DEPART).unwrap();
    // Events queued but never read are destroyed with the ports.
    for _ in 0..10 {
        fx.registry.probe_and_attach(SimDevice::new("em"));
    }
    port.clone().close().await;
    let mut drained = 0;
    while tokio::time::timeout(HANG, a.next())
        .await
        .unwrap()
        .is_some()
    {
        drained += 1;
    }
    assert!(drained <= 10);
    assert!(tokio::time::timeout(HANG, b.next())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        port.watch(&Criteria::all(), EventKinds::ARRIVE),
        Err(Error::Closed)
    ));
    drop((a, b));
    fx.finish(port).await;
}
