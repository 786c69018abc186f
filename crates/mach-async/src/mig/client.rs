//! An async MIG client: one routine call = send the request with a send-once reply right, await
//! the reply (with an optional deadline), run the generated client's checks (`mig.md` §9).
//!
//! # Reply ports
//!
//! C stubs use one cached reply port per thread; an async client has many calls in flight, so
//! each call takes a reply port (with its own [`MachRecvStream`]) from a small pool and applies
//! the rule of `mig.md` §9 when it is done:
//!
//! | how the call ended | reply port |
//! | --- | --- |
//! | a message arrived on it (a reply, an error reply, a malformed reply, or the send-once notification = `MIG_SERVER_DIED`) | the exchange is finished: back to the pool |
//! | the send failed with `MACH_SEND_INVALID_DATA` / `_INVALID_DEST` / `_INVALID_HEADER` | nothing was sent: back to the pool |
//! | any other send failure, a receive error, the deadline passed, or the call's future was dropped | a reply may still come: the port is **destroyed** (a late reply then dies with it, its rights released by the kernel) |
//!
//! So a late reply can never be taken for a later call's.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mach_abi::{
    mach_msg_id_t, MACH_RCV_PORT_DIED, MACH_SEND_INVALID_DATA, MACH_SEND_INVALID_DEST,
    MACH_SEND_INVALID_HEADER, MACH_SEND_TIMED_OUT,
};

use crate::message::{Descriptor, Message, MessageBuilder, PortSlot};
use crate::mig::check::{check_reply, ReplyShape};
use crate::mig::error::MigError;
use crate::mig::view::received_bytes;
use crate::rights::{PortRight, ReceiveRight, SendRight};
use crate::stream::{MachRecvStream, TrailerRequest};
use crate::Error;

/// Reply ports kept for reuse.
const POOL_CAPACITY: usize = 8;

/// A checked success reply.
#[derive(Debug)]
pub struct MigReply {
    /// The reply as a parsed message (it owns any rights the reply carried).
    pub message: Message,
    /// The received buffer (message then trailer): fixed-layout outs are read from it by offset.
    pub bytes: Vec<u8>,
}

impl MigReply {
    /// The message part of [`MigReply::bytes`] (`msgh_size` bytes, without the trailer).
    pub fn message_bytes(&self) -> &[u8] {
        let size = (self.message.size() as usize).min(self.bytes.len());
        &self.bytes[..size]
    }

    /// Takes the right out of port descriptor `index` of a complex reply (e.g. a session port
    /// a routine returned). `None` if that descriptor carried no right (a null port) or is not
    /// a port descriptor; a right left in the reply is released when the reply is dropped.
    pub fn take_port(&mut self, index: usize) -> Option<PortRight> {
        match self.message.descriptors_mut().get_mut(index) {
            Some(Descriptor::Port(slot)) => slot.take().and_then(PortSlot::into_right),
            _ => None,
        }
    }
}

/// A client of one MIG server port.
pub struct MigClient {
    server: SendRight,
    timeout: Option<Duration>,
    pool: Mutex<Vec<MachRecvStream>>,
}

