//! `evfilt-machport-concurrent`: the EVFILT_MACHPORT concurrency stress
//! ([`mach_async::stress`]) on whatever backend this build targets (the real kernel on a
//! NextBSD host, the simulated kernel elsewhere).
//!
//! Usage: `evfilt-machport-concurrent [--rounds N] [--attachers N] [--movers N] [--ports N]`.
//! Exit status: 0 on OK or SKIP, 1 on FAIL, 2 on bad usage.

use std::process::ExitCode;

use mach_async::stress::{evfilt_machport_concurrent, Config, StressError};

fn main() -> ExitCode {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        let Some(value) = value else {
            eprintln!("usage: evfilt-machport-concurrent [--rounds N] [--attachers N] [--movers N] [--ports N]");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--rounds" => config.rounds = value,
            "--attachers" => config.attachers = value,
            "--movers" => config.movers = value,
            "--ports" => config.ports = value,
            _ => {
                eprintln!("unknown option {flag}");
                return ExitCode::from(2);
            }
        }
    }
    match evfilt_machport_concurrent(config) {
        Ok(_) | Err(StressError::Skip(_)) => ExitCode::SUCCESS,
        Err(StressError::Fail(_)) => ExitCode::FAILURE,
    }
}
