//! `mach-bench`: the project's main command. It runs the three NextBSD Mach consumers end to end
//! on the chosen kernel, then measures the old design — one thread per port looping on
//! `mach_msg(MACH_RCV_MSG | MACH_RCV_TIMEOUT, 500 ms)` with a stop flag, as `SCNotify.c`,
//! `IOKitNotify.c` and ipconfigd's `mach_service.c` do — against `MachRecvStream` on the native
//! `EVFILT_MACHPORT` filter, side by side in the same run, with the physical floor (a thread
//! already blocked in `mach_msg`) as the reference, and — on the simulated kernel — NextBSD
//! userland HEAD's design for SCNotify and IOKitNotify as a third baseline, "dispatch (HEAD)":
//! libdispatch `MACH_RECV` sources on libmach's `kevent_qos` wrapper, modelled in the `dispatch`
//! module (sim builds).
//!
//! The binary is a thin shell over [`run`]; the measurement functions are public so that tests
//! (and other tools) can run them at any scale.
//!
//! # Example
//!
//! Delivery latency of the old loop and of the floor, a few samples each, on a fresh simulated
//! kernel that is then checked for leaks:
//!
//! ```
//! # #[cfg(mach_backend = "sim")]
//! # fn main() {
//! use mach_bench::{env::Env, measure::old::{floor_latency, old_latency}, plan::Plan};
//!
//! let plan = Plan::tiny();
//! let env = Env::sim("example");
//! let old = old_latency(&env, &plan).unwrap();
//! let floor = floor_latency(&env, &plan).unwrap();
//! assert_eq!((old.len(), floor.len()), (plan.latency_samples, plan.latency_samples));
//! println!("p50: old loop {:?} ns, floor {:?} ns", old.percentile_ns(50.0), floor.percentile_ns(50.0));
//! env.finish("example").unwrap(); // fails if the phase left a right, port or message behind
//! # }
//! # #[cfg(not(mach_backend = "sim"))]
//! # fn main() {}
//! ```

pub mod cli;
pub mod clock;
pub mod compare;
#[cfg(mach_backend = "sim")]
pub mod demo;
#[cfg(mach_backend = "sim")]
pub mod dispatch;
pub mod env;
pub mod error;
pub mod json;
pub mod measure;
pub mod old_loop;
pub mod plan;
pub mod progress;
pub mod raw;
pub mod report;
pub mod runtime;
pub mod stats;
pub mod svg;
pub mod sysinfo;

use cli::{BackendChoice, Group, Options};
use env::Env;
use error::BenchError;
use measure::rpc::{ClientKind, RpcConfig};
use measure::stream::Traffic;
use plan::Plan;
use progress::Progress;
use report::{IdleRow, LatencyFigures, Pair, PortsLatency, Report, RunInfo};
use std::time::Instant;

/// Number of progress steps of a run with `plan` (for the progress line's `n/N`).
pub fn step_count(plan: &Plan, opts: &Options) -> usize {
    let group = |g: Group, steps: usize| if opts.runs(g) { steps } else { 0 };
    usize::from(!opts.no_demo)
        + group(
            Group::Latency,
            4 + 2 * plan.port_counts.len() + usize::from(plan.largest_ports() > 1),
        )
        + group(Group::Throughput, 7 * plan.throughput_repeats.max(1))
        + group(Group::Idle, 4 * plan.port_counts.len())
        + group(Group::Rpc, 2 * 4 * 2 * plan.rpc_repeats.max(1))
}

/// Makes a fresh measurement environment for a phase (given the phase's label).
pub type EnvFactory<'a> = dyn FnMut(&str) -> Result<Env, BenchError> + 'a;

/// Runs the demo (unless `opts.no_demo`) and every measurement on `opts.backend`, each phase in
/// a fresh environment, and returns the report. Measurements that fail are listed in
/// [`Report::missing`]; the run goes on.
pub fn run(opts: &Options, plan: Plan, progress: &mut Progress) -> Result<Report, BenchError> {
    check_backend(opts.backend)?;
    let backend = opts.backend;
    run_with(opts, plan, progress, &mut |label| {
        Env::for_backend(backend, label)
    })
}

