//! The C ABI of ipconfigd's `mach_service.c` (`ipconfig-rpc.md` §2), on a lazily started
//! process-wide tokio runtime thread.
//!
//! | symbol | behaviour |
//! | --- | --- |
//! | `int mach_service_start(void)` | checks in `com.apple.IPConfiguration` (synchronously, so a failure is reported: -1) and starts serving it in the background; 0 if started or already running. Idempotent. |
//! | `void mach_service_stop(void)` | asks the service to stop; returns at once. Safe from any thread (not from a signal handler). |
//! | `void mach_service_join(void)` | stops the service and waits until it has stopped; returns at once if nothing was started. `start` may be called again afterwards. |
//! | `void mach_service_set_apple_numbering(int)` | opt-in: serve Apple's routine numbering as well (`ipconfig-rpc.md` §4.3); takes effect at the next start. |
//!
//! The service runs in the IPC space that called `mach_service_start` (on the simulated kernel:
//! the calling thread's current task). Requests call the host's
//! `kern_return_t _ipconfig_if_count(mach_port_t, int *)` and
//! `kern_return_t _ipconfig_if_addr(mach_port_t, InterfaceName, ip_address_t *, ipconfig_status_t *)`
//! on the runtime thread, with the 16 name bytes copied into a buffer owned by the call.
//!
//! **Shutdown** is event-driven: `mach_service_stop`/`mach_service_join` complete a oneshot the
//! server awaits, and a terminating signal (SIGTERM, SIGINT, SIGHUP) that reaches the host's
//! handler wakes it through [`signal`] — after the host's handler has run and set `got_term`.
//! Either way the server stops receiving at once; routines still running are cancelled (their
//! clients see `MIG_SERVER_DIED`).
//!
//! **The service port is kept** after join, as `mach_service.c` did: launchd requested
//! port-destroyed notifications for it and gets it back, with queued requests, when the process
//! exits. A later `mach_service_start` in the same space serves the kept port again (a second
//! check-in would fail with `BOOTSTRAP_SERVICE_ACTIVE`).
//!
//! Log lines go to stderr through `tracing` (`MACH_ASYNC_LOG`, default `ipconfig_rpc=info,warn`; see
//! [`mach_async::diagnostics`]).

pub mod signal;

use std::ffi::c_int;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Mutex, OnceLock};

use async_trait::async_trait;
use mach_abi::{kern_return_t, mach_port_t};
use mach_async::mig::MigServer;
use mach_async::{ReceiveRight, Space};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::ipconfig_messages::{InterfaceName, IpAddress, IpconfigStatus, IPCONFIG_SERVICE_NAME};
use crate::protocol::{IfAddr, Numbering};
use crate::server::{CallContext, IpconfigHandler, IpconfigServer};

/// `ip_address_t`.
#[allow(non_camel_case_types)]
pub type ip_address_t = u32;
/// `ipconfig_status_t`.
#[allow(non_camel_case_types)]
pub type ipconfig_status_t = c_int;

extern "C" {
    /// `kern_return_t _ipconfig_if_count(mach_port_t server, int *count);` (the host's).
    fn _ipconfig_if_count(server: mach_port_t, count: *mut c_int) -> kern_return_t;
    /// `kern_return_t _ipconfig_if_addr(mach_port_t server, InterfaceName name,
    /// ip_address_t *addr, ipconfig_status_t *status);` (the host's; `InterfaceName` is
    /// `char[16]`, passed as a pointer).
    fn _ipconfig_if_addr(
        server: mach_port_t,
        name: *mut std::ffi::c_char,
        addr: *mut ip_address_t,
        status: *mut ipconfig_status_t,
    ) -> kern_return_t;
}

/// ipconfigd's diagnostics: tracing events (target `ipconfig_rpc::ffi`) that reach stderr
/// through the subscriber [`mach_async::diagnostics::init_from_env`] installs — at `warn` and
/// above (this crate's `info` too) unless `MACH_ASYNC_LOG` says otherwise, so the daemon's log keeps what it had.
macro_rules! log {
    ($($arg:tt)*) => {{
        tracing::warn!($($arg)*);
    }};
}

/// The host's two handlers as an [`IpconfigHandler`].
struct HostHandlers {
    server: mach_port_t,
}

#[async_trait]
impl IpconfigHandler for HostHandlers {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        let mut count: c_int = 0;
        // SAFETY: the host defines `_ipconfig_if_count` with this prototype; `count` is a
        // valid, exclusive out-pointer for the duration of the call.
        let kr = unsafe { _ipconfig_if_count(self.server, &mut count) };
        if kr == 0 {
            Ok(count)
        } else {
            Err(kr)
        }
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        // A buffer owned by this call (the host may keep nothing of it).
        let mut buf = name.0;
        let mut addr: ip_address_t = 0;
        let mut status: ipconfig_status_t = 0;
        // SAFETY: the host defines `_ipconfig_if_addr` with this prototype; `buf` holds the
        // 16 bytes of an `InterfaceName`, `addr` and `status` are valid out-pointers.
        let kr = unsafe {
            _ipconfig_if_addr(self.server, buf.as_mut_ptr().cast(), &mut addr, &mut status)
        };
        if kr == 0 {
            Ok(IfAddr {
                addr: IpAddress(addr).into(),
                status: IpconfigStatus(status),
            })
        } else {
            Err(kr)
        }
    }
}

struct Running {
    stop: Option<oneshot::Sender<()>>,
    done: mpsc::Receiver<Option<ReceiveRight>>,
}

