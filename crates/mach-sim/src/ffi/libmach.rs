//! libmach port calls, `mach_msg`, MIG reply ports and `NDR_record` (`<mach/mach.h>`).
//!
//! Each function has the standard libmach signature; the `task` argument is ignored (module docs
//! of [`crate::ffi`]). Return codes are the simulated kernel's (`mach-abi.md` §4), with
//! `KERN_INVALID_ARGUMENT` for a null out-pointer and `KERN_FAILURE` if the simulator panicked.

use super::{current_task, guard, is_pseudo_name, task_self_name};
use crate::{Name, Task};
use mach_abi::{
    kern_return_t, mach_msg_header_t, mach_msg_id_t, mach_msg_option_t, mach_msg_return_t,
    mach_msg_size_t, mach_msg_timeout_t, mach_msg_type_name_t, mach_port_delta_t,
    mach_port_mscount_t, mach_port_name_t, mach_port_right_t, mach_port_t, mach_port_type_t,
    mach_port_urefs_t, NDR_record_t, KERN_FAILURE, KERN_INVALID_ARGUMENT, KERN_SUCCESS,
    MACH_PORT_NULL, MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_SEND, MACH_PORT_TYPE_RECEIVE,
    MACH_RCV_INVALID_DATA, MACH_RCV_INVALID_NAME, MACH_RCV_MSG, MACH_SEND_INVALID_DATA,
    MACH_SEND_INVALID_DEST, MACH_SEND_MSG, MACH_SEND_NO_BUFFER,
};
use std::cell::RefCell;
use std::ffi::{c_char, c_int};
use std::mem::MaybeUninit;

/// `ipc_space_t` / `task_t` in user space: a port name (ignored by every call here).
#[allow(non_camel_case_types)]
pub type ipc_space_t = mach_port_t;

/// The NDR record MIG-generated code copies into every message (`extern NDR_record_t
/// NDR_record;`): bytes `00 00 00 00 01 00 00 00` (little-endian integers, ASCII, IEEE floats).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static NDR_record: NDR_record_t = mach_abi::NDR_record;

/// Converts a kernel result to a `kern_return_t`, storing the value through `out`.
///
/// # Safety
/// `out` must be null or valid for a write of `T`.
unsafe fn store<T>(out: *mut T, result: Result<T, kern_return_t>) -> kern_return_t {
    match result {
        Ok(value) => {
            // SAFETY: the caller guarantees `out` is valid for a write of `T`; callers check for
            // null before running the kernel call, and `write_unaligned` needs no alignment.
            unsafe { out.write_unaligned(value) };
            KERN_SUCCESS
        }
        Err(kr) => kr,
    }
}

/// Converts a kernel result without a value to a `kern_return_t`.
fn kr(result: Result<(), kern_return_t>) -> kern_return_t {
    match result {
        Ok(()) => KERN_SUCCESS,
        Err(kr) => kr,
    }
}

/// Runs a port call without an out-value in the current task: its code, `KERN_INVALID_TASK` at
/// thread or process exit (module docs of [`crate::ffi`]), or `KERN_FAILURE` if the simulator
/// panicked.
fn port_call(call: impl FnOnce(&Task) -> Result<(), kern_return_t>) -> kern_return_t {
    guard(KERN_FAILURE, || kr(current_task().and_then(|t| call(&t))))
}

/// Runs a port call with an out-value in the current task and stores the value through `out`:
/// `KERN_INVALID_ARGUMENT` for a null `out` (the call is not made), `KERN_INVALID_TASK` at
/// thread or process exit, `KERN_FAILURE` if the simulator panicked.
///
/// # Safety
/// `out` must be null or valid for a write of `T`.
unsafe fn port_query<T>(
    out: *mut T,
    call: impl FnOnce(&Task) -> Result<T, kern_return_t>,
) -> kern_return_t {
    if out.is_null() {
        return KERN_INVALID_ARGUMENT;
    }
    guard(KERN_FAILURE, || {
        let result = current_task().and_then(|t| call(&t));
        // SAFETY: `out` is non-null and the caller guarantees it is valid for a write.
        unsafe { store(out, result) }
    })
}

/// `mach_port_t mach_task_self(void)`: the calling thread's current task as a pseudo name
/// (`MACH_SIM_TASK_SELF_BASE | task id`, see `<mach_sim.h>`). It is not a right: it needs no
/// release and is not counted by `mach_sim_live_rights`. `MACH_PORT_NULL` if the simulator failed.
#[no_mangle]
pub extern "C" fn mach_task_self() -> mach_port_t {
    guard(MACH_PORT_NULL, || {
        current_task().map_or(MACH_PORT_NULL, |t| task_self_name(&t))
    })
}

