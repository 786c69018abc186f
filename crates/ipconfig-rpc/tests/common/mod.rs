//! What the simulated-service tests share: the hang bound, ipconfigd checked in and serving on a
//! simulated kernel, and clients that look the service up.
#![allow(dead_code)] // each test file uses a subset

use std::sync::Arc;
use std::time::Duration;

use ipconfig_rpc::client::{ClientBuilder, IpconfigClient};
use ipconfig_rpc::server::{IpconfigHandler, IpconfigServer, ServerHandle};
use ipconfig_rpc::Numbering;
use mach_async::Space;
use mach_sim::{Kernel, Name, Task};

/// Generous bound that turns a hang into a failure (never a performance assertion).
pub const HANG: Duration = Duration::from_secs(20);

/// Awaits `f` within [`HANG`].
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("no hang")
}

/// A server spawned by [`serve`].
pub struct Serving {
    /// The service port's name in the server task.
    pub service: Name,
    /// The server ([`ServerHandle::close`] stops it).
    pub server: ServerHandle,
}

/// Checks `server_task` in as ipconfigd and spawns a server of `handler` on the service port, on
/// the current runtime.
pub fn serve<H: IpconfigHandler>(
    kernel: &Kernel,
    server_task: &Task,
    handler: Arc<H>,
    numbering: Numbering,
) -> Serving {
    let _ = kernel;
    let space = Space::from_task(server_task.clone());
    let server = IpconfigServer::from_arc(handler)
        .numbering(numbering)
        .check_in(&space)
        .expect("check in and serve");
    Serving {
        service: server.port_name(),
        server,
    }
}

/// A client builder in `task` (the service found by bootstrap look-up).
pub fn client_in(task: &Task) -> ClientBuilder {
    IpconfigClient::builder(&Space::from_task(task.clone()))
}

/// A client in `task` of the service from the bootstrap server.
pub async fn look_up_client(task: &Task) -> IpconfigClient {
    bounded(client_in(task).open()).await.expect("look-up")
}
