//! The checks a generated MIG server runs on a request (`mig.md` §8) and a generated client runs
//! on a reply (`mig.md` §9), as pure functions over received message bytes.
//!
//! A routine describes its messages with a [`RequestShape`] / [`ReplyShape`]; the checks run in
//! the order the generated stubs use, and the first failure wins.

use mach_abi::{
    audit_token_t, kern_return_t, mach_msg_id_t, mach_msg_size_t, MACH_MSGH_BITS_IS_COMPLEX,
    MACH_MSG_OOL_DESCRIPTOR, MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
    MACH_MSG_PORT_DESCRIPTOR, MACH_MSG_TRAILER_FORMAT_0, MACH_NOTIFY_SEND_ONCE,
};

use super::codec::{
    read_header, read_i32, read_u32, reply_id, trailer_offset, walign, DESCRIPTOR_COUNT_OFFSET,
    ERROR_REPLY_SIZE, FIRST_DESCRIPTOR_OFFSET, RET_CODE_OFFSET,
};
use super::error::MigError;

/// Size of the audit trailer a routine that authorizes callers needs (`mig.md` §11: the
/// generated test demands only 32, a Rust check requires the whole 52-byte trailer).
pub const AUDIT_TRAILER_SIZE: u32 = 52;
/// Offset of the audit token inside the trailer.
const AUDIT_TOKEN_OFFSET: usize = 20;

/// One descriptor a routine expects, in argument order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorSpec {
    /// A port descriptor whose received label must be `label` (17 for any send-right argument,
    /// 18 for send-once, 16 for receive).
    Port {
        /// The `MACH_MSG_TYPE_PORT_*` label expected in the `disposition` byte.
        label: u8,
    },
    /// An OOL memory descriptor whose `size` must equal the `u32` count at `count_offset`.
    Ool {
        /// Offset (from the message start) of the inline `xxxCnt` field.
        count_offset: usize,
    },
    /// An OOL ports descriptor with the given label; its `count` must equal the inline count.
    OolPorts {
        /// The label of every port in the array.
        label: u8,
        /// Offset of the inline `xxxCnt` field.
        count_offset: usize,
    },
}

impl DescriptorSpec {
    /// Wire size of this descriptor (LP64): port 12, OOL and OOL ports 16.
    pub const fn wire_size(&self) -> usize {
        match self {
            DescriptorSpec::Port { .. } => 12,
            DescriptorSpec::Ool { .. } | DescriptorSpec::OolPorts { .. } => 16,
        }
    }
}

/// How big a message must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeRule {
    /// Exactly this many bytes.
    Exact(mach_msg_size_t),
    /// One trailing bounded inline array `array[*:max_count] of T` (`mig.md` §5): the wire
    /// size is `fixed_min + WALIGN(count * elem_size)` with the count at `count_offset`.
    InlineArray {
        /// Size without the array's data.
        fixed_min: mach_msg_size_t,
        /// Offset of the `xxxCnt` field.
        count_offset: usize,
        /// Bytes per element.
        elem_size: mach_msg_size_t,
        /// The bound `M`.
        max_count: mach_msg_size_t,
    },
}

impl SizeRule {
    /// Smallest valid size.
    pub const fn min(&self) -> mach_msg_size_t {
        match *self {
            SizeRule::Exact(size) => size,
            SizeRule::InlineArray { fixed_min, .. } => fixed_min,
        }
    }

    /// Largest valid size.
    pub const fn max(&self) -> mach_msg_size_t {
        match *self {
            SizeRule::Exact(size) => size,
            SizeRule::InlineArray {
                fixed_min,
                elem_size,
                max_count,
                ..
            } => fixed_min.saturating_add(walign(max_count.saturating_mul(elem_size))),
        }
    }

    fn in_range(&self, size: mach_msg_size_t) -> bool {
        size >= self.min() && size <= self.max()
    }

    /// Checks 6 and 7 of `mig.md` §8 (and step 5 of §9) for an inline array: the count is
    /// within its bound and the size is exactly `fixed_min + WALIGN(count * elem)`.
    fn array_consistent(&self, bytes: &[u8], size: mach_msg_size_t) -> Result<(), ArrayFault> {
        let SizeRule::InlineArray {
            fixed_min,
            count_offset,
            elem_size,
            max_count,
        } = *self
        else {
            return Ok(());
        };
        let count = read_u32(bytes, count_offset).ok_or(ArrayFault::Size)?;
        if count > max_count {
            return Err(ArrayFault::Count);
        }
        // count <= max_count, so this cannot overflow beyond max() which fits in u32.
        let data = count * elem_size;
        if size - fixed_min < data || size != fixed_min + walign(data) {
            return Err(ArrayFault::Size);
        }
        Ok(())
    }
}

