//! Port rights as RAII types.
//!
//! Every right remembers the [`Space`] it lives in and releases itself there when dropped:
//!
//! | type | drop | NextBSD | Apple | sim |
//! |---|---|---|---|---|
//! | [`ReceiveRight`] | the port is destroyed (queued messages destroyed, senders see a dead name) | `close(name)` | `mod_refs(RECEIVE, −1)` | `port_close` |
//! | [`SendRight`] | one user reference dropped | `mach_port_deallocate` | same | same |
//! | [`SendOnceRight`] | right destroyed (the port gets a send-once notification) | `mach_port_deallocate` | same | same |
//! | [`PortSet`] | set destroyed, members unlinked | `close(name)` | `mod_refs(PORT_SET, −1)` | `port_close` |
//!
//! Cloning a [`SendRight`] takes another user reference through the backend. On NextBSD
//! `mach_port_mod_refs` is a libmach no-op and no trap exists for it, so the NextBSD backend
//! takes the reference with `mach_port_insert_right(task, name, name, MACH_MSG_TYPE_COPY_SEND)`.
//!
//! **Same-name rights.** A send right made from a receive right with
//! [`ReceiveRight::make_send`] lives under the same name. On NextBSD `close(name)` removes every
//! right under that name at once, so drop (or hand away) such send rights *before* the receive
//! right in the same space; releasing a stale name afterwards fails harmlessly unless the name
//! was reused in between.

use std::fmt;
use std::mem::ManuallyDrop;

use mach_abi::{
    MACH_MSGH_BITS, MACH_MSG_SUCCESS, MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE,
    MACH_MSG_TYPE_MOVE_RECEIVE, MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND_ONCE,
    MACH_PORT_DEAD, MACH_PORT_RIGHT_PORT_SET, MACH_PORT_RIGHT_RECEIVE, MACH_PORT_VALID,
    MACH_RCV_LARGE, MACH_RCV_MSG, MACH_RCV_TIMEOUT, MACH_SEND_MSG, MACH_SEND_TIMEOUT,
};

use crate::buffer::MsgBuf;
use crate::raw_message::{self, RawDescriptor, RawMessage};
use crate::sys::{Name, Space};
use crate::Error;

fn release(op: &'static str, r: Result<(), Error>, name: Name) {
    if let Err(e) = r {
        tracing::debug!(name, error = %e, "{op} at drop failed");
    }
}

macro_rules! common_raw {
    ($ty:ident) => {
        impl $ty {
            /// The right's name in its space.
            pub fn name(&self) -> Name {
                self.name
            }

            /// The space the right lives in.
            pub fn space(&self) -> &Space {
                &self.space
            }

            /// Gives up ownership without releasing: returns the raw name (for the C ABI).
            pub fn into_raw(self) -> Name {
                let this = ManuallyDrop::new(self);
                // SAFETY: `this` is never dropped, so reading the space out moves it exactly once.
                let _space = unsafe { std::ptr::read(&this.space) };
                this.name
            }

            /// Takes ownership of a raw name in the calling thread's current space.
            ///
            /// # Safety
            /// `name` must denote a right of this kind in [`Space::current`], owned by nobody
            /// else (it will be released when the value is dropped).
            pub unsafe fn from_raw(name: Name) -> $ty {
                // SAFETY: forwarded.
                unsafe { $ty::from_raw_in(&Space::current(), name) }
            }

            /// Takes ownership of a raw name in `space`.
            ///
            /// # Safety
            /// `name` must denote a right of this kind in `space`, owned by nobody else.
            pub unsafe fn from_raw_in(space: &Space, name: Name) -> $ty {
                $ty {
                    space: space.clone(),
                    name,
                }
            }

            /// Forgets the right without releasing it (it was consumed by the kernel).
            #[allow(dead_code)]
            pub(crate) fn forget(self) {
                let _ = self.into_raw();
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("name", &self.name)
                    .field("space", &self.space)
                    .finish()
            }
        }
    };
}

/// A receive right: the port's queue and the right to destroy it.
pub struct ReceiveRight {
    space: Space,
    name: Name,
}

