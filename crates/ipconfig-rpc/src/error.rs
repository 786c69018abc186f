//! The crate's error type.

use mach_async::mig::MigError;

/// Why a client or server could not be opened, or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local Mach call failed: the bootstrap look-up or check-in of the service (e.g.
    /// `BOOTSTRAP_UNKNOWN_SERVICE` when no ipconfigd has checked in), the server's stream, or
    /// no tokio runtime with I/O ([`mach_async::Error::NoRuntime`]).
    #[error(transparent)]
    Mach(#[from] mach_async::Error),
    /// A call failed as a generated client stub reports it.
    #[error(transparent)]
    Call(#[from] MigError),
}
