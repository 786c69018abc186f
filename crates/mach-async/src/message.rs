//! Owned Mach messages: [`Message`], [`MessageBuilder`], descriptors and trailers.
//!
//! A [`Message`] owns every right it carries ([`PortRight`]s in the header's reply field and in
//! port descriptors) and every out-of-line region (copied into [`Bytes`]). Dropping a message
//! that was never delivered releases those rights — `mach_msg_destroy` semantics (mach-abi.md
//! §9.4: remote/reply by type, local ignored, descriptors by disposition), implemented in Rust.

use std::fmt;

use bytes::Bytes;
use mach_abi::{
    audit_token_t, mach_msg_bits_t, mach_msg_id_t, MACH_MSGH_BITS_COMPLEX, MACH_MSGH_BITS_LOCAL,
    MACH_MSGH_BITS_REMOTE, MACH_MSGH_BITS_SET, MACH_MSGH_BITS_VOUCHER, MACH_MSG_TYPE_COPY_SEND,
    MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND,
    MACH_MSG_TYPE_NONE, MACH_MSG_TYPE_PORT_NAME, MACH_MSG_VIRTUAL_COPY, MACH_PORT_VALID,
};

use crate::raw_message::{self, ParseError, RawDescriptor, RawMessage, RawTrailer};
use crate::rights::{PortRight, ReceiveRight, SendRight};
use crate::sys::{Name, Space};

/// A port in a message: either a right the message owns (moved on send) or a reference to a
/// right the caller keeps (minted or copied by the kernel at send time).
#[derive(Debug)]
pub enum PortSlot {
    /// A right owned by the message, moved on send (`MOVE_RECEIVE`/`MOVE_SEND`/`MOVE_SEND_ONCE`).
    Right(PortRight),
    /// `MAKE_SEND` from a receive right the caller keeps (by name; it must outlive the send).
    MakeSend(Name),
    /// `MAKE_SEND_ONCE` from a receive right the caller keeps (by name).
    MakeSendOnce(Name),
    /// `COPY_SEND` of a send right the caller keeps (by name).
    CopySend(Name),
    /// A bare name, no right (`MACH_MSG_TYPE_PORT_NAME`).
    Name(Name),
}

impl PortSlot {
    /// The name in the slot.
    pub fn name(&self) -> Name {
        match self {
            PortSlot::Right(r) => r.name(),
            PortSlot::MakeSend(n)
            | PortSlot::MakeSendOnce(n)
            | PortSlot::CopySend(n)
            | PortSlot::Name(n) => *n,
        }
    }

    /// The disposition used on send (`MACH_MSG_TYPE_*`).
    pub fn disposition(&self) -> u32 {
        match self {
            PortSlot::Right(r) => r.move_disposition(),
            PortSlot::MakeSend(_) => MACH_MSG_TYPE_MAKE_SEND,
            PortSlot::MakeSendOnce(_) => MACH_MSG_TYPE_MAKE_SEND_ONCE,
            PortSlot::CopySend(_) => MACH_MSG_TYPE_COPY_SEND,
            PortSlot::Name(_) => MACH_MSG_TYPE_PORT_NAME,
        }
    }

    /// The owned right, if the slot holds one.
    pub fn into_right(self) -> Option<PortRight> {
        match self {
            PortSlot::Right(r) => Some(r),
            _ => None,
        }
    }
}

impl From<PortRight> for PortSlot {
    fn from(r: PortRight) -> Self {
        PortSlot::Right(r)
    }
}

/// A descriptor of a complex message.
#[derive(Debug)]
pub enum Descriptor {
    /// A port descriptor (`None` when it carried no valid name, e.g. a dead port).
    Port(Option<PortSlot>),
    /// Out-of-line memory, owned. Sent with `copy = VIRTUAL`, `deallocate = 0` (what MIG
    /// clients write). NextBSD protocols should prefer inline data (mach-abi.md §5).
    Ool(Bytes),
    /// Out-of-line port array; every right must be of the same kind.
    OolPorts(Vec<PortRight>),
}

