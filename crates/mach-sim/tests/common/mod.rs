//! Helpers shared by the mach-sim tests: building messages, sending and receiving them.
#![allow(dead_code)]

use mach_sim::mach_abi::*;
use mach_sim::{Name, Task};
use std::ptr;

/// An 8-byte aligned message buffer.
pub struct Buf {
    words: Vec<u64>,
    /// Bytes in use (the send size for a message being sent).
    pub len: usize,
    /// OOL memory that must stay alive until the send.
    _ool: Vec<Vec<u8>>,
    _ool_ports: Vec<Vec<Name>>,
}

impl Buf {
    /// A zeroed buffer of `len` bytes.
    pub fn zeroed(len: usize) -> Buf {
        Buf {
            words: vec![0; len.div_ceil(8) + 1],
            len,
            _ool: Vec::new(),
            _ool_ports: Vec::new(),
        }
    }
    pub fn ptr(&mut self) -> *mut mach_msg_header_t {
        self.words.as_mut_ptr().cast()
    }
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the words are initialised and live as long as `self`.
        unsafe {
            std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8)
        }
    }
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.bytes()[off..off + 4].try_into().unwrap())
    }
    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.bytes()[off..off + 8].try_into().unwrap())
    }
    pub fn set_u32(&mut self, off: usize, v: u32) {
        assert!(off + 4 <= self.words.len() * 8);
        // SAFETY: in bounds of the buffer (asserted above).
        unsafe {
            ptr::write_unaligned(
                self.words.as_mut_ptr().cast::<u8>().add(off).cast::<u32>(),
                v,
            )
        };
    }
    pub fn header(&self) -> mach_msg_header_t {
        // SAFETY: the buffer is at least 24 bytes.
        unsafe { ptr::read_unaligned(self.words.as_ptr().cast()) }
    }
    pub fn bits(&self) -> u32 {
        self.u32_at(0)
    }
    pub fn size(&self) -> u32 {
        self.u32_at(4)
    }
    pub fn remote(&self) -> Name {
        self.u32_at(8)
    }
    pub fn local(&self) -> Name {
        self.u32_at(12)
    }
    pub fn id(&self) -> i32 {
        self.u32_at(20) as i32
    }
    /// The trailer word at `off` inside the trailer.
    pub fn trailer_u32(&self, off: usize) -> u32 {
        self.u32_at(self.size() as usize + off)
    }
}

enum Desc {
    Port(Name, u32),
    Ool(Vec<u8>),
    OolPorts(Vec<Name>, u32),
}

/// Builds a message.
pub struct MsgBuilder {
    remote: Name,
    remote_disp: u32,
    local: Name,
    local_disp: u32,
    id: i32,
    descs: Vec<Desc>,
    body: Vec<u8>,
    complex: bool,
}