/// [`run`] with the environments made by `envs` (tests pass their own kernel).
pub fn run_with(
    opts: &Options,
    mut plan: Plan,
    progress: &mut Progress,
    envs: &mut EnvFactory<'_>,
) -> Result<Report, BenchError> {
    let started = Instant::now();
    let load_before = sysinfo::load_average();
    let date = sysinfo::utc_now();
    // Every stream holds a kqueue descriptor (on NextBSD its port and set names are descriptors
    // too): 10,000 idle streams need more than the usual 1,024.
    let per_port = if opts.backend == BackendChoice::Native {
        4
    } else {
        1
    };
    let need_fds = plan.largest_ports() as u64 * per_port + 512;
    match sysinfo::raise_fd_limit(plan.largest_ports() as u64 * 4 + 1024) {
        Ok(limit) if limit < need_fds => {
            progress.note(&format!(
                "note: file-descriptor limit {limit}, below the {need_fds} that {} idle streams \
                 need: the idle group measures only the port counts that fit",
                plan.largest_ports()
            ));
            // A port count the process cannot hold is not a failed measurement: leave it out
            // (the report lists the reduction).
            plan.port_counts
                .retain(|&n| n as u64 * per_port + 512 <= limit);
        }
        Ok(_) => {}
        Err(e) => progress.note(&format!("note: cannot read the file-descriptor limit: {e}")),
    }

    let mut runner = Runner {
        envs,
        progress,
        missing: Vec::new(),
        failures: 0,
    };
    let mut demo_trace = Vec::new();
    if !opts.no_demo {
        runner
            .progress
            .step("end-to-end demo of the three consumers");
        runner.demo(opts.backend, &mut demo_trace);
    }

    let mut latency = LatencyFigures::default();
    let mut latency_at_ports = Vec::new();
    if runner.group(opts, Group::Latency) {
        latency.old = runner.measure("latency: old loop", |env| {
            measure::old::old_latency(env, &plan)
        });
        latency.dispatch = runner.measure("latency: dispatch (HEAD)", |env| {
            measure::dispatch::dispatch_latency(env, &plan, 1)
        });
        latency.stream = runner.measure("latency: stream", |env| {
            measure::stream::stream_latency(env, &plan)
        });
        latency.floor = runner.measure("latency: floor (thread blocked in mach_msg)", |env| {
            measure::old::floor_latency(env, &plan)
        });
        for &n in &plan.port_counts {
            let dispatch = runner.measure(
                &format!("latency with {n} ports registered: dispatch (HEAD)"),
                |env| measure::dispatch::dispatch_latency(env, &plan, n),
            );
            let stream = runner.measure(
                &format!("latency with {n} ports registered: streams"),
                |env| measure::stream::stream_latency_at(env, &plan, n, Traffic::InTurn),
            );
            let stream_one_port = if n == plan.largest_ports() && n > 1 {
                runner.measure(
                    &format!("latency with {n} ports registered: streams, all to one"),
                    |env| measure::stream::stream_latency_at(env, &plan, n, Traffic::OnePort),
                )
            } else {
                None
            };
            latency_at_ports.push(PortsLatency {
                ports: n,
                stream,
                dispatch,
                stream_one_port,
            });
        }
    }

    let mut throughput = Pair::default();
    let mut throughput_queue_limited = Pair::default();
    let (mut throughput_dispatch, mut throughput_queue_limited_dispatch) = (None, None);
    let mut throughput_floor = None;
    let mut receiver_calls = report::ReceiverCalls::default();
    let mut receiver_calls_queue_limited = report::ReceiverCalls::default();
    if runner.group(opts, Group::Throughput) {
        use measure::BurstSender::{QueueLimited, Unthrottled};
        // Each design's figure is the median of `throughput_repeats` bursts, the designs
        // interleaved so that a slow spell of the machine hits all of them alike.
        let mut burst: [Vec<measure::Throughput>; 4] = Default::default();
        let mut limited: [Vec<measure::Throughput>; 3] = Default::default();
        for _ in 0..plan.throughput_repeats.max(1) {
            burst[0].extend(runner.measure("burst throughput: old loop", |env| {
                measure::old::old_throughput(env, &plan, Unthrottled)
            }));
            burst[1].extend(runner.measure("burst throughput: dispatch (HEAD)", |env| {
                measure::dispatch::dispatch_throughput(env, &plan, Unthrottled)
            }));
            burst[2].extend(runner.measure("burst throughput: stream", |env| {
                measure::stream::stream_throughput(env, &plan, Unthrottled)
            }));
            burst[3].extend(runner.measure("burst throughput: floor", |env| {
                measure::old::floor_throughput(env, &plan, Unthrottled)
            }));
            limited[0].extend(runner.measure("queue-limited throughput: old loop", |env| {
                measure::old::old_throughput(env, &plan, QueueLimited)
            }));
            limited[1].extend(
                runner.measure("queue-limited throughput: dispatch (HEAD)", |env| {
                    measure::dispatch::dispatch_throughput(env, &plan, QueueLimited)
                }),
            );
            limited[2].extend(runner.measure("queue-limited throughput: stream", |env| {
                measure::stream::stream_throughput(env, &plan, QueueLimited)
            }));
        }
        // The median rate, and the median of the kernel calls per message, of each design.
        let rate = |v: &[measure::Throughput]| {
            stats::median(&v.iter().map(|t| t.rate).collect::<Vec<_>>())
        };
        let calls = |v: &[measure::Throughput]| {
            let c: Vec<f64> = v
                .iter()
                .filter_map(|t| t.kernel_calls_per_message)
                .collect();
            stats::median(&c)
        };
        throughput.old = rate(&burst[0]);
        throughput_dispatch = rate(&burst[1]);
        throughput.stream = rate(&burst[2]);
        throughput_floor = rate(&burst[3]);
        throughput_queue_limited.old = rate(&limited[0]);
        throughput_queue_limited_dispatch = rate(&limited[1]);
        throughput_queue_limited.stream = rate(&limited[2]);
        receiver_calls = report::ReceiverCalls {
            old: calls(&burst[0]),
            dispatch: calls(&burst[1]),
            stream: calls(&burst[2]),
            floor: calls(&burst[3]),
        };
        receiver_calls_queue_limited = report::ReceiverCalls {
            old: calls(&limited[0]),
            dispatch: calls(&limited[1]),
            stream: calls(&limited[2]),
            floor: None,
        };
    }

    let mut idle = Vec::new();
    if runner.group(opts, Group::Idle) {
        for &n in &plan.port_counts {
            let old = runner.measure(&format!("idle: {n} ports, old loop"), |env| {
                measure::old::old_idle(env, &plan, n)
            });
            let dispatch = runner.measure(&format!("idle: {n} ports, dispatch (HEAD)"), |env| {
                measure::dispatch::dispatch_idle(env, &plan, n)
            });
            let stream = runner.measure(&format!("idle: {n} ports, streams"), |env| {
                measure::stream::stream_idle(env, &plan, n)
            });
            let stream_teardown = runner
                .measure(&format!("idle: {n} ports, streams' own teardown"), |env| {
                    measure::stream::stream_teardown(env, n)
                });
            idle.push(IdleRow {
                ports: n,
                old,
                stream,
                dispatch,
                stream_teardown,
            });
        }
    }

    let mut rpc = Vec::new();
    if runner.group(opts, Group::Rpc) {
        let slow = Some(plan.rpc_slow_handler);
        for client in [ClientKind::Async, ClientKind::Threads] {
            for (clients, delay) in [
                (1, None),
                (plan.rpc_clients, None),
                (plan.rpc_clients, slow),
                (1, slow),
            ] {
                let cfg = RpcConfig {
                    client,
                    clients,
                    handler_delay: delay,
                };
                let what = format!(
                    "rpc: {clients} {}{}, {}",
                    if client == ClientKind::Async {
                        "async client"
                    } else {
                        "C-stub thread"
                    },
                    if clients == 1 { "" } else { "s" },
                    if delay.is_some() {
                        "slow handler"
                    } else {
                        "instant handler"
                    }
                );
                let (mut olds, mut streams) = (Vec::new(), Vec::new());
                for _ in 0..plan.rpc_repeats.max(1) {
                    olds.extend(runner.measure(&format!("{what}, old server loop"), |env| {
                        measure::rpc::old_rpc(env, plan.rpc_window, cfg)
                    }));
                    streams.extend(runner.measure(&format!("{what}, async server"), |env| {
                        measure::rpc::stream_rpc(env, plan.rpc_window, cfg)
                    }));
                }
                let (old, stream) = (measure::rpc::median(&olds), measure::rpc::median(&streams));
                let retries = |o: &Option<measure::rpc::RpcOutcome>| {
                    o.and_then(|o| o.send_retries).map(|r| r as f64)
                };
                rpc.push(report::RpcRow {
                    client,
                    clients,
                    slow: delay.is_some(),
                    rate: Pair {
                        old: old.map(|o| o.rate),
                        stream: stream.map(|o| o.rate),
                    },
                    send_retries: Pair {
                        old: retries(&old),
                        stream: retries(&stream),
                    },
                    handler_us: Pair {
                        old: old.and_then(|o| o.handler_us),
                        stream: stream.and_then(|o| o.handler_us),
                    },
                    server_cpu_us: Pair {
                        old: old.and_then(|o| o.server_cpu_us),
                        stream: stream.and_then(|o| o.server_cpu_us),
                    },
                    server_kernel_calls: Pair {
                        old: old.and_then(|o| o.server_kernel_calls),
                        stream: stream.and_then(|o| o.server_kernel_calls),
                    },
                });
            }
        }
    }

    let (missing, failures) = (runner.missing, runner.failures);
    Ok(Report {
        run: RunInfo {
            backend: opts.backend.as_str().into(),
            quick: opts.quick,
            machine: sysinfo::uname(),
            cores: sysinfo::cores(),
            date,
            load_before,
            load_after: sysinfo::load_average(),
            plan,
            elapsed: started.elapsed(),
        },
        latency,
        throughput,
        throughput_queue_limited,
        throughput_dispatch,
        throughput_queue_limited_dispatch,
        throughput_floor,
        receiver_calls,
        receiver_calls_queue_limited,
        latency_at_ports,
        idle,
        rpc,
        demo: demo_trace,
        missing,
        failures,
    })
}

