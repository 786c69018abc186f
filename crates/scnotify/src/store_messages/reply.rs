//! Replies: encoding (server side) and decoding with a generated client stub's checks
//! (mig.md §9).

use super::codec::{EncodeError, MsgReader, MsgWriter};
use super::layout::{fixed_min, ERROR_REPLY_SIZE, HEADER_SIZE, REPLY_FIELDS_OFFSET};
use super::{Header, Routine, Status, WireError, CONFIG_DATA_MAX, REPLY_BITS};
use mach_abi::{
    kern_return_t, MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_PORT_SEND, MACH_NOTIFY_SEND_ONCE,
};
use mach_async::mig::{Body, DescriptorSpec, ReplyShape, SizeRule};
use thiserror::Error;

/// A successful `config.defs` reply, borrowing its payload from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// configopen: the session send right (its name in the message) and status.
    Session {
        /// Name of the moved session send right.
        session: u32,
        /// SC status.
        status: Status,
    },
    /// Routines whose only out is `status`.
    Status {
        /// SC status.
        status: Status,
    },
    /// configadd, configset, configadd_s.
    Instance {
        /// `newInstance` (0 from NextBSD configd).
        new_instance: i32,
        /// SC status.
        status: Status,
    },
    /// configlist (key list), notifychanges (key list), configget_m (key/value map).
    Data {
        /// The payload.
        data: &'a [u8],
        /// SC status.
        status: Status,
    },
    /// configget.
    Get {
        /// The value.
        data: &'a [u8],
        /// `newInstance`.
        new_instance: i32,
        /// SC status.
        status: Status,
    },
}

/// What a generated client stub returns instead of the out parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// A send-once notification (id 71) arrived: the server destroyed the reply right
    /// (`MIG_SERVER_DIED`).
    #[error("server died before replying")]
    ServerDied,
    /// The reply id does not answer the request (`MIG_REPLY_MISMATCH`).
    #[error("reply id {found} does not answer request id {request}")]
    Mismatch {
        /// Request id.
        request: i32,
        /// Id received.
        found: i32,
    },
    /// The server answered with the error form; `RetCode` is returned as is.
    #[error("server returned {}", mach_abi::named_code(*.0))]
    Remote(kern_return_t),
    /// The reply has the wrong shape (`MIG_TYPE_ERROR`).
    #[error("malformed reply: {0}")]
    Malformed(#[from] WireError),
}

impl ReplyError {
    /// The `kern_return_t` the C stub would return.
    pub const fn kern_return(&self) -> kern_return_t {
        match self {
            ReplyError::ServerDied => mach_abi::MIG_SERVER_DIED,
            ReplyError::Mismatch { .. } => mach_abi::MIG_REPLY_MISMATCH,
            ReplyError::Remote(kr) => *kr,
            ReplyError::Malformed(e) => e.client_code(),
        }
    }
}

/// Out-field shape of a routine's simple reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Session,
    Status,
    Instance,
    Data,
    Get,
}

fn shape(routine: Routine) -> Shape {
    use Routine::*;
    match routine {
        ConfigOpen => Shape::Session,
        ConfigAdd | ConfigSet | ConfigAddS => Shape::Instance,
        ConfigList | NotifyChanges | ConfigGetM => Shape::Data,
        ConfigGet => Shape::Get,
        _ => Shape::Status,
    }
}

/// `(arrays, ints)` after the NDR record of a simple reply, `RetCode` included.
fn counts(shape: Shape) -> (usize, usize) {
    match shape {
        Shape::Status => (0, 2),
        Shape::Instance => (0, 3),
        Shape::Data => (1, 2),
        Shape::Get => (1, 3),
        Shape::Session => (0, 0),
    }
}

impl<'a> Reply<'a> {
    /// Whether this reply form belongs to `routine`.
    pub fn fits(&self, routine: Routine) -> bool {
        let s = match self {
            Reply::Session { .. } => Shape::Session,
            Reply::Status { .. } => Shape::Status,
            Reply::Instance { .. } => Shape::Instance,
            Reply::Data { .. } => Shape::Data,
            Reply::Get { .. } => Shape::Get,
        };
        s == shape(routine)
    }

