//! Property tests of the wire parser: no panic on arbitrary bytes, typed errors, and
//! encode → parse round trips for valid messages.

use bytes::Bytes;
use mach_async::raw_message::{self, ParseError, RawDescriptor, RawMessage};
use proptest::prelude::*;

fn descriptor() -> impl Strategy<Value = RawDescriptor> {
    prop_oneof![
        (any::<u32>(), 16u8..=21)
            .prop_map(|(name, disposition)| RawDescriptor::Port { name, disposition }),
        (
            any::<u64>(),
            any::<u32>(),
            any::<bool>(),
            0u8..4,
            any::<bool>()
        )
            .prop_map(
                |(address, size, deallocate, copy, volatile)| RawDescriptor::Ool {
                    address,
                    size,
                    deallocate,
                    copy,
                    volatile
                }
            ),
        (any::<u64>(), any::<u32>(), 16u8..=21, any::<bool>(), 0u8..4).prop_map(
            |(address, count, disposition, deallocate, copy)| RawDescriptor::OolPorts {
                address,
                count,
                disposition,
                deallocate,
                copy
            }
        ),
    ]
}

fn port_type() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(15u32), 16u32..=21]
}

fn message() -> impl Strategy<Value = RawMessage> {
    (
        port_type(),
        port_type(),
        any::<u32>(),
        any::<u32>(),
        any::<i32>(),
        proptest::collection::vec(descriptor(), 0..6),
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_map(
            |(r, l, remote, local, id, descriptors, mut body, complex)| {
                body.truncate(body.len() / 4 * 4); // the wire pads the body to 4 bytes
                let complex = complex || !descriptors.is_empty();
                RawMessage {
                    bits: r | (l << 8) | if complex { 0x8000_0000 } else { 0 },
                    remote,
                    local,
                    voucher: 0,
                    id,
                    descriptors,
                    body: Bytes::from(body),
                    trailer: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), trailer in any::<bool>()) {
        if let Ok(m) = raw_message::parse(&bytes, trailer) {
            // Whatever parses must fit in what was given.
            prop_assert!(m.wire_size() <= bytes.len());
            prop_assert_eq!(m.trailer.is_some(), trailer);
        }
    }

    #[test]
    fn corrupted_valid_messages_never_panic(m in message(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut b = raw_message::encode(&m);
        let i = at % b.len();
        b[i] = byte;
        let cut = cut % (b.len() + 1);
        let _ = raw_message::parse(&b[..cut], false);
        let _ = raw_message::parse(&b, true);
    }

    #[test]
    fn round_trip(m in message()) {
        let b = raw_message::encode(&m);
        prop_assert_eq!(b.len(), m.wire_size());
        prop_assert_eq!(raw_message::parse(&b, false), Ok(m));
    }

    #[test]
    fn round_trip_with_trailer(m in message(), tsize in (2u32..=17).prop_map(|w| w * 4), fill in any::<u8>()) {
        let mut b = raw_message::encode(&m);
        let mut t = vec![fill; tsize as usize];
        t[..4].copy_from_slice(&0u32.to_le_bytes());
        t[4..8].copy_from_slice(&tsize.to_le_bytes());
        b.extend_from_slice(&t);
        let parsed = raw_message::parse(&b, true).expect("valid");
        let trailer = parsed.trailer.expect("trailer");
        prop_assert_eq!(trailer.size(), tsize);
        prop_assert_eq!(trailer.as_bytes(), &t[..]);
        prop_assert_eq!(trailer.audit_token().is_some(), tsize >= 52);
        prop_assert_eq!(RawMessage { trailer: None, ..parsed }, m);
    }

    #[test]
    fn truncation_is_a_typed_error(m in message(), cut in any::<usize>()) {
        let b = raw_message::encode(&m);
        let cut = cut % b.len();
        let e = raw_message::parse(&b[..cut], false).expect_err("truncated");
        let ok = matches!(
            e,
            ParseError::TruncatedHeader { .. } | ParseError::SizeMismatch { .. }
        );
        prop_assert!(ok, "unexpected error {:?}", e);
    }
}

#[test]
fn typed_errors() {
    assert_eq!(
        raw_message::parse(&[0; 10], false),
        Err(ParseError::TruncatedHeader { available: 10 })
    );
    let mut h = [0u8; 32];
    h[4..8].copy_from_slice(&22u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&h, false),
        Err(ParseError::BadSize { declared: 22 })
    );
    h[4..8].copy_from_slice(&40u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&h, false),
        Err(ParseError::SizeMismatch {
            declared: 40,
            available: 32
        })
    );
    // Complex with an impossible descriptor count.
    h[0..4].copy_from_slice(&0x8000_0013u32.to_le_bytes());
    h[4..8].copy_from_slice(&32u32.to_le_bytes());
    h[24..28].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&h, false),
        Err(ParseError::DescriptorCountOverflow { count: 1000 })
    );
    // Complex with one 16-byte OOL descriptor in a 32-byte message: truncated descriptor.
    h[24..28].copy_from_slice(&0u32.to_le_bytes());
    let mut c = vec![0u8; 40];
    c[0..4].copy_from_slice(&0x8000_0013u32.to_le_bytes());
    c[4..8].copy_from_slice(&40u32.to_le_bytes());
    c[24..28].copy_from_slice(&1u32.to_le_bytes());
    c[28 + 11] = 1;
    assert_eq!(
        raw_message::parse(&c, false),
        Err(ParseError::TruncatedDescriptor { index: 0 })
    );
    c[28 + 11] = 9;
    assert_eq!(
        raw_message::parse(&c, false),
        Err(ParseError::BadDescriptorType { index: 0, type_: 9 })
    );
    c[28 + 11] = 0;
    c[28 + 10] = 3;
    assert_eq!(
        raw_message::parse(&c, false),
        Err(ParseError::BadDisposition {
            index: 0,
            disposition: 3
        })
    );
    // Bad header bits.
    let mut s = [0u8; 24];
    s[0..4].copy_from_slice(&0x0000_0007u32.to_le_bytes());
    s[4..8].copy_from_slice(&24u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&s, false),
        Err(ParseError::BadHeaderBits { bits: 7 })
    );
    // Trailers.
    s[0..4].copy_from_slice(&0x13u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&s, true),
        Err(ParseError::TruncatedTrailer)
    );
    let mut t = s.to_vec();
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&8u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&t, true),
        Err(ParseError::BadTrailer { type_: 1, size: 8 })
    );
    t[24..28].copy_from_slice(&0u32.to_le_bytes());
    t[28..32].copy_from_slice(&72u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&t, true),
        Err(ParseError::BadTrailer { type_: 0, size: 72 })
    );
    t[28..32].copy_from_slice(&52u32.to_le_bytes());
    assert_eq!(
        raw_message::parse(&t, true),
        Err(ParseError::TruncatedTrailer)
    );
}
