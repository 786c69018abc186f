//! The Rust API: a notification port whose watches are streams of device events.
//!
//! # Design
//!
//! **Per-watch attribution.** Every watch gets its own Mach receive right, registered with the
//! kernel (`IOREGIOCWATCH`) under its own name, and all of a port's watch rights are members of
//! one port set, received by one [`MachRecvStream`] (one kqueue, one knote). The kernel sends one
//! message per matching watch, and a message received through the set names the member it
//! arrived on (`msgh_local_port`), so each message is attributed to exactly the watch it was
//! sent for. Nothing is re-matched on the client: N overlapping watches get one event each
//! (spec §6 #1, #6), and every criterion the kernel knows (driver, PCI ids) is honoured (#2).
//!
//! **Per-watch cancel.** Dropping a [`WatchStream`] removes its right from the set and destroys
//! it; the kernel retires the watch at its next emission (#5). No other watch is affected.
//!
//! **Exactly once.** The kernel watch is registered first and the snapshot (`LOOKUP`, retried
//! until untruncated, #4) is taken second, so no device can fall between them; the overlap is
//! removed by a per-watch filter (see the `filter` module and [`UnknownDepartures`]) before any
//! event is delivered (#3). A departure-only watch starts with an empty snapshot (#8).
//!
//! **One task per port.** A driver task owns the stream and the watch table; watches are added
//! and removed through a command channel, so [`NotificationPort::watch`] never blocks and may be
//! called from anywhere, including from inside an event callback.
//!
//! **Bounded memory (spec §6 #16).** The driver drains the kernel's messages promptly, and each
//! watch's queue of undelivered events holds at most
//! [`NotificationPortBuilder::watch_capacity`] items. An event that finds the queue full drops
//! the whole backlog: the driver re-reads the registry (`LOOKUP` with the watch's criteria),
//! restarts the exactly-once filter from that set, and queues one
//! [`WatchEvent::Resynced`] carrying it. A consumer that falls behind a flood therefore sees
//! "resynced: these are present now" followed by what happened after, never an unbounded queue
//! and never a device twice or a device lost in its final view.

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use mach_async::{MachRecvStream, Message, Name, ReceiveRight, Space, TrailerRequest};
use thiserror::Error;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use crate::criteria::{Criteria, CriteriaError};
use crate::event::{DeviceEvent, EventKinds};
use crate::filter::{ExactlyOnce, UnknownDepartures};
use crate::registry::{lookup_all, RegistryBackend, RegistryError};
use crate::registry_abi::{ioreg_watch_reg, parse_event_message, EventParseError};

