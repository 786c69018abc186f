//! Raw calls of the NextBSD backend on the *shared* simulated kernel (feature
//! `nextbsd-over-shared-sim`, cfg `mach_trap_so`; see "Raw calls" in `sys/mod.rs` and
//! docs/stage4-linking.md). The same functions as `raw_os.rs` and `raw_sim.rs`, each an
//! undefined C symbol `mach_sim_trap_*` that the dynamic linker resolves to `libmach_sim.so`
//! (crate `mach-sim-so`), the one simulated kernel of the process, the way `syscall(2)` and
//! `kevent(2)` resolve to libc on NextBSD. No simulated kernel is compiled into a library built
//! this way, so every switched library of a process shares the kernel, its names and its
//! bootstrap server. Nothing here interprets an argument.

use std::ffi::CStr;

use libc::{c_char, c_int, c_void};

/// FreeBSD 12+'s `struct kevent` (64 bytes with `ext[4]`), the layout the trap face takes.
#[allow(non_camel_case_types)]
pub(super) type kevent = mach_abi::kevent_freebsd;

extern "C" {
    fn mach_sim_trap_syscall(number: c_int, args: *const usize, nargs: usize) -> c_int;
    fn mach_sim_trap_sysctlbyname(
        name: *const c_char,
        oldp: *mut c_void,
        oldlenp: *mut usize,
        newp: *const c_void,
        newlen: usize,
    ) -> c_int;
    fn mach_sim_trap_close(fd: c_int) -> c_int;
    fn mach_sim_trap_kqueue() -> c_int;
    fn mach_sim_trap_kevent(
        kq: c_int,
        changes: *const kevent,
        nchanges: c_int,
        events: *mut kevent,
        nevents: c_int,
        timeout: *const libc::timespec,
    ) -> c_int;
}

/// An all-zero `struct kevent` (null `udata`).
pub(super) fn kevent_zeroed() -> kevent {
    kevent::zeroed()
}

/// `syscall(number, args…)` on the shared trap face.
///
/// # Safety
/// `args` must be what trap `number` expects (addresses valid for the accesses it makes).
pub(super) unsafe fn syscall(number: c_int, args: &[usize]) -> c_int {
    // SAFETY: `args` is valid for `args.len()` reads; the rest is the caller's guarantee.
    unsafe { mach_sim_trap_syscall(number, args.as_ptr(), args.len()) }
}

/// `sysctlbyname(name, value, len, NULL, 0)` on the shared trap face.
///
/// # Safety
/// `value` valid for `*len` bytes of writes; `len` valid for reads and writes.
pub(super) unsafe fn sysctlbyname(name: &CStr, value: *mut c_void, len: *mut usize) -> c_int {
    // SAFETY: `name` is NUL-terminated; the rest is the caller's guarantee.
    unsafe { mach_sim_trap_sysctlbyname(name.as_ptr(), value, len, std::ptr::null(), 0) }
}

/// `close(fd)` on the shared trap face (a Mach name is a descriptor).
pub(super) fn close(fd: c_int) -> c_int {
    // SAFETY: no memory is involved; the callers own `fd`.
    unsafe { mach_sim_trap_close(fd) }
}

/// `kqueue()` on the shared trap face.
pub(super) fn kqueue() -> c_int {
    // SAFETY: no arguments.
    unsafe { mach_sim_trap_kqueue() }
}

/// Sets `FD_CLOEXEC` on `fd`: the trap face's kqueues are real descriptors.
pub(super) fn set_cloexec(fd: c_int) -> c_int {
    // SAFETY: no memory is involved.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }
}

/// `kevent(kq, changes, nchanges, events, nevents, timeout)` on the shared trap face.
///
/// # Safety
/// As `kevent(2)`: the arrays valid for their counts, `timeout` null or valid.
pub(super) unsafe fn kevent(
    kq: c_int,
    changes: *const kevent,
    nchanges: c_int,
    events: *mut kevent,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { mach_sim_trap_kevent(kq, changes, nchanges, events, nevents, timeout) }
}
