//! Raw `config.defs` RPCs: the bridge between the byte-level wire layer and `mach-async` messages
//! and rights, plus the bootstrap name service. Tests and tools that want to speak the protocol
//! directly (as NextBSD's `notifytest.c` does) use it; applications use [`crate::Session`].
//!
//! This is the crate's MIG shim: [`call`] sends one request with a per-call send-once
//! reply port (`SendRight::request`) and runs the generated stub's reply checks
//! ([`Reply::decode`]); the server side converts received messages back to bytes for
//! [`Request::decode`] and encoded replies into messages. Everything above this module speaks
//! [`Request`]/[`Reply`] only, so pointing it at `mach_async::mig`'s runtime later touches this
//! file alone.

use crate::wire::{layout, Header, Reply, ReplyError, Request, Routine};
use bytes::Bytes;
use mach_abi::{kern_return_t, MACH_SEND_INVALID_DEST};
use mach_async::{Descriptor, Message, MessageBuilder, PortRight, PortSlot, SendRight};
use std::time::Duration;

/// A failed RPC, as the C stub would report it (`kr`).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Sending or receiving failed (dead server port, timeout, ...).
    #[error("transport: {0}")]
    Transport(mach_async::Error),
    /// The reply failed the stub's checks or was the error form.
    #[error("reply: {0}")]
    Reply(#[from] ReplyError),
    /// The server right is a dead name (the server died before the call); reported as
    /// `MACH_SEND_INVALID_DEST`, as sending to it would have been.
    #[error("server port is dead")]
    DeadServer,
    /// The request could not be encoded (an array over 8192 bytes).
    #[error("encode: {0}")]
    Encode(#[from] crate::wire::EncodeError),
}

impl CallError {
    /// The `kern_return_t` a C stub would have returned.
    pub fn kern_return(&self) -> kern_return_t {
        match self {
            CallError::Transport(e) => e.code().unwrap_or(mach_abi::MIG_SERVER_DIED),
            CallError::Reply(r) => r.kern_return(),
            CallError::DeadServer => MACH_SEND_INVALID_DEST,
            CallError::Encode(_) => mach_abi::MIG_ARRAY_TOO_LARGE,
        }
    }

    /// Whether the server is gone (`MIG_SERVER_DIED`, `MACH_SEND_INVALID_DEST`): the cue to
    /// reconnect.
    pub fn is_server_death(&self) -> bool {
        let kr = self.kern_return();
        kr == mach_abi::MIG_SERVER_DIED || kr == MACH_SEND_INVALID_DEST
    }
}

/// The wire bytes of a received message, with the header bits and size as received.
///
/// A port descriptor that arrived without a valid name (`MACH_PORT_NULL`) is labelled
/// `PORT_SEND` (17), the type the kernel gives a null name sent with a send disposition, so the
/// routine (not the type check) sees it: configd answers a null notify port with
/// `kSCStatusInvalidArgument`. (`mach-async` does not keep the label of a slot without a right.)
pub fn received_bytes(msg: &Message) -> Vec<u8> {
    let mut wire = msg.to_wire();
    if wire.len() >= layout::HEADER_SIZE {
        let mut h = Header::parse(&wire).unwrap_or_default();
        h.bits = msg.bits();
        h.size = (wire.len() as u32).min(msg.size().max(layout::HEADER_SIZE as u32));
        h.write(&mut wire);
    }
    let all_ports = msg
        .descriptors()
        .iter()
        .all(|d| matches!(d, Descriptor::Port(_)));
    if all_ports {
        for (i, d) in msg.descriptors().iter().enumerate() {
            let at = 28 + 12 * i + 10;
            if matches!(d, Descriptor::Port(None)) && at + 1 < wire.len() {
                wire[at] = mach_abi::MACH_MSG_TYPE_PORT_SEND as u8;
                wire[at + 1] = mach_abi::MACH_MSG_PORT_DESCRIPTOR;
            }
        }
    }
    wire
}

/// Turns an encoded message (header + body) into a `mach-async` message, moving `port` into its
/// single port descriptor if the encoding has one.
pub fn message_from_bytes(bytes: &[u8], port: Option<PortRight>) -> Message {
    let h = Header::parse(bytes).expect("encoder output has a valid header");
    let mut b = MessageBuilder::new(h.id);
    let body_start = if h.is_complex() {
        // Header, body word, one 12-byte port descriptor.
        if let Some(p) = port {
            b = b.port(PortSlot::Right(p));
        }
        layout::COMPLEX_NDR_OFFSET
    } else {
        layout::HEADER_SIZE
    };
    b.body(Bytes::copy_from_slice(&bytes[body_start..h.size as usize]))
        .build()
}

/// Takes the right out of a received message's first port descriptor.
pub fn take_port(msg: &mut Message) -> Option<PortRight> {
    match msg.descriptors_mut().first_mut() {
        Some(Descriptor::Port(slot)) => slot.take().and_then(PortSlot::into_right),
        _ => None,
    }
}

/// A checked reply that owns its bytes (and, for configopen, the session right).
pub struct ReplyMessage {
    bytes: Vec<u8>,
    routine: Routine,
    /// configopen's session send right.
    pub session: Option<SendRight>,
}

impl ReplyMessage {
    /// The received bytes (header included, trailer excluded).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The decoded reply (already checked in [`call`]).
    pub fn reply(&self) -> Reply<'_> {
        Reply::decode(self.routine, &self.bytes).expect("checked in call()")
    }
}

/// One RPC: encodes `req`, sends it to `server` with a fresh send-once reply port (moving
/// `moved` in the port descriptor), waits for the reply (at most `timeout`), and checks it as a
/// generated client stub does. On a failed check the reply's rights are released.
pub async fn call(
    server: &SendRight,
    req: &Request<'_>,
    moved: Option<PortRight>,
    timeout: Option<Duration>,
) -> Result<ReplyMessage, CallError> {
    let routine = req.routine();
    let bytes = req.encode()?;
    let msg = message_from_bytes(&bytes, moved);
    let mut reply = server
        .request(msg, timeout)
        .await
        .map_err(CallError::Transport)?;
    let wire = received_bytes(&reply);
    Reply::decode(routine, &wire)?;
    let session = match take_port(&mut reply) {
        Some(PortRight::Send(s)) => Some(s),
        _ => None,
    };
    Ok(ReplyMessage {
        bytes: wire,
        routine,
        session,
    })
}

pub use crate::bootstrap;
