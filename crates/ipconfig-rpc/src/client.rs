//! A typed async client of the ipconfig service.

use std::time::Duration;

use bytes::Bytes;
use mach_async::mig::{MigClient, MigError, MigReply, ReplyShape};
use mach_async::{bootstrap, SendRight, Space};

use crate::ipconfig_messages::{InterfaceName, IPCONFIG_IF_COUNT_ID, IPCONFIG_SERVICE_NAME};
use crate::protocol::{
    decode_if_addr_reply, decode_if_count_reply, encode_if_addr_request, encode_if_count_request,
    IfAddr, Numbering, IF_ADDR_REPLY, IF_COUNT_REPLY,
};
use crate::Error;

/// A client of `com.apple.IPConfiguration`.
///
/// ```
/// # #[cfg(mach_backend = "sim")]
/// # fn main() {
/// use ipconfig_rpc::mach_async::Space;
/// use ipconfig_rpc::{Error, IpconfigClient};
///
/// let kernel = ipconfig_rpc::sim::Kernel::new();
/// let tool = Space::from_task(kernel.task_create("ipconfig", 200, 501, 20));
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     // No ipconfigd has checked in: the look-up fails with a typed error.
///     let e = IpconfigClient::open(&tool).await.unwrap_err();
///     assert!(matches!(e, Error::Mach(ref m) if ipconfig_rpc::mach_async::bootstrap::is_unknown_service(m)));
/// });
/// kernel.assert_no_leaks();
/// # }
/// # #[cfg(not(mach_backend = "sim"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct IpconfigClient {
    mig: MigClient,
    numbering: Numbering,
}

/// Where a [`ClientBuilder`] finds the service.
#[derive(Debug)]
enum Service {
    Name(String),
    Port(SendRight),
}

/// Configures and opens an [`IpconfigClient`] (see [`IpconfigClient::builder`]).
#[derive(Debug)]
pub struct ClientBuilder {
    space: Space,
    service: Service,
    timeout: Option<Duration>,
    numbering: Numbering,
}

impl ClientBuilder {
    /// Looks up this service name instead of [`IPCONFIG_SERVICE_NAME`].
    pub fn service_name(mut self, name: &str) -> Self {
        self.service = Service::Name(name.to_owned());
        self
    }

    /// Calls the server behind this send right (a right in the builder's space) instead of
    /// looking the service up.
    pub fn service_port(mut self, server: SendRight) -> Self {
        self.service = Service::Port(server);
        self
    }

    /// A deadline for every call (default: none, as NextBSD's C clients).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The routine ids to send (default NextBSD's; Apple's `if_addr` is 20002).
    pub fn numbering(mut self, numbering: Numbering) -> Self {
        self.numbering = numbering;
        self
    }

    /// Finds the service (`bootstrap_look_up` unless a port was given) and opens the client.
    pub async fn open(self) -> Result<IpconfigClient, Error> {
        let server = match self.service {
            Service::Name(name) => bootstrap::look_up(&self.space, &name)?,
            Service::Port(right) => right,
        };
        Ok(IpconfigClient {
            mig: MigClient::new(server).with_timeout(self.timeout),
            numbering: self.numbering,
        })
    }
}

impl IpconfigClient {
    /// Opens a client in `space` of the service found by `bootstrap_look_up` of
    /// [`IPCONFIG_SERVICE_NAME`], with NextBSD's numbering and no deadline.
    pub async fn open(space: &Space) -> Result<IpconfigClient, Error> {
        IpconfigClient::builder(space).open().await
    }

    /// A builder for a client in `space` (service name or port, deadline, numbering).
    pub fn builder(space: &Space) -> ClientBuilder {
        ClientBuilder {
            space: space.clone(),
            service: Service::Name(IPCONFIG_SERVICE_NAME.to_owned()),
            timeout: None,
            numbering: Numbering::NextBsd,
        }
    }

    /// Releases the client (its send right and reply ports) and returns once they are gone.
    /// Dropping it does the same.
    pub async fn close(self) {
        drop(self);
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
