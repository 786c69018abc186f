//! `libmach_sim.so`: the one simulated NextBSD kernel of a Linux process that loads several
//! switched libraries (Stage 4 on Linux; the linking model is in `docs/stage4-linking.md`).
//!
//! On NextBSD, libSystemConfiguration, libIOKit and ipconfigd all reach one kernel through one
//! shared `libsystem_kernel.so`. On Linux the kernel is `mach-sim`, a Rust library: linked
//! statically into each switched library, it would give every library a kernel of its own.
//! `scripts/stage4-demo` therefore links this crate's static library into a shared library of
//! its own, exporting exactly:
//!
//! * mach-sim's libmach C ABI (`<mach/mach.h>`, `<servers/bootstrap.h>`) and `<mach_sim.h>`,
//!   for the C parts of the libraries (the way they call libmach on NextBSD);
//! * the *trap face* as C symbols (`mach_sim_trap_*`, this crate): NextBSD's kernel interface
//!   below libmach, which the switched libraries' Rust code calls when built with `mach-async`'s
//!   `nextbsd-over-shared-sim` feature (the NextBSD backend, the code that ships, with each raw
//!   call an undefined symbol resolved here at load time);
//! * the simulated machine's device side: `/dev/ioregistry` served on the trap face
//!   ([`mach_sim_boot`]) and devices arriving and leaving ([`mach_sim_device_attach`],
//!   [`mach_sim_device_detach`]).
//!
//! Every call runs on [`mach_sim::Kernel::global`], whose default task is the process's one IPC
//! space; with `mach-sim`'s `nextbsd-traps` feature (on in the demo's build) names are real
//! descriptors, as on NextBSD.
//!
//! No panic crosses the C boundary: every body runs under [`std::panic::catch_unwind`] and a
//! panic is reported as `-1` / `EIO` (trap calls) or 0 (device ids).
//!
//! On FreeBSD and macOS this crate is empty: the real kernel is there.

#[cfg(mach_sim_kernel)]
mod imp;
#[cfg(mach_sim_kernel)]
pub use imp::*;
