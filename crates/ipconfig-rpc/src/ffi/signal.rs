//! Prompt shutdown on the host's terminating signals, without taking the signals from the host.
//!
//! ipconfigd installs one handler for SIGTERM, SIGINT and SIGHUP (`sa_flags = 0`) that stores the
//! signal number in `got_term`; its `main` then leaves its `sleep` loop and calls
//! `mach_service_join`. The old `mach_service.c` also polled `got_term` every 500 ms. Here:
//!
//! - `hook` (run once, on the first `mach_service_start`) looks at each of the three signals.
//!   Where the host has installed a **handler function**, it saves that `sigaction` and installs
//!   a forwarding handler with the same mask and flags (plus `SA_SIGINFO`). Signals left at
//!   `SIG_DFL` or `SIG_IGN` are not touched, so the library never changes what a signal does:
//!   a default SIGTERM still kills the process, an ignored one is still ignored.
//! - The forwarding handler first calls the host's handler (so `got_term` is set exactly as
//!   before, by the host's own code), then writes one byte to a non-blocking socket pair. Both
//!   steps are async-signal-safe (`errno` is saved and restored around them).
//! - The other end of the pair is read by a task on the service runtime (`SignalEvents`),
//!   which bumps a counter that every running service watches: the service stops at once,
//!   with no polling, and `mach_service_join` then returns immediately.
//!
//! Edge cases:
//! - A host that installs its handler *after* `mach_service_start` replaces the forwarder; the
//!   service then stops when `mach_service_join` is called (which is prompt anyway).
//! - The forwarder stays installed for the life of the process (uninstalling it could race with
//!   a signal being delivered); after the service is joined it only forwards.
//! - Reading `got_term` directly would make the static library unusable in programs that do
//!   not define it, so the crate never references the symbol; the signal hook replaces it.

use std::io;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::watch;

/// The signals ipconfigd's handler treats as "terminate".
pub const TERMINATING_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Write end of the wakeup pair, or -1 before [`hook`] ran. Read by the signal handler.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The host's `sigaction` per hooked signal, stored before the forwarder is installed and never
/// changed afterwards (the handler reads them).
static PREVIOUS: [OnceLock<libc::sigaction>; 3] =
    [OnceLock::new(), OnceLock::new(), OnceLock::new()];

/// How many terminating signals reached the forwarder (diagnostics and tests).
static DELIVERED: AtomicUsize = AtomicUsize::new(0);

fn slot(signal: libc::c_int) -> Option<usize> {
    TERMINATING_SIGNALS.iter().position(|&s| s == signal)
}

/// The forwarding handler: host handler first, then the wakeup byte.
extern "C" fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let saved_errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if let Some(previous) = slot(signal).and_then(|i| PREVIOUS[i].get()) {
        let handler = previous.sa_sigaction;
        if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the host installed this address as an `sa_sigaction` handler
                // (SA_SIGINFO set), which has exactly this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(handler) };
                f(signal, info, context);
            } else {
                // SAFETY: the host installed this address as an `sa_handler` (no SA_SIGINFO).
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
                f(signal);
            }
        }
    }
    DELIVERED.fetch_add(1, Ordering::Relaxed);
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `write` is async-signal-safe; `fd` is the non-blocking write end, which is
        // never closed; a full socket (EAGAIN) already has a wakeup pending.
        let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    set_errno(saved_errno);
}

fn set_errno(value: libc::c_int) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `__errno_location` returns the calling thread's errno.
    unsafe {
        *libc::__errno_location() = value;
    }
    #[cfg(any(target_os = "freebsd", target_vendor = "apple"))]
    // SAFETY: `__error` returns the calling thread's errno.
    unsafe {
        *libc::__error() = value;
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_vendor = "apple"
    )))]
    let _ = value;
}

/// Installs the forwarder (once per process) and returns the read end of the wakeup pair.
/// Later calls return the same reader's clone; `Err` if the pair could not be made.
pub(crate) fn hook() -> io::Result<UnixStream> {
    static READER: Mutex<Option<UnixStream>> = Mutex::new(None);
    let mut reader = READER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = reader.as_ref() {
        return r.try_clone();
    }
    let (read_end, write_end) = UnixStream::pair()?;
    read_end.set_nonblocking(true)?;
    write_end.set_nonblocking(true)?;
    // The write end lives for the rest of the process: the handler may run at any time.
    WAKE_FD.store(write_end.into_raw_fd(), Ordering::Release);
    for (i, &signal) in TERMINATING_SIGNALS.iter().enumerate() {
        install(i, signal);
    }
    let clone = read_end.try_clone()?;
    *reader = Some(read_end);
    Ok(clone)
}

fn install(index: usize, signal: libc::c_int) {
    // SAFETY: a zeroed sigaction is a valid out-buffer; querying with a null `act` changes
    // nothing.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers as above.
    if unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) } != 0 {
        return;
    }
    if current.sa_sigaction == libc::SIG_DFL || current.sa_sigaction == libc::SIG_IGN {
        return; // not the host's handler: leave the signal's behaviour alone
    }
    if PREVIOUS[index].set(current).is_err() {
        return;
    }
    let mut ours = current;
    ours.sa_sigaction = forward as *const () as usize;
    ours.sa_flags = current.sa_flags | libc::SA_SIGINFO;
    // SAFETY: `ours` is a fully initialised sigaction whose handler has the SA_SIGINFO
    // signature; the host's action is saved in PREVIOUS before ours can run.
    unsafe { libc::sigaction(signal, &ours, std::ptr::null_mut()) };
}

/// Whether the forwarder is installed for `signal`.
pub fn is_hooked(signal: libc::c_int) -> bool {
    slot(signal).is_some_and(|i| PREVIOUS[i].get().is_some())
}

/// Terminating signals seen by the forwarder since the process started.
pub fn delivered() -> usize {
    DELIVERED.load(Ordering::Relaxed)
}

/// Runtime side of the wakeup pair: a counter of terminating signals that services watch.
pub(crate) struct SignalEvents {
    counter: watch::Receiver<u64>,
}

impl SignalEvents {
    /// Starts the reader task on the current runtime.
    pub(crate) fn spawn(reader: UnixStream) -> io::Result<SignalEvents> {
        let (tx, rx) = watch::channel(0u64);
        let reader = tokio::net::UnixStream::from_std(reader)?;
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                if reader.readable().await.is_err() {
                    return;
                }
                match reader.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => tx.send_modify(|n| *n += 1),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        });
        Ok(SignalEvents { counter: rx })
    }

    /// A receiver that completes `changed()` on the next terminating signal.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        let mut rx = self.counter.clone();
        rx.mark_unchanged();
        rx
    }
}
