//! An 8-byte-aligned message buffer (mach-abi.md §5: "allocate with 8-byte alignment; parse by
//! offset"). This is the raw-buffer edge: the only place that views the buffer as bytes and
//! hands a header pointer to `mach_msg`.

use mach_abi::mach_msg_header_t;

/// A zero-initialised, 8-byte-aligned buffer whose length is a multiple of 8.
pub(crate) struct MsgBuf {
    words: Vec<u64>,
}

impl MsgBuf {
    /// A buffer of at least `bytes` bytes (rounded up to 8, at least the 24-byte header).
    pub(crate) fn new(bytes: usize) -> MsgBuf {
        MsgBuf {
            words: vec![0; bytes.max(24).div_ceil(8)],
        }
    }

    /// A buffer holding a copy of `src` (zero padded to 8).
    pub(crate) fn from_bytes(src: &[u8]) -> MsgBuf {
        let mut b = MsgBuf::new(src.len());
        b.bytes_mut()[..src.len()].copy_from_slice(src);
        b
    }

    /// Capacity in bytes.
    pub(crate) fn len(&self) -> usize {
        self.words.len() * 8
    }

    /// The whole buffer as bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: a `Vec<u64>` is a contiguous, initialised allocation of `len() * 8` bytes; u8
        // has alignment 1 and every bit pattern is valid; the borrow ties the slice to `self`.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len()) }
    }

    /// The whole buffer as mutable bytes.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as in `bytes`, with a unique borrow of `self`.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), len) }
    }

    /// The header pointer handed to `mach_msg` (8-aligned, valid for `len()` bytes).
    pub(crate) fn header_ptr(&mut self) -> *mut mach_msg_header_t {
        self.words.as_mut_ptr().cast()
    }

    /// `msgh_size` as currently stored.
    pub(crate) fn msgh_size(&self) -> u32 {
        let b = self.bytes();
        u32::from_le_bytes([b[4], b[5], b[6], b[7]])
    }

    /// Zeroes the 24-byte header. The drain does this before every receive: `msgh_size` must
    /// not be mistaken for a size the kernel reported (mach-abi.md §6.4), and a result that
    /// wrote nothing (an error) must not be read as the previous message, whose rights the
    /// caller already owns.
    pub(crate) fn clear_header(&mut self) {
        self.bytes_mut()[..24].fill(0);
    }

    /// Stores `msgh_size` (zeroed before a receive, mach-abi.md §6.4).
    pub(crate) fn set_msgh_size(&mut self, size: u32) {
        self.bytes_mut()[4..8].copy_from_slice(&size.to_le_bytes());
    }
}
