//! The kernel ABI of NextBSD's `/dev/ioregistry` (`<sys/ioregistry.h>`) and of the event message
//! the kernel sends to a watch's port (`<sys/mach/iokit_notify.h>`), spec `iokit-notify.md` §4–§5.
//!
//! Everything here is a fact of the LP64 ABI (amd64, arm64), little-endian: `#[repr(C)]` structs
//! with compile-time size and offset assertions, the FreeBSD `_IOC` ioctl encodings, and the
//! parser and encoder of [`ioreg_event_msg`].
//!
//! The parser treats every received byte as untrusted (§5): it works from the received buffer
//! and its `msgh_size`, never reads past either, reads only the first 120 bytes of the event, cuts
//! strings at byte 31, and rejects anything malformed with an [`EventParseError`].
#![allow(non_camel_case_types)]

use core::mem::{align_of, offset_of, size_of};

use mach_abi::{
    mach_msg_format_0_trailer_t, mach_msg_header_t, mach_msg_id_t, mach_port_name_t, NDR_record_t,
    MACH_MSGH_BITS, MACH_MSGH_BITS_COMPLEX, MACH_MSG_TYPE_PORT_SEND,
};
use mach_async::mig::codec as mig_codec;
use thiserror::Error;

use crate::event::{DeviceEvent, EventKind};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// Size of the `name`, `classname` and `driver` fields (31 characters and a NUL).
pub const IOREG_NAME_MAX: usize = 32;
/// Size of `ioreg_node.path`.
pub const IOREG_PATH_MAX: usize = 256;

/// `ioreg_node.state`: the device is present.
pub const IOREG_STATE_LIVE: i32 = 0;
/// `ioreg_node.state`: the device detached; its id lingers with every field empty.
pub const IOREG_STATE_DETACHED: i32 = 1;

/// Event bit and `kind`: the device attached (published).
pub const IOREG_EVENT_ARRIVE: u32 = 0x1;
/// Event bit and `kind`: the device detached (terminated).
pub const IOREG_EVENT_DEPART: u32 = 0x2;
/// Event bit and `kind`: a driver was bound.
pub const IOREG_EVENT_MATCHED: u32 = 0x4;
/// The three event bits the kernel knows; a watch mask must contain at least one.
pub const IOREG_EVENT_ALL: u32 = IOREG_EVENT_ARRIVE | IOREG_EVENT_DEPART | IOREG_EVENT_MATCHED;
// `crate::event` spells the same values on its own (it depends on nothing in the crate).
const _: () = assert!(
    EventKind::Arrive.raw() == IOREG_EVENT_ARRIVE
        && EventKind::Depart.raw() == IOREG_EVENT_DEPART
        && EventKind::Matched.raw() == IOREG_EVENT_MATCHED,
    "EventKind::raw is the kernel's value"
);

/// `msgh_id` of an `ioreg_event_msg`: `'IONT'`.
pub const IOKIT_NOTIFY_MSG_ID: mach_msg_id_t = 0x494f_4e54;
/// `msgh_id` of the related kextd message (`'IOKT'`); not an event, dropped by the receiver.
pub const IOKIT_KEXTD_MSG_ID: mach_msg_id_t = 0x494f_4b54;

/// `msgh_size` of an event message as a user receiver sees it (§5: 152 − 20 − 8).
pub const IOREG_EVENT_MSG_SIZE: u32 = 124;
/// End of `pci_device`: the bytes of an event the parser reads, and the smallest `msgh_size` it
/// accepts.
pub const IOREG_EVENT_PAYLOAD_END: usize = 120;
/// Length of the body after the 24-byte header in a 124-byte event message (the kernel's send
/// path builds exactly this).
pub const IOREG_EVENT_BODY_SIZE: usize =
    IOREG_EVENT_MSG_SIZE as usize - size_of::<mach_msg_header_t>();

