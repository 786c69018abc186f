//! C entry points on paths ipconfigd rarely takes (issue 16), in one process as in
//! `ffi_signal.rs`: the service name already taken (start fails cleanly and succeeds once the
//! name is free), Apple numbering selected through `mach_service_set_apple_numbering`, and a
//! terminating signal whose host handler was installed with `SA_SIGINFO` (it is chained with
//! its `siginfo_t`, and the service stops).
//!
//! One test function: signal dispositions and the C ABI state are process-wide.
#![cfg(not(any(target_os = "freebsd", target_os = "macos")))]

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ffi::{self, signal};
use ipconfig_rpc::ipconfig_messages::{InterfaceName, IPCONFIG_SERVICE_NAME};
use ipconfig_rpc::Numbering;
use mach_abi::{kern_return_t, mach_port_t};
use mach_async::Space;
use mach_sim::Kernel;

const HANG: Duration = Duration::from_secs(20);

/// Signal number and `si_signo` seen by the host's `SA_SIGINFO` handler.
static SIGINFO_SIGNAL: AtomicI32 = AtomicI32::new(0);
static SIGINFO_SI_SIGNO: AtomicI32 = AtomicI32::new(0);
static ADDR_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_term_siginfo(sig: c_int, info: *mut libc::siginfo_t, _context: *mut c_void) {
    SIGINFO_SIGNAL.store(sig, Ordering::SeqCst);
    if !info.is_null() {
        // SAFETY: the kernel (or the chaining forwarder) passes a valid siginfo_t.
        SIGINFO_SI_SIGNO.store(unsafe { (*info).si_signo }, Ordering::SeqCst);
    }
}

/// The host's handlers (ipconfigd_mig.c): two interfaces, every address 10.0.0.1.
///
/// # Safety
/// `count` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn _ipconfig_if_count(
    _server: mach_port_t,
    count: *mut c_int,
) -> kern_return_t {
    // SAFETY: the library passes a valid out-pointer.
    unsafe { *count = 2 };
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
    ADDR_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the library passes valid out-pointers.
    unsafe {
        *addr = u32::from_ne_bytes([10, 0, 0, 1]);
        *status = 0;
    }
    0
}

fn install_siginfo_handler(signal: c_int) {
    // SAFETY: a zeroed sigaction with an `sa_sigaction` handler and SA_SIGINFO.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_term_siginfo as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_SIGINFO;
        assert_eq!(libc::sigaction(signal, &sa, std::ptr::null_mut()), 0);
    }
}

#[test]
fn name_taken_apple_numbering_and_a_siginfo_host_handler() {
    let kernel = Kernel::new();
    let daemon = kernel.task_create("ipconfigd", 100, 0, 0);
    let squatter = kernel.task_create("squatter", 300, 0, 0);
    let client_task = kernel.task_create("ipconfig", 200, 501, 20);
    install_siginfo_handler(libc::SIGINT);

    // Another task holds the service name: start fails (and says so in the log), nothing runs.
    let squatted = kernel
        .bootstrap()
        .check_in(&squatter, IPCONFIG_SERVICE_NAME)
        .unwrap();
    {
        let _in_daemon = daemon.enter();
        assert_eq!(ffi::mach_service_start(), -1, "name taken");
    }
    assert!(!ffi::is_started());
    ffi::mach_service_join();
    squatter.port_close(squatted).unwrap();
    squatter.terminate().unwrap();
    let _ = kernel.bootstrap().unregister(IPCONFIG_SERVICE_NAME);

    // Apple numbering selected before the start.
    ffi::mach_service_set_apple_numbering(1);
    {
        let _in_daemon = daemon.enter();
        assert_eq!(ffi::mach_service_start(), 0, "the name is free again");
    }
    assert!(signal::is_hooked(libc::SIGINT));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client_space = Space::from_task(client_task.clone());
    let look_up = || IpconfigClient::builder(&client_space);
    rt.block_on(async {
        let apple = look_up()
            .numbering(Numbering::AppleCompat)
            .open()
            .await
            .unwrap();
        let addr = tokio::time::timeout(HANG, apple.if_addr(InterfaceName::new("en0").unwrap()))
            .await
            .unwrap()
            .expect("Apple-numbered if_addr is served");
        assert_eq!(addr.addr, std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(ADDR_CALLS.load(Ordering::SeqCst), 1);
    });

    // SIGINT reaches the host's SA_SIGINFO handler with its siginfo, and stops the service.
    // SAFETY: raising a signal whose handler we installed.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
    assert_eq!(SIGINFO_SIGNAL.load(Ordering::SeqCst), libc::SIGINT);
    assert_eq!(SIGINFO_SI_SIGNO.load(Ordering::SeqCst), libc::SIGINT);
    assert!(ffi::wait_stopped(HANG), "service stopped on SIGINT");
    ffi::mach_service_join();
    assert!(!ffi::is_started());
    ffi::mach_service_set_apple_numbering(0);

    daemon.terminate().unwrap();
    client_task.terminate().unwrap();
    drop(rt);
    kernel.assert_no_leaks();
}
