//! The kernel's single lock-protected state, object identifiers, waiting and accounting.
//!
//! Everything a simulated kernel knows lives in one [`State`] behind one mutex. A thread blocked
//! in `mach_msg` waits on a condition variable of its own, signalled only when its waiter record
//! changes ([`State::wake`]) or a task is terminated; threads blocked in `kevent` share one
//! condition variable signalled on every unlock. Objects (ports, sets, kqueues, knotes, waiters) are keyed by
//! ids that are never reused, so a stale id simply stops resolving (a dead port).

use crate::fault::FaultState;
use crate::kqueue::{Knote, KqState};
use crate::msg::KMsg;
use crate::port::{Port, PortSet, Receiver};
use crate::space::{Entry, Obj, TaskState};
use crate::{KernelConfig, KernelStats, Name, SetCloseSemantics, SetSignalSemantics};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

/// A hasher for the kernel's integer keys (object ids, names): one multiplication by an odd
/// constant (Fibonacci hashing). The keys are the kernel's own counters, never chosen by an
/// attacker, so SipHash's flood resistance buys nothing here, and it was about a tenth of the
/// CPU of a message-heavy run.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the integer keys; kept correct for any other key.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// A `HashMap` keyed by the kernel's integer ids, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Task ids start at 1 (0 means "no task" in the C ABI).
pub(crate) type TaskId = u32;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) struct $name(pub(crate) u64);
    };
}

id_type!(
    /// A port object (never reused: a missing id means the port is dead).
    PortId
);
id_type!(
    /// A port-set object.
    SetId
);
id_type!(
    /// A kqueue.
    KqId
);
id_type!(
    /// A knote.
    KnoteId
);
id_type!(
    /// A blocked thread (receiver or sender).
    WaiterId
);

/// Where a blocked receiver waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RcvTarget {
    Port(PortId),
    Set(SetId),
}

/// What woke a blocked receiver.
pub(crate) enum RcvOutcome {
    /// A message handed over directly by its sender (no knote activity, `native-filter.md` §3.5).
    Msg { msg: KMsg, local: Name, seqno: u32 },
    /// The next message does not fit and the receiver used `MACH_RCV_LARGE`: it stays queued.
    TooLarge { size: u32, local: Name },
    /// The next message does not fit, no `MACH_RCV_LARGE`: it was dequeued and must be destroyed.
    TooLargeDestroy { msg: KMsg, local: Name },
    /// The port or set was destroyed (`MACH_RCV_PORT_DIED`).
    Died,
    /// The receive right left the task (`MACH_RCV_PORT_CHANGED`).
    Changed,
}

/// A thread blocked in a receive.
pub(crate) struct RcvWaiter {
    pub rcv_size: u32,
    pub option: u32,
    pub outcome: Option<RcvOutcome>,
}

/// A thread blocked in a send on a full queue.
pub(crate) struct SendWaiter {
    pub port: PortId,
    /// Set by a receive that dropped the queue below its limit: this sender may enqueue now.
    pub granted: bool,
}

thread_local! {
    /// Kernel entries of this thread ([`crate::thread_kernel_entries`]).
    static KERNEL_ENTRIES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Kernel entries made by the calling thread so far ([`crate::thread_kernel_entries`]).
pub(crate) fn thread_kernel_entries() -> u64 {
    KERNEL_ENTRIES.with(std::cell::Cell::get)
}

/// The shared part of a [`crate::Kernel`] handle.
pub(crate) struct Shared {
    pub config: KernelConfig,
    state: Mutex<State>,
    cv: Condvar,
    pub default_task: OnceLock<TaskId>,
}

impl Shared {
    pub(crate) fn new(config: KernelConfig) -> Shared {
        let state = State::new(config.default_qlimit, config.set_close, config.set_signal);
        Shared {
            config,
            state: Mutex::new(state),
            cv: Condvar::new(),
            default_task: OnceLock::new(),
        }
    }

    /// Locks the state. Every unlock wakes the threads blocked in `kevent` (they re-check their
    /// queue) and the `mach_msg` waiters marked with [`State::wake`] during the call.
    pub(crate) fn lock(&self) -> Locked<'_> {
        KERNEL_ENTRIES.with(|n| n.set(n.get() + 1));
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Locked {
            guard: Some(guard),
            cv: &self.cv,
        }
    }
}

