//! The `evfilt-machport-concurrent` binary (issue 16): a short run passes, bad usage exits 2.
//! Each run is a child process bounded by a generous deadline (a hang fails the test).
#![cfg(not(any(target_os = "freebsd", target_os = "macos")))]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(120);

fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evfilt-machport-concurrent"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the stress binary");
    let deadline = Instant::now() + HANG;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("evfilt-machport-concurrent {args:?} did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_short_run_passes_and_bad_usage_exits_2() {
    let out = run(&[
        "--rounds",
        "3",
        "--attachers",
        "2",
        "--movers",
        "1",
        "--ports",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--rounds"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("usage:"));
    let out = run(&["--bogus", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --bogus"));
}
