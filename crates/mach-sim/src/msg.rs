//! Messages: the kernel form, copyin (send side), queueing, receive and copyout.
//!
//! A message is copied in from the caller's buffer into a [`KMsg`]: the bytes as sent plus the
//! rights it carries as kernel references (header destination and reply, port descriptors,
//! out-of-line port arrays) and owned copies of out-of-line memory. At receive it is copied out
//! into the receiver's buffer with the rights inserted into the receiver's name table.
//!
//! Validation order follows the kernel: size (`MACH_SEND_MSG_TOO_SMALL`, `MACH_SEND_TOO_LARGE`),
//! header dispositions (`MACH_SEND_INVALID_HEADER`), destination (`MACH_SEND_INVALID_DEST`),
//! reply (`MACH_SEND_INVALID_REPLY`), body layout (`MACH_SEND_MSG_TOO_SMALL`,
//! `MACH_SEND_INVALID_TYPE`, `MACH_SEND_INVALID_MEMORY`), body rights
//! (`MACH_SEND_INVALID_RIGHT`). Every check happens before any right is taken from the sender's
//! name table, so a failed send leaves the caller with all its rights.

use crate::port::Receiver;
use crate::space::{is_port_disposition, is_send_disposition, received_type, Obj};
use crate::state::{
    IdMap, Locked, PortId, RcvOutcome, RcvTarget, RcvWaiter, SendWaiter, State, TaskId, WaiterId,
};
use crate::{Name, SetSignalSemantics};
use mach_abi::*;
use std::ptr;
use std::time::{Duration, Instant};

const HEADER: usize = 24;

/// A right held by a message (or by the kernel on the way to a name table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KRight {
    Null,
    Dead,
    Send(PortId),
    SendOnce(PortId),
    Receive(PortId),
}

/// A right plus the type it arrives as (`MACH_MSG_TYPE_PORT_*`, or 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct KPort {
    pub right: KRight,
    pub ty: u32,
}

/// A descriptor in kernel form.
pub(crate) enum KDesc {
    Port(KPort),
    Ool(Vec<u8>),
    OolPorts(Vec<KRight>, u32),
}

/// A message in kernel form.
pub(crate) struct KMsg {
    /// The bytes as sent (header fields and descriptor fields are rewritten at copyout).
    pub raw: Vec<u8>,
    /// The destination right (send or send-once).
    pub dest: KRight,
    pub reply: KPort,
    /// Descriptors by byte offset in `raw`.
    pub descs: Vec<(usize, KDesc)>,
    /// Built by the kernel (sender token `{0, 1}`).
    pub kernel: bool,
    pub audit: [u32; 8],
}

impl KMsg {
    pub(crate) fn size(&self) -> u32 {
        self.raw.len() as u32
    }
    pub(crate) fn id(&self) -> i32 {
        rd32(&self.raw, 20) as i32
    }
    pub(crate) fn dest_port(&self) -> PortId {
        match self.dest {
            KRight::Send(p) | KRight::SendOnce(p) => p,
            other => unreachable!("message destination {other:?}"),
        }
    }
    fn dest_type(&self) -> u32 {
        match self.dest {
            KRight::SendOnce(_) => MACH_MSG_TYPE_PORT_SEND_ONCE,
            _ => MACH_MSG_TYPE_PORT_SEND,
        }
    }
    /// Ports whose receive rights travel in this message.
    fn receive_rights(&self) -> Vec<PortId> {
        let mut out = Vec::new();
        for (_, d) in &self.descs {
            match d {
                KDesc::Port(KPort {
                    right: KRight::Receive(p),
                    ..
                }) => out.push(*p),
                KDesc::OolPorts(rights, _) => out.extend(rights.iter().filter_map(|r| match r {
                    KRight::Receive(p) => Some(*p),
                    _ => None,
                })),
                _ => {}
            }
        }
        out
    }

    /// A kernel-built message (notifications, [`crate::KernelSendRight::send`]).
    pub(crate) fn kernel(
        dest: KRight,
        id: mach_msg_id_t,
        body: &[u8],
        descs: Vec<(usize, KDesc)>,
    ) -> KMsg {
        let mut raw = vec![0u8; HEADER + body.len()];
        raw[HEADER..].copy_from_slice(body);
        if !descs.is_empty() {
            wr32(&mut raw, 0, MACH_MSGH_BITS_COMPLEX);
        }
        wr32(&mut raw, 20, id as u32);
        KMsg {
            raw,
            dest,
            reply: KPort {
                right: KRight::Null,
                ty: 0,
            },
            descs,
            kernel: true,
            audit: [0; 8],
        }
    }
}

pub(crate) fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn rd64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}
pub(crate) fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// A descriptor as parsed from the sender's buffer (before rights are checked).
pub(crate) enum PDesc {
    Port {
        off: usize,
        name: Name,
        disp: u32,
    },
    Ool {
        off: usize,
        data: Vec<u8>,
    },
    OolPorts {
        off: usize,
        names: Vec<Name>,
        disp: u32,
    },
}