struct State {
    running: Option<Running>,
    /// The service port, kept between a join and the next start.
    kept: Option<ReceiveRight>,
    numbering: Numbering,
}

static STATE: Mutex<State> = Mutex::new(State {
    running: None,
    kept: None,
    numbering: Numbering::NextBsd,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process-wide runtime: one worker thread, started on first use.
fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("ipconfigd-mach")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The terminating-signal counter (hooked once, on the runtime).
fn signal_events(rt: &'static Runtime) -> Option<&'static signal::SignalEvents> {
    static EVENTS: OnceLock<Option<signal::SignalEvents>> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let _enter = rt.enter();
            match signal::hook().and_then(signal::SignalEvents::spawn) {
                Ok(events) => Some(events),
                Err(e) => {
                    log!("signal wakeup unavailable ({e}); the service stops on mach_service_join only");
                    None
                }
            }
        })
        .as_ref()
}

fn check_in(space: &Space) -> Result<ReceiveRight, kern_return_t> {
    mach_async::bootstrap::check_in(space, IPCONFIG_SERVICE_NAME)
        .map_err(|e| e.code().unwrap_or(mach_abi::KERN_FAILURE))
}

fn start() -> Result<(), ()> {
    let mut st = state();
    if st.running.is_some() {
        return Ok(());
    }
    let rt = runtime().map_err(|e| log!("cannot start the service runtime: {e}; RPC off"))?;
    let space = Space::current();
    let kept = st
        .kept
        .take()
        .filter(|port| port.space().id() == space.id());
    let resumed = kept.is_some();
    let port = match kept {
        Some(port) => port,
        None => check_in(&space).map_err(|kr| {
            log!(
                "bootstrap_check_in({IPCONFIG_SERVICE_NAME}) failed: 0x{:x}; RPC off",
                kr as u32
            )
        })?,
    };
    let name = port.name();
    let numbering = st.numbering;
    let table = IpconfigServer::new(HostHandlers { server: name })
        .numbering(numbering)
        .routine_table();
    let server = {
        let _enter = rt.enter();
        MigServer::new(port, table)
            .map_err(|e| log!("cannot receive on the service port: {e}; RPC off"))?
    };
    let mut terminated = signal_events(rt).map(signal::SignalEvents::subscribe);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    rt.spawn(async move {
        let stop = async move {
            let signalled = async {
                match terminated.as_mut() {
                    Some(rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop_rx => {}
                () = signalled => log!("terminating signal received; service stopping"),
            }
        };
        let served = server.serve_until(stop).await;
        let _ = done_tx.send(served.port);
    });
    if resumed {
        tracing::info!("Mach service '{IPCONFIG_SERVICE_NAME}' serving again (port=0x{name:x})");
    } else {
        tracing::info!("Mach service '{IPCONFIG_SERVICE_NAME}' checked in (port=0x{name:x})");
    }
    st.running = Some(Running {
        stop: Some(stop_tx),
        done: done_rx,
    });
    Ok(())
}

fn stop() {
    if let Some(running) = state().running.as_mut() {
        if let Some(stop) = running.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn join() {
    let Some(mut running) = state().running.take() else {
        return;
    };
    if let Some(stop) = running.stop.take() {
        let _ = stop.send(());
    }
    // Blocks until the server task has handed the port back (or ended without it).
    if let Ok(Some(port)) = running.done.recv() {
        state().kept = Some(port);
    }
}

/// `int mach_service_start(void)`: see the module docs. Returns 0 when the service was started
/// or is already running, -1 when it could not be started (runtime, check-in or receive setup
/// failed; the reason is logged).
#[no_mangle]
pub extern "C" fn mach_service_start() -> c_int {
    mach_async::diagnostics::init_from_env(Some("ipconfig_rpc=info,warn"));
    match catch_unwind(AssertUnwindSafe(start)) {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

/// `void mach_service_stop(void)`: asks a running service to stop and returns at once.
#[no_mangle]
pub extern "C" fn mach_service_stop() {
    let _ = catch_unwind(stop);
}

/// `void mach_service_join(void)`: stops the service and waits until it has stopped. Returns
/// at once if nothing was started. Must not be called from a handler (it would wait for
/// itself).
#[no_mangle]
pub extern "C" fn mach_service_join() {
    let _ = catch_unwind(join);
}

/// Runs an exported function's body so that no panic crosses the C boundary.
fn guard<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// `void mach_service_set_apple_numbering(int enabled)`: non-zero selects the compatibility
/// table (Apple's ids plus legacy NextBSD 20001, told apart by size); zero (the default) serves
/// NextBSD's table only. Takes effect at the next `mach_service_start`.
#[no_mangle]
pub extern "C" fn mach_service_set_apple_numbering(enabled: c_int) {
    guard((), || {
        state().numbering = if enabled != 0 {
            Numbering::AppleCompat
        } else {
            Numbering::NextBsd
        };
    })
}

/// Whether a service has been started and not yet joined (it may have stopped by itself on a
/// terminating signal). For tests and diagnostics.
pub fn is_started() -> bool {
    state().running.is_some()
}

/// Waits until the started service has stopped by itself (after a terminating signal), without
/// joining it; `false` after `timeout` or if nothing is started. For tests.
pub fn wait_stopped(timeout: std::time::Duration) -> bool {
    let mut st = state();
    let Some(running) = st.running.as_mut() else {
        return false;
    };
    match running.done.recv_timeout(timeout) {
        Ok(port) => {
            // Keep the answer for join: it finds the channel closed and the port kept.
            st.kept = port;
            true
        }
        Err(_) => false,
    }
}
