//! Requests: encoding (client side) and decoding with a generated server's checks (mig.md §8).

use super::codec::{EncodeError, MsgReader, MsgWriter};
use super::layout::{self, fixed_min, HEADER_SIZE, REQUEST_FIELDS_OFFSET};
use super::{Header, Routine, WireError, REQUEST_BITS};
use mach_abi::{kern_return_t, MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_PORT_SEND};
use thiserror::Error;

/// A `config.defs` request, borrowing its payloads from the message.
///
/// Integer flags (`isRegex`, `instance`, `msgid`) keep their raw wire value so that a decode and a
/// re-encode are byte-identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// configopen(name, options).
    ConfigOpen {
        /// Session name.
        name: &'a [u8],
        /// Options.
        options: &'a [u8],
    },
    /// configlist(key, isRegex).
    ConfigList {
        /// Prefix or pattern.
        key: &'a [u8],
        /// Non-zero: `key` is a regex.
        is_regex: i32,
    },
    /// configadd(key, data).
    ConfigAdd {
        /// Key.
        key: &'a [u8],
        /// Value.
        data: &'a [u8],
    },
    /// configget(key).
    ConfigGet {
        /// Key.
        key: &'a [u8],
    },
    /// configset(key, data, instance).
    ConfigSet {
        /// Key.
        key: &'a [u8],
        /// Value.
        data: &'a [u8],
        /// Instance (ignored by configd).
        instance: i32,
    },
    /// configremove(key).
    ConfigRemove {
        /// Key.
        key: &'a [u8],
    },
    /// configadd_s(key, data).
    ConfigAddS {
        /// Key.
        key: &'a [u8],
        /// Value.
        data: &'a [u8],
    },
    /// confignotify(key).
    ConfigNotify {
        /// Key.
        key: &'a [u8],
    },
    /// configget_m(keys, patterns).
    ConfigGetM {
        /// Key list.
        keys: &'a [u8],
        /// Pattern list.
        patterns: &'a [u8],
    },
    /// configset_m(data, remove, notify).
    ConfigSetM {
        /// Key/value map to set.
        data: &'a [u8],
        /// Key list to remove.
        remove: &'a [u8],
        /// Key list to notify.
        notify: &'a [u8],
    },
    /// notifyadd(key, isRegex).
    NotifyAdd {
        /// Key or pattern.
        key: &'a [u8],
        /// Non-zero: pattern.
        is_regex: i32,
    },
    /// notifyremove(key, isRegex).
    NotifyRemove {
        /// Key or pattern.
        key: &'a [u8],
        /// Non-zero: pattern.
        is_regex: i32,
    },
    /// notifychanges().
    NotifyChanges,
    /// notifyviaport(port, msgid).
    NotifyViaPort {
        /// The notify port's name in the message (a moved send right).
        port: u32,
        /// Must be 0.
        msgid: i32,
    },
    /// notifycancel().
    NotifyCancel,
    /// notifyset(keys, patterns).
    NotifySet {
        /// Key list.
        keys: &'a [u8],
        /// Pattern list.
        patterns: &'a [u8],
    },
    /// notifyviafd(fileport, identifier).
    NotifyViaFd {
        /// The file port's name in the message (a moved send right).
        fileport: u32,
        /// Identifier.
        identifier: i32,
    },
    /// snapshot().
    Snapshot,
}

/// Why a server rejects a request, and the MIG code it answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The id is outside 20000–20029 or names a `skip` slot (`MIG_BAD_ID`).
    #[error("msgh_id {0} is not a config.defs routine")]
    BadId(i32),
    /// The message does not have the routine's shape.
    #[error("malformed request: {0}")]
    Malformed(#[from] WireError),
}

impl RequestError {
    /// The `RetCode` of the error reply a generated server sends.
    pub const fn mig_code(&self) -> kern_return_t {
        match self {
            RequestError::BadId(_) => mach_abi::MIG_BAD_ID,
            RequestError::Malformed(e) => e.server_code(),
        }
    }
}

/// Shape of a simple request after the NDR record.
#[derive(Clone, Copy)]
enum Shape {
    /// Bare header.
    Empty,
    /// Arrays then ints.
    Simple { arrays: usize, ints: usize },
    /// One moved send right and an int (52 bytes).
    PortInt,
}

