//! The `ipconfig` subsystem's routines on the MIG conventions: which id and size mean which
//! routine under each [`Numbering`], the request and reply shapes the MIG checks enforce, and
//! typed encoders/decoders for both sides (`ipconfig-rpc.md` §3, §4).

use std::net::Ipv4Addr;

use mach_abi::{mach_msg_header_t, mach_msg_id_t, NDR_record, MACH_MSGH_BITS_IS_COMPLEX};

use crate::ipconfig_messages::{
    IfAddrReply, IfAddrRequest, IfCountReply, InterfaceName, IpAddress, IpconfigStatus,
    WireMessage, APPLE_IPCONFIG_GET_OPTION_ID, APPLE_IPCONFIG_IF_ADDR_ID, IPCONFIG_IF_ADDR_ID,
    IPCONFIG_IF_COUNT_ID,
};
use crate::mig::codec::{read_header, simple_reply};
use crate::mig::{check_reply, check_request, CheckedRequest, MigError, ReplyShape, RequestShape};

/// Which routine table the ids follow.
///
/// NextBSD's `ipconfig.defs` has no `skip;` for Apple's `get_option`, so its `if_addr` is 20001
/// while Apple's is 20002 and Apple's 20001 is `get_option` (`ipconfig-rpc.md` §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Numbering {
    /// NextBSD's table: 20000 `if_count`, 20001 `if_addr`; every other id is `MIG_BAD_ID`.
    /// What NextBSD's server and clients are built from today; the default.
    #[default]
    NextBsd,
    /// Opt-in compatibility (server side): Apple's table, with the two meanings of 20001 told
    /// apart by size (§4.3): 20000 `if_count`; 20002 `if_addr`; 20001 with 48 bytes → `if_addr`
    /// (legacy NextBSD clients, reply id 20101); 20001 with 52 bytes → Apple `get_option`, not
    /// implemented → `MIG_BAD_ID`; 20001 of any other shape → `MIG_BAD_ARGUMENTS`; every other id
    /// → `MIG_BAD_ID`. A client in this mode sends `if_addr` as 20002.
    AppleCompat,
}

impl Numbering {
    /// The id a client sends for `ipconfig_if_addr`.
    pub const fn if_addr_id(self) -> mach_msg_id_t {
        match self {
            Numbering::NextBsd => IPCONFIG_IF_ADDR_ID,
            Numbering::AppleCompat => APPLE_IPCONFIG_IF_ADDR_ID,
        }
    }
}

/// `ipconfig_if_count` request: a bare 24-byte header.
pub const IF_COUNT_REQUEST: RequestShape = RequestShape::simple(24);
/// `ipconfig_if_addr` request: 48 bytes.
pub const IF_ADDR_REQUEST: RequestShape = RequestShape::simple(48);
/// `ipconfig_if_count` success reply: 40 bytes.
pub const IF_COUNT_REPLY: ReplyShape = ReplyShape::simple(40);
/// `ipconfig_if_addr` success reply: 44 bytes.
pub const IF_ADDR_REPLY: ReplyShape = ReplyShape::simple(44);
/// Size of Apple's `get_option` request (recognised, not implemented).
pub const APPLE_GET_OPTION_REQUEST_SIZE: u32 = 52;

/// A decoded, checked request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `ipconfig_if_count(server; out count)`.
    IfCount,
    /// `ipconfig_if_addr(server; name; out addr; out status)`.
    IfAddr {
        /// The requested interface (16 raw bytes, maybe without NUL).
        name: InterfaceName,
    },
}

/// Runs the server side of the subsystem on a received request: routes `msgh_id` (and, in
/// [`Numbering::AppleCompat`], the size of 20001) to a routine and runs that routine's MIG
/// checks. `Err` carries the code of the error reply the server must send.
pub fn decode_request(bytes: &[u8], numbering: Numbering) -> Result<Call, MigError> {
    let header = read_header(bytes).ok_or(MigError::BadArguments)?;
    let id = header.msgh_id;
    match (numbering, id) {
        (_, IPCONFIG_IF_COUNT_ID) => check_request(bytes, &IF_COUNT_REQUEST).map(|_| Call::IfCount),
        (Numbering::NextBsd, IPCONFIG_IF_ADDR_ID)
        | (Numbering::AppleCompat, APPLE_IPCONFIG_IF_ADDR_ID) => if_addr(bytes),
        (Numbering::AppleCompat, APPLE_IPCONFIG_GET_OPTION_ID) => {
            check_apple_20001(bytes)?;
            if_addr(bytes)
        }
        _ => Err(MigError::BadId),
    }
}

/// The check of id 20001 under [`Numbering::AppleCompat`] (`ipconfig-rpc.md` §4.3): a simple
/// 48-byte request is a legacy NextBSD `if_addr` (and passes); a simple 52-byte one is Apple's
/// `get_option`, which is not implemented (`MIG_BAD_ID`); any other shape is
/// `MIG_BAD_ARGUMENTS`.
pub fn check_apple_20001(bytes: &[u8]) -> Result<CheckedRequest, MigError> {
    let header = read_header(bytes).ok_or(MigError::BadArguments)?;
    let simple = !MACH_MSGH_BITS_IS_COMPLEX(header.msgh_bits);
    match header.msgh_size {
        48 if simple => check_request(bytes, &IF_ADDR_REQUEST),
        APPLE_GET_OPTION_REQUEST_SIZE if simple => Err(MigError::BadId),
        _ => Err(MigError::BadArguments),
    }
}

