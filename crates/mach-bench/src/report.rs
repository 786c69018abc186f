//! The results of one run: the model, the goals, the table and the JSON.
//!
//! Every figure is optional: a part that could not run (a consumer crate missing, a backend
//! that cannot count threads) is reported as missing — `null` in JSON, `n/a` in the table —
//! never invented. The JSON always has every key.

use crate::json::Json;
use crate::measure::rpc::ClientKind;
use crate::measure::IdleFigures;
use crate::plan::Plan;
use crate::stats::{ratio, Samples};
use std::fmt::Write as _;
use std::time::Duration;

/// Where and when the run happened.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// `sim` or `native`.
    pub backend: String,
    /// `--quick`.
    pub quick: bool,
    /// `uname`.
    pub machine: String,
    /// CPUs available.
    pub cores: usize,
    /// UTC start time.
    pub date: String,
    /// Load average when the run started.
    pub load_before: Option<[f64; 3]>,
    /// Load average when the run ended.
    pub load_after: Option<[f64; 3]>,
    /// Sizes used.
    pub plan: Plan,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Send → consumer latency samples per design.
#[derive(Clone, Debug, Default)]
pub struct LatencyFigures {
    /// The old loop.
    pub old: Option<Samples>,
    /// `MachRecvStream`.
    pub stream: Option<Samples>,
    /// A thread already blocked in `mach_msg`.
    pub floor: Option<Samples>,
    /// NextBSD HEAD's libdispatch source on libmach's `kevent_qos` wrapper (one source).
    pub dispatch: Option<Samples>,
}

/// Delivery latency with many ports registered (messages to each in turn), per design.
#[derive(Clone, Debug, Default)]
pub struct PortsLatency {
    /// Ports (streams, or dispatch sources) registered.
    pub ports: usize,
    /// One `MachRecvStream` task per port.
    pub stream: Option<Samples>,
    /// One dispatch source per port.
    pub dispatch: Option<Samples>,
    /// One `MachRecvStream` task per port, every message to the same port (measured at the
    /// largest count only, see `measure::stream::Traffic::OnePort`).
    pub stream_one_port: Option<Samples>,
}

/// One figure for each design.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pair {
    /// The old design.
    pub old: Option<f64>,
    /// The stream / async design.
    pub stream: Option<f64>,
}

/// Idle cost at one port count.
#[derive(Clone, Debug, PartialEq)]
pub struct IdleRow {
    /// Port count.
    pub ports: usize,
    /// The old loop.
    pub old: Option<IdleFigures>,
    /// Streams.
    pub stream: Option<IdleFigures>,
    /// Dispatch sources (HEAD).
    pub dispatch: Option<IdleFigures>,
    /// The streams' own teardown: as many idle streams dropped in one loop, with no task to
    /// wake (the lower bound of the streams' shutdown, see `measure::stream::stream_teardown`).
    pub stream_teardown: Option<Duration>,
}

/// One RPC configuration: requests per second of the old single-thread server and the async
/// server.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcRow {
    /// Who calls.
    pub client: ClientKind,
    /// Concurrent clients.
    pub clients: usize,
    /// Whether the handler awaits [`Plan::rpc_slow_handler`] (else it answers at once).
    pub slow: bool,
    /// Requests per second.
    pub rate: Pair,
    /// Client sends that waited a whole slice for room in the service queue and were retried
    /// during the window (see `measure::rpc::RpcOutcome::send_retries`).
    pub send_retries: Pair,
    /// Slow handler only: its mean actual time per call, µs.
    pub handler_us: Pair,
    /// CPU time of the server's thread per request, µs (see
    /// `measure::rpc::RpcOutcome::server_cpu_us`).
    pub server_cpu_us: Pair,
    /// Kernel calls of the server's thread per request (simulated kernel only; see
    /// `measure::rpc::RpcOutcome::server_kernel_calls`).
    pub server_kernel_calls: Pair,
}

/// Kernel calls per message made by each design's receiving side (the old loop's thread, the
/// dispatch model's manager and workers, the stream's event thread, the floor's thread) over a
/// burst, setup and teardown included; `None` where not measured or not countable.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReceiverCalls {
    /// The old loop.
    pub old: Option<f64>,
    /// The dispatch model.
    pub dispatch: Option<f64>,
    /// The stream.
    pub stream: Option<f64>,
    /// The floor.
    pub floor: Option<f64>,
}

impl ReceiverCalls {
    fn any(&self) -> bool {
        self.old.is_some()
            || self.dispatch.is_some()
            || self.stream.is_some()
            || self.floor.is_some()
    }
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where and when.
    pub run: RunInfo,
    /// Delivery latency.
    pub latency: LatencyFigures,
    /// Burst throughput, messages per second: a burst the queue limit does not hold back,
    /// drained by the consumer.
    pub throughput: Pair,
    /// Throughput with a producer blocked by the queue limit of 5 (producer and consumer
    /// alternate), messages per second.
    pub throughput_queue_limited: Pair,
    /// The dispatch model's burst throughput, messages per second.
    pub throughput_dispatch: Option<f64>,
    /// The dispatch model's queue-limited throughput, messages per second.
    pub throughput_queue_limited_dispatch: Option<f64>,
    /// The floor's burst throughput (a thread blocked in `mach_msg` draining the burst).
    pub throughput_floor: Option<f64>,
    /// Kernel calls per message of each design's receiving side in the burst (simulated
    /// kernel only; see `measure::Throughput`).
    pub receiver_calls: ReceiverCalls,
    /// The same in the queue-limited run (no floor there).
    pub receiver_calls_queue_limited: ReceiverCalls,
    /// Delivery latency with 1, 100, 10,000 ports registered, per design.
    pub latency_at_ports: Vec<PortsLatency>,
    /// Idle cost per port count, ascending.
    pub idle: Vec<IdleRow>,
    /// RPC requests per second.
    pub rpc: Vec<RpcRow>,
    /// The end-to-end demo's trace (empty when it did not run).
    pub demo: Vec<String>,
    /// Parts that could not be measured, and why.
    pub missing: Vec<String>,
    /// How many of them failed (rather than being unavailable or not selected).
    pub failures: usize,
}

/// A goal from the issue and whether this run met it.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// What is promised.
    pub name: &'static str,
    /// The measured figure, formatted.
    pub measured: String,
    /// `None` when the figures needed were not measured.
    pub met: Option<bool>,
}

/// A goal's threshold on a ratio: at least (or at most) `value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// `true`: the ratio must be ≥ `value`; `false`: ≤ `value`.
    pub at_least: bool,
    /// The threshold.
    pub value: f64,
}

impl Threshold {
    /// The ratio must be at least `value`.
    pub fn at_least(value: f64) -> Threshold {
        Threshold {
            at_least: true,
            value,
        }
    }

    /// The ratio must be at most `value`.
    pub fn at_most(value: f64) -> Threshold {
        Threshold {
            at_least: false,
            value,
        }
    }

    /// Whether `ratio` meets the threshold.
    pub fn met(self, ratio: f64) -> bool {
        if self.at_least {
            ratio >= self.value
        } else {
            ratio <= self.value
        }
    }
}

impl std::fmt::Display for Threshold {
    /// `≥ 1.0×`, `≤ 1.3×`, `≥ 0.95×`, `≥ 20×`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.at_least { '≥' } else { '≤' };
        let v = self.value;
        if v >= 10.0 {
            write!(f, "{sign} {v:.0}×")
        } else if ((v * 10.0).round() - v * 10.0).abs() < 1e-9 {
            write!(f, "{sign} {v:.1}×")
        } else {
            write!(f, "{sign} {v:.2}×")
        }
    }
}

/// One headline ratio (a bar of the `--plot` ratio chart, an entry of the JSON's
/// `headline_ratios`): the ratio as the table's ratio column prints it, and the goal judged on
/// it, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadlineRatio {
    /// What is divided by what (`delivery latency p50, old/stream`).
    pub label: String,
    /// The ratio (`None`: a figure was not measured).
    pub ratio: Option<f64>,
    /// The goal of [`Report::goals`] judged on this ratio (its name), if any.
    pub goal: Option<&'static str>,
    /// That goal's threshold, in this ratio's direction.
    pub threshold: Option<Threshold>,
}

impl HeadlineRatio {
    /// Whether the goal is met (`None`: no goal, or not measured).
    pub fn met(&self) -> Option<bool> {
        Some(self.threshold?.met(self.ratio?))
    }
}

impl Report {
    fn lat(&self, pick: fn(&LatencyFigures) -> &Option<Samples>, p: f64) -> Option<f64> {
        let s = pick(&self.latency).as_ref()?;
        let ns = if p >= 100.0 {
            s.max_ns()?
        } else {
            s.percentile_ns(p)?
        };
        Some(ns as f64 / 1e3)
    }

    /// The row of the largest port count.
    pub fn largest_idle(&self) -> Option<&IdleRow> {
        self.idle.last()
    }

    fn idle_pair(&self, row: Option<&IdleRow>, f: fn(&IdleFigures) -> Option<f64>) -> Pair {
        Pair {
            old: row.and_then(|r| r.old.as_ref()).and_then(f),
            stream: row.and_then(|r| r.stream.as_ref()).and_then(f),
        }
    }

    /// The RPC figures for `clients` async clients (`slow` handler or not): the headline
    /// figures the goals are judged on.
    pub fn rpc_pair(&self, clients: usize, slow: bool) -> Pair {
        self.rpc_pair_of(ClientKind::Async, clients, slow)
    }

