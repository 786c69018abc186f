//! Sending: non-blocking first, then a bounded blocking send on tokio's blocking pool.
//!
//! # Design
//!
//! A Mach send blocks only when the destination queue is full (NextBSD's queue limit is 5 and
//! cannot be raised; a send-once destination bypasses the limit). The async send never blocks
//! a runtime worker and never spins:
//!
//! 1. **Try without waiting**: `mach_msg(SEND_MSG | SEND_TIMEOUT, timeout 0)` on the calling
//!    task's thread. Success or any error other than `MACH_SEND_TIMED_OUT` is final.
//! 2. **Queue full** (`MACH_SEND_TIMED_OUT`): the kernel gave the message back (mach-abi.md §4.2;
//!    rights re-adopted by [`Message`]). If the caller allowed waiting, the message moves to a
//!    `spawn_blocking` closure that sends with `SEND_TIMEOUT` in slices of at most
//!    [`SEND_SLICE`] until the caller's deadline. Before leaving the caller's context the message
//!    takes ownership of every right it only borrowed by name (the destination's `COPY_SEND`
//!    becomes an extra user reference moved with `MOVE_SEND`, `MAKE_SEND(_ONCE)` slots are minted
//!    into owned rights), so the blocking send never uses a name the caller may have released
//!    or that the kernel may have reused. The kernel wakes one blocked sender per
//!    receive, so progress needs no polling; the slices only bound how long a cancelled send
//!    keeps its blocking-pool thread.
//! 3. **Cancellation**: dropping the future raises a flag; the closure stops after the current
//!    slice and drops the message, releasing the rights it carries (nothing leaks; a send that
//!    completed in that slice was delivered).
//! 4. **Failure**: the message comes back in [`SendError`] with all its rights (and, for
//!    [`crate::SendOnceRight::send`], the destination right via
//!    [`Message::take_destination`]).
//!
//! Every attempt carries `MACH_SEND_TIMEOUT`, so no thread ever waits in `mach_msg` without a
//! bound.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mach_abi::{
    mach_msg_return_t, MACH_MSG_SUCCESS, MACH_SEND_MSG, MACH_SEND_TIMED_OUT, MACH_SEND_TIMEOUT,
};

use crate::buffer::MsgBuf;
use crate::message::{Descriptor, Message, PortSlot};
use crate::raw_message;
use crate::rights::PortRight;
use crate::sys::Space;
use crate::Error;

/// Longest single blocking `mach_msg` send slice on the blocking pool.
pub const SEND_SLICE: Duration = Duration::from_millis(50);

/// A failed send: the error and the message, with every right it carries.
pub struct SendError {
    error: Error,
    message: Box<Message>,
}

impl SendError {
    pub(crate) fn new(error: Error, message: Message) -> SendError {
        SendError {
            error,
            message: Box::new(message),
        }
    }
    /// Why the send failed.
    pub fn error(&self) -> &Error {
        &self.error
    }
    /// The `mach_msg_return_t`, if the kernel reported one.
    pub fn code(&self) -> Option<mach_msg_return_t> {
        self.error.code()
    }
    /// The message, given back (its destination slot still set; see
    /// [`Message::take_destination`]).
    pub fn into_message(self) -> Message {
        *self.message
    }
    /// Error and message.
    pub fn into_parts(self) -> (Error, Message) {
        (self.error, *self.message)
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .field("id", &self.message.id())
            .finish()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "send of message {} failed: {}",
            self.message.id(),
            self.error
        )
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        e.error
    }
}

/// Whether the message owns a right of a space other than `space`. Its name would be resolved in
/// `space` by the kernel, moving whatever right has that number there.
fn owns_foreign_right(space: &Space, m: &Message) -> bool {
    let foreign = |r: &PortRight| r.space() != space;
    let slot = |s: &Option<PortSlot>| matches!(s, Some(PortSlot::Right(r)) if foreign(r));
    slot(&m.remote)
        || slot(&m.local)
        || m.voucher.as_ref().is_some_and(foreign)
        || m.descriptors.iter().any(|d| match d {
            Descriptor::Port(p) => slot(p),
            Descriptor::OolPorts(v) => v.iter().any(foreign),
            Descriptor::Ool(_) => false,
        })
}

