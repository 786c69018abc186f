//! Every measurement at a tiny scale on a kernel of the test's own: all JSON keys present and
//! sane, the designs behaving as designed (the old loop wakes up while idle and costs a thread
//! per port; streams do neither), and nothing left in the kernel.
//!
//! One test in this binary on purpose: the thread counts it checks are the process's, so no
//! other test may run beside it.

#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

use mach_bench::cli::Options;
use mach_bench::env::Env;
use mach_bench::plan::Plan;
use mach_bench::progress::Progress;
use std::time::Duration;

fn num(v: &serde_json::Value, group: &str, key: &str) -> f64 {
    v[group][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{group}.{key} is {} in\n{v:#}", v[group][key]))
}

#[test]
fn tiny_run_reports_every_key_and_leaks_nothing() {
    let kernel = mach_sim::Kernel::new();
    let mut plan = Plan::tiny();
    // More than two 500 ms receive timeouts: the old loop must be seen waking up.
    plan.idle_window_old = Duration::from_millis(1_100);
    let opts = Options {
        no_demo: true,
        ..Options::default()
    };
    let mut progress = Progress::hidden();
    let report = mach_bench::run_with(&opts, plan.clone(), &mut progress, &mut |label| {
        Ok(Env::sim_on(&kernel, label))
    })
    .expect("run");

    // Only parts that are not built yet may be missing; no measurement may have failed.
    for m in &report.missing {
        assert!(
            m.contains("not built into this binary"),
            "a measurement failed: {m}"
        );
    }

    let text = report.to_json().to_pretty_string();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let required: &[(&str, &[&str])] = &[
        (
            "latency_us",
            &[
                "old_p50",
                "old_p99",
                "stream_p50",
                "stream_p99",
                "floor_p50",
                "dispatch_p50",
                "dispatch_p99",
            ],
        ),
        (
            "throughput_msgs_per_s",
            &["old", "stream", "dispatch", "floor"],
        ),
        (
            "receiver_kernel_calls_per_message",
            &[
                "old",
                "stream",
                "dispatch",
                "floor",
                "old_queue_limited",
                "stream_queue_limited",
                "dispatch_queue_limited",
            ],
        ),
        (
            "idle_wakeups_per_port_per_s",
            &["old", "stream", "dispatch"],
        ),
        ("threads", &["old_10000", "stream_10000", "dispatch_10000"]),
        ("rss_bytes_per_port", &["old", "stream"]),
        (
            "shutdown_us",
            &[
                "old",
                "stream",
                "dispatch_1",
                "dispatch_3",
                "dispatch_16",
                "stream_teardown_1",
                "stream_teardown_16",
            ],
        ),
        (
            "latency_at_ports_us",
            &[
                "stream_1",
                "stream_16",
                "stream_10000",
                "dispatch_1",
                "dispatch_16",
                "dispatch_10000",
                "stream_16_one_port",
            ],
        ),
        ("rpc_handler_us", &["old_slow", "stream_slow"]),
        (
            "rpc_server_cpu_us_per_request",
            &["old_1", "stream_1", "old_64", "stream_64"],
        ),
        (
            "rpc_server_cpu_us_per_request_c_stub_threads",
            &["old_1", "stream_1", "old_64", "stream_64"],
        ),
        (
            "rpc_server_kernel_calls_per_request",
            &["old_1", "stream_1", "old_64", "stream_64"],
        ),
        (
            "rpc_server_kernel_calls_per_request_c_stub_threads",
            &["old_1", "stream_1", "old_64", "stream_64"],
        ),
        (
            "rpc_per_s",
            &[
                "old_1",
                "stream_1",
                "old_64",
                "stream_64",
                "old_64_slow",
                "stream_64_slow",
            ],
        ),
    ];
    for (group, keys) in required {
        for key in *keys {
            assert!(v[group].get(key).is_some(), "{group}.{key} missing");
        }
    }

    // Latency: every design delivered every sample; percentiles are ordered.
    for side in ["old", "stream", "dispatch"] {
        let (p50, p99) = (
            num(&v, "latency_us", &format!("{side}_p50")),
            num(&v, "latency_us", &format!("{side}_p99")),
        );
        let max = num(&v, "latency_us", &format!("{side}_max"));
        assert!(
            p50 > 0.0 && p50 <= p99 && p99 <= max,
            "{side}: {p50} {p99} {max}"
        );
    }
    assert!(num(&v, "latency_us", "floor_p50") > 0.0);
    for design in [
        &report.latency.old,
        &report.latency.stream,
        &report.latency.floor,
        &report.latency.dispatch,
    ] {
        assert_eq!(design.as_ref().map(|s| s.len()), Some(plan.latency_samples));
    }

    // Throughput: the whole burst was drained by both, with and without the queue limit.
    assert!(num(&v, "throughput_msgs_per_s", "old") > 0.0);
    assert!(num(&v, "throughput_msgs_per_s", "stream") > 0.0);
    // The receiving side's kernel calls per message: the old loop and the floor make one
    // receive per message; the stream one per message plus a consume and a closing empty
    // receive per wake-up (a burst's wake-ups find many messages), as does the dispatch model
    // plus its re-arms. One more call per message on any path crosses the upper bounds.
    let calls = |key| num(&v, "receiver_kernel_calls_per_message", key);
    for key in ["old", "floor", "old_queue_limited"] {
        assert!((1.0..1.5).contains(&calls(key)), "{key}: {}", calls(key));
    }
    assert!(
        (1.0..2.0).contains(&calls("stream")),
        "stream: {}",
        calls("stream")
    );
    for key in ["stream_queue_limited", "dispatch", "dispatch_queue_limited"] {
        assert!((1.0..3.0).contains(&calls(key)), "{key}: {}", calls(key));
    }
    assert!(num(&v, "throughput_msgs_per_s", "old_queue_limited") > 0.0);
    assert!(num(&v, "throughput_msgs_per_s", "stream_queue_limited") > 0.0);
    assert!(num(&v, "throughput_msgs_per_s", "dispatch") > 0.0);
    assert!(num(&v, "throughput_msgs_per_s", "dispatch_queue_limited") > 0.0);
    assert!(num(&v, "throughput_msgs_per_s", "floor") > 0.0);
    // Latency with many ports registered: every design delivered every sample at every count.
    assert_eq!(report.latency_at_ports.len(), plan.port_counts.len());
    for row in &report.latency_at_ports {
        for s in [&row.stream, &row.dispatch] {
            assert_eq!(s.as_ref().map(|s| s.len()), Some(plan.latency_samples));
        }
    }

    // Idle: the old loop wakes up (its 500 ms timeout) and costs a thread per port; streams
    // wake up for nothing and add no thread.
    for row in &report.idle {
        let (old, stream) = (row.old.as_ref().unwrap(), row.stream.as_ref().unwrap());
        assert!(
            old.wakeups >= row.ports as u64,
            "{} ports: only {} old-loop wake-ups",
            row.ports,
            old.wakeups
        );
        assert_eq!(stream.wakeups, 0, "{} idle streams woke up", row.ports);
        assert!(old.threads_added.unwrap() >= row.ports as i64, "{old:?}");
        assert_eq!(stream.threads_added, Some(0), "{stream:?}");
        // The dispatch model: no polling (no idle wake-up) and a fixed pool, not a thread per
        // source.
        let dispatch = row.dispatch.as_ref().unwrap();
        assert_eq!(dispatch.wakeups, 0, "{} idle sources woke up", row.ports);
        assert_eq!(dispatch.threads_added, Some(0), "{dispatch:?}");
        assert!(dispatch.shutdown > Duration::ZERO);
        assert!(old.shutdown > Duration::ZERO && stream.shutdown > Duration::ZERO);
    }
    assert!(num(&v, "idle_wakeups_per_port_per_s", "old") > 0.0);
    assert_eq!(num(&v, "idle_wakeups_per_port_per_s", "stream"), 0.0);
    assert!(num(&v, "threads", "old_10000") >= plan.largest_ports() as f64);
    assert_eq!(num(&v, "threads", "stream_10000"), 0.0);
    assert!(
        v["rss_bytes_per_port"]["old"].is_number() && v["rss_bytes_per_port"]["stream"].is_number()
    );
    assert!(num(&v, "shutdown_us", "old") > 0.0 && num(&v, "shutdown_us", "stream") > 0.0);

    // The slow handler's actual time is measured in both servers, at least the 1 ms asked.
    for key in ["old_slow", "stream_slow"] {
        let us = num(&v, "rpc_handler_us", key);
        assert!(us >= 1_000.0, "rpc_handler_us.{key} = {us}");
    }

    // Each server thread used some CPU for the requests it served (a zero would mean the clock
    // read another thread, or the count was lost).
    for key in ["old_1", "stream_1", "old_64", "stream_64"] {
        let us = num(&v, "rpc_server_cpu_us_per_request", key);
        assert!(us > 0.0, "rpc_server_cpu_us_per_request.{key} = {us}");
    }

    // Kernel calls per request, counted by the simulated kernel over the whole serve (so a
    // serve's start and end add a few calls, spread over its requests): the old loop makes one
    // receive and one send per request; the async server at least as many, and for a lone
    // client at least the four of a wake-up (consume, receive, the closing empty receive, the
    // reply), which it cannot share with another request. One more call per request on
    // either path crosses the upper bounds.
    for keys in [
        "rpc_server_kernel_calls_per_request",
        "rpc_server_kernel_calls_per_request_c_stub_threads",
    ] {
        for key in ["old_1", "old_64"] {
            let calls = num(&v, keys, key);
            assert!((2.0..3.0).contains(&calls), "{keys}.{key} = {calls}");
        }
        let one = num(&v, keys, "stream_1");
        assert!((3.99..5.0).contains(&one), "{keys}.stream_1 = {one}");
        let many = num(&v, keys, "stream_64");
        assert!((2.0..5.0).contains(&many), "{keys}.stream_64 = {many}");
    }

    // RPC: every configuration answered, through the old loop and the async server alike, to
    // async clients and to C-stub threads.
    for key in [
        "old_1",
        "stream_1",
        "old_64",
        "stream_64",
        "old_64_slow",
        "stream_64_slow",
        "old_1_slow",
        "stream_1_slow",
    ] {
        assert!(num(&v, "rpc_per_s", key) > 0.0, "rpc_per_s.{key}");
        assert!(
            num(&v, "rpc_per_s_c_stub_threads", key) > 0.0,
            "rpc_per_s_c_stub_threads.{key}"
        );
    }

    // The table and the plot render from the same report.
    let table = report.render_text();
    assert!(table.contains("delivery latency p50") && table.contains("goals:"));

    kernel.assert_no_leaks();
}
