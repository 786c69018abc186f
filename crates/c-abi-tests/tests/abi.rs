//! The hand-written libmach headers (`crates/mach-sim/include/mach/*.h`,
//! `<servers/bootstrap.h>`) and the generated `<mach_sim.h>` cannot drift from `mach-abi`.
//!
//! This test writes `abi_expected.h`, a C file of `_Static_assert`s whose expected values come
//! from `mach-abi` itself (every constant, every struct's size, alignment and field offsets, the
//! scalar typedefs' sizes and signedness, and the function-like macros evaluated on sample
//! arguments), then compiles `tests/c/mach_sim/abi_layout.c` against the headers with it and
//! runs it (runtime checks of the exported data symbols). It also fails when `mach-abi` gains a
//! public constant or struct that is neither checked here nor listed as deliberately absent from
//! the C headers.

use c_abi_tests::{
    assert_passed, build_staticlib, compile_with, include_dir, run, target_dir, workspace_root,
    DEFAULT_TIMEOUT,
};
use mach_abi::*;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};

/// `mach-abi` constants that deliberately have no C macro of the same name.
const NOT_IN_C_HEADERS: &[(&str, &str)] = &[
    (
        "EVFILT_MACHPORT_NEXTBSD",
        "C code uses EVFILT_MACHPORT (checked below)",
    ),
    (
        "EVFILT_MACHPORT_XNU",
        "Apple's value; never valid on the simulated NextBSD kernel",
    ),
    (
        "MACH_PORT_QLIMIT_KERNEL_XNU",
        "project-named; XNU's MACH_PORT_QLIMIT_KERNEL",
    ),
    (
        "MACH_RCV_TRAILER_MASK_NEXTBSD",
        "project-named; the NextBSD kernel's mask",
    ),
    (
        "MACH_MSG_HEADER_SIZE",
        "project-named; C uses sizeof(mach_msg_header_t) (checked)",
    ),
    (
        "NDR_record",
        "an exported data symbol in C (checked at run time)",
    ),
    (
        "KERNEL_AUDIT_TOKEN",
        "C has KERNEL_AUDIT_TOKEN_VALUE (checked at run time)",
    ),
    (
        "KERNEL_SECURITY_TOKEN",
        "C has KERNEL_SECURITY_TOKEN_VALUE (checked at run time)",
    ),
];

/// `mach-abi` structs whose C name differs or that C spells differently.
const STRUCT_NAMES_IN_C: &[(&str, &str)] = &[("kevent_freebsd", "struct kevent")];

/// The generated C file, with the names it checked.
#[derive(Default)]
struct Expected {
    c: String,
    constants: BTreeSet<&'static str>,
    structs: BTreeSet<&'static str>,
    checks: usize,
}

impl Expected {
    fn assert(&mut self, expr: &str, what: &str) {
        let what = what.replace('"', "'");
        writeln!(self.c, "_Static_assert({expr}, \"{what}\");").unwrap();
        self.checks += 1;
    }

    fn constant(&mut self, name: &'static str, value: i128) {
        self.constants.insert(name);
        self.assert(
            &format!("(long long)({name}) == {value}LL"),
            &format!("{name} == {value}"),
        );
    }

    fn scalar(&mut self, c_type: &str, size: usize, signed: bool) {
        self.assert(
            &format!("sizeof({c_type}) == {size}"),
            &format!("sizeof({c_type}) == {size}"),
        );
        self.assert(
            &format!("(({c_type})-1 > ({c_type})0) == {}", i32::from(!signed)),
            &format!("{c_type} is {}signed", if signed { "" } else { "un" }),
        );
    }

