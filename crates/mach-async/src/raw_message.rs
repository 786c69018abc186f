//! The Mach message wire format: a pure parser and encoder (no rights, no system calls).
//!
//! [`parse`] turns a received buffer into a [`RawMessage`] (header fields, descriptors with port
//! names and OOL addresses as plain numbers, inline body, trailer) and rejects malformed input
//! with a typed [`ParseError`]; it never panics and never dereferences an address found in the
//! buffer. [`encode`] is its inverse for sending. Layouts follow mach-abi.md §2, §5 and §6 (LP64,
//! little-endian, everything packed to 4 bytes).
//!
//! The owning layer ([`crate::Message`]) wraps names into RAII rights and copies OOL memory.

use std::fmt;

use bytes::Bytes;
use mach_abi::{
    audit_token_t, mach_msg_bits_t, mach_msg_id_t, mach_msg_size_t, mach_port_name_t,
    MACH_MSGH_BITS_COMPLEX, MACH_MSGH_BITS_LOCAL, MACH_MSGH_BITS_REMOTE, MACH_MSGH_BITS_VOUCHER,
    MACH_MSG_OOL_DESCRIPTOR, MACH_MSG_OOL_PORTS_DESCRIPTOR, MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
    MACH_MSG_PORT_DESCRIPTOR, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_MSG_TYPE_NONE,
    MACH_MSG_TYPE_PORT_NAME, MAX_TRAILER_SIZE,
};

/// Size of the header.
pub const HEADER_SIZE: usize = 24;
/// Size of a port descriptor.
pub const PORT_DESCRIPTOR_SIZE: usize = 12;
/// Size of an OOL / OOL-ports descriptor (LP64).
pub const OOL_DESCRIPTOR_SIZE: usize = 16;
/// Largest descriptor count a message of `size` bytes could hold (descriptors are ≥ 12 bytes).
const MIN_DESCRIPTOR_SIZE: usize = PORT_DESCRIPTOR_SIZE;

/// Why a buffer is not a well-formed Mach message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer than 24 bytes: no complete header.
    TruncatedHeader {
        /// Bytes available.
        available: usize,
    },
    /// `msgh_size` is below 24 or not a multiple of 4.
    BadSize {
        /// The declared `msgh_size`.
        declared: u32,
    },
    /// `msgh_size` exceeds the bytes available.
    SizeMismatch {
        /// The declared `msgh_size`.
        declared: u32,
        /// Bytes available.
        available: usize,
    },
    /// A header port field carries a disposition / received type that is not a port type.
    BadHeaderBits {
        /// The whole `msgh_bits`.
        bits: u32,
    },
    /// COMPLEX is set but the body (descriptor count) is cut off.
    TruncatedBody,
    /// The descriptor count cannot fit in `msgh_size`.
    DescriptorCountOverflow {
        /// The declared count.
        count: u32,
    },
    /// A descriptor runs past `msgh_size`.
    TruncatedDescriptor {
        /// Index of the descriptor.
        index: usize,
    },
    /// Unknown (or unsupported, e.g. XNU guarded-port) descriptor type.
    BadDescriptorType {
        /// Index of the descriptor.
        index: usize,
        /// The type byte at offset 11.
        type_: u8,
    },
    /// A port descriptor's disposition is not a port type.
    BadDisposition {
        /// Index of the descriptor.
        index: usize,
        /// The disposition byte.
        disposition: u8,
    },
    /// The trailer is missing or cut off.
    TruncatedTrailer,
    /// The trailer is not format 0, or its size is below 8 or above 68.
    BadTrailer {
        /// `msgh_trailer_type`.
        type_: u32,
        /// `msgh_trailer_size`.
        size: u32,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TruncatedHeader { available } => {
                write!(f, "truncated header ({available} bytes)")
            }
            ParseError::BadSize { declared } => write!(f, "bad msgh_size {declared}"),
            ParseError::SizeMismatch {
                declared,
                available,
            } => {
                write!(
                    f,
                    "msgh_size {declared} exceeds the {available} bytes available"
                )
            }
            ParseError::BadHeaderBits { bits } => write!(f, "bad msgh_bits {bits:#x}"),
            ParseError::TruncatedBody => f.write_str("complex message without a body"),
            ParseError::DescriptorCountOverflow { count } => {
                write!(f, "descriptor count {count} does not fit in the message")
            }
            ParseError::TruncatedDescriptor { index } => {
                write!(f, "descriptor {index} runs past msgh_size")
            }
            ParseError::BadDescriptorType { index, type_ } => {
                write!(f, "descriptor {index} has bad type {type_}")
            }
            ParseError::BadDisposition { index, disposition } => {
                write!(f, "descriptor {index} has bad disposition {disposition}")
            }
            ParseError::TruncatedTrailer => f.write_str("truncated trailer"),
            ParseError::BadTrailer { type_, size } => {
                write!(f, "bad trailer (type {type_}, size {size})")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One descriptor as it appears on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawDescriptor {
    /// A port descriptor: a name and its disposition (send) / received type (receive).
    Port {
        /// Port name.
        name: mach_port_name_t,
        /// `MACH_MSG_TYPE_*`.
        disposition: u8,
    },
    /// Out-of-line memory (also the volatile form).
    Ool {
        /// Address (never dereferenced by this module).
        address: u64,
        /// Size in bytes.
        size: u32,
        /// Deallocate flag.
        deallocate: bool,
        /// Copy option.
        copy: u8,
        /// `MACH_MSG_OOL_VOLATILE_DESCRIPTOR` rather than `MACH_MSG_OOL_DESCRIPTOR`.
        volatile: bool,
    },
    /// Out-of-line array of port names.
    OolPorts {
        /// Address of the name array (never dereferenced by this module).
        address: u64,
        /// Number of names.
        count: u32,
        /// Disposition of every name.
        disposition: u8,
        /// Deallocate flag.
        deallocate: bool,
        /// Copy option.
        copy: u8,
    },
}

impl RawDescriptor {
    fn wire_size(&self) -> usize {
        match self {
            RawDescriptor::Port { .. } => PORT_DESCRIPTOR_SIZE,
            _ => OOL_DESCRIPTOR_SIZE,
        }
    }
}

/// A received trailer (format 0), up to the 68-byte maximum.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawTrailer {
    bytes: [u8; MAX_TRAILER_SIZE as usize],
}

impl fmt::Debug for RawTrailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTrailer")
            .field("size", &self.size())
            .field("seqno", &self.seqno())
            .field("audit", &self.audit_token())
            .finish()
    }
}

