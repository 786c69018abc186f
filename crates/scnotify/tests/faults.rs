//! Fault injection on SCDynamicStore notifications (simulated kernel, `Kernel::faults`): configd
//! dies at chosen points while a store has notifications active, a client dies before reading
//! its reply, receives are interrupted in the middle of a drain. Each test ends with the stream
//! reconnected or the error surfaced, and with the no-leak assertion (in `common::run`).
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use common::*;
use futures::StreamExt;
use mach_abi::MACH_RCV_INTERRUPTED;
use mach_async::Space;
use mach_sim::{FaultAction, MsgMatch};
use scnotify::store_messages::{Routine, NOTIFY_MSG_ID};
use scnotify::{Notifications, Session};

async fn next_batch(n: &mut Notifications) -> scnotify::ChangedKeys {
    tokio::time::timeout(HANG, n.next())
        .await
        .expect("a batch in time")
        .expect("stream continues")
        .expect("no error")
}

#[test]
fn configd_dying_as_it_receives_notifychanges_reconnects_the_stream() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let old = w.configd.task().clone();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["flt:key"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        // configd dies right after it takes the watcher's next notifychanges off its queue:
        // the reply right it held is destroyed, the client sees MIG_SERVER_DIED.
        let fired = w.kernel.faults().on_receive(
            MsgMatch::any().task(&old).id(Routine::NotifyChanges.id()),
            FaultAction::TerminateTask(old.clone()),
        );
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("flt:key", b"1").await.unwrap();
        drop(writer);
        // Restart configd once the old one is gone (the stream must be polled meanwhile: its
        // notifychanges is what kills configd).
        let restart = tokio::spawn({
            let mut w = w.clone();
            async move {
                while old.is_active() {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                drop(configd);
                w.new_configd_task(150);
                (w.start_configd(), w)
            }
        });
        assert_eq!(
            next_batch(&mut n).await,
            Vec::<String>::new(),
            "re-read signal"
        );
        let (configd, w2) = restart.await.expect("restart");
        assert_eq!(fired.fired(), 1);
        let writer = Session::open(&w2.client).await.unwrap();
        writer.set("flt:key", b"2").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["flt:key"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn configd_dying_as_its_wakeup_arrives_reconnects_the_stream() {
    run(World::new(), |mut w| async move {
        let configd = w.start_configd();
        let old = w.configd.task().clone();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&[], &["wake:.*"])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        // The wake-up reaches the client's notify port, then configd dies before it can answer
        // the notifychanges that follows.
        let fired = w.kernel.faults().on_deliver(
            MsgMatch::any().task(w.client.task()).id(NOTIFY_MSG_ID),
            FaultAction::TerminateTask(old.clone()),
        );
        let writer = Session::open(&w.client).await.unwrap();
        // The set itself may or may not be answered (configd dies while handling it).
        let _ = writer.set("wake:a", b"1").await;
        assert_eq!(fired.fired(), 1);
        assert!(!old.is_active());
        drop(writer);
        drop(configd);
        w.new_configd_task(151);
        let configd = w.start_configd();
        // Whatever the wake-up announced died with configd: the stream says "re-read".
        assert_eq!(next_batch(&mut n).await, Vec::<String>::new());
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("wake:b", b"1").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["wake:b"]);
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}

#[test]
fn a_client_dying_before_reading_its_reply_leaves_configd_serving() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["dead:key"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        // A second client process whose configset reply arrives after it died.
        let doomed = Space::from_task(w.kernel.task_create("doomed", 300, 501, 20));
        let writer = Session::open(&doomed).await.unwrap();
        let fired = w.kernel.faults().on_deliver(
            MsgMatch::any()
                .task(doomed.task())
                .id(Routine::ConfigSet.reply_id()),
            FaultAction::TerminateTask(doomed.task().clone()),
        );
        let result = tokio::time::timeout(HANG, writer.set("dead:key", b"x"))
            .await
            .expect("the call ends");
        assert_eq!(fired.fired(), 1);
        assert!(result.is_err(), "the dead client's call fails: {result:?}");
        drop(writer);
        // configd applied the set before replying: the watcher sees it, and keeps working.
        assert_eq!(next_batch(&mut n).await, ["dead:key"]);
        let other = Session::open(&w.client).await.unwrap();
        other.set("dead:key", b"y").await.unwrap();
        assert_eq!(next_batch(&mut n).await, ["dead:key"]);
        n.close().await;
        drop((watcher, other));
        // stop() waits until every session right is released, the dead client's included.
        configd.close().await;
    });
}

#[test]
fn interrupted_receives_in_the_middle_of_a_drain_lose_no_change() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let watcher = Session::open(&w.client).await.unwrap();
        watcher
            .set_notification_keys(&["intr:a", "intr:b"], &[])
            .await
            .unwrap();
        let mut n = watcher.notifications().await.unwrap();
        let fault =
            w.kernel
                .faults()
                .fail_next_receives_in(w.client.task(), 3, MACH_RCV_INTERRUPTED);
        let writer = Session::open(&w.client).await.unwrap();
        writer.set("intr:a", b"1").await.unwrap();
        writer.set("intr:b", b"1").await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            for key in next_batch(&mut n).await {
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
        }
        seen.sort();
        assert_eq!(seen, ["intr:a", "intr:b"]);
        assert!(fault.fired() > 0);
        w.kernel.faults().clear();
        n.close().await;
        drop((watcher, writer));
        configd.close().await;
    });
}
