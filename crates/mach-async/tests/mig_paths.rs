//! MIG server and client paths that ordinary traffic never takes (issue 16): re-arming a
//! no-senders request, a reply slot holding a receive right, and clients whose request cannot
//! be sent or whose reply port fails. Each test ends with the leak assertion.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mach_async::mach_sim::mach_abi::{
    MACH_NOTIFY_SEND_ONCE, MACH_RCV_INVALID_TRAILER, MACH_SEND_INVALID_DEST, MACH_SEND_NO_BUFFER,
};
use mach_async::mig::{
    MigClient, MigError, MigRequest, MigServer, MigServerHandle, NoSenders, ReplyShape,
    RequestCheck, RequestShape, RoutineOutcome, RoutineTable,
};
use mach_async::{Message, MessageBuilder, PortRight, PortSlot, ReceiveRight};

mod common;
use common::{mig_fixture, MigFixture};

const HANG: Duration = Duration::from_secs(20);
const BASE: i32 = 6000;
const REPLY_40: ReplyShape = ReplyShape::simple(40);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("no hang")
}

/// A server with one routine (`BASE`: replies with a 4-byte value) and an unrouted hook.
fn setup(
    hook: impl Fn(Message, &MigServerHandle) -> Option<Message> + Send + Sync + 'static,
) -> MigFixture {
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(RequestShape::simple(24)),
        |_req: MigRequest| async {
            RoutineOutcome::Reply(Bytes::copy_from_slice(&7i32.to_ne_bytes()))
        },
    );
    mig_fixture("mig.paths", |port| {
        MigServer::new(port, table)
            .unwrap()
            .with_unrouted_hook(hook)
    })
}

async fn ping(client: &MigClient) -> Result<(), MigError> {
    bounded(client.call(BASE, Bytes::new(), &REPLY_40))
        .await
        .map(drop)
}

