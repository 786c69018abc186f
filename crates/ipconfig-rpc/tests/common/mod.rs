//! What the simulated-service tests share: the hang bound, a one-interface handler, ipconfigd
//! checked in and serving on a simulated kernel, and clients that look the service up.
#![allow(dead_code)] // each test file uses a subset

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipconfig_rpc::client::{ClientBuilder, IpconfigClient};
use ipconfig_rpc::ipconfig_messages::{InterfaceName, IpconfigStatus};
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer, ServerHandle};
use ipconfig_rpc::{IfAddr, Numbering};
use mach_abi::kern_return_t;
use mach_async::Space;
use mach_sim::{Kernel, Name, Task};

/// Generous bound that turns a hang into a failure (never a performance assertion).
pub const HANG: Duration = Duration::from_secs(20);

/// Awaits `f` within [`HANG`].
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("no hang")
}

/// One bound interface, em0 = 10.0.2.15.
pub struct Em0;

#[async_trait]
impl IpconfigHandler for Em0 {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        Ok(1)
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(if name.lookup_key() == b"em0" {
            IfAddr {
                addr: Ipv4Addr::new(10, 0, 2, 15),
                status: IpconfigStatus::SUCCESS,
            }
        } else {
            IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER,
            }
        })
    }
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
