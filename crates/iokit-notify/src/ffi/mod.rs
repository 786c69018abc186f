//! The C ABI of NextBSD's `IOKitNotify.c` (spec `iokit-notify.md` §2), over [`NotificationPort`].
//!
//! Exports exactly the five functions `IOKitNotify.c` exports, with its prototypes, return codes
//! and ownership rules, and imports only what spec §3 lists from the host library (libIOKit's
//! private `__io_*` helpers, `IOObjectRelease`, `CFRelease`, and `dispatch_retain`,
//! `dispatch_release`, `dispatch_async_f`).
//!
//! # Threads
//! Every port runs on one lazily started, process-wide event thread (a current-thread tokio
//! runtime): N ports cost one thread, not N. Without a dispatch queue, callbacks run inline on
//! that thread in the middle of the drain; with one, each callback is a `dispatch_async_f`.
//!
//! # Fixes over the C (spec §6) that keep its contract
//! * one receive right per watch in the port's set, so overlapping watches fire once each and
//!   the driver criterion works (#1, #2, #6); `IONotificationPortGetMachPort` returns the set;
//! * exactly-once snapshot/stream (#3), untruncated snapshots (#4), empty terminate snapshots
//!   (#8), only kinds 1/2/4 (#9), a type-string table with `kIOReturnBadArgument` for unknown
//!   types (#10), rollback and errno mapping (#11), §5 parsing (#12);
//! * `IONotificationPortDestroy` really releases the set and every watch port (#7), returns at
//!   once, and no callback starts after it returned — neither inline nor from a bundle already
//!   queued on the dispatch queue, which skips the callback and only releases the iterator (#14).
//!
//! Every export runs under `guard` (`catch_unwind`): a panic (a bug here) never crosses the C
//! boundary; it is answered with NULL (`IONotificationPortCreate`), `MACH_PORT_NULL`,
//! `kIOReturnError` (`IOServiceAddMatchingNotification`, after releasing `matching`) or
//! nothing.

#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mach_abi::{
    kern_return_t, mach_port_t, KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE, KERN_SUCCESS,
};
use mach_async::Space;
use tokio::runtime::Handle;

use crate::criteria::Criteria;
use crate::event::{DeviceEvent, EventKinds};
use crate::port::{Error as WatchError, NotificationPort, Offer, Sink, WatchEvent};
use crate::registry::{RegistryBackend, RegistryError};
use crate::registry_abi::{
    ioreg_criteria, ioreg_node, ioreg_test_event, ioreg_watch_reg, IOREG_NAME_MAX,
};

#[cfg(mach_backend = "sim")]
pub mod sim;

/// Runs an exported function's body so that no panic crosses the C boundary (a panic there
/// would abort the host process): a panic (a bug in this library) is printed by the panic hook
/// and answered with `fallback` (each export documents it).
pub(crate) fn guard<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(fallback)
}

// ---- C types --------------------------------------------------------------------------------

/// The host library's client-side object (`struct __IOObject`); opaque here.
// Not repr(C) on purpose: cbindgen declares it as an incomplete type, which the host defines.
pub struct __IOObject {
    _private: [u8; 0],
}

/// A registry object: an entry or an iterator (`struct __IOObject *`; `IO_OBJECT_NULL` is 0).
pub type io_object_t = *mut __IOObject;
/// An iterator over registry entries.
pub type io_iterator_t = io_object_t;
/// A registry entry that is a service.
pub type io_service_t = io_object_t;
/// A registry name (`char[128]`; decays to `const char *` as a parameter).
pub type io_name_t = [c_char; 128];
/// IOKit's return type (`int`).
pub type IOReturn = kern_return_t;

/// libdispatch's queue object; opaque.
// Not repr(C) on purpose: cbindgen declares it as an incomplete type, which the host defines.
pub struct dispatch_queue_s {
    _private: [u8; 0],
}
/// A dispatch queue.
pub type dispatch_queue_t = *mut dispatch_queue_s;

/// CoreFoundation's dictionary object; opaque.
// Not repr(C) on purpose: cbindgen declares it as an incomplete type, which the host defines.
pub struct __CFDictionary {
    _private: [u8; 0],
}
/// A matching dictionary.
pub type CFDictionaryRef = *const __CFDictionary;

