//! NextBSD: ioctls on `/dev/ioregistry` (spec §4).
//!
//! Every call into the system goes through `raw` (`open`, `ioctl`, `close`): the C library on
//! NextBSD, the simulated kernel's trap face when NextBSD over sim runs this same file on Linux
//! (where [`crate::registry::SimRegistry::install_device`] serves `/dev/ioregistry`).

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

use super::raw;
use super::{RegistryBackend, RegistryError};
use crate::registry_abi::{
    ioreg_criteria, ioreg_lookup, ioreg_node, ioreg_test_event, ioreg_watch_reg, IOREGIOCLOOKUP,
    IOREGIOCNODE, IOREGIOCTESTEVENT, IOREGIOCWATCH,
};

const DEVICE: &CStr = c"/dev/ioregistry";

/// Where the descriptor came from.
#[derive(Debug)]
enum Fd {
    /// Opened by [`DevIoRegistry::open`]; closed (through `raw`) on drop.
    Owned(RawFd),
    /// The host library's process-lifetime descriptor (`__io_ioregistry_fd`); never closed here.
    Borrowed(RawFd),
}

/// `/dev/ioregistry`. Watches registered through it belong to the calling process's IPC space.
#[derive(Debug)]
pub struct DevIoRegistry {
    fd: Fd,
}

impl DevIoRegistry {
    /// Opens `/dev/ioregistry` read-only (the ioctls check neither open flags nor privilege).
    /// [`RegistryError::NoDevice`] if the kernel has no registry.
    pub fn open() -> Result<DevIoRegistry, RegistryError> {
        // SAFETY: DEVICE is a NUL-terminated path; open has no other preconditions.
        let fd = unsafe { raw::open(DEVICE, libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(match errno {
                libc::ENOENT | libc::ENXIO | libc::ENODEV => RegistryError::NoDevice,
                other => RegistryError::from_errno(other),
            });
        }
        Ok(DevIoRegistry { fd: Fd::Owned(fd) })
    }

    /// Uses a descriptor that stays open for the life of the process (libIOKit's
    /// `__io_ioregistry_fd()`); it is never closed by this value.
    pub fn from_process_fd(fd: RawFd) -> DevIoRegistry {
        DevIoRegistry {
            fd: Fd::Borrowed(fd),
        }
    }

    fn raw_fd(&self) -> RawFd {
        match &self.fd {
            Fd::Owned(fd) | Fd::Borrowed(fd) => *fd,
        }
    }

    /// # Safety
    /// `arg` must point to a value of the type `cmd` encodes, valid for reads (and for writes when
    /// `cmd` copies out) for the call.
    unsafe fn ioctl<T>(&self, cmd: u32, arg: *mut T) -> Result<(), RegistryError> {
        // SAFETY: the caller guarantees `arg` matches `cmd`'s parameter type and size.
        let rc = unsafe { raw::ioctl(self.raw_fd(), cmd, arg.cast::<libc::c_void>()) };
        if rc == -1 {
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(RegistryError::from_errno(errno));
        }
        Ok(())
    }
}

impl Drop for DevIoRegistry {
    fn drop(&mut self) {
        if let Fd::Owned(fd) = self.fd {
            raw::close(fd);
        }
    }
}

impl RegistryBackend for DevIoRegistry {
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError> {
        let mut arg = *reg;
        // SAFETY: IOREGIOCWATCH takes a struct ioreg_watch_reg in; `arg` is one, on our stack.
        unsafe { self.ioctl(IOREGIOCWATCH, &mut arg) }
    }

    fn lookup(
        &self,
        criteria: &ioreg_criteria,
        matches: &mut [u64],
    ) -> Result<usize, RegistryError> {
        let max = u32::try_from(matches.len()).unwrap_or(u32::MAX);
        let mut arg = ioreg_lookup {
            criteria: *criteria,
            max,
            count: 0,
            matches: matches.as_mut_ptr() as u64,
        };
        // SAFETY: IOREGIOCLOOKUP takes a struct ioreg_lookup in/out; `arg.matches` points to
        // `max` writable u64s that outlive the call.
        unsafe { self.ioctl(IOREGIOCLOOKUP, &mut arg)? };
        Ok(arg.count as usize)
    }

    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        let mut arg = ioreg_node::zeroed();
        arg.id = id;
        // SAFETY: IOREGIOCNODE takes a struct ioreg_node in/out; `arg` is one, on our stack.
        unsafe { self.ioctl(IOREGIOCNODE, &mut arg)? };
        Ok(arg)
    }

    fn test_event(&self, event: &ioreg_test_event) -> Result<(), RegistryError> {
        let mut arg = *event;
        // SAFETY: IOREGIOCTESTEVENT takes a struct ioreg_test_event in; `arg` is one.
        unsafe { self.ioctl(IOREGIOCTESTEVENT, &mut arg) }
    }
}
