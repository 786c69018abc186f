//! The registry backend: the four `/dev/ioregistry` calls this crate needs, behind one trait.
//!
//! | Implementation | cfg | What it is |
//! |---|---|---|
//! | `DevIoRegistry` | `mach_backend = "nextbsd"` (NextBSD, or NextBSD over sim) | ioctls on NextBSD's `/dev/ioregistry` |
//! | [`SimRegistry`] / [`SimRegistryHandle`] | `mach_sim_kernel` (the simulated kernel is underneath) | a model of the kernel's registry on `mach-sim` |
//!
//! A backend value stands for one open registry *in one IPC space*: port names passed to
//! [`RegistryBackend::watch`] are names in that space (on NextBSD, the calling process; in the
//! simulation, the task the handle was opened for).
//!
//! The trait speaks the kernel's structs so each implementation is a direct image of the ioctl
//! (including the kernel's truncation of lookups); the helpers in this module add what callers
//! need on top, such as [`lookup_all`], which retries until nothing is truncated (spec §6 #4).

use thiserror::Error;

use crate::registry_abi::{ioreg_criteria, ioreg_node, ioreg_test_event, ioreg_watch_reg};

#[cfg(mach_backend = "nextbsd")]
mod nextbsd;
#[cfg(mach_backend = "nextbsd")]
#[cfg_attr(mach_over_sim, path = "raw_sim.rs")]
#[cfg_attr(mach_trap_so, path = "raw_so.rs")]
#[cfg_attr(not(any(mach_over_sim, mach_trap_so)), path = "raw_os.rs")]
mod raw;
#[cfg(mach_backend = "nextbsd")]
pub use nextbsd::DevIoRegistry;

#[cfg(mach_sim_kernel)]
mod sim;
#[cfg(mach_sim_kernel)]
pub use sim::{SimDevice, SimRegistry, SimRegistryConfig, SimRegistryHandle, TestEventSupport};

/// The registry `space` sees, for [`crate::NotificationPort::open`]: on NextBSD (and NextBSD
/// over sim) `/dev/ioregistry`; on the simulated kernel the registry of the space's kernel
/// ([`SimRegistry::of_kernel`]), opened for the space's task. [`RegistryError::NoDevice`] when
/// there is none (and always on macOS, whose IOKit is Apple's own).
pub fn open(
    space: &mach_async::Space,
) -> Result<std::sync::Arc<dyn RegistryBackend>, RegistryError> {
    #[cfg(mach_backend = "nextbsd")]
    {
        let _ = space;
        Ok(std::sync::Arc::new(DevIoRegistry::open()?))
    }
    #[cfg(mach_backend = "sim")]
    {
        let task = space.task();
        let registry = SimRegistry::of_kernel(task.kernel()).ok_or(RegistryError::NoDevice)?;
        Ok(std::sync::Arc::new(registry.open(task)))
    }
    #[cfg(mach_backend = "macos")]
    {
        let _ = space;
        Err(RegistryError::NoDevice)
    }
}

/// Error of a registry call, from the errno the kernel returned (spec §6 #11 mapping).
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum RegistryError {
    /// There is no `/dev/ioregistry` (a kernel without the in-kernel registry).
    #[error("no registry device")]
    NoDevice,
    /// `EINVAL`: the registry rejected an argument (a port name without a send right, an empty
    /// event mask, an event kind that is not exactly one bit, ...).
    #[error("the registry rejected an argument (EINVAL)")]
    InvalidArgument,
    /// `ENOTTY` (a kernel predating the call) or `ENOSYS` (a kernel without `COMPAT_MACH`).
    #[error("the registry does not support this call (errno {0})")]
    Unsupported(i32),
    /// `ENOENT`: no node with that id.
    #[error("no such registry node")]
    NotFound,
    /// Any other errno.
    #[error("registry call failed (errno {0})")]
    Os(i32),
}

impl RegistryError {
    /// Classifies an errno returned by a registry ioctl.
    pub fn from_errno(errno: i32) -> RegistryError {
        match errno {
            libc::EINVAL => RegistryError::InvalidArgument,
            libc::ENOTTY | libc::ENOSYS => RegistryError::Unsupported(errno),
            libc::ENOENT => RegistryError::NotFound,
            other => RegistryError::Os(other),
        }
    }

    /// The errno this error stands for (`None` for [`RegistryError::NoDevice`]).
    pub fn errno(self) -> Option<i32> {
        match self {
            RegistryError::NoDevice => None,
            RegistryError::InvalidArgument => Some(libc::EINVAL),
            RegistryError::Unsupported(e) | RegistryError::Os(e) => Some(e),
            RegistryError::NotFound => Some(libc::ENOENT),
        }
    }
}

/// One open registry in one IPC space.
pub trait RegistryBackend: Send + Sync {
    /// `IOREGIOCWATCH`: from now on the kernel sends one event message to `reg.notify_port` for
    /// every event whose kind is in `reg.event_mask` on a device matching `reg.criteria`.
    ///
    /// The name must carry a send right in this space (else [`RegistryError::InvalidArgument`]);
    /// the kernel keeps its own send right, so the caller may drop its send uref afterwards.
    /// There is no unregister: the kernel retires the watch at the first emission after the
    /// port's receive right is destroyed.
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError>;

    /// `IOREGIOCLOOKUP`: writes the ids of up to `matches.len()` live nodes matching `criteria`
    /// and returns the number of nodes that matched, which exceeds `matches.len()` when the list
    /// was truncated.
    fn lookup(
        &self,
        criteria: &ioreg_criteria,
        matches: &mut [u64],
    ) -> Result<usize, RegistryError>;

    /// `IOREGIOCNODE`: the node with this id. A detached id lingers: it succeeds with every field
    /// empty and `state` = [`crate::registry_abi::IOREG_STATE_DETACHED`].
    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError>;

    /// `IOREGIOCTESTEVENT`: feeds a synthetic event through the kernel's match-and-send path.
    /// `kind` 0 is the presence probe: `InvalidArgument` means the call exists.
    fn test_event(&self, event: &ioreg_test_event) -> Result<(), RegistryError>;
}

impl<B: RegistryBackend + ?Sized> RegistryBackend for std::sync::Arc<B> {
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError> {
        (**self).watch(reg)
    }
    fn lookup(
        &self,
        criteria: &ioreg_criteria,
        matches: &mut [u64],
    ) -> Result<usize, RegistryError> {
        (**self).lookup(criteria, matches)
    }
    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        (**self).node(id)
    }
    fn test_event(&self, event: &ioreg_test_event) -> Result<(), RegistryError> {
        (**self).test_event(event)
    }
}

/// First buffer size of [`lookup_all`]: NextBSD's `IOServiceGetMatchingServices` uses 128 and
/// stops there.
pub const LOOKUP_INITIAL_MAX: usize = 128;

/// Every live node matching `criteria`: retries with a larger buffer while the kernel reports
/// more matches than fit (spec §6 #4), so nothing is silently dropped.
pub fn lookup_all<B: RegistryBackend + ?Sized>(
    backend: &B,
    criteria: &ioreg_criteria,
) -> Result<Vec<u64>, RegistryError> {
    let mut ids = vec![0u64; LOOKUP_INITIAL_MAX];
    loop {
        let count = backend.lookup(criteria, &mut ids)?;
        if count <= ids.len() {
            ids.truncate(count);
            return Ok(ids);
        }
        // Edge: devices may attach between two calls; size for what was reported plus slack.
        let grown = count.saturating_add(count / 4 + 16);
        ids.resize(grown, 0);
    }
}
