//! The stress's own failure detection (issue 16): a kernel that misbehaves during the run (an
//! injected send failure, a lost message) is reported as FAIL with what went wrong, and the run
//! still cleans up everything it created.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use mach_async::mach_sim::mach_abi::{MACH_RCV_INVALID_DATA, MACH_SEND_NO_BUFFER};
use mach_async::stress::{evfilt_machport_concurrent, Config, StressError};

fn small(fx: &common::Fixture) -> Config {
    Config {
        rounds: 10,
        attachers: 2,
        movers: 1,
        ports: 2,
        space: Some(fx.server.clone()),
        ..Config::default()
    }
}

#[test]
fn a_failing_send_is_reported_as_fail() {
    let fx = common::fixture();
    fx.kernel.faults().fail_next_sends(1, MACH_SEND_NO_BUFFER);
    let err = evfilt_machport_concurrent(small(&fx)).expect_err("the injected failure");
    let text = err.to_string();
    assert!(matches!(err, StressError::Fail(_)), "{err:?}");
    assert!(text.starts_with("failed: send to port "), "{text}");
    assert!(
        text.ends_with(&format!("{MACH_SEND_NO_BUFFER:#x}")),
        "{text}"
    );
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}

#[test]
fn a_failing_drain_receive_is_reported_as_fail() {
    let fx = common::fixture();
    // The stress receives only in its final drain: every receive fails, and the first failure
    // ends the run.
    fx.kernel
        .faults()
        .fail_next_receives_in(fx.server_task(), u32::MAX, MACH_RCV_INVALID_DATA);
    let err = evfilt_machport_concurrent(small(&fx)).expect_err("the injected failure");
    assert!(matches!(err, StressError::Fail(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("failed: drain of port "),
        "{err}"
    );
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}
