//! What both native backends (`nextbsd.rs`, `macos.rs`) share: the process-wide [`Space`]'s
//! identity, `kern_return_t` checking, and the kqueue (a real descriptor driven through
//! `libc::kevent`).
//!
//! Each backend adds its own Mach calls to [`Space`] and its own `Debug`. For the kqueue, FreeBSD
//! and Apple share the `kevent(2)` call and the field names of `struct kevent`; the
//! differences are the filter number (each backend's `FILTER`) and the struct layout, which
//! [`change`] absorbs: FreeBSD 12+ has `ext[4]` (64 bytes), Apple's plain `struct kevent` has
//! none (32 bytes; notify mode needs no `ext`).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use mach_abi::{kern_return_t, EV_ADD, EV_CLEAR, EV_DELETE, KERN_SUCCESS};

use super::imp::FILTER;
use super::raw;
use super::{Event, Name};
use crate::Error;

// native-filter.md §2: the FreeBSD 12+ `struct kevent` with `ext[4]` is 64 bytes. libc >= 0.2.176
// defaults to it; an older libc would silently bind the FreeBSD 11 ABI.
#[cfg(not(mach_backend = "macos"))]
const _: () = assert!(std::mem::size_of::<raw::kevent>() == 64);

/// The process's IPC space (one per process natively, so all values are equal).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Space {
    _private: (),
}

impl Space {
    /// The process's space.
    pub fn current() -> Space {
        Space { _private: () }
    }

    /// A diagnostic identity (the pid).
    pub fn id(&self) -> u64 {
        // SAFETY: getpid has no preconditions.
        u64::from(unsafe { libc::getpid() } as u32)
    }
}

/// The bootstrap calls of the C library: libSystem on macOS, launchd's liblaunch on NextBSD
/// (docs/mach-abi.md §11). On NextBSD over sim the simulated kernel's libmach C ABI exports
/// them, so the same declarations bind there too.
mod c_bootstrap {
    use std::ffi::c_char;
    extern "C" {
        pub static bootstrap_port: u32;
        pub fn bootstrap_look_up(bp: u32, service: *const c_char, sp: *mut u32) -> i32;
        pub fn bootstrap_check_in(bp: u32, service: *const c_char, sp: *mut u32) -> i32;
        pub fn bootstrap_register(bp: u32, service: *const c_char, sp: u32) -> i32;
    }
}

/// `name` as a C string (`BOOTSTRAP_UNKNOWN_SERVICE` for one with a NUL: no such service).
fn service_name(name: &str) -> Result<std::ffi::CString, kern_return_t> {
    std::ffi::CString::new(name).map_err(|_| mach_abi::BOOTSTRAP_UNKNOWN_SERVICE)
}

impl Space {
    /// `bootstrap_look_up(service)`: a send right in this space.
    pub(crate) fn bootstrap_look_up(&self, service: &str) -> Result<Name, kern_return_t> {
        let c = service_name(service)?;
        let mut port = 0u32;
        // SAFETY: `c` is NUL-terminated, `port` a valid out-pointer; `bootstrap_port` is set up
        // by the C runtime before main.
        let kr = unsafe {
            c_bootstrap::bootstrap_look_up(c_bootstrap::bootstrap_port, c.as_ptr(), &mut port)
        };
        if kr == KERN_SUCCESS {
            Ok(port)
        } else {
            Err(kr)
        }
    }

    /// `bootstrap_check_in(service)`: the service's receive right in this space.
    pub(crate) fn bootstrap_check_in(&self, service: &str) -> Result<Name, kern_return_t> {
        let c = service_name(service)?;
        let mut port = 0u32;
        // SAFETY: as in `bootstrap_look_up`.
        let kr = unsafe {
            c_bootstrap::bootstrap_check_in(c_bootstrap::bootstrap_port, c.as_ptr(), &mut port)
        };
        if kr == KERN_SUCCESS {
            Ok(port)
        } else {
            Err(kr)
        }
    }

    /// `bootstrap_register(service, port)`.
    pub(crate) fn bootstrap_register(
        &self,
        service: &str,
        port: Name,
    ) -> Result<(), kern_return_t> {
        let c = service_name(service)?;
        // SAFETY: `c` is NUL-terminated; the rest are scalars.
        let kr = unsafe {
            c_bootstrap::bootstrap_register(c_bootstrap::bootstrap_port, c.as_ptr(), port)
        };
        if kr == KERN_SUCCESS {
            Ok(())
        } else {
            Err(kr)
        }
    }
}

/// `Ok` for `KERN_SUCCESS`, else the code as [`Error::Kern`] of `op`.
pub(super) fn check(op: &'static str, kr: kern_return_t) -> Result<(), Error> {
    if kr == KERN_SUCCESS {
        Ok(())
    } else {
        Err(Error::kern(op, kr))
    }
}

/// A kqueue descriptor, closed on drop through `raw::close` (never an `OwnedFd`: on NextBSD over
/// sim the descriptor belongs to the trap face, which must see the close).
#[derive(Debug)]
pub struct Kqueue {
    fd: RawFd,
}

/// A changelist entry for the Mach filter on `set`: `fflags = 0` (notify mode), no data.
fn change(set: Name, flags: u16) -> raw::kevent {
    let mut ev = raw::kevent_zeroed();
    ev.ident = set as _;
    ev.filter = FILTER;
    ev.flags = flags;
    ev
}

fn timespec(timeout: Option<Duration>) -> Option<libc::timespec> {
    timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    })
}

impl Kqueue {
    /// A new kqueue, owned by the returned value, close-on-exec (as mio's are: a child that
    /// execs must not inherit the process's event sources).
    pub(super) fn new() -> io::Result<Kqueue> {
        let fd = raw::kqueue();
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let kq = Kqueue { fd };
        if raw::set_cloexec(fd) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(kq)
    }

    fn changes_only(&self, ev: raw::kevent) -> io::Result<()> {
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: one valid change, no event list (errors come back as -1/errno, §1).
        let rc = unsafe { raw::kevent(self.fd, &ev, 1, std::ptr::null_mut(), 0, &ts) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    pub(crate) fn add_machport(&self, set: Name) -> io::Result<()> {
        self.changes_only(change(set, EV_ADD | EV_CLEAR))
    }

    pub(crate) fn delete_machport(&self, set: Name) -> io::Result<()> {
        self.changes_only(change(set, EV_DELETE))
    }

    pub(crate) fn collect(
        &self,
        events: &mut [Event],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let mut raw_events = [raw::kevent_zeroed(); 16];
        let want = events.len().min(raw_events.len());
        let ts = timespec(timeout);
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `raw_events` has room for `want` events; no changes.
        let rc = unsafe {
            raw::kevent(
                self.fd,
                std::ptr::null(),
                0,
                raw_events.as_mut_ptr(),
                want as libc::c_int,
                tsp,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = rc as usize;
        for (out, ev) in events.iter_mut().zip(&raw_events[..n]) {
            *out = event_from_kevent!(ev);
        }
        Ok(n)
    }
}

impl Drop for Kqueue {
    fn drop(&mut self) {
        // Closing the kqueue drops every knote on it.
        raw::close(self.fd);
    }
}

impl AsRawFd for Kqueue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}