/// A sender's audit token (`val[0]` auid, `val[1]` euid, `val[2]` egid, `val[3]` ruid,
/// `val[4]` rgid, `val[5]` pid, `val[6]` asid, `val[7]` pid version).
///
/// On NextBSD the token is a per-task snapshot and kernel messages carry all zeros (= "root"):
/// **never authorise on it there** (mach-abi.md §6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuditToken(pub audit_token_t);

impl AuditToken {
    /// Audit user id.
    pub fn auid(&self) -> u32 {
        self.0.val[0]
    }
    /// Effective user id.
    pub fn euid(&self) -> u32 {
        self.0.val[1]
    }
    /// Effective group id.
    pub fn egid(&self) -> u32 {
        self.0.val[2]
    }
    /// Real user id.
    pub fn ruid(&self) -> u32 {
        self.0.val[3]
    }
    /// Real group id.
    pub fn rgid(&self) -> u32 {
        self.0.val[4]
    }
    /// Process id.
    pub fn pid(&self) -> i32 {
        self.0.val[5] as i32
    }
    /// Audit session id.
    pub fn asid(&self) -> i32 {
        self.0.val[6] as i32
    }
    /// Pid version (0 on NextBSD).
    pub fn pid_version(&self) -> i32 {
        self.0.val[7] as i32
    }
    /// Whether this is the kernel's all-zero token.
    pub fn is_kernel(&self) -> bool {
        self.0.val == [0; 8]
    }
}

/// A received trailer (format 0). Accessors return `None` when the kernel's trailer is too short
/// for the element (e.g. NextBSD's kqueue direct path leaves it at 8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer(pub RawTrailer);

impl Trailer {
    /// `msgh_trailer_size`.
    pub fn size(&self) -> u32 {
        self.0.size()
    }
    /// Port sequence number (≥ 12 bytes).
    pub fn seqno(&self) -> Option<u32> {
        self.0.seqno()
    }
    /// Sender security token (≥ 20 bytes).
    pub fn sender(&self) -> Option<[u32; 2]> {
        self.0.sender()
    }
    /// Audit token (≥ 52 bytes).
    pub fn audit_token(&self) -> Option<AuditToken> {
        self.0.audit_token().map(AuditToken)
    }
    /// Receiving port's context (≥ 60 bytes).
    pub fn context(&self) -> Option<u64> {
        self.0.context()
    }
}

/// An owned Mach message.
///
/// Received messages ([`crate::MachRecvStream`]) carry the reply right the sender supplied
/// ([`Message::reply`]), the name they arrived on ([`Message::local_port`]), descriptors, the
/// inline body and the trailer. Outgoing messages are made with [`MessageBuilder`] and sent with
/// [`SendRight::send`] / [`crate::SendOnceRight::send`].
pub struct Message {
    pub(crate) bits: mach_msg_bits_t,
    pub(crate) size: u32,
    pub(crate) id: mach_msg_id_t,
    /// Outgoing: the destination (set by the send call). Received: the reply right.
    pub(crate) remote: Option<PortSlot>,
    /// Outgoing: the reply port. Received: unused (the local name is only a label).
    pub(crate) local: Option<PortSlot>,
    pub(crate) local_name: Name,
    pub(crate) voucher: Option<PortRight>,
    pub(crate) descriptors: Vec<Descriptor>,
    /// Received port descriptors that carried no right (`Descriptor::Port(None)`): index, the
    /// name the kernel wrote (`MACH_PORT_NULL`, `MACH_PORT_DEAD`, a bare name) and its type.
    pub(crate) rightless_ports: Vec<RightlessPort>,
    pub(crate) body: Bytes,
    pub(crate) trailer: Option<Trailer>,
}

/// A received port descriptor without a right: where it is and what the kernel wrote in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RightlessPort {
    pub(crate) index: usize,
    pub(crate) name: Name,
    pub(crate) received_type: u8,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("bits", &format_args!("{:#x}", self.bits))
            .field("size", &self.size)
            .field("remote", &self.remote)
            .field("local", &self.local)
            .field("local_name", &self.local_name)
            .field("descriptors", &self.descriptors)
            .field("body_len", &self.body.len())
            .field("trailer", &self.trailer)
            .finish()
    }
}

