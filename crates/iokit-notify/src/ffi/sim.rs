//! `<iokit_sim.h>`: the simulated `/dev/ioregistry` of the global simulated kernel, for C
//! programs (test hosts and tests). Simulation only; never part of a NextBSD build.
//!
//! [`iokit_sim_ioctl`] plays the device's ioctl handler for the calling thread's current
//! simulated task (port names in `IOREGIOCWATCH` are names in that task); the other calls play
//! the kernel's newbus side.
//!
//! Every call runs under the `ffi` module's `guard` (`catch_unwind`): a panic never crosses the
//! C boundary; the ioctl and `iokit_sim_detach` answer it with `EIO`, the attach calls with id
//! 0. At thread or process exit (the thread's storage destroyed, so its simulated task is unknown) the ioctl returns
//! `ESRCH`.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};

use mach_sim::Task;

use crate::registry::{RegistryBackend, SimDevice, SimRegistry, TestEventSupport};
use crate::registry_abi::{
    ioreg_lookup, ioreg_node, ioreg_test_event, ioreg_watch_reg, IOREGIOCLOOKUP, IOREGIOCNODE,
    IOREGIOCROOT, IOREGIOCTESTEVENT, IOREGIOCWATCH,
};

/// [`iokit_sim_set_test_event_support`]: the kernel has `IOREGIOCTESTEVENT`.
pub const IOKIT_SIM_TESTEVENT_PRESENT: c_int = 0;
/// [`iokit_sim_set_test_event_support`]: a kernel predating `IOREGIOCTESTEVENT` (`ENOTTY`).
pub const IOKIT_SIM_TESTEVENT_ABSENT: c_int = 1;
/// [`iokit_sim_set_test_event_support`]: a kernel without `COMPAT_MACH` (`ENOSYS` for
/// `IOREGIOCTESTEVENT` and `IOREGIOCWATCH`).
pub const IOKIT_SIM_NO_COMPAT_MACH: c_int = 2;

fn errno_of(r: Result<(), crate::RegistryError>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno().unwrap_or(libc::ENXIO),
    }
}

/// The ioctl handler of the simulated `/dev/ioregistry`: `IOREGIOCROOT`, `IOREGIOCNODE`,
/// `IOREGIOCLOOKUP`, `IOREGIOCWATCH`, `IOREGIOCTESTEVENT`. Returns 0 or the errno the kernel
/// would return (`ENOTTY` for any other command); it does not set `errno`.
///
/// # Safety
/// `arg` must point to the structure `cmd` encodes (for `IOREGIOCLOOKUP`, `matches` must point to
/// `max` writable `uint64_t`s).
#[no_mangle]
pub unsafe extern "C" fn iokit_sim_ioctl(cmd: c_ulong, arg: *mut c_void) -> c_int {
    super::guard(libc::EIO, || {
        if arg.is_null() {
            return libc::EFAULT;
        }
        let registry = SimRegistry::global();
        let dev = registry.open(&match Task::try_current() {
            Some(task) => task,
            None => return libc::ESRCH,
        });
        let Ok(cmd) = u32::try_from(cmd) else {
            return libc::ENOTTY;
        };
        match cmd {
            IOREGIOCROOT => {
                // SAFETY: the caller passes a uint64_t for IOREGIOCROOT.
                unsafe { arg.cast::<u64>().write_unaligned(registry.root_id()) };
                0
            }
            IOREGIOCNODE => {
                // SAFETY: the caller passes a struct ioreg_node for IOREGIOCNODE.
                let node = unsafe { &mut *arg.cast::<ioreg_node>() };
                match dev.node(node.id) {
                    Ok(found) => {
                        *node = found;
                        0
                    }
                    Err(e) => errno_of(Err(e)),
                }
            }
            IOREGIOCLOOKUP => {
                // SAFETY: the caller passes a struct ioreg_lookup for IOREGIOCLOOKUP.
                let lookup = unsafe { &mut *arg.cast::<ioreg_lookup>() };
                let max = lookup.max as usize;
                let matches: &mut [u64] = if max == 0 || lookup.matches == 0 {
                    &mut []
                } else {
                    // SAFETY: the caller guarantees `matches` points to `max` writable u64s.
                    unsafe {
                        std::slice::from_raw_parts_mut(lookup.matches as usize as *mut u64, max)
                    }
                };
                match dev.lookup(&lookup.criteria, matches) {
                    Ok(count) => {
                        lookup.count = u32::try_from(count).unwrap_or(u32::MAX);
                        0
                    }
                    Err(e) => errno_of(Err(e)),
                }
            }
            IOREGIOCWATCH => {
                // SAFETY: the caller passes a struct ioreg_watch_reg for IOREGIOCWATCH.
                let reg = unsafe { &*arg.cast::<ioreg_watch_reg>() };
                errno_of(dev.watch(reg))
            }
            IOREGIOCTESTEVENT => {
                // SAFETY: the caller passes a struct ioreg_test_event for IOREGIOCTESTEVENT.
                let event = unsafe { &*arg.cast::<ioreg_test_event>() };
                errno_of(dev.test_event(event))
            }
            _ => libc::ENOTTY,
        }
    })
}

