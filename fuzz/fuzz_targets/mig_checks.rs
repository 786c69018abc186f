//! The MIG request and reply checks of `mach_async::mig` (`mig.md` §8/§9) on arbitrary bytes,
//! against routine shapes of every kind (simple, inline array, complex with port / OOL / OOL-ports
//! descriptors, audit trailer): never panic, and a pass implies the size rule holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mach_async::mig::codec::read_u32;
use mach_async::mig::{
    audit_token_from_trailer, check_reply, check_request, Body, DescriptorSpec, ReplyShape,
    RequestShape, SizeRule,
};

static PORT: [DescriptorSpec; 1] = [DescriptorSpec::Port { label: 17 }];
static OOL: [DescriptorSpec; 2] = [
    DescriptorSpec::Ool { count_offset: 60 },
    DescriptorSpec::OolPorts {
        label: 17,
        count_offset: 64,
    },
];

const ARRAY: SizeRule = SizeRule::InlineArray {
    fixed_min: 36,
    count_offset: 32,
    elem_size: 1,
    max_count: 64,
};

fn request_shapes() -> [RequestShape; 5] {
    [
        RequestShape::simple(24),
        RequestShape {
            audit_token: true,
            ..RequestShape::simple(48)
        },
        RequestShape {
            body: Body::Simple,
            size: ARRAY,
            audit_token: false,
        },
        RequestShape {
            body: Body::Complex(&PORT),
            size: SizeRule::Exact(40),
            audit_token: false,
        },
        RequestShape {
            body: Body::Complex(&OOL),
            size: SizeRule::Exact(68),
            audit_token: true,
        },
    ]
}

fn reply_shapes() -> [ReplyShape; 4] {
    [
        ReplyShape::simple(40),
        ReplyShape::simple(44),
        ReplyShape {
            body: Body::Simple,
            size: ARRAY,
        },
        ReplyShape {
            body: Body::Complex(&OOL),
            size: SizeRule::Exact(68),
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let size = read_u32(data, 4);
    for shape in request_shapes() {
        if let Ok(checked) = check_request(data, &shape) {
            let size = size.expect("a passing request has a header");
            assert!(size >= shape.size.min() && size <= shape.size.max());
            assert!(size as usize <= data.len());
            assert_eq!(checked.audit_token.is_some(), shape.audit_token);
        }
    }
    let request_id = data
        .get(..4)
        .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    for shape in reply_shapes() {
        if check_reply(data, request_id.wrapping_sub(100), &shape).is_ok() {
            let size = size.expect("a passing reply has a header");
            assert!(size >= shape.size.min() && size <= shape.size.max());
        }
    }
    if let Some(size) = size {
        let _ = audit_token_from_trailer(data, size);
    }
});
