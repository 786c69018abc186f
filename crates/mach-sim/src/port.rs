//! Ports and port sets: queues, membership, send-right accounting, destruction and the
//! notification requests that hang off a port.

use crate::msg::{KMsg, KRight};
use crate::state::{KnoteId, PortId, RcvOutcome, SetId, State, TaskId, WaitQueue};
use crate::{KernResult, Name, SetSignalSemantics};
use mach_abi::*;
use std::collections::VecDeque;

/// Who holds a port's receive right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// A task, under this name.
    Task(TaskId, Name),
    /// A message destined to this port (queued there, or held by a sender blocked on it).
    Transit(PortId),
}

/// A port (the object behind a receive right).
pub(crate) struct Port {
    pub receiver: Receiver,
    /// Make-send count.
    pub mscount: u32,
    /// Send rights in existence: one per name table entry holding send urefs, one per send
    /// right in a message, one per kernel-held right.
    pub srights: u32,
    pub seqno: u32,
    pub qlimit: u32,
    pub queue: VecDeque<KMsg>,
    pub set: Option<SetId>,
    pub rcv_waiters: WaitQueue,
    pub send_waiters: WaitQueue,
    /// No-senders request: (sync, send-once right to notify).
    pub nsrequest: Option<(u32, PortId)>,
    /// Port-destroyed request: send-once right to notify.
    pub pdrequest: Option<PortId>,
    /// Dead-name requests: (task, name, send-once right to notify).
    pub dnrequests: Vec<(TaskId, Name, PortId)>,
}

impl Port {
    /// The receiving task's name for this port (0 while in transit).
    pub(crate) fn receiver_name(&self) -> Name {
        match self.receiver {
            Receiver::Task(_, n) => n,
            Receiver::Transit(_) => MACH_PORT_NULL,
        }
    }
}

/// A port set.
pub(crate) struct PortSet {
    pub task: TaskId,
    pub name: Name,
    /// Members in set order (insertion order; receives serve the first non-empty one).
    pub members: Vec<PortId>,
    pub rcv_waiters: WaitQueue,
    pub knotes: Vec<KnoteId>,
    /// XNU prepost list, in service order ([`crate::SetSignalSemantics::XnuPrepost`] only).
    pub preposted: Vec<PortId>,
}

impl State {
    pub(crate) fn new_port(&mut self, t: TaskId) -> PortId {
        let id = PortId(self.fresh());
        let port = Port {
            receiver: Receiver::Task(t, MACH_PORT_NULL),
            mscount: 0,
            srights: 0,
            seqno: 0,
            qlimit: self.qlimit,
            queue: VecDeque::new(),
            set: None,
            rcv_waiters: WaitQueue::new(),
            send_waiters: WaitQueue::new(),
            nsrequest: None,
            pdrequest: None,
            dnrequests: Vec::new(),
        };
        self.ports.insert(id, port);
        id
    }

    pub(crate) fn new_set(&mut self, t: TaskId) -> SetId {
        let id = SetId(self.fresh());
        let set = PortSet {
            task: t,
            name: MACH_PORT_NULL,
            members: Vec::new(),
            rcv_waiters: WaitQueue::new(),
            knotes: Vec::new(),
            preposted: Vec::new(),
        };
        self.sets.insert(id, set);
        id
    }

    /// Removes a port from its set, silently (no knote activity: `native-filter.md` §3.5).
    pub(crate) fn unlink_member(&mut self, p: PortId) {
        let Some(port) = self.ports.get_mut(&p) else {
            return;
        };
        if let Some(s) = port.set.take() {
            if let Some(set) = self.sets.get_mut(&s) {
                set.members.retain(|m| *m != p);
                set.preposted.retain(|m| *m != p);
            }
        }
    }

    /// Puts a port into a set (atomically leaving any previous set). Messages already queued
    /// go to receivers blocked on the set first; if any remain, the set's knotes are signalled.
    pub(crate) fn link_member(&mut self, p: PortId, s: SetId) {
        if self.ports[&p].set == Some(s) {
            return;
        }
        self.unlink_member(p);
        self.ports.get_mut(&p).expect("live port").set = Some(s);
        self.sets.get_mut(&s).expect("live set").members.push(p);
        // Receivers blocked on the set learn about the queued messages (XNU `ipc_mqueue_add`).
        while !self.sets[&s].rcv_waiters.is_empty() && !self.ports[&p].queue.is_empty() {
            let msg = self
                .ports
                .get_mut(&p)
                .expect("live port")
                .queue
                .pop_front()
                .expect("non-empty");
            if let Some(msg) = self.handoff(p, msg) {
                self.ports
                    .get_mut(&p)
                    .expect("live port")
                    .queue
                    .push_front(msg);
                break;
            }
            self.grant_sender(p);
        }
        if !self.ports[&p].queue.is_empty() {
            self.member_enqueued(p, s);
        }
    }

