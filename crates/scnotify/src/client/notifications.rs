//! The stream of changed-key batches, driven by a `MachNotifyStream` on the session's notify port.

use super::{decode_key_strings, Error, Session};
use crate::rpc::CallError;
use crate::store_messages::{Reply, Request, Status};
use futures::{Stream, StreamExt};
use mach_async::{MachNotifyStream, Notification, PortRight, ReceiveRight};
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

/// First delay between reconnect attempts while configd is unreachable; doubled up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// `notifychanges` answering `kSCStatusFailed` this many times in a row means the pending list
/// overflowed and will never drain (spec §8.7): start over with a fresh session.
const FAILED_LIMIT: u32 = 2;

/// One item of [`Notifications`]: the keys that changed since the previous item, in
/// first-change order, each once.
///
/// An empty set is the "configd restarted, re-read everything" signal (spec §7; see
/// [`ChangedKeys::is_server_restart`]). It compares equal to a list of the same keys:
/// `assert_eq!(changed, ["State:/Network/Global/IPv4"])`.
/// Its `Debug` output is the list of keys.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChangedKeys {
    keys: Vec<String>,
}

impl fmt::Debug for ChangedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

impl ChangedKeys {
    /// The changed keys.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The changed keys, owned.
    pub fn into_keys(self) -> Vec<String> {
        self.keys
    }

    /// Whether this is the restart signal: configd died and the session was reopened (watches
    /// restored); anything may have changed meanwhile.
    pub fn is_server_restart(&self) -> bool {
        self.keys.is_empty()
    }
}

impl std::ops::Deref for ChangedKeys {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.keys
    }
}

impl IntoIterator for ChangedKeys {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for ChangedKeys {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.keys
            .iter()
            .map(String::as_str)
            .eq(other.iter().copied())
    }
}

impl<const N: usize> PartialEq<[String; N]> for ChangedKeys {
    fn eq(&self, other: &[String; N]) -> bool {
        self.keys == other
    }
}

impl PartialEq<&[String]> for ChangedKeys {
    fn eq(&self, other: &&[String]) -> bool {
        self.keys == *other
    }
}

impl PartialEq<[String]> for ChangedKeys {
    fn eq(&self, other: &[String]) -> bool {
        self.keys == other
    }
}

impl PartialEq<Vec<String>> for ChangedKeys {
    fn eq(&self, other: &Vec<String>) -> bool {
        &self.keys == other
    }
}

/// A stream of changed-key batches from configd, each a [`ChangedKeys`].
///
/// Rules (spec §5): the notify port is armed before `notifyviaport`; right after registering,
/// the port is drained once and `notifychanges` is called (this delivers changes made before the
/// registration); on every wake-up the port is drained to empty, then exactly one
/// `notifychanges` is issued, and a batch is yielded only if it is non-empty.
///
/// Server death (no-senders on the notify port, or `MIG_SERVER_DIED` / `MACH_SEND_INVALID_DEST`
/// from `notifychanges`) is handled as spec §7 requires: reconnect with the look-up retry policy,
/// restore the cached watch set, register a new port, then yield **one empty batch** (the
/// "server restarted, re-read everything" signal) before normal delivery resumes. While configd
/// stays unreachable the stream retries with a backoff of 100 ms doubling to 2 s, yielding
/// nothing.
///
/// Dropping the stream destroys the notify port without an RPC (nothing blocks, nothing leaks);
/// [`Notifications::close`] also tells configd (`notifycancel`), as
/// `SCDynamicStoreSetDispatchQueue(store, NULL)` does. Either way the session may register again
/// afterwards.
pub struct Notifications {
    inner: Option<BatchStream>,
    session: Session,
    guard: Option<RegisteredGuard>,
}

impl fmt::Debug for Notifications {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifications")
            .field("session", &self.session)
            .finish()
    }
}

type BatchStream = Pin<Box<dyn Stream<Item = Result<ChangedKeys, Error>> + Send>>;

/// Clears the session's "registered" flag when the registration ends.
struct RegisteredGuard(Session);

impl Drop for RegisteredGuard {
    fn drop(&mut self) {
        self.0.inner.registered.store(false, Ordering::Release);
    }
}

