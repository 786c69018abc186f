//! Value checks against the spec tables (catch typos in constants).

use mach_abi::*;

#[test]
fn kern_return_codes() {
    let table: &[(kern_return_t, kern_return_t)] = &[
        (KERN_SUCCESS, 0),
        (KERN_INVALID_ADDRESS, 1),
        (KERN_PROTECTION_FAILURE, 2),
        (KERN_NO_SPACE, 3),
        (KERN_INVALID_ARGUMENT, 4),
        (KERN_FAILURE, 5),
        (KERN_RESOURCE_SHORTAGE, 6),
        (KERN_NOT_RECEIVER, 7),
        (KERN_NO_ACCESS, 8),
        (KERN_MEMORY_FAILURE, 9),
        (KERN_MEMORY_ERROR, 10),
        (KERN_ALREADY_IN_SET, 11),
        (KERN_NOT_IN_SET, 12),
        (KERN_NAME_EXISTS, 13),
        (KERN_ABORTED, 14),
        (KERN_INVALID_NAME, 15),
        (KERN_INVALID_TASK, 16),
        (KERN_INVALID_RIGHT, 17),
        (KERN_INVALID_VALUE, 18),
        (KERN_UREFS_OVERFLOW, 19),
        (KERN_INVALID_CAPABILITY, 20),
        (KERN_RIGHT_EXISTS, 21),
        (KERN_INVALID_HOST, 22),
        (KERN_MEMORY_PRESENT, 23),
        (KERN_MEMORY_DATA_MOVED, 24),
        (KERN_MEMORY_RESTART_COPY, 25),
        (KERN_INVALID_PROCESSOR_SET, 26),
        (KERN_POLICY_LIMIT, 27),
        (KERN_INVALID_POLICY, 28),
        (KERN_INVALID_OBJECT, 29),
        (KERN_ALREADY_WAITING, 30),
        (KERN_DEFAULT_SET, 31),
        (KERN_EXCEPTION_PROTECTED, 32),
        (KERN_INVALID_LEDGER, 33),
        (KERN_INVALID_MEMORY_CONTROL, 34),
        (KERN_INVALID_SECURITY, 35),
        (KERN_NOT_DEPRESSED, 36),
        (KERN_TERMINATED, 37),
        (KERN_LOCK_SET_DESTROYED, 38),
        (KERN_LOCK_UNSTABLE, 39),
        (KERN_LOCK_OWNED, 40),
        (KERN_LOCK_OWNED_SELF, 41),
        (KERN_SEMAPHORE_DESTROYED, 42),
        (KERN_RPC_SERVER_TERMINATED, 43),
        (KERN_RPC_TERMINATE_ORPHAN, 44),
        (KERN_RPC_CONTINUE_ORPHAN, 45),
        (KERN_NOT_SUPPORTED, 46),
        (KERN_NODE_DOWN, 47),
        (KERN_NOT_WAITING, 48),
        (KERN_OPERATION_TIMED_OUT, 49),
        (KERN_CODESIGN_ERROR, 50),
        (KERN_POLICY_STATIC, 51),
        (KERN_INSUFFICIENT_BUFFER_SIZE, 52),
        (KERN_DENIED, 53),
        (KERN_MISSING_KC, 54),
        (KERN_INVALID_KC, 55),
        (KERN_NOT_FOUND, 56),
        (KERN_RETURN_MAX, 0x100),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got, want, "row {i}");
    }
}

