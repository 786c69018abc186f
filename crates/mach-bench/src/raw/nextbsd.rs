//! [`RawMach`] on the NextBSD kernel, for the old loop and the floor.
//!
//! `mach-async` keeps its `mach_msg` private (nothing above its `sys/` should block in the
//! kernel), but the old design *is* a thread blocked in `mach_msg`, so this module calls the
//! traps itself, the way the kernel publishes them (mach-abi.md §9.1): each trap number is read
//! once from `sysctl mach.syscall.<name>` and called with `syscall(2)`; receive rights are
//! destroyed with `close(name)`.

use super::{receive_options, send_options, MsgBuffer, Name, RawMach};
use mach_abi::{
    kern_return_t, mach_msg_return_t, KERN_FAILURE, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_NULL,
    MACH_PORT_RIGHT_RECEIVE, MACH_RCV_INTERRUPTED, MACH_SEND_INTERRUPTED, MACH_SEND_NO_BUFFER,
};
use std::ffi::CStr;
use std::sync::OnceLock;

#[derive(Clone, Copy)]
enum Trap {
    Msg = 0,
    PortAllocate,
    PortInsertRight,
    TaskSelf,
}

const TRAP_NAMES: [&CStr; 4] = [
    c"mach.syscall.mach_msg_trap",
    c"mach.syscall.mach_port_allocate",
    c"mach.syscall.mach_port_insert_right",
    c"mach.syscall.task_self_trap",
];

fn trap(t: Trap) -> Option<libc::c_int> {
    static TRAPS: OnceLock<[libc::c_int; 4]> = OnceLock::new();
    let traps = TRAPS.get_or_init(|| {
        TRAP_NAMES.map(|name| {
            let mut value: libc::c_int = -1;
            let mut len = std::mem::size_of::<libc::c_int>();
            // SAFETY: `name` is NUL-terminated; `value` and `len` are valid for writes.
            let rc = unsafe {
                libc::sysctlbyname(
                    name.as_ptr(),
                    (&mut value as *mut libc::c_int).cast(),
                    &mut len,
                    std::ptr::null(),
                    0,
                )
            };
            if rc == 0 && len == std::mem::size_of::<libc::c_int>() {
                value
            } else {
                -1
            }
        })
    });
    let n = traps[t as usize];
    (n >= 0).then_some(n)
}

fn task_self() -> libc::c_long {
    static TASK: OnceLock<libc::c_long> = OnceLock::new();
    // `task_self_trap` adds a user reference per call: call it once.
    *TASK.get_or_init(|| match trap(Trap::TaskSelf) {
        // SAFETY: a trap without arguments.
        Some(n) => (unsafe { libc::syscall(n) }) as libc::c_long,
        None => 0,
    })
}

/// Raw Mach traps in this process's IPC space.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeRaw;

impl NativeRaw {
    /// Whether every trap this module uses is registered.
    pub fn available() -> bool {
        [
            Trap::Msg,
            Trap::PortAllocate,
            Trap::PortInsertRight,
            Trap::TaskSelf,
        ]
        .into_iter()
        .all(|t| trap(t).is_some())
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
        let Some(n) = trap(Trap::Msg) else {
            return MACH_SEND_NO_BUFFER;
        };
        loop {
            // SAFETY: the buffer is 4-byte aligned, exclusively borrowed, valid for `send`
            // bytes of reading and `rcv` bytes of writing (both ≤ its capacity); simple
            // messages only.
            let mr = unsafe { libc::syscall(n, buf.as_mut_ptr(), option, send, rcv, name, timeout) }
                as mach_msg_return_t;
            if mr != MACH_SEND_INTERRUPTED && mr != MACH_RCV_INTERRUPTED {
                return mr;
            }
        }
    }
}

impl RawMach for NativeRaw {
    fn new_port(&self) -> Result<Name, kern_return_t> {
        let alloc = trap(Trap::PortAllocate).ok_or(KERN_FAILURE)?;
        let insert = trap(Trap::PortInsertRight).ok_or(KERN_FAILURE)?;
        let mut name: Name = MACH_PORT_NULL;
        // SAFETY: `name` is valid for a 4-byte write.
        let rc = unsafe {
            libc::syscall(
                alloc,
                task_self(),
                MACH_PORT_RIGHT_RECEIVE,
                &mut name as *mut Name,
            )
        };
        if rc != 0 {
            // errno-style trap: errno carries the kern_return_t.
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(KERN_FAILURE));
        }
        // SAFETY: a trap with integer arguments.
        let kr = unsafe { libc::syscall(insert, task_self(), name, name, MACH_MSG_TYPE_MAKE_SEND) }
            as kern_return_t;
        if kr != 0 {
            let _ = self.close_port(name);
            return Err(kr);
        }
        Ok(name)
    }

    fn close_port(&self, name: Name) -> Result<(), kern_return_t> {
        // SAFETY: on NextBSD a port name is a descriptor; closing it destroys the right.
        if unsafe { libc::close(name as libc::c_int) } == 0 {
            Ok(())
        } else {
            Err(mach_abi::KERN_INVALID_NAME)
        }
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
