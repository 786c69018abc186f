//! Raw `mach_msg` for the two designs that park a thread in the kernel — the old polling loop
//! and the physical floor — and the bench's message format.
//!
//! The stream side never comes through here: it uses `mach-async` like any application would.
//! Everything here is the narrow surface the old C code used: allocate a port with a send right,
//! send a small message, receive with or without `MACH_RCV_TIMEOUT`, close the port.

use mach_abi::{
    kern_return_t, mach_msg_header_t, mach_msg_return_t, mach_port_name_t, MACH_MSGH_BITS,
    MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, MACH_RCV_MSG, MACH_RCV_TIMEOUT, MACH_SEND_MSG,
    MACH_SEND_TIMEOUT,
};

/// A port name.
pub type Name = mach_port_name_t;

/// `msgh_id` of a measurement message (`"MB"` + 1).
pub const BENCH_MSG_ID: i32 = 0x4d42_0001;
/// `msgh_id` of the message that wakes a parked receiver so that it sees its stop flag at once
/// (used to end the non-shutdown phases quickly; the shutdown measurement never sends it).
pub const WAKE_MSG_ID: i32 = 0x4d42_00ff;
/// Size of a measurement message: header + sequence number + send timestamp.
pub const BENCH_MSG_SIZE: u32 = 24 + 16;

/// What a measurement message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number within the phase.
    pub seq: u64,
    /// [`crate::clock::now_ns`] when the sender called `mach_msg`.
    pub sent_ns: u64,
}

/// A 4-byte-aligned message buffer (header, body, room for the trailer).
#[derive(Clone, Debug)]
pub struct MsgBuffer {
    words: Vec<u32>,
}

// Word offsets of the header fields (mach-abi.md §1: six 32-bit fields).
const W_BITS: usize = 0;
const W_SIZE: usize = 1;
const W_REMOTE: usize = 2;
const W_LOCAL: usize = 3;
const W_VOUCHER: usize = 4;
const W_ID: usize = 5;
const W_BODY: usize = 6;

impl MsgBuffer {
    /// Default receive capacity: a measurement message plus the largest trailer.
    pub const DEFAULT_CAPACITY: u32 = 256;

    /// An empty buffer of `capacity` bytes (rounded up to a multiple of 4, at least a header).
    pub fn with_capacity(capacity: u32) -> MsgBuffer {
        let words = (capacity.max(24) as usize).div_ceil(4);
        MsgBuffer {
            words: vec![0; words],
        }
    }

    /// A receive buffer of [`Self::DEFAULT_CAPACITY`].
    pub fn for_receive() -> MsgBuffer {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A measurement message to `port` (COPY_SEND, no reply port), carrying `stamp`.
    pub fn message(port: Name, id: i32, stamp: Stamp) -> MsgBuffer {
        let mut m = Self::with_capacity(BENCH_MSG_SIZE);
        m.words[W_BITS] = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        m.words[W_SIZE] = BENCH_MSG_SIZE;
        m.words[W_REMOTE] = port;
        m.words[W_LOCAL] = MACH_PORT_NULL;
        m.words[W_VOUCHER] = MACH_PORT_NULL;
        m.words[W_ID] = id as u32;
        m.set_stamp(stamp);
        m
    }

    /// A message from its wire bytes (header first, `msgh_size` already set), in a buffer of
    /// at least `capacity` bytes (so a reply can be received into it).
    pub fn from_bytes(bytes: &[u8], capacity: u32) -> MsgBuffer {
        let mut m = Self::with_capacity(capacity.max(bytes.len() as u32));
        for (word, chunk) in m.words.iter_mut().zip(bytes.chunks(4)) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            *word = u32::from_ne_bytes(w);
        }
        m
    }

    /// Sets the header's bits and ports (a request: `remote` is the destination, `local` the
    /// reply port).
    pub fn set_ports(&mut self, bits: u32, remote: Name, local: Name) {
        self.words[W_BITS] = bits;
        self.words[W_REMOTE] = remote;
        self.words[W_LOCAL] = local;
    }

