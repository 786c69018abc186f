//! A model of NextBSD userland HEAD's delivery path for SCNotify and IOKitNotify (990c6d3):
//! libdispatch `DISPATCH_SOURCE_TYPE_MACH_RECV` sources in notify mode on libmach's
//! `kevent_qos` wrapper (`dispatch_kevent.c`). The bench's third baseline, "dispatch (HEAD)".
//!
//! What is modelled, per the facts in `spec/head-dispatch.md` (the code is this project's own):
//!
//! - **libmach's wrapper** ([`Libmach`]): one registration per (kqueue, port), each owning a
//!   *wrap port set* the port is moved into; the native knote is registered on the wrap set in
//!   notify mode (`EVFILT_MACHPORT` −16, fflags 0, `EV_ADD|EV_CLEAR`). All registrations live in
//!   one list under one global mutex. Every `kevent_qos` call first walks the whole list to hand
//!   out backlog entries (`drain_backlog_to_eventlist`), changes search it by (kqueue, ident),
//!   and every native event searches it by wrap set. A native event queues one bare backlog
//!   entry (bare entries coalesce); each entry becomes one synthesized event, delivered only
//!   while the registration is armed. libdispatch registers with `EV_DISPATCH`, so a delivery
//!   disarms the registration and the source re-arms it with another `kevent_qos` call.
//! - **libdispatch around it** ([`DispatchRuntime`]): a manager thread collects events with a
//!   blocking `kevent_qos` and hands each to a worker thread (one thread hop per delivery); the
//!   worker runs the source's event handler, which drains the port with non-blocking `mach_msg`
//!   until `MACH_RCV_TIMED_OUT`, then re-arms. Cancelling a source deletes its registration
//!   (`EV_DELETE`: another list search), frees the wrap set, and runs the cancel handler (which
//!   closes the port, as SCNotify and IOKitNotify do). The thread count is fixed: a manager and
//!   [`WORKERS`] workers, whatever the number of sources.
//!
//! The manager is woken for shutdown through a private port registered on the kqueue directly
//! (libdispatch uses `EVFILT_USER` for this; it is not a Mach registration and never walks the
//! list).

use crate::error::BenchError;
use crate::measure::add_kernel_calls_since;
use crate::raw::{MsgBuffer, Name, RawMach};
use mach_abi::{
    kevent_freebsd, EVFILT_MACHPORT_NEXTBSD, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, MACH_MSG_SUCCESS,
    MACH_PORT_RIGHT_PORT_SET,
};
use std::collections::{HashMap, LinkedList, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Worker threads of the model's root queue (the machine's 2 cores).
pub const WORKERS: usize = 2;

/// The source's event handler, called for each message it drains from its port.
pub type EventHandler = Box<dyn FnMut(&MsgBuffer) + Send>;

/// One registration in libmach's global list.
struct Registration {
    ident: Name,
    wrap_set: Name,
    udata: u64,
    /// Delivery allowed (`EV_DISPATCH` disarms after each delivery).
    armed: bool,
    /// A bare backlog entry is pending (entries coalesce in notify mode).
    backlog: bool,
}

/// A change the model's sources pass to `kevent_qos`.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// `EV_ADD|EV_ENABLE|EV_DISPATCH`: register `ident` with cookie `udata`.
    Add { ident: Name, udata: u64 },
    /// `EV_ENABLE`: re-arm after a delivery.
    Enable { ident: Name },
    /// `EV_DELETE`: the source is cancelled.
    Delete { ident: Name },
}

/// libmach's `kevent_qos` wrapper over one kqueue: the global mutex and its list.
pub struct Libmach {
    task: mach_sim::Task,
    kq: mach_sim::Kqueue,
    /// `g_reg_mtx` and the registration list (searched linearly, as the C list is).
    regs: Mutex<LinkedList<Registration>>,
    /// The manager's private wake-up set (not a registration).
    wake_set: Name,
    /// Native events collected (every wake-up of the kevent thread).
    native_events: AtomicU64,
}

impl Libmach {
    fn new(task: mach_sim::Task, wake_set: Name) -> Result<Libmach, BenchError> {
        let kq = task.kqueue()?;
        let lm = Libmach {
            task,
            kq,
            regs: Mutex::new(LinkedList::new()),
            wake_set,
            native_events: AtomicU64::new(0),
        };
        lm.native_change(wake_set, EV_ADD | EV_CLEAR)?;
        Ok(lm)
    }