/// # Safety
/// `s` is NULL or a C string.
unsafe fn text(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: a C string per the caller's contract.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// # Safety
/// Each pointer is NULL or a C string.
unsafe fn device(
    name: *const c_char,
    klass: *const c_char,
    driver: *const c_char,
    pci_vendor: u32,
    pci_device: u32,
) -> SimDevice {
    // SAFETY: forwarded contract.
    let (name, class, driver) = unsafe { (text(name), text(klass), text(driver)) };
    SimDevice {
        name,
        class,
        driver,
        pci_vendor,
        pci_device,
        ..SimDevice::default()
    }
}

/// `device_probe_and_attach`: attaches a device (ARRIVE then MATCHED are sent before this
/// returns, unless a bracket is open). Returns its registry id.
///
/// # Safety
/// Each string is NULL (empty) or a C string.
#[no_mangle]
pub unsafe extern "C" fn iokit_sim_attach(
    name: *const c_char,
    klass: *const c_char,
    driver: *const c_char,
    pci_vendor: u32,
    pci_device: u32,
) -> u64 {
    super::guard(0, || {
        // SAFETY: forwarded contract.
        SimRegistry::global()
            .probe_and_attach(unsafe { device(name, klass, driver, pci_vendor, pci_device) })
    })
}

/// `device_attach` alone: the ARRIVE waits for the next outermost [`iokit_sim_match_end`].
///
/// # Safety
/// Each string is NULL (empty) or a C string.
#[no_mangle]
pub unsafe extern "C" fn iokit_sim_attach_pending(
    name: *const c_char,
    klass: *const c_char,
    driver: *const c_char,
    pci_vendor: u32,
    pci_device: u32,
) -> u64 {
    super::guard(0, || {
        // SAFETY: forwarded contract.
        SimRegistry::global().attach(unsafe { device(name, klass, driver, pci_vendor, pci_device) })
    })
}

/// `device_detach`: DEPART is sent now; the id lingers. 0, or `ENOENT` for no live node.
#[no_mangle]
pub extern "C" fn iokit_sim_detach(id: u64) -> c_int {
    super::guard(libc::EIO, || errno_of(SimRegistry::global().detach(id)))
}

/// `device_match_start`: opens a quiesce bracket.
#[no_mangle]
pub extern "C" fn iokit_sim_match_start() {
    super::guard((), || {
        SimRegistry::global().match_start();
    })
}

/// `device_match_end`: closes a bracket; the outermost one flushes pending arrivals.
#[no_mangle]
pub extern "C" fn iokit_sim_match_end() {
    super::guard((), || {
        SimRegistry::global().match_end();
    })
}

/// Selects which `IOREGIOCTESTEVENT` the kernel has (`IOKIT_SIM_TESTEVENT_*`,
/// `IOKIT_SIM_NO_COMPAT_MACH`); other values are ignored.
#[no_mangle]
pub extern "C" fn iokit_sim_set_test_event_support(mode: c_int) {
    super::guard((), || {
        let support = match mode {
            IOKIT_SIM_TESTEVENT_PRESENT => TestEventSupport::Present,
            IOKIT_SIM_TESTEVENT_ABSENT => TestEventSupport::Absent,
            IOKIT_SIM_NO_COMPAT_MACH => TestEventSupport::NoCompatMach,
            _ => return,
        };
        SimRegistry::global().set_test_event_support(support);
    })
}

/// Kernel watches registered and not yet pruned.
#[no_mangle]
pub extern "C" fn iokit_sim_watch_count() -> u32 {
    super::guard(0, || {
        u32::try_from(SimRegistry::global().watch_count()).unwrap_or(u32::MAX)
    })
}