/// `mach_port_name_t mach_reply_port(void)`: a new receive right in the current task
/// (`MACH_PORT_NULL` on failure).
#[no_mangle]
pub extern "C" fn mach_reply_port() -> mach_port_name_t {
    guard(MACH_PORT_NULL, || {
        current_task().map_or(MACH_PORT_NULL, |t| t.reply_port())
    })
}

/// `kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right,
/// mach_port_name_t *name)`: a new receive right, port set or dead name.
///
/// # Safety
/// `name` must be null (→ `KERN_INVALID_ARGUMENT`) or valid for a 4-byte write.
#[no_mangle]
pub unsafe extern "C" fn mach_port_allocate(
    task: ipc_space_t,
    right: mach_port_right_t,
    name: *mut mach_port_name_t,
) -> kern_return_t {
    let _ = task;
    // SAFETY: the caller guarantees `name` is null or valid for a write.
    unsafe { port_query(name, |task| task.port_allocate(right)) }
}

/// `kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name)`: drops one user
/// reference of a send, send-once or dead-name right. A pseudo name (`mach_task_self()`,
/// `bootstrap_port`) is accepted and nothing happens.
#[no_mangle]
pub extern "C" fn mach_port_deallocate(task: ipc_space_t, name: mach_port_name_t) -> kern_return_t {
    let _ = task;
    if is_pseudo_name(name) {
        return KERN_SUCCESS;
    }
    port_call(|task| task.port_deallocate(name))
}

/// `kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name)`: removes every
/// right under `name` (a receive right's port dies, a set is destroyed).
#[no_mangle]
pub extern "C" fn mach_port_destroy(task: ipc_space_t, name: mach_port_name_t) -> kern_return_t {
    let _ = task;
    port_call(|task| task.port_destroy(name))
}

/// `kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name,
/// mach_port_right_t right, mach_port_delta_t delta)`, with XNU semantics (NextBSD's libmach
/// makes it a no-op; the simulated kernel does not). Changing the send references of a pseudo
/// name (`mach_task_self()`, `bootstrap_port`) is accepted and does nothing.
#[no_mangle]
pub extern "C" fn mach_port_mod_refs(
    task: ipc_space_t,
    name: mach_port_name_t,
    right: mach_port_right_t,
    delta: mach_port_delta_t,
) -> kern_return_t {
    let _ = task;
    if is_pseudo_name(name) && right == MACH_PORT_RIGHT_SEND {
        return KERN_SUCCESS;
    }
    port_call(|task| task.port_mod_refs(name, right, delta))
}

/// `kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name,
/// mach_port_t poly, mach_msg_type_name_t polyPoly)` (NextBSD: `name != poly` →
/// `MACH_SEND_INVALID_DEST`).
#[no_mangle]
pub extern "C" fn mach_port_insert_right(
    task: ipc_space_t,
    name: mach_port_name_t,
    poly: mach_port_t,
    poly_poly: mach_msg_type_name_t,
) -> kern_return_t {
    let _ = task;
    port_call(|task| task.port_insert_right(name, poly, poly_poly))
}

/// `kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member,
/// mach_port_name_t after)`: `after == MACH_PORT_NULL` removes the member from its set; moving
/// between sets is atomic.
#[no_mangle]
pub extern "C" fn mach_port_move_member(
    task: ipc_space_t,
    member: mach_port_name_t,
    after: mach_port_name_t,
) -> kern_return_t {
    let _ = task;
    port_call(|task| task.port_move_member(member, after))
}

/// `kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name,
/// mach_port_name_t pset)`.
#[no_mangle]
pub extern "C" fn mach_port_insert_member(
    task: ipc_space_t,
    name: mach_port_name_t,
    pset: mach_port_name_t,
) -> kern_return_t {
    let _ = task;
    port_call(|task| task.port_insert_member(name, pset))
}

/// `kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name,
/// mach_port_name_t pset)`.
#[no_mangle]
pub extern "C" fn mach_port_extract_member(
    task: ipc_space_t,
    name: mach_port_name_t,
    pset: mach_port_name_t,
) -> kern_return_t {
    let _ = task;
    port_call(|task| task.port_extract_member(name, pset))
}

