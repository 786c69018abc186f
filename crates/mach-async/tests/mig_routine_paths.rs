//! More MIG paths (issue 16): a routine that panics after it first yielded, a complex reply
//! whose descriptors are taken one by one, what a routine sees of its request (`Debug`, the
//! mutable message), and a client whose deadline passes while the server's queue is full.
//! Each test ends with the leak assertion.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use mach_async::mach_sim::mach_abi::{MACH_MSG_TYPE_PORT_SEND, MACH_SEND_TIMED_OUT};
use mach_async::mig::codec::NDR_BYTES;
use mach_async::mig::{
    Body, CheckedRequest, DescriptorSpec, MigClient, MigError, MigRequest, MigServer, ReplyShape,
    RequestCheck, RequestShape, RoutineOutcome, RoutineTable, SizeRule,
};
use mach_async::{MessageBuilder, PortRight, ReceiveRight};

mod common;
use common::{mig_fixture, MigFixture};

const HANG: Duration = Duration::from_secs(20);
const BASE: i32 = 7000;
const REPLY_40: ReplyShape = ReplyShape::simple(40);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("no hang")
}

/// A server of `table` in its own task, and a client of it in another.
fn setup(table: RoutineTable) -> MigFixture {
    mig_fixture("mig.routines", |port| MigServer::new(port, table).unwrap())
}

/// Routine `BASE`: replies with the value 7.
fn seven(_req: MigRequest) -> std::future::Ready<RoutineOutcome> {
    std::future::ready(RoutineOutcome::Reply(Bytes::copy_from_slice(
        &7i32.to_ne_bytes(),
    )))
}

async fn ping(client: &MigClient) -> Result<i32, MigError> {
    let reply = bounded(client.call(BASE, Bytes::new(), &REPLY_40)).await?;
    Ok(i32::from_ne_bytes(reply.bytes[36..40].try_into().unwrap()))
}

/// A routine that panics after its first await runs as a spawned task: the panic is contained
/// there, its request (and reply right) are destroyed, so the client sees `MIG_SERVER_DIED` as
/// with a C server thread that lost its request, and the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routine_that_panics_after_yielding_costs_only_its_own_call() {
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(BASE, RequestCheck::Shape(RequestShape::simple(24)), seven)
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async {
                tokio::task::yield_now().await;
                panic!("a routine bug (expected by this test)");
            },
        );
    let s = setup(table);
    assert_eq!(ping(s.client()).await, Ok(7));
    let err = bounded(s.client().call(BASE + 1, Bytes::new(), &REPLY_40))
        .await
        .unwrap_err();
    assert_eq!(err, MigError::ServerDied);
    assert_eq!(ping(s.client()).await, Ok(7), "still serving");
    let served = s.finish().await;
    assert_eq!(served.stats.requests, 3);
}

/// Reply layout of `BASE + 1`: an OOL descriptor (offset 28), a send right (44), then the NDR
/// record (56) and the OOL size (64).
const OOL_AND_PORT: &[DescriptorSpec] = &[
    DescriptorSpec::Ool { count_offset: 64 },
    DescriptorSpec::Port {
        label: MACH_MSG_TYPE_PORT_SEND as u8,
    },
];
const OOL_AND_PORT_REPLY: ReplyShape = ReplyShape {
    body: Body::Complex(OOL_AND_PORT),
    size: SizeRule::Exact(68),
};

