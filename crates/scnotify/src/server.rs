//! A configd-compatible store server: NextBSD configd's semantics (spec §6) on the same wire code,
//! served by one task over a `MachRecvStream`.
//!
//! Usable as a standalone in-process configd for applications' tests: [`ConfigdServer::check_in`]
//! registers `com.apple.SystemConfiguration.configd` with the bootstrap server, and
//! [`ConfigdServer::spawn`] serves a port the caller already has. Like configd it serves one
//! request at a time, so every request sees the store as the previous one left it.
//!
//! Behaviour that differs from NextBSD configd (both are what the project's MIG rules require):
//! - a request with an unknown or skipped id gets a `MIG_BAD_ID` error reply (configd destroys
//!   it, so its client sees `MIG_SERVER_DIED`);
//! - a malformed request gets the generated server's `MIG_BAD_ARGUMENTS` / `MIG_TYPE_ERROR`
//!   reply, and a key list that does not decode is answered with `kSCStatusInvalidArgument`
//!   instead of being truncated silently.

use crate::raw::{self, message_from_bytes, received_bytes, take_port};
use crate::store::{SessionId, Store, WakeupSink};
use crate::wire::reply::encode_error_reply;
use crate::wire::{Header, Reply, Request, Routine, Status, CONFIGD_SERVICE_NAME, NOTIFY_MSG_ID};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use mach_async::{
    MachRecvStream, Message, MessageBuilder, Name, PortRight, ReceiveRight, SendRight, Space,
};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `bootstrap_check_in` failed (e.g. `BOOTSTRAP_SERVICE_ACTIVE`: another configd is live).
    #[error("bootstrap_check_in failed: {0:#x}")]
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
    requests: AtomicU64,
    rejected: AtomicU64,
    wakeups_sent: AtomicU64,
    wakeups_failed: AtomicU64,
    sessions_opened: AtomicU64,
    sessions_closed: AtomicU64,
}

