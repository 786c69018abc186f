//! Backend on macOS: libSystem's Mach calls and `kevent` with `EVFILT_MACHPORT` (−8).
//!
//! The Mach entry points are declared in our own `extern "C"` block (the `mach2` crate lacks
//! the set-membership calls and is not used). `mach_task_self()` is a macro over the global
//! `mach_task_self_`. Receive rights and sets are destroyed with
//! `mach_port_mod_refs(.., RECEIVE | PORT_SET, −1)` (mach-abi.md §10). The kqueue is the shared
//! `bsd.rs` with plain `struct kevent` (32 bytes, no `ext`): the stream uses notify
//! mode only.

use std::fmt;
use std::io;

use mach_abi::{
    kern_return_t, mach_msg_header_t, mach_msg_id_t, mach_msg_option_t, mach_msg_return_t,
    mach_msg_size_t, mach_msg_timeout_t, mach_msg_type_name_t, mach_port_delta_t,
    mach_port_mscount_t, mach_port_name_t, mach_port_right_t, MACH_PORT_RIGHT_PORT_SET,
    MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_SEND,
};

use super::bsd::check;
pub use super::bsd::{Kqueue, Space};
use super::{retry_interrupted, Name};
use crate::Error;

pub(super) const BACKEND: &str = "macos";

/// XNU's `EVFILT_MACHPORT` (−8).
pub const FILTER: i16 = libc::EVFILT_MACHPORT;

#[allow(non_upper_case_globals)]
extern "C" {
    static mach_task_self_: mach_port_name_t;
    fn mach_port_allocate(
        task: u32,
        right: mach_port_right_t,
        name: *mut mach_port_name_t,
    ) -> kern_return_t;
    fn mach_port_deallocate(task: u32, name: mach_port_name_t) -> kern_return_t;
    fn mach_port_mod_refs(
        task: u32,
        name: mach_port_name_t,
        right: mach_port_right_t,
        delta: mach_port_delta_t,
    ) -> kern_return_t;
    fn mach_port_insert_right(
        task: u32,
        name: mach_port_name_t,
        poly: mach_port_name_t,
        poly_poly: mach_msg_type_name_t,
    ) -> kern_return_t;
    fn mach_port_move_member(
        task: u32,
        member: mach_port_name_t,
        after: mach_port_name_t,
    ) -> kern_return_t;
    fn mach_port_request_notification(
        task: u32,
        name: mach_port_name_t,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: mach_port_name_t,
        notify_poly: mach_msg_type_name_t,
        previous: *mut mach_port_name_t,
    ) -> kern_return_t;
    fn mach_msg(
        msg: *mut mach_msg_header_t,
        option: mach_msg_option_t,
        send_size: mach_msg_size_t,
        rcv_size: mach_msg_size_t,
        rcv_name: mach_port_name_t,
        timeout: mach_msg_timeout_t,
        notify: mach_port_name_t,
    ) -> mach_msg_return_t;
    fn vm_deallocate(task: u32, address: usize, size: usize) -> kern_return_t;
}

fn task() -> u32 {
    // SAFETY: libSystem initialises `mach_task_self_` before main; it is never written after.
    unsafe { mach_task_self_ }
}

/// Mach is always present on macOS.
pub fn mach_available() -> Result<(), Error> {
    Ok(())
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Space(macos task)")
    }
}

impl Space {
    /// `mach_port_allocate` of a receive right or port set in this space (the raw name; prefer
    /// [`crate::ReceiveRight`] / [`crate::PortSet`], which release it).
    pub fn allocate(&self, right: mach_port_right_t) -> Result<Name, Error> {
        let mut name = 0;
        // SAFETY: `name` is valid for a write.
        check("mach_port_allocate", unsafe {
            mach_port_allocate(task(), right, &mut name)
        })?;
        Ok(name)
    }

    /// `mach_port_insert_right(name, poly, poly_poly)` in this space.
    pub fn insert_right(
        &self,
        name: Name,
        poly: Name,
        poly_poly: mach_msg_type_name_t,
    ) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_insert_right", unsafe {
            mach_port_insert_right(task(), name, poly, poly_poly)
        })
    }

    pub(crate) fn add_send_uref(&self, name: Name) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_mod_refs", unsafe {
            mach_port_mod_refs(task(), name, MACH_PORT_RIGHT_SEND, 1)
        })
    }

    pub(crate) fn deallocate(&self, name: Name) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_deallocate", unsafe {
            mach_port_deallocate(task(), name)
        })
    }

    /// Destroys the receive right `name` (its port dies, queued messages are destroyed).
    pub fn destroy_receive(&self, name: Name) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_mod_refs(RECEIVE)", unsafe {
            mach_port_mod_refs(task(), name, MACH_PORT_RIGHT_RECEIVE, -1)
        })
    }

    pub(crate) fn destroy_set(&self, name: Name) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_mod_refs(PORT_SET)", unsafe {
            mach_port_mod_refs(task(), name, MACH_PORT_RIGHT_PORT_SET, -1)
        })
    }

    pub(crate) fn move_member(&self, member: Name, after: Name) -> Result<(), Error> {
        // SAFETY: scalar arguments.
        check("mach_port_move_member", unsafe {
            mach_port_move_member(task(), member, after)
        })
    }

    pub(crate) fn request_notification(
        &self,
        name: Name,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: Name,
        notify_poly: mach_msg_type_name_t,
    ) -> Result<Name, Error> {
        let mut previous = 0;
        // SAFETY: `previous` is valid for a write.
        check("mach_port_request_notification", unsafe {
            mach_port_request_notification(
                task(),
                name,
                msgid,
                sync,
                notify,
                notify_poly,
                &mut previous,
            )
        })?;
        Ok(previous)
    }

    /// libSystem's `mach_msg` (which already retries interrupts unless `*_INTERRUPT` is set;
    /// the loop is kept for uniformity).
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
        Ok(retry_interrupted(option, |option| {
            // SAFETY: forwarded from this function's contract.
            unsafe { mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, 0) }
        }))
    }

    /// `vm_deallocate` of received OOL memory.
    ///
    /// # Safety
    /// `address` must be OOL memory the kernel mapped into this task, unused afterwards.
    pub(crate) unsafe fn free_ool(&self, address: u64, size: usize) {
        if address != 0 && size != 0 {
            // SAFETY: per the contract.
            let _ = unsafe { vm_deallocate(task(), address as usize, size) };
        }
    }

    pub(crate) fn kqueue(&self) -> io::Result<Kqueue> {
        Kqueue::new()
    }
}