    /// The RPC figures for `clients` clients of `kind` (`slow` handler or not).
    pub fn rpc_pair_of(&self, kind: ClientKind, clients: usize, slow: bool) -> Pair {
        self.rpc
            .iter()
            .find(|r| r.client == kind && r.clients == clients && r.slow == slow)
            .map_or(Pair::default(), |r| r.rate)
    }

    /// The issue's goals (issue 12's table), evaluated on this run.
    ///
    /// The floor is a separate run with its own scheduling luck: it beats the old loop at p99
    /// and max, so it is no lower bound there. Latency is judged against it at p50 only; the p99
    /// ratio is printed for information, its goal marked not judged.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        let le = |v: Option<f64>, limit: f64| v.map(|v| v <= limit);
        let ge = |v: Option<f64>, limit: f64| v.map(|v| v >= limit);
        let all_met = |v: &[Option<bool>]| -> Option<bool> {
            v.iter()
                .copied()
                .collect::<Option<Vec<bool>>>()
                .map(|v| v.iter().all(|&b| b))
        };

        let tput = ratio(self.throughput.stream, self.throughput.old);
        goals.push(Goal {
            name: "burst throughput stream/old ≥ 1.0",
            measured: fmt_ratio(tput),
            met: ge(tput, 1.0),
        });
        let tput_floor = ratio(self.throughput.stream, self.throughput_floor);
        goals.push(Goal {
            name: "burst throughput stream/floor ≥ 0.9",
            measured: fmt_ratio(tput_floor),
            met: ge(tput_floor, 0.9),
        });
        let ql = ratio(
            self.throughput_queue_limited.stream,
            self.throughput_queue_limited.old,
        );
        goals.push(Goal {
            name: "queue-limited throughput stream/old ≥ 1.0",
            measured: fmt_ratio(ql),
            met: ge(ql, 1.0),
        });

        let p50_floor = ratio(self.lat(|l| &l.stream, 50.0), self.lat(|l| &l.floor, 50.0));
        goals.push(Goal {
            name: "p50 latency stream/floor ≤ 1.3",
            measured: fmt_ratio(p50_floor),
            met: le(p50_floor, 1.3),
        });
        let p99_floor = ratio(self.lat(|l| &l.stream, 99.0), self.lat(|l| &l.floor, 99.0));
        goals.push(Goal {
            name: "p99 latency stream/floor ≤ 1.5 (only if the floor is a true floor)",
            measured: format!(
                "{} — not judged: the floor is a separate run, no lower bound at p99",
                fmt_ratio(p99_floor)
            ),
            met: None,
        });

        let clients = self.run.plan.rpc_clients;
        for (kind, n, label) in [
            (
                ClientKind::Async,
                1,
                "RPC instant, 1 async client, stream/old ≥ 1.0",
            ),
            (
                ClientKind::Async,
                clients,
                "RPC instant, 64 async clients, stream/old ≥ 1.0",
            ),
            (
                ClientKind::Threads,
                1,
                "RPC instant, 1 C-stub thread, stream/old ≥ 1.0",
            ),
            (
                ClientKind::Threads,
                clients,
                "RPC instant, 64 C-stub threads, stream/old ≥ 1.0",
            ),
        ] {
            let p = self.rpc_pair_of(kind, n, false);
            let r = ratio(p.stream, p.old);
            goals.push(Goal {
                name: label,
                measured: fmt_ratio(r),
                met: ge(r, 1.0),
            });
        }
        let slow1 = self.rpc_pair(1, true);
        let slow1_ratio = ratio(slow1.stream, slow1.old);
        goals.push(Goal {
            name: "RPC 1 ms handler, 1 async client, stream/old ≥ 0.95",
            measured: fmt_ratio(slow1_ratio),
            met: ge(slow1_ratio, 0.95),
        });
        let slow = self.rpc_pair(clients, true);
        let slow_ratio = ratio(slow.stream, slow.old);
        goals.push(Goal {
            name: "RPC 1 ms handler, 64 async clients, stream/old ≥ 20×",
            measured: fmt_ratio(slow_ratio),
            met: ge(slow_ratio, 20.0),
        });

        // Shutdown: ≥ 100× at 1 and 100 ports, ≥ 30× at the largest count (10,000).
        let largest = self.largest_idle().map(|r| r.ports);
        let shut: Vec<(usize, Option<f64>, f64)> = self
            .idle
            .iter()
            .map(|r| {
                let d = |f: &Option<IdleFigures>| f.as_ref().map(|f| f.shutdown.as_secs_f64());
                let need = if Some(r.ports) == largest && self.idle.len() > 1 {
                    30.0
                } else {
                    100.0
                };
                (r.ports, ratio(d(&r.old), d(&r.stream)), need)
            })
            .collect();
        // The bound the streams' own teardown puts on the ratio at the largest count.
        let bound = self.largest_idle().and_then(|r| {
            let old = r.old.as_ref().map(|f| f.shutdown.as_secs_f64());
            r.stream_teardown
                .and_then(|t| ratio(old, Some(t.as_secs_f64())))
                .map(|b| (r.ports, b))
        });
        goals.push(Goal {
            name: SHUTDOWN_GOAL,
            measured: if shut.is_empty() {
                "n/a".into()
            } else {
                let mut m = shut
                    .iter()
                    .map(|(n, r, _)| format!("{} at {}", fmt_ratio(*r), ports(*n)))
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Some((n, b)) = bound {
                    let _ = write!(
                        m,
                        " (at most {} at {}: the streams' own teardown)",
                        fmt_ratio(Some(b)),
                        ports(n)
                    );
                }
                m
            },
            met: if shut.is_empty() {
                None
            } else {
                all_met(
                    &shut
                        .iter()
                        .map(|(_, r, need)| ge(*r, *need))
                        .collect::<Vec<_>>(),
                )
            },
        });

        let vs_dispatch_lat = ratio(
            self.lat(|l| &l.stream, 50.0),
            self.lat(|l| &l.dispatch, 50.0),
        );
        goals.push(Goal {
            name: "p50 latency stream/dispatch (HEAD) ≤ 1.0",
            measured: fmt_ratio(vs_dispatch_lat),
            met: le(vs_dispatch_lat, 1.0),
        });
        let vs_dispatch_tput = ratio(self.throughput.stream, self.throughput_dispatch);
        goals.push(Goal {
            name: "burst throughput stream/dispatch (HEAD) ≥ 1.0",
            measured: fmt_ratio(vs_dispatch_tput),
            met: ge(vs_dispatch_tput, 1.0),
        });
        let p50_at = |pick: fn(&PortsLatency) -> &Option<Samples>, row: Option<&PortsLatency>| {
            row.and_then(|r| p50_us(pick(r)))
        };
        let (first, last) = (self.latency_at_ports.first(), self.latency_at_ports.last());
        let scale = if self.latency_at_ports.len() > 1 {
            ratio(p50_at(|r| &r.stream, last), p50_at(|r| &r.stream, first))
        } else {
            None
        };
        let one_port_scale = if self.latency_at_ports.len() > 1 {
            ratio(
                p50_at(|r| &r.stream_one_port, last),
                p50_at(|r| &r.stream, first),
            )
        } else {
            None
        };
        goals.push(Goal {
            name: "stream p50 latency at 10,000 ports / at 1 port ≤ 1.2",
            measured: format!(
                "{} (all to one of them: {}; dispatch (HEAD): {})",
                fmt_ratio(scale),
                fmt_ratio(one_port_scale),
                fmt_ratio(if self.latency_at_ports.len() > 1 {
                    ratio(
                        p50_at(|r| &r.dispatch, last),
                        p50_at(|r| &r.dispatch, first),
                    )
                } else {
                    None
                })
            ),
            met: le(scale, 1.2),
        });

