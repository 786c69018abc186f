//! The MIG client/server runtime: a good call, `MIG_BAD_ID`, wrong request sizes, routine
//! errors, a server that drops the reply right (`MIG_SERVER_DIED`), concurrent calls, stopping.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mach_abi::KERN_INVALID_VALUE;
use mach_async::mig::{
    MigClient, MigError, MigRequest, MigServer, ReplyShape, RequestCheck, RequestShape,
    RoutineOutcome, RoutineTable, ServeEnd, Served,
};
use mach_conformance::{multi_thread_rt, within, Fixture, Outcome, HANG};
use tokio::sync::oneshot;

crate::tests!(
    a_good_call_gets_its_reply,
    an_unknown_routine_gets_mig_bad_id_and_serving_goes_on,
    a_request_of_the_wrong_size_gets_mig_bad_arguments,
    a_routine_error_is_an_error_reply,
    a_server_that_drops_the_reply_right_is_mig_server_died,
    concurrent_calls_each_get_their_own_reply,
    stopping_the_server_hands_the_port_back,
);

const BASE: i32 = 5000;
const REPLY: ReplyShape = ReplyShape::simple(40);

fn count_reply(n: i32) -> RoutineOutcome {
    RoutineOutcome::Reply(Bytes::copy_from_slice(&n.to_ne_bytes()))
}

/// The reply's 32-bit result (after the 36-byte header + NDR + RetCode).
fn result_of(bytes: &[u8]) -> i32 {
    i32::from_ne_bytes(bytes[36..40].try_into().expect("a 40-byte reply"))
}

/// A routine table: `BASE` answers its request's first word + 1 (a 28-byte request), `BASE + 1`
/// fails with `KERN_INVALID_VALUE`, `BASE + 2` drops the reply right, `BASE + 3` counts calls.
fn table(calls: Arc<AtomicU32>) -> RoutineTable {
    RoutineTable::new(BASE, BASE + 4)
        .routine(
            BASE,
            RequestCheck::Shape(RequestShape::simple(28)),
            |req: MigRequest| {
                let word = i32::from_ne_bytes(req.bytes()[24..28].try_into().expect("28 bytes"));
                async move { count_reply(word + 1) }
            },
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { RoutineOutcome::Error(KERN_INVALID_VALUE) },
        )
        .routine(
            BASE + 2,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { RoutineOutcome::NoReply },
        )
        .routine(
            BASE + 3,
            RequestCheck::Shape(RequestShape::simple(24)),
            move |_req: MigRequest| {
                let n = calls.fetch_add(1, Ordering::SeqCst) as i32;
                async move {
                    tokio::task::yield_now().await;
                    count_reply(n)
                }
            },
        )
}

/// Runs `body` against a served table, then stops the server and checks for leaks.
fn with_server<F, Fut>(body: F) -> Served
where
    F: FnOnce(MigClient) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fx = Fixture::new();
    let rt = multi_thread_rt();
    let served = rt.block_on(async {
        let (port, send) = fx.connect();
        let server = MigServer::new(port, table(Arc::default())).expect("a server");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve_until(async move {
            let _ = stopped.await;
        }));
        body(MigClient::new(send)).await;
        let _ = stop.send(());
        within(HANG, serving, "the server to stop")
            .await
            .expect("serve_until")
    });
    let mut served = served;
    assert_eq!(served.end, ServeEnd::Stopped);
    drop(served.port.take());
    drop(rt);
    fx.assert_no_leaks();
    served
}

fn a_good_call_gets_its_reply() -> Outcome {
    let served = with_server(|client| async move {
        let reply = within(
            HANG,
            client.call(BASE, Bytes::from(41i32.to_ne_bytes().to_vec()), &REPLY),
            "the reply",
        )
        .await
        .expect("a good reply");
        assert_eq!(result_of(reply.message_bytes()), 42);
    });
    assert_eq!(served.stats.replies, 1);
    Ok(())
}

fn an_unknown_routine_gets_mig_bad_id_and_serving_goes_on() -> Outcome {
    with_server(|client| async move {
        let err = within(
            HANG,
            client.call(BASE + 50, Bytes::new(), &REPLY),
            "the error reply",
        )
        .await
        .expect_err("no such routine");
        assert_eq!(err, MigError::BadId);
        let reply = within(
            HANG,
            client.call(BASE, Bytes::from(1i32.to_ne_bytes().to_vec()), &REPLY),
            "the next reply",
        )
        .await
        .expect("the server still serves");
        assert_eq!(result_of(reply.message_bytes()), 2);
    });
    Ok(())
}

fn a_request_of_the_wrong_size_gets_mig_bad_arguments() -> Outcome {
    with_server(|client| async move {
        let err = within(
            HANG,
            client.call(BASE, Bytes::from(vec![0u8; 12]), &REPLY),
            "the error reply",
        )
        .await
        .expect_err("a 36-byte request where 28 are expected");
        assert_eq!(err, MigError::BadArguments);
    });
    Ok(())
}

fn a_routine_error_is_an_error_reply() -> Outcome {
    let served = with_server(|client| async move {
        let err = within(
            HANG,
            client.call(BASE + 1, Bytes::new(), &REPLY),
            "the error reply",
        )
        .await
        .expect_err("the routine fails");
        assert_eq!(err, MigError::Remote(KERN_INVALID_VALUE));
    });
    assert_eq!(served.stats.error_replies, 1);
    Ok(())
}

fn a_server_that_drops_the_reply_right_is_mig_server_died() -> Outcome {
    with_server(|client| async move {
        let err = within(
            HANG,
            client.call(BASE + 2, Bytes::new(), &REPLY),
            "the send-once notification",
        )
        .await
        .expect_err("no reply comes");
        assert_eq!(err, MigError::ServerDied);
    });
    Ok(())
}

fn concurrent_calls_each_get_their_own_reply() -> Outcome {
    with_server(|client| async move {
        let client = Arc::new(client);
        let calls: Vec<_> = (0..16)
            .map(|i| {
                let c = client.clone();
                tokio::spawn(async move {
                    let body = Bytes::from((i * 10i32).to_ne_bytes().to_vec());
                    let reply = c.call(BASE, body, &REPLY).await.expect("a reply");
                    assert_eq!(
                        result_of(reply.message_bytes()),
                        i * 10 + 1,
                        "its own reply"
                    );
                })
            })
            .collect();
        for call in calls {
            within(HANG, call, "a concurrent call").await.unwrap();
        }
    });
    Ok(())
}

fn stopping_the_server_hands_the_port_back() -> Outcome {
    let fx = Fixture::new();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        let name = port.name();
        let server = MigServer::new(port, table(Arc::default())).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve_until(async move {
            let _ = stopped.await;
        }));
        let client = MigClient::new(send);
        within(HANG, client.call(BASE + 3, Bytes::new(), &REPLY), "a call")
            .await
            .unwrap();
        let _ = stop.send(());
        let mut served = within(HANG, serving, "the stop").await.unwrap();
        assert_eq!(served.end, ServeEnd::Stopped);
        let port = served.port.take().expect("the port comes back");
        assert_eq!(port.name(), name);
        drop(client);
        drop(port);
    });
    drop(rt);
    fx.assert_no_leaks();
    Ok(())
}
