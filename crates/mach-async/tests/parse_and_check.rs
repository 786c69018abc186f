//! Byte-level checks that need no kernel (issue 16), so they run on every backend: the parser's
//! structural errors and the text each one shows, the descriptor checks a generated server runs
//! on a complex request (`mig.md` §8 checks 3–5: port labels, OOL-ports type, label and count),
//! and the text of the kqueue event and of the stress tool's verdicts.

use mach_abi::{
    mach_msg_header_t, MACH_MSGH_BITS_COMPLEX, MACH_MSG_OOL_DESCRIPTOR,
    MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_PORT_DESCRIPTOR, MACH_MSG_TYPE_PORT_SEND,
    MACH_MSG_TYPE_PORT_SEND_ONCE,
};
use mach_async::mig::codec::reply_has_destination;
use mach_async::mig::{check_request, Body, DescriptorSpec, MigError, RequestShape, SizeRule};
use mach_async::raw_message::{parse, ParseError};
use mach_async::stress::StressError;
use mach_async::sys::{Event, EV_EOF};
use mach_async::Error;

/// A complex message of `size` bytes: header, descriptor count, then `descriptors` (raw
/// descriptor bytes), zero-padded to `size`.
fn complex(size: u32, count: u32, descriptors: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [MACH_MSGH_BITS_COMPLEX, size, 0, 0, 0, 7] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(descriptors);
    b.resize(size as usize, 0);
    b
}

/// A 12-byte port descriptor.
fn port_desc(name: u32, label: u32) -> Vec<u8> {
    let mut d = name.to_le_bytes().to_vec();
    d.extend_from_slice(&[0; 6]);
    d.push(label as u8);
    d.push(MACH_MSG_PORT_DESCRIPTOR);
    d
}

/// A 16-byte OOL or OOL-ports descriptor (address 0).
fn ool_desc(kind: u8, label: u32, count: u32) -> Vec<u8> {
    let mut d = vec![0u8; 8];
    d.push(0); // deallocate
    d.push(0); // copy
    d.push(label as u8);
    d.push(kind);
    d.extend_from_slice(&count.to_le_bytes());
    d
}

/// Every structural fault of a complex message is its own error, and its text says where.
#[test]
fn complex_message_faults_are_named_with_their_position() {
    let port = port_desc(5, MACH_MSG_TYPE_PORT_SEND);
    let ool = ool_desc(MACH_MSG_OOL_DESCRIPTOR, 0, 4);
    let ool_ports = ool_desc(MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_TYPE_PORT_SEND, 1);
    let cases: Vec<(Vec<u8>, ParseError, &str)> = vec![
        // COMPLEX set, but no room for the descriptor count.
        (
            complex(24, 0, &[]).into_iter().take(24).collect(),
            ParseError::TruncatedBody,
            "complex message without a body",
        ),
        // More descriptors than the size can hold.
        (
            complex(40, 9, &port),
            ParseError::DescriptorCountOverflow { count: 9 },
            "descriptor count 9 does not fit in the message",
        ),
        // The count fits 12-byte descriptors, but the first is a 16-byte OOL descriptor, so
        // the second (a port) runs past the end.
        (
            complex(52, 2, &[ool.clone(), port.clone()].concat()),
            ParseError::TruncatedDescriptor { index: 1 },
            "descriptor 1 runs past msgh_size",
        ),
        // An OOL-ports descriptor (16 bytes) in room for a port descriptor (12).
        (
            complex(40, 1, &ool_ports),
            ParseError::TruncatedDescriptor { index: 0 },
            "descriptor 0 runs past msgh_size",
        ),
        // An OOL descriptor likewise.
        (
            complex(40, 1, &ool),
            ParseError::TruncatedDescriptor { index: 0 },
            "descriptor 0 runs past msgh_size",
        ),
        // A descriptor type no kernel this crate supports sends (XNU's guarded port, 4).
        (
            complex(40, 1, &[&port[..11], &[4]].concat()),
            ParseError::BadDescriptorType { index: 0, type_: 4 },
            "descriptor 0 has bad type 4",
        ),
        // A port descriptor whose disposition is not a port type.
        (
            complex(40, 1, &port_desc(5, 3)),
            ParseError::BadDisposition {
                index: 0,
                disposition: 3,
            },
            "descriptor 0 has bad disposition 3",
        ),
        // The same in an OOL-ports descriptor.
        (
            complex(44, 1, &ool_desc(MACH_MSG_OOL_PORTS_DESCRIPTOR, 99, 1)),
            ParseError::BadDisposition {
                index: 0,
                disposition: 99,
            },
            "descriptor 0 has bad disposition 99",
        ),
    ];
    for (bytes, want, text) in cases {
        let err = parse(&bytes, false).expect_err(text);
        assert_eq!(err, want);
        assert_eq!(err.to_string(), text);
        assert_eq!(
            Error::Parse(err).to_string(),
            format!("malformed message: {text}")
        );
    }
}