/// A message read from the sender's buffer; body layout errors are kept to be reported after
/// the header checks, in the kernel's order.
pub(crate) struct Parsed {
    raw: Vec<u8>,
    body: Result<Vec<PDesc>, mach_msg_return_t>,
}

/// Reads a message to send. Runs without the kernel lock (it touches user memory).
///
/// # Safety
/// As [`crate::Task::mach_msg`]: `msg` valid for `send_size` bytes, OOL addresses valid.
pub(crate) unsafe fn parse(
    msg: *const mach_msg_header_t,
    send_size: u32,
) -> Result<Parsed, mach_msg_return_t> {
    if msg.is_null() {
        return Err(MACH_SEND_INVALID_DATA);
    }
    // The kernel takes the message size from `send_size` (it overwrites `msgh_size`).
    if (send_size as usize) < HEADER || send_size % 4 != 0 {
        return Err(MACH_SEND_MSG_TOO_SMALL);
    }
    if send_size > NEXTBSD_MAX_INLINE_SEND {
        return Err(MACH_SEND_TOO_LARGE);
    }
    let mut raw = vec![0u8; send_size as usize];
    // SAFETY: the caller guarantees `msg` is readable for `send_size` bytes.
    unsafe { ptr::copy_nonoverlapping(msg.cast::<u8>(), raw.as_mut_ptr(), raw.len()) };
    // SAFETY: forwarded caller guarantee on OOL addresses.
    let body = unsafe { parse_body(&raw) };
    Ok(Parsed { raw, body })
}

/// # Safety
/// OOL descriptors' addresses must be readable for their sizes.
unsafe fn parse_body(raw: &[u8]) -> Result<Vec<PDesc>, mach_msg_return_t> {
    let mut out = Vec::new();
    if rd32(raw, 0) & MACH_MSGH_BITS_COMPLEX == 0 {
        return Ok(out);
    }
    if raw.len() < HEADER + 4 {
        return Err(MACH_SEND_MSG_TOO_SMALL);
    }
    let count = rd32(raw, HEADER);
    let mut off = HEADER + 4;
    for _ in 0..count {
        // Every descriptor is at least 12 bytes and has its type byte at offset 11.
        if off + 12 > raw.len() {
            return Err(MACH_SEND_MSG_TOO_SMALL);
        }
        let ty = raw[off + MACH_MSG_DESCRIPTOR_TYPE_OFFSET];
        match ty {
            MACH_MSG_PORT_DESCRIPTOR => {
                out.push(PDesc::Port {
                    off,
                    name: rd32(raw, off),
                    disp: u32::from(raw[off + 10]),
                });
                off += 12;
            }
            MACH_MSG_OOL_DESCRIPTOR
            | MACH_MSG_OOL_VOLATILE_DESCRIPTOR
            | MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                if off + 16 > raw.len() {
                    return Err(MACH_SEND_MSG_TOO_SMALL);
                }
                let addr = rd64(raw, off);
                let n = rd32(raw, off + 12) as usize;
                if ty == MACH_MSG_OOL_PORTS_DESCRIPTOR {
                    if n > 0 && addr == 0 {
                        return Err(MACH_SEND_INVALID_MEMORY);
                    }
                    let mut names = vec![0u32; n];
                    if n > 0 {
                        // SAFETY: the caller guarantees the array is readable (`n` names).
                        unsafe {
                            ptr::copy_nonoverlapping(
                                addr as usize as *const u32,
                                names.as_mut_ptr(),
                                n,
                            )
                        };
                    }
                    out.push(PDesc::OolPorts {
                        off,
                        names,
                        disp: u32::from(raw[off + 10]),
                    });
                } else {
                    if n > 0 && addr == 0 {
                        return Err(MACH_SEND_INVALID_MEMORY);
                    }
                    let mut data = vec![0u8; n];
                    if n > 0 {
                        // SAFETY: the caller guarantees the region is readable (`n` bytes).
                        unsafe {
                            ptr::copy_nonoverlapping(
                                addr as usize as *const u8,
                                data.as_mut_ptr(),
                                n,
                            )
                        };
                    }
                    out.push(PDesc::Ool { off, data });
                }
                off += 16;
            }
            _ => return Err(MACH_SEND_INVALID_TYPE),
        }
    }
    Ok(out)
}

/// Right consumption planned for one name during copyin.
#[derive(Default, Clone, Copy)]
struct Use {
    send: u32,
    dead: u32,
    send_once: bool,
    receive: bool,
}

