//! The async Rust client: a configd session, its store operations, and a stream of changed-key
//! batches (see [`Notifications`]).
//!
//! A [`Session`] is cheap to clone (a shared handle). Server death is handled as Apple's
//! `SCDynamicStore` does and NextBSD's did not (spec §7): any RPC that fails with
//! `MIG_SERVER_DIED` or `MACH_SEND_INVALID_DEST` reconnects (look-up retried up to 3 times 50 ms
//! apart while the service is unknown, `configopen`, `notifyset` with the cached watch set) and is
//! retried once.

mod notifications;

pub use notifications::{ChangedKeys, Notifications};

use crate::bootstrap;
use crate::rpc::{call, CallError, ReplyMessage};
use crate::store_messages::keylist::{encode_key_list, encode_kv_map, KeyList, KvMap};
use crate::store_messages::{Reply, Request, Status, CONFIGD_SERVICE_NAME, CONFIG_DATA_MAX};
use mach_abi::kern_return_t;
use mach_async::mig::MigClient;
use mach_async::{PortSlot, SendRight, Space};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// configd answered with a non-OK status.
    #[error("configd returned {0}")]
    Status(Status),
    /// The RPC itself failed (`kr ≠ 0`: dead server, malformed reply, timeout...).
    #[error("{routine} failed: {}", mach_abi::named_code(*kr))]
    Rpc {
        /// The routine.
        routine: &'static str,
        /// What a generated stub would have returned.
        kr: kern_return_t,
    },
    /// No server: the look-up or `configopen` failed.
    #[error("no configd server ({0})")]
    NoServer(String),
    /// An argument does not encode (a list over 8192 bytes, an empty key...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A notification registration is already active on this session.
    #[error("a notification registration is already active")]
    NotifierActive,
    /// A Mach call failed locally (port allocation, stream creation).
    #[error(transparent)]
    Mach(#[from] mach_async::Error),
}

impl Error {
    /// The `SCError()` code the C ABI reports for this error (spec §2.2).
    pub fn sc_status(&self) -> Status {
        match self {
            Error::Status(s) => *s,
            Error::Rpc { .. } | Error::Mach(_) => Status::FAILED,
            Error::NoServer(_) => Status::NO_STORE_SERVER,
            Error::InvalidArgument(_) => Status::INVALID_ARGUMENT,
            Error::NotifierActive => Status::NOTIFIER_ACTIVE,
        }
    }

    fn rpc(routine: &'static str, e: &CallError) -> Error {
        Error::Rpc {
            routine,
            kr: e.kern_return(),
        }
    }
}

/// How a session finds configd's service port, initially and after the server died.
#[derive(Clone)]
pub enum Connector {
    /// `bootstrap_look_up` of a service name (normally [`CONFIGD_SERVICE_NAME`]).
    Bootstrap(String),
    /// A caller-supplied function returning a send right to the service port (tests inject
    /// ports this way; called again on every reconnect).
    Custom(ServiceFn),
}

/// A function returning a send right to configd's service port.
pub type ServiceFn = Arc<dyn Fn(&Space) -> Result<SendRight, Error> + Send + Sync>;

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connector::Bootstrap(n) => f.debug_tuple("Bootstrap").field(n).finish(),
            Connector::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::Bootstrap(CONFIGD_SERVICE_NAME.to_string())
    }
}

impl Connector {
    /// A connector that always hands out a copy of `service`.
    pub fn service_port(service: SendRight) -> Connector {
        Connector::Custom(Arc::new(move |_| service.try_clone().map_err(Error::from)))
    }

    /// Apple's policy: the look-up is retried up to 3 times, 50 ms apart, while the service is
    /// unknown.
    async fn look_up(&self, space: &Space) -> Result<SendRight, Error> {
        match self {
            Connector::Custom(f) => f(space),
            Connector::Bootstrap(name) => {
                let mut tries = 0;
                loop {
                    match bootstrap::look_up(space, name) {
                        Ok(r) => return Ok(r),
                        Err(kr) if kr == bootstrap::UNKNOWN_SERVICE && tries < 3 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(kr) => {
                            return Err(Error::NoServer(format!(
                                "bootstrap_look_up({name}): {kr:#x}"
                            )))
                        }
                    }
                }
            }
        }
    }
}

/// The cached watch set (what `SetNotificationKeys` last installed successfully).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WatchSet {
    pub(crate) keys: Vec<u8>,
    pub(crate) patterns: Vec<u8>,
}

