//! How much each measurement does: the default run, `--quick`, and a tiny plan for tests.

use std::time::Duration;

/// Sizes and durations of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Latency samples per design (after the warm-up).
    pub latency_samples: usize,
    /// Discarded samples before measuring (first-touch costs, thread start).
    pub latency_warmup: usize,
    /// Pause between two latency messages, so that the receiver is parked when each arrives.
    pub latency_gap: Duration,
    /// Messages in the burst-throughput phase.
    pub burst_messages: u64,
    /// Repeats of each throughput measurement, each in a fresh environment, the designs
    /// interleaved; the median is reported (one burst lasts tens of milliseconds, and where
    /// the sender and the receiver land on 2 cores swings a single burst by 2×).
    pub throughput_repeats: usize,
    /// Idle port counts, ascending; the last is the "10,000 ports" figure.
    pub port_counts: Vec<usize>,
    /// How long the old loop's idle wake-ups are counted at each port count.
    pub idle_window_old: Duration,
    /// How long the stream's idle wake-ups are counted at each port count.
    pub idle_window_stream: Duration,
    /// Stack of each old-design thread.
    pub old_stack_bytes: usize,
    /// How long each RPC configuration is driven, per repeat.
    pub rpc_window: Duration,
    /// Repeats of each RPC configuration, each in a fresh environment, old and async
    /// interleaved; the median rate is reported (thread placement on 2 cores makes single
    /// windows bimodal).
    pub rpc_repeats: usize,
    /// Concurrent RPC clients of the loaded configurations.
    pub rpc_clients: usize,
    /// The slow handler's await.
    pub rpc_slow_handler: Duration,
    /// What this plan leaves out compared with the default run (printed and written to JSON).
    pub reductions: Vec<String>,
}

impl Plan {
    /// The default run (under a minute on 2 cores).
    pub fn full() -> Plan {
        Plan {
            latency_samples: 2_000,
            latency_warmup: 50,
            latency_gap: Duration::from_micros(200),
            burst_messages: 100_000,
            throughput_repeats: 5,
            port_counts: vec![1, 100, 10_000],
            idle_window_old: Duration::from_secs(2),
            idle_window_stream: Duration::from_secs(2),
            old_stack_bytes: 64 * 1024,
            rpc_window: Duration::from_millis(400),
            rpc_repeats: 3,
            rpc_clients: 64,
            rpc_slow_handler: Duration::from_millis(1),
            reductions: Vec::new(),
        }
    }

    /// `--quick`: same port counts and configurations, fewer samples, shorter windows.
    pub fn quick() -> Plan {
        let full = Plan::full();
        let mut p = Plan {
            latency_samples: 300,
            latency_warmup: 20,
            burst_messages: 10_000,
            throughput_repeats: 1,
            idle_window_old: Duration::from_millis(1_000),
            idle_window_stream: Duration::from_millis(300),
            rpc_window: Duration::from_millis(150),
            rpc_repeats: 1,
            ..full.clone()
        };
        p.reductions = p.describe_reductions(&full);
        p
    }

    /// A few milliseconds of everything, for tests (figures are noisy, keys are all there).
    pub fn tiny() -> Plan {
        let full = Plan::full();
        let mut p = Plan {
            latency_samples: 20,
            latency_warmup: 2,
            latency_gap: Duration::from_micros(50),
            burst_messages: 200,
            throughput_repeats: 1,
            port_counts: vec![1, 3, 16],
            idle_window_old: Duration::from_millis(600),
            idle_window_stream: Duration::from_millis(50),
            rpc_window: Duration::from_millis(50),
            rpc_repeats: 1,
            rpc_clients: 4,
            ..full.clone()
        };
        p.reductions = p.describe_reductions(&full);
        p
    }

    /// The largest idle port count.
    pub fn largest_ports(&self) -> usize {
        self.port_counts.last().copied().unwrap_or(0)
    }

    fn describe_reductions(&self, full: &Plan) -> Vec<String> {
        let mut r = Vec::new();
        if self.latency_samples != full.latency_samples {
            r.push(format!(
                "latency: {} samples per design (default {})",
                self.latency_samples, full.latency_samples
            ));
        }
        if self.burst_messages != full.burst_messages
            || self.throughput_repeats != full.throughput_repeats
        {
            r.push(format!(
                "throughput: {} × a burst of {} messages (default median of {} × {})",
                self.throughput_repeats,
                self.burst_messages,
                full.throughput_repeats,
                full.burst_messages
            ));
        }
        if self.port_counts != full.port_counts {
            r.push(format!(
                "idle: {:?} ports (default {:?}); the `_10000` keys hold the {}-port figures",
                self.port_counts,
                full.port_counts,
                self.largest_ports()
            ));
        }
        if self.idle_window_old != full.idle_window_old
            || self.idle_window_stream != full.idle_window_stream
        {
            r.push(format!(
                "idle: wake-ups counted over {:.1} s (old) / {:.1} s (stream) per port count (default {:.1} s / {:.1} s)",
                self.idle_window_old.as_secs_f64(),
                self.idle_window_stream.as_secs_f64(),
                full.idle_window_old.as_secs_f64(),
                full.idle_window_stream.as_secs_f64()
            ));
        }
        if self.rpc_window != full.rpc_window || self.rpc_repeats != full.rpc_repeats {
            r.push(format!(
                "rpc: {} × {:.2} s per configuration (default median of {} × {:.2} s)",
                self.rpc_repeats,
                self.rpc_window.as_secs_f64(),
                full.rpc_repeats,
                full.rpc_window.as_secs_f64()
            ));
        }
        if self.rpc_clients != full.rpc_clients {
            r.push(format!(
                "rpc: {} concurrent clients; the `_64` keys hold these figures",
                self.rpc_clients
            ));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_keeps_the_scales_and_says_what_it_cut() {
        let q = Plan::quick();
        assert_eq!(q.port_counts, Plan::full().port_counts);
        assert_eq!(q.rpc_clients, 64);
        assert!(q.reductions.iter().any(|r| r.contains("latency")));
        assert!(q.reductions.iter().any(|r| r.contains("idle")));
        assert!(Plan::full().reductions.is_empty());
        let t = Plan::tiny();
        assert_eq!(t.largest_ports(), 16);
        assert!(t.reductions.iter().any(|r| r.contains("_10000")));
        assert!(t.reductions.iter().any(|r| r.contains("_64")));
    }
}
