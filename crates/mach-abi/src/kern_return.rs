//! `kern_return_t` codes (`<mach/kern_return.h>`, XNU values; NextBSD defines 0–49 except 11).

/// Return code of Mach kernel calls.
pub type kern_return_t = i32;

/// Success.
pub const KERN_SUCCESS: kern_return_t = 0;
/// Invalid address.
pub const KERN_INVALID_ADDRESS: kern_return_t = 1;
/// Protection failure.
pub const KERN_PROTECTION_FAILURE: kern_return_t = 2;
/// No space.
pub const KERN_NO_SPACE: kern_return_t = 3;
/// Invalid argument (also: NextBSD lazy Mach state creation failed).
pub const KERN_INVALID_ARGUMENT: kern_return_t = 4;
/// Generic failure.
pub const KERN_FAILURE: kern_return_t = 5;
/// Resource shortage (NextBSD: also fd exhaustion, lazy Mach state failure).
pub const KERN_RESOURCE_SHORTAGE: kern_return_t = 6;
/// Not the receiver.
pub const KERN_NOT_RECEIVER: kern_return_t = 7;
/// No access.
pub const KERN_NO_ACCESS: kern_return_t = 8;
/// Memory failure.
pub const KERN_MEMORY_FAILURE: kern_return_t = 9;
/// Memory error.
pub const KERN_MEMORY_ERROR: kern_return_t = 10;
/// Already in set (XNU only).
pub const KERN_ALREADY_IN_SET: kern_return_t = 11;
/// Not in set.
pub const KERN_NOT_IN_SET: kern_return_t = 12;
/// Name exists.
pub const KERN_NAME_EXISTS: kern_return_t = 13;
/// Aborted.
pub const KERN_ABORTED: kern_return_t = 14;
/// Invalid name.
pub const KERN_INVALID_NAME: kern_return_t = 15;
/// Invalid task.
pub const KERN_INVALID_TASK: kern_return_t = 16;
/// Invalid right.
pub const KERN_INVALID_RIGHT: kern_return_t = 17;
/// Invalid value.
pub const KERN_INVALID_VALUE: kern_return_t = 18;
/// User-reference overflow.
pub const KERN_UREFS_OVERFLOW: kern_return_t = 19;
/// Invalid capability.
pub const KERN_INVALID_CAPABILITY: kern_return_t = 20;
/// Right exists.
pub const KERN_RIGHT_EXISTS: kern_return_t = 21;
/// Invalid host.
pub const KERN_INVALID_HOST: kern_return_t = 22;
/// Memory present.
pub const KERN_MEMORY_PRESENT: kern_return_t = 23;
/// Memory data moved.
pub const KERN_MEMORY_DATA_MOVED: kern_return_t = 24;
/// Memory restart copy.
pub const KERN_MEMORY_RESTART_COPY: kern_return_t = 25;
/// Invalid processor set.
pub const KERN_INVALID_PROCESSOR_SET: kern_return_t = 26;
/// Policy limit.
pub const KERN_POLICY_LIMIT: kern_return_t = 27;
/// Invalid policy.
pub const KERN_INVALID_POLICY: kern_return_t = 28;
/// Invalid object.
pub const KERN_INVALID_OBJECT: kern_return_t = 29;
/// Already waiting.
pub const KERN_ALREADY_WAITING: kern_return_t = 30;
/// Default set.
pub const KERN_DEFAULT_SET: kern_return_t = 31;
/// Exception protected.
pub const KERN_EXCEPTION_PROTECTED: kern_return_t = 32;
/// Invalid ledger.
pub const KERN_INVALID_LEDGER: kern_return_t = 33;
/// Invalid memory control.
pub const KERN_INVALID_MEMORY_CONTROL: kern_return_t = 34;
/// Invalid security.
pub const KERN_INVALID_SECURITY: kern_return_t = 35;
/// Not depressed.
pub const KERN_NOT_DEPRESSED: kern_return_t = 36;
/// Terminated.
pub const KERN_TERMINATED: kern_return_t = 37;
/// Lock set destroyed.
pub const KERN_LOCK_SET_DESTROYED: kern_return_t = 38;
/// Lock unstable.
pub const KERN_LOCK_UNSTABLE: kern_return_t = 39;
/// Lock owned.
pub const KERN_LOCK_OWNED: kern_return_t = 40;
/// Lock owned by self.
pub const KERN_LOCK_OWNED_SELF: kern_return_t = 41;
/// Semaphore destroyed.
pub const KERN_SEMAPHORE_DESTROYED: kern_return_t = 42;
/// RPC server terminated.
pub const KERN_RPC_SERVER_TERMINATED: kern_return_t = 43;
/// RPC terminate orphan.
pub const KERN_RPC_TERMINATE_ORPHAN: kern_return_t = 44;
/// RPC continue orphan.
pub const KERN_RPC_CONTINUE_ORPHAN: kern_return_t = 45;
/// Not supported.
pub const KERN_NOT_SUPPORTED: kern_return_t = 46;
/// Node down.
pub const KERN_NODE_DOWN: kern_return_t = 47;
/// Not waiting.
pub const KERN_NOT_WAITING: kern_return_t = 48;
/// Operation timed out.
pub const KERN_OPERATION_TIMED_OUT: kern_return_t = 49;
/// Code-signing error (XNU only).
pub const KERN_CODESIGN_ERROR: kern_return_t = 50;
/// Policy static (XNU only).
pub const KERN_POLICY_STATIC: kern_return_t = 51;
/// Insufficient buffer size (XNU only).
pub const KERN_INSUFFICIENT_BUFFER_SIZE: kern_return_t = 52;
/// Denied (XNU only).
pub const KERN_DENIED: kern_return_t = 53;
/// Missing kernel collection (XNU only).
pub const KERN_MISSING_KC: kern_return_t = 54;
/// Invalid kernel collection (XNU only).
pub const KERN_INVALID_KC: kern_return_t = 55;
/// Not found (XNU only).
pub const KERN_NOT_FOUND: kern_return_t = 56;
/// Upper bound of `kern_return_t` codes.
pub const KERN_RETURN_MAX: kern_return_t = 0x100;
