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
//!
//! # Example
//!
//! What a switched library's NextBSD backend does first: resolve a trap's number the way
//! NextBSD publishes it, then call the trap (here `mach_port_allocate`, errno-style) and destroy
//! the name with `close`, as on NextBSD.
//!
//! ```
//! # #[cfg(mach_sim_kernel)]
//! # fn main() {
//! use mach_sim_so::{mach_sim_trap_close, mach_sim_trap_syscall, mach_sim_trap_sysctlbyname};
//!
//! let (mut number, mut len) = (-1i32, std::mem::size_of::<i32>());
//! // SAFETY: a NUL-terminated name, an out-value and its length.
//! let rc = unsafe {
//!     mach_sim_trap_sysctlbyname(
//!         c"mach.syscall.mach_port_allocate".as_ptr(),
//!         (&mut number as *mut i32).cast(),
//!         &mut len,
//!         std::ptr::null(),
//!         0,
//!     )
//! };
//! assert_eq!(rc, 0);
//! let mut name = 0u32;
//! let args = [0usize, 1 /* MACH_PORT_RIGHT_RECEIVE */, &mut name as *mut u32 as usize];
//! // SAFETY: the trap's three arguments; `name` is writable.
//! assert_eq!(unsafe { mach_sim_trap_syscall(number, args.as_ptr(), args.len()) }, 0);
//! assert!(name >= 16, "names start at 16, as NextBSD's descriptors do");
//! assert_eq!(mach_sim_trap_close(name as i32), 0);
//! # }
//! # #[cfg(not(mach_sim_kernel))]
//! # fn main() {}
//! ```

#[cfg(mach_sim_kernel)]
mod imp;
#[cfg(mach_sim_kernel)]
pub use imp::*;