struct Registration {
    stream: MachNotifyStream,
    no_senders: Notification,
    generation: u64,
}

struct State {
    session: Session,
    reg: Option<Registration>,
    /// Generation of the connection the dead registration belonged to.
    dead_generation: Option<u64>,
    queue: VecDeque<Vec<String>>,
    consecutive_failed: u32,
    backoff: Duration,
}

/// What ended a wake-up's processing.
enum Outcome {
    Fine,
    ServerDied,
    Failed(Error),
}

impl Notifications {
    pub(super) async fn start(session: Session) -> Result<Notifications, Error> {
        let guard = RegisteredGuard(session.clone());
        let mut st = State {
            session: session.clone(),
            reg: None,
            dead_generation: None,
            queue: VecDeque::new(),
            consecutive_failed: 0,
            backoff: FIRST_BACKOFF,
        };
        match st.register().await {
            Ok(()) => {}
            Err(Outcome::ServerDied) => {
                // The server died before we got going: reconnect once, quietly (there is nothing
                // to re-read yet).
                st.session
                    .reconnect(st.dead_generation.unwrap_or(0))
                    .await?;
                st.dead_generation = None;
                match st.register().await {
                    Ok(()) => {}
                    Err(Outcome::Failed(e)) => return Err(e),
                    Err(_) => {
                        return Err(Error::NoServer("configd died during registration".into()))
                    }
                }
            }
            Err(Outcome::Failed(e)) => return Err(e),
            Err(Outcome::Fine) => {}
        }
        let stream = futures::stream::unfold(st, |mut st| async move {
            let item = st.next_batch().await;
            Some((item, st))
        });
        Ok(Notifications {
            inner: Some(Box::pin(stream)),
            session,
            guard: Some(guard),
        })
    }

    /// Ends the registration and returns once it is released: destroys the notify port first
    /// (so configd's release of its send right is not mistaken for its death), then sends
    /// `notifycancel` (its result is ignored, as NextBSD does). Watches and pending keys survive
    /// on the server.
    pub async fn close(mut self) {
        drop(self.inner.take());
        if let Err((e, _)) = self.session.rpc_once(&Request::NotifyCancel, None).await {
            tracing::debug!(error = %e, "notifycancel failed (ignored)");
        }
        drop(self.guard.take());
    }

