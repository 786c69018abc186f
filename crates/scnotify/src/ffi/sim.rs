//! Test support for the simulated kernel (declared in `<scnotify_sim.h>`, not in `<scnotify.h>`):
//! an in-process configd the C tests start and stop. Not part of `SCNotify.c`; built only when
//! the kernel is the simulated one (embedded, or the Stage 4 demo's shared `libmach_sim.so`), so
//! a native build neither exports nor declares it.

use std::ffi::c_int;
use std::sync::Mutex;

use super::state::run_sync;

static TEST_CONFIGD: Mutex<Option<(crate::ServerHandle, mach_async::Space)>> = Mutex::new(None);

/// Starts an in-process configd, checked in as `com.apple.SystemConfiguration.configd`, in a
/// simulated task of its own, served on the library's event thread. Returns 0, or the `kern_return_t` of the check-in
/// (`BOOTSTRAP_SERVICE_ACTIVE` if a configd is already running).
///
/// # Safety
/// Always safe.
#[no_mangle]
pub unsafe extern "C" fn scnotify_configd_start() -> c_int {
    super::guard(mach_abi::KERN_FAILURE, || {
        let mut slot = TEST_CONFIGD.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return mach_abi::BOOTSTRAP_SERVICE_ACTIVE;
        }
        // In a task of its own where the backend has several spaces; in the process's space
        // where it has one (the Stage 4 demo, on the shared kernel).
        #[cfg(mach_backend = "sim")]
        let space = mach_async::Space::from_task(
            mach_sim::Kernel::global().task_create("configd", 1, 0, 0),
        );
        #[cfg(not(mach_backend = "sim"))]
        let space = mach_async::Space::current();
        let s = space.clone();
        match run_sync(async move { crate::ConfigdServer::check_in(&s) }) {
            Ok(handle) => {
                *slot = Some((handle, space));
                0
            }
            Err(crate::ServerError::CheckIn(kr)) => kr,
            Err(_) => mach_abi::KERN_FAILURE,
        }
    })
}

/// Stops the configd started by [`scnotify_configd_start`] (every session and
/// notify right it held dies, as when configd exits) and waits until it is gone.
///
/// # Safety
/// Always safe.
#[no_mangle]
pub unsafe extern "C" fn scnotify_configd_stop() {
    super::guard((), || {
        let taken = TEST_CONFIGD
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((handle, space)) = taken {
            run_sync(handle.close());
            #[cfg(mach_backend = "sim")]
            let _ = space.task().terminate();
            #[cfg(not(mach_backend = "sim"))]
            drop(space);
        }
    })
}
