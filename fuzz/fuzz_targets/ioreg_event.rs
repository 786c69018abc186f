//! `ioreg_event_msg` parsing (iokit-notify): never panics; a parsed event re-encodes to a message
//! that parses to the same event and port.
#![no_main]

use iokit_notify::wire::{encode_event_message, parse_event_message, RawEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = parse_event_message(data) else {
        return;
    };
    let bytes = encode_event_message(&RawEvent::from_event(&msg.event), msg.local_port);
    let again = parse_event_message(&bytes).expect("an encoded event parses");
    assert_eq!(again.event, msg.event);
    assert_eq!(again.local_port, msg.local_port);
});