/// A matching callback: `refcon` as given, and a one-entry iterator owned by the library (the
/// callback must not release it; it may retain it to keep it longer).
pub type IOServiceMatchingCallback =
    Option<unsafe extern "C" fn(refcon: *mut c_void, iterator: io_iterator_t)>;

/// A notification port (opaque).
pub struct IONotificationPort {
    port: NotificationPort,
    state: Arc<CallbackState>,
}

/// A reference to a notification port.
pub type IONotificationPortRef = *mut IONotificationPort;

// ---- return codes (NextBSD's values: no 0xe0000000 prefix) ----------------------------------

/// General error.
pub const kIOReturnError: IOReturn = 0x2bc;
/// No such device (no `/dev/ioregistry`).
pub const kIOReturnNoDevice: IOReturn = 0x2c0;
/// Unsupported function (`ENOTTY` / `ENOSYS`); not in NextBSD's header before this library.
pub const kIOReturnUnsupported: IOReturn = 0x2c7;
/// Invalid argument.
pub const kIOReturnBadArgument: IOReturn = 0x2c9;
/// Data was not found.
pub const kIOReturnNotFound: IOReturn = 0x2f0;

// ---- imports from the host library (spec §3) --------------------------------------------------

/// libIOKit's `struct io_criteria` (96 bytes).
#[repr(C)]
struct io_criteria {
    name: [c_char; 32],
    klass: [c_char; 32],
    driver: [c_char; 32],
}

const _: () = assert!(std::mem::size_of::<io_criteria>() == 96);

// The opaque types are incomplete in C too; only pointers to them cross the boundary.
#[allow(improper_ctypes)]
extern "C" {
    fn __io_ioregistry_fd() -> c_int;
    fn __io_alloc_iterator(ids: *mut u64, n: u32) -> io_object_t;
    fn __io_extract_criteria(matching: CFDictionaryRef, out: *mut io_criteria);
    fn IOObjectRelease(object: io_object_t) -> kern_return_t;
    fn CFRelease(cf: *const c_void);
    fn dispatch_retain(object: *mut c_void);
    fn dispatch_release(object: *mut c_void);
    fn dispatch_async_f(
        queue: dispatch_queue_t,
        context: *mut c_void,
        work: unsafe extern "C" fn(*mut c_void),
    );
}

// ---- the event thread ---------------------------------------------------------------------------

/// The process-wide event thread's runtime, started on first use; `None` if it cannot start.
fn event_runtime() -> Option<&'static Handle> {
    static RUNTIME: OnceLock<Option<Handle>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            // MACH_ASYNC_LOG=<filter> shows this library's tracing events on stderr.
            mach_async::diagnostics::init_from_env(None);
            let (tx, rx) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("iokit-notify-events".into())
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(_) => {
                            let _ = tx.send(None);
                            return;
                        }
                    };
                    let _ = tx.send(Some(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                });
            spawned.ok()?;
            rx.recv().ok().flatten()
        })
        .as_ref()
}

// ---- the registry, as the host library opens it ------------------------------------------------

/// The registry behind `__io_ioregistry_fd()`: absent when the host reports no device.
struct HostRegistry {
    #[cfg(mach_backend = "sim")]
    sim: crate::registry::SimRegistryHandle,
}

impl HostRegistry {
    fn new(space: &Space) -> HostRegistry {
        #[cfg(mach_backend = "sim")]
        {
            HostRegistry {
                sim: crate::registry::SimRegistry::global().open(space.task()),
            }
        }
        #[cfg(not(mach_backend = "sim"))]
        {
            let _ = space;
            HostRegistry {}
        }
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&dyn RegistryBackend) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        // SAFETY: a host-library call without arguments; it opens the device once.
        let fd = unsafe { __io_ioregistry_fd() };
        if fd < 0 {
            return Err(RegistryError::NoDevice);
        }
        #[cfg(mach_backend = "sim")]
        {
            f(&self.sim)
        }
        #[cfg(not(mach_backend = "sim"))]
        {
            f(&crate::registry::DevIoRegistry::from_process_fd(fd))
        }
    }
}

