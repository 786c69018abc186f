//! Message layouts of NextBSD's `config.defs` (spec §4.4), as `#[repr(C, packed(4))]` mirrors of
//! the structures `migcom` generates, with compile-time size and offset assertions.
//!
//! Messages with variable inline arrays (`array[*:8192] of byte`) are mirrored in their **maximum**
//! form: the C structure reserves 8192 bytes per array, but the wire is packed tight, so fields
//! after the first array move with its count. The `*_size` functions give the exact wire size for
//! given counts; the codec never reads these structures for variable messages, it only uses them
//! to pin sizes and the offsets of the fixed prefix.

#![allow(non_snake_case)]

use mach_abi::{mach_msg_body_t, mach_msg_header_t, mach_msg_port_descriptor_t, NDR_record_t};

use super::keylist::CONFIG_DATA_MAX;

/// Size of a message header.
pub const HEADER_SIZE: usize = 24;
/// Size of the NDR record.
pub const NDR_SIZE: usize = 8;
/// Offset of the NDR record in a simple message.
pub const SIMPLE_NDR_OFFSET: usize = 24;
/// Offset of the NDR record in a complex message with one port descriptor.
pub const COMPLEX_NDR_OFFSET: usize = 40;
/// Offset of the first inline field of a simple request (after header and NDR).
pub const REQUEST_FIELDS_OFFSET: usize = 32;
/// Offset of `RetCode` in a simple reply.
pub const RETCODE_OFFSET: usize = 32;
/// Offset of the first out field of a simple reply (after `RetCode`).
pub const REPLY_FIELDS_OFFSET: usize = 36;
/// Size of the MIG error reply (`mig_reply_error_t`).
pub const ERROR_REPLY_SIZE: usize = 36;

/// `(n + 3) & !3`: the wire size of an inline array of `n` bytes.
pub const fn r(n: usize) -> usize {
    (n + 3) & !3
}

/// A bounded inline byte array in its C (maximum) form: count, then 8192 bytes.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct InlineData {
    /// Element count (`xxxCnt`).
    pub cnt: u32,
    /// Data; only `cnt` bytes (padded to 4) travel.
    pub data: [u8; CONFIG_DATA_MAX],
}

/// configopen request (20000), maximum form: `name`, `options`.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct ConfigOpenRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// Session name (ignored by NextBSD configd).
    pub name: InlineData,
    /// Options (ignored by NextBSD configd).
    pub options: InlineData,
}

/// configopen reply (20100): complex, the session send right in a port descriptor.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct ConfigOpenReply {
    /// Header (COMPLEX).
    pub Head: mach_msg_header_t,
    /// Descriptor count (1).
    pub msgh_body: mach_msg_body_t,
    /// The session port (`MOVE_SEND`).
    pub session: mach_msg_port_descriptor_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// SC status.
    pub status: i32,
}

/// A request whose only argument is one key (configget, configremove, confignotify), maximum form.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct KeyRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The key.
    pub key: InlineData,
}

/// A request of one key and a trailing `int` (configlist's `isRegex`, notifyadd/remove), maximum
/// form. The `int` follows the padded key on the wire.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct KeyIntRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The key or pattern.
    pub key: InlineData,
    /// `isRegex`.
    pub value: i32,
}

/// A request of two arrays (configadd, configadd_s: key+data; notifyset, configget_m:
/// keys+patterns; configopen has the same shape), maximum form.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct TwoArrayRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// First array.
    pub first: InlineData,
    /// Second array.
    pub second: InlineData,
}

/// configset request (20011), maximum form: key, data, instance.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct ConfigSetRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The key.
    pub key: InlineData,
    /// The value.
    pub data: InlineData,
    /// Instance (ignored).
    pub instance: i32,
}

/// configset_m request (20017), maximum form: data (kv map), remove (list), notify (list).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct ConfigSetMRequest {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// Key/value map to set.
    pub data: InlineData,
    /// Keys to remove.
    pub remove: InlineData,
    /// Keys to notify.
    pub notify: InlineData,
}

