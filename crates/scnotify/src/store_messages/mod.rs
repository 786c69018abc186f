//! The `config.defs` wire protocol as NextBSD configd speaks it (spec §4).
//!
//! - [`Routine`]: subsystem 20000, the routine table with its `skip` slots;
//! - [`layout`]: `#[repr(C, packed(4))]` mirrors of the generated structures, sizes, offsets;
//! - [`keylist`]: the key-list and key/value-map payload formats;
//! - [`request`] / [`reply`]: encoders and decoders for whole messages (header included), with the
//!   checks a `migcom`-generated server (mig.md §8) and client (mig.md §9) perform, reported as
//!   typed errors that map to the MIG codes the C stubs return;
//! - [`Status`]: the `kSCStatus*` codes.
//!
//! Messages are byte buffers starting at the 24-byte header. Port names inside them (header ports,
//! the port descriptors of `configopen`'s reply and `notifyviaport`'s request) are plain integers
//! here; the transport fills in and interprets them.

pub mod keylist;
pub mod layout;
pub mod reply;
pub mod request;
pub mod status;

mod codec;

pub use codec::EncodeError;
pub use keylist::{KeyList, KeyListError, KvMap, CONFIG_DATA_MAX};
pub use reply::{reply_shape, Reply, ReplyError};
pub use request::{Request, RequestError};
pub use status::Status;

use mach_abi::kern_return_t;
use thiserror::Error;

/// `subsystem config 20000`.
pub const CONFIG_SUBSYSTEM_BASE: i32 = 20_000;
/// One past the last id of the subsystem (`snapshot` is 20029).
pub const CONFIG_SUBSYSTEM_END: i32 = 20_030;
/// A reply's id is the request id plus this.
pub const REPLY_ID_OFFSET: i32 = 100;
/// `msgh_id` of configd's wake-up message: `'CNFT'`.
pub const NOTIFY_MSG_ID: i32 = 0x434e_4654;
/// Size of configd's wake-up message (a bare header).
pub const NOTIFY_MSG_SIZE: usize = 24;
/// Request header bits: `MACH_MSGH_BITS(COPY_SEND, MAKE_SEND_ONCE)`.
pub const REQUEST_BITS: u32 = 0x0000_1513;
/// Reply header bits: `MACH_MSGH_BITS(MOVE_SEND_ONCE, 0)`.
pub const REPLY_BITS: u32 = 0x0000_0012;
/// Wake-up message bits: `MACH_MSGH_BITS(COPY_SEND, 0)`.
pub const NOTIFY_MSG_BITS: u32 = 0x0000_0013;
/// Bootstrap name of configd.
pub const CONFIGD_SERVICE_NAME: &str = "com.apple.SystemConfiguration.configd";

/// The routines of NextBSD's `config.defs` (spec §4.2). Skipped ids have no variant.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Routine {
    /// 20000: open a session.
    ConfigOpen = 20_000,
    /// 20008: list keys by prefix or regex.
    ConfigList = 20_008,
    /// 20009: add a key that must not exist.
    ConfigAdd = 20_009,
    /// 20010: get a value.
    ConfigGet = 20_010,
    /// 20011: set a value.
    ConfigSet = 20_011,
    /// 20012: remove a key.
    ConfigRemove = 20_012,
    /// 20014: session-scoped add (stubbed by NextBSD configd: 1001).
    ConfigAddS = 20_014,
    /// 20015: notify a key without changing it.
    ConfigNotify = 20_015,
    /// 20016: get several keys and patterns as a key/value map.
    ConfigGetM = 20_016,
    /// 20017: set, remove and notify several keys.
    ConfigSetM = 20_017,
    /// 20018: watch a key or pattern.
    NotifyAdd = 20_018,
    /// 20019: stop watching a key or pattern.
    NotifyRemove = 20_019,
    /// 20020: fetch and clear the pending changed keys.
    NotifyChanges = 20_020,
    /// 20021: register the notify port.
    NotifyViaPort = 20_021,
    /// 20024: drop the notify port.
    NotifyCancel = 20_024,
    /// 20025: replace the watched keys and patterns.
    NotifySet = 20_025,
    /// 20026: file-descriptor notification (stubbed by NextBSD configd: 1001).
    NotifyViaFd = 20_026,
    /// 20029: snapshot (stubbed by NextBSD configd: 1001).
    Snapshot = 20_029,
}

