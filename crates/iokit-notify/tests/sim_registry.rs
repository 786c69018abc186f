//! The simulated registry behaves like NextBSD's kernel registry (spec §4, §8). Each test uses
//! its own kernel and ends with the no-leak assertion.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use iokit_notify::registry::{SimDevice, SimRegistry, SimRegistryConfig, TestEventSupport};
use iokit_notify::registry_abi::{
    encode_name_truncating, ioreg_test_event, ioreg_watch_reg, parse_event_message,
    IOREG_EVENT_ARRIVE, IOREG_EVENT_DEPART, IOREG_EVENT_MATCHED, IOREG_STATE_DETACHED,
    IOREG_STATE_LIVE,
};
use iokit_notify::{lookup_all, Criteria, DeviceEvent, EventKind, RegistryBackend, RegistryError};
use mach_abi::{
    mach_msg_header_t, MACH_MSGH_BITS_COMPLEX, MACH_MSG_SUCCESS, MACH_MSG_TYPE_MAKE_SEND,
    MACH_PORT_RIGHT_RECEIVE, MACH_RCV_LARGE, MACH_RCV_MSG, MACH_RCV_TIMED_OUT, MACH_RCV_TIMEOUT,
};
use mach_sim::{Kernel, Name, Task};

/// A receive right with a send right under the same name, as the C library makes them.
fn port_with_send(task: &Task) -> Name {
    let name = task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    task.port_insert_right(name, name, MACH_MSG_TYPE_MAKE_SEND)
        .unwrap();
    name
}

/// Every message queued on `name`, raw (receive with `RCV_LARGE`, timeout 0, no trailer).
fn drain(task: &Task, name: Name) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut buf = [0u64; 64];
        let ptr = buf.as_mut_ptr().cast::<mach_msg_header_t>();
        // SAFETY: `buf` is 512 writable, 8-aligned bytes and the receive size says 512.
        let kr = unsafe {
            task.mach_msg(
                ptr,
                MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT,
                0,
                512,
                name,
                0,
                0,
            )
        };
        if kr == MACH_RCV_TIMED_OUT {
            return out;
        }
        assert_eq!(kr, MACH_MSG_SUCCESS, "receive failed: {kr:#x}");
        // SAFETY: the kernel wrote a header at the start of `buf`.
        let size = unsafe { (*ptr).msgh_size } as usize;
        let bytes: Vec<u8> = buf
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take(size)
            .collect();
        out.push(bytes);
    }
}

fn events(task: &Task, name: Name) -> Vec<DeviceEvent> {
    drain(task, name)
        .iter()
        .map(|m| {
            let parsed = parse_event_message(m).expect("kernel message parses");
            assert_eq!(parsed.local_port, name);
            parsed.event
        })
        .collect()
}

/// The ids of [`events`], in order.
fn event_ids(task: &Task, name: Name) -> Vec<u64> {
    events(task, name).iter().map(|e| e.id).collect()
}

/// A fresh kernel with one client task and a simulated registry.
fn setup() -> (Kernel, Task, SimRegistry) {
    let kernel = Kernel::new();
    let task = kernel.task_create("client", 100, 0, 0);
    let reg = SimRegistry::new(&kernel);
    (kernel, task, reg)
}

fn watch_reg(criteria: &Criteria, mask: u32, port: Name) -> ioreg_watch_reg {
    ioreg_watch_reg {
        criteria: criteria.to_raw().unwrap(),
        event_mask: mask,
        notify_port: port,
    }
}

fn test_event(kind: u32, id: u64, name: &str, class: &str) -> ioreg_test_event {
    ioreg_test_event {
        kind,
        id,
        name: encode_name_truncating(name),
        classname: encode_name_truncating(class),
        ..ioreg_test_event::default()
    }
}

/// Closes `names`, lets one emission prune the dead watches, drops the registry and asserts that
/// nothing is left.
fn finish(kernel: &Kernel, registry: SimRegistry, task: &Task, names: &[Name]) {
    for &n in names {
        task.port_close(n).unwrap();
    }
    let probe = registry.open(task);
    probe
        .test_event(&test_event(IOREG_EVENT_DEPART, u64::MAX, "", ""))
        .unwrap();
    assert_eq!(
        registry.watch_count(),
        0,
        "dead watches are pruned at the next emission"
    );
    drop(probe);
    drop(registry);
    kernel.assert_no_leaks();
}