/// A send right (one user reference).
pub struct SendRight {
    space: Space,
    name: Name,
}

/// A send-once right: consumed by one send (or destroyed, which notifies the port).
pub struct SendOnceRight {
    space: Space,
    name: Name,
}

/// A port set, for receiving on several ports at once.
pub struct PortSet {
    space: Space,
    name: Name,
}

common_raw!(ReceiveRight);
common_raw!(SendRight);
common_raw!(SendOnceRight);
common_raw!(PortSet);

impl Drop for ReceiveRight {
    fn drop(&mut self) {
        release(
            "destroy receive right",
            self.space.destroy_receive(self.name),
            self.name,
        );
    }
}

impl Drop for SendRight {
    fn drop(&mut self) {
        if MACH_PORT_VALID(self.name) {
            release(
                "mach_port_deallocate(send)",
                self.space.deallocate(self.name),
                self.name,
            );
        }
    }
}

impl Drop for SendOnceRight {
    fn drop(&mut self) {
        if MACH_PORT_VALID(self.name) {
            release(
                "mach_port_deallocate(send-once)",
                self.space.deallocate(self.name),
                self.name,
            );
        }
    }
}

impl Drop for PortSet {
    fn drop(&mut self) {
        release(
            "destroy port set",
            self.space.destroy_set(self.name),
            self.name,
        );
    }
}

impl Clone for SendRight {
    /// Another user reference on the same name (see the module docs for NextBSD).
    ///
    /// Never panics. If the kernel refuses the reference — the port died, so the name is now a
    /// dead name (`KERN_INVALID_RIGHT` from `mod_refs(SEND, +1)`), or `KERN_UREFS_OVERFLOW` — the
    /// clone is a right named `MACH_PORT_DEAD`, as Mach hands out for a send right whose port
    /// died: sending to it fails with `MACH_SEND_INVALID_DEST` and dropping it releases nothing.
    /// Use [`SendRight::try_clone`] to see the kernel's error instead.
    fn clone(&self) -> Self {
        self.try_clone().unwrap_or_else(|e| {
            tracing::debug!(name = self.name, error = %e, "SendRight::clone: dead right");
            SendRight {
                space: self.space.clone(),
                name: MACH_PORT_DEAD,
            }
        })
    }
}

impl SendRight {
    /// Another user reference on `name` in `space`, as an owned right.
    pub(crate) fn copy_of(space: &Space, name: Name) -> Result<SendRight, Error> {
        space.add_send_uref(name)?;
        Ok(SendRight {
            space: space.clone(),
            name,
        })
    }

    /// A send right minted from the receive right `name` (`insert_right(MAKE_SEND)`).
    pub(crate) fn made_from(space: &Space, name: Name) -> Result<SendRight, Error> {
        space.insert_right(name, name, MACH_MSG_TYPE_MAKE_SEND)?;
        Ok(SendRight {
            space: space.clone(),
            name,
        })
    }

    /// Another user reference on the same name.
    ///
    /// # Errors
    /// [`Error::Kern`] with the kernel's code when it refuses the reference: `KERN_INVALID_RIGHT`
    /// once the port has died (the name is a dead name), `KERN_UREFS_OVERFLOW` at the user
    /// reference limit.
    pub fn try_clone(&self) -> Result<SendRight, Error> {
        self.space.add_send_uref(self.name)?;
        Ok(SendRight {
            space: self.space.clone(),
            name: self.name,
        })
    }
}

impl ReceiveRight {
    /// A new port in the calling thread's current space.
    pub fn new() -> Result<ReceiveRight, Error> {
        ReceiveRight::new_in(&Space::current())
    }

    /// A new port in `space`.
    pub fn new_in(space: &Space) -> Result<ReceiveRight, Error> {
        let name = space.allocate(MACH_PORT_RIGHT_RECEIVE)?;
        Ok(ReceiveRight {
            space: space.clone(),
            name,
        })
    }

