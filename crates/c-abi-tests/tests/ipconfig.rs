//! ipconfig-rpc's C ABI: the generated header is fresh, and ipconfigd's host side (a C program
//! defining the handlers and `got_term`) drives `mach_service_start` / `_stop` / `_join` and
//! talks to the service with raw `mach_msg` in NextBSD's wire layout, on the simulated kernel.
//!
//! Regenerate the header with
//! `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test ipconfig headers_are_fresh`.

use std::time::Duration;

use c_abi_tests::{
    assert_passed, build_staticlib, check_header, compile, include_dir, run, workspace_root,
};

#[test]
fn headers_are_fresh() {
    let crate_dir = workspace_root().join("crates/ipconfig-rpc");
    check_header(
        &crate_dir.join("cbindgen.toml"),
        &[&crate_dir.join("src/ffi/mod.rs")],
        &crate_dir.join("include/ipconfig_rpc.h"),
    );
}

/// Compiles tests/c/ipconfig/ipconfig_service.c against <ipconfig_rpc.h> and the simulated
/// kernel's headers, linked with the ipconfig-rpc static library (which carries the simulated
/// kernel's libmach C ABI), and runs it in `mode` (with `args` after it).
fn run_host(mode: &str) {
    run_host_with(mode, &[]);
}

fn run_host_with(mode: &str, args: &[&str]) {
    let lib = build_staticlib("ipconfig-rpc");
    let source = workspace_root().join("tests/c/ipconfig/ipconfig_service.c");
    let exe = compile(
        &[source.as_path()],
        &[
            include_dir("ipconfig-rpc").as_path(),
            include_dir("mach-sim").as_path(),
        ],
        &lib,
    );
    // A generous bound that only turns a hang into a failure.
    let argv: Vec<&str> = std::iter::once(mode).chain(args.iter().copied()).collect();
    let output = run(&exe, &argv, Duration::from_secs(120));
    assert_passed(&output, &format!("ipconfig-{mode}"));
}

#[test]
fn c_host_stops_with_mach_service_stop() {
    run_host("stop");
}

#[test]
fn c_host_stops_on_sigterm() {
    run_host("sigterm");
}

/// The C entry points round after round: ipconfigd (a new simulated task each round) started
/// with `mach_service_start`, called, and stopped, joined, restarted or killed at a seeded
/// point (`soak()` in the C host); every round must leave the kernel's counts where the first
/// left them, and a failure prints its seed and round. `IPCONFIG_C_SOAK_ROUNDS` and
/// `IPCONFIG_C_SOAK_SEED` run it longer or with another seed.
#[test]
fn c_host_soak_under_faults() {
    let rounds = std::env::var("IPCONFIG_C_SOAK_ROUNDS").unwrap_or_else(|_| "200".into());
    let seed = std::env::var("IPCONFIG_C_SOAK_SEED").unwrap_or_else(|_| "42".into());
    run_host_with("soak", &[&rounds, &seed]);
}