#[test]
fn watch_needs_a_send_right_a_port_and_a_known_mask() {
    let (kernel, task, reg) = setup();
    let dev = reg.open(&task);
    let all = Criteria::all();

    let bare = task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    assert_eq!(
        dev.watch(&watch_reg(&all, IOREG_EVENT_ARRIVE, bare)),
        Err(RegistryError::InvalidArgument)
    );
    assert_eq!(
        dev.watch(&watch_reg(&all, IOREG_EVENT_ARRIVE, 0)),
        Err(RegistryError::InvalidArgument)
    );
    assert_eq!(
        dev.watch(&watch_reg(&all, IOREG_EVENT_ARRIVE, 0x7777)),
        Err(RegistryError::InvalidArgument)
    );
    let port = port_with_send(&task);
    assert_eq!(
        dev.watch(&watch_reg(&all, 0, port)),
        Err(RegistryError::InvalidArgument)
    );
    assert_eq!(
        dev.watch(&watch_reg(&all, 0x8, port)),
        Err(RegistryError::InvalidArgument)
    );
    assert_eq!(reg.watch_count(), 0);
    dev.watch(&watch_reg(&all, 0x8 | IOREG_EVENT_ARRIVE, port))
        .unwrap();
    assert_eq!(reg.watch_count(), 1);

    drop(dev);
    finish(&kernel, reg, &task, &[bare, port]);
}

#[test]
fn arrive_then_matched_at_the_end_of_the_quiesce_bracket() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let dev = reg.open(&task);
    dev.watch(&watch_reg(
        &Criteria::all(),
        IOREG_EVENT_ARRIVE | IOREG_EVENT_MATCHED,
        port,
    ))
    .unwrap();

    reg.match_start();
    reg.match_start();
    let em = reg.attach(SimDevice::new("em").pci(0x8086, 0x100e));
    let vt = reg.attach(SimDevice::new("vtblk"));
    reg.match_end();
    assert!(
        drain(&task, port).is_empty(),
        "nothing before the outermost match_end"
    );
    assert_eq!(reg.pending_count(), 2);
    reg.match_end();
    assert_eq!(reg.pending_count(), 0);

    let raw = drain(&task, port);
    assert_eq!(raw.len(), 4);
    for m in &raw {
        assert_eq!(m.len(), 124, "msgh_size is 124");
        let bits = u32::from_le_bytes(m[0..4].try_into().unwrap());
        assert_eq!(bits & MACH_MSGH_BITS_COMPLEX, 0);
        assert_eq!(&m[120..124], &[0; 4]);
    }
    let evs: Vec<_> = raw
        .iter()
        .map(|m| parse_event_message(m).unwrap().event)
        .collect();
    let seq: Vec<_> = evs.iter().map(|e| (e.kind, e.id)).collect();
    assert_eq!(
        seq,
        [
            (EventKind::Arrive, em),
            (EventKind::Matched, em),
            (EventKind::Arrive, vt),
            (EventKind::Matched, vt)
        ]
    );
    assert_eq!(evs[0].name, "em");
    assert_eq!(evs[0].class, "em");
    assert_eq!((evs[0].pci_vendor, evs[0].pci_device), (0x8086, 0x100e));
    assert_eq!(
        evs[1],
        DeviceEvent {
            kind: EventKind::Matched,
            ..evs[0].clone()
        },
        "identical payloads"
    );

    drop(dev);
    finish(&kernel, reg, &task, &[port]);
}

#[test]
fn attach_outside_a_bracket_waits_and_attach_without_watches_is_not_queued() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let dev = reg.open(&task);

    // No watch at attach time: never queued, even if a watch appears before the bracket ends.
    reg.match_start();
    reg.attach(SimDevice::new("early"));
    dev.watch(&watch_reg(&Criteria::all(), IOREG_EVENT_ARRIVE, port))
        .unwrap();
    reg.match_end();
    assert!(drain(&task, port).is_empty());

    // Outside any bracket: waits for the next outermost match_end.
    let late = reg.attach(SimDevice::new("late"));
    assert!(drain(&task, port).is_empty());
    reg.probe_and_attach(SimDevice::new("next"));
    let ids = event_ids(&task, port);
    assert_eq!(ids[0], late);
    assert_eq!(ids.len(), 2);

    drop(dev);
    finish(&kernel, reg, &task, &[port]);
}

