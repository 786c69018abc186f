//! The `ipconfig.defs` wire format as NextBSD defines it (`ipconfig-rpc.md` §3), plus the one
//! Apple request needed to tell Apple's numbering apart (§4).
//!
//! Each message is a `#[repr(C, packed(4))]` struct with the C field order, checked at compile
//! time against the spec's size and offset tables. Encoding and decoding go through explicit
//! byte offsets (native endian, no `unsafe`); decoders check the buffer length, `msgh_size` and the
//! complex bit and return a typed [`WireError`].

use core::fmt;
use std::net::Ipv4Addr;

use mach_async::mig::codec::{self as mig_codec, write_header as put_header, write_u32 as put_u32};

use mach_abi::{
    kern_return_t, mach_msg_header_t, mach_msg_id_t, mach_msg_size_t, NDR_record_t,
    MACH_MSGH_BITS_IS_COMPLEX,
};

/// First id of the `ipconfig` subsystem (`subsystem ipconfig 20000`).
pub const IPCONFIG_SUBSYSTEM_BASE: mach_msg_id_t = 20000;
/// `ipconfig_if_count` (both numberings).
pub const IPCONFIG_IF_COUNT_ID: mach_msg_id_t = 20000;
/// `ipconfig_if_addr` in NextBSD's `ipconfig.defs` (no `skip;` for `get_option`).
pub const IPCONFIG_IF_ADDR_ID: mach_msg_id_t = 20001;
/// `ipconfig_get_option` in Apple's table (the id NextBSD uses for `if_addr`).
pub const APPLE_IPCONFIG_GET_OPTION_ID: mach_msg_id_t = 20001;
/// `ipconfig_if_addr` in Apple's table.
pub const APPLE_IPCONFIG_IF_ADDR_ID: mach_msg_id_t = 20002;
/// End (exclusive) of NextBSD's subsystem range.
pub const IPCONFIG_SUBSYSTEM_END: mach_msg_id_t = 20002;
/// End (exclusive) of Apple's subsystem range (bootp-494.60.3).
pub const APPLE_IPCONFIG_SUBSYSTEM_END: mach_msg_id_t = 20022;

/// `IF_NAMESIZE`: the size of [`InterfaceName`] on the wire.
pub const IF_NAMESIZE: usize = 16;
/// The service name NextBSD checks in and clients look up.
pub const IPCONFIG_SERVICE_NAME: &str = "com.apple.IPConfiguration";
/// Apple's service name (`IPCONFIG_SERVER`), for reference.
pub const APPLE_IPCONFIG_SERVICE_NAME: &str = "com.apple.network.IPConfiguration";

/// A 16-byte interface name (`InterfaceName` = `char[16]`) exactly as it travels.
///
/// Edge case: the 16 bytes are **not necessarily NUL-terminated**. Clients zero-fill and copy at
/// most 15 characters; a hand-made request may fill all 16. ipconfigd copies the first 15 bytes
/// into a zeroed buffer before looking the name up, so only those count
/// ([`InterfaceName::lookup_key`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct InterfaceName(pub [u8; IF_NAMESIZE]);

/// Why a string cannot be an [`InterfaceName`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterfaceNameError {
    /// More than 15 bytes (the 16th is reserved for the terminating NUL).
    #[error("interface name is {0} bytes long; at most 15 fit")]
    TooLong(usize),
    /// The name contains a NUL byte.
    #[error("interface name contains a NUL byte")]
    InteriorNul,
}

impl InterfaceName {
    /// The name a client sends for `name`: zero-filled, `name` copied in. Fails if `name` has
    /// more than 15 bytes or contains NUL (a C client would silently cut it).
    pub fn new(name: &str) -> Result<InterfaceName, InterfaceNameError> {
        let bytes = name.as_bytes();
        if bytes.contains(&0) {
            return Err(InterfaceNameError::InteriorNul);
        }
        if bytes.len() > IF_NAMESIZE - 1 {
            return Err(InterfaceNameError::TooLong(bytes.len()));
        }
        Ok(InterfaceName::truncating(bytes))
    }

