//! The end-to-end demo: the three consumers, each in its own task (IPC space), talking through
//! the kernel as on NextBSD.
//!
//! ```text
//!  device registry ──ioreg_event_msg──▶ ipconfigd ──configset──▶ configd ──CNFT──▶ app
//!   (kernel)          (IOKit watch)     (binds em0)   (store)      (SCNotify watch)   │
//!                                           ▲                                          │
//!                                           └──────── ipconfig_if_addr (MIG) ◀─────────┘
//! ```
//!
//! A device arrives in the registry; ipconfigd's IOKit watch sees it, binds an interface, and
//! publishes `State:/Network/Interface/<if>/IPv4` in configd; the app's SCNotify watch on
//! that pattern fires; the app asks ipconfigd for the address over its MIG service. Then the
//! device departs and the same chain runs backwards. Every arrow is a real Mach message through
//! the simulated kernel, and every receiver is a `MachRecvStream`; at the end the kernel is
//! checked for leaks.

use crate::error::BenchError;
use async_trait::async_trait;
use futures::StreamExt;
use iokit_notify::registry::{SimDevice, SimRegistry};
use iokit_notify::{Criteria, EventKind, EventKinds, NotificationPort};
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ipconfig_messages::{InterfaceName, IpconfigStatus};
use ipconfig_rpc::protocol::IfAddr;
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer};
use mach_abi::kern_return_t;
use mach_async::Space;
use scnotify::{ConfigdServer, Connector, Session};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// configd's service name in the demo's bootstrap namespace.
const CONFIGD: &str = "com.apple.SystemConfiguration.configd";
/// ipconfigd's service name (NextBSD's).
const IPCONFIG: &str = ipconfig_rpc::ipconfig_messages::IPCONFIG_SERVICE_NAME;
/// The SCDynamicStore pattern the app watches.
const IPV4_PATTERN: &str = "State:/Network/Interface/[^/]+/IPv4";
/// Bound on every wait of the demo (a hang becomes an error).
const STEP_LIMIT: Duration = Duration::from_secs(10);

/// ipconfigd's bound interfaces.
type Interfaces = Arc<Mutex<BTreeMap<String, Ipv4Addr>>>;

/// ipconfigd's `ipconfig.defs` routines over its interface table.
struct DemoIpconfig {
    interfaces: Interfaces,
}

#[async_trait]
impl IpconfigHandler for DemoIpconfig {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        Ok(self
            .interfaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len() as i32)
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        let key = String::from_utf8_lossy(name.lookup_key())
            .trim_end_matches('\0')
            .to_string();
        let table = self.interfaces.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match table.get(&key) {
            Some(&addr) => IfAddr {
                addr,
                status: IpconfigStatus::SUCCESS,
            },
            None => IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER,
            },
        })
    }
}

fn demo_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> BenchError + '_ {
    move |e| BenchError::Stream(format!("demo: {what}: {e}"))
}

/// Runs the demo on a fresh simulated kernel, handing each trace line to `trace` as it
/// happens. Ends with the kernel's leak check.
pub fn run(trace: &mut dyn FnMut(String)) -> Result<(), BenchError> {
    run_on(&mach_sim::Kernel::new(), trace)
}

/// [`run`] on `kernel` (whose other objects, if any, count in the leak check).
pub fn run_on(kernel: &mach_sim::Kernel, trace: &mut dyn FnMut(String)) -> Result<(), BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let result = rt.block_on(async {
        let mut demo = tokio::spawn(scenario(kernel.clone(), tx));
        // Print as lines come, until the scenario ends (its helper tasks may still hold a
        // sender if it failed half-way, so the channel closing cannot be the signal).
        let outcome = loop {
            tokio::select! {
                Some(line) = rx.recv() => trace(line),
                joined = &mut demo => break joined,
            }
        };
        while let Ok(line) = rx.try_recv() {
            trace(line);
        }
        outcome.map_err(|e| BenchError::Stream(format!("demo task: {e}")))?
    });
    // Dropping the runtime cancels whatever a failed scenario left running, releasing its
    // rights before the leak check.
    drop(rt);
    result?;
    let live = kernel.stats();
    if (mach_sim::KernelStats { tasks: 0, ..live }) != mach_sim::KernelStats::default() {
        return Err(BenchError::Leak {
            phase: "demo".into(),
            detail: format!("{live:?}"),
        });
    }
    trace(format!(
        "{:>11}  kernel     every port, right, message, kqueue and knote of the demo is gone",
        ""
    ));
    Ok(())
}