    fn native_change(&self, set: Name, flags: u16) -> Result<(), BenchError> {
        let change = kevent_freebsd {
            ident: set as usize,
            filter: EVFILT_MACHPORT_NEXTBSD,
            flags,
            fflags: 0,
            data: 0,
            udata: std::ptr::null_mut(),
            ext: [0; 4],
        };
        self.kq
            .kevent(&[change], &mut [], Some(std::time::Duration::ZERO))?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkedList<Registration>> {
        self.regs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands out every armed registration's backlog entry: the walk over the whole list that
    /// begins every `kevent_qos` call.
    fn drain_backlog(regs: &mut LinkedList<Registration>, out: &mut Vec<u64>) {
        for r in regs.iter_mut() {
            if r.armed && r.backlog {
                r.backlog = false;
                r.armed = false; // EV_DISPATCH
                out.push(r.udata);
            }
        }
    }

    /// `kevent_qos`: walks the list, applies `changes` (each a linear search), then — when
    /// nothing is ready and `wait` — blocks in the native `kevent`, turning each native event
    /// into a backlog entry (a search by wrap set) and each armed entry into a delivered event.
    /// Returns whether the wake-up set fired (the manager's stop signal).
    fn kevent_qos(
        &self,
        changes: &[Change],
        out: &mut Vec<u64>,
        wait: bool,
    ) -> Result<bool, BenchError> {
        {
            let mut regs = self.lock();
            Self::drain_backlog(&mut regs, out);
            for change in changes {
                self.apply(&mut regs, *change)?;
            }
            // A re-arm may find an entry queued while the source was disarmed.
            Self::drain_backlog(&mut regs, out);
        }
        if !wait || !out.is_empty() {
            return Ok(false);
        }
        let mut events = [kevent_freebsd::default(); 64];
        let n = self.kq.kevent(&[], &mut events, None)?;
        self.native_events.fetch_add(n as u64, Ordering::Relaxed);
        let mut woken = false;
        let mut regs = self.lock();
        for ev in &events[..n] {
            let set = ev.ident as Name;
            if set == self.wake_set {
                woken = true;
                continue;
            }
            if ev.flags & EV_EOF != 0 {
                continue;
            }
            // The search by wrap set, on every delivered event.
            if let Some(r) = regs.iter_mut().find(|r| r.wrap_set == set) {
                r.backlog = true;
            }
        }
        Self::drain_backlog(&mut regs, out);
        Ok(woken)
    }

    fn apply(&self, regs: &mut LinkedList<Registration>, change: Change) -> Result<(), BenchError> {
        let kern = |what: &'static str| move |kr| BenchError::kern(what, kr);
        match change {
            Change::Add { ident, udata } => {
                if regs.iter().any(|r| r.ident == ident) {
                    return Ok(());
                }
                let wrap_set = self
                    .task
                    .port_allocate(MACH_PORT_RIGHT_PORT_SET)
                    .map_err(kern("mach_port_allocate (wrap set)"))?;
                let registered = self
                    .task
                    .port_move_member(ident, wrap_set)
                    .map_err(kern("mach_port_move_member"))
                    .and_then(|()| self.native_change(wrap_set, EV_ADD | EV_CLEAR));
                if let Err(e) = registered {
                    let _ = self.task.port_close(wrap_set);
                    return Err(e);
                }
                // LIST_INSERT_HEAD.
                regs.push_front(Registration {
                    ident,
                    wrap_set,
                    udata,
                    armed: true,
                    backlog: false,
                });
            }
            Change::Enable { ident } => {
                if let Some(r) = regs.iter_mut().find(|r| r.ident == ident) {
                    r.armed = true;
                }
            }
            Change::Delete { ident } => {
                let Some(pos) = regs.iter().position(|r| r.ident == ident) else {
                    return Ok(());
                };
                let mut tail = regs.split_off(pos);
                let r = tail.pop_front().expect("found above");
                regs.append(&mut tail);
                self.native_change(r.wrap_set, EV_DELETE)?;
                let _ = self.task.port_move_member(r.ident, 0);
                self.task
                    .port_close(r.wrap_set)
                    .map_err(kern("close (wrap set)"))?;
            }
        }
        Ok(())
    }

    /// Registrations in the list.
    pub fn registrations(&self) -> usize {
        self.lock().len()
    }
}

/// A work item of the root queue.
enum Job {
    /// Run the source's event handler (then re-arm).
    Deliver(u64),
    /// Cancel the source: delete its registration, then run its cancel handler.
    Cancel(u64),
    /// Leave the worker loop.
    Exit,
}

struct Source {
    port: Name,
    handler: Mutex<EventHandler>,
}

/// Counters of one runtime.
#[derive(Debug, Default)]
pub struct DispatchCounters {
    /// Event-handler invocations.
    pub handler_runs: AtomicU64,
    /// Messages handed to event handlers.
    pub messages: AtomicU64,
    /// Sources whose cancel handler has run.
    pub cancelled: AtomicU64,
    /// When the last cancel handler ran.
    pub last_cancel: Mutex<Option<std::time::Instant>>,
    /// Kernel calls of the manager and the workers, each adding its own as it exits (only
    /// where the backend counts them: see [`crate::sysinfo::thread_kernel_calls`]).
    pub kernel_calls: AtomicU64,
}

struct Shared {
    raw: Arc<dyn RawMach>,
    libmach: Libmach,
    wake_port: Name,
    sources: Mutex<HashMap<u64, Arc<Source>>>,
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    stopping: AtomicBool,
    counters: Arc<DispatchCounters>,
    first_error: Mutex<Option<BenchError>>,
}

impl Shared {
    fn push(&self, job: Job) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job);
        self.ready.notify_one();
    }

