//! The MIG runtime: the wire conventions, checks and server/client rules of `mig.md`.
//!
//! Layers, bottom up:
//! - [`wire`]: byte-level headers, the NDR record, reply headers and the 36-byte error reply;
//! - [`check`]: the request checks a generated server runs (`mig.md` §8) and the reply checks a
//!   generated client runs (§9), over received bytes;
//! - [`error`]: [`MigError`], one variant per `MIG_*` code plus transport failures.

pub mod check;
pub mod error;
pub mod wire;

pub use check::{
    audit_token_from_trailer, check_reply, check_request, Body, CheckedRequest, DescriptorSpec,
    ReplyShape, RequestShape, SizeRule,
};
pub use error::MigError;