/// Why a notification port could not be opened or a watch added.
#[derive(Debug, Error)]
pub enum Error {
    /// No tokio runtime (with I/O) to run the port on.
    #[error("no tokio runtime: call within a runtime or pass one with `runtime`")]
    NoRuntime,
    /// The criteria cannot be expressed exactly (they would widen the match).
    #[error("invalid criteria: {0}")]
    Criteria(#[from] CriteriaError),
    /// The watch asked for no event kind.
    #[error("a watch needs at least one event kind")]
    NoKinds,
    /// No registry to open (see [`NotificationPort::open`]), or the registry refused the watch
    /// or the snapshot.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// Creating the port set, kqueue or stream, or a watch's port, failed.
    #[error("mach: {0}")]
    Mach(#[from] mach_async::Error),
    /// The notification port was closed.
    #[error("the notification port is closed")]
    Closed,
}

/// The devices that matched a watch when it was added, by registry id, in registry order.
///
/// Empty for a departure-only watch (a "terminated" notification has nothing to report yet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    ids: Vec<u64>,
}

impl Snapshot {
    /// The ids.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }
    /// The ids, owned.
    pub fn into_ids(self) -> Vec<u64> {
        self.ids
    }
    /// Number of devices.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether no device matched.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl IntoIterator for Snapshot {
    type Item = u64;
    type IntoIter = std::vec::IntoIter<u64>;
    fn into_iter(self) -> Self::IntoIter {
        self.ids.into_iter()
    }
}

/// Counters of one notification port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Events handed to a watch.
    pub delivered: u64,
    /// ARRIVE / MATCHED messages for devices already in the watch's snapshot.
    pub duplicates_suppressed: u64,
    /// DEPART messages for devices the watch never reported (see [`UnknownDepartures`]).
    pub unknown_departures_dropped: u64,
    /// Messages that were not valid events (spec §5); dropped, rights destroyed.
    pub malformed: u64,
    /// Valid events that arrived on a port whose watch was already cancelled.
    pub unattributed: u64,
    /// Receive errors reported by the stream (the drain carries on).
    pub receive_errors: u64,
    /// Resynchronisations after a watch's queue overflowed (see [`WatchEvent::Resynced`]).
    pub resyncs: u64,
    /// Undelivered events dropped by those resynchronisations (the overflowing one included).
    pub dropped_on_overflow: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    duplicates_suppressed: AtomicU64,
    unknown_departures_dropped: AtomicU64,
    malformed: AtomicU64,
    unattributed: AtomicU64,
    receive_errors: AtomicU64,
    resyncs: AtomicU64,
    dropped_on_overflow: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> PortStats {
        PortStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            duplicates_suppressed: self.duplicates_suppressed.load(Ordering::Relaxed),
            unknown_departures_dropped: self.unknown_departures_dropped.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            unattributed: self.unattributed.load(Ordering::Relaxed),
            receive_errors: self.receive_errors.load(Ordering::Relaxed),
            resyncs: self.resyncs.load(Ordering::Relaxed),
            dropped_on_overflow: self.dropped_on_overflow.load(Ordering::Relaxed),
        }
    }
}

/// What a [`WatchStream`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// A device arrived, departed or matched.
    Device(DeviceEvent),
    /// The watch's queue overflowed (the consumer fell behind): its backlog was dropped and the
    /// registry re-read. These devices match now (empty for a departure-only watch, as a
    /// snapshot is); replace what you knew with them. Later items are relative to this set.
    Resynced(Snapshot),
}

impl WatchEvent {
    /// The device event, if this is one.
    pub fn device(self) -> Option<DeviceEvent> {
        match self {
            WatchEvent::Device(event) => Some(event),
            WatchEvent::Resynced(_) => None,
        }
    }
}

/// The default of [`NotificationPortBuilder::watch_capacity`].
pub const DEFAULT_WATCH_CAPACITY: usize = 1024;

/// One watch's queue of undelivered items, shared by the driver (producer) and the
/// [`WatchStream`] (consumer). Holds at most `capacity` items.
pub(crate) struct WatchQueue {
    items: std::collections::VecDeque<WatchEvent>,
    capacity: usize,
    /// Most items ever queued at once.
    peak: usize,
    /// Set when the driver drops its end (the watch ended).
    closed: bool,
    /// Set when the stream is dropped.
    abandoned: bool,
    waker: Option<std::task::Waker>,
}

/// Outcome of offering an event to a watch's sink.
#[cfg_attr(mach_backend = "macos", allow(dead_code))]
pub(crate) enum Offer {
    /// Queued or delivered.
    Taken,
    /// The sink's backlog is full: resynchronise.
    Full,
    /// The consumer is gone: cancel the watch.
    Gone,
}

pub(crate) type SharedQueue = Arc<std::sync::Mutex<WatchQueue>>;

fn lock_queue(q: &SharedQueue) -> std::sync::MutexGuard<'_, WatchQueue> {
    q.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a watch's events go.
// Callbacks serve the C ABI, which is not built for macOS (Apple's IOKit is the real one there).
#[cfg_attr(mach_backend = "macos", allow(dead_code))]
pub(crate) enum Sink {
    /// A [`WatchStream`]'s bounded queue.
    Queue(SharedQueue),
    /// A function called on the port's task, in the middle of the drain (the C ABI's
    /// callbacks). It answers [`Offer::Full`] when its own backlog (callbacks queued on a
    /// dispatch queue) is at its bound; a [`WatchEvent::Resynced`] must always be taken. It
    /// also receives the admitted events of kinds the watch did not ask for (for its
    /// bookkeeping; it must not report them, and its answer is ignored).
    Callback(Box<dyn FnMut(WatchEvent) -> Offer + Send>),
}