/// The current session port, as the MIG client that calls it.
struct Connection {
    client: Arc<MigClient>,
    generation: u64,
}

pub(crate) struct Inner {
    space: Space,
    connector: Connector,
    conn: Mutex<Connection>,
    reconnect_lock: tokio::sync::Mutex<()>,
    watch: Mutex<WatchSet>,
    registered: AtomicBool,
    timeout: Option<Duration>,
    on_reconnect: Mutex<Option<ReconnectHook>>,
}

/// A MIG client of `server` with the session's RPC bound.
fn mig_client(server: SendRight, timeout: Option<Duration>) -> Arc<MigClient> {
    Arc::new(MigClient::new(server).with_timeout(timeout))
}

type ReconnectHook = Box<dyn Fn(&SendRight) + Send + Sync>;

/// A configd session.
///
/// ```
/// # #[cfg(mach_backend = "sim")]
/// # fn main() {
/// use futures::StreamExt;
/// use scnotify::mach_async::Space;
/// use scnotify::{ConfigdServer, Session};
///
/// let kernel = scnotify::sim::Kernel::new();
/// let server_space = Space::from_task(kernel.task_create("configd", 10, 0, 0));
/// let client_space = Space::from_task(kernel.task_create("client", 11, 0, 0));
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let server = ConfigdServer::check_in(&server_space).unwrap();
///     let watcher = Session::open(&client_space).await.unwrap();
///     let writer = Session::open(&client_space).await.unwrap();
///     watcher.set_notification_keys(&["State:/Network/Global/IPv4"], &[]).await.unwrap();
///     let mut changes = watcher.notifications().await.unwrap();
///     writer.set("State:/Network/Global/IPv4", b"<dict/>").await.unwrap();
///     let batch = changes.next().await.unwrap().unwrap();
///     assert_eq!(batch, ["State:/Network/Global/IPv4"]);
///     changes.close().await;
///     drop((watcher, writer));
///     server.close().await;
/// });
/// kernel.assert_no_leaks();
/// # }
/// # #[cfg(not(mach_backend = "sim"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server_name())
            .field("connector", &self.inner.connector)
            .finish()
    }
}

/// Configures and opens a [`Session`] (see [`Session::builder`]).
#[derive(Clone, Debug)]
pub struct SessionBuilder {
    space: Space,
    connector: Connector,
    rpc_timeout: Option<Duration>,
}

impl SessionBuilder {
    /// How to find configd (default: bootstrap look-up of [`CONFIGD_SERVICE_NAME`]).
    pub fn connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// Bound on every RPC (default: none, like MIG stubs).
    pub fn rpc_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// Finds configd and opens the session (`configopen`).
    pub async fn open(self) -> Result<Session, Error> {
        let server = open_server(&self.space, &self.connector, self.rpc_timeout).await?;
        Ok(self.adopt(server))
    }

    /// Wraps an already open session port (what the C `SCDynamicStoreCreate` keeps in
    /// `server`); the connector is used only to reconnect.
    pub fn adopt(self, server: SendRight) -> Session {
        Session {
            inner: Arc::new(Inner {
                space: self.space,
                connector: self.connector,
                conn: Mutex::new(Connection {
                    client: mig_client(server, self.rpc_timeout),
                    generation: 0,
                }),
                reconnect_lock: tokio::sync::Mutex::new(()),
                watch: Mutex::new(WatchSet::default()),
                registered: AtomicBool::new(false),
                timeout: self.rpc_timeout,
                on_reconnect: Mutex::new(None),
            }),
        }
    }
}

impl Session {
    /// Opens a session in `space` with configd found through the bootstrap server.
    pub async fn open(space: &Space) -> Result<Session, Error> {
        Self::builder(space).open().await
    }

    /// A builder for a session in `space` (connector, RPC timeout).
    pub fn builder(space: &Space) -> SessionBuilder {
        SessionBuilder {
            space: space.clone(),
            connector: Connector::default(),
            rpc_timeout: None,
        }
    }

    /// Releases this handle to the session. The session port goes (and configd ends the
    /// session) once the last clone of the session and its [`Notifications`] are gone; end a
    /// registration first with [`Notifications::close`] to tell configd. Dropping the handle
    /// does the same.
    pub async fn close(self) {
        drop(self);
    }