/// `msgh_bits` of a received event: local = `MACH_MSG_TYPE_PORT_SEND` (17), remote = none.
/// Derived from the kernel source, not observed; the parser checks only that `COMPLEX` is clear.
pub const IOREG_EVENT_MSG_BITS: u32 = MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND);

// ---------------------------------------------------------------------------------------------
// _IOC encodings (FreeBSD <sys/ioccom.h>)
// ---------------------------------------------------------------------------------------------

/// Mask of the parameter length in an ioctl command (13 bits).
pub const IOCPARM_MASK: u32 = 0x1fff;
/// No parameters.
pub const IOC_VOID: u32 = 0x2000_0000;
/// Copy parameters out.
pub const IOC_OUT: u32 = 0x4000_0000;
/// Copy parameters in.
pub const IOC_IN: u32 = 0x8000_0000;
/// Copy parameters in and out.
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// `_IOC(inout, group, num, len)` = `inout | (len & 0x1fff) << 16 | group << 8 | num`.
#[allow(non_snake_case)]
pub const fn _IOC(inout: u32, group: u8, num: u8, len: usize) -> u32 {
    inout | ((len as u32 & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32
}
/// `_IOR(group, num, type)`.
#[allow(non_snake_case)]
pub const fn _IOR(group: u8, num: u8, len: usize) -> u32 {
    _IOC(IOC_OUT, group, num, len)
}
/// `_IOW(group, num, type)`.
#[allow(non_snake_case)]
pub const fn _IOW(group: u8, num: u8, len: usize) -> u32 {
    _IOC(IOC_IN, group, num, len)
}
/// `_IOWR(group, num, type)`.
#[allow(non_snake_case)]
pub const fn _IOWR(group: u8, num: u8, len: usize) -> u32 {
    _IOC(IOC_INOUT, group, num, len)
}

/// `IOREGIOCROOT`: the root node's id (`uint64_t` out) = `_IOR('R', 1, uint64_t)`.
pub const IOREGIOCROOT: u32 = 0x4008_5201;
/// `IOREGIOCNODE`: one node by id ([`ioreg_node`] in/out) = `_IOWR('R', 3, struct ioreg_node)`.
pub const IOREGIOCNODE: u32 = 0xc188_5203;
/// `IOREGIOCLOOKUP`: ids of the live nodes matching criteria ([`ioreg_lookup`] in/out) =
/// `_IOWR('R', 5, struct ioreg_lookup)`.
pub const IOREGIOCLOOKUP: u32 = 0xc088_5205;
/// `IOREGIOCWATCH`: register a watch ([`ioreg_watch_reg`] in) =
/// `_IOW('R', 6, struct ioreg_watch_reg)`.
pub const IOREGIOCWATCH: u32 = 0x807c_5206;
/// `IOREGIOCTESTEVENT`: inject an event ([`ioreg_test_event`] in) =
/// `_IOW('R', 7, struct ioreg_test_event)`.
pub const IOREGIOCTESTEVENT: u32 = 0x8058_5207;

// The literals (which C headers generated from this file can carry) are the encodings.
const _: () = {
    assert!(IOREGIOCROOT == _IOR(b'R', 1, size_of::<u64>()));
    assert!(IOREGIOCNODE == _IOWR(b'R', 3, size_of::<ioreg_node>()));
    assert!(IOREGIOCLOOKUP == _IOWR(b'R', 5, size_of::<ioreg_lookup>()));
    assert!(IOREGIOCWATCH == _IOW(b'R', 6, size_of::<ioreg_watch_reg>()));
    assert!(IOREGIOCTESTEVENT == _IOW(b'R', 7, size_of::<ioreg_test_event>()));
};

// ---------------------------------------------------------------------------------------------
// ioctl structures
// ---------------------------------------------------------------------------------------------

/// Flat match criteria (116 bytes, 4-aligned, identical on 32- and 64-bit).
///
/// An empty string or a 0 is a wildcard; the set fields are ANDed, strings compared with `strcmp`;
/// all-zero matches every node.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ioreg_criteria {
    /// `device_get_name()`, e.g. `em`.
    pub name: [u8; IOREG_NAME_MAX],
    /// Devclass name, e.g. `em`, `vtblk`, `pci` (not Apple classes such as `IOPCIDevice`).
    pub classname: [u8; IOREG_NAME_MAX],
    /// Name of the bound driver.
    pub driver: [u8; IOREG_NAME_MAX],
    /// PCI vendor id.
    pub pci_vendor: u32,
    /// PCI device id.
    pub pci_device: u32,
    /// PCI subsystem vendor id.
    pub pci_subvendor: u32,
    /// PCI base class (low 8 bits).
    pub pci_class: u32,
    /// Reserved, 0.
    pub match_flags: u32,
}

/// One registry node (`IOREGIOCNODE`, 392 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ioreg_node {
    /// Registry id (in: which node). 0 is invalid.
    pub id: u64,
    /// Parent's id, 0 for the root.
    pub parent_id: u64,
    /// [`IOREG_STATE_LIVE`] or [`IOREG_STATE_DETACHED`].
    pub state: i32,
    /// newbus `device_state_t`.
    pub devstate: i32,
    /// `device_get_name()`.
    pub name: [u8; IOREG_NAME_MAX],
    /// Devclass name.
    pub classname: [u8; IOREG_NAME_MAX],
    /// Bound driver name, empty if none.
    pub driver: [u8; IOREG_NAME_MAX],
    /// nameunit path from the root.
    pub path: [u8; IOREG_PATH_MAX],
    /// PCI vendor id, 0 if not a PCI nub.
    pub pci_vendor: u32,
    /// PCI device id.
    pub pci_device: u32,
    /// PCI subsystem vendor id.
    pub pci_subvendor: u32,
    /// PCI base class (low 8 bits).
    pub pci_class: u32,
}