/// notifyviaport request (20021): complex, the notify port (`MOVE_SEND`) and `msgid`.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyViaPortRequest {
    /// Header (COMPLEX).
    pub Head: mach_msg_header_t,
    /// Descriptor count (1).
    pub msgh_body: mach_msg_body_t,
    /// The notify port.
    pub port: mach_msg_port_descriptor_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// Must be 0.
    pub msgid: i32,
}

/// A request with no argument besides the server port (notifychanges, notifycancel, snapshot).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyRequest {
    /// Header.
    pub Head: mach_msg_header_t,
}

/// The common reply: `RetCode`, `status` (configremove, confignotify, configset_m, notify*).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct StatusReply {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// MIG return code.
    pub RetCode: i32,
    /// SC status.
    pub status: i32,
}

/// configadd / configset / configadd_s reply: `newInstance`, `status`.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct InstanceReply {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// MIG return code.
    pub RetCode: i32,
    /// Always 0 from NextBSD configd.
    pub newInstance: i32,
    /// SC status.
    pub status: i32,
}

/// A reply with one data array then `status` (configlist, notifychanges, configget_m), maximum form.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct DataReply {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// MIG return code.
    pub RetCode: i32,
    /// The list or map.
    pub data: InlineData,
    /// SC status.
    pub status: i32,
}

/// configget reply (20110), maximum form: data, newInstance, status.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct ConfigGetReply {
    /// Header.
    pub Head: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// MIG return code.
    pub RetCode: i32,
    /// The value.
    pub data: InlineData,
    /// Always 0 from NextBSD configd.
    pub newInstance: i32,
    /// SC status.
    pub status: i32,
}

/// Minimum size of a simple message with `arrays` inline arrays and `ints` 4-byte scalars after
/// the NDR record (every array empty). Replies count `RetCode` among `ints`.
pub const fn fixed_min(arrays: usize, ints: usize) -> usize {
    HEADER_SIZE + NDR_SIZE + 4 * arrays + 4 * ints
}

/// Exact wire size of a simple message whose inline arrays have byte counts `counts`, with `ints`
/// 4-byte scalars.
pub fn simple_size(counts: &[usize], ints: usize) -> usize {
    fixed_min(counts.len(), ints) + counts.iter().map(|&n| r(n)).sum::<usize>()
}

/// configopen request size: `40 + r(n) + r(o)`.
pub const fn configopen_request_size(name: usize, options: usize) -> usize {
    40 + r(name) + r(options)
}
/// configlist / notifyadd / notifyremove request size: `40 + r(k)`.
pub const fn key_int_request_size(key: usize) -> usize {
    40 + r(key)
}
/// configget / configremove / confignotify request size: `36 + r(k)`.
pub const fn key_request_size(key: usize) -> usize {
    36 + r(key)
}
/// configadd / notifyset / configget_m request size: `40 + r(a) + r(b)`.
pub const fn two_array_request_size(a: usize, b: usize) -> usize {
    40 + r(a) + r(b)
}
/// configset request size: `44 + r(k) + r(d)`.
pub const fn configset_request_size(key: usize, data: usize) -> usize {
    44 + r(key) + r(data)
}
/// configset_m request size: `44 + r(a) + r(b) + r(c)`.
pub const fn configset_m_request_size(a: usize, b: usize, c: usize) -> usize {
    44 + r(a) + r(b) + r(c)
}
/// configlist / notifychanges / configget_m reply size: `44 + r(n)`.
pub const fn data_reply_size(n: usize) -> usize {
    44 + r(n)
}
/// configget reply size: `48 + r(d)`.
pub const fn configget_reply_size(d: usize) -> usize {
    48 + r(d)
}

