//! kqueue filter numbers, FreeBSD `EV_*` flags and FreeBSD 12+ `struct kevent`.
//!
//! `EVFILT_MACHPORT` lineage: **−16** is the current NextBSD filter (kernel patch adds it after
//! FreeBSD's `EVFILT_JAIL` −14 and `EVFILT_JAILDESC` −15). **−8** is XNU's value (FreeBSD
//! `EVFILT_PROCDESC`). **−13** was the original 2015 NextBSD value (now FreeBSD `EVFILT_EMPTY`),
//! **−14** ravynOS / the early launchd shim (now FreeBSD 15 `EVFILT_JAIL`), and **−22** is the
//! libmach `<mach/dispatch_kevent.h>` sentinel, out of range for `kevent(2)` (`EINVAL`): never
//! pass it and never include that header. Only −16 (NextBSD) and −8 (Apple) are valid.
//!
//! The `EV_*` values here are FreeBSD's; bits `0x100` and above mean something else on Apple.

/// NextBSD `EVFILT_MACHPORT` (−16), the Mach port-set filter on a patched FreeBSD 15 kernel.
pub const EVFILT_MACHPORT_NEXTBSD: i16 = -16;
/// XNU `EVFILT_MACHPORT` (−8). On FreeBSD −8 is `EVFILT_PROCDESC`.
pub const EVFILT_MACHPORT_XNU: i16 = -8;
/// `EVFILT_READ` (−1, same on FreeBSD and Apple).
pub const EVFILT_READ: i16 = -1;

/// Add the event.
pub const EV_ADD: u16 = 0x0001;
/// Delete the event (`ENOENT` if the knote is already gone: ignore at teardown).
pub const EV_DELETE: u16 = 0x0002;
/// Enable the event.
pub const EV_ENABLE: u16 = 0x0004;
/// Disable the event.
pub const EV_DISABLE: u16 = 0x0008;
/// Deliver once, then delete.
pub const EV_ONESHOT: u16 = 0x0010;
/// Reset state after delivery.
pub const EV_CLEAR: u16 = 0x0020;
/// Force an `EV_ERROR` receipt for each change.
pub const EV_RECEIPT: u16 = 0x0040;
/// Disable after delivery.
pub const EV_DISPATCH: u16 = 0x0080;
/// FreeBSD: make ONESHOT and fire now (Apple: `EV_UDATA_SPECIFIC`).
pub const EV_FORCEONESHOT: u16 = 0x0100;
/// FreeBSD: keep `udata` on modify (Apple: `EV_VANISHED`).
pub const EV_KEEPUDATA: u16 = 0x0200;
/// FreeBSD kernel-internal drop flag (Apple: `EV_FLAG0`/`EV_POLL`).
pub const EV_DROP: u16 = 0x1000;
/// Filter-specific flag 1.
pub const EV_FLAG1: u16 = 0x2000;
/// Error; `data` holds the errno (= `EV_FLAG2`).
pub const EV_ERROR: u16 = 0x4000;
/// End of file / source gone (e.g. port set destroyed).
pub const EV_EOF: u16 = 0x8000;

/// FreeBSD 12+ `struct kevent` (64 bytes on LP64, with `ext[4]`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct kevent_freebsd {
    /// Identifier (the port-set name, zero-extended).
    pub ident: usize,
    /// Filter number.
    pub filter: i16,
    /// `EV_*` flags.
    pub flags: u16,
    /// Filter-specific flags.
    pub fflags: u32,
    /// Filter-specific data (errno with `EV_ERROR`).
    pub data: i64,
    /// Opaque user cookie.
    pub udata: *mut core::ffi::c_void,
    /// Extension words (zeros in notify mode).
    pub ext: [u64; 4],
}

impl kevent_freebsd {
    /// An all-zero event (null `udata`).
    #[inline]
    pub const fn zeroed() -> Self {
        Self {
            ident: 0,
            filter: 0,
            flags: 0,
            fflags: 0,
            data: 0,
            udata: core::ptr::null_mut(),
            ext: [0; 4],
        }
    }
}

impl Default for kevent_freebsd {
    fn default() -> Self {
        Self::zeroed()
    }
}

// SAFETY: `udata` is an opaque cookie that this crate never dereferences; the struct is plain
// data and moving or sharing it between threads cannot cause a data race by itself.
unsafe impl Send for kevent_freebsd {}
// SAFETY: see the `Send` impl: no method reads through `udata`.
unsafe impl Sync for kevent_freebsd {}

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<kevent_freebsd>() == 64);
    assert!(offset_of!(kevent_freebsd, ident) == 0);
    assert!(offset_of!(kevent_freebsd, filter) == 8);
    assert!(offset_of!(kevent_freebsd, flags) == 10);
    assert!(offset_of!(kevent_freebsd, fflags) == 12);
    assert!(offset_of!(kevent_freebsd, data) == 16);
    assert!(offset_of!(kevent_freebsd, udata) == 24);
    assert!(offset_of!(kevent_freebsd, ext) == 32);
};