impl fmt::Debug for MigClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigClient")
            .field("server", &self.server)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl MigClient {
    /// A client sending to `server`, with no deadline (as C stubs: wait until the reply or
    /// the server's death).
    pub fn new(server: SendRight) -> MigClient {
        MigClient {
            server,
            timeout: None,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Sets a deadline for every call (send and reply together).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> MigClient {
        self.timeout = timeout;
        self
    }

    /// The server's send right.
    pub fn server(&self) -> &SendRight {
        &self.server
    }

    /// Reply ports currently pooled (for tests and diagnostics).
    pub fn pooled_reply_ports(&self) -> usize {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take_port(&self) -> Result<MachRecvStream, MigError> {
        if let Some(stream) = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(stream);
        }
        let port = ReceiveRight::new_in(self.server.space()).map_err(|e| receive_error(&e))?;
        MachRecvStream::builder()
            .space(self.server.space().clone())
            .port(port)
            .trailer(TrailerRequest::Minimal)
            .build()
            .map_err(|e| receive_error(&e))
    }

    fn put_port(&self, stream: MachRecvStream) {
        // Only an idle port goes back; anything already drained means it is not idle.
        if stream.queued() != 0 {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_CAPACITY {
            pool.push(stream);
        }
    }

    /// Calls routine `id` with `body` (everything after the 24-byte header, padded to 4) and
    /// checks the reply against `shape` as a generated stub does: [`MigClient::call_message`]
    /// for a simple request.
    pub async fn call(
        &self,
        id: mach_msg_id_t,
        body: Bytes,
        shape: &ReplyShape,
    ) -> Result<MigReply, MigError> {
        self.call_message(MessageBuilder::new(id).body(body).build(), shape)
            .await
    }

    /// Calls the routine `request.id()` with `request` as built (descriptors and inline data)
    /// and checks the reply against `shape` as a generated stub does. The client sets the
    /// reply port (a send-once right made from a pooled port, the `0x1513` request form);
    /// anything already in the message's reply slot is replaced and released.
    ///
    /// Port descriptors carry any disposition: a [`PortSlot::Right`] is moved (`MOVE_SEND`,
    /// `MOVE_SEND_ONCE`, `MOVE_RECEIVE`), [`PortSlot::CopySend`] / [`PortSlot::MakeSend`] /
    /// [`PortSlot::MakeSendOnce`] name a right the caller keeps, and `CopySend(MACH_PORT_NULL)`
    /// sends a null port. A request the kernel refuses releases the rights it would have moved
    /// (they are not handed back).
    ///
    /// Errors: the server's `RetCode` (e.g. [`MigError::BadId`]), [`MigError::ServerDied`],
    /// [`MigError::TypeError`], [`MigError::ReplyMismatch`], [`MigError::TimedOut`],
    /// [`MigError::Send`], [`MigError::Receive`]. A complex success reply owns the rights it
    /// carries ([`MigReply::take_port`]). Must be called within a tokio runtime with I/O (and
    /// time, when a timeout is set) enabled.
    pub async fn call_message(
        &self,
        request: Message,
        shape: &ReplyShape,
    ) -> Result<MigReply, MigError> {
        let id = request.id();
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut stream = self.take_port()?;
        let reply_port = stream.port_names()[0];
        let mut request = request;
        request.local = Some(PortSlot::MakeSendOnce(reply_port));
        let send_timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if let Err(e) = self.server.send_timeout(request, send_timeout).await {
            let code = e.code();
            // The returned request is dropped here with whatever rights it still holds.
            drop(e);
            return match code {
                Some(
                    mr @ (MACH_SEND_INVALID_DATA
                    | MACH_SEND_INVALID_DEST
                    | MACH_SEND_INVALID_HEADER),
                ) => {
                    self.put_port(stream);
                    Err(MigError::Send(mr))
                }
                // `stream` is dropped: the port is destroyed.
                Some(mr) => Err(MigError::Send(mr)),
                None => Err(MigError::Send(MACH_SEND_TIMED_OUT)),
            };
        }
        let received = match deadline {
            None => stream.next().await,
            Some(d) => {
                match tokio::time::timeout(
                    d.saturating_duration_since(Instant::now()),
                    stream.next(),
                )
                .await
                {
                    Ok(item) => item,
                    // A reply may still come: destroy the port with the stream.
                    Err(_) => return Err(MigError::TimedOut),
                }
            }
        };
        let message = match received {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(receive_error(&e)),
            None => return Err(MigError::Receive(MACH_RCV_PORT_DIED)),
        };
        // A message arrived: the exchange is over whatever it says.
        self.put_port(stream);
        let bytes = received_bytes(&message);
        match check_reply(&bytes, id, shape) {
            Ok(()) => Ok(MigReply { message, bytes }),
            // Dropping `message` destroys any rights the bad reply carried.
            Err(error) => Err(error),
        }
    }
}

/// A failure of the reply port (setting it up, or its stream): the receive code, or
/// `MACH_RCV_PORT_DIED` when there is none. (A stream never yields a timeout: the client's
/// deadline is its own `tokio::time::timeout`.)
fn receive_error(e: &Error) -> MigError {
    MigError::Receive(e.code().unwrap_or(MACH_RCV_PORT_DIED))
}