    fn fail(&self, e: BenchError) {
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }

    fn source(&self, udata: u64) -> Option<Arc<Source>> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&udata)
            .cloned()
    }
}

/// libdispatch on libmach, modelled: a manager thread, [`WORKERS`] worker threads, one kqueue.
pub struct DispatchRuntime {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    next_udata: u64,
}

impl DispatchRuntime {
    /// Starts the manager and the workers on `task` (receives go through `raw`, the same task).
    pub fn start(task: mach_sim::Task, raw: Arc<dyn RawMach>) -> Result<Self, BenchError> {
        let kern = |what: &'static str| move |kr| BenchError::kern(what, kr);
        let wake_port = raw.new_port().map_err(kern("mach_port_allocate (wake)"))?;
        let wake_set = match task.port_allocate(MACH_PORT_RIGHT_PORT_SET) {
            Ok(s) => s,
            Err(kr) => {
                let _ = raw.close_port(wake_port);
                return Err(BenchError::kern("mach_port_allocate (wake set)", kr));
            }
        };
        let libmach = task
            .port_move_member(wake_port, wake_set)
            .map_err(kern("mach_port_move_member (wake)"))
            .and_then(|()| Libmach::new(task.clone(), wake_set));
        let libmach = match libmach {
            Ok(l) => l,
            Err(e) => {
                let _ = raw.close_port(wake_port);
                let _ = task.port_close(wake_set);
                return Err(e);
            }
        };
        let shared = Arc::new(Shared {
            raw,
            libmach,
            wake_port,
            sources: Mutex::new(HashMap::new()),
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            stopping: AtomicBool::new(false),
            counters: Arc::default(),
            first_error: Mutex::new(None),
        });
        let mut rt = DispatchRuntime {
            shared: shared.clone(),
            threads: Vec::new(),
            next_udata: 1,
        };
        let s = shared.clone();
        rt.threads.push(
            std::thread::Builder::new()
                .name("dispatch-manager".into())
                .spawn(move || {
                    let start = crate::sysinfo::thread_kernel_calls();
                    manager(&s);
                    add_kernel_calls_since(&s.counters.kernel_calls, start);
                })?,
        );
        for _ in 0..WORKERS {
            let s = shared.clone();
            rt.threads.push(
                std::thread::Builder::new()
                    .name("dispatch-worker".into())
                    .spawn(move || {
                        let start = crate::sysinfo::thread_kernel_calls();
                        worker(&s);
                        add_kernel_calls_since(&s.counters.kernel_calls, start);
                    })?,
            );
        }
        Ok(rt)
    }

