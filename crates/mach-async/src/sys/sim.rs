//! Backend on the simulated NextBSD kernel (`mach-sim`).
//!
//! A [`Space`] is a `mach_sim::Task`; every call runs in that task whatever thread makes it, so a
//! client and a server can live in different simulated tasks inside one test. Release of receive
//! rights and port sets uses `port_close`, NextBSD's `close(name)`, so that the simulation
//! exercises the same paths as the native NextBSD backend.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use mach_abi::{
    kevent_freebsd, mach_msg_header_t, mach_msg_id_t, mach_msg_option_t, mach_msg_return_t,
    mach_msg_size_t, mach_msg_timeout_t, mach_msg_type_name_t, mach_port_mscount_t,
    mach_port_right_t, EVFILT_MACHPORT_NEXTBSD, EV_ADD, EV_CLEAR, EV_DELETE, MACH_PORT_RIGHT_SEND,
};
use mach_sim::Task;

use super::{retry_interrupted, Event, Name};
use crate::Error;

pub(super) const BACKEND: &str = "sim";

/// The `EVFILT_MACHPORT` filter number the simulation implements (NextBSD's −16).
pub const FILTER: i16 = EVFILT_MACHPORT_NEXTBSD;

/// The simulated kernel is always available.
pub fn mach_available() -> Result<(), Error> {
    Ok(())
}

/// An IPC space: a simulated task. Two spaces are equal when they are the same task of the
/// same simulated kernel.
#[derive(Clone, PartialEq, Eq)]
pub struct Space {
    task: Task,
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Space")
            .field("task", &self.task.id())
            .finish()
    }
}

fn kr<T>(op: &'static str, r: mach_sim::KernResult<T>) -> Result<T, Error> {
    r.map_err(|kr| Error::kern(op, kr))
}

impl Space {
    /// The calling thread's current simulated task (`mach_sim::Task::current`).
    pub fn current() -> Space {
        Space {
            task: Task::current(),
        }
    }

    /// A space over an explicit simulated task.
    pub fn from_task(task: Task) -> Space {
        Space { task }
    }

    /// The simulated task this space is.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// A diagnostic identity (the task id).
    pub fn id(&self) -> u64 {
        u64::from(self.task.id())
    }

    /// `mach_port_allocate` of a receive right or port set in this space (the raw name; prefer
    /// [`crate::ReceiveRight`] / [`crate::PortSet`], which release it).
    pub fn allocate(&self, right: mach_port_right_t) -> Result<Name, Error> {
        kr("mach_port_allocate", self.task.port_allocate(right))
    }

    /// `mach_port_insert_right(name, poly, poly_poly)` in this space.
    pub fn insert_right(
        &self,
        name: Name,
        poly: Name,
        poly_poly: mach_msg_type_name_t,
    ) -> Result<(), Error> {
        kr(
            "mach_port_insert_right",
            self.task.port_insert_right(name, poly, poly_poly),
        )
    }

    pub(crate) fn add_send_uref(&self, name: Name) -> Result<(), Error> {
        kr(
            "mach_port_mod_refs",
            self.task.port_mod_refs(name, MACH_PORT_RIGHT_SEND, 1),
        )
    }

    pub(crate) fn deallocate(&self, name: Name) -> Result<(), Error> {
        kr("mach_port_deallocate", self.task.port_deallocate(name))
    }

    /// Destroys the receive right `name` (its port dies, queued messages are destroyed).
    pub fn destroy_receive(&self, name: Name) -> Result<(), Error> {
        kr("close(receive right)", self.task.port_close(name))
    }

    pub(crate) fn destroy_set(&self, name: Name) -> Result<(), Error> {
        kr("close(port set)", self.task.port_close(name))
    }

    pub(crate) fn move_member(&self, member: Name, after: Name) -> Result<(), Error> {
        kr(
            "mach_port_move_member",
            self.task.port_move_member(member, after),
        )
    }

