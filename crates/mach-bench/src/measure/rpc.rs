//! ipconfig RPC rates: the old single-thread server loop of `mach_service.c` against
//! `ipconfig-rpc`'s async server on the MIG runtime, driven by the same clients.
//!
//! **Clients**, the same for both servers, of two kinds ([`ClientKind`]): `ipconfig-rpc`'s
//! async `IpconfigClient` (tasks on one event thread), and what ipconfigd's C clients are —
//! MIG stubs, one thread each, each call one `mach_msg(MACH_SEND_MSG | MACH_RCV_MSG)` that
//! sends `ipconfig_if_count` with a send-once reply right and waits for the reply on the
//! thread's own reply port. Every reply is checked as the generated stub checks it (id, size,
//! `RetCode`, the count).
//!
//! **Old server** (`ipconfig-rpc.md` §1): one thread; receive into a 4 KiB buffer with
//! `MACH_RCV_MSG | MACH_RCV_TIMEOUT` 500 ms; run the MIG demux; call the handler on that thread;
//! send the reply with `MACH_SEND_TIMEOUT` 200 ms. A slow handler blocks the only thread.
//!
//! **Async server**: `IpconfigServer` on one event thread; every request runs in its own task,
//! so a handler that awaits does not hold up the others.

use super::service_timer::{precise_sleeps, ServiceTimer};
use super::HANG_LIMIT;
use crate::env::Env;
use crate::error::BenchError;
use crate::raw::{MsgBuffer, Name, RawMach, WAKE_MSG_ID};
use crate::runtime::EventThread;
use async_trait::async_trait;
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ipconfig_messages::{
    InterfaceName, IpAddress, IpconfigStatus, IPCONFIG_IF_COUNT_ID,
};
use ipconfig_rpc::mig::codec::{error_reply, read_header};
use ipconfig_rpc::protocol::{
    decode_if_count_reply, decode_request, encode_if_addr_reply, encode_if_count_reply,
    encode_if_count_request, Call, IfAddr, Numbering,
};
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer};
use mach_abi::{
    kern_return_t, MACH_MSGH_BITS, MACH_MSG_SUCCESS, MACH_MSG_TYPE_COPY_SEND,
    MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_RCV_INTERRUPTED, MACH_RCV_TIMED_OUT, MACH_SEND_TIMED_OUT,
};
use mach_async::{ReceiveRight, SendRight};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The interface count every handler answers (checked by the clients on every reply).
pub const BENCH_IF_COUNT: i32 = 3;

/// Who calls the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// `ipconfig-rpc`'s async [`IpconfigClient`], one task per client on one client event
    /// thread (replies awaited through `MachRecvStream` reply ports).
    Async,
    /// C MIG stubs: one thread per client, each call one `mach_msg(SEND|RCV)` that parks the
    /// thread in the kernel until the reply.
    Threads,
}

/// One RPC configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcConfig {
    /// The clients' kind.
    pub client: ClientKind,
    /// Concurrent client threads.
    pub clients: usize,
    /// How long the handler waits before answering (`None`: at once).
    pub handler_delay: Option<Duration>,
}

/// What the handlers of one configuration actually took (summed over every call).
#[derive(Debug, Default)]
pub struct HandlerTimes {
    total_ns: AtomicU64,
    calls: AtomicU64,
}

impl HandlerTimes {
    fn record(&self, since: Instant) {
        self.total_ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Mean time per call, in microseconds (`None` before any call).
    pub fn mean_us(&self) -> Option<f64> {
        let calls = self.calls.load(Ordering::Relaxed);
        (calls > 0).then(|| self.total_ns.load(Ordering::Relaxed) as f64 / calls as f64 / 1e3)
    }
}

/// The handler the async server runs: answers `if_count` after the service time `delay`.
#[derive(Clone)]
pub struct BenchHandler {
    /// The service time before each answer.
    pub delay: Option<Duration>,
    /// What completes the service time (required with `delay`).
    pub timer: Option<Arc<ServiceTimer>>,
    /// What the handler took.
    pub times: Arc<HandlerTimes>,
}

#[async_trait]
impl IpconfigHandler for BenchHandler {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        if let (Some(d), Some(timer)) = (self.delay, &self.timer) {
            let start = Instant::now();
            timer.wait(d).await;
            self.times.record(start);
        }
        Ok(BENCH_IF_COUNT)
    }

    async fn if_addr(
        &self,
        _name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(IfAddr {
            addr: Ipv4Addr::UNSPECIFIED,
            status: IpconfigStatus::NO_SERVER,
        })
    }
}

