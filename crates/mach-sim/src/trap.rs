//! The trap face: the kernel interface NextBSD userland sees *below* libmach.
//!
//! The libmach C ABI in [`crate::ffi`] answers calls the way NextBSD's libmach *should*. This
//! module answers them the way NextBSD's **kernel** does (`mach-abi.md` §9.1–§9.3), so that code
//! written for the real system — `mach-async`'s NextBSD backend, `iokit-notify`'s
//! `/dev/ioregistry` backend — can run unchanged on Linux ("NextBSD over sim"), with only its
//! handful of raw calls routed here instead of to libc:
//!
//! | NextBSD call | here | convention |
//! |---|---|---|
//! | `sysctlbyname("mach.syscall.<trap>")` | [`sysctlbyname`] | an `int` trap number; `ENOENT` for a trap that is not wired |
//! | `syscall(number, …)` | [`syscall`] | each trap's own argument list and return convention (below) |
//! | `close(fd)` | [`close`] | a Mach name is a descriptor: closing it destroys a receive right or set |
//! | `kqueue()`, `kevent()` | [`kqueue()`], [`kevent()`] | FreeBSD 12's 64-byte `struct kevent`, `EVFILT_MACHPORT` = −16 |
//! | `open()`, `ioctl()` | [`open`], [`ioctl`] | device files registered with [`register_device`] (e.g. `/dev/ioregistry`) |
//!
//! # Traps
//! [`TRAPS`] lists the 14 wired traps with their numbers and argument counts. Their conventions
//! are NextBSD's, not libmach's:
//! * `mach_port_allocate(task, right, *name)` is errno-style: `0`, or `-1` with `errno` = the
//!   `kern_return_t` (`EFAULT` when `name` cannot be written).
//! * `mach_port_deallocate(task, name)` always returns `0`: the kernel discards the result.
//! * `mach_port_request_notification(name, msgid, sync, notify, notifyPoly, *previous)` takes six
//!   arguments and **no task**.
//! * `mach_port_insert_right(task, name, poly, polyPoly)` requires `name == poly`
//!   (`0x1000_0003` otherwise).
//! * `mach_msg_trap` takes six arguments (no `notify`).
//! * The `task` / `host` argument of every call is ignored: the caller's task is used.
//! * `task_self_trap` returns the task's pseudo name (see [`crate::ffi`]); in the simulation it
//!   is not a counted right.
//!
//! # Faithful failures
//! A caller that gets an argument list wrong must fail here as it would on NextBSD, never
//! corrupt memory. So:
//! * Arguments are machine words, decoded per trap exactly as the kernel's `struct *_args` do: a
//!   32-bit argument is the low half of its word.
//! * A missing argument (fewer words than the trap takes) reads as [`GARBAGE`]: on the real
//!   system the register holds whatever was there.
//! * A user address the kernel would copy in or out of is checked first: an address below
//!   64 KiB (Linux's `mmap_min_addr`; where every port name and small integer lands) or outside
//!   the canonical user half is a fault (`EFAULT`, `KERN_INVALID_ADDRESS`,
//!   `MACH_SEND_INVALID_DATA` / `MACH_RCV_INVALID_DATA`), as the kernel's `copyin`/`copyout`
//!   would report.
//!
//! # Which task
//! Every call acts on the calling thread's [`Task::current`]: for a process using the trap face
//! that is the global kernel's default task, one IPC space per process, as on NextBSD. With the
//! `nextbsd-traps` feature the global kernel's names are real descriptors
//! ([`crate::KernelConfig::names_are_descriptors`]), so [`close`] can tell a Mach name from any
//! other descriptor exactly as NextBSD's single descriptor table does.

use crate::ffi::{self, kqueues, set_errno};
use crate::{Name, Task};
use libc::{c_char, c_int, c_long, c_void};
use mach_abi::*;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A machine word as `syscall(2)` passes it.
pub type Word = usize;