/// A locked [`State`]; wakes the blocked threads whose condition may have changed when dropped.
pub(crate) struct Locked<'a> {
    guard: Option<MutexGuard<'a, State>>,
    cv: &'a Condvar,
}

impl Locked<'_> {
    /// Blocks a `kevent` caller until some other thread unlocks the state, or until `deadline`.
    /// Returns true when the deadline has passed. Waiting does not itself wake other `kevent`
    /// waiters (so threads re-checking their conditions never ping-pong); it does deliver the
    /// targeted wake-ups recorded so far. May return early (spuriously): callers loop.
    pub(crate) fn wait(&mut self, deadline: Option<Instant>) -> bool {
        let mut guard = self.guard.take().expect("state guard present");
        // Injected faults fired by this call take effect before anyone else looks.
        let faulted = guard.run_pending_faults();
        guard.flush_wakes();
        if faulted {
            // The faults may have changed what this caller waits for: let it re-check first.
            self.guard = Some(guard);
            return deadline.is_some_and(|d| Instant::now() >= d);
        }
        guard.blocked += 1;
        guard.kq_blocked += 1;
        let mut guard = wait_until(self.cv, guard, deadline);
        guard.blocked -= 1;
        guard.kq_blocked -= 1;
        self.guard = Some(guard);
        deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Blocks the `mach_msg` waiter `wid` until [`State::wake`] names it (or a task is
    /// terminated), or until `deadline`. Returns true when the deadline has passed. May return
    /// early (spuriously): callers loop and re-check their waiter record.
    pub(crate) fn wait_waiter(&mut self, wid: WaiterId, deadline: Option<Instant>) -> bool {
        let mut guard = self.guard.take().expect("state guard present");
        let faulted = guard.run_pending_faults();
        // A wake-up for this very waiter recorded during this call (by an injected fault, say)
        // would be lost if it were delivered after we start waiting: look at it first.
        let woken_self = guard.wake_all || guard.pending_wakes.contains(&wid);
        guard.flush_wakes();
        if faulted || woken_self {
            self.guard = Some(guard);
            return deadline.is_some_and(|d| Instant::now() >= d);
        }
        let cv = Arc::new(Condvar::new());
        guard.waiter_cvs.insert(wid, Arc::clone(&cv));
        guard.blocked += 1;
        let mut guard = wait_until(&cv, guard, deadline);
        guard.blocked -= 1;
        guard.waiter_wakeups += 1;
        guard.waiter_cvs.remove(&wid);
        self.guard = Some(guard);
        deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Waits on `cv` (releasing `guard`) until notified or until `deadline`; a deadline already
/// past returns at once.
fn wait_until<'a>(
    cv: &Condvar,
    guard: MutexGuard<'a, State>,
    deadline: Option<Instant>,
) -> MutexGuard<'a, State> {
    match deadline {
        None => cv.wait(guard).unwrap_or_else(PoisonError::into_inner),
        Some(d) => {
            let now = Instant::now();
            if now < d {
                cv.wait_timeout(guard, d - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            } else {
                guard
            }
        }
    }
}

impl Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.guard.as_ref().expect("state guard present")
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("state guard present")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let mut calls = Vec::new();
        if let Some(guard) = &mut self.guard {
            // Fault actions fired during this call run at its end, still under the lock.
            calls = guard.finish_faults();
            guard.flush_wakes();
            if guard.kq_blocked > 0 {
                self.cv.notify_all();
            }
        }
        drop(self.guard.take());
        // Fault closures run unlocked (they may call into the kernel).
        for call in calls {
            call();
        }
    }
}

