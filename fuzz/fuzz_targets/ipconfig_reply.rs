//! ipconfig-rpc's reply side: the client checks of both routines and the reply codecs; never
//! panics, and a decoded reply round-trips through its encoder.
#![no_main]

use ipconfig_rpc::protocol::{decode_if_addr_reply, decode_if_count_reply};
use ipconfig_rpc::ipconfig_messages::{IfAddrReply, IfCountReply, WireMessage};
use libfuzzer_sys::fuzz_target;

fn round_trip<M: WireMessage + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(m) = M::from_bytes(data) {
        let bytes = m.to_bytes();
        assert_eq!(
            M::from_bytes(&bytes).expect("re-encoded message decodes"),
            m
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // Answer whatever request id the input claims to reply to, and a fixed one.
    let id = data
        .get(20..24)
        .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    for request_id in [id.wrapping_sub(100), 20_000, 20_001, 20_002] {
        let _ = decode_if_count_reply(data, request_id);
        let _ = decode_if_addr_reply(data, request_id);
    }
    round_trip::<IfCountReply>(data);
    round_trip::<IfAddrReply>(data);
});