fn if_addr(bytes: &[u8]) -> Result<Call, MigError> {
    check_request(bytes, &IF_ADDR_REQUEST)?;
    let request = IfAddrRequest::from_bytes(bytes).map_err(|_| MigError::BadArguments)?;
    Ok(Call::IfAddr { name: request.name })
}

/// The success reply to `request` (the request's header as received) for `ipconfig_if_count`.
pub fn encode_if_count_reply(request: &mach_msg_header_t, count: i32) -> Vec<u8> {
    simple_reply(request, &count.to_ne_bytes())
}

/// The success reply to `request` for `ipconfig_if_addr`.
pub fn encode_if_addr_reply(
    request: &mach_msg_header_t,
    addr: IpAddress,
    status: IpconfigStatus,
) -> Vec<u8> {
    let mut outs = [0u8; 8];
    outs[..4].copy_from_slice(&addr.0.to_ne_bytes());
    outs[4..].copy_from_slice(&status.0.to_ne_bytes());
    simple_reply(request, &outs)
}

/// The `ipconfig_if_count` request as a client sends it (ports and bits left for the transport).
pub fn encode_if_count_request() -> Vec<u8> {
    let head = mach_msg_header_t {
        msgh_size: 24,
        msgh_id: IPCONFIG_IF_COUNT_ID,
        ..Default::default()
    };
    crate::ipconfig_messages::IfCountRequest { head }.to_bytes()
}

/// The `ipconfig_if_addr` request as a client sends it under `numbering`.
pub fn encode_if_addr_request(name: InterfaceName, numbering: Numbering) -> Vec<u8> {
    let head = mach_msg_header_t {
        msgh_size: 48,
        msgh_id: numbering.if_addr_id(),
        ..Default::default()
    };
    IfAddrRequest {
        head,
        ndr: NDR_record,
        name,
    }
    .to_bytes()
}

/// The outcome of `ipconfig_if_addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    /// The bound IPv4 address (0.0.0.0 unless `status` is success).
    pub addr: Ipv4Addr,
    /// The application-level result (`NO_SERVER` for an unknown or unbound interface).
    pub status: IpconfigStatus,
}

/// Checks a received `ipconfig_if_count` reply as the generated client does and returns
/// `count`.
pub fn decode_if_count_reply(bytes: &[u8], request_id: mach_msg_id_t) -> Result<i32, MigError> {
    check_reply(bytes, request_id, &IF_COUNT_REPLY)?;
    let reply = IfCountReply::from_bytes(bytes).map_err(|_| MigError::TypeError)?;
    Ok(reply.count)
}

