//! Property tests at the edges the in-crate ones do not reach: payloads at and beyond the
//! 8192-byte `CONFIG_DATA_MAX` bound, forged array counts, truncated buffers, and key lists that
//! exactly fill their capacity. Every malformed request must come back as a typed error with the
//! MIG code a generated server answers (`MIG_BAD_ARGUMENTS` / `MIG_TYPE_ERROR`), never a panic.

use mach_abi::{MIG_BAD_ARGUMENTS, MIG_TYPE_ERROR};
use proptest::prelude::*;
use scnotify::store_messages::keylist::{encode_key_list, KeyList, KeyListError, CONFIG_DATA_MAX};
use scnotify::store_messages::{Request, RequestError, WireError};

/// Offset of the first array's count in a simple request (header 24, NDR 8).
const FIRST_COUNT: usize = 32;

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn key_request(key: &[u8]) -> Request<'_> {
    Request::ConfigGet { key }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn payloads_up_to_the_bound_round_trip_and_one_more_byte_does_not_encode(
        extra in 0usize..4, fill in any::<u8>(),
    ) {
        let key = vec![fill; CONFIG_DATA_MAX - extra];
        let bytes = key_request(&key).encode().expect("within the bound");
        prop_assert_eq!(Request::decode(&bytes).expect("decodes"), key_request(&key));
        let over = vec![fill; CONFIG_DATA_MAX + 1 + extra];
        prop_assert!(key_request(&over).encode().is_err());
        // Both arrays of a two-array routine at the bound.
        let two = Request::ConfigAdd { key: &key, data: &key };
        let bytes = two.encode().expect("two full arrays");
        prop_assert_eq!(Request::decode(&bytes).expect("decodes"), two);
    }

    #[test]
    fn forged_counts_are_bad_arguments(len in 0usize..64, count in any::<u32>()) {
        let key = vec![b'k'; len];
        let mut bytes = key_request(&key).encode().unwrap();
        prop_assume!(count as usize != len);
        set_u32(&mut bytes, FIRST_COUNT, count);
        let err = Request::decode(&bytes).expect_err("count disagrees with the size");
        prop_assert_eq!(err.mig_code(), MIG_BAD_ARGUMENTS, "{:?}", err);
        if count as usize > CONFIG_DATA_MAX {
            let expected = RequestError::Malformed(WireError::ArrayTooLarge {
                count,
                max: CONFIG_DATA_MAX,
            });
            prop_assert_eq!(err, expected);
        }
    }

    #[test]
    fn buffers_shorter_than_msgh_size_are_refused(len in 0usize..64, cut in any::<prop::sample::Index>()) {
        let key = vec![b'k'; len];
        let bytes = key_request(&key).encode().unwrap();
        let cut = cut.index(bytes.len());
        let err = Request::decode(&bytes[..cut]).expect_err("truncated");
        let typed = matches!(
            err,
            RequestError::Malformed(WireError::ShortBuffer { .. } | WireError::BadMsghSize { .. })
        );
        prop_assert!(typed, "{:?}", err);
    }

    #[test]
    fn a_wrong_descriptor_in_notifyviaport_is_a_type_error(port in any::<u32>(), ty in 1u8..4) {
        let mut bytes = Request::NotifyViaPort { port, msgid: 0 }.encode().unwrap();
        // The port descriptor's type byte (descriptor at 28, type at +11).
        bytes[28 + 11] = ty;
        let err = Request::decode(&bytes).expect_err("not a port descriptor");
        prop_assert_eq!(err.mig_code(), MIG_TYPE_ERROR, "{:?}", err);
    }

    #[test]
    fn key_lists_fill_their_capacity_exactly(sizes in proptest::collection::vec(0usize..300, 1..20)) {
        let keys: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![b'a'; n]).collect();
        let needed: usize = sizes.iter().map(|n| 4 + n).sum();
        let bytes = encode_key_list(&keys, needed).expect("exactly fits");
        prop_assert_eq!(bytes.len(), needed);
        prop_assert_eq!(KeyList(&bytes).parse().unwrap(), keys.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let err = encode_key_list(&keys, needed - 1).expect_err("one byte short");
        prop_assert!(matches!(err, KeyListError::TooLarge { .. }), "{:?}", err);
        // A list whose last record lost its final byte keeps the records before it (configd's
        // stop rule) and reports the truncated one.
        let (kept, error) = KeyList(&bytes[..needed - 1]).parse_lenient();
        prop_assert_eq!(kept.len(), keys.len() - 1);
        prop_assert!(error.is_some());
    }
}