    /// What NextBSD's C clients send: zero-fill, then copy at most 15 bytes of `name`.
    pub fn truncating(name: &[u8]) -> InterfaceName {
        let mut raw = [0u8; IF_NAMESIZE];
        let n = name.len().min(IF_NAMESIZE - 1);
        raw[..n].copy_from_slice(&name[..n]);
        InterfaceName(raw)
    }

    /// The raw 16 bytes.
    pub const fn raw(&self) -> &[u8; IF_NAMESIZE] {
        &self.0
    }

    /// The name the server looks up: the first 15 bytes, up to the first NUL (ipconfigd copies 15
    /// bytes into a zeroed buffer and compares with `strcmp`).
    pub fn lookup_key(&self) -> &[u8] {
        let head = &self.0[..IF_NAMESIZE - 1];
        let end = head.iter().position(|&b| b == 0).unwrap_or(head.len());
        &head[..end]
    }
}

impl fmt::Debug for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "InterfaceName({:?})",
            String::from_utf8_lossy(self.lookup_key())
        )
    }
}

/// `ipconfig_status_t`: the application-level result of a routine (4-byte signed enum).
///
/// A newtype rather than a Rust enum because the wire may carry any value; the named constants are
/// the 22 values of Apple's `ipconfig_types.h`, which NextBSD copies verbatim.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct IpconfigStatus(pub i32);

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $c:literal;)*) => {
        impl IpconfigStatus {
            $($(#[$doc])* pub const $name: IpconfigStatus = IpconfigStatus($value);)*

            /// The C name (`ipconfig_status_<name>_e`), or `None` for a value outside the enum.
            pub const fn c_name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($c),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// 0: success.
    SUCCESS = 0, "ipconfig_status_success_e";
    /// 1: permission denied (also every authorization refusal).
    PERMISSION_DENIED = 1, "ipconfig_status_permission_denied_e";
    /// 2: interface does not exist.
    INTERFACE_DOES_NOT_EXIST = 2, "ipconfig_status_interface_does_not_exist_e";
    /// 3: invalid parameter.
    INVALID_PARAMETER = 3, "ipconfig_status_invalid_parameter_e";
    /// 4: invalid operation.
    INVALID_OPERATION = 4, "ipconfig_status_invalid_operation_e";
    /// 5: allocation failed.
    ALLOCATION_FAILED = 5, "ipconfig_status_allocation_failed_e";
    /// 6: internal error.
    INTERNAL_ERROR = 6, "ipconfig_status_internal_error_e";
    /// 7: operation not supported.
    OPERATION_NOT_SUPPORTED = 7, "ipconfig_status_operation_not_supported_e";
    /// 8: address in use.
    ADDRESS_IN_USE = 8, "ipconfig_status_address_in_use_e";
    /// 9: no server (what `if_addr` answers for an unknown or unbound interface).
    NO_SERVER = 9, "ipconfig_status_no_server_e";
    /// 10: server not responding.
    SERVER_NOT_RESPONDING = 10, "ipconfig_status_server_not_responding_e";
    /// 11: lease terminated.
    LEASE_TERMINATED = 11, "ipconfig_status_lease_terminated_e";
    /// 12: media inactive.
    MEDIA_INACTIVE = 12, "ipconfig_status_media_inactive_e";
    /// 13: server error.
    SERVER_ERROR = 13, "ipconfig_status_server_error_e";
    /// 14: no such service.
    NO_SUCH_SERVICE = 14, "ipconfig_status_no_such_service_e";
    /// 15: duplicate service.
    DUPLICATE_SERVICE = 15, "ipconfig_status_duplicate_service_e";
    /// 16: address timed out.
    ADDRESS_TIMED_OUT = 16, "ipconfig_status_address_timed_out_e";
    /// 17: not found.
    NOT_FOUND = 17, "ipconfig_status_not_found_e";
    /// 18: resource unavailable.
    RESOURCE_UNAVAILABLE = 18, "ipconfig_status_resource_unavailable_e";
    /// 19: network changed.
    NETWORK_CHANGED = 19, "ipconfig_status_network_changed_e";
    /// 20: lease expired.
    LEASE_EXPIRED = 20, "ipconfig_status_lease_expired_e";
    /// 21: DHCP waiting.
    DHCP_WAITING = 21, "ipconfig_status_dhcp_waiting_e";
}

impl fmt::Debug for IpconfigStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.c_name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "IpconfigStatus({})", self.0),
        }
    }
}