    /// The session this stream belongs to.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl Stream for Notifications {
    type Item = Result<ChangedKeys, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.as_mut() {
            Some(s) => s.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl State {
    /// New notify port, no-senders armed, stream armed, `notifyviaport`, post-registration
    /// drain and `notifychanges`.
    async fn register(&mut self) -> Result<(), Outcome> {
        let fail = |e: mach_async::Error| Outcome::Failed(Error::Mach(e));
        let port = ReceiveRight::new_in(self.session.space()).map_err(fail)?;
        let send = port.make_send().map_err(fail)?;
        // Arm no-senders after inserting the send right and before handing it to configd.
        let no_senders = port.request_no_senders(1).map_err(fail)?;
        // Arm the stream (knote on a private port set) before `notifyviaport`.
        let stream = MachNotifyStream::new(port).map_err(fail)?;
        let req = Request::NotifyViaPort {
            port: send.name(),
            msgid: 0,
        };
        let (reply, generation) = match self
            .session
            .rpc_once(&req, Some(PortRight::Send(send).into()))
            .await
        {
            Ok(r) => r,
            Err((e, _)) => return Err(self.call_failed("notifyviaport", e)),
        };
        let status = reply.reply().status();
        if !status.is_ok() {
            return Err(Outcome::Failed(Error::Status(status)));
        }
        self.reg = Some(Registration {
            stream,
            no_senders,
            generation,
        });
        // Changes made between notifyset and now were never announced; a wake-up may also have
        // beaten the knote. One drain, one notifychanges.
        self.drain();
        match self.changes().await {
            Outcome::Fine => Ok(()),
            other => Err(other),
        }
    }

    fn call_failed(&mut self, routine: &'static str, e: CallError) -> Outcome {
        if e.is_server_death() {
            self.mark_dead();
            Outcome::ServerDied
        } else {
            Outcome::Failed(Error::Rpc {
                routine,
                kr: e.kern_return(),
            })
        }
    }

    fn mark_dead(&mut self) {
        let generation = match self.reg.take() {
            Some(r) => r.generation,
            None => self.session.generation(),
        };
        self.dead_generation = Some(generation);
    }

    /// Receives until the port is empty; returns how many messages were drained.
    fn drain(&mut self) -> usize {
        let Some(reg) = self.reg.as_mut() else {
            return 0;
        };
        let mut n = 0;
        loop {
            match reg.stream.try_recv() {
                Ok(Some(msg)) => {
                    n += 1;
                    drop(msg);
                }
                Ok(None) => return n,
                // One message was lost or unreadable: the rest of the queue is still there.
                Err(e @ (mach_async::Error::MessageLost | mach_async::Error::Parse(_))) => {
                    tracing::warn!(error = %e, "notify port: a message was lost");
                    n += 1;
                }
                Err(e) => {
                    // Stopping here loses nothing: after an error the stream signals again at
                    // its next poll (on macOS no new event would come otherwise).
                    tracing::warn!(error = %e, "notify port receive failed");
                    return n;
                }
            }
        }
    }

    /// One `notifychanges`; queues a non-empty batch.
    async fn changes(&mut self) -> Outcome {
        let (reply, _) = match self.session.rpc_once(&Request::NotifyChanges, None).await {
            Ok(r) => r,
            Err((e, _)) => return self.call_failed("notifychanges", e),
        };
        let (data, status) = match reply.reply() {
            Reply::Data { data, status } => (data.to_vec(), status),
            _ => unreachable!("checked by Reply::decode"),
        };
        if status == Status::FAILED {
            self.consecutive_failed += 1;
            if self.consecutive_failed >= FAILED_LIMIT {
                tracing::warn!("notifychanges keeps failing (pending list overflow): new session");
                self.consecutive_failed = 0;
                self.mark_dead();
                return Outcome::ServerDied;
            }
            return Outcome::Failed(Error::Status(status));
        }
        self.consecutive_failed = 0;
        if status == Status::NO_STORE_SESSION {
            // Our session is gone on the server side: as good as a dead server.
            self.mark_dead();
            return Outcome::ServerDied;
        }
        if !status.is_ok() {
            return Outcome::Failed(Error::Status(status));
        }
        let keys = decode_key_strings(&data);
        if !keys.is_empty() {
            self.queue.push_back(keys);
        }
        Outcome::Fine
    }

    /// Reconnect, restore, re-register; queue the empty "re-read everything" batch first.
    async fn recover(&mut self) -> Result<(), Outcome> {
        let generation = self
            .dead_generation
            .unwrap_or_else(|| self.session.generation());
        self.session
            .reconnect(generation)
            .await
            .map_err(Outcome::Failed)?;
        self.dead_generation = None;
        self.queue.clear();
        self.register().await?;
        self.queue.push_front(Vec::new());
        Ok(())
    }

    async fn next_batch(&mut self) -> Result<ChangedKeys, Error> {
        loop {
            if let Some(keys) = self.queue.pop_front() {
                return Ok(ChangedKeys { keys });
            }
            if self.reg.is_none() {
                match self.recover().await {
                    Ok(()) => self.backoff = FIRST_BACKOFF,
                    Err(Outcome::ServerDied) | Err(Outcome::Fine) => {}
                    Err(Outcome::Failed(e)) => {
                        tracing::info!(error = %e, delay = ?self.backoff, "configd unreachable; retrying");
                        tokio::time::sleep(self.backoff).await;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    }
                }
                continue;
            }
            let reg = self.reg.as_mut().expect("checked above");
            tokio::select! {
                signal = reg.stream.next() => match signal {
                    Some(Ok(())) => {
                        if self.drain() > 0 {
                            if let Outcome::Failed(e) = self.changes().await {
                                return Err(e);
                            }
                        }
                    }
                    Some(Err(e)) => return Err(Error::Mach(e)),
                    None => self.mark_dead(),
                },
                _ = &mut reg.no_senders => {
                    tracing::info!("configd released our notify port: server died");
                    self.mark_dead();
                }
            }
        }
    }
}