impl Message {
    /// A builder for an outgoing message with id `id`.
    pub fn builder(id: mach_msg_id_t) -> MessageBuilder {
        MessageBuilder::new(id)
    }

    /// `msgh_id`.
    pub fn id(&self) -> mach_msg_id_t {
        self.id
    }

    /// Sets `msgh_id`.
    pub fn set_id(&mut self, id: mach_msg_id_t) {
        self.id = id;
    }

    /// `msgh_bits` as received (for outgoing messages: as last encoded).
    pub fn bits(&self) -> mach_msg_bits_t {
        self.bits
    }

    /// The received type of the reply right (`MACH_MSGH_BITS_REMOTE` of the received bits:
    /// 17 send, 18 send-once, 0 none).
    pub fn reply_type(&self) -> u32 {
        MACH_MSGH_BITS_REMOTE(self.bits)
    }

    /// The received label of the destination (`MACH_MSGH_BITS_LOCAL`: 17 or 18).
    pub fn local_type(&self) -> u32 {
        MACH_MSGH_BITS_LOCAL(self.bits)
    }

    /// `msgh_size` as received (header + body, without trailer); for outgoing messages the size
    /// they encode to.
    pub fn size(&self) -> u32 {
        if self.size != 0 {
            self.size
        } else {
            self.to_raw_parts().0.wire_size() as u32
        }
    }

    /// Whether the message is complex (has a body with descriptors).
    pub fn is_complex(&self) -> bool {
        self.bits & MACH_MSGH_BITS_COMPLEX != 0 || !self.descriptors.is_empty()
    }

    /// The name the message arrived on (`msgh_local_port`; a member's name when received on a
    /// set). Not a right.
    pub fn local_port(&self) -> Name {
        self.local_name
    }

    /// The reply right the sender supplied (received messages), or the reply port slot
    /// (outgoing messages).
    pub fn reply(&self) -> Option<&PortSlot> {
        if self.size != 0 {
            self.remote.as_ref()
        } else {
            self.local.as_ref()
        }
    }

    /// Takes the reply right out of a received message (e.g. to answer with
    /// [`crate::SendOnceRight::send`]), so that dropping the message does not destroy it.
    pub fn take_reply(&mut self) -> Option<PortRight> {
        let slot = if self.size != 0 {
            self.remote.take()
        } else {
            self.local.take()
        };
        slot.and_then(PortSlot::into_right)
    }

    /// Takes the destination back out of a message whose send failed (see
    /// [`crate::SendError`]): for [`crate::SendOnceRight::send`] this is the send-once right.
    pub fn take_destination(&mut self) -> Option<PortSlot> {
        if self.size == 0 {
            self.remote.take()
        } else {
            None
        }
    }

