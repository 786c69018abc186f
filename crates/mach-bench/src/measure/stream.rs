//! The stream side: the same sender, the same messages, received by `MachRecvStream` tasks on
//! one event thread.

use super::{
    burst, count_sink, kernel_calls_since, latency_sink, paced_latency, send_stamped, BurstSender,
    IdleFigures, Throughput, HANG_LIMIT,
};
use crate::env::Env;
use crate::error::BenchError;
use crate::measure::old::delta;
use crate::plan::Plan;
use crate::raw::{MsgBuffer, Stamp, BENCH_MSG_ID, WAKE_MSG_ID};
use crate::runtime::EventThread;
use crate::stats::Samples;
use crate::sysinfo;
use futures::StreamExt;
use mach_async::{MachRecvStream, Message, ReceiveRight, SendRight, StatsHandle, TrailerRequest};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

fn stream_err(what: &str) -> impl Fn(mach_async::Error) -> BenchError + '_ {
    move |e| BenchError::Stream(format!("{what}: {e}"))
}

/// One port received by a stream task; the raw sender sends to `name` through `send_right`.
struct Consumer {
    name: u32,
    send_right: SendRight,
    task: JoinHandle<Result<(), mach_async::Error>>,
}

impl Consumer {
    /// A port, a send right for the sender, and a task on `ev` that hands every message to
    /// `on_message` until a wake-up message ends it.
    fn spawn(
        ev: &EventThread,
        env: &Env,
        mut on_message: impl FnMut(&Message) + Send + 'static,
    ) -> Result<Consumer, BenchError> {
        let port = ReceiveRight::new_in(env.space()).map_err(stream_err("mach_port_allocate"))?;
        let send_right = port.make_send().map_err(stream_err("make_send"))?;
        let name = port.name();
        let stream = {
            let _rt = ev.handle().enter();
            new_stream(port)?
        };
        let task = ev.handle().spawn(async move {
            let mut stream = stream;
            while let Some(msg) = stream.next().await {
                let msg = msg?;
                if msg.id() == WAKE_MSG_ID {
                    break;
                }
                on_message(&msg);
            }
            Ok(())
        });
        Ok(Consumer {
            name,
            send_right,
            task,
        })
    }

    /// Sends the wake-up message and waits for the task (and its stream) to end.
    fn stop(self, env: &Env) -> Result<(), BenchError> {
        let mut wake = MsgBuffer::message(self.name, WAKE_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
        let kr = env
            .raw()
            .send(&mut wake, Some(HANG_LIMIT.as_millis() as u32));
        let joined = futures::executor::block_on(self.task);
        drop(self.send_right);
        if kr != mach_abi::MACH_MSG_SUCCESS {
            return Err(BenchError::kern("mach_msg (wake-up send)", kr));
        }
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BenchError::Stream(format!("stream: {e}"))),
            Err(e) => Err(BenchError::Stream(format!("stream task: {e}"))),
        }
    }
}

/// A stream over `port` receiving as the old loop does: the same initial buffer
/// ([`MsgBuffer::DEFAULT_CAPACITY`]; the stream grows it on demand, and `mach-async`'s 8 KiB
/// default would cost 8 KiB per idle port here) and the same trailer (none requested: the C
/// loops pass no trailer bits).
fn new_stream(port: ReceiveRight) -> Result<MachRecvStream, BenchError> {
    MachRecvStream::builder()
        .port(port)
        .buffer_size(MsgBuffer::DEFAULT_CAPACITY as usize)
        .trailer(TrailerRequest::Minimal)
        .build()
        .map_err(stream_err("MachRecvStream::build"))
}

fn stamp_of(msg: &Message) -> Option<Stamp> {
    (msg.id() == BENCH_MSG_ID)
        .then(|| Stamp::from_body(msg.body()))
        .flatten()
}

/// Send → consumer latency of a `MachRecvStream` task.
pub fn stream_latency(env: &Env, plan: &Plan) -> Result<Samples, BenchError> {
    let ev = EventThread::start("stream-events")?;
    let (tx, rx) = mpsc::channel();
    let mut sink = latency_sink(tx);
    let consumer = Consumer::spawn(&ev, env, move |msg| {
        if let Some(stamp) = stamp_of(msg) {
            sink(stamp);
        }
    })?;
    let mut msg = MsgBuffer::message(consumer.name, BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
    let result = paced_latency(
        plan,
        |stamp| send_stamped(&**env.raw(), &mut msg, stamp),
        &rx,
    );
    consumer.stop(env)?;
    result
}

/// Which of the registered ports the latency messages go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// Each message to the next port in turn (the same pattern as the dispatch model's, see
    /// [`crate::measure::dispatch::target_index`]): every delivery touches a port, a stream and
    /// a task that have been idle since the previous round, so their memory is cold.
    InTurn,
    /// Every message to the same port while the others stay registered and idle: what the
    /// other streams cost a delivery without the cold-memory effect of [`Traffic::InTurn`]
    /// (a design that searched its registrations per event would pay for them here too).
    OnePort,
}

