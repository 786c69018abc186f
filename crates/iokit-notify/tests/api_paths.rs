//! Public API paths ordinary watches do not take (issue 16): the errno classification of
//! registry errors (both ways, with the text users read), snapshots handed over by value, and
//! the `Debug` output of ports, builders and watch streams used in logs.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use common::*;
use iokit_notify::registry::SimDevice;
use iokit_notify::{Criteria, EventKinds, NotificationPort, RegistryError};

#[test]
fn registry_errors_classify_errnos_and_say_what_failed() {
    for (errno, err) in [
        (libc::EINVAL, RegistryError::InvalidArgument),
        (libc::ENOTTY, RegistryError::Unsupported(libc::ENOTTY)),
        (libc::ENOSYS, RegistryError::Unsupported(libc::ENOSYS)),
        (libc::ENOENT, RegistryError::NotFound),
        (libc::EIO, RegistryError::Os(libc::EIO)),
    ] {
        assert_eq!(RegistryError::from_errno(errno), err);
        assert_eq!(err.errno(), Some(errno), "{err:?} round-trips");
    }
    assert_eq!(RegistryError::NoDevice.errno(), None);
    assert_eq!(RegistryError::NoDevice.to_string(), "no registry device");
    assert_eq!(
        RegistryError::Unsupported(libc::ENOSYS).to_string(),
        format!(
            "the registry does not support this call (errno {})",
            libc::ENOSYS
        )
    );
    assert_eq!(
        RegistryError::Os(libc::EIO).to_string(),
        format!("registry call failed (errno {})", libc::EIO)
    );
}

#[tokio::test]
async fn snapshots_by_value_and_debug_output() {
    let fx = Fixture::new();
    let a = fx.registry.probe_and_attach(SimDevice::new("dbg"));
    let b = fx.registry.probe_and_attach(SimDevice::new("dbg"));
    let builder = NotificationPort::builder(&fx.space()).registry(fx.dev.clone());
    assert!(format!("{builder:?}").contains("NotificationPortBuilder"));
    drop(builder);
    let port = fx.port();
    let shown = format!("{port:?}");
    assert!(
        shown.contains("NotificationPort") && shown.contains("set"),
        "{shown}"
    );
    let (snapshot, stream) = port
        .watch(&Criteria::all().class("dbg"), EventKinds::ARRIVE)
        .unwrap();
    assert!(format!("{stream:?}").contains("WatchStream"));
    assert_eq!(snapshot.len(), 2);
    let mut by_iter: Vec<u64> = snapshot.ids().to_vec();
    by_iter.sort_unstable();
    let mut owned = snapshot.into_ids();
    owned.sort_unstable();
    assert_eq!(owned, by_iter);
    let mut expected = vec![a, b];
    expected.sort_unstable();
    assert_eq!(owned, expected);
    let (again, stream2) = port
        .watch(&Criteria::all().class("dbg"), EventKinds::ARRIVE)
        .unwrap();
    let mut iterated: Vec<u64> = again.into_iter().collect();
    iterated.sort_unstable();
    assert_eq!(iterated, expected);
    drop((stream, stream2));
    fx.finish(port).await;
}
