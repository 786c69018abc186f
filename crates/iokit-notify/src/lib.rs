//! Device arrival and departure on NextBSD, from the kernel registry's watch messages.
//!
//! NextBSD's in-kernel registry (`/dev/ioregistry`) sends one `ioreg_event_msg` to a Mach port
//! per matching event per watch (`IOREGIOCWATCH`). This crate:
//!
//! * [`registry_abi`]: the kernel ABI — ioctl structures and encodings, and the event message
//!   with a parser that trusts nothing it receives;
//! * [`registry`]: the registry behind a small trait, with the NextBSD ioctl backend and a
//!   simulated registry on the simulated kernel (`mach-sim`) that behaves like the kernel;
//! * [`Criteria`], [`DeviceEvent`], [`EventKind`]: the Rust vocabulary;
//! * [`NotificationPort`]: the async API, in the shape the consumer crates share — open on a
//!   [`mach_async::Space`] (the registry of the space's kernel), a [`WatchStream`] per watch
//!   yielding `Result<`[`WatchEvent`]`, `[`Error`]`>`, `close().await` (see its example);
//! * `ffi`: the C ABI of `IOKitNotify.c`.
//!
//! # Example
//!
//! Parsing what the kernel sends:
//!
//! ```
//! use iokit_notify::registry_abi::{encode_event_message, parse_event_message, RawEvent};
//! use iokit_notify::{DeviceEvent, EventKind};
//!
//! let event = DeviceEvent {
//!     kind: EventKind::Depart,
//!     id: 42,
//!     name: "em".into(),
//!     class: "em".into(),
//!     pci_vendor: 0x8086,
//!     pci_device: 0x100e,
//! };
//! let bytes = encode_event_message(&RawEvent::from_event(&event), 0x17);
//! assert_eq!(bytes.len(), 124);
//! let parsed = parse_event_message(&bytes).unwrap();
//! assert_eq!(parsed.local_port, 0x17);
//! assert_eq!(parsed.event, event);
//! ```

pub mod criteria;
pub mod event;
#[cfg(not(mach_backend = "macos"))]
pub mod ffi;
mod filter;
pub mod port;
pub mod registry;
pub mod registry_abi;

pub use criteria::{Criteria, CriteriaError};
pub use event::{DeviceEvent, EventKind, EventKinds};
pub use filter::UnknownDepartures;
pub use port::{
    Error, NotificationPort, NotificationPortBuilder, PortStats, Snapshot, WatchEvent, WatchStream,
    DEFAULT_WATCH_CAPACITY,
};
pub use registry::{lookup_all, RegistryBackend, RegistryError};

/// `mach-async`, re-exported so that users of this crate need no second dependency.
pub use mach_async;

/// What running this crate without NextBSD needs: the simulated kernel, its tasks, and a
/// simulated `/dev/ioregistry` whose devices can be attached and detached on demand.
#[cfg(mach_backend = "sim")]
pub mod sim {
    pub use crate::registry::{SimDevice, SimRegistry, SimRegistryConfig, SimRegistryHandle};
    pub use mach_async::mach_sim::{Kernel, KernelConfig, Task};
}
