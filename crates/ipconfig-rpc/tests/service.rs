//! The ipconfig service on the simulated kernel: server and client in different simulated tasks,
//! each test on its own kernel, each ending with the leak assertion.
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::join_all;
use ipconfig_rpc::auth::{authorize_root, Denied, RootPolicy};
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ipconfig_messages::{InterfaceName, IpconfigStatus};
use ipconfig_rpc::mig::codec::{read_i32, read_u32, write_u32};
use ipconfig_rpc::mig::view::received_bytes;
use ipconfig_rpc::mig::{check_reply, MigError, ServeEnd, Served};
use ipconfig_rpc::protocol::{
    encode_if_addr_request, encode_if_count_request, IfAddr, Numbering, IF_ADDR_REPLY,
    IF_COUNT_REPLY,
};
use ipconfig_rpc::server::{CallContext, IpconfigHandler};
use ipconfig_rpc::{ClientBuilder, ServerHandle};
use mach_abi::{audit_token_t, kern_return_t};
use mach_async::{MessageBuilder, PortSlot, ReceiveRight, Space};
use mach_sim::{Kernel, Task};
mod common;

use common::{bounded, client_in, look_up_client, serve, HANG};
use tokio::sync::Notify;

/// A test double of ipconfigd's bound state and its two handlers.
#[derive(Default)]
struct Bound {
    addrs: HashMap<Vec<u8>, Ipv4Addr>,
}

impl Bound {
    fn with(pairs: &[(&str, Ipv4Addr)]) -> Bound {
        Bound {
            addrs: pairs
                .iter()
                .map(|(n, a)| (n.as_bytes().to_vec(), *a))
                .collect(),
        }
    }
}

#[async_trait]
impl IpconfigHandler for Bound {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        Ok(self.addrs.len() as i32)
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(match self.addrs.get(name.lookup_key()) {
            Some(addr) => IfAddr {
                addr: *addr,
                status: IpconfigStatus::SUCCESS,
            },
            None => IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER,
            },
        })
    }
}

struct Fixture {
    kernel: Kernel,
    server_task: Task,
    client_task: Task,
    server: Option<ServerHandle>,
}

impl Fixture {
    async fn start<H: IpconfigHandler>(handler: H, numbering: Numbering) -> Fixture {
        Fixture::start_arc(Arc::new(handler), numbering).await
    }

    async fn start_arc<H: IpconfigHandler>(handler: Arc<H>, numbering: Numbering) -> Fixture {
        let kernel = Kernel::new();
        let server_task = kernel.task_create("ipconfigd", 100, 0, 0);
        let client_task = kernel.task_create("ipconfig", 200, 501, 20);
        let serving = serve(&kernel, &server_task, handler, numbering);
        Fixture {
            kernel,
            server_task,
            client_task,
            server: Some(serving.server),
        }
    }

    async fn client(&self) -> IpconfigClient {
        look_up_client(&self.client_task).await
    }