enum ArrayFault {
    Count,
    Size,
}

/// The body kind of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// No descriptors; COMPLEX must be clear.
    Simple,
    /// COMPLEX must be set and the descriptors must match, in order.
    Complex(&'static [DescriptorSpec]),
}

/// What a routine's request must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestShape {
    /// Simple or complex, with descriptors.
    pub body: Body,
    /// The size rule.
    pub size: SizeRule,
    /// Whether the routine takes a `ServerAuditToken` (the audit trailer is then required).
    pub audit_token: bool,
}

impl RequestShape {
    /// A simple request of exactly `size` bytes with no trailer argument.
    pub const fn simple(size: mach_msg_size_t) -> RequestShape {
        RequestShape {
            body: Body::Simple,
            size: SizeRule::Exact(size),
            audit_token: false,
        }
    }
}

/// What a request passed to its routine after the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CheckedRequest {
    /// The sender's audit token, present when the shape asked for it and the trailer had it.
    pub audit_token: Option<audit_token_t>,
}

fn descriptors_match(bytes: &[u8], specs: &[DescriptorSpec]) -> Result<(), MigError> {
    let mut offset = FIRST_DESCRIPTOR_OFFSET;
    for spec in specs {
        // Checked by the caller's size test; a short buffer still fails closed.
        let desc = bytes
            .get(offset..offset + spec.wire_size())
            .ok_or(MigError::TypeError)?;
        let (kind, disposition) = (desc[11], desc[10]);
        match *spec {
            DescriptorSpec::Port { label } => {
                if kind != MACH_MSG_PORT_DESCRIPTOR || disposition != label {
                    return Err(MigError::TypeError);
                }
            }
            DescriptorSpec::Ool { count_offset } => {
                if kind != MACH_MSG_OOL_DESCRIPTOR && kind != MACH_MSG_OOL_VOLATILE_DESCRIPTOR {
                    return Err(MigError::TypeError);
                }
                let size = read_u32(desc, 12).ok_or(MigError::TypeError)?;
                if Some(size) != read_u32(bytes, count_offset) {
                    return Err(MigError::TypeError);
                }
            }
            DescriptorSpec::OolPorts {
                label,
                count_offset,
            } => {
                if kind != MACH_MSG_OOL_PORTS_DESCRIPTOR || disposition != label {
                    return Err(MigError::TypeError);
                }
                let count = read_u32(desc, 12).ok_or(MigError::TypeError)?;
                if Some(count) != read_u32(bytes, count_offset) {
                    return Err(MigError::TypeError);
                }
            }
        }
        offset += spec.wire_size();
    }
    Ok(())
}

/// Runs the server-side checks of `mig.md` §8 on a received request, in order: complex bit and
/// descriptor count (1, 1'), size (2, 2'), descriptor types, labels and OOL sizes (3–5), inline
/// array count and size (6, 7), trailer (8, 9).
///
/// `bytes` is the received buffer: the message (`msgh_size` bytes) followed by the trailer the
/// kernel appended. The routine-id check (`MIG_BAD_ID`) belongs to the dispatcher, not here.
///
/// A buffer shorter than its own `msgh_size` (which the kernel never delivers) fails with
/// `MIG_BAD_ARGUMENTS`.
pub fn check_request(bytes: &[u8], shape: &RequestShape) -> Result<CheckedRequest, MigError> {
    let header = read_header(bytes).ok_or(MigError::BadArguments)?;
    let size = header.msgh_size;
    if (size as usize) > bytes.len() {
        return Err(MigError::BadArguments);
    }
    let complex = MACH_MSGH_BITS_IS_COMPLEX(header.msgh_bits);
    match shape.body {
        Body::Simple if complex => return Err(MigError::BadArguments),
        Body::Complex(specs) => {
            if !complex {
                return Err(MigError::BadArguments);
            }
            match read_u32(bytes, DESCRIPTOR_COUNT_OFFSET) {
                Some(count) if count as usize == specs.len() => {}
                _ => return Err(MigError::BadArguments),
            }
        }
        Body::Simple => {}
    }
    if !shape.size.in_range(size) {
        return Err(MigError::BadArguments);
    }
    if let Body::Complex(specs) = shape.body {
        descriptors_match(bytes, specs)?;
    }
    if shape.size.array_consistent(bytes, size).is_err() {
        return Err(MigError::BadArguments);
    }
    let audit_token = if shape.audit_token {
        Some(audit_token_from_trailer(bytes, size)?)
    } else {
        None
    };
    Ok(CheckedRequest { audit_token })
}

