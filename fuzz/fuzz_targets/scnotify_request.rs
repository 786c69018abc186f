//! scnotify's `config.defs` request decoder (the configd server's checks): never panics, and a
//! decoded request re-encodes to a message that decodes to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scnotify::store_messages::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Request::decode(data) else {
        return;
    };
    let bytes = request
        .encode()
        .expect("a decoded request fits its routine");
    assert!(bytes.len() <= request.routine().max_request_size());
    assert_eq!(
        Request::decode(&bytes).expect("re-encoded request decodes"),
        request
    );
});
