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
/// kernel's libmach C ABI), and runs it in `mode`.
fn run_host(mode: &str) {
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
    let output = run(&exe, &[mode], Duration::from_secs(120));
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
