//! Watch device arrivals and departures on a simulated `/dev/ioregistry`: devices attach and
//! detach while a watch on class `em` prints what it sees.
//!
//! `cargo run -p iokit-notify --example watch_devices`

#[cfg(mach_backend = "sim")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    use iokit_notify::mach_async::Space;
    use iokit_notify::sim::{Kernel, SimDevice, SimRegistry};
    use iokit_notify::{Criteria, EventKinds, NotificationPort, WatchEvent};

    let kernel = Kernel::new();
    let registry = SimRegistry::new(&kernel);
    let app = Space::from_task(kernel.task_create("app", 20, 0, 0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // The registry of the space's kernel (`/dev/ioregistry` on NextBSD).
        let port = NotificationPort::open(&app).await?;
        let (present, mut events) = port.watch(&Criteria::all().class("em"), EventKinds::ALL)?;
        println!("present at start: {:?}", present.ids());
        let em0 = registry.probe_and_attach(SimDevice::new("em0").class("em").driver("em"));
        registry.probe_and_attach(SimDevice::new("ums0").class("ums").driver("ums"));
        registry.detach(em0)?;
        // em0 arrives, is matched to its driver and departs; ums0 is not class `em`.
        for _ in 0..3 {
            match events.next().await.expect("the watch is open")? {
                WatchEvent::Device(ev) => println!(
                    "{:?} {} (class {}, id {:#x})",
                    ev.kind, ev.name, ev.class, ev.id
                ),
                WatchEvent::Resynced(now) => println!("resynced: {:?}", now.ids()),
            }
        }
        drop(events);
        port.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    drop(registry);
    kernel.assert_no_leaks();
    Ok(())
}

#[cfg(not(mach_backend = "sim"))]
fn main() {
    eprintln!("this example runs on the simulated kernel (Linux, or feature `sim`)");
}