/// `kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name,
/// mach_msg_id_t msgid, mach_port_mscount_t sync, mach_port_t notify,
/// mach_msg_type_name_t notifyPoly, mach_port_t *previous)`: arms a notification; the replaced
/// send-once right's name (or `MACH_PORT_NULL`) is stored in `*previous`.
///
/// # Safety
/// `previous` must be null (→ `KERN_INVALID_ARGUMENT`, nothing armed) or valid for a 4-byte
/// write.
#[no_mangle]
pub unsafe extern "C" fn mach_port_request_notification(
    task: ipc_space_t,
    name: mach_port_name_t,
    msgid: mach_msg_id_t,
    sync: mach_port_mscount_t,
    notify: mach_port_t,
    notify_poly: mach_msg_type_name_t,
    previous: *mut mach_port_t,
) -> kern_return_t {
    let _ = task;
    // SAFETY: the caller guarantees `previous` is null or valid for a write.
    unsafe {
        port_query(previous, |task| {
            task.port_request_notification(name, msgid, sync, notify, notify_poly)
        })
    }
}

/// `kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name,
/// mach_port_type_t *ptype)`: the `MACH_PORT_TYPE_*` bits of the rights under `name`.
///
/// # Safety
/// `ptype` must be null (→ `KERN_INVALID_ARGUMENT`) or valid for a 4-byte write.
#[no_mangle]
pub unsafe extern "C" fn mach_port_type(
    task: ipc_space_t,
    name: mach_port_name_t,
    ptype: *mut mach_port_type_t,
) -> kern_return_t {
    let _ = task;
    // SAFETY: the caller guarantees `ptype` is null or valid for a write.
    unsafe { port_query(ptype, |task| task.port_type(name)) }
}

/// `kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name,
/// mach_port_right_t right, mach_port_urefs_t *refs)`: user references of one right kind.
///
/// # Safety
/// `refs` must be null (→ `KERN_INVALID_ARGUMENT`) or valid for a 4-byte write.
#[no_mangle]
pub unsafe extern "C" fn mach_port_get_refs(
    task: ipc_space_t,
    name: mach_port_name_t,
    right: mach_port_right_t,
    refs: *mut mach_port_urefs_t,
) -> kern_return_t {
    let _ = task;
    // SAFETY: the caller guarantees `refs` is null or valid for a write.
    unsafe { port_query(refs, |task| task.port_get_refs(name, right)) }
}

/// Calls `f` with a 4-byte aligned pointer to the `len` bytes at `msg`: `msg` itself when it is
/// aligned, otherwise an aligned copy that is copied back afterwards when `write_back` is set.
///
/// # Safety
/// `msg` must be valid for reads (and, with `write_back`, writes) of `len` bytes.
unsafe fn with_aligned<R>(
    msg: *mut mach_msg_header_t,
    len: usize,
    write_back: bool,
    f: impl FnOnce(*mut mach_msg_header_t) -> R,
) -> R {
    if (msg as usize) % std::mem::align_of::<mach_msg_header_t>() == 0 {
        return f(msg);
    }
    let mut bounce: Vec<MaybeUninit<u64>> = vec![MaybeUninit::uninit(); len.div_ceil(8).max(3)];
    let aligned = bounce.as_mut_ptr().cast::<u8>();
    // SAFETY: the caller guarantees `msg` is readable for `len` bytes; `bounce` holds at least
    // `len` bytes; the regions are distinct allocations. Copying possibly uninitialised bytes
    // into `MaybeUninit` storage is allowed.
    unsafe { std::ptr::copy_nonoverlapping(msg.cast::<u8>(), aligned, len) };
    let result = f(aligned.cast());
    if write_back {
        // SAFETY: as above, with `msg` writable for `len` bytes (caller's guarantee).
        unsafe { std::ptr::copy_nonoverlapping(aligned, msg.cast::<u8>(), len) };
    }
    result
}

