//! IPC spaces (tasks): name tables, name allocation and the `mach_port_*` calls.
//!
//! Names follow NextBSD, where every right is a file descriptor: the lowest free number at or
//! above 16 is allocated, so a freed name is reused by the next allocation (name-reuse bugs show
//! up in tests). One name denotes one object; a receive right and the send rights to the same
//! port share a name; each send-once right gets a name of its own; a send or send-once right
//! whose port died turns into a dead name (converted when the entry is next looked at, exactly
//! as XNU's `ipc_right_check` does, or at once for holders that requested a dead-name
//! notification).

use crate::port::Receiver;
use crate::state::{IdMap, PortId, SetId, State, TaskId};
use crate::{KernResult, Name};
use mach_abi::*;
use std::collections::BTreeSet;

/// First name NextBSD hands out (names are fds, allocated from 16).
pub(crate) const FIRST_NAME: Name = 16;
/// Maximum user references of a send or dead-name right (`MACH_PORT_UREFS_MAX`).
pub(crate) const UREFS_MAX: u32 = 0xFFFF;

/// What a name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Obj {
    Port(PortId),
    Set(SetId),
    Dead,
}

/// One name-table entry (the rights a task holds under one name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub obj: Obj,
    pub receive: bool,
    /// Send user references (0 = no send right).
    pub send: u32,
    pub send_once: bool,
    /// Dead-name user references.
    pub dead: u32,
    /// A dead-name notification is registered for this name (the request lives on the port).
    pub dnrequest: bool,
}

impl Entry {
    pub(crate) fn port(p: PortId) -> Entry {
        Entry {
            obj: Obj::Port(p),
            receive: false,
            send: 0,
            send_once: false,
            dead: 0,
            dnrequest: false,
        }
    }
    pub(crate) fn set(s: SetId) -> Entry {
        Entry {
            obj: Obj::Set(s),
            ..Entry::port(PortId(0))
        }
    }
    pub(crate) fn dead(urefs: u32) -> Entry {
        Entry {
            obj: Obj::Dead,
            dead: urefs,
            ..Entry::port(PortId(0))
        }
    }
    /// Whether the entry holds no right any more (and must be removed).
    pub(crate) fn is_empty(&self) -> bool {
        match self.obj {
            Obj::Port(_) => !self.receive && self.send == 0 && !self.send_once,
            Obj::Set(_) => false,
            Obj::Dead => self.dead == 0,
        }
    }
    /// Number of right kinds under this name (for [`crate::KernelStats::rights`]).
    pub(crate) fn right_count(&self) -> u32 {
        match self.obj {
            Obj::Port(_) => {
                u32::from(self.receive) + u32::from(self.send > 0) + u32::from(self.send_once)
            }
            Obj::Set(_) => 1,
            Obj::Dead => u32::from(self.dead > 0),
        }
    }
    /// `mach_port_type` bits.
    pub(crate) fn type_bits(&self) -> mach_port_type_t {
        let mut t = match self.obj {
            Obj::Set(_) => MACH_PORT_TYPE_PORT_SET,
            Obj::Dead => MACH_PORT_TYPE_DEAD_NAME,
            Obj::Port(_) => {
                let mut t = 0;
                if self.receive {
                    t |= MACH_PORT_TYPE_RECEIVE;
                }
                if self.send > 0 {
                    t |= MACH_PORT_TYPE_SEND;
                }
                if self.send_once {
                    t |= MACH_PORT_TYPE_SEND_ONCE;
                }
                t
            }
        };
        if self.dnrequest {
            t |= MACH_PORT_TYPE_DNREQUEST;
        }
        t
    }
    fn port_id(&self) -> Option<PortId> {
        match self.obj {
            Obj::Port(p) => Some(p),
            _ => None,
        }
    }
}