/// Checks 8 and 9 of `mig.md` §8 and returns the audit token: the trailer at
/// `(msgh_size + 3) & ~3` must be format 0 and at least [`AUDIT_TRAILER_SIZE`] bytes long
/// (and actually present in `bytes`), otherwise `MIG_TRAILER_ERROR`.
pub fn audit_token_from_trailer(
    bytes: &[u8],
    msgh_size: mach_msg_size_t,
) -> Result<audit_token_t, MigError> {
    let at = trailer_offset(msgh_size);
    let kind = read_u32(bytes, at).ok_or(MigError::TrailerError)?;
    let size = read_u32(bytes, at + 4).ok_or(MigError::TrailerError)?;
    if kind != MACH_MSG_TRAILER_FORMAT_0 || size < AUDIT_TRAILER_SIZE {
        return Err(MigError::TrailerError);
    }
    let mut token = audit_token_t::default();
    for (i, word) in token.val.iter_mut().enumerate() {
        *word = read_u32(bytes, at + AUDIT_TOKEN_OFFSET + 4 * i).ok_or(MigError::TrailerError)?;
    }
    Ok(token)
}

/// What a routine's reply must look like, as a client checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyShape {
    /// Simple (with `RetCode` at 32) or complex (success only, no `RetCode`).
    pub body: Body,
    /// The size rule of the success form.
    pub size: SizeRule,
}

impl ReplyShape {
    /// A simple reply of exactly `size` bytes.
    pub const fn simple(size: mach_msg_size_t) -> ReplyShape {
        ReplyShape {
            body: Body::Simple,
            size: SizeRule::Exact(size),
        }
    }
}