impl RegistryBackend for HostRegistry {
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError> {
        self.with(|r| r.watch(reg))
    }
    fn lookup(
        &self,
        criteria: &ioreg_criteria,
        matches: &mut [u64],
    ) -> Result<usize, RegistryError> {
        self.with(|r| r.lookup(criteria, matches))
    }
    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        self.with(|r| r.node(id))
    }
    fn test_event(&self, event: &ioreg_test_event) -> Result<(), RegistryError> {
        self.with(|r| r.test_event(event))
    }
}

// ---- callbacks ----------------------------------------------------------------------------------

/// What the event thread and queued bundles share with the port.
struct CallbackState {
    /// The callback queue (`dispatch_queue_t`, retained), or null for inline delivery.
    queue: Mutex<QueuePtr>,
    /// Set by `IONotificationPortDestroy` before it returns; checked before every callback.
    destroyed: AtomicBool,
}

#[derive(Clone, Copy)]
struct QueuePtr(dispatch_queue_t);
// SAFETY: a dispatch queue may be used from any thread; the pointer is only passed to
// libdispatch calls.
unsafe impl Send for QueuePtr {}

#[derive(Clone, Copy)]
struct Refcon(*mut c_void);
// SAFETY: the caller's refcon is handed back to its callback unchanged, as the C library does;
// the caller guarantees it is usable from the callback's thread.
unsafe impl Send for Refcon {}

type Callback = unsafe extern "C" fn(*mut c_void, io_iterator_t);

/// One watch's callbacks queued on a dispatch queue and not yet run: at most the port's
/// `watch_capacity` events plus one resync (spec §6 #16). On overflow the driver re-reads the
/// registry and [`CallbackState::deliver_resync`] makes every queued event stale (a newer
/// generation) and queues one resync bundle that reports the current set.
#[derive(Default)]
struct Backlog {
    /// Bundles queued and not yet run.
    pending: AtomicUsize,
    /// Bumped by every resync; an event bundle of an older generation skips its callback.
    generation: AtomicU64,
    /// The latest resync's ids, taken by the resync bundle when it runs.
    resync_ids: Mutex<Option<Vec<u64>>>,
    /// A resync bundle is queued and has not started.
    resync_queued: AtomicBool,
    /// Devices whose arrival the callback was told of (pruned to the present set at each
    /// resync), so that a resync reports only what the callback has not seen: every device is
    /// reported once, however many resyncs the flood causes.
    reported: Mutex<std::collections::HashSet<u64>>,
}

impl Backlog {
    /// Records that the callback saw `event` (an arrival or match is remembered).
    fn saw(&self, event: &DeviceEvent) {
        if event.kind != crate::EventKind::Depart {
            self.reported
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(event.id);
        }
    }