fn rd32(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

fn rd64(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

impl RawTrailer {
    /// A trailer from its bytes (at most 68 are kept; the size field decides what is valid).
    pub fn from_bytes(src: &[u8]) -> RawTrailer {
        let mut bytes = [0u8; MAX_TRAILER_SIZE as usize];
        let n = src.len().min(bytes.len());
        bytes[..n].copy_from_slice(&src[..n]);
        RawTrailer { bytes }
    }
    /// The valid bytes (`msgh_trailer_size` of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.size() as usize]
    }
    /// `msgh_trailer_type` (0).
    pub fn trailer_type(&self) -> u32 {
        rd32(&self.bytes, 0)
    }
    /// `msgh_trailer_size`.
    pub fn size(&self) -> u32 {
        rd32(&self.bytes, 4).min(MAX_TRAILER_SIZE)
    }
    /// `msgh_seqno` if the trailer is at least 12 bytes.
    pub fn seqno(&self) -> Option<u32> {
        (self.size() >= 12).then(|| rd32(&self.bytes, 8))
    }
    /// The sender security token if the trailer is at least 20 bytes.
    pub fn sender(&self) -> Option<[u32; 2]> {
        (self.size() >= 20).then(|| [rd32(&self.bytes, 12), rd32(&self.bytes, 16)])
    }
    /// The audit token if the trailer is at least 52 bytes.
    pub fn audit_token(&self) -> Option<audit_token_t> {
        (self.size() >= 52).then(|| {
            let mut val = [0u32; 8];
            for (i, v) in val.iter_mut().enumerate() {
                *v = rd32(&self.bytes, 20 + 4 * i);
            }
            audit_token_t { val }
        })
    }
    /// The port context if the trailer is at least 60 bytes.
    pub fn context(&self) -> Option<u64> {
        (self.size() >= 60).then(|| rd64(&self.bytes, 52))
    }
}

/// A message as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// `msgh_bits` (with COMPLEX as found or, for encoding, forced when descriptors exist).
    pub bits: mach_msg_bits_t,
    /// `msgh_remote_port`.
    pub remote: mach_port_name_t,
    /// `msgh_local_port`.
    pub local: mach_port_name_t,
    /// `msgh_voucher_port`.
    pub voucher: mach_port_name_t,
    /// `msgh_id`.
    pub id: mach_msg_id_t,
    /// Descriptors (complex messages only).
    pub descriptors: Vec<RawDescriptor>,
    /// Inline data after the descriptors, up to `msgh_size` (a multiple of 4 on the wire).
    pub body: Bytes,
    /// The trailer, when parsing with one expected.
    pub trailer: Option<RawTrailer>,
}