#[test]
fn mach_msg_return_codes() {
    let table: &[(mach_msg_return_t, u32)] = &[
        (MACH_MSG_SUCCESS, 0),
        (MACH_SEND_IN_PROGRESS, 0x1000_0001),
        (MACH_SEND_INVALID_DATA, 0x1000_0002),
        (MACH_SEND_INVALID_DEST, 0x1000_0003),
        (MACH_SEND_TIMED_OUT, 0x1000_0004),
        (MACH_SEND_INVALID_VOUCHER, 0x1000_0005),
        (MACH_SEND_INTERRUPTED, 0x1000_0007),
        (MACH_SEND_MSG_TOO_SMALL, 0x1000_0008),
        (MACH_SEND_INVALID_REPLY, 0x1000_0009),
        (MACH_SEND_INVALID_RIGHT, 0x1000_000a),
        (MACH_SEND_INVALID_NOTIFY, 0x1000_000b),
        (MACH_SEND_INVALID_MEMORY, 0x1000_000c),
        (MACH_SEND_NO_BUFFER, 0x1000_000d),
        (MACH_SEND_TOO_LARGE, 0x1000_000e),
        (MACH_SEND_INVALID_TYPE, 0x1000_000f),
        (MACH_SEND_INVALID_HEADER, 0x1000_0010),
        (MACH_SEND_INVALID_TRAILER, 0x1000_0011),
        (MACH_SEND_INVALID_CONTEXT, 0x1000_0012),
        (MACH_SEND_INVALID_OPTIONS, 0x1000_0013),
        (MACH_SEND_INVALID_RT_OOL_SIZE, 0x1000_0015),
        (MACH_SEND_NO_GRANT_DEST, 0x1000_0016),
        (MACH_SEND_MSG_FILTERED, 0x1000_0017),
        (MACH_SEND_AUX_TOO_SMALL, 0x1000_0018),
        (MACH_SEND_AUX_TOO_LARGE, 0x1000_0019),
        (MACH_RCV_IN_PROGRESS, 0x1000_4001),
        (MACH_RCV_INVALID_NAME, 0x1000_4002),
        (MACH_RCV_TIMED_OUT, 0x1000_4003),
        (MACH_RCV_TOO_LARGE, 0x1000_4004),
        (MACH_RCV_INTERRUPTED, 0x1000_4005),
        (MACH_RCV_PORT_CHANGED, 0x1000_4006),
        (MACH_RCV_INVALID_NOTIFY, 0x1000_4007),
        (MACH_RCV_INVALID_DATA, 0x1000_4008),
        (MACH_RCV_PORT_DIED, 0x1000_4009),
        (MACH_RCV_IN_SET, 0x1000_400a),
        (MACH_RCV_HEADER_ERROR, 0x1000_400b),
        (MACH_RCV_BODY_ERROR, 0x1000_400c),
        (MACH_RCV_INVALID_TYPE, 0x1000_400d),
        (MACH_RCV_SCATTER_SMALL, 0x1000_400e),
        (MACH_RCV_INVALID_TRAILER, 0x1000_400f),
        (MACH_RCV_IN_PROGRESS_TIMED, 0x1000_4011),
        (MACH_RCV_INVALID_REPLY, 0x1000_4012),
        (MACH_RCV_INVALID_ARGUMENTS, 0x1000_4013),
        (MACH_MSG_MASK, 0x3e00),
        (MACH_MSG_IPC_SPACE, 0x2000),
        (MACH_MSG_VM_SPACE, 0x1000),
        (MACH_MSG_IPC_KERNEL, 0x800),
        (MACH_MSG_VM_KERNEL, 0x400),
        (MACH_MSG_INVALID_RT_DESCRIPTOR, 0x200),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got as u32, want, "row {i}");
    }
    // Special bits are stripped by the mask.
    assert_eq!(
        (MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE) & !MACH_MSG_MASK,
        MACH_RCV_HEADER_ERROR
    );
}

#[test]
fn mig_and_bootstrap_codes() {
    let table: &[(kern_return_t, kern_return_t)] = &[
        (MIG_TYPE_ERROR, -300),
        (MIG_REPLY_MISMATCH, -301),
        (MIG_REMOTE_ERROR, -302),
        (MIG_BAD_ID, -303),
        (MIG_BAD_ARGUMENTS, -304),
        (MIG_NO_REPLY, -305),
        (MIG_EXCEPTION, -306),
        (MIG_ARRAY_TOO_LARGE, -307),
        (MIG_SERVER_DIED, -308),
        (MIG_TRAILER_ERROR, -309),
        (BOOTSTRAP_SUCCESS, 0),
        (BOOTSTRAP_NOT_PRIVILEGED, 1100),
        (BOOTSTRAP_NAME_IN_USE, 1101),
        (BOOTSTRAP_UNKNOWN_SERVICE, 1102),
        (BOOTSTRAP_SERVICE_ACTIVE, 1103),
        (BOOTSTRAP_BAD_COUNT, 1104),
        (BOOTSTRAP_NO_MEMORY, 1105),
        (BOOTSTRAP_NO_CHILDREN, 1106),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got, want, "row {i}");
    }
    assert_eq!(MIG_TYPE_ERROR as u32, 0xFFFF_FED4);
    assert_eq!(MIG_TRAILER_ERROR as u32, 0xFFFF_FECB);
    assert_eq!(TASK_BOOTSTRAP_PORT, 4);
    assert_eq!(HOST_BOOTSTRAP_PORT, 13);
    assert_eq!(HOST_KEXTD_PORT, 15);
}