    /// Forgets a departed device (a departure the watch did not ask for, seen for bookkeeping),
    /// so that `reported` holds present devices only.
    fn forget(&self, id: u64) {
        self.reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The part of the resync set `ids` the callback has not seen yet, now marked seen;
    /// forgets devices that are no longer present.
    fn unseen(&self, ids: &[u64]) -> Vec<u64> {
        let present: std::collections::HashSet<u64> = ids.iter().copied().collect();
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        reported.retain(|id| present.contains(id));
        ids.iter()
            .copied()
            .filter(|id| reported.insert(*id))
            .collect()
    }
}

/// What a queued bundle delivers.
enum BundleKind {
    /// One event's one-entry iterator, unless its generation is stale by then.
    Event {
        iterator: io_iterator_t,
        generation: u64,
        event: DeviceEvent,
    },
    /// The latest resync's set, read when the bundle runs.
    Resync,
}

/// One queued callback: what `dispatch_async_f` carries.
struct Bundle {
    state: Arc<CallbackState>,
    backlog: Arc<Backlog>,
    callback: Callback,
    refcon: Refcon,
    kind: BundleKind,
}

/// Runs a queued callback on the caller's queue, unless the port was destroyed (or, for an
/// event, a resync made it stale) meanwhile; then releases the iterator (the library owns it).
unsafe extern "C" fn run_bundle(context: *mut c_void) {
    // SAFETY: `context` is the Box<Bundle> leaked by `queue_bundle`, passed here exactly once.
    let bundle = unsafe { Box::from_raw(context.cast::<Bundle>()) };
    bundle.backlog.pending.fetch_sub(1, Ordering::SeqCst);
    let destroyed = bundle.state.destroyed.load(Ordering::SeqCst);
    match bundle.kind {
        BundleKind::Event {
            iterator,
            generation,
            ref event,
        } => {
            let current = bundle.backlog.generation.load(Ordering::SeqCst) == generation;
            if !destroyed && current {
                bundle.backlog.saw(event);
                // SAFETY: the caller's callback with its own refcon and a live iterator.
                unsafe { (bundle.callback)(bundle.refcon.0, iterator) };
            }
            // SAFETY: the iterator was created for this callback and is released exactly once.
            unsafe { IOObjectRelease(iterator) };
        }
        BundleKind::Resync => {
            bundle.backlog.resync_queued.store(false, Ordering::SeqCst);
            let ids = bundle
                .backlog
                .resync_ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let (false, Some(ids)) = (destroyed, ids) {
                let unseen = bundle.backlog.unseen(&ids);
                // SAFETY: the caller's callback and refcon.
                unsafe { call_with_set(bundle.callback, bundle.refcon, &unseen) };
            }
        }
    }
}

/// Calls `callback` once with an iterator over `ids` (nothing for an empty set), then releases
/// the iterator.
///
/// # Safety
/// `callback` and `refcon` are the caller's, callable on this thread.
unsafe fn call_with_set(callback: Callback, refcon: Refcon, ids: &[u64]) {
    if ids.is_empty() {
        return;
    }
    let Ok(count) = u32::try_from(ids.len()) else {
        return;
    };
    // SAFETY: malloc for a buffer the host frees (with the iterator, or on its failure).
    let buf = unsafe { libc::malloc(std::mem::size_of_val(ids)) }.cast::<u64>();
    if buf.is_null() {
        tracing::warn!("iokit-notify: out of memory; resync set dropped");
        return;
    }
    // SAFETY: `buf` has room for `ids.len()` u64s; the host takes ownership of it.
    let iterator = unsafe {
        ptr::copy_nonoverlapping(ids.as_ptr(), buf, ids.len());
        __io_alloc_iterator(buf, count)
    };
    if iterator.is_null() {
        return;
    }
    // SAFETY: the caller's callback with its refcon and a live iterator, released after.
    unsafe {
        callback(refcon.0, iterator);
        IOObjectRelease(iterator);
    }
}

impl CallbackState {
    /// The callback queue, retained (null for inline delivery). The caller releases it.
    fn retained_queue(&self) -> dispatch_queue_t {
        let guard = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if !guard.0.is_null() {
            // SAFETY: the port holds a reference to this queue while it is set.
            unsafe { dispatch_retain(guard.0.cast()) };
        }
        guard.0
    }

    /// Queues `kind` on the retained `queue` and releases the queue.
    fn queue_bundle(
        self: &Arc<Self>,
        queue: dispatch_queue_t,
        backlog: &Arc<Backlog>,
        callback: Callback,
        refcon: Refcon,
        kind: BundleKind,
    ) {
        backlog.pending.fetch_add(1, Ordering::SeqCst);
        let bundle = Box::new(Bundle {
            state: Arc::clone(self),
            backlog: Arc::clone(backlog),
            callback,
            refcon,
            kind,
        });
        // SAFETY: `queue` is retained; the bundle is consumed by run_bundle exactly once.
        unsafe {
            dispatch_async_f(queue, Box::into_raw(bundle).cast(), run_bundle);
            dispatch_release(queue.cast());
        }
    }

