//! The backend-portable conformance suite: behaviour tests written once against [`Fixture`] and
//! run on every backend that can run them.
//!
//! | command | backend | spaces |
//! |---|---|---|
//! | `cargo test -p mach-conformance` (Linux) | `sim`: the simulated kernel's Rust API | a server and a client task per test |
//! | `cargo test -p mach-conformance --features nextbsd-over-sim` (Linux) | `nextbsd-over-sim`: `sys/nextbsd.rs`, the code that ships, with its raw calls on the simulated kernel's trap face | one (the process) |
//! | `cargo test -p mach-conformance` on NextBSD | `nextbsd`: the real kernel, `kevent` filter −16 | one (the process) |
//! | `cargo test -p mach-conformance` on macOS | `macos`: XNU, filter −8 | one (the process) |
//!
//! The tests themselves are in `tests/conformance/`; this library holds what they share: the
//! [`Fixture`] (spaces, [`Fixture::connect`], the leak check), bounded waits ([`within`]) and the
//! runner ([`run_suite`]), which prints one line per test and the summary line
//! `conformance backend=<name>: N passed, M failed, K skipped`.
//!
//! # One space or two
//! Natively a process is one IPC space, so "server" and "client" are the same space and
//! [`Fixture::SEPARATE_SPACES`] is `false`; on the sim backend they are two tasks. A test that
//! only makes sense across spaces (a dead-name notification: in one space a send right shares
//! its receive right's name, and destroying the receive right removes the name) says so with
//! [`Fixture::require_separate_spaces`] and is reported as skipped where it cannot run.
//!
//! # Leak check
//! [`Fixture::assert_no_leaks`] ends every test. On the sim backend it is the kernel's own
//! accounting (a fresh kernel per test). Natively it compares the process's Mach names before and
//! after the test: on NextBSD over sim the simulated process task's counts; on NextBSD the
//! process's open descriptors (every Mach name is one); on macOS `mach_port_names`. Because the
//! native backends share one space, the runner runs tests one at a time, and each fixture also
//! holds a process-wide lock while it lives.
//!
//! # Example
//!
//! ```
//! use mach_conformance::{current_thread_rt, within, Fixture};
//! use mach_async::MessageBuilder;
//! use futures::StreamExt;
//! use std::time::Duration;
//!
//! let fx = Fixture::new();
//! current_thread_rt().block_on(async {
//!     let (port, sender) = fx.connect();
//!     let mut stream = mach_async::MachRecvStream::new(port).unwrap();
//!     sender.send(MessageBuilder::new(7).build()).await.unwrap();
//!     let msg = within(Duration::from_secs(5), stream.next(), "message 7").await;
//!     assert_eq!(msg.unwrap().unwrap().id(), 7);
//! });
//! fx.assert_no_leaks();
//! ```

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mach_async::{Name, ReceiveRight, SendRight, Space};

mod runner;

pub use runner::{run_suite, Outcome, Skipped, Test};

/// The backend under test, as the summary line names it.
pub const BACKEND: &str = mach_async::sys::BACKEND;

/// How long a test waits for something that should happen at once before it fails.
pub const HANG: Duration = Duration::from_secs(10);

/// Awaits `fut` for at most `bound`; panics with "timed out after … waiting for `what`"
/// (say what was lost) instead of hanging.
pub async fn within<F: Future>(bound: Duration, fut: F, what: &str) -> F::Output {
    match tokio::time::timeout(bound, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {bound:?} waiting for {what}"),
    }
}

/// Asserts that `fut` does not complete within `window` (something that must not happen yet).
pub async fn not_within<F: Future>(window: Duration, fut: F, what: &str) {
    if tokio::time::timeout(window, fut).await.is_ok() {
        panic!("{what} happened, but it must not have");
    }
}

/// A current-thread runtime with IO and time.
pub fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// A two-worker runtime with IO and time.
pub fn multi_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime")
}

/// Serialises fixtures of a single-space backend (the process's names are shared).
fn process_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A test that panicked while holding it leaves nothing inconsistent behind.
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one test may use: the spaces, a way to connect them, and the leak check. See the
/// crate docs for what each backend provides.
pub struct Fixture {
    server: Space,
    client: Space,
    backend: backend::State,
    _serial: Option<MutexGuard<'static, ()>>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("backend", &BACKEND)
            .field("server", &self.server)
            .field("client", &self.client)
            .finish()
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    /// Whether [`Fixture::server`] and [`Fixture::client`] are different IPC spaces.
    pub const SEPARATE_SPACES: bool = backend::SEPARATE_SPACES;

