//! Simulation-only C calls: tasks, kqueues with NextBSD's `EVFILT_MACHPORT`, and accounting.
//!
//! `<mach_sim.h>` is generated from this file (and `struct kevent` / the `EV_*` flags from
//! `mach-abi`'s `kevent.rs`) by cbindgen; `crates/c-abi-tests` fails when the checked-in header is
//! stale (`UPDATE_HEADERS=1 cargo test -p c-abi-tests --test headers` rewrites it). The filter
//! numbers (`EVFILT_MACHPORT` = -16, `EVFILT_READ` = -1) are written in `cbindgen.toml`, because
//! cbindgen would not parenthesise a negative `#define`; the C ABI tests check them against
//! `mach-abi`.
//!
//! Every call acts on the kernel of the calling thread's current task: the process-wide global
//! kernel unless Rust code entered a task of a kernel of its own.

use super::{current_kernel, current_task, guard, guard_errno, kqueues};
use crate::KernelStats;
use mach_abi::{
    kern_return_t, kevent_freebsd, mach_port_name_t, KERN_FAILURE, KERN_INVALID_TASK, KERN_SUCCESS,
};
use std::ffi::{c_char, c_int, CStr};
use std::io;
use std::time::Duration;

/// The value of `bootstrap_port`: a pseudo name, never a port name and never counted as a right.
pub const MACH_SIM_BOOTSTRAP_PORT: mach_port_name_t = 0x6000_0000_u32;

/// `mach_task_self()` returns `MACH_SIM_TASK_SELF_BASE | (task id & ~MACH_SIM_PSEUDO_NAME_MASK)`:
/// a pseudo name, stable and non-zero per task, never a port name and never counted as a right.
pub const MACH_SIM_TASK_SELF_BASE: mach_port_name_t = 0x7000_0000_u32;

/// Mask of the tag bits of the pseudo names.
pub const MACH_SIM_PSEUDO_NAME_MASK: mach_port_name_t = 0xF000_0000_u32;

/// Largest number of events one `mach_sim_kevent` call returns (larger `nevents` are clamped, as
/// a kernel may return fewer events than there is room for).
pub const MACH_SIM_KEVENT_MAX_EVENTS: c_int = 4096;

/// Creates a simulated task (IPC space) whose audit token carries `pid`, `euid` and `egid`
/// (`name` is for diagnostics and may be NULL). Returns its id, or 0 on failure. The task lives
/// until `mach_sim_task_terminate`.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_task_create(
    name: *const c_char,
    pid: u32,
    euid: u32,
    egid: u32,
) -> u32 {
    let name = if name.is_null() {
        String::new()
    } else {
        // SAFETY: non-null and NUL-terminated (caller's guarantee).
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    };
    guard(0, || {
        current_kernel().task_create(&name, pid, euid, egid).id()
    })
}

/// Makes `task` the calling thread's current task and returns the previous one's id (the
/// default task's id if none was entered), so `mach_sim_task_enter(previous)` switches back.
/// Returns 0 and changes nothing if `task` is not a live task, or at thread or process exit
/// (the thread's storage destroyed).
#[no_mangle]
pub extern "C" fn mach_sim_task_enter(task: u32) -> u32 {
    guard(0, || {
        let Ok(current) = current_task() else {
            return 0;
        };
        match current.kernel().task(task) {
            Some(next) => {
                let _ = next.set_current();
                current.id()
            }
            None => 0,
        }
    })
}

/// The id of the calling thread's current task (0 on failure, and at thread or process exit).
#[no_mangle]
pub extern "C" fn mach_sim_task_current() -> u32 {
    guard(0, || current_task().map_or(0, |t| t.id()))
}

/// Terminates `task`: destroys every right it holds (its receive rights' ports die, with the
/// dead-name, port-destroyed, send-once and no-senders notifications that follow) and drops its
/// kqueues' knotes. `KERN_INVALID_TASK` if there is no such live task.
#[no_mangle]
pub extern "C" fn mach_sim_task_terminate(task: u32) -> kern_return_t {
    guard(KERN_FAILURE, || match current_kernel().task(task) {
        Some(t) => match t.terminate() {
            Ok(()) => KERN_SUCCESS,
            Err(kr) => kr,
        },
        None => KERN_INVALID_TASK,
    })
}

/// NextBSD's `close(name)` on a Mach name, in the current task: the last close of a port set
/// destroys it; of a receive right destroys the port (queued messages destroyed, send rights
/// elsewhere become dead names); otherwise the entry (every right under the name) is dropped.
#[no_mangle]
pub extern "C" fn mach_sim_port_close(name: mach_port_name_t) -> kern_return_t {
    guard(KERN_FAILURE, || {
        match current_task().and_then(|t| t.port_close(name)) {
            Ok(()) => KERN_SUCCESS,
            Err(kr) => kr,
        }
    })
}

/// Creates a kqueue owned by the current task (knote idents are names in that task) and returns
/// a pollable file descriptor for it: readable while events are queued. Release it with
/// `mach_sim_kqueue_close`; after a plain `close()` the number is stale and `mach_sim_kevent`
/// answers `EBADF`. Returns -1 with `errno` set on failure (`ESRCH` at thread or process exit).
#[no_mangle]
pub extern "C" fn mach_sim_kqueue() -> c_int {
    guard_errno(|| {
        let task = current_task().map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        kqueues::open(&task)
    })
}

