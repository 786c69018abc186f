//! Per-store state behind the `notifySource` slot, the process-wide event thread, registrations
//! and callout delivery.
//!
//! Threads: every store shares one lazily started tokio runtime with a single worker thread
//! (`scnotify-event`). A registration is one task on it that consumes the session's
//! [`Notifications`] stream; callouts go to the caller's queue with `dispatch_async_f` (dispatch
//! mode) or to the run loop through the store's source (run-loop mode). The task waits for each
//! dispatched callout to finish before it fetches the next batch, so one store never has two
//! callouts at once, whatever the queue.

use super::host::*;
use crate::client::{Error, Notifications, Session};
use crate::Status;
use futures::StreamExt;
use mach_async::{SendRight, Space};
use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::c_void;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// The process-wide event runtime (one worker thread, started on first use).
pub(crate) fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // MACH_ASYNC_LOG=<filter> shows this library's tracing events on stderr.
        mach_async::diagnostics::init_from_env(None);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("scnotify-event")
            .enable_all()
            .build()
            .expect("start the scnotify event thread")
    })
}

/// Runs `fut` on the event runtime and waits for it from the calling (C) thread. Must not be
/// called on the event thread itself (callouts never run there).
pub(crate) fn run_sync<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().expect("the event runtime dropped a call")
}

/// The SCError code for a client error on a store whose `server` is set (spec §2.2): statuses
/// pass through, encoding problems are 1002, a second registration 2003, anything else 1001.
pub(crate) fn sc_code(e: &Error) -> i32 {
    match e {
        Error::Status(s) => s.code(),
        Error::InvalidArgument(_) => Status::INVALID_ARGUMENT.code(),
        Error::NotifierActive => Status::NOTIFIER_ACTIVE.code(),
        _ => Status::FAILED.code(),
    }
}

/// A store pointer that may cross threads. Every access to the notification fields goes
/// through [`StoreState::lock`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct StorePtr(pub(crate) *mut SCDynamicStorePrivate);

// SAFETY: the pointer is only dereferenced while the store is alive (the caller holds it, or a
// registration / deferred callout holds a CFRetain), and the notification fields are only
// accessed under the per-store lock.
unsafe impl Send for StorePtr {}
// SAFETY: as above.
unsafe impl Sync for StorePtr {}

impl StorePtr {
    /// The `server` field as an atomic (it is rewritten after a reconnect).
    pub(crate) fn server(&self) -> &AtomicU32 {
        // SAFETY: `server` is a 4-aligned u32 inside a live store; all writers use atomics.
        unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*self.0).server)) }
    }

    fn slot(&self) -> &AtomicPtr<c_void> {
        // SAFETY: `notifySource` is a pointer-aligned field of a live store; every access to it
        // is atomic.
        unsafe { AtomicPtr::from_ptr(std::ptr::addr_of_mut!((*self.0).notifySource)) }
    }

    /// The store's notification fields. Callers hold the per-store lock.
    ///
    /// # Safety
    /// The store must be alive for `'a` and the caller must hold its [`StoreState`] lock while
    /// using the reference; no other reference to the fields may be live.
    pub(crate) unsafe fn fields<'a>(self) -> &'a mut SCDynamicStorePrivate {
        // SAFETY: per the contract.
        unsafe { &mut *self.0 }
    }
}

/// How a registration delivers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// To the caller's queue (retained by the registration).
    Dispatch(dispatch_queue_t),
    /// Through the store's run-loop source.
    RunLoop,
}

// SAFETY: a dispatch queue may be used from any thread.
unsafe impl Send for Mode {}

struct Registration {
    stop: Option<oneshot::Sender<()>>,
    done: mpsc::Receiver<()>,
}

/// Batches waiting for the run loop's perform callback.
#[derive(Default)]
struct RunLoopStash {
    keys: Vec<String>,
    seen: HashSet<String>,
    /// The reconnect signal: deliver even if `keys` is empty.
    empty_signal: bool,
}

#[derive(Default)]
pub(crate) struct Locked {
    session: Option<Session>,
    /// `SCDynamicStoreSetDisconnectCallBack`'s callback (the C struct has no room for it).
    pub(crate) disconnect: SCDynamicStoreDisconnectCallBack,
    registration: Option<Registration>,
    stash: RunLoopStash,
    next_id: u64,
}

/// The crate's per-store state, owned by the `notifySource` slot (an `Arc` in raw form).
pub(crate) struct StoreState {
    space: Space,
    lock: Mutex<Locked>,
    /// Id of the active registration (0: none). Deferred callouts of another id are skipped.
    active: AtomicU64,
    /// Held while a callout runs: cancellation waits on it so that no callout runs after it.
    callout: Mutex<()>,
}