    /// The space the session lives in.
    pub fn space(&self) -> &Space {
        &self.inner.space
    }

    /// The current session port's name.
    pub fn server_name(&self) -> u32 {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .client
            .server()
            .name()
    }

    /// A copy (another user reference) of the current session port.
    pub fn server_right(&self) -> Result<SendRight, Error> {
        let c = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(c.client.server().try_clone()?)
    }

    /// How many times the session reconnected after server death.
    pub fn generation(&self) -> u64 {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    /// Sets a function called with the new session port after every reconnect (the C ABI
    /// stores it in the store's `server` field).
    pub fn set_reconnect_hook(&self, hook: impl Fn(&SendRight) + Send + Sync + 'static) {
        *self
            .inner
            .on_reconnect
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Box::new(hook));
    }

    /// The client of the current session port and its generation. (After the server died the
    /// port is a dead name: a call fails with `MACH_SEND_INVALID_DEST`, the cue to reconnect.)
    fn current(&self) -> (Arc<MigClient>, u64) {
        let c = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        (c.client.clone(), c.generation)
    }

    /// One RPC on the current server with reconnect-and-retry-once on server death.
    async fn rpc(&self, req: &Request<'_>) -> Result<ReplyMessage, Error> {
        let routine = req.routine().name();
        match self.rpc_once(req, None).await {
            Ok((r, _)) => Ok(r),
            Err((e, generation)) if e.is_server_death() => {
                self.reconnect(generation).await?;
                self.rpc_once(req, None)
                    .await
                    .map(|(r, _)| r)
                    .map_err(|(e, _)| Error::rpc(routine, &e))
            }
            Err((e, _)) => Err(Error::rpc(routine, &e)),
        }
    }

    /// One RPC without reconnecting (the notification registration handles death itself),
    /// with `moved` in the request's port descriptor. Returns the generation of the connection
    /// used, with the reply or the error.
    pub(crate) async fn rpc_once(
        &self,
        req: &Request<'_>,
        moved: Option<PortSlot>,
    ) -> Result<(ReplyMessage, u64), (CallError, u64)> {
        let (client, generation) = self.current();
        match call(&client, req, moved).await {
            Ok(r) => Ok((r, generation)),
            Err(e) => Err((e, generation)),
        }
    }

    /// Reconnects if the connection is still the one of `generation` (another task may have
    /// done it already): look-up, `configopen`, `notifyset` with the cached watch set.
    pub(crate) async fn reconnect(&self, generation: u64) -> Result<(), Error> {
        let _guard = self.inner.reconnect_lock.lock().await;
        if self.generation() != generation {
            return Ok(());
        }
        let server =
            open_server(&self.inner.space, &self.inner.connector, self.inner.timeout).await?;
        let client = mig_client(server, self.inner.timeout);
        let watch = self
            .inner
            .watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !(watch.keys.is_empty() && watch.patterns.is_empty()) {
            let req = Request::NotifySet {
                keys: &watch.keys,
                patterns: &watch.patterns,
            };
            let r = call(&client, &req, None)
                .await
                .map_err(|e| Error::rpc("notifyset", &e))?;
            let status = r.reply().status();
            if !status.is_ok() {
                return Err(Error::Status(status));
            }
        }
        {
            let mut c = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            c.client = client;
            c.generation += 1;
            if let Some(hook) = &*self
                .inner
                .on_reconnect
                .lock()
                .unwrap_or_else(|p| p.into_inner())
            {
                hook(c.client.server());
            }
        }
        tracing::info!(generation = generation + 1, "reconnected to configd");
        Ok(())
    }

    fn status_of(r: &ReplyMessage) -> Result<(), Error> {
        r.reply().status().into_result().map_err(Error::Status)
    }

    // ---- notification keys ----

    /// Replaces the watched keys and patterns (`notifyset`). Patterns are POSIX extended regular
    /// expressions, anchored by configd. The set is cached and restored after a reconnect.
    pub async fn set_notification_keys(
        &self,
        keys: &[&str],
        patterns: &[&str],
    ) -> Result<(), Error> {
        let k = encode_key_list(keys, CONFIG_DATA_MAX)
            .map_err(|e| Error::InvalidArgument(format!("keys: {e}")))?;
        let p = encode_key_list(patterns, CONFIG_DATA_MAX)
            .map_err(|e| Error::InvalidArgument(format!("patterns: {e}")))?;
        self.set_notification_lists(k, p).await
    }