    /// `msgh_remote_port` (after a receive: the reply right).
    pub fn remote_port(&self) -> Name {
        self.words[W_REMOTE]
    }

    /// Rewrites the stamp of a message built with [`Self::message`] (reuse without allocating).
    pub fn set_stamp(&mut self, stamp: Stamp) {
        let [a, b] = split(stamp.seq);
        let [c, d] = split(stamp.sent_ns);
        self.words[W_BODY..W_BODY + 4].copy_from_slice(&[a, b, c, d]);
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u32 {
        (self.words.len() * 4) as u32
    }

    /// `msgh_size` (after a receive: the size of the message, trailer excluded).
    pub fn size(&self) -> u32 {
        self.words[W_SIZE]
    }

    /// `msgh_id`.
    pub fn id(&self) -> i32 {
        self.words[W_ID] as i32
    }

    /// `msgh_local_port` (after a receive: the port the message arrived on).
    pub fn local_port(&self) -> Name {
        self.words[W_LOCAL]
    }

    /// The stamp of a measurement message; `None` for anything shorter or with another id.
    pub fn stamp(&self) -> Option<Stamp> {
        if self.id() != BENCH_MSG_ID || self.size() < BENCH_MSG_SIZE {
            return None;
        }
        let w = &self.words[W_BODY..W_BODY + 4];
        Some(Stamp {
            seq: join(w[0], w[1]),
            sent_ns: join(w[2], w[3]),
        })
    }

    /// The first `len` bytes (header included), e.g. a received message without its trailer.
    pub fn bytes(&self, len: usize) -> Vec<u8> {
        self.words
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .take(len)
            .collect()
    }

    /// Clears `msgh_size` before a receive (native-filter.md §5 rule 9).
    pub fn reset_for_receive(&mut self) {
        self.words[W_SIZE] = 0;
    }

    /// The buffer as a header pointer for `mach_msg`.
    pub fn as_mut_ptr(&mut self) -> *mut mach_msg_header_t {
        // mach_msg_header_t is packed(4): the u32 storage satisfies its alignment.
        self.words.as_mut_ptr().cast()
    }
}

impl Stamp {
    /// The stamp in a measurement message's body (what follows the 24-byte header), as the
    /// stream side sees it.
    pub fn from_body(body: &[u8]) -> Option<Stamp> {
        let w = |i: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(
                body.get(i * 4..i * 4 + 4)?.try_into().ok()?,
            ))
        };
        Some(Stamp {
            seq: join(w(0)?, w(1)?),
            sent_ns: join(w(2)?, w(3)?),
        })
    }
}

fn split(v: u64) -> [u32; 2] {
    [v as u32, (v >> 32) as u32]
}

