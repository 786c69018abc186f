//! Message header, bits, dispositions, descriptors, `mach_msg` options and return codes
//! (`<mach/message.h>`), kernel/XNU values.

use crate::port::{mach_port_name_t, natural_t};

/// `msgh_bits`: dispositions/received types of the three header ports plus flags.
pub type mach_msg_bits_t = u32;
/// Message size in bytes.
pub type mach_msg_size_t = natural_t;
/// Message id (`msgh_id`).
pub type mach_msg_id_t = i32;
/// `mach_msg` option bits (`integer_t` in the NextBSD kernel; same bits).
pub type mach_msg_option_t = u32;
/// Timeout in milliseconds.
pub type mach_msg_timeout_t = natural_t;
/// Disposition / received right type (`MACH_MSG_TYPE_*`). An 8-bit field inside descriptors.
pub type mach_msg_type_name_t = u32;
/// Descriptor type byte (`MACH_MSG_*_DESCRIPTOR`), an 8-bit field at offset 11 of every descriptor.
pub type mach_msg_descriptor_type_t = u8;
/// OOL copy option (`MACH_MSG_PHYSICAL_COPY`, ...), an 8-bit field inside OOL descriptors.
pub type mach_msg_copy_options_t = u8;
/// Element count (MIG arrays, OOL port counts).
pub type mach_msg_type_number_t = natural_t;
/// `mach_msg` return code (`0x1000_xxxx` codes are positive).
pub type mach_msg_return_t = crate::kern_return::kern_return_t;

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/// Message header (24 bytes, every field 4 bytes).
///
/// On receive the kernel swaps remote/local: `msgh_remote_port` is the reply right and
/// `msgh_local_port` the name the message arrived on. `msgh_size` excludes the trailer.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_header_t {
    /// Dispositions (send) / received right types (receive) and flags.
    pub msgh_bits: mach_msg_bits_t,
    /// Total size of header + body + inline data; multiple of 4, ≥ 24; excludes the trailer.
    pub msgh_size: mach_msg_size_t,
    /// Destination (send) / reply right (receive).
    pub msgh_remote_port: mach_port_name_t,
    /// Reply port (send) / port received on (receive).
    pub msgh_local_port: mach_port_name_t,
    /// Voucher port (alias `msgh_reserved`); 0 on NextBSD.
    pub msgh_voucher_port: mach_port_name_t,
    /// Message id.
    pub msgh_id: mach_msg_id_t,
}

/// Body of a complex message: the descriptor count at offset 24.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_body_t {
    /// Number of descriptors that follow.
    pub msgh_descriptor_count: mach_msg_size_t,
}

/// Header followed by body (28 bytes): the prefix of every complex message.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_base_t {
    /// Header.
    pub header: mach_msg_header_t,
    /// Body (descriptor count).
    pub body: mach_msg_body_t,
}

// ---------------------------------------------------------------------------------------------
// msgh_bits
// ---------------------------------------------------------------------------------------------

/// No bits.
pub const MACH_MSGH_BITS_ZERO: mach_msg_bits_t = 0;
/// Remote port disposition/type (bits 0–4). libmach's `0xff` is wrong.
pub const MACH_MSGH_BITS_REMOTE_MASK: mach_msg_bits_t = 0x0000_001f;
/// Local port disposition/type (bits 8–12). libmach's `0xff00` is wrong.
pub const MACH_MSGH_BITS_LOCAL_MASK: mach_msg_bits_t = 0x0000_1f00;
/// Voucher port disposition/type (bits 16–20).
pub const MACH_MSGH_BITS_VOUCHER_MASK: mach_msg_bits_t = 0x001f_0000;
/// All three port fields.
pub const MACH_MSGH_BITS_PORTS_MASK: mach_msg_bits_t =
    MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK | MACH_MSGH_BITS_VOUCHER_MASK;
/// The message carries a body with descriptors.
pub const MACH_MSGH_BITS_COMPLEX: mach_msg_bits_t = 0x8000_0000;
/// Kernel-internal; always send 0.
pub const MACH_MSGH_BITS_CIRCULAR: mach_msg_bits_t = 0x1000_0000;
/// Bits user space may set (ports + COMPLEX).
pub const MACH_MSGH_BITS_USER: mach_msg_bits_t = MACH_MSGH_BITS_PORTS_MASK | MACH_MSGH_BITS_COMPLEX;

