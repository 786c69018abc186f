//! The key-list and key/value-map decoders (`config_wire` payloads): never panic; the strict
//! decode of a well-formed payload re-encodes to the very same bytes (the format is canonical);
//! the lenient decode keeps exactly the records before the first truncated one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scnotify::store_messages::keylist::{encode_key_list, encode_kv_map, KeyList, KvMap};

fuzz_target!(|data: &[u8]| {
    let cap = data.len().max(1);
    let (lenient, error) = KeyList(data).parse_lenient();
    match KeyList(data).parse() {
        Ok(keys) => {
            assert!(error.is_none());
            assert_eq!(keys, lenient);
            assert_eq!(encode_key_list(&keys, cap).expect("fits"), data);
        }
        Err(e) => {
            assert_eq!(error, Some(e));
            let prefix = encode_key_list(&lenient, cap).expect("fits");
            assert!(data.starts_with(&prefix));
        }
    }
    let (lenient, error) = KvMap(data).parse_lenient();
    match KvMap(data).parse() {
        Ok(pairs) => {
            assert!(error.is_none());
            assert_eq!(pairs, lenient);
            assert_eq!(encode_kv_map(pairs, cap).expect("fits"), data);
        }
        Err(e) => {
            assert_eq!(error, Some(e));
            let prefix = encode_kv_map(lenient, cap).expect("fits");
            assert!(data.starts_with(&prefix));
        }
    }
});
