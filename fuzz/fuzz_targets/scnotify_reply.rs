//! scnotify's `config.defs` reply decoders (the client stubs' checks), for every routine chosen
//! by the first input byte: never panic, and a decoded reply re-encodes and decodes unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scnotify::store_messages::{Reply, Routine};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, msg)) = data.split_first() else {
        return;
    };
    let routine = Routine::ALL[usize::from(selector) % Routine::ALL.len()];
    let Ok(reply) = Reply::decode(routine, msg) else {
        return;
    };
    let bytes = reply
        .encode(routine)
        .expect("a decoded reply fits its routine");
    assert!(bytes.len() <= routine.max_reply_size());
    assert_eq!(
        Reply::decode(routine, &bytes).expect("re-encoded reply decodes"),
        reply
    );
});
