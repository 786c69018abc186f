//! Shared fixtures for the scenario tests: a kernel per test, a configd in its own task, raw
//! wire helpers.
#![allow(dead_code)]

use mach_async::mig::{message_from_encoded, view, MigClient};
use mach_async::{MachRecvStream, Message, PortRight, PortSlot, ReceiveRight, SendRight, Space};
use mach_sim::Kernel;
use scnotify::rpc::{self, ReplyMessage};
use scnotify::store_messages::{Reply, Request, Status};
use scnotify::{ConfigdServer, ServerHandle};
use std::future::Future;
use std::time::Duration;

/// Generous bound that turns a hang into a failure (never a performance assertion).
pub const HANG: Duration = Duration::from_secs(60);
/// "Within 5 s" of NextBSD's tests.
pub const FIVE_S: Duration = Duration::from_secs(5);

/// One test's world: a kernel, a configd task and a client task.
#[derive(Clone)]
pub struct World {
    pub kernel: Kernel,
    pub configd: Space,
    pub client: Space,
}

impl World {
    pub fn new() -> World {
        let kernel = Kernel::new();
        let configd = Space::from_task(kernel.task_create("configd", 100, 0, 0));
        let client = Space::from_task(kernel.task_create("client", 200, 501, 20));
        World {
            kernel,
            configd,
            client,
        }
    }

    pub fn start_configd(&self) -> ServerHandle {
        ConfigdServer::check_in(&self.configd).expect("configd check-in")
    }

    /// A fresh task for a restarted configd.
    pub fn new_configd_task(&mut self, pid: u32) {
        self.configd = Space::from_task(self.kernel.task_create("configd", pid, 0, 0));
    }

    pub fn look_up(&self) -> SendRight {
        scnotify::bootstrap::look_up(&self.client, scnotify::store_messages::CONFIGD_SERVICE_NAME)
            .expect("look-up")
    }
}

/// Runs a test body on a two-worker runtime, bounded by [`HANG`], then asserts no leaks once the
/// runtime (and everything spawned on it) is gone.
pub fn run<F, Fut>(world: World, body: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(HANG, body(world.clone()))
            .await
            .expect("test hung");
    });
    drop(rt);
    world.kernel.assert_no_leaks();
}

/// A MIG client of `server` (its own reply ports), bounded by [`HANG`].
pub fn client(server: &SendRight) -> MigClient {
    MigClient::new(server.clone()).with_timeout(Some(HANG))
}

/// One raw RPC, panicking on transport errors.
pub async fn rpc(server: &SendRight, req: Request<'_>) -> ReplyMessage {
    rpc::call(&client(server), &req, None)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", req.routine().name()))
}

/// The status of a raw RPC.
pub async fn status(server: &SendRight, req: Request<'_>) -> Status {
    rpc(server, req).await.reply().status()
}

/// Raw configopen.
pub async fn configopen(service: &SendRight) -> SendRight {
    let mut r = rpc(
        service,
        Request::ConfigOpen {
            name: b"test",
            options: b"",
        },
    )
    .await;
    assert_eq!(r.reply().status(), Status::OK);
    r.take_session().expect("session right")
}

/// The data of a Data reply.
pub fn data(r: &ReplyMessage) -> Vec<u8> {
    match r.reply() {
        Reply::Data { data, status } => {
            assert_eq!(status, Status::OK);
            data.to_vec()
        }
        other => panic!("not a data reply: {other:?}"),
    }
}

/// A notify port (receive right + message stream) and a send right for `notifyviaport`.
pub fn notify_port(space: &Space) -> (MachRecvStream, SendRight) {
    let port = ReceiveRight::new_in(space).unwrap();
    let send = port.make_send().unwrap();
    (MachRecvStream::new(port).unwrap(), send)
}

/// Raw notifyviaport moving `send`.
pub async fn notifyviaport(session: &SendRight, send: SendRight, msgid: i32) -> Status {
    let req = Request::NotifyViaPort {
        port: send.name(),
        msgid,
    };
    rpc::call(&client(session), &req, Some(PortRight::Send(send).into()))
        .await
        .unwrap()
        .reply()
        .status()
}

/// The next message on a stream within `within`, or `None`.
pub async fn next_within(stream: &mut MachRecvStream, within: Duration) -> Option<Message> {
    use futures::StreamExt;
    match tokio::time::timeout(within, stream.next()).await {
        Ok(Some(Ok(m))) => Some(m),
        Ok(Some(Err(e))) => panic!("stream error: {e}"),
        Ok(None) => panic!("stream ended"),
        Err(_) => None,
    }
}

/// Key-list bytes → strings.
pub fn keys(bytes: &[u8]) -> Vec<String> {
    scnotify::store_messages::KeyList(bytes)
        .parse()
        .unwrap()
        .into_iter()
        .map(|k| String::from_utf8(k.to_vec()).unwrap())
        .collect()
}

/// An encoded message (as the wire encoders produce it, possibly tampered with) as an outgoing
/// message, with `port` in its port descriptor.
pub fn message(encoded: &[u8], port: Option<PortSlot>) -> Message {
    message_from_encoded(encoded, port).expect("a well-formed Mach message")
}

/// The bytes of a received reply, as a client stub's checks see them (trailer excluded).
pub fn reply_bytes(reply: &Message) -> Vec<u8> {
    let mut bytes = view::received_bytes(reply);
    bytes.truncate(reply.size() as usize);
    bytes
}
