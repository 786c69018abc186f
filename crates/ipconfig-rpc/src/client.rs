//! A typed async client of the ipconfig service.

use std::time::Duration;

use bytes::Bytes;
use mach_async::mig::{MigClient, MigError, MigReply, ReplyShape};
use mach_async::SendRight;

use crate::protocol::{
    decode_if_addr_reply, decode_if_count_reply, encode_if_addr_request, encode_if_count_request,
    IfAddr, Numbering, IF_ADDR_REPLY, IF_COUNT_REPLY,
};
use crate::wire::{InterfaceName, IPCONFIG_IF_COUNT_ID};

/// A client of `com.apple.IPConfiguration`.
#[derive(Debug)]
pub struct IpconfigClient {
    mig: MigClient,
    numbering: Numbering,
}

impl IpconfigClient {
    /// A client of the server behind `server`, with NextBSD's numbering and no deadline (as
    /// NextBSD's C clients).
    pub fn new(server: SendRight) -> IpconfigClient {
        IpconfigClient {
            mig: MigClient::new(server),
            numbering: Numbering::NextBsd,
        }
    }

    /// Sets a deadline for every call.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> IpconfigClient {
        self.mig = self.mig.with_timeout(timeout);
        self
    }

    /// Selects the routine ids to send (Apple's `if_addr` is 20002).
    pub fn with_numbering(mut self, numbering: Numbering) -> IpconfigClient {
        self.numbering = numbering;
        self
    }

    /// The MIG client underneath (raw calls, reply-port statistics).
    pub fn mig(&self) -> &MigClient {
        &self.mig
    }

    /// `ipconfig_if_count`.
    pub async fn if_count(&self) -> Result<i32, MigError> {
        let request = encode_if_count_request();
        let reply = self
            .raw_call(IPCONFIG_IF_COUNT_ID, &request, &IF_COUNT_REPLY)
            .await?;
        decode_if_count_reply(&reply.bytes, IPCONFIG_IF_COUNT_ID)
    }

    /// `ipconfig_if_addr`.
    pub async fn if_addr(&self, name: InterfaceName) -> Result<IfAddr, MigError> {
        let id = self.numbering.if_addr_id();
        let request = encode_if_addr_request(name, self.numbering);
        let reply = self.raw_call(id, &request, &IF_ADDR_REPLY).await?;
        decode_if_addr_reply(&reply.bytes, id)
    }

    /// Sends a whole request (`message` includes a 24-byte header whose fields are ignored but
    /// for its size) as routine `id` and checks the reply against `shape`. For tests and tools
    /// that need to send what the typed calls would not.
    pub async fn raw_call(
        &self,
        id: mach_abi::mach_msg_id_t,
        message: &[u8],
        shape: &ReplyShape,
    ) -> Result<MigReply, MigError> {
        let body = Bytes::copy_from_slice(message.get(24..).unwrap_or_default());
        self.mig.call(id, body, shape).await
    }
}