        let streams: Vec<&IdleFigures> =
            self.idle.iter().filter_map(|r| r.stream.as_ref()).collect();
        let all = |ok: &dyn Fn(&IdleFigures) -> Option<bool>| -> Option<bool> {
            if streams.is_empty() || streams.len() < self.idle.len() {
                return None;
            }
            all_met(&streams.iter().map(|f| ok(f)).collect::<Vec<_>>())
        };
        let max_wake = streams
            .iter()
            .filter_map(|f| f.wakeups_per_port_per_s())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        goals.push(Goal {
            name: "stream idle wake-ups = 0 (every port count)",
            measured: max_wake.map_or("n/a".into(), |v| format!("{v:.3}/port/s at worst")),
            met: all(&|f| Some(f.wakeups == 0)),
        });
        let max_threads = streams.iter().filter_map(|f| f.threads_added).max();
        goals.push(Goal {
            name: "stream threads per port = 0 (every port count)",
            measured: max_threads.map_or("n/a".into(), |t| format!("{t} threads added at worst")),
            met: all(&|f| f.threads_added.map(|t| t <= 0)),
        });
        let rss = |f: &Option<IdleFigures>| f.as_ref().and_then(|f| f.rss_per_port());
        let mem = self
            .largest_idle()
            .and_then(|r| ratio(rss(&r.old), rss(&r.stream)));
        goals.push(Goal {
            name: "memory per idle port old/stream ≥ 3×",
            measured: fmt_ratio(mem),
            met: ge(mem, 3.0),
        });
        goals
    }

    /// The headline ratios, in the table's order: old/stream and dispatch/stream (or
    /// stream/old and stream/dispatch for rates) where the figures exist, and every goal that
    /// is judged on a single ratio, with its threshold.
    pub fn headline_ratios(&self) -> Vec<HeadlineRatio> {
        let mut out = Vec::new();
        let mut push =
            |label: String, ratio: Option<f64>, goal: Option<(&'static str, Threshold)>| {
                out.push(HeadlineRatio {
                    label,
                    ratio,
                    goal: goal.map(|g| g.0),
                    threshold: goal.map(|g| g.1),
                });
            };
        for (p, name) in [(50.0, "p50"), (99.0, "p99")] {
            let (o, d, s, f) = (
                self.lat(|l| &l.old, p),
                self.lat(|l| &l.dispatch, p),
                self.lat(|l| &l.stream, p),
                self.lat(|l| &l.floor, p),
            );
            push(
                format!("delivery latency {name}, old/stream"),
                ratio(o, s),
                None,
            );
            let vs_dispatch = (p <= 50.0).then_some((
                "p50 latency stream/dispatch (HEAD) ≤ 1.0",
                Threshold::at_least(1.0),
            ));
            push(
                format!("delivery latency {name}, dispatch/stream"),
                ratio(d, s),
                vs_dispatch,
            );
            if p <= 50.0 {
                push(
                    format!("delivery latency {name}, stream/floor"),
                    ratio(s, f),
                    Some(("p50 latency stream/floor ≤ 1.3", Threshold::at_most(1.3))),
                );
            }
        }
        if let (Some(first), Some(last)) =
            (self.latency_at_ports.first(), self.latency_at_ports.last())
        {
            push(
                format!(
                    "delivery latency p50, {} registered, dispatch/stream",
                    ports(last.ports)
                ),
                ratio(p50_us(&last.dispatch), p50_us(&last.stream)),
                None,
            );
            if self.latency_at_ports.len() > 1 {
                push(
                    format!(
                        "stream p50 latency, {} / {}",
                        ports(last.ports),
                        ports(first.ports)
                    ),
                    ratio(p50_us(&last.stream), p50_us(&first.stream)),
                    Some((
                        "stream p50 latency at 10,000 ports / at 1 port ≤ 1.2",
                        Threshold::at_most(1.2),
                    )),
                );
            }
        }
        let tp = self.throughput;
        push(
            "burst throughput, stream/old".into(),
            ratio(tp.stream, tp.old),
            Some((
                "burst throughput stream/old ≥ 1.0",
                Threshold::at_least(1.0),
            )),
        );
        push(
            "burst throughput, stream/dispatch".into(),
            ratio(tp.stream, self.throughput_dispatch),
            Some((
                "burst throughput stream/dispatch (HEAD) ≥ 1.0",
                Threshold::at_least(1.0),
            )),
        );
        push(
            "burst throughput, stream/floor".into(),
            ratio(tp.stream, self.throughput_floor),
            Some((
                "burst throughput stream/floor ≥ 0.9",
                Threshold::at_least(0.9),
            )),
        );
        let ql = self.throughput_queue_limited;
        push(
            "queue-limited throughput, stream/old".into(),
            ratio(ql.stream, ql.old),
            Some((
                "queue-limited throughput stream/old ≥ 1.0",
                Threshold::at_least(1.0),
            )),
        );
        push(
            "queue-limited throughput, stream/dispatch".into(),
            ratio(ql.stream, self.throughput_queue_limited_dispatch),
            None,
        );
        if let Some(row) = self.largest_idle() {
            let r = |f: &Option<IdleFigures>| f.as_ref().and_then(|f| f.rss_per_port());
            push(
                format!("memory per idle port, {}, old/stream", ports(row.ports)),
                ratio(r(&row.old), r(&row.stream)),
                Some((
                    "memory per idle port old/stream ≥ 3×",
                    Threshold::at_least(3.0),
                )),
            );
        }
        let largest = self.largest_idle().map(|r| r.ports);
        for row in &self.idle {
            let d = |f: &Option<IdleFigures>| f.as_ref().map(|f| f.shutdown.as_secs_f64());
            // The same thresholds as the shutdown goal: 30× at the largest count, else 100×.
            let need = if Some(row.ports) == largest && self.idle.len() > 1 {
                30.0
            } else {
                100.0
            };
            push(
                format!("shutdown, {}, old/stream", ports(row.ports)),
                ratio(d(&row.old), d(&row.stream)),
                Some((SHUTDOWN_GOAL, Threshold::at_least(need))),
            );
            push(
                format!("shutdown, {}, dispatch/stream", ports(row.ports)),
                ratio(d(&row.dispatch), d(&row.stream)),
                None,
            );
        }
        let clients = self.run.plan.rpc_clients;
        for r in &self.rpc {
            let goal = match (r.client, r.clients == clients, r.clients == 1, r.slow) {
                (ClientKind::Async, _, true, false) => Some((
                    "RPC instant, 1 async client, stream/old ≥ 1.0",
                    Threshold::at_least(1.0),
                )),
                (ClientKind::Async, true, _, false) => Some((
                    "RPC instant, 64 async clients, stream/old ≥ 1.0",
                    Threshold::at_least(1.0),
                )),
                (ClientKind::Threads, _, true, false) => Some((
                    "RPC instant, 1 C-stub thread, stream/old ≥ 1.0",
                    Threshold::at_least(1.0),
                )),
                (ClientKind::Threads, true, _, false) => Some((
                    "RPC instant, 64 C-stub threads, stream/old ≥ 1.0",
                    Threshold::at_least(1.0),
                )),
                (ClientKind::Async, _, true, true) => Some((
                    "RPC 1 ms handler, 1 async client, stream/old ≥ 0.95",
                    Threshold::at_least(0.95),
                )),
                (ClientKind::Async, true, _, true) => Some((
                    "RPC 1 ms handler, 64 async clients, stream/old ≥ 20×",
                    Threshold::at_least(20.0),
                )),
                _ => None,
            };
            push(
                format!(
                    "RPC, {} {}{}, {} handler, stream/old",
                    r.clients,
                    match r.client {
                        ClientKind::Async => "async client",
                        ClientKind::Threads => "C-stub thread",
                    },
                    if r.clients == 1 { "" } else { "s" },
                    if r.slow { "slow" } else { "instant" }
                ),
                ratio(r.rate.stream, r.rate.old),
                goal,
            );
        }
        out
    }

    /// Every figure under the issue's keys (plus per-port-count detail, ratios, goals and the
    /// run's description).
    pub fn to_json(&self) -> Json {
        let lat = |pick: fn(&LatencyFigures) -> &Option<Samples>, p| Json::opt(self.lat(pick, p));
        let latency = Json::obj([
            ("old_p50", lat(|l| &l.old, 50.0)),
            ("old_p99", lat(|l| &l.old, 99.0)),
            ("old_max", lat(|l| &l.old, 100.0)),
            ("stream_p50", lat(|l| &l.stream, 50.0)),
            ("stream_p99", lat(|l| &l.stream, 99.0)),
            ("stream_max", lat(|l| &l.stream, 100.0)),
            ("floor_p50", lat(|l| &l.floor, 50.0)),
            ("floor_p99", lat(|l| &l.floor, 99.0)),
            ("floor_max", lat(|l| &l.floor, 100.0)),
            ("dispatch_p50", lat(|l| &l.dispatch, 50.0)),
            ("dispatch_p99", lat(|l| &l.dispatch, 99.0)),
            ("dispatch_max", lat(|l| &l.dispatch, 100.0)),
        ]);
        let throughput = Json::obj([
            ("old", Json::opt(self.throughput.old)),
            ("stream", Json::opt(self.throughput.stream)),
            (
                "old_queue_limited",
                Json::opt(self.throughput_queue_limited.old),
            ),
            (
                "stream_queue_limited",
                Json::opt(self.throughput_queue_limited.stream),
            ),
            ("dispatch", Json::opt(self.throughput_dispatch)),
            (
                "dispatch_queue_limited",
                Json::opt(self.throughput_queue_limited_dispatch),
            ),
            ("floor", Json::opt(self.throughput_floor)),
        ]);
        let (calls, limited_calls) = (self.receiver_calls, self.receiver_calls_queue_limited);
        let receiver_calls = Json::obj([
            ("old", Json::opt(calls.old)),
            ("dispatch", Json::opt(calls.dispatch)),
            ("stream", Json::opt(calls.stream)),
            ("floor", Json::opt(calls.floor)),
            ("old_queue_limited", Json::opt(limited_calls.old)),
            ("dispatch_queue_limited", Json::opt(limited_calls.dispatch)),
            ("stream_queue_limited", Json::opt(limited_calls.stream)),
        ]);

        let largest = self.largest_idle();
        // Headline keys (the largest port count) first, then one pair per port count.
        let per_count =
            |headline: Pair, headline_keys: [&str; 3], f: fn(&IdleFigures) -> Option<f64>| {
                let headline_dispatch = largest.and_then(|r| r.dispatch.as_ref()).and_then(f);
                let mut pairs = vec![
                    (headline_keys[0].to_string(), Json::opt(headline.old)),
                    (headline_keys[1].to_string(), Json::opt(headline.stream)),
                    (headline_keys[2].to_string(), Json::opt(headline_dispatch)),
                ];
                for row in &self.idle {
                    for (side, fig) in [
                        ("old", &row.old),
                        ("stream", &row.stream),
                        ("dispatch", &row.dispatch),
                    ] {
                        let key = format!("{side}_{}", row.ports);
                        if !pairs.iter().any(|(k, _)| *k == key) {
                            pairs.push((key, Json::opt(fig.as_ref().and_then(f))));
                        }
                    }
                }
                Json::Obj(pairs)
            };
        let wake_f: fn(&IdleFigures) -> Option<f64> = |f| f.wakeups_per_port_per_s();
        let threads_f: fn(&IdleFigures) -> Option<f64> = |f| f.threads_added.map(|t| t as f64);
        let rss_f: fn(&IdleFigures) -> Option<f64> = |f| f.rss_per_port();
        let shut_f: fn(&IdleFigures) -> Option<f64> = |f| Some(f.shutdown.as_secs_f64() * 1e6);
        let wakeups = per_count(
            self.idle_pair(largest, wake_f),
            ["old", "stream", "dispatch"],
            wake_f,
        );
        let threads = per_count(
            self.idle_pair(largest, threads_f),
            ["old_10000", "stream_10000", "dispatch_10000"],
            threads_f,
        );
        let rss = Json::obj([
            ("old", Json::opt(self.idle_pair(largest, rss_f).old)),
            ("stream", Json::opt(self.idle_pair(largest, rss_f).stream)),
            (
                "dispatch",
                Json::opt(largest.and_then(|r| r.dispatch.as_ref()).and_then(rss_f)),
            ),
            ("ports", Json::opt(largest.map(|r| r.ports as f64))),
        ]);
        let mut shutdown = per_count(
            self.idle_pair(largest, shut_f),
            ["old", "stream", "dispatch"],
            shut_f,
        );
        if let Json::Obj(pairs) = &mut shutdown {
            for row in &self.idle {
                let us = row.stream_teardown.map(|d| d.as_secs_f64() * 1e6);
                pairs.push((format!("stream_teardown_{}", row.ports), Json::opt(us)));
            }
        }
        // p50 per port count; the largest count also under `_10000` (as the idle keys).
        let mut at_ports = Vec::new();
        for side in ["stream", "dispatch"] {
            for (i, row) in self.latency_at_ports.iter().enumerate() {
                let samples = if side == "stream" {
                    &row.stream
                } else {
                    &row.dispatch
                };
                let p50 = p50_us(samples);
                at_ports.push((format!("{side}_{}", row.ports), Json::opt(p50)));
                if i + 1 == self.latency_at_ports.len() && row.ports != 10_000 {
                    at_ports.push((format!("{side}_10000"), Json::opt(p50)));
                }
            }
        }
        if let Some(row) = self.latency_at_ports.last() {
            let p50 = p50_us(&row.stream_one_port);
            at_ports.push((format!("stream_{}_one_port", row.ports), Json::opt(p50)));
        }
        let latency_at_ports = Json::Obj(at_ports);
        let handler_row = |kind: ClientKind, n: usize| {
            self.rpc
                .iter()
                .find(|r| r.client == kind && r.clients == n && r.slow)
                .map_or(Pair::default(), |r| r.handler_us)
        };
        let (h1, h64) = (
            handler_row(ClientKind::Async, 1),
            handler_row(ClientKind::Async, self.run.plan.rpc_clients),
        );
        let rpc_handler = Json::obj([
            ("old_slow", Json::opt(h1.old)),
            ("stream_slow", Json::opt(h1.stream)),
            ("old_64_slow", Json::opt(h64.old)),
            ("stream_64_slow", Json::opt(h64.stream)),
            (
                "requested",
                Json::Num(self.run.plan.rpc_slow_handler.as_secs_f64() * 1e6),
            ),
        ]);

        let clients = self.run.plan.rpc_clients;
        // The issue's key order: old_1, stream_1, old_64, stream_64, old_64_slow, stream_64_slow.
        let configs = [
            ("1", 1, false),
            ("64", clients, false),
            ("64_slow", clients, true),
            ("1_slow", 1, true),
        ];
        let rpc_of = |kind: ClientKind, pick: fn(&RpcRow) -> Pair| {
            let mut pairs = Vec::new();
            for (suffix, n, slow) in configs {
                let p = self
                    .rpc
                    .iter()
                    .find(|r| r.client == kind && r.clients == n && r.slow == slow)
                    .map_or(Pair::default(), pick);
                pairs.push((format!("old_{suffix}"), Json::opt(p.old)));
                pairs.push((format!("stream_{suffix}"), Json::opt(p.stream)));
            }
            Json::Obj(pairs)
        };
        let rpc = rpc_of(ClientKind::Async, |r| r.rate);
        let rpc_threads = rpc_of(ClientKind::Threads, |r| r.rate);
        let rpc_retries = rpc_of(ClientKind::Threads, |r| r.send_retries);
        let rpc_cpu = rpc_of(ClientKind::Async, |r| r.server_cpu_us);
        let rpc_cpu_threads = rpc_of(ClientKind::Threads, |r| r.server_cpu_us);
        let rpc_calls = rpc_of(ClientKind::Async, |r| r.server_kernel_calls);
        let rpc_calls_threads = rpc_of(ClientKind::Threads, |r| r.server_kernel_calls);

        let shut_pair = self.idle_pair(largest, shut_f);
        let ratios = Json::obj([
            (
                "latency_p50_old_over_stream",
                Json::opt(ratio(
                    self.lat(|l| &l.old, 50.0),
                    self.lat(|l| &l.stream, 50.0),
                )),
            ),
            (
                "latency_p50_stream_over_floor",
                Json::opt(ratio(
                    self.lat(|l| &l.stream, 50.0),
                    self.lat(|l| &l.floor, 50.0),
                )),
            ),
            (
                "latency_p99_old_over_stream",
                Json::opt(ratio(
                    self.lat(|l| &l.old, 99.0),
                    self.lat(|l| &l.stream, 99.0),
                )),
            ),
            (
                "throughput_stream_over_old",
                Json::opt(ratio(self.throughput.stream, self.throughput.old)),
            ),
            (
                "throughput_stream_over_floor",
                Json::opt(ratio(self.throughput.stream, self.throughput_floor)),
            ),
            (
                "throughput_stream_over_dispatch",
                Json::opt(ratio(self.throughput.stream, self.throughput_dispatch)),
            ),
            (
                "latency_p50_stream_over_dispatch",
                Json::opt(ratio(
                    self.lat(|l| &l.stream, 50.0),
                    self.lat(|l| &l.dispatch, 50.0),
                )),
            ),
            (
                "rss_per_port_old_over_stream",
                Json::opt(ratio(
                    self.idle_pair(largest, rss_f).old,
                    self.idle_pair(largest, rss_f).stream,
                )),
            ),
            (
                "shutdown_old_over_stream",
                Json::opt(ratio(shut_pair.old, shut_pair.stream)),
            ),
            (
                "rpc_1_stream_over_old",
                Json::opt(ratio(
                    self.rpc_pair(1, false).stream,
                    self.rpc_pair(1, false).old,
                )),
            ),
            (
                "rpc_64_stream_over_old",
                Json::opt(ratio(
                    self.rpc_pair(clients, false).stream,
                    self.rpc_pair(clients, false).old,
                )),
            ),
            (
                "rpc_64_slow_stream_over_old",
                Json::opt(ratio(
                    self.rpc_pair(clients, true).stream,
                    self.rpc_pair(clients, true).old,
                )),
            ),
        ]);
        let headline = Json::Arr(
            self.headline_ratios()
                .into_iter()
                .map(|h| {
                    Json::obj([
                        ("label", Json::Str(h.label.clone())),
                        ("ratio", Json::opt(h.ratio)),
                        (
                            "goal",
                            h.threshold.map_or(Json::Null, |t| Json::Str(t.to_string())),
                        ),
                        ("met", h.met().map_or(Json::Null, Json::Bool)),
                    ])
                })
                .collect(),
        );
        let goals = Json::Arr(
            self.goals()
                .into_iter()
                .map(|g| {
                    Json::obj([
                        ("goal", Json::Str(g.name.into())),
                        ("measured", Json::Str(g.measured)),
                        ("met", g.met.map_or(Json::Null, Json::Bool)),
                    ])
                })
                .collect(),
        );
        let plan = &self.run.plan;
        let load = |l: Option<[f64; 3]>| {
            l.map_or(Json::Null, |l| {
                Json::Arr(l.iter().map(|&v| Json::Num(v)).collect())
            })
        };
        let run = Json::obj([
            ("backend", Json::Str(self.run.backend.clone())),
            ("quick", Json::Bool(self.run.quick)),
            ("machine", Json::Str(self.run.machine.clone())),
            ("cores", Json::Num(self.run.cores as f64)),
            ("date", Json::Str(self.run.date.clone())),
            ("load_before", load(self.run.load_before)),
            ("load_after", load(self.run.load_after)),
            ("elapsed_s", Json::Num(self.run.elapsed.as_secs_f64())),
            ("latency_samples", Json::Num(plan.latency_samples as f64)),
            ("burst_messages", Json::Num(plan.burst_messages as f64)),
            (
                "port_counts",
                Json::Arr(
                    plan.port_counts
                        .iter()
                        .map(|&n| Json::Num(n as f64))
                        .collect(),
                ),
            ),
            (
                "idle_window_old_s",
                Json::Num(plan.idle_window_old.as_secs_f64()),
            ),
            (
                "idle_window_stream_s",
                Json::Num(plan.idle_window_stream.as_secs_f64()),
            ),
            (
                "old_thread_stack_bytes",
                Json::Num(plan.old_stack_bytes as f64),
            ),
            ("rpc_clients", Json::Num(plan.rpc_clients as f64)),
            ("rpc_window_s", Json::Num(plan.rpc_window.as_secs_f64())),
            (
                "rpc_slow_handler_us",
                Json::Num(plan.rpc_slow_handler.as_secs_f64() * 1e6),
            ),
            (
                "reductions",
                Json::Arr(
                    plan.reductions
                        .iter()
                        .map(|r| Json::Str(r.clone()))
                        .collect(),
                ),
            ),
            (
                "missing",
                Json::Arr(self.missing.iter().map(|r| Json::Str(r.clone())).collect()),
            ),
            (
                "demo_trace",
                Json::Arr(self.demo.iter().map(|r| Json::Str(r.clone())).collect()),
            ),
        ]);
        Json::obj([
            ("latency_us", latency),
            ("throughput_msgs_per_s", throughput),
            ("receiver_kernel_calls_per_message", receiver_calls),
            ("idle_wakeups_per_port_per_s", wakeups),
            ("threads", threads),
            ("rss_bytes_per_port", rss),
            ("shutdown_us", shutdown),
            ("rpc_per_s", rpc),
            ("rpc_per_s_c_stub_threads", rpc_threads),
            ("rpc_c_stub_send_retries", rpc_retries),
            ("rpc_handler_us", rpc_handler),
            ("rpc_server_cpu_us_per_request", rpc_cpu),
            (
                "rpc_server_cpu_us_per_request_c_stub_threads",
                rpc_cpu_threads,
            ),
            ("rpc_server_kernel_calls_per_request", rpc_calls),
            (
                "rpc_server_kernel_calls_per_request_c_stub_threads",
                rpc_calls_threads,
            ),
            ("latency_at_ports_us", latency_at_ports),
            ("ratios", ratios),
            ("headline_ratios", headline),
            ("goals", goals),
            ("run", run),
        ])
    }

    /// The comparison as table rows: label, old loop, dispatch (HEAD), stream, floor, ratios.
    pub fn rows(&self) -> Vec<[String; 6]> {
        let mut rows = Vec::new();
        let lat = |w: &str, p: f64| -> [String; 6] {
            let (o, d, s, f) = (
                self.lat(|l| &l.old, p),
                self.lat(|l| &l.dispatch, p),
                self.lat(|l| &l.stream, p),
                self.lat(|l| &l.floor, p),
            );
            let mut r = format!(
                "old/stream {}, dispatch/stream {}",
                fmt_ratio(ratio(o, s)),
                fmt_ratio(ratio(d, s))
            );
            if p <= 50.0 {
                let _ = write!(r, ", stream/floor {}", fmt_ratio(ratio(s, f)));
            }
            [
                format!("delivery latency {w}"),
                fmt_us(o),
                fmt_us(d),
                fmt_us(s),
                fmt_us(f),
                r,
            ]
        };
        rows.push(lat("p50", 50.0));
        rows.push(lat("p99", 99.0));
        rows.push(lat("max", 100.0));
        for row in &self.latency_at_ports {
            let (d, s) = (p50_us(&row.dispatch), p50_us(&row.stream));
            rows.push([
                format!("delivery latency p50, {} registered", ports(row.ports)),
                String::new(),
                fmt_us(d),
                fmt_us(s),
                String::new(),
                format!("dispatch/stream {}", fmt_ratio(ratio(d, s))),
            ]);
            if row.stream_one_port.is_some() {
                let one = p50_us(&row.stream_one_port);
                rows.push([
                    format!(
                        "delivery latency p50, {} registered, all to one",
                        ports(row.ports)
                    ),
                    String::new(),
                    String::new(),
                    fmt_us(one),
                    String::new(),
                    format!("(in turn)/(to one) {}", fmt_ratio(ratio(s, one))),
                ]);
            }
        }
        for (label, pair, dispatch, floor) in [
            (
                "burst throughput, 1 port",
                self.throughput,
                self.throughput_dispatch,
                self.throughput_floor,
            ),
            (
                "queue-limited throughput (sender blocks at 5)",
                self.throughput_queue_limited,
                self.throughput_queue_limited_dispatch,
                None,
            ),
        ] {
            let mut r = format!(
                "stream/old {}, stream/dispatch {}",
                fmt_ratio(ratio(pair.stream, pair.old)),
                fmt_ratio(ratio(pair.stream, dispatch))
            );
            if floor.is_some() {
                let _ = write!(r, ", stream/floor {}", fmt_ratio(ratio(pair.stream, floor)));
            }
            rows.push([
                label.into(),
                fmt_rate(pair.old, "msg/s"),
                fmt_rate(dispatch, "msg/s"),
                fmt_rate(pair.stream, "msg/s"),
                if floor.is_some() {
                    fmt_rate(floor, "msg/s")
                } else {
                    String::new()
                },
                r,
            ]);
        }
        let calls = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.2}"));
        for (label, c) in [
            ("burst", self.receiver_calls),
            ("queue-limited", self.receiver_calls_queue_limited),
        ] {
            if !c.any() {
                continue;
            }
            rows.push([
                format!("  receiver kernel calls per message, {label}"),
                calls(c.old),
                calls(c.dispatch),
                calls(c.stream),
                calls(c.floor),
                format!("old/stream {}", fmt_ratio(ratio(c.old, c.stream))),
            ]);
        }
        for row in &self.idle {
            let w = |f: &Option<IdleFigures>| f.as_ref().and_then(|f| f.wakeups_per_port_per_s());
            rows.push([
                format!("idle wake-ups per port per s, {}", ports(row.ports)),
                fmt_num(w(&row.old), 2),
                fmt_num(w(&row.dispatch), 2),
                fmt_num(w(&row.stream), 2),
                String::new(),
                String::new(),
            ]);
        }
        for row in &self.idle {
            let t = |f: &Option<IdleFigures>| match f.as_ref() {
                Some(f) => match (f.threads_per_port(), f.threads_added) {
                    (Some(pp), Some(n)) => format!("{pp:.2} ({n})"),
                    _ => "n/a".into(),
                },
                None => "n/a".into(),
            };
            rows.push([
                format!("threads per port (added), {}", ports(row.ports)),
                t(&row.old),
                t(&row.dispatch),
                t(&row.stream),
                String::new(),
                String::new(),
            ]);
        }
        if let Some(row) = self.largest_idle() {
            let r = |f: &Option<IdleFigures>| f.as_ref().and_then(|f| f.rss_per_port());
            let (o, d, s) = (r(&row.old), r(&row.dispatch), r(&row.stream));
            rows.push([
                format!("memory per idle port, {}", ports(row.ports)),
                fmt_bytes(o),
                fmt_bytes(d),
                fmt_bytes(s),
                String::new(),
                format!("old/stream {}", fmt_ratio(ratio(o, s))),
            ]);
        }
        for row in &self.idle {
            let d = |f: &Option<IdleFigures>| f.as_ref().map(|f| f.shutdown.as_secs_f64() * 1e6);
            let (o, di, s) = (d(&row.old), d(&row.dispatch), d(&row.stream));
            rows.push([
                format!("shutdown, {}", ports(row.ports)),
                fmt_us(o),
                fmt_us(di),
                fmt_us(s),
                String::new(),
                format!(
                    "old/stream {}, dispatch/stream {}",
                    fmt_ratio(ratio(o, s)),
                    fmt_ratio(ratio(di, s))
                ),
            ]);
        }
        for row in &self.idle {
            let Some(t) = row.stream_teardown else {
                continue;
            };
            let o = row.old.as_ref().map(|f| f.shutdown.as_secs_f64() * 1e6);
            let t = t.as_secs_f64() * 1e6;
            rows.push([
                format!("  streams' own teardown, {}", ports(row.ports)),
                String::new(),
                String::new(),
                fmt_us(Some(t)),
                String::new(),
                format!(
                    "old/teardown {} (best possible)",
                    fmt_ratio(ratio(o, Some(t)))
                ),
            ]);
        }
        for r in &self.rpc {
            let label = format!(
                "RPC requests/s, {} {}{}, {}",
                r.clients,
                match r.client {
                    ClientKind::Async => "async client",
                    ClientKind::Threads => "C-stub thread",
                },
                if r.clients == 1 { "" } else { "s" },
                if r.slow {
                    format!(
                        "{} ms handler",
                        self.run.plan.rpc_slow_handler.as_secs_f64() * 1e3
                    )
                } else {
                    "instant handler".into()
                }
            );
            rows.push([
                label,
                fmt_rate(r.rate.old, "/s"),
                // ipconfigd's mach_service.c was not converted at HEAD: its baseline is the
                // old loop.
                "(= old loop)".into(),
                fmt_rate(r.rate.stream, "/s"),
                String::new(),
                format!("stream/old {}", fmt_ratio(ratio(r.rate.stream, r.rate.old))),
            ]);
        }
        // The detail rows under the RPC rates: one per configuration, labelled by its clients.
        let detail = |what: &str, r: &RpcRow, old: String, stream: String, ratio: String| {
            [
                format!(
                    "  {what}, {} {}{}",
                    r.clients,
                    match r.client {
                        ClientKind::Async => "async client",
                        ClientKind::Threads => "C-stub thread",
                    },
                    if r.clients == 1 { "" } else { "s" },
                ),
                old,
                String::new(),
                stream,
                String::new(),
                ratio,
            ]
        };
        for r in self.rpc.iter().filter(|r| r.slow) {
            rows.push(detail(
                "handler's actual time per call",
                r,
                fmt_us(r.handler_us.old),
                fmt_us(r.handler_us.stream),
                format!(
                    "stream/old {}",
                    fmt_ratio(ratio(r.handler_us.stream, r.handler_us.old))
                ),
            ));
        }
        for r in self.rpc.iter().filter(|r| !r.slow) {
            rows.push(detail(
                "server CPU per request",
                r,
                fmt_us(r.server_cpu_us.old),
                fmt_us(r.server_cpu_us.stream),
                format!(
                    "old/stream {}",
                    fmt_ratio(ratio(r.server_cpu_us.old, r.server_cpu_us.stream))
                ),
            ));
        }
        let calls = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.2}"));
        let counted = |r: &&RpcRow| {
            !r.slow
                && (r.server_kernel_calls.old.is_some() || r.server_kernel_calls.stream.is_some())
        };
        for r in self.rpc.iter().filter(counted) {
            let (old, stream) = (r.server_kernel_calls.old, r.server_kernel_calls.stream);
            rows.push(detail(
                "server kernel calls per request",
                r,
                calls(old),
                calls(stream),
                format!("old/stream {}", fmt_ratio(ratio(old, stream))),
            ));
        }
        rows
    }

    fn header_line(&self) -> String {
        let load = |l: Option<[f64; 3]>| l.map_or("n/a".into(), |l| format!("{:.2}", l[0]));
        format!(
            "backend {} · {} cores · {} · {} · load {} → {}{}",
            self.run.backend,
            self.run.cores,
            self.run.machine,
            self.run.date,
            load(self.run.load_before),
            load(self.run.load_after),
            if self.run.quick { " · --quick" } else { "" }
        )
    }

    /// The comparison as a plain-text table, followed by the goals.
    pub fn render_text(&self) -> String {
        let header = [
            "",
            "old loop",
            "dispatch (HEAD)",
            "stream",
            "floor",
            "ratio",
        ];
        let rows = self.rows();
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.header_line());
        let line = |out: &mut String, cells: [&str; 6]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i == 0 || i == 5 {
                    let _ = write!(s, "{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "{}{c}", " ".repeat(pad));
                }
                s.push_str("  ");
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line(&mut out, header);
        for r in &rows {
            line(&mut out, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        }
        out.push('\n');
        out.push_str(&self.render_goals());
        if !self.run.plan.reductions.is_empty() {
            out.push_str("\nreduced run:\n");
            for r in &self.run.plan.reductions {
                let _ = writeln!(out, "  - {r}");
            }
        }
        let retried: Vec<String> = self
            .rpc
            .iter()
            .filter(|r| r.send_retries.old.unwrap_or(0.0) > 0.0 || r.send_retries.stream.unwrap_or(0.0) > 0.0)
            .map(|r| {
                format!(
                    "  - {} C-stub thread{}{}: {} (old) / {} (async) client sends waited 20 ms for queue room and were retried",
                    r.clients,
                    if r.clients == 1 { "" } else { "s" },
                    if r.slow { ", slow handler" } else { "" },
                    fmt_num(r.send_retries.old, 0),
                    fmt_num(r.send_retries.stream, 0)
                )
            })
            .collect();
        if !retried.is_empty() {
            out.push_str("\nrpc notes:\n");
            for line in retried {
                let _ = writeln!(out, "{line}");
            }
        }
        if !self.missing.is_empty() {
            out.push_str("\nnot measured:\n");
            for m in &self.missing {
                let _ = writeln!(out, "  - {m}");
            }
        }
        out
    }

    /// The goals, one per line.
    pub fn render_goals(&self) -> String {
        let mut out = String::from("goals:\n");
        for g in self.goals() {
            let mark = match g.met {
                Some(true) => "met   ",
                Some(false) => "MISSED",
                None if g.measured.starts_with("n/a") => "n/a   ",
                None => "info  ",
            };
            let _ = writeln!(out, "  [{mark}] {} — {}", g.name, g.measured);
        }
        out
    }

    /// The comparison as a Markdown table (for the README), preceded by the run's description.
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.header_line());
        out.push_str(
            "| | old loop | dispatch (HEAD) | stream | floor | ratio |\n|---|---:|---:|---:|---:|---|\n",
        );
        for r in self.rows() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
        out.push('\n');
        for g in self.goals() {
            let mark = match g.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None if g.measured.starts_with("n/a") => "not measured",
                None => "not judged",
            };
            let _ = writeln!(out, "- {}: {} ({mark})", g.name, g.measured);
        }
        out
    }
}

