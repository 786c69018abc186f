//! The server and client rules of `mig.md` §9/§10 on the simulated kernel, with routines that
//! exercise the outcomes ipconfig's routines never produce (deferred replies, `MIG_NO_REPLY`,
//! routine errors, panics, audit-token routines). Each test has its own kernel and ends with the
//! leak assertion.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mach_abi::{
    KERN_INVALID_NAME, KERN_INVALID_VALUE, MACH_MSG_TYPE_PORT_RECEIVE, MACH_MSG_TYPE_PORT_SEND,
    MACH_NOTIFY_NO_SENDERS, MACH_NOTIFY_SEND_ONCE, MACH_PORT_NULL, MACH_SEND_INVALID_DEST,
};
use mach_sim::{FaultAction, Kernel, MsgMatch, Task};
use tokio::sync::oneshot;

use crate::message::{MessageBuilder, PortSlot};
use crate::mig::check::{Body, DescriptorSpec, ReplyShape, RequestShape, SizeRule};
use crate::mig::client::{MigClient, MigReply};
use crate::mig::codec::{read_i32, read_u32, NDR_BYTES};
use crate::mig::error::MigError;
use crate::mig::server::{
    MigRequest, MigServer, MigServerHandle, NoSenders, RequestCheck, RoutineOutcome, RoutineTable,
    ServeEnd, Served,
};
use crate::rights::{PortRight, ReceiveRight, SendRight};
use crate::stream::MachRecvStream;
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
    handle: MigServerHandle,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Served>,
}

fn setup(table: RoutineTable) -> Setup {
    setup_with(table, |server| server)
}

/// [`setup`] with the server adjusted (e.g. a hook set) before it starts serving.
fn setup_with(table: RoutineTable, adjust: impl FnOnce(MigServer) -> MigServer) -> Setup {
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
    let server = adjust(MigServer::new(port, table).unwrap());
    let handle = server.handle();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_until(async move {
        let _ = stopped.await;
    }));
    Setup {
        kernel,
        server_task,
        client: MigClient::new(right),
        handle,
        stop,
        served,
    }
}

impl Setup {
    async fn finish(self) -> Served {
        self.finish_with(|_| {}).await
    }