/// `MACH_MSGH_BITS(remote, local)` = `remote | (local << 8)`.
#[inline]
pub const fn MACH_MSGH_BITS(
    remote: mach_msg_type_name_t,
    local: mach_msg_type_name_t,
) -> mach_msg_bits_t {
    remote | (local << 8)
}

/// `MACH_MSGH_BITS_SET_PORTS(remote, local, voucher)`: masked port fields.
#[inline]
pub const fn MACH_MSGH_BITS_SET_PORTS(
    remote: mach_msg_type_name_t,
    local: mach_msg_type_name_t,
    voucher: mach_msg_type_name_t,
) -> mach_msg_bits_t {
    (remote & MACH_MSGH_BITS_REMOTE_MASK)
        | ((local << 8) & MACH_MSGH_BITS_LOCAL_MASK)
        | ((voucher << 16) & MACH_MSGH_BITS_VOUCHER_MASK)
}

/// `MACH_MSGH_BITS_SET(remote, local, voucher, other)`: port fields plus non-port bits of `other`.
#[inline]
pub const fn MACH_MSGH_BITS_SET(
    remote: mach_msg_type_name_t,
    local: mach_msg_type_name_t,
    voucher: mach_msg_type_name_t,
    other: mach_msg_bits_t,
) -> mach_msg_bits_t {
    MACH_MSGH_BITS_SET_PORTS(remote, local, voucher) | (other & !MACH_MSGH_BITS_PORTS_MASK)
}

/// Remote field of `bits`.
#[inline]
pub const fn MACH_MSGH_BITS_REMOTE(bits: mach_msg_bits_t) -> mach_msg_type_name_t {
    bits & MACH_MSGH_BITS_REMOTE_MASK
}

/// Local field of `bits`.
#[inline]
pub const fn MACH_MSGH_BITS_LOCAL(bits: mach_msg_bits_t) -> mach_msg_type_name_t {
    (bits & MACH_MSGH_BITS_LOCAL_MASK) >> 8
}

/// Voucher field of `bits`.
#[inline]
pub const fn MACH_MSGH_BITS_VOUCHER(bits: mach_msg_bits_t) -> mach_msg_type_name_t {
    (bits & MACH_MSGH_BITS_VOUCHER_MASK) >> 16
}

/// The three port fields of `bits`.
#[inline]
pub const fn MACH_MSGH_BITS_PORTS(bits: mach_msg_bits_t) -> mach_msg_bits_t {
    bits & MACH_MSGH_BITS_PORTS_MASK
}

/// Everything except the port fields.
#[inline]
pub const fn MACH_MSGH_BITS_OTHER(bits: mach_msg_bits_t) -> mach_msg_bits_t {
    bits & !MACH_MSGH_BITS_PORTS_MASK
}

/// Remote field is non-zero.
#[inline]
pub const fn MACH_MSGH_BITS_HAS_REMOTE(bits: mach_msg_bits_t) -> bool {
    MACH_MSGH_BITS_REMOTE(bits) != MACH_MSG_TYPE_NONE
}

/// Local field is non-zero.
#[inline]
pub const fn MACH_MSGH_BITS_HAS_LOCAL(bits: mach_msg_bits_t) -> bool {
    MACH_MSGH_BITS_LOCAL(bits) != MACH_MSG_TYPE_NONE
}

/// Voucher field is non-zero.
#[inline]
pub const fn MACH_MSGH_BITS_HAS_VOUCHER(bits: mach_msg_bits_t) -> bool {
    MACH_MSGH_BITS_VOUCHER(bits) != MACH_MSG_TYPE_NONE
}

/// `COMPLEX` flag is set.
#[inline]
pub const fn MACH_MSGH_BITS_IS_COMPLEX(bits: mach_msg_bits_t) -> bool {
    bits & MACH_MSGH_BITS_COMPLEX != 0
}

