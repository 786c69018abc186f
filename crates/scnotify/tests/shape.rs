//! The shape the three consumer crates share, for scnotify: open on a `Space`, a stream of
//! `Result<ChangedKeys, Error>`, `close().await`; dropping instead releases everything without
//! blocking; every error type goes into `Box<dyn Error>` with `?`.
#![cfg(mach_backend = "sim")]

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use futures::StreamExt;
use scnotify::mach_async::{bootstrap, ReceiveRight, Space};
use scnotify::sim::Kernel;
use scnotify::{ConfigdServer, Connector, Error, Session};

/// Turns a hang into a failure (never a performance assertion).
const HANG: Duration = Duration::from_secs(20);

/// Waits (bounded) until the kernel holds nothing any more, then asserts it with the listing.
async fn released(kernel: &Kernel) {
    let deadline = Instant::now() + HANG;
    loop {
        let stats = kernel.stats();
        if stats.held() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not released within {HANG:?}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kernel.assert_no_leaks();
}

const LINK: &str = "State:/Network/Interface/.*/Link";
const EN0: &str = "State:/Network/Interface/en0/Link";

#[tokio::test]
async fn open_stream_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
    let app = Space::from_task(kernel.task_create("app", 11, 0, 0));
    let server = ConfigdServer::check_in(&configd)?;
    let session = tokio::time::timeout(HANG, Session::open(&app)).await??;
    session.set_notification_keys(&[], &[LINK]).await?;
    let mut changes = session.notifications().await?;
    session.set(EN0, b"<true/>").await?;
    let changed = tokio::time::timeout(HANG, changes.next())
        .await?
        .expect("the stream is open")?;
    assert_eq!(changed, [EN0]);
    assert!(!changed.is_server_restart());
    assert_eq!(format!("{changed:?}"), format!("[{EN0:?}]"));
    assert_eq!(changed.into_keys(), vec![EN0.to_string()]);
    tokio::time::timeout(HANG, changes.close()).await?;
    // The registration is over on both sides: the session may register again.
    let again = session.notifications().await?;
    tokio::time::timeout(HANG, again.close()).await?;
    tokio::time::timeout(HANG, session.close()).await?;
    tokio::time::timeout(HANG, server.close()).await?;
    kernel.assert_no_leaks();
    Ok(())
}

#[tokio::test]
async fn the_builder_opens_with_options_and_a_missing_server_is_an_error(
) -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
    let app = Space::from_task(kernel.task_create("app", 11, 0, 0));
    let port = ReceiveRight::new_in(&configd)?;
    bootstrap::register(&configd, "test.shape.configd", &port)?;
    let server = ConfigdServer::spawn(port)?;
    // Nothing under configd's own name: a typed error, not a hang or a panic.
    match tokio::time::timeout(HANG, Session::open(&app)).await? {
        Err(Error::NoServer(why)) => assert!(why.contains("bootstrap_look_up"), "{why}"),
        other => panic!("expected NoServer, got {other:?}"),
    }
    let session = Session::builder(&app)
        .connector(Connector::Bootstrap("test.shape.configd".into()))
        .rpc_timeout(Some(HANG))
        .open()
        .await?;
    session.set(EN0, b"1").await?;
    assert_eq!(session.get(EN0).await?, b"1");
    session.close().await;
    server.close().await;
    released(&kernel).await;
    Ok(())
}

#[tokio::test]
async fn dropping_without_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
    let app = Space::from_task(kernel.task_create("app", 11, 0, 0));
    let server = ConfigdServer::check_in(&configd)?;
    let session = Session::open(&app).await?;
    session.set_notification_keys(&[], &[LINK]).await?;
    let mut changes = session.notifications().await?;
    session.set(EN0, b"<true/>").await?;
    let _ = tokio::time::timeout(HANG, changes.next()).await?;
    // A change is pending on the server and a wake-up may be queued on the notify port.
    session.set(EN0, b"<false/>").await?;
    // Each drop returns at once on this single-threaded runtime (a drop that waited for the
    // runtime would never return); the rest happens on the runtime afterwards.
    drop(changes);
    drop(session);
    drop(server);
    released(&kernel).await;
    Ok(())
}

#[test]
fn every_error_type_is_a_std_error() {
    fn is_error<E: StdError + Send + Sync + 'static>() {}
    is_error::<scnotify::Error>();
    is_error::<scnotify::ServerError>();
    let boxed: Box<dyn StdError> = scnotify::Error::NotifierActive.into();
    assert!(boxed.to_string().contains("already active"));
}

#[test]
fn starting_a_server_outside_a_runtime_is_an_error_not_a_panic() {
    let kernel = Kernel::new();
    let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
    let started = ConfigdServer::check_in(&configd);
    assert!(started.is_err(), "no runtime: {started:?}");
    drop(started);
    kernel.assert_no_leaks();
}
