//! Raw calls of the NextBSD registry backend on the *shared* simulated kernel (cfg
//! `mach_trap_so`, Stage 4 on Linux; see `mach_async::sys` and docs/stage4-linking.md): the
//! same functions as `raw_os.rs`, each an undefined C symbol `mach_sim_trap_*` resolved at load
//! time to `libmach_sim.so`, which serves `/dev/ioregistry`.

use std::ffi::CStr;

use libc::{c_char, c_int, c_ulong, c_void};

extern "C" {
    fn mach_sim_trap_open(path: *const c_char, flags: c_int) -> c_int;
    fn mach_sim_trap_ioctl(fd: c_int, cmd: c_ulong, arg: *mut c_void) -> c_int;
    fn mach_sim_trap_close(fd: c_int) -> c_int;
}

/// `open(path, flags)` on the shared trap face.
///
/// # Safety
/// None beyond the C call's: `path` is NUL-terminated by type.
pub(super) unsafe fn open(path: &CStr, flags: c_int) -> c_int {
    // SAFETY: a NUL-terminated path.
    unsafe { mach_sim_trap_open(path.as_ptr(), flags) }
}

/// `ioctl(fd, cmd, arg)` on the shared trap face.
///
/// # Safety
/// `arg` must point to the value `cmd` encodes, valid for the accesses it makes.
pub(super) unsafe fn ioctl(fd: c_int, cmd: u32, arg: *mut c_void) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { mach_sim_trap_ioctl(fd, c_ulong::from(cmd), arg) }
}

/// `close(fd)` on the shared trap face.
pub(super) fn close(fd: c_int) -> c_int {
    // SAFETY: no memory is involved; the caller owns `fd`.
    unsafe { mach_sim_trap_close(fd) }
}