// ---------------------------------------------------------------------------------------------
// Dispositions / received types
// ---------------------------------------------------------------------------------------------

/// No port.
pub const MACH_MSG_TYPE_NONE: mach_msg_type_name_t = 0;
/// Bare port name (no right transferred; MIG `mach_port_name_t`).
pub const MACH_MSG_TYPE_PORT_NAME: mach_msg_type_name_t = 15;
/// Move the receive right (sender loses it).
pub const MACH_MSG_TYPE_MOVE_RECEIVE: mach_msg_type_name_t = 16;
/// Move one send uref.
pub const MACH_MSG_TYPE_MOVE_SEND: mach_msg_type_name_t = 17;
/// Move (consume) a send-once right.
pub const MACH_MSG_TYPE_MOVE_SEND_ONCE: mach_msg_type_name_t = 18;
/// Copy a send right (sender keeps it).
pub const MACH_MSG_TYPE_COPY_SEND: mach_msg_type_name_t = 19;
/// Mint a send right from a receive right.
pub const MACH_MSG_TYPE_MAKE_SEND: mach_msg_type_name_t = 20;
/// Mint a send-once right from a receive right.
pub const MACH_MSG_TYPE_MAKE_SEND_ONCE: mach_msg_type_name_t = 21;
/// Copy a receive right (invalid).
pub const MACH_MSG_TYPE_COPY_RECEIVE: mach_msg_type_name_t = 22;
/// Kernel-internal: dispose of a receive right.
pub const MACH_MSG_TYPE_DISPOSE_RECEIVE: mach_msg_type_name_t = 24;
/// Kernel-internal: dispose of a send right.
pub const MACH_MSG_TYPE_DISPOSE_SEND: mach_msg_type_name_t = 25;
/// Kernel-internal: dispose of a send-once right.
pub const MACH_MSG_TYPE_DISPOSE_SEND_ONCE: mach_msg_type_name_t = 26;
/// Received type: a receive right (= `MOVE_RECEIVE`, 16).
pub const MACH_MSG_TYPE_PORT_RECEIVE: mach_msg_type_name_t = MACH_MSG_TYPE_MOVE_RECEIVE;
/// Received type: a send right (= `MOVE_SEND`, 17).
pub const MACH_MSG_TYPE_PORT_SEND: mach_msg_type_name_t = MACH_MSG_TYPE_MOVE_SEND;
/// Received type: a send-once right (= `MOVE_SEND_ONCE`, 18).
pub const MACH_MSG_TYPE_PORT_SEND_ONCE: mach_msg_type_name_t = MACH_MSG_TYPE_MOVE_SEND_ONCE;
/// Last defined disposition number (`COPY_RECEIVE`).
pub const MACH_MSG_TYPE_LAST: mach_msg_type_name_t = 22;
/// Polymorphic disposition marker (`~0`), used by MIG.
pub const MACH_MSG_TYPE_POLYMORPHIC: mach_msg_type_name_t = 0xFFFF_FFFF;

/// Any of the six port-transferring dispositions (16..=21).
#[inline]
pub const fn MACH_MSG_TYPE_PORT_ANY(x: mach_msg_type_name_t) -> bool {
    x >= MACH_MSG_TYPE_MOVE_RECEIVE && x <= MACH_MSG_TYPE_MAKE_SEND_ONCE
}

/// A disposition that yields a send or send-once right (17..=21).
#[inline]
pub const fn MACH_MSG_TYPE_PORT_ANY_SEND(x: mach_msg_type_name_t) -> bool {
    x >= MACH_MSG_TYPE_MOVE_SEND && x <= MACH_MSG_TYPE_MAKE_SEND_ONCE
}

/// A disposition that yields a send-once right (`MOVE_SEND_ONCE` or `MAKE_SEND_ONCE`).
#[inline]
pub const fn MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(x: mach_msg_type_name_t) -> bool {
    x == MACH_MSG_TYPE_MOVE_SEND_ONCE || x == MACH_MSG_TYPE_MAKE_SEND_ONCE
}

