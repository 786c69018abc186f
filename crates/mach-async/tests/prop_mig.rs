//! Property tests of the MIG runtime's byte-level checks (`mach_async::mig`): the request checks
//! a server runs (`mig.md` §8) and the reply checks a client runs (§9) never panic, reject every
//! malformed input with a typed `MigError`, and accept exactly what the encoders produce.

use mach_abi::{mach_msg_header_t, MACH_NOTIFY_SEND_ONCE};
use mach_async::mig::codec::{
    error_reply, read_header, simple_reply, walign, write_header, write_u32, ERROR_REPLY_SIZE,
};
use mach_async::mig::{
    audit_token_from_trailer, check_reply, check_request, Body, DescriptorSpec, MigError,
    ReplyShape, RequestShape, SizeRule,
};
use proptest::prelude::*;

const ARRAY: SizeRule = SizeRule::InlineArray {
    fixed_min: 36,
    count_offset: 32,
    elem_size: 1,
    max_count: 64,
};

static PORT: [DescriptorSpec; 1] = [DescriptorSpec::Port { label: 17 }];

fn shapes() -> Vec<RequestShape> {
    vec![
        RequestShape::simple(24),
        RequestShape::simple(48),
        RequestShape {
            audit_token: true,
            ..RequestShape::simple(32)
        },
        RequestShape {
            body: Body::Simple,
            size: ARRAY,
            audit_token: false,
        },
        RequestShape {
            body: Body::Complex(&PORT),
            size: SizeRule::Exact(40),
            audit_token: false,
        },
    ]
}