/// What a routine sees of its request: its `Debug` text names the id, the size, the port it
/// arrived on and the caller's audit token, and the message can be changed in place. The
/// complex reply it returns carries an OOL buffer and a send right, which the client takes
/// descriptor by descriptor: asking the OOL descriptor for a right gives `None`, the port
/// descriptor gives the right, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complex_reply_is_taken_apart_and_a_routine_sees_its_request() {
    let (seen_tx, seen_rx) = mpsc::channel::<(String, bool)>();
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(BASE, RequestCheck::Shape(RequestShape::simple(24)), seven)
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape {
                audit_token: true,
                ..RequestShape::simple(28)
            }),
            move |mut req: MigRequest| {
                req.message_mut().set_body(Bytes::new());
                let emptied = req.message().body().is_empty() && req.bytes().len() > 28;
                seen_tx
                    .send((format!("{req:?}"), emptied))
                    .expect("the test waits");
                let server = req.server().clone();
                let port = ReceiveRight::new_in(server.space()).unwrap();
                let send = port.make_send().unwrap();
                server.add_port(port).unwrap();
                let mut body = NDR_BYTES.to_vec();
                body.extend_from_slice(&5u32.to_ne_bytes());
                let reply = MessageBuilder::new(0)
                    .ool(Bytes::from_static(b"hello"))
                    .port(PortRight::Send(send))
                    .body(Bytes::from(body))
                    .build();
                async move { RoutineOutcome::ComplexReply(Box::new(reply)) }
            },
        );
    let s = setup(table);
    let service = s.handle.port_names()[0];
    let mut reply = bounded(s.client().call(
        BASE + 1,
        Bytes::copy_from_slice(&9u32.to_ne_bytes()),
        &OOL_AND_PORT_REPLY,
    ))
    .await
    .expect("a well-formed complex reply");
    assert!(
        reply.take_port(0).is_none(),
        "an OOL descriptor has no right"
    );
    let right = reply.take_port(1).and_then(PortRight::into_send);
    let right = right.expect("the send right");
    assert!(reply.take_port(1).is_none(), "taken once");
    assert!(reply.take_port(2).is_none(), "no such descriptor");
    // The right reaches the port the routine added.
    let added = MigClient::new(right);
    assert!(
        matches!(ping(&added).await, Ok(7)),
        "the added port is served"
    );
    drop(added);

    let (text, emptied) = seen_rx.recv_timeout(HANG).expect("the routine ran");
    assert!(emptied, "message_mut changes the request's message");
    for part in [
        format!("id: {}", BASE + 1),
        "size: 28".to_string(),
        format!("local_port: {service}"),
        "audit_token: Some(".to_string(),
    ] {
        assert!(text.contains(&part), "{text} should show {part}");
    }
    assert!(text.starts_with("MigRequest"), "{text}");
    s.finish().await;
}

/// A custom check shows as `Custom(..)` in the table's `Debug` text (a function pointer has
/// nothing readable to show).
#[test]
fn a_custom_check_shows_as_custom() {
    fn accept(_: &[u8]) -> Result<CheckedRequest, MigError> {
        Ok(CheckedRequest::default())
    }
    assert_eq!(format!("{:?}", RequestCheck::Custom(accept)), "Custom(..)");
}

/// A client whose deadline passes while its request waits for room in the server's full queue
/// gets `MACH_SEND_TIMED_OUT` (what a C stub with a send timeout sees); the request was never
/// queued, its reply port is destroyed rather than pooled, and once the queue drains the same
/// client is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passes_in_the_send_is_a_send_timeout() {
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(RequestShape::simple(24)),
        seven,
    );
    let s = setup(table);
    let service = s.handle.port_names()[0];
    let server_task = s.handle.space().task().clone();
    let faults = s.kernel.faults();
    faults.fill_queue(&server_task, service).unwrap();
    let client =
        MigClient::new(s.client().server().clone()).with_timeout(Some(Duration::from_millis(100)));
    let err = bounded(client.call(BASE, Bytes::new(), &REPLY_40))
        .await
        .unwrap_err();
    assert_eq!(err, MigError::Send(MACH_SEND_TIMED_OUT));
    assert_eq!(
        client.pooled_reply_ports(),
        0,
        "the reply port is destroyed"
    );
    faults.release_queue(&server_task, service).unwrap();
    assert_eq!(ping(&client).await, Ok(7), "served once there is room");
    assert_eq!(client.pooled_reply_ports(), 1);
    drop(client);
    let _ = &s.client_task;
    let served = s.finish().await;
    assert_eq!(
        served.stats.requests, 1,
        "the timed-out request never arrived"
    );
}
