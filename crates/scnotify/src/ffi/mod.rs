//! The C ABI of NextBSD's `SCNotify.c` (spec §2), over the host library's `SCDynamicStorePrivate`.
//!
//! Same entry points, same `SCError()` codes on every failure path, same ownership rules, one
//! registration at a time (dispatch queue **or** run-loop source, enforced in both places). All
//! stores share one event thread; callouts reach the caller's queue through `dispatch_async_f`
//! and are never concurrent for one store. Differences from NextBSD, all deliberate:
//!
//! - server death is survived (spec §7): the session is reopened, the watch set cached by
//!   `SCDynamicStoreSetNotificationKeys` restored, the store's `server` field updated, and one
//!   callout with an empty `changedKeys` array tells the caller to re-read everything;
//! - `SCDynamicStoreSetDispatchQueue(store, NULL)` returns once the notify port is destroyed and
//!   `notifycancel` was sent; a callout that has not started by then never runs, and one that
//!   is running is waited for (unless the cancel comes from inside that very callout);
//! - scheduling the run-loop source while dispatch delivery is active (or the reverse) is
//!   refused (`kSCStatusNotifierActive`) instead of silently leaking the first registration;
//! - `__SCDynamicStoreNotifyCancel` also frees the crate's per-store state when nothing is
//!   registered (it is called from the store finalizer).
//!
//! Every export runs under `guard` (`catch_unwind`): a panic never crosses the C boundary; it
//! is reported as the function's failure value with SCError 1001.

pub mod host;
// Test support: built only where the kernel is the simulated one (embedded, or the shared
// libmach_sim.so of the Stage 4 demo).
#[cfg(any(mach_backend = "sim", mach_trap_so))]
pub mod sim;
mod state;

use host::*;
use state::{run_sync, StorePtr, StoreState};
use std::ffi::c_void;
use std::sync::atomic::Ordering;

use crate::store_messages::{Status, CONFIG_DATA_MAX};

/// Runs an exported function's body so that no panic crosses the C boundary (a panic there
/// would abort the host process): a panic (a bug in this library) is printed by the panic hook
/// and answered with `fallback` and SCError `kSCStatusFailed` (1001).
pub(crate) fn guard<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|_| {
        let _ = std::panic::catch_unwind(|| set_error(Status::FAILED.code()));
        fallback
    })
}

fn set_error(code: i32) {
    // SAFETY: the host's `_SCErrorSet` stores an int in thread-local storage.
    unsafe { _SCErrorSet(code) };
}

/// `isA_SCDynamicStore`: non-NULL and of the SCDynamicStore type.
///
/// # Safety
/// `store` is NULL or a valid CF object.
unsafe fn as_store(store: SCDynamicStoreRef) -> Option<StorePtr> {
    if store.is_null() {
        return None;
    }
    // SAFETY: a non-NULL CF object per the contract.
    let is_store = unsafe { CFGetTypeID(store as CFTypeRef) == SCDynamicStoreGetTypeID() };
    is_store.then_some(StorePtr(store as *mut SCDynamicStorePrivate))
}

/// Encodes one list with the host's `_SCEncodeKeyList` (NULL → empty).
///
/// # Safety
/// `array` is NULL or a valid CF object.
unsafe fn encode_list(array: CFArrayRef) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; CONFIG_DATA_MAX];
    let mut len = 0usize;
    // SAFETY: `buf` has room for `CONFIG_DATA_MAX` bytes; `len` is a valid out-pointer.
    let r = unsafe { _SCEncodeKeyList(array, buf.as_mut_ptr(), buf.len(), &mut len) };
    if r != 0 || len > buf.len() {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// `Boolean SCDynamicStoreSetNotificationKeys(SCDynamicStoreRef store, CFArrayRef keys,
/// CFArrayRef patterns)`: replaces the watched keys and POSIX-regex patterns (NULL = empty).
/// TRUE on success (SCError unchanged); FALSE with SCError 2001 (not a store), 2002 (no
/// server), 1002 (a list does not encode or exceeds 8192 bytes, or a bad regex), 1001 (RPC
/// failure) or the server's status. The lists are cached to restore them after a reconnect.
///
/// # Safety
/// `store` is NULL or a valid CF object; `keys` and `patterns` are NULL or valid CF objects.
#[no_mangle]
pub unsafe extern "C" fn SCDynamicStoreSetNotificationKeys(
    store: SCDynamicStoreRef,
    keys: CFArrayRef,
    patterns: CFArrayRef,
) -> Boolean {
    guard(0, || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            set_error(Status::NO_STORE_SESSION.code());
            return 0;
        };
        if store.server().load(Ordering::Acquire) == 0 {
            set_error(Status::NO_STORE_SERVER.code());
            return 0;
        }
        // SAFETY: per the contract.
        let (Some(k), Some(p)) = (unsafe { encode_list(keys) }, unsafe {
            encode_list(patterns)
        }) else {
            set_error(Status::INVALID_ARGUMENT.code());
            return 0;
        };
        let state = StoreState::get_or_create(store);
        let session = match state.session(store) {
            Ok(s) => s,
            Err(code) => {
                set_error(code);
                return 0;
            }
        };
        match run_sync(async move { session.set_notification_lists(k, p).await }) {
            Ok(()) => 1,
            Err(e) => {
                set_error(state::sc_code(&e));
                0
            }
        }
    })
}