/// Closes a kqueue made by `mach_sim_kqueue`, deleting its knotes. Returns 0, or -1 with `errno`
/// = `EBADF` if `kq` is not such a kqueue (or was already closed with plain `close()`, in which
/// case the descriptor number is left alone).
#[no_mangle]
pub extern "C" fn mach_sim_kqueue_close(kq: c_int) -> c_int {
    guard_errno(|| kqueues::close(kq).map(|()| 0))
}

/// FreeBSD `kevent(2)` on a simulated kqueue, with FreeBSD 12's 64-byte `struct kevent`.
///
/// Applies the `nchanges` changes (`EVFILT_MACHPORT` on port-set names of the kqueue's task),
/// then collects up to `nevents` events, waiting up to `*timeout` (NULL: forever; `{0, 0}`:
/// poll). Returns the number of events stored, or -1 with `errno`. A failed change is reported as
/// an `EV_ERROR` event whose `data` is the errno when `events` has room (or the change has
/// `EV_RECEIPT`), otherwise as -1 with that `errno` (`ENOENT`: no such name; `ENOTSUP`: not a
/// port set; `EINVAL`: unknown filter). `EBADF` if `kq` is not a live simulated kqueue; `EINVAL`
/// for a negative count or a bad timeout; `EFAULT` for a NULL array with a non-zero count.
///
/// # Safety
/// `changes` must be valid for reading `nchanges` events, `events` for writing `nevents` events
/// and `timeout` NULL or valid for reading a `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn mach_sim_kevent(
    kq: c_int,
    changes: *const kevent_freebsd,
    nchanges: c_int,
    events: *mut kevent_freebsd,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    guard_errno(|| {
        let (Ok(nchanges), Ok(nevents)) = (usize::try_from(nchanges), usize::try_from(nevents))
        else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        if (nchanges > 0 && changes.is_null()) || (nevents > 0 && events.is_null()) {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        let timeout = if timeout.is_null() {
            None
        } else {
            // SAFETY: non-null and readable (caller's guarantee); no alignment is assumed.
            let ts = unsafe { timeout.read_unaligned() };
            let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec))
            else {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            };
            if nanos >= 1_000_000_000 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            Some(Duration::new(secs, nanos))
        };
        let kq = kqueues::get(kq)?;
        let changes: Vec<kevent_freebsd> = (0..nchanges)
            // SAFETY: `changes` is readable for `nchanges` events (caller's guarantee).
            .map(|i| unsafe { changes.add(i).read_unaligned() })
            .collect();
        let room = nevents.min(MACH_SIM_KEVENT_MAX_EVENTS as usize);
        let mut out = vec![kevent_freebsd::zeroed(); room];
        let n = kq.kevent(&changes, &mut out, timeout)?.min(room);
        for (i, event) in out.iter().take(n).enumerate() {
            // SAFETY: `i < n <= nevents` and `events` is writable for `nevents` events.
            unsafe { events.add(i).write_unaligned(*event) };
        }
        Ok(n as c_int)
    })
}

/// Counts of the current kernel, or `None` if the simulator failed.
fn stats() -> Option<KernelStats> {
    guard(None, || Some(current_kernel().stats()))
}

/// Live ports **and port sets** of the current kernel (`UINT64_MAX` if the simulator failed).
/// The pseudo names of `mach_task_self()` and `bootstrap_port` are not ports.
#[no_mangle]
pub extern "C" fn mach_sim_live_ports() -> u64 {
    stats().map_or(u64::MAX, |s| s.ports + s.port_sets)
}

/// Rights held in all live tasks' name tables (each right kind under a name counts once) plus
/// kernel-held send rights (`UINT64_MAX` if the simulator failed). The pseudo names of
/// `mach_task_self()` and `bootstrap_port` are not rights and are not counted.
#[no_mangle]
pub extern "C" fn mach_sim_live_rights() -> u64 {
    stats().map_or(u64::MAX, |s| s.rights + s.kernel_rights)
}

/// Messages queued on all ports of the current kernel (`UINT64_MAX` if the simulator failed).
#[no_mangle]
pub extern "C" fn mach_sim_queued_messages() -> u64 {
    stats().map_or(u64::MAX, |s| s.queued_messages)
}

/// Open kqueues of the current kernel (`UINT64_MAX` if the simulator failed).
#[no_mangle]
pub extern "C" fn mach_sim_live_kqueues() -> u64 {
    stats().map_or(u64::MAX, |s| s.kqueues)
}

/// Knotes attached to the current kernel's kqueues (`UINT64_MAX` if the simulator failed).
#[no_mangle]
pub extern "C" fn mach_sim_live_knotes() -> u64 {
    stats().map_or(u64::MAX, |s| s.knotes)
}

/// Tasks of the current kernel not yet terminated, the default task included (`UINT64_MAX` if
/// the simulator failed).
#[no_mangle]
pub extern "C" fn mach_sim_live_tasks() -> u64 {
    stats().map_or(u64::MAX, |s| s.tasks)
}

/// Leak check for the end of a test: returns 0 if no port, set, right, queued message, kernel
/// right, kqueue or knote is left in the current kernel; otherwise writes a listing of what is
/// left to stderr and returns 1. Live tasks that hold nothing are not leaks.
#[no_mangle]
pub extern "C" fn mach_sim_check_leaks() -> c_int {
    guard(1, || {
        current_kernel().assert_no_leaks();
        0
    })
}