    /// Mints a send right under the same name (`insert_right(MAKE_SEND)`).
    pub fn make_send(&self) -> Result<SendRight, Error> {
        self.space
            .insert_right(self.name, self.name, MACH_MSG_TYPE_MAKE_SEND)?;
        Ok(SendRight {
            space: self.space.clone(),
            name: self.name,
        })
    }

    /// Mints a send-once right (under a new name).
    ///
    /// No kernel call inserts a send-once right directly (`insert_right` requires `name ==
    /// poly`, and a send-once right never shares a name), so the right is minted the way the
    /// kernel mints them: a private port receives a message carrying a `MAKE_SEND_ONCE`
    /// descriptor for this port; the descriptor arrives as the new right.
    pub fn make_send_once(&self) -> Result<SendOnceRight, Error> {
        mint_send_once(&self.space, self.name)
    }
}

/// Mints a send-once right to the port whose receive right `name` denotes in `space` (see
/// [`ReceiveRight::make_send_once`]).
pub(crate) fn mint_send_once(space: &Space, name: Name) -> Result<SendOnceRight, Error> {
    let tmp = ReceiveRight::new_in(space)?;
    let raw = RawMessage {
        bits: MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND_ONCE, 0),
        remote: tmp.name,
        local: 0,
        voucher: 0,
        id: 0,
        descriptors: vec![RawDescriptor::Port {
            name,
            disposition: MACH_MSG_TYPE_MAKE_SEND_ONCE as u8,
        }],
        body: bytes::Bytes::new(),
        trailer: None,
    };
    let mut buf = MsgBuf::from_bytes(&raw_message::encode(&raw));
    let size = raw.wire_size() as u32;
    // SAFETY: `buf` holds `size` encoded bytes, is 8-aligned and exclusively borrowed.
    let mr = unsafe {
        space.mach_msg(
            buf.header_ptr(),
            MACH_SEND_MSG | MACH_SEND_TIMEOUT,
            size,
            0,
            0,
            0,
        )
    }?;
    if mr != MACH_MSG_SUCCESS {
        return Err(Error::Msg {
            op: "send (make_send_once)",
            mr,
        });
    }
    let mut rbuf = MsgBuf::new(256);
    let len = rbuf.len() as u32;
    rbuf.set_msgh_size(0);
    // SAFETY: `rbuf` is valid for writes of `len` bytes, 8-aligned, exclusively borrowed.
    let mr = unsafe {
        space.mach_msg(
            rbuf.header_ptr(),
            MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT,
            0,
            len,
            tmp.name,
            0,
        )
    }?;
    if mr != MACH_MSG_SUCCESS {
        return Err(Error::Msg {
            op: "receive (make_send_once)",
            mr,
        });
    }
    let got = raw_message::parse(rbuf.bytes(), true)?;
    match got.descriptors.first() {
        Some(RawDescriptor::Port { name, .. }) if MACH_PORT_VALID(*name) => Ok(SendOnceRight {
            space: space.clone(),
            name: *name,
        }),
        _ => Err(Error::Msg {
            op: "make_send_once",
            mr: mach_abi::MACH_RCV_INVALID_DATA,
        }),
    }
}

impl PortSet {
    /// A new, empty port set in the calling thread's current space.
    pub fn new() -> Result<PortSet, Error> {
        PortSet::new_in(&Space::current())
    }

    /// A new, empty port set in `space`.
    pub fn new_in(space: &Space) -> Result<PortSet, Error> {
        let name = space.allocate(MACH_PORT_RIGHT_PORT_SET)?;
        Ok(PortSet {
            space: space.clone(),
            name,
        })
    }

    /// Moves `port` into this set (out of any other set, atomically). [`Error::WrongSpace`] if
    /// the port lives in another space.
    pub fn insert(&self, port: &ReceiveRight) -> Result<(), Error> {
        self.same_space(port, "PortSet::insert")?;
        self.space.move_member(port.name, self.name)
    }

    /// Removes `port` from this set (`KERN_NOT_IN_SET` if it is not a member;
    /// [`Error::WrongSpace`] if it lives in another space).
    pub fn remove(&self, port: &ReceiveRight) -> Result<(), Error> {
        self.same_space(port, "PortSet::remove")?;
        self.space.move_member(port.name, 0)
    }