impl Sink {
    /// Offers `item`. A queue that is full is left as is (the caller resynchronises).
    fn offer(&mut self, item: WatchEvent) -> Offer {
        match self {
            Sink::Queue(q) => {
                let mut q = lock_queue(q);
                if q.abandoned {
                    return Offer::Gone;
                }
                if q.items.len() >= q.capacity {
                    return Offer::Full;
                }
                q.items.push_back(item);
                q.peak = q.peak.max(q.items.len());
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
                Offer::Taken
            }
            Sink::Callback(f) => f(item),
        }
    }

    /// Drops the backlog and queues `snapshot` as a [`WatchEvent::Resynced`] (always taken).
    fn resync(&mut self, snapshot: Snapshot) {
        match self {
            Sink::Queue(q) => {
                let mut q = lock_queue(q);
                q.items.clear();
                q.items.push_back(WatchEvent::Resynced(snapshot));
                q.peak = q.peak.max(1);
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
            }
            Sink::Callback(f) => {
                let _ = f(WatchEvent::Resynced(snapshot));
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Sink::Queue(q) = self {
            let mut q = lock_queue(q);
            q.closed = true;
            if let Some(w) = q.waker.take() {
                w.wake();
            }
        }
    }
}

/// Identity of a watch within its port (port names can be reused; these never are).
pub(crate) type WatchId = u64;

struct WatchState {
    id: WatchId,
    kinds: EventKinds,
    /// The criteria as registered (for the `LOOKUP` of a resync).
    raw: crate::registry_abi::ioreg_criteria,
    filter: ExactlyOnce,
    sink: Sink,
}

enum Command {
    Add {
        port: ReceiveRight,
        watch: Box<WatchState>,
    },
    Remove(WatchId),
    Shutdown,
}

struct Shared {
    backend: Arc<dyn RegistryBackend>,
    space: Space,
    set_name: Name,
    commands: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
    unknown_departures: UnknownDepartures,
    watch_capacity: usize,
    next_watch: AtomicU64,
    finished: watch::Receiver<bool>,
}

/// Configures and opens a [`NotificationPort`] (see [`NotificationPort::builder`]).
pub struct NotificationPortBuilder {
    backend: Option<Arc<dyn RegistryBackend>>,
    space: Space,
    runtime: Option<Handle>,
    unknown_departures: UnknownDepartures,
    watch_capacity: usize,
}

impl fmt::Debug for NotificationPortBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationPortBuilder")
            .field("space", &self.space)
            .field("unknown_departures", &self.unknown_departures)
            .finish()
    }
}

impl NotificationPortBuilder {
    /// The registry to watch, instead of the one of the space's kernel. Port names it is given
    /// are names in the builder's space, so it must stand for the registry as that space sees it
    /// (e.g. `SimRegistry::open(task)` of the space's task).
    pub fn registry(self, backend: impl RegistryBackend + 'static) -> Self {
        self.registry_arc(Arc::new(backend))
    }

