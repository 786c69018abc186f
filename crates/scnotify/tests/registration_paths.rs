//! Client paths ordinary sessions do not take (issue 16): configd dying during the first
//! notification registration (the stream reconnects to the next configd and works), and the
//! single-key watch calls. Each test ends with the no-leak assertion (in `common::run`).
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use futures::StreamExt;
use mach_async::Space;
use mach_sim::{FaultAction, MsgMatch};
use scnotify::store_messages::Routine;
use scnotify::{ConfigdServer, Connector, Notifications, Session, SessionBuilder};

async fn next_batch(n: &mut Notifications) -> scnotify::ChangedKeys {
    tokio::time::timeout(HANG, n.next())
        .await
        .expect("a batch in time")
        .expect("stream continues")
        .expect("no error")
}

/// Sessions whose connector finds configd "a" first and configd "b" on every later call (a
/// restarted configd under a new service name, so both can be started up front).
fn options(space: &Space, calls: Arc<AtomicUsize>) -> SessionBuilder {
    Session::builder(space)
        .connector(Connector::Custom(Arc::new(move |space: &Space| {
            let name = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                "test.configd.a"
            } else {
                "test.configd.b"
            };
            scnotify::bootstrap::look_up(space, name)
                .map_err(|kr| scnotify::Error::NoServer(format!("look-up {name}: {kr:#x}")))
        })))
        .rpc_timeout(Some(HANG))
}

#[test]
fn configd_dying_during_the_first_registration_reconnects_and_registers_again() {
    run(World::new(), |mut w| async move {
        let a = w.configd.clone();
        let configd_a = ConfigdServer::check_in_as(&a, "test.configd.a").unwrap();
        w.new_configd_task(160);
        let configd_b = ConfigdServer::check_in_as(&w.configd, "test.configd.b").unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let watcher = options(&w.client, calls.clone()).open().await.unwrap();
        watcher
            .set_notification_keys(&["reg:key"], &[])
            .await
            .unwrap();
        // configd "a" dies as it takes the registration (`notifyviaport`) off its queue.
        let fired = w.kernel.faults().on_receive(
            MsgMatch::any()
                .task(a.task())
                .id(Routine::NotifyViaPort.id()),
            FaultAction::TerminateTask(a.task().clone()),
        );
        let mut n = watcher
            .notifications()
            .await
            .expect("registered with configd b");
        assert_eq!(fired.fired(), 1);
        assert!(calls.load(Ordering::SeqCst) >= 2, "the session reconnected");
        // The watch set was carried over: a change on "b" is announced.
        let writer = options(&w.client, Arc::new(AtomicUsize::new(1)))
            .open()
            .await
            .unwrap();
        writer.set("reg:key", b"1").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["reg:key"]);
        n.close().await;
        drop((watcher, writer));
        configd_a.close().await;
        configd_b.close().await;
        let _ = w.kernel.bootstrap().unregister("test.configd.a");
        let _ = w.kernel.bootstrap().unregister("test.configd.b");
    });
}

#[test]
fn single_keys_added_and_removed_are_watched_and_forgotten() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        assert_ne!(watcher.server_name(), 0, "a session port");
        watcher.add_watched_key("one:a", false).await.unwrap();
        watcher.add_watched_key("pat:.*", true).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("one:a", b"1").await.unwrap();
        writer.set("pat:x", b"1").await.unwrap();
        writer.set("other", b"1").await.unwrap();
        let mut keys = watcher.notified_keys().await.unwrap();
        keys.sort();
        assert_eq!(keys, ["one:a", "pat:x"]);
        watcher.remove_watched_key("one:a", false).await.unwrap();
        watcher.remove_watched_key("pat:.*", true).await.unwrap();
        writer.set("one:a", b"2").await.unwrap();
        writer.set("pat:y", b"2").await.unwrap();
        assert!(watcher.notified_keys().await.unwrap().is_empty());
        // Removing a key that is not watched is configd's error, reported as such.
        let err = watcher
            .remove_watched_key("never", false)
            .await
            .expect_err("not watched");
        assert!(matches!(err, scnotify::Error::Status(_)), "{err:?}");
        drop((watcher, writer));
        configd.close().await;
    });
}
