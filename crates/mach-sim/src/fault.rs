//! Fault injection: make the simulated kernel fail, fill up or lose objects at chosen points.
//!
//! A test-only API that is compiled normally (so integration tests of every crate can use it):
//! [`crate::Kernel::faults`] returns a [`Faults`] handle for one kernel. Nothing here changes the
//! kernel's behaviour until a fault is armed, and every armed fault is one-shot or counted.
//!
//! What can be injected:
//! - **Failing calls**: [`Faults::fail_next_sends`] / [`Faults::fail_next_receives`] (optionally
//!   restricted to one task) make the next N `mach_msg` sends or receives return a chosen code.
//! - **A full queue**: [`Faults::fill_queue`] makes a port's queue count as full (queued
//!   messages stay receivable; new sends block or time out exactly as on a full queue) until
//!   [`Faults::release_queue`].
//! - **Events at a chosen point**, each running a [`FaultAction`] (terminate a task, destroy or
//!   close a name, or call a closure):
//!   [`Faults::on_deliver`] when a matching message reaches its destination queue or receiver
//!   (e.g. between a request and its reply), [`Faults::on_receive`] after the k-th matching
//!   receive (e.g. in the middle of a drain), and [`Faults::on_knote_register`] inside `EV_ADD`
//!   processing, after the set was looked up and before the knote attaches.
//!
//! Where an action runs:
//! - delivery and receive actions run at the end of the kernel call that fired them, still under
//!   the kernel lock (so no other thread sees the state in between), never in the middle of
//!   another kernel operation;
//! - the knote-registration action runs at the hook point itself; if the set (or its task) is
//!   gone afterwards the new knote attaches to nothing and gets `EV_EOF|EV_ONESHOT` at once, as
//!   a knote whose set dies right after attaching would;
//! - [`FaultAction::Call`] closures run after the kernel lock is released, on the thread that
//!   made the call (they may use the kernel freely).
//!
//! Injected send failures follow the kernel's order: `MACH_SEND_TIMED_OUT` and
//! `MACH_SEND_INTERRUPTED` are reported after copyin, so the message is pseudo-received back
//! into the sender's buffer with its rights (as a timed-out send on a full queue is); every other
//! code is reported before copyin, as a failed check, and leaves the caller every right.
//! Injected receive failures leave the queue untouched (the message stays queued).
//!
//! ```
//! use mach_sim::mach_abi::{MACH_PORT_RIGHT_RECEIVE, MACH_SEND_INVALID_DEST};
//! use mach_sim::Kernel;
//!
//! let kernel = Kernel::new();
//! let task = kernel.task_create("t", 1, 0, 0);
//! let port = task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
//! let fault = kernel.faults().fail_next_sends(1, MACH_SEND_INVALID_DEST);
//! assert_eq!(fault.fired(), 0);
//! // ... the next send by any task now fails with MACH_SEND_INVALID_DEST ...
//! kernel.faults().clear();
//! task.port_destroy(port).unwrap();
//! kernel.assert_no_leaks();
//! ```

use crate::state::{PortId, State, TaskId};
use crate::{KernResult, Kernel, Name, Task};
use mach_abi::{
    kern_return_t, mach_msg_id_t, mach_msg_return_t, KERN_INVALID_ARGUMENT, KERN_INVALID_RIGHT,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Which messages (or receives) a hook applies to. The default matches everything and fires on
/// the first match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgMatch {
    id: Option<mach_msg_id_t>,
    task: Option<TaskId>,
    name: Option<Name>,
    nth: u32,
}

impl Default for MsgMatch {
    fn default() -> Self {
        MsgMatch::any()
    }
}

