//! `mach-bench`: see the library documentation ([`mach_bench`]) and `mach-bench --help`.

use mach_bench::cli::{self, Command};
use mach_bench::plan::Plan;
use mach_bench::progress::Progress;
use mach_bench::stats::Samples;
use mach_bench::svg::{self, Series};
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "mach-bench {} (backend {})",
                env!("CARGO_PKG_VERSION"),
                mach_async::sys::BACKEND
            );
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(opts)) => opts,
        Err(e) => {
            eprintln!(
                "mach-bench: {e}\nUsage: mach-bench [OPTIONS] (mach-bench --help lists them)"
            );
            return ExitCode::from(2);
        }
    };
    // RUST_LOG=<filter> shows the crates' tracing events (stderr), e.g. mach_async=debug.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "mach-bench: warning: built without optimizations; the figures are not \
             representative (cargo run --release -p mach-bench)"
        );
    }
    // Read the file to compare against before measuring: a typo should not cost a whole run.
    let before = match opts.compare.as_deref().map(mach_bench::compare::load) {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            eprintln!("mach-bench: --compare {e}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let plan = if opts.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let mut progress = Progress::new(mach_bench::step_count(&plan, &opts));
    let report = match mach_bench::run(&opts, plan, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            eprintln!("mach-bench: {e}");
            return ExitCode::from(2);
        }
    };
    progress.finish();
    println!();
    print!("{}", report.render_text());

    let mut status = ExitCode::SUCCESS;
    if let Some(before) = &before {
        match serde_json::from_str(&report.to_json().to_pretty_string()) {
            Ok(after) => print!(
                "\nbefore/after:\n{}",
                mach_bench::compare::render(before, &after)
            ),
            Err(e) => {
                eprintln!("mach-bench: cannot re-read this run's JSON: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &opts.json {
        if let Err(e) = std::fs::write(path, report.to_json().to_pretty_string()) {
            eprintln!("mach-bench: cannot write {}: {e}", path.display());
            status = ExitCode::FAILURE;
        } else {
            println!("\nJSON written to {}", path.display());
        }
    }
    if let Some(path) = &opts.markdown {
        if let Err(e) = std::fs::write(path, report.render_markdown()) {
            eprintln!("mach-bench: cannot write {}: {e}", path.display());
            status = ExitCode::FAILURE;
        } else {
            println!("Markdown table written to {}", path.display());
        }
    }
    if let Some(path) = &opts.plot {
        let empty = Samples::default();
        let l = &report.latency;
        let title = format!(
            "Delivery latency, {} backend, {}",
            report.run.backend, report.run.date
        );
        let svg = svg::latency_cdf(
            &title,
            &[
                Series {
                    label: "old loop (thread per port, 500 ms timeout)",
                    color: "#d62728",
                    dashed: false,
                    samples: l.old.as_ref().unwrap_or(&empty),
                },
                Series {
                    label: "dispatch (HEAD): libdispatch source on libmach's kevent_qos",
                    color: "#2ca02c",
                    dashed: false,
                    samples: l.dispatch.as_ref().unwrap_or(&empty),
                },
                Series {
                    label: "MachRecvStream",
                    color: "#1f77b4",
                    dashed: false,
                    samples: l.stream.as_ref().unwrap_or(&empty),
                },
                Series {
                    label: "floor (thread blocked in mach_msg)",
                    color: "#555555",
                    dashed: true,
                    samples: l.floor.as_ref().unwrap_or(&empty),
                },
            ],
        );
        if let Err(e) = std::fs::write(path, svg) {
            eprintln!("mach-bench: cannot write {}: {e}", path.display());
            status = ExitCode::FAILURE;
        } else {
            println!("latency CDF written to {}", path.display());
        }
        // The headline ratios beside it.
        let ratios_path = cli::ratios_plot_path(path);
        let title = format!(
            "Headline ratios, {} backend, {}",
            report.run.backend, report.run.date
        );
        let svg = svg::ratio_bars(&title, &report.headline_ratios());
        if let Err(e) = std::fs::write(&ratios_path, svg) {
            eprintln!("mach-bench: cannot write {}: {e}", ratios_path.display());
            status = ExitCode::FAILURE;
        } else {
            println!("headline ratios written to {}", ratios_path.display());
        }
    }
    if report.failures > 0 {
        // A measurement failed (not merely unavailable): say so in the exit status.
        status = ExitCode::FAILURE;
    }
    status
}