/// One send attempt with `SEND_TIMEOUT` = `timeout_ms`. On success the message's rights were
/// moved; on failure it is reconciled with what the kernel handed back. A message owning a
/// right of another space is refused untouched ([`Error::WrongSpace`]).
pub(crate) fn attempt(
    space: &Space,
    msg: &mut Option<Message>,
    timeout_ms: u32,
) -> Result<(), Error> {
    let m = msg.as_mut().expect("message present");
    if owns_foreign_right(space, m) {
        return Err(Error::WrongSpace {
            op: "send (a right of another space in the message)",
        });
    }
    let (raw, _ool_port_arrays) = m.to_raw_parts();
    let size = raw.wire_size();
    let mut buf = MsgBuf::from_bytes(&raw_message::encode(&raw));
    // SAFETY: `buf` holds `size` encoded bytes, 8-aligned, exclusively borrowed; OOL addresses
    // point into `m`'s body bytes and `_ool_port_arrays`, both alive across the call.
    let mr = unsafe {
        space.mach_msg(
            buf.header_ptr(),
            MACH_SEND_MSG | MACH_SEND_TIMEOUT,
            size as u32,
            0,
            0,
            timeout_ms,
        )
    }?;
    if mr == MACH_MSG_SUCCESS {
        msg.take().expect("message present").commit_sent();
        return Ok(());
    }
    // SAFETY: `buf` is the buffer of the failed send in `space`.
    unsafe { m.reconcile_failed_send(space, &raw, &buf.bytes()[..size]) };
    Err(Error::Msg { op: "send", mr })
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Sends `msg` to `dest` (set into the message's destination slot), waiting at most `timeout`
/// (`None`: until delivered or cancelled) when the queue is full.
pub(crate) async fn send(
    space: Space,
    mut msg: Message,
    dest: PortSlot,
    timeout: Option<Duration>,
) -> Result<(), SendError> {
    msg.remote = Some(dest);
    let mut slot = Some(msg);
    match attempt(&space, &mut slot, 0) {
        Ok(()) => return Ok(()),
        Err(Error::Msg {
            mr: MACH_SEND_TIMED_OUT,
            ..
        }) if timeout != Some(Duration::ZERO) => {}
        Err(Error::Msg {
            mr: MACH_SEND_TIMED_OUT,
            ..
        }) => {
            return Err(SendError {
                error: Error::TimedOut,
                message: Box::new(slot.expect("returned")),
            })
        }
        Err(error) => {
            return Err(SendError {
                error,
                message: Box::new(slot.expect("returned")),
            })
        }
    }
    let handle = match tokio::runtime::Handle::try_current() {
        Ok(h) => h,
        Err(e) => {
            return Err(SendError {
                error: Error::NoRuntime(std::io::Error::other(e)),
                message: Box::new(slot.expect("returned")),
            })
        }
    };
    // The blocking send may outlive this future (cancellation) and the caller's borrowed
    // names: make the message own every right it refers to first.
    if let Err(error) = slot.as_mut().expect("returned").own_borrowed(&space) {
        return Err(SendError::new(error, slot.take().expect("returned")));
    }
    tracing::trace!("destination queue full: continuing the send on the blocking pool");
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let deadline = timeout.map(|t| Instant::now() + t);
    let id = slot.as_ref().map_or(0, Message::id);
    let joined = handle
        .spawn_blocking(move || loop {
            if cancel.load(Ordering::Acquire) {
                // The caller is gone: dropping the message releases its rights.
                return (Err(Error::TimedOut), slot.take());
            }
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return (Err(Error::TimedOut), slot.take());
                    }
                    left.min(SEND_SLICE)
                }
                None => SEND_SLICE,
            };
            let ms = slice.as_millis().clamp(1, u128::from(u32::MAX)) as u32;
            match attempt(&space, &mut slot, ms) {
                Ok(()) => return (Ok(()), None),
                Err(Error::Msg {
                    mr: MACH_SEND_TIMED_OUT,
                    ..
                }) => continue,
                Err(e) => return (Err(e), slot.take()),
            }
        })
        .await;
    match joined {
        Ok((Ok(()), _)) => Ok(()),
        Ok((Err(error), Some(message))) => Err(SendError::new(error, message)),
        Ok((Err(_), None)) => unreachable!("a failed attempt keeps the message"),
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // The runtime is shutting down and dropped the closure (and with it the message, whose
        // rights were released).
        Err(_) => Err(SendError {
            error: Error::Ended,
            message: Box::new(crate::MessageBuilder::new(id).build()),
        }),
    }
}
