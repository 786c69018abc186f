//! [`MachRecvStream`] and [`MachNotifyStream`]: the safe receive algorithm of
//! native-filter.md §5 over a private kqueue and `EVFILT_MACHPORT`.
//!
//! Rule numbers in comments (`rule N`) refer to native-filter.md §5.
//!
//! # On XNU (macOS): the prepost rule
//!
//! native-filter.md §5 describes NextBSD, where every message queued on a member signals the
//! set's knote. XNU (`osfmk/kern/waitq.c`, `do_waitq_select_n_locked_sets`) *preposts* a member
//! on the set at its first message and raises no new knote event for it while it stays
//! preposted; the prepost clears only when a receive through the set (or the filter's probe)
//! walks the prepost list and finds the member empty. Hence, on macOS:
//! - Rule 27 holds only once a receive through the set has returned `MACH_RCV_TIMED_OUT`: a
//!   drain that stops early leaves the member preposted and later messages raise no event. The
//!   message stream therefore always drains to TIMED_OUT or keeps readiness (rule 11), and the
//!   notify stream signals again at the next poll whenever [`MachNotifyStream::try_recv`] last
//!   returned a message or an error instead of `Ok(None)`.
//! - Rule 17 is a hard requirement, not advice: receiving on a member's own name empties it
//!   without clearing its prepost, and the stream then never hears of that port again.
//! - Rule 18's set order does not hold: every receive through the set rotates the preposted
//!   members (round-robin). Only per-port FIFO order is guaranteed on every kernel.
//!
//! The simulated kernel models this rule with `mach_sim::SetSignalSemantics::XnuPrepost`
//! (`tests/xnu_prepost.rs`).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures::Stream;
use mach_abi::{
    MACH_MSG_MASK, MACH_MSG_SUCCESS, MACH_MSG_TRAILER_FORMAT_0, MACH_PORT_RIGHT_PORT_SET,
    MACH_RCV_BODY_ERROR, MACH_RCV_HEADER_ERROR, MACH_RCV_INTERRUPTED, MACH_RCV_INVALID_DATA,
    MACH_RCV_INVALID_NAME, MACH_RCV_LARGE, MACH_RCV_MSG, MACH_RCV_PORT_DIED, MACH_RCV_TIMED_OUT,
    MACH_RCV_TIMEOUT, MACH_RCV_TOO_LARGE, MACH_RCV_TRAILER_AUDIT, MACH_RCV_TRAILER_CTX,
    MACH_RCV_TRAILER_ELEMENTS, MACH_RCV_TRAILER_NULL, MACH_RCV_TRAILER_SENDER,
    MACH_RCV_TRAILER_SEQNO, MACH_RCV_TRAILER_TYPE, MAX_TRAILER_SIZE, NEXTBSD_MAX_INLINE_SEND,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::buffer::MsgBuf;
use crate::message::Message;
use crate::rights::ReceiveRight;
use crate::sys::{Event, Kqueue, Name, Space};
use crate::Error;

/// Default initial receive buffer (rule 19: 8 KiB).
pub const DEFAULT_BUFFER_SIZE: usize = 8192;
/// Default fairness cap: messages drained per readiness before yielding (rule 11).
pub const DEFAULT_FAIRNESS_CAP: usize = 64;
/// Largest receive buffer: the kernel's maximum message plus the maximum trailer
/// (mach-abi.md §6.4: 48 MiB + 68 on NextBSD).
pub const MAX_BUFFER_SIZE: usize = NEXTBSD_MAX_INLINE_SEND as usize + 2 * MAX_TRAILER_SIZE as usize;

/// Which trailer the stream requests with every receive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrailerRequest {
    /// The 8-byte minimum.
    Minimal,
    /// Up to the sequence number (12 bytes).
    Seqno,
    /// Up to the sender security token (20 bytes).
    Sender,
    /// Up to the audit token (52 bytes): what MIG `ServerAuditToken` routines need.
    #[default]
    Audit,
    /// Up to the port context (60 bytes).
    Context,
}

impl TrailerRequest {
    /// The receive option bits (`MACH_RCV_TRAILER_TYPE(0) | MACH_RCV_TRAILER_ELEMENTS(x)`).
    pub fn option_bits(self) -> u32 {
        let elements = match self {
            TrailerRequest::Minimal => MACH_RCV_TRAILER_NULL,
            TrailerRequest::Seqno => MACH_RCV_TRAILER_SEQNO,
            TrailerRequest::Sender => MACH_RCV_TRAILER_SENDER,
            TrailerRequest::Audit => MACH_RCV_TRAILER_AUDIT,
            TrailerRequest::Context => MACH_RCV_TRAILER_CTX,
        };
        MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) | MACH_RCV_TRAILER_ELEMENTS(elements)
    }
}

