//! The Rust client API against the crate's configd on the simulated kernel: delivery, ordering
//! rules of spec §5, coalescing, dropped sends, registration errors, bad input, server death and
//! reconnect (spec §7), concurrency and lifetime. Every test ends with the no-leak assertion.
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use common::*;
use futures::StreamExt;
use scnotify::{Connector, Error, Notifications, Session, Status};
use std::collections::HashSet;
use std::time::Duration;

async fn next_batch(n: &mut Notifications) -> scnotify::ChangedKeys {
    tokio::time::timeout(FIVE_S, n.next())
        .await
        .expect("a batch within 5 s")
        .expect("stream continues")
        .expect("no error")
}

async fn no_batch(n: &mut Notifications, within: Duration) {
    if let Ok(item) = tokio::time::timeout(within, n.next()).await {
        panic!("unexpected item {item:?}");
    }
}

#[test]
fn scnotifytest_watcher_sees_the_writers_change() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["scnotifytest:watched"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        writer
            .set("scnotifytest:watched", b"changed")
            .await
            .unwrap();
        assert_eq!(next_batch(&mut n).await, ["scnotifytest:watched"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn changes_before_scheduling_are_delivered_by_the_post_registration_drain() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["early"], &["pat:[0-9]+"])
            .await
            .unwrap();
        writer.set("early", b"1").await.unwrap();
        writer.notify("pat:7").await.unwrap();
        // No further change after this point.
        let mut n = watcher.notifications().await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["early", "pat:7"]);
        no_batch(&mut n, Duration::from_millis(200)).await;
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn coalescing_n_rapid_sets_give_at_most_n_batches_without_duplicates_or_empties() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        let k: Vec<String> = (0..8).map(|i| format!("coalesce:{i}")).collect();
        watcher
            .set_notification_keys(&[], &["coalesce:.*"])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        const ROUNDS: usize = 10;
        for _ in 0..ROUNDS {
            let pairs: Vec<(&str, &[u8])> = k.iter().map(|k| (k.as_str(), &b"v"[..])).collect();
            writer.set_multiple(&pairs, &[], &[]).await.unwrap();
        }
        let mut union = HashSet::new();
        let mut batches = 0;
        while union.len() < k.len() {
            let b = next_batch(&mut n).await;
            batches += 1;
            assert!(!b.is_empty(), "no empty batches");
            let uniq: HashSet<_> = b.iter().collect();
            assert_eq!(uniq.len(), b.len(), "no duplicates within a batch: {b:?}");
            union.extend(b);
        }
        // Let any trailing wake-up arrive, then count it too.
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(200), n.next()).await
        {
            let b = item.unwrap();
            assert!(!b.is_empty());
            union.extend(b);
            batches += 1;
        }
        assert!(batches <= ROUNDS, "{batches} batches for {ROUNDS} sets");
        assert_eq!(union, k.iter().cloned().collect::<HashSet<_>>());
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn a_dropped_send_does_not_strand_the_client() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["k1", "k2"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        configd.drop_next_wakeups(1);
        writer.set("k1", b"").await.unwrap();
        no_batch(&mut n, Duration::from_millis(200)).await;
        assert_eq!(configd.stats().wakeups_failed, 1);
        writer.set("k2", b"").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["k1", "k2"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn one_registration_at_a_time_and_reregistration_after_cancel_or_drop() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        watcher.set_notification_keys(&["k"], &[]).await.unwrap();
        let n = watcher.notifications().await.unwrap();
        let second = watcher.notifications().await;
        assert!(matches!(second, Err(Error::NotifierActive)));
        assert_eq!(second.unwrap_err().sc_status(), Status::NOTIFIER_ACTIVE);
        n.close().await;
        // Watches and pending keys survive notifycancel: a change while unscheduled is delivered
        // at once on re-registration.
        writer.set("k", b"while-off").await.unwrap();
        let mut n = watcher.notifications().await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["k"]);
        drop(n);
        let mut n = watcher.notifications().await.unwrap();
        writer.set("k", b"again").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["k"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn bad_input_is_refused_with_typed_errors() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let s = Session::open(&w.client).await.unwrap();
        let e = s.set_notification_keys(&[], &["bad("]).await.unwrap_err();
        assert_eq!(e.sc_status(), Status::INVALID_ARGUMENT);
        assert!(matches!(e, Error::Status(Status::INVALID_ARGUMENT)));
        // More than 8192 bytes of keys: refused before sending.
        let long: Vec<String> = (0..100).map(|i| format!("{i:0>100}")).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let e = s.set_notification_keys(&refs, &[]).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert_eq!(e.sc_status(), Status::INVALID_ARGUMENT);
        let e = s.set(&"k".repeat(8193), b"").await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(matches!(
            s.get("missing").await,
            Err(Error::Status(Status::NO_KEY))
        ));
        assert!(matches!(
            s.remove("missing").await,
            Err(Error::Status(Status::NO_KEY))
        ));
        s.add("once", b"1").await.unwrap();
        assert!(matches!(
            s.add("once", b"2").await,
            Err(Error::Status(Status::KEY_EXISTS))
        ));
        assert_eq!(s.get("once").await.unwrap(), b"1");
        assert_eq!(s.list("on", false).await.unwrap(), ["once"]);
        assert_eq!(s.list("o.*", true).await.unwrap(), ["once"]);
        s.set_multiple(&[("a", b"1")], &["once"], &[])
            .await
            .unwrap();
        assert_eq!(
            s.get_multiple(&["a", "once"], &[]).await.unwrap(),
            [("a".to_string(), b"1".to_vec())]
        );
        drop(s);
        configd.close().await;
    });
}