impl fmt::Display for IpconfigStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `ip_address_t` (`uint32_t`) holding an IPv4 address in network byte order: its memory bytes
/// are `a b c d` for `a.b.c.d`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[repr(transparent)]
pub struct IpAddress(pub u32);

impl From<Ipv4Addr> for IpAddress {
    fn from(addr: Ipv4Addr) -> IpAddress {
        IpAddress(u32::from_ne_bytes(addr.octets()))
    }
}

impl From<IpAddress> for Ipv4Addr {
    fn from(addr: IpAddress) -> Ipv4Addr {
        Ipv4Addr::from(addr.0.to_ne_bytes())
    }
}

/// Why bytes are not the expected message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer is shorter than the message.
    #[error("message truncated: need {needed} bytes, have {got}")]
    Truncated {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// `msgh_size` is not this message's size.
    #[error("msgh_size is {got}, expected {expected}")]
    Size {
        /// The message's fixed size.
        expected: mach_msg_size_t,
        /// `msgh_size` found.
        got: mach_msg_size_t,
    },
    /// The COMPLEX bit is set on a simple message.
    #[error("COMPLEX bit set on a simple message")]
    Complex,
    /// `msgh_id` is not this message's id.
    #[error("msgh_id is {got}, expected {expected}")]
    Id {
        /// The expected id.
        expected: mach_msg_id_t,
        /// `msgh_id` found.
        got: mach_msg_id_t,
    },
}

// ---------------------------------------------------------------------------------------------
// Byte helpers (native endian at fixed offsets)
// ---------------------------------------------------------------------------------------------

// The header and word codecs are the MIG runtime's; these wrappers only drop the `Option`
// where `check_simple` (or the encoder's own buffer) has already guaranteed the length.

fn get_u32(bytes: &[u8], at: usize) -> u32 {
    mig_codec::read_u32(bytes, at).expect("length checked before decoding")
}

fn get_header(bytes: &[u8]) -> mach_msg_header_t {
    mig_codec::read_header(bytes).expect("length checked before decoding")
}

fn get_ndr(bytes: &[u8]) -> NDR_record_t {
    NDR_record_t {
        mig_vers: bytes[24],
        if_vers: bytes[25],
        reserved1: bytes[26],
        mig_encoding: bytes[27],
        int_rep: bytes[28],
        char_rep: bytes[29],
        float_rep: bytes[30],
        reserved2: bytes[31],
    }
}

fn put_ndr(bytes: &mut [u8], ndr: &NDR_record_t) {
    bytes[24..32].copy_from_slice(&[
        ndr.mig_vers,
        ndr.if_vers,
        ndr.reserved1,
        ndr.mig_encoding,
        ndr.int_rep,
        ndr.char_rep,
        ndr.float_rep,
        ndr.reserved2,
    ]);
}

/// Checks that `bytes` holds a simple message of exactly `SIZE` bytes (a trailer may follow).
fn check_simple(bytes: &[u8], size: usize) -> Result<(), WireError> {
    if bytes.len() < size.max(24) {
        return Err(WireError::Truncated {
            needed: size.max(24),
            got: bytes.len(),
        });
    }
    let head = get_header(bytes);
    if head.msgh_size as usize != size {
        return Err(WireError::Size {
            expected: size as mach_msg_size_t,
            got: head.msgh_size,
        });
    }
    if MACH_MSGH_BITS_IS_COMPLEX(head.msgh_bits) {
        return Err(WireError::Complex);
    }
    Ok(())
}

