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
//! Routines run concurrently, each in its own task, so replies may leave out of order. Requests
//! are received with the audit trailer ([`TrailerRequest::Audit`]) so routines can authorize
//! callers ([`MigRequest::audit_token`]). A receive error on one message (a garbage message the
//! stream could not parse) is logged and the server keeps serving; the server ends when the
//! port dies or when the stop future given to [`MigServer::serve_until`] completes. On stop,
//! routines still running are cancelled (their requests are dropped, so their clients get
//! `MIG_SERVER_DIED`), and the service port is handed back with the requests still queued on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use mach_abi::{
    audit_token_t, kern_return_t, mach_msg_header_t, mach_msg_id_t, KERN_FAILURE, KERN_SUCCESS,
    MIG_NO_REPLY,
};
use tokio::task::JoinSet;

use crate::message::{Message, MessageBuilder};
use crate::mig::check::{check_request, CheckedRequest, RequestShape};
use crate::mig::error::MigError;
use crate::mig::view::{received_bytes, received_header};
use crate::mig::wire::{error_reply, reply_id, simple_reply, HEADER_SIZE};
use crate::rights::{PortRight, ReceiveRight};
use crate::stream::{MachRecvStream, TrailerRequest};
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
}

impl fmt::Debug for MigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigRequest")
            .field("id", &self.message.id())
            .field("size", &self.message.size())
            .field("audit_token", &self.audit_token)
            .finish()
    }
}

impl MigRequest {
    /// `msgh_id`.
    pub fn id(&self) -> mach_msg_id_t {
        self.message.id()
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
    /// Requests received.
    pub requests: u64,
    /// Success replies sent.
    pub replies: u64,
    /// Error replies sent (bad id, failed checks, routine errors).
    pub error_replies: u64,
    /// Replies that could not be sent (destroyed).
    pub send_failures: u64,
    /// Messages the stream could not deliver (garbage, receive errors); serving went on.
    pub receive_errors: u64,
}

#[derive(Default)]
struct Counters {
    requests: std::sync::atomic::AtomicU64,
    replies: std::sync::atomic::AtomicU64,
    error_replies: std::sync::atomic::AtomicU64,
    send_failures: std::sync::atomic::AtomicU64,
    receive_errors: std::sync::atomic::AtomicU64,
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
        }
    }
}

/// Why [`MigServer::serve_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeEnd {
    /// The stop future completed.
    Stopped,
    /// The stream ended: the service port or its set died (e.g. the task was terminated).
    PortDied,
}

/// What [`MigServer::serve_until`] hands back.
#[derive(Debug)]
pub struct Served {
    /// Why serving ended.
    pub end: ServeEnd,
    /// The service port (with requests still queued on it), unless it died.
    pub port: Option<ReceiveRight>,
    /// Counters of the run.
    pub stats: ServerStats,
}

/// A MIG server: one service port, one routine table.
pub struct MigServer {
    stream: MachRecvStream,
    table: Arc<RoutineTable>,
    counters: Arc<Counters>,
}

impl fmt::Debug for MigServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigServer")
            .field("stream", &self.stream)
            .field("table", &self.table)
            .finish()
    }
}

impl MigServer {
    /// A server for `table` on `port`, receiving with the audit trailer. Must be called within
    /// a tokio runtime with I/O enabled.
    pub fn new(port: ReceiveRight, table: RoutineTable) -> Result<MigServer, Error> {
        let stream = MachRecvStream::builder()
            .space(port.space().clone())
            .port(port)
            .trailer(TrailerRequest::Audit)
            .build()?;
        Ok(MigServer {
            stream,
            table: Arc::new(table),
            counters: Arc::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.counters.get()
    }

    /// Serves until `stop` completes or the port dies. See the module docs for the rules.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) -> Served {
        let MigServer {
            mut stream,
            table,
            counters,
        } = self;
        let mut inflight = JoinSet::new();
        tokio::pin!(stop);
        let end = loop {
            tokio::select! {
                biased;
                () = &mut stop => break ServeEnd::Stopped,
                Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Err(e) = joined {
                        if e.is_panic() {
                            tracing::error!("MIG routine panicked; its request and reply right were destroyed");
                        }
                    }
                }
                item = stream.next() => match item {
                    None => break ServeEnd::PortDied,
                    Some(Err(e)) => {
                        Counters::bump(&counters.receive_errors);
                        tracing::warn!(error = %e, "MIG server: receive error, message dropped; still serving");
                    }
                    Some(Ok(message)) => {
                        Counters::bump(&counters.requests);
                        inflight.spawn(handle(table.clone(), counters.clone(), message));
                    }
                },
            }
        };
        // Cancel routines still running: their requests drop, destroying the reply rights.
        inflight.shutdown().await;
        let port = match end {
            ServeEnd::Stopped => {
                let (mut ports, undelivered) = stream.into_ports();
                // Drained but never dispatched: destroy them (their clients see the server die).
                drop(undelivered);
                ports.pop()
            }
            ServeEnd::PortDied => None,
        };
        Served {
            end,
            port,
            stats: counters.get(),
        }
    }
}

/// Runs one request through the table and the reply rules.
async fn handle(table: Arc<RoutineTable>, counters: Arc<Counters>, mut message: Message) {
    let header = received_header(&message);
    let bytes = received_bytes(&message);
    let reply_right = message.take_reply();
    let checked = match table.lookup(header.msgh_id) {
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
            send_error(&counters, reply_right, &header, error.code()).await;
            return;
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
    };
    let outcome = handler(request).await;
    let reply_right = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match outcome {
        RoutineOutcome::Reply(outs) => {
            let reply = simple_reply(&header, &outs);
            let msg = MessageBuilder::new(reply_id(header.msgh_id))
                .body(Bytes::copy_from_slice(&reply[HEADER_SIZE..]))
                .build();
            send(&counters, reply_right, msg, false).await;
        }
        RoutineOutcome::ComplexReply(msg) => {
            let mut msg = *msg;
            msg.set_id(reply_id(header.msgh_id));
            send(&counters, reply_right, msg, false).await;
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
            send_error(&counters, reply_right, &header, code).await;
        }
    }
}

async fn send_error(
    counters: &Counters,
    reply_right: Option<PortRight>,
    request: &mach_msg_header_t,
    code: kern_return_t,
) {
    let reply = error_reply(request, code);
    let msg = MessageBuilder::new(reply_id(request.msgh_id))
        .body(Bytes::copy_from_slice(&reply[HEADER_SIZE..]))
        .build();
    send(counters, reply_right, msg, true).await;
}

/// Sends a reply on the request's reply right; destroys it if that fails.
async fn send(counters: &Counters, reply_right: Option<PortRight>, msg: Message, error: bool) {
    let result = match reply_right {
        // Nowhere to reply (a one-way message): nothing is sent.
        None => return,
        // Send-once: never waits on a full queue, so no timeout.
        Some(PortRight::SendOnce(right)) => right.send(msg).await,
        // Plain send right: zero timeout so a client that never drains cannot stall us.
        Some(PortRight::Send(right)) => right.send_timeout(msg, Some(Duration::ZERO)).await,
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
