//! A simulated `/dev/ioregistry` on the simulated kernel (`mach-sim`), behaving as NextBSD's
//! `dev/iokit/iokit_registry.c` and `compat/mach/iokit_notify.c` do (spec §4, §8):
//!
//! * newbus: devices attach and detach; ids are minted at first sight, never reused, and linger
//!   after detach (`IOREGIOCNODE` then answers with every field empty and state DETACHED);
//!   children without a driver are visible to `LOOKUP` but never produce events;
//! * attach events wait on a pending list (only if at least one watch exists at attach time)
//!   until the outermost `device_match_end`, which emits ARRIVE and then MATCHED for each device
//!   in attach order, as two separate emissions;
//! * DEPART is emitted immediately at detach, while the device still has its name and class;
//! * each emission prunes watches whose port died, then sends one message per matching watch, in
//!   registration order, through a [`mach_sim::KernelSendRight`] (no queue limit; a failed send
//!   loses the event);
//! * `WATCH` needs a name carrying a send right (`EINVAL` otherwise, and for a mask without a
//!   known bit); `TESTEVENT` rejects any kind but 1, 2, 4 with `EINVAL` and can be configured
//!   absent (`ENOTTY`) or without `COMPAT_MACH` (`ENOSYS`, which also fails `WATCH`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use mach_abi::MACH_PORT_TYPE_SEND;
use mach_sim::{Kernel, KernelSendRight, Task};

use super::{RegistryBackend, RegistryError};
use crate::registry_abi::{
    encode_event_body, encode_name_truncating, ioreg_criteria, ioreg_node, ioreg_test_event,
    ioreg_watch_reg, name_bytes, terminate_name, RawEvent, IOKIT_NOTIFY_MSG_ID, IOREG_EVENT_ALL,
    IOREG_EVENT_ARRIVE, IOREG_EVENT_DEPART, IOREG_EVENT_MATCHED, IOREG_NAME_MAX, IOREG_PATH_MAX,
    IOREG_STATE_DETACHED, IOREG_STATE_LIVE,
};

/// newbus `DS_NOTPRESENT`: a child no driver attached to.
const DS_NOTPRESENT: i32 = 10;
/// newbus `DS_ATTACHED`.
const DS_ATTACHED: i32 = 30;

/// Which `IOREGIOCTESTEVENT` the simulated kernel has (the presence probe of `iokitnotifyrt`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TestEventSupport {
    /// The call exists: kind 0 fails with `EINVAL`.
    #[default]
    Present,
    /// A kernel predating the call: `ENOTTY`.
    Absent,
    /// A kernel built without `COMPAT_MACH`: `ENOSYS` for `TESTEVENT` and for `WATCH`.
    NoCompatMach,
}

/// Tunables of a simulated registry.
#[derive(Clone, Debug, Default)]
pub struct SimRegistryConfig {
    /// Which `IOREGIOCTESTEVENT` the kernel has.
    pub test_event: TestEventSupport,
}

/// A device to attach to the simulated newbus tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimDevice {
    /// `device_get_name()`, e.g. `em`.
    pub name: String,
    /// Devclass name; usually the same as the name.
    pub class: String,
    /// Bound driver; usually the same as the name.
    pub driver: String,
    /// PCI vendor id (0: not a PCI nub).
    pub pci_vendor: u32,
    /// PCI device id.
    pub pci_device: u32,
    /// PCI subsystem vendor id.
    pub pci_subvendor: u32,
    /// PCI base class.
    pub pci_class: u32,
    /// Parent node id; the root when `None`.
    pub parent: Option<u64>,
}

impl SimDevice {
    /// A device whose name, devclass and driver are all `name`, as newbus usually has it.
    pub fn new(name: &str) -> SimDevice {
        SimDevice {
            name: name.into(),
            class: name.into(),
            driver: name.into(),
            ..SimDevice::default()
        }
    }
    /// Sets the devclass name.
    pub fn class(mut self, class: &str) -> SimDevice {
        self.class = class.into();
        self
    }
    /// Sets the driver name.
    pub fn driver(mut self, driver: &str) -> SimDevice {
        self.driver = driver.into();
        self
    }
    /// Sets the PCI vendor and device ids.
    pub fn pci(mut self, vendor: u32, device: u32) -> SimDevice {
        self.pci_vendor = vendor;
        self.pci_device = device;
        self
    }
    /// Sets the parent node.
    pub fn parent(mut self, parent: u64) -> SimDevice {
        self.parent = Some(parent);
        self
    }
}

