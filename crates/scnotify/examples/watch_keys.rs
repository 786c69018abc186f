//! Watch SCDynamicStore keys: an in-process configd (the store server) in one simulated task, an
//! application's session in another; the application watches a pattern and prints each batch of
//! changed keys.
//!
//! `cargo run -p scnotify --example watch_keys`

#[cfg(mach_backend = "sim")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    use scnotify::mach_async::Space;
    use scnotify::sim::Kernel;
    use scnotify::{ConfigdServer, Session};

    let kernel = Kernel::new();
    let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
    let app = Space::from_task(kernel.task_create("app", 11, 501, 20));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = ConfigdServer::check_in(&configd)?;
        let session = Session::open(&app).await?;
        session
            .set_notification_keys(&[], &["State:/Network/Interface/.*/Link"])
            .await?;
        let mut changes = session.notifications().await?;
        for ifname in ["en0", "en1"] {
            let key = format!("State:/Network/Interface/{ifname}/Link");
            session
                .set(&key, b"<dict><key>Active</key><true/></dict>")
                .await?;
            let batch = changes.next().await.expect("notifications are on")?;
            println!("changed: {:?}", batch.keys());
        }
        changes.close().await;
        session.close().await;
        server.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    kernel.assert_no_leaks();
    Ok(())
}

#[cfg(not(mach_backend = "sim"))]
fn main() {
    eprintln!("this example runs on the simulated kernel (Linux, or feature `sim`)");
}