    /// The SC status carried by the reply.
    pub const fn status(&self) -> Status {
        match *self {
            Reply::Session { status, .. }
            | Reply::Status { status }
            | Reply::Instance { status, .. }
            | Reply::Data { status, .. }
            | Reply::Get { status, .. } => status,
        }
    }

    /// Encodes the reply to `routine` as a server sends it: bits `0x12` (plus COMPLEX for
    /// configopen), ports 0 (the transport fills in the reply right), id + 100, `RetCode` 0.
    ///
    /// # Panics
    /// Never for a reply that [`fits`](Reply::fits) the routine; a mismatched reply is a
    /// programming error and panics in debug builds (release builds encode the given form).
    pub fn encode(&self, routine: Routine) -> Result<Vec<u8>, EncodeError> {
        debug_assert!(
            self.fits(routine),
            "{self:?} is not a reply to {}",
            routine.name()
        );
        let mut w = MsgWriter::new(REPLY_BITS, routine.reply_id());
        match *self {
            Reply::Session { session, status } => {
                w.port_descriptor(session, MACH_MSG_TYPE_MOVE_SEND as u8)
                    .ndr()
                    .i32(status.0);
            }
            Reply::Status { status } => {
                w.ndr().i32(0).i32(status.0);
            }
            Reply::Instance {
                new_instance,
                status,
            } => {
                w.ndr().i32(0).i32(new_instance).i32(status.0);
            }
            Reply::Data { data, status } => {
                w.ndr().i32(0).array(data)?.i32(status.0);
            }
            Reply::Get {
                data,
                new_instance,
                status,
            } => {
                w.ndr().i32(0).array(data)?.i32(new_instance).i32(status.0);
            }
        }
        Ok(w.finish())
    }

