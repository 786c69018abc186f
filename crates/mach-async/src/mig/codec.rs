//! Byte-level MIG conventions: reading headers, the NDR record, reply headers and the
//! `mig_reply_error_t` error reply (`mig.md` §2, §4, §6).
//!
//! Everything here works on plain byte slices in native (little-endian) order, so the same code
//! serves the async runtime, tests and fuzzing. Offsets are those of the packed(4) C structs.

use mach_abi::{
    kern_return_t, mach_msg_header_t, mach_msg_id_t, mach_msg_size_t, mig_reply_error_t,
    NDR_record, MACH_MSGH_BITS, MACH_MSGH_BITS_REMOTE, MACH_MSG_TYPE_NONE,
};

/// Size of the message header.
pub const HEADER_SIZE: usize = 24;
/// Offset of the NDR record in a simple message (right after the header).
pub const NDR_OFFSET: usize = 24;
/// Offset of `RetCode` in a simple reply.
pub const RET_CODE_OFFSET: usize = 32;
/// Offset of the first out field of a simple success reply.
pub const SIMPLE_REPLY_OUTS_OFFSET: usize = 36;
/// Offset of the descriptor count of a complex message.
pub const DESCRIPTOR_COUNT_OFFSET: usize = 24;
/// Offset of the first descriptor of a complex message.
pub const FIRST_DESCRIPTOR_OFFSET: usize = 28;
/// Size of the error reply (`mig_reply_error_t`).
pub const ERROR_REPLY_SIZE: usize = core::mem::size_of::<mig_reply_error_t>();
/// What a reply id adds to the request id.
pub const REPLY_ID_OFFSET: mach_msg_id_t = 100;
/// The NDR record as it appears on the wire: `00 00 00 00 01 00 00 00`.
pub const NDR_BYTES: [u8; 8] = [
    NDR_record.mig_vers,
    NDR_record.if_vers,
    NDR_record.reserved1,
    NDR_record.mig_encoding,
    NDR_record.int_rep,
    NDR_record.char_rep,
    NDR_record.float_rep,
    NDR_record.reserved2,
];

/// `WALIGN(x)` = `(x + 3) & ~3`: the wire size of `x` bytes of inline data.
pub const fn walign(x: u32) -> u32 {
    x.wrapping_add(3) & !3
}

/// The reply id of a request id (`id + 100`, wrapping like the C arithmetic would).
pub const fn reply_id(request_id: mach_msg_id_t) -> mach_msg_id_t {
    request_id.wrapping_add(REPLY_ID_OFFSET)
}

/// Reads the `u32` at `offset`, or `None` if the slice is too short.
#[inline]
pub fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let end = offset.checked_add(4)?;
    let word = bytes.get(offset..end)?;
    Some(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]))
}

/// Reads the `i32` at `offset`, or `None` if the slice is too short.
#[inline]
pub fn read_i32(bytes: &[u8], offset: usize) -> Option<i32> {
    read_u32(bytes, offset).map(|w| w as i32)
}

/// Writes `value` at `offset`.
///
/// # Panics
/// If `bytes` is shorter than `offset + 4`; encoders size their buffers first.
#[inline]
pub fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
}

/// Writes `value` at `offset`.
///
/// # Panics
/// If `bytes` is shorter than `offset + 4`.
#[inline]
pub fn write_i32(bytes: &mut [u8], offset: usize, value: i32) {
    write_u32(bytes, offset, value as u32);
}

/// Decodes the 24-byte header at the start of `bytes`, or `None` if there are fewer than 24.
pub fn read_header(bytes: &[u8]) -> Option<mach_msg_header_t> {
    Some(mach_msg_header_t {
        msgh_bits: read_u32(bytes, 0)?,
        msgh_size: read_u32(bytes, 4)?,
        msgh_remote_port: read_u32(bytes, 8)?,
        msgh_local_port: read_u32(bytes, 12)?,
        msgh_voucher_port: read_u32(bytes, 16)?,
        msgh_id: read_i32(bytes, 20)?,
    })
}