/// Refuses a backend this build does not have, with the reason.
pub fn check_backend(backend: BackendChoice) -> Result<(), BenchError> {
    match backend {
        BackendChoice::Sim if env::HAS_SIM => Ok(()),
        BackendChoice::Sim => Err(BenchError::Unavailable(format!(
            "--backend sim: on {} mach-async is built for the native kernel; use --backend native",
            std::env::consts::OS
        ))),
        BackendChoice::Native if env::HAS_NATIVE => Ok(()),
        BackendChoice::Native => Err(BenchError::Unavailable(format!(
            "--backend native needs the real NextBSD kernel: build for x86_64-unknown-freebsd and run on NextBSD \
             (this build targets {}; use --backend sim)",
            std::env::consts::OS
        ))),
    }
}

struct Runner<'a, 'p> {
    envs: &'a mut EnvFactory<'a>,
    progress: &'p mut Progress,
    missing: Vec<String>,
    failures: usize,
}

impl Runner<'_, '_> {
    /// The end-to-end demo, its trace printed as it happens and kept for the report.
    fn demo(&mut self, backend: BackendChoice, lines: &mut Vec<String>) {
        let progress = &mut *self.progress;
        progress.println("end-to-end: registry → ipconfigd (IOKit) → configd (SCDynamicStore) → app (SCNotify) → ipconfigd (MIG)");
        let mut trace = |line: String| {
            progress.println(&format!("  {line}"));
            lines.push(line);
        };
        #[cfg(mach_backend = "sim")]
        let result = match backend {
            BackendChoice::Sim => demo::run(&mut trace),
            BackendChoice::Native => Err(BenchError::Unavailable(
                "the demo's device registry is the simulated one".into(),
            )),
        };
        #[cfg(not(mach_backend = "sim"))]
        let result: Result<(), BenchError> = {
            let _ = (backend, &mut trace);
            Err(BenchError::Unavailable(
                "needs the simulated kernel (a real registry cannot attach devices on demand); the measurements below run on the native kernel".into(),
            ))
        };
        if let Err(e) = result {
            self.record_failure("demo", &e);
        }
        self.progress.println("");
    }