impl MsgMatch {
    /// Every message; fires on the first.
    pub fn any() -> MsgMatch {
        MsgMatch {
            id: None,
            task: None,
            name: None,
            nth: 1,
        }
    }
    /// Only messages with this `msgh_id`.
    pub fn id(mut self, id: mach_msg_id_t) -> MsgMatch {
        self.id = Some(id);
        self
    }
    /// Only messages delivered to (or received by) this task.
    pub fn task(mut self, task: &Task) -> MsgMatch {
        self.task = Some(task.id());
        self
    }
    /// Receives only: only receives on this name (a receive right or a port set) of the task.
    pub fn name(mut self, name: Name) -> MsgMatch {
        self.name = Some(name);
        self
    }
    /// Fires on the `k`-th matching event (1 = the first; 0 is treated as 1).
    pub fn nth(mut self, k: u32) -> MsgMatch {
        self.nth = k.max(1);
        self
    }

    fn matches(&self, id: mach_msg_id_t, task: Option<TaskId>, name: Option<Name>) -> bool {
        wanted(self.id, Some(id)) && wanted(self.task, task) && wanted(self.name, name)
    }
}

/// What a hook does when it fires.
pub enum FaultAction {
    /// Terminates the task (as [`Task::terminate`]; nothing if it already is).
    TerminateTask(Task),
    /// `mach_port_destroy(name)` in the task (errors ignored).
    DestroyName(Task, Name),
    /// NextBSD `close(name)` in the task (errors ignored).
    CloseName(Task, Name),
    /// Runs a closure after the kernel lock is released, on the thread whose call fired the
    /// hook. A closure that captures a handle to its own kernel keeps that kernel alive until the
    /// hook fires or [`Faults::clear`] drops it.
    Call(Box<dyn FnOnce() + Send>),
}

impl FaultAction {
    /// A closure action (see [`FaultAction::Call`]).
    pub fn call(f: impl FnOnce() + Send + 'static) -> FaultAction {
        FaultAction::Call(Box::new(f))
    }
}

impl fmt::Debug for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::TerminateTask(t) => f.debug_tuple("TerminateTask").field(&t.id()).finish(),
            FaultAction::DestroyName(t, n) => f
                .debug_tuple("DestroyName")
                .field(&t.id())
                .field(n)
                .finish(),
            FaultAction::CloseName(t, n) => {
                f.debug_tuple("CloseName").field(&t.id()).field(n).finish()
            }
            FaultAction::Call(_) => f.write_str("Call(..)"),
        }
    }
}

/// The kernel-side form of an action: task ids, not [`Task`] handles (a handle holds the kernel
/// and would make a reference cycle through the kernel's own state).
enum Action {
    Terminate(TaskId),
    Destroy(TaskId, Name),
    Close(TaskId, Name),
    Call(Box<dyn FnOnce() + Send>),
}

impl From<FaultAction> for Action {
    fn from(a: FaultAction) -> Action {
        match a {
            FaultAction::TerminateTask(t) => Action::Terminate(t.id()),
            FaultAction::DestroyName(t, n) => Action::Destroy(t.id(), n),
            FaultAction::CloseName(t, n) => Action::Close(t.id(), n),
            FaultAction::Call(f) => Action::Call(f),
        }
    }
}

/// Tells a test whether (and how often) an armed fault took effect.
#[derive(Clone, Debug)]
pub struct FaultHandle {
    fired: Arc<AtomicU32>,
}

