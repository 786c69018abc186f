//! The C entry points driven from Rust in one process (this test binary plays ipconfigd): a
//! terminating signal that reaches the host's handler still runs that handler and stops the
//! service by itself, with no polling; `mach_service_join` then returns at once; the service
//! port is kept and served again by the next start.
//!
//! One test function: signal dispositions and the C ABI state are process-wide.
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ffi::{self, signal};
use ipconfig_rpc::mig::MigError;
use mach_abi::{kern_return_t, mach_port_t};
use mach_async::Space;
use mach_sim::Kernel;

const HANG: Duration = Duration::from_secs(20);

/// ipconfigd's `got_term` (a `long` on FreeBSD amd64), written only by the host's handler.
static GOT_TERM: AtomicI64 = AtomicI64::new(0);
static COUNT_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_term(sig: c_int) {
    GOT_TERM.store(i64::from(sig), Ordering::SeqCst);
}

/// The host's handlers (as ipconfigd_mig.c, with nothing bound but a count of 3).
///
/// # Safety
/// `count` must be valid for a write (the library passes its own out-parameter).
#[no_mangle]
pub unsafe extern "C" fn _ipconfig_if_count(
    _server: mach_port_t,
    count: *mut c_int,
) -> kern_return_t {
    COUNT_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the library passes a valid out-pointer.
    unsafe { *count = 3 };
    0
}

/// # Safety
/// `addr` and `status` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn _ipconfig_if_addr(
    _server: mach_port_t,
    _name: *mut c_char,
    addr: *mut u32,
    status: *mut c_int,
) -> kern_return_t {
    // SAFETY: the library passes valid out-pointers.
    unsafe {
        *addr = 0;
        *status = 9;
    }
    0
}

fn install_host_handler(signal: c_int) {
    // SAFETY: a zeroed sigaction with a plain handler, `sa_flags` = 0 as ipconfigd installs it.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_term as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        assert_eq!(libc::sigaction(signal, &sa, std::ptr::null_mut()), 0);
    }
}

#[test]
fn sigterm_runs_the_host_handler_and_stops_the_service() {
    let kernel = Kernel::new();
    let daemon = kernel.task_create("ipconfigd", 100, 0, 0);
    let client_task = kernel.task_create("ipconfig", 200, 501, 20);
    install_host_handler(libc::SIGTERM);

    // Nothing started: join returns at once.
    ffi::mach_service_join();
    {
        let _in_daemon = daemon.enter();
        assert_eq!(ffi::mach_service_start(), 0);
        assert_eq!(ffi::mach_service_start(), 0, "idempotent");
    }
    assert!(signal::is_hooked(libc::SIGTERM));
    assert!(
        !signal::is_hooked(libc::SIGHUP),
        "a default disposition is left alone"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client_space = Space::from_task(client_task.clone());
    let look_up = || IpconfigClient::builder(&client_space);
    rt.block_on(async {
        let client = look_up().open().await.unwrap();
        assert_eq!(
            tokio::time::timeout(HANG, client.if_count()).await.unwrap(),
            Ok(3)
        );
    });

    // SAFETY: raising a signal whose handler we installed.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
    assert_eq!(
        GOT_TERM.load(Ordering::SeqCst),
        i64::from(libc::SIGTERM),
        "host handler ran"
    );
    assert!(signal::delivered() >= 1);
    // The service stops by itself, before anyone joins it.
    assert!(ffi::wait_stopped(HANG), "service stopped on SIGTERM");
    assert!(ffi::is_started(), "stopped but not yet joined");
    ffi::mach_service_join();
    assert!(!ffi::is_started());

    // Stopped: a request stays queued on the kept port, unanswered.
    rt.block_on(async {
        let client = look_up()
            .timeout(Some(Duration::from_millis(100)))
            .open()
            .await
            .unwrap();
        assert_eq!(client.if_count().await, Err(MigError::TimedOut));
    });

    // start after join serves the kept port again (the queued request is answered into a dead
    // reply port and dropped), then stop + join.
    GOT_TERM.store(0, Ordering::SeqCst);
    {
        let _in_daemon = daemon.enter();
        assert_eq!(ffi::mach_service_start(), 0);
    }
    rt.block_on(async {
        let client = look_up().open().await.unwrap();
        assert_eq!(
            tokio::time::timeout(HANG, client.if_count()).await.unwrap(),
            Ok(3)
        );
    });
    ffi::mach_service_stop();
    ffi::mach_service_join();
    assert_eq!(
        GOT_TERM.load(Ordering::SeqCst),
        0,
        "the library never writes got_term"
    );
    assert!(COUNT_CALLS.load(Ordering::SeqCst) >= 2);

    // Process exit: launchd gets the kept port back; nothing else is left.
    daemon.terminate().unwrap();
    client_task.terminate().unwrap();
    drop(rt);
    kernel.assert_no_leaks();
}