/// Counters of one stream; a lost wake-up would show as messages left queued while
/// `wakeups` stops growing, and spurious ones as `empty_wakeups`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Readiness wake-ups obtained from tokio (rule 7), plus the initial drain (rule 6).
    pub wakeups: u64,
    /// kqueue events consumed (rule 8).
    pub events: u64,
    /// `EV_EOF` events seen.
    pub eof_events: u64,
    /// Drains run (rule 9).
    pub drains: u64,
    /// Messages received by the stream's drains (or by [`MachNotifyStream::try_recv`]).
    pub messages: u64,
    /// Wake-ups that consumed no event and received no message.
    pub empty_wakeups: u64,
    /// Buffer growths on `MACH_RCV_TOO_LARGE` (rule 10).
    pub grows: u64,
    /// Yields after hitting the fairness cap (rule 11).
    pub yields: u64,
    /// Signals delivered (notify mode).
    pub signals: u64,
}

#[derive(Default)]
struct Counters {
    wakeups: AtomicU64,
    events: AtomicU64,
    eof_events: AtomicU64,
    drains: AtomicU64,
    messages: AtomicU64,
    empty_wakeups: AtomicU64,
    grows: AtomicU64,
    yields: AtomicU64,
    signals: AtomicU64,
}

impl Counters {
    fn inc(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    fn snapshot(&self) -> StreamStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StreamStats {
            wakeups: g(&self.wakeups),
            events: g(&self.events),
            eof_events: g(&self.eof_events),
            drains: g(&self.drains),
            messages: g(&self.messages),
            empty_wakeups: g(&self.empty_wakeups),
            grows: g(&self.grows),
            yields: g(&self.yields),
            signals: g(&self.signals),
        }
    }
}

/// A cheap handle on a stream's counters that stays valid after the stream is gone.
#[derive(Clone)]
pub struct StatsHandle(Arc<Counters>);

impl StatsHandle {
    /// The current counters.
    pub fn get(&self) -> StreamStats {
        self.0.snapshot()
    }
}

impl fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// Configures and builds a [`MachRecvStream`] or a [`MachNotifyStream`].
#[derive(Debug)]
pub struct MachRecvStreamBuilder {
    ports: Vec<ReceiveRight>,
    space: Option<Space>,
    trailer: TrailerRequest,
    buffer: usize,
    cap: usize,
}

impl Default for MachRecvStreamBuilder {
    fn default() -> Self {
        MachRecvStreamBuilder {
            ports: Vec::new(),
            space: None,
            trailer: TrailerRequest::default(),
            buffer: DEFAULT_BUFFER_SIZE,
            cap: DEFAULT_FAIRNESS_CAP,
        }
    }
}

impl MachRecvStreamBuilder {
    /// Adds a port the stream will own (moved into the stream's port set).
    pub fn port(mut self, port: ReceiveRight) -> Self {
        self.ports.push(port);
        self
    }
    /// Adds several ports.
    pub fn ports(mut self, ports: impl IntoIterator<Item = ReceiveRight>) -> Self {
        self.ports.extend(ports);
        self
    }
    /// The space for the stream's set and kqueue (default: the first port's, else
    /// [`Space::current`]). All ports must live in it ([`Error::WrongSpace`] otherwise).
    pub fn space(mut self, space: Space) -> Self {
        self.space = Some(space);
        self
    }
    /// The trailer requested with every receive (default [`TrailerRequest::Audit`]).
    pub fn trailer(mut self, trailer: TrailerRequest) -> Self {
        self.trailer = trailer;
        self
    }
    /// Initial receive buffer size (default 8 KiB; rule 19). It grows on demand.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.buffer = bytes.clamp(64, MAX_BUFFER_SIZE);
        self
    }
    /// Messages drained per readiness before yielding (default 64; rule 11). At least 1.
    pub fn fairness_cap(mut self, cap: usize) -> Self {
        self.cap = cap.max(1);
        self
    }
    /// A message-mode stream. Must be called within a tokio runtime with I/O enabled.
    pub fn build(self) -> Result<MachRecvStream, Error> {
        Ok(MachRecvStream {
            core: Core::setup(self)?,
        })
    }
    /// A notify-mode stream. Must be called within a tokio runtime with I/O enabled.
    pub fn build_notify(self) -> Result<MachNotifyStream, Error> {
        Ok(MachNotifyStream {
            core: Core::setup(self)?,
            partial: false,
        })
    }
}

/// Rule 10's growth policy: the buffer size to retry with after `MACH_RCV_TOO_LARGE` with a
/// buffer of `old` bytes, given the size the kernel reported in `msgh_size` (`reported`; 0 when
/// it wrote none, as NextBSD's synchronous path does): the reported size plus the largest
/// trailer, else (or if that would not grow the buffer) double; capped at [`MAX_BUFFER_SIZE`].
/// `None` when the buffer cannot grow any more.
fn grown_size(old: usize, reported: usize) -> Option<usize> {
    let mut new = if reported > 0 {
        (reported + MAX_TRAILER_SIZE as usize).next_multiple_of(8)
    } else {
        old * 2
    };
    if new <= old {
        new = old * 2;
    }
    let new = new.min(MAX_BUFFER_SIZE);
    (new > old).then_some(new)
}

