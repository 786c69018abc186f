//! Names of return codes: `kern_return_t`, `mach_msg_return_t`, MIG and bootstrap codes, for
//! error messages people read (`mach_port_allocate failed: KERN_NO_SPACE (0x3)`).

use crate::*;

/// The C name of a `kern_return_t`, `mach_msg_return_t`, MIG (`MIG_*`) or bootstrap
/// (`BOOTSTRAP_*`) return code, or `None` for a code this crate does not define. A
/// `mach_msg_return_t` with `MACH_MSG_MASK` detail bits (`MACH_RCV_HEADER_ERROR |
/// MACH_MSG_IPC_SPACE`, ...) is named by its base code. 0 is `KERN_SUCCESS`.
///
/// ```
/// use mach_abi::{return_code_name, KERN_NO_SPACE, MACH_MSG_IPC_SPACE, MACH_RCV_HEADER_ERROR};
/// assert_eq!(return_code_name(KERN_NO_SPACE), Some("KERN_NO_SPACE"));
/// assert_eq!(
///     return_code_name(MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE),
///     Some("MACH_RCV_HEADER_ERROR")
/// );
/// assert_eq!(return_code_name(0x7777), None);
/// ```
pub const fn return_code_name(code: i32) -> Option<&'static str> {
    if let Some(name) = exact_name(code) {
        return Some(name);
    }
    if code & MACH_MSG_MASK != 0 {
        return exact_name(code & !MACH_MSG_MASK);
    }
    None
}

