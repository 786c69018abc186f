//! One measurement environment: an IPC space on the chosen backend, the raw calls for the old
//! design and the floor, and a leak check at the end.
//!
//! On the simulated kernel every phase gets its own [`mach_sim::Kernel`], so a leak is pinned
//! on the phase that caused it and no phase sees another's objects.

use crate::error::BenchError;
use crate::raw::{RawMach, SimRaw};
use std::sync::Arc;

/// An IPC space to measure in.
pub struct Env {
    raw: Arc<dyn RawMach>,
    sim: Option<(mach_sim::Kernel, mach_sim::Task)>,
}

impl Env {
    /// A fresh simulated kernel with one task named `label` (this process's pid and ids).
    pub fn sim(label: &str) -> Env {
        let kernel = mach_sim::Kernel::new();
        Env::sim_on(&kernel, label)
    }

    /// A task named `label` on an existing simulated kernel (tests pass their own kernel).
    pub fn sim_on(kernel: &mach_sim::Kernel, label: &str) -> Env {
        // SAFETY: geteuid/getegid have no preconditions and cannot fail.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let task = kernel.task_create(label, std::process::id(), euid, egid);
        Env {
            raw: Arc::new(SimRaw::new(task.clone())),
            sim: Some((kernel.clone(), task)),
        }
    }

    /// The raw Mach calls in this space.
    pub fn raw(&self) -> &Arc<dyn RawMach> {
        &self.raw
    }

    /// The simulated task, when on the simulated kernel.
    pub fn sim_task(&self) -> Option<&mach_sim::Task> {
        self.sim.as_ref().map(|(_, t)| t)
    }

    /// The simulated kernel, when on the simulated kernel.
    pub fn sim_kernel(&self) -> Option<&mach_sim::Kernel> {
        self.sim.as_ref().map(|(k, _)| k)
    }

    /// Checks that the phase left nothing behind in the kernel (the simulation counts every
    /// right, port, message, kqueue and knote; the real kernel cannot be asked), then ends the
    /// task.
    pub fn finish(self, phase: &str) -> Result<(), BenchError> {
        let Some((kernel, task)) = self.sim else {
            return Ok(());
        };
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