/// The shutdown goal (judged on every port count's ratio).
const SHUTDOWN_GOAL: &str = "shutdown old/stream ≥ 100× at 1 and 100 ports, ≥ 30× at 10,000";

/// `1 port`, `100 ports`.
pub fn ports(n: usize) -> String {
    if n == 1 {
        "1 port".into()
    } else {
        format!("{n} ports")
    }
}

/// The median of `samples` in µs, when measured.
fn p50_us(samples: &Option<Samples>) -> Option<f64> {
    samples
        .as_ref()
        .and_then(|s| s.percentile_ns(50.0))
        .map(|ns| ns as f64 / 1e3)
}

/// A ratio as `1.23×`; `n/a` when it has no meaning.
pub fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        None => "n/a".into(),
        Some(r) if r < 10.0 => format!("{r:.2}×"),
        Some(r) if r < 100.0 => format!("{r:.1}×"),
        Some(r) => format!("{r:.0}×"),
    }
}

/// A duration given in microseconds, in the unit that keeps it readable.
pub fn fmt_us(us: Option<f64>) -> String {
    match us {
        None => "n/a".into(),
        Some(us) if us < 100.0 => format!("{us:.1} µs"),
        Some(us) if us < 1_000.0 => format!("{us:.0} µs"),
        Some(us) if us < 100_000.0 => format!("{:.1} ms", us / 1e3),
        Some(us) if us < 1_000_000.0 => format!("{:.0} ms", us / 1e3),
        Some(us) => format!("{:.2} s", us / 1e6),
    }
}

