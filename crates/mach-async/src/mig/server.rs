//! An async MIG server over a [`MachRecvStream`]: dispatch by `msgh_id` to a routine table, the
//! checks of `mig.md` §8, and the reply and destroy rules of `mig.md` §10.
//!
//! # What happens to each request
//!
//! | outcome | request | reply |
//! | --- | --- | --- |
//! | id outside the table or a `skip` slot | destroyed | 36-byte `MIG_BAD_ID` error reply |
//! | a check fails | destroyed | 36-byte error reply with the check's code |
//! | routine → [`RoutineOutcome::Reply`] | owned by the routine | success reply |
//! | routine → [`RoutineOutcome::NoReply`] | owned by the routine | nothing (the routine took the reply right with [`MigRequest::take_reply`]; if it did not, the right is destroyed and the client sees `MIG_SERVER_DIED`) |
//! | routine → [`RoutineOutcome::Error`] | owned (so destroyed) by the routine | 36-byte error reply with the code |
//! | no reply port (one-way message) | destroyed | nothing |
//!
//! A reply goes to the request's reply right: a send-once right is used with no send timeout (a
//! send-once send never waits on a full queue); a plain send right with a zero timeout, so a
//! client that does not drain its reply port cannot stall the server. A reply that cannot be
//! sent is destroyed with every right it carries (dropping the [`Message`] does that).
//!
//! Routines run concurrently, so replies may leave out of order: each request is first polled
//! once inline on the server's task, and a routine that does not finish in that one poll (it
//! awaits something) continues in a task of its own. Short routines — the usual case — thus cost
//! no task spawn, and a slow one still never holds up the others. Requests
//! are received with the audit trailer ([`TrailerRequest::Audit`]) so routines can authorize
//! callers ([`MigRequest::audit_token`]). A receive error on one message (a garbage message the
//! stream could not parse) is logged and the server keeps serving; the server ends when the
//! port set dies or when the stop future given to [`MigServer::serve_until`] completes. On stop,
//! routines still running are cancelled (their requests are dropped, so their clients get
//! `MIG_SERVER_DIED`), and the served ports are handed back with the requests still queued on
//! them. If the stream had already seen the port set die when the stop is seen, the end is the
//! death ([`ServeEnd`]): it happened first, and there is no port to hand back.
//!
//! # Several ports, added and removed while serving
//!
//! A server serves the port given to [`MigServer::new`] and any port added later through its
//! [`MigServerHandle`] ([`MigServerHandle::add_port`], [`MigServerHandle::remove_port`]), all
//! in one [`MachRecvStream`] (one port set, one kqueue). Routines get the handle from
//! [`MigRequest::server`] and the name the request arrived on from [`MigRequest::local_port`],
//! so a server that hands out per-client ports (configd's sessions) can map a request to its
//! client. Requests already drained from a port when it is removed are still dispatched.
//!
//! # Messages that are not requests
//!
//! A message whose id has no routine (a kernel notification, or a bad id) is first offered to
//! the unrouted-message hook ([`MigServer::with_unrouted_hook`]), if one is set. The hook takes
//! it (returns `None`: it now owns the message, e.g. a no-senders notification that ends a
//! client's session, see [`NoSenders`] and [`MigServerHandle::request_no_senders`]) or declines
//! it (returns it): a declined message, or any such message without a hook, gets the
//! `MIG_BAD_ID` treatment of the table above.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use std::sync::MutexGuard;
use std::task::Poll;

use bytes::Bytes;
use futures::StreamExt;
use mach_abi::{
    audit_token_t, kern_return_t, mach_msg_header_t, mach_msg_id_t, KERN_FAILURE,
    KERN_INVALID_NAME, KERN_SUCCESS, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_NOTIFY_NO_SENDERS,
    MACH_PORT_VALID, MIG_NO_REPLY,
};
use tokio::task::JoinSet;

use crate::message::{Message, MessageBuilder, PortSlot};
use crate::mig::check::{check_request, CheckedRequest, RequestShape};
use crate::mig::codec::{read_u32, reply_body, reply_id};
use crate::mig::error::MigError;
use crate::mig::view::{received_bytes, received_header};
use crate::rights::{PortRight, ReceiveRight, SendOnceRight};
use crate::stream::{MachRecvStream, TrailerRequest};
use crate::sys::{Name, Space};
use crate::Error;