    /// [`Session::set_notification_keys`] with already encoded key lists.
    pub(crate) async fn set_notification_lists(
        &self,
        keys: Vec<u8>,
        patterns: Vec<u8>,
    ) -> Result<(), Error> {
        let r = self
            .rpc(&Request::NotifySet {
                keys: &keys,
                patterns: &patterns,
            })
            .await?;
        Self::status_of(&r)?;
        *self.inner.watch.lock().unwrap_or_else(|p| p.into_inner()) = WatchSet { keys, patterns };
        Ok(())
    }

    /// Watches one more key or pattern (`notifyadd`). Not part of the cached set.
    pub async fn add_watched_key(&self, key: &str, is_pattern: bool) -> Result<(), Error> {
        let r = self
            .rpc(&Request::NotifyAdd {
                key: key.as_bytes(),
                is_regex: i32::from(is_pattern),
            })
            .await?;
        Self::status_of(&r)
    }

    /// Stops watching a key or pattern (`notifyremove`).
    pub async fn remove_watched_key(&self, key: &str, is_pattern: bool) -> Result<(), Error> {
        let r = self
            .rpc(&Request::NotifyRemove {
                key: key.as_bytes(),
                is_regex: i32::from(is_pattern),
            })
            .await?;
        Self::status_of(&r)
    }

    /// Fetches and clears the changed keys (`notifychanges`), in first-change order. Keys that
    /// are not UTF-8 are dropped (as `SCDynamicStoreCopyNotifiedKeys` does).
    pub async fn notified_keys(&self) -> Result<Vec<String>, Error> {
        let r = self.rpc(&Request::NotifyChanges).await?;
        decode_changes(&r)
    }

    /// Starts delivery of changed-key batches (`notifyviaport`), following spec §5: the port is
    /// armed before registration and drained once after it. One registration per session at a
    /// time ([`Error::NotifierActive`]). Must be called within a tokio runtime.
    pub async fn notifications(&self) -> Result<Notifications, Error> {
        if self.inner.registered.swap(true, Ordering::AcqRel) {
            return Err(Error::NotifierActive);
        }
        Notifications::start(self.clone()).await
    }

    // ---- data ----