/// Everything but the `AsyncFd`, so that a readiness guard (borrowing the `AsyncFd`) and the
/// drain (mutating this) can coexist.
struct State {
    space: Space,
    set: Name,
    /// False once the set is known destroyed elsewhere (EOF, `RCV_INVALID_NAME`): its name may
    /// be reused, so teardown must not close it.
    set_alive: bool,
    ports: Vec<ReceiveRight>,
    buf: MsgBuf,
    options: u32,
    cap: usize,
    queue: VecDeque<Result<Message, Error>>,
    started: bool,
    ended: bool,
    yield_next: bool,
    /// Set after a fairness yield: the next poll consumes and drains without waiting for
    /// readiness (rule 11).
    drain_now: bool,
    stats: Arc<Counters>,
}

struct Core {
    kq: Option<AsyncFd<Kqueue>>,
    st: State,
}

#[allow(clippy::large_enum_variant)] // transient, moved straight into the queue
enum One {
    Got(Message),
    Empty,
    End,
}

enum Drain {
    /// Observed `MACH_RCV_TIMED_OUT`: the set was empty.
    Empty,
    /// Hit the fairness cap.
    Capped,
    /// The set is gone or a fatal error was queued.
    End,
}

fn filter_error(e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENXIO) => Error::FilterUnavailable {
            errno: e.raw_os_error().unwrap_or(0),
        },
        _ => Error::io("kevent(EV_ADD, EVFILT_MACHPORT)", e),
    }
}

