//! Port names, rights and port types (`<mach/port.h>`, `<mach/machine/vm_types.h>`,
//! `<mach/boolean.h>`).

/// Unsigned machine word as used by Mach interfaces (`unsigned int`).
pub type natural_t = u32;
/// Signed machine word as used by Mach interfaces (`int`).
pub type integer_t = i32;
/// Mach boolean (`unsigned int` on NextBSD and Apple x86_64, `int` on Apple arm64; same size).
pub type boolean_t = u32;

/// A port name in the caller's IPC space (user space: 32-bit; on NextBSD also a file descriptor).
pub type mach_port_name_t = natural_t;
/// User-space `mach_port_t`: the same as [`mach_port_name_t`] (kernel pointers never reach user space).
pub type mach_port_t = mach_port_name_t;
/// Kind of right (`MACH_PORT_RIGHT_*`).
pub type mach_port_right_t = natural_t;
/// Bit set of rights held under a name (`MACH_PORT_TYPE_*`).
pub type mach_port_type_t = natural_t;
/// Change in user references (signed).
pub type mach_port_delta_t = integer_t;
/// Make-send count.
pub type mach_port_mscount_t = natural_t;
/// Message sequence number.
pub type mach_port_seqno_t = natural_t;
/// Count of queued messages / queue limit.
pub type mach_port_msgcount_t = natural_t;
/// User reference count.
pub type mach_port_urefs_t = natural_t;
/// Port context value (64-bit on both ABIs).
pub type mach_port_context_t = u64;
/// Flavor selector for `mach_port_get/set_attributes`.
pub type mach_port_flavor_t = i32;

/// The null port name (0).
pub const MACH_PORT_NULL: mach_port_name_t = 0;
/// The dead port name (`~0`).
pub const MACH_PORT_DEAD: mach_port_name_t = 0xFFFF_FFFF;

/// `MACH_PORT_VALID(name)`: true iff `name` is neither [`MACH_PORT_NULL`] nor [`MACH_PORT_DEAD`].
#[inline]
pub const fn MACH_PORT_VALID(name: mach_port_name_t) -> bool {
    name != MACH_PORT_NULL && name != MACH_PORT_DEAD
}

/// Send right.
pub const MACH_PORT_RIGHT_SEND: mach_port_right_t = 0;
/// Receive right.
pub const MACH_PORT_RIGHT_RECEIVE: mach_port_right_t = 1;
/// Send-once right.
pub const MACH_PORT_RIGHT_SEND_ONCE: mach_port_right_t = 2;
/// Port set.
pub const MACH_PORT_RIGHT_PORT_SET: mach_port_right_t = 3;
/// Dead name.
pub const MACH_PORT_RIGHT_DEAD_NAME: mach_port_right_t = 4;
/// Obsolete label handle right.
pub const MACH_PORT_RIGHT_LABELH: mach_port_right_t = 5;
/// Number of right kinds.
pub const MACH_PORT_RIGHT_NUMBER: mach_port_right_t = 6;

/// `MACH_PORT_TYPE(right)` = `1 << (right + 16)`.
#[inline]
pub const fn MACH_PORT_TYPE(right: mach_port_right_t) -> mach_port_type_t {
    1 << (right + 16)
}

/// No rights.
pub const MACH_PORT_TYPE_NONE: mach_port_type_t = 0;
/// Send right (`0x1_0000`).
pub const MACH_PORT_TYPE_SEND: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND);
/// Receive right (`0x2_0000`).
pub const MACH_PORT_TYPE_RECEIVE: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_RECEIVE);
/// Send-once right (`0x4_0000`).
pub const MACH_PORT_TYPE_SEND_ONCE: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND_ONCE);
/// Port set (`0x8_0000`).
pub const MACH_PORT_TYPE_PORT_SET: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_PORT_SET);
/// Dead name (`0x10_0000`).
pub const MACH_PORT_TYPE_DEAD_NAME: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_DEAD_NAME);
/// Obsolete label handle (`0x20_0000`).
pub const MACH_PORT_TYPE_LABELH: mach_port_type_t = MACH_PORT_TYPE(MACH_PORT_RIGHT_LABELH);
/// Send + receive (`0x3_0000`).
pub const MACH_PORT_TYPE_SEND_RECEIVE: mach_port_type_t =
    MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE;
/// Send or send-once.
pub const MACH_PORT_TYPE_SEND_RIGHTS: mach_port_type_t =
    MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE;
/// Any port right (send, send-once, receive).
pub const MACH_PORT_TYPE_PORT_RIGHTS: mach_port_type_t =
    MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE;
/// Any port right or a dead name.
pub const MACH_PORT_TYPE_PORT_OR_DEAD: mach_port_type_t =
    MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME;
/// Any right including port sets.
pub const MACH_PORT_TYPE_ALL_RIGHTS: mach_port_type_t =
    MACH_PORT_TYPE_PORT_OR_DEAD | MACH_PORT_TYPE_PORT_SET;
/// Dead-name notification requested (request flag).
pub const MACH_PORT_TYPE_DNREQUEST: mach_port_type_t = 0x8000_0000;
/// Send-possible notification requested (request flag).
pub const MACH_PORT_TYPE_SPREQUEST: mach_port_type_t = 0x4000_0000;
/// Delayed send-possible notification requested (request flag).
pub const MACH_PORT_TYPE_SPREQUEST_DELAYED: mach_port_type_t = 0x2000_0000;

/// Queue limit 0.
pub const MACH_PORT_QLIMIT_ZERO: mach_port_msgcount_t = 0;
/// Basic queue limit (5): what a new port gets on both kernels.
pub const MACH_PORT_QLIMIT_BASIC: mach_port_msgcount_t = 5;
/// Small queue limit (16).
pub const MACH_PORT_QLIMIT_SMALL: mach_port_msgcount_t = 16;
/// Large queue limit (1024).
pub const MACH_PORT_QLIMIT_LARGE: mach_port_msgcount_t = 1024;
/// Kernel queue limit as defined by the NextBSD header (65536). See [`MACH_PORT_QLIMIT_KERNEL_XNU`].
pub const MACH_PORT_QLIMIT_KERNEL: mach_port_msgcount_t = 65536;
/// Kernel queue limit on XNU (65534). Project-named; XNU calls it `MACH_PORT_QLIMIT_KERNEL`.
pub const MACH_PORT_QLIMIT_KERNEL_XNU: mach_port_msgcount_t = 65534;
/// Minimum queue limit (= [`MACH_PORT_QLIMIT_ZERO`]).
pub const MACH_PORT_QLIMIT_MIN: mach_port_msgcount_t = MACH_PORT_QLIMIT_ZERO;
/// Default queue limit (= [`MACH_PORT_QLIMIT_BASIC`], 5). On NextBSD it cannot be raised.
pub const MACH_PORT_QLIMIT_DEFAULT: mach_port_msgcount_t = MACH_PORT_QLIMIT_BASIC;
/// Maximum user-settable queue limit (= [`MACH_PORT_QLIMIT_LARGE`], 1024; Apple only).
pub const MACH_PORT_QLIMIT_MAX: mach_port_msgcount_t = MACH_PORT_QLIMIT_LARGE;

/// `mach_port_set_attributes` flavor for the queue limit (Apple; a no-op on NextBSD).
pub const MACH_PORT_LIMITS_INFO: mach_port_flavor_t = 1;