    /// [`NotificationPortBuilder::registry`] with a shared backend.
    pub fn registry_arc(mut self, backend: Arc<dyn RegistryBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The runtime that runs the port (default: the current one). Needed only by
    /// [`NotificationPortBuilder::build`] outside a runtime.
    pub fn runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// What to do with departures of devices a watch never reported (default: ignore).
    pub fn unknown_departures(mut self, policy: UnknownDepartures) -> Self {
        self.unknown_departures = policy;
        self
    }

    /// Most undelivered items one watch holds (default [`DEFAULT_WATCH_CAPACITY`]; at least 1).
    /// An event that finds the queue full replaces the backlog with one
    /// [`WatchEvent::Resynced`] (see the module docs). The C ABI applies it to callbacks
    /// queued on a dispatch queue.
    pub fn watch_capacity(mut self, capacity: usize) -> Self {
        self.watch_capacity = capacity.max(1);
        self
    }

    /// Opens the port: its set, its kqueue and the task that drains them.
    pub async fn open(self) -> Result<NotificationPort, Error> {
        self.build()
    }

    /// [`NotificationPortBuilder::open`] without `.await`, for code outside the runtime
    /// (then with [`NotificationPortBuilder::runtime`]).
    pub fn build(self) -> Result<NotificationPort, Error> {
        let runtime = match self.runtime {
            Some(h) => h,
            None => Handle::try_current().map_err(|_| Error::NoRuntime)?,
        };
        let _entered = runtime.enter();
        let space = self.space;
        let backend = match self.backend {
            Some(backend) => backend,
            None => crate::registry::open(&space)?,
        };
        // No trailer options (spec §5 rule 1): the event needs none, and the kernel's would be
        // misplaced anyway.
        let stream = MachRecvStream::builder()
            .space(space.clone())
            .trailer(TrailerRequest::Minimal)
            .buffer_size(256)
            .build()?;
        let set_name = stream.set_name();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (finished_tx, finished) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let driver = Driver {
            stream,
            commands: command_rx,
            watches: HashMap::new(),
            retired: Vec::new(),
            counters: Arc::clone(&counters),
            backend: Arc::clone(&backend),
        };
        runtime.spawn(async move {
            driver.run().await;
            let _ = finished_tx.send(true);
        });
        Ok(NotificationPort {
            shared: Arc::new(Shared {
                backend,
                space,
                set_name,
                commands,
                counters,
                unknown_departures: self.unknown_departures,
                watch_capacity: self.watch_capacity,
                next_watch: AtomicU64::new(1),
                finished,
            }),
        })
    }
}

/// A notification port: the set of one process's watches on the device registry.
///
/// Opened on a [`Space`] with [`NotificationPort::open`] (or [`NotificationPort::builder`] for
/// options) inside a tokio runtime. [`NotificationPort::watch`] adds a watch and returns its
/// [`Snapshot`] and its [`WatchStream`], which yields `Result<WatchEvent, Error>`.
///
/// [`NotificationPort::close`] ends every watch and returns once everything is released.
/// Dropping the port does not cancel its watches: each lives until its stream is dropped, and
/// once the port and its streams are gone the port's task releases everything on its own
/// (without blocking anyone).
///
/// ```
/// # #[cfg(mach_backend = "sim")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures::StreamExt;
/// use iokit_notify::mach_async::Space;
/// use iokit_notify::sim::{Kernel, SimDevice, SimRegistry};
/// use iokit_notify::{Criteria, EventKind, EventKinds, NotificationPort};
///
/// let kernel = Kernel::new();
/// let space = Space::from_task(kernel.task_create("da", 50, 0, 0));
/// let registry = SimRegistry::new(&kernel); // the kernel's `/dev/ioregistry`
/// let present = registry.probe_and_attach(SimDevice::new("em"));
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let port = NotificationPort::open(&space).await?;
///     let (snapshot, mut arrivals) = port.watch(&Criteria::all().class("em"), EventKinds::ARRIVE)?;
///     assert_eq!(snapshot.ids(), [present]);
///     let added = registry.probe_and_attach(SimDevice::new("em"));
///     let event = arrivals.next().await.expect("open")?.device().expect("not a resync");
///     assert_eq!((event.kind, event.id, event.name.as_str()), (EventKind::Arrive, added, "em"));
///     drop(arrivals);
///     port.close().await;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// drop(registry);
/// kernel.assert_no_leaks();
/// # Ok(())
/// # }
/// # #[cfg(not(mach_backend = "sim"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct NotificationPort {
    shared: Arc<Shared>,
}

impl fmt::Debug for NotificationPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationPort")
            .field("set", &self.shared.set_name)
            .field("space", &self.shared.space)
            .field("stats", &self.stats())
            .finish()
    }
}

impl NotificationPort {
    /// Opens a port in `space` on the registry of the space's kernel, on the current runtime:
    /// on NextBSD `/dev/ioregistry`; on the simulated kernel the newest live
    /// `sim::SimRegistry` created on the space's kernel ([`RegistryError::NoDevice`] if there is
    /// none).
    pub async fn open(space: &Space) -> Result<NotificationPort, Error> {
        NotificationPort::builder(space).open().await
    }

