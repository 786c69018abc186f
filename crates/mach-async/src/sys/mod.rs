//! The backend contract: everything `mach-async` needs from the platform, and nothing more.
//!
//! Modelled on mio's `src/sys`: this file documents what every platform provides and selects
//! exactly one implementation by `cfg`:
//!
//! | cfg (set by `build.rs`) | file | Mach layer |
//! |---|---|---|
//! | `mach_backend = "nextbsd"` (FreeBSD) | `nextbsd.rs` | NextBSD traps through `syscall(2)`, numbers from `sysctl mach.syscall.<name>`; `kevent` filter −16 |
//! | `mach_backend = "nextbsd"` + `mach_over_sim` (feature `nextbsd-over-sim`, any OS) | `nextbsd.rs` | the same code, "NextBSD over sim": its raw calls reach the simulated kernel's trap face |
//! | `mach_backend = "macos"` | `macos.rs` | libSystem's Mach calls; `kevent` filter −8 (`libc::EVFILT_MACHPORT`) |
//! | `mach_backend = "sim"` (every other OS, or feature `sim`) | `sim.rs` | the simulated NextBSD kernel's Rust API (`mach-sim`), several spaces per process |
//!
//! The two native backends share `bsd.rs`: the process-wide `Space`'s identity and a
//! real kqueue descriptor driven through `kevent(2)`.
//!
//! # Raw calls
//!
//! The native backends reach the operating system only through `raw`, a module of a few
//! functions (`syscall`, `sysctlbyname`, `close`, `kqueue`, `kevent`, `set_cloexec`) with the C
//! library's signatures and conventions (−1 and `errno` on failure). It has two
//! implementations: `raw_os.rs` calls the C library; `raw_sim.rs` (only with `mach_over_sim`)
//! calls `mach_sim::trap`, the simulated kernel's model of exactly the kernel interface those
//! calls reach on NextBSD — trap numbers, each trap's argument list and return convention, names
//! that are descriptors, FreeBSD's `struct kevent`. A third, `raw_so.rs` (only with
//! `mach_trap_so`, Stage 4 on Linux), declares the same calls as `mach_sim_trap_*` C symbols of
//! the shared simulated kernel `libmach_sim.so`, so that several shared libraries in one process
//! reach one kernel (docs/stage4-linking.md). Everything else in `nextbsd.rs` and `bsd.rs`
//! is the code that ships, with no simulation branch: on Linux, CI runs it over the simulated
//! kernel, so a wrong argument order or a misread return convention fails there as it would on
//! NextBSD.
//!
//! Nothing above this module knows which platform it runs on, and no platform file knows about
//! streams, messages or futures.
//!
//! # What every platform file provides
//!
//! * `struct Space` (`Clone + Send + Sync + Debug + Eq`): the IPC space in which names live. One
//!   per process natively; a `mach_sim::Task` in the simulation. Every object captures the space
//!   it was created in, so it keeps working when polled from any thread. Equality means "the
//!   same space": a name is only meaningful in its own space, so operations that combine two
//!   objects (a port and a set) check it.
//!   * `Space::current() -> Space`
//!   * `allocate(right) -> Result<Name, Error>`: `mach_port_allocate` (receive right or port set).
//!   * `insert_right(name, poly, poly_poly) -> Result<(), Error>`: `mach_port_insert_right`.
//!   * `add_send_uref(name) -> Result<(), Error>`: one more user reference on a send right
//!     (`mod_refs(SEND, +1)` where it works; NextBSD: `insert_right(name, name, COPY_SEND)`,
//!     because libmach's `mod_refs` is a no-op and the trap is not wired).
//!   * `deallocate(name) -> Result<(), Error>`: drop one user reference of a send, send-once or
//!     dead-name right (NextBSD: the trap always reports success).
//!   * `destroy_receive(name)`, `destroy_set(name) -> Result<(), Error>`: destroy a receive right
//!     (the port dies) / a port set. NextBSD `close(name)`; Apple `mod_refs(.., −1)`; sim
//!     `port_close` (NextBSD semantics).
//!   * `move_member(member, after) -> Result<(), Error>`: `after == 0` removes from the set.
//!   * `request_notification(name, msgid, sync, notify, notify_poly) -> Result<Name, Error>`:
//!     returns the previous send-once right (or 0).
//!   * `unsafe mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout) -> Result<mach_msg_return_t, Error>`:
//!     `Err` only when the Mach layer is missing; interrupted sends/receives are retried
//!     (`MACH_SEND_INTERRUPTED` / `MACH_RCV_INTERRUPTED`, mach-abi.md §3.3).
//!   * `unsafe free_ool(address, size)`: release out-of-line memory the kernel placed in this
//!     space (sim: `libc::free`; Apple: `vm_deallocate`; NextBSD: nothing, see `nextbsd.rs`).
//!   * `kqueue() -> io::Result<Kqueue>`: a new private kqueue owned by this space.
//!   * `id() -> u64`: a process-unique identity of the space (for diagnostics and equality).
//! * `struct Kqueue` (`AsRawFd + Send + Sync`): a pollable kqueue fd.
//!   * `add_machport(set) -> io::Result<()>`: changelist-only `EV_ADD|EV_CLEAR`, `fflags = 0`
//!     (notify mode, never `MACH_RCV_MSG`), `data = udata = ext = 0` (native-filter.md §5 rule 3).
//!     Errors come back as the errno (`EINVAL`/`ENXIO`: filter unavailable).
//!   * `delete_machport(set) -> io::Result<()>`: `EV_DELETE` (callers ignore `ENOENT`).
//!   * `collect(events, timeout) -> io::Result<usize>`: dequeue up to `events.len()` events;
//!     `Some(Duration::ZERO)` never blocks.
//!   * dropping it closes the fd (and with it every knote on it).
//! * `FILTER: i16`: the `EVFILT_MACHPORT` value of the platform (−16 / −8; −16 in the sim).
//! * `pub fn mach_available() -> Result<(), Error>`: a cheap probe of the Mach layer.
//!
//! [`Event`] is the platform-neutral form of one collected kevent.
//!
//! `Space::allocate`, `insert_right`, `destroy_receive` and `mach_msg` are public: code that
//! must block in the kernel on purpose (the benchmark's old-loop and floor baselines) uses them
//! instead of re-implementing a backend. Everything else should use the RAII rights and streams.