/// Encodes `header` into the first 24 bytes of `bytes`.
///
/// # Panics
/// If `bytes` is shorter than 24.
pub fn write_header(bytes: &mut [u8], header: &mach_msg_header_t) {
    // Copy fields out of the packed struct by value.
    let mach_msg_header_t {
        msgh_bits,
        msgh_size,
        msgh_remote_port,
        msgh_local_port,
        msgh_voucher_port,
        msgh_id,
    } = *header;
    write_u32(bytes, 0, msgh_bits);
    write_u32(bytes, 4, msgh_size);
    write_u32(bytes, 8, msgh_remote_port);
    write_u32(bytes, 12, msgh_local_port);
    write_u32(bytes, 16, msgh_voucher_port);
    write_i32(bytes, 20, msgh_id);
}

/// The header a MIG demux prepares for the reply to `request` before any routine runs
/// (`mig.md` §6): bits `MACH_MSGH_BITS(remote label of the request, 0)` (normally `0x12`),
/// remote = the request's reply right (moved into the reply), local 0, voucher 0,
/// id = request id + 100, size 36 (the error form until a routine succeeds).
pub fn reply_header(request: &mach_msg_header_t) -> mach_msg_header_t {
    let bits = request.msgh_bits;
    mach_msg_header_t {
        msgh_bits: MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(bits), MACH_MSG_TYPE_NONE),
        msgh_size: ERROR_REPLY_SIZE as mach_msg_size_t,
        msgh_remote_port: request.msgh_remote_port,
        msgh_local_port: 0,
        msgh_voucher_port: 0,
        msgh_id: reply_id(request.msgh_id),
    }
}

/// The 36-byte error reply (`mig_reply_error_t`) to `request` carrying `code`: the reply header
/// of [`reply_header`], the NDR record at 24 and `RetCode` at 32.
pub fn error_reply(request: &mach_msg_header_t, code: kern_return_t) -> [u8; ERROR_REPLY_SIZE] {
    let mut bytes = [0u8; ERROR_REPLY_SIZE];
    write_header(&mut bytes, &reply_header(request));
    bytes[NDR_OFFSET..NDR_OFFSET + 8].copy_from_slice(&NDR_BYTES);
    write_i32(&mut bytes, RET_CODE_OFFSET, code);
    bytes
}

/// A simple success reply to `request`: reply header with `msgh_size` = 36 + `outs.len()`, NDR,
/// `RetCode` = 0, then `outs` (which must already be padded to a multiple of 4).
///
/// # Panics
/// If `outs.len()` is not a multiple of 4 (MIG messages always are).
pub fn simple_reply(request: &mach_msg_header_t, outs: &[u8]) -> Vec<u8> {
    assert!(
        outs.len() % 4 == 0,
        "MIG reply bodies are padded to 4 bytes"
    );
    let size = SIMPLE_REPLY_OUTS_OFFSET + outs.len();
    let mut bytes = vec![0u8; size];
    let mut header = reply_header(request);
    header.msgh_size = size as mach_msg_size_t;
    write_header(&mut bytes, &header);
    bytes[NDR_OFFSET..NDR_OFFSET + 8].copy_from_slice(&NDR_BYTES);
    write_i32(&mut bytes, RET_CODE_OFFSET, 0);
    bytes[SIMPLE_REPLY_OUTS_OFFSET..].copy_from_slice(outs);
    bytes
}

/// The body (everything after the header) of a reply carrying `code`: NDR, then `RetCode`,
/// then `outs` (already padded to a multiple of 4; empty for an error reply). A server that
/// builds its reply as a message fills the header in from the request's reply right.
///
/// # Panics
/// If `outs.len()` is not a multiple of 4 (MIG messages always are).
pub fn reply_body(code: kern_return_t, outs: &[u8]) -> Vec<u8> {
    assert!(
        outs.len() % 4 == 0,
        "MIG reply bodies are padded to 4 bytes"
    );
    let mut body = Vec::with_capacity(SIMPLE_REPLY_OUTS_OFFSET - HEADER_SIZE + outs.len());
    body.extend_from_slice(&NDR_BYTES);
    body.extend_from_slice(&code.to_ne_bytes());
    body.extend_from_slice(outs);
    body
}

/// Offset of the trailer of a message of `msgh_size` bytes: `(msgh_size + 3) & ~3`.
pub const fn trailer_offset(msgh_size: mach_msg_size_t) -> usize {
    walign(msgh_size) as usize
}

