//! The ipconfig service on the simulated kernel: server and client in different simulated tasks,
//! each test on its own kernel, each ending with the leak assertion.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::mig::{MigError, Served};
use ipconfig_rpc::protocol::{IfAddr, Numbering};
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer};
use ipconfig_rpc::wire::{InterfaceName, IpconfigStatus, IPCONFIG_SERVICE_NAME};
use mach_abi::kern_return_t;
use mach_async::{ReceiveRight, SendRight, Space};
use mach_sim::{Kernel, Task};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous bound that turns a hang into a failure (never a performance assertion).
const HANG: Duration = Duration::from_secs(20);

/// A test double of ipconfigd's bound state and its two handlers.
#[derive(Default)]
struct Bound {
    addrs: HashMap<Vec<u8>, Ipv4Addr>,
}

impl Bound {
    fn with(pairs: &[(&str, Ipv4Addr)]) -> Bound {
        Bound {
            addrs: pairs
                .iter()
                .map(|(n, a)| (n.as_bytes().to_vec(), *a))
                .collect(),
        }
    }
}

#[async_trait]
impl IpconfigHandler for Bound {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        Ok(self.addrs.len() as i32)
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(match self.addrs.get(name.lookup_key()) {
            Some(addr) => IfAddr {
                addr: *addr,
                status: IpconfigStatus::SUCCESS,
            },
            None => IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER,
            },
        })
    }
}

struct Fixture {
    kernel: Kernel,
    server_task: Task,
    client_task: Task,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<Served>>,
}

impl Fixture {
    async fn start<H: IpconfigHandler>(handler: H, numbering: Numbering) -> Fixture {
        let kernel = Kernel::new();
        let server_task = kernel.task_create("ipconfigd", 100, 0, 0);
        let client_task = kernel.task_create("ipconfig", 200, 501, 20);
        let name = kernel
            .bootstrap()
            .check_in(&server_task, IPCONFIG_SERVICE_NAME)
            .expect("check_in");
        let space = Space::from_task(server_task.clone());
        // SAFETY: the bootstrap server just gave the server task this receive right.
        let port = unsafe { ReceiveRight::from_raw_in(&space, name) };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = IpconfigServer::new(handler).numbering(numbering);
        let served = tokio::spawn(async move {
            server
                .serve_until(port, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("server starts")
        });
        Fixture {
            kernel,
            server_task,
            client_task,
            stop: Some(stop),
            served: Some(served),
        }
    }

    fn client(&self) -> IpconfigClient {
        let name = self
            .kernel
            .bootstrap()
            .look_up(&self.client_task, IPCONFIG_SERVICE_NAME)
            .expect("look_up");
        let space = Space::from_task(self.client_task.clone());
        // SAFETY: look_up just gave the client task this send right.
        IpconfigClient::new(unsafe { SendRight::from_raw_in(&space, name) })
    }

    /// Stops the server, releases its port, and asserts that nothing is left.
    async fn finish(mut self) -> Served {
        let _ = self.stop.take().unwrap().send(());
        let served = tokio::time::timeout(HANG, self.served.take().unwrap())
            .await
            .expect("server stops")
            .expect("server task");
        let mut served = served;
        drop(served.port.take());
        self.kernel.assert_no_leaks();
        served
    }
}

fn em0() -> Bound {
    Bound::with(&[("em0", Ipv4Addr::new(10, 0, 2, 15))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_routines_round_trip() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client();
    assert_eq!(
        tokio::time::timeout(HANG, client.if_count()).await.unwrap(),
        Ok(1)
    );
    let addr = tokio::time::timeout(HANG, client.if_addr(InterfaceName::new("em0").unwrap()))
        .await
        .unwrap();
    assert_eq!(
        addr,
        Ok(IfAddr {
            addr: Ipv4Addr::new(10, 0, 2, 15),
            status: IpconfigStatus::SUCCESS
        })
    );
    drop(client);
    let served = fx.finish().await;
    assert_eq!(served.stats.replies, 2);
}
