//! An in-process model of NextBSD's Mach IPC and its `EVFILT_MACHPORT` kqueue filter.
//!
//! The public API below is the contract other crates (`mach-async`'s simulated backend, the
//! consumer crates' tests, the C ABI in [`ffi`]) build against. The implementation is split into
//! private modules: `state` (the one lock, ids, waiting, accounting), `space` (name tables and
//! the `mach_port_*` calls), `port` (ports, sets, destruction, notification requests), `msg`
//! (copyin, queues, receive, copyout), `notify` (notification messages), `kqueue` (the kqueue
//! core and `EVFILT_MACHPORT`), `bootstrap` and `fault` (test-only fault injection:
//! [`Kernel::faults`], [`Faults`]).
//!
//! Model
//! - A [`Kernel`] is one simulated machine: tasks (IPC spaces), ports, port sets, queues,
//!   notifications, the bootstrap name service and kqueues. [`Kernel::global`] is the one the C ABI
//!   and [`Task::current`] default to; tests make their own with [`Kernel::new`] so that their leak
//!   assertions ([`Kernel::assert_no_leaks`]) see only what they created.
//! - A [`Task`] is an IPC space: a name table with NextBSD's name allocation (lowest free name,
//!   names start at 16 as NextBSD's fds do). Every port call takes the task explicitly; `mach_msg`
//!   runs in the task it is called on. The C ABI uses the calling thread's current task
//!   ([`Task::current`], set with [`Task::enter`]).
//! - A [`Kqueue`] is a real pollable file descriptor (readable while it has queued events) with
//!   NextBSD's `EVFILT_MACHPORT` semantics (`native-filter.md` §3).
//! - A [`KernelSendRight`] is a send right held by the kernel itself (as the IOKit registry holds
//!   its watchers' ports): its sends bypass the queue limit and carry the kernel's audit token.
//!
//! All return codes are the kernel's (`kern_return_t`, `mach_msg_return_t`, errno values).
//!
//! # Example
//!
//! A port in a set watched by a kqueue (knote first, as native-filter.md §5 asks), a message
//! from the kernel, the notify-mode event naming the member, and the zero-timeout receive:
//!
//! ```
//! use mach_sim::mach_abi::*;
//! use mach_sim::Kernel;
//! use std::time::Duration;
//!
//! let kernel = Kernel::new();
//! let server = kernel.task_create("server", 100, 0, 0);
//! let port = server.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
//! let set = server.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
//! let kq = server.kqueue().unwrap();
//! let add = kevent_freebsd {
//!     ident: set as usize,
//!     filter: EVFILT_MACHPORT_NEXTBSD,
//!     flags: EV_ADD | EV_CLEAR,
//!     ..kevent_freebsd::zeroed()
//! };
//! kq.kevent(&[add], &mut [], None).unwrap();
//! server.port_move_member(port, set).unwrap();
//!
//! // The kernel (a device registry, say) sends to the port...
//! let watcher = server.kernel_send_right(port).unwrap();
//! watcher.send(1234, &[0; 8]).unwrap();
//!
//! // ...the kqueue reports the member that has a message (a peek: it stays queued)...
//! let mut events = [kevent_freebsd::zeroed(); 1];
//! assert_eq!(kq.kevent(&[], &mut events, Some(Duration::ZERO)).unwrap(), 1);
//! assert_eq!(events[0].data, i64::from(port));
//!
//! // ...and a zero-timeout receive on the set takes it.
//! let mut buf = [0u64; 16];
//! let msg = buf.as_mut_ptr().cast::<mach_msg_header_t>();
//! let options = MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT;
//! // SAFETY: `buf` is 8-aligned, 128 bytes long and used by nothing else during the call.
//! let mr = unsafe { server.mach_msg(msg, options, 0, 128, set, 0, 0) };
//! assert_eq!(mr, MACH_MSG_SUCCESS);
//! // SAFETY: the receive succeeded, so `buf` starts with a header.
//! let header = unsafe { msg.read() };
//! assert_eq!((header.msgh_id, header.msgh_local_port), (1234, port));
//!
//! drop((watcher, kq));
//! server.port_close(set).unwrap();
//! server.port_close(port).unwrap();
//! kernel.assert_no_leaks();
//! ```

pub use mach_abi;

pub use fault::{FaultAction, FaultHandle, Faults, MsgMatch};

