//! Receive trailers (format 0) and the trailer option bits (`<mach/message.h>`).
//!
//! The trailer starts at `msg + round4(msgh_size)`. All trailer structs are `packed(4)`:
//! `msgh_context` is at 52 and the maximum trailer is 68 bytes (NextBSD libmach's unpacked
//! header says 56 and 64; those are wrong).

use crate::audit::{audit_token_t, security_token_t};
use crate::message::{mach_msg_option_t, mach_msg_size_t};
use crate::port::{mach_port_context_t, mach_port_name_t, mach_port_seqno_t};

/// Trailer format (`msgh_trailer_type`).
pub type mach_msg_trailer_type_t = u32;
/// Trailer size in bytes (`msgh_trailer_size`).
pub type mach_msg_trailer_size_t = u32;
/// Trailer element selector for [`MACH_RCV_TRAILER_ELEMENTS`].
pub type mach_msg_trailer_info_t = u32;
/// MAC audit data word in the MAC trailer.
pub type mach_msg_filter_id = i32;

/// The only trailer format.
pub const MACH_MSG_TRAILER_FORMAT_0: mach_msg_trailer_type_t = 0;
/// Size of the minimal trailer (8).
pub const MACH_MSG_TRAILER_MINIMUM_SIZE: mach_msg_size_t = 8;
/// Size of the largest trailer, [`mach_msg_mac_trailer_t`] (68; libmach's 64 is wrong).
pub const MAX_TRAILER_SIZE: mach_msg_size_t = 68;

/// Element selector: minimal trailer (8 bytes).
pub const MACH_RCV_TRAILER_NULL: mach_msg_trailer_info_t = 0;
/// Element selector: up to the sequence number (12 bytes).
pub const MACH_RCV_TRAILER_SEQNO: mach_msg_trailer_info_t = 1;
/// Element selector: up to the security token (20 bytes).
pub const MACH_RCV_TRAILER_SENDER: mach_msg_trailer_info_t = 2;
/// Element selector: up to the audit token (52 bytes).
pub const MACH_RCV_TRAILER_AUDIT: mach_msg_trailer_info_t = 3;
/// Element selector: up to the context (60 bytes).
pub const MACH_RCV_TRAILER_CTX: mach_msg_trailer_info_t = 4;
/// Element selector: up to the MAC audit data (68 bytes).
pub const MACH_RCV_TRAILER_AV: mach_msg_trailer_info_t = 7;
/// Element selector: up to the MAC labels (68 bytes).
pub const MACH_RCV_TRAILER_LABELS: mach_msg_trailer_info_t = 8;

/// Trailer option bits as masked by XNU (`0x0f00_0000`, the elements field).
pub const MACH_RCV_TRAILER_MASK: mach_msg_option_t = 0x0f00_0000;
/// Trailer option mask of the NextBSD kernel (`0xff00_0000`, elements and type). Project-named.
pub const MACH_RCV_TRAILER_MASK_NEXTBSD: mach_msg_option_t = 0xff00_0000;

/// `MACH_RCV_TRAILER_TYPE(x)` = `(x & 0xf) << 28`.
#[inline]
pub const fn MACH_RCV_TRAILER_TYPE(x: mach_msg_trailer_type_t) -> mach_msg_option_t {
    (x & 0xf) << 28
}

/// `MACH_RCV_TRAILER_ELEMENTS(x)` = `(x & 0xf) << 24`.
#[inline]
pub const fn MACH_RCV_TRAILER_ELEMENTS(x: mach_msg_trailer_info_t) -> mach_msg_option_t {
    (x & 0xf) << 24
}

/// `GET_RCV_ELEMENTS(option)`: the element selector of a receive option.
#[inline]
pub const fn GET_RCV_ELEMENTS(option: mach_msg_option_t) -> mach_msg_trailer_info_t {
    (option >> 24) & 0xf
}

/// `REQUESTED_TRAILER_SIZE(option)`: elements 0/1/2/3/4/7 → 8/12/20/52/60/68, others → 68.
///
/// Receive buffer rule: `msgh_size + REQUESTED_TRAILER_SIZE(option) <= rcv_size`.
#[inline]
pub const fn REQUESTED_TRAILER_SIZE(option: mach_msg_option_t) -> mach_msg_size_t {
    match GET_RCV_ELEMENTS(option) {
        MACH_RCV_TRAILER_NULL => 8,
        MACH_RCV_TRAILER_SEQNO => 12,
        MACH_RCV_TRAILER_SENDER => 20,
        MACH_RCV_TRAILER_AUDIT => 52,
        MACH_RCV_TRAILER_CTX => 60,
        MACH_RCV_TRAILER_AV => 68,
        _ => MAX_TRAILER_SIZE,
    }
}

