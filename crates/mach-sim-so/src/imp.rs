//! The exported calls (see the crate docs).

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use iokit_notify::registry::{SimDevice, SimRegistry};
use mach_abi::kevent_freebsd;
use mach_sim::trap;

/// Runs a trap-face call, turning a panic into `-1` with `errno` = `EIO`.
fn guard_errno(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        // SAFETY: `__errno_location` returns a valid pointer to the calling thread's errno.
        unsafe { *libc::__errno_location() = libc::EIO };
        -1
    })
}

/// Most words a trap takes (`syscall(2)` passes six).
pub const MACH_SIM_TRAP_MAX_ARGS: usize = 6;

/// `syscall(number, args[0], …, args[nargs - 1])` on the simulated kernel: a Mach trap by the
/// number `sysctlbyname("mach.syscall.<name>")` published, with NextBSD's argument list and
/// return convention for that trap. Words beyond `nargs` read as a register's leftover
/// contents, as on the real system. `nargs` above [`MACH_SIM_TRAP_MAX_ARGS`], or `args` NULL
/// with `nargs` > 0: -1 with `errno` = `EINVAL`.
///
/// # Safety
/// `args` valid for `nargs` reads; the words are what trap `number` expects (addresses valid for
/// the accesses it makes, as the kernel's copyin/copyout would need).
#[no_mangle]
pub unsafe extern "C" fn mach_sim_trap_syscall(
    number: c_int,
    args: *const usize,
    nargs: usize,
) -> c_int {
    if nargs > MACH_SIM_TRAP_MAX_ARGS || (args.is_null() && nargs > 0) {
        // SAFETY: as in `guard_errno`.
        unsafe { *libc::__errno_location() = libc::EINVAL };
        return -1;
    }
    let words: &[usize] = if nargs == 0 {
        &[]
    } else {
        // SAFETY: non-null and valid for `nargs` reads (caller's guarantee).
        unsafe { std::slice::from_raw_parts(args, nargs) }
    };
    // SAFETY: forwarded caller guarantee.
    guard_errno(|| unsafe { trap::syscall(number, words) })
}

/// `sysctlbyname(name, oldp, oldlenp, newp, newlen)`: the `mach.syscall.*` trap numbers
/// (`ENOENT` for any other name; writes fail with `EPERM`).
///
/// # Safety
/// `name` NULL or a C string; `oldp` NULL or valid for `*oldlenp` bytes of writes; `oldlenp`
/// NULL or valid for reads and writes.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_trap_sysctlbyname(
    name: *const c_char,
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *const c_void,
    newlen: usize,
) -> c_int {
    // SAFETY: forwarded caller guarantee (the trap face checks `name` for NULL).
    guard_errno(|| unsafe { trap::sysctlbyname(name, oldp, oldlenp, newp, newlen) })
}

/// `close(fd)`: a Mach name is a descriptor, so closing a receive right's name destroys the
/// port and closing a port set's destroys the set; a trap-face kqueue or device descriptor is
/// closed; any other descriptor goes to the C library's `close`.
#[no_mangle]
pub extern "C" fn mach_sim_trap_close(fd: c_int) -> c_int {
    guard_errno(|| trap::close(fd))
}

/// `kqueue()`: a new kqueue of the process's task (a real, pollable descriptor).
#[no_mangle]
pub extern "C" fn mach_sim_trap_kqueue() -> c_int {
    guard_errno(trap::kqueue)
}

/// FreeBSD `kevent(2)` with the 64-byte `struct kevent` on a descriptor from
/// [`mach_sim_trap_kqueue`] (`EVFILT_MACHPORT` = −16 with NextBSD's semantics).
///
/// # Safety
/// As `kevent(2)`: `changes` valid for `nchanges` reads, `events` for `nevents` writes,
/// `timeout` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_trap_kevent(
    kq: c_int,
    changes: *const kevent_freebsd,
    nchanges: c_int,
    events: *mut kevent_freebsd,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: forwarded caller guarantee.
    guard_errno(|| unsafe { trap::kevent(kq, changes, nchanges, events, nevents, timeout) })
}

