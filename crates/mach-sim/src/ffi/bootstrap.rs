//! The bootstrap name service calls (`<servers/bootstrap.h>`) over the simulated kernel's
//! [`Bootstrap`](crate::Bootstrap).
//!
//! Service names are `const char *` strings of at most 127 bytes plus the terminating NUL (a
//! `name_t` is `char[128]`); a longer or non-UTF-8 name gives `BOOTSTRAP_BAD_COUNT` /
//! `KERN_INVALID_ARGUMENT`. The `bp` argument is ignored: every call talks to the name service of
//! the current task's kernel, on behalf of the current task.

use super::{guard, sim::MACH_SIM_BOOTSTRAP_PORT};
use crate::{KernResult, Task};
use mach_abi::{
    kern_return_t, mach_port_t, BOOTSTRAP_BAD_COUNT, BOOTSTRAP_MAX_NAME_LEN, KERN_FAILURE,
    KERN_INVALID_ARGUMENT, KERN_SUCCESS,
};
use std::ffi::c_char;
use std::sync::atomic::AtomicU32;

/// `extern mach_port_t bootstrap_port;`: the bootstrap port every task starts with. It holds the
/// pseudo name `MACH_SIM_BOOTSTRAP_PORT` (non-zero, not a port name, not a right). C code may read
/// or overwrite it; the bootstrap calls ignore the port they are given.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static bootstrap_port: AtomicU32 = AtomicU32::new(MACH_SIM_BOOTSTRAP_PORT);

/// Reads a NUL-terminated service name of at most `BOOTSTRAP_MAX_NAME_LEN` bytes (NUL included).
///
/// # Safety
/// `name` must be null or point to a NUL-terminated string, or to at least
/// `BOOTSTRAP_MAX_NAME_LEN` readable bytes.
unsafe fn read_service_name(name: *const c_char) -> KernResult<String> {
    if name.is_null() {
        return Err(KERN_INVALID_ARGUMENT);
    }
    let mut bytes = Vec::new();
    for i in 0..BOOTSTRAP_MAX_NAME_LEN {
        // SAFETY: bytes are read one at a time up to the first NUL, within the string or the
        // `name_t` buffer the caller guarantees.
        let byte = unsafe { name.add(i).read() } as u8;
        if byte == 0 {
            return String::from_utf8(bytes).map_err(|_| KERN_INVALID_ARGUMENT);
        }
        bytes.push(byte);
    }
    Err(BOOTSTRAP_BAD_COUNT)
}

/// Reads the service name and runs a bootstrap call in the current task: the name's error, the
/// call's code, or `KERN_FAILURE` if the simulator panicked.
///
/// # Safety
/// `service` as for [`read_service_name`].
unsafe fn with_service(
    service: *const c_char,
    call: impl FnOnce(&Task, &str) -> KernResult<()>,
) -> kern_return_t {
    guard(KERN_FAILURE, || {
        // SAFETY: forwarded caller guarantee on `service`.
        let service = match unsafe { read_service_name(service) } {
            Ok(s) => s,
            Err(kr) => return kr,
        };
        match super::current_task().and_then(|t| call(&t, &service)) {
            Ok(()) => KERN_SUCCESS,
            Err(kr) => kr,
        }
    })
}

/// Runs a bootstrap call that yields a port and stores it through `sp`.
///
/// # Safety
/// `service` as for [`read_service_name`]; `sp` null or valid for a 4-byte write.
unsafe fn with_port_out(
    service: *const c_char,
    sp: *mut mach_port_t,
    call: impl FnOnce(&Task, &str) -> KernResult<mach_port_t>,
) -> kern_return_t {
    if sp.is_null() {
        return KERN_INVALID_ARGUMENT;
    }
    let store = |task: &Task, service: &str| {
        let port = call(task, service)?;
        // SAFETY: `sp` is non-null and valid for a write (caller's guarantee).
        unsafe { sp.write_unaligned(port) };
        Ok(())
    };
    // SAFETY: forwarded caller guarantee on `service`.
    unsafe { with_service(service, store) }
}

/// `kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name,
/// mach_port_t *sp)`: creates the service's port and stores its **receive right** (in the current
/// task) in `*sp`; `BOOTSTRAP_SERVICE_ACTIVE` if a live task already holds it.
///
/// # Safety
/// `service_name` must be null or a NUL-terminated string (or a `name_t` buffer); `sp` must be
/// null or valid for a 4-byte write. Null pointers give `KERN_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn bootstrap_check_in(
    bp: mach_port_t,
    service_name: *const c_char,
    sp: *mut mach_port_t,
) -> kern_return_t {
    let _ = bp;
    // SAFETY: forwarded caller guarantees.
    unsafe {
        with_port_out(service_name, sp, |task, service| {
            task.kernel().bootstrap().check_in(task, service)
        })
    }
}

/// `kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name,
/// mach_port_t *sp)`: stores a **send right** to the service (in the current task) in `*sp`;
/// `BOOTSTRAP_UNKNOWN_SERVICE` (1102) if no live port is registered under the name.
///
/// # Safety
/// As [`bootstrap_check_in`].
#[no_mangle]
pub unsafe extern "C" fn bootstrap_look_up(
    bp: mach_port_t,
    service_name: *const c_char,
    sp: *mut mach_port_t,
) -> kern_return_t {
    let _ = bp;
    // SAFETY: forwarded caller guarantees.
    unsafe {
        with_port_out(service_name, sp, |task, service| {
            task.kernel().bootstrap().look_up(task, service)
        })
    }
}

/// `kern_return_t bootstrap_register(mach_port_t bp, name_t service_name, mach_port_t sp)`:
/// registers the port the current task holds a send or receive right to under `sp`;
/// `BOOTSTRAP_NAME_IN_USE` if a live port is registered there. (Deprecated on Apple; provided for
/// old code.)
///
/// # Safety
/// `service_name` must be null (→ `KERN_INVALID_ARGUMENT`) or a NUL-terminated string (or a
/// `name_t` buffer).
#[no_mangle]
pub unsafe extern "C" fn bootstrap_register(
    bp: mach_port_t,
    service_name: *const c_char,
    sp: mach_port_t,
) -> kern_return_t {
    let _ = bp;
    // SAFETY: forwarded caller guarantee on `service_name`.
    unsafe {
        with_service(service_name, |task, service| {
            task.kernel().bootstrap().register(task, service, sp)
        })
    }
}