impl State {
    /// Checks that `name` can supply a right with disposition `disp`, given what the message
    /// already takes from it.
    fn plan_right(
        &mut self,
        t: TaskId,
        name: Name,
        disp: u32,
        plan: &mut IdMap<Name, Use>,
        deadok: bool,
    ) -> bool {
        if name == MACH_PORT_NULL {
            return true;
        }
        if name == MACH_PORT_DEAD {
            return deadok && disp != MACH_MSG_TYPE_MOVE_RECEIVE;
        }
        let Some(e) = self.lookup(t, name) else {
            return false;
        };
        let u = plan.entry(name).or_default();
        if e.obj == Obj::Dead {
            // A dead name stands in for a send or send-once right in a message body/reply.
            return match disp {
                _ if !deadok => false,
                MACH_MSG_TYPE_COPY_SEND => true,
                MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE if e.dead > u.dead => {
                    u.dead += 1;
                    true
                }
                _ => false,
            };
        }
        if !matches!(e.obj, Obj::Port(_)) {
            return false;
        }
        match disp {
            MACH_MSG_TYPE_MOVE_RECEIVE if e.receive && !u.receive => {
                u.receive = true;
                true
            }
            MACH_MSG_TYPE_COPY_SEND => e.send > u.send,
            MACH_MSG_TYPE_MOVE_SEND if e.send > u.send => {
                u.send += 1;
                true
            }
            MACH_MSG_TYPE_MAKE_SEND | MACH_MSG_TYPE_MAKE_SEND_ONCE => e.receive && !u.receive,
            MACH_MSG_TYPE_MOVE_SEND_ONCE if e.send_once && !u.send_once => {
                u.send_once = true;
                true
            }
            _ => false,
        }
    }

    /// Takes a right out of the sender's name table (after [`State::plan_right`] succeeded).
    fn apply_right(&mut self, t: TaskId, name: Name, disp: u32, dest: PortId) -> KRight {
        if name == MACH_PORT_NULL {
            return KRight::Null;
        }
        if name == MACH_PORT_DEAD {
            return KRight::Dead;
        }
        let mut e = self.lookup(t, name).expect("planned right");
        let p = match e.obj {
            Obj::Dead => {
                if disp != MACH_MSG_TYPE_COPY_SEND {
                    e.dead -= 1;
                    self.store_entry(t, name, e);
                }
                return KRight::Dead;
            }
            Obj::Port(p) => p,
            Obj::Set(_) => unreachable!("planned right on a set"),
        };
        match disp {
            MACH_MSG_TYPE_MOVE_RECEIVE => {
                e.receive = false;
                self.store_entry(t, name, e);
                self.unlink_member(p);
                let port = self.ports.get_mut(&p).expect("live port");
                port.receiver = Receiver::Transit(dest);
                // Threads blocked on the port in this task lose it.
                let waiters: Vec<_> = port.rcv_waiters.drain(..).collect();
                for wid in waiters {
                    if let Some(w) = self.rcv_waiters.get_mut(&wid) {
                        w.outcome = Some(RcvOutcome::Changed);
                        self.wake(wid);
                    }
                }
                KRight::Receive(p)
            }
            MACH_MSG_TYPE_COPY_SEND => {
                self.ports.get_mut(&p).expect("live port").srights += 1;
                KRight::Send(p)
            }
            MACH_MSG_TYPE_MOVE_SEND => {
                // The send right (one uref) moves into the message; the port's count of send
                // rights is unchanged unless the entry keeps others.
                e.send -= 1;
                if e.send > 0 {
                    self.ports.get_mut(&p).expect("live port").srights += 1;
                }
                self.store_entry(t, name, e);
                KRight::Send(p)
            }
            MACH_MSG_TYPE_MAKE_SEND => {
                let port = self.ports.get_mut(&p).expect("live port");
                port.mscount += 1;
                port.srights += 1;
                KRight::Send(p)
            }
            MACH_MSG_TYPE_MAKE_SEND_ONCE => KRight::SendOnce(p),
            MACH_MSG_TYPE_MOVE_SEND_ONCE => {
                e.send_once = false;
                self.store_entry(t, name, e);
                KRight::SendOnce(p)
            }
            _ => unreachable!("planned disposition {disp}"),
        }
    }