use mach_abi::{
    audit_token_t, kern_return_t, kevent_freebsd, mach_msg_header_t, mach_msg_id_t,
    mach_msg_option_t, mach_msg_return_t, mach_msg_size_t, mach_msg_timeout_t,
    mach_msg_type_name_t, mach_port_delta_t, mach_port_mscount_t, mach_port_name_t,
    mach_port_right_t, mach_port_type_t,
};
use mach_abi::{
    MACH_MSG_SUCCESS, MACH_PORT_RIGHT_RECEIVE, MACH_RCV_MSG, MACH_SEND_INVALID_DEST, MACH_SEND_MSG,
    MACH_SEND_MSG_TOO_SMALL,
};
use state::{KqId, PortId, Shared, TaskId};
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

mod bootstrap;
mod fault;
pub mod ffi;
mod kqueue;
mod msg;
mod notify;
mod port;
mod space;
mod state;
pub mod trap;

/// How many times the calling thread has entered a simulated kernel (any kernel of the
/// process): each trap (`mach_msg`, `kevent`, a port call) enters once, and a `mach_msg` that
/// both sends and receives enters twice, as the kernel takes its lock once per half. What a
/// count of system calls would show on a real kernel; the benchmark divides it by the work
/// done to show what a design costs in kernel calls, a figure the machine's load cannot move.
///
/// ```
/// let kernel = mach_sim::Kernel::new();
/// let task = kernel.task_create("t", 1, 0, 0);
/// let before = mach_sim::thread_kernel_entries();
/// let port = task.port_allocate(mach_abi::MACH_PORT_RIGHT_RECEIVE).unwrap();
/// task.port_destroy(port).unwrap();
/// assert_eq!(mach_sim::thread_kernel_entries() - before, 2);
/// kernel.assert_no_leaks();
/// ```
pub fn thread_kernel_entries() -> u64 {
    state::thread_kernel_entries()
}

/// A port name in a task's IPC space.
pub type Name = mach_port_name_t;

/// Result of a port call: `Err` carries the `kern_return_t` the kernel reports.
pub type KernResult<T> = Result<T, kern_return_t>;

/// Behaviour of closing a port-set name that has a live knote (`native-filter.md` §3.1): the two
/// NextBSD kernel copies differ and code above must work with both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetCloseSemantics {
    /// nextbsd/nextbsd-kernel b764ef6 (`f_isfd = 0`): the set's destruction queues
    /// `EV_EOF|EV_ONESHOT` on every knote.
    #[default]
    EofOnDestroy,
    /// nextbsd-redux/nextbsd-kernel dcfa0cd (`f_isfd = 1`): closing the set's own name removes its
    /// knotes silently; only a destruction by other means (task exit) posts EOF.
    SilentOnClose,
}

/// When a message queued on a port-set member raises a knote event on the set
/// (`native-filter.md` §5 rules 17 and 27).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetSignalSemantics {
    /// NextBSD (`ipc_mqueue_send` → `ipc_pset_signal`): every message queued on a member
    /// activates the set's knotes. Receives through the set rotate nothing: they serve the first
    /// non-empty member in set order.
    #[default]
    EveryEnqueue,
    /// XNU's prepost rule (`osfmk/kern/waitq.c`, `do_waitq_select_n_locked_sets`): a message
    /// queued on a member activates the set's knotes only if the member is not already
    /// *preposted* on the set; it then becomes preposted. A prepost is cleared only when a
    /// receive through the set, or the filter's probe, walks the prepost list and finds that
    /// member empty. Receiving on the member's own name, or stopping a drain before a receive
    /// through the set returns `MACH_RCV_TIMED_OUT`, leaves the member preposted, so later
    /// messages on it raise no event. Receives through the set serve the preposted members
    /// round-robin (the member served moves to the back), so cross-port order is not set order.
    XnuPrepost,
}

/// Tunables of one simulated kernel.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// Queue limit of a new port (NextBSD: 5, and it cannot be raised).
    pub default_qlimit: u32,
    /// How `close(set)` treats knotes.
    pub set_close: SetCloseSemantics,
    /// Names are real file descriptors of this process, as on NextBSD (`mach-abi.md` §9.3): every
    /// name is the lowest free descriptor at or above 16 and is closed when the name is freed.
    /// Off by default (names are then plain numbers from 16, per task); on for the global kernel
    /// when the `nextbsd-traps` feature is on, because the [`trap`] face's `close()` must tell a
    /// Mach name from any other descriptor of the process.
    pub names_are_descriptors: bool,
    /// When messages on a set's members raise knote events (NextBSD's every-enqueue rule, or
    /// XNU's prepost rule for testing macOS behaviour).
    pub set_signal: SetSignalSemantics,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            default_qlimit: 5,
            set_close: SetCloseSemantics::default(),
            names_are_descriptors: false,
            set_signal: SetSignalSemantics::default(),
        }
    }
}

