//! The measurements. Each design gets the same driver: the same sender, the same pacing, the
//! same clock; only the receiving side differs.
//!
//! - [`old`]: the old one-thread-per-port loop and the floor, through raw `mach_msg`.
//! - [`stream`]: `MachRecvStream` tasks on one event thread.
//! - [`dispatch`]: NextBSD HEAD's libdispatch sources on libmach's `kevent_qos` wrapper, modelled.
//! - [`rpc`]: ipconfig requests per second, old server loop against the async MIG server.

pub mod dispatch;
pub mod old;
pub mod rpc;
pub mod service_timer;
pub mod stream;

use crate::clock::now_ns;
use crate::error::BenchError;
use crate::plan::Plan;
use crate::raw::{MsgBuffer, Stamp};
use crate::stats::Samples;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single expected event may take before the phase is declared hung.
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// One burst's outcome: the rate, and what the receiving side asked of the kernel per message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throughput {
    /// Messages per second.
    pub rate: f64,
    /// Kernel calls of the receiving threads per message received (counted by the simulated
    /// kernel, `None` on a native one): setup and teardown included, spread over the burst.
    pub kernel_calls_per_message: Option<f64>,
}

impl Throughput {
    /// `rate`, with `calls` kernel calls made by the receiving side for `messages` messages.
    pub fn new(rate: f64, calls: Option<u64>, messages: u64) -> Throughput {
        Throughput {
            rate,
            kernel_calls_per_message: calls
                .filter(|_| messages > 0)
                .map(|c| c as f64 / messages as f64),
        }
    }
}

/// Kernel calls the calling thread made since `start` (both counts from
/// [`crate::sysinfo::thread_kernel_calls`]; `None` where they cannot be counted).
pub fn kernel_calls_since(start: Option<u64>) -> Option<u64> {
    Some(crate::sysinfo::thread_kernel_calls()?.saturating_sub(start?))
}

/// Adds the calling thread's kernel calls since `start` to `total`, the counter of a group of
/// threads that each add theirs as they exit (nothing where calls are not counted).
pub fn add_kernel_calls_since(total: &AtomicU64, start: Option<u64>) {
    if let Some(calls) = kernel_calls_since(start) {
        total.fetch_add(calls, Ordering::Relaxed);
    }
}

/// A group's kernel calls, read once its threads have exited and added theirs
/// ([`add_kernel_calls_since`]); `None` where calls are not counted.
pub fn group_kernel_calls(total: &AtomicU64) -> Option<u64> {
    crate::sysinfo::counts_kernel_calls().then(|| total.load(Ordering::Relaxed))
}

/// Idle cost of one design at one port count.
#[derive(Clone, Debug, PartialEq)]
pub struct IdleFigures {
    /// Idle ports (each with its receiver: a thread, or a stream).
    pub ports: usize,
    /// Wake-ups counted during the window, over all ports.
    pub wakeups: u64,
    /// The counting window actually elapsed.
    pub window: Duration,
    /// Threads the process gained when the receivers were set up (`None`: cannot count).
    pub threads_added: Option<i64>,
    /// Resident memory the process gained (`None`: cannot measure).
    pub rss_added_bytes: Option<i64>,
    /// From the stop request to the last receiving thread or task gone.
    pub shutdown: Duration,
}

impl IdleFigures {
    /// Wake-ups per second per port.
    pub fn wakeups_per_port_per_s(&self) -> Option<f64> {
        crate::stats::per_second(self.wakeups, self.window).map(|r| r / self.ports.max(1) as f64)
    }

    /// Threads per port.
    pub fn threads_per_port(&self) -> Option<f64> {
        self.threads_added
            .map(|t| t as f64 / self.ports.max(1) as f64)
    }

    /// Resident bytes per port.
    pub fn rss_per_port(&self) -> Option<f64> {
        self.rss_added_bytes
            .map(|b| b as f64 / self.ports.max(1) as f64)
    }
}