/// Header and trailer faults: the bits, and a trailer that is not format 0 or has a bad size.
#[test]
fn header_bits_and_trailer_faults_are_named_with_their_values() {
    // Remote disposition 3 is no port type.
    let mut bytes = complex(28, 0, &[]);
    bytes[0..4].copy_from_slice(&3u32.to_le_bytes());
    let err = parse(&bytes, false).expect_err("bad bits");
    assert_eq!(err, ParseError::BadHeaderBits { bits: 3 });
    assert_eq!(err.to_string(), "bad msgh_bits 0x3");

    // A simple 24-byte message followed by a trailer of type 1, size 8.
    let mut bytes = complex(24, 0, &[]);
    bytes.truncate(24);
    bytes[0..4].copy_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    let err = parse(&bytes, true).expect_err("bad trailer type");
    assert_eq!(err, ParseError::BadTrailer { type_: 1, size: 8 });
    assert_eq!(err.to_string(), "bad trailer (type 1, size 8)");
    // Format 0 but 4 bytes long (below the 8-byte minimum).
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes());
    bytes[28..32].copy_from_slice(&4u32.to_le_bytes());
    let err = parse(&bytes, true).expect_err("bad trailer size");
    assert_eq!(err, ParseError::BadTrailer { type_: 0, size: 4 });
    // A good one parses, and its trailer reports its type.
    bytes[28..32].copy_from_slice(&8u32.to_le_bytes());
    let raw = parse(&bytes, true).expect("format 0, 8 bytes");
    let trailer = raw.trailer.expect("a trailer");
    assert_eq!(trailer.trailer_type(), 0);
    assert_eq!(trailer.size(), 8);
}

const PORT_ARG: &[DescriptorSpec] = &[DescriptorSpec::Port {
    label: MACH_MSG_TYPE_PORT_SEND as u8,
}];

/// Offset of the inline count of the OOL-ports argument below (after header, count and the
/// 16-byte descriptor, then the 8-byte NDR record).
const PORTS_COUNT_OFFSET: usize = 24 + 4 + 16 + 8;

const PORTS_ARG: &[DescriptorSpec] = &[DescriptorSpec::OolPorts {
    label: MACH_MSG_TYPE_PORT_SEND as u8,
    count_offset: PORTS_COUNT_OFFSET,
}];

fn shape(specs: &'static [DescriptorSpec], size: u32) -> RequestShape {
    RequestShape {
        body: Body::Complex(specs),
        size: SizeRule::Exact(size),
        audit_token: false,
    }
}

/// A request whose OOL-ports array has `count` ports in the descriptor and `inline_count` in the
/// body, with the given descriptor kind and label.
fn ports_request(kind: u8, label: u32, count: u32, inline_count: u32) -> Vec<u8> {
    let mut bytes = complex(56, 1, &ool_desc(kind, label, count));
    bytes[PORTS_COUNT_OFFSET..PORTS_COUNT_OFFSET + 4].copy_from_slice(&inline_count.to_le_bytes());
    // The 8-byte trailer a server receives (format 0).
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes
}