/// Counts of live kernel objects, for leak checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Tasks not yet terminated.
    pub tasks: u64,
    /// Ports (receive rights' objects) still active, excluding port sets.
    pub ports: u64,
    /// Port sets still active.
    pub port_sets: u64,
    /// Rights held in all live tasks' name tables (each right kind under a name counts once;
    /// send user references do not multiply it).
    pub rights: u64,
    /// Messages queued on all ports (including ones parked for a blocked receiver).
    pub queued_messages: u64,
    /// Kernel-held send rights ([`KernelSendRight`]) not yet dropped.
    pub kernel_rights: u64,
    /// Open kqueues.
    pub kqueues: u64,
    /// Knotes attached to kqueues.
    pub knotes: u64,
}

impl KernelStats {
    /// Objects the kernel still holds for its tasks: ports, port sets, rights, queued messages,
    /// kernel-held rights, kqueues and knotes (tasks themselves are not counted). Zero once
    /// everything a test created is released, which a test waiting for an asynchronous release
    /// (a value dropped without its `close`) polls before [`Kernel::assert_no_leaks`].
    ///
    /// ```
    /// let kernel = mach_sim::Kernel::new();
    /// let task = kernel.task_create("t", 1, 0, 0);
    /// let port = task.port_allocate(mach_abi::MACH_PORT_RIGHT_RECEIVE).unwrap();
    /// assert_eq!(kernel.stats().held(), 2, "the port and its receive right");
    /// task.port_destroy(port).unwrap();
    /// assert_eq!(kernel.stats().held(), 0);
    /// ```
    pub fn held(&self) -> u64 {
        self.ports
            + self.port_sets
            + self.rights
            + self.queued_messages
            + self.kernel_rights
            + self.kqueues
            + self.knotes
    }
}

/// State of one receive right's port, as `mach_port_get_attributes(MACH_PORT_RECEIVE_STATUS)`
/// would report it (a simulation-only query; NextBSD's libmach cannot answer it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStatus {
    /// Messages queued on the port.
    pub msgcount: u32,
    /// Queue limit.
    pub qlimit: u32,
    /// Sequence number the next received message gets.
    pub seqno: u32,
    /// Make-send count.
    pub mscount: u32,
    /// Send rights in existence (name-table entries, rights in messages, kernel rights).
    pub srights: u32,
    /// Name of the port set the port belongs to in this task (0 if none).
    pub pset: Name,
    /// Senders blocked on the full queue.
    pub blocked_senders: u32,
}

/// One simulated machine. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Shared>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("stats", &self.stats())
            .finish()
    }
}

static GLOBAL: OnceLock<Kernel> = OnceLock::new();

thread_local! {
    static CURRENT: RefCell<Option<Task>> = const { RefCell::new(None) };
}