struct Shared {
    store: Mutex<Store<SendRight>>,
    drop_wakeups: AtomicUsize,
    counters: Counters,
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
        let port = raw::bootstrap::check_in(space, name).map_err(ServerError::CheckIn)?;
        Self::spawn(port)
    }

    /// Serves `service` (clients send `configopen` there) on the current tokio runtime.
    pub fn spawn(service: ReceiveRight) -> Result<ServerHandle, ServerError> {
        let stream = MachRecvStream::new(service)?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            drop_wakeups: AtomicUsize::new(0),
            counters: Counters::default(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let server = Server {
            shared: shared.clone(),
            stream,
            sessions: HashMap::new(),
            no_senders: FuturesUnordered::new(),
        };
        let task = tokio::spawn(server.run(stop_rx));
        Ok(ServerHandle {
            shared,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running server. Dropping the handle stops the server (asynchronously); [`ServerHandle::stop`]
/// also waits until every port it held is destroyed.
pub struct ServerHandle {
    shared: Arc<Shared>,
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
        let mut store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    }

    /// Makes the next `n` wake-up sends fail as if the client's queue were full (the #259 test).
    pub fn drop_next_wakeups(&self, n: usize) {
        self.shared.drop_wakeups.store(n, Ordering::Release);
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        ServerStats {
            requests: c.requests.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            wakeups_sent: c.wakeups_sent.load(Ordering::Relaxed),
            wakeups_failed: c.wakeups_failed.load(Ordering::Relaxed),
            sessions_opened: c.sessions_opened.load(Ordering::Relaxed),
            sessions_closed: c.sessions_closed.load(Ordering::Relaxed),
        }
    }

    /// Stops serving and waits until the service port, every session port and every notify
    /// right are released (clients see their sessions die).
    pub async fn stop(mut self) {
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

type NoSendersFuture = Pin<Box<dyn Future<Output = (Name, SessionId)> + Send>>;

struct Server {
    shared: Arc<Shared>,
    stream: MachRecvStream,
    sessions: HashMap<Name, SessionId>,
    no_senders: FuturesUnordered<NoSendersFuture>,
}

impl Server {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                Some((name, sid)) = self.no_senders.next(), if !self.no_senders.is_empty() => {
                    self.close_session(name, sid);
                }
                next = self.stream.next() => match next {
                    Some(Ok(msg)) => self.handle(msg),
                    Some(Err(e)) => tracing::warn!(error = %e, "configd receive error; still serving"),
                    None => break,
                },
            }
        }
        // Teardown: sessions' notify rights, then (dropping `self`) the ports.
        let mut store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<_> = store.session_ids().collect();
        for id in ids {
            drop(store.close_session(id));
        }
    }

    /// The client's session send right is gone: free watches, pending keys and the notify
    /// right, destroy the session port.
    fn close_session(&mut self, name: Name, sid: SessionId) {
        self.sessions.remove(&name);
        drop(
            self.shared
                .store
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .close_session(sid),
        );
        drop(self.stream.remove_port(name));
        self.shared
            .counters
            .sessions_closed
            .fetch_add(1, Ordering::Relaxed);
    }

    fn handle(&mut self, mut msg: Message) {
        let shared = self.shared.clone();
        let c = &shared.counters;
        c.requests.fetch_add(1, Ordering::Relaxed);
        let wire = received_bytes(&msg);
        let reply_right = msg.take_reply();
        let session = self.sessions.get(&msg.local_port()).copied();
        let id = Header::parse(&wire).map(|h| h.id).unwrap_or(0);
        let outcome = match Request::decode(&wire) {
            Ok(req) => self.dispatch(req, session, &mut msg),
            Err(e) => {
                tracing::debug!(error = %e, "configd: rejecting request");
                Err(e.mig_code())
            }
        };
        // Whatever the routine did not take (e.g. a refused notify port) is released here.
        drop(msg);
        let reply = match outcome {
            Ok(reply) => reply,
            Err(code) => {
                c.rejected.fetch_add(1, Ordering::Relaxed);
                message_from_bytes(&encode_error_reply(id, code), None)
            }
        };
        let Some(right) = reply_right else { return };
        let sent = match right {
            PortRight::SendOnce(so) => so.try_send(reply).map_err(drop),
            PortRight::Send(s) => s.try_send(reply).map_err(drop),
            PortRight::Receive(r) => {
                drop(r);
                Ok(())
            }
        };
        if sent.is_err() {
            tracing::debug!("configd: reply not delivered (client gone)");
        }
    }

    fn reply(routine: Routine, reply: Reply<'_>, port: Option<PortRight>) -> Result<Message, i32> {
        let bytes = reply
            .encode(routine)
            .map_err(|_| mach_abi::MIG_ARRAY_TOO_LARGE)?;
        Ok(message_from_bytes(&bytes, port))
    }

    fn dispatch(
        &mut self,
        req: Request<'_>,
        session: Option<SessionId>,
        msg: &mut Message,
    ) -> Result<Message, i32> {
        let routine = req.routine();
        if routine == Routine::ConfigOpen {
            return self.open_session();
        }
        let shared = self.shared.clone();
        let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let mut sink = Wakeups { shared: &shared };
        let no_session = Status::NO_STORE_SESSION;
        let status_only = |status: Status| Self::reply(routine, Reply::Status { status }, None);
        let instance = |status: Status| {
            Self::reply(
                routine,
                Reply::Instance {
                    new_instance: 0,
                    status,
                },
                None,
            )
        };
        let data = |r: Result<Vec<u8>, Status>| {
            let (bytes, status) = match r {
                Ok(b) => (b, Status::OK),
                Err(s) => (Vec::new(), s),
            };
            Self::reply(
                routine,
                Reply::Data {
                    data: &bytes,
                    status,
                },
                None,
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
                Self::reply(
                    routine,
                    Reply::Get {
                        data: &value,
                        new_instance: 0,
                        status,
                    },
                    None,
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
                let port = take_port(msg).and_then(PortRight::into_send);
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
            Request::NotifyViaFd { .. } => {
                drop(take_port(msg));
                status_only(Status::FAILED)
            }
            Request::Snapshot => status_only(Status::FAILED),
        }
    }

    /// configopen: a fresh session port in the server's set, no-senders armed (sync 1), the send
    /// right moved to the client.
    fn open_session(&mut self) -> Result<Message, i32> {
        let space = self.stream.space().clone();
        let fail = |e: mach_async::Error| {
            tracing::warn!(error = %e, "configopen failed");
            e.code().unwrap_or(mach_abi::KERN_RESOURCE_SHORTAGE)
        };
        let port = ReceiveRight::new_in(&space).map_err(fail)?;
        let send = port.make_send().map_err(fail)?;
        let notification = port.request_no_senders(1).map_err(fail)?;
        let name = port.name();
        self.stream.insert_port(port).map_err(fail)?;
        let sid = self
            .shared
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open_session();
        self.sessions.insert(name, sid);
        self.no_senders
            .push(notification.map(move |_| (name, sid)).boxed());
        self.shared
            .counters
            .sessions_opened
            .fetch_add(1, Ordering::Relaxed);
        Self::reply(
            Routine::ConfigOpen,
            Reply::Session {
                session: name,
                status: Status::OK,
            },
            Some(PortRight::Send(send)),
        )
    }
}
