//! Shared fixtures for the simulated-kernel tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use mach_async::mach_sim::{Kernel, Task};
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