    /// A fixture: on the sim backend a fresh kernel with a server (pid 100) and a client
    /// (pid 200) task; natively the process's space, with the names it holds now recorded.
    pub fn new() -> Fixture {
        let serial = (!Self::SEPARATE_SPACES).then(process_lock);
        let (server, client, backend) = backend::State::new();
        Fixture {
            server,
            client,
            backend,
            _serial: serial,
        }
    }

    /// The space servers live in.
    pub fn server(&self) -> &Space {
        &self.server
    }

    /// The space clients live in (the server's, natively).
    pub fn client(&self) -> &Space {
        &self.client
    }

    /// The pid the kernel stamps in the client's audit tokens.
    pub fn client_pid(&self) -> i32 {
        self.backend.client_pid()
    }

    /// A receive right in the server space and a send right to it in the client space.
    pub fn connect(&self) -> (ReceiveRight, SendRight) {
        self.backend.connect(&self.server, &self.client)
    }

    /// `Err(Skipped)` on backends with one space (see the crate docs).
    pub fn require_separate_spaces(&self, why: &'static str) -> Result<(), Skipped> {
        if Self::SEPARATE_SPACES {
            Ok(())
        } else {
            Err(Skipped(why))
        }
    }

    /// Destroys the port set `name` of the server space behind its owner's back, as exec or
    /// exit would (NextBSD: `close(name)`; macOS: `mod_refs(PORT_SET, −1)`).
    pub fn destroy_set_externally(&self, name: Name) {
        self.backend.destroy_set(&self.server, name);
    }

    /// Registers `port` with the bootstrap name service under `name` (the registration goes
    /// when the port dies). Natively this is `bootstrap_register` (launchd's liblaunch on
    /// NextBSD, libSystem on macOS); `Err(Skipped)` if the name server refuses it.
    pub fn register_service(&self, name: &str, port: &ReceiveRight) -> Result<(), Skipped> {
        mach_async::bootstrap::register(&self.server, name, port)
            .map_err(|_| Skipped("the name server refused bootstrap_register"))
    }

    /// An ioregistry in the server space on which events can be injected
    /// (`IOREGIOCTESTEVENT`), or `None` where the backend has none (macOS; a NextBSD kernel
    /// without `/dev/ioregistry`).
    pub fn registry(&self) -> Option<Box<dyn iokit_notify::registry::RegistryBackend>> {
        self.backend.registry(&self.server)
    }

