//! `ioreg_event_msg` parsing (iokit-notify): never panics; a parsed event re-encodes to a message
//! that parses to the same event and port.
//!
//! Names are decoded lossily (a byte that is not UTF-8 becomes U+FFFD, three bytes when
//! re-encoded), so the exact round trip is checked when both names still fit the 31-byte field;
//! longer ones must come back as a prefix of what was parsed.
#![no_main]

use iokit_notify::registry_abi::{encode_event_message, parse_event_message, RawEvent};
use libfuzzer_sys::fuzz_target;

/// Longest name a 32-byte NUL-terminated field holds.
const NAME_MAX: usize = 31;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = parse_event_message(data) else {
        return;
    };
    let bytes = encode_event_message(&RawEvent::from_event(&msg.event), msg.local_port);
    let again = parse_event_message(&bytes).expect("an encoded event parses");
    assert_eq!(again.local_port, msg.local_port);
    assert_eq!(
        (
            again.event.kind,
            again.event.id,
            again.event.pci_vendor,
            again.event.pci_device
        ),
        (
            msg.event.kind,
            msg.event.id,
            msg.event.pci_vendor,
            msg.event.pci_device
        )
    );
    for (back, parsed) in [
        (&again.event.name, &msg.event.name),
        (&again.event.class, &msg.event.class),
    ] {
        if parsed.len() <= NAME_MAX {
            assert_eq!(back, parsed);
        } else {
            // Truncated to the field, possibly inside a character (which decodes lossily).
            let keep = back.trim_end_matches('\u{fffd}');
            assert!(
                parsed.starts_with(keep),
                "{back:?} is not a prefix of {parsed:?}"
            );
        }
    }
});