/// Runs the client-side checks of `mig.md` §9 on a received reply to request id `request_id`,
/// in order: id (→ `MIG_SERVER_DIED` for the send-once notification, else
/// `MIG_REPLY_MISMATCH`), shape (→ `MIG_TYPE_ERROR` unless it is the 36-byte error form with a
/// non-zero `RetCode`), remote port zero (→ `MIG_TYPE_ERROR`), `RetCode` (→ the server's code),
/// descriptors and inline arrays (→ `MIG_TYPE_ERROR`).
///
/// `Ok(())` means the reply is a well-formed success and its out fields may be read. On any
/// error the caller must destroy the reply (it may carry rights).
pub fn check_reply(
    bytes: &[u8],
    request_id: mach_msg_id_t,
    shape: &ReplyShape,
) -> Result<(), MigError> {
    let header = read_header(bytes).ok_or(MigError::TypeError)?;
    let id = header.msgh_id;
    if id != reply_id(request_id) {
        return Err(if id == MACH_NOTIFY_SEND_ONCE {
            MigError::ServerDied
        } else {
            MigError::ReplyMismatch
        });
    }
    let size = header.msgh_size;
    if (size as usize) > bytes.len() {
        return Err(MigError::TypeError);
    }
    let complex = MACH_MSGH_BITS_IS_COMPLEX(header.msgh_bits);
    // The 36-byte error form carries a non-zero RetCode and is accepted for every routine.
    let error_code: Option<kern_return_t> = if !complex && size as usize == ERROR_REPLY_SIZE {
        read_i32(bytes, RET_CODE_OFFSET).filter(|&code| code != 0)
    } else {
        None
    };
    let success_shape = match shape.body {
        Body::Simple => !complex && shape.size.in_range(size),
        Body::Complex(specs) => {
            complex
                && read_u32(bytes, DESCRIPTOR_COUNT_OFFSET) == Some(specs.len() as u32)
                && shape.size.in_range(size)
        }
    };
    if !success_shape && error_code.is_none() {
        return Err(MigError::TypeError);
    }
    if header.msgh_remote_port != 0 {
        return Err(MigError::TypeError);
    }
    if let Some(code) = error_code {
        return Err(MigError::from_code(code));
    }
    match shape.body {
        Body::Simple => {
            let code = read_i32(bytes, RET_CODE_OFFSET).ok_or(MigError::TypeError)?;
            if code != 0 {
                return Err(MigError::from_code(code));
            }
        }
        Body::Complex(specs) => descriptors_match(bytes, specs)?,
    }
    shape
        .size
        .array_consistent(bytes, size)
        .map_err(|_| MigError::TypeError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mig::codec::{error_reply, simple_reply, write_header, write_u32, NDR_BYTES};
    use mach_abi::{
        mach_msg_header_t, MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND_ONCE,
        MIG_BAD_ARGUMENTS, MIG_BAD_ID,
    };

    fn header(bits: u32, size: u32, id: i32) -> mach_msg_header_t {
        mach_msg_header_t {
            msgh_bits: bits,
            msgh_size: size,
            msgh_remote_port: 0x21,
            msgh_local_port: 0x10,
            msgh_voucher_port: 0,
            msgh_id: id,
        }
    }

    /// A received message of `size` bytes followed by a trailer of `trailer_size` bytes whose
    /// audit token is `1..=8`.
    fn received(bits: u32, size: u32, id: i32, trailer_size: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; walign(size) as usize + trailer_size.max(8) as usize];
        write_header(&mut bytes, &header(bits, size, id));
        if size >= 32 {
            bytes[24..32].copy_from_slice(&NDR_BYTES);
        }
        let at = walign(size) as usize;
        write_u32(&mut bytes, at, 0);
        write_u32(&mut bytes, at + 4, trailer_size);
        if trailer_size >= 52 {
            for i in 0..8 {
                write_u32(&mut bytes, at + 20 + 4 * i, i as u32 + 1);
            }
        }
        bytes
    }

    const SIMPLE_48: RequestShape = RequestShape::simple(48);

    #[test]
    fn simple_request_of_exact_size_passes() {
        let bytes = received(0x1112, 48, 20001, 8);
        assert_eq!(
            check_request(&bytes, &SIMPLE_48),
            Ok(CheckedRequest::default())
        );
    }

    #[test]
    fn complex_bit_on_a_simple_routine_is_bad_arguments() {
        let bytes = received(0x8000_1112, 48, 20001, 8);
        assert_eq!(
            check_request(&bytes, &SIMPLE_48),
            Err(MigError::BadArguments)
        );
    }

    #[test]
    fn wrong_size_is_bad_arguments() {
        for size in [24, 44, 52] {
            let bytes = received(0x1112, size, 20001, 8);
            assert_eq!(
                check_request(&bytes, &SIMPLE_48),
                Err(MigError::BadArguments),
                "{size}"
            );
        }
    }

    #[test]
    fn buffer_shorter_than_msgh_size_is_bad_arguments() {
        let bytes = received(0x1112, 48, 20001, 8);
        assert_eq!(
            check_request(&bytes[..40], &SIMPLE_48),
            Err(MigError::BadArguments)
        );
        assert_eq!(
            check_request(&bytes[..10], &SIMPLE_48),
            Err(MigError::BadArguments)
        );
    }

    static ONE_SEND: [DescriptorSpec; 1] = [DescriptorSpec::Port { label: 17 }];
    const COMPLEX_PORT: RequestShape = RequestShape {
        body: Body::Complex(&ONE_SEND),
        size: SizeRule::Exact(40),
        audit_token: false,
    };

    fn port_request(count: u32, kind: u8, label: u8) -> Vec<u8> {
        let mut bytes = received(0x8000_1112, 40, 500, 8);
        write_u32(&mut bytes, 24, count);
        write_u32(&mut bytes, 28, 0x99);
        bytes[38] = label;
        bytes[39] = kind;
        bytes
    }

    #[test]
    fn complex_request_checks_run_in_order() {
        assert_eq!(
            check_request(&port_request(1, 0, 17), &COMPLEX_PORT),
            Ok(Default::default())
        );
        // 1': missing COMPLEX
        let mut simple = port_request(1, 0, 17);
        write_u32(&mut simple, 0, 0x1112);
        assert_eq!(
            check_request(&simple, &COMPLEX_PORT),
            Err(MigError::BadArguments)
        );
        // 1': descriptor count
        assert_eq!(
            check_request(&port_request(2, 0, 17), &COMPLEX_PORT),
            Err(MigError::BadArguments)
        );
        // 3: descriptor type
        assert_eq!(
            check_request(&port_request(1, 1, 17), &COMPLEX_PORT),
            Err(MigError::TypeError)
        );
        // 4: label
        assert_eq!(
            check_request(&port_request(1, 0, 18), &COMPLEX_PORT),
            Err(MigError::TypeError)
        );
    }

    static ONE_OOL: [DescriptorSpec; 1] = [DescriptorSpec::Ool { count_offset: 52 }];

    #[test]
    fn ool_size_must_equal_the_inline_count() {
        let shape = RequestShape {
            body: Body::Complex(&ONE_OOL),
            size: SizeRule::Exact(56),
            audit_token: false,
        };
        let mut bytes = received(0x8000_1112, 56, 20004, 8);
        write_u32(&mut bytes, 24, 1);
        bytes[39] = MACH_MSG_OOL_DESCRIPTOR;
        write_u32(&mut bytes, 40, 100);
        write_u32(&mut bytes, 52, 100);
        assert_eq!(check_request(&bytes, &shape), Ok(Default::default()));
        write_u32(&mut bytes, 52, 99);
        assert_eq!(check_request(&bytes, &shape), Err(MigError::TypeError));
    }

    const ARRAY: SizeRule = SizeRule::InlineArray {
        fixed_min: 36,
        count_offset: 32,
        elem_size: 1,
        max_count: 16,
    };

    #[test]
    fn inline_array_bounds_and_size() {
        let shape = RequestShape {
            body: Body::Simple,
            size: ARRAY,
            audit_token: false,
        };
        let with = |size: u32, count: u32| {
            let mut bytes = received(0x1112, size, 1, 8);
            write_u32(&mut bytes, 32, count);
            bytes
        };
        assert_eq!(check_request(&with(36, 0), &shape), Ok(Default::default()));
        assert_eq!(check_request(&with(40, 3), &shape), Ok(Default::default()));
        assert_eq!(check_request(&with(52, 16), &shape), Ok(Default::default()));
        // 2': outside [min, max]
        assert_eq!(
            check_request(&with(56, 16), &shape),
            Err(MigError::BadArguments)
        );
        // 6: count above the bound
        assert_eq!(
            check_request(&with(52, 17), &shape),
            Err(MigError::BadArguments)
        );
        // 7: size disagrees with count
        assert_eq!(
            check_request(&with(44, 3), &shape),
            Err(MigError::BadArguments)
        );
        assert_eq!(
            check_request(&with(36, 1), &shape),
            Err(MigError::BadArguments)
        );
    }

    #[test]
    fn audit_trailer_is_required_and_decoded() {
        let shape = RequestShape {
            audit_token: true,
            ..SIMPLE_48
        };
        let ok = received(0x1112, 48, 20004, 52);
        let token = check_request(&ok, &shape).unwrap().audit_token.unwrap();
        assert_eq!(token.val, [1, 2, 3, 4, 5, 6, 7, 8]);
        // 9: the kernel wrote only the minimum trailer
        let short = received(0x1112, 48, 20004, 8);
        assert_eq!(check_request(&short, &shape), Err(MigError::TrailerError));
        // 9 (Rust rule): 32 would pass a C stub but not us
        let mut partial = received(0x1112, 48, 20004, 52);
        write_u32(&mut partial, 52, 32);
        assert_eq!(check_request(&partial, &shape), Err(MigError::TrailerError));
        // 8: wrong format
        let mut format = received(0x1112, 48, 20004, 52);
        write_u32(&mut format, 48, 1);
        assert_eq!(check_request(&format, &shape), Err(MigError::TrailerError));
        // trailer claims 52 bytes but the buffer ends early
        assert_eq!(
            check_request(&ok[..ok.len() - 4], &shape),
            Err(MigError::TrailerError)
        );
    }

    fn request_header(id: i32) -> mach_msg_header_t {
        mach_msg_header_t {
            msgh_bits: 0x1112,
            msgh_size: 24,
            msgh_remote_port: 0x21,
            msgh_local_port: 0x10,
            msgh_voucher_port: 0,
            msgh_id: id,
        }
    }

    /// A reply as the client receives it: remote 0, local = its reply port, label 18.
    fn as_received(mut bytes: Vec<u8>) -> Vec<u8> {
        let bits = read_u32(&bytes, 0).unwrap();
        write_u32(&mut bytes, 0, bits << 8);
        write_u32(&mut bytes, 8, 0);
        write_u32(&mut bytes, 12, 0x40);
        bytes.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        bytes
    }

    const REPLY_44: ReplyShape = ReplyShape::simple(44);

    #[test]
    fn good_simple_reply_passes() {
        let reply = as_received(simple_reply(&request_header(20001), &[0; 8]));
        assert_eq!(check_reply(&reply, 20001, &REPLY_44), Ok(()));
    }

    #[test]
    fn reply_id_checks() {
        let reply = as_received(simple_reply(&request_header(20002), &[0; 8]));
        assert_eq!(
            check_reply(&reply, 20001, &REPLY_44),
            Err(MigError::ReplyMismatch)
        );
        let mut notification = vec![0u8; 32];
        write_header(
            &mut notification,
            &mach_msg_header_t {
                msgh_bits: MACH_MSG_TYPE_PORT_SEND_ONCE << 8,
                msgh_size: 24,
                msgh_id: MACH_NOTIFY_SEND_ONCE,
                ..Default::default()
            },
        );
        assert_eq!(
            check_reply(&notification, 20001, &REPLY_44),
            Err(MigError::ServerDied)
        );
    }

    #[test]
    fn error_form_returns_the_server_code() {
        let reply = as_received(error_reply(&request_header(20050), MIG_BAD_ID).to_vec());
        assert_eq!(check_reply(&reply, 20050, &REPLY_44), Err(MigError::BadId));
        let reply = as_received(error_reply(&request_header(1), MIG_BAD_ARGUMENTS).to_vec());
        assert_eq!(
            check_reply(&reply, 1, &REPLY_44),
            Err(MigError::BadArguments)
        );
        let reply = as_received(error_reply(&request_header(1), 5).to_vec());
        assert_eq!(check_reply(&reply, 1, &REPLY_44), Err(MigError::Remote(5)));
    }

    #[test]
    fn error_form_with_zero_retcode_is_a_type_error() {
        let reply = as_received(error_reply(&request_header(1), 0).to_vec());
        assert_eq!(check_reply(&reply, 1, &REPLY_44), Err(MigError::TypeError));
    }

    #[test]
    fn wrong_reply_size_or_complex_is_a_type_error() {
        let reply = as_received(simple_reply(&request_header(1), &[0; 4]));
        assert_eq!(check_reply(&reply, 1, &REPLY_44), Err(MigError::TypeError));
        let mut reply = as_received(simple_reply(&request_header(1), &[0; 8]));
        let bits = read_u32(&reply, 0).unwrap();
        write_u32(&mut reply, 0, bits | 0x8000_0000);
        assert_eq!(check_reply(&reply, 1, &REPLY_44), Err(MigError::TypeError));
    }

    #[test]
    fn reply_carrying_a_reply_port_is_a_type_error() {
        let mut reply = as_received(simple_reply(&request_header(1), &[0; 8]));
        write_u32(&mut reply, 8, 0x77);
        let bits = read_u32(&reply, 0).unwrap();
        write_u32(&mut reply, 0, bits | MACH_MSG_TYPE_PORT_SEND);
        assert_eq!(check_reply(&reply, 1, &REPLY_44), Err(MigError::TypeError));
    }

    #[test]
    fn truncated_reply_is_a_type_error() {
        let reply = as_received(simple_reply(&request_header(1), &[0; 8]));
        assert_eq!(
            check_reply(&reply[..30], 1, &REPLY_44),
            Err(MigError::TypeError)
        );
        assert_eq!(
            check_reply(&reply[..20], 1, &REPLY_44),
            Err(MigError::TypeError)
        );
    }

    static REPLY_OOL: [DescriptorSpec; 1] = [DescriptorSpec::Ool { count_offset: 52 }];

    #[test]
    fn complex_reply_has_no_retcode_and_collapses_to_error_form() {
        let shape = ReplyShape {
            body: Body::Complex(&REPLY_OOL),
            size: SizeRule::Exact(60),
        };
        let mut reply = vec![0u8; 68];
        write_header(
            &mut reply,
            &mach_msg_header_t {
                msgh_bits: 0x8000_1200,
                msgh_size: 60,
                msgh_local_port: 0x40,
                msgh_id: 20101,
                ..Default::default()
            },
        );
        write_u32(&mut reply, 24, 1);
        reply[39] = MACH_MSG_OOL_DESCRIPTOR;
        write_u32(&mut reply, 40, 10);
        write_u32(&mut reply, 52, 10);
        assert_eq!(check_reply(&reply, 20001, &shape), Ok(()));
        write_u32(&mut reply, 52, 11);
        assert_eq!(check_reply(&reply, 20001, &shape), Err(MigError::TypeError));
        let error = as_received(error_reply(&request_header(20001), 5).to_vec());
        assert_eq!(check_reply(&error, 20001, &shape), Err(MigError::Remote(5)));
    }
}