    /// Member `p` of set `s` has (new) queued messages: signal the set's knotes. Under XNU's
    /// prepost rule only a member that is not already preposted signals, and becomes preposted.
    pub(crate) fn member_enqueued(&mut self, p: PortId, s: SetId) {
        if self.set_signal == SetSignalSemantics::XnuPrepost {
            let Some(set) = self.sets.get_mut(&s) else {
                return;
            };
            if set.preposted.contains(&p) {
                return;
            }
            set.preposted.push(p);
        }
        self.signal_set(s);
    }

    /// XNU's prepost walk (a receive through the set, or the filter's probe): preposted members
    /// found empty at the front of the list lose their prepost; the first one with a message is
    /// returned (and keeps its prepost).
    pub(crate) fn prepost_first(&mut self, s: SetId) -> Option<PortId> {
        let ports = &self.ports;
        let set = self.sets.get_mut(&s)?;
        while let Some(&m) = set.preposted.first() {
            if ports.get(&m).is_some_and(|port| !port.queue.is_empty()) {
                return Some(m);
            }
            set.preposted.remove(0);
        }
        None
    }

    /// XNU: the member just served by a receive through the set moves to the back of the prepost
    /// list (round-robin service across members).
    pub(crate) fn prepost_rotate(&mut self, s: SetId, p: PortId) {
        if let Some(set) = self.sets.get_mut(&s) {
            if let Some(i) = set.preposted.iter().position(|m| *m == p) {
                let m = set.preposted.remove(i);
                set.preposted.push(m);
            }
        }
    }

    /// One send right to `p` went away; fires the no-senders notification when it was the last.
    pub(crate) fn release_send(&mut self, p: PortId) {
        let Some(port) = self.ports.get_mut(&p) else {
            return;
        };
        debug_assert!(
            port.srights > 0,
            "send-right count underflow on port #{}",
            p.0
        );
        port.srights = port.srights.saturating_sub(1);
        if port.srights == 0 {
            if let Some((_sync, target)) = port.nsrequest.take() {
                let mscount = port.mscount;
                self.post_notification_no_senders(target, mscount);
            }
        }
    }

    /// A send-once right to `p` was destroyed unused: `MACH_NOTIFY_SEND_ONCE` goes to `p`.
    pub(crate) fn destroy_send_once(&mut self, p: PortId) {
        if self.ports.contains_key(&p) {
            self.post_notification_send_once(p);
        }
    }

    /// Destroys a right that is not in a name table.
    pub(crate) fn destroy_kright(&mut self, r: KRight) {
        match r {
            KRight::Null | KRight::Dead => {}
            KRight::Send(p) => self.release_send(p),
            KRight::SendOnce(p) => self.destroy_send_once(p),
            KRight::Receive(p) => self.destroy_port(p),
        }
    }