    /// Size, alignment and offsets of a struct. `extra` is what C adds at the end (the
    /// notification structs carry a format-0 trailer as in Apple's header).
    fn layout(
        &mut self,
        rust_name: &'static str,
        c_name: &str,
        size: usize,
        align: usize,
        extra: usize,
        fields: &[(&str, usize)],
    ) {
        self.structs.insert(rust_name);
        let c_size = size + extra;
        self.assert(
            &format!("sizeof({c_name}) == {c_size}"),
            &format!("sizeof({c_name}) == {c_size}"),
        );
        self.assert(
            &format!("_Alignof({c_name}) == {align}"),
            &format!("_Alignof({c_name}) == {align}"),
        );
        for (field, offset) in fields {
            self.assert(
                &format!("offsetof({c_name}, {field}) == {offset}"),
                &format!("offsetof({c_name}, {field}) == {offset}"),
            );
        }
    }
}

macro_rules! constants {
    ($e:ident; $($name:ident),* $(,)?) => {
        $( $e.constant(stringify!($name), $name as i128); )*
    };
}

macro_rules! scalars {
    ($e:ident; $($ty:ident),* $(,)?) => {
        $( $e.scalar(stringify!($ty), size_of::<$ty>(), <$ty>::MIN != 0); )*
    };
}

/// `layout!(e; rust_type [as "C name"] [+ extra] { field [=> c_field], ... })`
macro_rules! layout {
    ($e:ident; $ty:ident $(as $c:literal)? $(+ $extra:literal)? { $($field:ident $(=> $cf:ident)?),* $(,)? }) => {{
        #[allow(unused_mut, unused_assignments)]
        let mut c_name = stringify!($ty);
        $( c_name = $c; )?
        #[allow(unused_mut, unused_assignments)]
        let mut extra = 0;
        $( extra = $extra; )?
        $e.layout(
            stringify!($ty),
            c_name,
            size_of::<$ty>(),
            align_of::<$ty>(),
            extra,
            &[$( (layout!(@c $field $($cf)?), offset_of!($ty, $field)) ),*],
        );
    }};
    (@c $field:ident) => { stringify!($field) };
    (@c $field:ident $cf:ident) => { stringify!($cf) };
}