    /// `configget`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        check_len(key.as_bytes())?;
        let r = self
            .rpc(&Request::ConfigGet {
                key: key.as_bytes(),
            })
            .await?;
        match r.reply() {
            Reply::Get { data, status, .. } => status
                .into_result()
                .map(|()| data.to_vec())
                .map_err(Error::Status),
            _ => unreachable!("checked by Reply::decode"),
        }
    }

    /// `configset` (notifies watchers even when the value is unchanged).
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        check_len(key.as_bytes())?;
        check_len(value)?;
        let r = self
            .rpc(&Request::ConfigSet {
                key: key.as_bytes(),
                data: value,
                instance: 0,
            })
            .await?;
        Self::status_of(&r)
    }

    /// `configadd` ([`Status::KEY_EXISTS`] if the key exists).
    pub async fn add(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        check_len(key.as_bytes())?;
        check_len(value)?;
        let r = self
            .rpc(&Request::ConfigAdd {
                key: key.as_bytes(),
                data: value,
            })
            .await?;
        Self::status_of(&r)
    }

    /// `configremove` ([`Status::NO_KEY`] if missing).
    pub async fn remove(&self, key: &str) -> Result<(), Error> {
        check_len(key.as_bytes())?;
        let r = self
            .rpc(&Request::ConfigRemove {
                key: key.as_bytes(),
            })
            .await?;
        Self::status_of(&r)
    }

    /// `confignotify`: notifies watchers of `key` without changing it.
    pub async fn notify(&self, key: &str) -> Result<(), Error> {
        check_len(key.as_bytes())?;
        let r = self
            .rpc(&Request::ConfigNotify {
                key: key.as_bytes(),
            })
            .await?;
        Self::status_of(&r)
    }

    /// `configlist`: keys starting with `prefix`, or matching the anchored pattern.
    pub async fn list(
        &self,
        prefix_or_pattern: &str,
        is_pattern: bool,
    ) -> Result<Vec<String>, Error> {
        check_len(prefix_or_pattern.as_bytes())?;
        let req = Request::ConfigList {
            key: prefix_or_pattern.as_bytes(),
            is_regex: i32::from(is_pattern),
        };
        let r = self.rpc(&req).await?;
        decode_changes(&r)
    }

    /// `configset_m`: sets, removes and notifies several keys in one request.
    pub async fn set_multiple(
        &self,
        set: &[(&str, &[u8])],
        remove: &[&str],
        notify: &[&str],
    ) -> Result<(), Error> {
        let invalid =
            |e: crate::store_messages::KeyListError| Error::InvalidArgument(e.to_string());
        let d = encode_kv_map(set.iter().map(|(k, v)| (k.as_bytes(), *v)), CONFIG_DATA_MAX)
            .map_err(invalid)?;
        let r_ = encode_key_list(remove, CONFIG_DATA_MAX).map_err(invalid)?;
        let n = encode_key_list(notify, CONFIG_DATA_MAX).map_err(invalid)?;
        let r = self
            .rpc(&Request::ConfigSetM {
                data: &d,
                remove: &r_,
                notify: &n,
            })
            .await?;
        Self::status_of(&r)
    }

    /// `configget_m`: the values of `keys` that exist and of every key matching `patterns`.
    pub async fn get_multiple(
        &self,
        keys: &[&str],
        patterns: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let invalid =
            |e: crate::store_messages::KeyListError| Error::InvalidArgument(e.to_string());
        let k = encode_key_list(keys, CONFIG_DATA_MAX).map_err(invalid)?;
        let p = encode_key_list(patterns, CONFIG_DATA_MAX).map_err(invalid)?;
        let r = self
            .rpc(&Request::ConfigGetM {
                keys: &k,
                patterns: &p,
            })
            .await?;
        match r.reply() {
            Reply::Data { data, status } => {
                status.into_result().map_err(Error::Status)?;
                let (pairs, err) = KvMap(data).parse_lenient();
                if let Some(e) = err {
                    tracing::warn!(error = %e, "configget_m reply: truncated map tail ignored");
                }
                Ok(pairs
                    .into_iter()
                    .filter_map(|(k, v)| {
                        String::from_utf8(k.to_vec()).ok().map(|k| (k, v.to_vec()))
                    })
                    .collect())
            }
            _ => unreachable!("checked by Reply::decode"),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the session send right (in `conn`) lets configd tear the session down.
        tracing::trace!("configd session closed");
    }
}

fn check_len(b: &[u8]) -> Result<(), Error> {
    if b.len() > CONFIG_DATA_MAX {
        return Err(Error::InvalidArgument(format!(
            "{} bytes exceed the 8192-byte limit",
            b.len()
        )));
    }
    Ok(())
}

/// Decodes a key-list reply: status, then records; invalid UTF-8 keys and a truncated tail are
/// dropped (with a trace), as `SCDynamicStoreCopyNotifiedKeys` does.
fn decode_changes(r: &ReplyMessage) -> Result<Vec<String>, Error> {
    match r.reply() {
        Reply::Data { data, status } => {
            status.into_result().map_err(Error::Status)?;
            Ok(decode_key_strings(data))
        }
        _ => unreachable!("checked by Reply::decode"),
    }
}

/// Key-list bytes → strings with `SCDynamicStoreCopyNotifiedKeys`' rules.
pub(crate) fn decode_key_strings(data: &[u8]) -> Vec<String> {
    let (keys, err) = KeyList(data).parse_lenient();
    if let Some(e) = err {
        tracing::warn!(error = %e, "key list from configd: truncated tail ignored");
    }
    keys.into_iter()
        .filter_map(|k| match std::str::from_utf8(k) {
            Ok(s) => Some(s.to_string()),
            Err(_) => {
                tracing::warn!("key list from configd: non-UTF-8 key dropped");
                None
            }
        })
        .collect()
}

/// Look-up + `configopen`: a session send right.
async fn open_server(
    space: &Space,
    connector: &Connector,
    timeout: Option<Duration>,
) -> Result<SendRight, Error> {
    let service = MigClient::new(connector.look_up(space).await?).with_timeout(timeout);
    let mut r = call(
        &service,
        &Request::ConfigOpen {
            name: b"",
            options: b"",
        },
        None,
    )
    .await
    .map_err(|e| Error::NoServer(format!("configopen: {e}")))?;
    let status = r.reply().status();
    if !status.is_ok() {
        return Err(Error::Status(status));
    }
    r.take_session()
        .ok_or_else(|| Error::NoServer("configopen returned no session port".into()))
}
