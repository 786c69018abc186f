//! `config.defs` calls on the MIG client runtime (`mach_async::mig`): a [`Request`] is encoded
//! by [`crate::store_messages`], sent by a [`MigClient`] (pooled reply ports, the reply-port rules of
//! mig.md §9), checked by the runtime against the routine's [`reply_shape`], then decoded.
//! Applications use [`crate::Session`]; tests and tools that speak the protocol directly (as
//! NextBSD's `notifytest.c` does) use [`call`].

use crate::store_messages::{reply_shape, EncodeError, Reply, Request, Routine};
use mach_abi::{kern_return_t, MACH_SEND_INVALID_DEST, MIG_ARRAY_TOO_LARGE, MIG_SERVER_DIED};
use mach_async::mig::{message_from_encoded, MigClient, MigError, MigReply};
use mach_async::{PortRight, PortSlot, SendRight};

/// A failed RPC, as the C stub would report it ([`CallError::kern_return`]).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The exchange failed: transport (dead server port, timeout), a reply that failed the
    /// stub's checks, or the server's error reply.
    #[error(transparent)]
    Mig(#[from] MigError),
    /// The request could not be encoded (an array over 8192 bytes).
    #[error("encode: {0}")]
    Encode(#[from] EncodeError),
}

impl CallError {
    /// The `kern_return_t` a C stub would have returned.
    pub fn kern_return(&self) -> kern_return_t {
        match self {
            CallError::Mig(e) => e.code(),
            CallError::Encode(_) => MIG_ARRAY_TOO_LARGE,
        }
    }

    /// Whether the server is gone (`MIG_SERVER_DIED`, or `MACH_SEND_INVALID_DEST` from a send
    /// to a dead session port): the cue to reconnect.
    pub fn is_server_death(&self) -> bool {
        let kr = self.kern_return();
        kr == MIG_SERVER_DIED || kr == MACH_SEND_INVALID_DEST
    }
}

/// A checked reply (it owns configopen's session right until [`ReplyMessage::take_session`]).
#[derive(Debug)]
pub struct ReplyMessage {
    routine: Routine,
    reply: MigReply,
}

impl ReplyMessage {
    /// The received message bytes (header included, trailer excluded).
    pub fn bytes(&self) -> &[u8] {
        self.reply.message_bytes()
    }

    /// The decoded reply.
    pub fn reply(&self) -> Reply<'_> {
        // `call` decoded these bytes already; the decode cannot fail now.
        Reply::decode(self.routine, self.bytes()).expect("decoded in call()")
    }

    /// Takes configopen's session send right out of the reply.
    pub fn take_session(&mut self) -> Option<SendRight> {
        self.reply.take_port(0).and_then(PortRight::into_send)
    }
}

/// One RPC on `client`: encodes `req`, puts `moved` in its port descriptor (notifyviaport's
/// notify port: a send right to move, or `CopySend(MACH_PORT_NULL)`), sends it, and checks and
/// decodes the reply as a generated client stub does. On a failed check the reply's rights are
/// released by the runtime.
pub async fn call(
    client: &MigClient,
    req: &Request<'_>,
    moved: Option<PortSlot>,
) -> Result<ReplyMessage, CallError> {
    let routine = req.routine();
    let request = message_from_encoded(&req.encode()?, moved)?;
    let reply = client.call_message(request, &reply_shape(routine)).await?;
    // The runtime ran the same checks; the decoder's verdict can only differ on a reply the
    // runtime accepted but this protocol cannot read, which is a type error for its stub.
    Reply::decode(routine, reply.message_bytes())
        .map_err(|e| MigError::from_code(e.kern_return()))?;
    Ok(ReplyMessage { routine, reply })
}
