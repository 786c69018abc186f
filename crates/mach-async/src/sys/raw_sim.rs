//! Raw calls of the NextBSD backend on the simulated kernel's trap face ("NextBSD over sim",
//! feature `nextbsd-over-sim`; see "Raw calls" in `sys/mod.rs`). The same functions as
//! `raw_os.rs`, each forwarded to `mach_sim::trap`, which answers with NextBSD's kernel
//! conventions. Nothing here interprets an argument: a mistake in the caller reaches the trap face
//! as it would reach the kernel.

use std::ffi::CStr;

use libc::{c_int, c_void};
use mach_sim::trap;

/// FreeBSD 12+'s `struct kevent` (64 bytes with `ext[4]`), the layout the trap face takes.
#[allow(non_camel_case_types)]
pub(super) type kevent = mach_abi::kevent_freebsd;

/// An all-zero `struct kevent` (null `udata`).
pub(super) fn kevent_zeroed() -> kevent {
    kevent::zeroed()
}

/// `syscall(number, args…)` on the trap face.
///
/// # Safety
/// `args` must be what trap `number` expects (addresses valid for the accesses it makes).
pub(super) unsafe fn syscall(number: c_int, args: &[usize]) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { trap::syscall(number, args) }
}

/// `sysctlbyname(name, value, len, NULL, 0)` on the trap face.
///
/// # Safety
/// `value` valid for `*len` bytes of writes; `len` valid for reads and writes.
pub(super) unsafe fn sysctlbyname(name: &CStr, value: *mut c_void, len: *mut usize) -> c_int {
    // SAFETY: `name` is NUL-terminated; the rest is the caller's guarantee.
    unsafe { trap::sysctlbyname(name.as_ptr(), value, len, std::ptr::null(), 0) }
}

/// `close(fd)` on the trap face (a Mach name is a descriptor).
pub(super) fn close(fd: c_int) -> c_int {
    trap::close(fd)
}

/// `kqueue()` on the trap face.
pub(super) fn kqueue() -> c_int {
    trap::kqueue()
}

/// Sets `FD_CLOEXEC` on `fd`: the trap face's kqueues are real descriptors.
pub(super) fn set_cloexec(fd: c_int) -> c_int {
    // SAFETY: no memory is involved.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }
}

/// `kevent(kq, changes, nchanges, events, nevents, timeout)` on the trap face.
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
    unsafe { trap::kevent(kq, changes, nchanges, events, nevents, timeout) }
}