impl Kernel {
    /// A new isolated kernel with the default configuration.
    pub fn new() -> Kernel {
        Self::with_config(KernelConfig::default())
    }
    /// A new isolated kernel.
    pub fn with_config(config: KernelConfig) -> Kernel {
        Kernel {
            inner: Arc::new(Shared::new(config)),
        }
    }
    /// The process-wide kernel used by the C ABI and by [`Task::current`] when no task was
    /// entered.
    pub fn global() -> &'static Kernel {
        GLOBAL.get_or_init(|| {
            Kernel::with_config(KernelConfig {
                names_are_descriptors: cfg!(feature = "nextbsd-traps"),
                ..KernelConfig::default()
            })
        })
    }
    /// This kernel's configuration.
    pub fn config(&self) -> &KernelConfig {
        &self.inner.config
    }
    /// Whether two handles denote the same kernel.
    pub fn same(&self, other: &Kernel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
    /// Creates a task whose audit token carries `pid`, `euid` and `egid`.
    pub fn task_create(&self, name: &str, pid: u32, euid: u32, egid: u32) -> Task {
        let mut st = self.inner.lock();
        let id = st.next_task;
        st.next_task += 1;
        st.tasks.insert(
            id,
            space::TaskState::new(
                name,
                pid,
                euid,
                egid,
                self.inner.config.names_are_descriptors,
            ),
        );
        Task {
            kernel: self.clone(),
            id,
        }
    }
    /// The live task with this id.
    pub fn task(&self, id: u32) -> Option<Task> {
        let st = self.inner.lock();
        st.task_is_active(id).then(|| Task {
            kernel: self.clone(),
            id,
        })
    }
    /// Task records the kernel holds (diagnostics): one per task not yet terminated. A
    /// terminated task's record is freed with its rights, so a kernel that runs tasks forever
    /// does not grow with the tasks that ever ran.
    pub fn task_records(&self) -> usize {
        self.inner.lock().tasks.len()
    }
    /// Counts of live objects.
    pub fn stats(&self) -> KernelStats {
        self.inner.lock().stats()
    }
    /// Panics with a listing (task, name, right kind, queued messages) of every port, set, right,
    /// queued message, kernel right, kqueue and knote still alive. Tasks themselves may be alive
    /// as long as they hold nothing.
    #[track_caller]
    pub fn assert_no_leaks(&self) {
        let (stats, listing) = {
            let st = self.inner.lock();
            (st.stats(), st.listing())
        };
        let clean = KernelStats {
            tasks: stats.tasks,
            ..KernelStats::default()
        };
        if stats != clean {
            panic!("mach-sim: kernel objects leaked: {stats:?}\n{listing}");
        }
    }
    /// Threads currently blocked in this kernel (in `mach_msg` or a waiting `kevent`); lets a
    /// test wait until a receiver is parked before it sends.
    pub fn blocked_threads(&self) -> usize {
        self.inner.lock().blocked
    }
    /// How many times a thread blocked in `mach_msg` has been woken so far (diagnostics: such a
    /// thread is woken only when its own wait may be over — a message or grant for it, its port
    /// or set destroyed, its task terminated — or by its timeout, never by unrelated traffic).
    pub fn msg_waiter_wakeups(&self) -> u64 {
        self.inner.lock().waiter_wakeups
    }
    /// The listing [`Kernel::assert_no_leaks`] prints: every live right, port, set, queued
    /// message, kernel right, kqueue and knote.
    pub fn describe(&self) -> String {
        self.inner.lock().listing()
    }
    /// The bootstrap name service of this kernel.
    pub fn bootstrap(&self) -> Bootstrap {
        Bootstrap {
            kernel: self.clone(),
        }
    }

    /// The default task of this kernel (created on first use with this process's pid, euid
    /// and egid); [`Task::current`] uses the global kernel's.
    pub fn default_task(&self) -> Task {
        let id = *self.inner.default_task.get_or_init(|| {
            // SAFETY: these calls cannot fail and have no preconditions.
            let (pid, euid, egid) =
                unsafe { (libc::getpid() as u32, libc::geteuid(), libc::getegid()) };
            self.task_create("default", pid, euid, egid).id
        });
        Task {
            kernel: self.clone(),
            id,
        }
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::new()
    }
}

/// A task (IPC space) of a simulated kernel. Cheap to clone; identity is (kernel, id).
#[derive(Clone)]
pub struct Task {
    kernel: Kernel,
    id: TaskId,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("name", &self.name())
            .finish()
    }
}

impl PartialEq for Task {
    fn eq(&self, other: &Task) -> bool {
        self.id == other.id && self.kernel.same(&other.kernel)
    }
}

impl Eq for Task {}