/// A fixed-size simple MIG message with a byte codec.
pub trait WireMessage: Sized {
    /// Exact wire size (`msgh_size`).
    const SIZE: usize;
    /// Encodes into exactly [`Self::SIZE`] bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// Decodes from a received buffer (the message, optionally followed by its trailer): checks
    /// the length, `msgh_size` == [`Self::SIZE`] and the COMPLEX bit. Does not check `msgh_id`.
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError>;
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// `ipconfig_if_count` request (24 bytes: a bare header; no NDR because there is no inline
/// argument).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfCountRequest {
    /// Header (`msgh_id` 20000).
    pub head: mach_msg_header_t,
}

/// `ipconfig_if_count` reply (40 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfCountReply {
    /// Header (`msgh_id` 20100).
    pub head: mach_msg_header_t,
    /// NDR record @24.
    pub ndr: NDR_record_t,
    /// `RetCode` @32.
    pub ret_code: kern_return_t,
    /// `count` @36.
    pub count: i32,
}

/// `ipconfig_if_addr` request (48 bytes), the same layout under NextBSD's id 20001 and Apple's
/// 20002.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfAddrRequest {
    /// Header.
    pub head: mach_msg_header_t,
    /// NDR record @24.
    pub ndr: NDR_record_t,
    /// `name` @32 (16 bytes, maybe without NUL).
    pub name: InterfaceName,
}

/// `ipconfig_if_addr` reply (44 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfAddrReply {
    /// Header (request id + 100).
    pub head: mach_msg_header_t,
    /// NDR record @24.
    pub ndr: NDR_record_t,
    /// `RetCode` @32.
    pub ret_code: kern_return_t,
    /// `addr` @36, network byte order.
    pub addr: IpAddress,
    /// `status` @40.
    pub status: IpconfigStatus,
}

/// Apple's `ipconfig_get_option` request (52 bytes, id 20001): only used to recognise it.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetOptionRequest {
    /// Header.
    pub head: mach_msg_header_t,
    /// NDR record @24.
    pub ndr: NDR_record_t,
    /// `name` @32.
    pub name: InterfaceName,
    /// `option_code` @48.
    pub option_code: i32,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<InterfaceName>() == 16);
    assert!(size_of::<IfCountRequest>() == 24);
    assert!(size_of::<IfCountReply>() == 40);
    assert!(offset_of!(IfCountReply, ndr) == 24);
    assert!(offset_of!(IfCountReply, ret_code) == 32);
    assert!(offset_of!(IfCountReply, count) == 36);
    assert!(size_of::<IfAddrRequest>() == 48);
    assert!(offset_of!(IfAddrRequest, ndr) == 24);
    assert!(offset_of!(IfAddrRequest, name) == 32);
    assert!(size_of::<IfAddrReply>() == 44);
    assert!(offset_of!(IfAddrReply, ndr) == 24);
    assert!(offset_of!(IfAddrReply, ret_code) == 32);
    assert!(offset_of!(IfAddrReply, addr) == 36);
    assert!(offset_of!(IfAddrReply, status) == 40);
    assert!(size_of::<GetOptionRequest>() == 52);
    assert!(offset_of!(GetOptionRequest, name) == 32);
    assert!(offset_of!(GetOptionRequest, option_code) == 48);
};

impl WireMessage for IfCountRequest {
    const SIZE: usize = core::mem::size_of::<Self>();
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; Self::SIZE];
        put_header(&mut bytes, &self.head);
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        check_simple(bytes, Self::SIZE)?;
        Ok(IfCountRequest {
            head: get_header(bytes),
        })
    }
}

impl WireMessage for IfCountReply {
    const SIZE: usize = core::mem::size_of::<Self>();
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; Self::SIZE];
        put_header(&mut bytes, &self.head);
        put_ndr(&mut bytes, &self.ndr);
        put_u32(&mut bytes, 32, self.ret_code as u32);
        put_u32(&mut bytes, 36, self.count as u32);
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        check_simple(bytes, Self::SIZE)?;
        Ok(IfCountReply {
            head: get_header(bytes),
            ndr: get_ndr(bytes),
            ret_code: get_u32(bytes, 32) as i32,
            count: get_u32(bytes, 36) as i32,
        })
    }
}

