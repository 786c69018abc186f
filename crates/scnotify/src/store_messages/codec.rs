//! Byte-level writer and reader for MIG messages with inline arrays.

use super::keylist::CONFIG_DATA_MAX;
use super::layout::{r, HEADER_SIZE};
use super::{Header, WireError};
use mach_abi::{MACH_MSGH_BITS_COMPLEX, MACH_MSG_PORT_DESCRIPTOR};
use mach_async::mig::codec::NDR_BYTES;

/// An inline array longer than its bound was handed to an encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("inline array of {len} bytes exceeds the {max}-byte bound")]
pub struct EncodeError {
    /// Offending length.
    pub len: usize,
    /// Bound (8192).
    pub max: usize,
}

/// Builds a message: header first (size patched by [`MsgWriter::finish`]).
pub(crate) struct MsgWriter {
    buf: Vec<u8>,
}

impl MsgWriter {
    pub(crate) fn new(bits: u32, id: i32) -> MsgWriter {
        let mut buf = vec![0u8; HEADER_SIZE];
        Header {
            bits,
            id,
            ..Header::default()
        }
        .write(&mut buf);
        MsgWriter { buf }
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.u32(v as u32)
    }

    pub(crate) fn ndr(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&NDR_BYTES);
        self
    }

    /// Sets COMPLEX, writes the body word and one port descriptor.
    pub(crate) fn port_descriptor(&mut self, name: u32, disposition: u8) -> &mut Self {
        let bits = u32::from_le_bytes(self.buf[0..4].try_into().expect("4 bytes"));
        self.buf[0..4].copy_from_slice(&(bits | MACH_MSGH_BITS_COMPLEX).to_le_bytes());
        self.u32(1);
        self.u32(name);
        self.u32(0);
        self.buf
            .extend_from_slice(&[0, 0, disposition, MACH_MSG_PORT_DESCRIPTOR]);
        self
    }

    /// `Cnt`, the bytes, zero padding to 4.
    pub(crate) fn array(&mut self, data: &[u8]) -> Result<&mut Self, EncodeError> {
        if data.len() > CONFIG_DATA_MAX {
            return Err(EncodeError {
                len: data.len(),
                max: CONFIG_DATA_MAX,
            });
        }
        self.u32(data.len() as u32);
        self.buf.extend_from_slice(data);
        self.buf
            .resize(self.buf.len() + r(data.len()) - data.len(), 0);
        Ok(self)
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let size = self.buf.len() as u32;
        self.buf[4..8].copy_from_slice(&size.to_le_bytes());
        self.buf
    }
}

/// Reads fields of a message whose header already passed [`Header::parse`]; never reads past
/// `msgh_size`.
pub(crate) struct MsgReader<'a> {
    msg: &'a [u8],
    pos: usize,
    /// Minimum size of what is left after the current position (fixed fields and counts), used
    /// to report the size the message should have had.
    fixed_rest: usize,
}

impl<'a> MsgReader<'a> {
    /// `msg` is cut to `msgh_size`; reading starts at `pos`. `fixed_min` is the routine's size
    /// with every array empty.
    pub(crate) fn new(msg: &'a [u8], header: &Header, pos: usize, fixed_min: usize) -> Self {
        let msg = &msg[..header.size as usize];
        MsgReader {
            msg,
            pos,
            fixed_rest: fixed_min.saturating_sub(pos),
        }
    }

    fn mismatch(&self, extra: usize) -> WireError {
        WireError::SizeMismatch {
            msgh_size: self.msg.len() as u32,
            expected: self.pos + self.fixed_rest + extra,
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        let Some(b) = self.msg.get(self.pos..self.pos + 4) else {
            return Err(self.mismatch(0));
        };
        self.pos += 4;
        self.fixed_rest = self.fixed_rest.saturating_sub(4);
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, WireError> {
        self.u32().map(|v| v as i32)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), WireError> {
        if self.pos + n > self.msg.len() {
            return Err(self.mismatch(0));
        }
        self.pos += n;
        self.fixed_rest = self.fixed_rest.saturating_sub(n);
        Ok(())
    }

    /// Reads `Cnt` and the padded data: `Cnt > 8192` → `ArrayTooLarge`; data past the end →
    /// `SizeMismatch`.
    pub(crate) fn array(&mut self) -> Result<&'a [u8], WireError> {
        let count = self.u32()?;
        if count as usize > CONFIG_DATA_MAX {
            return Err(WireError::ArrayTooLarge {
                count,
                max: CONFIG_DATA_MAX,
            });
        }
        let padded = r(count as usize);
        if self.pos + padded + self.fixed_rest > self.msg.len() {
            return Err(self.mismatch(padded));
        }
        let data = &self.msg[self.pos..self.pos + count as usize];
        self.pos += padded;
        Ok(data)
    }

    /// Reads a port descriptor's name, checking type and disposition.
    pub(crate) fn port_descriptor(&mut self, expected_disposition: u8) -> Result<u32, WireError> {
        let name = self.u32()?;
        let _pad1 = self.u32()?;
        let w = self.u32()?.to_le_bytes();
        let (disposition, kind) = (w[2], w[3]);
        if kind != MACH_MSG_PORT_DESCRIPTOR {
            return Err(WireError::DescriptorType { found: kind });
        }
        if disposition != expected_disposition {
            return Err(WireError::Disposition {
                found: disposition,
                expected: expected_disposition,
            });
        }
        Ok(name)
    }

    /// The whole message must have been consumed.
    pub(crate) fn end(&self) -> Result<(), WireError> {
        if self.pos != self.msg.len() {
            return Err(WireError::SizeMismatch {
                msgh_size: self.msg.len() as u32,
                expected: self.pos,
            });
        }
        Ok(())
    }
}