    /// Inline data after the descriptors (received: up to `msgh_size`, a multiple of 4).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the inline data.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = body.into();
    }

    /// The descriptors.
    pub fn descriptors(&self) -> &[Descriptor] {
        &self.descriptors
    }

    /// The descriptors, mutable (take rights out of them with `Option::take`).
    pub fn descriptors_mut(&mut self) -> &mut Vec<Descriptor> {
        &mut self.descriptors
    }

    /// Takes all descriptors out.
    pub fn take_descriptors(&mut self) -> Vec<Descriptor> {
        self.rightless_ports.clear();
        std::mem::take(&mut self.descriptors)
    }

    /// For received port descriptor `index` that carried no right ([`Descriptor::Port`]`(None)`):
    /// the name and received type the kernel wrote. A null or dead name sent with a send
    /// disposition arrives as (`MACH_PORT_NULL` / `MACH_PORT_DEAD`, `PORT_SEND` 17); a bare name
    /// as (name, `MACH_MSG_TYPE_PORT_NAME`). `None` for descriptors that carried a right, other
    /// descriptor kinds, and outgoing messages.
    pub fn rightless_port(&self, index: usize) -> Option<(Name, u32)> {
        self.rightless_ports
            .iter()
            .find(|p| p.index == index)
            .map(|p| (p.name, u32::from(p.received_type)))
    }

    /// The trailer, for received messages.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    /// The sender's audit token, if the trailer carries one (see [`AuditToken`] caveats).
    pub fn audit_token(&self) -> Option<AuditToken> {
        self.trailer.and_then(|t| t.audit_token())
    }

    /// The port sequence number, if the trailer carries one.
    pub fn seqno(&self) -> Option<u32> {
        self.trailer.and_then(|t| t.seqno())
    }

    /// The message in wire form (names as they are now; OOL addresses point into this
    /// message's own data), for inspection and tests. No trailer.
    pub fn to_wire(&self) -> Vec<u8> {
        let (raw, _keep) = self.to_raw_parts();
        raw_message::encode(&raw)
    }

    /// The wire form for sending to `self.remote`, plus the OOL port-name arrays it points into
    /// (which must stay alive until the send completes).
    pub(crate) fn to_raw_parts(&self) -> (RawMessage, Vec<Vec<Name>>) {
        let slot = |s: &Option<PortSlot>| {
            s.as_ref()
                .map_or((0, MACH_MSG_TYPE_NONE), |s| (s.name(), s.disposition()))
        };
        let (remote, rdisp) = slot(&self.remote);
        let (local, ldisp) = slot(&self.local);
        let mut arrays = Vec::new();
        let descriptors = self
            .descriptors
            .iter()
            .map(|d| match d {
                Descriptor::Port(p) => {
                    let (name, disp) = slot(p);
                    RawDescriptor::Port {
                        name,
                        disposition: disp as u8,
                    }
                }
                Descriptor::Ool(b) => RawDescriptor::Ool {
                    address: b.as_ptr() as usize as u64,
                    size: b.len() as u32,
                    deallocate: false,
                    copy: MACH_MSG_VIRTUAL_COPY,
                    volatile: false,
                },
                Descriptor::OolPorts(v) => {
                    let names: Vec<Name> = v.iter().map(PortRight::name).collect();
                    // An empty array still needs a valid disposition (the kernel refuses 0
                    // with MACH_SEND_INVALID_RIGHT); send rights are what MIG arrays carry.
                    let disposition = v
                        .first()
                        .map_or(MACH_MSG_TYPE_MOVE_SEND, |r| r.move_disposition())
                        as u8;
                    let address = names.as_ptr() as usize as u64;
                    arrays.push(names);
                    RawDescriptor::OolPorts {
                        address,
                        count: v.len() as u32,
                        disposition,
                        deallocate: false,
                        copy: MACH_MSG_VIRTUAL_COPY,
                    }
                }
            })
            .collect::<Vec<_>>();
        let other = if descriptors.is_empty() {
            0
        } else {
            MACH_MSGH_BITS_COMPLEX
        };
        let raw = RawMessage {
            bits: MACH_MSGH_BITS_SET(rdisp, ldisp, 0, other),
            remote,
            local,
            voucher: 0,
            id: self.id,
            descriptors,
            body: self.body.clone(),
            trailer: None,
        };
        (raw, arrays)
    }

    /// Turns every borrowed slot (`COPY_SEND`, `MAKE_SEND`, `MAKE_SEND_ONCE` by name) into a
    /// right the message owns, moved on send. Used before a send leaves the caller's context
    /// (the blocking-pool fallback): afterwards the send no longer depends on the caller keeping
    /// those names alive, and a cancelled send releases exactly what it owns.
    pub(crate) fn own_borrowed(&mut self, space: &Space) -> Result<(), crate::Error> {
        fn own(space: &Space, slot: &mut Option<PortSlot>) -> Result<(), crate::Error> {
            let owned = match slot.as_ref() {
                Some(PortSlot::CopySend(n)) => PortRight::Send(SendRight::copy_of(space, *n)?),
                Some(PortSlot::MakeSend(n)) => PortRight::Send(SendRight::made_from(space, *n)?),
                Some(PortSlot::MakeSendOnce(n)) => {
                    PortRight::SendOnce(crate::rights::mint_send_once(space, *n)?)
                }
                _ => return Ok(()),
            };
            *slot = Some(PortSlot::Right(owned));
            Ok(())
        }
        own(space, &mut self.remote)?;
        own(space, &mut self.local)?;
        for d in &mut self.descriptors {
            if let Descriptor::Port(p) = d {
                own(space, p)?;
            }
        }
        Ok(())
    }

    /// The send succeeded: every right the message owned now belongs to the receiver.
    pub(crate) fn commit_sent(mut self) {
        let forget = |s: Option<PortSlot>| {
            if let Some(PortSlot::Right(r)) = s {
                r.forget();
            }
        };
        forget(self.remote.take());
        forget(self.local.take());
        for d in self.descriptors.drain(..) {
            match d {
                Descriptor::Port(p) => forget(p),
                Descriptor::OolPorts(v) => v.into_iter().for_each(PortRight::forget),
                Descriptor::Ool(_) => {}
            }
        }
    }

    /// The send failed. The kernel may have "pseudo-received" the message back into the buffer
    /// (mach-abi.md §4.2): copied-in rights are ours again, possibly under other names and with
    /// received types (16/17/18). Re-adopt whatever the returned buffer says so that nothing is
    /// leaked or released twice; an unchanged buffer leaves the message unchanged.
    ///
    /// # Safety
    /// `returned` must be the send buffer after the failed `mach_msg` in `space`; OOL addresses
    /// in it that differ from the ones sent must be kernel-provided memory of this space.
    pub(crate) unsafe fn reconcile_failed_send(
        &mut self,
        space: &Space,
        sent: &RawMessage,
        returned: &[u8],
    ) {
        let Ok(ret) = raw_message::parse(returned, false) else {
            return;
        };
        reconcile_slot(
            space,
            &mut self.remote,
            MACH_MSGH_BITS_REMOTE(sent.bits),
            sent.remote,
            MACH_MSGH_BITS_REMOTE(ret.bits),
            ret.remote,
        );
        reconcile_slot(
            space,
            &mut self.local,
            MACH_MSGH_BITS_LOCAL(sent.bits),
            sent.local,
            MACH_MSGH_BITS_LOCAL(ret.bits),
            ret.local,
        );
        if MACH_MSGH_BITS_VOUCHER(ret.bits) != 0 && MACH_PORT_VALID(ret.voucher) {
            self.voucher = PortRight::adopt(space, ret.voucher, MACH_MSGH_BITS_VOUCHER(ret.bits));
        }
        if ret.descriptors.len() != sent.descriptors.len() {
            return;
        }
        for ((d, s), r) in self
            .descriptors
            .iter_mut()
            .zip(&sent.descriptors)
            .zip(&ret.descriptors)
        {
            match (d, s, r) {
                (
                    Descriptor::Port(slot),
                    RawDescriptor::Port {
                        name: sn,
                        disposition: sd,
                    },
                    RawDescriptor::Port {
                        name: rn,
                        disposition: rd,
                    },
                ) => reconcile_slot(space, slot, u32::from(*sd), *sn, u32::from(*rd), *rn),
                (
                    Descriptor::Ool(_),
                    RawDescriptor::Ool { address: sa, .. },
                    RawDescriptor::Ool {
                        address: ra, size, ..
                    },
                ) if ra != sa && *ra != 0 => {
                    // SAFETY: per this function's contract the new address is kernel memory.
                    unsafe { space.free_ool(*ra, *size as usize) };
                }
                (
                    Descriptor::OolPorts(v),
                    RawDescriptor::OolPorts { address: sa, .. },
                    RawDescriptor::OolPorts {
                        address: ra,
                        count,
                        disposition,
                        ..
                    },
                ) if ra != sa && *ra != 0 => {
                    // SAFETY: per this function's contract, kernel memory holding `count` names.
                    let names = unsafe { read_names(*ra, *count) };
                    for old in v.drain(..) {
                        old.forget();
                    }
                    v.extend(
                        names
                            .iter()
                            .filter_map(|&n| PortRight::adopt(space, n, u32::from(*disposition))),
                    );
                    // SAFETY: as above; not used afterwards.
                    unsafe { space.free_ool(*ra, *count as usize * 4) };
                }
                _ => {}
            }
        }
    }

    /// Wraps a received buffer (trailer expected) into an owned message, taking ownership of
    /// every right in it and copying (then freeing) OOL memory.
    ///
    /// # Safety
    /// `buf` must hold a message the kernel just delivered into `space` (so that OOL addresses
    /// are valid kernel-provided memory of the given sizes, owned by us).
    pub(crate) unsafe fn from_received(space: &Space, buf: &[u8]) -> Result<Message, ParseError> {
        let raw = match raw_message::parse(buf, true) {
            Ok(raw) => raw,
            Err(e) => {
                salvage_header(space, buf);
                return Err(e);
            }
        };
        let size = buf
            .len()
            .min(u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize)
            as u32;
        let remote = PortRight::adopt(space, raw.remote, MACH_MSGH_BITS_REMOTE(raw.bits))
            .map(PortSlot::Right);
        let voucher = PortRight::adopt(space, raw.voucher, MACH_MSGH_BITS_VOUCHER(raw.bits));
        let mut rightless_ports = Vec::new();
        let descriptors = raw
            .descriptors
            .iter()
            .enumerate()
            .map(|(index, d)| match *d {
                RawDescriptor::Port { name, disposition } => {
                    let right = PortRight::adopt(space, name, u32::from(disposition));
                    if right.is_none() {
                        // A null or dead name, or a bare name: keep what the kernel wrote so
                        // that a MIG check sees the received type (mig.md §8 check 4).
                        rightless_ports.push(RightlessPort {
                            index,
                            name,
                            received_type: disposition,
                        });
                    }
                    Descriptor::Port(right.map(PortSlot::Right))
                }
                RawDescriptor::Ool { address, size, .. } => {
                    let data = if address == 0 || size == 0 {
                        Bytes::new()
                    } else {
                        // SAFETY: per the contract the kernel mapped `size` bytes at `address`.
                        let b = unsafe {
                            std::slice::from_raw_parts(address as usize as *const u8, size as usize)
                        };
                        let copy = Bytes::copy_from_slice(b);
                        // SAFETY: ours to free, not used afterwards.
                        unsafe { space.free_ool(address, size as usize) };
                        copy
                    };
                    Descriptor::Ool(data)
                }
                RawDescriptor::OolPorts {
                    address,
                    count,
                    disposition,
                    ..
                } => {
                    if address == 0 || count == 0 {
                        return Descriptor::OolPorts(Vec::new());
                    }
                    // SAFETY: per the contract, `count` names at `address`.
                    let names = unsafe { read_names(address, count) };
                    // SAFETY: ours to free, not used afterwards.
                    unsafe { space.free_ool(address, count as usize * 4) };
                    Descriptor::OolPorts(
                        names
                            .iter()
                            .filter_map(|&n| PortRight::adopt(space, n, u32::from(disposition)))
                            .collect(),
                    )
                }
            })
            .collect();
        Ok(Message {
            bits: raw.bits,
            size,
            id: raw.id,
            remote,
            local: None,
            local_name: raw.local,
            voucher,
            descriptors,
            rightless_ports,
            body: raw.body,
            trailer: raw.trailer.map(Trailer),
        })
    }
}

