//! Fault injection on the ipconfig service (simulated kernel, `Kernel::faults`): ipconfigd dies
//! at chosen points of an RPC, a client dies before reading its reply, the server's reply send
//! fails, the service queue is full. Each test ends with a defined outcome (a typed error or an
//! answer, the server still serving or ended with `PortDied`) and the no-leak assertion.
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ipconfig_messages::{
    InterfaceName, IpconfigStatus, IPCONFIG_IF_ADDR_ID, IPCONFIG_IF_COUNT_ID, IPCONFIG_SERVICE_NAME,
};
use ipconfig_rpc::mig::{MigError, ServeEnd, Served};
use ipconfig_rpc::{IfAddr, Numbering};
use mach_abi::{MACH_SEND_INVALID_DEST, MACH_SEND_TIMED_OUT};
use mach_sim::{FaultAction, Kernel, MsgMatch, Name, Task};
mod common;

use common::{bounded, client_in, serve, Em0, HANG};
use ipconfig_rpc::ServerHandle;

struct Service {
    kernel: Kernel,
    server_task: Task,
    service: Name,
    server: Option<ServerHandle>,
}

impl Service {
    fn start() -> Service {
        let kernel = Kernel::new();
        let server_task = kernel.task_create("ipconfigd", 100, 0, 0);
        let serving = serve(&kernel, &server_task, Arc::new(Em0), Numbering::NextBsd);
        Service {
            kernel,
            server_task,
            service: serving.service,
            server: Some(serving.server),
        }
    }

    /// A client in a task of its own.
    async fn client(&self, pid: u32) -> (Task, IpconfigClient) {
        let task = self.kernel.task_create("ipconfig", pid, 501, 20);
        let client = bounded(client_in(&task).timeout(Some(HANG)).open())
            .await
            .expect("look-up");
        (task, client)
    }

    /// Stops a live server, releases its port, checks the kernel is clean.
    async fn finish(mut self) -> Served {
        let server = self.server.take().expect("running");
        let mut served = bounded(server.close()).await;
        drop(served.port.take());
        let _ = self.kernel.bootstrap().unregister(IPCONFIG_SERVICE_NAME);
        self.kernel.assert_no_leaks();
        served
    }

    /// For a server that ended by itself: checks it saw its port die, then the kernel.
    async fn finish_dead(mut self) {
        let server = self.server.take().expect("running");
        let served = bounded(server.finished()).await;
        assert_eq!(served.end, ServeEnd::PortDied);
        assert!(served.port.is_none());
        let _ = self.kernel.bootstrap().unregister(IPCONFIG_SERVICE_NAME);
        self.kernel.assert_no_leaks();
    }
}

fn em0() -> InterfaceName {
    InterfaceName::new("em0").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipconfigd_dying_as_it_receives_the_request_gives_server_died() {
    let fx = Service::start();
    let (_task, client) = fx.client(200).await;
    let fired = fx.kernel.faults().on_receive(
        MsgMatch::any()
            .task(&fx.server_task)
            .id(IPCONFIG_IF_ADDR_ID),
        FaultAction::TerminateTask(fx.server_task.clone()),
    );
    assert_eq!(
        bounded(client.if_addr(em0())).await,
        Err(MigError::ServerDied)
    );
    assert_eq!(fired.fired(), 1);
    // Later calls on the dead service fail at once with a typed error, never hang.
    assert!(matches!(
        bounded(client.if_count()).await,
        Err(MigError::Send(MACH_SEND_INVALID_DEST) | MigError::ServerDied)
    ));
    drop(client);
    fx.finish_dead().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipconfigd_dying_with_the_request_queued_gives_server_died() {
    let fx = Service::start();
    let (_task, client) = fx.client(200).await;
    // A first answer proves the server is up and waiting on its port.
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    let fired = fx.kernel.faults().on_deliver(
        MsgMatch::any()
            .task(&fx.server_task)
            .id(IPCONFIG_IF_COUNT_ID),
        FaultAction::TerminateTask(fx.server_task.clone()),
    );
    assert_eq!(bounded(client.if_count()).await, Err(MigError::ServerDied));
    assert_eq!(fired.fired(), 1);
    drop(client);
    fx.finish_dead().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dying_before_reading_its_reply_does_not_disturb_the_server() {
    let fx = Service::start();
    let (doomed_task, doomed) = fx.client(200).await;
    let fired = fx.kernel.faults().on_deliver(
        MsgMatch::any()
            .task(&doomed_task)
            .id(IPCONFIG_IF_COUNT_ID + 100),
        FaultAction::TerminateTask(doomed_task.clone()),
    );
    // The reply reached the client's reply port, then the client task died under the call: the
    // call ends with a typed receive-side error instead of waiting forever.
    let result = bounded(doomed.if_count()).await;
    assert_eq!(fired.fired(), 1);
    assert!(
        matches!(result, Err(MigError::Receive(_) | MigError::Send(_))),
        "{result:?}"
    );
    drop(doomed);
    // The server answered and keeps serving other clients.
    let (_task, client) = fx.client(201).await;
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    drop(client);
    let served = fx.finish().await;
    assert_eq!(served.stats.replies, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reply_send_destroys_the_reply_right_and_the_server_keeps_serving() {
    let fx = Service::start();
    let (_task, client) = fx.client(200).await;
    let fault = fx
        .kernel
        .faults()
        .fail_next_sends_from(&fx.server_task, 1, MACH_SEND_INVALID_DEST);
    // The reply could not be sent; the server must release the send-once right it still holds,
    // which the client sees as the send-once notification.
    assert_eq!(bounded(client.if_count()).await, Err(MigError::ServerDied));
    assert_eq!(fault.fired(), 1);
    assert_eq!(
        bounded(client.if_addr(em0())).await,
        Ok(IfAddr {
            addr: Ipv4Addr::new(10, 0, 2, 15),
            status: IpconfigStatus::SUCCESS
        })
    );
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_send_that_times_out_is_given_back_and_released() {
    let fx = Service::start();
    let (_task, client) = fx.client(200).await;
    // MACH_SEND_TIMED_OUT pseudo-receives the reply into the server's buffer with its rights.
    let fault = fx
        .kernel
        .faults()
        .fail_next_sends_from(&fx.server_task, 1, MACH_SEND_TIMED_OUT);
    let result = bounded(client.if_count()).await;
    assert_eq!(fault.fired(), 1);
    // A reply to a send-once right never waits on a queue; whether the server retries or
    // gives up, the client gets an answer or the send-once notification, never a hang.
    assert!(
        matches!(result, Ok(1) | Err(MigError::ServerDied)),
        "{result:?}"
    );
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_service_queue_delays_requests_until_it_drains() {
    let fx = Service::start();
    let (_task, client) = fx.client(200).await;
    fx.kernel
        .faults()
        .fill_queue(&fx.server_task, fx.service)
        .unwrap();
    let call = tokio::spawn(async move {
        let r = client.if_count().await;
        (r, client)
    });
    // The request cannot be queued while the queue is held full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!call.is_finished());
    fx.kernel
        .faults()
        .release_queue(&fx.server_task, fx.service)
        .unwrap();
    let (result, client) = bounded(call).await.unwrap();
    assert_eq!(result, Ok(1));
    drop(client);
    fx.finish().await;
}