/// The service port of one configuration: the receive right, and a send right under the
/// same name that the clients use (C-stub threads by name, async clients by cloning it).
fn service_port(env: &Env) -> Result<(ReceiveRight, SendRight), BenchError> {
    let port = ReceiveRight::new_in(env.space())
        .map_err(|e| BenchError::Stream(format!("mach_port_allocate: {e}")))?;
    let send = port
        .make_send()
        .map_err(|e| BenchError::Stream(format!("make_send: {e}")))?;
    Ok((port, send))
}

/// Requests per second of the old single-thread server loop.
pub fn old_rpc(env: &Env, window: Duration, cfg: RpcConfig) -> Result<RpcOutcome, BenchError> {
    let raw = env.raw().clone();
    let (port, send) = service_port(env)?;
    let service = port.name();
    let stop = Arc::new(AtomicBool::new(false));
    let times = Arc::new(HandlerTimes::default());
    let server = {
        let (raw, stop, times) = (raw.clone(), stop.clone(), times.clone());
        std::thread::Builder::new()
            .name("old-ipconfigd".into())
            .spawn(move || old_server_loop(&*raw, service, &stop, cfg.handler_delay, &times))?
    };
    let outcome = drive(env, &send, cfg, window).map(|o| RpcOutcome {
        handler_us: times.mean_us(),
        ..o
    });
    // Not a shutdown measurement: wake the loop so it sees the flag without waiting 500 ms.
    stop.store(true, Ordering::Release);
    let mut wake = MsgBuffer::message(
        service,
        WAKE_MSG_ID,
        crate::raw::Stamp { seq: 0, sent_ns: 0 },
    );
    let _ = raw.send(&mut wake, Some(0));
    let served = server
        .join()
        .map_err(|_| BenchError::Stream("old server thread panicked".into()))?;
    drop(send);
    drop(port);
    let cost = served?;
    outcome.map(|o| RpcOutcome {
        server_cpu_us: cost.per_request_us(),
        server_kernel_calls: cost.kernel_calls_per_request(),
        ..o
    })
}

/// The loop of `mach_service.c`, with the handler inline.
fn old_server_loop(
    raw: &dyn RawMach,
    service: Name,
    stop: &AtomicBool,
    delay: Option<Duration>,
    times: &HandlerTimes,
) -> Result<ServerCost, BenchError> {
    // As precise as the async server's service timer (see `super::service_timer`).
    precise_sleeps();
    let start = ThreadCost::now();
    let mut requests = 0u64;
    let mut request = MsgBuffer::with_capacity(4096);
    while !stop.load(Ordering::Acquire) {
        match raw.receive(
            service,
            &mut request,
            Some(crate::old_loop::OLD_RECEIVE_TIMEOUT_MS),
        ) {
            MACH_MSG_SUCCESS => {}
            MACH_RCV_TIMED_OUT | MACH_RCV_INTERRUPTED => continue,
            kr => return Err(BenchError::kern("mach_msg (old server receive)", kr)),
        }
        if request.id() == WAKE_MSG_ID {
            continue;
        }
        requests += 1;
        let bytes = request.bytes(request.size() as usize);
        let Some(header) = read_header(&bytes) else {
            continue;
        };
        let reply = match decode_request(&bytes, Numbering::NextBsd) {
            Ok(Call::IfCount) => {
                if let Some(d) = delay {
                    let start = Instant::now();
                    std::thread::sleep(d);
                    times.record(start);
                }
                encode_if_count_reply(&header, BENCH_IF_COUNT)
            }
            Ok(Call::IfAddr { .. }) => {
                encode_if_addr_reply(&header, IpAddress(0), IpconfigStatus::NO_SERVER)
            }
            Err(e) => error_reply(&header, e.code()).to_vec(),
        };
        if header.msgh_remote_port == 0 {
            continue;
        }
        let mut reply = MsgBuffer::from_bytes(&reply, 0);
        // As mach_service.c: a failed reply is only logged (here: counted by the client's hang
        // check), never retried.
        let _ = raw.send(&mut reply, Some(200));
    }
    Ok(ServerCost::between(requests, start, ThreadCost::now()))
}