thread_local! {
    /// The store whose callout is running on this thread (cancelling from inside a callout must
    /// not wait for that callout).
    static IN_CALLOUT: Cell<*const SCDynamicStorePrivate> = const { Cell::new(std::ptr::null()) };
}

impl StoreState {
    /// The state of `store`, created on first use.
    pub(crate) fn get_or_create(store: StorePtr) -> Arc<StoreState> {
        if let Some(s) = Self::existing(store) {
            return s;
        }
        let fresh = Arc::new(StoreState {
            space: Space::current(),
            lock: Mutex::new(Locked::default()),
            active: AtomicU64::new(0),
            callout: Mutex::new(()),
        });
        let raw = Arc::into_raw(fresh.clone()) as *mut c_void;
        match store.slot().compare_exchange(
            std::ptr::null_mut(),
            raw,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(_) => {
                // Another thread won the race: drop ours.
                // SAFETY: `raw` came from `Arc::into_raw` above and was not published.
                drop(unsafe { Arc::from_raw(raw as *const StoreState) });
                Self::existing(store).expect("published by the winner")
            }
        }
    }

    /// The state of `store`, if any.
    pub(crate) fn existing(store: StorePtr) -> Option<Arc<StoreState>> {
        let raw = store.slot().load(Ordering::Acquire) as *const StoreState;
        if raw.is_null() {
            return None;
        }
        // SAFETY: the slot holds one strong count of a live `Arc<StoreState>`; we add one for
        // the returned handle. The slot is only cleared by `free`, which callers never race with
        // on a live store (it runs from the finalizer).
        unsafe {
            Arc::increment_strong_count(raw);
            Some(Arc::from_raw(raw))
        }
    }

