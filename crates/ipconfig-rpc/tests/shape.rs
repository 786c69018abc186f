//! The shape the three consumer crates share, for ipconfig-rpc: a client and a server opened on
//! a `Space`, `close().await` on both; dropping instead releases everything without blocking;
//! errors go into `Box<dyn Error>` with `?`.
#![cfg(mach_backend = "sim")]

use std::error::Error as StdError;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipconfig_rpc::mach_async::{bootstrap, Space};
use ipconfig_rpc::mig::{MigError, ServeEnd};
use ipconfig_rpc::sim::Kernel;
use ipconfig_rpc::{
    Error, InterfaceName, IpconfigClient, IpconfigServer, IpconfigStatus, Numbering,
};

mod common;
use common::{Em0, HANG};

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

fn spaces(kernel: &Kernel) -> (Space, Space) {
    (
        Space::from_task(kernel.task_create("ipconfigd", 100, 0, 0)),
        Space::from_task(kernel.task_create("ipconfig", 200, 501, 20)),
    )
}

#[tokio::test]
async fn open_call_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    let server = IpconfigServer::new(Em0).check_in(&daemon)?;
    let client = tokio::time::timeout(HANG, IpconfigClient::open(&tool)).await??;
    assert_eq!(tokio::time::timeout(HANG, client.if_count()).await??, 1);
    let em0 = client.if_addr(InterfaceName::new("em0")?).await?;
    assert_eq!(em0.addr, Ipv4Addr::new(10, 0, 2, 15));
    tokio::time::timeout(HANG, client.close()).await?;
    let served = tokio::time::timeout(HANG, server.close()).await?;
    assert_eq!(served.end, ServeEnd::Stopped);
    assert_eq!(served.stats.replies, 2);
    // The port comes back to the daemon (to serve again); dropping it releases it.
    assert!(served.port.is_some());
    drop(served);
    kernel.assert_no_leaks();
    Ok(())
}

#[tokio::test]
async fn the_builder_sets_name_timeout_and_numbering() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    // Nothing checked in yet: a typed error saying so.
    match IpconfigClient::open(&tool).await {
        Err(Error::Mach(e)) => assert!(bootstrap::is_unknown_service(&e), "{e}"),
        other => panic!("expected an unknown service, got {other:?}"),
    }
    let port = bootstrap::check_in(&daemon, "test.shape.ipconfig")?;
    let server = IpconfigServer::new(Em0)
        .numbering(Numbering::AppleCompat)
        .spawn(port)?;
    let apple = IpconfigClient::builder(&tool)
        .service_name("test.shape.ipconfig")
        .numbering(Numbering::AppleCompat)
        .timeout(Some(HANG))
        .open()
        .await?;
    let em1 = apple.if_addr(InterfaceName::new("em1")?).await?;
    assert_eq!(em1.status, IpconfigStatus::NO_SERVER);
    apple.close().await;
    server.close().await;
    released(&kernel).await;
    Ok(())
}

#[tokio::test]
async fn dropping_without_close_releases_everything() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    let server = IpconfigServer::new(Em0).check_in(&daemon)?;
    let client = IpconfigClient::open(&tool).await?;
    assert_eq!(tokio::time::timeout(HANG, client.if_count()).await??, 1);
    // Each drop returns at once on this single-threaded runtime; the server's task releases
    // its port on the runtime afterwards.
    drop(server);
    drop(client);
    released(&kernel).await;
    Ok(())
}

#[tokio::test]
async fn a_call_after_the_server_closed_is_an_error() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    let server = IpconfigServer::new(Em0).check_in(&daemon)?;
    let client = IpconfigClient::builder(&tool)
        .timeout(Some(HANG))
        .open()
        .await?;
    let served = server.close().await;
    drop(served); // the service port dies with it
    let failed = tokio::time::timeout(HANG, client.if_count()).await?;
    assert!(
        matches!(failed, Err(MigError::Send(_))),
        "a dead server: {failed:?}"
    );
    // Into the crate's error, and from there into Box<dyn Error>.
    let boxed: Box<dyn StdError> = Error::from(failed.unwrap_err()).into();
    assert!(!boxed.to_string().is_empty());
    client.close().await;
    released(&kernel).await;
    Ok(())
}

#[test]
fn spawning_outside_a_runtime_is_an_error_not_a_panic() {
    let kernel = Kernel::new();
    let (daemon, _) = spaces(&kernel);
    let port = bootstrap::check_in(&daemon, "test.shape.noruntime").expect("check in");
    match IpconfigServer::new(Em0).spawn(port) {
        Err(Error::Mach(ipconfig_rpc::mach_async::Error::NoRuntime(_))) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
    kernel.assert_no_leaks();
}

#[test]
fn a_server_whose_runtime_shut_down_has_released_its_port() {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = {
        let _entered = first.enter();
        IpconfigServer::new(Em0).check_in(&daemon).expect("serving")
    };
    let port = server.port_name();
    assert_ne!(port, 0);
    // The server's task goes with its runtime, and the service port with it.
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    second.block_on(async {
        let served = tokio::time::timeout(HANG, server.close())
            .await
            .expect("close returns");
        assert_eq!(served.end, ServeEnd::PortDied);
        assert!(served.port.is_none());
        // The service name went with its port: a new look-up is a typed error.
        match IpconfigClient::open(&tool).await {
            Err(Error::Mach(e)) => assert!(bootstrap::is_unknown_service(&e), "{e}"),
            other => panic!("the service died with its port: {other:?}"),
        }
        released(&kernel).await;
    });
}

#[tokio::test]
async fn a_client_on_a_given_port_needs_no_look_up() -> Result<(), Box<dyn StdError>> {
    let kernel = Kernel::new();
    let (daemon, tool) = spaces(&kernel);
    let port = bootstrap::check_in(&daemon, "test.shape.port")?;
    let server = IpconfigServer::new(Em0).spawn(port)?;
    let right = bootstrap::look_up(&tool, "test.shape.port")?;
    // The builder's service name is ignored once a port is given.
    let client = IpconfigClient::builder(&tool)
        .service_name("nothing.under.this.name")
        .service_port(right)
        .open()
        .await?;
    assert_eq!(tokio::time::timeout(HANG, client.if_count()).await??, 1);
    client.close().await;
    server.close().await;
    released(&kernel).await;
    Ok(())
}

#[test]
fn every_error_type_is_a_std_error() {
    fn is_error<E: StdError + Send + Sync + 'static>() {}
    is_error::<Error>();
    is_error::<MigError>();
}