/// A disposition that moves a right (16..=18: `MOVE_RECEIVE`, `MOVE_SEND`, `MOVE_SEND_ONCE`).
#[inline]
pub const fn MACH_MSG_TYPE_PORT_ANY_RIGHT(x: mach_msg_type_name_t) -> bool {
    x >= MACH_MSG_TYPE_MOVE_RECEIVE && x <= MACH_MSG_TYPE_MOVE_SEND_ONCE
}

// ---------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------

/// Port descriptor.
pub const MACH_MSG_PORT_DESCRIPTOR: mach_msg_descriptor_type_t = 0;
/// Out-of-line memory descriptor.
pub const MACH_MSG_OOL_DESCRIPTOR: mach_msg_descriptor_type_t = 1;
/// Out-of-line port array descriptor.
pub const MACH_MSG_OOL_PORTS_DESCRIPTOR: mach_msg_descriptor_type_t = 2;
/// Volatile out-of-line memory descriptor (OOL layout).
pub const MACH_MSG_OOL_VOLATILE_DESCRIPTOR: mach_msg_descriptor_type_t = 3;
/// XNU guarded port descriptor (16 bytes; only with `MACH_RCV_GUARDED_DESC`).
pub const MACH_MSG_GUARDED_PORT_DESCRIPTOR: mach_msg_descriptor_type_t = 4;

/// OOL copy option: physical copy.
pub const MACH_MSG_PHYSICAL_COPY: mach_msg_copy_options_t = 0;
/// OOL copy option: virtual (copy-on-write) copy; what MIG writes.
pub const MACH_MSG_VIRTUAL_COPY: mach_msg_copy_options_t = 1;
/// OOL copy option: allocate.
pub const MACH_MSG_ALLOCATE: mach_msg_copy_options_t = 2;
/// OOL copy option: overwrite (NextBSD).
pub const MACH_MSG_OVERWRITE: mach_msg_copy_options_t = 3;

/// Port descriptor (12 bytes): name @0, pad1 @4, pad2 @8, disposition @10, type @11.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_port_descriptor_t {
    /// Port name.
    pub name: mach_port_name_t,
    /// Padding (0).
    pub pad1: mach_msg_size_t,
    /// Padding (0).
    pub pad2: u16,
    /// Disposition (send) / received right type (receive), a `MACH_MSG_TYPE_*` value.
    pub disposition: u8,
    /// [`MACH_MSG_PORT_DESCRIPTOR`].
    pub type_: mach_msg_descriptor_type_t,
}

/// OOL memory descriptor, LP64 (16 bytes). `address` is only 4-aligned inside a message.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_ool_descriptor_t {
    /// Address of the data (a user pointer as an integer).
    pub address: u64,
    /// Deallocate the sender's memory on send (0/1).
    pub deallocate: u8,
    /// Copy option (`MACH_MSG_*_COPY`).
    pub copy: mach_msg_copy_options_t,
    /// Padding (0).
    pub pad1: u8,
    /// [`MACH_MSG_OOL_DESCRIPTOR`] or [`MACH_MSG_OOL_VOLATILE_DESCRIPTOR`].
    pub type_: mach_msg_descriptor_type_t,
    /// Size in bytes.
    pub size: mach_msg_size_t,
}

/// OOL memory descriptor, ILP32 form (12 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_ool_descriptor32_t {
    /// 32-bit address.
    pub address: u32,
    /// Size in bytes.
    pub size: mach_msg_size_t,
    /// Deallocate flag (0/1).
    pub deallocate: u8,
    /// Copy option.
    pub copy: mach_msg_copy_options_t,
    /// Padding (0).
    pub pad1: u8,
    /// Descriptor type.
    pub type_: mach_msg_descriptor_type_t,
}

/// OOL port array descriptor, LP64 (16 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_ool_ports_descriptor_t {
    /// Address of the `mach_port_name_t` array.
    pub address: u64,
    /// Deallocate flag (0/1).
    pub deallocate: u8,
    /// Copy option.
    pub copy: mach_msg_copy_options_t,
    /// Disposition applied to every name.
    pub disposition: u8,
    /// [`MACH_MSG_OOL_PORTS_DESCRIPTOR`].
    pub type_: mach_msg_descriptor_type_t,
    /// Number of names.
    pub count: mach_msg_size_t,
}