impl FaultHandle {
    fn new() -> FaultHandle {
        FaultHandle {
            fired: Arc::new(AtomicU32::new(0)),
        }
    }
    /// How many times the fault took effect (a hook fires at most once; a failure counter up to
    /// its `n`).
    pub fn fired(&self) -> u32 {
        self.fired.load(Ordering::SeqCst)
    }
    fn bump(&self) {
        self.fired.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counted call failure.
struct Failure {
    task: Option<TaskId>,
    remaining: u32,
    code: mach_msg_return_t,
    handle: FaultHandle,
}

/// A one-shot event hook.
struct Hook {
    filter: MsgMatch,
    seen: u32,
    action: Action,
    handle: FaultHandle,
}

/// A knote-registration hook.
struct KnoteHook {
    task: Option<TaskId>,
    action: Action,
    handle: FaultHandle,
}

/// Every armed fault of one kernel (part of the kernel state, under its lock).
#[derive(Default)]
pub(crate) struct FaultState {
    sends: Vec<Failure>,
    receives: Vec<Failure>,
    deliver: Vec<Hook>,
    receive_hooks: Vec<Hook>,
    knote: Vec<KnoteHook>,
    /// Ports made full: the queue limit they had before.
    filled: HashMap<PortId, u32>,
    /// Kernel actions fired by delivery/receive hooks, run at the end of the current call.
    pending: Vec<Action>,
    /// Closures fired, run after the lock is released.
    calls: Vec<Box<dyn FnOnce() + Send>>,
}

/// Whether an optional filter accepts `got` (no filter accepts everything).
fn wanted<T: PartialEq>(want: Option<T>, got: Option<T>) -> bool {
    match want {
        None => true,
        Some(w) => got == Some(w),
    }
}

fn take_failure(list: &mut Vec<Failure>, t: TaskId) -> Option<mach_msg_return_t> {
    let i = list
        .iter()
        .position(|f| f.remaining > 0 && wanted(f.task, Some(t)))?;
    let f = &mut list[i];
    f.remaining -= 1;
    f.handle.bump();
    let code = f.code;
    if f.remaining == 0 {
        list.remove(i);
    }
    Some(code)
}

/// Counts a matching event on every hook; removes and returns the actions of those that fire.
fn fire_hooks(
    hooks: &mut Vec<Hook>,
    id: mach_msg_id_t,
    task: Option<TaskId>,
    name: Option<Name>,
) -> Vec<Action> {
    let mut fired = Vec::new();
    let mut i = 0;
    while i < hooks.len() {
        let h = &mut hooks[i];
        if h.filter.matches(id, task, name) {
            h.seen += 1;
            if h.seen >= h.filter.nth {
                let h = hooks.remove(i);
                h.handle.bump();
                fired.push(h.action);
                continue;
            }
        }
        i += 1;
    }
    fired
}

impl State {
    /// Send hook: an injected failure for the next send from `t`, if one is armed.
    pub(crate) fn fault_send_failure(&mut self, t: TaskId) -> Option<mach_msg_return_t> {
        if self.faults.sends.is_empty() {
            return None;
        }
        take_failure(&mut self.faults.sends, t)
    }

    /// Receive hook: an injected failure for the next receive in `t`, if one is armed.
    pub(crate) fn fault_receive_failure(&mut self, t: TaskId) -> Option<mach_msg_return_t> {
        if self.faults.receives.is_empty() {
            return None;
        }
        take_failure(&mut self.faults.receives, t)
    }

    /// Delivery hook: a message `id` reached a queue or a receiver of task `to` (None: a port in
    /// transit). Fired actions are deferred to the end of the current call.
    pub(crate) fn fault_delivered(&mut self, id: mach_msg_id_t, to: Option<TaskId>) {
        if self.faults.deliver.is_empty() {
            return;
        }
        let fired = fire_hooks(&mut self.faults.deliver, id, to, None);
        self.defer(fired);
    }

    /// Receive hook: task `t` received message `id` on `name`.
    pub(crate) fn fault_received(&mut self, t: TaskId, name: Name, id: mach_msg_id_t) {
        if self.faults.receive_hooks.is_empty() {
            return;
        }
        let fired = fire_hooks(&mut self.faults.receive_hooks, id, Some(t), Some(name));
        self.defer(fired);
    }

    /// Knote hook, inside `EV_ADD` before the knote attaches: runs the armed action now.
    pub(crate) fn fault_knote_register(&mut self, t: TaskId) {
        if self.faults.knote.is_empty() {
            return;
        }
        let Some(i) = self
            .faults
            .knote
            .iter()
            .position(|h| wanted(h.task, Some(t)))
        else {
            return;
        };
        let h = self.faults.knote.remove(i);
        h.handle.bump();
        self.run_action(h.action);
    }

    fn defer(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Call(f) => self.faults.calls.push(f),
                other => self.faults.pending.push(other),
            }
        }
    }