    /// A builder for a port in `space` (registry, runtime, queue bound, departure policy).
    pub fn builder(space: &Space) -> NotificationPortBuilder {
        NotificationPortBuilder {
            backend: None,
            space: space.clone(),
            runtime: None,
            unknown_departures: UnknownDepartures::default(),
            watch_capacity: DEFAULT_WATCH_CAPACITY,
        }
    }

    /// The port set all watch ports are members of. It is only a receive-side name, for
    /// diagnostics: never receive on it (that would steal events).
    pub fn set_name(&self) -> Name {
        self.shared.set_name
    }

    /// The counters so far.
    pub fn stats(&self) -> PortStats {
        self.shared.counters.get()
    }

    /// Adds a watch for devices matching `criteria`, reporting `kinds`.
    ///
    /// Returns the devices that match now and a stream of what happens next; together they
    /// report every device exactly once (see the module docs). The stream holds at most
    /// [`NotificationPortBuilder::watch_capacity`] undelivered items; past that it yields a
    /// [`WatchEvent::Resynced`] instead of the backlog. Dropping the stream cancels this watch
    /// alone.
    pub fn watch(
        &self,
        criteria: &Criteria,
        kinds: EventKinds,
    ) -> Result<(Snapshot, WatchStream), Error> {
        let queue = Arc::new(std::sync::Mutex::new(WatchQueue {
            items: std::collections::VecDeque::new(),
            capacity: self.shared.watch_capacity,
            peak: 0,
            closed: false,
            abandoned: false,
            waker: None,
        }));
        let (snapshot, id, port) = self.add(criteria, kinds, Sink::Queue(Arc::clone(&queue)))?;
        Ok((
            snapshot,
            WatchStream {
                queue,
                id,
                port,
                shared: Arc::clone(&self.shared),
            },
        ))
    }

    /// [`NotificationPortBuilder::watch_capacity`] of this port.
    pub fn watch_capacity(&self) -> usize {
        self.shared.watch_capacity
    }

    /// Adds a watch whose events go to `sink`; returns the snapshot, the watch's id and the name
    /// of its port.
    pub(crate) fn add(
        &self,
        criteria: &Criteria,
        kinds: EventKinds,
        sink: Sink,
    ) -> Result<(Snapshot, WatchId, Name), Error> {
        let raw = criteria.to_raw()?;
        if kinds.is_empty() {
            return Err(Error::NoKinds);
        }
        let port = ReceiveRight::new_in(&self.shared.space)?;
        let name = port.name();
        let send = port.make_send()?;
        let reg = ioreg_watch_reg {
            criteria: raw,
            // ARRIVE and DEPART always: the exactly-once filter needs to see both.
            event_mask: (kinds | EventKinds::ARRIVE_DEPART).bits(),
            notify_port: name,
        };
        let registered = self.shared.backend.watch(&reg);
        // The kernel holds its own send right; ours goes before the receive right can.
        drop(send);
        registered?;
        // From here on, dropping `port` is the rollback: the kernel prunes the watch at its next
        // emission (spec §6 #11).
        let ids = lookup_all(&*self.shared.backend, &raw)?;
        let filter = ExactlyOnce::new(&ids, self.shared.unknown_departures);
        let id = self.shared.next_watch.fetch_add(1, Ordering::Relaxed);
        let watch = WatchState {
            id,
            kinds,
            raw,
            filter,
            sink,
        };
        self.shared
            .commands
            .send(Command::Add {
                port,
                watch: Box::new(watch),
            })
            .map_err(|_| Error::Closed)?;
        let reports_present =
            kinds.contains(crate::EventKind::Arrive) || kinds.contains(crate::EventKind::Matched);
        let snapshot = Snapshot {
            ids: if reports_present { ids } else { Vec::new() },
        };
        Ok((snapshot, id, name))
    }

    /// Cancels a watch added with [`NotificationPort::add`].
    #[cfg_attr(mach_backend = "macos", allow(dead_code))]
    pub(crate) fn remove(&self, id: WatchId) {
        // Edge: after shutdown there is nothing left to remove.
        let _ = self.shared.commands.send(Command::Remove(id));
    }

