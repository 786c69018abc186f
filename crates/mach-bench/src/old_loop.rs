//! The old design, reimplemented faithfully, and the physical floor.
//!
//! **Old loop** — what `SCNotify.c`, `IOKitNotify.c` and ipconfigd's `mach_service.c` do: one
//! pthread per port, looping
//!
//! ```text
//! while (!stop) {
//!     kr = mach_msg(&msg, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, size, port, 500, MACH_PORT_NULL);
//!     if (kr == MACH_RCV_TIMED_OUT) continue;      // an idle wake-up
//!     if (kr != MACH_MSG_SUCCESS) break;
//!     handle(&msg);
//! }
//! ```
//!
//! The stop flag is only looked at between receives, so a stop request waits for the current
//! receive to time out: up to 500 ms. Idle wake-ups are the iterations that return
//! `MACH_RCV_TIMED_OUT`.
//!
//! **Floor** — the cheapest delivery the kernel offers: a thread already blocked in `mach_msg`
//! without a timeout, receiving directly. Nothing can be faster on this backend; the stream is
//! judged against it.

use crate::raw::{MsgBuffer, Name, RawMach, WAKE_MSG_ID};
use mach_abi::{mach_msg_return_t, MACH_MSG_SUCCESS, MACH_RCV_INTERRUPTED, MACH_RCV_TIMED_OUT};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The old loops' receive timeout (the C code's constant).
pub const OLD_RECEIVE_TIMEOUT_MS: u32 = 500;

/// How a receiver thread waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveMode {
    /// The old design: `MACH_RCV_TIMEOUT` with this many milliseconds, stop flag between receives.
    Poll {
        /// Receive timeout.
        timeout_ms: u32,
    },
    /// The floor: blocked in `mach_msg` with no timeout; only a message wakes it.
    Block,
}

impl ReceiveMode {
    /// The old loop with the C code's 500 ms.
    pub const OLD: ReceiveMode = ReceiveMode::Poll {
        timeout_ms: OLD_RECEIVE_TIMEOUT_MS,
    };
}

/// Counters shared by a group of receiver threads.
#[derive(Debug, Default)]
pub struct LoopCounters {
    /// Receives that returned `MACH_RCV_TIMED_OUT` (idle wake-ups).
    pub timeouts: AtomicU64,
    /// Messages handed to the handler.
    pub messages: AtomicU64,
    /// Kernel calls the threads made in their loops, added by each thread as it leaves (only
    /// where the backend counts them: see [`crate::sysinfo::thread_kernel_calls`]).
    pub kernel_calls: AtomicU64,
    /// Threads that have entered their loop and not left it.
    pub running: AtomicUsize,
    /// When the last running thread left its loop.
    pub last_exit: std::sync::Mutex<Option<Instant>>,
}

/// Why a receiver thread left its loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopExit {
    /// It saw the stop flag between receives.
    Stopped,
    /// `mach_msg` failed with this code (e.g. the port was destroyed under it).
    Error(mach_msg_return_t),
}

/// Per-message callback of one receiver thread.
pub type Handler = Box<dyn FnMut(&MsgBuffer) + Send>;

/// Spawning the threads failed part-way (the ones that started were stopped and joined).
#[derive(Debug, thiserror::Error)]
#[error("could only start {started} of {wanted} receiver threads: {source}")]
pub struct SpawnError {
    /// Threads that had been started.
    pub started: usize,
    /// Threads asked for.
    pub wanted: usize,
    /// What `pthread_create` reported.
    #[source]
    pub source: std::io::Error,
}

/// One receiver thread per port.
pub struct ReceiverThreads {
    stop: Arc<AtomicBool>,
    counters: Arc<LoopCounters>,
    handles: Vec<JoinHandle<LoopExit>>,
    ports: Vec<Name>,
}