/// One task: an IPC space plus the identity stamped on its messages.
pub(crate) struct TaskState {
    pub name: String,
    pub pid: u32,
    pub euid: u32,
    pub egid: u32,
    pub active: bool,
    /// By name; a hash map, as a kernel's name table is indexed, not searched (iteration order
    /// is arbitrary: whoever needs name order sorts).
    pub entries: IdMap<Name, Entry>,
    /// Freed names below `high`, reused lowest first.
    free: BTreeSet<Name>,
    /// Next never-used name.
    high: Name,
    /// Reverse index: port → the name holding this task's receive and/or send right to it.
    pub port_names: IdMap<PortId, Name>,
    /// Names are real file descriptors of this process ([`crate::KernelConfig::names_are_descriptors`]).
    descriptors: bool,
    /// The descriptors reserved as names (only these are closed when their name is freed; a name
    /// chosen by the caller, as `insert_right` allows, has none).
    reserved: BTreeSet<Name>,
}

impl TaskState {
    pub(crate) fn new(name: &str, pid: u32, euid: u32, egid: u32, descriptors: bool) -> TaskState {
        TaskState {
            name: name.to_string(),
            pid,
            euid,
            egid,
            active: true,
            entries: IdMap::default(),
            free: BTreeSet::new(),
            high: FIRST_NAME,
            port_names: IdMap::default(),
            descriptors,
            reserved: BTreeSet::new(),
        }
    }

    /// The audit token of this task's messages (`mach-abi.md` §6.5; ruid/rgid = euid/egid).
    pub(crate) fn audit(&self) -> [u32; 8] {
        [
            0, self.euid, self.egid, self.euid, self.egid, self.pid, 0, 0,
        ]
    }

    fn alloc_name(&mut self) -> Name {
        if self.descriptors {
            if let Some(fd) = descriptor_names::reserve() {
                self.reserved.insert(fd);
                return fd;
            }
            // The process is out of descriptors (NextBSD would answer KERN_RESOURCE_SHORTAGE);
            // the model keeps going with names no descriptor can have.
            return self.free.pop_first().unwrap_or_else(|| {
                self.high = self.high.max(descriptor_names::FALLBACK_BASE);
                self.high += 1;
                self.high - 1
            });
        }
        match self.free.pop_first() {
            Some(n) => n,
            None => {
                let n = self.high;
                self.high += 1;
                n
            }
        }
    }

    fn release_name(&mut self, name: Name) {
        if self.reserved.remove(&name) {
            descriptor_names::release(name);
            return;
        }
        self.free.insert(name);
        // Keep `free` small: give back a tail of freed names.
        while self.high > FIRST_NAME && self.free.remove(&(self.high - 1)) {
            self.high -= 1;
        }
    }
}

/// Names that are real descriptors of this process, as on NextBSD (`mach-abi.md` §9.3): each
/// name is an open descriptor of `/dev/null` moved with `F_DUPFD_CLOEXEC` to the lowest free
/// number at or above 16, and closed when the name is freed. A name can then never collide with
/// another descriptor of the process (a kqueue, a socket), which is what lets the trap face
/// ([`crate::trap`]) tell `close(name)` from `close(fd)` exactly as NextBSD's single descriptor
/// table does. Nothing stays open between names, so a process's descriptor count is its names'.
mod descriptor_names {
    use super::{Name, FIRST_NAME};

    /// Names handed out when the process has no descriptor left (above any descriptor number).
    pub(super) const FALLBACK_BASE: Name = 0x0100_0000;

    /// A fresh descriptor ≥ 16 to use as a name (`None`: the process is out of descriptors).
    pub(super) fn reserve() -> Option<Name> {
        // SAFETY: a NUL-terminated path; open has no other preconditions.
        let tmp = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if tmp < 0 {
            return None;
        }
        if tmp >= FIRST_NAME as libc::c_int {
            return Some(tmp as Name);
        }
        // SAFETY: duplicating and closing a descriptor we just opened; no memory is involved.
        let fd = unsafe { libc::fcntl(tmp, libc::F_DUPFD_CLOEXEC, FIRST_NAME as libc::c_int) };
        // SAFETY: as above.
        unsafe { libc::close(tmp) };
        (fd >= 0).then_some(fd as Name)
    }