    /// Copies a parsed message in: validates everything, then takes the rights.
    fn copyin(&mut self, t: TaskId, parsed: Parsed) -> Result<KMsg, mach_msg_return_t> {
        let Parsed { raw, body } = parsed;
        let bits = rd32(&raw, 0);
        let (remote, local) = (rd32(&raw, 8), rd32(&raw, 12));
        let dest_disp = MACH_MSGH_BITS_REMOTE(bits);
        let reply_disp = MACH_MSGH_BITS_LOCAL(bits);
        // The voucher field is ignored (NextBSD has no vouchers).
        if !is_send_disposition(dest_disp) {
            return Err(MACH_SEND_INVALID_HEADER);
        }
        if (reply_disp == 0 && local != MACH_PORT_NULL)
            || (reply_disp != 0 && !is_send_disposition(reply_disp))
        {
            return Err(MACH_SEND_INVALID_HEADER);
        }
        let mut plan = IdMap::default();
        if !MACH_PORT_VALID(remote) || !self.plan_right(t, remote, dest_disp, &mut plan, false) {
            return Err(MACH_SEND_INVALID_DEST);
        }
        if reply_disp != 0 && !self.plan_right(t, local, reply_disp, &mut plan, true) {
            return Err(MACH_SEND_INVALID_REPLY);
        }
        let descs = body?;
        for d in &descs {
            let ok = match d {
                PDesc::Port { name, disp, .. } => {
                    is_port_disposition(*disp) && self.plan_right(t, *name, *disp, &mut plan, true)
                }
                PDesc::OolPorts { names, disp, .. } => {
                    is_port_disposition(*disp)
                        && names
                            .iter()
                            .all(|n| self.plan_right(t, *n, *disp, &mut plan, true))
                }
                PDesc::Ool { .. } => true,
            };
            if !ok {
                return Err(MACH_SEND_INVALID_RIGHT);
            }
        }
        // Commit: nothing below can fail.
        let dest = self.apply_right(t, remote, dest_disp, PortId(0));
        let dest_port = match dest {
            KRight::Send(p) | KRight::SendOnce(p) => p,
            other => unreachable!("destination {other:?}"),
        };
        let reply = if reply_disp == 0 {
            KPort {
                right: KRight::Null,
                ty: 0,
            }
        } else {
            KPort {
                right: self.apply_right(t, local, reply_disp, dest_port),
                ty: received_type(reply_disp),
            }
        };
        let mut kdescs = Vec::with_capacity(descs.len());
        for d in descs {
            match d {
                PDesc::Port { off, name, disp } => {
                    let right = self.apply_right(t, name, disp, dest_port);
                    kdescs.push((
                        off,
                        KDesc::Port(KPort {
                            right,
                            ty: received_type(disp),
                        }),
                    ));
                }
                PDesc::Ool { off, data } => kdescs.push((off, KDesc::Ool(data))),
                PDesc::OolPorts { off, names, disp } => {
                    let rights = names
                        .iter()
                        .map(|n| self.apply_right(t, *n, disp, dest_port))
                        .collect();
                    kdescs.push((off, KDesc::OolPorts(rights, received_type(disp))));
                }
            }
        }
        let audit = self.tasks[&t].audit();
        Ok(KMsg {
            raw,
            dest,
            reply,
            descs: kdescs,
            kernel: false,
            audit,
        })
    }

    /// Whether a queue is at its limit (a dead port never is: the message will be destroyed).
    fn queue_full(&self, p: PortId) -> bool {
        self.ports
            .get(&p)
            .is_some_and(|port| port.queue.len() as u32 >= port.qlimit)
    }

    /// Whether delivering `msg` to `p` would put a receive right inside its own queue (directly
    /// or through ports in transit). XNU destroys such a message and reports success.
    fn is_circular(&self, msg: &KMsg, p: PortId) -> bool {
        for r in msg.receive_rights() {
            let mut d = p;
            for _ in 0..=self.ports.len() {
                if d == r {
                    return true;
                }
                match self.ports.get(&d).map(|port| port.receiver) {
                    Some(Receiver::Transit(next)) if next != d => d = next,
                    _ => break,
                }
            }
        }
        false
    }

    /// Delivers a message to its destination without blocking: to a blocked receiver if there
    /// is one (no knote activity), else onto the queue, signalling the set's knotes. A message
    /// for a dead port is destroyed.
    pub(crate) fn post(&mut self, msg: KMsg) {
        let p = msg.dest_port();
        if !self.ports.contains_key(&p) || self.is_circular(&msg, p) {
            self.destroy_msg(msg);
            return;
        }
        for r in msg.receive_rights() {
            if let Some(port) = self.ports.get_mut(&r) {
                port.receiver = Receiver::Transit(p);
            }
        }
        let id = msg.id();
        let to = match self.ports[&p].receiver {
            Receiver::Task(t, _) => Some(t),
            Receiver::Transit(_) => None,
        };
        self.fault_delivered(id, to);
        if let Some(msg) = self.handoff(p, msg) {
            let port = self.ports.get_mut(&p).expect("live port");
            port.queue.push_back(msg);
            if let Some(s) = port.set {
                self.member_enqueued(p, s);
            }
        }
    }

    /// Offers a message to the receivers blocked on `p`, then on its set. Returns it if nobody
    /// took it. A receiver it does not fit wakes with `MACH_RCV_TOO_LARGE` (with
    /// `MACH_RCV_LARGE` the message then goes on to the next receiver or the queue).
    pub(crate) fn handoff(&mut self, p: PortId, msg: KMsg) -> Option<KMsg> {
        loop {
            let port = self.ports.get_mut(&p).expect("live port");
            let local = port.receiver_name();
            let wid = match port.rcv_waiters.pop_front() {
                Some(w) => w,
                None => {
                    let set = port.set;
                    match set
                        .and_then(|s| self.sets.get_mut(&s))
                        .and_then(|s| s.rcv_waiters.pop_front())
                    {
                        Some(w) => w,
                        None => return Some(msg),
                    }
                }
            };
            let Some(w) = self.rcv_waiters.get_mut(&wid) else {
                continue;
            };
            // Every branch below gives this waiter an outcome.
            self.pending_wakes.push(wid);
            let port = self.ports.get_mut(&p).expect("live port");
            let needed = u64::from(msg.size()) + u64::from(REQUESTED_TRAILER_SIZE(w.option));
            if needed <= u64::from(w.rcv_size) {
                let seqno = port.seqno;
                port.seqno = port.seqno.wrapping_add(1);
                w.outcome = Some(RcvOutcome::Msg { msg, local, seqno });
                return None;
            }
            if w.option & MACH_RCV_LARGE != 0 {
                w.outcome = Some(RcvOutcome::TooLarge {
                    size: msg.size(),
                    local,
                });
                continue;
            }
            port.seqno = port.seqno.wrapping_add(1);
            w.outcome = Some(RcvOutcome::TooLargeDestroy { msg, local });
            return None;
        }
    }