impl ioreg_node {
    /// An all-zero node (the form `IOREGIOCNODE` expects, with `id` set).
    pub const fn zeroed() -> ioreg_node {
        ioreg_node {
            id: 0,
            parent_id: 0,
            state: 0,
            devstate: 0,
            name: [0; IOREG_NAME_MAX],
            classname: [0; IOREG_NAME_MAX],
            driver: [0; IOREG_NAME_MAX],
            path: [0; IOREG_PATH_MAX],
            pci_vendor: 0,
            pci_device: 0,
            pci_subvendor: 0,
            pci_class: 0,
        }
    }
}

/// `IOREGIOCLOOKUP` argument (136 bytes): writes up to `max` ids to `matches` and the true number
/// of matches to `count`; `count > max` means the list was truncated.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ioreg_lookup {
    /// In: criteria.
    pub criteria: ioreg_criteria,
    /// In: capacity of `matches`.
    pub max: u32,
    /// Out: number of matching nodes (may exceed `max`).
    pub count: u32,
    /// In: user pointer to `uint64_t[max]`.
    pub matches: u64,
}

/// `IOREGIOCWATCH` argument (124 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ioreg_watch_reg {
    /// Criteria.
    pub criteria: ioreg_criteria,
    /// OR of `IOREG_EVENT_*`; must contain at least one known bit.
    pub event_mask: u32,
    /// Name of a port in the caller's space that carries a send right.
    pub notify_port: mach_port_name_t,
}

/// `IOREGIOCTESTEVENT` argument (88 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ioreg_test_event {
    /// Exactly one `IOREG_EVENT_*` bit.
    pub kind: u32,
    /// PCI vendor id.
    pub pci_vendor: u32,
    /// PCI device id.
    pub pci_device: u32,
    /// Padding.
    pub _pad: u32,
    /// Registry id; need not exist.
    pub id: u64,
    /// Device name (the kernel forces byte 31 to NUL).
    pub name: [u8; IOREG_NAME_MAX],
    /// Devclass name.
    pub classname: [u8; IOREG_NAME_MAX],
}

