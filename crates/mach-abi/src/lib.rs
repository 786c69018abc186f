//! Mach ABI facts for the Rust Mach layer: `#[repr(C)]` / `#[repr(C, packed(4))]` types and
//! constants, named exactly as in the C Mach headers.
//!
//! This crate contains **ABI facts only, no logic**: scalar type aliases, wire structs with
//! compile-time size and offset assertions, constants, and `const fn` equivalents of the C
//! macros (`MACH_MSGH_BITS`, `MACH_PORT_TYPE`, `REQUESTED_TRAILER_SIZE`, ...). It has no
//! dependencies and is `#![no_std]`.
//!
//! Every value is the **kernel/XNU value** (NextBSD kernel `compat/mach` and Apple's
//! `osfmk/mach/*.h`). Several NextBSD libmach headers disagree and are wrong (header masks
//! `0xff`/`0xff00`, `MACH_SEND_NOTIFY` = `0x4`, option-bit `MACH_SEND_NO_BUFFER`, unpacked trailers
//! with a 64-byte maximum); never mix values from those headers with this crate.
//!
//! All message, descriptor and trailer structs are `#[repr(C, packed(4))]` as in the C headers
//! (`#pragma pack(4)`); read fields wider than 4 bytes by value (copy), never by reference.
//!
//! Layout targets LP64 user space (NextBSD amd64, macOS arm64/x86_64), little-endian.
//!
//! # Example
//!
//! ```
//! use mach_abi::*;
//!
//! // Header bits of a MIG request: COPY_SEND to the server, MAKE_SEND_ONCE for the reply.
//! let bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
//! assert_eq!(bits, 0x1513);
//! assert_eq!(MACH_MSGH_BITS_REMOTE(bits), MACH_MSG_TYPE_COPY_SEND);
//! assert_eq!(MACH_MSGH_BITS_LOCAL(bits), MACH_MSG_TYPE_MAKE_SEND_ONCE);
//!
//! let header = mach_msg_header_t {
//!     msgh_bits: bits,
//!     msgh_size: core::mem::size_of::<mach_msg_header_t>() as mach_msg_size_t,
//!     msgh_remote_port: MACH_PORT_NULL,
//!     msgh_local_port: MACH_PORT_NULL,
//!     msgh_voucher_port: MACH_PORT_NULL,
//!     msgh_id: 1000,
//! };
//! assert_eq!(header.msgh_size, 24);
//!
//! // Drain receive with an audit trailer.
//! let opt = MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT
//!     | MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0)
//!     | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
//! assert_eq!(opt, 0x0300_0106);
//! assert_eq!(REQUESTED_TRAILER_SIZE(opt), 52);
//! ```
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

pub mod audit;
pub mod bootstrap;
pub mod kern_return;
pub mod kevent;
pub mod message;
pub mod mig;
pub mod names;
pub mod ndr;
pub mod notify;
pub mod port;
pub mod trailer;

pub use audit::*;
pub use bootstrap::*;
pub use kern_return::*;
pub use kevent::*;
pub use message::*;
pub use mig::*;
pub use names::*;
pub use ndr::*;
pub use notify::*;
pub use port::*;
pub use trailer::*;