/// Restores the previously current task when dropped (see [`Task::enter`]).
pub struct TaskGuard {
    previous: Option<Task>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // Nothing to restore once the thread's storage is gone (thread exit, process exit).
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

impl Task {
    /// The calling thread's current task: the one last entered on this thread, else the global
    /// kernel's default task (created on first use with this process's pid, euid and egid).
    ///
    /// # Panics
    /// When the calling thread's thread-local storage has been destroyed: in a thread-local
    /// destructor, or on the main thread in an `atexit` handler or ELF destructor after `main`
    /// returned. Code that can run there (every C entry point) uses [`Task::try_current`].
    pub fn current() -> Task {
        Self::try_current().expect(
            "mach-sim: Task::current called after the thread's storage was destroyed \
             (use Task::try_current in code that can run at thread or process exit)",
        )
    }
    /// [`Task::current`], or `None` once the calling thread's thread-local storage has been
    /// destroyed (thread-local destructors; `atexit` handlers and ELF destructors of the main
    /// thread after `main` returned), when the task the thread had entered can no longer be
    /// known. Never panics.
    pub fn try_current() -> Option<Task> {
        match CURRENT.try_with(|c| c.try_borrow().ok().map(|t| t.clone())) {
            Ok(Some(entered)) => Some(entered.unwrap_or_else(|| Kernel::global().default_task())),
            _ => None,
        }
    }
    /// Makes this the calling thread's current task until the guard is dropped.
    pub fn enter(&self) -> TaskGuard {
        TaskGuard {
            previous: self.set_current(),
        }
    }
    /// Makes this the calling thread's current task; returns the previous one (C ABI form).
    ///
    /// Does nothing and returns `None` once the thread's storage has been destroyed (see
    /// [`Task::try_current`]).
    pub fn set_current(&self) -> Option<Task> {
        CURRENT
            .try_with(|c| c.borrow_mut().replace(self.clone()))
            .ok()
            .flatten()
    }
    /// Clears the calling thread's current task (it falls back to the global default task);
    /// returns the previous one.
    pub fn clear_current() -> Option<Task> {
        CURRENT.try_with(|c| c.borrow_mut().take()).ok().flatten()
    }
    /// The name given at creation (empty once the task is terminated: its record is freed).
    pub fn name(&self) -> String {
        self.kernel
            .inner
            .lock()
            .tasks
            .get(&self.id)
            .map(|t| t.name.clone())
            .unwrap_or_default()
    }
    /// This task's id (stable, never reused within a kernel).
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The kernel this task lives in.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }
    /// Whether the task is still alive.
    pub fn is_active(&self) -> bool {
        self.kernel.inner.lock().task_is_active(self.id)
    }
    /// The audit token the kernel stamps on this task's messages (`mach-abi.md` §6.5); all
    /// zeros once the task is terminated (its record is freed; messages it sent keep theirs).
    pub fn audit_token(&self) -> audit_token_t {
        let st = self.kernel.inner.lock();
        audit_token_t {
            val: st
                .tasks
                .get(&self.id)
                .map(|t| t.audit())
                .unwrap_or_default(),
        }
    }
    /// Terminates the task: destroys every right it holds (receive rights destroy their ports,
    /// with dead-name / port-destroyed / send-once / no-senders notifications following), closes
    /// its kqueues' knotes. `KERN_INVALID_TASK` if already terminated.
    pub fn terminate(&self) -> KernResult<()> {
        self.kernel.inner.lock().terminate_task(self.id)
    }

    // ---- port calls (XNU semantics and kern_return values) ----