/// The event message as declared (`sizeof` 144 on LP64). A receiver sees only its first
/// `msgh_size` = 124 bytes; see [`parse_event_message`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ioreg_event_msg {
    /// Header (user layout, 24 bytes).
    pub header: mach_msg_header_t,
    /// NDR record; ignored.
    pub ndr: NDR_record_t,
    /// `IOREG_EVENT_*`.
    pub kind: u32,
    /// Padding, 0.
    pub _pad: u32,
    /// Registry node id.
    pub id: u64,
    /// Device name, NUL-terminated by the kernel.
    pub name: [u8; IOREG_NAME_MAX],
    /// Devclass name, NUL-terminated by the kernel.
    pub classname: [u8; IOREG_NAME_MAX],
    /// PCI vendor id, 0 if not a PCI nub.
    pub pci_vendor: u32,
    /// PCI device id, 0 if not a PCI nub.
    pub pci_device: u32,
    /// The struct's trailer field (never where Mach puts the trailer; §5).
    pub trailer: mach_msg_format_0_trailer_t,
}

const _: () = {
    assert!(size_of::<ioreg_criteria>() == 116);
    assert!(align_of::<ioreg_criteria>() == 4);
    assert!(offset_of!(ioreg_criteria, classname) == 32);
    assert!(offset_of!(ioreg_criteria, driver) == 64);
    assert!(offset_of!(ioreg_criteria, pci_vendor) == 96);
    assert!(offset_of!(ioreg_criteria, pci_device) == 100);
    assert!(offset_of!(ioreg_criteria, pci_subvendor) == 104);
    assert!(offset_of!(ioreg_criteria, pci_class) == 108);
    assert!(offset_of!(ioreg_criteria, match_flags) == 112);

    assert!(size_of::<ioreg_node>() == 392);
    assert!(offset_of!(ioreg_node, state) == 16);
    assert!(offset_of!(ioreg_node, name) == 24);
    assert!(offset_of!(ioreg_node, path) == 120);
    assert!(offset_of!(ioreg_node, pci_vendor) == 376);
    assert!(offset_of!(ioreg_node, pci_class) == 388);

    assert!(size_of::<ioreg_lookup>() == 136);
    assert!(offset_of!(ioreg_lookup, max) == 116);
    assert!(offset_of!(ioreg_lookup, count) == 120);
    assert!(offset_of!(ioreg_lookup, matches) == 128);

    assert!(size_of::<ioreg_watch_reg>() == 124);
    assert!(offset_of!(ioreg_watch_reg, event_mask) == 116);
    assert!(offset_of!(ioreg_watch_reg, notify_port) == 120);

    assert!(size_of::<ioreg_test_event>() == 88);
    assert!(offset_of!(ioreg_test_event, id) == 16);
    assert!(offset_of!(ioreg_test_event, name) == 24);
    assert!(offset_of!(ioreg_test_event, classname) == 56);

    assert!(size_of::<ioreg_event_msg>() == 144);
    assert!(offset_of!(ioreg_event_msg, ndr) == 24);
    assert!(offset_of!(ioreg_event_msg, kind) == 32);
    assert!(offset_of!(ioreg_event_msg, _pad) == 36);
    assert!(offset_of!(ioreg_event_msg, id) == 40);
    assert!(offset_of!(ioreg_event_msg, name) == 48);
    assert!(offset_of!(ioreg_event_msg, classname) == 80);
    assert!(offset_of!(ioreg_event_msg, pci_vendor) == 112);
    assert!(offset_of!(ioreg_event_msg, pci_device) == 116);
    assert!(offset_of!(ioreg_event_msg, trailer) == 120);
    assert!(IOREG_EVENT_PAYLOAD_END == offset_of!(ioreg_event_msg, pci_device) + 4);
};

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/// Decodes a fixed 32-byte string field as §5 rule 4 says: copy, force byte 31 to NUL, cut at the
/// first NUL, decode lossily as UTF-8.
pub fn decode_name(field: &[u8; IOREG_NAME_MAX]) -> String {
    let mut bytes = *field;
    bytes[IOREG_NAME_MAX - 1] = 0;
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(IOREG_NAME_MAX - 1);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Encodes `s` into a fixed field the way the kernel's `strlcpy` does: at most 31 bytes, then
/// NUL. A longer string is truncated (possibly inside a UTF-8 sequence); an interior NUL ends the
/// string early. Use [`crate::Criteria`] for checked encoding.
pub fn encode_name_truncating(s: &str) -> [u8; IOREG_NAME_MAX] {
    let mut field = [0u8; IOREG_NAME_MAX];
    let bytes = s.as_bytes();
    let n = bytes.len().min(IOREG_NAME_MAX - 1);
    field[..n].copy_from_slice(&bytes[..n]);
    field
}

/// Forces byte 31 of a string field to NUL, as the kernel does to everything it is given.
pub fn terminate_name(field: &mut [u8; IOREG_NAME_MAX]) {
    field[IOREG_NAME_MAX - 1] = 0;
}

/// The bytes of a field up to its first NUL (after forcing byte 31 to NUL), for `strcmp`-style
/// comparison.
pub fn name_bytes(field: &[u8; IOREG_NAME_MAX]) -> &[u8] {
    let limit = &field[..IOREG_NAME_MAX - 1];
    let end = limit.iter().position(|&b| b == 0).unwrap_or(limit.len());
    &limit[..end]
}

// ---------------------------------------------------------------------------------------------
// Event message: parse and encode
// ---------------------------------------------------------------------------------------------

/// Why a received message is not a usable event (§5). The receiver drops it and keeps draining;
/// a [`EventParseError::Complex`] message must have its rights destroyed first.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EventParseError {
    /// Fewer bytes than a message header.
    #[error("message of {len} bytes is shorter than a 24-byte header")]
    ShortHeader {
        /// Bytes received.
        len: usize,
    },
    /// `msgh_size` claims more bytes than were received.
    #[error("msgh_size {msgh_size} exceeds the {len} bytes received")]
    SizeBeyondBuffer {
        /// The header's `msgh_size`.
        msgh_size: u32,
        /// Bytes received.
        len: usize,
    },
    /// Not an `'IONT'` message.
    #[error("unexpected msgh_id {0:#010x}")]
    UnknownId(mach_msg_id_t),
    /// `MACH_MSGH_BITS_COMPLEX` is set: the kernel never sends descriptors.
    #[error("complex message (the registry never sends descriptors)")]
    Complex,
    /// `msgh_size` below 120, the end of `pci_device`.
    #[error("msgh_size {0} is below the 120 bytes of an event")]
    TooShort(u32),
    /// `kind` is not exactly 1, 2 or 4.
    #[error("event kind {0:#x} is not ARRIVE, DEPART or MATCHED")]
    BadKind(u32),
    /// Registry id 0, which never names a node.
    #[error("event with registry id 0")]
    ZeroId,
}

