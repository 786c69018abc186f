//! `diagnostics::init_from_env`: what the C libraries call when their event thread starts. Its
//! own test binary: it installs the process's one global subscriber.

use mach_async::diagnostics::{init_from_env, LOG_ENV};

#[test]
fn the_variable_decides_and_a_subscriber_is_installed_once() {
    // Unset and no default: nothing is installed.
    std::env::remove_var(LOG_ENV);
    assert!(!init_from_env(None));
    // An invalid directive installs nothing either.
    std::env::set_var(LOG_ENV, "mach_async=[");
    assert!(!init_from_env(None));
    // A valid one installs the subscriber…
    std::env::set_var(LOG_ENV, "mach_async=debug");
    assert!(init_from_env(None));
    tracing::debug!(target: "mach_async", "visible on stderr");
    // …once: a second call (another library of the process) leaves it alone.
    assert!(!init_from_env(Some("warn")));
    std::env::remove_var(LOG_ENV);
}