impl Core {
    fn setup(b: MachRecvStreamBuilder) -> Result<Core, Error> {
        crate::sys::mach_available()?;
        let space = b
            .space
            .clone()
            .or_else(|| b.ports.first().map(|p| p.space().clone()))
            .unwrap_or_else(Space::current);
        // Names are per space: a port of another space would be resolved by its number here.
        if b.ports.iter().any(|p| p.space() != &space) {
            return Err(Error::WrongSpace {
                op: "MachRecvStream: a port of another space",
            });
        }
        // Rule 1: one private kqueue per stream, never reused.
        let kq = space.kqueue().map_err(|e| Error::io("kqueue", e))?;
        // Rule 2: a port set of our own (mach_port_allocate(PORT_SET) only, §3.1).
        let set = space.allocate(MACH_PORT_RIGHT_PORT_SET)?;
        let stats = Arc::new(Counters::default());
        // From here on, dropping `core` tears everything down in order.
        let mut core = Core {
            kq: None,
            st: State {
                space: space.clone(),
                set,
                set_alive: true,
                ports: Vec::new(),
                buf: MsgBuf::new(b.buffer),
                options: MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT | b.trailer.option_bits(),
                cap: b.cap,
                queue: VecDeque::new(),
                started: false,
                ended: false,
                yield_next: false,
                drain_now: false,
                stats,
            },
        };
        // Rule 3: the knote before any port joins (EV_ADD|EV_CLEAR, fflags 0, changelist only).
        if let Err(e) = kq.add_machport(set) {
            drop(kq);
            return Err(filter_error(e));
        }
        // Rule 4: move the ports in; move_member signals the knote for non-empty ports.
        for port in b.ports {
            core.st.space.move_member(port.name(), set)?;
            core.st.ports.push(port);
        }
        // Rule 5 / rule 25: readable interest only (a kqueue fd cannot be polled for writing).
        if let Err(e) = tokio::runtime::Handle::try_current() {
            return Err(Error::NoRuntime(io::Error::other(e)));
        }
        // A runtime without IO makes tokio panic in the registration ("IO is disabled"); that is
        // the caller's configuration mistake, so it becomes `Error::NoRuntime` (the kqueue is
        // dropped, and `core` releases the set and ports, on the way out).
        let registered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `Kqueue` owns its descriptor (closed only by its own drop), never
            // replaces it, and keeps it open until the `AsyncFd` drops it (rule 21).
            unsafe { AsyncFd::register_with_interest(kq, Interest::READABLE) }
        }));
        match registered {
            Ok(Ok(fd)) => core.kq = Some(fd),
            Ok(Err(e)) => return Err(Error::NoRuntime(e.into_parts().1)),
            Err(_) => {
                return Err(Error::NoRuntime(io::Error::other(
                    "the tokio runtime has IO disabled (build it with enable_io or enable_all)",
                )))
            }
        }
        tracing::debug!(
            set,
            ports = core.st.ports.len(),
            backend = crate::sys::BACKEND,
            "MachRecvStream set up"
        );
        Ok(core)
    }

    fn stats(&self) -> StreamStats {
        self.st.stats.snapshot()
    }

    fn insert_port(&mut self, port: ReceiveRight) -> Result<(), Error> {
        if port.space() != &self.st.space {
            return Err(Error::WrongSpace {
                op: "MachRecvStream::insert_port",
            });
        }
        self.st.space.move_member(port.name(), self.st.set)?;
        self.st.ports.push(port);
        Ok(())
    }

    fn remove_port(&mut self, name: Name) -> Option<ReceiveRight> {
        let i = self.st.ports.iter().position(|p| p.name() == name)?;
        if let Err(e) = self.st.space.move_member(name, 0) {
            tracing::debug!(name, error = %e, "move_member out of the stream's set failed");
        }
        Some(self.st.ports.remove(i))
    }

    /// Rule 8: consume the kqueue event(s) with room in the event list and a zero timeout.
    /// Returns the number consumed; remembers `EV_EOF`.
    fn consume_events(kq: &Kqueue, st: &mut State) -> Result<usize, Error> {
        let mut events = [Event::default(); 4];
        let mut total = 0;
        loop {
            let n = kq
                .collect(&mut events, Some(Duration::ZERO))
                .map_err(|e| Error::io("kevent (consume)", e))?;
            for ev in &events[..n] {
                if ev.is_eof() {
                    // Rule 15: the set was destroyed elsewhere; the knote is gone.
                    Counters::inc(&st.stats.eof_events, 1);
                    st.set_alive = false;
                    tracing::debug!(set = st.set, "EV_EOF on the stream's set");
                } else if ev.is_error() {
                    tracing::warn!(
                        set = st.set,
                        errno = ev.data,
                        "EV_ERROR event on the stream's kqueue"
                    );
                } else {
                    // `data` names a member with a message: a hint only (rule 18).
                    tracing::trace!(set = st.set, member = ev.data, "EVFILT_MACHPORT event");
                }
            }
            total += n;
            if n < events.len() {
                break;
            }
        }
        Counters::inc(&st.stats.events, total as u64);
        Ok(total)
    }

    /// Rule 10's growth: to `msgh_size + 68` when the kernel reported a size, else double,
    /// capped at the kernel maximum.
    fn grow(st: &mut State) -> Result<(), Error> {
        let old = st.buf.len();
        let needed = st.buf.msgh_size() as usize;
        let Some(new) = grown_size(old, needed) else {
            return Err(Error::Msg {
                op: "receive (message exceeds the maximum buffer)",
                mr: MACH_RCV_TOO_LARGE,
            });
        };
        Counters::inc(&st.stats.grows, 1);
        tracing::debug!(
            set = st.set,
            old,
            new,
            reported = needed,
            "MACH_RCV_TOO_LARGE: growing the receive buffer"
        );
        st.buf = MsgBuf::new(new);
        Ok(())
    }

    /// One zero-timeout receive on the set (rules 9, 10, 16, 19).
    fn receive_one(st: &mut State) -> Result<One, Error> {
        loop {
            // Rule 9 / mach-abi.md §6.4: zero msgh_size so a size the kernel did not write is
            // never mistaken for a reported one; zero the whole header so that a damaged-message
            // result that wrote nothing is not read as the previous message (whose rights were
            // handed out with it) and released a second time.
            st.buf.clear_header();
            let len = st.buf.len() as u32;
            // SAFETY: the buffer is 8-aligned, valid for writes of `len` bytes and exclusively
            // borrowed for the call. Rule 16: always MACH_RCV_LARGE; rule 28: timeout 0 never blocks.
            let mr = unsafe {
                st.space
                    .mach_msg(st.buf.header_ptr(), st.options, 0, len, st.set, 0)
            }?;
            match mr {
                MACH_MSG_SUCCESS => {
                    Counters::inc(&st.stats.messages, 1);
                    // SAFETY: the kernel just delivered this message into our space.
                    return match unsafe { Message::from_received(&st.space, st.buf.bytes()) } {
                        Ok(m) => Ok(One::Got(m)),
                        Err(e) => Err(Error::Parse(e)),
                    };
                }
                MACH_RCV_TIMED_OUT => return Ok(One::Empty),
                // The message stays queued (MACH_RCV_LARGE): grow and retry.
                MACH_RCV_TOO_LARGE => Self::grow(st)?,
                MACH_RCV_INTERRUPTED => {}
                MACH_RCV_INVALID_NAME | MACH_RCV_PORT_DIED => {
                    st.set_alive = false;
                    return Ok(One::End);
                }
                MACH_RCV_INVALID_DATA => {
                    tracing::error!(
                        set = st.set,
                        "MACH_RCV_INVALID_DATA: a message was lost (kernel bug?)"
                    );
                    return Err(Error::MessageLost);
                }
                _ if matches!(
                    mr & !MACH_MSG_MASK,
                    MACH_RCV_HEADER_ERROR | MACH_RCV_BODY_ERROR
                ) =>
                {
                    tracing::warn!(set = st.set, mr, "damaged message received: destroying it");
                    // SAFETY: delivered (damaged) into our space; parsing salvages what it can
                    // and dropping the result releases its rights.
                    drop(unsafe { Message::from_received(&st.space, st.buf.bytes()) });
                }
                _ => return Err(Error::Msg { op: "receive", mr }),
            }
        }
    }

    /// Rules 9–11: drain into the internal queue until TIMED_OUT, the cap, or the end.
    fn drain(st: &mut State) -> Drain {
        Counters::inc(&st.stats.drains, 1);
        let mut got = 0;
        loop {
            if got >= st.cap {
                return Drain::Capped;
            }
            match Self::receive_one(st) {
                Ok(One::Got(m)) => {
                    st.queue.push_back(Ok(m));
                    got += 1;
                }
                Ok(One::Empty) => return Drain::Empty,
                Ok(One::End) => return Drain::End,
                // A lost or unparseable message is reported in order; keep draining.
                Err(e @ (Error::MessageLost | Error::Parse(_))) => {
                    st.queue.push_back(Err(e));
                    got += 1;
                }
                Err(e) => {
                    st.queue.push_back(Err(e));
                    return Drain::End;
                }
            }
        }
    }

    /// Message mode (rules 6–15).
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            // Rule 14: never Pending while drained messages are queued inside the stream.
            if let Some(item) = self.st.queue.pop_front() {
                return Poll::Ready(Some(item));
            }
            // Rule 15: the end comes after everything queued was delivered.
            if self.st.ended {
                return Poll::Ready(None);
            }
            // `setup` sets the kqueue and only `teardown` takes it, from `Drop` or from
            // `into_ports(self)`: a stream that can still be polled always has it.
            let kq = self.kq.as_ref().expect("a pollable stream has its kqueue");
            if !self.st.started || self.st.drain_now {
                // Rule 6: ready on the first poll. Messages queued before the knote existed
                // produce no later edge. Consume (rule 8) then drain (rule 13); no guard, so no
                // readiness is cleared.
                // Rule 11, after a capped drain: the messages left queued raise no new edge,
                // and a capped drain that ran without a guard (this very path) has no tokio
                // readiness to retain, so drain again here rather than wait for readiness.
                // Readiness is left as it is: at worst one extra, empty wake-up.
                self.st.started = true;
                self.st.drain_now = false;
                Counters::inc(&self.st.stats.wakeups, 1);
                if let Err(e) = Self::consume_events(kq.get_ref(), &mut self.st) {
                    self.st.queue.push_back(Err(e));
                    self.st.ended = true;
                    continue;
                }
                if !self.st.set_alive {
                    // Rule 15: EV_EOF. The set is gone and its name may already denote another
                    // right of this task (§3.7): never receive on it again.
                    self.st.ended = true;
                    continue;
                }
                match Self::drain(&mut self.st) {
                    Drain::Empty => {}
                    Drain::Capped => self.st.yield_next = true,
                    Drain::End => self.st.ended = true,
                }
                continue;
            }
            if self.st.yield_next {
                // Rule 11: yield once to the scheduler; readiness was retained, so the next
                // poll drains again without waiting for a new edge.
                self.st.yield_next = false;
                self.st.drain_now = true;
                Counters::inc(&self.st.stats.yields, 1);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // Rule 7: the readiness guard.
            let mut guard = match ready!(kq.poll_read_ready(cx)) {
                Ok(g) => g,
                Err(e) => {
                    self.st.queue.push_back(Err(Error::io("poll kqueue", e)));
                    self.st.ended = true;
                    continue;
                }
            };
            Counters::inc(&self.st.stats.wakeups, 1);
            // Rule 8 (and rule 26: an unconsumed inner event would latch the outer edge).
            let events = match Self::consume_events(guard.get_inner(), &mut self.st) {
                Ok(n) => n,
                Err(e) => {
                    self.st.queue.push_back(Err(e));
                    self.st.ended = true;
                    continue;
                }
            };
            if !self.st.set_alive {
                // Rule 15: EV_EOF. The knote is gone, so no edge is left to lose (rule 13), and
                // the set's name may already denote another right of this task (§3.7): do not
                // drain it. Deliver what is queued, then end.
                self.st.ended = true;
                continue;
            }
            let before = self.st.queue.len();
            // Rule 13: a consume is always followed by a drain (unless EV_EOF ended the set).
            match Self::drain(&mut self.st) {
                Drain::Empty => {
                    if events == 0 && self.st.queue.len() == before {
                        Counters::inc(&self.st.stats.empty_wakeups, 1);
                    }
                    // Rule 12 / 27: clear only after a drain that saw TIMED_OUT, with the guard
                    // of rule 7 (tokio ignores the clear if a newer event arrived meanwhile).
                    // This is the try_io shape: "WouldBlock" only on TIMED_OUT.
                    guard.clear_ready();
                }
                // Rule 11: keep readiness (dropping the guard retains it) and yield after
                // delivering what was drained.
                Drain::Capped => self.st.yield_next = true,
                Drain::End => self.st.ended = true,
            }
            if !self.st.set_alive {
                // Rule 15: EOF / set gone. Deliver what is queued, then end.
                self.st.ended = true;
            }
            tracing::trace!(
                set = self.st.set,
                events,
                drained = self.st.queue.len() - before,
                "MachRecvStream wake-up"
            );
        }
    }

    /// Teardown in the kernel's order (rules 20–24). With `keep_ports`, the ports are moved
    /// out of the set first and returned, together with the undelivered messages.
    fn teardown(&mut self, keep_ports: bool) -> (Vec<ReceiveRight>, Vec<Message>) {
        let st = &mut self.st;
        if let Some(kq) = self.kq.take() {
            // Rule 20: EV_DELETE the knote; ENOENT means it is already gone (EOF delivered).
            if let Err(e) = kq.get_ref().delete_machport(st.set) {
                if e.raw_os_error() != Some(libc::ENOENT) {
                    tracing::debug!(set = st.set, error = %e, "EV_DELETE at teardown failed");
                }
            }
            // Rule 21: deregister from tokio and close the kqueue.
            drop(kq);
        }
        let mut kept = Vec::new();
        if keep_ports {
            for port in st.ports.drain(..) {
                if st.set_alive {
                    if let Err(e) = st.space.move_member(port.name(), 0) {
                        tracing::debug!(name = port.name(), error = %e, "move_member out at teardown failed");
                    }
                }
                kept.push(port);
            }
        }
        // Rule 22: destroy the set (unless it was destroyed elsewhere and its name may be reused).
        if st.set_alive && st.set != 0 {
            if let Err(e) = st.space.destroy_set(st.set) {
                tracing::debug!(set = st.set, error = %e, "destroying the stream's set failed");
            }
            st.set_alive = false;
        }
        // Rule 23: destroy owned ports (the kernel destroys their queued messages).
        st.ports.clear();
        // Rule 24: messages received but not delivered: hand back, or drop = destroy (releases
        // every right they carry).
        let undelivered: Vec<Message> = st.queue.drain(..).filter_map(Result::ok).collect();
        let s = st.stats.snapshot();
        tracing::debug!(set = st.set, ?s, "MachRecvStream torn down");
        st.ended = true;
        if keep_ports {
            (kept, undelivered)
        } else {
            drop(undelivered);
            (Vec::new(), Vec::new())
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.teardown(false);
    }
}