    /// Closes the descriptor behind a freed name.
    pub(super) fn release(name: Name) {
        // SAFETY: `name` is a descriptor `reserve` created for this name, which is being freed;
        // nothing else owns it.
        unsafe { libc::close(name as libc::c_int) };
    }
}

/// Right disposition helpers.
pub(crate) fn is_send_disposition(d: u32) -> bool {
    (MACH_MSG_TYPE_MOVE_SEND..=MACH_MSG_TYPE_MAKE_SEND_ONCE).contains(&d)
}
pub(crate) fn is_port_disposition(d: u32) -> bool {
    (MACH_MSG_TYPE_MOVE_RECEIVE..=MACH_MSG_TYPE_MAKE_SEND_ONCE).contains(&d)
}
/// The type a right arrives as (`mach-abi.md` §2.3).
pub(crate) fn received_type(d: u32) -> u32 {
    match d {
        MACH_MSG_TYPE_MOVE_RECEIVE => MACH_MSG_TYPE_PORT_RECEIVE,
        MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_COPY_SEND | MACH_MSG_TYPE_MAKE_SEND => {
            MACH_MSG_TYPE_PORT_SEND
        }
        MACH_MSG_TYPE_MOVE_SEND_ONCE | MACH_MSG_TYPE_MAKE_SEND_ONCE => MACH_MSG_TYPE_PORT_SEND_ONCE,
        other => other,
    }
}

// ---- name-table primitives ----

impl State {
    /// The task, if it exists and is alive.
    pub(crate) fn live_task(&self, t: TaskId) -> KernResult<&TaskState> {
        self.tasks
            .get(&t)
            .filter(|t| t.active)
            .ok_or(KERN_INVALID_TASK)
    }

    pub(crate) fn task_is_active(&self, t: TaskId) -> bool {
        self.tasks.get(&t).is_some_and(|t| t.active)
    }

    /// Looks a name up, first turning a send/send-once right whose port died into a dead name.
    pub(crate) fn lookup(&mut self, t: TaskId, name: Name) -> Option<Entry> {
        let ports = &self.ports;
        let task = self.tasks.get_mut(&t)?;
        let e = task.entries.get_mut(&name)?;
        if let Obj::Port(p) = e.obj {
            if !ports.contains_key(&p) {
                // Edge case: the receive flag is always cleared when a port dies, so only send
                // and send-once rights can still point at a dead port.
                debug_assert!(!e.receive);
                let urefs = e.send + u32::from(e.send_once);
                *e = Entry::dead(urefs.max(1));
                if task.port_names.get(&p) == Some(&name) {
                    task.port_names.remove(&p);
                }
            }
        }
        task.entries.get(&name).copied()
    }

    /// Inserts a new entry under the lowest free name.
    pub(crate) fn insert_entry(&mut self, t: TaskId, e: Entry) -> Name {
        let task = self.tasks.get_mut(&t).expect("task exists");
        let name = task.alloc_name();
        task.entries.insert(name, e);
        if let Obj::Port(p) = e.obj {
            if e.receive || e.send > 0 {
                task.port_names.insert(p, name);
            }
        }
        name
    }

    /// Stores an updated entry (removing it, and freeing its name, if it holds nothing).
    pub(crate) fn store_entry(&mut self, t: TaskId, name: Name, e: Entry) {
        let task = self.tasks.get_mut(&t).expect("task exists");
        if let Some(p) = task.entries.get(&name).and_then(Entry::port_id) {
            if task.port_names.get(&p) == Some(&name) {
                task.port_names.remove(&p);
            }
        }
        if e.is_empty() {
            if task.entries.remove(&name).is_some() {
                task.release_name(name);
            }
            // The name lost its last port right: its dead-name request is cancelled
            // (`MACH_NOTIFY_PORT_DELETED`).
            if let (true, Obj::Port(p)) = (e.dnrequest, e.obj) {
                self.cancel_dnrequest(p, t, name);
            }
            return;
        }
        task.entries.insert(name, e);
        if let Some(p) = e.port_id() {
            if e.receive || e.send > 0 {
                task.port_names.insert(p, name);
            }
        }
    }