/// A received request buffer: `size` bytes of message (bits 0x1112, id `id`) then a trailer of
/// `trailer` bytes (format 0) whose audit token is `token`.
fn received(size: u32, bits: u32, id: i32, trailer: u32, token: [u32; 8], fill: u8) -> Vec<u8> {
    let at = walign(size) as usize;
    let mut b = vec![fill; at + trailer.max(8) as usize];
    write_header(
        &mut b,
        &mach_msg_header_t {
            msgh_bits: bits,
            msgh_size: size,
            msgh_remote_port: 0x21,
            msgh_local_port: 0x10,
            msgh_voucher_port: 0,
            msgh_id: id,
        },
    );
    write_u32(&mut b, at, 0);
    write_u32(&mut b, at + 4, trailer);
    if trailer >= 52 {
        for (i, v) in token.iter().enumerate() {
            write_u32(&mut b, at + 20 + 4 * i, *v);
        }
    }
    b
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

/// A reply as the client receives it: remote 0, local = its reply port, the 8-byte trailer.
fn as_received(mut bytes: Vec<u8>) -> Vec<u8> {
    let bits = u32::from_ne_bytes(bytes[0..4].try_into().unwrap());
    write_u32(&mut bytes, 0, bits << 8);
    write_u32(&mut bytes, 8, 0);
    write_u32(&mut bytes, 12, 0x40);
    bytes.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn request_checks_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        for shape in shapes() {
            if check_request(&bytes, &shape).is_ok() {
                // A pass implies a header, a size within the rule and inside the buffer.
                let h = read_header(&bytes).expect("header");
                prop_assert!(h.msgh_size >= shape.size.min() && h.msgh_size <= shape.size.max());
                prop_assert!(h.msgh_size as usize <= bytes.len());
            }
        }
    }

    #[test]
    fn reply_checks_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..96), id in any::<i32>()) {
        for shape in [ReplyShape::simple(40), ReplyShape::simple(44), ReplyShape { body: Body::Simple, size: ARRAY }] {
            let _ = check_reply(&bytes, id, &shape);
        }
        if let Some(h) = read_header(&bytes) {
            let _ = audit_token_from_trailer(&bytes, h.msgh_size);
        }
    }

    #[test]
    fn exact_size_requests_pass_and_every_other_size_is_bad_arguments(
        size in (6u32..40).prop_map(|w| w * 4), want in (6u32..40).prop_map(|w| w * 4),
        id in any::<i32>(), fill in any::<u8>(),
    ) {
        let b = received(size, 0x1112, id, 8, [0; 8], fill);
        let r = check_request(&b, &RequestShape::simple(want));
        if size == want {
            prop_assert_eq!(r, Ok(Default::default()));
        } else {
            prop_assert_eq!(r, Err(MigError::BadArguments));
        }
        // The COMPLEX bit on a simple routine is always refused.
        let c = received(size, 0x8000_1112, id, 8, [0; 8], fill);
        prop_assert_eq!(check_request(&c, &RequestShape::simple(want)), Err(MigError::BadArguments));
    }

    #[test]
    fn truncated_requests_never_pass(size in (6u32..20).prop_map(|w| w * 4), cut in any::<prop::sample::Index>()) {
        let b = received(size, 0x1112, 1, 8, [0; 8], 0);
        let cut = cut.index(size as usize);
        prop_assert!(check_request(&b[..cut], &RequestShape::simple(size)).is_err());
    }

    #[test]
    fn inline_arrays_pass_exactly_when_count_and_size_agree(count in 0u32..80, size_words in 9u32..30) {
        let size = size_words * 4;
        let mut b = received(size, 0x1112, 7, 8, [0; 8], 0);
        write_u32(&mut b, 32, count);
        let shape = RequestShape { body: Body::Simple, size: ARRAY, audit_token: false };
        let ok = count <= 64 && size == 36 + walign(count);
        let r = check_request(&b, &shape);
        prop_assert_eq!(r.is_ok(), ok, "count {} size {} -> {:?}", count, size, r);
        if !ok {
            prop_assert_eq!(r, Err(MigError::BadArguments));
        }
    }

    #[test]
    fn the_audit_token_round_trips_and_short_trailers_are_trailer_errors(
        token in any::<[u32; 8]>(), trailer in (2u32..=17).prop_map(|w| w * 4),
    ) {
        let shape = RequestShape { audit_token: true, ..RequestShape::simple(32) };
        let b = received(32, 0x1112, 9, trailer, token, 0);
        let r = check_request(&b, &shape);
        if trailer >= 52 {
            prop_assert_eq!(r.map(|c| c.audit_token.map(|t| t.val)), Ok(Some(token)));
        } else {
            prop_assert_eq!(r, Err(MigError::TrailerError));
        }
    }

    #[test]
    fn error_replies_decode_to_their_code(id in any::<i32>(), code in any::<i32>()) {
        let reply = as_received(error_reply(&request_header(id), code).to_vec());
        prop_assert_eq!(reply.len(), ERROR_REPLY_SIZE + 8);
        let r = check_reply(&reply, id, &ReplyShape::simple(44));
        if code == 0 {
            prop_assert_eq!(r, Err(MigError::TypeError));
        } else {
            prop_assert_eq!(r, Err(MigError::from_code(code)));
        }
    }

    #[test]
    fn simple_replies_round_trip_and_only_answer_their_request(
        id in any::<i32>(), other in any::<i32>(), outs in proptest::collection::vec(any::<u8>(), 0..4).prop_map(|v| v.len() * 4),
    ) {
        let size = 36 + outs as u32;
        let reply = as_received(simple_reply(&request_header(id), &vec![0xaa; outs]));
        prop_assert_eq!(check_reply(&reply, id, &ReplyShape::simple(size)), Ok(()));
        prop_assert_eq!(&reply[36..36 + outs], &vec![0xaa; outs][..]);
        // The wrong size is a type error; another request id is a mismatch.
        prop_assert_eq!(check_reply(&reply, id, &ReplyShape::simple(size + 4)), Err(MigError::TypeError));
        if other != id {
            // A reply whose id is 71 reads as the send-once notification (server died).
            let expected = if id.wrapping_add(100) == MACH_NOTIFY_SEND_ONCE {
                MigError::ServerDied
            } else {
                MigError::ReplyMismatch
            };
            prop_assert_eq!(check_reply(&reply, other, &ReplyShape::simple(size)), Err(expected));
        }
        // Any truncation of the reply is refused.
        for cut in [0, 12, 23, 24, 35] {
            prop_assert!(check_reply(&reply[..cut], id, &ReplyShape::simple(size)).is_err());
        }
    }

    #[test]
    fn headers_round_trip_through_bytes(bits in any::<u32>(), size in any::<u32>(), r in any::<u32>(), l in any::<u32>(), v in any::<u32>(), id in any::<i32>()) {
        let h = mach_msg_header_t { msgh_bits: bits, msgh_size: size, msgh_remote_port: r, msgh_local_port: l, msgh_voucher_port: v, msgh_id: id };
        let mut b = [0u8; 24];
        write_header(&mut b, &h);
        prop_assert_eq!(read_header(&b), Some(h));
        prop_assert_eq!(read_header(&b[..23]), None);
    }
}
