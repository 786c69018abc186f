//! The trap face (`mach_sim::trap`): NextBSD's kernel interface below libmach, rule by rule
//! (mach-abi.md §9.1–§9.3). Every test runs in a task of its own kernel whose names are
//! descriptors (as the global kernel's are with the `nextbsd-traps` feature), entered on the
//! test's thread, and ends with the leak check.

use std::ffi::CStr;
use std::sync::Arc;

use libc::{c_int, c_void};
use mach_sim::mach_abi::*;
use mach_sim::trap::{self, Device, TRAPS};
use mach_sim::{Kernel, KernelConfig, Task};

fn kernel() -> Kernel {
    Kernel::with_config(KernelConfig {
        names_are_descriptors: true,
        ..KernelConfig::default()
    })
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The trap's number as NextBSD code reads it: `sysctlbyname("mach.syscall.<name>")`.
fn number(name: &str) -> c_int {
    let full = std::ffi::CString::new(format!("mach.syscall.{name}")).unwrap();
    let mut value: c_int = -1;
    let mut len = std::mem::size_of::<c_int>();
    // SAFETY: valid name, out-value and length.
    let rc = unsafe {
        trap::sysctlbyname(
            full.as_ptr(),
            (&mut value as *mut c_int).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!(rc, 0, "sysctl {name}");
    assert_eq!(len, 4);
    value
}

fn call(name: &str, args: &[usize]) -> c_int {
    // SAFETY: every test passes valid addresses where the trap writes.
    unsafe { trap::syscall(number(name), args) }
}

fn allocate(right: u32) -> u32 {
    let mut name = 0u32;
    let rc = call(
        "mach_port_allocate",
        &[0, right as usize, &mut name as *mut u32 as usize],
    );
    assert_eq!(rc, 0);
    name
}

/// Sends a bare message `id` to `port` through `mach_msg_trap` (the disposition makes or copies
/// the send right) and returns the trap's result.
fn send_through_trap(port: u32, disposition: u32, id: i32) -> c_int {
    let mut buf = [0u32; 8];
    let header = mach_msg_header_t {
        msgh_bits: MACH_MSGH_BITS(disposition, 0),
        msgh_size: 24,
        msgh_remote_port: port,
        msgh_local_port: 0,
        msgh_voucher_port: 0,
        msgh_id: id,
    };
    // SAFETY: `buf` is 32 bytes, 4-aligned.
    unsafe { buf.as_mut_ptr().cast::<mach_msg_header_t>().write(header) };
    let send = [
        buf.as_mut_ptr() as usize,
        MACH_SEND_MSG as usize,
        24,
        0,
        0,
        0,
    ];
    call("mach_msg_trap", &send)
}

fn is_open_fd(fd: u32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor table.
    unsafe { libc::fcntl(fd as c_int, libc::F_GETFD) >= 0 }
}

/// Runs `f` in a fresh task, one test at a time: names are the process's descriptors, so a test
/// that checks which number comes next must not race another test's `open`.
fn in_task<R>(f: impl FnOnce(&Task) -> R) -> R {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let k = kernel();
    let task = k.task_create("process", 42, 0, 0);
    let r = {
        let _entered = task.enter();
        f(&task)
    };
    k.assert_no_leaks();
    r
}

#[test]
fn every_wired_trap_has_a_sysctl_and_unwired_handlers_have_none() {
    for t in TRAPS {
        assert_eq!(number(t.name), t.number);
    }
    assert_eq!(TRAPS.len(), 14);
    for unwired in [
        c"mach.syscall.mach_port_mod_refs",
        c"mach.syscall.mach_port_destroy",
        c"mach.syscall.mach_port_insert_member",
        c"mach.syscall.mach_msg_overwrite_trap",
        c"kern.ostype",
    ] {
        let (mut v, mut len) = (0 as c_int, 4usize);
        // SAFETY: valid arguments.
        let rc = unsafe {
            trap::sysctlbyname(
                unwired.as_ptr(),
                (&mut v as *mut c_int).cast(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        assert_eq!((rc, errno()), (-1, libc::ENOENT), "{unwired:?}");
    }
}

#[test]
fn the_sysctls_are_read_only_and_need_room_for_an_int() {
    let name: &CStr = c"mach.syscall.mach_msg_trap";
    let mut v: c_int = 0;
    let mut len = 2usize;
    // SAFETY: valid arguments; `len` says 2 bytes of room.
    let rc = unsafe {
        trap::sysctlbyname(
            name.as_ptr(),
            (&mut v as *mut c_int).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!((rc, errno()), (-1, libc::ENOMEM));
    let new = 5 as c_int;
    let mut len = 4usize;
    // SAFETY: valid arguments; a write is attempted.
    let rc = unsafe {
        trap::sysctlbyname(
            name.as_ptr(),
            (&mut v as *mut c_int).cast(),
            &mut len,
            (&new as *const c_int).cast(),
            4,
        )
    };
    assert_eq!((rc, errno()), (-1, libc::EPERM));
}

#[test]
fn an_unknown_syscall_number_is_enosys() {
    // SAFETY: no arguments are used.
    let rc = unsafe { trap::syscall(9999, &[]) };
    assert_eq!((rc, errno()), (-1, libc::ENOSYS));
}

#[test]
fn mach_port_allocate_is_errno_style() {
    in_task(|task| {
        let name = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert!(name >= 16, "names are descriptors from 16");
        assert_eq!(task.port_type(name), Ok(MACH_PORT_TYPE_RECEIVE));
        // A bad right: -1 with errno = the kern_return_t, not the kr in the return value.
        let mut out = 0u32;
        let rc = call(
            "mach_port_allocate",
            &[0, 99, &mut out as *mut u32 as usize],
        );
        assert_eq!((rc, errno()), (-1, KERN_INVALID_VALUE));
        // An out-pointer the kernel cannot write: EFAULT.
        let rc = call(
            "mach_port_allocate",
            &[0, MACH_PORT_RIGHT_RECEIVE as usize, 8],
        );
        assert_eq!((rc, errno()), (-1, libc::EFAULT));
        assert_eq!(trap::close(name as c_int), 0);
    });
}

#[test]
fn mach_port_deallocate_always_reports_success() {
    in_task(|task| {
        let name = allocate(MACH_PORT_RIGHT_RECEIVE);
        // Deallocating a receive-only right fails in the kernel, and the trap hides it.
        assert_eq!(call("mach_port_deallocate", &[0, name as usize]), 0);
        assert_eq!(
            task.port_type(name),
            Ok(MACH_PORT_TYPE_RECEIVE),
            "nothing happened"
        );
        assert_eq!(
            call("mach_port_deallocate", &[0, 0xdead]),
            0,
            "an unknown name too"
        );
        assert_eq!(trap::close(name as c_int), 0);
    });
}

#[test]
fn mach_port_insert_right_needs_name_equal_to_poly() {
    in_task(|task| {
        let a = allocate(MACH_PORT_RIGHT_RECEIVE);
        let b = allocate(MACH_PORT_RIGHT_RECEIVE);
        let make_send = MACH_MSG_TYPE_MAKE_SEND as usize;
        assert_eq!(
            call(
                "mach_port_insert_right",
                &[0, a as usize, b as usize, make_send]
            ),
            0x1000_0003
        );
        assert_eq!(
            call(
                "mach_port_insert_right",
                &[0, a as usize, a as usize, make_send]
            ),
            0
        );
        assert_eq!(task.port_get_refs(a, MACH_PORT_RIGHT_SEND), Ok(1));
        for n in [a, b] {
            assert_eq!(trap::close(n as c_int), 0);
        }
    });
}

#[test]
fn request_notification_takes_six_arguments_and_no_task() {
    in_task(|task| {
        let port = allocate(MACH_PORT_RIGHT_RECEIVE);
        let notify = allocate(MACH_PORT_RIGHT_RECEIVE);
        let mut previous = 0xffff_ffffu32;
        let args = [
            port as usize,
            MACH_NOTIFY_NO_SENDERS as usize,
            0,
            notify as usize,
            MACH_MSG_TYPE_MAKE_SEND_ONCE as usize,
            &mut previous as *mut u32 as usize,
        ];
        assert_eq!(call("mach_port_request_notification", &args), KERN_SUCCESS);
        assert_eq!(previous, 0);
        // libmach's old seven-argument form (task first) reads the task as the name: it fails
        // as on NextBSD instead of arming anything.
        let mut prev7 = 0u32;
        let with_task = [
            0x7000_0001,
            port as usize,
            MACH_NOTIFY_NO_SENDERS as usize,
            0,
            notify as usize,
            MACH_MSG_TYPE_MAKE_SEND_ONCE as usize,
            &mut prev7 as *mut u32 as usize,
        ];
        assert_ne!(
            call("mach_port_request_notification", &with_task),
            KERN_SUCCESS
        );
        // A previous-pointer the kernel cannot write is KERN_INVALID_ADDRESS.
        let mut bad = args;
        bad[5] = 16;
        assert_eq!(
            call("mach_port_request_notification", &bad),
            KERN_INVALID_ADDRESS
        );
        let _ = task;
        for n in [port, notify] {
            assert_eq!(trap::close(n as c_int), 0);
        }
    });
}

#[test]
fn a_missing_argument_is_garbage_not_zero() {
    in_task(|_| {
        // mach_port_allocate without its out-pointer: the register holds garbage, the copyout
        // faults. (Read as 0 it would also fault; read as a small number it must, too.)
        let rc = call("mach_port_allocate", &[0, MACH_PORT_RIGHT_RECEIVE as usize]);
        assert_eq!((rc, errno()), (-1, libc::EFAULT));
        // move_member without `after`: garbage is no set name.
        let port = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert_ne!(
            call("mach_port_move_member", &[0, port as usize]),
            KERN_SUCCESS
        );
        assert_eq!(trap::close(port as c_int), 0);
    });
}

#[test]
fn mach_msg_trap_round_trip_and_a_bad_buffer() {
    in_task(|_| {
        let port = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert_eq!(
            send_through_trap(port, MACH_MSG_TYPE_MAKE_SEND, 4242),
            MACH_MSG_SUCCESS
        );
        let mut buf = [0u32; 32];
        let rcv = [
            buf.as_mut_ptr() as usize,
            (MACH_RCV_MSG | MACH_RCV_TIMEOUT) as usize,
            0,
            128,
            port as usize,
            0,
        ];
        assert_eq!(call("mach_msg_trap", &rcv), MACH_MSG_SUCCESS);
        // SAFETY: the receive wrote a header.
        let got = unsafe { buf.as_ptr().cast::<mach_msg_header_t>().read() };
        assert_eq!(got.msgh_id, 4242);
        // A buffer address where a port name stands (swapped arguments): the kernel's copyin fails.
        let swapped = [port as usize, MACH_SEND_MSG as usize, 24, 0, 0, 0];
        assert_eq!(call("mach_msg_trap", &swapped), MACH_SEND_INVALID_DATA);
        let swapped_rcv = [
            port as usize,
            MACH_RCV_MSG as usize,
            0,
            128,
            port as usize,
            0,
        ];
        assert_eq!(call("mach_msg_trap", &swapped_rcv), MACH_RCV_INVALID_DATA);
        assert_eq!(trap::close(port as c_int), 0);
    });
}

#[test]
fn names_are_descriptors_and_close_destroys_them() {
    in_task(|task| {
        let set = allocate(MACH_PORT_RIGHT_PORT_SET);
        let port = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert!(
            is_open_fd(set) && is_open_fd(port),
            "each name is an open descriptor"
        );
        assert_eq!(
            call("mach_port_move_member", &[0, port as usize, set as usize]),
            0
        );
        assert_eq!(task.port_set_members(set), Ok(vec![port]));
        assert_eq!(trap::close(set as c_int), 0);
        assert!(
            !is_open_fd(set),
            "closing the set's name closed its descriptor"
        );
        assert_eq!(task.port_type(set), Err(KERN_INVALID_NAME));
        assert_eq!(trap::close(port as c_int), 0);
        assert!(!is_open_fd(port));
        // A descriptor that is no Mach name is closed as any other.
        let mut fds = [0 as c_int; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        assert_eq!(trap::close(fds[0]), 0);
        assert_eq!(trap::close(fds[1]), 0);
        assert_eq!((trap::close(fds[1]), errno()), (-1, libc::EBADF));
    });
}

#[test]
fn the_lowest_free_descriptor_is_the_next_name() {
    in_task(|_| {
        let a = allocate(MACH_PORT_RIGHT_RECEIVE);
        let b = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert_eq!(trap::close(a as c_int), 0);
        let c = allocate(MACH_PORT_RIGHT_RECEIVE);
        assert_eq!(
            c, a,
            "a freed name is reused first, as a freed descriptor is"
        );
        for n in [b, c] {
            assert_eq!(trap::close(n as c_int), 0);
        }
    });
}

#[test]
fn kqueue_and_kevent_with_the_freebsd_layout() {
    in_task(|_| {
        let set = allocate(MACH_PORT_RIGHT_PORT_SET);
        let port = allocate(MACH_PORT_RIGHT_RECEIVE);
        let kq = trap::kqueue();
        assert!(kq >= 0);
        // SAFETY: F_GETFD only reads.
        let fd_flags = unsafe { libc::fcntl(kq, libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let add = kevent_freebsd {
            ident: set as usize,
            filter: EVFILT_MACHPORT_NEXTBSD,
            flags: EV_ADD | EV_CLEAR,
            ..kevent_freebsd::zeroed()
        };
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: one change, no events, a valid timeout.
        let rc = unsafe { trap::kevent(kq, &add, 1, std::ptr::null_mut(), 0, &zero) };
        assert_eq!(rc, 0);
        assert_eq!(
            call("mach_port_move_member", &[0, port as usize, set as usize]),
            0
        );
        assert_eq!(
            call(
                "mach_port_insert_right",
                &[
                    0,
                    port as usize,
                    port as usize,
                    MACH_MSG_TYPE_MAKE_SEND as usize
                ]
            ),
            0
        );
        assert_eq!(
            send_through_trap(port, MACH_MSG_TYPE_COPY_SEND, 1),
            MACH_MSG_SUCCESS
        );
        let mut events = [kevent_freebsd::zeroed(); 2];
        // SAFETY: room for two events.
        let n = unsafe { trap::kevent(kq, std::ptr::null(), 0, events.as_mut_ptr(), 2, &zero) };
        assert_eq!(n, 1);
        assert_eq!(
            (events[0].ident, events[0].data),
            (set as usize, i64::from(port))
        );
        // A descriptor that is not a kqueue: EBADF.
        // SAFETY: as above.
        let rc = unsafe {
            trap::kevent(
                port as c_int,
                std::ptr::null(),
                0,
                events.as_mut_ptr(),
                2,
                &zero,
            )
        };
        assert_eq!((rc, errno()), (-1, libc::EBADF));
        assert_eq!(trap::close(kq), 0);
        for n in [set, port] {
            assert_eq!(trap::close(n as c_int), 0);
        }
    });
}

struct Echo;

impl Device for Echo {
    unsafe fn ioctl(&self, task: &Task, cmd: u64, arg: *mut c_void) -> Result<(), c_int> {
        if cmd != 0xc004_7201 {
            return Err(libc::ENOTTY);
        }
        // SAFETY: this command's argument is a u32 in/out (the caller's guarantee).
        unsafe { arg.cast::<u32>().write(task.id()) };
        Ok(())
    }
}

#[test]
fn device_files_answer_open_ioctl_and_close() {
    in_task(|task| {
        trap::register_device("/dev/conformance-echo", Arc::new(Echo));
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { trap::open(c"/dev/conformance-echo".as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0);
        let mut v = 0u32;
        // SAFETY: the command's argument is a u32.
        let rc = unsafe { trap::ioctl(fd, 0xc004_7201, (&mut v as *mut u32).cast()) };
        assert_eq!(rc, 0);
        assert_eq!(v, task.id(), "the ioctl ran in the caller's task");
        // SAFETY: an unknown command is refused before the argument is used.
        let rc = unsafe { trap::ioctl(fd, 0x1234, std::ptr::null_mut()) };
        assert_eq!((rc, errno()), (-1, libc::ENOTTY));
        assert_eq!(trap::close(fd), 0);
        trap::unregister_device("/dev/conformance-echo");
        // SAFETY: a NUL-terminated path.
        let rc = unsafe { trap::open(c"/dev/conformance-echo".as_ptr(), libc::O_RDONLY) };
        assert_eq!((rc, errno()), (-1, libc::ENOENT), "no device, no file");
    });
}

#[test]
fn the_other_wired_traps_answer_as_nextbsd_does() {
    in_task(|task| {
        // mach_reply_port: a new receive right in the return value.
        let reply = call("mach_reply_port", &[]) as u32;
        assert_eq!(task.port_type(reply), Ok(MACH_PORT_TYPE_RECEIVE));
        assert_eq!(trap::close(reply as c_int), 0);
        // task_self_trap: the task's (pseudo) name, never 0.
        assert_ne!(call("task_self_trap", &[]), 0);
        // Threads and hosts are not modelled: the name traps' failure value.
        assert_eq!(call("thread_self_trap", &[]), 0);
        assert_eq!(call("host_self_trap", &[]), 0);
        // task_get_special_port(TASK_BOOTSTRAP_PORT): the bootstrap port; other ports refused.
        let mut bp = 0u32;
        let rc = call(
            "task_get_special_port",
            &[0, 4, &mut bp as *mut u32 as usize],
        );
        assert_eq!(
            (rc, bp),
            (KERN_SUCCESS, mach_sim::ffi::sim::MACH_SIM_BOOTSTRAP_PORT)
        );
        let rc = call(
            "task_get_special_port",
            &[0, 1, &mut bp as *mut u32 as usize],
        );
        assert_eq!(rc, KERN_INVALID_ARGUMENT);
        assert_eq!(
            call("task_get_special_port", &[0, 4, 12]),
            KERN_INVALID_ADDRESS
        );
        // Special ports cannot be set in the simulation.
        assert_eq!(
            call("task_set_special_port", &[0, 4, 0]),
            KERN_NOT_SUPPORTED
        );
        assert_eq!(
            call("host_set_special_port", &[0, 13, 0]),
            KERN_NOT_SUPPORTED
        );
        // mach_wait_quiet: success (also on timeout).
        assert_eq!(call("mach_wait_quiet", &[1_000]), KERN_SUCCESS);
    });
}
