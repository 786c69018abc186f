//! Raw calls of the NextBSD registry backend on the simulated kernel's trap face ("NextBSD over
//! sim"; see `mach_async::sys`). The same functions as `raw_os.rs`, forwarded to
//! `mach_sim::trap`, where [`super::SimRegistry::install_device`] serves `/dev/ioregistry`.

use std::ffi::CStr;

use libc::{c_int, c_void};
use mach_sim::trap;

/// `open(path, flags)` on the trap face.
///
/// # Safety
/// None beyond the C call's: `path` is NUL-terminated by type.
pub(super) unsafe fn open(path: &CStr, flags: c_int) -> c_int {
    // SAFETY: a NUL-terminated path.
    unsafe { trap::open(path.as_ptr(), flags) }
}

/// `ioctl(fd, cmd, arg)` on the trap face.
///
/// # Safety
/// `arg` must point to the value `cmd` encodes, valid for the accesses it makes.
pub(super) unsafe fn ioctl(fd: c_int, cmd: u32, arg: *mut c_void) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { trap::ioctl(fd, u64::from(cmd), arg) }
}

/// `close(fd)` on the trap face.
pub(super) fn close(fd: c_int) -> c_int {
    trap::close(fd)
}