    /// Removes an entry entirely (without releasing its rights: the caller does that).
    pub(crate) fn remove_entry(&mut self, t: TaskId, name: Name) -> Option<Entry> {
        let task = self.tasks.get_mut(&t)?;
        let e = task.entries.remove(&name)?;
        task.release_name(name);
        if let Some(p) = e.port_id() {
            if task.port_names.get(&p) == Some(&name) {
                task.port_names.remove(&p);
            }
        }
        Some(e)
    }

    /// Releases every right of a removed entry (`ipc_right_destroy`). Sets are destroyed with
    /// `eof` deciding whether their knotes see `EV_EOF`.
    pub(crate) fn release_entry(&mut self, t: TaskId, name: Name, e: Entry, eof: bool) {
        match e.obj {
            Obj::Dead => {}
            Obj::Set(s) => self.destroy_set(s, eof),
            Obj::Port(p) => {
                if e.dnrequest {
                    self.cancel_dnrequest(p, t, name);
                }
                if e.send > 0 {
                    self.release_send(p);
                }
                if e.send_once {
                    self.destroy_send_once(p);
                }
                if e.receive {
                    self.destroy_port(p);
                }
            }
        }
    }

    /// Copies a right out into a task (receive side of a message, or a call that returns a
    /// right); returns the name it got there, `MACH_PORT_DEAD` for a dead right.
    pub(crate) fn copyout_right(&mut self, t: TaskId, r: crate::msg::KRight) -> Name {
        use crate::msg::KRight;
        let active = self.task_is_active(t);
        match r {
            KRight::Null => MACH_PORT_NULL,
            KRight::Dead => MACH_PORT_DEAD,
            KRight::Send(p) => {
                if !self.ports.contains_key(&p) {
                    return MACH_PORT_DEAD;
                }
                if !active {
                    self.release_send(p);
                    return MACH_PORT_DEAD;
                }
                let existing = self.tasks[&t].port_names.get(&p).copied();
                match existing {
                    Some(name) => {
                        let mut e = self.tasks[&t].entries[&name];
                        if e.send == 0 {
                            e.send = 1;
                        } else if e.send >= UREFS_MAX {
                            // Edge case: no room for another uref; the right is destroyed and
                            // the receiver sees a dead name.
                            self.release_send(p);
                            return MACH_PORT_DEAD;
                        } else {
                            e.send += 1;
                            // Merged into an existing send right: one fewer send right exists.
                            self.ports.get_mut(&p).expect("port alive").srights -= 1;
                        }
                        self.store_entry(t, name, e);
                        name
                    }
                    None => self.insert_entry(
                        t,
                        Entry {
                            send: 1,
                            ..Entry::port(p)
                        },
                    ),
                }
            }
            KRight::SendOnce(p) => {
                if !self.ports.contains_key(&p) {
                    return MACH_PORT_DEAD;
                }
                if !active {
                    self.destroy_send_once(p);
                    return MACH_PORT_DEAD;
                }
                self.insert_entry(
                    t,
                    Entry {
                        send_once: true,
                        ..Entry::port(p)
                    },
                )
            }
            KRight::Receive(p) => {
                if !self.ports.contains_key(&p) {
                    return MACH_PORT_DEAD;
                }
                if !active {
                    self.destroy_port(p);
                    return MACH_PORT_DEAD;
                }
                let existing = self.tasks[&t].port_names.get(&p).copied();
                let name = match existing {
                    Some(name) => {
                        let mut e = self.tasks[&t].entries[&name];
                        e.receive = true;
                        self.store_entry(t, name, e);
                        name
                    }
                    None => self.insert_entry(
                        t,
                        Entry {
                            receive: true,
                            ..Entry::port(p)
                        },
                    ),
                };
                self.ports.get_mut(&p).expect("port alive").receiver = Receiver::Task(t, name);
                name
            }
        }
    }
}