/// What the matcher and the message see of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    id: u64,
    name: [u8; IOREG_NAME_MAX],
    classname: [u8; IOREG_NAME_MAX],
    driver: [u8; IOREG_NAME_MAX],
    pci_vendor: u32,
    pci_device: u32,
    pci_subvendor: u32,
    pci_class: u32,
}

impl Identity {
    fn matches(&self, c: &ioreg_criteria) -> bool {
        let text = |crit: &[u8; IOREG_NAME_MAX], value: &[u8; IOREG_NAME_MAX]| {
            let crit = name_bytes(crit);
            crit.is_empty() || crit == name_bytes(value)
        };
        let number = |crit: u32, value: u32| crit == 0 || crit == value;
        text(&c.name, &self.name)
            && text(&c.classname, &self.classname)
            && text(&c.driver, &self.driver)
            && number(c.pci_vendor, self.pci_vendor)
            && number(c.pci_device, self.pci_device)
            && number(c.pci_subvendor, self.pci_subvendor)
            && number(c.pci_class, self.pci_class)
    }

    fn raw_event(&self, kind: u32) -> RawEvent {
        RawEvent {
            kind,
            id: self.id,
            name: self.name,
            classname: self.classname,
            pci_vendor: self.pci_vendor,
            pci_device: self.pci_device,
        }
    }
}

#[derive(Debug)]
struct Node {
    identity: Identity,
    parent: u64,
    path: String,
    live: bool,
    /// A driver attached (the node produces events); false for driverless children.
    attached: bool,
}

struct Watch {
    criteria: ioreg_criteria,
    mask: u32,
    port: Arc<KernelSendRight>,
}

struct State {
    next_id: u64,
    root: u64,
    /// Every node ever seen, live or lingering, by id (ids grow in attach order).
    nodes: BTreeMap<u64, Node>,
    /// Next unit number per device name (`em0`, `em1`, ...).
    units: HashMap<String, u32>,
    /// Global watch list, in registration order.
    watches: Vec<Watch>,
    /// Nesting depth of `device_match_start` / `device_match_end`.
    match_depth: u32,
    /// Attached devices waiting for the outermost `device_match_end`, in attach order.
    pending: Vec<u64>,
    config: SimRegistryConfig,
}

struct Inner {
    kernel: Kernel,
    state: Mutex<State>,
    lost_sends: AtomicU64,
}

/// Every registry created, weakly (a registry lives as long as its handles), oldest first.
fn kernel_registries() -> MutexGuard<'static, Vec<Weak<Inner>>> {
    static ALL: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());
    // Every update is one push or retain: a holder's panic leaves the list usable.
    ALL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A simulated in-kernel registry on one simulated [`Kernel`]. Cheap to clone (a shared handle).
///
/// The newbus side ([`SimRegistry::probe_and_attach`], [`SimRegistry::detach`], ...) plays the
/// kernel's device tree; [`SimRegistry::open`] gives the `/dev/ioregistry` of one task, which
/// implements [`RegistryBackend`].
///
/// Watches hold kernel send rights; they are released when an emission prunes them (after their
/// port died) or when the last handle to the registry is dropped.
///
/// A registry is its kernel's `/dev/ioregistry` for [`crate::NotificationPort::open`]: the
/// newest live registry created on a kernel is the one found from a space of that kernel
/// ([`SimRegistry::of_kernel`]).
#[derive(Clone)]
pub struct SimRegistry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state();
        f.debug_struct("SimRegistry")
            .field("nodes", &st.nodes.len())
            .field("watches", &st.watches.len())
            .field("pending", &st.pending.len())
            .finish()
    }
}

impl SimRegistry {
    /// A registry with only the root node, on `kernel`.
    pub fn new(kernel: &Kernel) -> SimRegistry {
        SimRegistry::with_config(kernel, SimRegistryConfig::default())
    }