impl WireMessage for IfAddrRequest {
    const SIZE: usize = core::mem::size_of::<Self>();
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; Self::SIZE];
        put_header(&mut bytes, &self.head);
        put_ndr(&mut bytes, &self.ndr);
        bytes[32..48].copy_from_slice(self.name.raw());
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        check_simple(bytes, Self::SIZE)?;
        let mut name = [0u8; IF_NAMESIZE];
        name.copy_from_slice(&bytes[32..48]);
        Ok(IfAddrRequest {
            head: get_header(bytes),
            ndr: get_ndr(bytes),
            name: InterfaceName(name),
        })
    }
}

impl WireMessage for IfAddrReply {
    const SIZE: usize = core::mem::size_of::<Self>();
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; Self::SIZE];
        put_header(&mut bytes, &self.head);
        put_ndr(&mut bytes, &self.ndr);
        put_u32(&mut bytes, 32, self.ret_code as u32);
        put_u32(&mut bytes, 36, self.addr.0);
        put_u32(&mut bytes, 40, self.status.0 as u32);
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        check_simple(bytes, Self::SIZE)?;
        Ok(IfAddrReply {
            head: get_header(bytes),
            ndr: get_ndr(bytes),
            ret_code: get_u32(bytes, 32) as i32,
            addr: IpAddress(get_u32(bytes, 36)),
            status: IpconfigStatus(get_u32(bytes, 40) as i32),
        })
    }
}

impl WireMessage for GetOptionRequest {
    const SIZE: usize = core::mem::size_of::<Self>();
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; Self::SIZE];
        put_header(&mut bytes, &self.head);
        put_ndr(&mut bytes, &self.ndr);
        bytes[32..48].copy_from_slice(self.name.raw());
        put_u32(&mut bytes, 48, self.option_code as u32);
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        check_simple(bytes, Self::SIZE)?;
        let mut name = [0u8; IF_NAMESIZE];
        name.copy_from_slice(&bytes[32..48]);
        Ok(GetOptionRequest {
            head: get_header(bytes),
            ndr: get_ndr(bytes),
            name: InterfaceName(name),
            option_code: get_u32(bytes, 48) as i32,
        })
    }
}

