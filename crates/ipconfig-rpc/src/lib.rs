//! ipconfigd's Mach service (`ipconfig.defs`) on the mach-async MIG runtime.
#![allow(missing_docs)]
// TEMPORARY: the MIG runtime lives in mach-async (crates/mach-async/src/mig), which has not
// landed yet; it is compiled in place until ipconfig-rpc can depend on mach-async.
#[path = "../../mach-async/src/mig/mod.rs"]
pub mod mig;
pub mod auth;
pub mod protocol;
pub mod wire;