/// What a routine decided.
#[derive(Debug)]
pub enum RoutineOutcome {
    /// `KERN_SUCCESS` with a simple reply whose out fields (after `RetCode`, padded to a
    /// multiple of 4) are these bytes.
    Reply(Bytes),
    /// `KERN_SUCCESS` with a complex reply: `message` carries the descriptors and the inline
    /// part (NDR included when there are inline outs, `mig.md` §4); the server sets its id and
    /// destination.
    ComplexReply(Box<Message>),
    /// `MIG_NO_REPLY`: send nothing; the routine kept the reply right.
    NoReply,
    /// A non-zero `kern_return_t`: the 36-byte error reply carries it. The routine owned the
    /// request and has dropped it, which destroyed its rights. `Error(0)` is treated as
    /// `KERN_FAILURE` (a success must say what it replies) and `Error(MIG_NO_REPLY)` as
    /// [`RoutineOutcome::NoReply`].
    Error(kern_return_t),
}

/// The future a routine returns.
pub type RoutineFuture = Pin<Box<dyn Future<Output = RoutineOutcome> + Send + 'static>>;

/// A routine: called with the checked request, owns it from then on.
pub type RoutineFn = Arc<dyn Fn(MigRequest) -> RoutineFuture + Send + Sync + 'static>;

/// How a routine's request is checked before the routine runs.
#[derive(Clone, Copy)]
pub enum RequestCheck {
    /// The generated checks for this shape (`mig.md` §8).
    Shape(RequestShape),
    /// A custom check over the received bytes (message + trailer), e.g. to tell two meanings
    /// of one id apart by size. `Err` is the code of the error reply.
    Custom(fn(&[u8]) -> Result<CheckedRequest, MigError>),
}

impl fmt::Debug for RequestCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestCheck::Shape(shape) => f.debug_tuple("Shape").field(shape).finish(),
            RequestCheck::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl RequestCheck {
    fn run(&self, bytes: &[u8]) -> Result<CheckedRequest, MigError> {
        match self {
            RequestCheck::Shape(shape) => check_request(bytes, shape),
            RequestCheck::Custom(check) => check(bytes),
        }
    }
}

struct Routine {
    check: RequestCheck,
    handler: RoutineFn,
}

/// A subsystem's routine table: ids `start..end`, each slot a routine or a `skip`.
pub struct RoutineTable {
    start: mach_msg_id_t,
    slots: Vec<Option<Routine>>,
}

impl fmt::Debug for RoutineTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| self.start + i as mach_msg_id_t)
            .collect();
        f.debug_struct("RoutineTable")
            .field("start", &self.start)
            .field("end", &self.end())
            .field("routines", &ids)
            .finish()
    }
}

impl RoutineTable {
    /// An empty table for ids `start..end` (every slot a `skip` until a routine is set).
    ///
    /// # Panics
    /// If `end < start`.
    pub fn new(start: mach_msg_id_t, end: mach_msg_id_t) -> RoutineTable {
        assert!(
            end >= start,
            "subsystem range {start}..{end} is empty or reversed"
        );
        let len = (end - start) as usize;
        RoutineTable {
            start,
            slots: (0..len).map(|_| None).collect(),
        }
    }

    /// First id.
    pub fn start(&self) -> mach_msg_id_t {
        self.start
    }

    /// End of the range (exclusive).
    pub fn end(&self) -> mach_msg_id_t {
        self.start + self.slots.len() as mach_msg_id_t
    }

