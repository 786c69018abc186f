//! The third baseline, "dispatch (HEAD)": NextBSD userland HEAD's libdispatch `MACH_RECV`
//! sources on libmach's `kevent_qos` wrapper ([`crate::dispatch`]), driven by the same sender,
//! pacing and clock as the other designs.
//!
//! The model needs the simulated kernel's kqueue and port sets through its task, so it runs on
//! the sim backend only; on the native backend every figure is reported as unavailable.

use super::IdleFigures;
use crate::env::Env;
use crate::error::BenchError;
use crate::plan::Plan;
use crate::stats::Samples;

/// Which port of `n` receives the `seq`-th latency message: a fixed stride through all of
/// them, so that with many ports the samples land at every position of a list (the same
/// pattern for the stream and the model).
pub fn target_index(seq: u64, n: usize) -> usize {
    (seq.wrapping_mul(7_919) % n.max(1) as u64) as usize
}

#[cfg(not(mach_backend = "sim"))]
fn unavailable<T>() -> Result<T, BenchError> {
    Err(BenchError::Unavailable(
        "the dispatch (HEAD) model runs on the simulated kernel only".into(),
    ))
}

/// Send → handler latency through a dispatch source, with `sources` sources registered (the
/// messages go to them in turn, see [`target_index`]).
#[cfg(not(mach_backend = "sim"))]
pub fn dispatch_latency(env: &Env, plan: &Plan, sources: usize) -> Result<Samples, BenchError> {
    let _ = (env, plan, sources);
    unavailable()
}

/// Messages per second one dispatch source drains under a burst sent as `sender` says.
#[cfg(not(mach_backend = "sim"))]
pub fn dispatch_throughput(
    env: &Env,
    plan: &Plan,
    sender: super::BurstSender,
) -> Result<super::Throughput, BenchError> {
    let _ = (env, plan, sender);
    unavailable()
}

/// Idle cost of `n` dispatch sources, and their shutdown (cancel every source until the last
/// cancel handler has run).
#[cfg(not(mach_backend = "sim"))]
pub fn dispatch_idle(env: &Env, plan: &Plan, n: usize) -> Result<IdleFigures, BenchError> {
    let _ = (env, plan, n);
    unavailable()
}

#[cfg(mach_backend = "sim")]
pub use sim::*;

#[cfg(mach_backend = "sim")]
mod sim {
    use super::*;
    use crate::dispatch::{DispatchRuntime, EventHandler};
    use crate::measure::old::delta;
    use crate::measure::{
        burst, count_sink, group_kernel_calls, latency_sink, paced_latency, send_stamped,
        BurstSender, Throughput, HANG_LIMIT,
    };
    use crate::raw::{MsgBuffer, Name, Stamp, BENCH_MSG_ID};
    use crate::sysinfo;
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn runtime(env: &Env) -> Result<DispatchRuntime, BenchError> {
        let task = env
            .sim_task()
            .ok_or_else(|| BenchError::Unavailable("no simulated task".into()))?;
        DispatchRuntime::start(task.clone(), env.raw().clone())
    }

    /// Adds `n` sources, each on a fresh port, with the handler `make(i)`; returns the ports.
    fn add_sources(
        env: &Env,
        rt: &mut DispatchRuntime,
        n: usize,
        mut make: impl FnMut(usize) -> EventHandler,
    ) -> Result<Vec<Name>, BenchError> {
        let mut ports = Vec::with_capacity(n);
        for i in 0..n {
            let port = env
                .raw()
                .new_port()
                .map_err(|kr| BenchError::kern("mach_port_allocate", kr))?;
            // The source owns the port from here on (its cancel handler closes it).
            rt.add_source(port, make(i))?;
            ports.push(port);
        }
        Ok(ports)
    }