    /// Ends every watch now, without waiting: their streams end, their ports and the set are
    /// destroyed by the port's task.
    pub(crate) fn shutdown(&self) {
        let _ = self.shared.commands.send(Command::Shutdown);
    }

    /// Ends every watch (their streams end) and returns once the port's task has released
    /// every right. Dropping the port instead (and its streams) releases the same without
    /// waiting.
    pub async fn close(self) {
        self.shutdown();
        let mut finished = self.shared.finished.clone();
        drop(self);
        // Edge: the task already ended (a closed channel means the same).
        let _ = finished.wait_for(|done| *done).await;
    }
}

/// The events of one watch. Dropping it cancels the watch.
///
/// The stream ends when the port is shut down.
pub struct WatchStream {
    queue: SharedQueue,
    id: WatchId,
    port: Name,
    shared: Arc<Shared>,
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("id", &self.id)
            .field("port", &self.port)
            .finish()
    }
}

impl WatchStream {
    /// The name of this watch's receive right in the port's space (diagnostics and tests).
    pub fn port_name(&self) -> Name {
        self.port
    }

    /// Items queued and not yet taken.
    pub fn queued(&self) -> usize {
        lock_queue(&self.queue).items.len()
    }

    /// The most items this watch's queue ever held at once (never more than the capacity).
    pub fn peak_queued(&self) -> usize {
        lock_queue(&self.queue).peak
    }
}

impl Stream for WatchStream {
    /// Every item is `Ok` today: receive errors and malformed messages are counted in
    /// [`PortStats`], not yielded. The `Result` is the convention the consumer crates share.
    type Item = Result<WatchEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut q = lock_queue(&self.queue);
        if let Some(item) = q.items.pop_front() {
            return Poll::Ready(Some(Ok(item)));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        {
            let mut q = lock_queue(&self.queue);
            q.abandoned = true;
            q.items.clear();
        }
        let _ = self.shared.commands.send(Command::Remove(self.id));
    }
}

/// The task that owns a port's stream and watches.
struct Driver {
    stream: MachRecvStream,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Live watches by the name of their port.
    watches: HashMap<Name, WatchState>,
    /// Ports of cancelled watches, kept (so their names are not reused) until the stream holds
    /// no more drained messages that could be misattributed to a new port under the same name.
    retired: Vec<ReceiveRight>,
    counters: Arc<Counters>,
    /// For the `LOOKUP` of a resync.
    backend: Arc<dyn RegistryBackend>,
}

// A short-lived value on the driver's stack, one per loop turn: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Step {
    Command(Option<Command>),
    Message(Option<Result<Message, mach_async::Error>>),
}

impl Driver {
    async fn run(mut self) {
        loop {
            let step = poll_fn(|cx| {
                // Commands first: a cancel must win over events still queued for that watch.
                if let Poll::Ready(cmd) = self.commands.poll_recv(cx) {
                    return Poll::Ready(Step::Command(cmd));
                }
                self.stream.poll_next_unpin(cx).map(Step::Message)
            })
            .await;
            match step {
                Step::Command(None) | Step::Command(Some(Command::Shutdown)) => break,
                Step::Command(Some(Command::Add { port, watch })) => {
                    let name = port.name();
                    // Edge: on failure the port is dropped (destroyed), which cancels the kernel
                    // watch; dropping the sink ends the watch's stream.
                    if self.stream.insert_port(port).is_ok() {
                        self.watches.insert(name, *watch);
                    }
                }
                Step::Command(Some(Command::Remove(id))) => self.cancel(id),
                Step::Message(Some(item)) => self.handle_message(item),
                // The set is gone (its task died): nothing more can arrive.
                Step::Message(None) => break,
            }
            if !self.retired.is_empty() && self.stream.queued() == 0 {
                self.retired.clear();
            }
        }
        // Teardown: the stream drops its knote, kqueue, set, member ports and undelivered
        // messages; then the retired ports; then the sinks (ending the watch streams).
        drop(self.stream);
        self.retired.clear();
        self.watches.clear();
    }

