//! Backend on a NextBSD kernel (FreeBSD + `COMPAT_MACH`).
//!
//! * Mach traps are called directly through `syscall(2)`. Their numbers are published by the
//!   kernel as `sysctl mach.syscall.<name>` (mach-abi.md §9.1); each is resolved once with
//!   `sysctlbyname` and cached. A missing sysctl, or the value −1, is reported as
//!   [`Error::MachUnavailable`] instead of libmach's misleading `MACH_RCV_TIMED_OUT`.
//! * Return conventions (mach-abi.md §9.1): `mach_port_allocate` is errno-style (−1 and
//!   `errno` = the `kern_return_t`); `mach_port_deallocate` always returns 0 (failures are
//!   invisible); `mach_port_request_notification` takes 6 arguments and no task; the others
//!   return the `kern_return_t` / `mach_msg_return_t` in the return value.
//! * libmach is not used: its `mod_refs`, `destruct`, attribute calls are no-ops (§9.2).
//!   Receive rights and port sets are destroyed with `close(name)` (§9.3). An extra user
//!   reference on a send right is taken with `insert_right(name, name, COPY_SEND)`, the
//!   kernel's copyin/copyout of a send right into the name that already holds it (merging user
//!   references, as XNU's `ipc_right_copyout` does) **(verify on a NextBSD image)**.
//! * Out-of-line memory received from NextBSD is never freed (§9.4 project rule: its OOL
//!   copyout is unreliable, protocols use inline data).
//! * `kevent` goes through the shared `bsd.rs`, which asserts the FreeBSD 12+ layout (64 bytes,
//!   with `ext`) at compile time; the filter is −16.
//! * Every call into the system goes through `raw` (`sys/mod.rs`, "Raw calls"): the C library
//!   here, the simulated kernel's trap face when NextBSD over sim runs this same file on Linux.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::sync::OnceLock;

use mach_abi::{
    mach_msg_header_t, mach_msg_id_t, mach_msg_option_t, mach_msg_return_t, mach_msg_size_t,
    mach_msg_timeout_t, mach_msg_type_name_t, mach_port_mscount_t, mach_port_right_t,
    EVFILT_MACHPORT_NEXTBSD, MACH_MSG_TYPE_COPY_SEND,
};

use super::bsd::check;
pub use super::bsd::{Kqueue, Space};
use super::raw;
use super::{retry_interrupted, Name};
use crate::Error;

pub(super) const BACKEND: &str = "nextbsd";

/// NextBSD's `EVFILT_MACHPORT` (−16). The libc crate has no FreeBSD constant for it.
pub const FILTER: i16 = EVFILT_MACHPORT_NEXTBSD;

/// The wired traps (mach-abi.md §9.1), in the order of [`TRAP_NAMES`].
#[derive(Clone, Copy)]
enum Trap {
    Msg = 0,
    PortAllocate,
    PortDeallocate,
    PortInsertRight,
    PortRequestNotification,
    PortMoveMember,
    TaskSelf,
}

const TRAP_NAMES: [&CStr; 7] = [
    c"mach.syscall.mach_msg_trap",
    c"mach.syscall.mach_port_allocate",
    c"mach.syscall.mach_port_deallocate",
    c"mach.syscall.mach_port_insert_right",
    c"mach.syscall.mach_port_request_notification",
    c"mach.syscall.mach_port_move_member",
    c"mach.syscall.task_self_trap",
];

/// Syscall numbers, resolved once (−1: not registered / sysctl missing).
fn traps() -> &'static [i32; 7] {
    static TRAPS: OnceLock<[i32; 7]> = OnceLock::new();
    TRAPS.get_or_init(|| {
        let mut out = [-1i32; 7];
        for (slot, name) in out.iter_mut().zip(TRAP_NAMES) {
            let mut value: libc::c_int = -1;
            let mut len = std::mem::size_of::<libc::c_int>();
            // SAFETY: `name` is NUL-terminated; `value`/`len` are valid for writes of an int.
            let rc = unsafe {
                raw::sysctlbyname(name, (&mut value as *mut libc::c_int).cast(), &mut len)
            };
            if rc == 0 && len == std::mem::size_of::<libc::c_int>() {
                *slot = value;
            }
        }
        out
    })
}

fn trap(t: Trap) -> Result<libc::c_int, Error> {
    let n = traps()[t as usize];
    if n < 0 {
        Err(Error::MachUnavailable {
            what: TRAP_NAMES[t as usize].to_str().unwrap_or("trap"),
        })
    } else {
        Ok(n)
    }
}

/// Probes the Mach layer: every trap this backend uses must be registered.
pub fn mach_available() -> Result<(), Error> {
    for t in [
        Trap::Msg,
        Trap::PortAllocate,
        Trap::PortDeallocate,
        Trap::PortInsertRight,
        Trap::PortRequestNotification,
        Trap::PortMoveMember,
        Trap::TaskSelf,
    ] {
        trap(t)?;
    }
    Ok(())
}

/// The task's own name, resolved once (`task_self_trap` adds one uref per call: cache it).
/// The kernel ignores the task argument anyway (§9.1).
fn task_self() -> u32 {
    static TASK: OnceLock<u32> = OnceLock::new();
    *TASK.get_or_init(|| match trap(Trap::TaskSelf) {
        // SAFETY: a 0-argument trap.
        Ok(n) => (unsafe { raw::syscall(n, &[]) }) as u32,
        Err(_) => 0,
    })
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Space(nextbsd process)")
    }
}

