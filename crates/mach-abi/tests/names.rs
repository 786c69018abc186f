//! Return-code names (issue 16): what error messages print instead of bare numbers.

use mach_abi::*;

#[test]
fn every_family_of_return_codes_is_named() {
    let cases: &[(i32, &str)] = &[
        (KERN_SUCCESS, "KERN_SUCCESS"),
        (KERN_NO_SPACE, "KERN_NO_SPACE"),
        (KERN_INVALID_NAME, "KERN_INVALID_NAME"),
        (KERN_INVALID_RIGHT, "KERN_INVALID_RIGHT"),
        (KERN_UREFS_OVERFLOW, "KERN_UREFS_OVERFLOW"),
        (KERN_NOT_FOUND, "KERN_NOT_FOUND"),
        (MACH_SEND_INVALID_DEST, "MACH_SEND_INVALID_DEST"),
        (MACH_SEND_TIMED_OUT, "MACH_SEND_TIMED_OUT"),
        (MACH_SEND_NO_BUFFER, "MACH_SEND_NO_BUFFER"),
        (MACH_RCV_TIMED_OUT, "MACH_RCV_TIMED_OUT"),
        (MACH_RCV_TOO_LARGE, "MACH_RCV_TOO_LARGE"),
        (MACH_RCV_PORT_DIED, "MACH_RCV_PORT_DIED"),
        (MACH_RCV_INVALID_ARGUMENTS, "MACH_RCV_INVALID_ARGUMENTS"),
        (MIG_TYPE_ERROR, "MIG_TYPE_ERROR"),
        (MIG_BAD_ID, "MIG_BAD_ID"),
        (MIG_SERVER_DIED, "MIG_SERVER_DIED"),
        (MIG_TRAILER_ERROR, "MIG_TRAILER_ERROR"),
        (BOOTSTRAP_NAME_IN_USE, "BOOTSTRAP_NAME_IN_USE"),
        (BOOTSTRAP_UNKNOWN_SERVICE, "BOOTSTRAP_UNKNOWN_SERVICE"),
    ];
    for &(code, name) in cases {
        assert_eq!(return_code_name(code), Some(name), "code {code:#x}");
    }
}

#[test]
fn every_kern_return_below_the_xnu_maximum_has_a_kern_name() {
    for code in KERN_SUCCESS..=KERN_NOT_FOUND {
        let name = return_code_name(code).unwrap_or_else(|| panic!("{code} unnamed"));
        assert!(name.starts_with("KERN_"), "{code}: {name}");
    }
    for code in 0x1000_0001..=0x1000_0019 {
        if let Some(name) = return_code_name(code) {
            assert!(name.starts_with("MACH_SEND_"), "{code:#x}: {name}");
        }
    }
    for code in 0x1000_4001..=0x1000_4013 {
        if let Some(name) = return_code_name(code) {
            assert!(name.starts_with("MACH_RCV_"), "{code:#x}: {name}");
        }
    }
}

#[test]
fn detail_bits_keep_the_base_name_and_unknown_codes_have_none() {
    assert_eq!(
        return_code_name(MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE),
        Some("MACH_RCV_HEADER_ERROR")
    );
    assert_eq!(
        return_code_name(MACH_RCV_BODY_ERROR | MACH_MSG_VM_KERNEL),
        Some("MACH_RCV_BODY_ERROR")
    );
    assert_eq!(return_code_name(KERN_RETURN_MAX), None);
    assert_eq!(return_code_name(0x1000_0006), None, "no MACH_SEND code 6");
    assert_eq!(return_code_name(-1), None);
}

#[test]
fn return_code_displays_name_and_value() {
    assert_eq!(named_code(KERN_NO_SPACE).to_string(), "KERN_NO_SPACE (0x3)");
    assert_eq!(
        named_code(MACH_SEND_INVALID_DEST).to_string(),
        "MACH_SEND_INVALID_DEST (0x10000003)"
    );
    assert_eq!(named_code(MIG_BAD_ID).to_string(), "MIG_BAD_ID (-303)");
    assert_eq!(named_code(0x7777).to_string(), "unknown code 0x7777");
    assert_eq!(named_code(-5).to_string(), "unknown code -5");
}

#[test]
fn mig_and_bootstrap_codes_are_named_in_full() {
    for code in MIG_TRAILER_ERROR..=MIG_TYPE_ERROR {
        let name = return_code_name(code).unwrap_or_else(|| panic!("{code} unnamed"));
        assert!(name.starts_with("MIG_"), "{code}: {name}");
    }
    for code in BOOTSTRAP_NOT_PRIVILEGED..=BOOTSTRAP_NO_CHILDREN {
        let name = return_code_name(code).unwrap_or_else(|| panic!("{code} unnamed"));
        assert!(name.starts_with("BOOTSTRAP_"), "{code}: {name}");
    }
}

#[test]
fn a_default_kevent_is_all_zero() {
    let k = kevent_freebsd::default();
    assert_eq!(
        (k.ident, k.filter, k.flags, k.fflags, k.data),
        (0, 0, 0, 0, 0)
    );
}