/// A parsed event message: the event and the port it arrived on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMessage {
    /// `msgh_local_port`: the member port the message was received on (identifies the watch).
    pub local_port: mach_port_name_t,
    /// The event.
    pub event: DeviceEvent,
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

fn read_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

fn read_name(buf: &[u8], at: usize) -> String {
    let mut field = [0u8; IOREG_NAME_MAX];
    field.copy_from_slice(&buf[at..at + IOREG_NAME_MAX]);
    decode_name(&field)
}

/// Parses a received message (header first, as `mach_msg` wrote it; `buf` may be longer than
/// `msgh_size`, e.g. a whole receive buffer) per §5:
///
/// 1. at least a header; `msgh_size` no larger than `buf`;
/// 2. `msgh_id` must be `'IONT'`; `COMPLEX` must be clear;
/// 3. `msgh_size >= 120`; only bytes `[0, 120)` are read — bytes 120–123 and any trailer are
///    ignored;
/// 4. strings: byte 31 forced to NUL, cut at the first NUL, lossy UTF-8;
/// 5. `kind` exactly 1, 2 or 4; id non-zero.
///
/// The NDR record and `msgh_bits` other than `COMPLEX` are not checked.
pub fn parse_event_message(buf: &[u8]) -> Result<EventMessage, EventParseError> {
    let header_len = size_of::<mach_msg_header_t>();
    if buf.len() < header_len {
        return Err(EventParseError::ShortHeader { len: buf.len() });
    }
    let Some(header) = mig_codec::read_header(buf) else {
        return Err(EventParseError::ShortHeader { len: buf.len() });
    };
    let mach_msg_header_t {
        msgh_bits: bits,
        msgh_size,
        msgh_local_port: local_port,
        msgh_id: id,
        ..
    } = header;
    // Edge: a size larger than what was received means a lying header or a truncated copy.
    if msgh_size as usize > buf.len() {
        return Err(EventParseError::SizeBeyondBuffer {
            msgh_size,
            len: buf.len(),
        });
    }
    if id != IOKIT_NOTIFY_MSG_ID {
        return Err(EventParseError::UnknownId(id));
    }
    if bits & MACH_MSGH_BITS_COMPLEX != 0 {
        return Err(EventParseError::Complex);
    }
    if (msgh_size as usize) < IOREG_EVENT_PAYLOAD_END {
        return Err(EventParseError::TooShort(msgh_size));
    }
    // From here on only [0, 120) is read, which the checks above put inside both buf and
    // msgh_size.
    let body = &buf[..IOREG_EVENT_PAYLOAD_END];
    let raw_kind = read_u32(body, offset_of!(ioreg_event_msg, kind));
    let kind = EventKind::from_raw(raw_kind).ok_or(EventParseError::BadKind(raw_kind))?;
    let node_id = read_u64(body, offset_of!(ioreg_event_msg, id));
    if node_id == 0 {
        return Err(EventParseError::ZeroId);
    }
    Ok(EventMessage {
        local_port,
        event: DeviceEvent {
            kind,
            id: node_id,
            name: read_name(body, offset_of!(ioreg_event_msg, name)),
            class: read_name(body, offset_of!(ioreg_event_msg, classname)),
            pci_vendor: read_u32(body, offset_of!(ioreg_event_msg, pci_vendor)),
            pci_device: read_u32(body, offset_of!(ioreg_event_msg, pci_device)),
        },
    })
}