    fn handle_message(&mut self, item: Result<Message, mach_async::Error>) {
        match item {
            Ok(msg) => self.dispatch(msg),
            Err(e) => {
                Counters::bump(&self.counters.receive_errors);
                tracing::warn!(error = %e, "iokit-notify: receive error; draining on");
            }
        }
    }

    fn cancel(&mut self, id: WatchId) {
        let Some(name) = self
            .watches
            .iter()
            .find(|(_, w)| w.id == id)
            .map(|(n, _)| *n)
        else {
            return;
        };
        self.watches.remove(&name);
        if let Some(port) = self.stream.remove_port(name) {
            self.retired.push(port);
        }
    }

    fn dispatch(&mut self, msg: Message) {
        if msg.is_complex() {
            // The registry never sends descriptors (spec §5 rule 2).
            Counters::bump(&self.counters.malformed);
            log_malformed(&EventParseError::Complex, msg.local_port());
            return; // dropping `msg` destroys the rights it carried
        }
        let bytes = message_bytes(&msg);
        let parsed = match parse_event_message(&bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                Counters::bump(&self.counters.malformed);
                log_malformed(&e, msg.local_port());
                // Dropping `msg` destroys any right it carried.
                return;
            }
        };
        let name = msg.local_port();
        let Some(watch) = self.watches.get_mut(&name) else {
            Counters::bump(&self.counters.unattributed);
            return;
        };
        let event = parsed.event;
        if !watch.filter.admit(&event) {
            let counter = match event.kind {
                crate::EventKind::Depart => &self.counters.unknown_departures_dropped,
                _ => &self.counters.duplicates_suppressed,
            };
            Counters::bump(counter);
            return;
        }
        if !watch.kinds.contains(event.kind) {
            // A kind registered only for the filter's sake. A callback sink sees it too, to
            // keep its own bookkeeping (it must not report it).
            if let Sink::Callback(f) = &mut watch.sink {
                let _ = f(WatchEvent::Device(event));
            }
            return;
        }
        match watch.sink.offer(WatchEvent::Device(event)) {
            Offer::Taken => Counters::bump(&self.counters.delivered),
            Offer::Full => self.resync(name),
            Offer::Gone => {
                // The stream is gone; its Remove command is on the way.
                let id = watch.id;
                self.cancel(id);
            }
        }
    }

    /// The watch under `name` overflowed: drop its backlog, re-read the registry, restart its
    /// filter from what is present now and queue that set as [`WatchEvent::Resynced`]. If the
    /// `LOOKUP` fails the backlog is dropped all the same and the next overflow tries again.
    fn resync(&mut self, name: Name) {
        let Some(watch) = self.watches.get_mut(&name) else {
            return;
        };
        let dropped = match &watch.sink {
            Sink::Queue(q) => lock_queue(q).items.len() as u64 + 1,
            Sink::Callback(_) => 1,
        };
        Counters::bump(&self.counters.resyncs);
        self.counters
            .dropped_on_overflow
            .fetch_add(dropped, Ordering::Relaxed);
        let ids = match lookup_all(&*self.backend, &watch.raw) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(port = name, error = %e, "iokit-notify: resync LOOKUP failed");
                if let Sink::Queue(q) = &watch.sink {
                    lock_queue(q).items.clear();
                }
                return;
            }
        };
        watch.filter = ExactlyOnce::new(&ids, watch.filter.unknown_departures());
        let reports_present = watch.kinds.contains(crate::EventKind::Arrive)
            || watch.kinds.contains(crate::EventKind::Matched);
        watch.sink.resync(Snapshot {
            ids: if reports_present { ids } else { Vec::new() },
        });
    }
}

fn log_malformed(e: &EventParseError, port: Name) {
    tracing::debug!(port, error = %e, "iokit-notify: dropped a message that is not a registry event");
}

/// The received message as the kernel copied it out: header, then inline data.
fn message_bytes(msg: &Message) -> Vec<u8> {
    let body = msg.body();
    let mut bytes = Vec::with_capacity(24 + body.len());
    for word in [
        msg.bits(),
        msg.size(),
        0,
        msg.local_port(),
        0,
        msg.id() as u32,
    ] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}