    /// Sets the routine for `id`.
    ///
    /// # Panics
    /// If `id` is outside the table's range.
    pub fn routine<F, Fut>(mut self, id: mach_msg_id_t, check: RequestCheck, handler: F) -> Self
    where
        F: Fn(MigRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RoutineOutcome> + Send + 'static,
    {
        let index = self
            .index(id)
            .unwrap_or_else(|| panic!("routine id {id} outside the table"));
        let handler: RoutineFn = Arc::new(move |request| Box::pin(handler(request)));
        self.slots[index] = Some(Routine { check, handler });
        self
    }

    fn index(&self, id: mach_msg_id_t) -> Option<usize> {
        let offset = id.checked_sub(self.start)?;
        usize::try_from(offset)
            .ok()
            .filter(|&i| i < self.slots.len())
    }

    fn lookup(&self, id: mach_msg_id_t) -> Option<&Routine> {
        self.index(id).and_then(|i| self.slots[i].as_ref())
    }
}

/// A checked request, handed to its routine.
pub struct MigRequest {
    message: Message,
    bytes: Vec<u8>,
    audit_token: Option<audit_token_t>,
    reply: Arc<Mutex<Option<PortRight>>>,
    server: MigServerHandle,
}

impl fmt::Debug for MigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigRequest")
            .field("id", &self.message.id())
            .field("size", &self.message.size())
            .field("local_port", &self.message.local_port())
            .field("audit_token", &self.audit_token)
            .finish()
    }
}

impl MigRequest {
    /// `msgh_id`.
    pub fn id(&self) -> mach_msg_id_t {
        self.message.id()
    }

    /// The name of the served port the request arrived on (`msgh_local_port`): the service
    /// port or a port added with [`MigServerHandle::add_port`]. A name, not a right.
    pub fn local_port(&self) -> Name {
        self.message.local_port()
    }

    /// The server the request arrived at (to add or remove served ports).
    pub fn server(&self) -> &MigServerHandle {
        &self.server
    }

    /// The received buffer: `msgh_size` bytes of message (header included, padded to 4), then
    /// the trailer. Fixed-layout routines read their in fields from it by offset.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The request as a parsed message (descriptors own the rights it carries).
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The parsed message, to take rights out of it.
    pub fn message_mut(&mut self) -> &mut Message {
        &mut self.message
    }

    /// Takes the right out of port descriptor `index` (a port argument of the routine).
    /// `None` for a null port, or when `index` is not a port descriptor. Rights left in the
    /// request are released when the request is dropped.
    pub fn take_port(&mut self, index: usize) -> Option<PortRight> {
        match self.message.descriptors_mut().get_mut(index) {
            Some(crate::Descriptor::Port(slot)) => slot.take().and_then(PortSlot::into_right),
            _ => None,
        }
    }

    /// The sender's audit token, when the trailer carried one (always, for a routine whose
    /// shape requires it). On NextBSD it is not a trustworthy credential (`mig.md` §11): fail
    /// closed.
    pub fn audit_token(&self) -> Option<audit_token_t> {
        self.audit_token
    }