    /// Fails the test, with a listing, if anything the test created is still alive. Waits up to
    /// 2 s for releases that other threads (a runtime's blocking pool) are still finishing.
    #[track_caller]
    pub fn assert_no_leaks(self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.backend.leaks() {
                None => return,
                Some(listing) if Instant::now() >= deadline => {
                    panic!("conformance backend={BACKEND}: leaked:\n{listing}")
                }
                Some(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

/// The simulated backend: a fresh kernel per fixture, two tasks.
#[cfg(mach_backend = "sim")]
mod backend {
    use super::*;
    use mach_async::mach_sim::{Kernel, Task};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub(super) const SEPARATE_SPACES: bool = true;

    pub(super) struct State {
        kernel: Kernel,
        server: Task,
        registry: Mutex<Option<iokit_notify::registry::SimRegistry>>,
    }

    impl State {
        pub(super) fn new() -> (Space, Space, State) {
            let kernel = Kernel::new();
            let server = kernel.task_create("server", 100, 0, 0);
            let client = kernel.task_create("client", 200, 501, 20);
            let state = State {
                kernel,
                server: server.clone(),
                registry: Mutex::new(None),
            };
            (Space::from_task(server), Space::from_task(client), state)
        }

        pub(super) fn client_pid(&self) -> i32 {
            200
        }

        pub(super) fn connect(&self, server: &Space, client: &Space) -> (ReceiveRight, SendRight) {
            static N: AtomicU32 = AtomicU32::new(0);
            let service = format!("conformance.{}", N.fetch_add(1, Ordering::Relaxed));
            let bs = self.kernel.bootstrap();
            let rname = bs.check_in(server.task(), &service).expect("check_in");
            let sname = bs.look_up(client.task(), &service).expect("look_up");
            // SAFETY: fresh rights the kernel just gave these tasks.
            let r = unsafe { ReceiveRight::from_raw_in(server, rname) };
            // SAFETY: as above.
            let s = unsafe { SendRight::from_raw_in(client, sname) };
            (r, s)
        }

        pub(super) fn destroy_set(&self, server: &Space, name: Name) {
            server.task().port_close(name).expect("close(set)");
        }

        pub(super) fn registry(
            &self,
            server: &Space,
        ) -> Option<Box<dyn iokit_notify::registry::RegistryBackend>> {
            let mut slot = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            let registry =
                slot.get_or_insert_with(|| iokit_notify::registry::SimRegistry::new(&self.kernel));
            Some(Box::new(registry.open(server.task())))
        }

        pub(super) fn leaks(&self) -> Option<String> {
            // The registry's watches hold kernel rights until it goes.
            self.registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let stats = self.kernel.stats();
            let clean = mach_async::mach_sim::KernelStats {
                tasks: stats.tasks,
                ..Default::default()
            };
            let _ = &self.server;
            (stats != clean).then(|| format!("{stats:?}\n{}", self.kernel.describe()))
        }
    }
}

/// What the single-space backends (NextBSD over sim, NextBSD, macOS) share: the process is the
/// one space, so server and client are the same.
#[cfg(not(mach_backend = "sim"))]
mod single_space {
    use super::*;

    /// The process's pid, which the kernel stamps in every message of the process.
    pub(super) fn client_pid() -> i32 {
        // SAFETY: getpid has no preconditions.
        unsafe { libc::getpid() }
    }

    /// A receive right and a send right to it, under one name (one space).
    pub(super) fn connect(space: &Space) -> (ReceiveRight, SendRight) {
        let port = ReceiveRight::new_in(space).expect("a receive right");
        let send = port.make_send().expect("a send right");
        (port, send)
    }
}

/// NextBSD over sim: the process's task of the global simulated kernel.
#[cfg(mach_over_sim)]
mod backend {
    use super::*;
    use mach_async::mach_sim::{Kernel, KernelStats};

    pub(super) const SEPARATE_SPACES: bool = false;

    pub(super) struct State {
        before: KernelStats,
        registry: Mutex<Option<iokit_notify::registry::SimRegistry>>,
    }

    fn counts() -> KernelStats {
        let stats = Kernel::global().stats();
        KernelStats { tasks: 0, ..stats }
    }

    impl State {
        pub(super) fn new() -> (Space, Space, State) {
            let state = State {
                before: counts(),
                registry: Mutex::new(None),
            };
            (Space::current(), Space::current(), state)
        }

        pub(super) fn client_pid(&self) -> i32 {
            super::single_space::client_pid()
        }

        pub(super) fn connect(&self, server: &Space, _: &Space) -> (ReceiveRight, SendRight) {
            super::single_space::connect(server)
        }

        pub(super) fn destroy_set(&self, _: &Space, name: Name) {
            // Exactly what exec/exit does on NextBSD: close the descriptor.
            assert_eq!(mach_async::mach_sim::trap::close(name as libc::c_int), 0);
        }

        pub(super) fn registry(
            &self,
            _: &Space,
        ) -> Option<Box<dyn iokit_notify::registry::RegistryBackend>> {
            let mut slot = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| {
                let registry = iokit_notify::registry::SimRegistry::new(Kernel::global());
                registry.install_device();
                registry
            });
            let dev = iokit_notify::registry::DevIoRegistry::open().expect("/dev/ioregistry");
            Some(Box::new(dev))
        }

        pub(super) fn leaks(&self) -> Option<String> {
            if self
                .registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .is_some()
            {
                iokit_notify::registry::SimRegistry::uninstall_device();
            }
            let now = counts();
            (now != self.before).then(|| {
                format!(
                    "process task before: {:?}\nafter: {now:?}\n{}",
                    self.before,
                    Kernel::global().describe()
                )
            })
        }
    }
}

/// NextBSD or macOS: the process's space; names are compared before and after.
#[cfg(all(not(mach_backend = "sim"), not(mach_over_sim)))]
mod backend {
    use super::*;
    use std::collections::BTreeSet;

    pub(super) const SEPARATE_SPACES: bool = false;

    pub(super) struct State {
        before: BTreeSet<u32>,
    }

    /// Every open descriptor ≥ 16 (NextBSD: each Mach name is one).
    #[cfg(mach_backend = "nextbsd")]
    fn names() -> BTreeSet<u32> {
        // SAFETY: no preconditions.
        let max = unsafe { libc::getdtablesize() }.clamp(0, 1 << 16);
        (16..max)
            // SAFETY: F_GETFD on any number only reads the descriptor table.
            .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
            .map(|fd| fd as u32)
            .collect()
    }

    /// The task's port names (`mach_port_names`).
    #[cfg(mach_backend = "macos")]
    fn names() -> BTreeSet<u32> {
        extern "C" {
            static mach_task_self_: u32;
            fn mach_port_names(
                task: u32,
                names: *mut *mut u32,
                names_count: *mut u32,
                types: *mut *mut u32,
                types_count: *mut u32,
            ) -> i32;
            fn vm_deallocate(task: u32, address: usize, size: usize) -> i32;
        }
        let (mut names, mut n, mut types, mut t) =
            (std::ptr::null_mut(), 0u32, std::ptr::null_mut(), 0u32);
        // SAFETY: out-pointers to locals; libSystem initialises `mach_task_self_` before main.
        let kr =
            unsafe { mach_port_names(mach_task_self_, &mut names, &mut n, &mut types, &mut t) };
        assert_eq!(kr, 0, "mach_port_names");
        // SAFETY: the kernel returned `n` names at `names`.
        let set = unsafe { std::slice::from_raw_parts(names, n as usize) }
            .iter()
            .copied()
            .collect();
        // SAFETY: both arrays were allocated for us by the kernel with these sizes.
        unsafe {
            vm_deallocate(mach_task_self_, names as usize, n as usize * 4);
            vm_deallocate(mach_task_self_, types as usize, t as usize * 4);
        }
        set
    }

    impl State {
        pub(super) fn new() -> (Space, Space, State) {
            let state = State { before: names() };
            (Space::current(), Space::current(), state)
        }

        pub(super) fn client_pid(&self) -> i32 {
            super::single_space::client_pid()
        }

        pub(super) fn connect(&self, server: &Space, _: &Space) -> (ReceiveRight, SendRight) {
            super::single_space::connect(server)
        }

        #[cfg(mach_backend = "nextbsd")]
        pub(super) fn destroy_set(&self, _: &Space, name: Name) {
            // SAFETY: closing the set's descriptor, as exec/exit would.
            assert_eq!(unsafe { libc::close(name as libc::c_int) }, 0);
        }

        #[cfg(mach_backend = "macos")]
        pub(super) fn destroy_set(&self, _: &Space, name: Name) {
            extern "C" {
                static mach_task_self_: u32;
                fn mach_port_mod_refs(task: u32, name: u32, right: u32, delta: i32) -> i32;
            }
            // SAFETY: scalar arguments.
            let kr = unsafe {
                mach_port_mod_refs(
                    mach_task_self_,
                    name,
                    mach_abi::MACH_PORT_RIGHT_PORT_SET,
                    -1,
                )
            };
            assert_eq!(kr, 0, "mod_refs(PORT_SET, -1)");
        }

        #[cfg(mach_backend = "nextbsd")]
        pub(super) fn registry(
            &self,
            _: &Space,
        ) -> Option<Box<dyn iokit_notify::registry::RegistryBackend>> {
            iokit_notify::registry::DevIoRegistry::open()
                .ok()
                .map(|d| Box::new(d) as Box<dyn iokit_notify::registry::RegistryBackend>)
        }

        #[cfg(mach_backend = "macos")]
        pub(super) fn registry(
            &self,
            _: &Space,
        ) -> Option<Box<dyn iokit_notify::registry::RegistryBackend>> {
            None
        }

        pub(super) fn leaks(&self) -> Option<String> {
            let now = names();
            let leaked: Vec<_> = now.difference(&self.before).collect();
            (!leaked.is_empty())
                .then(|| format!("names alive now that were not before: {leaked:?}"))
        }
    }
}