#[test]
fn option_bits() {
    let table: &[(mach_msg_option_t, u32)] = &[
        (MACH_SEND_MSG, 0x1),
        (MACH_RCV_MSG, 0x2),
        (MACH_RCV_LARGE, 0x4),
        (MACH_RCV_LARGE_IDENTITY, 0x8),
        (MACH_SEND_TIMEOUT, 0x10),
        (MACH_SEND_OVERRIDE, 0x20),
        (MACH_SEND_INTERRUPT, 0x40),
        (MACH_SEND_NOTIFY, 0x80),
        (MACH_RCV_TIMEOUT, 0x100),
        (MACH_RCV_INTERRUPT, 0x400),
        (MACH_RCV_VOUCHER, 0x800),
        (MACH_RCV_SYNC_WAIT, 0x4000),
        (MACH_RCV_SYNC_PEEK, 0x8000),
        (MACH_SEND_ALWAYS, 0x1_0000),
        (MACH_SEND_TRAILER, 0x2_0000),
        (MACH_SEND_NOIMPORTANCE, 0x4_0000),
        (MACH_SEND_SYNC_OVERRIDE, 0x10_0000),
        (MACH_SEND_PROPAGATE_QOS, 0x20_0000),
        (MACH_RCV_TRAILER_MASK, 0x0f00_0000),
        (MACH_RCV_TRAILER_MASK_NEXTBSD, 0xff00_0000),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got, want, "row {i}");
    }
    // libmach pitfalls: SEND_NOTIFY is not RCV_LARGE.
    assert_ne!(MACH_SEND_NOTIFY, MACH_RCV_LARGE);

    let drain = MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT;
    assert_eq!(drain, 0x106);
    let audit = drain
        | MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0)
        | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
    assert_eq!(audit, 0x0300_0106);
    let ctx = drain | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_CTX);
    assert_eq!(ctx, 0x0400_0106);
    assert_eq!(MACH_SEND_MSG | MACH_SEND_TIMEOUT, 0x11);
    assert_eq!(MACH_RCV_TRAILER_TYPE(0x1f), 0xf000_0000);
    assert_eq!(MACH_RCV_TRAILER_ELEMENTS(0x1f), 0x0f00_0000);
    assert_eq!(GET_RCV_ELEMENTS(audit), MACH_RCV_TRAILER_AUDIT);
}

#[test]
fn trailer_sizes() {
    let table: &[(mach_msg_trailer_info_t, mach_msg_size_t)] = &[
        (MACH_RCV_TRAILER_NULL, 8),
        (MACH_RCV_TRAILER_SEQNO, 12),
        (MACH_RCV_TRAILER_SENDER, 20),
        (MACH_RCV_TRAILER_AUDIT, 52),
        (MACH_RCV_TRAILER_CTX, 60),
        (5, 68),
        (6, 68),
        (MACH_RCV_TRAILER_AV, 68),
        (MACH_RCV_TRAILER_LABELS, 68),
        (15, 68),
    ];
    for &(elements, want) in table {
        let opt = MACH_RCV_MSG | MACH_RCV_TRAILER_ELEMENTS(elements);
        assert_eq!(REQUESTED_TRAILER_SIZE(opt), want, "elements {elements}");
    }
    assert_eq!(REQUESTED_TRAILER_SIZE(0x106), 8);
    assert_eq!(REQUESTED_TRAILER_SIZE(0x0300_0106), 52);
    assert_eq!(REQUESTED_TRAILER_SIZE(0x0400_0106), 60);
    assert_eq!(MACH_RCV_TRAILER_AV, 7);
    assert_eq!(MACH_RCV_TRAILER_LABELS, 8);
    assert_eq!(MAX_TRAILER_SIZE, 68);
    assert_eq!(MACH_MSG_TRAILER_MINIMUM_SIZE, 8);
    assert_eq!(MACH_MSG_TRAILER_FORMAT_0, 0);
    assert_eq!(
        core::mem::size_of::<mach_msg_max_trailer_t>(),
        MAX_TRAILER_SIZE as usize
    );
}