/// Generic descriptor view (12 bytes): only `type_` (offset 11, the same in every descriptor
/// on both ABIs) is meaningful. Walk descriptors by reading it.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_type_descriptor_t {
    /// Descriptor-specific.
    pub pad1: natural_t,
    /// Descriptor-specific.
    pub pad2: mach_msg_size_t,
    /// Descriptor-specific.
    pub pad3: [u8; 3],
    /// Descriptor type (`MACH_MSG_*_DESCRIPTOR`).
    pub type_: mach_msg_descriptor_type_t,
}

/// Offset of the type byte inside every descriptor.
pub const MACH_MSG_DESCRIPTOR_TYPE_OFFSET: usize = 11;

// ---------------------------------------------------------------------------------------------
// Sizes, timeouts
// ---------------------------------------------------------------------------------------------

/// No timeout (timeouts are in milliseconds; with `*_TIMEOUT` set, 0 means poll).
pub const MACH_MSG_TIMEOUT_NONE: mach_msg_timeout_t = 0;
/// Size of [`mach_msg_header_t`] (24).
pub const MACH_MSG_HEADER_SIZE: mach_msg_size_t = 24;
/// NextBSD maximum inline send size: 48 MiB − 68 (`IPC_KMSG_MAX_SPACE` × 3/4 − max trailer).
/// Larger sends fail with [`MACH_SEND_TOO_LARGE`]. Project-named.
pub const NEXTBSD_MAX_INLINE_SEND: mach_msg_size_t = 48 * 1024 * 1024 - 68;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// No options.
pub const MACH_MSG_OPTION_NONE: mach_msg_option_t = 0;
/// Send.
pub const MACH_SEND_MSG: mach_msg_option_t = 0x1;
/// Receive.
pub const MACH_RCV_MSG: mach_msg_option_t = 0x2;
/// Too-large message stays queued (`MACH_RCV_TOO_LARGE`). Always set it on NextBSD.
pub const MACH_RCV_LARGE: mach_msg_option_t = 0x4;
/// Report the member name on `MACH_RCV_TOO_LARGE` (NextBSD: kqueue path only).
pub const MACH_RCV_LARGE_IDENTITY: mach_msg_option_t = 0x8;
/// Send with timeout (0 = fail immediately with `MACH_SEND_TIMED_OUT` if the queue is full).
pub const MACH_SEND_TIMEOUT: mach_msg_option_t = 0x10;
/// XNU only: send override. Keep off in shared code.
pub const MACH_SEND_OVERRIDE: mach_msg_option_t = 0x20;
/// Do not restart the send on interrupt.
pub const MACH_SEND_INTERRUPT: mach_msg_option_t = 0x40;
/// Arm a send-possible notification (ignored by NextBSD).
///
/// **Pitfall:** NextBSD libmach's `message.h` defines `MACH_SEND_NOTIFY` as `0x4`, which is
/// [`MACH_RCV_LARGE`]. The real value is `0x80`. Never use this option in shared code.
pub const MACH_SEND_NOTIFY: mach_msg_option_t = 0x80;
/// Receive with timeout (0 = poll).
pub const MACH_RCV_TIMEOUT: mach_msg_option_t = 0x100;
/// NextBSD `MACH_RCV_NOTIFY` (same bit as XNU [`MACH_MSG_STRICT_REPLY`]). **Never set.**
pub const MACH_RCV_NOTIFY: mach_msg_option_t = 0x200;
/// XNU `MACH_MSG_STRICT_REPLY` (same bit as NextBSD [`MACH_RCV_NOTIFY`]). **Never set.**
pub const MACH_MSG_STRICT_REPLY: mach_msg_option_t = 0x200;
/// Do not restart the receive on interrupt.
pub const MACH_RCV_INTERRUPT: mach_msg_option_t = 0x400;
/// XNU: receive the voucher. None on NextBSD.
pub const MACH_RCV_VOUCHER: mach_msg_option_t = 0x800;
/// NextBSD `MACH_RCV_OVERWRITE` (same bit as XNU [`MACH_RCV_GUARDED_DESC`]). **Never set.**
pub const MACH_RCV_OVERWRITE: mach_msg_option_t = 0x1000;
/// XNU `MACH_RCV_GUARDED_DESC` (same bit as NextBSD [`MACH_RCV_OVERWRITE`]). **Never set.**
pub const MACH_RCV_GUARDED_DESC: mach_msg_option_t = 0x1000;
/// XNU only: sync wait. Keep off in shared code.
pub const MACH_RCV_SYNC_WAIT: mach_msg_option_t = 0x4000;
/// XNU only: sync peek. Keep off in shared code.
pub const MACH_RCV_SYNC_PEEK: mach_msg_option_t = 0x8000;
/// Kernel-only: send regardless of the queue limit (same bit as XNU [`MACH_SEND_FILTER_NONFATAL`]).
pub const MACH_SEND_ALWAYS: mach_msg_option_t = 0x1_0000;
/// XNU user option (same bit as kernel-only [`MACH_SEND_ALWAYS`]). Keep off.
pub const MACH_SEND_FILTER_NONFATAL: mach_msg_option_t = 0x1_0000;
/// Sender-supplied trailer. Do not use.
///
/// NextBSD libmach wrongly defines the option `MACH_SEND_NO_BUFFER` with this value; the real
/// [`MACH_SEND_NO_BUFFER`] is a return code.
pub const MACH_SEND_TRAILER: mach_msg_option_t = 0x2_0000;
/// XNU only: no importance donation. Keep off in shared code.
pub const MACH_SEND_NOIMPORTANCE: mach_msg_option_t = 0x4_0000;
/// XNU only: sync override. Keep off in shared code.
pub const MACH_SEND_SYNC_OVERRIDE: mach_msg_option_t = 0x10_0000;
/// XNU only: propagate QoS. Keep off in shared code.
pub const MACH_SEND_PROPAGATE_QOS: mach_msg_option_t = 0x20_0000;