/// Minimal trailer (8 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Size of the trailer the kernel wrote.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
}

/// Trailer with sequence number (12 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_seqno_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Trailer size.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
    /// Port sequence number.
    pub msgh_seqno: mach_port_seqno_t,
}

/// Trailer with security token (20 bytes) = `mach_msg_format_0_trailer_t`.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_security_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Trailer size.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
    /// Port sequence number.
    pub msgh_seqno: mach_port_seqno_t,
    /// Sender security token.
    pub msgh_sender: security_token_t,
}

/// The format-0 trailer (= [`mach_msg_security_trailer_t`], 20 bytes).
pub type mach_msg_format_0_trailer_t = mach_msg_security_trailer_t;

/// Trailer with audit token (52 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_audit_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Trailer size.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
    /// Port sequence number.
    pub msgh_seqno: mach_port_seqno_t,
    /// Sender security token.
    pub msgh_sender: security_token_t,
    /// Sender audit token (offset 20).
    pub msgh_audit: audit_token_t,
}

/// Trailer with port context (60 bytes; `msgh_context` at 52, only 4-aligned).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_context_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Trailer size.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
    /// Port sequence number.
    pub msgh_seqno: mach_port_seqno_t,
    /// Sender security token.
    pub msgh_sender: security_token_t,
    /// Sender audit token.
    pub msgh_audit: audit_token_t,
    /// Receiving port's context (offset 52; read by value).
    pub msgh_context: mach_port_context_t,
}

/// MAC labels element of [`mach_msg_mac_trailer_t`].
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct msg_labels_t {
    /// Sender label handle.
    pub sender: mach_port_name_t,
}

/// Largest trailer (68 bytes = [`MAX_TRAILER_SIZE`]).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_msg_mac_trailer_t {
    /// Format (0).
    pub msgh_trailer_type: mach_msg_trailer_type_t,
    /// Trailer size.
    pub msgh_trailer_size: mach_msg_trailer_size_t,
    /// Port sequence number.
    pub msgh_seqno: mach_port_seqno_t,
    /// Sender security token.
    pub msgh_sender: security_token_t,
    /// Sender audit token.
    pub msgh_audit: audit_token_t,
    /// Receiving port's context.
    pub msgh_context: mach_port_context_t,
    /// MAC audit data (offset 60).
    pub msgh_ad: mach_msg_filter_id,
    /// MAC labels (offset 64).
    pub msgh_labels: msg_labels_t,
}

/// The maximum trailer (= [`mach_msg_mac_trailer_t`]).
pub type mach_msg_max_trailer_t = mach_msg_mac_trailer_t;

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<mach_msg_trailer_t>() == 8);
    assert!(offset_of!(mach_msg_trailer_t, msgh_trailer_type) == 0);
    assert!(offset_of!(mach_msg_trailer_t, msgh_trailer_size) == 4);

    assert!(size_of::<mach_msg_seqno_trailer_t>() == 12);
    assert!(offset_of!(mach_msg_seqno_trailer_t, msgh_seqno) == 8);

    assert!(size_of::<mach_msg_security_trailer_t>() == 20);
    assert!(offset_of!(mach_msg_security_trailer_t, msgh_seqno) == 8);
    assert!(offset_of!(mach_msg_security_trailer_t, msgh_sender) == 12);

    assert!(size_of::<mach_msg_audit_trailer_t>() == 52);
    assert!(offset_of!(mach_msg_audit_trailer_t, msgh_sender) == 12);
    assert!(offset_of!(mach_msg_audit_trailer_t, msgh_audit) == 20);

    assert!(size_of::<mach_msg_context_trailer_t>() == 60);
    assert!(align_of::<mach_msg_context_trailer_t>() == 4);
    assert!(offset_of!(mach_msg_context_trailer_t, msgh_audit) == 20);
    assert!(offset_of!(mach_msg_context_trailer_t, msgh_context) == 52);

    assert!(size_of::<msg_labels_t>() == 4);
    assert!(size_of::<mach_msg_mac_trailer_t>() == 68);
    assert!(align_of::<mach_msg_mac_trailer_t>() == 4);
    assert!(offset_of!(mach_msg_mac_trailer_t, msgh_audit) == 20);
    assert!(offset_of!(mach_msg_mac_trailer_t, msgh_context) == 52);
    assert!(offset_of!(mach_msg_mac_trailer_t, msgh_ad) == 60);
    assert!(offset_of!(mach_msg_mac_trailer_t, msgh_labels) == 64);
    assert!(size_of::<mach_msg_max_trailer_t>() == MAX_TRAILER_SIZE as usize);

    assert!(REQUESTED_TRAILER_SIZE(MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_NULL)) == 8);
    assert!(REQUESTED_TRAILER_SIZE(MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AV)) == 68);
};