impl Routine {
    /// Every routine, in id order.
    pub const ALL: [Routine; 18] = [
        Routine::ConfigOpen,
        Routine::ConfigList,
        Routine::ConfigAdd,
        Routine::ConfigGet,
        Routine::ConfigSet,
        Routine::ConfigRemove,
        Routine::ConfigAddS,
        Routine::ConfigNotify,
        Routine::ConfigGetM,
        Routine::ConfigSetM,
        Routine::NotifyAdd,
        Routine::NotifyRemove,
        Routine::NotifyChanges,
        Routine::NotifyViaPort,
        Routine::NotifyCancel,
        Routine::NotifySet,
        Routine::NotifyViaFd,
        Routine::Snapshot,
    ];

    /// The routine for a request id; `None` for skipped or out-of-range ids.
    pub fn from_id(id: i32) -> Option<Routine> {
        Routine::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// The request `msgh_id`.
    pub const fn id(self) -> i32 {
        self as i32
    }

    /// The reply `msgh_id` (request id + 100).
    pub const fn reply_id(self) -> i32 {
        self as i32 + REPLY_ID_OFFSET
    }

    /// The routine's name in `config.defs`.
    pub const fn name(self) -> &'static str {
        match self {
            Routine::ConfigOpen => "configopen",
            Routine::ConfigList => "configlist",
            Routine::ConfigAdd => "configadd",
            Routine::ConfigGet => "configget",
            Routine::ConfigSet => "configset",
            Routine::ConfigRemove => "configremove",
            Routine::ConfigAddS => "configadd_s",
            Routine::ConfigNotify => "confignotify",
            Routine::ConfigGetM => "configget_m",
            Routine::ConfigSetM => "configset_m",
            Routine::NotifyAdd => "notifyadd",
            Routine::NotifyRemove => "notifyremove",
            Routine::NotifyChanges => "notifychanges",
            Routine::NotifyViaPort => "notifyviaport",
            Routine::NotifyCancel => "notifycancel",
            Routine::NotifySet => "notifyset",
            Routine::NotifyViaFd => "notifyviafd",
            Routine::Snapshot => "snapshot",
        }
    }

    /// Largest request this routine accepts (the C structure's size).
    pub const fn max_request_size(self) -> usize {
        use layout::*;
        let m = CONFIG_DATA_MAX;
        match self {
            Routine::ConfigOpen
            | Routine::ConfigAdd
            | Routine::ConfigAddS
            | Routine::ConfigGetM
            | Routine::NotifySet => two_array_request_size(m, m),
            Routine::ConfigList | Routine::NotifyAdd | Routine::NotifyRemove => {
                key_int_request_size(m)
            }
            Routine::ConfigGet | Routine::ConfigRemove | Routine::ConfigNotify => {
                key_request_size(m)
            }
            Routine::ConfigSet => configset_request_size(m, m),
            Routine::ConfigSetM => configset_m_request_size(m, m, m),
            Routine::NotifyChanges | Routine::NotifyCancel | Routine::Snapshot => HEADER_SIZE,
            Routine::NotifyViaPort | Routine::NotifyViaFd => 52,
        }
    }

    /// Largest reply this routine produces.
    pub const fn max_reply_size(self) -> usize {
        use layout::*;
        match self {
            Routine::ConfigOpen => 52,
            Routine::ConfigList | Routine::NotifyChanges | Routine::ConfigGetM => {
                data_reply_size(CONFIG_DATA_MAX)
            }
            Routine::ConfigGet => configget_reply_size(CONFIG_DATA_MAX),
            Routine::ConfigAdd | Routine::ConfigSet | Routine::ConfigAddS => 44,
            _ => 40,
        }
    }
}

/// The largest request of the subsystem (configset_m with three full arrays).
pub const MAX_REQUEST_SIZE: usize =
    layout::configset_m_request_size(CONFIG_DATA_MAX, CONFIG_DATA_MAX, CONFIG_DATA_MAX);