    /// `ipc_port_destroy`: the receive right is gone. With a port-destroyed request the receive
    /// right travels to the requester instead; otherwise the port dies: queued messages are
    /// destroyed, blocked receivers get `MACH_RCV_PORT_DIED`, blocked senders finish (their
    /// messages destroyed), dead-name requests fire, and the no-senders request's send-once right
    /// is destroyed (`MACH_NOTIFY_SEND_ONCE`), as XNU does.
    pub(crate) fn destroy_port(&mut self, p: PortId) {
        let Some(port) = self.ports.get(&p) else {
            return;
        };
        // Unlink from the receiving task's entry (the caller may already have removed it).
        if let Receiver::Task(t, name) = port.receiver {
            if let Some(mut e) = self
                .tasks
                .get(&t)
                .and_then(|task| task.entries.get(&name))
                .copied()
            {
                if e.obj == crate::space::Obj::Port(p) && e.receive {
                    e.receive = false;
                    self.store_entry(t, name, e);
                }
            }
        }
        self.unlink_member(p);
        let port = self.ports.get_mut(&p).expect("checked");
        let waiters: Vec<_> = port.rcv_waiters.drain(..).collect();
        for wid in waiters {
            if let Some(w) = self.rcv_waiters.get_mut(&wid) {
                w.outcome = Some(RcvOutcome::Died);
                self.wake(wid);
            }
        }
        let port = self.ports.get_mut(&p).expect("checked");
        if let Some(target) = port.pdrequest.take() {
            // The port survives, its receive right inside the notification.
            port.receiver = Receiver::Transit(target);
            self.post_notification_port_destroyed(target, p);
            return;
        }
        let port = self.ports.remove(&p).expect("checked");
        // Blocked senders notice the port is gone when they wake (they destroy their message).
        for wid in port.send_waiters {
            self.send_waiters.remove(&wid);
            self.wake(wid);
        }
        for msg in port.queue {
            self.destroy_msg(msg);
        }
        if let Some((_, target)) = port.nsrequest {
            self.destroy_send_once(target);
        }
        for (t, name, target) in port.dnrequests {
            // The requester's right becomes a dead name with one extra uref for the
            // notification (XNU semantics: the receiver of the notification deallocates it).
            let entry = self
                .tasks
                .get(&t)
                .filter(|task| task.active)
                .and_then(|task| task.entries.get(&name))
                .copied();
            match entry {
                Some(e) if e.obj == crate::space::Obj::Port(p) && (e.send > 0 || e.send_once) => {
                    let urefs = e.send + u32::from(e.send_once) + 1;
                    self.store_entry(t, name, crate::space::Entry::dead(urefs));
                    self.post_notification_name(target, MACH_NOTIFY_DEAD_NAME, name);
                }
                _ => self.destroy_send_once(target),
            }
        }
    }

    /// Destroys a port set: members unlinked, blocked receivers get `MACH_RCV_PORT_DIED`, and
    /// the knotes either see `EV_EOF|EV_ONESHOT` with data 0 (`eof`) or are removed silently.
    pub(crate) fn destroy_set(&mut self, s: SetId, eof: bool) {
        let Some(set) = self.sets.remove(&s) else {
            return;
        };
        for m in set.members {
            if let Some(port) = self.ports.get_mut(&m) {
                port.set = None;
            }
        }
        for wid in set.rcv_waiters {
            if let Some(w) = self.rcv_waiters.get_mut(&wid) {
                w.outcome = Some(RcvOutcome::Died);
                self.wake(wid);
            }
        }
        for kn in set.knotes {
            if eof {
                self.knote_post_eof(kn);
            } else {
                self.knote_drop(kn);
            }
        }
    }

    /// Cancels the dead-name request registered for (`t`, `name`) on `p`, sending
    /// `MACH_NOTIFY_PORT_DELETED` through its send-once right.
    pub(crate) fn cancel_dnrequest(&mut self, p: PortId, t: TaskId, name: Name) {
        let Some(port) = self.ports.get_mut(&p) else {
            return;
        };
        if let Some(i) = port
            .dnrequests
            .iter()
            .position(|(rt, rn, _)| *rt == t && *rn == name)
        {
            let (_, _, target) = port.dnrequests.remove(i);
            self.post_notification_name(target, MACH_NOTIFY_PORT_DELETED, name);
        }
    }

    /// Gives the first sender blocked on `p` leave to enqueue, if the queue is below its limit.
    pub(crate) fn grant_sender(&mut self, p: PortId) {
        let Some(port) = self.ports.get_mut(&p) else {
            return;
        };
        if port.queue.len() as u32 >= port.qlimit {
            return;
        }
        while let Some(wid) = port.send_waiters.pop_front() {
            if let Some(w) = self.send_waiters.get_mut(&wid) {
                w.granted = true;
                // (`wake`, spelled out: `port` still borrows the ports.)
                self.pending_wakes.push(wid);
                break;
            }
        }
    }

