//! Raw calls of the NextBSD registry backend, on the C library (`raw_sim.rs` has the same
//! functions over the simulated kernel's trap face). C conventions: −1 and `errno` on failure.

use std::ffi::CStr;

use libc::{c_int, c_void};

/// `open(path, flags)`.
///
/// # Safety
/// None beyond the C call's: `path` is NUL-terminated by type.
pub(super) unsafe fn open(path: &CStr, flags: c_int) -> c_int {
    // SAFETY: a NUL-terminated path.
    unsafe { libc::open(path.as_ptr(), flags) }
}

/// `ioctl(fd, cmd, arg)`.
///
/// # Safety
/// `arg` must point to the value `cmd` encodes, valid for the accesses it makes.
pub(super) unsafe fn ioctl(fd: c_int, cmd: u32, arg: *mut c_void) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg) }
}

/// `close(fd)`.
pub(super) fn close(fd: c_int) -> c_int {
    // SAFETY: closing a descriptor the caller owns; no memory is involved.
    unsafe { libc::close(fd) }
}