async fn scenario(
    kernel: mach_sim::Kernel,
    out: tokio::sync::mpsc::UnboundedSender<String>,
) -> Result<(), BenchError> {
    let t0 = Instant::now();
    let say = |line: String| {
        let _ = out.send(format!(
            "{:>8.3} ms  {line}",
            t0.elapsed().as_secs_f64() * 1e3
        ));
    };
    let configd_task = kernel.task_create("configd", 60, 0, 0);
    let ipconfigd_task = kernel.task_create("ipconfigd", 61, 0, 0);
    let app_task = kernel.task_create("app", 501, 501, 20);
    let (configd_space, ipconfigd_space, app_space) = (
        Space::from_task(configd_task.clone()),
        Space::from_task(ipconfigd_task.clone()),
        Space::from_task(app_task.clone()),
    );
    let registry = SimRegistry::new(&kernel);
    let session = |space: &Space| {
        Session::builder(space)
            .connector(Connector::Bootstrap(CONFIGD.into()))
            .rpc_timeout(Some(STEP_LIMIT))
    };

    // configd.
    let configd = ConfigdServer::check_in_as(&configd_space, CONFIGD)
        .map_err(|e| demo_err("configd check-in")(&e))?;
    say(format!("configd    checked in {CONFIGD}"));

    // ipconfigd: its MIG service, its configd session, its IOKit watch.
    let interfaces: Interfaces = Arc::default();
    let service = scnotify::bootstrap::check_in(&ipconfigd_space, IPCONFIG)
        .map_err(|kr| BenchError::kern("bootstrap_check_in (ipconfigd)", kr))?;
    let server = IpconfigServer::new(DemoIpconfig {
        interfaces: interfaces.clone(),
    })
    .spawn(service)
    .map_err(|e| demo_err("ipconfig server")(&e))?;
    say(format!(
        "ipconfigd  checked in {IPCONFIG}, serving ipconfig.defs"
    ));
    let ipconfigd_store = session(&ipconfigd_space)
        .open()
        .await
        .map_err(|e| demo_err("ipconfigd session")(&e))?;
    let devices_port = NotificationPort::open(&ipconfigd_space)
        .await
        .map_err(|e| demo_err("IOKit port")(&e))?;
    let (snapshot, mut devices) = devices_port
        .watch(&Criteria::all().class("em"), EventKinds::ARRIVE_DEPART)
        .map_err(|e| demo_err("IOKit watch")(&e))?;
    say(format!(
        "ipconfigd  IOKit watch on class \"em\" (arrive, depart): {} present",
        snapshot.len()
    ));

    // The app: an SCNotify watch and an ipconfig client.
    let app_store = session(&app_space)
        .open()
        .await
        .map_err(|e| demo_err("app session")(&e))?;
    app_store
        .set_notification_keys(&[], &[IPV4_PATTERN])
        .await
        .map_err(|e| demo_err("app watch")(&e))?;
    let mut changes = app_store
        .notifications()
        .await
        .map_err(|e| demo_err("app notifications")(&e))?;
    let ipconfig = IpconfigClient::builder(&app_space)
        .service_name(IPCONFIG)
        .timeout(Some(STEP_LIMIT))
        .open()
        .await
        .map_err(|e| demo_err("ipconfig client")(&e))?;
    say(format!(
        "app        SCNotify watch on pattern {IPV4_PATTERN}"
    ));

    // ipconfigd's device loop: bind on arrival, unbind on departure, publish in configd.
    let device_loop = {
        let interfaces = interfaces.clone();
        let store = ipconfigd_store.clone();
        let out = out.clone();
        tokio::spawn(async move {
            let mut units: BTreeMap<u64, String> = BTreeMap::new();
            while let Some(item) = devices.next().await {
                let event = match item {
                    Ok(iokit_notify::WatchEvent::Device(event)) => event,
                    // The demo reads every event at once; its queue never overflows.
                    Ok(iokit_notify::WatchEvent::Resynced(_)) => continue,
                    Err(e) => {
                        let _ = out.send(format!("IOKit watch: {e}"));
                        continue;
                    }
                };
                let line = |s: String| {
                    let _ = out.send(format!("{:>8.3} ms  {s}", t0.elapsed().as_secs_f64() * 1e3));
                };
                match event.kind {
                    EventKind::Arrive => {
                        let unit = (0..)
                            .find(|u| !units.values().any(|n| *n == format!("{}{u}", event.name)))
                            .unwrap_or(0);
                        let ifname = format!("{}{unit}", event.name);
                        let addr = Ipv4Addr::new(10, 0, 2, 15 + unit as u8);
                        line(format!(
                            "ipconfigd  ← IOKit: arrive id {} {} (pci {:04x}:{:04x}); binds {ifname} = {addr}",
                            event.id, event.name, event.pci_vendor, event.pci_device
                        ));
                        units.insert(event.id, ifname.clone());
                        interfaces
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(ifname.clone(), addr);
                        let key = format!("State:/Network/Interface/{ifname}/IPv4");
                        store
                            .set(&key, addr.to_string().as_bytes())
                            .await
                            .map_err(|e| demo_err("configset")(&e))?;
                        line(format!("ipconfigd  → configd: set {key}"));
                    }
                    EventKind::Depart => {
                        let Some(ifname) = units.remove(&event.id) else {
                            continue;
                        };
                        line(format!(
                            "ipconfigd  ← IOKit: depart id {} {}; unbinds {ifname}",
                            event.id, event.name
                        ));
                        interfaces
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&ifname);
                        let key = format!("State:/Network/Interface/{ifname}/IPv4");
                        store
                            .remove(&key)
                            .await
                            .map_err(|e| demo_err("configremove")(&e))?;
                        line(format!("ipconfigd  → configd: remove {key}"));
                    }
                    _ => {}
                }
            }
            Ok::<(), BenchError>(())
        })
    };

    // The script: two NICs arrive, the first departs. After each step the app reacts to its
    // notification by asking ipconfigd.
    let nic0 = registry.probe_and_attach(SimDevice::new("em").pci(0x8086, 0x100e));
    say(format!("registry   device_attach em (id {nic0})"));
    app_step(
        &mut changes,
        &ipconfig,
        &say,
        "the app's notification for em0",
    )
    .await?;
    let nic1 = registry.probe_and_attach(SimDevice::new("em").pci(0x8086, 0x10d3));
    say(format!("registry   device_attach em (id {nic1})"));
    app_step(
        &mut changes,
        &ipconfig,
        &say,
        "the app's notification for em1",
    )
    .await?;
    registry.detach(nic0).map_err(|e| demo_err("detach")(&e))?;
    say(format!("registry   device_detach id {nic0}"));
    app_step(
        &mut changes,
        &ipconfig,
        &say,
        "the app's notification for em0's departure",
    )
    .await?;

    // Shutdown, in the order an orderly process exit would take.
    changes.close().await;
    drop(app_store);
    drop(ipconfig);
    devices_port.close().await;
    device_loop
        .await
        .map_err(|e| BenchError::Stream(format!("device loop: {e}")))??;
    drop(ipconfigd_store);
    drop(server.close().await);
    configd.close().await;
    drop(registry);
    say("all three consumers stopped".into());
    Ok(())
}

