//! Async Mach IPC on NextBSD's `EVFILT_MACHPORT` kqueue filter (and on macOS, and on the
//! simulated kernel `mach-sim` everywhere else).
//!
//! * [`ReceiveRight`], [`SendRight`], [`SendOnceRight`], [`PortSet`]: rights as RAII types.
//! * [`Message`], [`MessageBuilder`], [`raw_message`]: owned messages and a checked parser.
//! * [`MachRecvStream`] (message mode) and [`MachNotifyStream`] (notify mode): the safe receive
//!   algorithm of `native-filter.md` §5 over a private kqueue; no thread ever waits in
//!   `mach_msg`.
//! * [`SendRight::send`], [`SendOnceRight::send`], [`SendRight::request`]: async send (design
//!   in [`send`]) and request/reply with a per-call reply port.
//! * [`ReceiveRight::request_no_senders`], [`SendRight::request_dead_name`]: notifications as
//!   futures.
//! * [`stress`]: the port of NextBSD's `test_evfilt_machport_concurrent`.
//!
//! The platform layer lives in `sys/` (see its module docs); [`Space`] is the IPC space every
//! object is created in: one per process natively, a simulated task on `mach-sim`.
//!
//! # Example (simulated kernel)
//!
//! ```
//! # #[cfg(mach_backend = "sim")]
//! # fn main() -> Result<(), mach_async::Error> {
//! use futures::StreamExt;
//! use mach_async::{MachRecvStream, MessageBuilder, ReceiveRight, Space};
//!
//! let kernel = mach_async::mach_sim::Kernel::new();
//! let server = Space::from_task(kernel.task_create("server", 100, 0, 0));
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let port = ReceiveRight::new_in(&server)?;
//!     let sender = port.make_send()?;
//!     let mut stream = MachRecvStream::new(port)?;
//!     sender.send(MessageBuilder::new(1234).body(&b"ping"[..]).build()).await?;
//!     let msg = stream.next().await.expect("a message")?;
//!     assert_eq!(msg.id(), 1234);
//!     assert_eq!(&msg.body()[..], b"ping");
//!     assert_eq!(msg.audit_token().map(|t| t.pid()), Some(100));
//!     drop(sender);
//!     Ok::<_, mach_async::Error>(())
//! })?;
//! kernel.assert_no_leaks();
//! # Ok(())
//! # }
//! # #[cfg(not(mach_backend = "sim"))]
//! # fn main() {}
//! ```

pub mod bootstrap;
mod buffer;
pub mod diagnostics;
mod error;
mod message;
pub mod mig;
mod ops;
pub mod raw_message;
mod rights;
pub mod send;
pub mod stream;
pub mod stress;
pub mod sys;

pub use error::Error;
pub use message::{AuditToken, Descriptor, Message, MessageBuilder, PortSlot, Trailer};
pub use ops::{Notification, Notified};
pub use rights::{PortRight, PortSet, ReceiveRight, SendOnceRight, SendRight};
pub use send::SendError;
pub use stream::{
    MachNotifyStream, MachRecvStream, MachRecvStreamBuilder, StatsHandle, StreamStats,
    TrailerRequest,
};
pub use sys::{Name, Space};

/// Re-export of the simulated kernel, when it is the kernel underneath (the `sim` backend, or
/// NextBSD over sim).
#[cfg(mach_sim_kernel)]
pub use mach_sim;

#[cfg(test)]
mod thread_safety {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn types_cross_threads() {
        send_sync::<crate::ReceiveRight>();
        send_sync::<crate::SendRight>();
        send_sync::<crate::SendOnceRight>();
        send_sync::<crate::PortSet>();
        send_sync::<crate::Message>();
        send_sync::<crate::Space>();
        send::<crate::MachRecvStream>();
        send::<crate::MachNotifyStream>();
        send::<crate::Notification>();
        send_sync::<crate::SendError>();
        send_sync::<crate::Error>();
    }
}
