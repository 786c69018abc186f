//! MIG error codes and the error reply (`<mach/mig_errors.h>`).

use crate::kern_return::kern_return_t;
use crate::message::mach_msg_header_t;
use crate::ndr::NDR_record_t;

/// Type/descriptor mismatch (client: reply shape wrong).
pub const MIG_TYPE_ERROR: kern_return_t = -300;
/// Reply id ≠ request id + 100 (and ≠ 71).
pub const MIG_REPLY_MISMATCH: kern_return_t = -301;
/// Remote error (not produced by current stubs).
pub const MIG_REMOTE_ERROR: kern_return_t = -302;
/// Unknown routine id (or a `skip` slot).
pub const MIG_BAD_ID: kern_return_t = -303;
/// Size / complex bit / descriptor count / array count wrong.
pub const MIG_BAD_ARGUMENTS: kern_return_t = -304;
/// The routine kept the reply right; send nothing.
pub const MIG_NO_REPLY: kern_return_t = -305;
/// Exception (not produced by current stubs).
pub const MIG_EXCEPTION: kern_return_t = -306;
/// Returned array larger than the caller's buffer.
pub const MIG_ARRAY_TOO_LARGE: kern_return_t = -307;
/// Client got a send-once notification (id 71) instead of its reply.
pub const MIG_SERVER_DIED: kern_return_t = -308;
/// Trailer not format 0 or too short for the requested element (e.g. the audit token).
pub const MIG_TRAILER_ERROR: kern_return_t = -309;

/// MIG error reply (36 bytes, never complex): header, NDR @24, `RetCode` @32.
/// Its `msgh_id` is the request id + 100.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mig_reply_error_t {
    /// Reply header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// Return code of the routine or the check that failed.
    pub RetCode: kern_return_t,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<mig_reply_error_t>() == 36);
    assert!(offset_of!(mig_reply_error_t, Head) == 0);
    assert!(offset_of!(mig_reply_error_t, NDR) == 24);
    assert!(offset_of!(mig_reply_error_t, RetCode) == 32);
};