// ---- the mach_port_* calls ----

impl State {
    pub(crate) fn port_allocate(
        &mut self,
        t: TaskId,
        right: mach_port_right_t,
    ) -> KernResult<Name> {
        self.live_task(t)?;
        match right {
            MACH_PORT_RIGHT_RECEIVE => {
                let p = self.new_port(t);
                let name = self.insert_entry(
                    t,
                    Entry {
                        receive: true,
                        ..Entry::port(p)
                    },
                );
                self.ports.get_mut(&p).expect("new port").receiver = Receiver::Task(t, name);
                Ok(name)
            }
            MACH_PORT_RIGHT_PORT_SET => {
                let s = self.new_set(t);
                let name = self.insert_entry(t, Entry::set(s));
                self.sets.get_mut(&s).expect("new set").name = name;
                Ok(name)
            }
            MACH_PORT_RIGHT_DEAD_NAME => Ok(self.insert_entry(t, Entry::dead(1))),
            _ => Err(KERN_INVALID_VALUE),
        }
    }

    pub(crate) fn port_deallocate(&mut self, t: TaskId, name: Name) -> KernResult<()> {
        self.live_task(t)?;
        if !MACH_PORT_VALID(name) {
            return Ok(());
        }
        let mut e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        match e.obj {
            Obj::Set(_) => Err(KERN_INVALID_RIGHT),
            Obj::Dead => {
                e.dead -= 1;
                self.store_entry(t, name, e);
                Ok(())
            }
            Obj::Port(p) => {
                if e.send_once {
                    e.send_once = false;
                    self.store_entry(t, name, e);
                    self.destroy_send_once(p);
                    Ok(())
                } else if e.send > 0 {
                    e.send -= 1;
                    self.store_entry(t, name, e);
                    if e.send == 0 {
                        self.release_send(p);
                    }
                    Ok(())
                } else {
                    // Receive-only: NextBSD's kernel fails (and its trap hides it).
                    Err(KERN_INVALID_RIGHT)
                }
            }
        }
    }

    pub(crate) fn port_destroy(&mut self, t: TaskId, name: Name) -> KernResult<()> {
        self.live_task(t)?;
        if !MACH_PORT_VALID(name) {
            return Ok(());
        }
        let _ = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        let e = self.remove_entry(t, name).expect("looked up");
        self.release_entry(t, name, e, true);
        Ok(())
    }

    /// NextBSD `close(name)`.
    pub(crate) fn port_close(&mut self, t: TaskId, name: Name) -> KernResult<()> {
        self.live_task(t)?;
        let _ = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        let e = self.remove_entry(t, name).expect("looked up");
        let eof = self.set_close == crate::SetCloseSemantics::EofOnDestroy;
        self.release_entry(t, name, e, eof);
        Ok(())
    }

