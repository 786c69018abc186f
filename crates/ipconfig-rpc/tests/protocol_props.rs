//! Property tests of request routing and reply decoding: arbitrary bytes never panic, every
//! accepted request really has the routine's id and size, and errors are the MIG codes a
//! generated server or client would produce.

use ipconfig_rpc::ipconfig_messages::InterfaceName;
use ipconfig_rpc::mig::codec::{read_header, write_u32};
use ipconfig_rpc::mig::MigError;
use ipconfig_rpc::protocol::*;
use proptest::prelude::*;

fn numbering() -> impl Strategy<Value = Numbering> {
    prop_oneof![Just(Numbering::NextBsd), Just(Numbering::AppleCompat)]
}

/// Mostly-plausible messages: a header with a nearby id and size, then random bytes.
fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        19998i32..20024,
        prop_oneof![
            Just(24u32),
            Just(28),
            Just(44),
            Just(48),
            Just(52),
            0u32..200
        ],
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(id, size, complex, mut rest)| {
            rest.resize(rest.len().max(24), 0);
            write_u32(&mut rest, 0, if complex { 0x8000_1112 } else { 0x1112 });
            write_u32(&mut rest, 4, size);
            write_u32(&mut rest, 20, id as u32);
            rest
        })
}

proptest! {
    #[test]
    fn routing_never_panics_and_is_consistent(
        bytes in prop_oneof![request_bytes(), proptest::collection::vec(any::<u8>(), 0..80)],
        n in numbering(),
    ) {
        match decode_request(&bytes, n) {
            Ok(call) => {
                let head = read_header(&bytes).unwrap();
                prop_assert_eq!(head.msgh_bits & 0x8000_0000, 0);
                prop_assert!(bytes.len() >= head.msgh_size as usize);
                match call {
                    Call::IfCount => {
                        prop_assert_eq!(head.msgh_id, 20000);
                        prop_assert_eq!(head.msgh_size, 24);
                    }
                    Call::IfAddr { name } => {
                        prop_assert_eq!(head.msgh_size, 48);
                        prop_assert_eq!(name.raw(), &bytes[32..48]);
                        match n {
                            Numbering::NextBsd => prop_assert_eq!(head.msgh_id, 20001),
                            Numbering::AppleCompat => prop_assert!(head.msgh_id == 20001 || head.msgh_id == 20002),
                        }
                    }
                }
            }
            Err(e) => prop_assert!(matches!(e, MigError::BadId | MigError::BadArguments), "{:?}", e),
        }
    }

    #[test]
    fn if_addr_requests_round_trip_any_name(name in any::<[u8; 16]>(), n in numbering()) {
        let mut msg = encode_if_addr_request(InterfaceName(name), n);
        write_u32(&mut msg, 0, 0x1112);
        prop_assert_eq!(decode_request(&msg, n), Ok(Call::IfAddr { name: InterfaceName(name) }));
    }

    #[test]
    fn reply_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), id in 19990i32..20010) {
        let _ = decode_if_count_reply(&bytes, id);
        let _ = decode_if_addr_reply(&bytes, id);
    }
}
