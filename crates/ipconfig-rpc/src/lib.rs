//! ipconfigd's Mach service (`ipconfig.defs`) on the mach-async MIG runtime.
#![allow(missing_docs)]
pub use mach_async::mig;
pub mod auth;
pub mod client;
pub mod ffi;
pub mod protocol;
pub mod server;
pub mod wire;