    /// Decodes the reply to a `routine` request with a generated stub's checks, in order:
    /// id (71 → server died, else mismatch), shape (the 36-byte error form is accepted when
    /// `RetCode ≠ 0`), no reply port, `RetCode`, descriptor, array bounds and exact size.
    ///
    /// On error the caller must destroy the message's rights (configopen's session right).
    pub fn decode(routine: Routine, msg: &'a [u8]) -> Result<Reply<'a>, ReplyError> {
        let h = Header::parse(msg)?;
        if h.id != routine.reply_id() {
            if h.id == MACH_NOTIFY_SEND_ONCE {
                return Err(ReplyError::ServerDied);
            }
            return Err(ReplyError::Mismatch {
                request: routine.id(),
                found: h.id,
            });
        }
        let size = h.size as usize;
        let ret_code = |m: &[u8]| i32::from_le_bytes([m[32], m[33], m[34], m[35]]);
        // The error form: simple, 36 bytes, RetCode ≠ 0.
        let error_form = !h.is_complex() && size == ERROR_REPLY_SIZE && ret_code(msg) != 0;
        let s = shape(routine);
        if s == Shape::Session {
            const SIZE: usize = core::mem::size_of::<super::layout::ConfigOpenReply>();
            if !error_form {
                let count_ok = size >= 28 && msg[24..28] == 1u32.to_le_bytes();
                if !h.is_complex() || !count_ok || size != SIZE {
                    return Err(WireError::SizeMismatch {
                        msgh_size: h.size,
                        expected: SIZE,
                    }
                    .into());
                }
            }
            if h.remote != 0 {
                return Err(WireError::UnexpectedReplyPort { port: h.remote }.into());
            }
            if error_form {
                return Err(ReplyError::Remote(ret_code(msg)));
            }
            let mut rd = MsgReader::new(msg, &h, 28, SIZE);
            let session = rd.port_descriptor(MACH_MSG_TYPE_PORT_SEND as u8)?;
            rd.skip(8)?;
            let status = Status(rd.i32()?);
            rd.end()?;
            return Ok(Reply::Session { session, status });
        }

        let (arrays, ints) = counts(s);
        let min = fixed_min(arrays, ints);
        let max = routine.max_reply_size();
        if !error_form && (h.is_complex() || size < min || size > max) {
            if h.is_complex() {
                return Err(WireError::ComplexBit {
                    found: true,
                    expected: false,
                }
                .into());
            }
            let expected = if size < min { min } else { max };
            return Err(WireError::SizeMismatch {
                msgh_size: h.size,
                expected,
            }
            .into());
        }
        if h.remote != 0 {
            return Err(WireError::UnexpectedReplyPort { port: h.remote }.into());
        }
        let rc = ret_code(msg);
        if rc != 0 {
            return Err(ReplyError::Remote(rc));
        }
        let mut rd = MsgReader::new(msg, &h, REPLY_FIELDS_OFFSET, min);
        let reply = match s {
            Shape::Status => Reply::Status {
                status: Status(rd.i32()?),
            },
            Shape::Instance => Reply::Instance {
                new_instance: rd.i32()?,
                status: Status(rd.i32()?),
            },
            Shape::Data => Reply::Data {
                data: rd.array()?,
                status: Status(rd.i32()?),
            },
            _ => Reply::Get {
                data: rd.array()?,
                new_instance: rd.i32()?,
                status: Status(rd.i32()?),
            },
        };
        rd.end()?;
        Ok(reply)
    }
}

/// The configopen reply's only descriptor: the session send right (received label 17).
const SESSION_PORT: &[DescriptorSpec] = &[DescriptorSpec::Port {
    label: MACH_MSG_TYPE_PORT_SEND as u8,
}];

/// What a success reply to `routine` looks like to the MIG runtime's client checks (mig.md §9):
/// configopen's is complex (the session right, 52 bytes); the others are simple, of a fixed
/// size or with one `array[*:8192]` whose count follows `RetCode`.
pub fn reply_shape(routine: Routine) -> ReplyShape {
    let s = shape(routine);
    if s == Shape::Session {
        return ReplyShape {
            body: Body::Complex(SESSION_PORT),
            size: SizeRule::Exact(core::mem::size_of::<super::layout::ConfigOpenReply>() as u32),
        };
    }
    let (arrays, ints) = counts(s);
    let min = fixed_min(arrays, ints) as u32;
    let size = if arrays == 0 {
        SizeRule::Exact(min)
    } else {
        SizeRule::InlineArray {
            fixed_min: min,
            count_offset: REPLY_FIELDS_OFFSET,
            elem_size: 1,
            max_count: CONFIG_DATA_MAX as u32,
        }
    };
    ReplyShape {
        body: Body::Simple,
        size,
    }
}

/// Smallest buffer that receives any reply to `routine` plus the largest trailer (68 bytes).
pub const fn reply_buffer_size(routine: Routine) -> usize {
    routine.max_reply_size() + 68
}

const _: () = assert!(HEADER_SIZE == 24);

#[cfg(test)]
mod tests {
    use super::*;
    use mach_abi::{MIG_BAD_ID, MIG_REPLY_MISMATCH, MIG_SERVER_DIED, MIG_TYPE_ERROR};
    use mach_async::mig::check_reply;
    use proptest::prelude::*;

    /// The 36-byte error reply a MIG server sends for request id `request_id`, as received.
    fn error_reply(request_id: i32, code: kern_return_t) -> Vec<u8> {
        let request = mach_abi::mach_msg_header_t {
            msgh_bits: 0x1112,
            msgh_size: 24,
            msgh_remote_port: 0,
            msgh_local_port: 0,
            msgh_voucher_port: 0,
            msgh_id: request_id,
        };
        mach_async::mig::codec::error_reply(&request, code).to_vec()
    }