/// An async stream of the Mach messages arriving on one or more receive rights.
///
/// The stream owns its ports, a private port set, a private kqueue registered with
/// `EVFILT_MACHPORT` on that set, and an `AsyncFd` over the kqueue; it follows the safe receive
/// algorithm of native-filter.md §5: knote before the ports move in, one drain at the first
/// poll, then on every readiness consume the kqueue event and drain with zero-timeout receives
/// until `MACH_RCV_TIMED_OUT`, growing the buffer on `MACH_RCV_TOO_LARGE`, yielding after a
/// fairness cap without losing readiness. Messages arrive in order per port; the order across
/// ports is unspecified (set order on NextBSD, round-robin on XNU). No thread ever waits in
/// `mach_msg`, and nothing else may receive on the stream's ports (rule 17; see the module docs).
///
/// **Cancel safety**: received messages are kept inside the stream until delivered, so dropping
/// a pending `next()` loses nothing.
///
/// **Teardown** (drop): `EV_DELETE`, close the kqueue, destroy the set, destroy the ports,
/// destroy undelivered messages (releasing their rights). [`MachRecvStream::into_ports`] hands
/// the ports and undelivered messages back instead.
///
/// The stream ends (`None`) after `EV_EOF` or when the set stops existing (its task died), once
/// everything already drained has been delivered.
pub struct MachRecvStream {
    core: Core,
}