    /// Takes the reply right, for a routine that answers later and returns
    /// [`RoutineOutcome::NoReply`]. After this the server sends nothing for the request.
    pub fn take_reply(&self) -> Option<PortRight> {
        self.reply.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Counters of one server run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Messages received (requests, and messages offered to the unrouted hook).
    pub requests: u64,
    /// Success replies sent.
    pub replies: u64,
    /// Error replies sent (bad id, failed checks, routine errors).
    pub error_replies: u64,
    /// Replies that could not be sent (destroyed).
    pub send_failures: u64,
    /// Messages the stream could not deliver (garbage, receive errors); serving went on.
    pub receive_errors: u64,
    /// Messages without a routine that the unrouted hook took.
    pub hooked: u64,
}

#[derive(Default)]
struct Counters {
    requests: std::sync::atomic::AtomicU64,
    replies: std::sync::atomic::AtomicU64,
    error_replies: std::sync::atomic::AtomicU64,
    send_failures: std::sync::atomic::AtomicU64,
    receive_errors: std::sync::atomic::AtomicU64,
    hooked: std::sync::atomic::AtomicU64,
}

impl Counters {
    fn bump(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn get(&self) -> ServerStats {
        use std::sync::atomic::Ordering::Relaxed;
        ServerStats {
            requests: self.requests.load(Relaxed),
            replies: self.replies.load(Relaxed),
            error_replies: self.error_replies.load(Relaxed),
            send_failures: self.send_failures.load(Relaxed),
            receive_errors: self.receive_errors.load(Relaxed),
            hooked: self.hooked.load(Relaxed),
        }
    }
}

/// Why [`MigServer::serve_until`] returned. When the server sees both, it reports the one it
/// saw first: a stop that completes while requests are arriving wins over them, but a port set
/// whose death the stream had already seen (in the drain that received the last requests) when
/// the stop was seen is reported as [`ServeEnd::PortDied`], even if the requests drained before
/// the death were not all handed out yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeEnd {
    /// The stop future completed while the port set was alive (as far as the server had seen).
    Stopped,
    /// The stream ended, or was known to be ending, before the stop was seen: the server's port
    /// set died (e.g. the task was terminated). No port is handed back.
    PortDied,
}

/// What [`MigServer::serve_until`] hands back.
#[derive(Debug)]
pub struct Served {
    /// Why serving ended.
    pub end: ServeEnd,
    /// The service port given to [`MigServer::new`] (with requests still queued on it), unless
    /// it died or was removed while serving.
    pub port: Option<ReceiveRight>,
    /// The ports added with [`MigServerHandle::add_port`] and still served at the stop, in the
    /// order they were added (empty when the port set died).
    pub added: Vec<ReceiveRight>,
    /// Counters of the run.
    pub stats: ServerStats,
}

/// The hook that is offered every message whose id has no routine: return `None` to take it
/// (the hook owns it from then on), or the message to decline it (it then gets the
/// `MIG_BAD_ID` treatment). Runs in the message's own task, like a routine.
pub type UnroutedHook =
    Arc<dyn Fn(Message, &MigServerHandle) -> Option<Message> + Send + Sync + 'static>;

/// A kernel no-senders notification (`mach_no_senders_notification_t`: header, NDR, make-send
/// count; 36 bytes, id 70, no reply right), as the unrouted hook receives it when it was armed
/// with [`MigServerHandle::request_no_senders`].
///
/// Anyone holding a send right to the port can send a message of this shape. [`NoSenders::parse`]
/// refuses one whose audit token names a user task (the kernel's token is all zeros); where
/// tokens are not trustworthy (NextBSD, mig.md §11) a forgery can still pass, but only from a
/// holder of a send right to the port: for a per-client port, the client itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSenders {
    /// The port that has no senders left (the name the notification arrived on).
    pub port: Name,
    /// The port's make-send count when the notification was generated.
    pub mscount: u32,
}

impl NoSenders {
    /// Size of the notification.
    const SIZE: u32 = 36;
    /// Offset of the make-send count in the inline data (after the NDR record).
    const MSCOUNT_OFFSET: usize = 8;

    /// The notification `msg` is, if it is one: the shape above, and no audit token of a user
    /// task (a trailer without a token is accepted).
    pub fn parse(msg: &Message) -> Option<NoSenders> {
        let from_user_task = msg.audit_token().is_some_and(|token| !token.is_kernel());
        if msg.id() != MACH_NOTIFY_NO_SENDERS
            || msg.is_complex()
            || msg.reply().is_some()
            || msg.size() != Self::SIZE
            || from_user_task
        {
            return None;
        }
        Some(NoSenders {
            port: msg.local_port(),
            mscount: read_u32(msg.body(), Self::MSCOUNT_OFFSET)?,
        })
    }
}

/// What a server and its handles share: the stream (taken out when serving ends), its space
/// and the counters.
struct Shared {
    stream: Mutex<Option<MachRecvStream>>,
    space: Space,
    counters: Counters,
}

/// A handle on a [`MigServer`]: adds and removes served ports while it serves, arms no-senders
/// notifications on them, reads its counters. Cheap to clone; routines get one from
/// [`MigRequest::server`]. Once serving has ended, port operations fail with [`Error::Ended`].
#[derive(Clone)]
pub struct MigServerHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for MigServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigServerHandle")
            .field("ports", &self.port_names())
            .field("stats", &self.stats())
            .finish()
    }
}

