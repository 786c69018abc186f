//! NextBSD configd's store semantics (spec §6) as a pure state machine, free of IPC.
//!
//! A [`Store`] holds the global key/value data and the sessions. The server layer maps session
//! ports to [`SessionId`]s and calls one method per request; the wake-up messages configd would
//! send are delegated to a [`WakeupSink`], which reports whether the send succeeded so the
//! `notify_owed` retry rule of PR #260 can be applied.
//!
//! The notify port type `P` is generic: the server stores an owned send right there (dropping it
//! deallocates the right), tests store whatever they like.
//!
//! ```
//! use scnotify::store::{Store, SessionId};
//! use scnotify::store_messages::{KeyList, Status};
//!
//! let mut store: Store<u32> = Store::new();
//! let watcher = store.open_session();
//! assert_eq!(store.notify_add(watcher, b"State:/Network/en0", false), Status::OK);
//! assert_eq!(store.notify_via_port(watcher, Some(0x1234), 0), Status::OK);
//!
//! let mut sent = Vec::new();
//! let mut sink = |s: SessionId, p: &u32| { sent.push((s, *p)); true };
//! assert_eq!(store.set(b"State:/Network/en0", b"up", &mut sink), Status::OK);
//! assert_eq!(sent, [(watcher, 0x1234)]);
//!
//! let changes = store.notify_changes(watcher).unwrap();
//! assert_eq!(KeyList(&changes).parse().unwrap(), [&b"State:/Network/en0"[..]]);
//! ```

pub mod pattern;

use crate::store_messages::keylist::{encode_key_list, encode_kv_map, KeyList, KvMap};
use crate::store_messages::{Status, CONFIG_DATA_MAX};
use pattern::Pattern;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Identifies a session inside a [`Store`]. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// Receives configd's wake-up sends. Returns whether the send succeeded (a full queue or a dead
/// port is a failure, and the store will retry on the next change).
pub trait WakeupSink<P> {
    /// Send one wake-up to `port`, registered by `session`.
    fn send_wakeup(&mut self, session: SessionId, port: &P) -> bool;
}

impl<P, F: FnMut(SessionId, &P) -> bool> WakeupSink<P> for F {
    fn send_wakeup(&mut self, session: SessionId, port: &P) -> bool {
        self(session, port)
    }
}

/// One client session's notification state.
#[derive(Debug)]
pub struct Session<P> {
    keys: BTreeSet<Vec<u8>>,
    patterns: Vec<Pattern>,
    pending: Vec<Vec<u8>>,
    pending_set: HashSet<Vec<u8>>,
    notify_owed: bool,
    notify_port: Option<P>,
}

impl<P> Default for Session<P> {
    fn default() -> Self {
        Session {
            keys: BTreeSet::new(),
            patterns: Vec::new(),
            pending: Vec::new(),
            pending_set: HashSet::new(),
            notify_owed: false,
            notify_port: None,
        }
    }
}

impl<P> Session<P> {
    /// Watched explicit keys.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(Vec::as_slice)
    }

    /// Watched patterns (raw bytes), in the order they were added.
    pub fn patterns(&self) -> impl Iterator<Item = &[u8]> {
        self.patterns.iter().map(Pattern::raw)
    }

    /// Pending changed keys, in first-change order.
    pub fn pending(&self) -> &[Vec<u8>] {
        &self.pending
    }

    /// Whether a wake-up is owed (the last one failed or no port was registered).
    pub fn notify_owed(&self) -> bool {
        self.notify_owed
    }

    /// The registered notify port.
    pub fn notify_port(&self) -> Option<&P> {
        self.notify_port.as_ref()
    }

    fn watches(&self, key: &[u8]) -> bool {
        self.keys.contains(key) || self.patterns.iter().any(|p| p.matches_key(key))
    }

    fn add_watch(&mut self, key: &[u8], is_regex: bool) -> Status {
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        if is_regex {
            if self.patterns.iter().any(|p| p.raw() == key) {
                return Status::OK;
            }
            match Pattern::compile(key) {
                Ok(p) => self.patterns.push(p),
                Err(_) => return Status::INVALID_ARGUMENT,
            }
        } else {
            self.keys.insert(key.to_vec());
        }
        Status::OK
    }
}