    /// Fires `callback` for one event: a fresh one-entry iterator, inline or on the queue.
    /// [`Offer::Full`] (nothing queued) when the watch already has `capacity` callbacks queued.
    fn deliver(
        self: &Arc<Self>,
        callback: Callback,
        refcon: Refcon,
        event: &DeviceEvent,
        backlog: &Arc<Backlog>,
        capacity: usize,
    ) -> Offer {
        if self.destroyed.load(Ordering::SeqCst) {
            return Offer::Taken;
        }
        // The queue is read once per callback; retained so a concurrent swap cannot free it.
        let queue = self.retained_queue();
        if !queue.is_null() && backlog.pending.load(Ordering::SeqCst) >= capacity {
            // SAFETY: the reference taken by retained_queue.
            unsafe { dispatch_release(queue.cast()) };
            return Offer::Full;
        }
        // SAFETY: malloc of 8 bytes; the host frees it with the iterator (spec §3 rule: never
        // Rust's allocator for what C frees).
        let ids = unsafe { libc::malloc(std::mem::size_of::<u64>()) }.cast::<u64>();
        let iterator = if ids.is_null() {
            ptr::null_mut()
        } else {
            // SAFETY: `ids` points to 8 writable bytes; __io_alloc_iterator takes ownership of
            // them, even when it fails.
            unsafe {
                ids.write(event.id);
                __io_alloc_iterator(ids, 1)
            }
        };
        if iterator.is_null() {
            tracing::warn!(id = event.id, "iokit-notify: out of memory; event dropped");
            if !queue.is_null() {
                // SAFETY: the reference taken by retained_queue.
                unsafe { dispatch_release(queue.cast()) };
            }
            return Offer::Taken;
        }
        if queue.is_null() {
            backlog.saw(event);
            // SAFETY: the caller's callback with its refcon and a live iterator, which the
            // library releases right after (the callback must not).
            unsafe {
                callback(refcon.0, iterator);
                IOObjectRelease(iterator);
            }
            return Offer::Taken;
        }
        let generation = backlog.generation.load(Ordering::SeqCst);
        self.queue_bundle(
            queue,
            backlog,
            callback,
            refcon,
            BundleKind::Event {
                iterator,
                generation,
                event: event.clone(),
            },
        );
        Offer::Taken
    }

    /// After an overflow: every queued event of this watch goes stale, and the callback sees the
    /// devices of the set present now (`ids`) that it was not told of yet, in one iterator:
    /// inline at once, or from one resync bundle (queued unless one is already waiting, which
    /// then reports this newer set). A departure-only watch's set is empty: departures dropped
    /// by an overflow are not reported (the registry keeps no record of them).
    fn deliver_resync(
        self: &Arc<Self>,
        callback: Callback,
        refcon: Refcon,
        ids: Vec<u64>,
        backlog: &Arc<Backlog>,
    ) {
        backlog.generation.fetch_add(1, Ordering::SeqCst);
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        let queue = self.retained_queue();
        if queue.is_null() {
            let unseen = backlog.unseen(&ids);
            // SAFETY: the caller's callback and refcon, on the event thread.
            unsafe { call_with_set(callback, refcon, &unseen) };
            return;
        }
        *backlog.resync_ids.lock().unwrap_or_else(|e| e.into_inner()) = Some(ids);
        if backlog.resync_queued.swap(true, Ordering::SeqCst) {
            // SAFETY: the reference taken by retained_queue; a resync bundle is waiting.
            unsafe { dispatch_release(queue.cast()) };
            return;
        }
        self.queue_bundle(queue, backlog, callback, refcon, BundleKind::Resync);
    }
}

// ---- notification types -------------------------------------------------------------------------

/// The notification type strings this library accepts (spec §6 #10).
fn kinds_for_type(notification_type: &CStr) -> Option<EventKinds> {
    match notification_type.to_bytes() {
        b"IOServicePublish"
        | b"IOServiceFirstPublish"
        | b"IOServiceMatched"
        | b"IOServiceFirstMatch" => Some(EventKinds::ARRIVE),
        b"IOServiceTerminate" | b"IOServiceWillTerminate" => Some(EventKinds::DEPART),
        _ => None,
    }
}

fn criteria_from_host(c: &io_criteria) -> Criteria {
    let text = |field: &[c_char; 32]| {
        let mut bytes = [0u8; IOREG_NAME_MAX];
        for (b, c) in bytes.iter_mut().zip(field) {
            *b = *c as u8;
        }
        let s = crate::registry_abi::decode_name(&bytes);
        (!s.is_empty()).then_some(s)
    };
    let mut criteria = Criteria::all();
    if let Some(name) = text(&c.name) {
        criteria = criteria.name(name);
    }
    if let Some(class) = text(&c.klass) {
        criteria = criteria.class(class);
    }
    if let Some(driver) = text(&c.driver) {
        criteria = criteria.driver(driver);
    }
    criteria
}

fn watch_error_code(e: &WatchError) -> kern_return_t {
    match e {
        WatchError::Criteria(_) | WatchError::NoKinds => kIOReturnBadArgument,
        WatchError::Registry(RegistryError::NoDevice) => kIOReturnNoDevice,
        WatchError::Registry(RegistryError::InvalidArgument) => kIOReturnBadArgument,
        WatchError::Registry(RegistryError::Unsupported(_)) => kIOReturnUnsupported,
        WatchError::Registry(_) => kIOReturnError,
        WatchError::Mach(_) => KERN_RESOURCE_SHORTAGE,
        WatchError::Closed | WatchError::NoRuntime => kIOReturnError,
    }
}

/// Releases the caller's `matching` reference exactly once, whatever path is taken.
struct Consumed(CFDictionaryRef);

impl Drop for Consumed {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the caller passed one reference, which this function consumes.
            unsafe { CFRelease(self.0.cast()) };
        }
    }
}