/// Checks a received `ipconfig_if_addr` reply as the generated client does and returns its outs.
pub fn decode_if_addr_reply(bytes: &[u8], request_id: mach_msg_id_t) -> Result<IfAddr, MigError> {
    check_reply(bytes, request_id, &IF_ADDR_REPLY)?;
    let reply = IfAddrReply::from_bytes(bytes).map_err(|_| MigError::TypeError)?;
    Ok(IfAddr {
        addr: reply.addr.into(),
        status: reply.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mig::codec::{error_reply, read_i32, read_u32, write_header, write_u32};

    /// `msg` as the server receives it: bits 0x1112, reply right 0x21, service port 0x10, plus
    /// an 8-byte minimum trailer.
    fn received(mut msg: Vec<u8>) -> Vec<u8> {
        write_u32(&mut msg, 0, 0x1112);
        write_u32(&mut msg, 8, 0x21);
        write_u32(&mut msg, 12, 0x10);
        msg.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        msg
    }

    fn with_id(mut msg: Vec<u8>, id: i32) -> Vec<u8> {
        write_u32(&mut msg, 20, id as u32);
        msg
    }

    fn em0() -> InterfaceName {
        InterfaceName::new("em0").unwrap()
    }

    #[test]
    fn nextbsd_table() {
        let n = Numbering::NextBsd;
        assert_eq!(
            decode_request(&received(encode_if_count_request()), n),
            Ok(Call::IfCount)
        );
        let addr = received(encode_if_addr_request(em0(), n));
        assert_eq!(read_i32(&addr, 20), Some(20001));
        assert_eq!(decode_request(&addr, n), Ok(Call::IfAddr { name: em0() }));
        // Apple's if_addr id is unknown to NextBSD's table.
        let apple = received(encode_if_addr_request(em0(), Numbering::AppleCompat));
        assert_eq!(decode_request(&apple, n), Err(MigError::BadId));
        // 20001 with Apple's get_option size: wrong size for if_addr.
        let mut get_option = received(with_id(vec![0; 52], 20001));
        write_u32(&mut get_option, 4, 52);
        assert_eq!(decode_request(&get_option, n), Err(MigError::BadArguments));
        assert_eq!(
            decode_request(&received(with_id(encode_if_count_request(), 20050)), n),
            Err(MigError::BadId)
        );
    }

    #[test]
    fn apple_compat_table() {
        let a = Numbering::AppleCompat;
        assert_eq!(
            decode_request(&received(encode_if_count_request()), a),
            Ok(Call::IfCount)
        );
        for id in [20001, 20002] {
            let msg = received(with_id(encode_if_addr_request(em0(), a), id));
            assert_eq!(
                decode_request(&msg, a),
                Ok(Call::IfAddr { name: em0() }),
                "{id}"
            );
        }
        let mut get_option = vec![0u8; 52];
        write_header(
            &mut get_option,
            &mach_msg_header_t {
                msgh_size: 52,
                msgh_id: 20001,
                ..Default::default()
            },
        );
        assert_eq!(
            decode_request(&received(get_option), a),
            Err(MigError::BadId)
        );
        let mut odd = received(with_id(encode_if_addr_request(em0(), a), 20001));
        write_u32(&mut odd, 4, 44);
        assert_eq!(decode_request(&odd, a), Err(MigError::BadArguments));
        let mut complex = received(with_id(encode_if_addr_request(em0(), a), 20001));
        write_u32(&mut complex, 0, 0x8000_1112);
        assert_eq!(decode_request(&complex, a), Err(MigError::BadArguments));
        // An unimplemented Apple routine.
        assert_eq!(
            decode_request(&received(with_id(encode_if_count_request(), 20018)), a),
            Err(MigError::BadId)
        );
    }

    #[test]
    fn wrong_sizes_and_complex_are_bad_arguments() {
        let n = Numbering::NextBsd;
        let mut count = received(with_id(vec![0; 28], 20000));
        write_u32(&mut count, 4, 28);
        assert_eq!(decode_request(&count, n), Err(MigError::BadArguments));
        let mut complex = received(encode_if_count_request());
        write_u32(&mut complex, 0, 0x8000_1112);
        assert_eq!(decode_request(&complex, n), Err(MigError::BadArguments));
        assert_eq!(decode_request(&[0; 10], n), Err(MigError::BadArguments));
    }

    #[test]
    fn replies_follow_the_worked_example() {
        let request = mach_msg_header_t {
            msgh_bits: 0x1112,
            msgh_size: 48,
            msgh_remote_port: 0x21,
            msgh_local_port: 0x10,
            msgh_voucher_port: 0,
            msgh_id: 20001,
        };
        let reply = encode_if_addr_reply(
            &request,
            Ipv4Addr::new(10, 0, 2, 15).into(),
            IpconfigStatus::SUCCESS,
        );
        assert_eq!(reply.len(), 44);
        assert_eq!(&reply[0..8], &[0x12, 0, 0, 0, 0x2C, 0, 0, 0]);
        assert_eq!(read_u32(&reply, 8), Some(0x21));
        assert_eq!(read_i32(&reply, 20), Some(20101));
        assert_eq!(&reply[36..44], &[0x0A, 0, 2, 0x0F, 0, 0, 0, 0]);
        let count = encode_if_count_reply(
            &mach_msg_header_t {
                msgh_id: 20000,
                ..request
            },
            1,
        );
        assert_eq!(count.len(), 40);
        assert_eq!(read_i32(&count, 20), Some(20100));
        assert_eq!(read_i32(&count, 36), Some(1));
    }

    /// `reply` as the client receives it: remote 0, local = its reply port (label 18).
    fn client_view(mut reply: Vec<u8>) -> Vec<u8> {
        write_u32(&mut reply, 0, 0x1200);
        write_u32(&mut reply, 8, 0);
        write_u32(&mut reply, 12, 0x40);
        reply.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        reply
    }

    #[test]
    fn client_decoders_check_like_generated_stubs() {
        let request = mach_msg_header_t {
            msgh_bits: 0x1112,
            msgh_id: 20001,
            msgh_remote_port: 0x21,
            ..Default::default()
        };
        let ok = client_view(encode_if_addr_reply(
            &request,
            IpAddress(0),
            IpconfigStatus::NO_SERVER,
        ));
        assert_eq!(
            decode_if_addr_reply(&ok, 20001),
            Ok(IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER
            })
        );
        assert_eq!(
            decode_if_addr_reply(&ok, 20002),
            Err(MigError::ReplyMismatch)
        );
        assert_eq!(decode_if_count_reply(&ok, 20001), Err(MigError::TypeError));
        let bad_id = client_view(error_reply(&request, mach_abi::MIG_BAD_ID).to_vec());
        assert_eq!(decode_if_addr_reply(&bad_id, 20001), Err(MigError::BadId));
        let count = client_view(encode_if_count_reply(
            &mach_msg_header_t {
                msgh_id: 20000,
                ..request
            },
            7,
        ));
        assert_eq!(decode_if_count_reply(&count, 20000), Ok(7));
    }
}
