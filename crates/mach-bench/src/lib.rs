//! `mach-bench`: the project's main command. It runs the three NextBSD Mach consumers end to end
//! on the chosen kernel, then measures the old design — one thread per port looping on
//! `mach_msg(MACH_RCV_MSG | MACH_RCV_TIMEOUT, 500 ms)` with a stop flag, as `SCNotify.c`,
//! `IOKitNotify.c` and ipconfigd's `mach_service.c` do — against `MachRecvStream` on the native
//! `EVFILT_MACHPORT` filter, side by side in the same run, with the physical floor (a thread
//! already blocked in `mach_msg`) as the reference.
//!
//! The binary is a thin shell over [`run`]; the measurement functions are public so that tests
//! (and other tools) can run them at any scale.
//!
//! # Example
//!
//! The old loop's idle cost with three ports on a fresh simulated kernel: each thread wakes up
//! every 500 ms to look at its stop flag, and stopping them waits for those timeouts.
//!
//! ```no_run
//! use mach_bench::{env::Env, measure::old::old_idle, plan::Plan};
//!
//! let mut plan = Plan::tiny();
//! plan.idle_window_old = std::time::Duration::from_secs(1);
//! let env = Env::sim("example");
//! let idle = old_idle(&env, &plan, 3).unwrap();
//! println!("{:.1} wake-ups per port per second", idle.wakeups_per_port_per_s().unwrap());
//! assert!(idle.shutdown > std::time::Duration::from_millis(1));
//! env.finish("example").unwrap();
//! ```

pub mod cli;
pub mod clock;
pub mod env;
pub mod error;
pub mod json;
pub mod measure;
pub mod old_loop;
pub mod plan;
pub mod progress;
pub mod raw;
pub mod report;
pub mod stats;
pub mod svg;
pub mod sysinfo;

use cli::{BackendChoice, Options};
use env::Env;
use error::BenchError;
use plan::Plan;
use progress::Progress;
use report::{IdleRow, LatencyFigures, Pair, Report, RunInfo};
use std::time::Instant;

/// Number of progress steps of a run with `plan` (for the progress line's `n/N`).
pub fn step_count(plan: &Plan, demo: bool) -> usize {
    usize::from(demo) + 3 + 2 + 2 * plan.port_counts.len() + 2 * 4
}

/// Runs the demo (unless `opts.no_demo`) and every measurement, and returns the report.
/// Measurements that fail are listed in [`Report::missing`]; the run goes on.
pub fn run(opts: &Options, plan: Plan, progress: &mut Progress) -> Result<Report, BenchError> {
    check_backend(opts.backend)?;
    let started = Instant::now();
    let load_before = sysinfo::load_average();
    let date = sysinfo::utc_now();
    // Streams each hold a kqueue descriptor; 10,000 of them need more than the usual 1,024.
    let want_fds = (plan.largest_ports() as u64) * 4 + 1024;
    if let Ok(limit) = sysinfo::raise_fd_limit(want_fds) {
        if limit < want_fds {
            progress.note(&format!("note: file-descriptor limit {limit} (wanted {want_fds}); large stream counts may fail"));
        }
    }

    let mut runner = Runner {
        backend: opts.backend,
        progress,
        missing: Vec::new(),
    };
    if !opts.no_demo {
        runner
            .progress
            .step("end-to-end demo of the three consumers");
        runner.missing.push("demo: the consumer crates (scnotify, iokit-notify, ipconfig-rpc) are not built into this binary yet".into());
    }

    let mut latency = LatencyFigures::default();
    latency.old = runner.measure("latency: old loop", |env| {
        measure::old::old_latency(env, &plan)
    });
    latency.stream = runner.stream_missing("latency: stream");
    latency.floor = runner.measure("latency: floor (thread blocked in mach_msg)", |env| {
        measure::old::floor_latency(env, &plan)
    });

    let throughput = Pair {
        old: runner.measure("burst throughput: old loop", |env| {
            measure::old::old_throughput(env, &plan)
        }),
        stream: runner.stream_missing("burst throughput: stream"),
    };

    let mut idle = Vec::new();
    for &n in &plan.port_counts {
        let old = runner.measure(&format!("idle: {n} ports, old loop"), |env| {
            measure::old::old_idle(env, &plan, n)
        });
        let stream = runner.stream_missing(&format!("idle: {n} ports, streams"));
        idle.push(IdleRow {
            ports: n,
            old,
            stream,
        });
    }

    let rpc = Vec::new();
    for label in [
        "rpc: 1 client",
        "rpc: 64 clients",
        "rpc: 64 clients, 1 ms handler",
        "rpc: 1 client, 1 ms handler",
    ] {
        runner.progress.step(label);
    }
    runner
        .missing
        .push("rpc: ipconfig-rpc is not built into this binary yet".into());

    let missing = runner.missing;
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
        idle,
        rpc,
        missing,
    })
}

/// Refuses a backend this build does not have, with the reason.
pub fn check_backend(backend: BackendChoice) -> Result<(), BenchError> {
    match backend {
        BackendChoice::Sim => Ok(()),
        BackendChoice::Native if cfg!(target_os = "freebsd") => Err(BenchError::Unavailable(
            "--backend native: not wired yet in this build".into(),
        )),
        BackendChoice::Native => Err(BenchError::Unavailable(format!(
            "--backend native needs the real NextBSD kernel: build for x86_64-unknown-freebsd and run on NextBSD \
             (this build targets {}; use --backend sim)",
            std::env::consts::OS
        ))),
    }
}

struct Runner<'p> {
    backend: BackendChoice,
    progress: &'p mut Progress,
    missing: Vec<String>,
}

impl Runner<'_> {
    /// Runs one measurement in a fresh environment; a failure (or a leak) is recorded and the
    /// figure left out.
    fn measure<T>(
        &mut self,
        label: &str,
        f: impl FnOnce(&Env) -> Result<T, BenchError>,
    ) -> Option<T> {
        self.progress.step(label);
        let env = match self.backend {
            BackendChoice::Sim => Env::sim(label),
            BackendChoice::Native => unreachable!("checked by check_backend"),
        };
        let result = f(&env);
        let finished = env.finish(label);
        match (result, finished) {
            (Ok(v), Ok(())) => Some(v),
            (Err(e), _) | (Ok(_), Err(e)) => {
                self.progress.note(&format!("{label}: {e}"));
                self.missing.push(format!("{label}: {e}"));
                None
            }
        }
    }

    fn stream_missing<T>(&mut self, label: &str) -> Option<T> {
        self.progress.step(label);
        self.missing.push(format!(
            "{label}: mach-async (MachRecvStream) is not built into this binary yet"
        ));
        None
    }
}