/// Whether a reply header's remote field names no right (nothing to send).
pub fn reply_has_destination(reply: &mach_msg_header_t) -> bool {
    reply.msgh_remote_port != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use mach_abi::{MACH_MSG_TYPE_PORT_SEND_ONCE, MIG_BAD_ID};

    fn received_request(id: mach_msg_id_t) -> mach_msg_header_t {
        mach_msg_header_t {
            // remote = send-once reply right (18), local = "port send" label (17).
            msgh_bits: 0x0000_1112,
            msgh_size: 24,
            msgh_remote_port: 0x33,
            msgh_local_port: 0x44,
            msgh_voucher_port: 0,
            msgh_id: id,
        }
    }

    #[test]
    fn ndr_bytes_are_the_little_endian_record() {
        assert_eq!(NDR_BYTES, [0, 0, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn walign_rounds_up_to_four() {
        assert_eq!(walign(0), 0);
        assert_eq!(walign(1), 4);
        assert_eq!(walign(5), 8);
        assert_eq!(walign(16), 16);
    }

    #[test]
    fn reply_header_follows_mig_section_6() {
        let reply = reply_header(&received_request(20001));
        assert_eq!({ reply.msgh_bits }, 0x12);
        assert_eq!(
            MACH_MSGH_BITS_REMOTE(reply.msgh_bits),
            MACH_MSG_TYPE_PORT_SEND_ONCE
        );
        assert_eq!({ reply.msgh_remote_port }, 0x33);
        assert_eq!({ reply.msgh_local_port }, 0);
        assert_eq!({ reply.msgh_voucher_port }, 0);
        assert_eq!({ reply.msgh_id }, 20101);
        assert_eq!({ reply.msgh_size }, 36);
    }

    #[test]
    fn reply_header_keeps_a_plain_send_label_and_drops_complex() {
        let mut request = received_request(7);
        request.msgh_bits = 0x8000_1111; // remote = send right (17), complex
        let reply = reply_header(&request);
        assert_eq!({ reply.msgh_bits }, 0x11);
    }

    #[test]
    fn error_reply_matches_the_worked_example() {
        // mig.md §13: unknown id 20002 → 36 bytes, id 20102, RetCode D1 FE FF FF.
        let bytes = error_reply(&received_request(20002), MIG_BAD_ID);
        assert_eq!(&bytes[0..4], &[0x12, 0, 0, 0]);
        assert_eq!(&bytes[4..8], &[36, 0, 0, 0]);
        assert_eq!(&bytes[8..12], &0x33u32.to_ne_bytes());
        assert_eq!(&bytes[12..20], &[0; 8]);
        assert_eq!(read_i32(&bytes, 20), Some(20102));
        assert_eq!(&bytes[24..32], &NDR_BYTES);
        assert_eq!(&bytes[32..36], &[0xD1, 0xFE, 0xFF, 0xFF]);
    }

    #[test]
    fn simple_reply_sets_size_ndr_and_zero_retcode() {
        let bytes = simple_reply(&received_request(20000), &3i32.to_ne_bytes());
        assert_eq!(bytes.len(), 40);
        assert_eq!(read_u32(&bytes, 4), Some(40));
        assert_eq!(read_i32(&bytes, 20), Some(20100));
        assert_eq!(&bytes[24..32], &NDR_BYTES);
        assert_eq!(read_i32(&bytes, 32), Some(0));
        assert_eq!(read_i32(&bytes, 36), Some(3));
    }

    #[test]
    fn reply_body_is_the_reply_after_its_header() {
        let request = received_request(20001);
        assert_eq!(
            reply_body(MIG_BAD_ID, &[]),
            error_reply(&request, MIG_BAD_ID)[HEADER_SIZE..]
        );
        let outs = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            reply_body(0, &outs),
            simple_reply(&request, &outs)[HEADER_SIZE..]
        );
    }

    #[test]
    #[should_panic(expected = "padded to 4 bytes")]
    fn reply_body_refuses_unpadded_outs() {
        reply_body(0, &[1, 2, 3]);
    }

    #[test]
    fn header_round_trips_through_bytes() {
        let header = received_request(-5);
        let mut bytes = [0u8; 24];
        write_header(&mut bytes, &header);
        assert_eq!(read_header(&bytes), Some(header));
        assert_eq!(read_header(&bytes[..23]), None);
    }

    #[test]
    fn reads_past_the_end_are_none() {
        assert_eq!(read_u32(&[1, 2, 3], 0), None);
        assert_eq!(read_u32(&[0; 8], usize::MAX - 1), None);
    }

    #[test]
    fn reply_id_wraps_instead_of_overflowing() {
        assert_eq!(reply_id(i32::MAX), i32::MIN + 99);
    }
}