    /// `mach_port_request_notification`.
    pub(crate) fn request_notification(
        &mut self,
        t: TaskId,
        name: Name,
        msgid: mach_msg_id_t,
        sync: mach_port_mscount_t,
        notify: Name,
        notify_poly: mach_msg_type_name_t,
    ) -> KernResult<Name> {
        use crate::space::Obj;
        self.live_task(t)?;
        if !matches!(
            msgid,
            MACH_NOTIFY_NO_SENDERS | MACH_NOTIFY_PORT_DESTROYED | MACH_NOTIFY_DEAD_NAME
        ) {
            return Err(KERN_INVALID_VALUE);
        }
        if msgid == MACH_NOTIFY_PORT_DESTROYED && sync != 0 {
            return Err(KERN_INVALID_VALUE);
        }
        if !MACH_PORT_VALID(name) {
            return Err(KERN_INVALID_NAME);
        }
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        match msgid {
            MACH_NOTIFY_NO_SENDERS | MACH_NOTIFY_PORT_DESTROYED => {
                if !(matches!(e.obj, Obj::Port(_)) && e.receive) {
                    return Err(KERN_INVALID_RIGHT);
                }
            }
            _ => {
                if matches!(e.obj, Obj::Set(_)) {
                    return Err(KERN_INVALID_RIGHT);
                }
            }
        }
        // The notify right: a send-once right made from a receive right, or moved from a
        // send-once name; MACH_PORT_NULL cancels the request.
        let target = if notify == MACH_PORT_NULL {
            None
        } else {
            let ne = self.lookup(t, notify).ok_or(KERN_INVALID_CAPABILITY)?;
            let Obj::Port(np) = ne.obj else {
                return Err(KERN_INVALID_CAPABILITY);
            };
            match notify_poly {
                MACH_MSG_TYPE_MAKE_SEND_ONCE if ne.receive => {}
                MACH_MSG_TYPE_MOVE_SEND_ONCE if ne.send_once => {}
                MACH_MSG_TYPE_MAKE_SEND_ONCE | MACH_MSG_TYPE_MOVE_SEND_ONCE => {
                    return Err(KERN_INVALID_CAPABILITY)
                }
                _ => return Err(KERN_INVALID_VALUE),
            }
            Some(np)
        };
        // Validated: consume a moved send-once right.
        if let (Some(_), MACH_MSG_TYPE_MOVE_SEND_ONCE) = (target, notify_poly) {
            let mut ne = self.lookup(t, notify).expect("validated");
            ne.send_once = false;
            self.store_entry(t, notify, ne);
        }
        let previous: Option<PortId> = match (msgid, e.obj) {
            (MACH_NOTIFY_NO_SENDERS, Obj::Port(p)) => {
                let port = self.ports.get_mut(&p).expect("live port");
                let previous = port.nsrequest.take().map(|(_, prev)| prev);
                if let Some(target) = target {
                    if port.srights == 0 && sync <= port.mscount {
                        // No senders now and the caller has seen every make-send: fire at once.
                        let mscount = port.mscount;
                        self.post_notification_no_senders(target, mscount);
                    } else {
                        port.nsrequest = Some((sync, target));
                    }
                }
                previous
            }
            (MACH_NOTIFY_PORT_DESTROYED, Obj::Port(p)) => {
                let port = self.ports.get_mut(&p).expect("live port");
                let previous = port.pdrequest.take();
                port.pdrequest = target;
                previous
            }
            (_, Obj::Dead) => {
                // Already dead: the notification is sent at once, with an extra uref.
                if let Some(target) = target {
                    let mut e = e;
                    if e.dead >= crate::space::UREFS_MAX {
                        self.destroy_send_once(target);
                        return Err(KERN_UREFS_OVERFLOW);
                    }
                    e.dead += 1;
                    self.store_entry(t, name, e);
                    self.post_notification_name(target, MACH_NOTIFY_DEAD_NAME, name);
                }
                None
            }
            (_, Obj::Port(p)) => {
                let port = self.ports.get_mut(&p).expect("live port");
                let previous = port
                    .dnrequests
                    .iter()
                    .position(|(rt, rn, _)| *rt == t && *rn == name)
                    .map(|i| port.dnrequests.remove(i).2);
                if let Some(target) = target {
                    port.dnrequests.push((t, name, target));
                }
                let mut e = e;
                e.dnrequest = target.is_some();
                self.store_entry(t, name, e);
                previous
            }
            _ => None,
        };
        Ok(match previous {
            Some(prev) => self.copyout_right(t, KRight::SendOnce(prev)),
            None => MACH_PORT_NULL,
        })
    }
}