impl MigServerHandle {
    fn stream(&self) -> MutexGuard<'_, Option<MachRecvStream>> {
        self.shared.stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `port` too, from now on. Requests already queued on it are served (moving it into
    /// the server's port set signals them). On failure (the server has ended, or the port is
    /// in another set) the port is destroyed.
    pub fn add_port(&self, port: ReceiveRight) -> Result<(), Error> {
        match self.stream().as_mut() {
            Some(stream) => stream.insert_port(port),
            None => Err(Error::Ended),
        }
    }

    /// Stops serving the port named `name` and hands it back, with the messages not yet
    /// drained from it still queued on it. Requests the server already drained from it are
    /// still dispatched. `None` if the server does not serve such a port (or has ended).
    pub fn remove_port(&self, name: Name) -> Option<ReceiveRight> {
        self.stream().as_mut()?.remove_port(name)
    }

    /// The names of the ports served now (empty once serving has ended).
    pub fn port_names(&self) -> Vec<Name> {
        self.stream()
            .as_ref()
            .map(MachRecvStream::port_names)
            .unwrap_or_default()
    }

    /// Arms a no-senders notification for the served port `name`, delivered **on that port**
    /// (the C servers' idiom: `mach_port_request_notification(port, MACH_NOTIFY_NO_SENDERS,
    /// sync, port, MAKE_SEND_ONCE)`), so it reaches the unrouted hook as a [`NoSenders`]
    /// message when the last send right to the port goes away. With `sync` = 1 it waits for a
    /// send right to have been made first. A request it replaces is cancelled (its send-once
    /// right destroyed). Errors with `KERN_INVALID_NAME` if the server does not serve `name`.
    pub fn request_no_senders(&self, name: Name, sync: u32) -> Result<(), Error> {
        let guard = self.stream();
        let stream = guard.as_ref().ok_or(Error::Ended)?;
        if !stream.port_names().contains(&name) {
            return Err(Error::kern(
                "mach_port_request_notification",
                KERN_INVALID_NAME,
            ));
        }
        let space = stream.space();
        let previous = space.request_notification(
            name,
            MACH_NOTIFY_NO_SENDERS,
            sync,
            name,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )?;
        if MACH_PORT_VALID(previous) {
            // SAFETY: the kernel just handed us the replaced request's send-once right.
            drop(unsafe { SendOnceRight::from_raw_in(space, previous) });
        }
        Ok(())
    }

    /// The IPC space the served ports live in (where to create per-client ports).
    pub fn space(&self) -> &Space {
        &self.shared.space
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.shared.counters.get()
    }
}

/// Everything a message's task needs to dispatch it.
struct Dispatch {
    table: RoutineTable,
    hook: Option<UnroutedHook>,
    server: MigServerHandle,
}

/// A MIG server: a routine table served on one port, plus any ports added while it serves.
pub struct MigServer {
    service: Name,
    dispatch: Dispatch,
}

impl fmt::Debug for MigServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigServer")
            .field("service", &self.service)
            .field("table", &self.dispatch.table)
            .field("hook", &self.dispatch.hook.is_some())
            .field("server", &self.dispatch.server)
            .finish()
    }
}

impl MigServer {
    /// A server for `table` on `port`, receiving with the audit trailer. Must be called within
    /// a tokio runtime with I/O enabled.
    pub fn new(port: ReceiveRight, table: RoutineTable) -> Result<MigServer, Error> {
        let service = port.name();
        let space = port.space().clone();
        let stream = MachRecvStream::builder()
            .space(space.clone())
            .port(port)
            .trailer(TrailerRequest::Audit)
            .build()?;
        let shared = Arc::new(Shared {
            stream: Mutex::new(Some(stream)),
            space,
            counters: Counters::default(),
        });
        Ok(MigServer {
            service,
            dispatch: Dispatch {
                table,
                hook: None,
                server: MigServerHandle { shared },
            },
        })
    }

    /// Sets the hook offered every message whose id has no routine (see [`UnroutedHook`]).
    pub fn with_unrouted_hook<F>(mut self, hook: F) -> MigServer
    where
        F: Fn(Message, &MigServerHandle) -> Option<Message> + Send + Sync + 'static,
    {
        self.dispatch.hook = Some(Arc::new(hook));
        self
    }

    /// A handle to add and remove served ports while the server runs.
    pub fn handle(&self) -> MigServerHandle {
        self.dispatch.server.clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.dispatch.server.stats()
    }

