//! `--compare BEFORE.json`: each headline figure of a previous run beside this run's, with the
//! change, as a Markdown table (what the README's before/after table is).
//!
//! Figures are read by key from both JSON documents, so a run made before a key existed simply
//! shows `n/a` for it. Ratios are recomputed from the raw figures on each side (an older JSON
//! may not carry them).

use crate::report::{fmt_ratio, fmt_us};
use serde_json::Value;
use std::fmt::Write as _;

/// How a figure reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Microseconds, lower is better.
    Us,
    /// A rate, higher is better.
    Rate,
    /// A ratio (its meaning is in the label).
    Ratio,
}

/// One headline figure: a label, how to compute it from a report's JSON, and its kind.
struct Figure {
    label: &'static str,
    value: fn(&Value) -> Option<f64>,
    kind: Kind,
}

fn get(v: &Value, group: &str, key: &str) -> Option<f64> {
    v.get(group)?.get(key)?.as_f64()
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    crate::stats::ratio(a, b)
}

/// The headline figures, in the order of the goals.
fn figures() -> Vec<Figure> {
    vec![
        Figure {
            label: "burst throughput, stream",
            value: |v| get(v, "throughput_msgs_per_s", "stream"),
            kind: Kind::Rate,
        },
        Figure {
            label: "burst throughput stream/old",
            value: |v| {
                div(
                    get(v, "throughput_msgs_per_s", "stream"),
                    get(v, "throughput_msgs_per_s", "old"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "queue-limited throughput, stream",
            value: |v| get(v, "throughput_msgs_per_s", "stream_queue_limited"),
            kind: Kind::Rate,
        },
        Figure {
            label: "queue-limited throughput stream/old",
            value: |v| {
                div(
                    get(v, "throughput_msgs_per_s", "stream_queue_limited"),
                    get(v, "throughput_msgs_per_s", "old_queue_limited"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "p50 latency, stream",
            value: |v| get(v, "latency_us", "stream_p50"),
            kind: Kind::Us,
        },
        Figure {
            label: "p99 latency, stream",
            value: |v| get(v, "latency_us", "stream_p99"),
            kind: Kind::Us,
        },
        Figure {
            label: "p50 latency stream/floor",
            value: |v| {
                div(
                    get(v, "latency_us", "stream_p50"),
                    get(v, "latency_us", "floor_p50"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "p50 latency stream/dispatch (HEAD)",
            value: |v| {
                div(
                    get(v, "latency_us", "stream_p50"),
                    get(v, "latency_us", "dispatch_p50"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "p50 latency at 10,000 ports, stream",
            value: |v| get(v, "latency_at_ports_us", "stream_10000"),
            kind: Kind::Us,
        },
        Figure {
            label: "RPC 1 async client, instant, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s", "stream_1"),
                    get(v, "rpc_per_s", "old_1"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "RPC 64 async clients, instant, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s", "stream_64"),
                    get(v, "rpc_per_s", "old_64"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "RPC 1 C-stub thread, instant, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s_c_stub_threads", "stream_1"),
                    get(v, "rpc_per_s_c_stub_threads", "old_1"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "RPC 64 C-stub threads, instant, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s_c_stub_threads", "stream_64"),
                    get(v, "rpc_per_s_c_stub_threads", "old_64"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "RPC 1 async client, 1 ms handler, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s", "stream_1_slow"),
                    get(v, "rpc_per_s", "old_1_slow"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "RPC 64 async clients, 1 ms handler, stream/old",
            value: |v| {
                div(
                    get(v, "rpc_per_s", "stream_64_slow"),
                    get(v, "rpc_per_s", "old_64_slow"),
                )
            },
            kind: Kind::Ratio,
        },
        Figure {
            label: "shutdown, 1 port, stream",
            value: |v| get(v, "shutdown_us", "stream_1"),
            kind: Kind::Us,
        },
        Figure {
            label: "shutdown, 100 ports, stream",
            value: |v| get(v, "shutdown_us", "stream_100"),
            kind: Kind::Us,
        },
        Figure {
            label: "shutdown, 10,000 ports, stream",
            value: |v| get(v, "shutdown_us", "stream_10000"),
            kind: Kind::Us,
        },
        Figure {
            label: "shutdown at 10,000 ports old/stream",
            value: |v| {
                div(
                    get(v, "shutdown_us", "old_10000"),
                    get(v, "shutdown_us", "stream_10000"),
                )
            },
            kind: Kind::Ratio,
        },
    ]
}

fn fmt(kind: Kind, v: Option<f64>) -> String {
    match kind {
        Kind::Us => fmt_us(v),
        Kind::Rate => crate::report::fmt_rate(v, "/s"),
        Kind::Ratio => fmt_ratio(v),
    }
}

/// The before/after table of the headline figures of two reports' JSON.
pub fn render(before: &Value, after: &Value) -> String {
    let date = |v: &Value| {
        v.get("run")
            .and_then(|r| r.get("date"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "before: {} · after: {}\n\n| figure | before | after | after/before |\n|---|---:|---:|---:|",
        date(before),
        date(after)
    );
    for f in figures() {
        let (b, a) = ((f.value)(before), (f.value)(after));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            f.label,
            fmt(f.kind, b),
            fmt(f.kind, a),
            fmt_ratio(div(a, b))
        );
    }
    out
}

/// Reads and parses a previous run's JSON.
pub fn load(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_from_both_runs_and_missing_keys_show_as_na() {
        let before = serde_json::json!({
            "run": {"date": "2026-12-01 10:00 UTC"},
            "throughput_msgs_per_s": {"old": 100.0, "stream": 80.0},
            "latency_us": {"stream_p50": 20.0, "floor_p50": 10.0},
        });
        let after = serde_json::json!({
            "run": {"date": "2026-12-06 12:00 UTC"},
            "throughput_msgs_per_s": {"old": 100.0, "stream": 120.0},
            "latency_us": {"stream_p50": 12.0, "floor_p50": 10.0, "dispatch_p50": 15.0},
        });
        let t = render(&before, &after);
        assert!(
            t.contains("before: 2026-12-01 10:00 UTC · after: 2026-12-06 12:00 UTC"),
            "{t}"
        );
        assert!(
            t.contains("| burst throughput stream/old | 0.80× | 1.20× | 1.50× |"),
            "{t}"
        );
        assert!(
            t.contains("| p50 latency, stream | 20.0 µs | 12.0 µs | 0.60× |"),
            "{t}"
        );
        // A key the older run lacks.
        assert!(
            t.contains("| p50 latency stream/dispatch (HEAD) | n/a | 0.80× | n/a |"),
            "{t}"
        );
        assert_eq!(
            t.lines().filter(|l| l.starts_with("| ")).count(),
            figures().len() + 1
        );
    }

    #[test]
    fn unreadable_files_are_errors_that_name_the_file() {
        let e = load(std::path::Path::new("/nonexistent/before.json")).unwrap_err();
        assert!(e.contains("/nonexistent/before.json"), "{e}");
        let dir = std::env::temp_dir().join(format!("mach-bench-compare-{}", std::process::id()));
        std::fs::write(&dir, "not json").unwrap();
        let e = load(&dir).unwrap_err();
        let _ = std::fs::remove_file(&dir);
        assert!(e.contains("not JSON"), "{e}");
    }
}
