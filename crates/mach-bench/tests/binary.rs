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
fn help_lists_every_option() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let usage = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--quick",
        "--json PATH",
        "--plot PATH",
        "--markdown PATH",
        "--backend sim|native",
        "--no-demo",
        "--only GROUP,...",
        "--compare PATH",
        "-V, --version",
        "-h, --help",
        "RUST_LOG",
    ] {
        let line = usage
            .lines()
            .find(|l| l.trim_start().starts_with(option))
            .unwrap_or_else(|| panic!("{option} not in\n{usage}"));
        // Each with a description on the same line.
        assert!(line.len() > option.len() + 20, "{line}");
    }
    assert!(run(&["-h"]).stdout == out.stdout);
}

#[test]
fn bad_usage_exits_2_with_a_clear_message() {
    for (args, says) in [
        (
            &["--no-such-option"][..],
            "unknown option `--no-such-option`",
        ),
        (&["--jsno", "x"][..], "did you mean `--json`?"),
        (&["--backend", "xnu"][..], "unknown backend `xnu`"),
        (&["--only", "speed"][..], "unknown group `speed`"),
        (&["--json"][..], "option `--json` needs a value"),
        (&["--plot="][..], "option `--plot` needs a value"),
        (&["--quick=yes"][..], "option `--quick` takes no value"),
        (&["--quick", "--quick=1"][..], "takes no value"),
        (
            &["--json", "a", "--json=b"][..],
            "`--json` given more than once",
        ),
        (&["results.json"][..], "unexpected argument `results.json`"),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("mach-bench: "), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            err.contains("--help"),
            "{args:?} does not point to --help: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    }
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

    // The headline ratios beside the CDF, named in the output, one bar per measured ratio of
    // the JSON's list, with its value.
    let ratios_svg = scratch("r-ratios.svg");
    assert!(
        stdout.contains(&format!(
            "headline ratios written to {}",
            ratios_svg.display()
        )),
        "{stdout}"
    );
    let chart = std::fs::read_to_string(&ratios_svg).expect("the ratio chart");
    assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
    for tag in ["text", "g", "svg"] {
        assert_eq!(
            chart.matches(&format!("<{tag} ")).count() + chart.matches(&format!("<{tag}>")).count(),
            chart.matches(&format!("</{tag}>")).count(),
            "<{tag}> unbalanced"
        );
    }
    let listed: Vec<f64> = report["headline_ratios"]
        .as_array()
        .expect("headline_ratios")
        .iter()
        .filter_map(|h| h["ratio"].as_f64())
        .collect();
    let bars: Vec<f64> = chart
        .lines()
        .filter(|l| l.contains("class=\"bar\""))
        .map(|l| {
            let v = l.split("data-ratio=\"").nth(1).unwrap();
            v[..v.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    // serde_json's default float parsing may be one unit in the last place off the value the
    // SVG carries: equal to 12 digits.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    assert!(!listed.is_empty());
    assert_eq!(bars.len(), listed.len(), "{bars:?} vs {listed:?}");
    for (bar, json) in bars.iter().zip(&listed) {
        assert!(close(*bar, *json), "bar {bar} vs JSON {json}");
    }
    // Only latency ran: its old/stream ratio is the JSON's.
    let p50 = report["ratios"]["latency_p50_old_over_stream"]
        .as_f64()
        .expect("measured");
    assert!(close(bars[0], p50), "{} vs {p50}", bars[0]);

    // stderr is a pipe: one plain progress line per step, numbered in order, and no terminal
    // control character anywhere.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "control characters on stderr: {stderr:?}"
    );
    let steps: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("mach-bench: ["))
        .collect();
    // --only latency of the quick plan: old, dispatch, stream, floor, then dispatch and streams
    // at each of the three port counts, and streams with every message to one of the most.
    assert_eq!(steps.len(), 11, "{stderr}");
    for (i, line) in steps.iter().enumerate() {
        assert!(
            line.starts_with(&format!("mach-bench: [{:>2}/11 ", i + 1)),
            "{line}"
        );
        assert!(line.contains("] latency"), "{line}");
    }
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