/// The store: global data plus sessions.
#[derive(Debug)]
pub struct Store<P> {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    sessions: BTreeMap<SessionId, Session<P>>,
    next_session: u64,
}

impl<P> Default for Store<P> {
    fn default() -> Self {
        Store::new()
    }
}

/// Decodes a key list from a request, strictly: a truncated record is `InvalidArgument`.
fn request_keys(list: &[u8]) -> Result<Vec<&[u8]>, Status> {
    KeyList(list).parse().map_err(|_| Status::INVALID_ARGUMENT)
}

impl<P> Store<P> {
    /// An empty store with no sessions.
    pub fn new() -> Self {
        Store {
            data: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
        }
    }

    // ---- sessions ----

    /// configopen: a new session.
    pub fn open_session(&mut self) -> SessionId {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.sessions.insert(id, Session::default());
        id
    }

    /// Session teardown (NO_SENDERS on the session port): frees watches, patterns and pending
    /// keys, and returns the notify port so the caller can deallocate it (dropping it does).
    pub fn close_session(&mut self, id: SessionId) -> Option<P> {
        self.sessions.remove(&id).and_then(|s| s.notify_port)
    }

    /// A live session's state.
    pub fn session(&self, id: SessionId) -> Option<&Session<P>> {
        self.sessions.get(&id)
    }

    /// Live sessions.
    pub fn session_ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// Number of stored keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    // ---- change propagation ----

    /// `session_key_changed` for every interested session, in session order: append the key
    /// unless pending; an empty→non-empty transition makes a wake-up owed; an owed wake-up is
    /// sent if a port is registered, and only a successful send clears the debt.
    fn key_changed(&mut self, key: &[u8], sink: &mut dyn WakeupSink<P>) {
        for (&id, s) in self.sessions.iter_mut() {
            if !s.watches(key) {
                continue;
            }
            let was_empty = s.pending.is_empty();
            if s.pending_set.insert(key.to_vec()) {
                s.pending.push(key.to_vec());
            }
            if was_empty {
                s.notify_owed = true;
            }
            if s.notify_owed {
                if let Some(port) = &s.notify_port {
                    if sink.send_wakeup(id, port) {
                        s.notify_owed = false;
                    }
                }
            }
        }
    }

    // ---- data routines (global; no session check) ----

    /// configlist: keys with the prefix `key` (empty lists everything), or matching the anchored
    /// pattern `key`; as an encoded key list in key order. Overflow → `Failed`.
    pub fn list(&self, key: &[u8], is_regex: bool) -> Result<Vec<u8>, Status> {
        let keys: Vec<&[u8]> = if is_regex {
            if key.is_empty() {
                // The anchored empty pattern `^$` matches no (non-empty) key.
                Vec::new()
            } else {
                let p = Pattern::compile(key).map_err(|_| Status::INVALID_ARGUMENT)?;
                self.data
                    .keys()
                    .filter(|k| p.matches_key(k))
                    .map(Vec::as_slice)
                    .collect()
            }
        } else {
            self.data
                .keys()
                .filter(|k| k.starts_with(key))
                .map(Vec::as_slice)
                .collect()
        };
        encode_key_list(keys, CONFIG_DATA_MAX).map_err(|_| Status::FAILED)
    }

    /// configadd: creates the key (notifying) or fails with `KeyExists` (no notification).
    pub fn add(&mut self, key: &[u8], data: &[u8], sink: &mut dyn WakeupSink<P>) -> Status {
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        if self.data.contains_key(key) {
            return Status::KEY_EXISTS;
        }
        self.data.insert(key.to_vec(), data.to_vec());
        self.key_changed(key, sink);
        Status::OK
    }