/// Re-arming a no-senders request replaces the armed one: the replaced request's send-once
/// right is destroyed (its send-once notification reaches the port and is declined), and
/// exactly one no-senders notification arrives when the last sender goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_arming_no_senders_replaces_the_request_and_it_fires_once() {
    let seen: Arc<Mutex<Vec<i32>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let log = seen.clone();
    let mut s = setup(move |msg, _server| {
        log.lock().unwrap().push(msg.id());
        match NoSenders::parse(&msg) {
            Some(n) => {
                tx.send(n).unwrap();
                None
            }
            None => Some(msg),
        }
    });
    let service = s.handle.port_names()[0];
    s.handle.request_no_senders(service, 1).unwrap();
    s.handle.request_no_senders(service, 1).unwrap();
    ping(s.client()).await.expect("still served");
    assert!(
        rx.try_recv().is_err(),
        "the client still holds a send right"
    );
    // The last send right goes: one notification.
    drop(s.client.take());
    let n = bounded(rx.recv()).await.expect("no-senders notification");
    assert_eq!(n.port, service);
    // The replaced request's notification was queued before the ping: wait for the hook to
    // have seen it (bounded), then check nothing else came.
    bounded(async {
        while !seen.lock().unwrap().contains(&MACH_NOTIFY_SEND_ONCE) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(rx.try_recv().is_err(), "one notification only");
    let ids = seen.lock().unwrap().clone();
    assert_eq!(
        ids.iter()
            .filter(|&&id| id == MACH_NOTIFY_SEND_ONCE)
            .count(),
        1,
        "the replaced request's send-once notification: {ids:?}"
    );
    let _ = &s.client_task;
    let served = s.finish().await;
    assert_eq!(served.stats.hooked, 1);
}

/// A hook that declines a message by handing back one whose reply slot holds a receive right
/// (the kernel never delivers such a reply port, but a hook may build any message): the
/// `MIG_BAD_ID` reply cannot go there, the right is destroyed, nothing is counted as sent, and
/// serving goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_message_whose_reply_slot_is_a_receive_right_gets_no_reply() {
    let made: Arc<Mutex<Option<u32>>> = Arc::default();
    let made2 = made.clone();
    let s = setup(move |msg, server| {
        let port = ReceiveRight::new_in(server.space()).unwrap();
        *made2.lock().unwrap() = Some(port.name());
        drop(msg);
        Some(
            MessageBuilder::new(BASE + 5)
                .reply(PortSlot::Right(PortRight::Receive(port)))
                .build(),
        )
    });
    s.client()
        .server()
        .try_send(MessageBuilder::new(BASE + 5).build())
        .unwrap();
    ping(s.client()).await.expect("still served");
    bounded(async {
        while made.lock().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    // The counters are final once serving has stopped (a reply is counted after it is sent).
    let served = s.finish().await;
    assert_eq!(served.stats.error_replies, 0, "no reply was sent");
    assert_eq!(served.stats.send_failures, 0);
    assert_eq!(served.stats.replies, 1, "the ping");
}

/// Client-side failures: a request the kernel refuses for an unusual reason (the reply port is
/// destroyed with the exchange, the client still works), a reply stream that fails (the receive
/// error is reported), and a deadline that passes (the late reply is destroyed with its port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_send_and_receive_failures_are_reported_and_the_client_recovers() {
    let kept: Arc<Mutex<Vec<Message>>> = Arc::default();
    let keep = kept.clone();
    let s = setup(move |msg, _server| {
        // Unrouted requests are kept unanswered (a slow server).
        keep.lock().unwrap().push(msg);
        None
    });
    ping(s.client()).await.unwrap();
    let faults = s.kernel.faults();

    // An unusual send failure: the reply port is not reused.
    faults.fail_next_sends_from(&s.client_task, 1, MACH_SEND_NO_BUFFER);
    let err = ping(s.client()).await.unwrap_err();
    assert_eq!(err, MigError::Send(MACH_SEND_NO_BUFFER));
    assert_eq!(s.client().pooled_reply_ports(), 0);
    // A refused destination keeps the reply port for the next call.
    faults.fail_next_sends_from(&s.client_task, 1, MACH_SEND_INVALID_DEST);
    let err = ping(s.client()).await.unwrap_err();
    assert_eq!(err, MigError::Send(MACH_SEND_INVALID_DEST));
    assert_eq!(s.client().pooled_reply_ports(), 1);
    ping(s.client()).await.expect("the client recovers");

    // The reply stream's receive fails.
    faults.fail_next_receives_in(&s.client_task, 1, MACH_RCV_INVALID_TRAILER);
    let err = ping(s.client()).await.unwrap_err();
    assert_eq!(err, MigError::Receive(MACH_RCV_INVALID_TRAILER));
    ping(s.client()).await.expect("the client recovers");

    // A deadline that passes while the server holds the request.
    let slow =
        MigClient::new(s.client().server().clone()).with_timeout(Some(Duration::from_millis(50)));
    let err = bounded(slow.call(BASE + 9, Bytes::new(), &REPLY_40))
        .await
        .unwrap_err();
    assert_eq!(err, MigError::TimedOut);
    assert_eq!(
        kept.lock().unwrap().len(),
        1,
        "the server holds the request"
    );
    // The server drops the request now: its reply right's send-once notification goes to a
    // reply port that no longer exists and is destroyed.
    kept.lock().unwrap().clear();
    drop(slow);
    s.finish().await;
}

/// A message the server's stream cannot deliver (a lost message) is counted and serving goes
/// on: the next request is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_error_in_the_server_is_counted_and_serving_goes_on() {
    let s = setup(|msg, _server| Some(msg));
    let server_task = s.handle.space().task().clone();
    let lost = s.kernel.faults().fail_next_receives_in(
        &server_task,
        1,
        mach_async::mach_sim::mach_abi::MACH_RCV_INVALID_DATA,
    );
    ping(s.client())
        .await
        .expect("answered after the lost receive");
    assert_eq!(lost.fired(), 1);
    let served = s.finish().await;
    assert_eq!(served.stats.receive_errors, 1);
    assert_eq!(served.stats.replies, 1);
}