/// The fields of one event as the kernel fills them, raw (strings as the kernel's fixed fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEvent {
    /// `IOREG_EVENT_*` (the parser accepts only 1, 2 and 4; the encoder writes any value).
    pub kind: u32,
    /// Registry node id.
    pub id: u64,
    /// Device name field.
    pub name: [u8; IOREG_NAME_MAX],
    /// Devclass name field.
    pub classname: [u8; IOREG_NAME_MAX],
    /// PCI vendor id.
    pub pci_vendor: u32,
    /// PCI device id.
    pub pci_device: u32,
}

impl RawEvent {
    /// The raw form of `event`, strings truncated to 31 bytes as `strlcpy` would.
    pub fn from_event(event: &DeviceEvent) -> RawEvent {
        RawEvent {
            kind: event.kind.raw(),
            id: event.id,
            name: encode_name_truncating(&event.name),
            classname: encode_name_truncating(&event.class),
            pci_vendor: event.pci_vendor,
            pci_device: event.pci_device,
        }
    }
}

/// The body the kernel's send path puts after the 24-byte header (100 bytes: NDR, kind, pad, id,
/// name, class, PCI ids, and 4 zero bytes of the struct's tail padding).
pub fn encode_event_body(event: &RawEvent) -> [u8; IOREG_EVENT_BODY_SIZE] {
    let mut full = [0u8; IOREG_EVENT_MSG_SIZE as usize];
    write_payload(&mut full, event);
    let mut body = [0u8; IOREG_EVENT_BODY_SIZE];
    body.copy_from_slice(&full[size_of::<mach_msg_header_t>()..]);
    body
}