    /// Serves until `stop` completes or the port set dies. See the module docs for the rules.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) -> Served {
        let MigServer { service, dispatch } = self;
        let dispatch = Arc::new(dispatch);
        let shared = dispatch.server.shared.clone();
        let counters = &shared.counters;
        let mut inflight = JoinSet::new();
        tokio::pin!(stop);
        let end = loop {
            tokio::select! {
                biased;
                // The stop is preferred over requests and over the stream's end, but a death
                // the stream has already seen (while draining, before handing out the requests
                // drained ahead of it) happened before this stop was seen: report it.
                () = &mut stop => break if set_died(&shared) {
                    ServeEnd::PortDied
                } else {
                    ServeEnd::Stopped
                },
                Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Err(e) = joined {
                        if e.is_panic() {
                            tracing::error!("MIG routine panicked; its request and reply right were destroyed");
                        }
                    }
                }
                item = next_message(&shared) => match item {
                    None => break ServeEnd::PortDied,
                    Some(Err(e)) => {
                        Counters::bump(&counters.receive_errors);
                        tracing::warn!(error = %e, "MIG server: receive error, message dropped; still serving");
                    }
                    Some(Ok(message)) => {
                        Counters::bump(&counters.requests);
                        // One inline poll: a routine that completes at once (and its reply
                        // send) needs no task. Polled with a no-op waker, so whatever it awaits
                        // is polled again by the spawned task, which registers the real waker
                        // at its first poll.
                        // A panic in that poll is caught as the task would catch it: the
                        // request (and its reply right) is dropped with the routine's state.
                        let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handle_now(&dispatch, message)
                        }));
                        match inline {
                            Ok(None) => {}
                            Ok(Some(rest)) => {
                                inflight.spawn(rest);
                            }
                            Err(_) => tracing::error!("MIG routine panicked; its request and reply right were destroyed"),
                        }
                    }
                },
            }
        };
        // Cancel routines still running: their requests drop, destroying the reply rights.
        inflight.shutdown().await;
        let stream = shared
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (port, added) = match (end, stream) {
            (ServeEnd::Stopped, Some(stream)) => {
                let (ports, undelivered) = stream.into_ports();
                // Drained but never dispatched: destroy them (their clients see the server die).
                drop(undelivered);
                let (service_port, added): (Vec<_>, Vec<_>) =
                    ports.into_iter().partition(|p| p.name() == service);
                (service_port.into_iter().next(), added)
            }
            // The port set died: dropping the stream releases what is left.
            _ => (None, Vec::new()),
        };
        Served {
            end,
            port,
            added,
            stats: counters.get(),
        }
    }
}

/// The next message of the shared stream (`None` once it ended or was taken out). The lock is
/// held only while polling, so handles can add and remove ports between polls; a port moved
/// into the set with messages queued signals the kqueue, which wakes this poll.
fn next_message(shared: &Shared) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
    futures::future::poll_fn(move |cx| {
        let mut stream = shared.stream.lock().unwrap_or_else(|e| e.into_inner());
        match stream.as_mut() {
            Some(stream) => stream.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    })
}

/// Whether the shared stream has already seen its port set die (it has then not delivered its
/// end only because requests drained before the death are still queued or being handed out).
fn set_died(shared: &Shared) -> bool {
    shared
        .stream
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(MachRecvStream::set_died)
}

