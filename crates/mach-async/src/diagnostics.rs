//! Making the `tracing` events of this crate and of the consumer crates visible.
//!
//! Rust programs install their own subscriber (e.g. `tracing-subscriber` with `RUST_LOG`, as
//! `mach-bench` does). The C libraries have no Rust host to do that, so their event thread calls
//! [`init_from_env`]: with `MACH_ASYNC_LOG` set to an `EnvFilter` directive (`debug`,
//! `mach_async=trace,scnotify=debug`, ...) their events go to stderr.
//!
//! ```sh
//! MACH_ASYNC_LOG=debug ./a-program-linking-libscnotify
//! ```

use tracing_subscriber::EnvFilter;

/// The environment variable the C libraries read.
pub const LOG_ENV: &str = "MACH_ASYNC_LOG";

/// Installs a stderr subscriber filtered by `$MACH_ASYNC_LOG`, or by `default` when the variable
/// is unset (`None`: nothing is installed then). Returns whether a subscriber was installed; it
/// never replaces one the process already has, and an invalid directive installs nothing.
pub fn init_from_env(default: Option<&str>) -> bool {
    let directive = match std::env::var(LOG_ENV) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => match default {
            Some(d) => d.to_string(),
            None => return false,
        },
    };
    let Ok(filter) = EnvFilter::try_new(&directive) else {
        return false;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init()
        .is_ok()
}