// ---- the five exports ---------------------------------------------------------------------------

/// Creates a notification port; `mainPort` is ignored. NULL on failure.
///
/// # Safety
/// None beyond the C contract; callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn IONotificationPortCreate(mainPort: mach_port_t) -> IONotificationPortRef {
    guard(ptr::null_mut(), || {
        let _ = mainPort;
        let Some(runtime) = event_runtime() else {
            return ptr::null_mut();
        };
        let space = Space::current();
        let port = NotificationPort::builder(&space)
            .registry(HostRegistry::new(&space))
            .runtime(runtime.clone())
            .build();
        match port {
            Ok(port) => {
                let state = Arc::new(CallbackState {
                    queue: Mutex::new(QueuePtr(ptr::null_mut())),
                    destroyed: AtomicBool::new(false),
                });
                Box::into_raw(Box::new(IONotificationPort { port, state }))
            }
            Err(e) => {
                tracing::warn!(error = %e, "IONotificationPortCreate failed");
                ptr::null_mut()
            }
        }
    })
}

/// Destroys a port: returns at once; no callback starts after it returned (callbacks already
/// running finish; bundles already on the dispatch queue skip the callback). The set, every
/// watch port and their queued messages are released by the event thread; the kernel retires
/// the watches at its next emission. NULL is a no-op; calling it twice is undefined.
///
/// # Safety
/// `notify` is NULL or a port from [`IONotificationPortCreate`] not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn IONotificationPortDestroy(notify: IONotificationPortRef) {
    guard((), || {
        if notify.is_null() {
            return;
        }
        // SAFETY: per the contract, `notify` came from Box::into_raw in Create and is live.
        let port = unsafe { Box::from_raw(notify) };
        port.state.destroyed.store(true, Ordering::SeqCst);
        port.port.shutdown();
        let old = {
            let mut guard = port.state.queue.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *guard, QueuePtr(ptr::null_mut()))
        };
        if !old.0.is_null() {
            // SAFETY: the reference SetDispatchQueue took.
            unsafe { dispatch_release(old.0.cast()) };
        }
    })
}

/// Sets the queue callbacks run on (retained); NULL goes back to inline delivery on the event
/// thread. The queue is read once per callback.
///
/// # Safety
/// `notify` is NULL or a live port; `queue` is NULL or a live dispatch queue.
#[no_mangle]
pub unsafe extern "C" fn IONotificationPortSetDispatchQueue(
    notify: IONotificationPortRef,
    queue: dispatch_queue_t,
) {
    guard((), || {
        // SAFETY: per the contract, a non-null `notify` is live.
        let Some(port) = (unsafe { notify.as_ref() }) else {
            return;
        };
        if !queue.is_null() {
            // SAFETY: the caller's live queue; the port keeps this reference.
            unsafe { dispatch_retain(queue.cast()) };
        }
        let old = {
            let mut guard = port.state.queue.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *guard, QueuePtr(queue))
        };
        if !old.0.is_null() {
            // SAFETY: the reference taken when `old` was set; released after unlocking.
            unsafe { dispatch_release(old.0.cast()) };
        }
    })
}

