//! The MIG error type: one variant per `MIG_*` code plus the transport failures a client sees.

use core::fmt;

use mach_abi::return_code_name;
use mach_abi::{
    kern_return_t, mach_msg_return_t, MACH_RCV_TIMED_OUT, MIG_ARRAY_TOO_LARGE, MIG_BAD_ARGUMENTS,
    MIG_BAD_ID, MIG_EXCEPTION, MIG_NO_REPLY, MIG_REMOTE_ERROR, MIG_REPLY_MISMATCH, MIG_SERVER_DIED,
    MIG_TRAILER_ERROR, MIG_TYPE_ERROR,
};

/// Why a MIG exchange failed, on either side.
///
/// Every variant maps to the `kern_return_t` a C stub would return ([`MigError::code`]), and
/// [`MigError::from_code`] maps a `RetCode` received from a server back to the variant, so a
/// server's `MIG_BAD_ID` reply reaches a Rust caller as [`MigError::BadId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigError {
    /// `MIG_TYPE_ERROR` (-300): a descriptor or reply had the wrong shape.
    TypeError,
    /// `MIG_REPLY_MISMATCH` (-301): the reply id was not request id + 100.
    ReplyMismatch,
    /// `MIG_REMOTE_ERROR` (-302): not produced by current stubs; kept for peers that send it.
    RemoteError,
    /// `MIG_BAD_ID` (-303): the server has no routine with this id.
    BadId,
    /// `MIG_BAD_ARGUMENTS` (-304): size, complex bit, descriptor count or array count wrong.
    BadArguments,
    /// `MIG_NO_REPLY` (-305): a routine kept the reply right. Never seen by a client on the wire.
    NoReply,
    /// `MIG_EXCEPTION` (-306): not produced by current stubs.
    Exception,
    /// `MIG_ARRAY_TOO_LARGE` (-307): a returned array did not fit the caller's buffer.
    ArrayTooLarge,
    /// `MIG_SERVER_DIED` (-308): the send-once notification arrived instead of the reply, i.e. the
    /// server destroyed the reply right without answering (it died, or dropped the request).
    ServerDied,
    /// `MIG_TRAILER_ERROR` (-309): the requested trailer was missing or malformed.
    TrailerError,
    /// The server answered with this non-zero `RetCode` that is not one of the MIG codes above
    /// (a routine's own error, or a kernel code).
    Remote(kern_return_t),
    /// `mach_msg` failed to send the request; the code is the `MACH_SEND_*` return.
    Send(mach_msg_return_t),
    /// `mach_msg` failed to receive the reply; the code is the `MACH_RCV_*` return.
    Receive(mach_msg_return_t),
    /// The client's deadline passed before a reply arrived (`MACH_RCV_TIMED_OUT`).
    TimedOut,
}

impl MigError {
    /// The `kern_return_t` a generated C stub returns for this failure.
    pub const fn code(self) -> kern_return_t {
        match self {
            MigError::TypeError => MIG_TYPE_ERROR,
            MigError::ReplyMismatch => MIG_REPLY_MISMATCH,
            MigError::RemoteError => MIG_REMOTE_ERROR,
            MigError::BadId => MIG_BAD_ID,
            MigError::BadArguments => MIG_BAD_ARGUMENTS,
            MigError::NoReply => MIG_NO_REPLY,
            MigError::Exception => MIG_EXCEPTION,
            MigError::ArrayTooLarge => MIG_ARRAY_TOO_LARGE,
            MigError::ServerDied => MIG_SERVER_DIED,
            MigError::TrailerError => MIG_TRAILER_ERROR,
            MigError::Remote(code) | MigError::Send(code) | MigError::Receive(code) => code,
            MigError::TimedOut => MACH_RCV_TIMED_OUT,
        }
    }

    /// The error a non-zero `RetCode` from a server stands for. `KERN_SUCCESS` (0) has no error
    /// form and maps to `Remote(0)`; callers only call this for non-zero codes.
    pub const fn from_code(code: kern_return_t) -> MigError {
        match code {
            MIG_TYPE_ERROR => MigError::TypeError,
            MIG_REPLY_MISMATCH => MigError::ReplyMismatch,
            MIG_REMOTE_ERROR => MigError::RemoteError,
            MIG_BAD_ID => MigError::BadId,
            MIG_BAD_ARGUMENTS => MigError::BadArguments,
            MIG_NO_REPLY => MigError::NoReply,
            MIG_EXCEPTION => MigError::Exception,
            MIG_ARRAY_TOO_LARGE => MigError::ArrayTooLarge,
            MIG_SERVER_DIED => MigError::ServerDied,
            MIG_TRAILER_ERROR => MigError::TrailerError,
            other => MigError::Remote(other),
        }
    }
}

impl fmt::Display for MigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            MigError::TypeError => "MIG type error",
            MigError::ReplyMismatch => "MIG reply id mismatch",
            MigError::RemoteError => "MIG remote error",
            MigError::BadId => "MIG bad request id",
            MigError::BadArguments => "MIG bad request arguments",
            MigError::NoReply => "MIG no reply",
            MigError::Exception => "MIG exception",
            MigError::ArrayTooLarge => "MIG array too large",
            MigError::ServerDied => "MIG server died",
            MigError::TrailerError => "MIG trailer error",
            MigError::Remote(_) => "server returned an error",
            MigError::Send(_) => "mach_msg send failed",
            MigError::Receive(_) => "mach_msg receive failed",
            MigError::TimedOut => "timed out waiting for the reply",
        };
        // C clients print these codes as unsigned hex (`mach 0xfffffed0`).
        let code = self.code();
        let name = return_code_name(code).unwrap_or("unknown code");
        write!(f, "{what}: {name} (0x{:08x})", code as u32)
    }
}

impl std::error::Error for MigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_spec_table() {
        let table = [
            (MigError::TypeError, -300),
            (MigError::ReplyMismatch, -301),
            (MigError::RemoteError, -302),
            (MigError::BadId, -303),
            (MigError::BadArguments, -304),
            (MigError::NoReply, -305),
            (MigError::Exception, -306),
            (MigError::ArrayTooLarge, -307),
            (MigError::ServerDied, -308),
            (MigError::TrailerError, -309),
        ];
        for (err, code) in table {
            assert_eq!(err.code(), code);
            assert_eq!(MigError::from_code(code), err);
        }
        assert_eq!(MigError::from_code(5), MigError::Remote(5));
        assert_eq!(MigError::Remote(5).code(), 5);
        assert_eq!(MigError::TimedOut.code(), MACH_RCV_TIMED_OUT);
    }

    #[test]
    fn display_names_the_code_and_prints_it_as_unsigned_hex() {
        assert_eq!(
            MigError::BadArguments.to_string(),
            "MIG bad request arguments: MIG_BAD_ARGUMENTS (0xfffffed0)"
        );
        assert_eq!(
            MigError::Send(mach_abi::MACH_SEND_INVALID_DEST).to_string(),
            "mach_msg send failed: MACH_SEND_INVALID_DEST (0x10000003)"
        );
        assert_eq!(
            MigError::Remote(mach_abi::KERN_INVALID_ARGUMENT).to_string(),
            "server returned an error: KERN_INVALID_ARGUMENT (0x00000004)"
        );
        assert_eq!(
            MigError::Remote(4242).to_string(),
            "server returned an error: unknown code (0x00001092)"
        );
        assert_eq!(
            MigError::TimedOut.to_string(),
            "timed out waiting for the reply: MACH_RCV_TIMED_OUT (0x10004003)"
        );
    }
}