    /// configget.
    pub fn get(&self, key: &[u8]) -> Result<&[u8], Status> {
        if key.is_empty() {
            return Err(Status::INVALID_ARGUMENT);
        }
        self.data.get(key).map(Vec::as_slice).ok_or(Status::NO_KEY)
    }

    /// configset: stores and notifies, even when the value is identical.
    pub fn set(&mut self, key: &[u8], data: &[u8], sink: &mut dyn WakeupSink<P>) -> Status {
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        self.data.insert(key.to_vec(), data.to_vec());
        self.key_changed(key, sink);
        Status::OK
    }

    /// configremove: notifies only if the key existed (missing → `NoKey`).
    pub fn remove(&mut self, key: &[u8], sink: &mut dyn WakeupSink<P>) -> Status {
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        if self.data.remove(key).is_none() {
            return Status::NO_KEY;
        }
        self.key_changed(key, sink);
        Status::OK
    }

    /// confignotify: notifies whether or not the key exists.
    pub fn notify(&mut self, key: &[u8], sink: &mut dyn WakeupSink<P>) -> Status {
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        self.key_changed(key, sink);
        Status::OK
    }

    /// configget_m: the existing keys of `keys` (in request order), then every stored key that
    /// matches one of `patterns` (in key order), each once, as an encoded key/value map.
    /// Malformed lists, empty keys and bad patterns → `InvalidArgument`; overflow → `Failed`.
    pub fn get_multiple(&self, keys: &[u8], patterns: &[u8]) -> Result<Vec<u8>, Status> {
        let keys = request_keys(keys)?;
        let patterns = request_keys(patterns)?;
        if keys.iter().chain(&patterns).any(|k| k.is_empty()) {
            return Err(Status::INVALID_ARGUMENT);
        }
        let compiled = patterns
            .iter()
            .map(|p| Pattern::compile(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Status::INVALID_ARGUMENT)?;
        let mut seen: HashSet<&[u8]> = HashSet::new();
        let mut out: Vec<(&[u8], &[u8])> = Vec::new();
        for k in keys {
            if let Some((stored_key, v)) = self.data.get_key_value(k) {
                if seen.insert(stored_key) {
                    out.push((stored_key, v));
                }
            }
        }
        for (k, v) in &self.data {
            if compiled.iter().any(|p| p.matches_key(k)) && seen.insert(k) {
                out.push((k, v));
            }
        }
        encode_kv_map(out, CONFIG_DATA_MAX).map_err(|_| Status::FAILED)
    }

    /// configset_m: every set (notifying), every remove of an existing key (notifying), every
    /// notify key. All three payloads are validated first: a malformed list or an empty key →
    /// `InvalidArgument` with nothing changed.
    pub fn set_multiple(
        &mut self,
        data: &[u8],
        remove: &[u8],
        notify: &[u8],
        sink: &mut dyn WakeupSink<P>,
    ) -> Status {
        let Ok(pairs) = KvMap(data).parse() else {
            return Status::INVALID_ARGUMENT;
        };
        let (remove, notify) = match (request_keys(remove), request_keys(notify)) {
            (Ok(r), Ok(n)) => (r, n),
            _ => return Status::INVALID_ARGUMENT,
        };
        let any_empty = pairs
            .iter()
            .map(|(k, _)| k)
            .chain(&remove)
            .chain(&notify)
            .any(|k| k.is_empty());
        if any_empty {
            return Status::INVALID_ARGUMENT;
        }
        for (k, v) in pairs {
            self.data.insert(k.to_vec(), v.to_vec());
            self.key_changed(k, sink);
        }
        for k in remove {
            if self.data.remove(k).is_some() {
                self.key_changed(k, sink);
            }
        }
        for k in notify {
            self.key_changed(k, sink);
        }
        Status::OK
    }

    // ---- notify routines (session-scoped) ----

    fn live(&mut self, id: SessionId) -> Result<&mut Session<P>, Status> {
        self.sessions.get_mut(&id).ok_or(Status::NO_STORE_SESSION)
    }

    /// notifyadd: empty → `InvalidArgument`; bad pattern → `InvalidArgument`; already watched
    /// → OK.
    pub fn notify_add(&mut self, id: SessionId, key: &[u8], is_regex: bool) -> Status {
        match self.live(id) {
            Ok(s) => s.add_watch(key, is_regex),
            Err(e) => e,
        }
    }

    /// notifyremove: empty → `InvalidArgument`; not watched → `NoKey`. Patterns are identified
    /// by their raw bytes.
    pub fn notify_remove(&mut self, id: SessionId, key: &[u8], is_regex: bool) -> Status {
        let s = match self.live(id) {
            Ok(s) => s,
            Err(e) => return e,
        };
        if key.is_empty() {
            return Status::INVALID_ARGUMENT;
        }
        let removed = if is_regex {
            let before = s.patterns.len();
            s.patterns.retain(|p| p.raw() != key);
            s.patterns.len() != before
        } else {
            s.keys.remove(key)
        };
        if removed {
            Status::OK
        } else {
            Status::NO_KEY
        }
    }

    /// notifyset: clears every key and pattern, then adds the keys, then the patterns. The first
    /// failure is returned and leaves the set partially installed (configd's behaviour). The
    /// pending list, `notify_owed` and the notify port are untouched. A list that does not decode
    /// is refused with `InvalidArgument` before anything is cleared.
    pub fn notify_set(&mut self, id: SessionId, keys: &[u8], patterns: &[u8]) -> Status {
        let s = match self.live(id) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let (keys, patterns) = match (request_keys(keys), request_keys(patterns)) {
            (Ok(k), Ok(p)) => (k, p),
            _ => return Status::INVALID_ARGUMENT,
        };
        s.keys.clear();
        s.patterns.clear();
        for k in keys {
            let st = s.add_watch(k, false);
            if !st.is_ok() {
                return st;
            }
        }
        for p in patterns {
            let st = s.add_watch(p, true);
            if !st.is_ok() {
                return st;
            }
        }
        Status::OK
    }

    /// notifychanges: the pending keys in first-change order, then the list and `notify_owed`
    /// are cleared. If the list does not fit 8192 bytes → `Failed` and nothing is cleared.
    pub fn notify_changes(&mut self, id: SessionId) -> Result<Vec<u8>, Status> {
        let s = self.live(id)?;
        let encoded = encode_key_list(&s.pending, CONFIG_DATA_MAX).map_err(|_| Status::FAILED)?;
        s.pending.clear();
        s.pending_set.clear();
        s.notify_owed = false;
        Ok(encoded)
    }

    /// notifyviaport: `msgid ≠ 0` → `InvalidArgument`; no session → `NoStoreSession`; null port
    /// (`None`) → `InvalidArgument`. In those cases the port is dropped (deallocated). Otherwise
    /// it **replaces** any earlier port (dropping that one). Nothing is sent, even if changes are
    /// pending.
    pub fn notify_via_port(&mut self, id: SessionId, port: Option<P>, msgid: i32) -> Status {
        if msgid != 0 {
            return Status::INVALID_ARGUMENT;
        }
        let s = match self.live(id) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let Some(port) = port else {
            return Status::INVALID_ARGUMENT;
        };
        s.notify_port = Some(port);
        Status::OK
    }

    /// notifycancel: drops the notify port; watches and pending keys are kept.
    pub fn notify_cancel(&mut self, id: SessionId) -> Status {
        match self.live(id) {
            Ok(s) => {
                s.notify_port = None;
                Status::OK
            }
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests;