    /// A registry with only the root node, on `kernel`, with `config`.
    pub fn with_config(kernel: &Kernel, config: SimRegistryConfig) -> SimRegistry {
        let root_identity = Identity {
            id: 1,
            name: encode_name_truncating("root"),
            classname: encode_name_truncating("root"),
            driver: encode_name_truncating("root"),
            pci_vendor: 0,
            pci_device: 0,
            pci_subvendor: 0,
            pci_class: 0,
        };
        let mut nodes = BTreeMap::new();
        nodes.insert(
            1,
            Node {
                identity: root_identity,
                parent: 0,
                path: "root0".into(),
                live: true,
                attached: true,
            },
        );
        let state = State {
            next_id: 2,
            root: 1,
            nodes,
            units: HashMap::from([("root".to_string(), 1)]),
            watches: Vec::new(),
            match_depth: 0,
            pending: Vec::new(),
            config,
        };
        let registry = SimRegistry {
            inner: Arc::new(Inner {
                kernel: kernel.clone(),
                state: Mutex::new(state),
                lost_sends: AtomicU64::new(0),
            }),
        };
        let mut all = kernel_registries();
        all.retain(|r| r.strong_count() > 0);
        all.push(Arc::downgrade(&registry.inner));
        registry
    }

    /// The registry of `kernel`: the newest live registry created on it, if any.
    pub fn of_kernel(kernel: &Kernel) -> Option<SimRegistry> {
        kernel_registries()
            .iter()
            .rev()
            .filter_map(Weak::upgrade)
            .find(|inner| inner.kernel.same(kernel))
            .map(|inner| SimRegistry { inner })
    }

