//! The conformance suite (see the `mach_conformance` crate docs): every test runs on every
//! backend that can run it. `cargo test -p mach-conformance [-- FILTER | --list]`.

use std::process::ExitCode;

use mach_conformance::{run_suite, Test};

mod consumers;
mod delivery;
mod messages;
mod mig;
mod notify;
mod rights;
mod send;

/// Lists test functions as [`Test`]s named `module::function`.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub const TESTS: &[mach_conformance::Test] = &[
            $(mach_conformance::Test {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
            }),*
        ];
    };
}

fn main() -> ExitCode {
    let groups: [&[Test]; 7] = [
        rights::TESTS,
        delivery::TESTS,
        notify::TESTS,
        send::TESTS,
        messages::TESTS,
        mig::TESTS,
        consumers::TESTS,
    ];
    let all: Vec<Test> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    run_suite(&all)
}