#[test]
fn header_bits() {
    assert_eq!(MACH_MSGH_BITS_REMOTE_MASK, 0x1f);
    assert_eq!(MACH_MSGH_BITS_LOCAL_MASK, 0x1f00);
    assert_eq!(MACH_MSGH_BITS_VOUCHER_MASK, 0x1f_0000);
    assert_eq!(MACH_MSGH_BITS_PORTS_MASK, 0x1f_1f1f);
    assert_eq!(MACH_MSGH_BITS_COMPLEX, 0x8000_0000);
    assert_eq!(MACH_MSGH_BITS_CIRCULAR, 0x1000_0000);
    assert_eq!(MACH_MSGH_BITS_USER, 0x801f_1f1f);

    assert_eq!(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), 0x13);
    assert_eq!(
        MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE),
        0x1513
    );
    assert_eq!(MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0), 0x12);
    assert_eq!(MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND_ONCE, 0), 0x15);
    assert_eq!(
        MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_PORT_SEND),
        0x1112
    );

    let bits = MACH_MSGH_BITS_SET(19, 21, 17, MACH_MSGH_BITS_COMPLEX | 0x1f);
    assert_eq!(bits, 0x8011_1513);
    assert_eq!(MACH_MSGH_BITS_REMOTE(bits), 19);
    assert_eq!(MACH_MSGH_BITS_LOCAL(bits), 21);
    assert_eq!(MACH_MSGH_BITS_VOUCHER(bits), 17);
    assert_eq!(MACH_MSGH_BITS_PORTS(bits), 0x11_1513);
    assert_eq!(MACH_MSGH_BITS_OTHER(bits), 0x8000_0000);
    assert!(MACH_MSGH_BITS_IS_COMPLEX(bits));
    assert!(MACH_MSGH_BITS_HAS_REMOTE(bits));
    assert!(MACH_MSGH_BITS_HAS_LOCAL(bits));
    assert!(MACH_MSGH_BITS_HAS_VOUCHER(bits));
    assert!(!MACH_MSGH_BITS_HAS_LOCAL(0x13));
    assert_eq!(MACH_MSGH_BITS_SET_PORTS(0xff, 0xff, 0xff), 0x1f_1f1f);
}

#[test]
fn dispositions() {
    let table: &[(mach_msg_type_name_t, u32)] = &[
        (MACH_MSG_TYPE_NONE, 0),
        (MACH_MSG_TYPE_PORT_NAME, 15),
        (MACH_MSG_TYPE_MOVE_RECEIVE, 16),
        (MACH_MSG_TYPE_MOVE_SEND, 17),
        (MACH_MSG_TYPE_MOVE_SEND_ONCE, 18),
        (MACH_MSG_TYPE_COPY_SEND, 19),
        (MACH_MSG_TYPE_MAKE_SEND, 20),
        (MACH_MSG_TYPE_MAKE_SEND_ONCE, 21),
        (MACH_MSG_TYPE_COPY_RECEIVE, 22),
        (MACH_MSG_TYPE_DISPOSE_RECEIVE, 24),
        (MACH_MSG_TYPE_DISPOSE_SEND, 25),
        (MACH_MSG_TYPE_DISPOSE_SEND_ONCE, 26),
        (MACH_MSG_TYPE_PORT_RECEIVE, 16),
        (MACH_MSG_TYPE_PORT_SEND, 17),
        (MACH_MSG_TYPE_PORT_SEND_ONCE, 18),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got, want, "row {i}");
    }
    assert!(MACH_MSG_TYPE_PORT_ANY(16) && MACH_MSG_TYPE_PORT_ANY(21));
    assert!(!MACH_MSG_TYPE_PORT_ANY(15) && !MACH_MSG_TYPE_PORT_ANY(22));
    assert!(MACH_MSG_TYPE_PORT_ANY_SEND(17) && !MACH_MSG_TYPE_PORT_ANY_SEND(16));
    assert!(MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(18) && MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(21));
    assert!(!MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(19));
    assert!(MACH_MSG_TYPE_PORT_ANY_RIGHT(18) && !MACH_MSG_TYPE_PORT_ANY_RIGHT(19));

    assert_eq!(MACH_MSG_PORT_DESCRIPTOR, 0);
    assert_eq!(MACH_MSG_OOL_DESCRIPTOR, 1);
    assert_eq!(MACH_MSG_OOL_PORTS_DESCRIPTOR, 2);
    assert_eq!(MACH_MSG_OOL_VOLATILE_DESCRIPTOR, 3);
    assert_eq!(MACH_MSG_GUARDED_PORT_DESCRIPTOR, 4);
    assert_eq!(MACH_MSG_PHYSICAL_COPY, 0);
    assert_eq!(MACH_MSG_VIRTUAL_COPY, 1);
    assert_eq!(MACH_MSG_ALLOCATE, 2);
    assert_eq!(MACH_MSG_OVERWRITE, 3);
}