    pub(crate) fn port_mod_refs(
        &mut self,
        t: TaskId,
        name: Name,
        right: mach_port_right_t,
        delta: mach_port_delta_t,
    ) -> KernResult<()> {
        self.live_task(t)?;
        if right >= MACH_PORT_RIGHT_NUMBER {
            return Err(KERN_INVALID_VALUE);
        }
        if !MACH_PORT_VALID(name) {
            // XNU: a null/dead name is fine for the send kinds.
            return if right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE {
                Ok(())
            } else {
                Err(KERN_INVALID_VALUE)
            };
        }
        let mut e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        match right {
            MACH_PORT_RIGHT_PORT_SET => {
                if !matches!(e.obj, Obj::Set(_)) {
                    return Err(KERN_INVALID_RIGHT);
                }
                release_single_right(delta, || {
                    self.remove_entry(t, name);
                    self.release_entry(t, name, e, true);
                })
            }
            MACH_PORT_RIGHT_RECEIVE => {
                let Obj::Port(p) = e.obj else {
                    return Err(KERN_INVALID_RIGHT);
                };
                if !e.receive {
                    return Err(KERN_INVALID_RIGHT);
                }
                release_single_right(delta, || {
                    // XNU: send urefs under the same name turn into dead-name urefs.
                    if e.send > 0 {
                        self.store_entry(t, name, Entry::dead(e.send));
                        if e.dnrequest {
                            self.cancel_dnrequest(p, t, name);
                        }
                    } else {
                        self.remove_entry(t, name);
                    }
                    self.destroy_port(p);
                })
            }
            MACH_PORT_RIGHT_SEND_ONCE => {
                let Obj::Port(p) = e.obj else {
                    return Err(KERN_INVALID_RIGHT);
                };
                if !e.send_once {
                    return Err(KERN_INVALID_RIGHT);
                }
                release_single_right(delta, || {
                    e.send_once = false;
                    self.store_entry(t, name, e);
                    self.destroy_send_once(p);
                })
            }
            MACH_PORT_RIGHT_SEND => {
                let Obj::Port(p) = e.obj else {
                    return Err(KERN_INVALID_RIGHT);
                };
                if e.send == 0 {
                    return Err(KERN_INVALID_RIGHT);
                }
                e.send = adjusted_urefs(e.send, delta)?;
                self.store_entry(t, name, e);
                if e.send == 0 {
                    self.release_send(p);
                }
                Ok(())
            }
            MACH_PORT_RIGHT_DEAD_NAME => {
                if !matches!(e.obj, Obj::Dead) {
                    return Err(KERN_INVALID_RIGHT);
                }
                e.dead = adjusted_urefs(e.dead, delta)?;
                self.store_entry(t, name, e);
                Ok(())
            }
            _ => Err(KERN_INVALID_VALUE),
        }
    }

    pub(crate) fn port_insert_right(
        &mut self,
        t: TaskId,
        name: Name,
        poly: Name,
        poly_poly: mach_msg_type_name_t,
    ) -> KernResult<()> {
        self.live_task(t)?;
        if !MACH_PORT_VALID(name) {
            return Err(KERN_INVALID_VALUE);
        }
        if name != poly {
            // NextBSD's trap only supports inserting under the name the right already has.
            return Err(MACH_SEND_INVALID_DEST);
        }
        if !is_port_disposition(poly_poly) {
            return Err(KERN_INVALID_VALUE);
        }
        let mut e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        let Obj::Port(p) = e.obj else {
            return Err(KERN_INVALID_RIGHT);
        };
        match poly_poly {
            MACH_MSG_TYPE_MAKE_SEND | MACH_MSG_TYPE_COPY_SEND => {
                let ok = if poly_poly == MACH_MSG_TYPE_MAKE_SEND {
                    e.receive
                } else {
                    e.send > 0
                };
                if !ok {
                    return Err(KERN_INVALID_RIGHT);
                }
                if e.send >= UREFS_MAX {
                    return Err(KERN_UREFS_OVERFLOW);
                }
                let port = self.ports.get_mut(&p).expect("live port");
                if poly_poly == MACH_MSG_TYPE_MAKE_SEND {
                    port.mscount += 1;
                }
                if e.send == 0 {
                    port.srights += 1;
                }
                e.send += 1;
                self.store_entry(t, name, e);
                Ok(())
            }
            // Moving a right out of a name and back into the same name changes nothing.
            MACH_MSG_TYPE_MOVE_SEND => (e.send > 0).then_some(()).ok_or(KERN_INVALID_RIGHT),
            MACH_MSG_TYPE_MOVE_SEND_ONCE => e.send_once.then_some(()).ok_or(KERN_INVALID_RIGHT),
            MACH_MSG_TYPE_MOVE_RECEIVE => e.receive.then_some(()).ok_or(KERN_INVALID_RIGHT),
            MACH_MSG_TYPE_MAKE_SEND_ONCE => {
                if !e.receive {
                    return Err(KERN_INVALID_RIGHT);
                }
                // A send-once right always needs a name of its own, and this one is taken.
                Err(KERN_NAME_EXISTS)
            }
            _ => Err(KERN_INVALID_VALUE),
        }
    }