    /// Names are per space: never resolve another space's name here.
    fn same_space(&self, port: &ReceiveRight, op: &'static str) -> Result<(), Error> {
        if port.space == self.space {
            Ok(())
        } else {
            Err(Error::WrongSpace { op })
        }
    }
}

/// Any port right, as carried in a message.
#[derive(Debug)]
pub enum PortRight {
    /// A receive right (`MACH_MSG_TYPE_PORT_RECEIVE`).
    Receive(ReceiveRight),
    /// A send right (`MACH_MSG_TYPE_PORT_SEND`).
    Send(SendRight),
    /// A send-once right (`MACH_MSG_TYPE_PORT_SEND_ONCE`).
    SendOnce(SendOnceRight),
}

impl PortRight {
    /// The right's name.
    pub fn name(&self) -> Name {
        match self {
            PortRight::Receive(r) => r.name(),
            PortRight::Send(r) => r.name(),
            PortRight::SendOnce(r) => r.name(),
        }
    }

    /// The space the right lives in.
    pub fn space(&self) -> &Space {
        match self {
            PortRight::Receive(r) => r.space(),
            PortRight::Send(r) => r.space(),
            PortRight::SendOnce(r) => r.space(),
        }
    }

    /// The disposition that moves this right in a message (16, 17 or 18), which is also the
    /// type the receiver sees.
    pub fn move_disposition(&self) -> u32 {
        match self {
            PortRight::Receive(_) => MACH_MSG_TYPE_MOVE_RECEIVE,
            PortRight::Send(_) => MACH_MSG_TYPE_MOVE_SEND,
            PortRight::SendOnce(_) => MACH_MSG_TYPE_MOVE_SEND_ONCE,
        }
    }

    /// Wraps a received (or pseudo-received) name of type `kind` (16, 17 or 18).
    /// `None` for invalid names (`MACH_PORT_NULL`, `MACH_PORT_DEAD`) or other types.
    pub(crate) fn adopt(space: &Space, name: Name, kind: u32) -> Option<PortRight> {
        if !MACH_PORT_VALID(name) {
            return None;
        }
        let s = space.clone();
        match kind {
            MACH_MSG_TYPE_MOVE_RECEIVE => Some(PortRight::Receive(ReceiveRight { space: s, name })),
            MACH_MSG_TYPE_MOVE_SEND => Some(PortRight::Send(SendRight { space: s, name })),
            MACH_MSG_TYPE_MOVE_SEND_ONCE => {
                Some(PortRight::SendOnce(SendOnceRight { space: s, name }))
            }
            _ => None,
        }
    }

    /// Forgets the right without releasing it (the kernel consumed it).
    pub(crate) fn forget(self) {
        match self {
            PortRight::Receive(r) => r.forget(),
            PortRight::Send(r) => r.forget(),
            PortRight::SendOnce(r) => r.forget(),
        }
    }

    /// The send right, if this is one.
    pub fn into_send(self) -> Option<SendRight> {
        match self {
            PortRight::Send(r) => Some(r),
            _ => None,
        }
    }

    /// The send-once right, if this is one.
    pub fn into_send_once(self) -> Option<SendOnceRight> {
        match self {
            PortRight::SendOnce(r) => Some(r),
            _ => None,
        }
    }

    /// The receive right, if this is one.
    pub fn into_receive(self) -> Option<ReceiveRight> {
        match self {
            PortRight::Receive(r) => Some(r),
            _ => None,
        }
    }
}

impl From<ReceiveRight> for PortRight {
    fn from(r: ReceiveRight) -> Self {
        PortRight::Receive(r)
    }
}

impl From<SendRight> for PortRight {
    fn from(r: SendRight) -> Self {
        PortRight::Send(r)
    }
}

impl From<SendOnceRight> for PortRight {
    fn from(r: SendOnceRight) -> Self {
        PortRight::SendOnce(r)
    }
}