/// The part of a request's handling that has to wait: a routine that did not complete at its
/// first poll, and its reply. It runs as a task of the server.
type Rest = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs one message through the hook, the table and the reply rules as far as it goes
/// without waiting: the routine is polled once and, if it completed, its reply is sent. Most
/// requests end here, with no task and no allocation for the handling itself (the future of
/// an `async fn` doing the same was 2.9 KiB, boxed and copied per request); a routine that
/// has to wait is returned, to be spawned.
///
/// The routine's first poll uses a no-op waker: whatever it awaits is polled again by the
/// spawned task, which registers the real waker at its first poll.
fn handle_now(dispatch: &Dispatch, message: Message) -> Option<Rest> {
    let shared = &dispatch.server.shared;
    let counters = &shared.counters;
    let routine = dispatch.table.lookup(message.id());
    let mut message = match (routine, &dispatch.hook) {
        (None, Some(hook)) => match hook(message, &dispatch.server) {
            None => {
                Counters::bump(&counters.hooked);
                return None;
            }
            Some(declined) => declined,
        },
        _ => message,
    };
    let header = received_header(&message);
    let bytes = received_bytes(&message);
    let reply_right = message.take_reply();
    let checked = match routine {
        None => Err(MigError::BadId),
        Some(routine) => routine
            .check
            .run(&bytes)
            .map(|c| (routine.handler.clone(), c)),
    };
    let (handler, checked) = match checked {
        Ok(ok) => ok,
        Err(error) => {
            // The request is destroyed (its reply right was taken out first: it goes with the
            // error reply).
            drop(message);
            tracing::debug!(id = header.msgh_id, %error, "MIG request rejected");
            reply_now(
                counters,
                reply_right,
                error_message(&header, error.code()),
                true,
            );
            return None;
        }
    };
    let slot = Arc::new(Mutex::new(reply_right));
    // The trailer's token is offered to every routine (the server always asks for it); a
    // routine whose shape requires it was already refused above when it was missing.
    let audit_token = checked
        .audit_token
        .or_else(|| message.audit_token().map(|t| t.0));
    let request = MigRequest {
        message,
        bytes,
        audit_token,
        reply: slot.clone(),
        server: dispatch.server.clone(),
    };
    let mut routine = handler(request);
    match futures::FutureExt::now_or_never(routine.as_mut()) {
        Some(outcome) => {
            finish(counters, &header, &slot, outcome);
            None
        }
        None => {
            let shared = shared.clone();
            Some(Box::pin(async move {
                let outcome = routine.await;
                finish(&shared.counters, &header, &slot, outcome);
            }))
        }
    }
}

/// Applies the reply rules to a routine's outcome.
fn finish(
    counters: &Counters,
    header: &mach_msg_header_t,
    slot: &Mutex<Option<PortRight>>,
    outcome: RoutineOutcome,
) {
    let reply_right = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match outcome {
        RoutineOutcome::Reply(outs) => {
            let msg = MessageBuilder::new(reply_id(header.msgh_id))
                .body(Bytes::from(reply_body(KERN_SUCCESS, &outs)))
                .build();
            reply_now(counters, reply_right, msg, false)
        }
        RoutineOutcome::ComplexReply(msg) => {
            let mut msg = *msg;
            msg.set_id(reply_id(header.msgh_id));
            reply_now(counters, reply_right, msg, false)
        }
        RoutineOutcome::NoReply | RoutineOutcome::Error(MIG_NO_REPLY) => {
            if reply_right.is_some() {
                tracing::warn!(
                    id = header.msgh_id,
                    "MIG routine returned MIG_NO_REPLY without taking the reply right; destroying it"
                );
            }
            drop(reply_right);
        }
        RoutineOutcome::Error(code) => {
            let code = if code == KERN_SUCCESS {
                KERN_FAILURE
            } else {
                code
            };
            reply_now(counters, reply_right, error_message(header, code), true)
        }
    }
}

/// The 36-byte error reply to `request` carrying `code` (the layout of
/// [`crate::mig::codec::error_reply`]; the header comes from the reply right).
fn error_message(request: &mach_msg_header_t, code: kern_return_t) -> Message {
    MessageBuilder::new(reply_id(request.msgh_id))
        .body(Bytes::from(reply_body(code, &[])))
        .build()
}

/// Sends a reply with one non-blocking attempt, which is the whole send: a reply on a send
/// right never waits (a client that does not drain its queue must not stall the server), and a
/// send-once reply bypasses the queue limit (mach-abi.md §7), so it cannot find the queue full.
/// A reply that cannot be sent is destroyed with the rights it carries.
fn reply_now(counters: &Counters, reply_right: Option<PortRight>, msg: Message, error: bool) {
    let result = match reply_right {
        // Nowhere to reply (a one-way message): nothing is sent.
        None => return,
        Some(PortRight::SendOnce(right)) => right.try_send(msg),
        Some(PortRight::Send(right)) => right.try_send(msg),
        Some(other) => {
            tracing::warn!(
                ?other,
                "MIG request named a receive right as its reply port; dropping it"
            );
            return;
        }
    };
    match result {
        Ok(()) if error => Counters::bump(&counters.error_replies),
        Ok(()) => Counters::bump(&counters.replies),
        Err(e) => {
            Counters::bump(&counters.send_failures);
            tracing::debug!(error = %e, "MIG reply could not be sent; destroyed");
            // Dropping the returned message destroys the reply and the rights it carries.
            drop(e.into_message());
        }
    }
}