    pub(crate) fn port_type(&mut self, t: TaskId, name: Name) -> KernResult<mach_port_type_t> {
        self.live_task(t)?;
        if !MACH_PORT_VALID(name) {
            return Err(KERN_INVALID_NAME);
        }
        self.lookup(t, name)
            .map(|e| e.type_bits())
            .ok_or(KERN_INVALID_NAME)
    }

    pub(crate) fn port_get_refs(
        &mut self,
        t: TaskId,
        name: Name,
        right: mach_port_right_t,
    ) -> KernResult<u32> {
        self.live_task(t)?;
        if right >= MACH_PORT_RIGHT_NUMBER {
            return Err(KERN_INVALID_VALUE);
        }
        if !MACH_PORT_VALID(name) {
            return if right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE {
                Ok(0)
            } else {
                Err(KERN_INVALID_VALUE)
            };
        }
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        Ok(match right {
            MACH_PORT_RIGHT_SEND => e.send,
            MACH_PORT_RIGHT_RECEIVE => u32::from(e.receive),
            MACH_PORT_RIGHT_SEND_ONCE => u32::from(e.send_once),
            MACH_PORT_RIGHT_PORT_SET => u32::from(matches!(e.obj, Obj::Set(_))),
            MACH_PORT_RIGHT_DEAD_NAME => e.dead,
            _ => 0,
        })
    }

    /// Resolves a name that must hold a receive right.
    pub(crate) fn receive_right(&mut self, t: TaskId, name: Name) -> KernResult<PortId> {
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        match e.obj {
            Obj::Port(p) if e.receive => Ok(p),
            _ => Err(KERN_INVALID_RIGHT),
        }
    }

    /// Resolves a name that must be a port set.
    pub(crate) fn set_right(&mut self, t: TaskId, name: Name) -> KernResult<SetId> {
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        match e.obj {
            Obj::Set(s) => Ok(s),
            _ => Err(KERN_INVALID_RIGHT),
        }
    }

    pub(crate) fn port_move_member(
        &mut self,
        t: TaskId,
        member: Name,
        after: Name,
    ) -> KernResult<()> {
        self.live_task(t)?;
        let p = self.receive_right(t, member)?;
        if after == MACH_PORT_NULL {
            if self.ports[&p].set.is_none() {
                return Err(KERN_NOT_IN_SET);
            }
            self.unlink_member(p);
            return Ok(());
        }
        let s = self.set_right(t, after)?;
        self.link_member(p, s);
        Ok(())
    }

    pub(crate) fn port_insert_member(
        &mut self,
        t: TaskId,
        member: Name,
        set: Name,
    ) -> KernResult<()> {
        self.live_task(t)?;
        let p = self.receive_right(t, member)?;
        let s = self.set_right(t, set)?;
        self.link_member(p, s);
        Ok(())
    }

    pub(crate) fn port_extract_member(
        &mut self,
        t: TaskId,
        member: Name,
        set: Name,
    ) -> KernResult<()> {
        self.live_task(t)?;
        let p = self.receive_right(t, member)?;
        let s = self.set_right(t, set)?;
        if self.ports[&p].set != Some(s) {
            return Err(KERN_NOT_IN_SET);
        }
        self.unlink_member(p);
        Ok(())
    }

    pub(crate) fn port_set_members(&mut self, t: TaskId, set: Name) -> KernResult<Vec<Name>> {
        self.live_task(t)?;
        let s = self.set_right(t, set)?;
        Ok(self.sets[&s]
            .members
            .iter()
            .map(|p| self.ports[p].receiver_name())
            .collect())
    }