impl fmt::Debug for MachRecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachRecvStream")
            .field("set", &self.core.st.set)
            .field("ports", &self.core.st.ports)
            .field("queued", &self.core.st.queue.len())
            .field("stats", &self.core.stats())
            .finish()
    }
}

impl MachRecvStream {
    /// A message-mode stream over one port, with the defaults (audit trailer, 8 KiB initial
    /// buffer, fairness cap 64). Must be called within a tokio runtime with I/O enabled.
    pub fn new(port: ReceiveRight) -> Result<MachRecvStream, Error> {
        MachRecvStream::builder().port(port).build()
    }

    /// A builder (several ports, trailer, buffer size, fairness cap, notify mode).
    pub fn builder() -> MachRecvStreamBuilder {
        MachRecvStreamBuilder::default()
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        self.core.stats()
    }

    /// A handle on the counters that outlives the stream.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.core.st.stats.clone())
    }

    /// The names of the ports the stream owns, in the order they joined the set (not an order
    /// of delivery: only per-port order is guaranteed).
    pub fn port_names(&self) -> Vec<Name> {
        self.core.st.ports.iter().map(ReceiveRight::name).collect()
    }

    /// The stream's private port set (for diagnostics; never receive on it yourself).
    pub fn set_name(&self) -> Name {
        self.core.st.set
    }

    /// The space the stream lives in.
    pub fn space(&self) -> &Space {
        &self.core.st.space
    }

    /// Number of messages drained but not yet delivered.
    pub fn queued(&self) -> usize {
        self.core.st.queue.len()
    }

    /// True once the stream has seen its port set die (`EV_EOF`, or a receive saying the set
    /// is gone, e.g. because its task was terminated): it will end (`None`) as soon as the
    /// messages drained before the death ([`MachRecvStream::queued`]) have been delivered.
    /// Reads what the stream already observed; it makes no kernel call.
    pub fn set_died(&self) -> bool {
        self.core.st.ended && !self.core.st.set_alive
    }

    /// Adds a port to the stream's set (messages already queued on it are signalled by
    /// `move_member`). A port of another space is refused with [`Error::WrongSpace`] (and,
    /// like a port the kernel refuses, dropped, i.e. destroyed).
    pub fn insert_port(&mut self, port: ReceiveRight) -> Result<(), Error> {
        self.core.insert_port(port)
    }

    /// Removes a port from the stream's set and returns it. Messages already drained from it
    /// stay in the stream and are still delivered.
    pub fn remove_port(&mut self, name: Name) -> Option<ReceiveRight> {
        self.core.remove_port(name)
    }

    /// Tears the stream down but hands back its ports (moved out of the set first, rule 22)
    /// and the messages drained but not yet delivered, in order.
    pub fn into_ports(mut self) -> (Vec<ReceiveRight>, Vec<Message>) {
        self.core.teardown(true)
    }
}