/// Reads `count` port names from kernel-provided memory.
///
/// # Safety
/// `address` must be valid for reads of `count * 4` bytes.
unsafe fn read_names(address: u64, count: u32) -> Vec<Name> {
    let p = address as usize as *const u8;
    (0..count as usize)
        .map(|i| {
            let mut w = [0u8; 4];
            // SAFETY: within the `count * 4` bytes the caller vouches for; unaligned-safe copy.
            unsafe { std::ptr::copy_nonoverlapping(p.add(4 * i), w.as_mut_ptr(), 4) };
            u32::from_le_bytes(w)
        })
        .collect()
}

/// A damaged (unparseable) received buffer: release the header's reply right if readable.
fn salvage_header(space: &Space, buf: &[u8]) {
    if buf.len() >= 12 {
        let bits = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let remote = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
        drop(PortRight::adopt(space, remote, MACH_MSGH_BITS_REMOTE(bits)));
    }
}

fn reconcile_slot(
    space: &Space,
    slot: &mut Option<PortSlot>,
    sent_disp: u32,
    sent_name: Name,
    ret_type: u32,
    ret_name: Name,
) {
    if ret_type == sent_disp && ret_name == sent_name {
        return; // unchanged: nothing was consumed
    }
    match ret_type {
        16..=18 => {
            if let Some(PortSlot::Right(old)) = slot.take() {
                old.forget();
            }
            *slot = PortRight::adopt(space, ret_name, ret_type).map(PortSlot::Right);
        }
        _ => {
            // The kernel consumed the right (e.g. a dead destination): it is not ours any more.
            if let Some(PortSlot::Right(old)) = slot.take() {
                old.forget();
            }
        }
    }
}