/// The value an argument the caller did not pass reads as (a register's leftover contents).
pub const GARBAGE: Word = 0xdead_beef_dead_beef_u64 as Word;

/// One wired trap: its `mach.syscall.` name, its syscall number and how many arguments it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapInfo {
    /// The name under `mach.syscall.`.
    pub name: &'static str,
    /// The syscall number the sysctl publishes (FreeBSD's loadable-syscall band).
    pub number: c_int,
    /// Arguments the trap reads.
    pub args: usize,
}

const fn trap(name: &'static str, number: c_int, args: usize) -> TrapInfo {
    TrapInfo { name, number, args }
}

/// The 14 wired traps (`mach-abi.md` §9.1). The unwired handlers (`mach_port_mod_refs`,
/// `mach_port_destroy`, `mach_port_insert_member`, …) have no sysctl.
pub const TRAPS: [TrapInfo; 14] = [
    trap("mach_reply_port", 210, 0),
    trap("task_self_trap", 211, 0),
    trap("thread_self_trap", 212, 0),
    trap("host_self_trap", 213, 0),
    trap("mach_msg_trap", 214, 6),
    trap("mach_port_allocate", 215, 3),
    trap("mach_port_deallocate", 216, 2),
    trap("mach_port_insert_right", 217, 4),
    trap("mach_port_request_notification", 218, 6),
    trap("task_get_special_port", 219, 3),
    trap("task_set_special_port", 603, 3),
    trap("host_set_special_port", 604, 3),
    trap("mach_port_move_member", 605, 3),
    trap("mach_wait_quiet", 606, 1),
];

/// `TASK_BOOTSTRAP_PORT`, the special port `task_get_special_port` answers.
const TASK_BOOTSTRAP_PORT: u32 = 4;

/// Whether the kernel could copy in or out of `addr` (see the module docs).
fn user_address_ok(addr: Word) -> bool {
    const MMAP_MIN_ADDR: Word = 0x1_0000;
    const USER_TOP: u64 = 0x0000_8000_0000_0000;
    addr >= MMAP_MIN_ADDR && (addr as u64) < USER_TOP
}

/// The low 32 bits of a word, as the kernel's `int`/`mach_port_name_t` argument fields read it.
fn low32(w: Word) -> u32 {
    w as u32
}

/// `sysctlbyname(3)` for the `mach.syscall.*` names: writes the trap's number as an `int`.
/// Unknown names fail with `ENOENT`; a write (`newp`) with `EPERM` (the sysctls are read-only);
/// too small a buffer with `ENOMEM`. Returns 0 or -1 with `errno`.
///
/// # Safety
/// `name` must be a NUL-terminated string; `oldp` null or valid for `*oldlenp` bytes of writes;
/// `oldlenp` null or valid for reads and writes of a `usize`.
pub unsafe fn sysctlbyname(
    name: *const c_char,
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *const c_void,
    newlen: usize,
) -> c_int {
    if name.is_null() {
        set_errno(libc::EFAULT);
        return -1;
    }
    // SAFETY: non-null and NUL-terminated (caller's guarantee).
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    let Some(info) = name
        .strip_prefix(b"mach.syscall.")
        .and_then(|t| TRAPS.iter().find(|i| i.name.as_bytes() == t))
    else {
        set_errno(libc::ENOENT);
        return -1;
    };
    if !newp.is_null() || newlen != 0 {
        set_errno(libc::EPERM);
        return -1;
    }
    if oldlenp.is_null() {
        set_errno(libc::EFAULT);
        return -1;
    }
    let size = std::mem::size_of::<c_int>();
    if !oldp.is_null() {
        // SAFETY: `oldlenp` is non-null and valid (caller's guarantee).
        if unsafe { oldlenp.read() } < size {
            set_errno(libc::ENOMEM);
            return -1;
        }
        // SAFETY: `oldp` has room for `*oldlenp` >= 4 bytes (caller's guarantee).
        unsafe { oldp.cast::<c_int>().write_unaligned(info.number) };
    }
    // SAFETY: as above.
    unsafe { oldlenp.write(size) };
    0
}