#[test]
fn ports_and_rights() {
    assert_eq!(MACH_PORT_NULL, 0);
    assert_eq!(MACH_PORT_DEAD, 0xFFFF_FFFF);
    assert!(MACH_PORT_VALID(16));
    assert!(!MACH_PORT_VALID(MACH_PORT_NULL) && !MACH_PORT_VALID(MACH_PORT_DEAD));

    assert_eq!(MACH_PORT_RIGHT_SEND, 0);
    assert_eq!(MACH_PORT_RIGHT_RECEIVE, 1);
    assert_eq!(MACH_PORT_RIGHT_SEND_ONCE, 2);
    assert_eq!(MACH_PORT_RIGHT_PORT_SET, 3);
    assert_eq!(MACH_PORT_RIGHT_DEAD_NAME, 4);
    assert_eq!(MACH_PORT_RIGHT_LABELH, 5);
    assert_eq!(MACH_PORT_RIGHT_NUMBER, 6);

    assert_eq!(MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND), 0x1_0000);
    assert_eq!(MACH_PORT_TYPE_SEND, 0x1_0000);
    assert_eq!(MACH_PORT_TYPE_RECEIVE, 0x2_0000);
    assert_eq!(MACH_PORT_TYPE_SEND_ONCE, 0x4_0000);
    assert_eq!(MACH_PORT_TYPE_PORT_SET, 0x8_0000);
    assert_eq!(MACH_PORT_TYPE_DEAD_NAME, 0x10_0000);
    assert_eq!(MACH_PORT_TYPE_SEND_RECEIVE, 0x3_0000);
    assert_eq!(MACH_PORT_TYPE_DNREQUEST, 0x8000_0000);
    assert_eq!(MACH_PORT_TYPE_SPREQUEST, 0x4000_0000);
    assert_eq!(MACH_PORT_TYPE_SPREQUEST_DELAYED, 0x2000_0000);

    assert_eq!(MACH_PORT_QLIMIT_ZERO, 0);
    assert_eq!(MACH_PORT_QLIMIT_BASIC, 5);
    assert_eq!(MACH_PORT_QLIMIT_DEFAULT, 5);
    assert_eq!(MACH_PORT_QLIMIT_SMALL, 16);
    assert_eq!(MACH_PORT_QLIMIT_LARGE, 1024);
    assert_eq!(MACH_PORT_QLIMIT_MAX, 1024);
    assert_eq!(MACH_PORT_QLIMIT_KERNEL, 65536);
    assert_eq!(MACH_PORT_QLIMIT_KERNEL_XNU, 65534);
    assert_eq!(MACH_PORT_LIMITS_INFO, 1);

    assert_eq!(MACH_MSG_TIMEOUT_NONE, 0);
    assert_eq!(NEXTBSD_MAX_INLINE_SEND, 50_331_580);
}

#[test]
fn notification_ids() {
    assert_eq!(MACH_NOTIFY_FIRST, 0o100);
    assert_eq!(MACH_NOTIFY_PORT_DELETED, 0o101);
    assert_eq!(MACH_NOTIFY_SEND_POSSIBLE, 0o102);
    assert_eq!(MACH_NOTIFY_PORT_DESTROYED, 0o105);
    assert_eq!(MACH_NOTIFY_NO_SENDERS, 0o106);
    assert_eq!(MACH_NOTIFY_SEND_ONCE, 0o107);
    assert_eq!(MACH_NOTIFY_DEAD_NAME, 0o110);
    assert_eq!(MACH_NOTIFY_LAST, 77);
}

