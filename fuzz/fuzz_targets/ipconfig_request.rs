//! ipconfig-rpc's request side: routing plus the MIG checks under both numberings, and the
//! request codecs; never panics, and a decoded request round-trips through its encoder.
#![no_main]

use ipconfig_rpc::protocol::{decode_request, encode_if_addr_request, Call};
use ipconfig_rpc::ipconfig_messages::{GetOptionRequest, IfAddrRequest, IfCountRequest, WireMessage};
use ipconfig_rpc::Numbering;
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
    for numbering in [Numbering::NextBsd, Numbering::AppleCompat] {
        if let Ok(Call::IfAddr { name }) = decode_request(data, numbering) {
            let again = encode_if_addr_request(name, numbering);
            let IfAddrRequest { name: back, .. } =
                IfAddrRequest::from_bytes(&again).expect("an encoded request decodes");
            assert_eq!(back, name);
        }
    }
    round_trip::<IfCountRequest>(data);
    round_trip::<IfAddrRequest>(data);
    round_trip::<GetOptionRequest>(data);
});