    /// Stops the server, runs `check` on what it handed back, releases the ports, and asserts
    /// that nothing leaked.
    async fn finish_with(self, check: impl FnOnce(&Served)) -> Served {
        drop(self.client);
        drop(self.handle);
        let _ = self.stop.send(());
        let mut served = bounded(self.served).await.unwrap();
        check(&served);
        drop(served.port.take());
        drop(std::mem::take(&mut served.added));
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
async fn a_routine_that_awaits_does_not_hold_up_the_next_request_and_still_answers() {
    // BASE waits for a signal that only the BASE + 1 routine gives: served one after the other
    // (the awaiting routine kept inline), the second request would never be dispatched.
    let (go_tx, go_rx) = oneshot::channel::<i32>();
    let go_rx = Arc::new(Mutex::new(Some(go_rx)));
    let go_tx = Arc::new(Mutex::new(Some(go_tx)));
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(
            BASE,
            RequestCheck::Shape(RequestShape::simple(24)),
            move |_req: MigRequest| {
                let rx = go_rx.lock().unwrap().take();
                async move {
                    let n = rx.expect("one slow call").await.unwrap_or(-1);
                    count_reply(n)
                }
            },
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            move |_req: MigRequest| {
                if let Some(tx) = go_tx.lock().unwrap().take() {
                    let _ = tx.send(41);
                }
                async { count_reply(7) }
            },
        );
    let s = setup(table);
    let slow = s.client.call(BASE, Bytes::new(), &REPLY_40);
    let fast = async {
        // Let the slow request reach the server first.
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.client.call(BASE + 1, Bytes::new(), &REPLY_40).await
    };
    let (slow, fast) = bounded(async { tokio::join!(slow, fast) }).await;
    assert_eq!(read_i32(&fast.unwrap().bytes, 36), Some(7));
    assert_eq!(read_i32(&slow.unwrap().bytes, 36), Some(41));
    let served = s.finish().await;
    assert_eq!(served.stats.replies, 2);
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

/// The seed-42 soak failure (issue 17), made deterministic with fault injection. The server's
/// task is terminated by the receive of the first request, in the middle of the stream's drain
/// (the kernel runs the action under its lock at the end of that `mach_msg`); then, on the same
/// thread once the lock is released, the stop completes. The stream sees the set gone on its
/// next receive of that drain and still hands out the request it drained before the death, so
/// when the server next looks at its stop, the set's death is already known but not yet
/// reported. The death came first: the end is `PortDied`, with no dead port handed back (it
/// used to be `Stopped`, because the select prefers the stop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_that_died_before_the_stop_is_reported_as_died() {
    let table = RoutineTable::new(BASE, BASE + 1).routine(
        BASE,
        RequestCheck::Shape(RequestShape::simple(24)),
        |_req: MigRequest| async { count_reply(1) },
    );
    let Setup {
        kernel,
        server_task,
        client,
        handle,
        stop,
        served,
    } = setup(table);
    let died = kernel.faults().on_receive(
        MsgMatch::any().task(&server_task),
        FaultAction::TerminateTask(server_task.clone()),
    );
    let stopped = kernel.faults().on_receive(
        MsgMatch::any().task(&server_task),
        FaultAction::call(move || {
            let _ = stop.send(());
        }),
    );
    // The request's reply right dies with the server's task before any reply.
    assert_eq!(
        bounded(client.call(BASE, Bytes::new(), &REPLY_40))
            .await
            .unwrap_err(),
        MigError::ServerDied
    );
    let served = bounded(served).await.unwrap();
    assert_eq!((died.fired(), stopped.fired()), (1, 1), "both faults fired");
    assert!(!server_task.is_active());
    assert_eq!(
        served.end,
        ServeEnd::PortDied,
        "the death was seen before the stop: {served:?}"
    );
    assert!(served.port.is_none() && served.added.is_empty());
    assert_eq!(
        served.stats.requests, 1,
        "the request drained before the death"
    );
    drop(served);
    drop(client);
    drop(handle);
    let _ = kernel.bootstrap().unregister("mig.test");
    kernel.faults().clear();
    kernel.assert_no_leaks();
}

const SEND_PORT_ARG: &[DescriptorSpec] = &[DescriptorSpec::Port {
    label: MACH_MSG_TYPE_PORT_SEND as u8,
}];
const RECEIVE_PORT_ARG: &[DescriptorSpec] = &[DescriptorSpec::Port {
    label: MACH_MSG_TYPE_PORT_RECEIVE as u8,
}];
/// A request whose only argument is a port: header, body count, one port descriptor, no NDR.
const fn port_request(args: &'static [DescriptorSpec]) -> RequestShape {
    RequestShape {
        body: Body::Complex(args),
        size: SizeRule::Exact(40),
        audit_token: false,
    }
}
/// A complex reply with a send right and one int: header, count, descriptor, NDR, int.
const PORT_AND_NAME_REPLY: ReplyShape = ReplyShape {
    body: Body::Complex(SEND_PORT_ARG),
    size: SizeRule::Exact(52),
};

fn client_space(s: &Setup) -> Space {
    s.client.server().space().clone()
}

async fn next_id(stream: &mut MachRecvStream) -> i32 {
    use futures::StreamExt;
    bounded(stream.next()).await.unwrap().unwrap().id()
}

/// A routine that takes the send right in port descriptor 0 and sends a message with id 777
/// through it; replies 1, or 0 when the port was null.
async fn ping_back(mut req: MigRequest) -> RoutineOutcome {
    match req.take_port(0) {
        Some(PortRight::Send(right)) => {
            right.send(MessageBuilder::new(777).build()).await.unwrap();
            count_reply(1)
        }
        None => {
            // The null port reached the routine with the received type of a send right.
            assert_eq!(
                req.message().rightless_port(0),
                Some((0, MACH_MSG_TYPE_PORT_SEND))
            );
            count_reply(0)
        }
        Some(other) => panic!("the check lets only send rights through, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_descriptors_of_every_disposition_reach_the_routine_as_rights() {
    let received: Arc<Mutex<Option<PortRight>>> = Arc::default();
    let keep = received.clone();
    let table = RoutineTable::new(BASE, BASE + 2)
        .routine(
            BASE,
            RequestCheck::Shape(port_request(SEND_PORT_ARG)),
            ping_back,
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(port_request(RECEIVE_PORT_ARG)),
            move |mut req: MigRequest| {
                *keep.lock().unwrap() = req.take_port(0);
                async { count_reply(1) }
            },
        );
    let s = setup(table);
    let space = client_space(&s);
    let notify = ReceiveRight::new_in(&space).unwrap();
    let moved = notify.make_send().unwrap();
    let kept = notify.make_send().unwrap();
    let mut stream = MachRecvStream::new(notify).unwrap();
    let name = stream.port_names()[0];
    // Calls routine `id` with `port` as its only argument.
    let call = |id: i32, port: PortSlot| {
        let request = MessageBuilder::new(id).port(port).build();
        bounded(s.client.call_message(request, &REPLY_40))
    };
    let answer = |reply: Result<MigReply, MigError>| read_i32(&reply.unwrap().bytes, 36);

    // MOVE_SEND: the right moves to the server, which uses it.
    let reply = call(BASE, PortRight::Send(moved).into()).await;
    assert_eq!(answer(reply), Some(1));
    assert_eq!(next_id(&mut stream).await, 777);
    // COPY_SEND: the server gets its own copy; the client's right stays usable.
    let reply = call(BASE, PortSlot::CopySend(kept.name())).await;
    assert_eq!(answer(reply), Some(1));
    assert_eq!(next_id(&mut stream).await, 777);
    kept.try_send(MessageBuilder::new(778).build()).unwrap();
    assert_eq!(next_id(&mut stream).await, 778);
    // MAKE_SEND: a send right made from the client's receive right.
    let reply = call(BASE, PortSlot::MakeSend(name)).await;
    assert_eq!(answer(reply), Some(1));
    assert_eq!(next_id(&mut stream).await, 777);
    // A null port passes the send-right check and reaches the routine as no right.
    let reply = call(BASE, PortSlot::CopySend(MACH_PORT_NULL)).await;
    assert_eq!(answer(reply), Some(0));
    // A send-once right where a send right is expected: MIG_TYPE_ERROR, and the server
    // destroys the request, so the right dies (its send-once notification arrives).
    let reply = call(BASE, PortSlot::MakeSendOnce(name)).await;
    assert_eq!(reply.unwrap_err(), MigError::TypeError);
    assert_eq!(next_id(&mut stream).await, MACH_NOTIFY_SEND_ONCE);

    // MOVE_RECEIVE: the receive right (with the message queued on it) moves to the server.
    let given = ReceiveRight::new_in(&space).unwrap();
    given
        .make_send()
        .unwrap()
        .try_send(MessageBuilder::new(555).build())
        .unwrap();
    let reply = call(BASE + 1, PortRight::Receive(given).into()).await;
    assert_eq!(answer(reply), Some(1));
    let right = received
        .lock()
        .unwrap()
        .take()
        .expect("the routine kept it");
    let right = right.into_receive().expect("a receive right");
    assert_eq!(
        right.space().id(),
        Space::from_task(s.server_task.clone()).id()
    );
    let mut moved_port = MachRecvStream::new(right).unwrap();
    assert_eq!(next_id(&mut moved_port).await, 555);
    drop(moved_port);

    drop((stream, kept));
    s.finish().await;
}

/// A routine that serves a fresh port from now on and returns a send right to it, with the
/// port's name in the server's space as an inline int (configd's `configopen`). With
/// `watch`, a no-senders notification is armed on the new port first.
fn open_port(req: MigRequest, watch: bool) -> RoutineOutcome {
    let server = req.server().clone();
    let port = ReceiveRight::new_in(server.space()).unwrap();
    let send = port.make_send().unwrap();
    let name = port.name();
    server.add_port(port).unwrap();
    if watch {
        server.request_no_senders(name, 1).unwrap();
    }
    let mut body = NDR_BYTES.to_vec();
    body.extend_from_slice(&name.to_ne_bytes());
    RoutineOutcome::ComplexReply(Box::new(
        MessageBuilder::new(0)
            .port(PortRight::Send(send))
            .body(Bytes::from(body))
            .build(),
    ))
}

/// Opens a port through [`open_port`]: a client of it, and its name in the server's space.
async fn open(client: &MigClient, id: i32) -> (MigClient, u32) {
    let mut reply = bounded(client.call(id, Bytes::new(), &PORT_AND_NAME_REPLY))
        .await
        .unwrap();
    let name = read_u32(&reply.bytes, 48).unwrap();
    let right = reply.take_port(0).and_then(PortRight::into_send).unwrap();
    assert!(reply.take_port(0).is_none(), "taken once");
    (MigClient::new(right), name)
}

async fn arrival_name(client: &MigClient) -> Result<u32, MigError> {
    let reply = bounded(client.call(BASE, Bytes::new(), &REPLY_40)).await?;
    Ok(read_u32(&reply.bytes, 36).unwrap())
}

fn echo_and_open_table(watch: bool) -> RoutineTable {
    RoutineTable::new(BASE, BASE + 2)
        .routine(
            BASE,
            RequestCheck::Shape(RequestShape::simple(24)),
            |req: MigRequest| {
                let name = req.local_port();
                async move { count_reply(name as i32) }
            },
        )
        .routine(
            BASE + 1,
            RequestCheck::Shape(RequestShape::simple(24)),
            move |req: MigRequest| {
                let outcome = open_port(req, watch);
                async move { outcome }
            },
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_added_and_removed_while_serving_and_the_names_requests_arrive_on() {
    let s = setup(echo_and_open_table(false));
    let service = s.handle.port_names();
    assert_eq!(service.len(), 1);
    assert_eq!(arrival_name(&s.client).await, Ok(service[0]));

    // A routine adds a port; requests to it arrive under its name.
    let (session, name) = open(&s.client, BASE + 1).await;
    assert_ne!(name, service[0]);
    assert_eq!(s.handle.port_names(), [service[0], name]);
    assert_eq!(arrival_name(&session).await, Ok(name));
    assert_eq!(arrival_name(&s.client).await, Ok(service[0]));

    // Removed: the server no longer receives from it; a request stays queued on the port,
    // which is handed back.
    let removed = s.handle.remove_port(name).expect("served");
    assert_eq!(s.handle.port_names(), [service[0]]);
    assert!(s.handle.remove_port(name).is_none());
    let pending = tokio::spawn(async move {
        let result = arrival_name(&session).await;
        (session, result)
    });
    let mut own = MachRecvStream::new(removed).unwrap();
    let request = {
        use futures::StreamExt;
        bounded(own.next()).await.unwrap().unwrap()
    };
    assert_eq!((request.id(), request.local_port()), (BASE, name));
    // Destroying the request destroys its reply right: the client sees the server die.
    drop(request);
    let (session, result) = bounded(pending).await.unwrap();
    assert_eq!(result, Err(MigError::ServerDied));

    // Added back: served again under the same name.
    let (mut ports, undelivered) = own.into_ports();
    assert!(undelivered.is_empty());
    s.handle.add_port(ports.pop().unwrap()).unwrap();
    assert_eq!(arrival_name(&session).await, Ok(name));
    drop(session);

    let service_name = service[0];
    s.finish_with(|served| {
        assert_eq!(served.end, ServeEnd::Stopped);
        assert_eq!(served.port.as_ref().map(|p| p.name()), Some(service_name));
        let added: Vec<_> = served.added.iter().map(|p| p.name()).collect();
        assert_eq!(added, [name], "the added port is handed back too");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_of_an_ended_server_refuses_port_operations() {
    let s = setup(echo_and_open_table(false));
    let handle = s.handle.clone();
    let port = ReceiveRight::new_in(handle.space()).unwrap();
    let name = port.name();
    s.finish_with(move |_| {
        assert!(handle.port_names().is_empty());
        // The refused port is destroyed (the leak check after this closure covers it).
        assert!(matches!(handle.add_port(port), Err(crate::Error::Ended)));
        assert!(handle.remove_port(name).is_none());
        assert!(matches!(
            handle.request_no_senders(name, 1),
            Err(crate::Error::Ended)
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_senders_on_an_added_port_reaches_the_hook_and_other_messages_get_bad_id() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let s = setup_with(echo_and_open_table(true), move |server| {
        server.with_unrouted_hook(move |msg, server| match NoSenders::parse(&msg) {
            Some(notification) => {
                // The owner tears the port down.
                drop(server.remove_port(notification.port));
                tx.send(notification).unwrap();
                None
            }
            None => Some(msg),
        })
    });
    let service = s.handle.port_names()[0];
    // Only served ports can be watched this way.
    let unserved = ReceiveRight::new_in(&client_space(&s)).unwrap();
    assert!(matches!(
        s.handle.request_no_senders(unserved.name(), 1),
        Err(crate::Error::Kern {
            kr: KERN_INVALID_NAME,
            ..
        })
    ));
    drop(unserved);

    let (session, name) = open(&s.client, BASE + 1).await;
    assert_eq!(arrival_name(&session).await, Ok(name));
    // A client forging the notification's shape is not the kernel: declined, still served.
    let mut forged = NDR_BYTES.to_vec();
    forged.extend_from_slice(&99u32.to_ne_bytes());
    session
        .server()
        .try_send(
            MessageBuilder::new(MACH_NOTIFY_NO_SENDERS)
                .body(forged)
                .build(),
        )
        .unwrap();
    assert_eq!(arrival_name(&session).await, Ok(name));
    assert!(rx.try_recv().is_err(), "a sender remains");
    // The client's last send right goes: the kernel's notification arrives on the port itself.
    drop(session);
    let notification = bounded(rx.recv()).await.unwrap();
    assert_eq!(
        notification,
        NoSenders {
            port: name,
            mscount: 1
        }
    );
    assert_eq!(s.handle.port_names(), [service]);

    // A request with an id that has no routine is declined by the hook: MIG_BAD_ID as always.
    let bad = bounded(s.client.call(BASE + 7, Bytes::new(), &REPLY_40)).await;
    assert_eq!(bad.unwrap_err(), MigError::BadId);
    let served = s.finish().await;
    assert_eq!(served.stats.hooked, 1, "the forgery was not taken");
    assert_eq!(served.stats.error_replies, 1);
}