/// `syscall(2)` for the wired Mach traps: `number` as [`sysctlbyname`] published it, `args` the
/// words the caller passed (missing ones read as [`GARBAGE`], extra ones are ignored). Returns
/// the trap's result with its own convention (see the module docs); an unknown number fails
/// with `-1` / `ENOSYS`, as FreeBSD answers an unregistered syscall.
///
/// # Safety
/// Every argument the trap uses as a user address and that passes the address check must be
/// valid for the access the trap makes (a message buffer of the sizes given, a `u32` out-value),
/// as the real kernel's `copyin`/`copyout` would require of a mapped address.
pub unsafe fn syscall(number: c_int, args: &[Word]) -> c_int {
    let Some(info) = TRAPS.iter().find(|i| i.number == number) else {
        set_errno(libc::ENOSYS);
        return -1;
    };
    let arg = |i: usize| args.get(i).copied().unwrap_or(GARBAGE);
    let result = ffi::guard(None, || {
        // SAFETY: forwarded caller guarantee.
        Some(unsafe { dispatch(info.name, &arg) })
    });
    match result {
        Some(Ok(value)) => value,
        Some(Err(errno)) => {
            set_errno(errno);
            -1
        }
        None => {
            // A panic inside the simulator (a simulator bug): the call failed.
            set_errno(libc::EIO);
            -1
        }
    }
}

/// Runs one trap; `Err` is an errno for the `-1` return.
///
/// # Safety
/// See [`syscall`].
unsafe fn dispatch(name: &str, arg: &dyn Fn(usize) -> Word) -> Result<c_int, c_int> {
    let task = Task::current();
    let kr_value = |kr: kern_return_t| Ok(kr as c_int);
    match name {
        "mach_reply_port" => Ok(task.reply_port() as c_int),
        "task_self_trap" => Ok(ffi::task_self_name(&task) as c_int),
        // Threads and hosts are not modelled: the failure value of a name trap.
        "thread_self_trap" | "host_self_trap" => Ok(0),
        "mach_msg_trap" => {
            let (msg, option) = (arg(0), low32(arg(1)) as mach_msg_option_t);
            let (send_size, rcv_size) = (low32(arg(2)), low32(arg(3)));
            let (rcv_name, timeout) = (low32(arg(4)), low32(arg(5)));
            let sending = option & MACH_SEND_MSG != 0;
            let receiving = option & MACH_RCV_MSG != 0;
            if (sending || receiving) && !user_address_ok(msg) {
                return Ok(if sending {
                    MACH_SEND_INVALID_DATA
                } else {
                    MACH_RCV_INVALID_DATA
                } as c_int);
            }
            let msg = msg as *mut mach_msg_header_t;
            // SAFETY: a plausible user address; the caller guarantees it is a buffer of the
            // sizes given (the `syscall` contract), as `Task::mach_msg` requires.
            let mr =
                unsafe { task.mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, 0) };
            Ok(mr as c_int)
        }
        "mach_port_allocate" => {
            let (right, out) = (low32(arg(1)), arg(2));
            if !user_address_ok(out) {
                return Err(libc::EFAULT);
            }
            match task.port_allocate(right) {
                Ok(name) => {
                    // SAFETY: a plausible user address the caller guarantees is writable.
                    unsafe { (out as *mut Name).write_unaligned(name) };
                    Ok(0)
                }
                Err(kr) => Err(kr),
            }
        }
        "mach_port_deallocate" => {
            let name = low32(arg(1));
            if !ffi::is_pseudo_name(name) {
                let _ = task.port_deallocate(name);
            }
            Ok(0)
        }
        "mach_port_insert_right" => {
            let (name, poly, poly_poly) = (low32(arg(1)), low32(arg(2)), low32(arg(3)));
            if name != poly {
                return kr_value(MACH_SEND_INVALID_DEST as kern_return_t);
            }
            kr_value(kr(task.port_insert_right(name, poly, poly_poly)))
        }
        "mach_port_request_notification" => {
            let (name, msgid, sync) =
                (low32(arg(0)), low32(arg(1)) as mach_msg_id_t, low32(arg(2)));
            let (notify, notify_poly, previous) = (low32(arg(3)), low32(arg(4)), arg(5));
            if !user_address_ok(previous) {
                return kr_value(KERN_INVALID_ADDRESS);
            }
            match task.port_request_notification(name, msgid, sync, notify, notify_poly) {
                Ok(prev) => {
                    // SAFETY: a plausible user address the caller guarantees is writable.
                    unsafe { (previous as *mut Name).write_unaligned(prev) };
                    kr_value(KERN_SUCCESS)
                }
                Err(code) => kr_value(code),
            }
        }
        "task_get_special_port" => {
            let (which, out) = (low32(arg(1)), arg(2));
            if !user_address_ok(out) {
                return kr_value(KERN_INVALID_ADDRESS);
            }
            if which != TASK_BOOTSTRAP_PORT {
                return kr_value(KERN_INVALID_ARGUMENT);
            }
            // SAFETY: a plausible user address the caller guarantees is writable.
            unsafe { (out as *mut Name).write_unaligned(ffi::sim::MACH_SIM_BOOTSTRAP_PORT) };
            kr_value(KERN_SUCCESS)
        }
        // Special ports are not settable in the simulation.
        "task_set_special_port" | "host_set_special_port" => kr_value(KERN_NOT_SUPPORTED),
        "mach_port_move_member" => {
            let (member, after) = (low32(arg(1)), low32(arg(2)));
            kr_value(kr(task.port_move_member(member, after)))
        }
        "mach_wait_quiet" => {
            let ns = arg(0) as u64;
            std::thread::sleep(if ns == 0 {
                Duration::from_millis(10)
            } else {
                Duration::from_nanos(ns)
            });
            kr_value(KERN_SUCCESS)
        }
        _ => Err(libc::ENOSYS),
    }
}