/// A consumer-side hook that turns each received stamp into a latency sample.
pub fn latency_sink(tx: mpsc::Sender<u64>) -> impl FnMut(Stamp) + Send + 'static {
    move |stamp: Stamp| {
        let _ = tx.send(now_ns().saturating_sub(stamp.sent_ns));
    }
}

/// A consumer-side hook that records when the `n`-th message arrived.
pub fn count_sink(n: u64, tx: mpsc::Sender<Instant>) -> impl FnMut() + Send + 'static {
    let mut seen = 0u64;
    move || {
        seen += 1;
        if seen == n {
            let _ = tx.send(Instant::now());
        }
    }
}

/// Sends one stamped message at a time, waits until the consumer reported its latency, pauses
/// `plan.latency_gap` (so the receiver is parked again), and repeats. Warm-up samples are
/// dropped.
pub fn paced_latency(
    plan: &Plan,
    mut send: impl FnMut(Stamp) -> Result<(), BenchError>,
    acks: &mpsc::Receiver<u64>,
) -> Result<Samples, BenchError> {
    let total = plan.latency_warmup + plan.latency_samples;
    let mut samples = Vec::with_capacity(plan.latency_samples);
    for seq in 0..total {
        std::thread::sleep(plan.latency_gap);
        send(Stamp {
            seq: seq as u64,
            sent_ns: now_ns(),
        })?;
        let latency = acks
            .recv_timeout(HANG_LIMIT)
            .map_err(|_| BenchError::Timeout("a latency sample"))?;
        if seq >= plan.latency_warmup {
            samples.push(latency);
        }
    }
    Ok(Samples::from_unsorted(samples))
}

/// How the burst's producer sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurstSender {
    /// Each message through a send-once right made on the fly (`MACH_MSG_TYPE_MAKE_SEND_ONCE`),
    /// which the queue limit does not hold back — as the kernel's own notifications and MIG
    /// replies are not: the burst queues up as fast as it is sent and the consumer drains it.
    Unthrottled,
    /// Through the port's send right, blocking whenever 5 messages are queued: producer and
    /// consumer alternate, and nearly every message costs the consumer a wake-up.
    QueueLimited,
}

impl BurstSender {
    /// Prepares `msg` (built with [`MsgBuffer::message`]) for this kind of send.
    pub fn prepare(self, msg: &mut MsgBuffer, port: crate::raw::Name) {
        if self == BurstSender::Unthrottled {
            msg.set_ports(
                mach_abi::MACH_MSGH_BITS(mach_abi::MACH_MSG_TYPE_MAKE_SEND_ONCE, 0),
                port,
                mach_abi::MACH_PORT_NULL,
            );
        }
    }
}

/// Sends `n` messages back to back (blocking while the queue is full) and returns messages per
/// second from the first send to the consumer's `n`-th receive.
pub fn burst(
    n: u64,
    mut send: impl FnMut(u64) -> Result<(), BenchError>,
    done: &mpsc::Receiver<Instant>,
) -> Result<f64, BenchError> {
    let start = Instant::now();
    for seq in 0..n {
        send(seq)?;
    }
    let end = done
        .recv_timeout(HANG_LIMIT)
        .map_err(|_| BenchError::Timeout("the end of the burst"))?;
    crate::stats::per_second(n, end.saturating_duration_since(start))
        .ok_or(BenchError::Timeout("a measurable burst"))
}

/// A blocking send of a stamped measurement message.
pub fn send_stamped(
    raw: &dyn crate::raw::RawMach,
    msg: &mut MsgBuffer,
    stamp: Stamp,
) -> Result<(), BenchError> {
    msg.set_stamp(stamp);
    match raw.send(msg, None) {
        mach_abi::MACH_MSG_SUCCESS => Ok(()),
        kr => Err(BenchError::kern("mach_msg (send)", kr)),
    }
}