/// The largest reply of the subsystem (configget with a full value).
pub const MAX_REPLY_SIZE: usize = layout::configget_reply_size(CONFIG_DATA_MAX);

/// A message whose shape does not match its routine: what a generated stub's checks reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer cannot hold a 24-byte header.
    #[error("buffer of {len} byte(s) is too short for a message header")]
    ShortBuffer {
        /// Buffer length.
        len: usize,
    },
    /// `msgh_size` is below 24, not a multiple of 4, or larger than the buffer.
    #[error("msgh_size {msgh_size} is invalid for a buffer of {len} byte(s)")]
    BadMsghSize {
        /// The header's size.
        msgh_size: u32,
        /// Buffer length.
        len: usize,
    },
    /// The COMPLEX bit disagrees with the routine.
    #[error("COMPLEX bit is {found}, the routine expects {expected}")]
    ComplexBit {
        /// Whether the message had it.
        found: bool,
        /// Whether the routine expects it.
        expected: bool,
    },
    /// A complex message has the wrong descriptor count.
    #[error("descriptor count {found}, expected {expected}")]
    DescriptorCount {
        /// Count in the body.
        found: u32,
        /// Expected count.
        expected: u32,
    },
    /// `msgh_size` is outside the routine's range, or disagrees with the array counts.
    #[error("msgh_size {msgh_size}, expected {expected}")]
    SizeMismatch {
        /// The header's size.
        msgh_size: u32,
        /// The size the counts imply (or the nearest bound).
        expected: usize,
    },
    /// An inline array count is above the bound.
    #[error("array count {count} exceeds the bound {max}")]
    ArrayTooLarge {
        /// Count.
        count: u32,
        /// Bound (8192).
        max: usize,
    },
    /// A descriptor has the wrong type.
    #[error("descriptor type {found}, expected a port descriptor")]
    DescriptorType {
        /// Type byte.
        found: u8,
    },
    /// A reply carries a reply port of its own (`msgh_remote_port ≠ 0` on receive).
    #[error("reply carries a reply port ({port})")]
    UnexpectedReplyPort {
        /// The received remote port.
        port: u32,
    },
    /// A port descriptor carries the wrong right.
    #[error("port disposition {found}, expected {expected}")]
    Disposition {
        /// Disposition byte.
        found: u8,
        /// Expected label.
        expected: u8,
    },
}

impl WireError {
    /// The code a generated **server** answers with (mig.md §8): `MIG_TYPE_ERROR` for descriptor
    /// type and disposition, `MIG_BAD_ARGUMENTS` for everything else.
    pub const fn server_code(&self) -> kern_return_t {
        match self {
            WireError::DescriptorType { .. } | WireError::Disposition { .. } => {
                mach_abi::MIG_TYPE_ERROR
            }
            _ => mach_abi::MIG_BAD_ARGUMENTS,
        }
    }

    /// The code a generated **client** stub returns (mig.md §9): always `MIG_TYPE_ERROR`.
    pub const fn client_code(&self) -> kern_return_t {
        mach_abi::MIG_TYPE_ERROR
    }
}

/// The fields of a message header, read from bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `msgh_bits`.
    pub bits: u32,
    /// `msgh_size`.
    pub size: u32,
    /// `msgh_remote_port`.
    pub remote: u32,
    /// `msgh_local_port`.
    pub local: u32,
    /// `msgh_voucher_port`.
    pub voucher: u32,
    /// `msgh_id`.
    pub id: i32,
}

impl Header {
    /// Reads and validates the header of `msg`: `24 ≤ msgh_size ≤ len`, multiple of 4.
    pub fn parse(msg: &[u8]) -> Result<Header, WireError> {
        if msg.len() < layout::HEADER_SIZE {
            return Err(WireError::ShortBuffer { len: msg.len() });
        }
        let w = |i: usize| u32::from_le_bytes([msg[i], msg[i + 1], msg[i + 2], msg[i + 3]]);
        let h = Header {
            bits: w(0),
            size: w(4),
            remote: w(8),
            local: w(12),
            voucher: w(16),
            id: w(20) as i32,
        };
        let size = h.size as usize;
        if size < layout::HEADER_SIZE || size % 4 != 0 || size > msg.len() {
            return Err(WireError::BadMsghSize {
                msgh_size: h.size,
                len: msg.len(),
            });
        }
        Ok(h)
    }