// ---------------------------------------------------------------------------------------------
// Return codes
// ---------------------------------------------------------------------------------------------

/// Success.
pub const MACH_MSG_SUCCESS: mach_msg_return_t = 0;
/// Mask of the special bits OR-ed into header/body errors. Compare with `mr & !MACH_MSG_MASK`.
pub const MACH_MSG_MASK: mach_msg_return_t = 0x3e00;
/// Special bit: IPC space problem.
pub const MACH_MSG_IPC_SPACE: mach_msg_return_t = 0x2000;
/// Special bit: VM space problem.
pub const MACH_MSG_VM_SPACE: mach_msg_return_t = 0x1000;
/// Special bit: kernel IPC resource shortage.
pub const MACH_MSG_IPC_KERNEL: mach_msg_return_t = 0x800;
/// Special bit: kernel VM resource shortage.
pub const MACH_MSG_VM_KERNEL: mach_msg_return_t = 0x400;
/// Special bit: invalid RT descriptor (NextBSD header).
pub const MACH_MSG_INVALID_RT_DESCRIPTOR: mach_msg_return_t = 0x200;

/// Internal: send in progress.
pub const MACH_SEND_IN_PROGRESS: mach_msg_return_t = 0x1000_0001;
/// Bad message buffer.
pub const MACH_SEND_INVALID_DATA: mach_msg_return_t = 0x1000_0002;
/// Dead/invalid destination (NextBSD also: remote = 0; `insert_right` name ≠ poly).
pub const MACH_SEND_INVALID_DEST: mach_msg_return_t = 0x1000_0003;
/// Queue full and timeout expired; the caller still owns the message.
pub const MACH_SEND_TIMED_OUT: mach_msg_return_t = 0x1000_0004;
/// Invalid voucher.
pub const MACH_SEND_INVALID_VOUCHER: mach_msg_return_t = 0x1000_0005;
/// Interrupted; the caller owns the message; retry.
pub const MACH_SEND_INTERRUPTED: mach_msg_return_t = 0x1000_0007;
/// Size < 24 or not a multiple of 4.
pub const MACH_SEND_MSG_TOO_SMALL: mach_msg_return_t = 0x1000_0008;
/// Invalid reply port.
pub const MACH_SEND_INVALID_REPLY: mach_msg_return_t = 0x1000_0009;
/// Invalid right in the body.
pub const MACH_SEND_INVALID_RIGHT: mach_msg_return_t = 0x1000_000a;
/// Invalid notify port (libmach once mis-defined it as `0x1000_0005`).
pub const MACH_SEND_INVALID_NOTIFY: mach_msg_return_t = 0x1000_000b;
/// Bad OOL pointer.
pub const MACH_SEND_INVALID_MEMORY: mach_msg_return_t = 0x1000_000c;
/// No kernel buffer (NextBSD also: Mach thread state unavailable).
///
/// **Pitfall:** this is a *return code*. NextBSD libmach defines an *option bit*
/// `MACH_SEND_NO_BUFFER` = `0x2_0000` (= [`MACH_SEND_TRAILER`]); never pass that as an option.
pub const MACH_SEND_NO_BUFFER: mach_msg_return_t = 0x1000_000d;
/// Message too large (NextBSD: > [`NEXTBSD_MAX_INLINE_SEND`]).
pub const MACH_SEND_TOO_LARGE: mach_msg_return_t = 0x1000_000e;
/// Invalid descriptor type.
pub const MACH_SEND_INVALID_TYPE: mach_msg_return_t = 0x1000_000f;
/// Invalid header bits.
pub const MACH_SEND_INVALID_HEADER: mach_msg_return_t = 0x1000_0010;
/// Invalid trailer.
pub const MACH_SEND_INVALID_TRAILER: mach_msg_return_t = 0x1000_0011;
/// XNU: invalid context.
pub const MACH_SEND_INVALID_CONTEXT: mach_msg_return_t = 0x1000_0012;
/// XNU: invalid options.
pub const MACH_SEND_INVALID_OPTIONS: mach_msg_return_t = 0x1000_0013;
/// Obsolete: invalid RT OOL size.
pub const MACH_SEND_INVALID_RT_OOL_SIZE: mach_msg_return_t = 0x1000_0015;
/// XNU: destination does not grant.
pub const MACH_SEND_NO_GRANT_DEST: mach_msg_return_t = 0x1000_0016;
/// XNU: message filtered.
pub const MACH_SEND_MSG_FILTERED: mach_msg_return_t = 0x1000_0017;
/// XNU: aux data too small.
pub const MACH_SEND_AUX_TOO_SMALL: mach_msg_return_t = 0x1000_0018;
/// XNU: aux data too large.
pub const MACH_SEND_AUX_TOO_LARGE: mach_msg_return_t = 0x1000_0019;