    fn run_action(&mut self, action: Action) {
        match action {
            Action::Terminate(t) => {
                let _ = self.terminate_task(t);
            }
            Action::Destroy(t, name) => {
                let _ = self.port_destroy(t, name);
            }
            Action::Close(t, name) => {
                let _ = self.port_close(t, name);
            }
            Action::Call(f) => self.faults.calls.push(f),
        }
    }

    /// End-of-call fault processing: runs the deferred kernel actions under the lock and
    /// returns the closures to run after unlocking.
    pub(crate) fn finish_faults(&mut self) -> Vec<Box<dyn FnOnce() + Send>> {
        let _ = self.run_pending_faults();
        std::mem::take(&mut self.faults.calls)
    }

    /// Runs the deferred kernel actions (which may fire further hooks: run until none is left).
    /// Returns whether any ran.
    pub(crate) fn run_pending_faults(&mut self) -> bool {
        let ran = !self.faults.pending.is_empty();
        while !self.faults.pending.is_empty() {
            for a in std::mem::take(&mut self.faults.pending) {
                self.run_action(a);
            }
        }
        ran
    }

    /// Restores a filled port's queue limit and lets as many blocked senders in as now fit.
    fn unfill(&mut self, p: PortId, qlimit: u32) {
        let Some(port) = self.ports.get_mut(&p) else {
            return;
        };
        port.qlimit = qlimit;
        let room = (qlimit as usize).saturating_sub(port.queue.len());
        for _ in 0..room.min(port.send_waiters.len()) {
            self.grant_sender(p);
        }
    }
}

/// The fault-injection handle of one kernel (see the module docs).
#[derive(Clone, Debug)]
pub struct Faults {
    kernel: Kernel,
}

impl Kernel {
    /// The fault-injection handle of this kernel.
    pub fn faults(&self) -> Faults {
        Faults {
            kernel: self.clone(),
        }
    }
}

impl Faults {
    fn arm_failure(
        &self,
        task: Option<&Task>,
        n: u32,
        code: mach_msg_return_t,
        sends: bool,
    ) -> FaultHandle {
        let handle = FaultHandle::new();
        if n > 0 {
            let f = Failure {
                task: task.map(Task::id),
                remaining: n,
                code,
                handle: handle.clone(),
            };
            let mut st = self.kernel.inner.lock();
            if sends {
                st.faults.sends.push(f);
            } else {
                st.faults.receives.push(f);
            }
        }
        handle
    }

    /// The next `n` `mach_msg` sends by any task fail with `code` (see the module docs for
    /// which codes pseudo-receive the message). Kernel-built messages are not affected.
    pub fn fail_next_sends(&self, n: u32, code: mach_msg_return_t) -> FaultHandle {
        self.arm_failure(None, n, code, true)
    }

    /// The next `n` `mach_msg` sends by `task` fail with `code`.
    pub fn fail_next_sends_from(
        &self,
        task: &Task,
        n: u32,
        code: mach_msg_return_t,
    ) -> FaultHandle {
        self.arm_failure(Some(task), n, code, true)
    }

    /// The next `n` `mach_msg` receives (on a valid name) by any task fail with `code`; queued
    /// messages stay queued.
    pub fn fail_next_receives(&self, n: u32, code: mach_msg_return_t) -> FaultHandle {
        self.arm_failure(None, n, code, false)
    }

    /// The next `n` `mach_msg` receives by `task` fail with `code`.
    pub fn fail_next_receives_in(
        &self,
        task: &Task,
        n: u32,
        code: mach_msg_return_t,
    ) -> FaultHandle {
        self.arm_failure(Some(task), n, code, false)
    }