impl Stream for MachRecvStream {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.core.poll_message(cx)
    }
}

/// A notify-mode stream: a coalesced "messages are waiting" signal for callers that receive
/// themselves (what libdispatch's `MACH_RECV` sources deliver).
///
/// Each item means: receive until empty. Use [`MachNotifyStream::try_recv`] (a zero-timeout
/// receive on the stream's set, with buffer growth) until it returns `Ok(None)`. If a caller
/// polls again before its `try_recv` saw the set empty, the stream signals again at once, so
/// stopping early loses nothing, and the same holds when `try_recv` returns an error: the next
/// poll signals again (on XNU no new event would come while the port stays preposted; see the
/// module docs). Callers receiving with their own `mach_msg` must use the set name
/// ([`MachNotifyStream::set_name`]), never a member's name (rule 17: on XNU that leaves the member
/// preposted and silences it for good), a zero timeout and `MACH_RCV_LARGE`, and must drain to
/// `MACH_RCV_TIMED_OUT` after every signal.
pub struct MachNotifyStream {
    core: Core,
    /// `try_recv` returned a message or an error since the last signal and has not seen
    /// TIMED_OUT since: the next poll signals at once.
    partial: bool,
}

impl fmt::Debug for MachNotifyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachNotifyStream")
            .field("set", &self.core.st.set)
            .field("ports", &self.core.st.ports)
            .field("stats", &self.core.stats())
            .finish()
    }
}

impl MachNotifyStream {
    /// A notify-mode stream over one port. Must be called within a tokio runtime.
    pub fn new(port: ReceiveRight) -> Result<MachNotifyStream, Error> {
        MachRecvStream::builder().port(port).build_notify()
    }

    /// The counters so far (`signals`, `events`, `messages` received through `try_recv` ...).
    pub fn stats(&self) -> StreamStats {
        self.core.stats()
    }

    /// The stream's port set: the name to receive on (zero timeout, `MACH_RCV_LARGE`).
    pub fn set_name(&self) -> Name {
        self.core.st.set
    }

    /// The names of the ports the stream owns.
    pub fn port_names(&self) -> Vec<Name> {
        self.core.st.ports.iter().map(ReceiveRight::name).collect()
    }

    /// One zero-timeout receive on the set: `Ok(Some(message))`, or `Ok(None)` when the set is
    /// empty (`MACH_RCV_TIMED_OUT`) or gone. Never blocks. After `Ok(Some)` or `Err` the set was
    /// not seen empty, so the stream's next poll signals at once: a caller may stop draining at
    /// an error and lose nothing.
    pub fn try_recv(&mut self) -> Result<Option<Message>, Error> {
        if self.core.st.ended {
            return Ok(None);
        }
        match Core::receive_one(&mut self.core.st) {
            Ok(One::Got(m)) => {
                self.partial = true;
                Ok(Some(m))
            }
            Ok(One::Empty) => {
                self.partial = false;
                Ok(None)
            }
            Ok(One::End) => {
                self.partial = false;
                self.core.st.ended = true;
                Ok(None)
            }
            Err(e) => {
                // The set was not seen empty: on XNU its member stays preposted and later
                // messages raise no event, so a caller that stops at this error must be
                // signalled again at its next poll, like one that stops after a message.
                self.partial = true;
                Err(e)
            }
        }
    }