    /// Destroys an undelivered message: the destination right is consumed quietly, every other
    /// right is destroyed (with the notifications that follow), OOL memory dropped.
    pub(crate) fn destroy_msg(&mut self, msg: KMsg) {
        if let KRight::Send(p) = msg.dest {
            self.release_send(p);
        }
        self.destroy_kright(msg.reply.right);
        for (_, d) in msg.descs {
            match d {
                KDesc::Port(kp) => self.destroy_kright(kp.right),
                KDesc::OolPorts(rights, _) => {
                    for r in rights {
                        self.destroy_kright(r);
                    }
                }
                KDesc::Ool(_) => {}
            }
        }
    }

    /// Takes the first message off a port's queue; the receive wakes one blocked sender.
    fn dequeue(&mut self, p: PortId) -> (KMsg, u32) {
        let port = self.ports.get_mut(&p).expect("live port");
        let msg = port.queue.pop_front().expect("non-empty queue");
        let seqno = port.seqno;
        port.seqno = port.seqno.wrapping_add(1);
        self.grant_sender(p);
        (msg, seqno)
    }

    /// The first port with a message: the port itself, or the first non-empty member in set
    /// order (under XNU's prepost rule: the first preposted member with a message, clearing the
    /// preposts of empty members walked past).
    fn first_nonempty(&mut self, target: RcvTarget) -> Option<PortId> {
        match target {
            RcvTarget::Port(p) => (!self.ports[&p].queue.is_empty()).then_some(p),
            RcvTarget::Set(s) if self.set_signal == SetSignalSemantics::XnuPrepost => {
                self.prepost_first(s)
            }
            RcvTarget::Set(s) => self.sets[&s]
                .members
                .iter()
                .copied()
                .find(|m| !self.ports[m].queue.is_empty()),
        }
    }

    /// Writes descriptors (rights copied out into `t`, OOL memory into new `malloc` buffers).
    fn copyout_descs(&mut self, t: TaskId, raw: &mut [u8], descs: Vec<(usize, KDesc)>) {
        for (off, d) in descs {
            match d {
                KDesc::Port(kp) => {
                    let name = self.copyout_right(t, kp.right);
                    wr32(raw, off, name);
                    wr32(raw, off + 4, 0);
                    raw[off + 8] = 0;
                    raw[off + 9] = 0;
                    raw[off + 10] = kp.ty as u8;
                    raw[off + 11] = MACH_MSG_PORT_DESCRIPTOR;
                }
                KDesc::Ool(data) => {
                    let addr = malloc_copy(&data);
                    wr64(raw, off, addr as u64);
                    raw[off + 8] = 1; // deallocate: the receiver owns the memory
                    raw[off + 9] = MACH_MSG_VIRTUAL_COPY;
                    raw[off + 10] = 0;
                    wr32(raw, off + 12, data.len() as u32);
                }
                KDesc::OolPorts(rights, ty) => {
                    let names: Vec<u8> = rights
                        .into_iter()
                        .flat_map(|r| self.copyout_right(t, r).to_le_bytes())
                        .collect();
                    let addr = malloc_copy(&names);
                    wr64(raw, off, addr as u64);
                    raw[off + 8] = 1;
                    raw[off + 9] = MACH_MSG_VIRTUAL_COPY;
                    raw[off + 10] = ty as u8;
                    wr32(raw, off + 12, (names.len() / 4) as u32);
                }
            }
        }
    }

    /// Copies a received message out into `t`'s buffer.
    ///
    /// # Safety
    /// `buf` writable for `msg.size() + REQUESTED_TRAILER_SIZE(option)` bytes.
    unsafe fn copyout_msg(
        &mut self,
        t: TaskId,
        msg: KMsg,
        local: Name,
        seqno: u32,
        option: u32,
        buf: *mut u8,
    ) {
        let dest_ty = msg.dest_type();
        let KMsg {
            mut raw,
            dest,
            reply,
            descs,
            kernel,
            audit,
        } = msg;
        // The destination right is consumed: the receiver holds the receive right.
        if let KRight::Send(p) = dest {
            self.release_send(p);
        }
        let reply_name = self.copyout_right(t, reply.right);
        let bits = (rd32(&raw, 0) & MACH_MSGH_BITS_COMPLEX) | MACH_MSGH_BITS(reply.ty, dest_ty);
        let size = raw.len() as u32;
        wr32(&mut raw, 0, bits);
        wr32(&mut raw, 4, size);
        wr32(&mut raw, 8, reply_name);
        wr32(&mut raw, 12, local);
        wr32(&mut raw, 16, 0);
        self.copyout_descs(t, &mut raw, descs);
        let trailer_size = REQUESTED_TRAILER_SIZE(option);
        let mut trailer = [0u8; MAX_TRAILER_SIZE as usize];
        wr32(&mut trailer, 0, MACH_MSG_TRAILER_FORMAT_0);
        wr32(&mut trailer, 4, trailer_size);
        wr32(&mut trailer, 8, seqno);
        wr32(&mut trailer, 12, 0);
        wr32(&mut trailer, 16, u32::from(kernel));
        for (i, v) in audit.iter().enumerate() {
            wr32(&mut trailer, 20 + 4 * i, *v);
        }
        // SAFETY: the caller checked the buffer rule (size + trailer <= rcv_size).
        unsafe {
            ptr::copy_nonoverlapping(raw.as_ptr(), buf, raw.len());
            ptr::copy_nonoverlapping(trailer.as_ptr(), buf.add(raw.len()), trailer_size as usize);
        }
    }

