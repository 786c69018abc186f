//! Bootstrap return codes, service names and special ports (`<servers/bootstrap.h>`,
//! `<mach/task_special_ports.h>`, `<mach/host_special_ports.h>`).

use crate::kern_return::kern_return_t;

/// Length of a bootstrap service name buffer.
pub const BOOTSTRAP_MAX_NAME_LEN: usize = 128;
/// Bootstrap service name (`char[128]`, NUL-terminated).
pub type name_t = [core::ffi::c_char; BOOTSTRAP_MAX_NAME_LEN];

/// Success.
pub const BOOTSTRAP_SUCCESS: kern_return_t = 0;
/// Caller not privileged.
pub const BOOTSTRAP_NOT_PRIVILEGED: kern_return_t = 1100;
/// Name already in use.
pub const BOOTSTRAP_NAME_IN_USE: kern_return_t = 1101;
/// No such service.
pub const BOOTSTRAP_UNKNOWN_SERVICE: kern_return_t = 1102;
/// Service already active.
pub const BOOTSTRAP_SERVICE_ACTIVE: kern_return_t = 1103;
/// Bad count.
pub const BOOTSTRAP_BAD_COUNT: kern_return_t = 1104;
/// Out of memory.
pub const BOOTSTRAP_NO_MEMORY: kern_return_t = 1105;
/// No children.
pub const BOOTSTRAP_NO_CHILDREN: kern_return_t = 1106;

/// Task special port selector for the bootstrap port (`task_get_special_port`).
pub const TASK_BOOTSTRAP_PORT: i32 = 4;
/// Host special port selector for the bootstrap port (accepted by NextBSD `host_set_special_port`).
pub const HOST_BOOTSTRAP_PORT: i32 = 13;
/// Host special port selector for kextd (accepted by NextBSD `host_set_special_port`).
pub const HOST_KEXTD_PORT: i32 = 15;

const _: () = assert!(core::mem::size_of::<name_t>() == 128);
