//! The suite's runner (the test target uses `harness = false`): runs each test on its own
//! thread, one at a time, with a bound, and prints one line per test and the summary line.
//!
//! Arguments: a substring filters tests by name; `--list` prints the names. Environment:
//! `CONFORMANCE_REPORT=<file>` also writes one `name<TAB>ok|FAILED|skipped<TAB>detail` line per
//! test (for `scripts/native-check`); `CONFORMANCE_TEST_TIMEOUT=<seconds>` changes the per-test
//! bound (default 120).

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why a test did not run on this backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped(pub &'static str);

/// What a test returns: `Ok` when it ran (failures panic), `Err` when it does not apply here.
pub type Outcome = Result<(), Skipped>;

/// One test: its name and its body.
#[derive(Clone, Copy, Debug)]
pub struct Test {
    /// `module::name`.
    pub name: &'static str,
    /// The body; a panic is a failure.
    pub run: fn() -> Outcome,
}

enum Verdict {
    Passed,
    Skipped(&'static str),
    Failed(String),
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// Runs `tests` (filtered by the command-line arguments) and prints
/// `conformance backend=<name>: N passed, M failed, K skipped`. Exits with failure if any test
/// failed or timed out (a timed-out test's thread cannot be stopped: the run ends there).
pub fn run_suite(tests: &[Test]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in tests {
            println!("{}: test", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let bound = std::env::var("CONFORMANCE_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs);
    let mut report = std::env::var_os("CONFORMANCE_REPORT")
        .map(|p| std::fs::File::create(p).expect("CONFORMANCE_REPORT is writable"));
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
        .collect();
    println!(
        "\nrunning {} conformance tests on backend {}",
        selected.len(),
        crate::BACKEND
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut timed_out = false;
    for test in selected {
        let start = Instant::now();
        let (tx, rx) = mpsc::channel();
        let run = test.run;
        let spawned = std::thread::Builder::new()
            .name(test.name.into())
            .spawn(move || {
                let result = std::panic::catch_unwind(run);
                let _ = tx.send(match result {
                    Ok(Ok(())) => Verdict::Passed,
                    Ok(Err(Skipped(why))) => Verdict::Skipped(why),
                    Err(payload) => Verdict::Failed(panic_message(&*payload)),
                });
            });
        let verdict = match spawned {
            Err(e) => Verdict::Failed(format!("could not start the test thread: {e}")),
            Ok(_) => rx.recv_timeout(bound).unwrap_or_else(|_| {
                timed_out = true;
                Verdict::Failed(format!("did not finish within {bound:?}"))
            }),
        };
        let (word, detail) = match &verdict {
            Verdict::Passed => {
                passed += 1;
                ("ok", String::new())
            }
            Verdict::Skipped(why) => {
                skipped += 1;
                ("skipped", why.to_string())
            }
            Verdict::Failed(msg) => {
                failed += 1;
                ("FAILED", msg.clone())
            }
        };
        match &verdict {
            Verdict::Skipped(why) => println!("test {} ... skipped ({why})", test.name),
            Verdict::Failed(msg) => println!("test {} ... FAILED: {msg}", test.name),
            Verdict::Passed => println!(
                "test {} ... ok ({} ms)",
                test.name,
                start.elapsed().as_millis()
            ),
        }
        if let Some(f) = report.as_mut() {
            let detail = detail.replace(['\n', '\t'], " ");
            let _ = writeln!(f, "{}\t{word}\t{detail}", test.name);
        }
        if timed_out {
            break;
        }
    }
    println!(
        "\nconformance backend={}: {passed} passed, {failed} failed, {skipped} skipped",
        crate::BACKEND
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
