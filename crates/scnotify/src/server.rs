//! A configd-compatible store server: NextBSD configd's semantics (spec §6) on the same wire code,
//! served by the MIG server runtime (`mach_async::mig::MigServer`).
//!
//! Usable as a standalone in-process configd for applications' tests: [`ConfigdServer::check_in`]
//! registers `com.apple.SystemConfiguration.configd` with the bootstrap server, and
//! [`ConfigdServer::spawn`] serves a port the caller already has.
//!
//! How configd maps onto the runtime:
//! - every `config.defs` routine is one slot of the routine table, checked by the wire decoder's
//!   generated-server checks ([`Request::decode`]);
//! - `configopen` creates a session port, adds it to the server's ports
//!   ([`MigServerHandle::add_port`]) and arms a no-senders notification on it, delivered on the
//!   port itself ([`MigServerHandle::request_no_senders`]); requests on a session port find
//!   their session by the name they arrived on ([`MigRequest::local_port`]);
//! - the no-senders notification reaches the server's unrouted-message hook, which tears the
//!   session down (watches, pending keys, notify right) and destroys the session port.
//!
//! Routines run concurrently, each one under the store's lock, so every request sees the store
//! as the previous one left it (configd serves one request at a time).
//!
//! Behaviour that differs from NextBSD configd (both are what the project's MIG rules require):
//! - a request with an unknown or skipped id gets a `MIG_BAD_ID` error reply (configd destroys
//!   it, so its client sees `MIG_SERVER_DIED`);
//! - a malformed request gets the generated server's `MIG_BAD_ARGUMENTS` / `MIG_TYPE_ERROR`
//!   reply, and a key list that does not decode is answered with `kSCStatusInvalidArgument`
//!   instead of being truncated silently.

use crate::bootstrap;
use crate::store::{SessionId, Store, WakeupSink};
use crate::store_messages::layout::REPLY_FIELDS_OFFSET;
use crate::store_messages::{
    Reply, Request, Routine, Status, CONFIGD_SERVICE_NAME, CONFIG_SUBSYSTEM_BASE,
    CONFIG_SUBSYSTEM_END, NOTIFY_MSG_ID,
};
use bytes::Bytes;
use mach_abi::{KERN_RESOURCE_SHORTAGE, MIG_ARRAY_TOO_LARGE};
use mach_async::mig::{
    message_from_encoded, CheckedRequest, MigError, MigRequest, MigServer, MigServerHandle,
    NoSenders, RequestCheck, RoutineOutcome, RoutineTable,
};
use mach_async::{
    Message, MessageBuilder, Name, PortRight, PortSlot, ReceiveRight, SendRight, Space,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `bootstrap_check_in` failed (e.g. `BOOTSTRAP_SERVICE_ACTIVE`: another configd is live).
    #[error("bootstrap_check_in failed: {}", mach_abi::named_code(*.0))]
    CheckIn(i32),
    /// Creating the receive stream failed (no runtime, kernel error).
    #[error(transparent)]
    Mach(#[from] mach_async::Error),
}

/// Counters of a running server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests received (well-formed or not).
    pub requests: u64,
    /// Requests answered with a MIG error reply.
    pub rejected: u64,
    /// Wake-up messages sent.
    pub wakeups_sent: u64,
    /// Wake-up sends that failed (full queue, dead port) or were dropped on purpose.
    pub wakeups_failed: u64,
    /// Sessions opened.
    pub sessions_opened: u64,
    /// Sessions torn down after their client went away.
    pub sessions_closed: u64,
}

#[derive(Default)]
struct Counters {
    wakeups_sent: AtomicU64,
    wakeups_failed: AtomicU64,
    sessions_opened: AtomicU64,
    sessions_closed: AtomicU64,
}

/// What the routines, the hook and the handle share.
struct Shared {
    store: Mutex<Store<SendRight>>,
    /// Session port name (in the server's space) → session.
    sessions: Mutex<HashMap<Name, SessionId>>,
    drop_wakeups: AtomicUsize,
    counters: Counters,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store<SendRight>> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<Name, SessionId>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Frees a session's watches, pending keys and notify right.
    fn close_session(&self, sid: SessionId) {
        drop(self.store().close_session(sid));
    }

