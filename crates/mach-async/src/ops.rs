//! Operations on rights that involve messages and streams: async send, request/reply, and
//! notification requests exposed as futures.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use mach_abi::{
    MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_NO_SENDERS,
    MACH_NOTIFY_PORT_DELETED, MACH_NOTIFY_SEND_ONCE, MACH_PORT_VALID,
};

use crate::message::{Message, PortSlot};
use crate::rights::{PortRight, ReceiveRight, SendOnceRight, SendRight};
use crate::send::{self, SendError};
use crate::stream::{MachRecvStream, TrailerRequest};
use crate::Error;

impl SendRight {
    /// Sends `msg` (a copy of this send right is the destination), waiting without a bound
    /// while the destination queue is full. See [`crate::send`] for the design: a non-blocking
    /// try, then bounded blocking slices on tokio's blocking pool; never a runtime worker.
    pub async fn send(&self, msg: Message) -> Result<(), SendError> {
        self.send_timeout(msg, None).await
    }

    /// Sends `msg`, waiting at most `timeout` while the destination queue is full
    /// (`Some(Duration::ZERO)`: fail at once with [`Error::TimedOut`]). On failure the message
    /// comes back in the error with all its rights.
    pub async fn send_timeout(
        &self,
        msg: Message,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        send::send(
            self.space().clone(),
            msg,
            PortSlot::CopySend(self.name()),
            timeout,
        )
        .await
    }

    /// One non-blocking send attempt (`MACH_SEND_TIMEOUT` 0; `MACH_SEND_TIMED_OUT` when the
    /// queue is full). Usable outside a runtime.
    pub fn try_send(&self, msg: Message) -> Result<(), SendError> {
        let mut m = msg;
        m.remote = Some(PortSlot::CopySend(self.name()));
        let mut slot = Some(m);
        send::attempt(self.space(), &mut slot, 0)
            .map_err(|error| SendError::new(error, slot.expect("kept")))
    }

    /// Request/reply with a per-call reply port: sends `msg` with a send-once reply right
    /// minted from a fresh port (`MAKE_SEND_ONCE`, the MIG request form), then awaits one
    /// message on that port. `timeout` bounds the whole exchange. The reply port is destroyed
    /// afterwards whatever happened (so a late reply cannot be confused with a later call's).
    ///
    /// The reply is returned as received: a MIG layer checks its id (request + 100, or 71 =
    /// send-once notification = server died).
    pub async fn request(&self, msg: Message, timeout: Option<Duration>) -> Result<Message, Error> {
        let fut = async {
            let reply = ReceiveRight::new_in(self.space())?;
            let mut msg = msg;
            msg.local = Some(PortSlot::MakeSendOnce(reply.name()));
            let mut stream = MachRecvStream::builder()
                .port(reply)
                .trailer(TrailerRequest::Audit)
                .build()?;
            self.send(msg).await.map_err(Error::from)?;
            match stream.next().await {
                Some(r) => r,
                None => Err(Error::Ended),
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .unwrap_or(Err(Error::TimedOut)),
            None => fut.await,
        }
    }

    /// Requests a dead-name notification for this right: the future resolves when the port
    /// dies (its receive right is destroyed). The notification arrives on a private port served
    /// by its own [`MachRecvStream`]; the extra dead-name reference it carries is released.
    /// Resolves to [`Error::NotificationCancelled`] if the request is cancelled (e.g. this
    /// right is deallocated first: port-deleted notification). Must be called in a runtime.
    pub fn request_dead_name(&self) -> Result<Notification, Error> {
        Notification::arm(self.space(), self.name(), MACH_NOTIFY_DEAD_NAME, 0)
    }
}

impl SendOnceRight {
    /// Sends `msg` consuming this right (`MOVE_SEND_ONCE`, e.g. a MIG reply). A send-once send
    /// bypasses the queue limit, so it never waits. On failure the right is back in the
    /// returned message ([`Message::take_destination`]).
    pub async fn send(self, msg: Message) -> Result<(), SendError> {
        let space = self.space().clone();
        send::send(space, msg, PortSlot::Right(PortRight::SendOnce(self)), None).await
    }

