//! SystemConfiguration status codes (`kSCStatus*`), as they travel in a reply's `status` field
//! and as `SCError()` reports them.

use std::fmt;

/// A SystemConfiguration status code (`kSCStatus*`, spec §4.6).
///
/// A newtype rather than an enum: the wire carries any `int`, and an unknown value must survive
/// a round trip unchanged.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Status(pub i32);

impl Status {
    /// `kSCStatusOK`: success.
    pub const OK: Status = Status(0);
    /// `kSCStatusFailed`: allocation failure, reply list overflow, stubbed routine, transport
    /// failure (client side).
    pub const FAILED: Status = Status(1001);
    /// `kSCStatusInvalidArgument`: empty key, bad or over-long regex, bad `notifyviaport`
    /// arguments, a list that does not encode.
    pub const INVALID_ARGUMENT: Status = Status(1002);
    /// `kSCStatusAccessError`: permission denied (not produced by NextBSD configd).
    pub const ACCESS_ERROR: Status = Status(1003);
    /// `kSCStatusNoKey`: missing key, or `notifyremove` of an unwatched key or pattern.
    pub const NO_KEY: Status = Status(1004);
    /// `kSCStatusKeyExists`: `configadd` of an existing key.
    pub const KEY_EXISTS: Status = Status(1005);
    /// `kSCStatusNoStoreSession`: not a live session (or not a store, on the C side).
    pub const NO_STORE_SESSION: Status = Status(2001);
    /// `kSCStatusNoStoreServer`: client only; no server port (look-up or `configopen` failed).
    pub const NO_STORE_SERVER: Status = Status(2002);
    /// `kSCStatusNotifierActive`: client only in NextBSD; a registration is already active.
    pub const NOTIFIER_ACTIVE: Status = Status(2003);

    /// Whether this is [`Status::OK`].
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The raw code.
    pub const fn code(self) -> i32 {
        self.0
    }

    /// `Ok(())` for [`Status::OK`], otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), Status> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The `kSCStatus*` name, if this is a known code.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "kSCStatusOK",
            1001 => "kSCStatusFailed",
            1002 => "kSCStatusInvalidArgument",
            1003 => "kSCStatusAccessError",
            1004 => "kSCStatusNoKey",
            1005 => "kSCStatusKeyExists",
            2001 => "kSCStatusNoStoreSession",
            2002 => "kSCStatusNoStoreServer",
            2003 => "kSCStatusNotifierActive",
            _ => return None,
        })
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "Status({})", self.0),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Status {}

impl From<i32> for Status {
    fn from(code: i32) -> Self {
        Status(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec_table() {
        assert_eq!(Status::OK.code(), 0);
        assert_eq!(Status::FAILED.code(), 1001);
        assert_eq!(Status::INVALID_ARGUMENT.code(), 1002);
        assert_eq!(Status::NO_KEY.code(), 1004);
        assert_eq!(Status::KEY_EXISTS.code(), 1005);
        assert_eq!(Status::NO_STORE_SESSION.code(), 2001);
        assert_eq!(Status::NO_STORE_SERVER.code(), 2002);
        assert_eq!(Status::NOTIFIER_ACTIVE.code(), 2003);
    }

    #[test]
    fn unknown_codes_survive_and_print_raw() {
        let s = Status::from(4242);
        assert_eq!(s.name(), None);
        assert_eq!(format!("{s}"), "Status(4242)");
        assert_eq!(format!("{}", Status::NO_KEY), "kSCStatusNoKey(1004)");
        assert_eq!(Status::OK.into_result(), Ok(()));
        assert_eq!(Status::NO_KEY.into_result(), Err(Status::NO_KEY));
    }
}