/// The port's receive-side name: the port set every watch's port belongs to. Never receive on
/// it (that steals events) and never release it. `MACH_PORT_NULL` for NULL.
///
/// # Safety
/// `notify` is NULL or a live port.
#[no_mangle]
pub unsafe extern "C" fn IONotificationPortGetMachPort(
    notify: IONotificationPortRef,
) -> mach_port_t {
    guard(0, || {
        // SAFETY: per the contract, a non-null `notify` is live.
        match unsafe { notify.as_ref() } {
            Some(port) => port.port.set_name(),
            None => 0,
        }
    })
}

/// Adds a matching notification. `matching` is consumed (one `CFRelease`) on every path.
///
/// Types: `IOServicePublish`, `IOServiceFirstPublish`, `IOServiceMatched`, `IOServiceFirstMatch`
/// report arrivals; `IOServiceTerminate`, `IOServiceWillTerminate` departures; anything else is
/// `kIOReturnBadArgument`. On success `*notification` is a snapshot iterator the caller owns:
/// the devices that match now (all of them; empty for departures). Releasing it does not cancel.
///
/// Returns `KERN_INVALID_ARGUMENT` for a NULL argument, `kIOReturnNoDevice` without a registry,
/// `kIOReturnBadArgument` / `kIOReturnUnsupported` / `kIOReturnError` as the registry answers,
/// `KERN_RESOURCE_SHORTAGE` when memory or ports run out. On any error no watch remains.
///
/// # Safety
/// `notifyPort` is NULL or a live port; `notification_type` is NULL or a C string; `matching`
/// is NULL or a dictionary reference the call may release; `notification` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn IOServiceAddMatchingNotification(
    notifyPort: IONotificationPortRef,
    notification_type: *const c_char,
    matching: CFDictionaryRef,
    callback: IOServiceMatchingCallback,
    refCon: *mut c_void,
    notification: *mut io_iterator_t,
) -> kern_return_t {
    guard(kIOReturnError, || {
        let consumed = Consumed(matching);
        // SAFETY: per the contract, a non-null port is live.
        let Some(port) = (unsafe { notifyPort.as_ref() }) else {
            return KERN_INVALID_ARGUMENT;
        };
        let Some(callback) = callback else {
            return KERN_INVALID_ARGUMENT;
        };
        if notification_type.is_null() || matching.is_null() || notification.is_null() {
            return KERN_INVALID_ARGUMENT;
        }
        // SAFETY: a non-null C string per the contract.
        let notification_type = unsafe { CStr::from_ptr(notification_type) };
        let Some(kinds) = kinds_for_type(notification_type) else {
            return kIOReturnBadArgument;
        };
        let mut host_criteria = io_criteria {
            name: [0; 32],
            klass: [0; 32],
            driver: [0; 32],
        };
        // SAFETY: a live dictionary and a writable io_criteria.
        unsafe { __io_extract_criteria(matching, &mut host_criteria) };
        drop(consumed);
        let criteria = criteria_from_host(&host_criteria);

        let state = Arc::clone(&port.state);
        let refcon = Refcon(refCon);
        let backlog = Arc::new(Backlog::default());
        let capacity = port.port.watch_capacity();
        let sink = Sink::Callback(Box::new(move |item: WatchEvent| match item {
            // Bookkeeping only: a departure seen by an arrival watch.
            WatchEvent::Device(event) if !kinds.contains(event.kind) => {
                if event.kind == crate::EventKind::Depart {
                    backlog.forget(event.id);
                }
                Offer::Taken
            }
            WatchEvent::Device(event) => {
                state.deliver(callback, refcon, &event, &backlog, capacity)
            }
            WatchEvent::Resynced(snapshot) => {
                state.deliver_resync(callback, refcon, snapshot.into_ids(), &backlog);
                Offer::Taken
            }
        }));
        let (snapshot, watch) = match port.port.add(&criteria, kinds, sink) {
            Ok((snapshot, watch, _)) => (snapshot, watch),
            Err(e) => return watch_error_code(&e),
        };
        let ids = snapshot.ids();
        let Ok(count) = u32::try_from(ids.len()) else {
            port.port.remove(watch);
            return KERN_RESOURCE_SHORTAGE;
        };
        // SAFETY: malloc for a buffer the host frees; at least one element so it is never NULL for
        // an empty snapshot.
        let buf =
            unsafe { libc::malloc(ids.len().max(1) * std::mem::size_of::<u64>()) }.cast::<u64>();
        if buf.is_null() {
            port.port.remove(watch);
            return KERN_RESOURCE_SHORTAGE;
        }
        // SAFETY: `buf` has room for `ids.len()` u64s; the host takes ownership of it, even on failure.
        let iterator = unsafe {
            ptr::copy_nonoverlapping(ids.as_ptr(), buf, ids.len());
            __io_alloc_iterator(buf, count)
        };
        if iterator.is_null() {
            port.port.remove(watch);
            return KERN_RESOURCE_SHORTAGE;
        }
        // SAFETY: a writable out-pointer per the contract.
        unsafe { notification.write(iterator) };
        KERN_SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: crate::EventKind, id: u64) -> DeviceEvent {
        DeviceEvent {
            kind,
            id,
            name: "em".into(),
            class: "em".into(),
            pci_vendor: 0,
            pci_device: 0,
        }
    }

    /// What a resync reports: the present devices the callback was not told of; what it keeps:
    /// present devices only (departures and resyncs prune it), so it does not grow with every
    /// arrival ever seen.
    #[test]
    fn the_backlog_reports_unseen_devices_once_and_holds_present_ones_only() {
        let b = Backlog::default();
        b.saw(&event(crate::EventKind::Arrive, 1));
        b.saw(&event(crate::EventKind::Arrive, 2));
        b.saw(&event(crate::EventKind::Depart, 3)); // departures are not "seen" arrivals
        b.forget(1);
        let held = |b: &Backlog| {
            let mut v: Vec<u64> = b.reported.lock().unwrap().iter().copied().collect();
            v.sort_unstable();
            v
        };
        assert_eq!(held(&b), [2]);
        assert_eq!(b.unseen(&[2, 3, 4]), [3, 4]);
        assert_eq!(
            b.unseen(&[2, 3, 4]),
            Vec::<u64>::new(),
            "a second resync repeats nothing"
        );
        assert_eq!(b.unseen(&[4, 5]), [5]);
        assert_eq!(held(&b), [4, 5], "devices gone at the resync are forgotten");
    }

    #[test]
    fn type_strings_map_through_the_table() {
        let k = |s: &CStr| kinds_for_type(s);
        assert_eq!(k(c"IOServicePublish"), Some(EventKinds::ARRIVE));
        assert_eq!(k(c"IOServiceFirstPublish"), Some(EventKinds::ARRIVE));
        assert_eq!(k(c"IOServiceMatched"), Some(EventKinds::ARRIVE));
        assert_eq!(k(c"IOServiceFirstMatch"), Some(EventKinds::ARRIVE));
        assert_eq!(k(c"IOServiceTerminate"), Some(EventKinds::DEPART));
        assert_eq!(k(c"IOServiceWillTerminate"), Some(EventKinds::DEPART));
        assert_eq!(k(c"IOServiceTerminated"), None);
        assert_eq!(k(c"ioservicepublish"), None);
        assert_eq!(k(c""), None);
    }

    #[test]
    fn registry_errors_map_to_nextbsd_codes() {
        let r = |e| watch_error_code(&WatchError::Registry(e));
        assert_eq!(r(RegistryError::NoDevice), 0x2c0);
        assert_eq!(r(RegistryError::InvalidArgument), 0x2c9);
        assert_eq!(r(RegistryError::Unsupported(libc::ENOTTY)), 0x2c7);
        assert_eq!(r(RegistryError::Unsupported(libc::ENOSYS)), 0x2c7);
        assert_eq!(r(RegistryError::Os(libc::EIO)), 0x2bc);
    }

    #[test]
    fn host_criteria_are_cut_at_31_and_empty_fields_are_unset() {
        let mut c = io_criteria {
            name: [0; 32],
            klass: [b'k' as c_char; 32],
            driver: [0; 32],
        };
        c.name[..2].copy_from_slice(&[b'e' as c_char, b'm' as c_char]);
        let criteria = criteria_from_host(&c);
        assert_eq!(criteria.name_criterion(), Some("em"));
        assert_eq!(criteria.class_criterion(), Some("k".repeat(31).as_str()));
        assert_eq!(criteria.driver_criterion(), None);
    }
}