impl Space {
    /// `mach_port_allocate` of a receive right or port set in this space (the raw name; prefer
    /// [`crate::ReceiveRight`] / [`crate::PortSet`], which release it).
    pub fn allocate(&self, right: mach_port_right_t) -> Result<Name, Error> {
        let n = trap(Trap::PortAllocate)?;
        let mut name: u32 = 0;
        // SAFETY: 3-argument trap; `name` is valid for a u32 write.
        let rc = unsafe {
            raw::syscall(
                n,
                &[
                    task_self() as usize,
                    right as usize,
                    &mut name as *mut u32 as usize,
                ],
            )
        };
        if rc == 0 {
            Ok(name)
        } else {
            // Errno-style: errno carries the kern_return_t (EFAULT if the copyout failed).
            Err(Error::kern(
                "mach_port_allocate",
                io::Error::last_os_error().raw_os_error().unwrap_or(-1),
            ))
        }
    }

    /// `mach_port_insert_right(name, poly, poly_poly)` in this space.
    pub fn insert_right(
        &self,
        name: Name,
        poly: Name,
        poly_poly: mach_msg_type_name_t,
    ) -> Result<(), Error> {
        let n = trap(Trap::PortInsertRight)?;
        // SAFETY: 4 scalar arguments.
        let kr = unsafe {
            raw::syscall(
                n,
                &[
                    task_self() as usize,
                    name as usize,
                    poly as usize,
                    poly_poly as usize,
                ],
            )
        };
        check("mach_port_insert_right", kr)
    }

    pub(crate) fn add_send_uref(&self, name: Name) -> Result<(), Error> {
        // mod_refs is not wired and libmach's is a no-op: copy the send right into its own name.
        self.insert_right(name, name, MACH_MSG_TYPE_COPY_SEND)
    }

    pub(crate) fn deallocate(&self, name: Name) -> Result<(), Error> {
        let n = trap(Trap::PortDeallocate)?;
        // SAFETY: 2 scalar arguments. The kernel discards the kr; the return is always 0.
        unsafe { raw::syscall(n, &[task_self() as usize, name as usize]) };
        Ok(())
    }

    fn close(&self, op: &'static str, name: Name) -> Result<(), Error> {
        // Closing a descriptor number we own as a Mach name (§9.3).
        if raw::close(name as libc::c_int) == 0 {
            Ok(())
        } else {
            Err(Error::io(op, io::Error::last_os_error()))
        }
    }

    /// Destroys the receive right `name` (its port dies, queued messages are destroyed).
    pub fn destroy_receive(&self, name: Name) -> Result<(), Error> {
        self.close("close(receive right)", name)
    }

    pub(crate) fn destroy_set(&self, name: Name) -> Result<(), Error> {
        self.close("close(port set)", name)
    }

    pub(crate) fn move_member(&self, member: Name, after: Name) -> Result<(), Error> {
        let n = trap(Trap::PortMoveMember)?;
        // SAFETY: 3 scalar arguments.
        let kr =
            unsafe { raw::syscall(n, &[task_self() as usize, member as usize, after as usize]) };
        check("mach_port_move_member", kr)
    }

    pub(crate) fn request_notification(
        &self,
        name: Name,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: Name,
        notify_poly: mach_msg_type_name_t,
    ) -> Result<Name, Error> {
        let n = trap(Trap::PortRequestNotification)?;
        let mut previous: u32 = 0;
        // SAFETY: the 6-argument trap (no task, §9.1); `previous` is valid for a u32 write.
        let kr = unsafe {
            raw::syscall(
                n,
                &[
                    name as usize,
                    msgid as u32 as usize,
                    sync as usize,
                    notify as usize,
                    notify_poly as usize,
                    &mut previous as *mut u32 as usize,
                ],
            )
        };
        check("mach_port_request_notification", kr).map(|()| previous)
    }

    /// `mach_msg_trap` (6 arguments; NextBSD forces `notify` to 0), retrying interrupts.
    ///
    /// # Safety
    /// `msg` valid for reads of `send_size` and writes of `rcv_size` bytes, 4-byte aligned and
    /// not aliased during the call; OOL addresses valid for their sizes.
    pub unsafe fn mach_msg(
        &self,
        msg: *mut mach_msg_header_t,
        option: mach_msg_option_t,
        send_size: mach_msg_size_t,
        rcv_size: mach_msg_size_t,
        rcv_name: Name,
        timeout: mach_msg_timeout_t,
    ) -> Result<mach_msg_return_t, Error> {
        let n = trap(Trap::Msg)?;
        // libmach never retries; Apple's wrapper does (mach-abi.md §3.3).
        Ok(retry_interrupted(option, |option| {
            // SAFETY: forwarded from this function's contract.
            unsafe {
                raw::syscall(
                    n,
                    &[
                        msg as usize,
                        option as usize,
                        send_size as usize,
                        rcv_size as usize,
                        rcv_name as usize,
                        timeout as usize,
                    ],
                )
            }
        }))
    }

    /// NextBSD's OOL copyout is unreliable and libmach never frees it; by project rule (§9.4)
    /// the memory is left alone.
    ///
    /// # Safety
    /// None needed; kept `unsafe` for parity with the other backends.
    pub(crate) unsafe fn free_ool(&self, address: u64, size: usize) {
        let _ = (address, size);
    }

    pub(crate) fn kqueue(&self) -> io::Result<Kqueue> {
        Kqueue::new()
    }
}