/// `CFArrayRef SCDynamicStoreCopyNotifiedKeys(SCDynamicStoreRef store)`: the changed keys since
/// the last call (+1 mutable array of CFStrings, possibly empty; SCError set to 0), or NULL with
/// SCError 2001, 2002, 1001 or the server's status. Keys that are not UTF-8 are dropped.
///
/// # Safety
/// `store` is NULL or a valid CF object.
#[no_mangle]
pub unsafe extern "C" fn SCDynamicStoreCopyNotifiedKeys(store: SCDynamicStoreRef) -> CFArrayRef {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            set_error(Status::NO_STORE_SESSION.code());
            return std::ptr::null();
        };
        if store.server().load(Ordering::Acquire) == 0 {
            set_error(Status::NO_STORE_SERVER.code());
            return std::ptr::null();
        }
        let state = StoreState::get_or_create(store);
        let session = match state.session(store) {
            Ok(s) => s,
            Err(code) => {
                set_error(code);
                return std::ptr::null();
            }
        };
        match run_sync(async move { session.notified_keys().await }) {
            Ok(keys) => {
                // SAFETY: CF calls.
                let array = unsafe { state::keys_to_array(&keys) };
                if array.is_null() {
                    set_error(Status::FAILED.code());
                } else {
                    set_error(0);
                }
                array
            }
            Err(e) => {
                set_error(state::sc_code(&e));
                std::ptr::null()
            }
        }
    })
}

/// `Boolean SCDynamicStoreSetDispatchQueue(SCDynamicStoreRef store, dispatch_queue_t queue)`:
/// with a queue, starts delivery to it (the queue is retained; SCError 2003 if any registration
/// is active; on a failed start everything is rolled back and SCError is 1001 or the server's
/// status). With NULL, stops dispatch delivery (SCError 1002 if not in dispatch mode).
///
/// # Safety
/// `store` is NULL or a valid CF object; `queue` is NULL or a valid dispatch queue.
#[no_mangle]
pub unsafe extern "C" fn SCDynamicStoreSetDispatchQueue(
    store: SCDynamicStoreRef,
    queue: dispatch_queue_t,
) -> Boolean {
    guard(0, || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            set_error(Status::NO_STORE_SESSION.code());
            return 0;
        };
        let state = StoreState::get_or_create(store);
        if queue.is_null() {
            {
                let _l = state.lock();
                // SAFETY: the caller holds the store; fields accessed under the lock.
                if unsafe { store.fields().notifyStatus } != notify_status::DISPATCH {
                    set_error(Status::INVALID_ARGUMENT.code());
                    return 0;
                }
            }
            // SAFETY: the caller holds the store.
            unsafe { cancel_dispatch(store, &state) };
            return 1;
        }
        if store.server().load(Ordering::Acquire) == 0 {
            set_error(Status::NO_STORE_SERVER.code());
            return 0;
        }
        {
            let _l = state.lock();
            // SAFETY: the caller holds the store; fields accessed under the lock.
            let f = unsafe { store.fields() };
            if f.notifyStatus != notify_status::NOT_REGISTERED || f.rlsScheduled > 0 {
                set_error(Status::NOTIFIER_ACTIVE.code());
                return 0;
            }
            // SAFETY: a valid queue per the contract.
            unsafe { dispatch_retain(queue) };
            f.dispatchQueue = queue;
            f.notifyStatus = notify_status::DISPATCH;
        }
        match state.start(store, state::Mode::Dispatch(queue)) {
            Ok(()) => 1,
            Err(code) => {
                {
                    let _l = state.lock();
                    // SAFETY: as above.
                    let f = unsafe { store.fields() };
                    f.dispatchQueue = std::ptr::null_mut();
                    f.notifyStatus = notify_status::NOT_REGISTERED;
                }
                // SAFETY: the reference taken above.
                unsafe { dispatch_release(queue) };
                set_error(code);
                0
            }
        }
    })
}