impl MsgBuilder {
    pub fn new(remote: Name, remote_disp: u32) -> MsgBuilder {
        MsgBuilder {
            remote,
            remote_disp,
            local: 0,
            local_disp: 0,
            id: 1000,
            descs: Vec::new(),
            body: Vec::new(),
            complex: false,
        }
    }
    pub fn reply(mut self, local: Name, disp: u32) -> Self {
        self.local = local;
        self.local_disp = disp;
        self
    }
    pub fn id(mut self, id: i32) -> Self {
        self.id = id;
        self
    }
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }
    pub fn complex(mut self) -> Self {
        self.complex = true;
        self
    }
    pub fn port(mut self, name: Name, disp: u32) -> Self {
        self.complex = true;
        self.descs.push(Desc::Port(name, disp));
        self
    }
    pub fn ool(mut self, data: &[u8]) -> Self {
        self.complex = true;
        self.descs.push(Desc::Ool(data.to_vec()));
        self
    }
    pub fn ool_ports(mut self, names: &[Name], disp: u32) -> Self {
        self.complex = true;
        self.descs.push(Desc::OolPorts(names.to_vec(), disp));
        self
    }
    pub fn build(self) -> Buf {
        let mut bytes = vec![0u8; 24];
        let mut bits = MACH_MSGH_BITS(self.remote_disp, self.local_disp);
        if self.complex {
            bits |= MACH_MSGH_BITS_COMPLEX;
            bytes.extend_from_slice(&(self.descs.len() as u32).to_le_bytes());
        }
        let mut ool = Vec::new();
        let mut ool_ports = Vec::new();
        for d in self.descs {
            match d {
                Desc::Port(name, disp) => {
                    let mut dsc = [0u8; 12];
                    dsc[0..4].copy_from_slice(&name.to_le_bytes());
                    dsc[10] = disp as u8;
                    dsc[11] = MACH_MSG_PORT_DESCRIPTOR;
                    bytes.extend_from_slice(&dsc);
                }
                Desc::Ool(data) => {
                    let mut dsc = [0u8; 16];
                    dsc[0..8].copy_from_slice(&(data.as_ptr() as u64).to_le_bytes());
                    dsc[9] = MACH_MSG_VIRTUAL_COPY;
                    dsc[11] = MACH_MSG_OOL_DESCRIPTOR;
                    dsc[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(&dsc);
                    ool.push(data);
                }
                Desc::OolPorts(names, disp) => {
                    let mut dsc = [0u8; 16];
                    dsc[0..8].copy_from_slice(&(names.as_ptr() as u64).to_le_bytes());
                    dsc[10] = disp as u8;
                    dsc[11] = MACH_MSG_OOL_PORTS_DESCRIPTOR;
                    dsc[12..16].copy_from_slice(&(names.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(&dsc);
                    ool_ports.push(names);
                }
            }
        }
        bytes.extend_from_slice(&self.body);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        let len = bytes.len();
        bytes[0..4].copy_from_slice(&bits.to_le_bytes());
        bytes[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        bytes[8..12].copy_from_slice(&self.remote.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.local.to_le_bytes());
        bytes[20..24].copy_from_slice(&self.id.to_le_bytes());
        let mut buf = Buf::zeroed(len);
        // SAFETY: the buffer has room for `len` bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf.ptr().cast::<u8>(), len) };
        buf._ool = ool;
        buf._ool_ports = ool_ports;
        buf
    }
}

/// Sends `buf` from `task` with `MACH_SEND_MSG | extra`.
pub fn send_buf(task: &Task, buf: &mut Buf, extra: u32, timeout: u32) -> mach_msg_return_t {
    let len = buf.len as u32;
    // SAFETY: the buffer is valid for `len` bytes and exclusively borrowed.
    unsafe { task.mach_msg(buf.ptr(), MACH_SEND_MSG | extra, len, 0, 0, timeout, 0) }
}

/// Sends a simple message (COPY_SEND-style destination disposition given) with a body.
pub fn send(task: &Task, dest: Name, disp: u32, id: i32, body: &[u8]) -> mach_msg_return_t {
    let mut buf = MsgBuilder::new(dest, disp).id(id).body(body).build();
    send_buf(task, &mut buf, 0, 0)
}

/// Sends without blocking (`MACH_SEND_TIMEOUT`, timeout 0).
pub fn try_send(task: &Task, dest: Name, disp: u32, id: i32) -> mach_msg_return_t {
    let mut buf = MsgBuilder::new(dest, disp).id(id).build();
    send_buf(task, &mut buf, MACH_SEND_TIMEOUT, 0)
}

/// Receives on `name` with `MACH_RCV_MSG | extra` into a buffer of `size` bytes.
pub fn recv_opt(
    task: &Task,
    name: Name,
    extra: u32,
    size: u32,
    timeout: u32,
) -> (mach_msg_return_t, Buf) {
    let mut buf = Buf::zeroed(size as usize);
    // SAFETY: the buffer is valid for `size` bytes and exclusively borrowed.
    let mr = unsafe { task.mach_msg(buf.ptr(), MACH_RCV_MSG | extra, 0, size, name, timeout, 0) };
    (mr, buf)
}

/// Polls `name` (zero timeout, `MACH_RCV_LARGE`, 1 KiB buffer).
pub fn poll(task: &Task, name: Name) -> (mach_msg_return_t, Buf) {
    recv_opt(task, name, MACH_RCV_TIMEOUT | MACH_RCV_LARGE, 1024, 0)
}

/// Polls and asserts a message arrived; returns it.
#[track_caller]
pub fn expect_msg(task: &Task, name: Name) -> Buf {
    let (mr, buf) = poll(task, name);
    assert_eq!(
        mr, MACH_MSG_SUCCESS,
        "expected a message on {name}, got {mr:#x}"
    );
    buf
}

/// Asserts nothing is queued on `name`.
#[track_caller]
pub fn expect_empty(task: &Task, name: Name) {
    let (mr, buf) = poll(task, name);
    assert_eq!(
        mr,
        MACH_RCV_TIMED_OUT,
        "expected no message on {name}, got id {}",
        buf.id()
    );
}

/// Destroys a received message's rights (`mach_msg_destroy`).
pub fn destroy(task: &Task, buf: &mut Buf) {
    // SAFETY: the buffer holds a whole message.
    unsafe { task.mach_msg_destroy(buf.ptr()) };
}

/// A receive right with one send right under the same name.
pub fn port_with_send(task: &Task) -> Name {
    let p = task.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    task.port_insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND)
        .unwrap();
    p
}

/// A zeroed kevent.
pub fn kev(ident: Name, flags: u16) -> kevent_freebsd {
    kevent_freebsd {
        ident: ident as usize,
        filter: EVFILT_MACHPORT_NEXTBSD,
        flags,
        ..kevent_freebsd::zeroed()
    }
}
