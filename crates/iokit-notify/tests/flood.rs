//! A device flood far above a watch's capacity (spec §6 #16): the watch's queue never holds more
//! than its capacity, the consumer that fell behind gets `WatchEvent::Resynced` with the set
//! present at the resync, and applying snapshot, resyncs and events in order gives the exact
//! final set: no device reported twice (an arrival for a device already present, a departure of
//! one that is not) and none lost.
#![cfg(mach_backend = "sim")]

mod common;

use std::collections::{BTreeSet, VecDeque};

use common::{Fixture, HANG};
use futures::StreamExt;
use iokit_notify::registry::SimDevice;
use iokit_notify::registry_abi::IOREG_EVENT_ARRIVE;
use iokit_notify::{Criteria, EventKind, EventKinds, NotificationPort, WatchEvent, WatchStream};

const CAPACITY: usize = 64;
/// Events the flood makes: 312 times the capacity.
const FLOOD: usize = 20_000;
/// Devices kept attached at most during the flood.
const LIVE: usize = 40;
/// Marker ids (test events for devices that do not exist) are at or above this.
const MARKER_BASE: u64 = 0xfeed_0000_0000;

/// What the consumer believes is present, and how many items it applied.
#[derive(Default)]
struct View {
    present: BTreeSet<u64>,
    resyncs: usize,
    events: usize,
}

impl View {
    /// Applies one item; panics on a device reported twice or a departure of an unknown one.
    fn apply(&mut self, item: WatchEvent) -> Option<u64> {
        match item {
            WatchEvent::Resynced(snapshot) => {
                self.resyncs += 1;
                self.present = snapshot.into_ids().into_iter().collect();
                None
            }
            WatchEvent::Device(ev) if ev.id >= MARKER_BASE => Some(ev.id),
            WatchEvent::Device(ev) => {
                self.events += 1;
                match ev.kind {
                    EventKind::Arrive => assert!(
                        self.present.insert(ev.id),
                        "device {} reported present twice",
                        ev.id
                    ),
                    EventKind::Depart => assert!(
                        self.present.remove(&ev.id),
                        "departure of device {} that the view does not hold",
                        ev.id
                    ),
                    EventKind::Matched => panic!("a MATCHED event on an ARRIVE|DEPART watch"),
                }
                None
            }
        }
    }
}

async fn next_item(stream: &mut WatchStream, what: &str) -> WatchEvent {
    match tokio::time::timeout(HANG, stream.next()).await {
        Ok(Some(Ok(item))) => item,
        Ok(Some(Err(e))) => panic!("lost: {what} (stream error {e})"),
        Ok(None) => panic!("lost: {what} (the stream ended)"),
        Err(_) => panic!("lost: {what} (not within {HANG:?})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_far_above_the_capacity_stays_bounded_and_resyncs_exactly() {
    let fx = Fixture::new();
    let before: Vec<u64> = (0..5)
        .map(|_| fx.registry.probe_and_attach(SimDevice::new("em")))
        .collect();
    let port = NotificationPort::builder(&fx.space())
        .watch_capacity(CAPACITY)
        .open()
        .await
        .unwrap();
    assert_eq!(port.watch_capacity(), CAPACITY);
    let (snapshot, mut stream) = port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE_DEPART)
        .unwrap();
    assert_eq!(snapshot.ids(), before.as_slice());
    let mut view = View {
        present: snapshot.into_ids().into_iter().collect(),
        ..View::default()
    };

    // The flood, from another thread, while nobody reads the stream: attach, and past LIVE
    // devices detach the oldest. It samples the kernel's queued messages as it goes.
    let registry = fx.registry.clone();
    let kernel = fx.kernel.clone();
    let initial = before.clone();
    let flood = std::thread::spawn(move || {
        let mut live: VecDeque<u64> = initial.into_iter().collect();
        let mut peak_kernel_queue = 0u64;
        let mut made = 0;
        while made < FLOOD {
            if live.len() >= LIVE {
                let gone = live.pop_front().unwrap();
                registry.detach(gone).unwrap();
            } else {
                live.push_back(registry.probe_and_attach(SimDevice::new("em")));
            }
            made += 1;
            if made % 500 == 0 {
                peak_kernel_queue = peak_kernel_queue.max(kernel.stats().queued_messages);
            }
        }
        (
            live.into_iter().collect::<BTreeSet<u64>>(),
            peak_kernel_queue,
        )
    });
    let (expected, peak_kernel_queue) = tokio::task::spawn_blocking(move || flood.join())
        .await
        .unwrap()
        .expect("the flood thread");

    // Catch up: read until a marker injected after the flood comes through. A marker can be
    // dropped by a resync (the queue overflowed again while we read): then inject another.
    let mut want = MARKER_BASE;
    fx.emit(IOREG_EVENT_ARRIVE, want, "em", "em").unwrap();
    loop {
        let item = next_item(&mut stream, "the marker after the flood").await;
        let resynced = matches!(item, WatchEvent::Resynced(_));
        if view.apply(item) == Some(want) {
            break;
        }
        if resynced {
            want += 1;
            fx.emit(IOREG_EVENT_ARRIVE, want, "em", "em").unwrap();
        }
    }
    let stats = port.stats();
    let peak = stream.peak_queued();
    println!(
        "flood: {FLOOD} events, capacity {CAPACITY}: peak queue {peak}, resyncs {} (seen {}), \
         dropped on overflow {}, delivered {}, events applied {}, peak kernel queue (sampled) \
         {peak_kernel_queue}",
        stats.resyncs, view.resyncs, stats.dropped_on_overflow, stats.delivered, view.events
    );
    assert!(peak <= CAPACITY, "peak queue {peak} > capacity {CAPACITY}");
    assert!(
        stats.resyncs >= 1,
        "a flood this size must overflow: {stats:?}"
    );
    assert!(view.resyncs >= 1, "the consumer saw no Resynced item");
    assert_eq!(
        view.present, expected,
        "final view differs from the registry"
    );

    drop(stream);
    for id in expected {
        fx.registry.detach(id).unwrap();
    }
    fx.finish(port).await;
}