#[test]
fn depart_is_immediate_with_name_and_class_then_the_id_lingers_empty() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let dev = reg.open(&task);
    let em = reg.probe_and_attach(SimDevice::new("em").pci(0x8086, 0x100e));
    dev.watch(&watch_reg(
        &Criteria::all().class("em"),
        IOREG_EVENT_DEPART,
        port,
    ))
    .unwrap();

    reg.match_start(); // DEPART does not wait for brackets
    reg.detach(em).unwrap();
    let evs = events(&task, port);
    reg.match_end();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].kind, EventKind::Depart);
    assert_eq!(
        (evs[0].id, evs[0].name.as_str(), evs[0].class.as_str()),
        (em, "em", "em")
    );
    assert_eq!(evs[0].pci_vendor, 0x8086);

    let node = dev.node(em).unwrap();
    assert_eq!(node.state, IOREG_STATE_DETACHED);
    assert_eq!(node.name, [0; 32]);
    assert_eq!(node.classname, [0; 32]);
    assert_eq!(
        lookup_all(&dev, &Criteria::all().class("em").to_raw().unwrap()).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(reg.detach(em), Err(RegistryError::NotFound));

    let again = reg.probe_and_attach(SimDevice::new("em"));
    assert_ne!(again, em, "ids are never reused");
    assert_eq!(dev.node(again).unwrap().state, IOREG_STATE_LIVE);
    assert_eq!(dev.node(0xdead_beef), Err(RegistryError::NotFound));

    drop(dev);
    finish(&kernel, reg, &task, &[port]);
}

#[test]
fn one_message_per_matching_watch_and_no_queue_limit() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let other = port_with_send(&task);
    let dev = reg.open(&task);
    dev.watch(&watch_reg(&Criteria::all(), IOREG_EVENT_ARRIVE, port))
        .unwrap();
    dev.watch(&watch_reg(
        &Criteria::all().name("em"),
        IOREG_EVENT_ARRIVE,
        port,
    ))
    .unwrap();
    dev.watch(&watch_reg(
        &Criteria::all().name("em"),
        IOREG_EVENT_DEPART,
        port,
    ))
    .unwrap();
    dev.watch(&watch_reg(
        &Criteria::all().name("vtblk"),
        IOREG_EVENT_ARRIVE,
        other,
    ))
    .unwrap();

    reg.probe_and_attach(SimDevice::new("em"));
    assert_eq!(
        events(&task, port).len(),
        2,
        "two ARRIVE watches on this port match"
    );
    assert!(events(&task, other).is_empty());

    // 20 events to a port nobody drains: the kernel's sends ignore the queue limit of 5.
    for _ in 0..20 {
        reg.probe_and_attach(SimDevice::new("vtblk"));
    }
    assert_eq!(kernel.stats().queued_messages, 20 + 20);
    assert_eq!(events(&task, other).len(), 20);
    assert_eq!(events(&task, port).len(), 20);
    assert_eq!(reg.lost_sends(), 0);

    drop(dev);
    finish(&kernel, reg, &task, &[port, other]);
}

#[test]
fn the_kernel_keeps_its_own_send_right_and_prunes_dead_watches_only_at_emission() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let dead = port_with_send(&task);
    let dev = reg.open(&task);
    dev.watch(&watch_reg(&Criteria::all(), IOREG_EVENT_ARRIVE, port))
        .unwrap();
    dev.watch(&watch_reg(&Criteria::all(), IOREG_EVENT_ARRIVE, dead))
        .unwrap();
    // The caller's send uref may go; the watch still delivers.
    task.port_deallocate(port).unwrap();
    task.port_close(dead).unwrap();
    assert_eq!(reg.watch_count(), 2, "no pruning without an emission");
    assert_eq!(kernel.stats().kernel_rights, 2);

    reg.probe_and_attach(SimDevice::new("em"));
    assert_eq!(reg.watch_count(), 1);
    assert_eq!(kernel.stats().kernel_rights, 1);
    assert_eq!(events(&task, port).len(), 1);

    drop(dev);
    finish(&kernel, reg, &task, &[port]);
}

#[test]
fn criteria_are_anded_with_driver_and_pci_ids() {
    let (kernel, task, reg) = setup();
    let by_driver = port_with_send(&task);
    let by_pci = port_with_send(&task);
    let dev = reg.open(&task);
    dev.watch(&watch_reg(
        &Criteria::all().driver("if_em"),
        IOREG_EVENT_ARRIVE,
        by_driver,
    ))
    .unwrap();
    dev.watch(&watch_reg(
        &Criteria::all().pci_vendor(0x8086).pci_device(0x10d3),
        IOREG_EVENT_ARRIVE,
        by_pci,
    ))
    .unwrap();

    let a = reg.probe_and_attach(SimDevice::new("em").driver("if_em").pci(0x8086, 0x100e));
    let b = reg.probe_and_attach(SimDevice::new("em").driver("em").pci(0x8086, 0x10d3));
    assert_eq!(event_ids(&task, by_driver), [a]);
    assert_eq!(event_ids(&task, by_pci), [b]);

    // Injected events have no driver: a driver watch never sees them.
    let mut te = test_event(IOREG_EVENT_ARRIVE, 99, "em", "em");
    te.pci_vendor = 0x8086;
    te.pci_device = 0x10d3;
    dev.test_event(&te).unwrap();
    assert!(events(&task, by_driver).is_empty());
    assert_eq!(event_ids(&task, by_pci), [99]);

    drop(dev);
    finish(&kernel, reg, &task, &[by_driver, by_pci]);
}