impl RawMessage {
    /// `msgh_size` this message has on the wire: header, body count and descriptors when
    /// complex, and the body padded to 4 bytes.
    pub fn wire_size(&self) -> usize {
        let mut n = HEADER_SIZE;
        if self.is_complex() {
            n += 4 + self
                .descriptors
                .iter()
                .map(RawDescriptor::wire_size)
                .sum::<usize>();
        }
        n + round4(self.body.len())
    }
    /// Whether the message is complex (COMPLEX bit or any descriptor).
    pub fn is_complex(&self) -> bool {
        self.bits & MACH_MSGH_BITS_COMPLEX != 0 || !self.descriptors.is_empty()
    }
}

/// Rounds up to a multiple of 4.
pub const fn round4(n: usize) -> usize {
    (n + 3) & !3
}

/// Whether `t` may appear in a header port field: none, a bare name, or a port right
/// disposition / received type (16..=21).
fn valid_port_type(t: u32) -> bool {
    t == MACH_MSG_TYPE_NONE
        || t == MACH_MSG_TYPE_PORT_NAME
        || (16..=MACH_MSG_TYPE_MAKE_SEND_ONCE).contains(&t)
}

/// Parses a message from `buf`. With `expect_trailer` a format-0 trailer must follow at
/// `round4(msgh_size)` and fit in `buf`.
pub fn parse(buf: &[u8], expect_trailer: bool) -> Result<RawMessage, ParseError> {
    if buf.len() < HEADER_SIZE {
        return Err(ParseError::TruncatedHeader {
            available: buf.len(),
        });
    }
    let bits = rd32(buf, 0);
    let declared = rd32(buf, 4);
    let size = declared as usize;
    if size < HEADER_SIZE || size % 4 != 0 {
        return Err(ParseError::BadSize { declared });
    }
    if size > buf.len() {
        return Err(ParseError::SizeMismatch {
            declared,
            available: buf.len(),
        });
    }
    if !valid_port_type(MACH_MSGH_BITS_REMOTE(bits))
        || !valid_port_type(MACH_MSGH_BITS_LOCAL(bits))
        || !valid_port_type(MACH_MSGH_BITS_VOUCHER(bits))
    {
        return Err(ParseError::BadHeaderBits { bits });
    }
    let mut off = HEADER_SIZE;
    let mut descriptors = Vec::new();
    if bits & MACH_MSGH_BITS_COMPLEX != 0 {
        if size < HEADER_SIZE + 4 {
            return Err(ParseError::TruncatedBody);
        }
        let count = rd32(buf, HEADER_SIZE);
        off += 4;
        if (count as usize) > (size - off) / MIN_DESCRIPTOR_SIZE {
            return Err(ParseError::DescriptorCountOverflow { count });
        }
        descriptors.reserve(count as usize);
        for index in 0..count as usize {
            if off + PORT_DESCRIPTOR_SIZE > size {
                return Err(ParseError::TruncatedDescriptor { index });
            }
            let type_ = buf[off + 11];
            let d = match type_ {
                MACH_MSG_PORT_DESCRIPTOR => {
                    let disposition = buf[off + 10];
                    if !valid_port_type(u32::from(disposition)) {
                        return Err(ParseError::BadDisposition { index, disposition });
                    }
                    RawDescriptor::Port {
                        name: rd32(buf, off),
                        disposition,
                    }
                }
                MACH_MSG_OOL_DESCRIPTOR | MACH_MSG_OOL_VOLATILE_DESCRIPTOR => {
                    if off + OOL_DESCRIPTOR_SIZE > size {
                        return Err(ParseError::TruncatedDescriptor { index });
                    }
                    RawDescriptor::Ool {
                        address: rd64(buf, off),
                        deallocate: buf[off + 8] != 0,
                        copy: buf[off + 9],
                        volatile: type_ == MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
                        size: rd32(buf, off + 12),
                    }
                }
                MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                    if off + OOL_DESCRIPTOR_SIZE > size {
                        return Err(ParseError::TruncatedDescriptor { index });
                    }
                    let disposition = buf[off + 10];
                    if !valid_port_type(u32::from(disposition)) {
                        return Err(ParseError::BadDisposition { index, disposition });
                    }
                    RawDescriptor::OolPorts {
                        address: rd64(buf, off),
                        deallocate: buf[off + 8] != 0,
                        copy: buf[off + 9],
                        disposition,
                        count: rd32(buf, off + 12),
                    }
                }
                // MACH_MSG_GUARDED_PORT_DESCRIPTOR only appears with MACH_RCV_GUARDED_DESC,
                // which this crate never sets.
                _ => return Err(ParseError::BadDescriptorType { index, type_ }),
            };
            off += d.wire_size();
            descriptors.push(d);
        }
    }
    let body = Bytes::copy_from_slice(&buf[off..size]);
    let trailer = if expect_trailer {
        let t = size; // already a multiple of 4 (round4(msgh_size))
        if t + 8 > buf.len() {
            return Err(ParseError::TruncatedTrailer);
        }
        let type_ = rd32(buf, t);
        let tsize = rd32(buf, t + 4);
        if type_ != 0 || !(8..=MAX_TRAILER_SIZE).contains(&tsize) {
            return Err(ParseError::BadTrailer { type_, size: tsize });
        }
        if t + tsize as usize > buf.len() {
            return Err(ParseError::TruncatedTrailer);
        }
        Some(RawTrailer::from_bytes(&buf[t..t + tsize as usize]))
    } else {
        None
    };
    Ok(RawMessage {
        bits,
        remote: rd32(buf, 8),
        local: rd32(buf, 12),
        voucher: rd32(buf, 16),
        id: rd32(buf, 20) as i32,
        descriptors,
        body,
        trailer,
    })
}