    fn u32_at(m: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(m[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn notifychanges_reply_layout() {
        let m = Reply::Data {
            data: b"\x01\0\0\0a",
            status: Status::OK,
        }
        .encode(Routine::NotifyChanges)
        .unwrap();
        assert_eq!(m.len(), 44 + 8);
        assert_eq!(u32_at(&m, 0), 0x12);
        assert_eq!(u32_at(&m, 20), 20_120);
        assert_eq!(u32_at(&m, 32), 0); // RetCode
        assert_eq!(u32_at(&m, 36), 5); // listCnt
        assert_eq!(u32_at(&m, 48), 0); // status after padded list
        let r = Reply::decode(Routine::NotifyChanges, &m).unwrap();
        assert_eq!(
            r,
            Reply::Data {
                data: b"\x01\0\0\0a",
                status: Status::OK
            }
        );
    }

    #[test]
    fn configopen_reply_layout() {
        let m = Reply::Session {
            session: 0x21,
            status: Status::OK,
        }
        .encode(Routine::ConfigOpen)
        .unwrap();
        assert_eq!(m.len(), 52);
        assert_eq!(u32_at(&m, 0), 0x8000_0012);
        assert_eq!(u32_at(&m, 24), 1);
        assert_eq!(u32_at(&m, 28), 0x21);
        assert_eq!(m[38], 17);
        assert_eq!(m[39], 0);
        assert_eq!(u32_at(&m, 48), 0);
        assert_eq!(
            Reply::decode(Routine::ConfigOpen, &m).unwrap(),
            Reply::Session {
                session: 0x21,
                status: Status::OK
            }
        );
    }

    #[test]
    fn status_and_instance_and_get_replies() {
        let m = Reply::Status {
            status: Status::NO_STORE_SESSION,
        }
        .encode(Routine::NotifySet)
        .unwrap();
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 36), 2001);
        let m = Reply::Instance {
            new_instance: 0,
            status: Status::KEY_EXISTS,
        }
        .encode(Routine::ConfigAdd)
        .unwrap();
        assert_eq!(m.len(), 44);
        assert_eq!(u32_at(&m, 40), 1005);
        let m = Reply::Get {
            data: b"xyz",
            new_instance: 0,
            status: Status::OK,
        }
        .encode(Routine::ConfigGet)
        .unwrap();
        assert_eq!(m.len(), 48 + 4);
        assert_eq!(
            Reply::decode(Routine::ConfigGet, &m).unwrap(),
            Reply::Get {
                data: b"xyz",
                new_instance: 0,
                status: Status::OK
            }
        );
    }

    #[test]
    fn client_checks_give_the_generated_codes() {
        // Error reply form → RetCode.
        let e = error_reply(Routine::NotifyChanges.id(), MIG_BAD_ID);
        assert_eq!(e.len(), 36);
        assert_eq!(u32_at(&e, 20), 20_120);
        let err = Reply::decode(Routine::NotifyChanges, &e).unwrap_err();
        assert_eq!(err, ReplyError::Remote(MIG_BAD_ID));
        assert_eq!(err.kern_return(), MIG_BAD_ID);
        // The same for the complex routine.
        let e = error_reply(Routine::ConfigOpen.id(), mach_abi::MIG_BAD_ARGUMENTS);
        assert_eq!(
            Reply::decode(Routine::ConfigOpen, &e).unwrap_err(),
            ReplyError::Remote(mach_abi::MIG_BAD_ARGUMENTS)
        );
        // A 36-byte reply with RetCode 0 is not the error form → type error.
        let e = error_reply(Routine::NotifySet.id(), 0);
        assert_eq!(
            Reply::decode(Routine::NotifySet, &e)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );

        // Send-once notification → server died.
        let mut m = vec![0u8; 24];
        Header {
            bits: 0x1200,
            size: 24,
            id: 71,
            ..Header::default()
        }
        .write(&mut m);
        assert_eq!(
            Reply::decode(Routine::NotifySet, &m)
                .unwrap_err()
                .kern_return(),
            MIG_SERVER_DIED
        );

        // Wrong id.
        let m = Reply::Status { status: Status::OK }
            .encode(Routine::NotifyCancel)
            .unwrap();
        let err = Reply::decode(Routine::NotifySet, &m).unwrap_err();
        assert_eq!(err.kern_return(), MIG_REPLY_MISMATCH);

        // Server supplied a reply port.
        let mut m = Reply::Status { status: Status::OK }
            .encode(Routine::NotifySet)
            .unwrap();
        m[8] = 9;
        assert_eq!(
            Reply::decode(Routine::NotifySet, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );

        // Array count over the bound, count/size disagreement, complex bit.
        let good = Reply::Data {
            data: b"abcd",
            status: Status::OK,
        }
        .encode(Routine::ConfigList)
        .unwrap();
        let mut m = good.clone();
        m[36..40].copy_from_slice(&9000u32.to_le_bytes());
        assert_eq!(
            Reply::decode(Routine::ConfigList, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );
        let mut m = good.clone();
        m[36] = 8;
        assert_eq!(
            Reply::decode(Routine::ConfigList, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );
        let mut m = good.clone();
        m[3] |= 0x80;
        assert_eq!(
            Reply::decode(Routine::ConfigList, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );

        // configopen reply with a send-once descriptor, or not complex.
        let good = Reply::Session {
            session: 3,
            status: Status::OK,
        }
        .encode(Routine::ConfigOpen)
        .unwrap();
        let mut m = good.clone();
        m[38] = 18;
        assert_eq!(
            Reply::decode(Routine::ConfigOpen, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );
        let mut m = good;
        m[3] &= 0x7f;
        assert_eq!(
            Reply::decode(Routine::ConfigOpen, &m)
                .unwrap_err()
                .kern_return(),
            MIG_TYPE_ERROR
        );
    }

    fn arb_reply() -> impl Strategy<Value = (usize, Vec<u8>, i32, i32)> {
        (
            0usize..18,
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<i32>(),
            any::<i32>(),
        )
    }

    fn build(routine: Routine, data: &[u8], a: i32, b: i32) -> Reply<'_> {
        let status = Status(b);
        match shape(routine) {
            Shape::Session => Reply::Session {
                session: a as u32,
                status,
            },
            Shape::Status => Reply::Status { status },
            Shape::Instance => Reply::Instance {
                new_instance: a,
                status,
            },
            Shape::Data => Reply::Data { data, status },
            Shape::Get => Reply::Get {
                data,
                new_instance: a,
                status,
            },
        }
    }

    proptest! {
        #[test]
        fn replies_round_trip((idx, data, a, b) in arb_reply()) {
            let routine = Routine::ALL[idx];
            let reply = build(routine, &data, a, b);
            let bytes = reply.encode(routine).unwrap();
            prop_assert!(bytes.len() <= routine.max_reply_size());
            prop_assert_eq!(Reply::decode(routine, &bytes).unwrap(), reply);
        }

        #[test]
        fn the_runtime_checks_accept_every_encoded_reply((idx, data, a, b) in arb_reply()) {
            let routine = Routine::ALL[idx];
            let bytes = build(routine, &data, a, b).encode(routine).unwrap();
            prop_assert_eq!(check_reply(&bytes, routine.id(), &reply_shape(routine)), Ok(()));
        }

        #[test]
        fn the_runtime_checks_and_the_decoder_agree_on_mutated_replies(
            (idx, data, a, b) in arb_reply(),
            pos in any::<prop::sample::Index>(),
            val in any::<u8>(),
        ) {
            let routine = Routine::ALL[idx];
            let mut bytes = build(routine, &data, a, b).encode(routine).unwrap();
            let p = pos.index(bytes.len());
            bytes[p] = val;
            let runtime = check_reply(&bytes, routine.id(), &reply_shape(routine))
                .map_err(|e| e.code());
            let decoder = Reply::decode(routine, &bytes)
                .map(|_| ())
                .map_err(|e| e.kern_return());
            prop_assert_eq!(runtime, decoder);
        }

        #[test]
        fn arbitrary_bytes_never_panic(idx in 0usize..18,
                                       bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = Reply::decode(Routine::ALL[idx], &bytes);
        }

        #[test]
        fn mutated_replies_never_panic((idx, data, a, b) in arb_reply(),
                                       pos in any::<prop::sample::Index>(), val in any::<u8>()) {
            let routine = Routine::ALL[idx];
            let mut bytes = build(routine, &data, a, b).encode(routine).unwrap();
            let p = pos.index(bytes.len());
            bytes[p] = val;
            let _ = Reply::decode(routine, &bytes);
        }
    }
}
