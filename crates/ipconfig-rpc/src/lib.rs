//! ipconfigd's Mach service (`ipconfig.defs`) on the mach-async MIG runtime.
#![allow(missing_docs)]
pub mod wire;