    async fn client_with(
        &self,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> IpconfigClient {
        bounded(configure(client_in(&self.client_task)).open())
            .await
            .expect("look-up")
    }

    /// Stops the server, releases its port, and asserts that nothing is left.
    async fn finish(self) -> Served {
        let (served, kernel) = self.finish_keeping_kernel().await;
        kernel.assert_no_leaks();
        served
    }

    /// Stops the server and releases its port; the caller asserts no leaks.
    async fn finish_keeping_kernel(mut self) -> (Served, Kernel) {
        let server = self.server.take().unwrap();
        let mut served = tokio::time::timeout(HANG, server.close())
            .await
            .expect("server stops");
        drop(served.port.take());
        (served, self.kernel.clone())
    }
}

fn em0() -> Bound {
    Bound::with(&[("em0", Ipv4Addr::new(10, 0, 2, 15))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_routines_round_trip() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    assert_eq!(
        tokio::time::timeout(HANG, client.if_count()).await.unwrap(),
        Ok(1)
    );
    let addr = tokio::time::timeout(HANG, client.if_addr(InterfaceName::new("em0").unwrap()))
        .await
        .unwrap();
    assert_eq!(
        addr,
        Ok(IfAddr {
            addr: Ipv4Addr::new(10, 0, 2, 15),
            status: IpconfigStatus::SUCCESS
        })
    );
    drop(client);
    let served = fx.finish().await;
    assert_eq!(served.stats.replies, 2);
}

fn name(s: &str) -> InterfaceName {
    InterfaceName::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_a_lease_nothing_is_bound_and_unknown_interfaces_get_no_server() {
    let fx = Fixture::start(Bound::default(), Numbering::NextBsd).await;
    let client = fx.client().await;
    assert_eq!(bounded(client.if_count()).await, Ok(0));
    let none = IfAddr {
        addr: Ipv4Addr::UNSPECIFIED,
        status: IpconfigStatus::NO_SERVER,
    };
    assert_eq!(bounded(client.if_addr(name("em0"))).await, Ok(none));
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_interface_gets_no_server_status() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    let reply = bounded(client.if_addr(name("em1"))).await.unwrap();
    assert_eq!(reply.status, IpconfigStatus::NO_SERVER);
    assert_eq!(reply.status.c_name(), Some("ipconfig_status_no_server_e"));
    assert_eq!(reply.addr, Ipv4Addr::UNSPECIFIED);
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_byte_name_without_nul_uses_its_first_15_bytes() {
    let bound = Bound::with(&[("0123456789abcde", Ipv4Addr::new(192, 168, 1, 7))]);
    let fx = Fixture::start(bound, Numbering::NextBsd).await;
    let client = fx.client().await;
    let mut request =
        encode_if_addr_request(InterfaceName(*b"0123456789abcdeX"), Numbering::NextBsd);
    assert!(!request[32..48].contains(&0), "the name fills all 16 bytes");
    let reply = bounded(client.raw_call(20001, &request, &IF_ADDR_REPLY))
        .await
        .unwrap();
    assert_eq!(read_i32(&reply.bytes, 40), Some(0), "status success");
    assert_eq!(&reply.bytes[36..40], &[192, 168, 1, 7]);
    // A different 16th byte makes no difference; a different 15th does.
    request[47] = b'Y';
    let reply = bounded(client.raw_call(20001, &request, &IF_ADDR_REPLY))
        .await
        .unwrap();
    assert_eq!(read_i32(&reply.bytes, 40), Some(0));
    request[46] = b'Z';
    let reply = bounded(client.raw_call(20001, &request, &IF_ADDR_REPLY))
        .await
        .unwrap();
    assert_eq!(
        read_i32(&reply.bytes, 40),
        Some(IpconfigStatus::NO_SERVER.0)
    );
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_id_gets_a_bad_id_reply_not_a_hang() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    // No client deadline: a missing reply would hang and trip the outer bound.
    let client = fx.client().await;
    let request = encode_if_count_request();
    assert_eq!(
        bounded(client.raw_call(20050, &request, &IF_COUNT_REPLY))
            .await
            .unwrap_err(),
        MigError::BadId
    );
    // Apple's if_addr id is not in NextBSD's table.
    let apple = encode_if_addr_request(name("em0"), Numbering::AppleCompat);
    assert_eq!(
        bounded(client.raw_call(20002, &apple, &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadId
    );
    assert_eq!(
        bounded(client.raw_call(19999, &request, &IF_COUNT_REPLY))
            .await
            .unwrap_err(),
        MigError::BadId
    );
    // The exchange finished: the reply port went back to the pool, and the next call works.
    assert_eq!(client.mig().pooled_reply_ports(), 1);
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    drop(client);
    let served = fx.finish().await;
    assert_eq!(served.stats.error_replies, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sizes_get_bad_arguments() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    let mut count28 = encode_if_count_request();
    count28.extend_from_slice(&[0; 4]);
    assert_eq!(
        bounded(client.raw_call(20000, &count28, &IF_COUNT_REPLY))
            .await
            .unwrap_err(),
        MigError::BadArguments
    );
    let addr = encode_if_addr_request(name("em0"), Numbering::NextBsd);
    // Truncated: 44 bytes.
    assert_eq!(
        bounded(client.raw_call(20001, &addr[..44], &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadArguments
    );
    // Apple's get_option size on the NextBSD table.
    let mut addr52 = addr.clone();
    addr52.extend_from_slice(&[0; 4]);
    assert_eq!(
        bounded(client.raw_call(20001, &addr52, &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadArguments
    );
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complex_request_gets_bad_arguments_and_its_descriptor_right_is_destroyed() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    let space = Space::from_task(fx.client_task.clone());
    let extra = ReceiveRight::new_in(&space).unwrap();
    // if_count carrying a port descriptor (a send right minted from `extra`).
    let request = MessageBuilder::new(20000).make_send(&extra).build();
    let reply = bounded(client.mig().server().request(request, None))
        .await
        .expect("a reply");
    let bytes = received_bytes(&reply);
    assert_eq!(read_i32(&bytes, 20), Some(20100));
    assert_eq!(read_u32(&bytes, 4), Some(36));
    assert_eq!(
        check_reply(&bytes, 20000, &IF_COUNT_REPLY),
        Err(MigError::BadArguments)
    );
    drop(reply);
    drop(client);
    // The server destroyed the request, so the send right it carried is gone: only `extra`'s
    // receive right is left, and the leak check below sees nothing once it is dropped.
    drop(extra);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_compat_mode_tells_20001_apart_by_size() {
    let fx = Fixture::start(em0(), Numbering::AppleCompat).await;
    let nextbsd = fx.client().await;
    let apple = fx
        .client_with(|b| b.numbering(Numbering::AppleCompat))
        .await;
    let expected = IfAddr {
        addr: Ipv4Addr::new(10, 0, 2, 15),
        status: IpconfigStatus::SUCCESS,
    };
    // Legacy 20001/48 (reply id 20101, checked by the decoder) and Apple 20002/48 (20102).
    assert_eq!(bounded(nextbsd.if_addr(name("em0"))).await, Ok(expected));
    assert_eq!(bounded(apple.if_addr(name("em0"))).await, Ok(expected));
    assert_eq!(bounded(apple.if_count()).await, Ok(1));
    // 20001 with 52 bytes: Apple's get_option, not implemented.
    let mut get_option = encode_if_addr_request(name("em0"), Numbering::NextBsd);
    get_option.extend_from_slice(&7i32.to_ne_bytes());
    assert_eq!(
        bounded(apple.raw_call(20001, &get_option, &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadId
    );
    // 20001 of another shape, and an unimplemented Apple routine.
    let short = encode_if_addr_request(name("em0"), Numbering::NextBsd);
    assert_eq!(
        bounded(apple.raw_call(20001, &short[..40], &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadArguments
    );
    assert_eq!(
        bounded(apple.raw_call(20018, &short[..24], &IF_ADDR_REPLY))
            .await
            .unwrap_err(),
        MigError::BadId
    );
    drop((nextbsd, apple));
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_one_way_messages_do_not_stop_the_server() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    let server = client.mig().server();
    // One-way messages (no reply port), with odd ids and bodies: destroyed, nothing sent.
    for (i, len) in [0usize, 3, 8, 13, 24, 100].into_iter().enumerate() {
        let body: Vec<u8> = (0..len).map(|b| (b * 37 + i) as u8).collect();
        let msg = MessageBuilder::new(20000 + i as i32)
            .body(Bytes::from(body))
            .build();
        bounded(server.send(msg)).await.expect("one-way send");
    }
    // A request far larger than any routine's (the receive buffer grows; MACH_RCV_TOO_LARGE
    // must not end the service): answered with MIG_BAD_ARGUMENTS.
    let mut huge = encode_if_addr_request(name("em0"), Numbering::NextBsd);
    huge.resize(64 * 1024, 0x5A);
    let result = bounded(client.raw_call(20001, &huge, &IF_ADDR_REPLY)).await;
    assert_eq!(result.unwrap_err(), MigError::BadArguments);
    // A one-way message carrying a right: destroyed with it.
    let space = Space::from_task(fx.client_task.clone());
    let extra = ReceiveRight::new_in(&space).unwrap();
    bounded(server.send(MessageBuilder::new(20001).make_send(&extra).build()))
        .await
        .unwrap();
    // Requests with garbage bodies: answered with errors.
    for (id, len) in [(20001, 7usize), (20000, 1), (-1, 64), (i32::MAX, 4)] {
        let mut msg = vec![0xA5u8; 24 + len];
        write_u32(&mut msg, 0, 0);
        let result = bounded(client.raw_call(id, &msg, &IF_ADDR_REPLY)).await;
        assert!(
            matches!(result, Err(MigError::BadId | MigError::BadArguments)),
            "{id}: {result:?}"
        );
    }
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    drop(extra);
    drop(client);
    let served = fx.finish().await;
    assert_eq!(served.end, ServeEnd::Stopped);
    assert_eq!(served.stats.replies, 1);
}

/// A handler whose `if_count` parks until released, telling the test it was entered.
struct Parked {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait]
impl IpconfigHandler for Parked {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        self.entered.notify_one();
        self.release.notified().await;
        Ok(42)
    }

    async fn if_addr(
        &self,
        _name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(IfAddr {
            addr: Ipv4Addr::UNSPECIFIED,
            status: IpconfigStatus::NO_SERVER,
        })
    }
}

fn parked() -> (Parked, Arc<Notify>, Arc<Notify>) {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    (
        Parked {
            entered: entered.clone(),
            release: release.clone(),
        },
        entered,
        release,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_task_killed_mid_call_gives_server_died() {
    let (handler, entered, _release) = parked();
    let mut fx = Fixture::start(handler, Numbering::NextBsd).await;
    let client = fx.client().await;
    let call = tokio::spawn(async move {
        let result = client.if_count().await;
        (result, client)
    });
    bounded(entered.notified()).await;
    fx.server_task
        .terminate()
        .expect("terminate the server task");
    let (result, client) = bounded(call).await.unwrap();
    assert_eq!(result, Err(MigError::ServerDied));
    // The exchange finished (the notification arrived on the reply port): port kept.
    assert_eq!(client.mig().pooled_reply_ports(), 1);
    drop(client);
    let served = bounded(fx.server.take().unwrap().finished()).await;
    assert_eq!(served.end, ServeEnd::PortDied);
    assert!(served.port.is_none());
    fx.kernel.assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_prompt_and_cancels_routines_in_flight() {
    let (handler, entered, _release) = parked();
    let fx = Fixture::start(handler, Numbering::NextBsd).await;
    let client = fx.client().await;
    let call = tokio::spawn(async move {
        let result = client.if_count().await;
        (result, client)
    });
    bounded(entered.notified()).await;
    // The routine never finishes on its own; stop must not wait for it.
    let served = fx.finish_keeping_kernel().await;
    assert_eq!(served.0.end, ServeEnd::Stopped);
    let (result, client) = bounded(call).await.unwrap();
    assert_eq!(result, Err(MigError::ServerDied));
    drop(client);
    served.1.assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_timeout_destroys_the_reply_port_so_a_late_reply_is_never_misread() {
    let (handler, entered, release) = parked();
    let fx = Fixture::start(handler, Numbering::NextBsd).await;
    let client = fx
        .client_with(|b| b.timeout(Some(Duration::from_millis(200))))
        .await;
    let first = bounded(client.if_count()).await;
    assert_eq!(first, Err(MigError::TimedOut));
    assert_eq!(
        client.mig().pooled_reply_ports(),
        0,
        "the timed-out port was destroyed"
    );
    bounded(entered.notified()).await;
    // The routine answers now, to a dead reply port: the reply is destroyed by the kernel.
    release.notify_one();
    // The next call gets its own answer (if_addr), not the late if_count reply.
    let next = bounded(client.if_addr(name("em0"))).await;
    assert_eq!(next.map(|r| r.status), Ok(IpconfigStatus::NO_SERVER));
    drop(client);
    fx.finish().await;
}

/// A handler that records the callers' audit tokens and serves `n` names.
struct Recording {
    bound: Bound,
    tokens: Mutex<Vec<Option<audit_token_t>>>,
    slow_gate: Arc<Notify>,
}

#[async_trait]
impl IpconfigHandler for Recording {
    async fn if_count(&self, ctx: CallContext) -> Result<i32, kern_return_t> {
        self.tokens.lock().unwrap().push(ctx.audit_token);
        self.bound.if_count(ctx).await
    }

    async fn if_addr(
        &self,
        name: InterfaceName,
        ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        if name.lookup_key() == b"slow" {
            self.slow_gate.notified().await;
        }
        self.bound.if_addr(name, ctx).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routines_see_the_callers_audit_token_and_authorization_fails_closed() {
    let handler = Arc::new(Recording {
        bound: em0(),
        tokens: Mutex::default(),
        slow_gate: Arc::default(),
    });
    let kernel_side = handler.clone();
    let fx = Fixture::start_arc(handler, Numbering::NextBsd).await;
    let client = fx.client().await;
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    let tokens = kernel_side.tokens.lock().unwrap().clone();
    let token = tokens[0].expect("the server requested the audit trailer");
    assert_eq!(token, fx.client_task.audit_token());
    assert_eq!(token.val[5], 200, "pid");
    assert_eq!(token.val[1], 501, "euid");
    assert_eq!(
        authorize_root(Some(&token), RootPolicy::TrustAuditToken),
        Err(Denied::NotRoot(501))
    );
    assert_eq!(
        authorize_root(Some(&token), RootPolicy::DenyAll),
        Err(Denied::Untrusted)
    );
    drop(client);
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routines_run_concurrently_and_replies_go_out_of_order() {
    let handler = Arc::new(Recording {
        bound: Bound::with(&[
            ("slow", Ipv4Addr::new(1, 1, 1, 1)),
            ("fast", Ipv4Addr::new(2, 2, 2, 2)),
        ]),
        tokens: Mutex::default(),
        slow_gate: Arc::default(),
    });
    let gate = handler.slow_gate.clone();
    let fx = Fixture::start_arc(handler, Numbering::NextBsd).await;
    let slow_client = fx.client().await;
    let slow = tokio::spawn(async move { slow_client.if_addr(name("slow")).await });
    // A serial server would never answer this while "slow" is parked.
    let fast = bounded(fx.client().await.if_addr(name("fast")))
        .await
        .unwrap();
    assert_eq!(fast.addr, Ipv4Addr::new(2, 2, 2, 2));
    assert!(!slow.is_finished());
    gate.notify_one();
    assert_eq!(
        bounded(slow).await.unwrap().unwrap().addr,
        Ipv4Addr::new(1, 1, 1, 1)
    );
    fx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_clients_all_get_their_answers() {
    let names: Vec<String> = (0..64).map(|i| format!("if{i}")).collect();
    let pairs: Vec<(&str, Ipv4Addr)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), Ipv4Addr::new(10, 1, i as u8, 1)))
        .collect();
    let fx = Fixture::start(Bound::with(&pairs), Numbering::NextBsd).await;
    let calls = (0..64).map(|i| {
        let task = fx
            .kernel
            .task_create(&format!("client{i}"), 1000 + i, 501, 20);
        tokio::spawn(async move {
            let client = look_up_client(&task).await;
            let addr = client.if_addr(name(&format!("if{i}"))).await;
            let count = client.if_count().await;
            drop(client);
            task.terminate().unwrap();
            (i, addr, count)
        })
    });
    for joined in bounded(join_all(calls)).await {
        let (i, addr, count) = joined.unwrap();
        assert_eq!(
            addr,
            Ok(IfAddr {
                addr: Ipv4Addr::new(10, 1, i as u8, 1),
                status: IpconfigStatus::SUCCESS
            })
        );
        assert_eq!(count, Ok(64));
    }
    let served = fx.finish().await;
    assert_eq!(served.stats.replies, 128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_port_that_is_never_drained_cannot_stall_the_server() {
    let fx = Fixture::start(em0(), Numbering::NextBsd).await;
    let client = fx.client().await;
    let space = Space::from_task(fx.client_task.clone());
    let sink = ReceiveRight::new_in(&space).unwrap();
    // Plain send rights as reply ports, never received from: the queue fills (limit 5), and
    // later replies fail their zero-timeout send and are destroyed.
    for _ in 0..8 {
        let request = MessageBuilder::new(20000)
            .reply(PortSlot::MakeSend(sink.name()))
            .build();
        bounded(client.mig().server().send(request)).await.unwrap();
    }
    // Still serving.
    assert_eq!(bounded(client.if_count()).await, Ok(1));
    drop(sink);
    drop(client);
    let served = fx.finish().await;
    assert!(served.stats.send_failures >= 3, "{:?}", served.stats);
}