/// Checks `msgh_id` of a decoded message.
pub fn expect_id(head: &mach_msg_header_t, expected: mach_msg_id_t) -> Result<(), WireError> {
    let got = head.msgh_id;
    if got == expected {
        Ok(())
    } else {
        Err(WireError::Id { expected, got })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mach_abi::NDR_record;

    #[test]
    fn worked_example_request_bytes() {
        // mig.md §13: ipconfig_if_addr("em0"), NextBSD numbering.
        let request = IfAddrRequest {
            head: mach_msg_header_t {
                msgh_bits: 0x1513,
                msgh_size: 48,
                msgh_remote_port: 0x11,
                msgh_local_port: 0x22,
                msgh_voucher_port: 0,
                msgh_id: IPCONFIG_IF_ADDR_ID,
            },
            ndr: NDR_record,
            name: InterfaceName::new("em0").unwrap(),
        };
        let bytes = request.to_bytes();
        assert_eq!(&bytes[0..8], &[0x13, 0x15, 0, 0, 0x30, 0, 0, 0]);
        assert_eq!(&bytes[20..24], &[0x21, 0x4E, 0, 0]);
        assert_eq!(&bytes[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&bytes[32..35], b"em0");
        assert_eq!(&bytes[35..48], &[0; 13]);
        assert_eq!(IfAddrRequest::from_bytes(&bytes), Ok(request));
    }

    #[test]
    fn worked_example_reply_bytes() {
        let reply = IfAddrReply {
            head: mach_msg_header_t {
                msgh_bits: 0x12,
                msgh_size: 44,
                msgh_remote_port: 0x33,
                msgh_local_port: 0,
                msgh_voucher_port: 0,
                msgh_id: 20101,
            },
            ndr: NDR_record,
            ret_code: 0,
            addr: Ipv4Addr::new(10, 0, 2, 15).into(),
            status: IpconfigStatus::SUCCESS,
        };
        let bytes = reply.to_bytes();
        assert_eq!(&bytes[0..8], &[0x12, 0, 0, 0, 0x2C, 0, 0, 0]);
        assert_eq!(&bytes[20..24], &[0x85, 0x4E, 0, 0]);
        assert_eq!(&bytes[36..40], &[0x0A, 0x00, 0x02, 0x0F]);
        assert_eq!(&bytes[40..44], &[0; 4]);
        let back = IfAddrReply::from_bytes(&bytes).unwrap();
        assert_eq!(Ipv4Addr::from(back.addr), Ipv4Addr::new(10, 0, 2, 15));
    }

    #[test]
    fn decoders_check_length_size_and_complex() {
        let mut bytes = IfCountReply {
            head: mach_msg_header_t {
                msgh_size: 40,
                ..Default::default()
            },
            ..Default::default()
        }
        .to_bytes();
        assert!(IfCountReply::from_bytes(&bytes).is_ok());
        assert_eq!(
            IfCountReply::from_bytes(&bytes[..39]),
            Err(WireError::Truncated {
                needed: 40,
                got: 39
            })
        );
        bytes[4] = 36;
        assert_eq!(
            IfCountReply::from_bytes(&bytes),
            Err(WireError::Size {
                expected: 40,
                got: 36
            })
        );
        bytes[4] = 40;
        bytes[3] = 0x80;
        assert_eq!(IfCountReply::from_bytes(&bytes), Err(WireError::Complex));
        assert_eq!(
            IfCountRequest::from_bytes(&[0; 3]),
            Err(WireError::Truncated { needed: 24, got: 3 })
        );
    }

    #[test]
    fn decoders_accept_a_trailing_trailer() {
        let mut bytes = IfCountRequest {
            head: mach_msg_header_t {
                msgh_size: 24,
                ..Default::default()
            },
        }
        .to_bytes();
        bytes.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        assert!(IfCountRequest::from_bytes(&bytes).is_ok());
    }

    #[test]
    fn interface_name_rules() {
        assert_eq!(InterfaceName::new("em0").unwrap().lookup_key(), b"em0");
        assert_eq!(
            InterfaceName::new("0123456789abcde").unwrap().lookup_key(),
            b"0123456789abcde"
        );
        assert_eq!(
            InterfaceName::new("0123456789abcdef"),
            Err(InterfaceNameError::TooLong(16))
        );
        assert_eq!(
            InterfaceName::new("a\0b"),
            Err(InterfaceNameError::InteriorNul)
        );
        // A C client cuts to 15 characters and always leaves a NUL.
        let cut = InterfaceName::truncating(b"0123456789abcdefXYZ");
        assert_eq!(cut.raw()[15], 0);
        assert_eq!(cut.lookup_key(), b"0123456789abcde");
        // Edge case: all 16 bytes used, no NUL: only 15 count.
        let full = InterfaceName(*b"0123456789abcdeZ");
        assert_eq!(full.lookup_key(), b"0123456789abcde");
        assert_eq!(InterfaceName::default().lookup_key(), b"");
    }

    #[test]
    fn status_names_match_the_table() {
        assert_eq!(IpconfigStatus::NO_SERVER.0, 9);
        assert_eq!(
            IpconfigStatus::NO_SERVER.c_name(),
            Some("ipconfig_status_no_server_e")
        );
        assert_eq!(IpconfigStatus::PERMISSION_DENIED.0, 1);
        assert_eq!(IpconfigStatus::DHCP_WAITING.0, 21);
        assert_eq!(
            IpconfigStatus::NOT_FOUND.c_name(),
            Some("ipconfig_status_not_found_e")
        );
        assert_eq!(IpconfigStatus(22).c_name(), None);
        assert_eq!(format!("{:?}", IpconfigStatus(-1)), "IpconfigStatus(-1)");
    }

    #[test]
    fn expect_id_reports_both_ids() {
        let head = mach_msg_header_t {
            msgh_id: 20002,
            ..Default::default()
        };
        assert_eq!(expect_id(&head, 20002), Ok(()));
        assert_eq!(
            expect_id(&head, 20001),
            Err(WireError::Id {
                expected: 20001,
                got: 20002
            })
        );
    }
}
