//! The `mach-bench` binary itself (issue 16): help, bad usage, a short real run writing every
//! output file, and an output path that cannot be written. Each run is a child process bounded
//! by a generous deadline (a hang fails the test; no timing is asserted).
#![cfg(mach_backend = "sim")]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(120);

fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mach-bench"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    run_command(cmd, args)
}

/// Runs `cmd` (stdin closed) to its end within [`HANG`], or fails naming `args`.
fn run_command(mut cmd: Command, args: &[&str]) -> Output {
    let mut child = cmd.stdin(Stdio::null()).spawn().expect("spawn mach-bench");
    let deadline = Instant::now() + HANG;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mach-bench {args:?} did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mach-bench-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn version_names_the_backend() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "mach-bench {} (backend sim)",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}

#[test]
fn rust_log_shows_tracing_lines() {
    // Into a file: a pipe nobody reads while the run goes on would fill and block it.
    let log = std::env::temp_dir().join(format!("mach-bench-rust-log-{}.txt", std::process::id()));
    let args = ["--quick", "--no-demo", "--only", "latency"];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mach-bench"));
    cmd.args(args)
        .env("RUST_LOG", "mach_async=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a scratch file"));
    run_command(cmd, &args);
    let text = std::fs::read_to_string(&log).expect("the log");
    let _ = std::fs::remove_file(&log);
    assert!(
        text.contains("DEBUG") && text.contains("MachRecvStream set up"),
        "no tracing line on stderr:\n{}",
        &text[..text.len().min(2000)]
    );
}

#[test]
fn help_and_bad_usage() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let usage = String::from_utf8_lossy(&out.stdout);
    assert!(usage.contains("--quick"), "{usage}");

    let out = run(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("mach-bench: "), "{err}");
    assert!(err.contains("--no-such-option"), "{err}");
}

#[test]
fn a_short_run_writes_json_markdown_and_plot() {
    let (json, md, svg) = (scratch("r.json"), scratch("r.md"), scratch("r.svg"));
    let out = run(&[
        "--quick",
        "--no-demo",
        "--only",
        "latency",
        "--json",
        json.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("JSON written to"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    assert!(report["latency_us"].is_object(), "{report:#}");
    assert!(std::fs::read_to_string(&md).unwrap().contains('|'));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let _ = std::fs::remove_dir_all(json.parent().unwrap());
}

#[test]
fn an_output_file_that_cannot_be_written_fails_the_run() {
    let out = run(&[
        "--quick",
        "--no-demo",
        "--only",
        "latency",
        "--json",
        "/nonexistent-dir/r.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write /nonexistent-dir/r.json"),
        "{err}"
    );
}