    /// Makes the queue of the port whose receive right `task` holds under `name` count as full
    /// (its limit drops to 0) until [`Faults::release_queue`]; queued messages stay receivable,
    /// sends block (or time out), send-once and kernel sends still get through.
    /// `KERN_INVALID_RIGHT` if `name` is not a receive right, `KERN_INVALID_ARGUMENT` if the
    /// queue is already held full.
    pub fn fill_queue(&self, task: &Task, name: Name) -> KernResult<()> {
        let mut st = self.kernel.inner.lock();
        let p = st.receive_right(task.id(), name)?;
        if st.faults.filled.contains_key(&p) {
            return Err(KERN_INVALID_ARGUMENT);
        }
        let port = st.ports.get_mut(&p).ok_or(KERN_INVALID_RIGHT)?;
        let qlimit = std::mem::replace(&mut port.qlimit, 0);
        st.faults.filled.insert(p, qlimit);
        Ok(())
    }

    /// Undoes [`Faults::fill_queue`]: the limit is restored and blocked senders that now fit
    /// proceed. `KERN_INVALID_ARGUMENT` if the queue was not held full.
    pub fn release_queue(&self, task: &Task, name: Name) -> KernResult<()> {
        let mut st = self.kernel.inner.lock();
        let p = st.receive_right(task.id(), name)?;
        let qlimit = st
            .faults
            .filled
            .remove(&p)
            .ok_or(KERN_INVALID_ARGUMENT as kern_return_t)?;
        st.unfill(p, qlimit);
        Ok(())
    }

    /// Runs `action` when the `nth` message matching `filter` (by `msgh_id` and destination
    /// task) is delivered: put on its destination queue or handed to a blocked receiver. Kernel
    /// messages (notifications, [`crate::KernelSendRight::send`]) count too. Use it to act
    /// between a request and its reply: the action runs before the receiver can see the message.
    pub fn on_deliver(&self, filter: MsgMatch, action: FaultAction) -> FaultHandle {
        let handle = FaultHandle::new();
        self.kernel.inner.lock().faults.deliver.push(Hook {
            filter,
            seen: 0,
            action: action.into(),
            handle: handle.clone(),
        });
        handle
    }

    /// Runs `action` right after the `nth` successful receive matching `filter` (by `msgh_id`,
    /// receiving task and the name received on), before the receiver returns: the receiver holds
    /// the message, the next receive sees the action's effect (e.g. in the middle of a drain).
    pub fn on_receive(&self, filter: MsgMatch, action: FaultAction) -> FaultHandle {
        let handle = FaultHandle::new();
        self.kernel.inner.lock().faults.receive_hooks.push(Hook {
            filter,
            seen: 0,
            action: action.into(),
            handle: handle.clone(),
        });
        handle
    }

    /// Runs `action` inside the next `EV_ADD` that creates a knote (on a kqueue of `task`, or any
    /// task with `None`), after the set was looked up and before the knote attaches. If the
    /// action destroys the set or its task, the registration still succeeds and the knote reports
    /// `EV_EOF|EV_ONESHOT` at once.
    pub fn on_knote_register(&self, task: Option<&Task>, action: FaultAction) -> FaultHandle {
        let handle = FaultHandle::new();
        self.kernel.inner.lock().faults.knote.push(KnoteHook {
            task: task.map(Task::id),
            action: action.into(),
            handle: handle.clone(),
        });
        handle
    }

    /// Faults armed and not yet used up (filled queues not included).
    pub fn armed(&self) -> usize {
        let st = self.kernel.inner.lock();
        let f = &st.faults;
        f.sends.len() + f.receives.len() + f.deliver.len() + f.receive_hooks.len() + f.knote.len()
    }

    /// Disarms every fault and releases every filled queue (their blocked senders proceed).
    pub fn clear(&self) {
        let mut st = self.kernel.inner.lock();
        let filled: Vec<(PortId, u32)> = st.faults.filled.drain().collect();
        for (p, qlimit) in filled {
            st.unfill(p, qlimit);
        }
        // Hooks may own closures whose captures use the kernel when dropped: drop them unlocked.
        let disarmed = (
            std::mem::take(&mut st.faults.sends),
            std::mem::take(&mut st.faults.receives),
            std::mem::take(&mut st.faults.deliver),
            std::mem::take(&mut st.faults.receive_hooks),
            std::mem::take(&mut st.faults.knote),
        );
        drop(st);
        drop(disarmed);
    }
}
