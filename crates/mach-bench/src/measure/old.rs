//! The old design and the floor, measured through raw `mach_msg`.

use super::{
    burst, count_sink, group_kernel_calls, latency_sink, paced_latency, send_stamped, BurstSender,
    IdleFigures, Throughput, HANG_LIMIT,
};
use crate::env::Env;
use crate::error::BenchError;
use crate::old_loop::{Handler, LoopExit, ReceiveMode, ReceiverThreads, OLD_RECEIVE_TIMEOUT_MS};
use crate::plan::Plan;
use crate::raw::{MsgBuffer, Name, RawMach, Stamp, BENCH_MSG_ID};
use crate::stats::Samples;
use crate::sysinfo;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Send → handler latency of the old loop (one thread in `mach_msg` with a 500 ms timeout).
pub fn old_latency(env: &Env, plan: &Plan) -> Result<Samples, BenchError> {
    receiver_latency(env, plan, ReceiveMode::OLD)
}

/// Send → receive latency of a thread already blocked in `mach_msg` (the floor).
pub fn floor_latency(env: &Env, plan: &Plan) -> Result<Samples, BenchError> {
    receiver_latency(env, plan, ReceiveMode::Block)
}

fn receiver_latency(env: &Env, plan: &Plan, mode: ReceiveMode) -> Result<Samples, BenchError> {
    let raw = env.raw();
    let port = PortGuard::new(raw)?;
    let (tx, rx) = mpsc::channel();
    let mut sink = latency_sink(tx);
    let handler: Handler = Box::new(move |buf: &MsgBuffer| {
        if let Some(stamp) = buf.stamp() {
            sink(stamp);
        }
    });
    let mut handler = Some(handler);
    let threads = ReceiverThreads::spawn(raw, &[port.name], mode, plan.old_stack_bytes, |_| {
        handler.take().expect("one port, one handler")
    })?;
    let result = if threads.wait_running(HANG_LIMIT) {
        let mut msg = MsgBuffer::message(port.name, BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
        paced_latency(plan, |stamp| send_stamped(&**raw, &mut msg, stamp), &rx)
    } else {
        Err(BenchError::Timeout("the receiver thread to start"))
    };
    check_exits(threads.stop_with_wake(&**raw))?;
    port.close()?;
    result
}

/// Messages per second the old loop drains from one port under a back-to-back burst sent as
/// `sender` says.
pub fn old_throughput(
    env: &Env,
    plan: &Plan,
    sender: BurstSender,
) -> Result<Throughput, BenchError> {
    receiver_throughput(env, plan, sender, ReceiveMode::OLD)
}

/// Messages per second a thread already blocked in `mach_msg` (the floor) drains from one port
/// under a back-to-back burst sent as `sender` says.
pub fn floor_throughput(
    env: &Env,
    plan: &Plan,
    sender: BurstSender,
) -> Result<Throughput, BenchError> {
    receiver_throughput(env, plan, sender, ReceiveMode::Block)
}

fn receiver_throughput(
    env: &Env,
    plan: &Plan,
    sender: BurstSender,
    mode: ReceiveMode,
) -> Result<Throughput, BenchError> {
    let raw = env.raw();
    let port = PortGuard::new(raw)?;
    let (tx, rx) = mpsc::channel();
    let mut sink = count_sink(plan.burst_messages, tx);
    let mut handler = Some(Box::new(move |_: &MsgBuffer| sink()) as Handler);
    let threads = ReceiverThreads::spawn(raw, &[port.name], mode, plan.old_stack_bytes, |_| {
        handler.take().expect("one port, one handler")
    })?;
    let result = if threads.wait_running(HANG_LIMIT) {
        let mut msg = MsgBuffer::message(port.name, BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
        sender.prepare(&mut msg, port.name);
        burst(
            plan.burst_messages,
            |seq| send_stamped(&**raw, &mut msg, Stamp { seq, sent_ns: 0 }),
            &rx,
        )
    } else {
        Err(BenchError::Timeout("the receiver thread to start"))
    };
    let counters = threads.counters().clone();
    check_exits(threads.stop_with_wake(&**raw))?;
    port.close()?;
    // The thread has exited, having added its kernel calls.
    let calls = group_kernel_calls(&counters.kernel_calls);
    Ok(Throughput::new(result?, calls, plan.burst_messages))
}

/// Idle cost of the old design with `n` ports: threads and memory it adds, wake-ups while
/// nothing is sent, and shutdown by stop flag (each thread notices only when its receive times
/// out).
pub fn old_idle(env: &Env, plan: &Plan, n: usize) -> Result<IdleFigures, BenchError> {
    let raw = env.raw();
    sysinfo::release_free_memory();
    let threads_before = sysinfo::thread_count();
    let rss_before = sysinfo::rss_bytes();

    let ports = PortsGuard::new(raw, n)?;
    let group = ReceiverThreads::spawn(
        raw,
        &ports.names,
        ReceiveMode::OLD,
        plan.old_stack_bytes,
        |_| Box::new(|_: &MsgBuffer| {}),
    )?;
    if !group.wait_running(HANG_LIMIT) {
        check_exits(group.stop_with_wake(&**raw))?;
        ports.close()?;
        return Err(BenchError::Timeout("the old-loop threads to start"));
    }
    let threads_added = delta(threads_before, sysinfo::thread_count());
    let rss_added_bytes = delta(rss_before, sysinfo::rss_bytes());

    // The threads have just started their first 500 ms receives, all in phase. Counting from
    // now would always catch the same part of the period; a random start phase makes the count
    // over a window of whole periods an unbiased estimate, and puts the stop request (right
    // after the window) at a random phase of the receives too — the old design's shutdown is
    // anywhere from 0 to 500 ms depending on it.
    std::thread::sleep(random_fraction_of(Duration::from_millis(u64::from(
        OLD_RECEIVE_TIMEOUT_MS,
    ))));
    let before = group.counters().timeouts.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(plan.idle_window_old);
    let wakeups = group.counters().timeouts.load(Ordering::Relaxed) - before;
    let window = start.elapsed();

    let (shutdown, exits) = group.stop_and_join();
    check_exits(exits)?;
    ports.close()?;
    Ok(IdleFigures {
        ports: n,
        wakeups,
        window,
        threads_added,
        rss_added_bytes,
        shutdown,
    })
}

/// A duration uniformly spread over `[0, d)` (seeded from the clock and the process: only the
/// phase matters, not its quality).
fn random_fraction_of(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let nanos = d.as_nanos().max(1) as u64;
    Duration::from_nanos(h.finish() % nanos)
}

/// `after - before` when both are known.
pub fn delta(before: Option<u64>, after: Option<u64>) -> Option<i64> {
    Some(after? as i64 - before? as i64)
}

fn check_exits(exits: Vec<LoopExit>) -> Result<(), BenchError> {
    match exits.into_iter().find(|e| *e != LoopExit::Stopped) {
        Some(LoopExit::Error(kr)) => Err(BenchError::kern("mach_msg (receive loop)", kr)),
        _ => Ok(()),
    }
}

/// A port closed on every path.
struct PortGuard {
    raw: Arc<dyn RawMach>,
    name: Name,
    closed: bool,
}

impl PortGuard {
    fn new(raw: &Arc<dyn RawMach>) -> Result<PortGuard, BenchError> {
        let name = raw
            .new_port()
            .map_err(|kr| BenchError::kern("mach_port_allocate", kr))?;
        Ok(PortGuard {
            raw: raw.clone(),
            name,
            closed: false,
        })
    }

    fn close(mut self) -> Result<(), BenchError> {
        self.closed = true;
        self.raw
            .close_port(self.name)
            .map_err(|kr| BenchError::kern("close (port)", kr))
    }
}

impl Drop for PortGuard {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.raw.close_port(self.name);
        }
    }
}

/// Many ports, closed on every path.
struct PortsGuard {
    raw: Arc<dyn RawMach>,
    names: Vec<Name>,
}

impl PortsGuard {
    fn new(raw: &Arc<dyn RawMach>, n: usize) -> Result<PortsGuard, BenchError> {
        let mut guard = PortsGuard {
            raw: raw.clone(),
            names: Vec::with_capacity(n),
        };
        for _ in 0..n {
            guard.names.push(
                raw.new_port()
                    .map_err(|kr| BenchError::kern("mach_port_allocate", kr))?,
            );
        }
        Ok(guard)
    }

    fn close(mut self) -> Result<(), BenchError> {
        let names = std::mem::take(&mut self.names);
        let mut first_err = Ok(());
        for name in names {
            if let Err(kr) = self.raw.close_port(name) {
                first_err = first_err.and(Err(BenchError::kern("close (port)", kr)));
            }
        }
        first_err
    }
}

impl Drop for PortsGuard {
    fn drop(&mut self) {
        for &name in &self.names {
            let _ = self.raw.close_port(name);
        }
    }
}
