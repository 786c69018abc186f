//! Shared fixtures for the simulated-kernel tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use mach_async::mach_sim::{Kernel, Task};
use mach_async::mig::{MigClient, MigServer, MigServerHandle, Served};
use mach_async::{ReceiveRight, SendRight, Space};

/// A fresh kernel with a server and a client task.
pub struct Fixture {
    pub kernel: Kernel,
    pub server: Space,
    pub client: Space,
}

pub fn fixture() -> Fixture {
    let kernel = Kernel::new();
    let server = Space::from_task(kernel.task_create("server", 100, 501, 20));
    let client = Space::from_task(kernel.task_create("client", 200, 502, 20));
    Fixture {
        kernel,
        server,
        client,
    }
}

impl Fixture {
    pub fn server_task(&self) -> &Task {
        self.server.task()
    }

    /// A port in the server and a send right to it in the client (through the bootstrap
    /// service, so no right is ever created outside the kernel's accounting).
    pub fn connect(&self) -> (ReceiveRight, SendRight) {
        static N: AtomicU32 = AtomicU32::new(0);
        let service = format!("test.service.{}", N.fetch_add(1, Ordering::Relaxed));
        let bs = self.kernel.bootstrap();
        let rname = bs.check_in(self.server.task(), &service).expect("check_in");
        let sname = bs.look_up(self.client.task(), &service).expect("look_up");
        // SAFETY: fresh rights the kernel just gave these tasks.
        let r = unsafe { ReceiveRight::from_raw_in(&self.server, rname) };
        // SAFETY: as above.
        let s = unsafe { SendRight::from_raw_in(&self.client, sname) };
        (r, s)
    }
}

/// A tiny deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Body: sender id, sequence number, then `pad` filler bytes.
pub fn body(sender: u32, seq: u32, pad: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + pad);
    b.extend_from_slice(&sender.to_le_bytes());
    b.extend_from_slice(&seq.to_le_bytes());
    b.resize(8 + pad, 0xA5);
    b
}

pub fn parse_body(b: &[u8]) -> (u32, u32) {
    (
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        u32::from_le_bytes(b[4..8].try_into().unwrap()),
    )
}

pub fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn multi_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The bound of every wait for a message or an event in these tests: generous (it only turns a
/// hang into a failure; nothing asserts how long a wait took).
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Awaits `fut` for at most `limit`; past it, fails the test with a message saying what was
/// lost (`what`: the message or event the test was waiting for) instead of hanging.
pub async fn within<F: std::future::Future>(
    limit: std::time::Duration,
    fut: F,
    what: &str,
) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(output) => output,
        Err(_) => panic!("lost: {what} (not within {limit:?})"),
    }
}

/// A MIG server serving in the "server" task of a fresh kernel, and a client of it in the
/// "client" task, connected through the bootstrap service `service`.
pub struct MigFixture {
    pub kernel: Kernel,
    pub client_task: Task,
    /// `None` once the test dropped it.
    pub client: Option<MigClient>,
    pub handle: MigServerHandle,
    service: String,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Served>,
}

/// Registers a port of the server task as `service`, builds the server on it with `make`,
/// spawns it on the current runtime and gives the client task a `MigClient` of it.
pub fn mig_fixture(service: &str, make: impl FnOnce(ReceiveRight) -> MigServer) -> MigFixture {
    let kernel = Kernel::new();
    let server_task = kernel.task_create("server", 10, 0, 0);
    let client_task = kernel.task_create("client", 20, 501, 20);
    let port = ReceiveRight::new_in(&Space::from_task(server_task.clone())).unwrap();
    kernel
        .bootstrap()
        .register(&server_task, service, port.name())
        .unwrap();
    let name = kernel.bootstrap().look_up(&client_task, service).unwrap();
    // SAFETY: look_up just gave the client task this send right.
    let right = unsafe { SendRight::from_raw_in(&Space::from_task(client_task.clone()), name) };
    let server = make(port);
    let handle = server.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_until(async move {
        let _ = stopped.await;
    }));
    MigFixture {
        kernel,
        client_task,
        client: Some(MigClient::new(right)),
        handle,
        service: service.to_string(),
        stop,
        served,
    }
}

impl MigFixture {
    pub fn client(&self) -> &MigClient {
        self.client.as_ref().expect("client present")
    }

    /// Stops the server (bounded), releases what it returns and asserts the kernel holds
    /// nothing any more: how every MIG test ends.
    pub async fn finish(self) -> Served {
        drop(self.client);
        drop(self.handle);
        let _ = self.stop.send(());
        let mut served = tokio::time::timeout(std::time::Duration::from_secs(20), self.served)
            .await
            .expect("the server stops within 20 s")
            .unwrap();
        drop(served.port.take());
        drop(std::mem::take(&mut served.added));
        let _ = self.kernel.bootstrap().unregister(&self.service);
        self.kernel.assert_no_leaks();
        served
    }
}