#[test]
fn ndr_record_bytes() {
    let r = NDR_record;
    let bytes = [
        r.mig_vers,
        r.if_vers,
        r.reserved1,
        r.mig_encoding,
        r.int_rep,
        r.char_rep,
        r.float_rep,
        r.reserved2,
    ];
    assert_eq!(bytes, [0, 0, 0, 0, 1, 0, 0, 0]);
}

#[test]
fn audit_token_accessors() {
    let t = audit_token_t {
        val: [100, 101, 102, 103, 104, 105, 106, 107],
    };
    assert_eq!(audit_token_to_auid(t), 100);
    assert_eq!(audit_token_to_euid(t), 101);
    assert_eq!(audit_token_to_egid(t), 102);
    assert_eq!(audit_token_to_ruid(t), 103);
    assert_eq!(audit_token_to_rgid(t), 104);
    assert_eq!(audit_token_to_pid(t), 105);
    assert_eq!(audit_token_to_asid(t), 106);
    assert_eq!(audit_token_to_pidversion(t), 107);
    assert_eq!(KERNEL_AUDIT_TOKEN.val, [0; 8]);
    assert_eq!(KERNEL_SECURITY_TOKEN.val, [0; 2]);
}

#[test]
fn kevent_values() {
    assert_eq!(EVFILT_MACHPORT_NEXTBSD, -16);
    assert_eq!(EVFILT_MACHPORT_XNU, -8);
    assert_eq!(EVFILT_READ, -1);
    let table: &[(u16, u16)] = &[
        (EV_ADD, 0x1),
        (EV_DELETE, 0x2),
        (EV_ENABLE, 0x4),
        (EV_DISABLE, 0x8),
        (EV_ONESHOT, 0x10),
        (EV_CLEAR, 0x20),
        (EV_RECEIPT, 0x40),
        (EV_DISPATCH, 0x80),
        (EV_FORCEONESHOT, 0x100),
        (EV_KEEPUDATA, 0x200),
        (EV_DROP, 0x1000),
        (EV_FLAG1, 0x2000),
        (EV_ERROR, 0x4000),
        (EV_EOF, 0x8000),
    ];
    for (i, &(got, want)) in table.iter().enumerate() {
        assert_eq!(got, want, "row {i}");
    }
    let ev = kevent_freebsd::zeroed();
    assert!(ev.udata.is_null());
    assert_eq!(ev.ext, [0; 4]);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(core::mem::size_of::<kevent_freebsd>(), 64);
}

#[test]
fn wire_layout_by_bytes() {
    // A port descriptor placed right after header + body: the type byte lands at 28 + 11.
    let d = mach_msg_port_descriptor_t {
        name: 0x1234,
        pad1: 0,
        pad2: 0,
        disposition: MACH_MSG_TYPE_MOVE_SEND as u8,
        type_: MACH_MSG_PORT_DESCRIPTOR,
    };
    // SAFETY: the descriptor is plain old data of exactly 12 bytes.
    let bytes: [u8; 12] = unsafe { core::mem::transmute(d) };
    assert_eq!(bytes, [0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 17, 0]);

    let ool = mach_msg_ool_descriptor_t {
        address: 0x1122_3344_5566_7788,
        deallocate: 1,
        copy: MACH_MSG_VIRTUAL_COPY,
        pad1: 0,
        type_: MACH_MSG_OOL_DESCRIPTOR,
        size: 0x40,
    };
    // SAFETY: the descriptor is plain old data of exactly 16 bytes.
    let bytes: [u8; 16] = unsafe { core::mem::transmute(ool) };
    assert_eq!(
        bytes,
        [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 1, 1, 0, 1, 0x40, 0, 0, 0]
    );

    let reply = mig_reply_error_t {
        Head: mach_msg_header_t {
            msgh_bits: 0x12,
            msgh_size: 36,
            msgh_remote_port: 5,
            msgh_local_port: 0,
            msgh_voucher_port: 0,
            msgh_id: 1100,
        },
        NDR: NDR_record,
        RetCode: MIG_BAD_ID,
    };
    // SAFETY: the reply is plain old data of exactly 36 bytes.
    let bytes: [u8; 36] = unsafe { core::mem::transmute(reply) };
    assert_eq!(&bytes[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(&bytes[32..36], &(-303i32).to_le_bytes());
}