    /// Returns a message that could not be sent to the sender's buffer, its rights back in the
    /// sender's name table (XNU `ipc_kmsg_copyout_pseudo`): `msgh_remote_port` = the destination
    /// (type 17/18 in the remote bits), `msgh_local_port` = the reply right.
    ///
    /// # Safety
    /// `buf` writable for the message's size (it is the buffer the message was sent from).
    unsafe fn pseudo_receive(&mut self, t: TaskId, msg: KMsg, buf: *mut u8) {
        let dest_ty = msg.dest_type();
        let KMsg {
            mut raw,
            dest,
            reply,
            descs,
            ..
        } = msg;
        let dest_name = self.copyout_right(t, dest);
        let reply_name = self.copyout_right(t, reply.right);
        let bits = (rd32(&raw, 0) & MACH_MSGH_BITS_COMPLEX) | MACH_MSGH_BITS(dest_ty, reply.ty);
        wr32(&mut raw, 0, bits);
        let size = raw.len() as u32;
        wr32(&mut raw, 4, size);
        wr32(&mut raw, 8, dest_name);
        wr32(&mut raw, 12, reply_name);
        wr32(&mut raw, 16, 0);
        self.copyout_descs(t, &mut raw, descs);
        // SAFETY: same buffer and size as the send.
        unsafe { ptr::copy_nonoverlapping(raw.as_ptr(), buf, raw.len()) };
    }
}

