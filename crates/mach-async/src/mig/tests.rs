//! The server and client rules of `mig.md` §9/§10 on the simulated kernel, with routines that
//! exercise the outcomes ipconfig's routines never produce (deferred replies, `MIG_NO_REPLY`,
//! routine errors, panics, audit-token routines). Each test has its own kernel and ends with the
//! leak assertion.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mach_abi::{KERN_INVALID_VALUE, MACH_SEND_INVALID_DEST};
use mach_sim::{Kernel, Task};
use tokio::sync::oneshot;

use crate::message::MessageBuilder;
use crate::mig::check::{ReplyShape, RequestShape};
use crate::mig::client::MigClient;
use crate::mig::error::MigError;
use crate::mig::server::{
    MigRequest, MigServer, RequestCheck, RoutineOutcome, RoutineTable, ServeEnd, Served,
};
use crate::mig::wire::read_i32;
use crate::rights::{PortRight, ReceiveRight, SendRight};
use crate::sys::Space;

const HANG: Duration = Duration::from_secs(20);
const BASE: i32 = 5000;
const REPLY_40: ReplyShape = ReplyShape::simple(40);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("no hang")
}

struct Setup {
    kernel: Kernel,
    server_task: Task,
    client: MigClient,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Served>,
}

fn setup(table: RoutineTable) -> Setup {
    let kernel = Kernel::new();
    let server_task = kernel.task_create("server", 10, 0, 0);
    let client_task = kernel.task_create("client", 20, 501, 20);
    let server_space = Space::from_task(server_task.clone());
    let port = ReceiveRight::new_in(&server_space).unwrap();
    // The client task gets its send right through the name service.
    kernel
        .bootstrap()
        .register(&server_task, "mig.test", port.name())
        .unwrap();
    let name = kernel
        .bootstrap()
        .look_up(&client_task, "mig.test")
        .unwrap();
    // SAFETY: look_up just gave the client task this send right.
    let right = unsafe { SendRight::from_raw_in(&Space::from_task(client_task), name) };
    let server = MigServer::new(port, table).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_until(async move {
        let _ = stopped.await;
    }));
    Setup {
        kernel,
        server_task,
        client: MigClient::new(right),
        stop,
        served,
    }
}

impl Setup {
    async fn finish(self) -> Served {
        drop(self.client);
        let _ = self.stop.send(());
        let mut served = bounded(self.served).await.unwrap();
        drop(served.port.take());
        let _ = self.kernel.bootstrap().unregister("mig.test");
        self.kernel.assert_no_leaks();
        served
    }
}

fn count_reply(n: i32) -> RoutineOutcome {
    RoutineOutcome::Reply(Bytes::copy_from_slice(&n.to_ne_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_reply_through_no_reply() {
    let kept: Arc<Mutex<Option<PortRight>>> = Arc::default();
    let slot = kept.clone();
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(RequestShape::simple(24)),
        move |req: MigRequest| {
            *slot.lock().unwrap() = req.take_reply();
            async { RoutineOutcome::NoReply }
        },
    );
    let s = setup(table);
    let call = s.client.call(BASE, Bytes::new(), &REPLY_40);
    let answer = async {
        // Wait until the routine kept the right, then answer with it.
        let right = loop {
            if let Some(r) = kept.lock().unwrap().take() {
                break r;
            }
            tokio::task::yield_now().await;
        };
        let mut body = vec![0u8; 16];
        body[4] = 1; // NDR int_rep
        body[12..16].copy_from_slice(&77i32.to_ne_bytes());
        let reply = MessageBuilder::new(BASE + 100)
            .body(Bytes::from(body))
            .build();
        right.into_send_once().unwrap().send(reply).await.unwrap();
    };
    let (reply, ()) = bounded(async { tokio::join!(call, answer) }).await;
    assert_eq!(read_i32(&reply.unwrap().bytes, 36), Some(77));
    let served = s.finish().await;
    assert_eq!(served.stats.replies, 0, "the server itself sent nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_without_keeping_the_right_is_server_died() {
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(RequestShape::simple(24)),
        |_req: MigRequest| async { RoutineOutcome::NoReply },
    );
    let s = setup(table);
    assert_eq!(
        bounded(s.client.call(BASE, Bytes::new(), &REPLY_40))
            .await
            .unwrap_err(),
        MigError::ServerDied
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routine_error_is_an_error_reply_and_the_request_is_destroyed() {
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(
            BASE,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { RoutineOutcome::Error(KERN_INVALID_VALUE) },
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { RoutineOutcome::Error(0) },
        );
    let s = setup(table);
    assert_eq!(
        bounded(s.client.call(BASE, Bytes::new(), &REPLY_40))
            .await
            .unwrap_err(),
        MigError::Remote(KERN_INVALID_VALUE)
    );
    // Error(0) cannot be a success: it is reported as KERN_FAILURE.
    assert_eq!(
        bounded(s.client.call(BASE + 1, Bytes::new(), &REPLY_40))
            .await
            .unwrap_err(),
        MigError::Remote(5)
    );
    let served = s.finish().await;
    assert_eq!(served.stats.error_replies, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_routine_looks_like_a_dead_server_and_serving_goes_on() {
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(
            BASE,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { panic!("routine bug") },
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req: MigRequest| async { count_reply(1) },
        );
    let s = setup(table);
    assert_eq!(
        bounded(s.client.call(BASE, Bytes::new(), &REPLY_40))
            .await
            .unwrap_err(),
        MigError::ServerDied
    );
    assert!(bounded(s.client.call(BASE + 1, Bytes::new(), &REPLY_40))
        .await
        .is_ok());
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_token_routines_get_the_senders_token() {
    let seen: Arc<Mutex<Option<mach_abi::audit_token_t>>> = Arc::default();
    let record = seen.clone();
    let shape = RequestShape {
        audit_token: true,
        ..RequestShape::simple(24)
    };
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(shape),
        move |req: MigRequest| {
            *record.lock().unwrap() = req.audit_token();
            async { count_reply(0) }
        },
    );
    let s = setup(table);
    bounded(s.client.call(BASE, Bytes::new(), &REPLY_40))
        .await
        .unwrap();
    let token = seen.lock().unwrap().expect("token");
    assert_eq!(token.val[5], 20, "the client task's pid");
    assert_eq!(token.val[1], 501, "the client task's euid");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_port_fails_the_send_and_keeps_the_reply_port() {
    let table = RoutineTable::new(BASE, BASE + 1);
    let s = setup(table);
    // Kill the server: its port dies, the client's right becomes a dead name.
    s.server_task.terminate().unwrap();
    let served = bounded(s.served).await.unwrap();
    assert_eq!(served.end, ServeEnd::PortDied);
    let result = bounded(s.client.call(BASE, Bytes::new(), &REPLY_40)).await;
    assert_eq!(result.unwrap_err(), MigError::Send(MACH_SEND_INVALID_DEST));
    // Nothing was sent, so the reply port is reusable.
    assert_eq!(s.client.pooled_reply_ports(), 1);
    drop(s.client);
    let _ = s.kernel.bootstrap().unregister("mig.test");
    s.kernel.assert_no_leaks();
}