    pub(crate) fn port_status(&mut self, t: TaskId, name: Name) -> KernResult<crate::PortStatus> {
        self.live_task(t)?;
        let p = self.receive_right(t, name)?;
        let port = &self.ports[&p];
        Ok(crate::PortStatus {
            msgcount: port.queue.len() as u32,
            qlimit: port.qlimit,
            seqno: port.seqno,
            mscount: port.mscount,
            srights: port.srights,
            pset: port.set.map_or(MACH_PORT_NULL, |s| self.sets[&s].name),
            blocked_senders: port.send_waiters.len() as u32,
        })
    }

    /// Takes a kernel-held send right to the port `name` denotes.
    pub(crate) fn take_kernel_right(&mut self, t: TaskId, name: Name) -> KernResult<PortId> {
        self.live_task(t)?;
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        let Obj::Port(p) = e.obj else {
            return Err(KERN_INVALID_RIGHT);
        };
        if !e.receive && e.send == 0 {
            return Err(KERN_INVALID_RIGHT);
        }
        let port = self.ports.get_mut(&p).expect("live port");
        if e.receive {
            port.mscount += 1;
        }
        port.srights += 1;
        *self.kernel_rights.entry(p).or_insert(0) += 1;
        Ok(p)
    }

    /// Drops a kernel-held send right.
    pub(crate) fn drop_kernel_right(&mut self, p: PortId) {
        if let Some(n) = self.kernel_rights.get_mut(&p) {
            *n -= 1;
            if *n == 0 {
                self.kernel_rights.remove(&p);
            }
        }
        self.release_send(p);
    }

    /// Terminates a task: sets first (as NextBSD's exit closes them first), then every other
    /// right in name order.
    pub(crate) fn terminate_task(&mut self, t: TaskId) -> KernResult<()> {
        self.live_task(t)?;
        self.tasks.get_mut(&t).expect("live").active = false;
        // Its threads blocked in `mach_msg` return (their records do not change).
        self.wake_all_waiters();
        let mut names: Vec<Name> = self.tasks[&t].entries.keys().copied().collect();
        names.sort_unstable();
        let (sets, others): (Vec<Name>, Vec<Name>) = names
            .into_iter()
            .partition(|n| matches!(self.tasks[&t].entries[n].obj, Obj::Set(_)));
        for name in sets.into_iter().chain(others) {
            if let Some(e) = self.remove_entry(t, name) {
                // Exit posts EOF on the task's sets whatever `SetCloseSemantics` says.
                self.release_entry(t, name, e, true);
            }
        }
        // Anything copied out while notifications were flowing (cannot happen for an inactive
        // task, but keep the invariant "a dead task holds nothing").
        debug_assert!(self.tasks[&t].entries.is_empty());
        // The record goes too (task ids are never reused, and every lookup of a task treats a
        // missing one as terminated): a kernel that runs processes forever must not keep one
        // record per process that ever ran.
        self.tasks.remove(&t);
        Ok(())
    }
}

/// `mod_refs` of a right that has no user-reference count (receive, send-once, port set): a
/// delta of 0 changes nothing, −1 runs `release`, anything else is `KERN_INVALID_VALUE`.
fn release_single_right(delta: mach_port_delta_t, release: impl FnOnce()) -> KernResult<()> {
    match delta {
        0 => Ok(()),
        -1 => {
            release();
            Ok(())
        }
        _ => Err(KERN_INVALID_VALUE),
    }
}

/// `urefs + delta` for a counted right (send, dead name): below 0 is `KERN_INVALID_VALUE`, above
/// `UREFS_MAX` is `KERN_UREFS_OVERFLOW`.
fn adjusted_urefs(urefs: u32, delta: mach_port_delta_t) -> KernResult<u32> {
    let urefs = i64::from(urefs) + i64::from(delta);
    if urefs < 0 {
        return Err(KERN_INVALID_VALUE);
    }
    if urefs > i64::from(UREFS_MAX) {
        return Err(KERN_UREFS_OVERFLOW);
    }
    Ok(urefs as u32)
}