    /// `dispatch_source_create(MACH_RECV, port)` + `dispatch_resume`: registers `port` (which
    /// the source now owns: its cancel handler closes it) with `handler`.
    pub fn add_source(&mut self, port: Name, handler: EventHandler) -> Result<(), BenchError> {
        let udata = self.next_udata;
        self.next_udata += 1;
        self.shared
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                udata,
                Arc::new(Source {
                    port,
                    handler: Mutex::new(handler),
                }),
            );
        let mut ready = Vec::new();
        let added = self.shared.libmach.kevent_qos(
            &[Change::Add { ident: port, udata }],
            &mut ready,
            false,
        );
        for u in ready {
            self.shared.push(Job::Deliver(u));
        }
        added.map(|_| ())
    }

    /// `dispatch_source_cancel` on every source: each cancel runs on a worker (delete the
    /// registration, free the wrap set, close the port).
    pub fn cancel_all(&self) {
        let ids: Vec<u64> = self
            .shared
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        for id in ids {
            self.shared.push(Job::Cancel(id));
        }
    }

    /// The runtime's counters.
    pub fn counters(&self) -> &Arc<DispatchCounters> {
        &self.shared.counters
    }

    /// Native events collected by the manager so far (its wake-ups).
    pub fn native_events(&self) -> u64 {
        self.shared.libmach.native_events.load(Ordering::Relaxed)
    }

    /// Registrations still in libmach's list.
    pub fn registrations(&self) -> usize {
        self.shared.libmach.registrations()
    }

    /// Stops the threads, cancels what is left, frees the wake-up port and set, and returns the
    /// first error any thread met.
    pub fn shutdown(mut self) -> Result<(), BenchError> {
        self.stop_threads();
        // Sources not cancelled by the caller: delete their registrations and close their ports.
        let left: Vec<Arc<Source>> = self
            .shared
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for s in left {
            let mut out = Vec::new();
            let _ = self.shared.libmach.kevent_qos(
                &[Change::Delete { ident: s.port }],
                &mut out,
                false,
            );
            let _ = self.shared.raw.close_port(s.port);
        }
        let _ = self
            .shared
            .libmach
            .native_change(self.shared.libmach.wake_set, EV_DELETE);
        let _ = self.shared.raw.close_port(self.shared.wake_port);
        let _ = self
            .shared
            .libmach
            .task
            .port_close(self.shared.libmach.wake_set);
        let err = self
            .shared
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        err.map_or(Ok(()), Err)
    }

    fn stop_threads(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.stopping.store(true, Ordering::Release);
        let mut wake = MsgBuffer::message(
            self.shared.wake_port,
            crate::raw::WAKE_MSG_ID,
            crate::raw::Stamp { seq: 0, sent_ns: 0 },
        );
        let _ = self.shared.raw.send(&mut wake, Some(1_000));
        for _ in 0..WORKERS {
            self.shared.push(Job::Exit);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for DispatchRuntime {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// The manager thread: collect events, hand each to a worker.
fn manager(s: &Shared) {
    let mut ready = Vec::new();
    while !s.stopping.load(Ordering::Acquire) {
        ready.clear();
        match s.libmach.kevent_qos(&[], &mut ready, true) {
            Ok(_) => {}
            Err(e) => {
                s.fail(e);
                return;
            }
        }
        for &u in &ready {
            s.push(Job::Deliver(u));
        }
    }
}

/// A worker thread of the root queue.
fn worker(s: &Shared) {
    let mut buf = MsgBuffer::for_receive();
    let mut ready = Vec::new();
    loop {
        let job = {
            let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(j) = q.pop_front() {
                    break j;
                }
                q = s.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        match job {
            Job::Exit => return,
            Job::Deliver(udata) => {
                let Some(src) = s.source(udata) else { continue };
                s.counters.handler_runs.fetch_add(1, Ordering::Relaxed);
                // The handler drains the port to empty ("a left-over message would keep the
                // edge-triggered source ready").
                {
                    let mut handler = src.handler.lock().unwrap_or_else(|p| p.into_inner());
                    while s.raw.receive(src.port, &mut buf, Some(0)) == MACH_MSG_SUCCESS {
                        s.counters.messages.fetch_add(1, Ordering::Relaxed);
                        handler(&buf);
                    }
                }
                // Re-arm (EV_DISPATCH): another kevent_qos call, another list walk.
                ready.clear();
                if let Err(e) =
                    s.libmach
                        .kevent_qos(&[Change::Enable { ident: src.port }], &mut ready, false)
                {
                    s.fail(e);
                }
                for &u in &ready {
                    s.push(Job::Deliver(u));
                }
            }
            Job::Cancel(udata) => {
                let src = s
                    .sources
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&udata);
                let Some(src) = src else { continue };
                ready.clear();
                if let Err(e) =
                    s.libmach
                        .kevent_qos(&[Change::Delete { ident: src.port }], &mut ready, false)
                {
                    s.fail(e);
                }
                for &u in &ready {
                    s.push(Job::Deliver(u));
                }
                // The cancel handler: the source's owner closes its port.
                if let Err(kr) = s.raw.close_port(src.port) {
                    s.fail(BenchError::kern("close (source port)", kr));
                }
                s.counters.cancelled.fetch_add(1, Ordering::AcqRel);
                *s.counters
                    .last_cancel
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{SimRaw, Stamp, BENCH_MSG_ID};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn send(raw: &dyn RawMach, port: Name, seq: u64) {
        let mut m = MsgBuffer::message(port, BENCH_MSG_ID, Stamp { seq, sent_ns: 0 });
        assert_eq!(raw.send(&mut m, Some(5_000)), MACH_MSG_SUCCESS);
    }

    #[test]
    fn the_wrapper_delivers_once_per_arming_and_a_rearm_hands_out_the_backlog() {
        let kernel = mach_sim::Kernel::new();
        let task = kernel.task_create("libmach-test", 1, 0, 0);
        let raw = SimRaw::new(task.clone());
        let wake_set = task.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
        let lm = Libmach::new(task.clone(), wake_set).unwrap();
        let port = raw.new_port().unwrap();
        let mut out = Vec::new();
        lm.kevent_qos(
            &[Change::Add {
                ident: port,
                udata: 7,
            }],
            &mut out,
            false,
        )
        .unwrap();
        assert!(out.is_empty());
        assert_eq!(
            task.port_set_members(lm.lock().front().unwrap().wrap_set)
                .unwrap(),
            vec![port]
        );

        send(&raw, port, 0);
        assert!(!lm.kevent_qos(&[], &mut out, true).unwrap());
        assert_eq!(out, vec![7], "one synthesized event");
        // Disarmed (EV_DISPATCH): a second message only queues a backlog entry.
        out.clear();
        send(&raw, port, 1);
        lm.kevent_qos(&[], &mut out, true).unwrap();
        assert!(out.is_empty(), "no delivery while disarmed: {out:?}");
        // The re-arm call hands the entry out at once.
        lm.kevent_qos(&[Change::Enable { ident: port }], &mut out, false)
            .unwrap();
        assert_eq!(
            out,
            vec![7],
            "the backlog entry survives the disarmed period"
        );
        out.clear();
        lm.kevent_qos(&[Change::Enable { ident: port }], &mut out, false)
            .unwrap();
        assert!(out.is_empty(), "entries are not handed out twice");

        lm.kevent_qos(&[Change::Delete { ident: port }], &mut out, false)
            .unwrap();
        assert_eq!(lm.registrations(), 0);
        drop(lm);
        raw.close_port(port).unwrap();
        task.port_close(wake_set).unwrap();
        let _ = task.terminate();
        kernel.assert_no_leaks();
    }

    #[test]
    fn every_message_is_delivered_even_when_it_arrives_while_the_source_is_disarmed() {
        let kernel = mach_sim::Kernel::new();
        let task = kernel.task_create("dispatch-test", 1, 0, 0);
        let raw: Arc<dyn RawMach> = Arc::new(SimRaw::new(task.clone()));
        let mut rt = DispatchRuntime::start(task.clone(), raw.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut ports = Vec::new();
        for i in 0..3u64 {
            let port = raw.new_port().unwrap();
            let tx = tx.clone();
            rt.add_source(
                port,
                Box::new(move |buf: &MsgBuffer| {
                    // A slow handler: the next message arrives after the drain has started,
                    // while the source is disarmed (EV_DISPATCH) — it must not be lost.
                    std::thread::sleep(Duration::from_micros(300));
                    let _ = tx.send((i, buf.stamp().map(|s| s.seq)));
                }),
            )
            .unwrap();
            ports.push(port);
        }
        assert_eq!(rt.registrations(), 3, "one registration per source");
        let rounds = 20u64;
        for seq in 0..rounds {
            for &p in &ports {
                send(&*raw, p, seq);
            }
            std::thread::sleep(Duration::from_micros(150));
        }
        let mut seen = [0u64; 3];
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.iter().sum::<u64>() < 3 * rounds {
            let left = deadline.saturating_duration_since(Instant::now());
            let (i, seq) = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("messages lost: received {seen:?} of {rounds} each"));
            assert_eq!(seq, Some(seen[i as usize]), "in order per source");
            seen[i as usize] += 1;
        }
        assert!(rt.counters().handler_runs.load(Ordering::Relaxed) >= 1);

        rt.cancel_all();
        let deadline = Instant::now() + Duration::from_secs(20);
        while rt.counters().cancelled.load(Ordering::Acquire) < 3 {
            assert!(Instant::now() < deadline, "cancel handlers did not all run");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            rt.registrations(),
            0,
            "every cancel removed its registration"
        );
        rt.shutdown().unwrap();
        drop(raw);
        let _ = task.terminate();
        kernel.assert_no_leaks();
    }
}