    pub(crate) fn request_notification(
        &self,
        name: Name,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: Name,
        notify_poly: mach_msg_type_name_t,
    ) -> Result<Name, Error> {
        kr(
            "mach_port_request_notification",
            self.task
                .port_request_notification(name, msgid, sync, notify, notify_poly),
        )
    }

    /// `mach_msg` in this task, retrying interrupted sends and receives.
    ///
    /// # Safety
    /// As `mach_sim::Task::mach_msg`: `msg` valid for reads of `send_size` and writes of
    /// `rcv_size` bytes, 4-byte aligned, not aliased during the call; OOL addresses valid.
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
            unsafe {
                self.task
                    .mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, 0)
            }
        }))
    }

    /// Frees out-of-line memory the simulated kernel allocated (with `libc::malloc`).
    ///
    /// # Safety
    /// `address` must come from an OOL descriptor of a message this space received (or got
    /// back from a failed send), and must not be used afterwards.
    pub(crate) unsafe fn free_ool(&self, address: u64, size: usize) {
        let _ = size;
        if address != 0 {
            // SAFETY: per the contract, the simulated kernel allocated it with malloc.
            unsafe { libc::free(address as usize as *mut libc::c_void) };
        }
    }

    /// `bootstrap_look_up(service)`: a send right in this space (`Err(kr)`, e.g.
    /// `BOOTSTRAP_UNKNOWN_SERVICE`).
    pub(crate) fn bootstrap_look_up(&self, service: &str) -> Result<Name, mach_abi::kern_return_t> {
        self.task.kernel().bootstrap().look_up(&self.task, service)
    }

    /// `bootstrap_check_in(service)`: the service's receive right in this space.
    pub(crate) fn bootstrap_check_in(
        &self,
        service: &str,
    ) -> Result<Name, mach_abi::kern_return_t> {
        self.task.kernel().bootstrap().check_in(&self.task, service)
    }

    /// `bootstrap_register(service, port)`: `port` names a right of this space.
    pub(crate) fn bootstrap_register(
        &self,
        service: &str,
        port: Name,
    ) -> Result<(), mach_abi::kern_return_t> {
        self.task
            .kernel()
            .bootstrap()
            .register(&self.task, service, port)
    }

    pub(crate) fn kqueue(&self) -> io::Result<Kqueue> {
        Ok(Kqueue {
            kq: self.task.kqueue()?,
        })
    }
}

/// A simulated kqueue (a real pollable descriptor).
pub struct Kqueue {
    kq: mach_sim::Kqueue,
}

impl fmt::Debug for Kqueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kqueue")
            .field("fd", &self.kq.as_raw_fd())
            .finish()
    }
}

fn change(set: Name, flags: u16) -> kevent_freebsd {
    kevent_freebsd {
        ident: set as usize,
        filter: FILTER,
        flags,
        ..kevent_freebsd::zeroed()
    }
}

impl Kqueue {
    /// Changelist-only `EV_ADD|EV_CLEAR` of the Mach filter on `set` (notify mode, fflags 0).
    pub(crate) fn add_machport(&self, set: Name) -> io::Result<()> {
        self.kq
            .kevent(
                &[change(set, EV_ADD | EV_CLEAR)],
                &mut [],
                Some(Duration::ZERO),
            )
            .map(drop)
    }

    /// Changelist-only `EV_DELETE`.
    pub(crate) fn delete_machport(&self, set: Name) -> io::Result<()> {
        self.kq
            .kevent(&[change(set, EV_DELETE)], &mut [], Some(Duration::ZERO))
            .map(drop)
    }

    /// Dequeues up to `events.len()` events.
    pub(crate) fn collect(
        &self,
        events: &mut [Event],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let mut raw = [kevent_freebsd::zeroed(); 16];
        let want = events.len().min(raw.len());
        let n = self.kq.kevent(&[], &mut raw[..want], timeout)?;
        for (out, ev) in events.iter_mut().zip(&raw[..n]) {
            *out = event_from_kevent!(ev);
        }
        Ok(n)
    }
}

impl AsRawFd for Kqueue {
    fn as_raw_fd(&self) -> RawFd {
        self.kq.as_raw_fd()
    }
}