    /// See the non-sim declaration: send → handler latency with `sources` sources.
    pub fn dispatch_latency(env: &Env, plan: &Plan, sources: usize) -> Result<Samples, BenchError> {
        let mut rt = runtime(env)?;
        let (tx, rx) = mpsc::channel();
        let result = add_sources(env, &mut rt, sources.max(1), |_| {
            let mut sink = latency_sink(tx.clone());
            Box::new(move |buf: &MsgBuffer| {
                if let Some(stamp) = buf.stamp() {
                    sink(stamp);
                }
            })
        })
        .and_then(|ports| {
            let mut msg = MsgBuffer::message(ports[0], BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
            paced_latency(
                plan,
                |stamp| {
                    let port = ports[target_index(stamp.seq, ports.len())];
                    msg.set_ports(
                        mach_abi::MACH_MSGH_BITS(mach_abi::MACH_MSG_TYPE_COPY_SEND, 0),
                        port,
                        mach_abi::MACH_PORT_NULL,
                    );
                    send_stamped(&**env.raw(), &mut msg, stamp)
                },
                &rx,
            )
        });
        rt.shutdown()?;
        result
    }

    /// See the non-sim declaration: burst throughput of one source.
    pub fn dispatch_throughput(
        env: &Env,
        plan: &Plan,
        sender: BurstSender,
    ) -> Result<Throughput, BenchError> {
        let mut rt = runtime(env)?;
        let counters = rt.counters().clone();
        let (tx, rx) = mpsc::channel();
        let mut sink = Some(count_sink(plan.burst_messages, tx));
        let result = add_sources(env, &mut rt, 1, |_| {
            let mut sink = sink.take().expect("one source");
            Box::new(move |_: &MsgBuffer| sink())
        })
        .and_then(|ports| {
            let mut msg = MsgBuffer::message(ports[0], BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
            sender.prepare(&mut msg, ports[0]);
            burst(
                plan.burst_messages,
                |seq| send_stamped(&**env.raw(), &mut msg, Stamp { seq, sent_ns: 0 }),
                &rx,
            )
        });
        rt.shutdown()?;
        // The manager and the workers have exited, each having added its kernel calls.
        let calls = group_kernel_calls(&counters.kernel_calls);
        Ok(Throughput::new(result?, calls, plan.burst_messages))
    }

    /// See the non-sim declaration: idle cost and shutdown of `n` sources.
    pub fn dispatch_idle(env: &Env, plan: &Plan, n: usize) -> Result<IdleFigures, BenchError> {
        // The manager and the workers exist before the baseline: a fixed pool every source
        // shares (as the stream's one event thread is), not a per-source cost.
        let mut rt = runtime(env)?;
        sysinfo::release_free_memory();
        let threads_before = sysinfo::thread_count();
        let rss_before = sysinfo::rss_bytes();
        if let Err(e) = add_sources(env, &mut rt, n, |_| Box::new(|_: &MsgBuffer| {})) {
            let _ = rt.shutdown();
            return Err(e);
        }
        let threads_added = delta(threads_before, sysinfo::thread_count());
        let rss_added_bytes = delta(rss_before, sysinfo::rss_bytes());

        let wakeups_now = |rt: &DispatchRuntime| {
            rt.native_events() + rt.counters().handler_runs.load(Ordering::Relaxed)
        };
        let before = wakeups_now(&rt);
        let start = Instant::now();
        std::thread::sleep(plan.idle_window_stream);
        let wakeups = wakeups_now(&rt) - before;
        let window = start.elapsed();

        // Shutdown: dispatch_source_cancel on every source, until the last cancel handler ran.
        let stop_at = Instant::now();
        rt.cancel_all();
        let deadline = stop_at + HANG_LIMIT;
        let mut outcome = Ok(());
        while rt.counters().cancelled.load(Ordering::Acquire) < n as u64 {
            if Instant::now() >= deadline {
                outcome = Err(BenchError::Timeout(
                    "every dispatch source's cancel handler",
                ));
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let last = *rt
            .counters()
            .last_cancel
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let shutdown = last.unwrap_or_else(Instant::now).max(stop_at) - stop_at;
        let left = rt.registrations();
        rt.shutdown()?;
        outcome?;
        if left != 0 {
            return Err(BenchError::Stream(format!(
                "{left} registrations left in libmach's list after every cancel"
            )));
        }
        Ok(IdleFigures {
            ports: n,
            wakeups,
            window,
            threads_added,
            rss_added_bytes,
            shutdown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_cover_every_port() {
        let n = 100;
        let mut seen = vec![false; n];
        for seq in 0..n as u64 {
            seen[target_index(seq, n)] = true;
        }
        assert!(
            seen.iter().all(|&s| s),
            "a stride coprime with n visits all"
        );
        assert_eq!(target_index(12345, 1), 0);
        assert_eq!(target_index(5, 0), 0);
    }
}