use std::fmt;

pub use mach_abi::mach_port_name_t as Name;

/// One collected kqueue event, in platform-neutral form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The knote's ident (a port-set name).
    pub ident: usize,
    /// The filter number.
    pub filter: i16,
    /// `EV_*` flags as the kernel returned them (`EV_EOF`, `EV_ERROR`, ...). These are the
    /// platform's bit values; compare only with [`EV_EOF`] and [`EV_ERROR`], whose bits agree.
    pub flags: u16,
    /// Filter flags.
    pub fflags: u32,
    /// Filter data: a member name with a message (a hint), or the errno with `EV_ERROR`.
    pub data: i64,
}

/// `EV_EOF` (same bit on FreeBSD and Apple).
pub const EV_EOF: u16 = 0x8000;
/// `EV_ERROR` (same bit on FreeBSD and Apple).
pub const EV_ERROR: u16 = 0x4000;

impl Event {
    /// The knote reported end of file (its port set was destroyed).
    pub fn is_eof(&self) -> bool {
        self.flags & EV_EOF != 0
    }
    /// The event is an error receipt (`data` is the errno).
    pub fn is_error(&self) -> bool {
        self.flags & EV_ERROR != 0
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kevent{{ident: {}, filter: {}, flags: {:#x}, data: {}}}",
            self.ident, self.filter, self.flags, self.data
        )
    }
}

/// Converts one collected `struct kevent` of any layout (`libc::kevent` on FreeBSD or Apple,
/// `mach_abi::kevent_freebsd` in the simulation) into an [`Event`]: the fields share their names
/// everywhere; only `data`'s width differs (`intptr_t` on Apple).
macro_rules! event_from_kevent {
    ($ev:expr) => {{
        let ev = $ev;
        $crate::sys::Event {
            ident: ev.ident as usize,
            filter: ev.filter,
            flags: ev.flags,
            fflags: ev.fflags,
            data: ev.data as i64,
        }
    }};
}

/// Runs one `mach_msg` call with `option` until it returns something other than
/// `MACH_SEND_INTERRUPTED` or `MACH_RCV_INTERRUPTED` (mach-abi.md §3.3). A send interrupted was
/// not made, so the whole call is retried; a receive interrupted comes after the send half of a
/// combined call completed, so the retry receives only (`MACH_SEND_MSG` dropped: the message
/// is gone and its rights with it). The timeout is not recomputed between tries: every caller
/// in this crate uses 0 or a bounded slice.
fn retry_interrupted(
    mut option: mach_abi::mach_msg_option_t,
    mut call: impl FnMut(mach_abi::mach_msg_option_t) -> mach_abi::mach_msg_return_t,
) -> mach_abi::mach_msg_return_t {
    loop {
        match call(option) {
            mach_abi::MACH_SEND_INTERRUPTED => {}
            mach_abi::MACH_RCV_INTERRUPTED => option &= !mach_abi::MACH_SEND_MSG,
            mr => return mr,
        }
    }
}

#[cfg(any(mach_backend = "nextbsd", mach_backend = "macos"))]
mod bsd;

#[cfg(any(mach_backend = "nextbsd", mach_backend = "macos"))]
#[cfg_attr(mach_over_sim, path = "raw_sim.rs")]
#[cfg_attr(mach_trap_so, path = "raw_so.rs")]
#[cfg_attr(not(any(mach_over_sim, mach_trap_so)), path = "raw_os.rs")]
mod raw;

#[cfg(mach_backend = "nextbsd")]
#[path = "nextbsd.rs"]
mod imp;

#[cfg(mach_backend = "macos")]
#[path = "macos.rs"]
mod imp;

#[cfg(mach_backend = "sim")]
#[path = "sim.rs"]
mod imp;

pub use imp::{mach_available, Kqueue, Space, FILTER};

/// Name of the backend compiled in: `"nextbsd"`, `"macos"`, `"sim"`, `"nextbsd-over-sim"`
/// (the NextBSD backend with its raw calls on the simulated kernel's trap face), or
/// `"nextbsd-over-shared-sim"` (the same trap face in `libmach_sim.so`, reached by C symbols).
pub const BACKEND: &str = if cfg!(mach_over_sim) {
    "nextbsd-over-sim"
} else if cfg!(mach_trap_so) {
    "nextbsd-over-shared-sim"
} else {
    imp::BACKEND
};

#[cfg(test)]
mod tests {
    use mach_abi::{
        MACH_MSG_SUCCESS, MACH_RCV_INTERRUPTED, MACH_RCV_MSG, MACH_SEND_INTERRUPTED, MACH_SEND_MSG,
    };

    use super::retry_interrupted;

    #[test]
    fn an_interrupted_send_is_retried_whole_and_an_interrupted_receive_alone() {
        let both = MACH_SEND_MSG | MACH_RCV_MSG;
        let mut results = vec![
            MACH_MSG_SUCCESS,
            MACH_RCV_INTERRUPTED,
            MACH_SEND_INTERRUPTED,
        ];
        let mut calls = Vec::new();
        let mr = retry_interrupted(both, |option| {
            calls.push(option);
            results.pop().expect("no more calls than results")
        });
        assert_eq!(mr, MACH_MSG_SUCCESS);
        // The interrupted send was not made, so the call is repeated whole; the interrupted
        // receive came after the send completed, so only the receive is repeated (sending the
        // message again would reuse names whose rights already moved).
        assert_eq!(calls, [both, both, MACH_RCV_MSG]);
    }
}