fn kr(r: crate::KernResult<()>) -> kern_return_t {
    r.err().unwrap_or(KERN_SUCCESS)
}

/// `close(2)`: a Mach name of the current task is closed as NextBSD closes a `DTYPE_MACH_IPC`
/// file (`mach-abi.md` §9.3: the last close of a set destroys it, of a receive right destroys the
/// port, otherwise the entry is dropped); a kqueue from [`kqueue`] or a device file from [`open`]
/// is released; anything else goes to the C library's `close`. Returns 0 or -1 with `errno`.
pub fn close(fd: c_int) -> c_int {
    let task = Task::current();
    if let Ok(name) = Name::try_from(fd) {
        if !ffi::is_pseudo_name(name) && task.port_type(name).is_ok() {
            // NextBSD's close of a Mach descriptor reports success.
            let _ = task.port_close(name);
            return 0;
        }
    }
    if kqueues::close(fd).is_ok() {
        return 0;
    }
    if let Some(file) = devices().files.remove(&fd) {
        drop(file);
        // SAFETY: `fd` is the descriptor `open` created for this device file; it was just
        // removed from the table, so nothing else refers to it.
        return unsafe { libc::close(fd) };
    }
    // SAFETY: closing a descriptor the caller names, as `close(2)` does.
    unsafe { libc::close(fd) }
}

/// `kqueue(2)`: a simulated kqueue of the current task. Returns its descriptor or -1.
pub fn kqueue() -> c_int {
    ffi::sim::mach_sim_kqueue()
}

/// FreeBSD `kevent(2)` with the 64-byte `struct kevent`, on a kqueue from [`kqueue`]
/// (`EBADF` for any other descriptor).
///
/// # Safety
/// As `kevent(2)`: `changes` valid for `nchanges` reads, `events` for `nevents` writes, `timeout`
/// null or valid for reading a `timespec`.
pub unsafe fn kevent(
    kq: c_int,
    changes: *const kevent_freebsd,
    nchanges: c_int,
    events: *mut kevent_freebsd,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: forwarded caller guarantee.
    unsafe { ffi::sim::mach_sim_kevent(kq, changes, nchanges, events, nevents, timeout) }
}