/// Requests per second of `ipconfig-rpc`'s async server on one event thread.
pub fn stream_rpc(env: &Env, window: Duration, cfg: RpcConfig) -> Result<RpcOutcome, BenchError> {
    let ev = EventThread::start("ipconfigd-events")?;
    let (port, send) = service_port(env)?;
    let times = Arc::new(HandlerTimes::default());
    let timer = match cfg.handler_delay {
        Some(_) => Some(Arc::new(ServiceTimer::start_on(ev.handle())?)),
        None => None,
    };
    // The event thread runs nothing but this server: its costs are the server's.
    let event_thread_cost =
        |ev: &EventThread| ev.run(async { ThreadCost::now() }).unwrap_or_default();
    let start = event_thread_cost(&ev);
    let server = {
        let _entered = ev.handle().enter();
        IpconfigServer::new(BenchHandler {
            delay: cfg.handler_delay,
            timer,
            times: times.clone(),
        })
        .spawn(port)
        .map_err(|e| BenchError::Stream(format!("ipconfig server: {e}")))?
    };
    let outcome = drive(env, &send, cfg, window).map(|o| RpcOutcome {
        handler_us: times.mean_us(),
        ..o
    });
    let served = futures::executor::block_on(server.close());
    drop(send);
    let cost = ServerCost::between(served.stats.requests, start, event_thread_cost(&ev));
    drop(served);
    drop(ev);
    outcome.map(|o| RpcOutcome {
        server_cpu_us: cost.per_request_us(),
        server_kernel_calls: cost.kernel_calls_per_request(),
        ..o
    })
}

fn drive(
    env: &Env,
    service: &SendRight,
    cfg: RpcConfig,
    window: Duration,
) -> Result<RpcOutcome, BenchError> {
    match cfg.client {
        ClientKind::Async => drive_async_clients(service, cfg.clients, window),
        ClientKind::Threads => drive_clients(env.raw(), service.name(), cfg.clients, window),
    }
}

/// Runs `clients` tasks of `ipconfig-rpc`'s [`IpconfigClient`] on one client event thread,
/// each calling `ipconfig_if_count` in a loop, and measures the calls completed per second over
/// `window` (after every client has completed one call).
pub fn drive_async_clients(
    service: &SendRight,
    clients: usize,
    window: Duration,
) -> Result<RpcOutcome, BenchError> {
    let ev = EventThread::start("ipconfig-clients")?;
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(ClientCounters::default());
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let right = service.clone();
        let (stop, counters) = (stop.clone(), counters.clone());
        tasks.push(ev.handle().spawn(async move {
            let client = IpconfigClient::builder(&right.space().clone())
                .service_port(right)
                .timeout(Some(HANG_LIMIT))
                .open()
                .await
                .map_err(|e| BenchError::Stream(format!("ipconfig client: {e}")))?;
            let mut first = true;
            while !stop.load(Ordering::Acquire) {
                match client.if_count().await {
                    Ok(BENCH_IF_COUNT) => {}
                    Ok(other) => {
                        return Err(BenchError::Stream(format!(
                            "ipconfig_if_count answered {other}"
                        )))
                    }
                    Err(e) => return Err(BenchError::Stream(format!("ipconfig_if_count: {e}"))),
                }
                counters.completed.fetch_add(1, Ordering::Release);
                if std::mem::take(&mut first) {
                    counters.warmed.fetch_add(1, Ordering::Release);
                }
            }
            Ok(())
        }));
    }
    let measured = measure_window(&counters, &stop, clients, window);
    stop.store(true, Ordering::Release);
    let mut failure = None;
    for t in tasks {
        match futures::executor::block_on(t) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(BenchError::Stream(format!("client task: {e}")))),
        }
    }
    drop(ev);
    if let Some(e) = failure {
        return Err(e);
    }
    let rate = measured?;
    Ok(RpcOutcome {
        rate,
        send_retries: None,
        handler_us: None,
        server_cpu_us: None,
        server_kernel_calls: None,
    })
}