fn shape(routine: Routine) -> Shape {
    use Routine::*;
    match routine {
        NotifyChanges | NotifyCancel | Snapshot => Shape::Empty,
        NotifyViaPort | NotifyViaFd => Shape::PortInt,
        ConfigGet | ConfigRemove | ConfigNotify => Shape::Simple { arrays: 1, ints: 0 },
        ConfigList | NotifyAdd | NotifyRemove => Shape::Simple { arrays: 1, ints: 1 },
        ConfigOpen | ConfigAdd | ConfigAddS | ConfigGetM | NotifySet => {
            Shape::Simple { arrays: 2, ints: 0 }
        }
        ConfigSet => Shape::Simple { arrays: 2, ints: 1 },
        ConfigSetM => Shape::Simple { arrays: 3, ints: 0 },
    }
}

impl<'a> Request<'a> {
    /// The routine this request calls.
    pub const fn routine(&self) -> Routine {
        match self {
            Request::ConfigOpen { .. } => Routine::ConfigOpen,
            Request::ConfigList { .. } => Routine::ConfigList,
            Request::ConfigAdd { .. } => Routine::ConfigAdd,
            Request::ConfigGet { .. } => Routine::ConfigGet,
            Request::ConfigSet { .. } => Routine::ConfigSet,
            Request::ConfigRemove { .. } => Routine::ConfigRemove,
            Request::ConfigAddS { .. } => Routine::ConfigAddS,
            Request::ConfigNotify { .. } => Routine::ConfigNotify,
            Request::ConfigGetM { .. } => Routine::ConfigGetM,
            Request::ConfigSetM { .. } => Routine::ConfigSetM,
            Request::NotifyAdd { .. } => Routine::NotifyAdd,
            Request::NotifyRemove { .. } => Routine::NotifyRemove,
            Request::NotifyChanges => Routine::NotifyChanges,
            Request::NotifyViaPort { .. } => Routine::NotifyViaPort,
            Request::NotifyCancel => Routine::NotifyCancel,
            Request::NotifySet { .. } => Routine::NotifySet,
            Request::NotifyViaFd { .. } => Routine::NotifyViaFd,
            Request::Snapshot => Routine::Snapshot,
        }
    }

    /// The port name a request moves (notifyviaport, notifyviafd), if any.
    pub const fn moved_port(&self) -> Option<u32> {
        match *self {
            Request::NotifyViaPort { port, .. } => Some(port),
            Request::NotifyViaFd { fileport, .. } => Some(fileport),
            _ => None,
        }
    }