/// Dispatch-mode cancel: clear the queue field, NotRegistered, stop, release the queue.
///
/// # Safety
/// The store must be alive.
unsafe fn cancel_dispatch(store: StorePtr, state: &StoreState) {
    let queue = {
        let _l = state.lock();
        // SAFETY: per the contract; under the lock.
        let f = unsafe { store.fields() };
        if f.notifyStatus != notify_status::DISPATCH {
            return;
        }
        f.notifyStatus = notify_status::NOT_REGISTERED;
        std::mem::replace(&mut f.dispatchQueue, std::ptr::null_mut())
    };
    state.stop(store);
    if !queue.is_null() {
        // SAFETY: the reference SetDispatchQueue took.
        unsafe { dispatch_release(queue) };
    }
}

/// `CFRunLoopSourceRef SCDynamicStoreCreateRunLoopSource(CFAllocatorRef allocator,
/// SCDynamicStoreRef store, CFIndex order)`: the store's version-0 source (+1). A second call
/// returns the same source again (+1; `allocator` and `order` ignored). NULL with SCError 2001,
/// 2002 or 1001.
///
/// # Safety
/// `store` is NULL or a valid CF object.
#[no_mangle]
pub unsafe extern "C" fn SCDynamicStoreCreateRunLoopSource(
    allocator: CFAllocatorRef,
    store: SCDynamicStoreRef,
    order: CFIndex,
) -> CFRunLoopSourceRef {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            set_error(Status::NO_STORE_SESSION.code());
            return std::ptr::null_mut();
        };
        if store.server().load(Ordering::Acquire) == 0 {
            set_error(Status::NO_STORE_SERVER.code());
            return std::ptr::null_mut();
        }
        let state = StoreState::get_or_create(store);
        let _l = state.lock();
        // SAFETY: the caller holds the store; under the lock.
        let f = unsafe { store.fields() };
        if !f.rls.is_null() {
            // SAFETY: the store's own reference keeps the source alive.
            unsafe { CFRetain(f.rls as CFTypeRef) };
            return f.rls;
        }
        let mut ctx = CFRunLoopSourceContext {
            version: 0,
            info: store.0 as *mut c_void,
            retain: None,
            release: None,
            copyDescription: None,
            equal: None,
            hash: None,
            schedule: Some(rls_schedule),
            cancel: Some(rls_cancel),
            perform: Some(rls_perform),
        };
        // SAFETY: a valid version-0 context; CF copies it.
        let rls = unsafe { CFRunLoopSourceCreate(allocator, order, &mut ctx) };
        if rls.is_null() {
            set_error(Status::FAILED.code());
            return rls;
        }
        f.rls = rls;
        // SAFETY: the caller's +1 (the store keeps the create reference).
        unsafe { CFRetain(rls as CFTypeRef) };
        rls
    })
}

/// Run-loop source schedule callback.
unsafe extern "C" fn rls_schedule(info: *mut c_void, rl: CFRunLoopRef, _mode: CFStringRef) {
    let store = StorePtr(info as *mut SCDynamicStorePrivate);
    let state = StoreState::get_or_create(store);
    {
        let _l = state.lock();
        // SAFETY: a scheduled source's store is alive (it owns the source); under the lock.
        let f = unsafe { store.fields() };
        f.rlsRunLoop = rl;
        if f.rlsScheduled > 0 {
            f.rlsScheduled += 1;
            return;
        }
        if store.server().load(Ordering::Acquire) == 0 {
            return;
        }
        if f.notifyStatus != notify_status::NOT_REGISTERED {
            // Dispatch delivery is active: one registration at a time.
            set_error(Status::NOTIFIER_ACTIVE.code());
            return;
        }
        f.notifyStatus = notify_status::RUN_LOOP;
    }
    match state.start(store, state::Mode::RunLoop) {
        Ok(()) => {
            let _l = state.lock();
            // SAFETY: as above.
            unsafe { store.fields().rlsScheduled += 1 };
        }
        Err(code) => {
            let _l = state.lock();
            // SAFETY: as above.
            unsafe { store.fields().notifyStatus = notify_status::NOT_REGISTERED };
            set_error(code);
        }
    }
}