    /// Whether `MACH_MSGH_BITS_COMPLEX` is set.
    pub const fn is_complex(&self) -> bool {
        self.bits & mach_abi::MACH_MSGH_BITS_COMPLEX != 0
    }

    /// Writes the header into the first 24 bytes of `msg`.
    pub fn write(&self, msg: &mut [u8]) {
        let words = [
            self.bits,
            self.size,
            self.remote,
            self.local,
            self.voucher,
            self.id as u32,
        ];
        for (i, w) in words.iter().enumerate() {
            msg[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
}

/// Encodes configd's wake-up message (bits `0x13`, id `'CNFT'`, 24 bytes) to `remote`.
pub fn encode_notify_message(remote: u32) -> Vec<u8> {
    let mut msg = vec![0u8; NOTIFY_MSG_SIZE];
    Header {
        bits: NOTIFY_MSG_BITS,
        size: NOTIFY_MSG_SIZE as u32,
        remote,
        local: 0,
        voucher: 0,
        id: NOTIFY_MSG_ID,
    }
    .write(&mut msg);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_ids_follow_the_defs_with_skips() {
        assert_eq!(Routine::ConfigOpen.id(), 20_000);
        assert_eq!(Routine::NotifyChanges.id(), 20_020);
        assert_eq!(Routine::NotifyViaPort.id(), 20_021);
        assert_eq!(Routine::NotifyCancel.id(), 20_024);
        assert_eq!(Routine::NotifySet.id(), 20_025);
        assert_eq!(Routine::Snapshot.id(), 20_029);
        assert_eq!(Routine::NotifyChanges.reply_id(), 20_120);
        for skipped in [
            20_001, 20_002, 20_003, 20_004, 20_007, 20_013, 20_022, 20_023, 20_027, 20_028,
        ] {
            assert_eq!(Routine::from_id(skipped), None, "{skipped}");
        }
        assert_eq!(Routine::from_id(19_999), None);
        assert_eq!(Routine::from_id(20_030), None);
        for r in Routine::ALL {
            assert_eq!(Routine::from_id(r.id()), Some(r));
            assert!((CONFIG_SUBSYSTEM_BASE..CONFIG_SUBSYSTEM_END).contains(&r.id()));
        }
    }

    #[test]
    fn notify_message_is_a_bare_cnft_header() {
        let m = encode_notify_message(77);
        assert_eq!(
            m,
            [
                0x13, 0, 0, 0, 24, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x54, 0x46, 0x4e,
                0x43
            ]
        );
        assert_eq!(&m[20..24], &NOTIFY_MSG_ID.to_le_bytes());
    }

    #[test]
    fn header_parse_rejects_bad_sizes() {
        assert_eq!(
            Header::parse(&[0; 10]),
            Err(WireError::ShortBuffer { len: 10 })
        );
        let mut m = encode_notify_message(1);
        m[4] = 28;
        assert!(matches!(
            Header::parse(&m),
            Err(WireError::BadMsghSize { .. })
        ));
        m[4] = 22;
        assert!(matches!(
            Header::parse(&m),
            Err(WireError::BadMsghSize { .. })
        ));
        m[4] = 24;
        assert_eq!(Header::parse(&m).unwrap().id, NOTIFY_MSG_ID);
    }

    #[test]
    fn max_sizes() {
        assert_eq!(MAX_REQUEST_SIZE, 44 + 3 * 8192);
        assert_eq!(Routine::NotifyChanges.max_reply_size(), 8_236);
        assert_eq!(Routine::NotifySet.max_request_size(), 16_424);
        assert_eq!(Routine::ConfigOpen.max_request_size(), 16_424);
        assert_eq!(MAX_REPLY_SIZE, 48 + 8192);
    }
}
