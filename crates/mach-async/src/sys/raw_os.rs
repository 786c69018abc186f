//! Raw calls of the native backends, on the operating system's C library (see "Raw calls" in
//! `sys/mod.rs`). Each function has the C library's signature and convention: −1 and `errno` on
//! failure. `raw_sim.rs` has the same functions over the simulated kernel's trap face.

#![cfg_attr(mach_backend = "macos", allow(dead_code))]

use std::ffi::CStr;

use libc::{c_int, c_void};

/// The `struct kevent` of this system (FreeBSD 12+: 64 bytes with `ext[4]`; Apple: 32 bytes).
#[allow(non_camel_case_types)]
pub(super) type kevent = libc::kevent;

/// An all-zero `struct kevent` (null `udata`).
pub(super) fn kevent_zeroed() -> kevent {
    // SAFETY: `struct kevent` is plain data (integers, an array, a pointer) for which all-zero
    // bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// `syscall(number, args…)`. The words are passed as `long`s and padded to six: the kernel reads
/// only the arguments the syscall takes.
///
/// # Safety
/// `args` must be what syscall `number` expects (addresses valid for the accesses it makes).
pub(super) unsafe fn syscall(number: c_int, args: &[usize]) -> c_int {
    let mut a = [0usize; 6];
    for (slot, value) in a.iter_mut().zip(args) {
        *slot = *value;
    }
    // SAFETY: forwarded caller guarantee.
    unsafe { libc::syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]) as c_int }
}

/// `sysctlbyname(name, value, len, NULL, 0)`: a read.
///
/// # Safety
/// `value` valid for `*len` bytes of writes; `len` valid for reads and writes.
pub(super) unsafe fn sysctlbyname(name: &CStr, value: *mut c_void, len: *mut usize) -> c_int {
    // SAFETY: `name` is NUL-terminated; the rest is the caller's guarantee.
    unsafe { libc::sysctlbyname(name.as_ptr(), value, len, std::ptr::null_mut(), 0) }
}

/// `close(fd)`.
pub(super) fn close(fd: c_int) -> c_int {
    // SAFETY: closing a descriptor has no memory-safety preconditions; the callers own `fd`.
    unsafe { libc::close(fd) }
}

/// `kqueue()`.
pub(super) fn kqueue() -> c_int {
    // SAFETY: no preconditions.
    unsafe { libc::kqueue() }
}

/// Sets `FD_CLOEXEC` on `fd` (`fcntl(F_SETFD)`).
pub(super) fn set_cloexec(fd: c_int) -> c_int {
    // SAFETY: no memory is involved.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }
}

/// `kevent(kq, changes, nchanges, events, nevents, timeout)`.
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
    unsafe { libc::kevent(kq, changes, nchanges, events, nevents, timeout) }
}
