//! Property tests of the ipconfig.defs codecs: round trips and arbitrary input.

use ipconfig_rpc::ipconfig_messages::*;
use mach_abi::{mach_msg_header_t, NDR_record_t};
use proptest::prelude::*;

fn header() -> impl Strategy<Value = mach_msg_header_t> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<i32>(),
    )
        .prop_map(|(bits, remote, local, voucher, id)| mach_msg_header_t {
            // The codecs only accept simple messages.
            msgh_bits: bits & !0x8000_0000,
            msgh_size: 0,
            msgh_remote_port: remote,
            msgh_local_port: local,
            msgh_voucher_port: voucher,
            msgh_id: id,
        })
}

fn ndr() -> impl Strategy<Value = NDR_record_t> {
    any::<[u8; 8]>().prop_map(|b| NDR_record_t {
        mig_vers: b[0],
        if_vers: b[1],
        reserved1: b[2],
        mig_encoding: b[3],
        int_rep: b[4],
        char_rep: b[5],
        float_rep: b[6],
        reserved2: b[7],
    })
}

fn sized(mut head: mach_msg_header_t, size: usize) -> mach_msg_header_t {
    head.msgh_size = size as u32;
    head
}

proptest! {
    #[test]
    fn if_count_request_round_trips(head in header()) {
        let msg = IfCountRequest { head: sized(head, IfCountRequest::SIZE) };
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), 24);
        prop_assert_eq!(IfCountRequest::from_bytes(&bytes), Ok(msg));
    }

    #[test]
    fn if_count_reply_round_trips(head in header(), ndr in ndr(), ret in any::<i32>(), count in any::<i32>()) {
        let msg = IfCountReply { head: sized(head, IfCountReply::SIZE), ndr, ret_code: ret, count };
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), 40);
        prop_assert_eq!(IfCountReply::from_bytes(&bytes), Ok(msg));
    }

    #[test]
    fn if_addr_request_round_trips(head in header(), ndr in ndr(), name in any::<[u8; 16]>()) {
        let msg = IfAddrRequest { head: sized(head, IfAddrRequest::SIZE), ndr, name: InterfaceName(name) };
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), 48);
        prop_assert_eq!(&bytes[32..48], &name[..]);
        prop_assert_eq!(IfAddrRequest::from_bytes(&bytes), Ok(msg));
    }

    #[test]
    fn if_addr_reply_round_trips(
        head in header(), ndr in ndr(), ret in any::<i32>(), addr in any::<[u8; 4]>(), status in any::<i32>()
    ) {
        let ip = std::net::Ipv4Addr::from(addr);
        let msg = IfAddrReply {
            head: sized(head, IfAddrReply::SIZE),
            ndr,
            ret_code: ret,
            addr: ip.into(),
            status: IpconfigStatus(status),
        };
        let bytes = msg.to_bytes();
        // Network byte order in memory.
        prop_assert_eq!(&bytes[36..40], &addr[..]);
        let back = IfAddrReply::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back, msg);
        prop_assert_eq!(std::net::Ipv4Addr::from(back.addr), ip);
    }

    #[test]
    fn get_option_request_round_trips(head in header(), ndr in ndr(), name in any::<[u8; 16]>(), code in any::<i32>()) {
        let msg = GetOptionRequest { head: sized(head, GetOptionRequest::SIZE), ndr, name: InterfaceName(name), option_code: code };
        prop_assert_eq!(GetOptionRequest::from_bytes(&msg.to_bytes()), Ok(msg));
    }

    /// Arbitrary bytes never panic, and every success really has the right size and bits.
    #[test]
    fn arbitrary_bytes_decode_or_fail_typed(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        fn check<M: WireMessage>(bytes: &[u8]) -> Result<(), TestCaseError> {
            match M::from_bytes(bytes) {
                Ok(_) => {
                    prop_assert!(bytes.len() >= M::SIZE);
                    prop_assert_eq!(u32::from_ne_bytes(bytes[4..8].try_into().unwrap()) as usize, M::SIZE);
                    prop_assert_eq!(bytes[3] & 0x80, 0);
                }
                Err(WireError::Truncated { needed, got }) => {
                    prop_assert_eq!(got, bytes.len());
                    prop_assert!(got < needed);
                }
                Err(WireError::Size { expected, got }) => {
                    prop_assert_eq!(expected as usize, M::SIZE);
                    prop_assert_ne!(got as usize, M::SIZE);
                }
                Err(WireError::Complex) => prop_assert_ne!(bytes[3] & 0x80, 0),
                Err(WireError::Id { .. }) => prop_assert!(false, "decoders do not check ids"),
            }
            Ok(())
        }
        check::<IfCountRequest>(&bytes)?;
        check::<IfCountReply>(&bytes)?;
        check::<IfAddrRequest>(&bytes)?;
        check::<IfAddrReply>(&bytes)?;
        check::<GetOptionRequest>(&bytes)?;
    }

    #[test]
    fn interface_names_never_exceed_15_significant_bytes(raw in any::<[u8; 16]>(), s in proptest::collection::vec(any::<u8>(), 0..40)) {
        let key = InterfaceName(raw).lookup_key().to_vec();
        prop_assert!(key.len() <= 15);
        prop_assert!(!key.contains(&0));
        prop_assert_eq!(&raw[..key.len()], &key[..]);
        let cut = InterfaceName::truncating(&s);
        prop_assert_eq!(cut.raw()[15], 0);
        let n = s.len().min(15);
        prop_assert_eq!(&cut.raw()[..n], &s[..n]);
    }

    #[test]
    fn checked_names_round_trip(name in "[a-z0-9]{0,15}") {
        let n = InterfaceName::new(&name).unwrap();
        prop_assert_eq!(n.lookup_key(), name.as_bytes());
    }
}
