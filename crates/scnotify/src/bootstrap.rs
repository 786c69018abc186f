//! The bootstrap name service, as far as this crate needs it: `bootstrap_look_up` of configd's
//! service (clients) and `bootstrap_check_in` (the store server), on the simulated kernel's
//! name server or through libSystem / libmach natively.

use mach_abi::kern_return_t;
use mach_async::{ReceiveRight, SendRight, Space};

/// `BOOTSTRAP_UNKNOWN_SERVICE`.
pub const UNKNOWN_SERVICE: kern_return_t = mach_abi::BOOTSTRAP_UNKNOWN_SERVICE;

/// `bootstrap_look_up(name)` in `space`.
#[cfg(mach_backend = "sim")]
pub fn look_up(space: &Space, name: &str) -> Result<SendRight, kern_return_t> {
    let task = space.task();
    let n = task.kernel().bootstrap().look_up(task, name)?;
    // SAFETY: the bootstrap server just inserted a send right under `n` in `space`.
    Ok(unsafe { SendRight::from_raw_in(space, n) })
}

/// `bootstrap_check_in(name)` in `space`.
#[cfg(mach_backend = "sim")]
pub fn check_in(space: &Space, name: &str) -> Result<ReceiveRight, kern_return_t> {
    let task = space.task();
    let n = task.kernel().bootstrap().check_in(task, name)?;
    // SAFETY: the bootstrap server just gave `space` the receive right under `n`.
    Ok(unsafe { ReceiveRight::from_raw_in(space, n) })
}

#[cfg(not(mach_backend = "sim"))]
mod native {
    use std::ffi::{c_char, c_int};
    extern "C" {
        pub static bootstrap_port: u32;
        pub fn bootstrap_look_up(bp: u32, name: *const c_char, sp: *mut u32) -> c_int;
        pub fn bootstrap_check_in(bp: u32, name: *const c_char, sp: *mut u32) -> c_int;
    }
}

/// `bootstrap_look_up(name)` through libSystem / libmach.
#[cfg(not(mach_backend = "sim"))]
pub fn look_up(space: &Space, name: &str) -> Result<SendRight, kern_return_t> {
    let c = std::ffi::CString::new(name).map_err(|_| UNKNOWN_SERVICE)?;
    let mut port = 0u32;
    // SAFETY: `c` is NUL-terminated, `port` is a valid out-pointer, `bootstrap_port` is the
    // process's bootstrap port set up by the C runtime.
    let kr = unsafe { native::bootstrap_look_up(native::bootstrap_port, c.as_ptr(), &mut port) };
    if kr != 0 {
        return Err(kr);
    }
    // SAFETY: on success the server inserted a send right under `port`.
    Ok(unsafe { SendRight::from_raw_in(space, port) })
}

/// `bootstrap_check_in(name)` through libSystem / libmach.
#[cfg(not(mach_backend = "sim"))]
pub fn check_in(space: &Space, name: &str) -> Result<ReceiveRight, kern_return_t> {
    let c = std::ffi::CString::new(name).map_err(|_| UNKNOWN_SERVICE)?;
    let mut port = 0u32;
    // SAFETY: as in `look_up`.
    let kr = unsafe { native::bootstrap_check_in(native::bootstrap_port, c.as_ptr(), &mut port) };
    if kr != 0 {
        return Err(kr);
    }
    // SAFETY: on success the caller owns the receive right under `port`.
    Ok(unsafe { ReceiveRight::from_raw_in(space, port) })
}
