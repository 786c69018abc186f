//! SCDynamicStore change notifications over Mach IPC, for NextBSD (and the simulated kernel).
//!
//! This crate replaces libSystemConfiguration's `SCNotify.c`:
//!
//! - [`store_messages`]: NextBSD's `config.defs` protocol (subsystem 20000, inline `array[*:8192]`
//!   payloads, key lists and key/value maps), with the checks MIG stubs perform;
//! - [`store`]: configd's store semantics as a pure state machine (sessions, watched keys and
//!   anchored POSIX extended regex patterns, `notify_owed` coalescing);
//! - [`rpc`]: `config.defs` calls on the MIG client runtime (`mach_async::mig`);
//! - [`ConfigdServer`]: a configd-compatible server over that state machine on the MIG server
//!   runtime, usable as an in-process configd in tests;
//! - [`Session`] and [`Notifications`]: the async client, whose stream yields
//!   `Result<`[`ChangedKeys`]`, `[`Error`]`>` and survives configd restarts;
//! - [`ffi`]: the C ABI of `SCNotify.c` (`SCDynamicStoreSetNotificationKeys` and friends) over
//!   the host library's `SCDynamicStorePrivate`.
//!
//! # Example
//!
//! The shape the three consumer crates share: open on a [`mach_async::Space`], read a stream of
//! `Result<Event, Error>`, `close().await` (dropping instead releases the same without
//! waiting). On the simulated kernel a store server must be running first.
//!
//! ```
//! # #[cfg(mach_backend = "sim")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt;
//! use scnotify::mach_async::Space;
//! use scnotify::{ConfigdServer, Session};
//!
//! let kernel = scnotify::sim::Kernel::new();
//! let configd = Space::from_task(kernel.task_create("configd", 10, 0, 0));
//! let app = Space::from_task(kernel.task_create("app", 11, 0, 0));
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let server = ConfigdServer::check_in(&configd)?;
//!     let session = Session::open(&app).await?;
//!     session.set_notification_keys(&[], &["State:/Network/Interface/.*/Link"]).await?;
//!     let mut changes = session.notifications().await?;
//!     session.set("State:/Network/Interface/en0/Link", b"<true/>").await?;
//!     let changed = changes.next().await.expect("the stream is open")?;
//!     assert_eq!(changed, ["State:/Network/Interface/en0/Link"]);
//!     changes.close().await;
//!     session.close().await;
//!     server.close().await;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! kernel.assert_no_leaks();
//! # Ok(())
//! # }
//! # #[cfg(not(mach_backend = "sim"))]
//! # fn main() {}
//! ```

pub mod bootstrap;
pub mod client;
pub mod ffi;
pub mod rpc;
pub mod server;
pub mod store;
pub mod store_messages;

pub use client::{ChangedKeys, Connector, Error, Notifications, Session, SessionBuilder};
pub use server::{ConfigdServer, ServerError, ServerHandle, ServerStats};
pub use store_messages::Status;

/// `mach-async`, re-exported so that users of this crate need no second dependency for
/// [`mach_async::Space`] and the rights.
pub use mach_async;

/// What running this crate without NextBSD needs: the simulated kernel and its tasks. Start a
/// store server ([`ConfigdServer`]) in one task and open [`Session`]s in others.
#[cfg(mach_backend = "sim")]
pub mod sim {
    pub use mach_async::mach_sim::{Kernel, KernelConfig, Task};
}
