//! The crate's error type.

use std::fmt;
use std::io;

use mach_abi::{kern_return_t, mach_msg_return_t, named_code};

use crate::raw_message::ParseError;

/// Errors of Mach calls, streams and sends.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A Mach port call returned a `kern_return_t` other than `KERN_SUCCESS`.
    Kern {
        /// The call (`"mach_port_allocate"`, ...).
        op: &'static str,
        /// The kernel's return code.
        kr: kern_return_t,
    },
    /// `mach_msg` returned an error (`MACH_SEND_*` / `MACH_RCV_*`).
    Msg {
        /// What was being done (`"send"`, `"receive"`).
        op: &'static str,
        /// The `mach_msg_return_t`.
        mr: mach_msg_return_t,
    },
    /// A system call (kqueue, kevent, ...) failed.
    Io {
        /// The call.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The Mach layer is missing: on NextBSD the `mach.syscall.*` sysctls do not exist (stock
    /// FreeBSD kernel or `COMPAT_MACH` not built in), or a trap is not registered (−1).
    MachUnavailable {
        /// Which trap or probe failed.
        what: &'static str,
    },
    /// The `EVFILT_MACHPORT` filter is missing: `EV_ADD` failed with `EINVAL` (stock kernel) or
    /// `ENXIO` (filter slot reserved but never registered), native-filter.md §1.
    FilterUnavailable {
        /// The errno `EV_ADD` failed with.
        errno: i32,
    },
    /// A received buffer was malformed.
    Parse(ParseError),
    /// The operation's timeout expired.
    TimedOut,
    /// The kernel reported `MACH_RCV_INVALID_DATA`: a message was dequeued but could not be
    /// copied out, and is lost. This is a kernel or buffer bug; it is reported, never hidden.
    MessageLost,
    /// A notification request ended without the notification (the watched right went away,
    /// or the request was replaced; a send-once notification arrived instead).
    NotificationCancelled,
    /// The stream or reply port ended before the awaited message arrived.
    Ended,
    /// No tokio runtime with I/O enabled is available to register the kqueue.
    NoRuntime(io::Error),
    /// A right of one IPC space was combined with an object of another (port names are only
    /// meaningful in their own space, so the call was refused before using the name).
    WrongSpace {
        /// The operation.
        op: &'static str,
    },
}

impl Error {
    /// The `kern_return_t` / `mach_msg_return_t` carried by this error, if any.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Kern { kr, .. } => Some(*kr),
            Error::Msg { mr, .. } => Some(*mr),
            _ => None,
        }
    }

    pub(crate) fn kern(op: &'static str, kr: kern_return_t) -> Error {
        Error::Kern { op, kr }
    }

    pub(crate) fn io(op: &'static str, source: io::Error) -> Error {
        Error::Io { op, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kern { op, kr } => write!(f, "{op} failed: {}", named_code(*kr)),
            Error::Msg { op, mr } => write!(f, "mach_msg {op} failed: {}", named_code(*mr)),
            Error::Io { op, source } => write!(f, "{op} failed: {source}"),
            Error::MachUnavailable { what } => {
                write!(f, "the Mach IPC layer is unavailable ({what})")
            }
            Error::FilterUnavailable { errno } => write!(
                f,
                "the EVFILT_MACHPORT kqueue filter is unavailable (EV_ADD failed with errno {errno})"
            ),
            Error::Parse(e) => write!(f, "malformed message: {e}"),
            Error::TimedOut => f.write_str("timed out"),
            Error::MessageLost => {
                f.write_str("MACH_RCV_INVALID_DATA: a message was dequeued and lost")
            }
            Error::NotificationCancelled => f.write_str("notification request cancelled"),
            Error::Ended => f.write_str("the receive stream ended"),
            Error::NoRuntime(e) => write!(f, "no tokio reactor to register the kqueue: {e}"),
            Error::WrongSpace { op } => {
                write!(f, "{op}: the right belongs to another IPC space")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::NoRuntime(source) => Some(source),
            Error::Parse(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}