/// Waits until every client has completed a call, then counts the calls completed during
/// `window`.
fn measure_window(
    counters: &ClientCounters,
    stop: &AtomicBool,
    clients: usize,
    window: Duration,
) -> Result<f64, BenchError> {
    let deadline = Instant::now() + HANG_LIMIT;
    while counters.warmed.load(Ordering::Acquire) < clients as u64 && !stop.load(Ordering::Acquire)
    {
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout("every RPC client's first reply"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if stop.load(Ordering::Acquire) {
        // A client failed; its error is reported by the caller.
        return Err(BenchError::Timeout("a measurable RPC window"));
    }
    let (c0, t0) = (counters.completed.load(Ordering::Acquire), Instant::now());
    std::thread::sleep(window);
    let (c1, t1) = (counters.completed.load(Ordering::Acquire), Instant::now());
    crate::stats::per_second(c1 - c0, t1 - t0).ok_or(BenchError::Timeout("a measurable RPC window"))
}

/// How long a client's send may wait for room in the service queue before it takes its
/// request back and sends it again (see [`RpcOutcome::send_retries`]).
pub const CLIENT_SEND_SLICE_MS: u32 = 20;

/// What one RPC configuration measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RpcOutcome {
    /// Calls completed per second over the window.
    pub rate: f64,
    /// C-stub thread clients only: sends that waited [`CLIENT_SEND_SLICE_MS`] for room in the
    /// service queue and were sent again. A C stub blocks without a bound; the bench bounds the
    /// wait so that a sender the kernel never wakes (a lost wake-up) costs a slice instead of
    /// hanging the run, and counts how often that happened. (`IpconfigClient`'s own sends wait
    /// on `mach-async`'s blocking pool in bounded slices and are not counted.)
    pub send_retries: Option<u64>,
    /// Slow-handler configurations: the handler's mean actual time per call, in µs.
    pub handler_us: Option<f64>,
    /// CPU time of the server's thread per request served, in µs, over the whole serve
    /// (`CLOCK_THREAD_CPUTIME_ID` of the old loop's thread, or of the async server's event
    /// thread, which runs nothing else). Unlike the rate, it barely moves with the machine's
    /// load, so it is the figure that compares the two servers' own work.
    pub server_cpu_us: Option<f64>,
    /// Kernel calls of the server's thread per request served, over the whole serve (counted
    /// by the simulated kernel, `None` on a native one): what each design asks of the kernel
    /// per request, exactly, whatever the machine's load.
    pub server_kernel_calls: Option<f64>,
}

/// What a thread has used so far: its CPU clock ([`crate::sysinfo::thread_cpu_time`]) and its
/// kernel calls ([`crate::sysinfo::thread_kernel_calls`]), each `None` where it cannot be read.
#[derive(Clone, Copy, Debug, Default)]
struct ThreadCost {
    cpu: Option<Duration>,
    kernel_calls: Option<u64>,
}

impl ThreadCost {
    /// The calling thread's.
    fn now() -> ThreadCost {
        ThreadCost {
            cpu: crate::sysinfo::thread_cpu_time(),
            kernel_calls: crate::sysinfo::thread_kernel_calls(),
        }
    }
}

/// What a server thread used, and the requests it served meanwhile.
#[derive(Clone, Copy, Debug, Default)]
struct ServerCost {
    requests: u64,
    cpu: Duration,
    kernel_calls: Option<u64>,
}

impl ServerCost {
    /// `requests` served while a thread went from `start` to `end` (both read on that thread;
    /// no CPU time when either clock read failed).
    fn between(requests: u64, start: ThreadCost, end: ThreadCost) -> ServerCost {
        let cpu = match (start.cpu, end.cpu) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let kernel_calls = match (start.kernel_calls, end.kernel_calls) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        ServerCost {
            requests,
            cpu,
            kernel_calls,
        }
    }

    fn per_request_us(self) -> Option<f64> {
        (self.requests > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    fn kernel_calls_per_request(self) -> Option<f64> {
        let calls = self.kernel_calls?;
        (self.requests > 0).then(|| calls as f64 / self.requests as f64)
    }
}

/// The repeat with the median rate (the upper median of an even count), with the send retries
/// of all repeats added up, the handler times averaged and the medians of the server's CPU time
/// and kernel calls per request; `None` when no repeat succeeded.
pub fn median(outcomes: &[RpcOutcome]) -> Option<RpcOutcome> {
    let mut sorted = outcomes.to_vec();
    sorted.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mid = *sorted.get(sorted.len() / 2)?;
    let retries = outcomes
        .iter()
        .filter_map(|o| o.send_retries)
        .reduce(|a, b| a + b);
    let handler: Vec<f64> = outcomes.iter().filter_map(|o| o.handler_us).collect();
    let cpu: Vec<f64> = outcomes.iter().filter_map(|o| o.server_cpu_us).collect();
    let calls: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.server_kernel_calls)
        .collect();
    Some(RpcOutcome {
        rate: mid.rate,
        send_retries: retries,
        handler_us: (!handler.is_empty())
            .then(|| handler.iter().sum::<f64>() / handler.len() as f64),
        server_cpu_us: crate::stats::median(&cpu),
        server_kernel_calls: crate::stats::median(&calls),
    })
}

#[derive(Default)]
struct ClientCounters {
    completed: AtomicU64,
    warmed: AtomicU64,
    send_retries: AtomicU64,
}

/// Runs `clients` client threads against `service` and measures the calls completed per
/// second over `window` (after every client has completed one call).
pub fn drive_clients(
    raw: &Arc<dyn RawMach>,
    service: Name,
    clients: usize,
    window: Duration,
) -> Result<RpcOutcome, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(ClientCounters::default());
    let failure: Arc<Mutex<Option<BenchError>>> = Arc::new(Mutex::new(None));
    let mut threads = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (raw, t_stop, t_counters, failure) =
            (raw.clone(), stop.clone(), counters.clone(), failure.clone());
        let spawned = std::thread::Builder::new()
            .name("ipconfig-client".into())
            .spawn(move || {
                if let Err(e) = client_loop(&*raw, service, &t_stop, &t_counters) {
                    failure
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    // One broken client ends the measurement.
                    t_stop.store(true, Ordering::Release);
                }
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                stop.store(true, Ordering::Release);
                for t in threads {
                    let _ = t.join();
                }
                return Err(e.into());
            }
        }
    }
    let retries0 = counters.send_retries.load(Ordering::Acquire);
    let measured = measure_window(&counters, &stop, clients, window);
    let retries = counters.send_retries.load(Ordering::Acquire) - retries0;
    stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    Ok(RpcOutcome {
        rate: measured?,
        send_retries: Some(retries),
        handler_us: None,
        server_cpu_us: None,
        server_kernel_calls: None,
    })
}

