//! The simulated registry as `/dev/ioregistry` on the simulated kernel's trap face (what the
//! NextBSD backend opens under NextBSD over sim): each ioctl the kernel accepts, with the
//! kernel's argument structs, and the errors it answers.
#![cfg(mach_backend = "sim")]
// Sim-only: it drives the trap face directly, in a task of a kernel of its own.

use iokit_notify::registry::SimRegistry;
use iokit_notify::registry_abi::{
    ioreg_lookup, ioreg_node, ioreg_test_event, ioreg_watch_reg, IOREGIOCLOOKUP, IOREGIOCNODE,
    IOREGIOCROOT, IOREGIOCTESTEVENT, IOREGIOCWATCH, IOREG_EVENT_ARRIVE,
};
use iokit_notify::sim::SimDevice;
use libc::c_int;
use mach_async::mach_sim::mach_abi::{MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_RECEIVE};
use mach_async::mach_sim::{trap, Kernel};

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn ioctl<T>(fd: c_int, cmd: u32, arg: &mut T) -> c_int {
    // SAFETY: each call passes the struct its command encodes.
    unsafe { trap::ioctl(fd, u64::from(cmd), (arg as *mut T).cast()) }
}

#[test]
fn every_ioctl_through_the_trap_face() {
    let kernel = Kernel::new();
    let task = kernel.task_create("da", 30, 0, 0);
    let registry = SimRegistry::new(&kernel);
    let em0 = registry.probe_and_attach(SimDevice::new("em0").class("em").driver("em"));
    registry.install_device();
    {
        let _entered = task.enter();
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { trap::open(c"/dev/ioregistry".as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0, "open: errno {}", errno());

        let mut root = 0u64;
        assert_eq!(ioctl(fd, IOREGIOCROOT, &mut root), 0);
        assert_eq!(root, registry.root_id());

        let mut ids = [0u64; 1];
        let mut lookup = ioreg_lookup {
            max: 1,
            matches: ids.as_mut_ptr() as u64,
            ..Default::default()
        };
        assert_eq!(ioctl(fd, IOREGIOCLOOKUP, &mut lookup), 0);
        assert!(lookup.count >= 2, "root and em0 match, one fits: truncated");
        assert!(ids[0] != 0);

        let mut node = ioreg_node::zeroed();
        node.id = em0;
        assert_eq!(ioctl(fd, IOREGIOCNODE, &mut node), 0);
        assert_eq!(&node.name[..4], b"em0\0");
        node.id = u64::MAX;
        assert_eq!(
            (ioctl(fd, IOREGIOCNODE, &mut node), errno()),
            (-1, libc::ENOENT)
        );

        // WATCH needs a send right in the calling task.
        let port = task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
        let mut reg = ioreg_watch_reg {
            event_mask: IOREG_EVENT_ARRIVE,
            notify_port: port,
            ..Default::default()
        };
        assert_eq!(
            (ioctl(fd, IOREGIOCWATCH, &mut reg), errno()),
            (-1, libc::EINVAL)
        );
        task.port_insert_right(port, port, MACH_MSG_TYPE_MAKE_SEND)
            .unwrap();
        assert_eq!(ioctl(fd, IOREGIOCWATCH, &mut reg), 0);

        let mut bad = ioreg_test_event::default();
        assert_eq!(
            (ioctl(fd, IOREGIOCTESTEVENT, &mut bad), errno()),
            (-1, libc::EINVAL)
        );
        let mut event = ioreg_test_event {
            kind: IOREG_EVENT_ARRIVE,
            id: 0x5150,
            ..Default::default()
        };
        assert_eq!(ioctl(fd, IOREGIOCTESTEVENT, &mut event), 0);
        assert_eq!(
            task.port_status(port).unwrap().msgcount,
            1,
            "the watch got the event"
        );

        // Unknown commands and a null argument.
        let mut word = 0u32;
        assert_eq!(
            (ioctl(fd, 0x4004_5299, &mut word), errno()),
            (-1, libc::ENOTTY)
        );
        // SAFETY: the null argument is refused before any use.
        let rc = unsafe { trap::ioctl(fd, u64::from(IOREGIOCROOT), std::ptr::null_mut()) };
        assert_eq!((rc, errno()), (-1, libc::EFAULT));

        assert_eq!(trap::close(fd), 0);
        task.port_close(port).unwrap();
    }
    SimRegistry::uninstall_device();
    drop(registry);
    kernel.assert_no_leaks();
}