    /// Whether `group` runs; a skipped group is listed as not measured.
    fn group(&mut self, opts: &Options, group: Group) -> bool {
        let runs = opts.runs(group);
        if !runs {
            self.missing
                .push(format!("{}: not selected (--only)", group.as_str()));
        }
        runs
    }

    /// Runs one measurement in a fresh environment; a failure (or a leak) is recorded and the
    /// figure left out.
    fn measure<T>(
        &mut self,
        label: &str,
        f: impl FnOnce(&Env) -> Result<T, BenchError>,
    ) -> Option<T> {
        self.progress.step(label);
        let result = (self.envs)(label).and_then(|env| {
            let result = f(&env);
            let finished = env.finish(label);
            let value = result?;
            finished.map(|()| value)
        });
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.record_failure(label, &e);
                None
            }
        }
    }

    /// Lists a part as not measured; counts it as a failure unless it is merely unavailable in
    /// this build or on this backend.
    fn record_failure(&mut self, label: &str, e: &BenchError) {
        if !matches!(e, BenchError::Unavailable(_)) {
            self.failures += 1;
            self.progress.note(&format!("{label}: {e}"));
        }
        self.missing.push(format!("{label}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_only_the_selected_steps() {
        let plan = Plan::full();
        // demo + 4 latency + 2 × 3 latency at port counts + 1 all-to-one + 7 throughput × 5
        // repeats + 4 × 3 idle + 2 servers × 4 configurations × 2 client kinds × 3 repeats.
        assert_eq!(
            step_count(&plan, &Options::default()),
            1 + 4 + 6 + 1 + 35 + 12 + 48
        );
        let only_latency = Options {
            no_demo: true,
            only: Some(vec![Group::Latency]),
            ..Options::default()
        };
        assert_eq!(step_count(&plan, &only_latency), 4 + 6 + 1);
        assert_eq!(
            step_count(&Plan::quick(), &Options::default()),
            1 + 4 + 6 + 1 + 7 + 12 + 16
        );
    }

    #[test]
    fn backends_this_build_lacks_are_refused_with_the_reason() {
        let other = if env::HAS_SIM {
            BackendChoice::Native
        } else {
            BackendChoice::Sim
        };
        let err = check_backend(other).unwrap_err();
        assert!(matches!(err, BenchError::Unavailable(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("--backend {}", other.as_str())),
            "{err}"
        );
        if env::HAS_SIM || env::HAS_NATIVE {
            assert!(check_backend(BackendChoice::build_default()).is_ok());
        }
    }
}