    /// Releases the slot's reference (from `__SCDynamicStoreNotifyCancel`, when nothing is
    /// registered).
    pub(crate) fn free(store: StorePtr) {
        let raw = store.slot().swap(std::ptr::null_mut(), Ordering::AcqRel) as *const StoreState;
        if !raw.is_null() {
            // SAFETY: the slot's strong count, taken back exactly once (swap).
            drop(unsafe { Arc::from_raw(raw) });
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Locked> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn has_registration(&self) -> bool {
        self.lock().registration.is_some()
    }

    /// The session for `store`, adopted from its `server` port on first use (a copy of the
    /// send right). After a reconnect the new session port is written back to `server`.
    pub(crate) fn session(&self, store: StorePtr) -> Result<Session, i32> {
        if let Some(s) = &self.lock().session {
            return Ok(s.clone());
        }
        // Built without the lock held: opening a new session waits for the event thread.
        let name = store.server().load(Ordering::Acquire);
        // SAFETY: `server` is a send right the store owns; ManuallyDrop keeps it the store's.
        let borrowed = ManuallyDrop::new(unsafe { SendRight::from_raw_in(&self.space, name) });
        let session = match borrowed.try_clone() {
            Ok(right) => Session::builder(&self.space).adopt(right),
            Err(_) => {
                // `server` is already a dead name: open a new session now.
                let space = self.space.clone();
                let s = run_sync(async move { Session::open(&space).await })
                    .map_err(|e| sc_code(&e))?;
                let fresh = s.server_right().map_err(|_| Status::FAILED.code())?;
                replace_server(&self.space, store, fresh);
                s
            }
        };
        let space = self.space.clone();
        session.set_reconnect_hook(move |new| {
            if let Ok(copy) = new.try_clone() {
                replace_server(&space, store, copy);
            }
        });
        let mut locked = self.lock();
        // Another thread may have won the race; keep the first session.
        Ok(locked.session.get_or_insert(session).clone())
    }

    /// Starts a registration (the store's fields were already switched to `mode` by the
    /// caller). Returns the SCError code on failure.
    pub(crate) fn start(self: &Arc<Self>, store: StorePtr, mode: Mode) -> Result<(), i32> {
        let session = self.session(store)?;
        let notifications =
            run_sync(async move { session.notifications().await }).map_err(|e| sc_code(&e))?;
        let id = {
            let mut l = self.lock();
            l.next_id += 1;
            l.stash = RunLoopStash::default();
            l.next_id
        };
        // The registration's references: the store, and (dispatch) the queue.
        // SAFETY: the store is alive (the caller holds it).
        unsafe { CFRetain(store.0 as CFTypeRef) };
        if let Mode::Dispatch(q) = mode {
            // SAFETY: `q` is a live queue the caller passed.
            unsafe { dispatch_retain(q) };
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = mpsc::channel();
        self.active.store(id, Ordering::Release);
        self.lock().registration = Some(Registration {
            stop: Some(stop_tx),
            done: done_rx,
        });
        let state = self.clone();
        runtime().spawn(async move {
            state.run(store, notifications, mode, id, stop_rx).await;
            let _ = done_tx.send(());
        });
        Ok(())
    }

    /// Stops the registration, if any: deferred callouts are disabled, the task destroys the
    /// notify port and sends `notifycancel`, and (unless called from inside this store's
    /// callout) a running callout is waited for. Returns promptly: no poll interval.
    pub(crate) fn stop(&self, store: StorePtr) {
        self.active.store(0, Ordering::Release);
        let Some(mut reg) = self.lock().registration.take() else {
            return;
        };
        if let Some(tx) = reg.stop.take() {
            let _ = tx.send(());
        }
        let _ = reg.done.recv();
        let inside = IN_CALLOUT.with(|c| std::ptr::eq(c.get(), store.0));
        if !inside {
            drop(self.callout.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    async fn run(
        self: Arc<Self>,
        store: StorePtr,
        mut notifications: Notifications,
        mode: Mode,
        id: u64,
        mut stop: oneshot::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                item = notifications.next() => match item {
                    Some(Ok(batch)) => match mode {
                        Mode::Dispatch(q) => {
                            let (tx, rx) = oneshot::channel();
                            self.dispatch(store, q, batch.into_keys(), id, tx);
                            tokio::select! {
                                biased;
                                _ = &mut stop => break,
                                _ = rx => {}
                            }
                        }
                        Mode::RunLoop => self.signal_run_loop(store, batch.into_keys()),
                    },
                    Some(Err(e)) => tracing::warn!(error = %e, "SCDynamicStore notifications"),
                    None => break,
                },
            }
        }
        notifications.close().await;
        if let Mode::Dispatch(q) = mode {
            // SAFETY: the registration's own reference, taken in `start`.
            unsafe { dispatch_release(q) };
        }
        // SAFETY: the registration's reference, taken in `start`. This may finalize the store
        // (the finalizer calls `__SCDynamicStoreNotifyCancel`, which takes no lock held here).
        unsafe { CFRelease(store.0 as CFTypeRef) };
    }

    /// Queues one callout on `queue`, holding the store and the state until it ran.
    fn dispatch(
        self: &Arc<Self>,
        store: StorePtr,
        queue: dispatch_queue_t,
        keys: Vec<String>,
        id: u64,
        done: oneshot::Sender<()>,
    ) {
        // SAFETY: the registration holds the store; the callout takes its own reference.
        unsafe { CFRetain(store.0 as CFTypeRef) };
        let ctx = Box::new(Callout {
            state: self.clone(),
            store,
            keys,
            id,
            done: Some(done),
        });
        // SAFETY: `queue` is retained by the registration; the trampoline takes the box back.
        unsafe { dispatch_async_f(queue, Box::into_raw(ctx) as *mut c_void, callout_trampoline) };
    }

    fn signal_run_loop(&self, store: StorePtr, batch: Vec<String>) {
        let mut l = self.lock();
        if batch.is_empty() {
            l.stash.empty_signal = true;
        }
        for k in batch {
            if l.stash.seen.insert(k.clone()) {
                l.stash.keys.push(k);
            }
        }
        // SAFETY: the store is retained by the registration; fields read under the lock.
        let (rls, rl) = unsafe {
            let f = store.fields();
            (f.rls, f.rlsRunLoop)
        };
        drop(l);
        if !rls.is_null() {
            // SAFETY: the store owns a reference to its source.
            unsafe { CFRunLoopSourceSignal(rls) };
        }
        if !rl.is_null() {
            // SAFETY: the run loop the source was last scheduled in (NextBSD's behaviour).
            unsafe { CFRunLoopWakeUp(rl) };
        }
    }

    /// The run loop's perform callback: delivers the stash.
    pub(crate) fn perform(&self, store: StorePtr) {
        let _serial = self.callout.lock().unwrap_or_else(|p| p.into_inner());
        let (keys, signal, status) = {
            let mut l = self.lock();
            let stash = std::mem::take(&mut l.stash);
            // SAFETY: the store is alive during its source's perform; read under the lock.
            let status = unsafe { store.fields().notifyStatus };
            (stash.keys, stash.empty_signal, status)
        };
        if status != notify_status::RUN_LOOP || (keys.is_empty() && !signal) {
            return;
        }
        let disconnect = self.lock().disconnect;
        // SAFETY: the store is alive; the callout contract of spec §2.3.
        unsafe { invoke_callout(store, &keys, disconnect) };
    }
}

/// Writes a new session port into the store's `server` and releases the old (dead) one.
fn replace_server(space: &Space, store: StorePtr, fresh: SendRight) {
    let old = store.server().swap(fresh.into_raw(), Ordering::AcqRel);
    if old != 0 {
        // SAFETY: the store's reference on its old session port, replaced above.
        drop(unsafe { SendRight::from_raw_in(space, old) });
    }
}

struct Callout {
    state: Arc<StoreState>,
    store: StorePtr,
    keys: Vec<String>,
    id: u64,
    done: Option<oneshot::Sender<()>>,
}

/// Runs on the caller's queue: the callout, unless the registration was cancelled meanwhile.
unsafe extern "C" fn callout_trampoline(ctx: *mut c_void) {
    // SAFETY: `ctx` is the box leaked by `StoreState::dispatch`, delivered exactly once.
    let mut ctx = unsafe { Box::from_raw(ctx as *mut Callout) };
    {
        let _serial = ctx.state.callout.lock().unwrap_or_else(|p| p.into_inner());
        let live = ctx.state.active.load(Ordering::Acquire) == ctx.id && {
            let _l = ctx.state.lock();
            // SAFETY: the callout holds a reference on the store; read under the lock.
            unsafe { ctx.store.fields().notifyStatus == notify_status::DISPATCH }
        };
        if live {
            let disconnect = ctx.state.lock().disconnect;
            // SAFETY: the store is retained by this callout.
            unsafe { invoke_callout(ctx.store, &ctx.keys, disconnect) };
        }
        // Released while still serialized, so that a cancel that waited for this callout also
        // sees its store reference gone (releasing the store right after the cancel then
        // finalizes it at once). The finalizer cannot reach `stop` (nothing is registered).
        // SAFETY: the callout's own reference, taken in `dispatch`.
        unsafe { CFRelease(ctx.store.0 as CFTypeRef) };
    }
    if let Some(done) = ctx.done.take() {
        let _ = done.send(());
    }
}

/// Builds the `changedKeys` array and calls `rlsFunction` with the context rules of spec §2.3:
/// with `retain` set, `retain(info)` → callout → `release(info)`; otherwise `info` as is. The
/// array is released right after the callout. An empty array is delivered only as the reconnect
/// signal (callers filter ordinary empty batches); before it, the disconnect callback set with
/// `SCDynamicStoreSetDisconnectCallBack` (if any) is called with the store and its context
/// `info` (same retain/release rule), on the same queue or run loop, serialized with callouts.
///
/// # Safety
/// The store must be alive for the duration of the call.
unsafe fn invoke_callout(
    store: StorePtr,
    keys: &[String],
    disconnect: SCDynamicStoreDisconnectCallBack,
) {
    // SAFETY: per the contract; these fields are immutable after SCDynamicStoreCreate.
    let (func, retain, release, info) = unsafe {
        let f = &*store.0;
        (
            f.rlsFunction,
            f.rlsContext.retain,
            f.rlsContext.release,
            f.rlsContext.info,
        )
    };
    if let (true, Some(on_disconnect)) = (keys.is_empty(), disconnect) {
        IN_CALLOUT.with(|c| c.set(store.0));
        // SAFETY: the user's disconnect callback and context functions (Apple's contract:
        // `retain(info)` → callback → `release(info)` when retain is set).
        unsafe {
            match retain {
                Some(r) => {
                    let held = r(info) as *mut c_void;
                    on_disconnect(store.0, held);
                    if let Some(rel) = release {
                        rel(held);
                    }
                }
                None => on_disconnect(store.0, info),
            }
        }
        IN_CALLOUT.with(|c| c.set(std::ptr::null()));
    }
    let Some(func) = func else { return };
    // SAFETY: CF calls on valid arguments.
    let array = unsafe { keys_to_array(keys) };
    if array.is_null() {
        return;
    }
    IN_CALLOUT.with(|c| c.set(store.0));
    // SAFETY: the user's callback and context functions, as SCDynamicStore documents them.
    unsafe {
        match retain {
            Some(r) => {
                let held = r(info) as *mut c_void;
                func(store.0, array, held);
                if let Some(rel) = release {
                    rel(held);
                }
            }
            None => func(store.0, array, info),
        }
    }
    IN_CALLOUT.with(|c| c.set(std::ptr::null()));
    // SAFETY: the array created above; valid only during the callout.
    unsafe { CFRelease(array) };
}

/// A new mutable CFArray of CFStrings; keys that do not convert are skipped. NULL if the array
/// cannot be allocated.
///
/// # Safety
/// Plain CF calls; always safe to call with the host's CF.
pub(crate) unsafe fn keys_to_array(keys: &[String]) -> CFMutableArrayRef {
    // SAFETY: CF's documented calls; `kCFTypeArrayCallBacks` is the host's static.
    unsafe {
        let array = CFArrayCreateMutable(std::ptr::null(), 0, &kCFTypeArrayCallBacks);
        if array.is_null() {
            return array;
        }
        for k in keys {
            let s = CFStringCreateWithBytes(
                std::ptr::null(),
                k.as_ptr(),
                k.len() as CFIndex,
                kCFStringEncodingUTF8,
                0,
            );
            if !s.is_null() {
                CFArrayAppendValue(array, s);
                CFRelease(s);
            }
        }
        array
    }
}