    /// `mach_port_allocate`: `MACH_PORT_RIGHT_RECEIVE`, `_PORT_SET` or `_DEAD_NAME`.
    pub fn port_allocate(&self, right: mach_port_right_t) -> KernResult<Name> {
        self.kernel.inner.lock().port_allocate(self.id, right)
    }
    /// `mach_reply_port`: a new receive right (0 on failure).
    pub fn reply_port(&self) -> Name {
        self.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap_or(0)
    }
    /// `mach_port_deallocate`: drops one user reference of a send, send-once or dead-name right.
    pub fn port_deallocate(&self, name: Name) -> KernResult<()> {
        self.kernel.inner.lock().port_deallocate(self.id, name)
    }
    /// `mach_port_destroy`: removes every right under the name (receive: the port dies).
    pub fn port_destroy(&self, name: Name) -> KernResult<()> {
        self.kernel.inner.lock().port_destroy(self.id, name)
    }
    /// `mach_port_mod_refs`.
    pub fn port_mod_refs(
        &self,
        name: Name,
        right: mach_port_right_t,
        delta: mach_port_delta_t,
    ) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .port_mod_refs(self.id, name, right, delta)
    }
    /// `mach_port_insert_right` (NextBSD: `name != poly` → `MACH_SEND_INVALID_DEST`).
    pub fn port_insert_right(
        &self,
        name: Name,
        poly: Name,
        poly_poly: mach_msg_type_name_t,
    ) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .port_insert_right(self.id, name, poly, poly_poly)
    }
    /// `mach_port_move_member`: `after == 0` removes the member from its set; moving between sets
    /// is atomic. Moving a port with queued messages into a set signals the set's knotes.
    pub fn port_move_member(&self, member: Name, after: Name) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .port_move_member(self.id, member, after)
    }
    /// `mach_port_insert_member` (NextBSD allows one set per port, as `move_member`).
    pub fn port_insert_member(&self, member: Name, set: Name) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .port_insert_member(self.id, member, set)
    }
    /// `mach_port_extract_member`.
    pub fn port_extract_member(&self, member: Name, set: Name) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .port_extract_member(self.id, member, set)
    }
    /// `mach_port_request_notification`; returns the previous send-once right's name (or 0).
    pub fn port_request_notification(
        &self,
        name: Name,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: Name,
        notify_poly: mach_msg_type_name_t,
    ) -> KernResult<Name> {
        self.kernel.inner.lock().request_notification(
            self.id,
            name,
            msgid,
            sync,
            notify,
            notify_poly,
        )
    }
    /// `mach_port_type`.
    pub fn port_type(&self, name: Name) -> KernResult<mach_port_type_t> {
        self.kernel.inner.lock().port_type(self.id, name)
    }
    /// `mach_port_get_refs`.
    pub fn port_get_refs(&self, name: Name, right: mach_port_right_t) -> KernResult<u32> {
        self.kernel.inner.lock().port_get_refs(self.id, name, right)
    }
    /// Members of a port set, in set order.
    pub fn port_set_members(&self, set: Name) -> KernResult<Vec<Name>> {
        self.kernel.inner.lock().port_set_members(self.id, set)
    }
    /// Status of the port whose receive right `name` holds (simulation-only query).
    pub fn port_status(&self, name: Name) -> KernResult<PortStatus> {
        self.kernel.inner.lock().port_status(self.id, name)
    }
    /// NextBSD's `close(name)`: the last close of a set destroys it; of a receive right destroys
    /// the port (queued messages destroyed, senders' rights become dead names); otherwise the
    /// entry (all rights under the name) is dropped. A closed set's knotes see `EV_EOF` or
    /// vanish silently per [`KernelConfig::set_close`]. Dropped send rights count as gone for
    /// no-senders (the simulation does not model the unverified NextBSD leak of the send-right
    /// count on `close`; code should still prefer [`Task::port_deallocate`] for send rights).
    pub fn port_close(&self, name: Name) -> KernResult<()> {
        self.kernel.inner.lock().port_close(self.id, name)
    }
    /// Takes a kernel-held send right to the port `name` denotes (the task must hold a send or
    /// receive right under it; the task's own rights are unchanged), as a kernel watcher
    /// (`IOREGIOCWATCH`) does.
    pub fn kernel_send_right(&self, name: Name) -> KernResult<KernelSendRight> {
        let port = self.kernel.inner.lock().take_kernel_right(self.id, name)?;
        Ok(KernelSendRight {
            kernel: self.kernel.clone(),
            port,
        })
    }

    // ---- messages ----

    /// `mach_msg` in this task.
    ///
    /// Send: the message size is `send_size` (the kernel ignores `msgh_size`); the checks and
    /// their errors run in the kernel's order (size, header, destination, reply, body layout,
    /// body rights) and a failed check leaves the caller every right. A full queue blocks, or
    /// with `MACH_SEND_TIMEOUT` times out (timeout 0: at once) with `MACH_SEND_TIMED_OUT`; the
    /// message is then *pseudo-received* back into `msg` as XNU does: `msgh_remote_port` = the
    /// destination (remote bits 17/18), `msgh_local_port` = the reply right (local bits 17/18),
    /// descriptors rewritten (OOL memory in new `malloc` buffers), and the caller owns every right
    /// in it (destroy it with [`Task::mach_msg_destroy`] and also release the reply right in
    /// `msgh_local_port`). A sender blocked when its own task is terminated returns
    /// `MACH_SEND_INTERRUPTED` and its message is destroyed. Sending to a port that dies while
    /// the sender waits succeeds and destroys the message. `notify` is ignored (NextBSD).
    ///
    /// Receive: on a receive right or a port set (or a member directly, as NextBSD allows);
    /// `MACH_RCV_TOO_LARGE` follows XNU (`mach-abi.md` §6.4): the needed size without trailer is
    /// written to `msgh_size` (and with `MACH_RCV_LARGE_IDENTITY` the member name to
    /// `msgh_local_port`); the message stays queued with `MACH_RCV_LARGE` and is destroyed
    /// without it. Received OOL memory is `libc::malloc`ed, with `deallocate` set.
    ///
    /// # Safety
    /// `msg` must be valid for reads and writes of `send_size` bytes when `MACH_SEND_MSG` is set
    /// (a timed-out message is written back) and for writes of `rcv_size` bytes when
    /// `MACH_RCV_MSG` is set, 4-byte aligned, and not accessed by anything else during the call.
    /// Out-of-line descriptors' addresses must be valid for reads of their sizes.
    #[allow(clippy::too_many_arguments)] // the C signature
    pub unsafe fn mach_msg(
        &self,
        msg: *mut mach_msg_header_t,
        option: mach_msg_option_t,
        send_size: mach_msg_size_t,
        rcv_size: mach_msg_size_t,
        rcv_name: Name,
        timeout: mach_msg_timeout_t,
        notify: Name,
    ) -> mach_msg_return_t {
        let _ = notify; // NextBSD forces the notify argument to 0.
        if option & MACH_SEND_MSG != 0 {
            // SAFETY: forwarded caller guarantee (readable for `send_size` bytes).
            let parsed = match unsafe { msg::parse(msg, send_size) } {
                Ok(p) => p,
                Err(e) => return e,
            };
            let mut st = self.kernel.inner.lock();
            // SAFETY: the sender's buffer is writable for the message (pseudo-receive).
            let mr = unsafe { msg::send(&mut st, self.id, parsed, option, timeout, msg.cast()) };
            if mr != MACH_MSG_SUCCESS {
                return mr;
            }
        }
        if option & MACH_RCV_MSG != 0 {
            let mut st = self.kernel.inner.lock();
            // SAFETY: forwarded caller guarantee (writable for `rcv_size` bytes).
            return unsafe {
                msg::receive(
                    &mut st,
                    self.id,
                    msg.cast(),
                    option,
                    rcv_size,
                    rcv_name,
                    timeout,
                )
            };
        }
        MACH_MSG_SUCCESS
    }
    /// Destroys a received message's rights with the project's rule (`mach-abi.md` §9.4): remote
    /// and voucher per their bits, local ignored, descriptors per disposition, OOL memory freed
    /// when `deallocate` is set (OOL memory received from this kernel was allocated with
    /// `libc::malloc`).
    ///
    /// # Safety
    /// `msg` must point to a whole message of `msgh_size` bytes.
    pub unsafe fn mach_msg_destroy(&self, msg: *const mach_msg_header_t) {
        let mut st = self.kernel.inner.lock();
        // SAFETY: forwarded caller guarantee.
        unsafe { msg::destroy_user_msg(&mut st, self.id, msg) }
    }

    // ---- kqueue ----

    /// A new kqueue owned by this task (knote idents are names in this task). Its descriptor
    /// is an `eventfd` on Linux (a nonblocking pipe elsewhere) that is readable while events are
    /// queued; it is close-on-exec, as a kqueue is not inherited across `exec`. `EVFILT_MACHPORT` (-16) is the only filter; `MACH_RCV_MSG` in `fflags`
    /// (direct-receive mode) is rejected with `EINVAL` (the project never uses it). When the task
    /// is terminated its sets' knotes get `EV_EOF`; a blocking `kevent` on its kqueue then fails
    /// with `EBADF` once nothing is queued.
    pub fn kqueue(&self) -> io::Result<Kqueue> {
        let (fd, write_fd) = kqueue::readiness_fd()?;
        let mut st = self.kernel.inner.lock();
        if !st.task_is_active(self.id) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let wfd = write_fd.as_ref().map_or(fd.as_raw_fd(), |w| w.as_raw_fd());
        let id = st.kq_create(self.id, fd.as_raw_fd(), wfd);
        drop(st);
        Ok(Kqueue {
            fd,
            _write_fd: write_fd,
            kernel: self.kernel.clone(),
            id,
        })
    }
}