/// The 124 bytes a user receiver gets for `event` on `local_port`, exactly as §5 describes
/// (`msgh_bits` `0x1100`, no remote port, bytes 120–123 zero, no trailer).
pub fn encode_event_message(
    event: &RawEvent,
    local_port: mach_port_name_t,
) -> [u8; IOREG_EVENT_MSG_SIZE as usize] {
    let mut msg = [0u8; IOREG_EVENT_MSG_SIZE as usize];
    let header = mach_msg_header_t {
        msgh_bits: IOREG_EVENT_MSG_BITS,
        msgh_size: IOREG_EVENT_MSG_SIZE,
        msgh_remote_port: 0, // no reply port
        msgh_local_port: local_port,
        msgh_voucher_port: 0,
        msgh_id: IOKIT_NOTIFY_MSG_ID,
    };
    mig_codec::write_header(&mut msg, &header);
    write_payload(&mut msg, event);
    msg
}

fn write_payload(msg: &mut [u8; IOREG_EVENT_MSG_SIZE as usize], event: &RawEvent) {
    let mut put = |at: usize, bytes: &[u8]| msg[at..at + bytes.len()].copy_from_slice(bytes);
    put(offset_of!(ioreg_event_msg, ndr), &mig_codec::NDR_BYTES);
    put(offset_of!(ioreg_event_msg, kind), &event.kind.to_le_bytes());
    put(offset_of!(ioreg_event_msg, id), &event.id.to_le_bytes());
    put(offset_of!(ioreg_event_msg, name), &event.name);
    put(offset_of!(ioreg_event_msg, classname), &event.classname);
    put(
        offset_of!(ioreg_event_msg, pci_vendor),
        &event.pci_vendor.to_le_bytes(),
    );
    put(
        offset_of!(ioreg_event_msg, pci_device),
        &event.pci_device.to_le_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_event() -> DeviceEvent {
        DeviceEvent {
            kind: EventKind::Arrive,
            id: 0x6e62_696f,
            name: "em".into(),
            class: "em".into(),
            pci_vendor: 0x8086,
            pci_device: 0x100e,
        }
    }

    fn sample() -> RawEvent {
        RawEvent::from_event(&sample_event())
    }

    #[test]
    fn encoded_message_has_the_kernel_layout() {
        let msg = encode_event_message(&sample(), 0x123);
        assert_eq!(read_u32(&msg, 0), 0x1100);
        assert_eq!(read_u32(&msg, 4), 124);
        assert_eq!(read_u32(&msg, 8), 0);
        assert_eq!(read_u32(&msg, 12), 0x123);
        assert_eq!(read_u32(&msg, 20), 0x494f_4e54);
        assert_eq!(&msg[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(read_u32(&msg, 32), 1);
        assert_eq!(read_u64(&msg, 40), 0x6e62_696f);
        assert_eq!(&msg[48..51], b"em\0");
        assert_eq!(read_u32(&msg, 112), 0x8086);
        assert_eq!(read_u32(&msg, 116), 0x100e);
        assert_eq!(&msg[120..124], &[0; 4]);
        assert_eq!(&encode_event_body(&sample())[..], &msg[24..]);
    }

    #[test]
    fn parses_a_well_formed_event() {
        let parsed = parse_event_message(&encode_event_message(&sample(), 77)).unwrap();
        assert_eq!(
            parsed,
            EventMessage {
                local_port: 77,
                event: sample_event()
            }
        );
    }

    #[test]
    fn size_119_is_too_short() {
        let mut msg = encode_event_message(&sample(), 1);
        msg[4..8].copy_from_slice(&119u32.to_le_bytes());
        assert_eq!(
            parse_event_message(&msg),
            Err(EventParseError::TooShort(119))
        );
    }

    #[test]
    fn exactly_120_bytes_is_enough_and_nothing_after_is_read() {
        let mut msg = encode_event_message(&sample(), 1);
        msg[4..8].copy_from_slice(&120u32.to_le_bytes());
        let parsed = parse_event_message(&msg[..120]).unwrap();
        assert_eq!(parsed.event, sample_event());
        // Garbage in bytes 120–123 (the misplaced trailer) is ignored.
        let mut msg = encode_event_message(&sample(), 1);
        msg[120..124].copy_from_slice(&[0xff; 4]);
        assert_eq!(parse_event_message(&msg).unwrap().event, sample_event());
    }

    #[test]
    fn size_beyond_the_buffer_is_rejected() {
        let msg = encode_event_message(&sample(), 1);
        assert_eq!(
            parse_event_message(&msg[..100]),
            Err(EventParseError::SizeBeyondBuffer {
                msgh_size: 124,
                len: 100
            })
        );
        assert_eq!(
            parse_event_message(&msg[..10]),
            Err(EventParseError::ShortHeader { len: 10 })
        );
    }

    #[test]
    fn unknown_id_complex_bad_kind_and_zero_id_are_rejected() {
        let mut msg = encode_event_message(&sample(), 1);
        msg[20..24].copy_from_slice(&IOKIT_KEXTD_MSG_ID.to_le_bytes());
        assert_eq!(
            parse_event_message(&msg),
            Err(EventParseError::UnknownId(IOKIT_KEXTD_MSG_ID))
        );

        let mut msg = encode_event_message(&sample(), 1);
        msg[0..4].copy_from_slice(&(0x1100 | MACH_MSGH_BITS_COMPLEX).to_le_bytes());
        assert_eq!(parse_event_message(&msg), Err(EventParseError::Complex));

        for bad in [0u32, 3, 5, 8, 0xffff_ffff] {
            let mut msg = encode_event_message(&sample(), 1);
            msg[32..36].copy_from_slice(&bad.to_le_bytes());
            assert_eq!(
                parse_event_message(&msg),
                Err(EventParseError::BadKind(bad))
            );
        }

        let mut msg = encode_event_message(&sample(), 1);
        msg[40..48].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(parse_event_message(&msg), Err(EventParseError::ZeroId));
    }

    #[test]
    fn thirty_two_non_nul_bytes_are_cut_to_31() {
        let mut msg = encode_event_message(&sample(), 1);
        msg[48..80].copy_from_slice(&[b'a'; 32]);
        msg[80..112].copy_from_slice(&[b'b'; 32]);
        let ev = parse_event_message(&msg).unwrap().event;
        assert_eq!(ev.name, "a".repeat(31));
        assert_eq!(ev.class, "b".repeat(31));
    }

    #[test]
    fn strings_stop_at_the_first_nul_and_decode_lossily() {
        let mut field = [0u8; 32];
        field[..6].copy_from_slice(b"ab\0cd\0");
        assert_eq!(decode_name(&field), "ab");
        let mut field = [0u8; 32];
        field[..3].copy_from_slice(&[b'x', 0xff, b'y']);
        assert_eq!(decode_name(&field), "x\u{fffd}y");
    }

    #[test]
    fn truncating_encoder_keeps_31_bytes() {
        let f = encode_name_truncating(&"z".repeat(40));
        assert_eq!(&f[..31], "z".repeat(31).as_bytes());
        assert_eq!(f[31], 0);
        assert_eq!(name_bytes(&f).len(), 31);
    }
}
