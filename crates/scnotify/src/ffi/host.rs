//! What `SCNotify.c` imports from its host library (spec §3): the `SCDynamicStorePrivate` layout,
//! the status enum, and the CoreFoundation, libdispatch and SC helper functions. Nothing else
//! from the host is used.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

use std::ffi::{c_int, c_void};

/// CoreFoundation `Boolean` (`unsigned char`).
pub type Boolean = u8;
/// `CFIndex` (`signed long`).
pub type CFIndex = isize;
/// `CFTypeID` (`unsigned long`).
pub type CFTypeID = usize;
/// `CFTypeRef`.
pub type CFTypeRef = *const c_void;
/// `CFArrayRef`.
pub type CFArrayRef = *const c_void;
/// `CFMutableArrayRef`.
pub type CFMutableArrayRef = *mut c_void;
/// `CFStringRef`.
pub type CFStringRef = *const c_void;
/// `CFDictionaryRef`.
pub type CFDictionaryRef = *const c_void;
/// `CFAllocatorRef`.
pub type CFAllocatorRef = *const c_void;
/// `CFRunLoopSourceRef`.
pub type CFRunLoopSourceRef = *mut c_void;
/// `CFRunLoopRef`.
pub type CFRunLoopRef = *mut c_void;
/// `dispatch_queue_t`.
pub type dispatch_queue_t = *mut c_void;
/// `mach_port_t`.
pub type mach_port_t = u32;
/// `SCDynamicStoreRef` (`const struct __SCDynamicStore *`).
pub type SCDynamicStoreRef = *const SCDynamicStorePrivate;
/// `kCFStringEncodingUTF8`.
pub const kCFStringEncodingUTF8: u32 = 0x0800_0100;

/// `SCDynamicStoreCallBack`.
pub type SCDynamicStoreCallBack = Option<
    unsafe extern "C" fn(store: SCDynamicStoreRef, changedKeys: CFArrayRef, info: *mut c_void),
>;

/// `SCDynamicStoreDisconnectCallBack` (Apple's SCDynamicStorePrivate.h): called with the store
/// and its context `info` when configd died and the store reconnected.
pub type SCDynamicStoreDisconnectCallBack =
    Option<unsafe extern "C" fn(store: SCDynamicStoreRef, info: *mut c_void)>;

/// `CFRuntimeBase` of NextBSD CoreFoundation (`DEPLOYMENT_RUNTIME_SWIFT=0`): isa + 64-bit info.
#[repr(C)]
#[derive(Debug)]
pub struct CFRuntimeBase {
    /// `_cfisa`.
    pub cfisa: usize,
    /// `_cfinfoa`.
    pub cfinfoa: u64,
}

/// `SCDynamicStoreContext` (40 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct SCDynamicStoreContext {
    /// Version (not checked).
    pub version: CFIndex,
    /// User data.
    pub info: *mut c_void,
    /// Retains `info` around callouts.
    pub retain: Option<unsafe extern "C" fn(info: *const c_void) -> *const c_void>,
    /// Releases `info`.
    pub release: Option<unsafe extern "C" fn(info: *const c_void)>,
    /// Describes `info`.
    pub copyDescription: Option<unsafe extern "C" fn(info: *const c_void) -> CFStringRef>,
}

/// `notifyStatus` values (NextBSD `SCInternal.h`).
pub mod notify_status {
    /// `NotifierNotRegistered`.
    pub const NOT_REGISTERED: i32 = 0;
    /// `Using_NotifierInformViaDispatch`.
    pub const DISPATCH: i32 = 1;
    /// `Using_NotifierInformViaRunLoop`.
    pub const RUN_LOOP: i32 = 2;
}