/// Internal: receive in progress.
pub const MACH_RCV_IN_PROGRESS: mach_msg_return_t = 0x1000_4001;
/// Not a receive right or set (end of stream).
pub const MACH_RCV_INVALID_NAME: mach_msg_return_t = 0x1000_4002;
/// Nothing queued within the timeout (drain done).
pub const MACH_RCV_TIMED_OUT: mach_msg_return_t = 0x1000_4003;
/// Buffer too small for message + requested trailer.
pub const MACH_RCV_TOO_LARGE: mach_msg_return_t = 0x1000_4004;
/// Interrupted; retry.
pub const MACH_RCV_INTERRUPTED: mach_msg_return_t = 0x1000_4005;
/// Legacy: port changed.
pub const MACH_RCV_PORT_CHANGED: mach_msg_return_t = 0x1000_4006;
/// Invalid notify port.
pub const MACH_RCV_INVALID_NOTIFY: mach_msg_return_t = 0x1000_4007;
/// Copyout failed; the message is lost.
pub const MACH_RCV_INVALID_DATA: mach_msg_return_t = 0x1000_4008;
/// Port or set destroyed during the wait (end of stream).
pub const MACH_RCV_PORT_DIED: mach_msg_return_t = 0x1000_4009;
/// Legacy: port is in a set.
pub const MACH_RCV_IN_SET: mach_msg_return_t = 0x1000_400a;
/// Header delivered damaged; destroy the message.
pub const MACH_RCV_HEADER_ERROR: mach_msg_return_t = 0x1000_400b;
/// Body delivered damaged; destroy the message.
pub const MACH_RCV_BODY_ERROR: mach_msg_return_t = 0x1000_400c;
/// Invalid descriptor type.
pub const MACH_RCV_INVALID_TYPE: mach_msg_return_t = 0x1000_400d;
/// Scatter list too small.
pub const MACH_RCV_SCATTER_SMALL: mach_msg_return_t = 0x1000_400e;
/// Bad trailer option.
pub const MACH_RCV_INVALID_TRAILER: mach_msg_return_t = 0x1000_400f;
/// Internal: timed receive in progress.
pub const MACH_RCV_IN_PROGRESS_TIMED: mach_msg_return_t = 0x1000_4011;
/// XNU: invalid reply.
pub const MACH_RCV_INVALID_REPLY: mach_msg_return_t = 0x1000_4012;
/// XNU: invalid arguments.
pub const MACH_RCV_INVALID_ARGUMENTS: mach_msg_return_t = 0x1000_4013;