#[test]
fn no_server_is_reported_as_no_store_server() {
    run(World::new(), |w| async move {
        let e = Session::open(&w.client).await.unwrap_err();
        assert_eq!(e.sc_status(), Status::NO_STORE_SERVER);
    });
}

#[test]
fn injected_service_port_works_without_bootstrap() {
    run(World::new(), |w| async move {
        // A configd that is not registered with the bootstrap server.
        let port = mach_async::ReceiveRight::new_in(&w.configd).unwrap();
        let task = w.configd.task();
        let client_name = {
            // Hand a send right to the client task: register under a private name, look it
            // up once, unregister.
            w.kernel
                .bootstrap()
                .register(task, "private.configd", port.name())
                .unwrap();
            let n = w
                .kernel
                .bootstrap()
                .look_up(w.client.task(), "private.configd")
                .unwrap();
            w.kernel.bootstrap().unregister("private.configd").unwrap();
            n
        };
        // SAFETY: look_up inserted a send right under `client_name` in the client space.
        let service = unsafe { mach_async::SendRight::from_raw_in(&w.client, client_name) };
        let configd = scnotify::ConfigdServer::spawn(port).unwrap();
        let s = Session::builder(&w.client)
            .connector(Connector::service_port(service))
            .rpc_timeout(Some(HANG))
            .open()
            .await
            .unwrap();
        s.set("injected", b"yes").await.unwrap();
        assert_eq!(s.get("injected").await.unwrap(), b"yes");
        drop(s);
        configd.close().await;
    });
}

#[test]
fn server_restart_reconnects_restores_watches_and_signals_with_an_empty_batch() {
    run(World::new(), |mut w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["restart:key"], &["restart:p[0-9]"])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("restart:key", b"1").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["restart:key"]);
        drop(writer);

        // Kill configd: every port it held dies, including its send right to our notify port.
        configd.close().await;
        w.new_configd_task(101);
        let configd = w.start_configd();

        assert_eq!(
            next_batch(&mut n).await,
            Vec::<String>::new(),
            "the re-read-everything signal"
        );
        assert_eq!(watcher.generation(), 1);
        // The watch set was restored on the new server; normal delivery resumes.
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("restart:p5", b"").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["restart:p5"]);
        writer.set("restart:key", b"2").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["restart:key"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn configd_task_death_and_late_restart() {
    run(World::new(), |mut w| async move {
        let configd = w.start_configd();
        let old_task = w.configd.task().clone();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["death:key"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        // The configd process dies outright.
        old_task.terminate().unwrap();
        // Nothing is delivered while no configd exists (look-ups fail, the stream backs off).
        no_batch(&mut n, Duration::from_millis(400)).await;
        drop(configd);
        w.new_configd_task(102);
        let configd = w.start_configd();
        assert_eq!(next_batch(&mut n).await, Vec::<String>::new());
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("death:key", b"").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["death:key"]);
        // Plain RPCs work on the new session too.
        assert_eq!(watcher.notified_keys().await.unwrap(), Vec::<String>::new());
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn a_plain_rpc_reconnects_after_server_death() {
    run(World::new(), |mut w| async move {
        let configd = w.start_configd();
        let s = Session::open(&w.client).await.unwrap();
        s.set_notification_keys(&["rpc:key"], &[]).await.unwrap();
        configd.close().await;
        w.new_configd_task(103);
        let configd = w.start_configd();
        s.set("rpc:key", b"x").await.unwrap();
        assert_eq!(s.generation(), 1);
        // notifyset was replayed on the new session: our own write is pending.
        assert_eq!(s.notified_keys().await.unwrap(), ["rpc:key"]);
        drop(s);
        configd.close().await;
    });
}

#[test]
fn many_sessions_concurrently_each_get_exactly_their_keys() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let writer = Session::open(&w.client).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let space = w.client.clone();
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                let s = Session::open(&space).await.unwrap();
                let key = format!("conc:{i}");
                s.set_notification_keys(&[key.as_str()], &[]).await.unwrap();
                let mut n = s.notifications().await.unwrap();
                for round in 0..5 {
                    writer
                        .set(&key, format!("{round}").as_bytes())
                        .await
                        .unwrap();
                    assert_eq!(next_batch(&mut n).await, vec![key.clone()]);
                }
                n.close().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(writer);
        configd.close().await;
    });
}

#[test]
fn dropping_a_stream_mid_delivery_is_clean() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        let writer = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&[], &["drop:.*"])
            .await
            .unwrap();
        for round in 0..5 {
            let mut n = watcher.notifications().await.unwrap();
            for i in 0..20 {
                writer.notify(&format!("drop:{round}:{i}")).await.unwrap();
            }
            // Read one batch (or none) and drop the stream with wake-ups possibly queued.
            let _ = tokio::time::timeout(Duration::from_millis(20), n.next()).await;
            drop(n);
        }
        // Whatever accumulated is still pending on the server and delivered on the next
        // registration; everything was released.
        let mut n = watcher.notifications().await.unwrap();
        writer.notify("drop:last").await.unwrap();
        let mut seen = HashSet::new();
        while !seen.contains("drop:last") {
            seen.extend(next_batch(&mut n).await);
        }
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}
