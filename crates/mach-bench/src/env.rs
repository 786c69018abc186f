//! One measurement environment: an IPC space on the chosen backend, the raw calls for the old
//! design and the floor, the `mach-async` space for the stream side, and a leak check at the
//! end.
//!
//! On the simulated kernel every phase gets its own `mach_sim::Kernel`, so a leak is pinned on
//! the phase that caused it and no phase sees another's objects. On NextBSD there is one space,
//! the process's.

//!
//! This module knows the backends ([`BackendChoice`]); the command line (`cli`) names them, so
//! `cli` depends on `env` and never the other way round.

use crate::error::BenchError;
use crate::raw::RawMach;
use mach_async::Space;
use std::sync::Arc;

/// Whether this build has the simulated kernel (hosts without Mach).
pub const HAS_SIM: bool = cfg!(mach_backend = "sim");
/// Whether this build can measure the native kernel (NextBSD).
pub const HAS_NATIVE: bool = cfg!(mach_backend = "nextbsd");

/// Which kernel the measurements run against (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The embedded simulated NextBSD kernel (`mach-sim`), the default on every host.
    Sim,
    /// The real kernel: NextBSD's Mach IPC and `EVFILT_MACHPORT` (only in a NextBSD build).
    Native,
}

impl BackendChoice {
    /// The simulated kernel where this build has it (every host without Mach), else the native
    /// kernel (NextBSD builds, where `mach-async` is built for the real kernel).
    pub fn build_default() -> BackendChoice {
        if HAS_SIM {
            BackendChoice::Sim
        } else {
            BackendChoice::Native
        }
    }

    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Sim => "sim",
            BackendChoice::Native => "native",
        }
    }

    /// The backend named `name` on the command line (`sim` or `native`).
    pub fn from_name(name: &str) -> Option<BackendChoice> {
        [BackendChoice::Sim, BackendChoice::Native]
            .into_iter()
            .find(|b| b.as_str() == name)
    }
}

/// An IPC space to measure in.
pub struct Env {
    raw: Arc<dyn RawMach>,
    space: Space,
    #[cfg(mach_backend = "sim")]
    sim: Option<(mach_sim::Kernel, mach_sim::Task)>,
}

#[cfg(mach_backend = "sim")]
impl Env {
    /// A fresh simulated kernel with one task named `label` (this process's pid and ids).
    pub fn sim(label: &str) -> Env {
        Env::sim_on(&mach_sim::Kernel::new(), label)
    }

    /// A task named `label` on an existing simulated kernel (tests pass their own kernel).
    pub fn sim_on(kernel: &mach_sim::Kernel, label: &str) -> Env {
        // SAFETY: geteuid/getegid have no preconditions and cannot fail.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let task = kernel.task_create(label, std::process::id(), euid, egid);
        Env {
            raw: Arc::new(crate::raw::SimRaw::new(task.clone())),
            space: Space::from_task(task.clone()),
            sim: Some((kernel.clone(), task)),
        }
    }

    /// The simulated kernel.
    pub fn sim_kernel(&self) -> Option<&mach_sim::Kernel> {
        self.sim.as_ref().map(|(k, _)| k)
    }

    /// The simulated task this environment measures in (the dispatch model's kqueue and port
    /// sets are made through it).
    pub fn sim_task(&self) -> Option<&mach_sim::Task> {
        self.sim.as_ref().map(|(_, t)| t)
    }

    /// Checks that the phase left nothing behind in the kernel (the simulation counts every
    /// right, port, message, kqueue and knote), then ends the task.
    pub fn finish(self, phase: &str) -> Result<(), BenchError> {
        let Some((kernel, task)) = self.sim else {
            return Ok(());
        };
        drop(self.raw);
        drop(self.space);
        let live = kernel.stats();
        let leaked = mach_sim::KernelStats { tasks: 0, ..live } != mach_sim::KernelStats::default();
        let _ = task.terminate();
        if leaked {
            return Err(BenchError::Leak {
                phase: phase.to_string(),
                detail: format!("{live:?}"),
            });
        }
        Ok(())
    }
}

#[cfg(mach_backend = "nextbsd")]
impl Env {
    /// The process's own IPC space on the NextBSD kernel.
    pub fn native() -> Result<Env, BenchError> {
        mach_async::sys::mach_available()
            .map_err(|e| BenchError::Unavailable(format!("NextBSD Mach layer: {e}")))?;
        if !crate::raw::NativeRaw::available() {
            return Err(BenchError::Unavailable(
                "NextBSD Mach traps are not registered (sysctl mach.syscall.*)".into(),
            ));
        }
        Ok(Env {
            raw: Arc::new(crate::raw::NativeRaw::default()),
            space: Space::current(),
        })
    }

    /// The real kernel cannot be asked what is left; nothing to check.
    pub fn finish(self, phase: &str) -> Result<(), BenchError> {
        let _ = phase;
        Ok(())
    }
}

#[cfg(mach_backend = "macos")]
impl Env {
    /// Nothing to check: macOS has no measurement backend in this build.
    pub fn finish(self, phase: &str) -> Result<(), BenchError> {
        let _ = phase;
        Ok(())
    }
}

impl Env {
    /// A fresh environment on `backend` for the phase `label`.
    pub fn for_backend(backend: BackendChoice, label: &str) -> Result<Env, BenchError> {
        match backend {
            #[cfg(mach_backend = "sim")]
            BackendChoice::Sim => Ok(Env::sim(label)),
            #[cfg(mach_backend = "nextbsd")]
            BackendChoice::Native => {
                let _ = label;
                Env::native()
            }
            other => {
                let _ = label;
                Err(crate::check_backend(other).err().unwrap_or_else(|| {
                    BenchError::Unavailable(format!(
                        "backend {} is not in this build",
                        other.as_str()
                    ))
                }))
            }
        }
    }

    /// The raw Mach calls in this space.
    pub fn raw(&self) -> &Arc<dyn RawMach> {
        &self.raw
    }

    /// The same space for `mach-async`.
    pub fn space(&self) -> &Space {
        &self.space
    }
}