/// Everything one simulated kernel knows.
pub(crate) struct State {
    next_id: u64,
    pub next_task: TaskId,
    pub qlimit: u32,
    pub set_close: SetCloseSemantics,
    pub set_signal: SetSignalSemantics,
    pub tasks: BTreeMap<TaskId, TaskState>,
    pub ports: IdMap<PortId, Port>,
    pub sets: IdMap<SetId, PortSet>,
    pub kqueues: IdMap<KqId, KqState>,
    pub knotes: IdMap<KnoteId, Knote>,
    pub rcv_waiters: IdMap<WaiterId, RcvWaiter>,
    pub send_waiters: IdMap<WaiterId, SendWaiter>,
    /// Kernel-held send rights ([`crate::KernelSendRight`]) per port.
    pub kernel_rights: IdMap<PortId, u64>,
    /// Bootstrap registrations: service name → port (a kernel reference, not a right).
    pub bootstrap: BTreeMap<String, PortId>,
    /// Threads currently blocked (in `mach_msg` or `kevent`).
    pub blocked: usize,
    /// Threads currently blocked in `kevent` (on the shared condition variable).
    kq_blocked: usize,
    /// Condition variables of the `mach_msg` waiters currently blocked.
    waiter_cvs: IdMap<WaiterId, Arc<Condvar>>,
    /// `mach_msg` waiters whose record changed during the current call ([`State::wake`]).
    pub pending_wakes: Vec<WaiterId>,
    /// Every `mach_msg` waiter must re-check (a task was terminated).
    wake_all: bool,
    /// Returns of `mach_msg` waiters from their condition variable ([`crate::Kernel::msg_waiter_wakeups`]).
    pub waiter_wakeups: u64,
    /// Armed fault injections ([`crate::Faults`]).
    pub faults: FaultState,
}

impl State {
    fn new(qlimit: u32, set_close: SetCloseSemantics, set_signal: SetSignalSemantics) -> State {
        State {
            next_id: 1,
            next_task: 1,
            qlimit,
            set_close,
            set_signal,
            tasks: BTreeMap::new(),
            ports: IdMap::default(),
            sets: IdMap::default(),
            kqueues: IdMap::default(),
            knotes: IdMap::default(),
            rcv_waiters: IdMap::default(),
            send_waiters: IdMap::default(),
            kernel_rights: IdMap::default(),
            bootstrap: BTreeMap::new(),
            blocked: 0,
            kq_blocked: 0,
            waiter_cvs: IdMap::default(),
            pending_wakes: Vec::new(),
            wake_all: false,
            waiter_wakeups: 0,
            faults: FaultState::default(),
        }
    }

    /// Marks the `mach_msg` waiter `wid` for a wake-up when the current call unlocks: every
    /// change to a blocked thread's waiter record (an outcome, a grant, its removal) must call
    /// this, or the thread sleeps on until its timeout.
    pub(crate) fn wake(&mut self, wid: WaiterId) {
        self.pending_wakes.push(wid);
    }

    /// Marks every `mach_msg` waiter for a wake-up (a task's termination changes what its
    /// threads wait for without touching their records).
    pub(crate) fn wake_all_waiters(&mut self) {
        self.wake_all = true;
    }

    /// Delivers the recorded wake-ups (still under the lock, so none can be lost: a waiter
    /// checks its record under the lock before it waits).
    fn flush_wakes(&mut self) {
        if self.wake_all {
            self.wake_all = false;
            self.pending_wakes.clear();
            for cv in self.waiter_cvs.values() {
                cv.notify_one();
            }
            return;
        }
        for wid in self.pending_wakes.drain(..) {
            if let Some(cv) = self.waiter_cvs.get(&wid) {
                cv.notify_one();
            }
        }
    }

