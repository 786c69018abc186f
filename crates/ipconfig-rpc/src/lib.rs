//! ipconfigd's Mach service, `com.apple.IPConfiguration` (`ipconfig.defs`), as an async MIG
//! server and client on [`mach_async`], plus the C ABI of the `mach_service.c` it replaces.
//!
//! Layers, bottom up:
//! - [`ipconfig_messages`]: the NextBSD `ipconfig.defs` messages as `#[repr(C, packed(4))]` structs checked
//!   against the spec's layouts, with byte codecs and typed errors; [`InterfaceName`] (16 bytes,
//!   maybe without NUL), [`IpconfigStatus`], [`IpAddress`] (network byte order);
//! - [`protocol`]: which id and size mean which routine ([`Numbering`]: NextBSD's table, or the
//!   opt-in Apple compatibility table that tells the two meanings of 20001 apart by size), request
//!   and reply shapes for the MIG checks, encoders and decoders;
//! - [`server`]: the [`IpconfigHandler`] trait a daemon implements and [`IpconfigServer`], which
//!   serves it on the MIG runtime (dispatch, checks, error replies, concurrency, audit trailer);
//! - [`client`]: [`IpconfigClient`], typed async calls with the generated client's checks;
//! - [`Error`]: why opening a client or server failed (or a call, as [`mig::MigError`]);
//! - [`auth`]: authorization for root-only routines, failing closed on untrustworthy tokens;
//! - [`ffi`]: `mach_service_start` / `mach_service_stop` / `mach_service_join` for C hosts
//!   (header `include/ipconfig_rpc.h`), calling the host's `_ipconfig_if_count` /
//!   `_ipconfig_if_addr`.
//!
//! # Example
//!
//! A server and a client in two simulated tasks:
//!
//! ```
//! use std::net::Ipv4Addr;
//!
//! use ipconfig_rpc::{
//!     async_trait, CallContext, IfAddr, InterfaceName, IpconfigClient, IpconfigHandler,
//!     IpconfigServer, IpconfigStatus,
//! };
//! use ipconfig_rpc::mach_async::Space;
//!
//! struct Em0;
//!
//! #[async_trait]
//! impl IpconfigHandler for Em0 {
//!     async fn if_count(&self, _: CallContext) -> Result<i32, i32> {
//!         Ok(1)
//!     }
//!     async fn if_addr(&self, name: InterfaceName, _: CallContext) -> Result<IfAddr, i32> {
//!         Ok(if name.lookup_key() == b"em0" {
//!             IfAddr { addr: Ipv4Addr::new(10, 0, 2, 15), status: IpconfigStatus::SUCCESS }
//!         } else {
//!             IfAddr { addr: Ipv4Addr::UNSPECIFIED, status: IpconfigStatus::NO_SERVER }
//!         })
//!     }
//! }
//!
//! # #[cfg(mach_backend = "sim")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = ipconfig_rpc::sim::Kernel::new();
//! let daemon = Space::from_task(kernel.task_create("ipconfigd", 100, 0, 0));
//! let tool = Space::from_task(kernel.task_create("ipconfig", 200, 501, 20));
//!
//! // The daemon checks in and serves until closed.
//! let server = IpconfigServer::new(Em0).check_in(&daemon)?;
//!
//! // The tool looks the service up and calls it.
//! let client = IpconfigClient::open(&tool).await?;
//! assert_eq!(client.if_count().await, Ok(1));
//! let em0 = client.if_addr(InterfaceName::new("em0")?).await?;
//! assert_eq!(em0.addr, Ipv4Addr::new(10, 0, 2, 15));
//! let em1 = client.if_addr(InterfaceName::new("em1")?).await?;
//! assert_eq!(em1.status, IpconfigStatus::NO_SERVER);
//!
//! client.close().await;
//! let served = server.close().await;
//! drop(served.port); // a daemon keeps it to serve again; here the example gives it back
//! kernel.assert_no_leaks();
//! # Ok(())
//! # }
//! # #[cfg(not(mach_backend = "sim"))]
//! # fn main() {}
//! ```

/// `mach-async`, re-exported so that users of this crate need no second dependency.
pub use mach_async;

/// The attribute an [`IpconfigHandler`] implementation needs (`#[async_trait]`), re-exported so
/// that a daemon needs no second dependency.
pub use async_trait::async_trait;
pub use mach_async::mig;

/// What running this crate without NextBSD needs: the simulated kernel and its tasks (an
/// [`IpconfigServer`] in one task, an [`IpconfigClient`] in another).
#[cfg(mach_backend = "sim")]
pub mod sim {
    pub use mach_async::mach_sim::{Kernel, KernelConfig, Task};
}

pub mod auth;
pub mod client;
mod error;
pub mod ffi;
pub mod ipconfig_messages;
pub mod protocol;
pub mod server;

pub use client::{ClientBuilder, IpconfigClient};
pub use error::Error;
pub use ipconfig_messages::{
    InterfaceName, IpAddress, IpconfigStatus, APPLE_IPCONFIG_SERVICE_NAME, IPCONFIG_SERVICE_NAME,
};
pub use protocol::{IfAddr, Numbering};
pub use server::{CallContext, IpconfigHandler, IpconfigServer, ServerHandle};