fn expected() -> Expected {
    let mut e = Expected::default();
    e.c.push_str(
        "/* Generated by crates/c-abi-tests/tests/abi.rs from mach-abi; do not edit. */\n\
         #include <stddef.h>\n#include <mach/mach.h>\n#include <servers/bootstrap.h>\n\
         #include <mach_sim.h>\n\n",
    );

    constants!(e;
        // kern_return.h
        KERN_SUCCESS, KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_NO_SPACE,
        KERN_INVALID_ARGUMENT, KERN_FAILURE, KERN_RESOURCE_SHORTAGE, KERN_NOT_RECEIVER,
        KERN_NO_ACCESS, KERN_MEMORY_FAILURE, KERN_MEMORY_ERROR, KERN_ALREADY_IN_SET,
        KERN_NOT_IN_SET, KERN_NAME_EXISTS, KERN_ABORTED, KERN_INVALID_NAME, KERN_INVALID_TASK,
        KERN_INVALID_RIGHT, KERN_INVALID_VALUE, KERN_UREFS_OVERFLOW, KERN_INVALID_CAPABILITY,
        KERN_RIGHT_EXISTS, KERN_INVALID_HOST, KERN_MEMORY_PRESENT, KERN_MEMORY_DATA_MOVED,
        KERN_MEMORY_RESTART_COPY, KERN_INVALID_PROCESSOR_SET, KERN_POLICY_LIMIT,
        KERN_INVALID_POLICY, KERN_INVALID_OBJECT, KERN_ALREADY_WAITING, KERN_DEFAULT_SET,
        KERN_EXCEPTION_PROTECTED, KERN_INVALID_LEDGER, KERN_INVALID_MEMORY_CONTROL,
        KERN_INVALID_SECURITY, KERN_NOT_DEPRESSED, KERN_TERMINATED, KERN_LOCK_SET_DESTROYED,
        KERN_LOCK_UNSTABLE, KERN_LOCK_OWNED, KERN_LOCK_OWNED_SELF, KERN_SEMAPHORE_DESTROYED,
        KERN_RPC_SERVER_TERMINATED, KERN_RPC_TERMINATE_ORPHAN, KERN_RPC_CONTINUE_ORPHAN,
        KERN_NOT_SUPPORTED, KERN_NODE_DOWN, KERN_NOT_WAITING, KERN_OPERATION_TIMED_OUT,
        KERN_CODESIGN_ERROR, KERN_POLICY_STATIC, KERN_INSUFFICIENT_BUFFER_SIZE, KERN_DENIED,
        KERN_MISSING_KC, KERN_INVALID_KC, KERN_NOT_FOUND, KERN_RETURN_MAX,
        // port.h
        MACH_PORT_NULL, MACH_PORT_DEAD, MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_RECEIVE,
        MACH_PORT_RIGHT_SEND_ONCE, MACH_PORT_RIGHT_PORT_SET, MACH_PORT_RIGHT_DEAD_NAME,
        MACH_PORT_RIGHT_LABELH, MACH_PORT_RIGHT_NUMBER, MACH_PORT_TYPE_NONE, MACH_PORT_TYPE_SEND,
        MACH_PORT_TYPE_RECEIVE, MACH_PORT_TYPE_SEND_ONCE, MACH_PORT_TYPE_PORT_SET,
        MACH_PORT_TYPE_DEAD_NAME, MACH_PORT_TYPE_LABELH, MACH_PORT_TYPE_SEND_RECEIVE,
        MACH_PORT_TYPE_SEND_RIGHTS, MACH_PORT_TYPE_PORT_RIGHTS, MACH_PORT_TYPE_PORT_OR_DEAD,
        MACH_PORT_TYPE_ALL_RIGHTS, MACH_PORT_TYPE_DNREQUEST, MACH_PORT_TYPE_SPREQUEST,
        MACH_PORT_TYPE_SPREQUEST_DELAYED, MACH_PORT_QLIMIT_ZERO, MACH_PORT_QLIMIT_BASIC,
        MACH_PORT_QLIMIT_SMALL, MACH_PORT_QLIMIT_LARGE, MACH_PORT_QLIMIT_KERNEL,
        MACH_PORT_QLIMIT_MIN, MACH_PORT_QLIMIT_DEFAULT, MACH_PORT_QLIMIT_MAX,
        MACH_PORT_LIMITS_INFO,
        // message.h: bits, dispositions, descriptors
        MACH_MSGH_BITS_ZERO, MACH_MSGH_BITS_REMOTE_MASK, MACH_MSGH_BITS_LOCAL_MASK,
        MACH_MSGH_BITS_VOUCHER_MASK, MACH_MSGH_BITS_PORTS_MASK, MACH_MSGH_BITS_COMPLEX,
        MACH_MSGH_BITS_CIRCULAR, MACH_MSGH_BITS_USER, MACH_MSG_TYPE_NONE, MACH_MSG_TYPE_PORT_NAME,
        MACH_MSG_TYPE_MOVE_RECEIVE, MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND_ONCE,
        MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE,
        MACH_MSG_TYPE_COPY_RECEIVE, MACH_MSG_TYPE_DISPOSE_RECEIVE, MACH_MSG_TYPE_DISPOSE_SEND,
        MACH_MSG_TYPE_DISPOSE_SEND_ONCE, MACH_MSG_TYPE_PORT_RECEIVE, MACH_MSG_TYPE_PORT_SEND,
        MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_LAST, MACH_MSG_TYPE_POLYMORPHIC,
        MACH_MSG_PORT_DESCRIPTOR, MACH_MSG_OOL_DESCRIPTOR, MACH_MSG_OOL_PORTS_DESCRIPTOR,
        MACH_MSG_OOL_VOLATILE_DESCRIPTOR, MACH_MSG_GUARDED_PORT_DESCRIPTOR, MACH_MSG_PHYSICAL_COPY,
        MACH_MSG_VIRTUAL_COPY, MACH_MSG_ALLOCATE, MACH_MSG_OVERWRITE,
        MACH_MSG_DESCRIPTOR_TYPE_OFFSET, MACH_MSG_TIMEOUT_NONE, NEXTBSD_MAX_INLINE_SEND,
        // message.h: options
        MACH_MSG_OPTION_NONE, MACH_SEND_MSG, MACH_RCV_MSG, MACH_RCV_LARGE, MACH_RCV_LARGE_IDENTITY,
        MACH_SEND_TIMEOUT, MACH_SEND_OVERRIDE, MACH_SEND_INTERRUPT, MACH_SEND_NOTIFY,
        MACH_RCV_TIMEOUT, MACH_RCV_NOTIFY, MACH_MSG_STRICT_REPLY, MACH_RCV_INTERRUPT,
        MACH_RCV_VOUCHER, MACH_RCV_OVERWRITE, MACH_RCV_GUARDED_DESC, MACH_RCV_SYNC_WAIT,
        MACH_RCV_SYNC_PEEK, MACH_SEND_ALWAYS, MACH_SEND_FILTER_NONFATAL, MACH_SEND_TRAILER,
        MACH_SEND_NOIMPORTANCE, MACH_SEND_SYNC_OVERRIDE, MACH_SEND_PROPAGATE_QOS,
        // message.h: return codes
        MACH_MSG_SUCCESS, MACH_MSG_MASK, MACH_MSG_IPC_SPACE, MACH_MSG_VM_SPACE,
        MACH_MSG_IPC_KERNEL, MACH_MSG_VM_KERNEL, MACH_MSG_INVALID_RT_DESCRIPTOR,
        MACH_SEND_IN_PROGRESS, MACH_SEND_INVALID_DATA, MACH_SEND_INVALID_DEST,
        MACH_SEND_TIMED_OUT, MACH_SEND_INVALID_VOUCHER, MACH_SEND_INTERRUPTED,
        MACH_SEND_MSG_TOO_SMALL, MACH_SEND_INVALID_REPLY, MACH_SEND_INVALID_RIGHT,
        MACH_SEND_INVALID_NOTIFY, MACH_SEND_INVALID_MEMORY, MACH_SEND_NO_BUFFER,
        MACH_SEND_TOO_LARGE, MACH_SEND_INVALID_TYPE, MACH_SEND_INVALID_HEADER,
        MACH_SEND_INVALID_TRAILER, MACH_SEND_INVALID_CONTEXT, MACH_SEND_INVALID_OPTIONS,
        MACH_SEND_INVALID_RT_OOL_SIZE, MACH_SEND_NO_GRANT_DEST, MACH_SEND_MSG_FILTERED,
        MACH_SEND_AUX_TOO_SMALL, MACH_SEND_AUX_TOO_LARGE, MACH_RCV_IN_PROGRESS,
        MACH_RCV_INVALID_NAME, MACH_RCV_TIMED_OUT, MACH_RCV_TOO_LARGE, MACH_RCV_INTERRUPTED,
        MACH_RCV_PORT_CHANGED, MACH_RCV_INVALID_NOTIFY, MACH_RCV_INVALID_DATA,
        MACH_RCV_PORT_DIED, MACH_RCV_IN_SET, MACH_RCV_HEADER_ERROR, MACH_RCV_BODY_ERROR,
        MACH_RCV_INVALID_TYPE, MACH_RCV_SCATTER_SMALL, MACH_RCV_INVALID_TRAILER,
        MACH_RCV_IN_PROGRESS_TIMED, MACH_RCV_INVALID_REPLY, MACH_RCV_INVALID_ARGUMENTS,
        // message.h: trailers
        MACH_MSG_TRAILER_FORMAT_0, MACH_MSG_TRAILER_MINIMUM_SIZE, MAX_TRAILER_SIZE,
        MACH_RCV_TRAILER_NULL, MACH_RCV_TRAILER_SEQNO, MACH_RCV_TRAILER_SENDER,
        MACH_RCV_TRAILER_AUDIT, MACH_RCV_TRAILER_CTX, MACH_RCV_TRAILER_AV,
        MACH_RCV_TRAILER_LABELS, MACH_RCV_TRAILER_MASK,
        // notify.h
        MACH_NOTIFY_FIRST, MACH_NOTIFY_PORT_DELETED, MACH_NOTIFY_SEND_POSSIBLE,
        MACH_NOTIFY_PORT_DESTROYED, MACH_NOTIFY_NO_SENDERS, MACH_NOTIFY_SEND_ONCE,
        MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_LAST,
        // mig_errors.h, ndr.h
        MIG_TYPE_ERROR, MIG_REPLY_MISMATCH, MIG_REMOTE_ERROR, MIG_BAD_ID, MIG_BAD_ARGUMENTS,
        MIG_NO_REPLY, MIG_EXCEPTION, MIG_ARRAY_TOO_LARGE, MIG_SERVER_DIED, MIG_TRAILER_ERROR,
        NDR_PROTOCOL_2_0, NDR_INT_BIG_ENDIAN, NDR_INT_LITTLE_ENDIAN, NDR_CHAR_ASCII,
        NDR_FLOAT_IEEE,
        // servers/bootstrap.h
        BOOTSTRAP_MAX_NAME_LEN, BOOTSTRAP_SUCCESS, BOOTSTRAP_NOT_PRIVILEGED,
        BOOTSTRAP_NAME_IN_USE, BOOTSTRAP_UNKNOWN_SERVICE, BOOTSTRAP_SERVICE_ACTIVE,
        BOOTSTRAP_BAD_COUNT, BOOTSTRAP_NO_MEMORY, BOOTSTRAP_NO_CHILDREN, TASK_BOOTSTRAP_PORT,
        HOST_BOOTSTRAP_PORT, HOST_KEXTD_PORT,
        // mach_sim.h (kevent)
        EVFILT_READ, EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_ONESHOT, EV_CLEAR, EV_RECEIPT,
        EV_DISPATCH, EV_FORCEONESHOT, EV_KEEPUDATA, EV_DROP, EV_FLAG1, EV_ERROR, EV_EOF,
    );
    e.assert(
        &format!("EVFILT_MACHPORT == {}", EVFILT_MACHPORT_NEXTBSD),
        "EVFILT_MACHPORT is NextBSD's -16",
    );
    e.assert(
        "-EVFILT_MACHPORT == 16 && 0-EVFILT_READ == 1",
        "negative filters are parenthesised",
    );

    // Scalar typedefs. (mach_msg_descriptor_type_t and mach_msg_copy_options_t are u8 fields in
    // Rust but unsigned int typedefs in C, as in Apple's header; their fields are checked below.)
    scalars!(e;
        natural_t, integer_t, boolean_t, kern_return_t, mach_port_name_t, mach_port_t,
        mach_port_right_t, mach_port_type_t, mach_port_delta_t, mach_port_mscount_t,
        mach_port_seqno_t, mach_port_msgcount_t, mach_port_urefs_t, mach_port_context_t,
        mach_port_flavor_t, mach_msg_bits_t, mach_msg_size_t, mach_msg_id_t, mach_msg_option_t,
        mach_msg_timeout_t, mach_msg_type_name_t, mach_msg_type_number_t, mach_msg_return_t,
        mach_msg_trailer_type_t, mach_msg_trailer_size_t, mach_msg_trailer_info_t,
        mach_msg_filter_id,
    );
    e.assert(
        &format!("sizeof(name_t) == {}", size_of::<name_t>()),
        "sizeof(name_t)",
    );

    layout!(e; mach_msg_header_t { msgh_bits, msgh_size, msgh_remote_port, msgh_local_port,
        msgh_voucher_port, msgh_id });
    layout!(e; mach_msg_body_t { msgh_descriptor_count });
    layout!(e; mach_msg_base_t { header, body });
    layout!(e; mach_msg_port_descriptor_t { name, pad1, pad2, disposition, type_ => type });
    layout!(e; mach_msg_ool_descriptor_t { address, deallocate, copy, pad1, type_ => type, size });
    layout!(e; mach_msg_ool_descriptor32_t { address, size, deallocate, copy, pad1,
        type_ => type });
    layout!(e; mach_msg_ool_ports_descriptor_t { address, deallocate, copy, disposition,
        type_ => type, count });
    layout!(e; mach_msg_type_descriptor_t { pad1, pad2, pad3, type_ => type });
    layout!(e; security_token_t { val });
    layout!(e; audit_token_t { val });
    layout!(e; mach_msg_trailer_t { msgh_trailer_type, msgh_trailer_size });
    layout!(e; mach_msg_seqno_trailer_t { msgh_trailer_type, msgh_trailer_size, msgh_seqno });
    layout!(e; mach_msg_security_trailer_t { msgh_trailer_type, msgh_trailer_size, msgh_seqno,
        msgh_sender });
    layout!(e; mach_msg_audit_trailer_t { msgh_trailer_type, msgh_trailer_size, msgh_seqno,
        msgh_sender, msgh_audit });
    layout!(e; mach_msg_context_trailer_t { msgh_trailer_type, msgh_trailer_size, msgh_seqno,
        msgh_sender, msgh_audit, msgh_context });
    layout!(e; msg_labels_t { sender });
    layout!(e; mach_msg_mac_trailer_t { msgh_trailer_type, msgh_trailer_size, msgh_seqno,
        msgh_sender, msgh_audit, msgh_context, msgh_ad, msgh_labels });
    layout!(e; NDR_record_t { mig_vers, if_vers, reserved1, mig_encoding, int_rep, char_rep,
        float_rep, reserved2 });
    layout!(e; mig_reply_error_t { Head, NDR, RetCode });
    // Apple's notification structs end with a format-0 trailer (20 bytes) so they can be used as
    // receive buffers; mach-abi's are the wire size the receiver sees in msgh_size.
    layout!(e; mach_port_deleted_notification_t + 20 { not_header, NDR, not_port });
    layout!(e; mach_send_possible_notification_t + 20 { not_header, NDR, not_port });
    layout!(e; mach_port_destroyed_notification_t + 20 { not_header, not_body, not_port });
    layout!(e; mach_no_senders_notification_t + 20 { not_header, NDR, not_count });
    layout!(e; mach_send_once_notification_t + 20 { not_header });
    layout!(e; mach_dead_name_notification_t + 20 { not_header, NDR, not_port });
    layout!(e; kevent_freebsd as "struct kevent" { ident, filter, flags, fflags, data, udata,
        ext });

    // Function-like macros, evaluated on sample arguments.
    for (r, l) in [(19, 21), (17, 0), (18, 0), (21, 20), (0x1f, 0x1f)] {
        e.assert(
            &format!("MACH_MSGH_BITS({r}, {l}) == {}U", MACH_MSGH_BITS(r, l)),
            &format!("MACH_MSGH_BITS({r}, {l})"),
        );
    }
    for (r, l, v, o) in [
        (19, 21, 0, MACH_MSGH_BITS_COMPLEX),
        (0xff, 0xff, 0xff, 0xffff_ffff),
    ] {
        e.assert(
            &format!(
                "MACH_MSGH_BITS_SET({r}U, {l}U, {v}U, {o}U) == {}U",
                MACH_MSGH_BITS_SET(r, l, v, o)
            ),
            &format!("MACH_MSGH_BITS_SET({r}, {l}, {v}, {o:#x})"),
        );
        e.assert(
            &format!(
                "MACH_MSGH_BITS_SET_PORTS({r}U, {l}U, {v}U) == {}U",
                MACH_MSGH_BITS_SET_PORTS(r, l, v)
            ),
            &format!("MACH_MSGH_BITS_SET_PORTS({r}, {l}, {v})"),
        );
    }
    for bits in [0x0000_1513_u32, 0x8012_1200, 0xffff_ffff, 0] {
        let b = format!("{bits}U");
        for (name, value) in [
            ("MACH_MSGH_BITS_REMOTE", MACH_MSGH_BITS_REMOTE(bits)),
            ("MACH_MSGH_BITS_LOCAL", MACH_MSGH_BITS_LOCAL(bits)),
            ("MACH_MSGH_BITS_VOUCHER", MACH_MSGH_BITS_VOUCHER(bits)),
            ("MACH_MSGH_BITS_PORTS", MACH_MSGH_BITS_PORTS(bits)),
            ("MACH_MSGH_BITS_OTHER", MACH_MSGH_BITS_OTHER(bits)),
        ] {
            e.assert(
                &format!("{name}({b}) == {value}U"),
                &format!("{name}({bits:#x})"),
            );
        }
        for (name, value) in [
            ("MACH_MSGH_BITS_HAS_REMOTE", MACH_MSGH_BITS_HAS_REMOTE(bits)),
            ("MACH_MSGH_BITS_HAS_LOCAL", MACH_MSGH_BITS_HAS_LOCAL(bits)),
            (
                "MACH_MSGH_BITS_HAS_VOUCHER",
                MACH_MSGH_BITS_HAS_VOUCHER(bits),
            ),
            ("MACH_MSGH_BITS_IS_COMPLEX", MACH_MSGH_BITS_IS_COMPLEX(bits)),
        ] {
            e.assert(
                &format!("(!!{name}({b})) == {}", i32::from(value)),
                &format!("{name}({bits:#x})"),
            );
        }
    }
    for x in 0..=27 {
        for (name, value) in [
            ("MACH_MSG_TYPE_PORT_ANY", MACH_MSG_TYPE_PORT_ANY(x)),
            (
                "MACH_MSG_TYPE_PORT_ANY_SEND",
                MACH_MSG_TYPE_PORT_ANY_SEND(x),
            ),
            (
                "MACH_MSG_TYPE_PORT_ANY_SEND_ONCE",
                MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(x),
            ),
            (
                "MACH_MSG_TYPE_PORT_ANY_RIGHT",
                MACH_MSG_TYPE_PORT_ANY_RIGHT(x),
            ),
        ] {
            e.assert(
                &format!("(!!{name}({x}U)) == {}", i32::from(value)),
                &format!("{name}({x})"),
            );
        }
    }
    for name in [0, 16, 1000, MACH_PORT_DEAD] {
        e.assert(
            &format!(
                "(!!MACH_PORT_VALID({name}U)) == {}",
                i32::from(MACH_PORT_VALID(name))
            ),
            &format!("MACH_PORT_VALID({name})"),
        );
    }
    for right in 0..MACH_PORT_RIGHT_NUMBER {
        e.assert(
            &format!("MACH_PORT_TYPE({right}U) == {}U", MACH_PORT_TYPE(right)),
            &format!("MACH_PORT_TYPE({right})"),
        );
    }
    for x in 0..16 {
        let option = MACH_RCV_MSG | MACH_RCV_TRAILER_ELEMENTS(x);
        e.assert(
            &format!(
                "MACH_RCV_TRAILER_ELEMENTS({x}U) == {}U",
                MACH_RCV_TRAILER_ELEMENTS(x)
            ),
            &format!("MACH_RCV_TRAILER_ELEMENTS({x})"),
        );
        e.assert(
            &format!(
                "MACH_RCV_TRAILER_TYPE({x}U) == {}U",
                MACH_RCV_TRAILER_TYPE(x)
            ),
            &format!("MACH_RCV_TRAILER_TYPE({x})"),
        );
        e.assert(
            &format!(
                "GET_RCV_ELEMENTS({option}U) == {}U",
                GET_RCV_ELEMENTS(option)
            ),
            &format!("GET_RCV_ELEMENTS({option:#x})"),
        );
        e.assert(
            &format!(
                "REQUESTED_TRAILER_SIZE({option}U) == {}U",
                REQUESTED_TRAILER_SIZE(option)
            ),
            &format!("REQUESTED_TRAILER_SIZE({option:#x})"),
        );
    }

    // Values the run-time part of abi_layout.c compares with the exported symbols.
    let ndr: [u8; 8] = {
        let r = NDR_record;
        [
            r.mig_vers,
            r.if_vers,
            r.reserved1,
            r.mig_encoding,
            r.int_rep,
            r.char_rep,
            r.float_rep,
            r.reserved2,
        ]
    };
    writeln!(
        e.c,
        "\nstatic const unsigned char expected_ndr_record[8] = {{ {} }};",
        ndr.map(|b| b.to_string()).join(", ")
    )
    .unwrap();
    writeln!(
        e.c,
        "static const unsigned int expected_kernel_audit_token[8] = {{ {} }};",
        KERNEL_AUDIT_TOKEN.val.map(|v| v.to_string()).join(", ")
    )
    .unwrap();
    writeln!(
        e.c,
        "static const unsigned int expected_kernel_security_token[2] = {{ {} }};",
        KERNEL_SECURITY_TOKEN.val.map(|v| v.to_string()).join(", ")
    )
    .unwrap();
    writeln!(e.c, "#define EXPECTED_STATIC_CHECKS {}", e.checks).unwrap();
    e
}