/// A simulated kqueue: a pollable file descriptor, readable while events are queued.
/// Dropping it deletes its knotes and closes the descriptor.
pub struct Kqueue {
    fd: OwnedFd,
    /// The pipe's write end on systems without `eventfd`.
    _write_fd: Option<OwnedFd>,
    kernel: Kernel,
    id: KqId,
}

impl Drop for Kqueue {
    fn drop(&mut self) {
        self.kernel.inner.lock().kq_destroy(self.id);
    }
}

impl std::fmt::Debug for Kqueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kqueue")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl Kqueue {
    /// FreeBSD `kevent(2)`: applies `changes`, then collects up to `events.len()` events, waiting
    /// up to `timeout` (`None` = forever, `Some(ZERO)` = poll). Change errors are reported as
    /// `EV_ERROR` events when `events` has room (or the change has `EV_RECEIPT`), otherwise as
    /// `Err` with the errno. Returns the number of events written.
    pub fn kevent(
        &self,
        changes: &[kevent_freebsd],
        events: &mut [kevent_freebsd],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let mut st = self.kernel.inner.lock();
        kqueue::kevent(&mut st, self.id, changes, events, timeout)
    }
}

impl AsRawFd for Kqueue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Kqueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A send right held by the kernel itself. Its sends bypass the queue limit (`SEND_ALWAYS`) and
/// carry the kernel's identity (all-zero audit token, sender `{0, 1}`). Dropping it releases the
/// right (which may fire a no-senders notification).
pub struct KernelSendRight {
    kernel: Kernel,
    port: PortId,
}

