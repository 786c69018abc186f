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

use super::HANG_LIMIT;
use crate::env::Env;
use crate::error::BenchError;
use crate::raw::{MsgBuffer, Name, RawMach, WAKE_MSG_ID};
use crate::runtime::EventThread;
use async_trait::async_trait;
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::mig::wire::{error_reply, read_header};
use ipconfig_rpc::protocol::{
    decode_if_count_reply, decode_request, encode_if_addr_reply, encode_if_count_reply,
    encode_if_count_request, Call, IfAddr, Numbering,
};
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer};
use ipconfig_rpc::wire::{InterfaceName, IpAddress, IpconfigStatus, IPCONFIG_IF_COUNT_ID};
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

/// The handler the async server runs: answers `if_count` after awaiting `delay`.
#[derive(Clone, Copy, Debug)]
pub struct BenchHandler {
    /// The await before each answer.
    pub delay: Option<Duration>,
}

#[async_trait]
impl IpconfigHandler for BenchHandler {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
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
    let server = {
        let (raw, stop) = (raw.clone(), stop.clone());
        std::thread::Builder::new()
            .name("old-ipconfigd".into())
            .spawn(move || old_server_loop(&*raw, service, &stop, cfg.handler_delay))?
    };
    let outcome = drive(env, &send, cfg, window);
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
    served?;
    outcome
}

/// The loop of `mach_service.c`, with the handler inline.
fn old_server_loop(
    raw: &dyn RawMach,
    service: Name,
    stop: &AtomicBool,
    delay: Option<Duration>,
) -> Result<(), BenchError> {
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
        let bytes = request.bytes(request.size() as usize);
        let Some(header) = read_header(&bytes) else {
            continue;
        };
        let reply = match decode_request(&bytes, Numbering::NextBsd) {
            Ok(Call::IfCount) => {
                if let Some(d) = delay {
                    std::thread::sleep(d);
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
    Ok(())
}

/// Requests per second of `ipconfig-rpc`'s async server on one event thread.
pub fn stream_rpc(env: &Env, window: Duration, cfg: RpcConfig) -> Result<RpcOutcome, BenchError> {
    let ev = EventThread::start("ipconfigd-events")?;
    let (port, send) = service_port(env)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = IpconfigServer::new(BenchHandler {
        delay: cfg.handler_delay,
    });
    let serving = ev.handle().spawn(async move {
        server
            .serve_until(port, async {
                let _ = stop_rx.await;
            })
            .await
    });
    let outcome = drive(env, &send, cfg, window);
    let _ = stop_tx.send(());
    let served = futures::executor::block_on(serving);
    drop(send);
    match served {
        Ok(Ok(served)) => drop(served),
        Ok(Err(e)) => return Err(BenchError::Stream(format!("ipconfig server: {e}"))),
        Err(e) => return Err(BenchError::Stream(format!("ipconfig server task: {e}"))),
    }
    drop(ev);
    outcome
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
        let client = IpconfigClient::new(service.clone()).with_timeout(Some(HANG_LIMIT));
        let (stop, counters) = (stop.clone(), counters.clone());
        tasks.push(ev.handle().spawn(async move {
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
}

/// The repeat with the median rate (the upper median of an even count), with the send retries
/// of all repeats added up; `None` when no repeat succeeded.
pub fn median(outcomes: &[RpcOutcome]) -> Option<RpcOutcome> {
    let mut sorted = outcomes.to_vec();
    sorted.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mid = *sorted.get(sorted.len() / 2)?;
    let retries = outcomes
        .iter()
        .filter_map(|o| o.send_retries)
        .reduce(|a, b| a + b);
    Some(RpcOutcome {
        rate: mid.rate,
        send_retries: retries,
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
        }
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
