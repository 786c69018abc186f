//! What can stop a measurement.

use mach_abi::kern_return_t;

/// A measurement could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A Mach call failed.
    #[error("{what} failed: {}", mach_abi::named_code(*kr))]
    Kern {
        /// The call.
        what: &'static str,
        /// Its return code.
        kr: kern_return_t,
    },
    /// Threads for the old design could not be created.
    #[error(transparent)]
    Spawn(#[from] crate::old_loop::SpawnError),
    /// Something that should have happened did not within a generous bound (a hang).
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The kernel still holds objects a phase created.
    #[error("leak after {phase}: {detail}")]
    Leak {
        /// The phase.
        phase: String,
        /// What is left.
        detail: String,
    },
    /// The stream side (mach-async or a consumer crate) reported an error.
    #[error("{0}")]
    Stream(String),
    /// The requested backend does not exist in this build.
    #[error("{0}")]
    Unavailable(String),
    /// File or OS error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl BenchError {
    /// A failed Mach call.
    pub fn kern(what: &'static str, kr: kern_return_t) -> BenchError {
        BenchError::Kern { what, kr }
    }
}