fn client_loop(
    raw: &dyn RawMach,
    service: Name,
    stop: &AtomicBool,
    counters: &ClientCounters,
) -> Result<(), BenchError> {
    let reply_port = raw
        .new_port()
        .map_err(|kr| BenchError::kern("mach_port_allocate (reply port)", kr))?;
    let request = encode_if_count_request();
    let mut first = true;
    let result = (|| {
        while !stop.load(Ordering::Acquire) {
            let mut msg = MsgBuffer::from_bytes(&request, 256);
            msg.set_ports(
                MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                service,
                reply_port,
            );
            let kr = loop {
                match raw.call(&mut msg, reply_port, Some(CLIENT_SEND_SLICE_MS)) {
                    // The request (with its reply right) is back in `msg`: send it again.
                    MACH_SEND_TIMED_OUT => {
                        counters.send_retries.fetch_add(1, Ordering::Relaxed);
                    }
                    kr => break kr,
                }
            };
            if kr != MACH_MSG_SUCCESS {
                return Err(BenchError::kern("mach_msg (ipconfig_if_count call)", kr));
            }
            let reply = msg.bytes(msg.size() as usize);
            match decode_if_count_reply(&reply, IPCONFIG_IF_COUNT_ID) {
                Ok(BENCH_IF_COUNT) => {}
                Ok(other) => {
                    return Err(BenchError::Stream(format!(
                        "ipconfig_if_count answered {other}"
                    )))
                }
                Err(e) => return Err(BenchError::Stream(format!("ipconfig_if_count: {e}"))),
            }
            counters.completed.fetch_add(1, Ordering::Release);
            if std::mem::take(&mut first) {
                counters.warmed.fetch_add(1, Ordering::Release);
            }
        }
        Ok(())
    })();
    let closed = raw
        .close_port(reply_port)
        .map_err(|kr| BenchError::kern("close (reply port)", kr));
    result.and(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(rate: f64, retries: Option<u64>) -> RpcOutcome {
        RpcOutcome {
            rate,
            send_retries: retries,
            handler_us: None,
            server_cpu_us: None,
            server_kernel_calls: None,
        }
    }

    #[test]
    fn handler_times_average_what_was_recorded() {
        let times = HandlerTimes::default();
        assert_eq!(times.mean_us(), None);
        let start = Instant::now() - Duration::from_millis(3);
        times.record(start);
        assert!(times.mean_us().unwrap() >= 3_000.0);
    }

    #[test]
    fn median_takes_the_middle_rate_and_sums_retries() {
        let m = median(&[o(30.0, Some(1)), o(10.0, Some(2)), o(20.0, Some(4))]).unwrap();
        assert_eq!(m, o(20.0, Some(7)));
        assert_eq!(median(&[o(5.0, None), o(7.0, None)]), Some(o(7.0, None)));
        assert_eq!(median(&[o(5.0, None)]), Some(o(5.0, None)));
        assert_eq!(median(&[]), None);
    }
}
