//! The MIG runtime: the wire conventions, checks and server/client rules of `mig.md`.
//!
//! Layers, bottom up:
//! - [`codec`]: byte-level headers, the NDR record, reply headers and the 36-byte error reply;
//! - [`check`]: the request checks a generated server runs (`mig.md` §8) and the reply checks a
//!   generated client runs (§9), over received bytes;
//! - [`error`]: [`MigError`], one variant per `MIG_*` code plus transport failures;
//! - [`view`]: the received-buffer view of a [`crate::Message`] the checks run on, and
//!   [`message_from_encoded`] for protocol encoders that produce whole messages;
//! - [`server`]: [`MigServer`], a routine table served over a [`crate::MachRecvStream`] with the
//!   reply and destroy rules of `mig.md` §10, on a set of ports that a [`MigServerHandle`] can
//!   change while it serves, with a hook for messages that are not requests (no-senders
//!   notifications, [`NoSenders`]);
//! - [`client`]: [`MigClient`], routine calls (simple, or carrying port descriptors of any
//!   disposition) with pooled reply ports recovered or destroyed as `mig.md` §9 requires.

pub mod check;
pub mod client;
pub mod codec;
pub mod error;
pub mod server;
pub mod view;

pub use check::{
    audit_token_from_trailer, check_reply, check_request, Body, CheckedRequest, DescriptorSpec,
    ReplyShape, RequestShape, SizeRule,
};
pub use client::{MigClient, MigReply};
pub use error::MigError;
pub use server::{
    MigRequest, MigServer, MigServerHandle, NoSenders, RequestCheck, RoutineFn, RoutineFuture,
    RoutineOutcome, RoutineTable, ServeEnd, Served, ServerStats, UnroutedHook,
};
pub use view::message_from_encoded;

// Runtime tests need the simulated kernel (the native backends are tested on their hosts).
#[cfg(all(test, mach_backend = "sim"))]
mod tests;