/// Public constant and struct names declared in mach-abi's sources.
fn mach_abi_items() -> (BTreeSet<String>, BTreeSet<String>) {
    let src = workspace_root().join("crates/mach-abi/src");
    let mut constants = BTreeSet::new();
    let mut structs = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("read mach-abi/src") {
        let path = entry.expect("dir entry").path();
        if path.extension() != Some(std::ffi::OsStr::new("rs")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a mach-abi source");
        for line in text.lines().map(str::trim_start) {
            let name = |rest: &str| {
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            if let Some(rest) = line.strip_prefix("pub const ") {
                if !rest.starts_with("fn ") {
                    constants.insert(name(rest));
                }
            } else if let Some(rest) = line.strip_prefix("pub struct ") {
                structs.insert(name(rest));
            }
        }
    }
    (constants, structs)
}

#[test]
fn every_mach_abi_item_is_checked() {
    let e = expected();
    let (constants, structs) = mach_abi_items();
    let absent: BTreeSet<&str> = NOT_IN_C_HEADERS.iter().map(|(n, _)| *n).collect();
    let unchecked: Vec<&String> = constants
        .iter()
        .filter(|c| !e.constants.contains(c.as_str()) && !absent.contains(c.as_str()))
        .collect();
    assert!(
        unchecked.is_empty(),
        "mach-abi constants neither checked against the C headers nor listed in \
         NOT_IN_C_HEADERS (add them to the headers and to tests/abi.rs): {unchecked:?}"
    );
    let unchecked: Vec<&String> = structs
        .iter()
        .filter(|s| !e.structs.contains(s.as_str()))
        .collect();
    assert!(
        unchecked.is_empty(),
        "mach-abi structs not checked against the C headers: {unchecked:?}"
    );
    for name in e.constants.iter().chain(absent.iter()) {
        assert!(constants.contains(*name), "{name} is no longer in mach-abi");
    }
    assert!(STRUCT_NAMES_IN_C.iter().all(|(r, _)| e.structs.contains(r)));
}

#[test]
#[cfg_attr(miri, ignore = "spawns cargo and cc")]
fn c_headers_match_mach_abi() {
    let e = expected();
    let gen_dir = target_dir().join("gen");
    std::fs::create_dir_all(&gen_dir).expect("create the generated-files directory");
    std::fs::write(gen_dir.join("abi_expected.h"), &e.c).expect("write abi_expected.h");

    let lib = build_staticlib("mach-sim");
    let source = workspace_root().join("tests/c/mach_sim/abi_layout.c");
    let include = include_dir("mach-sim");
    let exe = compile_with(
        &[source.as_path()],
        &[include.as_path(), gen_dir.as_path()],
        &lib,
        &[],
    );
    let output = run(&exe, &[], DEFAULT_TIMEOUT);
    assert_passed(&output, "mach-sim C ABI layout");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{} static checks", e.checks)),
        "the program did not compile in the generated checks"
    );
}