/// `mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
/// mach_msg_size_t send_size, mach_msg_size_t rcv_size, mach_port_name_t rcv_name,
/// mach_msg_timeout_t timeout, mach_port_name_t notify)` in the current task.
///
/// A null `msg` with `MACH_SEND_MSG` gives `MACH_SEND_INVALID_DATA`, with only `MACH_RCV_MSG`
/// `MACH_RCV_INVALID_DATA`. A buffer that is not 4-byte aligned is handled through an aligned
/// copy. If the simulator panics the result is `MACH_SEND_NO_BUFFER` (sends) or
/// `MACH_RCV_INVALID_DATA` (receives). Interrupts do not exist in the simulation, so the
/// `*_INTERRUPTED` codes never occur.
///
/// # Safety
/// As the real call: `msg` must be valid for reads of `send_size` bytes with `MACH_SEND_MSG` and
/// for writes of `rcv_size` bytes with `MACH_RCV_MSG`, and not used by another thread during the
/// call; out-of-line descriptors must point to readable memory of their sizes.
#[no_mangle]
pub unsafe extern "C" fn mach_msg(
    msg: *mut mach_msg_header_t,
    option: mach_msg_option_t,
    send_size: mach_msg_size_t,
    rcv_size: mach_msg_size_t,
    rcv_name: mach_port_name_t,
    timeout: mach_msg_timeout_t,
    notify: mach_port_name_t,
) -> mach_msg_return_t {
    let sending = option & MACH_SEND_MSG != 0;
    let receiving = option & MACH_RCV_MSG != 0;
    if msg.is_null() && (sending || receiving) {
        return if sending {
            MACH_SEND_INVALID_DATA
        } else {
            MACH_RCV_INVALID_DATA
        };
    }
    let fallback = if sending {
        MACH_SEND_NO_BUFFER
    } else {
        MACH_RCV_INVALID_DATA
    };
    guard(fallback, || {
        let Ok(task) = current_task() else {
            return if sending {
                MACH_SEND_INVALID_DEST
            } else {
                MACH_RCV_INVALID_NAME
            };
        };
        let len = (if sending { send_size } else { 0 }).max(if receiving { rcv_size } else { 0 });
        let call = |p: *mut mach_msg_header_t| {
            // SAFETY: `p` is `msg` or an aligned copy of its `len` bytes; the caller guarantees
            // the buffer contract `Task::mach_msg` states.
            unsafe { task.mach_msg(p, option, send_size, rcv_size, rcv_name, timeout, notify) }
        };
        if msg.is_null() {
            return call(msg);
        }
        // SAFETY: `msg` is valid for `len` bytes (reads, and writes when receiving).
        unsafe { with_aligned(msg, len as usize, receiving, call) }
    })
}

/// `void mach_msg_destroy(mach_msg_header_t *msg)`: destroys the rights (and out-of-line memory
/// marked `deallocate`) a received message carries, with the project's rule (`mach-abi.md`
/// §9.4): remote and voucher per their bits, the local port ignored, descriptors per
/// disposition. A null `msg` is ignored.
///
/// # Safety
/// `msg` must be null or point to a whole message of `msgh_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mach_msg_destroy(msg: *mut mach_msg_header_t) {
    if msg.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: `msg` points to at least a header (caller's guarantee); unaligned read.
        let size = unsafe { msg.read_unaligned() }.msgh_size as usize;
        let len = size.max(std::mem::size_of::<mach_msg_header_t>());
        let Ok(task) = current_task() else {
            return;
        };
        let destroy = |p: *mut mach_msg_header_t| {
            // SAFETY: `p` is `msg` or an aligned copy of the whole message.
            unsafe { task.mach_msg_destroy(p) }
        };
        // SAFETY: the message is `msgh_size` bytes long (caller's guarantee).
        unsafe { with_aligned(msg, len, false, destroy) }
    })
}

/// Per-thread MIG reply ports: one receive right per task the thread has run MIG calls in.
struct ReplyPorts(Vec<(Task, Name)>);

impl Drop for ReplyPorts {
    fn drop(&mut self) {
        for (task, name) in self.0.drain(..) {
            guard((), || {
                if task.is_active() {
                    let _ = task.port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
                }
            });
        }
    }
}

thread_local! {
    static REPLY_PORTS: RefCell<ReplyPorts> = const { RefCell::new(ReplyPorts(Vec::new())) };
}

/// Whether `name` still denotes a receive right in `task`.
fn holds_receive(task: &Task, name: Name) -> bool {
    task.is_active()
        && task
            .port_type(name)
            .is_ok_and(|t| t & MACH_PORT_TYPE_RECEIVE != 0)
}

/// `mach_port_t mig_get_reply_port(void)`: the calling thread's MIG reply port in its current
/// task, allocated with `mach_reply_port` on first use and cached (one per thread per task id).
/// A cached port that is no longer a receive right (destroyed, task terminated) is replaced.
/// The port is destroyed by `mig_dealloc_reply_port` or when the thread exits; a test that checks
/// `mach_sim_live_ports() == 0` on a thread that used it calls `mig_dealloc_reply_port` first.
/// `MACH_PORT_NULL` on failure.
#[no_mangle]
pub extern "C" fn mig_get_reply_port() -> mach_port_t {
    guard(MACH_PORT_NULL, || {
        let Ok(task) = current_task() else {
            return MACH_PORT_NULL;
        };
        REPLY_PORTS
            .try_with(|ports| {
                let mut ports = ports.borrow_mut();
                if let Some(i) = ports.0.iter().position(|(t, _)| t.id() == task.id()) {
                    let (cached, name) = &ports.0[i];
                    if holds_receive(cached, *name) {
                        return *name;
                    }
                    ports.0.swap_remove(i);
                }
                ports.0.retain(|(t, _)| t.is_active());
                let name = task.reply_port();
                if name != MACH_PORT_NULL {
                    ports.0.push((task.clone(), name));
                }
                name
            })
            .unwrap_or(MACH_PORT_NULL)
    })
}

