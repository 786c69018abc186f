//! Property tests of the `ioreg_event_msg` parser (spec §5): it never panics, never reads past
//! `msgh_size` or the buffer, and round-trips what the kernel sends.

use iokit_notify::registry_abi::{
    encode_event_body, encode_event_message, parse_event_message, EventParseError, RawEvent,
    IOKIT_NOTIFY_MSG_ID, IOREG_EVENT_BODY_SIZE,
};
use iokit_notify::{DeviceEvent, EventKind};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Arrive),
        Just(EventKind::Depart),
        Just(EventKind::Matched)
    ]
}

fn device_event() -> impl Strategy<Value = DeviceEvent> {
    (
        kind(),
        1u64..,
        "[a-zA-Z0-9_.-]{0,31}",
        "[a-zA-Z0-9_.-]{0,31}",
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(kind, id, name, class, pci_vendor, pci_device)| DeviceEvent {
                kind,
                id,
                name,
                class,
                pci_vendor,
                pci_device,
            },
        )
}

fn set_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..320)) {
        let _ = parse_event_message(&bytes);
    }

    #[test]
    fn arbitrary_payload_with_a_valid_header_parses_or_errs_typed(
        mut bytes in proptest::collection::vec(any::<u8>(), 24..320),
        size in 0u32..400,
    ) {
        set_u32(&mut bytes, 0, 0x1100);
        set_u32(&mut bytes, 4, size);
        set_u32(&mut bytes, 20, IOKIT_NOTIFY_MSG_ID as u32);
        match parse_event_message(&bytes) {
            Ok(msg) => {
                prop_assert!(size as usize >= 120 && size as usize <= bytes.len());
                prop_assert!(msg.event.name.chars().count() <= 31);
                prop_assert!(msg.event.class.chars().count() <= 31);
                prop_assert!(!msg.event.name.contains('\0'));
                prop_assert!(msg.event.id != 0);
                prop_assert_eq!(Some(msg.event.kind), EventKind::from_raw(msg.event.kind.raw()));
            }
            Err(EventParseError::SizeBeyondBuffer { msgh_size, len }) => {
                prop_assert!(msgh_size as usize > len)
            }
            Err(EventParseError::TooShort(s)) => prop_assert!(s < 120),
            Err(EventParseError::BadKind(k)) => prop_assert!(EventKind::from_raw(k).is_none()),
            Err(EventParseError::ZeroId) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn round_trip(event in device_event(), port in any::<u32>(), slack in proptest::collection::vec(any::<u8>(), 0..64)) {
        let msg = encode_event_message(&RawEvent::from_event(&event), port);
        // The receive buffer may be larger than the message; what follows is not read.
        let mut buf = msg.to_vec();
        buf.extend_from_slice(&slack);
        let parsed = parse_event_message(&buf).unwrap();
        prop_assert_eq!(parsed.local_port, port);
        prop_assert_eq!(&parsed.event, &event);
        prop_assert_eq!(&encode_event_body(&RawEvent::from_event(&event))[..], &msg[24..24 + IOREG_EVENT_BODY_SIZE]);
    }

    #[test]
    fn bytes_from_120_on_are_never_read(event in device_event(), tail in any::<[u8; 4]>()) {
        let mut msg = encode_event_message(&RawEvent::from_event(&event), 5);
        msg[120..124].copy_from_slice(&tail);
        prop_assert_eq!(parse_event_message(&msg).unwrap().event, event);
    }

    #[test]
    fn sizes_below_120_are_too_short(event in device_event(), size in 0u32..120) {
        let mut msg = encode_event_message(&RawEvent::from_event(&event), 5);
        set_u32(&mut msg, 4, size);
        prop_assert_eq!(parse_event_message(&msg), Err(EventParseError::TooShort(size)));
    }

    #[test]
    fn other_ids_are_rejected(event in device_event(), id in any::<i32>().prop_filter("not IONT", |&i| i != IOKIT_NOTIFY_MSG_ID)) {
        let mut msg = encode_event_message(&RawEvent::from_event(&event), 5);
        set_u32(&mut msg, 20, id as u32);
        prop_assert_eq!(parse_event_message(&msg), Err(EventParseError::UnknownId(id)));
    }
}
