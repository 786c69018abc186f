//! The fixture the simulated-registry tests share: one kernel, one client task, the registry and
//! the task's handle to it, and the ending every test needs (close the port, prune the dead
//! kernel watches, assert that nothing is left).
#![allow(dead_code)] // each test file uses a subset

use std::time::Duration;

use iokit_notify::registry::{SimRegistry, SimRegistryHandle};
use iokit_notify::registry_abi::{encode_name_truncating, ioreg_test_event, IOREG_EVENT_DEPART};
use iokit_notify::{NotificationPort, RegistryBackend, RegistryError};
use mach_async::Space;
use mach_sim::{Kernel, Task};

/// Generous bound that only turns a hang into a failure (never a performance assertion).
pub const HANG: Duration = Duration::from_secs(20);

/// A kernel with one client task and a simulated registry the task has opened.
pub struct Fixture {
    pub kernel: Kernel,
    pub task: Task,
    pub registry: SimRegistry,
    pub dev: SimRegistryHandle,
}

impl Fixture {
    pub fn new() -> Fixture {
        let kernel = Kernel::new();
        let task = kernel.task_create("client", 77, 0, 0);
        let registry = SimRegistry::new(&kernel);
        let dev = registry.open(&task);
        Fixture {
            kernel,
            task,
            registry,
            dev,
        }
    }

    /// The client task's space.
    pub fn space(&self) -> Space {
        Space::from_task(self.task.clone())
    }

    /// A notification port of the client task on the registry (found from the task's space:
    /// the registry is the newest one of the kernel).
    pub fn port(&self) -> NotificationPort {
        NotificationPort::builder(&self.space()).build().unwrap()
    }

    /// Emits one test event through the client's handle.
    pub fn emit(&self, kind: u32, id: u64, name: &str, class: &str) -> Result<(), RegistryError> {
        let te = ioreg_test_event {
            kind,
            id,
            name: encode_name_truncating(name),
            classname: encode_name_truncating(class),
            ..ioreg_test_event::default()
        };
        self.dev.test_event(&te)
    }

    /// Closes the port (within [`HANG`]), then [`Fixture::finish_without_port`].
    pub async fn finish(self, port: NotificationPort) {
        tokio::time::timeout(HANG, port.close())
            .await
            .expect("close completes");
        self.finish_without_port();
    }

    /// Prunes the dead kernel watches with one emission and asserts that nothing the test
    /// created is left. The emission's result is ignored: a dead client task cannot use its
    /// handle, but the registry still emits.
    pub fn finish_without_port(self) {
        let _ = self.emit(IOREG_EVENT_DEPART, u64::MAX, "", "");
        assert_eq!(self.registry.watch_count(), 0, "every kernel watch pruned");
        let Fixture {
            kernel,
            registry,
            dev,
            ..
        } = self;
        drop(dev);
        drop(registry);
        kernel.assert_no_leaks();
    }
}