/// Mirror of NextBSD's `struct __SCDynamicStore` (`SCInternal.h`), LP64. The `notifySource`
/// slot holds this crate's per-store state; `notifyQueue` is unused (NULL).
#[repr(C)]
#[derive(Debug)]
pub struct SCDynamicStorePrivate {
    /// CF object header.
    pub cfBase: CFRuntimeBase,
    /// Store name.
    pub name: CFStringRef,
    /// Options.
    pub options: CFDictionaryRef,
    /// The session port from `configopen`.
    pub server: mach_port_t,
    /// Callout.
    pub rlsFunction: SCDynamicStoreCallBack,
    /// Callout context.
    pub rlsContext: SCDynamicStoreContext,
    /// [`notify_status`].
    pub notifyStatus: c_int,
    /// Notify port (unused by this implementation; the registration owns its port).
    pub notifyPort: mach_port_t,
    /// This crate's per-store state (`Arc<StoreState>` as a raw pointer).
    pub notifySource: *mut c_void,
    /// Unused.
    pub notifyQueue: *mut c_void,
    /// The caller's queue (retained) in dispatch mode.
    pub dispatchQueue: dispatch_queue_t,
    /// The store's run-loop source (store-owned reference).
    pub rls: CFRunLoopSourceRef,
    /// The last run loop the source was scheduled in (not retained).
    pub rlsRunLoop: CFRunLoopRef,
    /// How many times the source is scheduled.
    pub rlsScheduled: c_int,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<CFRuntimeBase>() == 16);
    assert!(size_of::<SCDynamicStoreContext>() == 40);
    assert!(offset_of!(SCDynamicStorePrivate, cfBase) == 0);
    assert!(offset_of!(SCDynamicStorePrivate, name) == 16);
    assert!(offset_of!(SCDynamicStorePrivate, options) == 24);
    assert!(offset_of!(SCDynamicStorePrivate, server) == 32);
    assert!(offset_of!(SCDynamicStorePrivate, rlsFunction) == 40);
    assert!(offset_of!(SCDynamicStorePrivate, rlsContext) == 48);
    assert!(offset_of!(SCDynamicStorePrivate, notifyStatus) == 88);
    assert!(offset_of!(SCDynamicStorePrivate, notifyPort) == 92);
    assert!(offset_of!(SCDynamicStorePrivate, notifySource) == 96);
    assert!(offset_of!(SCDynamicStorePrivate, notifyQueue) == 104);
    assert!(offset_of!(SCDynamicStorePrivate, dispatchQueue) == 112);
    assert!(offset_of!(SCDynamicStorePrivate, rls) == 120);
    assert!(offset_of!(SCDynamicStorePrivate, rlsRunLoop) == 128);
    assert!(offset_of!(SCDynamicStorePrivate, rlsScheduled) == 136);
    assert!(size_of::<SCDynamicStorePrivate>() == 144);
};

/// `CFRunLoopSourceContext`, version 0.
#[repr(C)]
pub struct CFRunLoopSourceContext {
    /// 0.
    pub version: CFIndex,
    /// The store (not retained).
    pub info: *mut c_void,
    /// NULL.
    pub retain: Option<unsafe extern "C" fn(*const c_void) -> *const c_void>,
    /// NULL.
    pub release: Option<unsafe extern "C" fn(*const c_void)>,
    /// NULL.
    pub copyDescription: Option<unsafe extern "C" fn(*const c_void) -> CFStringRef>,
    /// NULL.
    pub equal: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> Boolean>,
    /// NULL.
    pub hash: Option<unsafe extern "C" fn(*const c_void) -> usize>,
    /// Schedule callback.
    pub schedule: Option<unsafe extern "C" fn(*mut c_void, CFRunLoopRef, CFStringRef)>,
    /// Cancel callback.
    pub cancel: Option<unsafe extern "C" fn(*mut c_void, CFRunLoopRef, CFStringRef)>,
    /// Perform callback.
    pub perform: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// `CFArrayCallBacks` (only its address is used).
#[repr(C)]
pub struct CFArrayCallBacks {
    _opaque: [u8; 0],
}

// The host's functions (spec §3.6–3.7); crate-private, documented by their C names.
extern "C" {
    pub(crate) fn CFGetTypeID(cf: CFTypeRef) -> CFTypeID;
    pub(crate) fn SCDynamicStoreGetTypeID() -> CFTypeID;
    pub(crate) fn CFArrayCreateMutable(
        allocator: CFAllocatorRef,
        capacity: CFIndex,
        callbacks: *const CFArrayCallBacks,
    ) -> CFMutableArrayRef;
    pub(crate) static kCFTypeArrayCallBacks: CFArrayCallBacks;
    pub(crate) fn CFArrayAppendValue(array: CFMutableArrayRef, value: *const c_void);
    pub(crate) fn CFStringCreateWithBytes(
        allocator: CFAllocatorRef,
        bytes: *const u8,
        num_bytes: CFIndex,
        encoding: u32,
        is_external_representation: Boolean,
    ) -> CFStringRef;
    pub(crate) fn CFRetain(cf: CFTypeRef) -> CFTypeRef;
    pub(crate) fn CFRelease(cf: CFTypeRef);
    pub(crate) fn CFRunLoopSourceCreate(
        allocator: CFAllocatorRef,
        order: CFIndex,
        context: *mut CFRunLoopSourceContext,
    ) -> CFRunLoopSourceRef;
    pub(crate) fn CFRunLoopSourceSignal(source: CFRunLoopSourceRef);
    pub(crate) fn CFRunLoopWakeUp(rl: CFRunLoopRef);
    pub(crate) fn dispatch_retain(object: *mut c_void);
    pub(crate) fn dispatch_release(object: *mut c_void);
    pub(crate) fn dispatch_async_f(
        queue: dispatch_queue_t,
        context: *mut c_void,
        work: unsafe extern "C" fn(*mut c_void),
    );
    pub(crate) fn _SCErrorSet(code: c_int);
    pub(crate) fn _SCEncodeKeyList(
        array: CFArrayRef,
        buf: *mut u8,
        cap: usize,
        out_len: *mut usize,
    ) -> c_int;
}