    /// Tears the stream down and hands back its ports (see [`MachRecvStream::into_ports`]).
    pub fn into_ports(mut self) -> Vec<ReceiveRight> {
        self.core.teardown(true).0
    }

    fn signal(&mut self) -> Poll<Option<Result<(), Error>>> {
        Counters::inc(&self.core.st.stats.signals, 1);
        Poll::Ready(Some(Ok(())))
    }
}

impl Stream for MachNotifyStream {
    type Item = Result<(), Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(Err(e)) = this.core.st.queue.pop_front() {
                return Poll::Ready(Some(Err(e)));
            }
            if this.core.st.ended {
                return Poll::Ready(None);
            }
            // As in `poll_message`: only `teardown` takes the kqueue.
            let kq = this
                .core
                .kq
                .as_ref()
                .expect("a pollable stream has its kqueue");
            if !this.core.st.started {
                // Rule 6: ready on the first poll; consume whatever EV_ADD / move_member queued.
                this.core.st.started = true;
                Counters::inc(&this.core.st.stats.wakeups, 1);
                if let Err(e) = Core::consume_events(kq.get_ref(), &mut this.core.st) {
                    this.core.st.queue.push_back(Err(e));
                    continue;
                }
                if !this.core.st.set_alive {
                    // EV_EOF: no drain on a name that may have been reused (§3.7).
                    this.core.st.ended = true;
                    continue;
                }
                // Rule 13: the caller's drain follows the signal.
                return this.signal();
            }
            if this.partial {
                // The caller stopped before seeing the set empty: messages may remain with no
                // future edge. Signal again (level-like safety net).
                this.partial = false;
                return this.signal();
            }
            let mut guard = match ready!(kq.poll_read_ready(cx)) {
                Ok(g) => g,
                Err(e) => {
                    this.core
                        .st
                        .queue
                        .push_back(Err(Error::io("poll kqueue", e)));
                    this.core.st.ended = true;
                    continue;
                }
            };
            Counters::inc(&this.core.st.stats.wakeups, 1);
            // Rule 8: consume first.
            let events = match Core::consume_events(guard.get_inner(), &mut this.core.st) {
                Ok(n) => n,
                Err(e) => {
                    this.core.st.queue.push_back(Err(e));
                    this.core.st.ended = true;
                    continue;
                }
            };
            // The inner knote is now unqueued, so on NextBSD any message that arrives from here
            // on queues it again and raises a new outer edge (rule 27); messages already present
            // are covered by the signal below, after which the caller drains to TIMED_OUT (its
            // drain is rule 12's drain). On XNU a message raises an edge only once a receive
            // through the set has seen its port empty; a caller that stops before that (a
            // message or an error from `try_recv`) sets `partial`, and is signalled again at its
            // next poll above. Clearing now therefore loses no edge.
            guard.clear_ready();
            if !this.core.st.set_alive {
                this.core.st.ended = true;
                continue;
            }
            if events == 0 {
                // The filter's peek found the set empty: a spurious edge.
                Counters::inc(&this.core.st.stats.empty_wakeups, 1);
                continue;
            }
            return this.signal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule 10 / mach-abi.md §6.4: grow to the reported size plus 68 when the kernel wrote
    /// one (XNU, and the simulation), double when it did not (NextBSD's synchronous path), and
    /// stop at the kernel maximum instead of looping.
    #[test]
    fn growth_uses_the_reported_size_else_doubles_and_stops_at_the_maximum() {
        assert_eq!(grown_size(8192, 100_000), Some(100_072));
        assert_eq!(
            grown_size(8192, 0),
            Some(16_384),
            "nothing reported: double"
        );
        assert_eq!(
            grown_size(8192, 4000),
            Some(16_384),
            "a stale small size: double"
        );
        let mut size = 8192;
        let mut steps = 0;
        while let Some(next) = grown_size(size, 0) {
            assert!(next > size);
            size = next;
            steps += 1;
        }
        assert_eq!(size, MAX_BUFFER_SIZE);
        assert!(steps < 20);
        assert_eq!(grown_size(MAX_BUFFER_SIZE, MAX_BUFFER_SIZE), None);
        assert!(MAX_BUFFER_SIZE >= NEXTBSD_MAX_INLINE_SEND as usize + MAX_TRAILER_SIZE as usize);
    }

    /// §1 / issue 3: a missing filter is a clear error, not a hang. The simulated kernel always
    /// has the filter, so the errno mapping is checked directly.
    #[test]
    fn a_missing_filter_is_reported_as_filter_unavailable() {
        for errno in [libc::EINVAL, libc::ENXIO] {
            let e = filter_error(io::Error::from_raw_os_error(errno));
            assert!(
                matches!(e, Error::FilterUnavailable { errno: got } if got == errno),
                "{e:?}"
            );
        }
        for errno in [libc::ENOENT, libc::ENOTSUP, libc::EBADF] {
            let e = filter_error(io::Error::from_raw_os_error(errno));
            assert!(matches!(e, Error::Io { .. }), "{e:?}");
        }
    }
}