/// A rate with a k/M suffix.
pub fn fmt_rate(r: Option<f64>, unit: &str) -> String {
    match r {
        None => "n/a".into(),
        Some(r) if r >= 1e6 => format!("{:.2} M{unit}", r / 1e6),
        Some(r) if r >= 1e4 => format!("{:.0} k{unit}", r / 1e3),
        Some(r) if r >= 1e3 => format!("{:.1} k{unit}", r / 1e3),
        Some(r) => format!("{r:.0} {unit}"),
    }
}

/// Bytes in B / KiB / MiB.
pub fn fmt_bytes(b: Option<f64>) -> String {
    match b {
        None => "n/a".into(),
        Some(b) if b.abs() < 1024.0 => format!("{b:.0} B"),
        Some(b) if b.abs() < 1024.0 * 1024.0 => format!("{:.1} KiB", b / 1024.0),
        Some(b) => format!("{:.1} MiB", b / 1024.0 / 1024.0),
    }
}

/// A plain number with `decimals` places.
pub fn fmt_num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn idle(ports: usize, wakeups: u64, threads: i64, rss: i64, shutdown_ms: u64) -> IdleFigures {
        IdleFigures {
            ports,
            wakeups,
            window: Duration::from_secs(2),
            threads_added: Some(threads),
            rss_added_bytes: Some(rss),
            shutdown: Duration::from_millis(shutdown_ms),
        }
    }

    pub(crate) fn sample_report() -> Report {
        let plan = Plan::full();
        let us = |v: &[u64]| Some(Samples::from_unsorted(v.iter().map(|x| x * 1000).collect()));
        Report {
            run: RunInfo {
                backend: "sim".into(),
                quick: false,
                machine: "Linux 6.1 x86_64".into(),
                cores: 2,
                date: "2026-11-01 04:00 UTC".into(),
                load_before: Some([0.5, 0.4, 0.3]),
                load_after: None,
                plan,
                elapsed: Duration::from_secs(40),
            },
            latency: LatencyFigures {
                old: us(&[10, 20, 30, 400]),
                stream: us(&[12, 14, 16, 50]),
                floor: us(&[8, 9, 10, 11]),
                dispatch: us(&[15, 18, 30, 90]),
            },
            throughput: Pair {
                old: Some(100_000.0),
                stream: Some(250_000.0),
            },
            throughput_queue_limited: Pair {
                old: Some(110_000.0),
                stream: Some(88_000.0),
            },
            throughput_dispatch: Some(200_000.0),
            throughput_queue_limited_dispatch: Some(80_000.0),
            throughput_floor: Some(260_000.0),
            receiver_calls: ReceiverCalls {
                old: Some(1.0),
                dispatch: Some(2.5),
                stream: Some(1.02),
                floor: Some(1.0),
            },
            receiver_calls_queue_limited: ReceiverCalls::default(),
            latency_at_ports: vec![
                PortsLatency {
                    ports: 1,
                    stream: us(&[10, 12, 14]),
                    dispatch: us(&[15, 16, 17]),
                    stream_one_port: None,
                },
                PortsLatency {
                    ports: 100,
                    stream: us(&[11, 13, 15]),
                    dispatch: us(&[20, 21, 22]),
                    stream_one_port: None,
                },
                PortsLatency {
                    ports: 10_000,
                    stream: us(&[12, 13, 20]),
                    dispatch: us(&[300, 310, 320]),
                    stream_one_port: us(&[11, 12, 13]),
                },
            ],
            idle: vec![
                IdleRow {
                    ports: 1,
                    old: Some(idle(1, 4, 1, 8192, 400)),
                    stream: Some(idle(1, 0, 0, 0, 1)),
                    dispatch: Some(idle(1, 0, 0, 0, 2)),
                    stream_teardown: Some(Duration::from_micros(5)),
                },
                IdleRow {
                    ports: 100,
                    old: Some(idle(100, 400, 100, 819_200, 500)),
                    stream: Some(idle(100, 0, 0, 40_960, 2)),
                    dispatch: Some(idle(100, 0, 0, 40_960, 4)),
                    stream_teardown: Some(Duration::from_micros(200)),
                },
                IdleRow {
                    ports: 10_000,
                    old: Some(idle(10_000, 40_000, 10_000, 163_840_000, 510)),
                    stream: Some(idle(10_000, 0, 0, 20_480_000, 40)),
                    dispatch: Some(idle(10_000, 0, 0, 10_240_000, 1_300)),
                    stream_teardown: Some(Duration::from_millis(34)),
                },
            ],
            rpc: vec![
                RpcRow {
                    client: ClientKind::Async,
                    clients: 1,
                    slow: false,
                    rate: Pair {
                        old: Some(50_000.0),
                        stream: Some(40_000.0),
                    },
                    send_retries: Pair::default(),
                    handler_us: Pair::default(),
                    server_cpu_us: Pair {
                        old: Some(12.0),
                        stream: Some(8.0),
                    },
                    server_kernel_calls: Pair {
                        old: Some(2.0),
                        stream: Some(4.0),
                    },
                },
                RpcRow {
                    client: ClientKind::Async,
                    clients: 64,
                    slow: false,
                    rate: Pair {
                        old: Some(60_000.0),
                        stream: Some(90_000.0),
                    },
                    send_retries: Pair::default(),
                    handler_us: Pair::default(),
                    server_cpu_us: Pair::default(),
                    server_kernel_calls: Pair::default(),
                },
                RpcRow {
                    client: ClientKind::Async,
                    clients: 64,
                    slow: true,
                    rate: Pair {
                        old: Some(900.0),
                        stream: Some(30_000.0),
                    },
                    send_retries: Pair::default(),
                    handler_us: Pair::default(),
                    server_cpu_us: Pair::default(),
                    server_kernel_calls: Pair::default(),
                },
                RpcRow {
                    client: ClientKind::Async,
                    clients: 1,
                    slow: true,
                    rate: Pair {
                        old: Some(950.0),
                        stream: Some(920.0),
                    },
                    send_retries: Pair::default(),
                    handler_us: Pair {
                        old: Some(1_050.0),
                        stream: Some(1_070.0),
                    },
                    server_cpu_us: Pair::default(),
                    server_kernel_calls: Pair::default(),
                },
                RpcRow {
                    client: ClientKind::Threads,
                    clients: 64,
                    slow: true,
                    rate: Pair {
                        old: Some(800.0),
                        stream: Some(11_000.0),
                    },
                    send_retries: Pair {
                        old: Some(12.0),
                        stream: Some(0.0),
                    },
                    handler_us: Pair {
                        old: Some(1_060.0),
                        stream: Some(1_080.0),
                    },
                    server_cpu_us: Pair::default(),
                    server_kernel_calls: Pair::default(),
                },
            ],
            demo: Vec::new(),
            missing: vec!["demo: scnotify not built".into()],
            failures: 0,
        }
    }

    #[test]
    fn headline_goals_agree_with_the_goal_list() {
        // The sample report, and one where every stream figure is ten times better: between
        // them most goals flip, so a threshold that drifted from its goal shows.
        let mut better = sample_report();
        better.throughput.stream = better.throughput.stream.map(|v| v * 10.0);
        better.throughput_queue_limited.stream =
            better.throughput_queue_limited.stream.map(|v| v * 10.0);
        for r in &mut better.rpc {
            r.rate.stream = r.rate.stream.map(|v| v * 10.0);
        }
        for row in &mut better.idle {
            if let Some(s) = row.stream.as_mut() {
                s.shutdown /= 10;
            }
        }
        let mut verdicts = Vec::new();
        for report in [sample_report(), better] {
            let goals = report.goals();
            let heads = report.headline_ratios();
            for h in heads.iter().filter(|h| h.goal.is_some()) {
                let goal = goals
                    .iter()
                    .find(|g| Some(g.name) == h.goal)
                    .unwrap_or_else(|| panic!("{}: no goal {:?}", h.label, h.goal));
                assert!(h.threshold.is_some(), "{}", h.label);
                if goal.name != SHUTDOWN_GOAL {
                    assert_eq!(h.met(), goal.met, "{} against {}", h.label, goal.name);
                    // The goal's figure is this ratio (or its inverse), as printed.
                    let shown = fmt_ratio(h.ratio);
                    let inverse = fmt_ratio(h.ratio.map(|r| 1.0 / r));
                    assert!(
                        goal.measured.starts_with(&shown) || goal.measured.starts_with(&inverse),
                        "{}: {shown} vs {}",
                        h.label,
                        goal.measured
                    );
                }
                verdicts.push(h.met());
            }
            // The shutdown goal is met when every port count's ratio meets its threshold.
            let shutdown: Vec<Option<bool>> = heads
                .iter()
                .filter(|h| h.goal == Some(SHUTDOWN_GOAL))
                .map(HeadlineRatio::met)
                .collect();
            assert_eq!(shutdown.len(), report.idle.len());
            let all = shutdown
                .iter()
                .copied()
                .collect::<Option<Vec<bool>>>()
                .map(|v| v.iter().all(|&b| b));
            let goal = goals.iter().find(|g| g.name == SHUTDOWN_GOAL).unwrap();
            assert_eq!(all, goal.met);
            // Every goal judged on ratios has its bars (the others count wake-ups and threads).
            for g in goals
                .iter()
                .filter(|g| g.met.is_some() && g.name.contains('/'))
            {
                assert!(
                    heads.iter().any(|h| h.goal == Some(g.name)),
                    "goal {} has no headline ratio",
                    g.name
                );
            }
        }
        assert!(verdicts.contains(&Some(true)) && verdicts.contains(&Some(false)));
    }

    #[test]
    fn thresholds_print_as_the_goals_do() {
        assert_eq!(Threshold::at_least(1.0).to_string(), "≥ 1.0×");
        assert_eq!(Threshold::at_most(1.3).to_string(), "≤ 1.3×");
        assert_eq!(Threshold::at_least(0.95).to_string(), "≥ 0.95×");
        assert_eq!(Threshold::at_least(20.0).to_string(), "≥ 20×");
        assert!(Threshold::at_least(1.0).met(1.0) && !Threshold::at_least(1.0).met(0.99));
        assert!(Threshold::at_most(1.3).met(1.3) && !Threshold::at_most(1.3).met(1.31));
    }

    #[test]
    fn json_has_every_key_of_the_issue_with_the_right_figures() {
        let r = sample_report();
        let text = r.to_json().to_pretty_string();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
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
            ("throughput_msgs_per_s", &["old", "stream", "dispatch"]),
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
                    "dispatch_100",
                    "dispatch_10000",
                ],
            ),
            (
                "latency_at_ports_us",
                &[
                    "stream_1",
                    "stream_100",
                    "stream_10000",
                    "dispatch_1",
                    "dispatch_100",
                    "dispatch_10000",
                ],
            ),
            ("rpc_handler_us", &["old_slow", "stream_slow"]),
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
            for k in *keys {
                assert!(v[group][k].is_number(), "{group}.{k} = {}", v[group][k]);
            }
        }
        assert_eq!(v["latency_us"]["old_p50"], 20.0);
        assert_eq!(v["latency_us"]["old_p99"], 400.0);
        assert_eq!(v["latency_us"]["floor_p50"], 9.0);
        assert_eq!(v["throughput_msgs_per_s"]["stream"], 250_000.0);
        assert_eq!(v["throughput_msgs_per_s"]["stream_queue_limited"], 88_000.0);
        // 40,000 timeouts over 2 s and 10,000 ports: 2 per port per second.
        assert_eq!(v["idle_wakeups_per_port_per_s"]["old"], 2.0);
        assert_eq!(v["idle_wakeups_per_port_per_s"]["old_1"], 2.0);
        assert_eq!(v["idle_wakeups_per_port_per_s"]["stream"], 0.0);
        assert_eq!(v["threads"]["old_10000"], 10_000.0);
        assert_eq!(v["threads"]["stream_10000"], 0.0);
        assert_eq!(v["threads"]["old_100"], 100.0);
        assert_eq!(v["rss_bytes_per_port"]["old"], 16_384.0);
        assert_eq!(v["rss_bytes_per_port"]["stream"], 2_048.0);
        assert_eq!(v["shutdown_us"]["old"], 510_000.0);
        assert_eq!(v["shutdown_us"]["stream_1"], 1_000.0);
        assert_eq!(v["rpc_per_s"]["stream_64_slow"], 30_000.0);
        // Not measured → null, key still present.
        assert!(v["rpc_per_s_c_stub_threads"]["old_1_slow"].is_null());
        assert_eq!(v["ratios"]["shutdown_old_over_stream"], 12.75);
        assert_eq!(v["run"]["port_counts"][2], 10_000.0);
        assert_eq!(v["run"]["missing"][0], "demo: scnotify not built");
        // The C-stub rows have their own keys; the headline keys are the async clients'.
        assert_eq!(v["rpc_per_s_c_stub_threads"]["old_64_slow"], 800.0);
        assert!(v["rpc_per_s_c_stub_threads"]["old_64"].is_null());
        assert_eq!(v["rpc_c_stub_send_retries"]["old_64_slow"], 12.0);
        assert_eq!(v["rpc_c_stub_send_retries"]["stream_64_slow"], 0.0);
        // The dispatch baseline's figures under their own keys.
        assert_eq!(v["latency_us"]["dispatch_p50"], 18.0);
        assert_eq!(v["throughput_msgs_per_s"]["dispatch"], 200_000.0);
        assert_eq!(v["throughput_msgs_per_s"]["floor"], 260_000.0);
        assert_eq!(v["receiver_kernel_calls_per_message"]["dispatch"], 2.5);
        assert_eq!(v["receiver_kernel_calls_per_message"]["stream"], 1.02);
        assert!(v["receiver_kernel_calls_per_message"]["stream_queue_limited"].is_null());
        assert_eq!(v["shutdown_us"]["dispatch_10000"], 1_300_000.0);
        assert_eq!(v["shutdown_us"]["dispatch"], 1_300_000.0);
        assert_eq!(v["latency_at_ports_us"]["dispatch_10000"], 310.0);
        assert_eq!(v["latency_at_ports_us"]["stream_1"], 12.0);
        // The diagnostic figures beside the two goals the note discusses.
        assert_eq!(v["latency_at_ports_us"]["stream_10000_one_port"], 12.0);
        assert_eq!(v["shutdown_us"]["stream_teardown_10000"], 34_000.0);
        assert_eq!(v["shutdown_us"]["stream_teardown_1"], 5.0);
        assert_eq!(v["rpc_handler_us"]["old_slow"], 1_050.0);
        assert_eq!(v["rpc_handler_us"]["stream_slow"], 1_070.0);
        assert_eq!(v["rpc_handler_us"]["requested"], 1_000.0);
        assert_eq!(v["rpc_server_cpu_us_per_request"]["old_1"], 12.0);
        assert_eq!(v["rpc_server_cpu_us_per_request"]["stream_1"], 8.0);
        assert_eq!(v["rpc_server_kernel_calls_per_request"]["old_1"], 2.0);
        assert_eq!(v["rpc_server_kernel_calls_per_request"]["stream_1"], 4.0);
        assert!(v["rpc_server_kernel_calls_per_request_c_stub_threads"]["old_1"].is_null());
        assert!(v["rpc_server_cpu_us_per_request_c_stub_threads"]["old_1"].is_null());
    }

    #[test]
    fn missing_figures_are_null_not_invented() {
        let mut r = sample_report();
        r.latency.stream = None;
        r.throughput.stream = None;
        r.throughput_queue_limited.stream = None;
        r.latency_at_ports
            .iter_mut()
            .for_each(|row| row.stream = None);
        r.idle.iter_mut().for_each(|row| row.stream = None);
        r.rpc.clear();
        let v: serde_json::Value = serde_json::from_str(&r.to_json().to_pretty_string()).unwrap();
        assert!(v["latency_us"]["stream_p50"].is_null());
        assert!(v["threads"]["stream_10000"].is_null());
        assert!(v["rpc_per_s"]["old_64"].is_null());
        assert!(v["ratios"]["throughput_stream_over_old"].is_null());
        assert!(r.goals().iter().all(|g| g.met.is_none()), "{:?}", r.goals());
        assert!(r.render_text().contains("n/a"));
    }

    #[test]
    fn goals_follow_the_figures() {
        let r = sample_report();
        let goals = r.goals();
        let met = |name: &str| {
            goals
                .iter()
                .find(|g| g.name.starts_with(name))
                .unwrap_or_else(|| panic!("no goal {name}"))
                .met
        };
        assert_eq!(met("burst throughput stream/old"), Some(true));
        // 250k / 260k = 0.96 ≥ 0.9.
        assert_eq!(met("burst throughput stream/floor"), Some(true));
        // 88k / 110k.
        assert_eq!(met("queue-limited"), Some(false));
        // stream p50 14 µs vs floor 9 µs: 1.56× > 1.3.
        assert_eq!(met("p50 latency stream/floor"), Some(false));
        // The floor is not a lower bound at p99: never judged.
        assert_eq!(met("p99 latency stream/floor"), None);
        // 40k / 50k with one async client.
        assert_eq!(met("RPC instant, 1 async"), Some(false));
        assert_eq!(met("RPC instant, 64 async"), Some(true));
        // No C-stub rows for instant handlers in the sample: not measured, not met.
        assert_eq!(met("RPC instant, 1 C-stub"), None);
        // 920 / 950 = 0.968 ≥ 0.95.
        assert_eq!(met("RPC 1 ms handler, 1 async"), Some(true));
        // 30,000 / 900 = 33×.
        assert_eq!(met("RPC 1 ms handler, 64 async"), Some(true));
        // 510 ms / 40 ms = 12.75× at 10,000 ports: short of 30× (400× and 250× below).
        assert_eq!(met("shutdown"), Some(false));
        let shut = goals
            .iter()
            .find(|g| g.name.starts_with("shutdown"))
            .unwrap();
        assert_eq!(
            shut.measured,
            "400× at 1 port, 250× at 100 ports, 12.8× at 10000 ports \
             (at most 15.0× at 10000 ports: the streams' own teardown)"
        );
        // The same-port figure is printed beside the judged in-turn one: 12 µs / 12 µs.
        let scale = goals
            .iter()
            .find(|g| g.name.starts_with("stream p50 latency at 10,000"))
            .unwrap();
        assert!(
            scale
                .measured
                .starts_with("1.08× (all to one of them: 1.00×;"),
            "{}",
            scale.measured
        );
        // 14 / 18 µs; 250k / 200k msg/s.
        assert_eq!(met("p50 latency stream/dispatch"), Some(true));
        assert_eq!(met("burst throughput stream/dispatch"), Some(true));
        // 13 / 12 µs = 1.08 ≤ 1.2.
        assert_eq!(met("stream p50 latency at 10,000"), Some(true));
        assert_eq!(met("stream idle"), Some(true));
        assert_eq!(met("stream threads"), Some(true));
        // 16 KiB / 2 KiB.
        assert_eq!(met("memory"), Some(true));

        // 30× is enough at the largest count, not at 100 ports.
        let mut better = sample_report();
        better.idle[2].stream.as_mut().unwrap().shutdown = Duration::from_millis(15);
        let g = better.goals();
        let met_b = |name: &str| g.iter().find(|g| g.name.starts_with(name)).unwrap().met;
        assert_eq!(met_b("shutdown"), Some(true), "510/15 = 34×");
        better.idle[1].stream.as_mut().unwrap().shutdown = Duration::from_millis(10);
        assert_eq!(
            better
                .goals()
                .iter()
                .find(|g| g.name.starts_with("shutdown"))
                .unwrap()
                .met,
            Some(false),
            "500/10 = 50× at 100 ports"
        );

        let mut worse = sample_report();
        worse.idle[1].stream.as_mut().unwrap().wakeups = 3;
        worse.idle[2].stream.as_mut().unwrap().threads_added = Some(2);
        worse.latency.stream = Some(Samples::from_unsorted(vec![30_000; 4]));
        worse.latency_at_ports[2].stream = Some(Samples::from_unsorted(vec![20_000; 3]));
        worse.throughput.stream = Some(150_000.0);
        let goals = worse.goals();
        let met = |name: &str| goals.iter().find(|g| g.name.starts_with(name)).unwrap().met;
        assert_eq!(met("stream idle"), Some(false));
        assert_eq!(met("stream threads"), Some(false));
        assert_eq!(met("p50 latency stream/dispatch"), Some(false));
        assert_eq!(met("burst throughput stream/dispatch"), Some(false));
        assert_eq!(met("burst throughput stream/floor"), Some(false));
        assert_eq!(met("stream p50 latency at 10,000"), Some(false));
    }

    #[test]
    fn table_shows_figures_and_ratios() {
        let r = sample_report();
        let text = r.render_text();
        assert!(
            text.contains("old/stream 1.43×, dispatch/stream 1.29×, stream/floor 1.56×"),
            "{text}"
        );
        assert!(text.contains("stream/old 2.50×, stream/dispatch 1.25×, stream/floor 0.96×"));
        assert!(text.contains("dispatch (HEAD)"));
        assert!(text.contains("delivery latency p50, 10000 ports registered"));
        assert!(text.contains("510 ms"));
        assert!(text.contains("MISSED"));
        assert!(text.contains("not measured:\n  - demo: scnotify not built"));
        assert!(text
            .contains("64 C-stub threads, slow handler: 12 (old) / 0 (async) client sends waited"));
        // Kernel calls are a row only where the backend counted them (one configuration here).
        assert_eq!(
            text.matches("server kernel calls per request").count(),
            1,
            "{text}"
        );
        assert!(text.contains("old/stream 0.50×"));
        // Receiver kernel calls: the burst's row (counted), not the queue-limited one (not).
        assert!(text.contains("receiver kernel calls per message, burst"));
        assert!(!text.contains("receiver kernel calls per message, queue-limited"));
        let md = r.render_markdown();
        assert!(md.contains("|---|---:|---:|---:|---:|---|"));
        assert_eq!(md.matches("\n| ").count(), r.rows().len() + 1);
        // Every row has the same number of cells.
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert_eq!(line.matches('|').count(), 7, "{line}");
        }
    }

    #[test]
    fn units_format_readably() {
        assert_eq!(fmt_us(Some(12.34)), "12.3 µs");
        assert_eq!(fmt_us(Some(512.0)), "512 µs");
        assert_eq!(fmt_us(Some(12_345.0)), "12.3 ms");
        assert_eq!(fmt_us(Some(498_000.0)), "498 ms");
        assert_eq!(fmt_us(Some(2_500_000.0)), "2.50 s");
        assert_eq!(fmt_us(None), "n/a");
        assert_eq!(fmt_rate(Some(1_234_567.0), "/s"), "1.23 M/s");
        assert_eq!(fmt_rate(Some(45_600.0), "/s"), "46 k/s");
        assert_eq!(fmt_rate(Some(1_500.0), "/s"), "1.5 k/s");
        assert_eq!(fmt_rate(Some(950.0), "/s"), "950 /s");
        assert_eq!(fmt_bytes(Some(512.0)), "512 B");
        assert_eq!(fmt_bytes(Some(16_384.0)), "16.0 KiB");
        assert_eq!(fmt_bytes(Some(3.0 * 1024.0 * 1024.0)), "3.0 MiB");
        assert_eq!(fmt_ratio(Some(1.234)), "1.23×");
        assert_eq!(fmt_ratio(Some(12.75)), "12.8×");
        assert_eq!(fmt_ratio(Some(4321.0)), "4321×");
    }
}
