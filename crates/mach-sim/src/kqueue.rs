//! The kqueue model: FreeBSD's kqueue core (register, scan, `EV_*` flags) with NextBSD's
//! `EVFILT_MACHPORT` filter in notify mode (`native-filter.md` §3), and a real pollable file
//! descriptor per kqueue.
//!
//! Readiness of the descriptor follows the kqueue's queue: every time a knote becomes newly
//! queued, one count is written (an `eventfd` on Linux, a byte into a pipe elsewhere), so an
//! edge-triggered poller (tokio's epoll) sees a fresh edge per newly queued event; when a
//! collection leaves the queue empty the descriptor is drained.
//!
//! The filter (`f_event` with hint 0) runs at every register of an enabled knote and at every
//! scan of a queued knote that is not `EV_ONESHOT`; it is a peek: the first member of the set
//! (in set order) that has a message gives `data`, an empty set drops the event silently, a name
//! that no longer denotes a set reports `EV_EOF|EV_ONESHOT` with data 0.
//!
//! With [`crate::SetSignalSemantics::XnuPrepost`] the signal and the peek follow XNU's prepost
//! rule instead: only a member that is not already preposted signals the set, and the peek walks
//! the prepost list (clearing the preposts of empty members it passes).
//!
//! Edge cases kept from the kernel:
//! - No knote attached → a signal is not remembered (`EV_ADD`'s own peek is the only catch-up).
//! - A signal while the knote is queued is coalesced; while it is disabled it only marks it
//!   active (re-enabling queues it, and the scan's peek decides).
//! - A user `EV_ONESHOT` knote is delivered from its stored event without running the filter.
//! - Re-adding an ident whose knote is stale (its set was destroyed, EOF not yet collected)
//!   takes the modify path and never attaches to the new set (the name-reuse trap, §3.7).
//! - `MACH_RCV_MSG` in `fflags` (direct-receive mode) is rejected with `EINVAL`: the project
//!   never uses it and on FreeBSD it loses messages (§3.4).

use crate::space::Obj;
use crate::state::{KnoteId, KqId, Locked, SetId, State, TaskId};
use crate::SetSignalSemantics;
use mach_abi::*;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A kqueue's kernel state.
pub(crate) struct KqState {
    pub task: TaskId,
    /// Descriptor written to signal readiness.
    pub wfd: RawFd,
    /// Descriptor read to clear readiness (the one handed out).
    pub rfd: RawFd,
    /// Knotes by ident (only one filter exists).
    pub knotes: BTreeMap<usize, KnoteId>,
    pub queue: VecDeque<KnoteId>,
}

/// One knote.
pub(crate) struct Knote {
    pub kq: KqId,
    /// The set it is attached to (None once the set is gone).
    pub set: Option<SetId>,
    /// The stored event: ident, filter, flags (without the action bits), fflags, data, udata,
    /// ext.
    pub kev: kevent_freebsd,
    pub active: bool,
    pub queued: bool,
    pub disabled: bool,
}

/// Creates the readiness descriptor(s): (read side, optional separate write side).
pub(crate) fn readiness_fd() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        Ok((unsafe { OwnedFd::from_raw_fd(fd) }, None))
    }
    // Close-on-exec from creation where pipe2 exists, so that no fork+exec in another thread
    // can inherit the descriptors between the pipe and the fcntl below.
    #[cfg(target_os = "freebsd")]
    {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for two descriptors; the result is checked.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both are fresh descriptors we own.
        Ok(unsafe {
            (
                OwnedFd::from_raw_fd(fds[0]),
                Some(OwnedFd::from_raw_fd(fds[1])),
            )
        })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for two descriptors; the result is checked.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both are fresh descriptors we own.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in fds {
            // SAFETY: fcntl on descriptors we own.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        Ok((r, Some(w)))
    }
}

fn fd_signal(wfd: RawFd) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to an eventfd we own; failure (counter
        // saturated) leaves it readable, which is all we need.
        let _ = unsafe { libc::write(wfd, (&one as *const u64).cast(), 8) };
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let b = 1u8;
        // SAFETY: writes one byte to a nonblocking pipe we own; a full pipe is still readable.
        let _ = unsafe { libc::write(wfd, (&b as *const u8).cast(), 1) };
    }
}

