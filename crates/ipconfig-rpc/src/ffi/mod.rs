//! The C ABI of `mach_service.c`.

pub mod signal;
