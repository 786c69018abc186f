//! `mach_async::raw_message::parse` (header, body, descriptors, trailer) on arbitrary bytes: never
//! panics, and whatever parses re-encodes to bytes that parse to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mach_async::raw_message::{self, RawMessage};

fuzz_target!(|data: &[u8]| {
    for expect_trailer in [false, true] {
        let Ok(msg) = raw_message::parse(data, expect_trailer) else {
            continue;
        };
        assert!(msg.wire_size() <= data.len());
        assert_eq!(msg.trailer.is_some(), expect_trailer);
        let bytes = raw_message::encode(&msg);
        assert_eq!(bytes.len(), msg.wire_size());
        let again = raw_message::parse(&bytes, false).expect("an encoded message parses");
        assert_eq!(
            again,
            RawMessage {
                trailer: None,
                ..msg
            }
        );
    }
});