/// Send → consumer latency with `n` ports, each received by its own `MachRecvStream` task on
/// one event thread; the messages go to the ports as `traffic` says.
pub fn stream_latency_at(
    env: &Env,
    plan: &Plan,
    n: usize,
    traffic: Traffic,
) -> Result<Samples, BenchError> {
    let ev = EventThread::start("stream-events")?;
    let (tx, rx) = mpsc::channel();
    let mut consumers = Vec::with_capacity(n.max(1));
    let mut spawned = Ok(());
    for _ in 0..n.max(1) {
        let mut sink = latency_sink(tx.clone());
        match Consumer::spawn(&ev, env, move |msg| {
            if let Some(stamp) = stamp_of(msg) {
                sink(stamp);
            }
        }) {
            Ok(c) => consumers.push(c),
            Err(e) => {
                spawned = Err(e);
                break;
            }
        }
    }
    let names: Vec<u32> = consumers.iter().map(|c| c.name).collect();
    let result = spawned.and_then(|()| {
        let mut msg = MsgBuffer::message(names[0], BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
        paced_latency(
            plan,
            |stamp| {
                let port = match traffic {
                    Traffic::InTurn => {
                        names[crate::measure::dispatch::target_index(stamp.seq, names.len())]
                    }
                    Traffic::OnePort => names[0],
                };
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
    let mut stopped = Ok(());
    for c in consumers {
        stopped = stopped.and(c.stop(env));
    }
    stopped?;
    result
}

/// Messages per second a `MachRecvStream` task drains from one port under a back-to-back
/// burst sent as `sender` says.
pub fn stream_throughput(
    env: &Env,
    plan: &Plan,
    sender: BurstSender,
) -> Result<Throughput, BenchError> {
    let ev = EventThread::start("stream-events")?;
    // The event thread runs nothing but this consumer: its kernel calls are the stream's.
    let calls_start = ev
        .run(async { crate::sysinfo::thread_kernel_calls() })
        .ok()
        .flatten();
    let (tx, rx) = mpsc::channel();
    let mut sink = count_sink(plan.burst_messages, tx);
    let consumer = Consumer::spawn(&ev, env, move |_| sink())?;
    let mut msg = MsgBuffer::message(consumer.name, BENCH_MSG_ID, Stamp { seq: 0, sent_ns: 0 });
    sender.prepare(&mut msg, consumer.name);
    let result = burst(
        plan.burst_messages,
        |seq| send_stamped(&**env.raw(), &mut msg, Stamp { seq, sent_ns: 0 }),
        &rx,
    );
    consumer.stop(env)?;
    let calls = ev
        .run(async move { kernel_calls_since(calls_start) })
        .ok()
        .flatten();
    Ok(Throughput::new(result?, calls, plan.burst_messages))
}

/// Records when the last of a group of tasks ended (its guard dropped, after its stream).
#[derive(Default)]
struct LastOut {
    live: AtomicUsize,
    last: std::sync::Mutex<Option<Instant>>,
    gone: std::sync::Condvar,
}

struct ExitGuard(Arc<LastOut>);

impl LastOut {
    fn enter(self: Arc<Self>) -> ExitGuard {
        self.live.fetch_add(1, Ordering::AcqRel);
        ExitGuard(self)
    }

    fn last(&self) -> Option<Instant> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits (up to `limit`) until the last task is gone; true if it is.
    fn wait_all_gone(&self, limit: Duration) -> bool {
        let guard = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .gone
            .wait_timeout_while(guard, limit, |last| last.is_none())
            .unwrap_or_else(|e| e.into_inner());
        guard.is_some()
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            self.0.gone.notify_all();
        }
    }
}

/// Idle cost of `n` ports, each received by its own `MachRecvStream` task on one event thread:
/// threads and memory added, wake-ups while nothing is sent (from the streams' own counters),
/// and shutdown from the stop request until the last task (and its stream) is gone.
pub fn stream_idle(env: &Env, plan: &Plan, n: usize) -> Result<IdleFigures, BenchError> {
    let ev = EventThread::start("stream-events")?;
    // The runtime's own thread exists before the baseline: it is the one thread every stream
    // shares, not a per-port cost.
    ev.run(async {})
        .map_err(|e| BenchError::Stream(e.to_string()))?;
    sysinfo::release_free_memory();
    let threads_before = sysinfo::thread_count();
    let rss_before = sysinfo::rss_bytes();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Arc::new(AtomicUsize::new(0));
    let exits = Arc::new(LastOut::default());
    let mut stats: Vec<StatsHandle> = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    let setup = (|| -> Result<(), BenchError> {
        let _rt = ev.handle().enter();
        for _ in 0..n {
            let port =
                ReceiveRight::new_in(env.space()).map_err(stream_err("mach_port_allocate"))?;
            let stream = new_stream(port)?;
            stats.push(stream.stats_handle());
            let mut stop = stop_rx.clone();
            let started = started.clone();
            let exit = exits.clone().enter();
            tasks.push(ev.handle().spawn(async move {
                // Declared first, dropped last: the task counts as gone after its stream.
                let _exit = exit;
                let mut stream = stream;
                // The first poll drains at once (rule 6) and counts as a wake-up: let it run
                // before the task counts as started, so that the idle window, which opens once
                // every task has started, sees only the wake-ups that come later.
                match futures::poll!(stream.next()) {
                    std::task::Poll::Ready(Some(Err(e))) => return Err(e),
                    std::task::Poll::Ready(None) => return Ok(()),
                    std::task::Poll::Ready(Some(Ok(_))) | std::task::Poll::Pending => {}
                }
                started.fetch_add(1, Ordering::Release);
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        msg = stream.next() => match msg {
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Err(e),
                            None => break,
                        },
                    }
                }
                drop(stream);
                Ok(())
            }));
        }
        Ok(())
    })();
    let outcome = setup.and_then(|()| {
        let deadline = Instant::now() + HANG_LIMIT;
        while started.load(Ordering::Acquire) < n {
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout("the stream tasks to start"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    });

    let threads_added = delta(threads_before, sysinfo::thread_count());
    let rss_added_bytes = delta(rss_before, sysinfo::rss_bytes());
    let total_wakeups = |stats: &[StatsHandle]| stats.iter().map(|s| s.get().wakeups).sum::<u64>();
    let before = total_wakeups(&stats);
    let start = Instant::now();
    if outcome.is_ok() {
        std::thread::sleep(plan.idle_window_stream);
    }
    let wakeups = total_wakeups(&stats) - before;
    let window = start.elapsed();

    // Shutdown: from the stop request until the last task has dropped its stream and ended.
    // The tasks are joined only after that: joining them one by one meanwhile would wake this
    // thread once per task and take CPU from the event thread being measured. (The old loop's
    // figure is likewise its last thread's exit time; its joins wake nothing that is busy.)
    let stop_at = Instant::now();
    let _ = stop_tx.send(true);
    if outcome.is_ok() && !exits.wait_all_gone(HANG_LIMIT) {
        return Err(BenchError::Timeout("the stream tasks to end"));
    }
    let mut first_err = None;
    for t in tasks {
        match futures::executor::block_on(t) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_err = first_err.or(Some(BenchError::Stream(format!("stream: {e}"))))
            }
            Err(e) => {
                first_err = first_err.or(Some(BenchError::Stream(format!("stream task: {e}"))))
            }
        }
    }
    let shutdown = exits.last().unwrap_or_else(Instant::now).max(stop_at) - stop_at;
    outcome?;
    if let Some(e) = first_err {
        return Err(e);
    }
    drop(ev);
    Ok(IdleFigures {
        ports: n,
        wakeups,
        window,
        threads_added,
        rss_added_bytes,
        shutdown,
    })
}

/// The streams' own share of a shutdown: `n` idle streams (each registered, its port in its
/// set) dropped one after another in a single loop on the event thread, with no task to wake
/// and no stop signal to deliver. This is the cost of the per-stream kernel objects that
/// native-filter.md §5 rules 1 and 20–23 require (a private kqueue, its registration with the
/// runtime, a port set, the port); no shutdown of `n` streams can take less.
pub fn stream_teardown(env: &Env, n: usize) -> Result<Duration, BenchError> {
    let ev = EventThread::start("stream-events")?;
    let space = env.space().clone();
    ev.run(async move {
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            let port = ReceiveRight::new_in(&space).map_err(stream_err("mach_port_allocate"))?;
            let mut stream = new_stream(port)?;
            // As in the idle measurement, each stream has had its first poll (its first drain
            // found nothing) and waits for readiness.
            if let std::task::Poll::Ready(item) = futures::poll!(stream.next()) {
                return Err(BenchError::Stream(format!(
                    "an idle stream yielded {:?}",
                    item.map(|m| m.map(|m| m.id()))
                )));
            }
            streams.push(stream);
        }
        let start = Instant::now();
        for stream in streams.drain(..) {
            drop(stream);
        }
        Ok(start.elapsed())
    })
    .map_err(|e| BenchError::Stream(format!("teardown task: {e}")))?
}