    /// A fresh object id (shared counter for every kind of object).
    pub(crate) fn fresh(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Counts of live objects.
    pub(crate) fn stats(&self) -> KernelStats {
        let mut s = KernelStats::default();
        for t in self.tasks.values().filter(|t| t.active) {
            s.tasks += 1;
            s.rights += t
                .entries
                .values()
                .map(|e| u64::from(e.right_count()))
                .sum::<u64>();
        }
        s.ports = self.ports.len() as u64;
        s.port_sets = self.sets.len() as u64;
        s.queued_messages = self
            .ports
            .values()
            .map(|p| p.queue.len() as u64)
            .sum::<u64>()
            + self
                .rcv_waiters
                .values()
                .filter(|w| {
                    matches!(
                        w.outcome,
                        Some(RcvOutcome::Msg { .. } | RcvOutcome::TooLargeDestroy { .. })
                    )
                })
                .count() as u64;
        s.kernel_rights = self.kernel_rights.values().sum();
        s.kqueues = self.kqueues.len() as u64;
        s.knotes = self.knotes.len() as u64;
        s
    }

    /// A human-readable listing of every live object (for leak reports).
    pub(crate) fn listing(&self) -> String {
        let mut out = String::new();
        for (tid, t) in &self.tasks {
            if !t.active && t.entries.is_empty() {
                continue;
            }
            let mut entries: Vec<_> = t.entries.iter().collect();
            entries.sort_by_key(|(name, _)| **name);
            for (name, e) in entries {
                let _ = writeln!(
                    out,
                    "  task {tid} {:?}{}: name {name}: {}",
                    t.name,
                    if t.active { "" } else { " (terminated)" },
                    self.describe_entry(e)
                );
            }
        }
        let mut ports: Vec<_> = self.ports.iter().collect();
        ports.sort_by_key(|(id, _)| **id);
        for (id, p) in ports {
            let holder = match p.receiver {
                Receiver::Task(t, n) => format!("receive right in task {t} name {n}"),
                Receiver::Transit(d) => format!("receive right in transit to port #{}", d.0),
            };
            let _ = writeln!(
                out,
                "  port #{}: {holder}, {} queued, {} send rights, mscount {}",
                id.0,
                p.queue.len(),
                p.srights,
                p.mscount
            );
            for m in &p.queue {
                let _ = writeln!(out, "    queued message id {} size {}", m.id(), m.size());
            }
        }
        let mut sets: Vec<_> = self.sets.iter().collect();
        sets.sort_by_key(|(id, _)| **id);
        for (id, s) in sets {
            let _ = writeln!(
                out,
                "  port set #{} (task {} name {}): {} members, {} knotes",
                id.0,
                s.task,
                s.name,
                s.members.len(),
                s.knotes.len()
            );
        }
        let mut krights: Vec<_> = self.kernel_rights.iter().filter(|(_, n)| **n > 0).collect();
        krights.sort();
        for (p, n) in krights {
            let _ = writeln!(out, "  {n} kernel send right(s) to port #{}", p.0);
        }
        let mut kqs: Vec<_> = self.kqueues.iter().collect();
        kqs.sort_by_key(|(id, _)| **id);
        for (id, kq) in kqs {
            let _ = writeln!(
                out,
                "  kqueue #{} (task {}): {} knotes, {} queued events",
                id.0,
                kq.task,
                kq.knotes.len(),
                kq.queue.len()
            );
        }
        let mut knotes: Vec<_> = self.knotes.iter().collect();
        knotes.sort_by_key(|(id, _)| **id);
        for (id, k) in knotes {
            let _ = writeln!(
                out,
                "  knote #{} on kqueue #{}: ident {} flags {:#x}{}",
                id.0,
                k.kq.0,
                k.kev.ident,
                k.kev.flags,
                if k.set.is_none() { " (set gone)" } else { "" }
            );
        }
        out
    }

    fn describe_entry(&self, e: &Entry) -> String {
        let mut parts = Vec::new();
        match e.obj {
            Obj::Set(s) => parts.push(format!("port set #{}", s.0)),
            Obj::Dead => parts.push(format!("dead name ({} urefs)", e.dead)),
            Obj::Port(p) => {
                let alive = self.ports.contains_key(&p);
                if e.receive {
                    let q = self.ports.get(&p).map_or(0, |p| p.queue.len());
                    parts.push(format!("receive (port #{}, {q} queued)", p.0));
                }
                if e.send > 0 {
                    parts.push(format!(
                        "send x{} (port #{}{})",
                        e.send,
                        p.0,
                        if alive { "" } else { ", dead" }
                    ));
                }
                if e.send_once {
                    parts.push(format!(
                        "send-once (port #{}{})",
                        p.0,
                        if alive { "" } else { ", dead" }
                    ));
                }
            }
        }
        if e.dnrequest {
            parts.push("dead-name request".to_string());
        }
        parts.join(", ")
    }
}

/// Queue of waiter ids (FIFO).
pub(crate) type WaitQueue = VecDeque<WaiterId>;

#[cfg(test)]
mod id_hasher_tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_ids_spread_over_buckets_and_control_bytes() {
        let b = std::hash::BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (1..=4096u64).map(|i| b.hash_one(PortId(i))).collect();
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hashes.len(), "distinct ids, distinct hashes");
        // hashbrown indexes buckets with the low bits and tags entries with the top 7: both
        // must vary across consecutive ids, or lookups degrade into long probe sequences.
        let low: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let top: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 4096 / 2, "low bits: {} distinct", low.len());
        assert_eq!(top.len(), 128, "every 7-bit tag is used");
        let mut m: IdMap<PortId, u64> = IdMap::default();
        for i in 0..1000 {
            m.insert(PortId(i), i * 2);
        }
        assert!((0..1000).all(|i| m[&PortId(i)] == i * 2));
    }
}