const fn exact_name(code: i32) -> Option<&'static str> {
    Some(match code {
        KERN_SUCCESS => "KERN_SUCCESS",
        KERN_INVALID_ADDRESS => "KERN_INVALID_ADDRESS",
        KERN_PROTECTION_FAILURE => "KERN_PROTECTION_FAILURE",
        KERN_NO_SPACE => "KERN_NO_SPACE",
        KERN_INVALID_ARGUMENT => "KERN_INVALID_ARGUMENT",
        KERN_FAILURE => "KERN_FAILURE",
        KERN_RESOURCE_SHORTAGE => "KERN_RESOURCE_SHORTAGE",
        KERN_NOT_RECEIVER => "KERN_NOT_RECEIVER",
        KERN_NO_ACCESS => "KERN_NO_ACCESS",
        KERN_MEMORY_FAILURE => "KERN_MEMORY_FAILURE",
        KERN_MEMORY_ERROR => "KERN_MEMORY_ERROR",
        KERN_ALREADY_IN_SET => "KERN_ALREADY_IN_SET",
        KERN_NOT_IN_SET => "KERN_NOT_IN_SET",
        KERN_NAME_EXISTS => "KERN_NAME_EXISTS",
        KERN_ABORTED => "KERN_ABORTED",
        KERN_INVALID_NAME => "KERN_INVALID_NAME",
        KERN_INVALID_TASK => "KERN_INVALID_TASK",
        KERN_INVALID_RIGHT => "KERN_INVALID_RIGHT",
        KERN_INVALID_VALUE => "KERN_INVALID_VALUE",
        KERN_UREFS_OVERFLOW => "KERN_UREFS_OVERFLOW",
        KERN_INVALID_CAPABILITY => "KERN_INVALID_CAPABILITY",
        KERN_RIGHT_EXISTS => "KERN_RIGHT_EXISTS",
        KERN_INVALID_HOST => "KERN_INVALID_HOST",
        KERN_MEMORY_PRESENT => "KERN_MEMORY_PRESENT",
        KERN_MEMORY_DATA_MOVED => "KERN_MEMORY_DATA_MOVED",
        KERN_MEMORY_RESTART_COPY => "KERN_MEMORY_RESTART_COPY",
        KERN_INVALID_PROCESSOR_SET => "KERN_INVALID_PROCESSOR_SET",
        KERN_POLICY_LIMIT => "KERN_POLICY_LIMIT",
        KERN_INVALID_POLICY => "KERN_INVALID_POLICY",
        KERN_INVALID_OBJECT => "KERN_INVALID_OBJECT",
        KERN_ALREADY_WAITING => "KERN_ALREADY_WAITING",
        KERN_DEFAULT_SET => "KERN_DEFAULT_SET",
        KERN_EXCEPTION_PROTECTED => "KERN_EXCEPTION_PROTECTED",
        KERN_INVALID_LEDGER => "KERN_INVALID_LEDGER",
        KERN_INVALID_MEMORY_CONTROL => "KERN_INVALID_MEMORY_CONTROL",
        KERN_INVALID_SECURITY => "KERN_INVALID_SECURITY",
        KERN_NOT_DEPRESSED => "KERN_NOT_DEPRESSED",
        KERN_TERMINATED => "KERN_TERMINATED",
        KERN_LOCK_SET_DESTROYED => "KERN_LOCK_SET_DESTROYED",
        KERN_LOCK_UNSTABLE => "KERN_LOCK_UNSTABLE",
        KERN_LOCK_OWNED => "KERN_LOCK_OWNED",
        KERN_LOCK_OWNED_SELF => "KERN_LOCK_OWNED_SELF",
        KERN_SEMAPHORE_DESTROYED => "KERN_SEMAPHORE_DESTROYED",
        KERN_RPC_SERVER_TERMINATED => "KERN_RPC_SERVER_TERMINATED",
        KERN_RPC_TERMINATE_ORPHAN => "KERN_RPC_TERMINATE_ORPHAN",
        KERN_RPC_CONTINUE_ORPHAN => "KERN_RPC_CONTINUE_ORPHAN",
        KERN_NOT_SUPPORTED => "KERN_NOT_SUPPORTED",
        KERN_NODE_DOWN => "KERN_NODE_DOWN",
        KERN_NOT_WAITING => "KERN_NOT_WAITING",
        KERN_OPERATION_TIMED_OUT => "KERN_OPERATION_TIMED_OUT",
        KERN_CODESIGN_ERROR => "KERN_CODESIGN_ERROR",
        KERN_POLICY_STATIC => "KERN_POLICY_STATIC",
        KERN_INSUFFICIENT_BUFFER_SIZE => "KERN_INSUFFICIENT_BUFFER_SIZE",
        KERN_DENIED => "KERN_DENIED",
        KERN_MISSING_KC => "KERN_MISSING_KC",
        KERN_INVALID_KC => "KERN_INVALID_KC",
        KERN_NOT_FOUND => "KERN_NOT_FOUND",
        MACH_SEND_IN_PROGRESS => "MACH_SEND_IN_PROGRESS",
        MACH_SEND_INVALID_DATA => "MACH_SEND_INVALID_DATA",
        MACH_SEND_INVALID_DEST => "MACH_SEND_INVALID_DEST",
        MACH_SEND_TIMED_OUT => "MACH_SEND_TIMED_OUT",
        MACH_SEND_INVALID_VOUCHER => "MACH_SEND_INVALID_VOUCHER",
        MACH_SEND_INTERRUPTED => "MACH_SEND_INTERRUPTED",
        MACH_SEND_MSG_TOO_SMALL => "MACH_SEND_MSG_TOO_SMALL",
        MACH_SEND_INVALID_REPLY => "MACH_SEND_INVALID_REPLY",
        MACH_SEND_INVALID_RIGHT => "MACH_SEND_INVALID_RIGHT",
        MACH_SEND_INVALID_NOTIFY => "MACH_SEND_INVALID_NOTIFY",
        MACH_SEND_INVALID_MEMORY => "MACH_SEND_INVALID_MEMORY",
        MACH_SEND_NO_BUFFER => "MACH_SEND_NO_BUFFER",
        MACH_SEND_TOO_LARGE => "MACH_SEND_TOO_LARGE",
        MACH_SEND_INVALID_TYPE => "MACH_SEND_INVALID_TYPE",
        MACH_SEND_INVALID_HEADER => "MACH_SEND_INVALID_HEADER",
        MACH_SEND_INVALID_TRAILER => "MACH_SEND_INVALID_TRAILER",
        MACH_SEND_INVALID_CONTEXT => "MACH_SEND_INVALID_CONTEXT",
        MACH_SEND_INVALID_OPTIONS => "MACH_SEND_INVALID_OPTIONS",
        MACH_SEND_INVALID_RT_OOL_SIZE => "MACH_SEND_INVALID_RT_OOL_SIZE",
        MACH_SEND_NO_GRANT_DEST => "MACH_SEND_NO_GRANT_DEST",
        MACH_SEND_MSG_FILTERED => "MACH_SEND_MSG_FILTERED",
        MACH_SEND_AUX_TOO_SMALL => "MACH_SEND_AUX_TOO_SMALL",
        MACH_SEND_AUX_TOO_LARGE => "MACH_SEND_AUX_TOO_LARGE",
        MACH_RCV_IN_PROGRESS => "MACH_RCV_IN_PROGRESS",
        MACH_RCV_INVALID_NAME => "MACH_RCV_INVALID_NAME",
        MACH_RCV_TIMED_OUT => "MACH_RCV_TIMED_OUT",
        MACH_RCV_TOO_LARGE => "MACH_RCV_TOO_LARGE",
        MACH_RCV_INTERRUPTED => "MACH_RCV_INTERRUPTED",
        MACH_RCV_PORT_CHANGED => "MACH_RCV_PORT_CHANGED",
        MACH_RCV_INVALID_NOTIFY => "MACH_RCV_INVALID_NOTIFY",
        MACH_RCV_INVALID_DATA => "MACH_RCV_INVALID_DATA",
        MACH_RCV_PORT_DIED => "MACH_RCV_PORT_DIED",
        MACH_RCV_IN_SET => "MACH_RCV_IN_SET",
        MACH_RCV_HEADER_ERROR => "MACH_RCV_HEADER_ERROR",
        MACH_RCV_BODY_ERROR => "MACH_RCV_BODY_ERROR",
        MACH_RCV_INVALID_TYPE => "MACH_RCV_INVALID_TYPE",
        MACH_RCV_SCATTER_SMALL => "MACH_RCV_SCATTER_SMALL",
        MACH_RCV_INVALID_TRAILER => "MACH_RCV_INVALID_TRAILER",
        MACH_RCV_IN_PROGRESS_TIMED => "MACH_RCV_IN_PROGRESS_TIMED",
        MACH_RCV_INVALID_REPLY => "MACH_RCV_INVALID_REPLY",
        MACH_RCV_INVALID_ARGUMENTS => "MACH_RCV_INVALID_ARGUMENTS",
        MIG_TYPE_ERROR => "MIG_TYPE_ERROR",
        MIG_REPLY_MISMATCH => "MIG_REPLY_MISMATCH",
        MIG_REMOTE_ERROR => "MIG_REMOTE_ERROR",
        MIG_BAD_ID => "MIG_BAD_ID",
        MIG_BAD_ARGUMENTS => "MIG_BAD_ARGUMENTS",
        MIG_NO_REPLY => "MIG_NO_REPLY",
        MIG_EXCEPTION => "MIG_EXCEPTION",
        MIG_ARRAY_TOO_LARGE => "MIG_ARRAY_TOO_LARGE",
        MIG_SERVER_DIED => "MIG_SERVER_DIED",
        MIG_TRAILER_ERROR => "MIG_TRAILER_ERROR",
        BOOTSTRAP_NOT_PRIVILEGED => "BOOTSTRAP_NOT_PRIVILEGED",
        BOOTSTRAP_NAME_IN_USE => "BOOTSTRAP_NAME_IN_USE",
        BOOTSTRAP_UNKNOWN_SERVICE => "BOOTSTRAP_UNKNOWN_SERVICE",
        BOOTSTRAP_SERVICE_ACTIVE => "BOOTSTRAP_SERVICE_ACTIVE",
        BOOTSTRAP_BAD_COUNT => "BOOTSTRAP_BAD_COUNT",
        BOOTSTRAP_NO_MEMORY => "BOOTSTRAP_NO_MEMORY",
        BOOTSTRAP_NO_CHILDREN => "BOOTSTRAP_NO_CHILDREN",
        _ => return None,
    })
}

/// A return code for display: its name and value, `KERN_NO_SPACE (0x3)` (MIG codes, being
/// negative, in decimal: `MIG_BAD_ID (-303)`), or `unknown code 0x7777` when
/// [`return_code_name`] does not know it.
///
/// ```
/// use mach_abi::{named_code, KERN_NO_SPACE};
/// assert_eq!(named_code(KERN_NO_SPACE).to_string(), "KERN_NO_SPACE (0x3)");
/// assert_eq!(named_code(-303).to_string(), "MIG_BAD_ID (-303)");
/// ```
pub fn named_code(code: i32) -> impl core::fmt::Display + Copy {
    NamedCode(code)
}

// Not `pub`: mach-abi's public structs are C ABI types (checked against the C headers).
#[derive(Clone, Copy)]
struct NamedCode(i32);

impl core::fmt::Display for NamedCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let code = self.0;
        match return_code_name(code) {
            // MIG codes are negative: decimal reads better than a 32-bit hex pattern.
            Some(name) if code < 0 => write!(f, "{name} ({code})"),
            Some(name) => write!(f, "{name} ({code:#x})"),
            None if code < 0 => write!(f, "unknown code {code}"),
            None => write!(f, "unknown code {code:#x}"),
        }
    }
}
