//! The shape the three consumer crates share, for iokit-notify: open on a `Space` (the registry
//! is found from the space's kernel), a stream of `Result<WatchEvent, Error>`, `close().await`;
//! dropping instead releases everything without blocking; errors go into `Box<dyn Error>`.
#![cfg(mach_backend = "sim")]

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use futures::StreamExt;
use iokit_notify::mach_async::Space;
use iokit_notify::sim::{Kernel, SimDevice, SimRegistry};
use iokit_notify::{
    Criteria, Error, EventKind, EventKinds, NotificationPort, RegistryError, WatchEvent,
};

/// Turns a hang into a failure (never a performance assertion).
const HANG: Duration = Duration::from_secs(20);

/// Waits (bounded) until the kernel holds nothing any more, then asserts it with the listing.
async fn released(kernel: &Kernel) {
    let deadline = Instant::now() + HANG;
    loop {
        let s = kernel.stats();
        if s.held() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not released within {HANG:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kernel.assert_no_leaks();
}

async fn next_device(events: &mut iokit_notify::WatchStream) -> iokit_notify::DeviceEvent {
    match tokio::time::timeout(HANG, events.next()).await {
        Ok(Some(Ok(WatchEvent::Device(event)))) => event,
        other => panic!("expected a device event, got {other:?}"),
    }
}

#[tokio::test]
async fn open_stream_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("app", 20, 0, 0));
    let registry = SimRegistry::new(&kernel);
    let present = registry.probe_and_attach(SimDevice::new("em0").class("em").driver("em"));
    let port = NotificationPort::open(&space).await?;
    let (snapshot, mut events) = port.watch(&Criteria::all().class("em"), EventKinds::ALL)?;
    assert_eq!(
        snapshot.ids(),
        [present],
        "the registry was found from the space"
    );
    let added = registry.probe_and_attach(SimDevice::new("em1").class("em").driver("em"));
    let arrived = next_device(&mut events).await;
    assert_eq!((arrived.kind, arrived.id), (EventKind::Arrive, added));
    tokio::time::timeout(HANG, port.close()).await?;
    // Closing ends the stream (after what was already queued: em1's MATCHED).
    while let Some(item) = tokio::time::timeout(HANG, events.next()).await? {
        assert!(matches!(item?, WatchEvent::Device(_)));
    }
    drop(events);
    drop(registry);
    kernel.assert_no_leaks();
    Ok(())
}

#[tokio::test]
async fn dropping_without_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("app", 20, 0, 0));
    let registry = SimRegistry::new(&kernel);
    let port = NotificationPort::builder(&space)
        .watch_capacity(4)
        .open()
        .await?;
    let (_, mut events) = port.watch(&Criteria::all().class("em"), EventKinds::ARRIVE)?;
    registry.probe_and_attach(SimDevice::new("em0").class("em").driver("em"));
    next_device(&mut events).await;
    // Undelivered events are queued in the kernel and in the watch when everything is dropped.
    registry.probe_and_attach(SimDevice::new("em1").class("em").driver("em"));
    registry.probe_and_attach(SimDevice::new("em2").class("em").driver("em"));
    // Each drop returns at once on this single-threaded runtime; the port's task releases the
    // rest on the runtime afterwards.
    drop(port);
    drop(events);
    drop(registry);
    released(&kernel).await;
    Ok(())
}

#[tokio::test]
async fn a_space_whose_kernel_has_no_registry_is_an_error() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("app", 20, 0, 0));
    // A registry of another kernel is not this space's.
    let other = Kernel::new();
    let elsewhere = SimRegistry::new(&other);
    match NotificationPort::open(&space).await {
        Err(Error::Registry(RegistryError::NoDevice)) => {}
        other => panic!("expected NoDevice, got {other:?}"),
    }
    // An explicit registry works without one on the kernel.
    let task_registry = SimRegistry::new(&kernel);
    let handle = task_registry.open(space.task());
    drop(task_registry);
    let port = NotificationPort::builder(&space)
        .registry(handle)
        .open()
        .await?;
    port.close().await;
    drop(elsewhere);
    released(&kernel).await;
    Ok(())
}

#[test]
fn every_error_type_is_a_std_error() {
    fn is_error<E: StdError + Send + Sync + 'static>() {}
    is_error::<Error>();
    is_error::<RegistryError>();
    is_error::<iokit_notify::CriteriaError>();
    let boxed: Box<dyn StdError> = Error::NoKinds.into();
    assert!(boxed.to_string().contains("event kind"));
}

#[test]
fn opening_outside_a_runtime_is_an_error_not_a_panic() {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("app", 20, 0, 0));
    let _registry = SimRegistry::new(&kernel);
    match NotificationPort::builder(&space).build() {
        Err(Error::NoRuntime) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
    kernel.assert_no_leaks();
}