/// The app's reaction to one notification: read the batch, ask ipconfigd about each interface.
async fn app_step(
    changes: &mut scnotify::Notifications,
    ipconfig: &IpconfigClient,
    say: &(dyn Fn(String) + Sync),
    what: &'static str,
) -> Result<(), BenchError> {
    let batch = tokio::time::timeout(STEP_LIMIT, changes.next())
        .await
        .map_err(|_| BenchError::Timeout(what))?
        .ok_or(BenchError::Timeout(what))?
        .map_err(|e| demo_err("notification")(&e))?;
    say(format!("app        ← SCNotify: changed {batch:?}"));
    for key in batch {
        let ifname = key
            .trim_start_matches("State:/Network/Interface/")
            .trim_end_matches("/IPv4");
        let name = InterfaceName::new(ifname).map_err(|e| demo_err("interface name")(&e))?;
        let reply = ipconfig
            .if_addr(name)
            .await
            .map_err(|e| demo_err("ipconfig_if_addr")(&e))?;
        let count = ipconfig
            .if_count()
            .await
            .map_err(|e| demo_err("ipconfig_if_count")(&e))?;
        say(format!(
            "app        → ipconfigd: if_addr({ifname}) = {} (status {}), if_count = {count}",
            reply.addr,
            reply.status.c_name().unwrap_or("?")
        ));
    }
    Ok(())
}