    /// Encodes the request as a whole message: bits `0x1513` (plus COMPLEX for the port-carrying
    /// routines), remote and local ports 0 (the transport fills them in), exact `msgh_size`.
    /// Fails if an array exceeds 8192 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = MsgWriter::new(REQUEST_BITS, self.routine().id());
        let port_disposition = MACH_MSG_TYPE_MOVE_SEND as u8;
        match *self {
            Request::NotifyChanges | Request::NotifyCancel | Request::Snapshot => {}
            Request::NotifyViaPort { port: p, msgid: i }
            | Request::NotifyViaFd {
                fileport: p,
                identifier: i,
            } => {
                w.port_descriptor(p, port_disposition).ndr().i32(i);
            }
            Request::ConfigGet { key }
            | Request::ConfigRemove { key }
            | Request::ConfigNotify { key } => {
                w.ndr().array(key)?;
            }
            Request::ConfigList { key, is_regex: i }
            | Request::NotifyAdd { key, is_regex: i }
            | Request::NotifyRemove { key, is_regex: i } => {
                w.ndr().array(key)?.i32(i);
            }
            Request::ConfigOpen {
                name: a,
                options: b,
            }
            | Request::ConfigAdd { key: a, data: b }
            | Request::ConfigAddS { key: a, data: b }
            | Request::ConfigGetM {
                keys: a,
                patterns: b,
            }
            | Request::NotifySet {
                keys: a,
                patterns: b,
            } => {
                w.ndr().array(a)?.array(b)?;
            }
            Request::ConfigSet {
                key,
                data,
                instance,
            } => {
                w.ndr().array(key)?.array(data)?.i32(instance);
            }
            Request::ConfigSetM {
                data,
                remove,
                notify,
            } => {
                w.ndr().array(data)?.array(remove)?.array(notify)?;
            }
        }
        Ok(w.finish())
    }

    /// Decodes a received request (header included; a trailer after `msgh_size` is ignored),
    /// running a generated server's checks in order: id, COMPLEX bit, descriptor count, size
    /// range, descriptor type and disposition, array bounds, exact size.
    pub fn decode(msg: &'a [u8]) -> Result<Request<'a>, RequestError> {
        let h = Header::parse(msg)?;
        let routine = Routine::from_id(h.id).ok_or(RequestError::BadId(h.id))?;
        let size = h.size as usize;
        match shape(routine) {
            Shape::Empty => {
                if h.is_complex() {
                    return Err(WireError::ComplexBit {
                        found: true,
                        expected: false,
                    }
                    .into());
                }
                if size != HEADER_SIZE {
                    return Err(WireError::SizeMismatch {
                        msgh_size: h.size,
                        expected: HEADER_SIZE,
                    }
                    .into());
                }
                Ok(match routine {
                    Routine::NotifyChanges => Request::NotifyChanges,
                    Routine::NotifyCancel => Request::NotifyCancel,
                    _ => Request::Snapshot,
                })
            }
            Shape::PortInt => {
                const SIZE: usize = core::mem::size_of::<layout::NotifyViaPortRequest>();
                if !h.is_complex() {
                    return Err(WireError::ComplexBit {
                        found: false,
                        expected: true,
                    }
                    .into());
                }
                let mut rd = MsgReader::new(msg, &h, HEADER_SIZE, SIZE);
                let count = rd.u32()?;
                if count != 1 {
                    return Err(WireError::DescriptorCount {
                        found: count,
                        expected: 1,
                    }
                    .into());
                }
                if size != SIZE {
                    return Err(WireError::SizeMismatch {
                        msgh_size: h.size,
                        expected: SIZE,
                    }
                    .into());
                }
                let port = rd.port_descriptor(MACH_MSG_TYPE_PORT_SEND as u8)?;
                rd.skip(8)?; // NDR: not checked (mig.md §4).
                let value = rd.i32()?;
                rd.end()?;
                Ok(match routine {
                    Routine::NotifyViaPort => Request::NotifyViaPort { port, msgid: value },
                    _ => Request::NotifyViaFd {
                        fileport: port,
                        identifier: value,
                    },
                })
            }
            Shape::Simple { arrays, ints } => {
                if h.is_complex() {
                    return Err(WireError::ComplexBit {
                        found: true,
                        expected: false,
                    }
                    .into());
                }
                let min = fixed_min(arrays, ints);
                let max = routine.max_request_size();
                if size < min || size > max {
                    let expected = if size < min { min } else { max };
                    return Err(WireError::SizeMismatch {
                        msgh_size: h.size,
                        expected,
                    }
                    .into());
                }
                let mut rd = MsgReader::new(msg, &h, REQUEST_FIELDS_OFFSET, min);
                let mut a: [&'a [u8]; 3] = [&[]; 3];
                for slot in a.iter_mut().take(arrays) {
                    *slot = rd.array()?;
                }
                let int = if ints == 1 { rd.i32()? } else { 0 };
                rd.end()?;
                Ok(match routine {
                    Routine::ConfigOpen => Request::ConfigOpen {
                        name: a[0],
                        options: a[1],
                    },
                    Routine::ConfigList => Request::ConfigList {
                        key: a[0],
                        is_regex: int,
                    },
                    Routine::ConfigAdd => Request::ConfigAdd {
                        key: a[0],
                        data: a[1],
                    },
                    Routine::ConfigGet => Request::ConfigGet { key: a[0] },
                    Routine::ConfigSet => Request::ConfigSet {
                        key: a[0],
                        data: a[1],
                        instance: int,
                    },
                    Routine::ConfigRemove => Request::ConfigRemove { key: a[0] },
                    Routine::ConfigAddS => Request::ConfigAddS {
                        key: a[0],
                        data: a[1],
                    },
                    Routine::ConfigNotify => Request::ConfigNotify { key: a[0] },
                    Routine::ConfigGetM => Request::ConfigGetM {
                        keys: a[0],
                        patterns: a[1],
                    },
                    Routine::ConfigSetM => Request::ConfigSetM {
                        data: a[0],
                        remove: a[1],
                        notify: a[2],
                    },
                    Routine::NotifyAdd => Request::NotifyAdd {
                        key: a[0],
                        is_regex: int,
                    },
                    Routine::NotifyRemove => Request::NotifyRemove {
                        key: a[0],
                        is_regex: int,
                    },
                    _ => Request::NotifySet {
                        keys: a[0],
                        patterns: a[1],
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_messages::layout::*;
    use mach_abi::{MIG_BAD_ARGUMENTS, MIG_BAD_ID, MIG_TYPE_ERROR};
    use proptest::prelude::*;

    fn u32_at(m: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(m[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn notifyset_layout_matches_spec() {
        let m = Request::NotifySet {
            keys: b"abcde",
            patterns: b"xy",
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), two_array_request_size(5, 2));
        assert_eq!(m.len(), 40 + 8 + 4);
        assert_eq!(u32_at(&m, 0), 0x1513);
        assert_eq!(u32_at(&m, 4) as usize, m.len());
        assert_eq!(u32_at(&m, 20), 20_025);
        assert_eq!(&m[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(u32_at(&m, 32), 5);
        assert_eq!(&m[36..41], b"abcde");
        assert_eq!(&m[41..44], &[0, 0, 0]);
        assert_eq!(u32_at(&m, 44), 2); // patternsCnt follows the padded keys
        assert_eq!(&m[48..50], b"xy");
    }

    #[test]
    fn notifyviaport_layout_matches_spec() {
        let m = Request::NotifyViaPort {
            port: 0x33,
            msgid: 0,
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), 52);
        assert_eq!(u32_at(&m, 0), 0x8000_1513);
        assert_eq!(u32_at(&m, 24), 1);
        assert_eq!(u32_at(&m, 28), 0x33);
        assert_eq!(m[38], 17); // MOVE_SEND
        assert_eq!(m[39], 0); // port descriptor
        assert_eq!(&m[40..48], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(u32_at(&m, 48), 0);
    }

    #[test]
    fn header_only_and_fixed_sizes() {
        for r in [
            Request::NotifyChanges,
            Request::NotifyCancel,
            Request::Snapshot,
        ] {
            let m = r.encode().unwrap();
            assert_eq!(m.len(), 24);
            assert_eq!(Request::decode(&m).unwrap(), r);
        }
        let m = Request::ConfigSet {
            key: b"k",
            data: b"vv",
            instance: 7,
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), configset_request_size(1, 2));
        assert_eq!(u32_at(&m, m.len() - 4), 7);
        let m = Request::ConfigSetM {
            data: b"a",
            remove: b"",
            notify: b"abcd",
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), configset_m_request_size(1, 0, 4));
        let m = Request::ConfigOpen {
            name: b"n",
            options: b"",
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), configopen_request_size(1, 0));
        let m = Request::ConfigGet { key: b"key" }.encode().unwrap();
        assert_eq!(m.len(), key_request_size(3));
        let m = Request::NotifyAdd {
            key: b"key",
            is_regex: 1,
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), key_int_request_size(3));
    }

    #[test]
    fn oversize_array_is_refused_by_the_encoder() {
        let big = vec![0u8; 8193];
        assert_eq!(
            Request::ConfigGet { key: &big }.encode(),
            Err(EncodeError {
                len: 8193,
                max: 8192
            })
        );
        let full = vec![b'a'; 8192];
        let m = Request::NotifySet {
            keys: &full,
            patterns: &full,
        }
        .encode()
        .unwrap();
        assert_eq!(m.len(), 16_424);
        assert_eq!(
            Request::decode(&m).unwrap(),
            Request::NotifySet {
                keys: &full,
                patterns: &full
            }
        );
    }

    #[test]
    fn server_checks_give_the_generated_codes() {
        // Unknown and skipped ids.
        let mut m = Request::NotifyChanges.encode().unwrap();
        m[20..24].copy_from_slice(&20_013i32.to_le_bytes());
        let e = Request::decode(&m).unwrap_err();
        assert_eq!(e, RequestError::BadId(20_013));
        assert_eq!(e.mig_code(), MIG_BAD_ID);
        m[20..24].copy_from_slice(&20_100i32.to_le_bytes());
        assert_eq!(Request::decode(&m).unwrap_err().mig_code(), MIG_BAD_ID);

        // COMPLEX on a simple routine.
        let mut m = Request::NotifyCancel.encode().unwrap();
        m[3] |= 0x80;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );

        // Header-only routine with a body.
        let mut m = Request::NotifyChanges.encode().unwrap();
        m.extend_from_slice(&[0; 4]);
        m[4] = 28;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );

        // Count above the bound.
        let mut m = Request::ConfigGet { key: b"abcd" }.encode().unwrap();
        m[32..36].copy_from_slice(&8193u32.to_le_bytes());
        assert_eq!(
            Request::decode(&m).unwrap_err(),
            RequestError::Malformed(WireError::ArrayTooLarge {
                count: 8193,
                max: 8192
            })
        );

        // Count disagreeing with msgh_size, both ways.
        let mut m = Request::ConfigGet { key: b"abcd" }.encode().unwrap();
        m[32] = 8;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );
        m[32] = 0;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );

        // Below the minimum size.
        let mut m = Request::NotifySet {
            keys: b"",
            patterns: b"",
        }
        .encode()
        .unwrap();
        m.truncate(36);
        m[4] = 36;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );
    }

    #[test]
    fn notifyviaport_descriptor_checks() {
        let good = Request::NotifyViaPort { port: 5, msgid: 9 }
            .encode()
            .unwrap();
        assert_eq!(
            Request::decode(&good).unwrap(),
            Request::NotifyViaPort { port: 5, msgid: 9 }
        );

        let mut m = good.clone();
        m[3] &= 0x7f; // not complex
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );
        let mut m = good.clone();
        m[24] = 2; // two descriptors
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );
        let mut m = good.clone();
        m[39] = 1; // OOL type
        assert_eq!(Request::decode(&m).unwrap_err().mig_code(), MIG_TYPE_ERROR);
        let mut m = good.clone();
        m[38] = 18; // send-once
        assert_eq!(Request::decode(&m).unwrap_err().mig_code(), MIG_TYPE_ERROR);
        let mut m = good.clone();
        m.extend_from_slice(&[0; 4]);
        m[4] = 56;
        assert_eq!(
            Request::decode(&m).unwrap_err().mig_code(),
            MIG_BAD_ARGUMENTS
        );
    }

    #[test]
    fn trailer_after_msgh_size_is_ignored() {
        let mut m = Request::ConfigNotify { key: b"k" }.encode().unwrap();
        m.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(
            Request::decode(&m).unwrap(),
            Request::ConfigNotify { key: b"k" }
        );
    }

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    fn arb_request() -> impl Strategy<Value = (u8, Vec<u8>, Vec<u8>, Vec<u8>, i32)> {
        (0u8..18, arb_bytes(), arb_bytes(), arb_bytes(), any::<i32>())
    }

    fn build<'a>(sel: u8, a: &'a [u8], b: &'a [u8], c: &'a [u8], i: i32) -> Request<'a> {
        match sel {
            0 => Request::ConfigOpen {
                name: a,
                options: b,
            },
            1 => Request::ConfigList {
                key: a,
                is_regex: i,
            },
            2 => Request::ConfigAdd { key: a, data: b },
            3 => Request::ConfigGet { key: a },
            4 => Request::ConfigSet {
                key: a,
                data: b,
                instance: i,
            },
            5 => Request::ConfigRemove { key: a },
            6 => Request::ConfigAddS { key: a, data: b },
            7 => Request::ConfigNotify { key: a },
            8 => Request::ConfigGetM {
                keys: a,
                patterns: b,
            },
            9 => Request::ConfigSetM {
                data: a,
                remove: b,
                notify: c,
            },
            10 => Request::NotifyAdd {
                key: a,
                is_regex: i,
            },
            11 => Request::NotifyRemove {
                key: a,
                is_regex: i,
            },
            12 => Request::NotifyChanges,
            13 => Request::NotifyViaPort {
                port: i as u32,
                msgid: i,
            },
            14 => Request::NotifyCancel,
            15 => Request::NotifySet {
                keys: a,
                patterns: b,
            },
            16 => Request::NotifyViaFd {
                fileport: i as u32,
                identifier: i,
            },
            _ => Request::Snapshot,
        }
    }

    proptest! {
        #[test]
        fn requests_round_trip((sel, a, b, c, i) in arb_request()) {
            let req = build(sel, &a, &b, &c, i);
            let bytes = req.encode().unwrap();
            prop_assert_eq!(bytes.len() % 4, 0);
            prop_assert!(bytes.len() <= req.routine().max_request_size());
            let back = Request::decode(&bytes).unwrap();
            prop_assert_eq!(back, req);
            prop_assert_eq!(back.encode().unwrap(), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Request::decode(&bytes);
        }

        #[test]
        fn mutated_requests_never_panic((sel, a, b, c, i) in arb_request(),
                                        pos in any::<prop::sample::Index>(), val in any::<u8>()) {
            let mut bytes = build(sel, &a, &b, &c, i).encode().unwrap();
            let p = pos.index(bytes.len());
            bytes[p] = val;
            if let Ok(r) = Request::decode(&bytes) {
                // Whatever decodes re-encodes to a message of the same length.
                prop_assert_eq!(r.encode().unwrap().len(), Header::parse(&bytes).unwrap().size as usize);
            }
        }
    }
}