impl ReceiverThreads {
    /// Starts one thread per port, each with a `stack_size`-byte stack and the handler
    /// `handler_for(index)`.
    pub fn spawn(
        raw: &Arc<dyn RawMach>,
        ports: &[Name],
        mode: ReceiveMode,
        stack_size: usize,
        mut handler_for: impl FnMut(usize) -> Handler,
    ) -> Result<ReceiverThreads, SpawnError> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(LoopCounters::default());
        let mut handles = Vec::with_capacity(ports.len());
        for (i, &port) in ports.iter().enumerate() {
            let (t_raw, t_stop, t_counters) = (raw.clone(), stop.clone(), counters.clone());
            let handler = handler_for(i);
            let spawned = std::thread::Builder::new()
                .name(match mode {
                    ReceiveMode::Poll { .. } => "old-loop".into(),
                    ReceiveMode::Block => "floor".into(),
                })
                .stack_size(stack_size)
                .spawn(move || receive_loop(&*t_raw, port, mode, &t_stop, &t_counters, handler));
            match spawned {
                Ok(h) => handles.push(h),
                Err(source) => {
                    let started = handles.len();
                    let partial = ReceiverThreads {
                        stop,
                        counters,
                        handles,
                        ports: ports[..started].to_vec(),
                    };
                    partial.stop_with_wake(&**raw);
                    return Err(SpawnError {
                        started,
                        wanted: ports.len(),
                        source,
                    });
                }
            }
        }
        Ok(ReceiverThreads {
            stop,
            counters,
            handles,
            ports: ports.to_vec(),
        })
    }

    /// Number of threads.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether there are no threads.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// The shared counters (they outlive the threads: [`ReceiverThreads::stop_with_wake`]
    /// consumes the group).
    pub fn counters(&self) -> &Arc<LoopCounters> {
        &self.counters
    }

    /// Waits until every thread has entered its loop (or `limit` passes). Returns whether all
    /// did.
    pub fn wait_running(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.counters.running.load(Ordering::Acquire) < self.handles.len() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// The old design's shutdown: raise the stop flag and join. Each thread notices only when
    /// its current receive returns, so this takes up to the receive timeout. Returns the time
    /// from the stop request until the last thread had left its loop (reaping the threads
    /// afterwards is not counted), and how each thread ended.
    pub fn stop_and_join(self) -> (Duration, Vec<LoopExit>) {
        let counters = self.counters.clone();
        let start = Instant::now();
        self.stop.store(true, Ordering::Release);
        let exits = self.join_all();
        let joined = Instant::now();
        let last = counters
            .last_exit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(joined);
        (last.max(start) - start, exits)
    }

    /// Ends the group at once (between measurements, not as a measurement): raise the stop flag
    /// and send each port a wake-up message so that no thread waits out its timeout.
    pub fn stop_with_wake(self, raw: &dyn RawMach) -> Vec<LoopExit> {
        self.stop.store(true, Ordering::Release);
        for &port in &self.ports {
            let mut wake =
                MsgBuffer::message(port, WAKE_MSG_ID, crate::raw::Stamp { seq: 0, sent_ns: 0 });
            // A full queue (limit 5) cannot hold the wake-up: the thread is draining it and will
            // see the flag after the next message; a timeout of 0 keeps this call from blocking.
            let _ = raw.send(&mut wake, Some(0));
        }
        self.join_all()
    }

    fn join_all(self) -> Vec<LoopExit> {
        self.handles
            .into_iter()
            .map(|h| h.join().unwrap_or(LoopExit::Error(mach_abi::KERN_FAILURE)))
            .collect()
    }
}

fn receive_loop(
    raw: &dyn RawMach,
    port: Name,
    mode: ReceiveMode,
    stop: &AtomicBool,
    counters: &LoopCounters,
    mut handler: Handler,
) -> LoopExit {
    counters.running.fetch_add(1, Ordering::AcqRel);
    let calls_start = crate::sysinfo::thread_kernel_calls();
    let mut buf = MsgBuffer::for_receive();
    let timeout = match mode {
        ReceiveMode::Poll { timeout_ms } => Some(timeout_ms),
        ReceiveMode::Block => None,
    };
    let exit = loop {
        if stop.load(Ordering::Acquire) {
            break LoopExit::Stopped;
        }
        match raw.receive(port, &mut buf, timeout) {
            MACH_MSG_SUCCESS => {
                if buf.id() == WAKE_MSG_ID {
                    continue; // the flag is checked at the top of the loop
                }
                counters.messages.fetch_add(1, Ordering::Relaxed);
                handler(&buf);
            }
            MACH_RCV_TIMED_OUT => {
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            MACH_RCV_INTERRUPTED => {}
            other => break LoopExit::Error(other),
        }
    };
    drop(buf);
    drop(handler);
    crate::measure::add_kernel_calls_since(&counters.kernel_calls, calls_start);
    if counters.running.fetch_sub(1, Ordering::AcqRel) == 1 {
        *counters.last_exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    exit
}