#[test]
fn test_event_validates_kind_and_reports_absent_kernels() {
    let (kernel, task, reg) = setup();
    let port = port_with_send(&task);
    let dev = reg.open(&task);
    dev.watch(&watch_reg(
        &Criteria::all().name("nbiokit_rt_probe"),
        IOREG_EVENT_ARRIVE,
        port,
    ))
    .unwrap();

    for kind in [0, 3, 5, 8] {
        assert_eq!(
            dev.test_event(&test_event(kind, 1, "x", "")),
            Err(RegistryError::InvalidArgument)
        );
    }
    dev.test_event(&test_event(
        IOREG_EVENT_ARRIVE,
        0x6e62_696f,
        "nbiokit_rt_probe",
        "",
    ))
    .unwrap();
    let evs = events(&task, port);
    assert_eq!(evs.len(), 1);
    assert_eq!(
        (evs[0].id, evs[0].name.as_str(), evs[0].class.as_str()),
        (0x6e62_696f, "nbiokit_rt_probe", "")
    );
    assert_eq!(
        dev.node(0x6e62_696f),
        Err(RegistryError::NotFound),
        "injected ids need not exist"
    );

    // A 32-byte name is cut to 31 by the kernel.
    let mut long = test_event(IOREG_EVENT_ARRIVE, 7, "", "");
    long.name = [b'n'; 32];
    let port2 = port_with_send(&task);
    dev.watch(&watch_reg(
        &Criteria::all().name("n".repeat(31)),
        IOREG_EVENT_ARRIVE,
        port2,
    ))
    .unwrap();
    dev.test_event(&long).unwrap();
    assert_eq!(events(&task, port2)[0].name, "n".repeat(31));

    reg.set_test_event_support(TestEventSupport::Absent);
    assert_eq!(
        dev.test_event(&test_event(0, 0, "", "")),
        Err(RegistryError::Unsupported(libc::ENOTTY))
    );
    reg.set_test_event_support(TestEventSupport::NoCompatMach);
    assert_eq!(
        dev.test_event(&test_event(0, 0, "", "")),
        Err(RegistryError::Unsupported(libc::ENOSYS))
    );
    let port3 = port_with_send(&task);
    assert_eq!(
        dev.watch(&watch_reg(&Criteria::all(), IOREG_EVENT_ARRIVE, port3)),
        Err(RegistryError::Unsupported(libc::ENOSYS))
    );
    reg.set_test_event_support(TestEventSupport::Present);

    drop(dev);
    finish(&kernel, reg, &task, &[port, port2, port3]);
}

#[test]
fn lookup_truncates_at_max_and_lookup_all_does_not() {
    let kernel = Kernel::new();
    let task = kernel.task_create("client", 100, 0, 0);
    let reg = SimRegistry::with_config(&kernel, SimRegistryConfig::default());
    let dev = reg.open(&task);
    let pci = reg.probe_and_attach(SimDevice::new("pci"));
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(reg.probe_and_attach(SimDevice::new("em").parent(pci)));
    }
    let hidden = reg.add_driverless(SimDevice::default().parent(pci));
    let em = Criteria::all().class("em").to_raw().unwrap();

    let mut buf = vec![0u64; 128];
    assert_eq!(dev.lookup(&em, &mut buf).unwrap(), 200, "the true count");
    assert_eq!(buf, ids[..128]);
    assert_eq!(lookup_all(&dev, &em).unwrap(), ids);
    let everything = lookup_all(&dev, &Criteria::all().to_raw().unwrap()).unwrap();
    assert_eq!(
        everything.len(),
        1 + 1 + 200 + 1,
        "root, pci, 200 em, one driverless child"
    );
    assert!(everything.contains(&hidden));
    assert_eq!(dev.node(ids[0]).unwrap().parent_id, pci);

    // Detaching a bus detaches its children first.
    reg.detach(pci).unwrap();
    assert_eq!(
        lookup_all(&dev, &Criteria::all().to_raw().unwrap()).unwrap(),
        [reg.root_id()]
    );

    drop(dev);
    drop(reg);
    kernel.assert_no_leaks();
}
