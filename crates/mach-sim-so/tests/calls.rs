//! Every exported call of `libmach_sim.so`, called as a C program calls it, on the process's one
//! simulated kernel: the trap face reaches the kernel with NextBSD's conventions, bad arguments
//! come back as `-1`/`errno` (never a panic across the boundary), and the device side serves
//! `/dev/ioregistry` and newbus arrivals and departures.
//!
//! One test function: the kernel and the registry device are process-wide, so the steps must
//! not interleave with another test's.

#![cfg(mach_sim_kernel)]

use std::ffi::{c_int, CStr};

use mach_sim_so::*;

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The trap number NextBSD publishes for `trap`.
fn trap_number(trap: &CStr) -> c_int {
    let (mut number, mut len) = (-1i32, std::mem::size_of::<i32>());
    // SAFETY: a C string, an out-value and its length.
    let rc = unsafe {
        mach_sim_trap_sysctlbyname(
            trap.as_ptr(),
            (&mut number as *mut i32).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!(rc, 0, "sysctlbyname({trap:?}): errno {}", errno());
    number
}

#[test]
fn every_export_works_on_the_process_kernel_and_refuses_bad_arguments() {
    // --- trap face ---
    let allocate = trap_number(c"mach.syscall.mach_port_allocate");
    let mut name = 0u32;
    let args = [
        0usize,
        1, /* MACH_PORT_RIGHT_RECEIVE */
        &mut name as *mut u32 as usize,
    ];
    // SAFETY: the trap's three arguments; `name` is writable.
    let rc = unsafe { mach_sim_trap_syscall(allocate, args.as_ptr(), 3) };
    assert_eq!(rc, 0);
    assert_ne!(name, 0);
    assert_eq!(
        mach_sim_trap_close(name as c_int),
        0,
        "close(receive right)"
    );

    // More words than syscall(2) passes, or no argument array: EINVAL, nothing called.
    let seven = [0usize; 7];
    // SAFETY: seven readable words.
    let rc = unsafe { mach_sim_trap_syscall(allocate, seven.as_ptr(), 7) };
    assert_eq!(rc, -1);
    assert_eq!(errno(), libc::EINVAL);
    // SAFETY: NULL with a count is refused before any read.
    let rc = unsafe { mach_sim_trap_syscall(allocate, std::ptr::null(), 1) };
    assert_eq!(rc, -1);
    assert_eq!(errno(), libc::EINVAL);

    // A name that is no trap: ENOENT.
    let (mut number, mut len) = (0i32, std::mem::size_of::<i32>());
    // SAFETY: as in `trap_number`.
    let rc = unsafe {
        mach_sim_trap_sysctlbyname(
            c"mach.syscall.no_such_trap".as_ptr(),
            (&mut number as *mut i32).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!((rc, errno()), (-1, libc::ENOENT));

    // A kqueue of the process's task: an empty kevent returns 0 events; close releases it.
    let kq = mach_sim_trap_kqueue();
    assert!(kq >= 0, "kqueue: errno {}", errno());
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: no change, no event buffer, a valid timeout.
    let n =
        unsafe { mach_sim_trap_kevent(kq, std::ptr::null(), 0, std::ptr::null_mut(), 0, &zero) };
    assert_eq!(n, 0, "kevent: errno {}", errno());
    assert_eq!(mach_sim_trap_close(kq), 0, "close(kqueue)");

    // A path the machine does not serve.
    // SAFETY: a C string.
    let fd = unsafe { mach_sim_trap_open(c"/dev/no_such_device".as_ptr(), libc::O_RDWR) };
    assert_eq!((fd, errno()), (-1, libc::ENOENT));

    // --- device side ---
    assert_eq!(mach_sim_boot(), 0);
    assert_eq!(mach_sim_boot(), 0, "boot is idempotent");
    // SAFETY: a C string.
    let reg = unsafe { mach_sim_trap_open(c"/dev/ioregistry".as_ptr(), libc::O_RDWR) };
    assert!(reg >= 0, "open(/dev/ioregistry): errno {}", errno());
    // SAFETY: an unknown command is refused before `arg` is read.
    let rc = unsafe { mach_sim_trap_ioctl(reg, 0, std::ptr::null_mut()) };
    assert_eq!(rc, -1, "an unknown ioctl command is refused");
    assert_eq!(mach_sim_device_watches(), 0, "no watch registered");

    // SAFETY: C strings and a NULL driver (= the name).
    let id = unsafe { mach_sim_device_attach(c"em0".as_ptr(), c"em".as_ptr(), std::ptr::null()) };
    assert_ne!(id, 0, "attach returns the node's registry id");
    assert_eq!(mach_sim_device_detach(id), 0);
    assert_eq!(
        mach_sim_device_detach(id),
        libc::ENOENT,
        "a node that left cannot leave again"
    );
    // All three strings NULL: an unnamed device still gets a node.
    // SAFETY: NULL strings read as empty.
    let anon =
        unsafe { mach_sim_device_attach(std::ptr::null(), std::ptr::null(), std::ptr::null()) };
    assert_ne!(anon, 0);
    assert_eq!(mach_sim_device_detach(anon), 0);

    assert_eq!(mach_sim_trap_close(reg), 0, "close(/dev/ioregistry)");
    assert_eq!(mach_sim_shutdown(), 0);
    // SAFETY: a C string.
    let fd = unsafe { mach_sim_trap_open(c"/dev/ioregistry".as_ptr(), libc::O_RDWR) };
    assert_eq!(
        (fd, errno()),
        (-1, libc::ENOENT),
        "after shutdown the path is no longer served"
    );
    // Everything this test created on the process's kernel is gone.
    mach_sim::Kernel::global().assert_no_leaks();
}