/// Builds an outgoing [`Message`].
///
/// ```
/// use mach_async::MessageBuilder;
/// let msg = MessageBuilder::new(1000).body(&b"hello\0\0\0"[..]).build();
/// assert_eq!(msg.id(), 1000);
/// assert_eq!(msg.size(), 24 + 8);
/// ```
#[derive(Debug)]
pub struct MessageBuilder {
    msg: Message,
}

impl MessageBuilder {
    /// A simple message with id `id`, no body, no reply port.
    pub fn new(id: mach_msg_id_t) -> MessageBuilder {
        MessageBuilder {
            msg: Message {
                bits: 0,
                size: 0,
                id,
                remote: None,
                local: None,
                local_name: 0,
                voucher: None,
                descriptors: Vec::new(),
                rightless_ports: Vec::new(),
                body: Bytes::new(),
                trailer: None,
            },
        }
    }

    /// Inline data (padded with zeros to a multiple of 4 on the wire).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.msg.body = body.into();
        self
    }

    /// The reply port field (`msgh_local_port`) and its disposition.
    pub fn reply(mut self, slot: PortSlot) -> Self {
        self.msg.local = Some(slot);
        self
    }

    /// Reply port: a send-once right minted from `port` (the MIG request form, `0x1513`).
    pub fn reply_make_send_once(self, port: &ReceiveRight) -> Self {
        self.reply(PortSlot::MakeSendOnce(port.name()))
    }

    /// Appends a port descriptor.
    pub fn port(mut self, slot: impl Into<PortSlot>) -> Self {
        self.msg
            .descriptors
            .push(Descriptor::Port(Some(slot.into())));
        self
    }

    /// Appends a port descriptor carrying a send right minted from `port`.
    pub fn make_send(self, port: &ReceiveRight) -> Self {
        self.port(PortSlot::MakeSend(port.name()))
    }

    /// Appends a port descriptor carrying a copy of `right`.
    pub fn copy_send(self, right: &SendRight) -> Self {
        self.port(PortSlot::CopySend(right.name()))
    }

    /// Appends an out-of-line memory descriptor.
    pub fn ool(mut self, data: impl Into<Bytes>) -> Self {
        self.msg.descriptors.push(Descriptor::Ool(data.into()));
        self
    }

    /// Appends an out-of-line port array (all rights of one kind; rights of another kind than
    /// the first are dropped, i.e. released).
    pub fn ool_ports(mut self, rights: Vec<PortRight>) -> Self {
        let kind = rights.first().map(PortRight::move_disposition);
        let v = rights
            .into_iter()
            .filter(|r| Some(r.move_disposition()) == kind)
            .collect();
        self.msg.descriptors.push(Descriptor::OolPorts(v));
        self
    }

    /// The message.
    pub fn build(self) -> Message {
        self.msg
    }
}

// The blocking-pool safety net on the simulated kernel (the native backends test on their hosts).
#[cfg(all(test, mach_backend = "sim"))]
mod tests;
