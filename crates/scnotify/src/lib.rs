//! SCDynamicStore change notifications over Mach IPC.
#![warn(missing_docs)]

pub mod store;
pub mod wire;