fn fd_drain(rfd: RawFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a local buffer from a nonblocking descriptor we own.
        let n = unsafe { libc::read(rfd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 || cfg!(any(target_os = "linux", target_os = "android")) {
            break;
        }
    }
}

impl State {
    pub(crate) fn kq_create(&mut self, task: TaskId, rfd: RawFd, wfd: RawFd) -> KqId {
        let id = KqId(self.fresh());
        self.kqueues.insert(
            id,
            KqState {
                task,
                wfd,
                rfd,
                knotes: BTreeMap::new(),
                queue: VecDeque::new(),
            },
        );
        id
    }

    /// Closes a kqueue: its knotes are removed.
    pub(crate) fn kq_destroy(&mut self, kq: KqId) {
        let Some(state) = self.kqueues.get(&kq) else {
            return;
        };
        let knotes: Vec<KnoteId> = state.knotes.values().copied().collect();
        for kn in knotes {
            self.knote_drop(kn);
        }
        self.kqueues.remove(&kq);
    }

    /// `ipc_pset_signal`: every knote on the set becomes active and is queued unless it already
    /// is or is disabled.
    pub(crate) fn signal_set(&mut self, s: SetId) {
        // By index rather than over a copy of the list (this runs for every message posted to a
        // member): activating a knote never adds or removes a set's knotes.
        let mut i = 0;
        while let Some(kn) = self.sets.get(&s).and_then(|set| set.knotes.get(i).copied()) {
            self.knote_activate(kn);
            i += 1;
        }
    }

    fn knote_activate(&mut self, kn: KnoteId) {
        let Some(k) = self.knotes.get_mut(&kn) else {
            return;
        };
        k.active = true;
        if !k.queued && !k.disabled {
            self.knote_enqueue(kn);
        }
    }

    fn knote_enqueue(&mut self, kn: KnoteId) {
        let k = self.knotes.get_mut(&kn).expect("live knote");
        k.queued = true;
        let kq = self.kqueues.get_mut(&k.kq).expect("live kqueue");
        kq.queue.push_back(kn);
        fd_signal(kq.wfd);
    }

    /// The set died: `EV_EOF|EV_ONESHOT`, data 0, queued (delivered once, then dropped).
    pub(crate) fn knote_post_eof(&mut self, kn: KnoteId) {
        let Some(k) = self.knotes.get_mut(&kn) else {
            return;
        };
        k.set = None;
        k.kev.flags |= EV_EOF | EV_ONESHOT;
        k.kev.data = 0;
        self.knote_activate(kn);
    }

    /// Removes a knote everywhere.
    pub(crate) fn knote_drop(&mut self, kn: KnoteId) {
        let Some(k) = self.knotes.remove(&kn) else {
            return;
        };
        if let Some(set) = k.set.and_then(|s| self.sets.get_mut(&s)) {
            set.knotes.retain(|x| *x != kn);
        }
        if let Some(kq) = self.kqueues.get_mut(&k.kq) {
            kq.knotes.remove(&k.kev.ident);
            if k.queued {
                kq.queue.retain(|x| *x != kn);
                if kq.queue.is_empty() {
                    fd_drain(kq.rfd);
                }
            }
        }
    }

    /// NextBSD `filt_machport` with hint 0, notify mode.
    fn knote_filter(&mut self, kn: KnoteId) -> bool {
        let k = &self.knotes[&kn];
        let task = self.kqueues[&k.kq].task;
        let ident = k.kev.ident;
        let set = match u32::try_from(ident)
            .ok()
            .and_then(|name| self.lookup(task, name))
        {
            Some(e) => match e.obj {
                Obj::Set(s) => Some(s),
                _ => None,
            },
            None => None,
        };
        let Some(s) = set else {
            let k = self.knotes.get_mut(&kn).expect("live knote");
            k.kev.data = 0;
            k.kev.flags |= EV_EOF | EV_ONESHOT;
            return true;
        };
        let member = if self.set_signal == SetSignalSemantics::XnuPrepost {
            // XNU's probe walks the prepost list, clearing the preposts of empty members.
            self.prepost_first(s)
        } else {
            self.sets[&s]
                .members
                .iter()
                .copied()
                .find(|m| !self.ports[m].queue.is_empty())
        };
        let k = self.knotes.get_mut(&kn).expect("live knote");
        match member {
            Some(m) => {
                k.kev.data = i64::from(self.ports[&m].receiver_name());
                true
            }
            None => false,
        }
    }

    /// FreeBSD `kqueue_register` for one change; returns 0 or an errno.
    fn kq_register(&mut self, kq: KqId, ch: &kevent_freebsd) -> i32 {
        if ch.filter != EVFILT_MACHPORT_NEXTBSD {
            return libc::EINVAL;
        }
        let task = self.kqueues[&kq].task;
        let existing = self.kqueues[&kq].knotes.get(&ch.ident).copied();
        let kn = match existing {
            None => {
                if ch.flags & EV_ADD == 0 {
                    return libc::ENOENT;
                }
                let Some(name) = u32::try_from(ch.ident).ok().filter(|n| MACH_PORT_VALID(*n))
                else {
                    return libc::ENOENT;
                };
                if !self.task_is_active(task) {
                    return libc::ENOENT;
                }
                let s = match self.lookup(task, name) {
                    None => return libc::ENOENT,
                    Some(e) => match e.obj {
                        Obj::Set(s) => s,
                        _ => return libc::ENOTSUP,
                    },
                };
                if ch.fflags & MACH_RCV_MSG != 0 {
                    return libc::EINVAL;
                }
                // Fault injection point: between the lookup and the attach.
                self.fault_knote_register(task);
                let attached = self.sets.contains_key(&s) && self.task_is_active(task);
                let kn = KnoteId(self.fresh());
                let mut kev = *ch;
                kev.flags &= !(EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT);
                kev.data = 0;
                self.knotes.insert(
                    kn,
                    Knote {
                        kq,
                        set: attached.then_some(s),
                        kev,
                        active: false,
                        queued: false,
                        disabled: false,
                    },
                );
                if attached {
                    self.sets.get_mut(&s).expect("live set").knotes.push(kn);
                }
                self.kqueues
                    .get_mut(&kq)
                    .expect("live kqueue")
                    .knotes
                    .insert(ch.ident, kn);
                // A set that died under the registration: the filter below reports EOF.
                kn
            }
            Some(kn) => {
                if ch.flags & EV_ADD != 0 {
                    if ch.fflags & MACH_RCV_MSG != 0 {
                        return libc::EINVAL;
                    }
                    // Modify path: only fflags and udata change (no f_touch on this filter).
                    let k = self.knotes.get_mut(&kn).expect("live knote");
                    k.kev.fflags = ch.fflags;
                    if ch.flags & EV_KEEPUDATA == 0 {
                        k.kev.udata = ch.udata;
                    }
                }
                kn
            }
        };
        if ch.flags & EV_DELETE != 0 {
            self.knote_drop(kn);
            return 0;
        }
        let k = self.knotes.get_mut(&kn).expect("live knote");
        if ch.flags & EV_ENABLE != 0 {
            k.disabled = false;
        } else if ch.flags & EV_DISABLE != 0 {
            k.disabled = true;
        }
        let event = !k.disabled && self.knote_filter(kn);
        let k = self.knotes.get_mut(&kn).expect("live knote");
        if event {
            k.active = true;
        }
        if k.active && !k.disabled && !k.queued {
            self.knote_enqueue(kn);
        }
        0
    }

    /// FreeBSD `kqueue_scan` over the currently queued knotes; returns the events written.
    fn kq_scan(&mut self, kq: KqId, out: &mut [kevent_freebsd]) -> usize {
        let mut n = 0;
        let mut budget = self.kqueues[&kq].queue.len();
        while n < out.len() && budget > 0 {
            budget -= 1;
            let Some(kn) = self
                .kqueues
                .get_mut(&kq)
                .expect("live kqueue")
                .queue
                .pop_front()
            else {
                break;
            };
            let k = self.knotes.get_mut(&kn).expect("live knote");
            k.queued = false;
            if k.disabled {
                continue;
            }
            if k.kev.flags & EV_ONESHOT != 0 {
                out[n] = k.kev;
                n += 1;
                self.knote_drop(kn);
                continue;
            }
            if !self.knote_filter(kn) {
                self.knotes.get_mut(&kn).expect("live knote").active = false;
                continue;
            }
            let k = self.knotes.get_mut(&kn).expect("live knote");
            out[n] = k.kev;
            n += 1;
            if k.kev.flags & (EV_CLEAR | EV_DISPATCH) != 0 {
                if k.kev.flags & EV_CLEAR != 0 {
                    k.kev.data = 0;
                    k.kev.fflags = 0;
                }
                if k.kev.flags & EV_DISPATCH != 0 {
                    k.disabled = true;
                }
                k.active = false;
            } else {
                // Level: stays queued while the peek finds messages.
                k.queued = true;
                self.kqueues
                    .get_mut(&kq)
                    .expect("live kqueue")
                    .queue
                    .push_back(kn);
            }
        }
        let state = &self.kqueues[&kq];
        if state.queue.is_empty() {
            fd_drain(state.rfd);
        }
        n
    }
}

/// FreeBSD `kevent(2)` on a simulated kqueue.
pub(crate) fn kevent(
    st: &mut Locked<'_>,
    kq: KqId,
    changes: &[kevent_freebsd],
    events: &mut [kevent_freebsd],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    if !st.kqueues.contains_key(&kq) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    let mut out = 0;
    let mut nerrors = 0;
    for ch in changes {
        if ch.filter == 0 {
            continue;
        }
        let err = st.kq_register(kq, ch);
        if err != 0 || ch.flags & EV_RECEIPT != 0 {
            if out == events.len() {
                // No room to report: the call fails with the errno (or, for a receipt,
                // stops here, as FreeBSD does).
                return if err != 0 {
                    Err(io::Error::from_raw_os_error(err))
                } else {
                    Ok(out)
                };
            }
            let mut ev = *ch;
            ev.flags = EV_ERROR;
            ev.data = i64::from(err);
            events[out] = ev;
            out += 1;
            nerrors += 1;
        }
    }
    if nerrors > 0 || events.is_empty() {
        return Ok(out);
    }
    let deadline = timeout.map(|d| Instant::now() + d);
    let mut timed_out = false;
    loop {
        let n = st.kq_scan(kq, events);
        if n > 0 {
            return Ok(n);
        }
        if timed_out || timeout == Some(Duration::ZERO) {
            return Ok(0);
        }
        let task = st.kqueues[&kq].task;
        if !st.task_is_active(task) && st.kqueues[&kq].queue.is_empty() {
            // The owner exited: its descriptors are closed.
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        timed_out = st.wait(deadline);
    }
}