fn malloc_copy(data: &[u8]) -> *mut u8 {
    if data.is_empty() {
        return ptr::null_mut();
    }
    // SAFETY: plain allocation; the receiver owns it and frees it with `libc::free`.
    let p = unsafe { libc::malloc(data.len()) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` was just allocated with `data.len()` bytes.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    }
    p
}

fn deadline(ms: u32) -> Instant {
    Instant::now() + Duration::from_millis(u64::from(ms))
}

/// The send half of `mach_msg`.
///
/// # Safety
/// `buf` is the sender's buffer, writable for the message size (for pseudo-receive).
pub(crate) unsafe fn send(
    st: &mut Locked<'_>,
    t: TaskId,
    parsed: Parsed,
    option: u32,
    timeout: u32,
    buf: *mut u8,
) -> mach_msg_return_t {
    if !st.task_is_active(t) {
        return MACH_SEND_INVALID_DEST;
    }
    let injected = st.fault_send_failure(t);
    if let Some(code) = injected {
        if code != MACH_SEND_TIMED_OUT && code != MACH_SEND_INTERRUPTED {
            // Reported as a failed check: nothing was copied in.
            return code;
        }
    }
    let msg = match st.copyin(t, parsed) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if let Some(code) = injected {
        // Reported after copyin: the message comes back to the sender (XNU copyout_pseudo).
        // SAFETY: forwarded.
        unsafe { st.pseudo_receive(t, msg, buf) };
        return code;
    }
    let p = msg.dest_port();
    // A send-once destination bypasses the queue limit (`mach-abi.md` §7).
    if matches!(msg.dest, KRight::SendOnce(_)) || !st.queue_full(p) {
        st.post(msg);
        return MACH_MSG_SUCCESS;
    }
    let timed = option & MACH_SEND_TIMEOUT != 0;
    if timed && timeout == 0 {
        // SAFETY: forwarded.
        unsafe { st.pseudo_receive(t, msg, buf) };
        return MACH_SEND_TIMED_OUT;
    }
    let deadline = timed.then(|| deadline(timeout));
    let wid = WaiterId(st.fresh());
    st.send_waiters.insert(
        wid,
        SendWaiter {
            port: p,
            granted: false,
        },
    );
    st.ports
        .get_mut(&p)
        .expect("live port")
        .send_waiters
        .push_back(wid);
    let mut timed_out = false;
    loop {
        match st.send_waiters.get(&wid).map(|w| w.granted) {
            None => {
                // The port died while we waited: the message is destroyed, the send "succeeds".
                st.destroy_msg(msg);
                return MACH_MSG_SUCCESS;
            }
            Some(true) => {
                st.send_waiters.remove(&wid);
                st.post(msg);
                // The room this sender was granted is used up only if its message went into
                // the queue. When it went straight to a receiver parked in `mach_msg`, the queue
                // is still below its limit and no later receive will dequeue to grant the next
                // blocked sender: pass the room on now.
                st.grant_sender(p);
                return MACH_MSG_SUCCESS;
            }
            Some(false) => {}
        }
        if !st.task_is_active(t) || timed_out {
            let w = st.send_waiters.remove(&wid).expect("present");
            if let Some(port) = st.ports.get_mut(&w.port) {
                port.send_waiters.retain(|x| *x != wid);
            }
            if !st.task_is_active(t) {
                // The task was terminated under us: nothing to return the message to.
                st.destroy_msg(msg);
                return MACH_SEND_INTERRUPTED;
            }
            // SAFETY: forwarded.
            unsafe { st.pseudo_receive(t, msg, buf) };
            return MACH_SEND_TIMED_OUT;
        }
        timed_out = st.wait_waiter(wid, deadline);
    }
}

/// Writes the TOO_LARGE information XNU gives (`mach-abi.md` §6.4): the needed size without
/// trailer into `msgh_size`, and with `MACH_RCV_LARGE_IDENTITY` the member name into
/// `msgh_local_port`.
///
/// # Safety
/// `buf` writable for `rcv_size` bytes.
unsafe fn write_too_large(buf: *mut u8, rcv_size: u32, size: u32, local: Name, option: u32) {
    if rcv_size >= 8 {
        // SAFETY: within the buffer.
        unsafe { ptr::write_unaligned(buf.add(4).cast::<u32>(), size) };
    }
    if option & MACH_RCV_LARGE_IDENTITY != 0 && rcv_size >= 16 {
        // SAFETY: within the buffer.
        unsafe { ptr::write_unaligned(buf.add(12).cast::<u32>(), local) };
    }
}

/// The receive half of `mach_msg`.
///
/// # Safety
/// `buf` writable for `rcv_size` bytes.
pub(crate) unsafe fn receive(
    st: &mut Locked<'_>,
    t: TaskId,
    buf: *mut u8,
    option: u32,
    rcv_size: u32,
    rcv_name: Name,
    timeout: u32,
) -> mach_msg_return_t {
    if buf.is_null() {
        return MACH_RCV_INVALID_DATA;
    }
    if option & MACH_RCV_TRAILER_TYPE(0xf) != MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) {
        return MACH_RCV_INVALID_TRAILER;
    }
    if !st.task_is_active(t) {
        return MACH_RCV_INVALID_NAME;
    }
    let target = match st.lookup(t, rcv_name) {
        Some(e) => match e.obj {
            Obj::Port(p) if e.receive => RcvTarget::Port(p),
            Obj::Set(s) => RcvTarget::Set(s),
            _ => return MACH_RCV_INVALID_NAME,
        },
        None => return MACH_RCV_INVALID_NAME,
    };
    if let Some(code) = st.fault_receive_failure(t) {
        // The queue is left as it is.
        return code;
    }
    let trailer = REQUESTED_TRAILER_SIZE(option);
    if let Some(p) = st.first_nonempty(target) {
        let port = &st.ports[&p];
        let size = port.queue.front().expect("non-empty").size();
        let local = port.receiver_name();
        if u64::from(size) + u64::from(trailer) > u64::from(rcv_size) {
            if option & MACH_RCV_LARGE == 0 {
                let (msg, _) = st.dequeue(p);
                st.destroy_msg(msg);
            }
            // SAFETY: forwarded.
            unsafe { write_too_large(buf, rcv_size, size, local, option) };
            return MACH_RCV_TOO_LARGE;
        }
        let (msg, seqno) = st.dequeue(p);
        if let RcvTarget::Set(s) = target {
            st.prepost_rotate(s, p);
        }
        let id = msg.id();
        // SAFETY: size checked above.
        unsafe { st.copyout_msg(t, msg, local, seqno, option, buf) };
        st.fault_received(t, rcv_name, id);
        return MACH_MSG_SUCCESS;
    }
    let timed = option & MACH_RCV_TIMEOUT != 0;
    if timed && timeout == 0 {
        return MACH_RCV_TIMED_OUT;
    }
    let deadline = timed.then(|| deadline(timeout));
    let wid = WaiterId(st.fresh());
    st.rcv_waiters.insert(
        wid,
        RcvWaiter {
            rcv_size,
            option,
            outcome: None,
        },
    );
    match target {
        RcvTarget::Port(p) => st
            .ports
            .get_mut(&p)
            .expect("live")
            .rcv_waiters
            .push_back(wid),
        RcvTarget::Set(s) => st
            .sets
            .get_mut(&s)
            .expect("live")
            .rcv_waiters
            .push_back(wid),
    }
    let mut timed_out = false;
    let outcome = loop {
        if st.rcv_waiters[&wid].outcome.is_some() {
            break st
                .rcv_waiters
                .remove(&wid)
                .and_then(|w| w.outcome)
                .expect("outcome");
        }
        if timed_out || !st.task_is_active(t) {
            st.rcv_waiters.remove(&wid);
            match target {
                RcvTarget::Port(p) => {
                    if let Some(port) = st.ports.get_mut(&p) {
                        port.rcv_waiters.retain(|x| *x != wid);
                    }
                }
                RcvTarget::Set(s) => {
                    if let Some(set) = st.sets.get_mut(&s) {
                        set.rcv_waiters.retain(|x| *x != wid);
                    }
                }
            }
            return if timed_out {
                MACH_RCV_TIMED_OUT
            } else {
                MACH_RCV_PORT_DIED
            };
        }
        timed_out = st.wait_waiter(wid, deadline);
    };
    match outcome {
        RcvOutcome::Msg { msg, local, seqno } => {
            if !st.task_is_active(t) {
                st.destroy_msg(msg);
                return MACH_RCV_PORT_DIED;
            }
            let id = msg.id();
            // SAFETY: the sender checked the size against our buffer at hand-off.
            unsafe { st.copyout_msg(t, msg, local, seqno, option, buf) };
            st.fault_received(t, rcv_name, id);
            MACH_MSG_SUCCESS
        }
        RcvOutcome::TooLarge { size, local } => {
            // SAFETY: forwarded.
            unsafe { write_too_large(buf, rcv_size, size, local, option) };
            MACH_RCV_TOO_LARGE
        }
        RcvOutcome::TooLargeDestroy { msg, local } => {
            let size = msg.size();
            st.destroy_msg(msg);
            // SAFETY: forwarded.
            unsafe { write_too_large(buf, rcv_size, size, local, option) };
            MACH_RCV_TOO_LARGE
        }
        RcvOutcome::Died => MACH_RCV_PORT_DIED,
        RcvOutcome::Changed => MACH_RCV_PORT_CHANGED,
    }
}

/// `mach_msg_destroy` with the project's rule (`mach-abi.md` §9.4), on a message in `t`'s
/// buffer: remote and voucher per their bits, local ignored, descriptors per disposition, OOL
/// memory freed when `deallocate` is set.
///
/// # Safety
/// `msg` points to a whole message of `msgh_size` bytes.
pub(crate) unsafe fn destroy_user_msg(st: &mut State, t: TaskId, msg: *const mach_msg_header_t) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a readable header.
    let header = unsafe { ptr::read_unaligned(msg) };
    let bits = header.msgh_bits;
    dispose(st, t, header.msgh_remote_port, MACH_MSGH_BITS_REMOTE(bits));
    dispose(
        st,
        t,
        header.msgh_voucher_port,
        MACH_MSGH_BITS_VOUCHER(bits),
    );
    if bits & MACH_MSGH_BITS_COMPLEX == 0 || (header.msgh_size as usize) < HEADER + 4 {
        return;
    }
    let size = header.msgh_size as usize;
    let mut raw = vec![0u8; size];
    // SAFETY: the caller guarantees `msgh_size` readable bytes.
    unsafe { ptr::copy_nonoverlapping(msg.cast::<u8>(), raw.as_mut_ptr(), size) };
    let count = rd32(&raw, HEADER);
    let mut off = HEADER + 4;
    for _ in 0..count {
        if off + 12 > size {
            break;
        }
        match raw[off + MACH_MSG_DESCRIPTOR_TYPE_OFFSET] {
            MACH_MSG_PORT_DESCRIPTOR => {
                dispose(st, t, rd32(&raw, off), u32::from(raw[off + 10]));
                off += 12;
            }
            ty @ (MACH_MSG_OOL_DESCRIPTOR
            | MACH_MSG_OOL_VOLATILE_DESCRIPTOR
            | MACH_MSG_OOL_PORTS_DESCRIPTOR) => {
                if off + 16 > size {
                    break;
                }
                let addr = rd64(&raw, off) as usize;
                let dealloc = raw[off + 8] != 0;
                let n = rd32(&raw, off + 12) as usize;
                if ty == MACH_MSG_OOL_PORTS_DESCRIPTOR && addr != 0 {
                    let disp = u32::from(raw[off + 10]);
                    for i in 0..n {
                        // SAFETY: the descriptor describes `n` readable names.
                        let name = unsafe { ptr::read_unaligned((addr as *const u32).add(i)) };
                        dispose(st, t, name, disp);
                    }
                }
                if dealloc && addr != 0 {
                    // SAFETY: memory received from this kernel was allocated with malloc.
                    unsafe { libc::free(addr as *mut libc::c_void) };
                }
                off += 16;
            }
            _ => break,
        }
    }
}

/// Releases one right named in a message per its (received or send) disposition.
fn dispose(st: &mut State, t: TaskId, name: Name, disp: u32) {
    if !MACH_PORT_VALID(name) {
        return;
    }
    match disp {
        MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE => {
            let _ = st.port_deallocate(t, name);
        }
        MACH_MSG_TYPE_MOVE_RECEIVE => {
            let _ = st.port_mod_refs(t, name, MACH_PORT_RIGHT_RECEIVE, -1);
        }
        // COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE (an unsent message) hold nothing.
        _ => {}
    }
}
