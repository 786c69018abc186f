//! [`RawMach`] on the native kernel, for the old loop and the floor.
//!
//! `mach-async`'s streams never block in the kernel, but the old design *is* a thread blocked in
//! `mach_msg`, so this module blocks on purpose, through the public calls of `mach-async`'s
//! backend ([`mach_async::Space`]): the same traps, numbers and conventions the streams use
//! (on NextBSD, and on NextBSD over sim, `sys/nextbsd.rs`), with no second trap table.

use super::{receive_options, send_options, MsgBuffer, Name, RawMach};
use mach_abi::{
    kern_return_t, mach_msg_return_t, KERN_FAILURE, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_NULL,
    MACH_PORT_RIGHT_RECEIVE, MACH_SEND_NO_BUFFER,
};
use mach_async::{Error, Space};

/// Raw Mach calls in this process's IPC space.
#[derive(Clone, Debug, Default)]
pub struct NativeRaw {
    space: Space,
}

fn code(e: Error) -> kern_return_t {
    match e {
        Error::Kern { kr, .. } => kr,
        _ => KERN_FAILURE,
    }
}

impl NativeRaw {
    /// Whether the kernel's Mach layer is there.
    pub fn available() -> bool {
        mach_async::sys::mach_available().is_ok()
    }

    fn msg(
        &self,
        buf: &mut MsgBuffer,
        option: u32,
        send: u32,
        rcv: u32,
        name: Name,
        timeout: u32,
    ) -> mach_msg_return_t {
        // SAFETY: the buffer is 4-byte aligned, exclusively borrowed, valid for `send` bytes of
        // reading and `rcv` bytes of writing (both ≤ its capacity); simple messages only.
        let result = unsafe {
            self.space
                .mach_msg(buf.as_mut_ptr(), option, send, rcv, name, timeout)
        };
        result.unwrap_or(MACH_SEND_NO_BUFFER)
    }
}

impl RawMach for NativeRaw {
    fn new_port(&self) -> Result<Name, kern_return_t> {
        let name = self.space.allocate(MACH_PORT_RIGHT_RECEIVE).map_err(code)?;
        if let Err(e) = self.space.insert_right(name, name, MACH_MSG_TYPE_MAKE_SEND) {
            let _ = self.close_port(name);
            return Err(code(e));
        }
        Ok(name)
    }

    fn close_port(&self, name: Name) -> Result<(), kern_return_t> {
        self.space.destroy_receive(name).map_err(code)
    }

    fn send(&self, msg: &mut MsgBuffer, timeout_ms: Option<u32>) -> mach_msg_return_t {
        let size = msg.size();
        self.msg(
            msg,
            send_options(timeout_ms),
            size,
            0,
            MACH_PORT_NULL,
            timeout_ms.unwrap_or(0),
        )
    }

    fn receive(
        &self,
        port: Name,
        buf: &mut MsgBuffer,
        timeout_ms: Option<u32>,
    ) -> mach_msg_return_t {
        buf.reset_for_receive();
        let cap = buf.capacity();
        self.msg(
            buf,
            receive_options(timeout_ms),
            0,
            cap,
            port,
            timeout_ms.unwrap_or(0),
        )
    }

    fn call(
        &self,
        msg: &mut MsgBuffer,
        reply_port: Name,
        send_timeout_ms: Option<u32>,
    ) -> mach_msg_return_t {
        let (size, cap) = (msg.size(), msg.capacity());
        let option = send_options(send_timeout_ms) | mach_abi::MACH_RCV_MSG;
        self.msg(
            msg,
            option,
            size,
            cap,
            reply_port,
            send_timeout_ms.unwrap_or(0),
        )
    }
}