fn join(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

/// The raw Mach calls the old loop and the floor need, on one IPC space.
pub trait RawMach: Send + Sync {
    /// Allocates a port: a receive right with a send right under the same name.
    fn new_port(&self) -> Result<Name, kern_return_t>;
    /// Destroys the port (NextBSD `close(name)`: queued messages are destroyed).
    fn close_port(&self, name: Name) -> Result<(), kern_return_t>;
    /// Sends a message built with [`MsgBuffer::message`]; blocks while the queue is full unless
    /// `timeout_ms` is given.
    fn send(&self, msg: &mut MsgBuffer, timeout_ms: Option<u32>) -> mach_msg_return_t;
    /// `mach_msg(MACH_RCV_MSG [| MACH_RCV_TIMEOUT])` on `port` into `buf`; `None` blocks.
    fn receive(
        &self,
        port: Name,
        buf: &mut MsgBuffer,
        timeout_ms: Option<u32>,
    ) -> mach_msg_return_t;
    /// A C MIG stub's call: `mach_msg(MACH_SEND_MSG | MACH_RCV_MSG)` sending the request in
    /// `msg` and receiving the reply on `reply_port` into the same buffer, in one trap. With
    /// `send_timeout_ms`, `MACH_SEND_TIMEOUT` bounds the send half; on `MACH_SEND_TIMED_OUT` the
    /// kernel has put the request (and its rights) back into `msg`, ready to be sent again.
    fn call(
        &self,
        msg: &mut MsgBuffer,
        reply_port: Name,
        send_timeout_ms: Option<u32>,
    ) -> mach_msg_return_t;
}

/// Send options for an optional timeout.
pub fn send_options(timeout_ms: Option<u32>) -> u32 {
    MACH_SEND_MSG
        | if timeout_ms.is_some() {
            MACH_SEND_TIMEOUT
        } else {
            0
        }
}

/// Receive options as the old C loops used them: `MACH_RCV_MSG`, plus `MACH_RCV_TIMEOUT` when
/// polling.
pub fn receive_options(timeout_ms: Option<u32>) -> u32 {
    MACH_RCV_MSG
        | if timeout_ms.is_some() {
            MACH_RCV_TIMEOUT
        } else {
            0
        }
}

#[cfg(mach_backend = "nextbsd")]
mod native;
#[cfg(mach_backend = "nextbsd")]
pub use native::NativeRaw;

/// [`RawMach`] on a task of the simulated kernel.
#[cfg(mach_backend = "sim")]
#[derive(Clone)]
pub struct SimRaw {
    task: mach_sim::Task,
}

#[cfg(mach_backend = "sim")]
impl SimRaw {
    /// Raw calls in `task`.
    pub fn new(task: mach_sim::Task) -> SimRaw {
        SimRaw { task }
    }
}

#[cfg(mach_backend = "sim")]
impl RawMach for SimRaw {
    fn new_port(&self) -> Result<Name, kern_return_t> {
        let name = self.task.port_allocate(mach_abi::MACH_PORT_RIGHT_RECEIVE)?;
        if let Err(kr) = self
            .task
            .port_insert_right(name, name, mach_abi::MACH_MSG_TYPE_MAKE_SEND)
        {
            let _ = self.task.port_close(name);
            return Err(kr);
        }
        Ok(name)
    }

    fn close_port(&self, name: Name) -> Result<(), kern_return_t> {
        self.task.port_close(name)
    }

    fn send(&self, msg: &mut MsgBuffer, timeout_ms: Option<u32>) -> mach_msg_return_t {
        let size = msg.size();
        debug_assert!(size <= msg.capacity());
        // SAFETY: the buffer is 4-byte aligned, owned for the call, and valid for `size` bytes
        // (MsgBuffer::message sized it); no OOL descriptors (simple message).
        unsafe {
            self.task.mach_msg(
                msg.as_mut_ptr(),
                send_options(timeout_ms),
                size,
                0,
                MACH_PORT_NULL,
                timeout_ms.unwrap_or(0),
                MACH_PORT_NULL,
            )
        }
    }

    fn receive(
        &self,
        port: Name,
        buf: &mut MsgBuffer,
        timeout_ms: Option<u32>,
    ) -> mach_msg_return_t {
        buf.reset_for_receive();
        let capacity = buf.capacity();
        // SAFETY: the buffer is 4-byte aligned, exclusively borrowed, and writable for
        // `capacity` bytes.
        unsafe {
            self.task.mach_msg(
                buf.as_mut_ptr(),
                receive_options(timeout_ms),
                0,
                capacity,
                port,
                timeout_ms.unwrap_or(0),
                MACH_PORT_NULL,
            )
        }
    }

    fn call(
        &self,
        msg: &mut MsgBuffer,
        reply_port: Name,
        send_timeout_ms: Option<u32>,
    ) -> mach_msg_return_t {
        let (size, capacity) = (msg.size(), msg.capacity());
        debug_assert!(size <= capacity);
        // SAFETY: the buffer is 4-byte aligned, exclusively borrowed, valid for reading the
        // `size`-byte request and writing `capacity` bytes of reply; simple messages only.
        unsafe {
            self.task.mach_msg(
                msg.as_mut_ptr(),
                send_options(send_timeout_ms) | MACH_RCV_MSG,
                size,
                capacity,
                reply_port,
                send_timeout_ms.unwrap_or(0),
                MACH_PORT_NULL,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_messages_round_trip_their_stamp() {
        let stamp = Stamp {
            seq: 0x0123_4567_89ab_cdef,
            sent_ns: u64::MAX - 5,
        };
        let mut m = MsgBuffer::message(42, BENCH_MSG_ID, stamp);
        assert_eq!(m.size(), BENCH_MSG_SIZE);
        assert_eq!(m.id(), BENCH_MSG_ID);
        assert_eq!(m.stamp(), Some(stamp));
        // SAFETY: the pointer is read while `m` is alive and aligned for the packed(4) header;
        // the fields are copied out.
        let h = unsafe { *m.as_mut_ptr() };
        let (bits, remote, size) = (h.msgh_bits, h.msgh_remote_port, h.msgh_size);
        assert_eq!(bits, 0x13);
        assert_eq!(remote, 42);
        assert_eq!(size, 40);
        m.set_stamp(Stamp { seq: 1, sent_ns: 2 });
        assert_eq!(m.stamp(), Some(Stamp { seq: 1, sent_ns: 2 }));
    }

    #[test]
    fn stream_side_decodes_the_same_stamp_from_the_body() {
        let stamp = Stamp {
            seq: 7,
            sent_ns: 0x1122_3344_5566_7788,
        };
        let m = MsgBuffer::message(3, BENCH_MSG_ID, stamp);
        let bytes = m.bytes(BENCH_MSG_SIZE as usize);
        assert_eq!(bytes.len(), 40);
        assert_eq!(Stamp::from_body(&bytes[24..]), Some(stamp));
        assert_eq!(Stamp::from_body(&bytes[24..39]), None);
        assert_eq!(Stamp::from_body(&[]), None);
    }

    #[test]
    fn messages_rebuild_from_their_bytes() {
        let m = MsgBuffer::message(9, BENCH_MSG_ID, Stamp { seq: 3, sent_ns: 4 });
        let bytes = m.bytes(BENCH_MSG_SIZE as usize);
        let mut back = MsgBuffer::from_bytes(&bytes, 4096);
        assert_eq!(back.capacity(), 4096);
        assert_eq!(back.bytes(40), bytes);
        assert_eq!(back.stamp(), m.stamp());
        back.set_ports(0x1513, 7, 8);
        assert_eq!((back.remote_port(), back.local_port()), (7, 8));
        // A ragged tail is zero-padded, not dropped.
        let odd = MsgBuffer::from_bytes(&[1, 2, 3, 4, 5], 8);
        assert_eq!(odd.bytes(8), vec![1, 2, 3, 4, 5, 0, 0, 0]);
    }

    #[test]
    fn short_or_foreign_messages_have_no_stamp() {
        let stamp = Stamp { seq: 1, sent_ns: 2 };
        assert_eq!(MsgBuffer::message(1, WAKE_MSG_ID, stamp).stamp(), None);
        let mut m = MsgBuffer::message(1, BENCH_MSG_ID, stamp);
        m.reset_for_receive();
        assert_eq!(m.stamp(), None);
        assert_eq!(MsgBuffer::with_capacity(3).capacity(), 24);
        assert_eq!(MsgBuffer::with_capacity(41).capacity(), 44);
    }

    #[test]
    fn options_match_the_old_loop() {
        assert_eq!(receive_options(Some(500)), MACH_RCV_MSG | MACH_RCV_TIMEOUT);
        assert_eq!(receive_options(None), MACH_RCV_MSG);
        assert_eq!(send_options(None), MACH_SEND_MSG);
        assert_eq!(send_options(Some(0)), MACH_SEND_MSG | MACH_SEND_TIMEOUT);
    }
}