/// Run-loop source cancel callback.
unsafe extern "C" fn rls_cancel(info: *mut c_void, _rl: CFRunLoopRef, _mode: CFStringRef) {
    let store = StorePtr(info as *mut SCDynamicStorePrivate);
    let Some(state) = StoreState::existing(store) else {
        return;
    };
    {
        let _l = state.lock();
        // SAFETY: the source's store is alive; under the lock.
        let f = unsafe { store.fields() };
        if f.rlsScheduled == 0 {
            return;
        }
        f.rlsScheduled -= 1;
        if f.rlsScheduled > 0 || f.notifyStatus != notify_status::RUN_LOOP {
            return;
        }
        f.notifyStatus = notify_status::NOT_REGISTERED;
        f.rlsRunLoop = std::ptr::null_mut();
    }
    state.stop(store);
}

/// Run-loop source perform callback.
unsafe extern "C" fn rls_perform(info: *mut c_void) {
    let store = StorePtr(info as *mut SCDynamicStorePrivate);
    if let Some(state) = StoreState::existing(store) {
        state.perform(store);
    }
}

/// `Boolean SCDynamicStoreSetDisconnectCallBack(SCDynamicStoreRef store,
/// SCDynamicStoreDisconnectCallBack callback)` (Apple's private API; not in NextBSD): sets (NULL
/// clears) the function called when configd died and the store reconnected: after the session
/// is reopened and the watch set restored, before the reconnect's re-read batch (the callout
/// with an empty `changedKeys`, which still follows), on the store's dispatch queue or run loop,
/// with the store and its context `info` (retained and released around the call when the
/// context has `retain`). Only a store with a delivery registration (dispatch queue or run-loop
/// source) learns of configd's death. TRUE on success; FALSE with SCError 2001 if `store` is
/// not a store.
///
/// # Safety
/// `store` is NULL or a valid CF object; `callback` is NULL or a function callable from the
/// store's queue or run loop.
#[no_mangle]
pub unsafe extern "C" fn SCDynamicStoreSetDisconnectCallBack(
    store: SCDynamicStoreRef,
    callback: SCDynamicStoreDisconnectCallBack,
) -> Boolean {
    guard(0, || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            set_error(Status::NO_STORE_SESSION.code());
            return 0;
        };
        StoreState::get_or_create(store).lock().disconnect = callback;
        1
    })
}

/// `mach_port_t __SCDynamicStoreAddNotificationPort(SCDynamicStoreRef store)` (private): a new
/// port name holding a receive right and one send right, or `MACH_PORT_NULL` with SCError 1001.
/// As on NextBSD HEAD, `store` is ignored and nothing is registered.
///
/// # Safety
/// Always safe; `store` is not dereferenced.
#[no_mangle]
pub unsafe extern "C" fn __SCDynamicStoreAddNotificationPort(
    store: SCDynamicStoreRef,
) -> mach_port_t {
    guard(0, || {
        let _ = store;
        let port = match mach_async::ReceiveRight::new() {
            Ok(p) => p,
            Err(_) => {
                set_error(Status::FAILED.code());
                return 0;
            }
        };
        match port.make_send() {
            Ok(send) => {
                // Both rights live under one name, now the caller's.
                let _ = send.into_raw();
                port.into_raw()
            }
            Err(_) => {
                set_error(Status::FAILED.code());
                0
            }
        }
    })
}

/// `void __SCDynamicStoreNotifyCancel(SCDynamicStoreRef store)` (private): stops dispatch
/// delivery (a no-op otherwise; never sets SCError). Called from the store finalizer, it also
/// frees the crate's per-store state once nothing is registered.
///
/// # Safety
/// `store` is NULL or a valid CF object.
#[no_mangle]
pub unsafe extern "C" fn __SCDynamicStoreNotifyCancel(store: SCDynamicStoreRef) {
    guard((), || {
        // SAFETY: per the contract.
        let Some(store) = (unsafe { as_store(store) }) else {
            return;
        };
        let Some(state) = StoreState::existing(store) else {
            return;
        };
        // SAFETY: the caller holds the store.
        unsafe { cancel_dispatch(store, &state) };
        let idle = {
            let _l = state.lock();
            // SAFETY: under the lock.
            unsafe { store.fields().notifyStatus == notify_status::NOT_REGISTERED }
        };
        if idle && !state.has_registration() {
            StoreState::free(store);
        }
    })
}