impl Drop for KernelSendRight {
    fn drop(&mut self) {
        self.kernel.inner.lock().drop_kernel_right(self.port);
    }
}

impl std::fmt::Debug for KernelSendRight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelSendRight")
            .field("port", &self.port.0)
            .finish()
    }
}

impl KernelSendRight {
    /// Whether the destination port is still alive (a dead one is pruned by its holder).
    pub fn is_alive(&self) -> bool {
        self.kernel.inner.lock().ports.contains_key(&self.port)
    }
    /// Sends a simple (non-complex) message with no reply port: `body` follows the 24-byte header;
    /// `MACH_SEND_INVALID_DEST` if the port is dead, `MACH_SEND_MSG_TOO_SMALL` if `body.len()`
    /// is not a multiple of 4, `MACH_SEND_TOO_LARGE` if the message would exceed the kernel's
    /// maximum. It arrives with local bits `PORT_SEND` (17).
    pub fn send(&self, msgh_id: mach_msg_id_t, body: &[u8]) -> Result<(), mach_msg_return_t> {
        let mut st = self.kernel.inner.lock();
        if !st.ports.contains_key(&self.port) {
            return Err(MACH_SEND_INVALID_DEST);
        }
        if body.len() % 4 != 0 {
            return Err(MACH_SEND_MSG_TOO_SMALL);
        }
        // The whole message (header included) must fit, as on the user send path.
        if body.len() > mach_abi::NEXTBSD_MAX_INLINE_SEND as usize - 24 {
            return Err(mach_abi::MACH_SEND_TOO_LARGE);
        }
        // The message carries a copy of the kernel's send right as its destination.
        st.ports.get_mut(&self.port).expect("live port").srights += 1;
        let m = msg::KMsg::kernel(msg::KRight::Send(self.port), msgh_id, body, Vec::new());
        st.post(m);
        Ok(())
    }
}

/// The bootstrap name service of a kernel (launchd's role).
///
/// The service holds a kernel reference to each registered port, not a right: it does not count
/// as a sender for no-senders. An entry disappears when its port dies, so after a server task is
/// killed `look_up` answers `BOOTSTRAP_UNKNOWN_SERVICE` until a new server checks in.
#[derive(Clone)]
pub struct Bootstrap {
    kernel: Kernel,
}

impl Bootstrap {
    /// `bootstrap_check_in`: creates the service's port and gives `task` its receive right;
    /// `BOOTSTRAP_SERVICE_ACTIVE` if a live task already holds it.
    pub fn check_in(&self, task: &Task, service: &str) -> KernResult<Name> {
        self.kernel
            .inner
            .lock()
            .bootstrap_check_in(task.id, service)
    }
    /// `bootstrap_look_up`: a send right to the service in `task`; `BOOTSTRAP_UNKNOWN_SERVICE`.
    pub fn look_up(&self, task: &Task, service: &str) -> KernResult<Name> {
        self.kernel.inner.lock().bootstrap_look_up(task.id, service)
    }
    /// `bootstrap_register`: registers the port `task` holds a send or receive right to under
    /// `name` (`BOOTSTRAP_NAME_IN_USE` if a live port is registered there).
    pub fn register(&self, task: &Task, service: &str, port: Name) -> KernResult<()> {
        self.kernel
            .inner
            .lock()
            .bootstrap_register(task.id, service, port)
    }
    /// Removes a registration (test helper).
    pub fn unregister(&self, service: &str) -> KernResult<()> {
        self.kernel.inner.lock().bootstrap_unregister(service)
    }
}