/// `mig.md` §8 checks 3–5 on descriptors: a port argument must carry the routine's label, an
/// OOL-ports argument must be an OOL-ports descriptor with the label and with the inline count
/// equal to the descriptor's count; anything else is `MIG_TYPE_ERROR`, what the C server replies.
#[test]
fn descriptor_types_labels_and_counts_are_checked() {
    // A port argument with the send label passes; the same with a send-once label does not.
    let mut good = complex(40, 1, &port_desc(9, MACH_MSG_TYPE_PORT_SEND));
    good.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
    assert!(check_request(&good, &shape(PORT_ARG, 40)).is_ok());
    let mut wrong_label = complex(40, 1, &port_desc(9, MACH_MSG_TYPE_PORT_SEND_ONCE));
    wrong_label.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
    assert_eq!(
        check_request(&wrong_label, &shape(PORT_ARG, 40)).unwrap_err(),
        MigError::TypeError
    );

    // An OOL memory argument must be an OOL descriptor, not a port.
    const OOL_ARG: &[DescriptorSpec] = &[DescriptorSpec::Ool { count_offset: 36 }];
    assert_eq!(
        check_request(&good, &shape(OOL_ARG, 40)).unwrap_err(),
        MigError::TypeError
    );

    let ports = shape(PORTS_ARG, 56);
    let ok = ports_request(MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_TYPE_PORT_SEND, 3, 3);
    assert!(check_request(&ok, &ports).is_ok());
    for (what, bytes) in [
        (
            "an OOL memory descriptor where ports are expected",
            ports_request(MACH_MSG_OOL_DESCRIPTOR, MACH_MSG_TYPE_PORT_SEND, 3, 3),
        ),
        (
            "send-once ports where send rights are expected",
            ports_request(
                MACH_MSG_OOL_PORTS_DESCRIPTOR,
                MACH_MSG_TYPE_PORT_SEND_ONCE,
                3,
                3,
            ),
        ),
        (
            "an inline count that disagrees with the descriptor",
            ports_request(MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_TYPE_PORT_SEND, 3, 2),
        ),
    ] {
        assert_eq!(
            check_request(&bytes, &ports).unwrap_err(),
            MigError::TypeError,
            "{what}"
        );
    }
}

/// A reply header with no remote port has nowhere to go (a one-way routine's reply).
#[test]
fn a_reply_without_a_remote_port_has_no_destination() {
    let mut h = mach_msg_header_t {
        msgh_bits: 0,
        msgh_size: 24,
        msgh_remote_port: 0,
        msgh_local_port: 0,
        msgh_voucher_port: 0,
        msgh_id: 100,
    };
    assert!(!reply_has_destination(&h));
    h.msgh_remote_port = 0x103;
    assert!(reply_has_destination(&h));
}

/// The text a log shows for a kqueue event, and for the stress tool's two non-passing verdicts.
#[test]
fn event_and_stress_verdict_text() {
    let ev = Event {
        ident: 0x207,
        filter: -16,
        flags: EV_EOF,
        fflags: 0,
        data: 0,
    };
    assert_eq!(
        ev.to_string(),
        "kevent{ident: 519, filter: -16, flags: 0x8000, data: 0}"
    );
    assert!(ev.is_eof() && !ev.is_error());
    let skip = StressError::Skip(Error::FilterUnavailable { errno: 22 });
    let text = skip.to_string();
    assert!(text.starts_with("skipped: "), "{text}");
    assert!(text.contains("EVFILT_MACHPORT"), "{text}");
    assert_eq!(
        StressError::Fail("accounting mismatch".into()).to_string(),
        "failed: accounting mismatch"
    );
}