    /// Closes every session (server shutdown).
    fn close_all_sessions(&self) {
        self.sessions().clear();
        let mut store = self.store();
        let ids: Vec<_> = store.session_ids().collect();
        for id in ids {
            drop(store.close_session(id));
        }
    }
}

/// Sends configd's wake-ups: a bare `'CNFT'` header, `COPY_SEND`, 0 ms timeout.
struct Wakeups<'a> {
    shared: &'a Shared,
}

impl WakeupSink<SendRight> for Wakeups<'_> {
    fn send_wakeup(&mut self, _session: SessionId, port: &SendRight) -> bool {
        let c = &self.shared.counters;
        let dropped = self
            .shared
            .drop_wakeups
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if dropped {
            c.wakeups_failed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match port.try_send(MessageBuilder::new(NOTIFY_MSG_ID).build()) {
            Ok(()) => {
                c.wakeups_sent.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "configd wake-up not delivered; owed until the next change");
                c.wakeups_failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Entry points for starting a server.
pub struct ConfigdServer;

impl ConfigdServer {
    /// Checks in `com.apple.SystemConfiguration.configd` in `space`'s bootstrap server and serves
    /// it on the current tokio runtime.
    pub fn check_in(space: &Space) -> Result<ServerHandle, ServerError> {
        Self::check_in_as(space, CONFIGD_SERVICE_NAME)
    }

    /// [`ConfigdServer::check_in`] under another service name.
    pub fn check_in_as(space: &Space, name: &str) -> Result<ServerHandle, ServerError> {
        let port = bootstrap::check_in(space, name).map_err(ServerError::CheckIn)?;
        Self::spawn(port)
    }

    /// Serves `service` (clients send `configopen` there) on the current tokio runtime.
    pub fn spawn(service: ReceiveRight) -> Result<ServerHandle, ServerError> {
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            sessions: Mutex::new(HashMap::new()),
            drop_wakeups: AtomicUsize::new(0),
            counters: Counters::default(),
        });
        let hook_shared = shared.clone();
        let server = MigServer::new(service, routine_table(&shared))?
            .with_unrouted_hook(move |msg, server| end_session(&hook_shared, msg, server));
        let mig = server.handle();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let teardown = shared.clone();
        let task = tokio::spawn(async move {
            let served = server
                .serve_until(async move {
                    let _ = stop_rx.await;
                })
                .await;
            // Sessions' notify rights first, then (dropping `served`) the ports.
            teardown.close_all_sessions();
            drop(served);
        });
        Ok(ServerHandle {
            shared,
            mig,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running server. Dropping the handle stops the server without waiting (the server's task
/// releases everything on its own); [`ServerHandle::close`] also waits until every port it held
/// is destroyed.
pub struct ServerHandle {
    shared: Arc<Shared>,
    mig: MigServerHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ServerHandle {
    /// Runs `f` on the store (for inspection or seeding data in tests).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store<SendRight>) -> R) -> R {
        f(&mut self.shared.store())
    }

    /// Makes the next `n` wake-up sends fail as if the client's queue were full (the #259 test).
    pub fn drop_next_wakeups(&self, n: usize) {
        self.shared.drop_wakeups.store(n, Ordering::Release);
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let mig = self.mig.stats();
        ServerStats {
            // Messages that took the MIG path (no-senders notifications are not requests).
            requests: mig.requests - mig.hooked,
            rejected: mig.error_replies,
            wakeups_sent: c.wakeups_sent.load(Ordering::Relaxed),
            wakeups_failed: c.wakeups_failed.load(Ordering::Relaxed),
            sessions_opened: c.sessions_opened.load(Ordering::Relaxed),
            sessions_closed: c.sessions_closed.load(Ordering::Relaxed),
        }
    }

    /// Stops serving and waits until the service port, every session port and every notify
    /// right are released (clients see their sessions die).
    pub async fn close(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The `config.defs` routine table: every routine checked by the generated server's checks of
/// the wire decoder, served by [`serve`].
fn routine_table(shared: &Arc<Shared>) -> RoutineTable {
    Routine::ALL.iter().fold(
        RoutineTable::new(CONFIG_SUBSYSTEM_BASE, CONFIG_SUBSYSTEM_END),
        |table, routine| {
            let shared = shared.clone();
            table.routine(
                routine.id(),
                RequestCheck::Custom(check_request),
                move |request: MigRequest| {
                    // Every routine finishes under the store lock without waiting.
                    let outcome = serve(&shared, request);
                    async move { outcome }
                },
            )
        },
    )
}

/// The generated server's checks (mig.md §8) as the wire decoder runs them.
fn check_request(bytes: &[u8]) -> Result<CheckedRequest, MigError> {
    Request::decode(bytes)
        .map(|_| CheckedRequest::default())
        .map_err(|e| MigError::from_code(e.mig_code()))
}

/// The unrouted-message hook: a no-senders notification on a session port means its client is
/// gone; free its watches, pending keys and notify right, and destroy the port. Anything else
/// is declined (and destroyed by the runtime, or answered with `MIG_BAD_ID`).
fn end_session(shared: &Shared, msg: Message, server: &MigServerHandle) -> Option<Message> {
    let Some(notification) = NoSenders::parse(&msg) else {
        return Some(msg);
    };
    let Some(sid) = shared.sessions().remove(&notification.port) else {
        return Some(msg);
    };
    shared.close_session(sid);
    drop(server.remove_port(notification.port));
    shared
        .counters
        .sessions_closed
        .fetch_add(1, Ordering::Relaxed);
    None
}

/// A simple success reply, or `MIG_ARRAY_TOO_LARGE` if it does not encode.
fn simple(routine: Routine, reply: Reply<'_>) -> RoutineOutcome {
    match reply.encode(routine) {
        Ok(bytes) => RoutineOutcome::Reply(Bytes::copy_from_slice(&bytes[REPLY_FIELDS_OFFSET..])),
        Err(_) => RoutineOutcome::Error(MIG_ARRAY_TOO_LARGE),
    }
}

/// One checked request: decode, find its session by the port it arrived on, run it on the store.
fn serve(shared: &Shared, mut request: MigRequest) -> RoutineOutcome {
    let session = shared.sessions().get(&request.local_port()).copied();
    // notifyviaport's / notifyviafd's port (`None` for the others, and for a null port).
    let port = request.take_port(0);
    let req = match Request::decode(request.bytes()) {
        Ok(req) => req,
        // The check ran the same decoder; kept as a typed refusal rather than a panic.
        Err(e) => return RoutineOutcome::Error(e.mig_code()),
    };
    let routine = req.routine();
    if routine == Routine::ConfigOpen {
        return open_session(shared, request.server());
    }
    let mut store = shared.store();
    let mut sink = Wakeups { shared };
    let no_session = Status::NO_STORE_SESSION;
    let status_only = |status: Status| simple(routine, Reply::Status { status });
    let instance = |status: Status| {
        simple(
            routine,
            Reply::Instance {
                new_instance: 0,
                status,
            },
        )
    };
    let data = |r: Result<Vec<u8>, Status>| {
        let (bytes, status) = match r {
            Ok(b) => (b, Status::OK),
            Err(s) => (Vec::new(), s),
        };
        simple(
            routine,
            Reply::Data {
                data: &bytes,
                status,
            },
        )
    };
    let in_session = |f: &mut dyn FnMut(SessionId) -> Status| match session {
        Some(s) => f(s),
        None => no_session,
    };
    match req {
        Request::ConfigOpen { .. } => unreachable!("handled above"),
        Request::ConfigList { key, is_regex } => data(store.list(key, is_regex != 0)),
        Request::ConfigAdd { key, data: value } => instance(store.add(key, value, &mut sink)),
        Request::ConfigGet { key } => {
            let (value, status) = match store.get(key) {
                Ok(v) => (v.to_vec(), Status::OK),
                Err(s) => (Vec::new(), s),
            };
            simple(
                routine,
                Reply::Get {
                    data: &value,
                    new_instance: 0,
                    status,
                },
            )
        }
        Request::ConfigSet {
            key, data: value, ..
        } => instance(store.set(key, value, &mut sink)),
        Request::ConfigRemove { key } => status_only(store.remove(key, &mut sink)),
        Request::ConfigAddS { .. } => instance(Status::FAILED),
        Request::ConfigNotify { key } => status_only(store.notify(key, &mut sink)),
        Request::ConfigGetM { keys, patterns } => data(store.get_multiple(keys, patterns)),
        Request::ConfigSetM {
            data: d,
            remove,
            notify,
        } => status_only(store.set_multiple(d, remove, notify, &mut sink)),
        Request::NotifyAdd { key, is_regex } => {
            status_only(in_session(&mut |s| store.notify_add(s, key, is_regex != 0)))
        }
        Request::NotifyRemove { key, is_regex } => status_only(in_session(&mut |s| {
            store.notify_remove(s, key, is_regex != 0)
        })),
        Request::NotifyChanges => match session {
            Some(s) => data(store.notify_changes(s)),
            None => data(Err(no_session)),
        },
        Request::NotifyViaPort { msgid, .. } => {
            // A refused right is released with the request.
            let port = port.and_then(PortRight::into_send);
            let status = match (msgid, session) {
                (0, Some(s)) => store.notify_via_port(s, port, msgid),
                (0, None) => no_session,
                _ => Status::INVALID_ARGUMENT,
            };
            status_only(status)
        }
        Request::NotifyCancel => status_only(in_session(&mut |s| store.notify_cancel(s))),
        Request::NotifySet { keys, patterns } => {
            status_only(in_session(&mut |s| store.notify_set(s, keys, patterns)))
        }
        Request::NotifyViaFd { .. } => status_only(Status::FAILED),
        Request::Snapshot => status_only(Status::FAILED),
    }
}

/// configopen: a fresh session port served from now on, no-senders armed on it (sync 1,
/// delivered on the port itself), the send right moved to the client.
fn open_session(shared: &Shared, server: &MigServerHandle) -> RoutineOutcome {
    let fail = |e: mach_async::Error| {
        tracing::warn!(error = %e, "configopen failed");
        RoutineOutcome::Error(e.code().unwrap_or(KERN_RESOURCE_SHORTAGE))
    };
    let port = match ReceiveRight::new_in(server.space()) {
        Ok(port) => port,
        Err(e) => return fail(e),
    };
    let send = match port.make_send() {
        Ok(send) => send,
        Err(e) => return fail(e),
    };
    let name = port.name();
    if let Err(e) = server.add_port(port) {
        return fail(e);
    }
    if let Err(e) = server.request_no_senders(name, 1) {
        drop(server.remove_port(name));
        return fail(e);
    }
    let sid = shared.store().open_session();
    shared.sessions().insert(name, sid);
    shared
        .counters
        .sessions_opened
        .fetch_add(1, Ordering::Relaxed);
    session_reply(name, send)
}

/// configopen's complex reply moving `send` (the session right named `name` in our space).
fn session_reply(name: Name, send: SendRight) -> RoutineOutcome {
    let reply = Reply::Session {
        session: name,
        status: Status::OK,
    };
    let encoded = match reply.encode(Routine::ConfigOpen) {
        Ok(encoded) => encoded,
        Err(_) => return RoutineOutcome::Error(MIG_ARRAY_TOO_LARGE),
    };
    match message_from_encoded(&encoded, [PortSlot::Right(PortRight::Send(send))]) {
        Ok(message) => RoutineOutcome::ComplexReply(Box::new(message)),
        Err(e) => RoutineOutcome::Error(e.code()),
    }
}