/// `void mig_dealloc_reply_port(mach_port_t reply_port)`: destroys the calling thread's cached
/// reply port of its current task (MIG stubs call it after a failed receive so a late reply
/// cannot be mistaken for the next one); the next `mig_get_reply_port` makes a new one. If
/// `reply_port` names something else it is deallocated as well. Nothing happens when no reply
/// port is cached.
#[no_mangle]
pub extern "C" fn mig_dealloc_reply_port(reply_port: mach_port_t) {
    guard((), || {
        let Ok(task) = current_task() else {
            return;
        };
        let cached = REPLY_PORTS
            .try_with(|ports| {
                let mut ports = ports.borrow_mut();
                let i = ports.0.iter().position(|(t, _)| t.id() == task.id())?;
                Some(ports.0.swap_remove(i).1)
            })
            .ok()
            .flatten();
        if let Some(name) = cached {
            let _ = task.port_mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
            if reply_port != name && reply_port != MACH_PORT_NULL {
                let _ = task.port_deallocate(reply_port);
            }
        }
    })
}

/// `void mig_put_reply_port(mach_port_t reply_port)`: nothing to do (the port stays cached).
#[no_mangle]
pub extern "C" fn mig_put_reply_port(reply_port: mach_port_t) {
    let _ = reply_port;
}

/// The MIG string copy shared by [`mig_strncpy`] and [`mig_strncpy_zerofill`].
///
/// # Safety
/// `dest` is valid for `len` bytes of writes; `src` is NULL (only when `zero_fill`) or a string
/// readable up to its NUL or `len - 1` bytes.
unsafe fn strncpy_mig(dest: *mut c_char, src: *const c_char, len: c_int, zero_fill: bool) -> c_int {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    if len == 0 || dest.is_null() || (src.is_null() && !zero_fill) {
        return 0;
    }
    let mut copied = 0; // characters copied before the NUL
    let mut ended = src.is_null();
    while copied < len - 1 && !ended {
        // SAFETY: `copied < len - 1` is within both buffers (caller's guarantee on `src`:
        // readable up to its NUL or len - 1 bytes).
        let c = unsafe { src.add(copied).read() };
        if c == 0 {
            ended = true;
        } else {
            // SAFETY: `copied < len` bytes of `dest` are writable.
            unsafe { dest.add(copied).write(c) };
            copied += 1;
        }
    }
    let end = if zero_fill { len } else { copied + 1 };
    for i in copied..end {
        // SAFETY: `i < len`.
        unsafe { dest.add(i).write(0) };
    }
    let result = if src.is_null() {
        0
    } else if ended {
        copied + 1
    } else {
        len
    };
    c_int::try_from(result).unwrap_or(c_int::MAX)
}

/// `int mig_strncpy(char *dest, const char *src, int len)` (`<mach/mig.h>`): copies at most
/// `len - 1` characters of `src` and a NUL into `dest`. Returns the bytes written including the
/// NUL when `src` ended, `len` when it was cut, 0 when `len <= 0` or a pointer is NULL (nothing
/// written then).
///
/// # Safety
/// `dest` is NULL or valid for `len` bytes of writes; `src` is NULL or readable up to its NUL or
/// `len - 1` bytes.
#[no_mangle]
pub unsafe extern "C" fn mig_strncpy(dest: *mut c_char, src: *const c_char, len: c_int) -> c_int {
    // SAFETY: forwarded caller guarantees.
    guard(0, || unsafe { strncpy_mig(dest, src, len, false) })
}

/// `int mig_strncpy_zerofill(char *dest, const char *src, int len)` (`<mach/mig.h>`):
/// [`mig_strncpy`] that also zero-fills `dest` up to `len` bytes; a NULL `src` writes an empty,
/// zero-filled string and returns 0.
///
/// # Safety
/// As for [`mig_strncpy`].
#[no_mangle]
pub unsafe extern "C" fn mig_strncpy_zerofill(
    dest: *mut c_char,
    src: *const c_char,
    len: c_int,
) -> c_int {
    // SAFETY: forwarded caller guarantees.
    guard(0, || unsafe { strncpy_mig(dest, src, len, true) })
}
