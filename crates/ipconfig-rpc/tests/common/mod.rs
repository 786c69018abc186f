//! What the simulated-service tests share: the hang bound, ipconfigd checked in and serving on a
//! simulated kernel, and clients that look the service up.
#![allow(dead_code)] // each test file uses a subset

use std::sync::Arc;
use std::time::Duration;

use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::mig::Served;
use ipconfig_rpc::server::{IpconfigHandler, IpconfigServer};
use ipconfig_rpc::wire::IPCONFIG_SERVICE_NAME;
use ipconfig_rpc::Numbering;
use mach_async::{ReceiveRight, SendRight, Space};
use mach_sim::{Kernel, Name, Task};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    /// Sending (or dropping) it stops the server.
    pub stop: oneshot::Sender<()>,
    /// The server's outcome.
    pub served: JoinHandle<Served>,
}

/// Checks `server_task` in as ipconfigd and spawns a server of `handler` on the service port,
/// running until [`Serving::stop`] fires.
pub fn serve<H: IpconfigHandler>(
    kernel: &Kernel,
    server_task: &Task,
    handler: Arc<H>,
    numbering: Numbering,
) -> Serving {
    let service = kernel
        .bootstrap()
        .check_in(server_task, IPCONFIG_SERVICE_NAME)
        .expect("check_in");
    let space = Space::from_task(server_task.clone());
    // SAFETY: the bootstrap server just gave the server task this receive right.
    let port = unsafe { ReceiveRight::from_raw_in(&space, service) };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = IpconfigServer::from_arc(handler).numbering(numbering);
    let served = tokio::spawn(async move {
        server
            .serve_until(port, async move {
                let _ = stopped.await;
            })
            .await
            .expect("server starts")
    });
    Serving {
        service,
        stop,
        served,
    }
}

/// A client in `task` on a send right to the service from the bootstrap server.
pub fn look_up_client(kernel: &Kernel, task: &Task) -> IpconfigClient {
    let name = kernel
        .bootstrap()
        .look_up(task, IPCONFIG_SERVICE_NAME)
        .expect("look_up");
    let space = Space::from_task(task.clone());
    // SAFETY: look_up just gave the client task this send right.
    IpconfigClient::new(unsafe { SendRight::from_raw_in(&space, name) })
}