const _: () = {
    use core::mem::{offset_of, size_of};
    let max = CONFIG_DATA_MAX;

    assert!(size_of::<InlineData>() == 4 + CONFIG_DATA_MAX);

    // configopen: 32 nameCnt, 36 name; ≤ 16 424.
    assert!(offset_of!(ConfigOpenRequest, NDR) == 24);
    assert!(offset_of!(ConfigOpenRequest, name) == 32);
    assert!(size_of::<ConfigOpenRequest>() == 16_424);
    assert!(configopen_request_size(max, max) == 16_424);
    assert!(configopen_request_size(0, 0) == 40);
    assert!(configopen_request_size(1, 5) == 52);

    // configopen reply: 24 body, 28 descriptor, 40 NDR, 48 status; 52.
    assert!(size_of::<ConfigOpenReply>() == 52);
    assert!(offset_of!(ConfigOpenReply, msgh_body) == 24);
    assert!(offset_of!(ConfigOpenReply, session) == 28);
    assert!(offset_of!(ConfigOpenReply, NDR) == COMPLEX_NDR_OFFSET);
    assert!(offset_of!(ConfigOpenReply, status) == 48);

    // Key requests.
    assert!(offset_of!(KeyRequest, key) == 32);
    assert!(size_of::<KeyRequest>() == key_request_size(max));
    assert!(key_request_size(0) == 36);
    assert!(offset_of!(KeyIntRequest, key) == 32);
    assert!(size_of::<KeyIntRequest>() == key_int_request_size(max));
    assert!(offset_of!(TwoArrayRequest, first) == 32);
    assert!(size_of::<TwoArrayRequest>() == two_array_request_size(max, max));
    assert!(two_array_request_size(max, max) == 16_424);
    assert!(size_of::<ConfigSetRequest>() == configset_request_size(max, max));
    assert!(size_of::<ConfigSetMRequest>() == configset_m_request_size(max, max, max));

    // notifyviaport: 24 body, 28 descriptor, 40 NDR, 48 msgid; 52 exactly.
    assert!(size_of::<NotifyViaPortRequest>() == 52);
    assert!(offset_of!(NotifyViaPortRequest, port) == 28);
    assert!(offset_of!(NotifyViaPortRequest, NDR) == COMPLEX_NDR_OFFSET);
    assert!(offset_of!(NotifyViaPortRequest, msgid) == 48);
    assert!(size_of::<mach_msg_port_descriptor_t>() == 12);

    // Header-only requests: 24.
    assert!(size_of::<EmptyRequest>() == HEADER_SIZE);

    // Replies.
    assert!(size_of::<StatusReply>() == 40);
    assert!(offset_of!(StatusReply, RetCode) == RETCODE_OFFSET);
    assert!(offset_of!(StatusReply, status) == 36);
    assert!(size_of::<InstanceReply>() == 44);
    assert!(offset_of!(InstanceReply, newInstance) == 36);
    assert!(offset_of!(InstanceReply, status) == 40);
    assert!(offset_of!(DataReply, data) == 36);
    assert!(size_of::<DataReply>() == data_reply_size(max));
    assert!(data_reply_size(max) == 8_236);
    assert!(data_reply_size(0) == 44);
    assert!(offset_of!(ConfigGetReply, data) == 36);
    assert!(size_of::<ConfigGetReply>() == configget_reply_size(max));
    assert!(configget_reply_size(0) == 48);
    assert!(size_of::<mach_abi::mig_reply_error_t>() == ERROR_REPLY_SIZE);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_sizes_pad_each_array_to_four() {
        assert_eq!(r(0), 0);
        assert_eq!(r(1), 4);
        assert_eq!(r(4), 4);
        assert_eq!(r(5), 8);
        assert_eq!(simple_size(&[3, 5], 0), 40 + 4 + 8);
        assert_eq!(simple_size(&[3, 5], 0), two_array_request_size(3, 5));
        assert_eq!(simple_size(&[7], 1), key_int_request_size(7));
        assert_eq!(simple_size(&[7], 0), key_request_size(7));
        assert_eq!(simple_size(&[2, 9], 1), configset_request_size(2, 9));
        assert_eq!(
            simple_size(&[1, 2, 3], 0),
            configset_m_request_size(1, 2, 3)
        );
        // Replies: RetCode + status (+ newInstance) are scalars.
        assert_eq!(simple_size(&[10], 2), data_reply_size(10));
        assert_eq!(simple_size(&[10], 3), configget_reply_size(10));
        assert_eq!(simple_size(&[], 2), 40);
        assert_eq!(simple_size(&[], 3), 44);
    }
}