    /// The registry of [`Kernel::global`], used by the C ABI in the simulation.
    pub fn global() -> &'static SimRegistry {
        static GLOBAL: OnceLock<SimRegistry> = OnceLock::new();
        GLOBAL.get_or_init(|| SimRegistry::new(Kernel::global()))
    }

    /// The kernel this registry lives in.
    pub fn kernel(&self) -> &Kernel {
        &self.inner.kernel
    }

    /// `/dev/ioregistry` as `task` sees it: port names given to it are names in `task`.
    pub fn open(&self, task: &Task) -> SimRegistryHandle {
        SimRegistryHandle {
            registry: self.clone(),
            task: task.clone(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes which `IOREGIOCTESTEVENT` the kernel has.
    pub fn set_test_event_support(&self, support: TestEventSupport) {
        self.state().config.test_event = support;
    }

    /// The root node's id (`IOREGIOCROOT`).
    pub fn root_id(&self) -> u64 {
        self.state().root
    }

    /// Watches registered and not yet pruned.
    pub fn watch_count(&self) -> usize {
        self.state().watches.len()
    }

    /// Devices attached whose ARRIVE waits for the outermost `device_match_end`.
    pub fn pending_count(&self) -> usize {
        self.state().pending.len()
    }

    /// Event messages whose send failed (the kernel ignores the failure; the event is lost).
    pub fn lost_sends(&self) -> u64 {
        self.inner.lost_sends.load(Ordering::Relaxed)
    }

    fn insert_node(&self, st: &mut State, dev: &SimDevice, attached: bool) -> u64 {
        let id = st.next_id;
        st.next_id += 1;
        let parent = dev.parent.unwrap_or(st.root);
        let unit = st.units.entry(dev.name.clone()).or_insert(0);
        let nameunit = format!("{}{}", dev.name, *unit);
        *unit += 1;
        let parent_path = st
            .nodes
            .get(&parent)
            .map(|p| p.path.clone())
            .unwrap_or_default();
        let identity = Identity {
            id,
            name: encode_name_truncating(&dev.name),
            classname: encode_name_truncating(&dev.class),
            driver: if attached {
                encode_name_truncating(&dev.driver)
            } else {
                [0; IOREG_NAME_MAX]
            },
            pci_vendor: dev.pci_vendor,
            pci_device: dev.pci_device,
            pci_subvendor: dev.pci_subvendor,
            pci_class: dev.pci_class & 0xff,
        };
        st.nodes.insert(
            id,
            Node {
                identity,
                parent,
                path: format!("{parent_path}/{nameunit}"),
                live: true,
                attached,
            },
        );
        id
    }

    /// newbus `device_match_start`: opens a quiesce bracket (brackets nest).
    pub fn match_start(&self) {
        self.state().match_depth += 1;
    }

    /// newbus `device_match_end`: closes a bracket; at depth 0 the pending devices are flushed,
    /// each as ARRIVE then MATCHED, in attach order. An unbalanced call is ignored.
    pub fn match_end(&self) {
        let flushed: Vec<Identity> = {
            let mut st = self.state();
            if st.match_depth == 0 {
                return;
            }
            st.match_depth -= 1;
            if st.match_depth > 0 {
                return;
            }
            let pending = std::mem::take(&mut st.pending);
            pending
                .into_iter()
                .filter_map(|id| st.nodes.get(&id).filter(|n| n.live).map(|n| n.identity))
                .collect()
        };
        for identity in flushed {
            self.emit(IOREG_EVENT_ARRIVE, &identity);
            self.emit(IOREG_EVENT_MATCHED, &identity);
        }
    }

    /// newbus `device_attach` (a successful attach): mints the id and, if at least one watch
    /// exists, queues the device until the outermost [`SimRegistry::match_end`] — also when no
    /// bracket is open, in which case it waits for the next one.
    pub fn attach(&self, dev: SimDevice) -> u64 {
        let mut st = self.state();
        let id = self.insert_node(&mut st, &dev, true);
        if !st.watches.is_empty() {
            st.pending.push(id);
        }
        id
    }

    /// `device_probe_and_attach`: a whole bracket around one attach, so ARRIVE and MATCHED are
    /// sent before this returns (unless an outer bracket is open).
    pub fn probe_and_attach(&self, dev: SimDevice) -> u64 {
        self.match_start();
        let id = self.attach(dev);
        self.match_end();
        id
    }

    /// A child no driver attached to: `LOOKUP` sees it (usually with empty fields), it never
    /// produces an event.
    pub fn add_driverless(&self, dev: SimDevice) -> u64 {
        let mut st = self.state();
        self.insert_node(&mut st, &dev, false)
    }

    /// newbus `device_detach` (`EVHDEV_DETACH_COMPLETE`): children first; for each attached
    /// device DEPART is sent at once with its name and class, then its id lingers, emptied.
    /// [`RegistryError::NotFound`] if `id` is not a live node.
    pub fn detach(&self, id: u64) -> Result<(), RegistryError> {
        let (children, identity, attached) = {
            let st = self.state();
            let node = st
                .nodes
                .get(&id)
                .filter(|n| n.live)
                .ok_or(RegistryError::NotFound)?;
            let children: Vec<u64> = st
                .nodes
                .iter()
                .filter(|(_, n)| n.live && n.parent == id)
                .map(|(&c, _)| c)
                .collect();
            (children, node.identity, node.attached)
        };
        for child in children.into_iter().rev() {
            // Edge: a child detached concurrently is already gone; that is fine.
            let _ = self.detach(child);
        }
        if attached {
            self.emit(IOREG_EVENT_DEPART, &identity);
        }
        let mut st = self.state();
        // Edge: a device detached before its bracket closed never announces its arrival.
        st.pending.retain(|&p| p != id);
        if let Some(node) = st.nodes.get_mut(&id) {
            node.live = false;
            node.attached = false;
            node.path.clear();
            node.identity = Identity {
                id,
                ..EMPTY_IDENTITY
            };
        }
        Ok(())
    }

    /// `ioreg_emit_event_node`: prune dead watches, collect matching ones under the lock, send
    /// after unlocking, one message each, in registration order.
    fn emit(&self, kind: u32, identity: &Identity) {
        let targets: Vec<Arc<KernelSendRight>> = {
            let mut st = self.state();
            st.watches.retain(|w| w.port.is_alive());
            st.watches
                .iter()
                .filter(|w| w.mask & kind != 0 && identity.matches(&w.criteria))
                .map(|w| Arc::clone(&w.port))
                .collect()
        };
        if targets.is_empty() {
            return;
        }
        let body = encode_event_body(&identity.raw_event(kind));
        for port in targets {
            if port.send(IOKIT_NOTIFY_MSG_ID, &body).is_err() {
                self.inner.lost_sends.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

const EMPTY_IDENTITY: Identity = Identity {
    id: 0,
    name: [0; IOREG_NAME_MAX],
    classname: [0; IOREG_NAME_MAX],
    driver: [0; IOREG_NAME_MAX],
    pci_vendor: 0,
    pci_device: 0,
    pci_subvendor: 0,
    pci_class: 0,
};

/// `/dev/ioregistry` opened by one task of the simulated kernel.
#[derive(Clone)]
pub struct SimRegistryHandle {
    registry: SimRegistry,
    task: Task,
}

impl std::fmt::Debug for SimRegistryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRegistryHandle")
            .field("task", &self.task.id())
            .finish()
    }
}

impl SimRegistryHandle {
    /// The registry.
    pub fn registry(&self) -> &SimRegistry {
        &self.registry
    }

    /// The task whose names this handle uses.
    pub fn task(&self) -> &Task {
        &self.task
    }
}

impl RegistryBackend for SimRegistryHandle {
    fn watch(&self, reg: &ioreg_watch_reg) -> Result<(), RegistryError> {
        if self.registry.state().config.test_event == TestEventSupport::NoCompatMach {
            return Err(RegistryError::Unsupported(libc::ENOSYS));
        }
        if reg.notify_port == 0 || reg.event_mask & IOREG_EVENT_ALL == 0 {
            return Err(RegistryError::InvalidArgument);
        }
        // copyin(COPY_SEND): a bare receive right, a dead name or no right at all is EINVAL.
        let has_send = self
            .task
            .port_type(reg.notify_port)
            .map(|t| t & MACH_PORT_TYPE_SEND != 0)
            .unwrap_or(false);
        if !has_send {
            return Err(RegistryError::InvalidArgument);
        }
        let port = self
            .task
            .kernel_send_right(reg.notify_port)
            .map_err(|_| RegistryError::InvalidArgument)?;
        let mut criteria = reg.criteria;
        terminate_name(&mut criteria.name);
        terminate_name(&mut criteria.classname);
        terminate_name(&mut criteria.driver);
        // Unknown extra mask bits are stored and never fire.
        self.registry.state().watches.push(Watch {
            criteria,
            mask: reg.event_mask,
            port: Arc::new(port),
        });
        Ok(())
    }

    fn lookup(
        &self,
        criteria: &ioreg_criteria,
        matches: &mut [u64],
    ) -> Result<usize, RegistryError> {
        let mut criteria = *criteria;
        terminate_name(&mut criteria.name);
        terminate_name(&mut criteria.classname);
        terminate_name(&mut criteria.driver);
        let st = self.registry.state();
        let mut count = 0;
        for (id, node) in st.nodes.iter().filter(|(_, n)| n.live) {
            if node.identity.matches(&criteria) {
                if let Some(slot) = matches.get_mut(count) {
                    *slot = *id;
                }
                count += 1;
            }
        }
        Ok(count)
    }

    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        let st = self.registry.state();
        let node = st.nodes.get(&id).ok_or(RegistryError::NotFound)?;
        let mut out = ioreg_node::zeroed();
        out.id = id;
        if !node.live {
            out.state = IOREG_STATE_DETACHED;
            return Ok(out);
        }
        out.parent_id = node.parent;
        out.state = IOREG_STATE_LIVE;
        out.devstate = if node.attached {
            DS_ATTACHED
        } else {
            DS_NOTPRESENT
        };
        out.name = node.identity.name;
        out.classname = node.identity.classname;
        out.driver = node.identity.driver;
        let path = node.path.as_bytes();
        let n = path.len().min(IOREG_PATH_MAX - 1);
        out.path[..n].copy_from_slice(&path[..n]);
        out.pci_vendor = node.identity.pci_vendor;
        out.pci_device = node.identity.pci_device;
        out.pci_subvendor = node.identity.pci_subvendor;
        out.pci_class = node.identity.pci_class;
        Ok(out)
    }

    fn test_event(&self, event: &ioreg_test_event) -> Result<(), RegistryError> {
        match self.registry.state().config.test_event {
            TestEventSupport::Present => {}
            TestEventSupport::Absent => return Err(RegistryError::Unsupported(libc::ENOTTY)),
            TestEventSupport::NoCompatMach => return Err(RegistryError::Unsupported(libc::ENOSYS)),
        }
        if !matches!(
            event.kind,
            IOREG_EVENT_ARRIVE | IOREG_EVENT_DEPART | IOREG_EVENT_MATCHED
        ) {
            return Err(RegistryError::InvalidArgument);
        }
        let mut identity = Identity {
            id: event.id,
            name: event.name,
            classname: event.classname,
            pci_vendor: event.pci_vendor,
            pci_device: event.pci_device,
            // An injected node has no driver, subvendor or class: watches on those never match.
            ..EMPTY_IDENTITY
        };
        terminate_name(&mut identity.name);
        terminate_name(&mut identity.classname);
        self.registry.emit(event.kind, &identity);
        Ok(())
    }
}

/// The registry as a device of the simulated kernel's trap face (`mach_sim::trap`), so that the
/// NextBSD backend (`DevIoRegistry` under NextBSD over sim) reaches it through `open`
/// and `ioctl` exactly as it reaches `/dev/ioregistry` on NextBSD. Each `ioctl` runs in the
/// calling task; the commands and their argument structs are the kernel's (spec §4): any other
/// command is `ENOTTY`, as the kernel's ioctl switch answers.
struct TrapDevice {
    registry: SimRegistry,
}

/// The `errno` a registry error stands for.
fn errno_of(e: RegistryError) -> libc::c_int {
    e.errno().unwrap_or(libc::ENXIO)
}

impl mach_sim::trap::Device for TrapDevice {
    unsafe fn ioctl(
        &self,
        task: &Task,
        cmd: u64,
        arg: *mut libc::c_void,
    ) -> Result<(), libc::c_int> {
        use crate::registry_abi::{ioreg_lookup, IOREGIOCLOOKUP, IOREGIOCNODE, IOREGIOCROOT};
        use crate::registry_abi::{IOREGIOCTESTEVENT, IOREGIOCWATCH};
        let handle = self.registry.open(task);
        let Ok(cmd) = u32::try_from(cmd) else {
            return Err(libc::ENOTTY);
        };
        if arg.is_null() {
            return Err(libc::EFAULT);
        }
        match cmd {
            IOREGIOCROOT => {
                // SAFETY: IOREGIOCROOT's argument is a `uint64_t` out (caller's guarantee).
                unsafe { arg.cast::<u64>().write_unaligned(self.registry.root_id()) };
                Ok(())
            }
            IOREGIOCWATCH => {
                // SAFETY: IOREGIOCWATCH's argument is a `struct ioreg_watch_reg` in.
                let reg = unsafe { arg.cast::<ioreg_watch_reg>().read_unaligned() };
                handle.watch(&reg).map_err(errno_of)
            }
            IOREGIOCNODE => {
                let p = arg.cast::<ioreg_node>();
                // SAFETY: IOREGIOCNODE's argument is a `struct ioreg_node` in/out.
                let id = unsafe { p.read_unaligned() }.id;
                let node = handle.node(id).map_err(errno_of)?;
                // SAFETY: as above.
                unsafe { p.write_unaligned(node) };
                Ok(())
            }
            IOREGIOCLOOKUP => {
                let p = arg.cast::<ioreg_lookup>();
                // SAFETY: IOREGIOCLOOKUP's argument is a `struct ioreg_lookup` in/out.
                let mut lookup = unsafe { p.read_unaligned() };
                let mut ids = vec![0u64; lookup.max as usize];
                let count = handle
                    .lookup(&lookup.criteria, &mut ids)
                    .map_err(errno_of)?;
                let copied = count.min(ids.len());
                if copied > 0 {
                    if lookup.matches == 0 {
                        return Err(libc::EFAULT);
                    }
                    // SAFETY: `matches` is the caller's array of `max` ids (caller's guarantee),
                    // and `copied <= max`.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            ids.as_ptr(),
                            lookup.matches as usize as *mut u64,
                            copied,
                        )
                    };
                }
                lookup.count = u32::try_from(count).unwrap_or(u32::MAX);
                // SAFETY: as above.
                unsafe { p.write_unaligned(lookup) };
                Ok(())
            }
            IOREGIOCTESTEVENT => {
                // SAFETY: IOREGIOCTESTEVENT's argument is a `struct ioreg_test_event` in.
                let event = unsafe { arg.cast::<ioreg_test_event>().read_unaligned() };
                handle.test_event(&event).map_err(errno_of)
            }
            _ => Err(libc::ENOTTY),
        }
    }
}

impl SimRegistry {
    /// Serves this registry as `/dev/ioregistry` on the simulated kernel's trap face, replacing
    /// any registry served there before. Used by NextBSD over sim, where the shipping
    /// `DevIoRegistry` opens the device through the trap face; watches registered that
    /// way name ports in the calling task.
    pub fn install_device(&self) {
        mach_sim::trap::register_device(
            "/dev/ioregistry",
            Arc::new(TrapDevice {
                registry: self.clone(),
            }),
        );
    }

    /// Stops serving `/dev/ioregistry` on the trap face (descriptors already open keep working).
    pub fn uninstall_device() {
        mach_sim::trap::unregister_device("/dev/ioregistry");
    }
}