// ---------------------------------------------------------------------------------------------
// Compile-time layout checks
// ---------------------------------------------------------------------------------------------

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<mach_msg_header_t>() == 24);
    assert!(align_of::<mach_msg_header_t>() == 4);
    assert!(offset_of!(mach_msg_header_t, msgh_bits) == 0);
    assert!(offset_of!(mach_msg_header_t, msgh_size) == 4);
    assert!(offset_of!(mach_msg_header_t, msgh_remote_port) == 8);
    assert!(offset_of!(mach_msg_header_t, msgh_local_port) == 12);
    assert!(offset_of!(mach_msg_header_t, msgh_voucher_port) == 16);
    assert!(offset_of!(mach_msg_header_t, msgh_id) == 20);

    assert!(size_of::<mach_msg_body_t>() == 4);
    assert!(offset_of!(mach_msg_body_t, msgh_descriptor_count) == 0);
    assert!(size_of::<mach_msg_base_t>() == 28);
    assert!(offset_of!(mach_msg_base_t, body) == 24);

    assert!(size_of::<mach_msg_port_descriptor_t>() == 12);
    assert!(align_of::<mach_msg_port_descriptor_t>() == 4);
    assert!(offset_of!(mach_msg_port_descriptor_t, name) == 0);
    assert!(offset_of!(mach_msg_port_descriptor_t, pad1) == 4);
    assert!(offset_of!(mach_msg_port_descriptor_t, pad2) == 8);
    assert!(offset_of!(mach_msg_port_descriptor_t, disposition) == 10);
    assert!(offset_of!(mach_msg_port_descriptor_t, type_) == 11);

    assert!(size_of::<mach_msg_ool_descriptor_t>() == 16);
    assert!(align_of::<mach_msg_ool_descriptor_t>() == 4);
    assert!(offset_of!(mach_msg_ool_descriptor_t, address) == 0);
    assert!(offset_of!(mach_msg_ool_descriptor_t, deallocate) == 8);
    assert!(offset_of!(mach_msg_ool_descriptor_t, copy) == 9);
    assert!(offset_of!(mach_msg_ool_descriptor_t, pad1) == 10);
    assert!(offset_of!(mach_msg_ool_descriptor_t, type_) == 11);
    assert!(offset_of!(mach_msg_ool_descriptor_t, size) == 12);

    assert!(size_of::<mach_msg_ool_ports_descriptor_t>() == 16);
    assert!(align_of::<mach_msg_ool_ports_descriptor_t>() == 4);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, address) == 0);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, deallocate) == 8);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, copy) == 9);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, disposition) == 10);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, type_) == 11);
    assert!(offset_of!(mach_msg_ool_ports_descriptor_t, count) == 12);

    assert!(size_of::<mach_msg_ool_descriptor32_t>() == 12);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, address) == 0);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, size) == 4);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, deallocate) == 8);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, copy) == 9);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, pad1) == 10);
    assert!(offset_of!(mach_msg_ool_descriptor32_t, type_) == 11);

    assert!(size_of::<mach_msg_type_descriptor_t>() == 12);
    assert!(offset_of!(mach_msg_type_descriptor_t, type_) == MACH_MSG_DESCRIPTOR_TYPE_OFFSET);
};
