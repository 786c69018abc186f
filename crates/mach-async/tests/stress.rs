//! The EVFILT_MACHPORT concurrency stress on the simulated kernel, reduced rounds.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use mach_async::stress::{evfilt_machport_concurrent, Config};

#[test]
fn evfilt_machport_concurrent_on_the_simulated_kernel() {
    let fx = common::fixture();
    let report = evfilt_machport_concurrent(Config {
        rounds: 100,
        space: Some(fx.server.clone()),
        ..Config::default()
    })
    .expect("EVFILT-MACHPORT-CONCURRENT-OK");
    assert_eq!(report.received, report.sends_ok);
    assert!(report.sends_ok > 0);
    assert_eq!(report.attaches, 6 * 100);
    assert_eq!(report.private_sets_destroyed, 6 * 50);
    assert_eq!(report.fds_before, report.fds_after);
    fx.kernel.assert_no_leaks();
}