    /// Non-async form of [`SendOnceRight::send`] (one non-blocking attempt).
    pub fn try_send(self, msg: Message) -> Result<(), SendError> {
        let space = self.space().clone();
        let mut m = msg;
        m.remote = Some(PortSlot::Right(PortRight::SendOnce(self)));
        let mut slot = Some(m);
        send::attempt(&space, &mut slot, 0)
            .map_err(|error| SendError::new(error, slot.expect("kept")))
    }
}

impl ReceiveRight {
    /// Requests a no-senders notification: the future resolves with the make-send count when
    /// no send rights to this port remain. With `sync` = 0 it fires at once if there are no
    /// senders now (make send rights first). Must be called within a runtime.
    pub fn request_no_senders(&self, sync: u32) -> Result<Notification, Error> {
        Notification::arm(self.space(), self.name(), MACH_NOTIFY_NO_SENDERS, sync)
    }
}

/// A pending Mach notification (no-senders or dead-name), as a future.
///
/// It owns a private notification port and a [`MachRecvStream`] on it; the kernel holds a
/// send-once right to that port. Dropping the future destroys the port (the kernel's later
/// notification is then discarded).
#[derive(Debug)]
pub struct Notification {
    stream: MachRecvStream,
    kind: i32,
}

impl Notification {
    fn arm(space: &crate::Space, name: u32, kind: i32, sync: u32) -> Result<Notification, Error> {
        let port = ReceiveRight::new_in(space)?;
        let notify = port.name();
        let stream = MachRecvStream::builder()
            .port(port)
            .trailer(TrailerRequest::Minimal)
            .build()?;
        let previous =
            space.request_notification(name, kind, sync, notify, MACH_MSG_TYPE_MAKE_SEND_ONCE)?;
        if MACH_PORT_VALID(previous) {
            // A replaced request: its send-once right is ours now. Destroying it sends a
            // send-once notification to the previous requester.
            // SAFETY: the kernel just gave us this send-once right.
            drop(unsafe { SendOnceRight::from_raw_in(space, previous) });
        }
        Ok(Notification { stream, kind })
    }

    /// The notification id this future waits for (70 no-senders, 72 dead-name).
    pub fn kind(&self) -> i32 {
        self.kind
    }
}

/// What a [`Notification`] resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notified {
    /// No senders remain; the make-send count.
    NoSenders(u32),
    /// The watched port died; the dead name.
    DeadName(u32),
}

impl Future for Notification {
    type Output = Result<Notified, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let msg = match Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Err(Error::Ended)),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(m))) => m,
            };
            let word = |off: usize| {
                let b = msg.body();
                (b.len() >= off + 4)
                    .then(|| u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]))
            };
            // Layouts (mach-abi.md §8): NDR at 24, the payload word at 32 = body offset 8.
            match msg.id() {
                MACH_NOTIFY_NO_SENDERS if self.kind == MACH_NOTIFY_NO_SENDERS => {
                    return Poll::Ready(Ok(Notified::NoSenders(word(8).unwrap_or(0))));
                }
                MACH_NOTIFY_DEAD_NAME if self.kind == MACH_NOTIFY_DEAD_NAME => {
                    let name = word(8).unwrap_or(0);
                    if MACH_PORT_VALID(name) {
                        // The notification carries an extra dead-name reference (XNU semantics).
                        if let Err(e) = self.stream.space().deallocate(name) {
                            tracing::debug!(name, error = %e, "releasing the dead-name notification's reference");
                        }
                    }
                    return Poll::Ready(Ok(Notified::DeadName(name)));
                }
                MACH_NOTIFY_SEND_ONCE | MACH_NOTIFY_PORT_DELETED => {
                    return Poll::Ready(Err(Error::NotificationCancelled));
                }
                other => {
                    tracing::debug!(
                        id = other,
                        "unexpected message on a notification port: dropped"
                    );
                }
            }
        }
    }
}