/// Encodes `msg` into `out` (cleared first). Returns `msgh_size`. The trailer is not encoded.
/// Bytes of the body beyond its length up to the next multiple of 4 are zero.
pub fn encode_into(msg: &RawMessage, out: &mut Vec<u8>) -> mach_msg_size_t {
    out.clear();
    let size = msg.wire_size();
    out.reserve(size);
    let complex = msg.is_complex();
    let bits = if complex {
        msg.bits | MACH_MSGH_BITS_COMPLEX
    } else {
        msg.bits
    };
    for w in [
        bits,
        size as u32,
        msg.remote,
        msg.local,
        msg.voucher,
        msg.id as u32,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    if complex {
        out.extend_from_slice(&(msg.descriptors.len() as u32).to_le_bytes());
        for d in &msg.descriptors {
            match *d {
                RawDescriptor::Port { name, disposition } => {
                    out.extend_from_slice(&name.to_le_bytes());
                    out.extend_from_slice(&[0; 6]);
                    out.push(disposition);
                    out.push(MACH_MSG_PORT_DESCRIPTOR);
                }
                RawDescriptor::Ool {
                    address,
                    size,
                    deallocate,
                    copy,
                    volatile,
                } => {
                    out.extend_from_slice(&address.to_le_bytes());
                    out.push(u8::from(deallocate));
                    out.push(copy);
                    out.push(0);
                    out.push(if volatile {
                        MACH_MSG_OOL_VOLATILE_DESCRIPTOR
                    } else {
                        MACH_MSG_OOL_DESCRIPTOR
                    });
                    out.extend_from_slice(&size.to_le_bytes());
                }
                RawDescriptor::OolPorts {
                    address,
                    count,
                    disposition,
                    deallocate,
                    copy,
                } => {
                    out.extend_from_slice(&address.to_le_bytes());
                    out.push(u8::from(deallocate));
                    out.push(copy);
                    out.push(disposition);
                    out.push(MACH_MSG_OOL_PORTS_DESCRIPTOR);
                    out.extend_from_slice(&count.to_le_bytes());
                }
            }
        }
    }
    out.extend_from_slice(&msg.body);
    out.resize(size, 0);
    size as mach_msg_size_t
}

/// Encodes `msg` into a new vector (see [`encode_into`]).
pub fn encode(msg: &RawMessage) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(msg, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_round_trip() {
        let m = RawMessage {
            bits: 0x13,
            remote: 17,
            local: 0,
            voucher: 0,
            id: 42,
            descriptors: vec![],
            body: Bytes::new(),
            trailer: None,
        };
        let b = encode(&m);
        assert_eq!(b.len(), 24);
        assert_eq!(parse(&b, false).unwrap(), m);
    }

    #[test]
    fn rejects_guarded_descriptor() {
        let m = RawMessage {
            bits: 0x13,
            remote: 17,
            local: 0,
            voucher: 0,
            id: 1,
            descriptors: vec![RawDescriptor::Port {
                name: 20,
                disposition: 17,
            }],
            body: Bytes::new(),
            trailer: None,
        };
        let mut b = encode(&m);
        b[28 + 11] = mach_abi::MACH_MSG_GUARDED_PORT_DESCRIPTOR;
        assert_eq!(
            parse(&b, false),
            Err(ParseError::BadDescriptorType { index: 0, type_: 4 })
        );
    }
}