/// `open(path, flags)` of a device the simulated machine serves (`/dev/ioregistry` after
/// [`mach_sim_boot`]); `ENOENT` for any other path.
///
/// # Safety
/// `path` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_trap_open(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: forwarded caller guarantee.
    guard_errno(|| unsafe { trap::open(path, flags) })
}

/// `ioctl(fd, cmd, arg)` on a descriptor from [`mach_sim_trap_open`] (`/dev/ioregistry`:
/// `IOREGIOCROOT`, `IOREGIOCNODE`, `IOREGIOCLOOKUP`, `IOREGIOCWATCH`, `IOREGIOCTESTEVENT`).
///
/// # Safety
/// `arg` points to the structure `cmd` encodes, valid for the accesses it makes.
#[no_mangle]
// `c_ulong` is `u64` here but 32 bits on ILP32 targets: the conversion is not useless everywhere.
#[allow(clippy::useless_conversion)]
pub unsafe extern "C" fn mach_sim_trap_ioctl(fd: c_int, cmd: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: forwarded caller guarantee.
    guard_errno(|| unsafe { trap::ioctl(fd, u64::from(cmd), arg) })
}

/// Boots the simulated machine's devices: serves the global simulated registry as
/// `/dev/ioregistry` on the trap face. Idempotent. Returns 0 (or `EIO` after a simulator bug).
#[no_mangle]
pub extern "C" fn mach_sim_boot() -> c_int {
    catch_unwind(|| SimRegistry::global().install_device()).map_or(libc::EIO, |()| 0)
}

/// Stops serving `/dev/ioregistry` (descriptors already open keep working). Returns 0 (or
/// `EIO`).
#[no_mangle]
pub extern "C" fn mach_sim_shutdown() -> c_int {
    catch_unwind(|| {
        SimRegistry::uninstall_device();
    })
    .map_or(libc::EIO, |()| 0)
}

/// `s` as text; NULL is empty.
///
/// # Safety
/// `s` NULL or a C string.
unsafe fn text(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: a C string per the caller's contract.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// A device arrives (newbus `device_probe_and_attach`): the registry node is created and every
/// matching watch gets its ARRIVE and MATCHED messages before this returns. `klass` and
/// `driver` NULL mean the same as `name`. Returns the node's registry id (0 after a simulator
/// bug).
///
/// # Safety
/// Each string NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_device_attach(
    name: *const c_char,
    klass: *const c_char,
    driver: *const c_char,
) -> u64 {
    // SAFETY: forwarded caller guarantee.
    let (name, klass, driver) = unsafe { (text(name), text(klass), text(driver)) };
    catch_unwind(|| {
        let mut dev = SimDevice::new(&name);
        if !klass.is_empty() {
            dev.class = klass;
        }
        if !driver.is_empty() {
            dev.driver = driver;
        }
        SimRegistry::global().probe_and_attach(dev)
    })
    .unwrap_or(0)
}

/// A device leaves (newbus `device_detach`): DEPART is sent to matching watches. Returns 0, or
/// `ENOENT` for no live node with that id (`EIO` after a simulator bug).
#[no_mangle]
pub extern "C" fn mach_sim_device_detach(id: u64) -> c_int {
    catch_unwind(|| match SimRegistry::global().detach(id) {
        Ok(()) => 0,
        Err(e) => e.errno().unwrap_or(libc::ENXIO),
    })
    .unwrap_or(libc::EIO)
}

/// Kernel watches on `/dev/ioregistry` registered and not yet pruned (a watch whose port died
/// is pruned at the next emission). `UINT32_MAX` after a simulator bug.
#[no_mangle]
pub extern "C" fn mach_sim_device_watches() -> u32 {
    catch_unwind(|| u32::try_from(SimRegistry::global().watch_count()).unwrap_or(u32::MAX))
        .unwrap_or(u32::MAX)
}