/// A character device the trap face serves (`open` + `ioctl`), such as a simulated
/// `/dev/ioregistry`.
pub trait Device: Send + Sync {
    /// One `ioctl(2)` on an open file of this device, made by `task`. `Err` is the errno.
    ///
    /// # Safety
    /// `arg` is the caller's argument: for a command this device accepts it must point to a
    /// value of the type the command encodes, valid for reads and (for commands that copy out)
    /// writes. Implementations must check `cmd` before using `arg`.
    unsafe fn ioctl(&self, task: &Task, cmd: u64, arg: *mut c_void) -> Result<(), c_int>;
}

struct Devices {
    by_path: BTreeMap<String, Arc<dyn Device>>,
    files: BTreeMap<RawFd, Arc<dyn Device>>,
}

fn devices() -> MutexGuard<'static, Devices> {
    static DEVICES: Mutex<Devices> = Mutex::new(Devices {
        by_path: BTreeMap::new(),
        files: BTreeMap::new(),
    });
    // No invariant spans an update: a holder's panic leaves the tables usable.
    DEVICES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes `path` a device of the trap face (replacing and returning any previous one). Files
/// already open on a replaced device keep it until they are closed.
pub fn register_device(path: &str, device: Arc<dyn Device>) -> Option<Arc<dyn Device>> {
    devices().by_path.insert(path.to_owned(), device)
}

/// Removes the device at `path` (open files keep it until closed).
pub fn unregister_device(path: &str) -> Option<Arc<dyn Device>> {
    devices().by_path.remove(path)
}

/// `open(2)`: a file on a registered device (a real descriptor, close-on-exec, so the number is
/// the process's own); any path without a registered device goes to the C library's `open`.
/// Returns the descriptor or -1 with `errno`.
///
/// # Safety
/// `path` must be a NUL-terminated string.
pub unsafe fn open(path: *const c_char, flags: c_int) -> c_int {
    if path.is_null() {
        set_errno(libc::EFAULT);
        return -1;
    }
    // SAFETY: non-null and NUL-terminated (caller's guarantee).
    let name = unsafe { CStr::from_ptr(path) }
        .to_string_lossy()
        .into_owned();
    let mut devs = devices();
    let Some(device) = devs.by_path.get(&name).cloned() else {
        drop(devs);
        // SAFETY: forwarded caller guarantee (NUL-terminated path).
        return unsafe { libc::open(path, flags) };
    };
    // SAFETY: a NUL-terminated path; the descriptor only stands for the open device file.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd >= 0 {
        devs.files.insert(fd, device);
    }
    fd
}

/// `ioctl(2)`: a command on a registered device's open file; any other descriptor goes to the
/// C library's `ioctl`. Returns 0 or -1 with `errno`.
///
/// # Safety
/// As `ioctl(2)`: `arg` must point to the value `cmd` encodes (see [`Device::ioctl`]).
pub unsafe fn ioctl(fd: c_int, cmd: u64, arg: *mut c_void) -> c_int {
    let device = devices().files.get(&fd).cloned();
    let Some(device) = device else {
        // SAFETY: forwarded caller guarantee.
        return unsafe { libc::ioctl(fd, cmd as _, arg) };
    };
    let task = Task::current();
    // SAFETY: forwarded caller guarantee.
    match ffi::guard(Err(libc::EIO), || unsafe { device.ioctl(&task, cmd, arg) }) {
        Ok(()) => 0,
        Err(errno) => {
            set_errno(errno);
            -1
        }
    }
}

// `syscall(2)` passes `long`s; a word must hold one.
const _: () = assert!(std::mem::size_of::<Word>() == std::mem::size_of::<c_long>());
