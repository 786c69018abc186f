//! iokit-notify's C ABI: the generated headers are fresh, and C programs built against them,
//! linked with the iokit-notify static library (which carries the simulated kernel's libmach C
//! ABI and the simulated registry) and the C test host under tests/c/iokit (a minimal libIOKit /
//! CoreFoundation / libdispatch stand-in), run NextBSD's iokitnotifytest.c and iokitnotifyrt.c
//! scenarios through the five exported functions, with and without a dispatch queue, destroy a
//! port while events are in flight, and check the return codes and ownership rules of spec
//! iokit-notify.md §2 and the fixes of §6.
//!
//! Regenerate the headers with `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test iokit headers_are_fresh`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use c_abi_tests::{
    assert_passed, build_staticlib, check_header, compile, include_dir, run, workspace_root,
};

#[test]
fn headers_are_fresh() {
    let crate_dir = workspace_root().join("crates/iokit-notify");
    check_header(
        &crate_dir.join("cbindgen.toml"),
        &[&crate_dir.join("src/ffi/mod.rs")],
        &crate_dir.join("include/IOKitNotify.h"),
    );
    check_header(
        &crate_dir.join("cbindgen-sim.toml"),
        &[
            &crate_dir.join("src/ffi/sim.rs"),
            &crate_dir.join("src/registry_abi.rs"),
        ],
        &crate_dir.join("include/iokit_sim.h"),
    );
}

/// The C test program, built once per test process.
fn program() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lib = build_staticlib("iokit-notify");
        let dir = workspace_root().join("tests/c/iokit");
        let sources = [dir.join("iokit_tests.c"), dir.join("test_host.c")];
        let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
        compile(
            &sources,
            &[
                include_dir("iokit-notify").as_path(),
                dir.as_path(),
                include_dir("mach-sim").as_path(),
            ],
            &lib,
        )
    })
}

/// Runs one scenario in its own process (each starts from an empty global kernel and registry
/// and ends with its own leak check).
fn scenario(name: &str) {
    // A generous bound that only turns a hang into a failure.
    let output = run(program(), &[name], Duration::from_secs(120));
    assert_passed(&output, &format!("iokit-{name}"));
}

#[test]
fn c_iokitnotifytest_with_a_dispatch_queue() {
    scenario("notifytest");
}

#[test]
fn c_iokitnotifyrt_inline_without_a_queue() {
    scenario("rt-inline");
}

#[test]
fn c_iokitnotifyrt_on_a_dispatch_queue() {
    scenario("rt-queue");
}

#[test]
fn c_iokitnotifyrt_skip_probes_and_unsupported_code() {
    scenario("rt-skip");
}

#[test]
fn c_error_paths_release_matching_once() {
    scenario("errors");
}

#[test]
fn c_overlapping_watches_and_driver_criterion() {
    scenario("overlap");
}

#[test]
fn c_burst_of_1000_on_the_queue_then_inline() {
    scenario("burst");
}

#[test]
fn c_flood_on_a_blocked_queue_stays_bounded_and_reports_each_device_once() {
    scenario("flood");
}

#[test]
fn c_snapshot_is_not_truncated() {
    scenario("snapshot");
}

#[test]
fn c_snapshot_and_callbacks_report_a_device_once() {
    scenario("race");
}

#[test]
fn c_destroy_from_an_inline_callback() {
    scenario("destroy-in-callback-inline");
}

#[test]
fn c_destroy_from_a_queued_callback() {
    scenario("destroy-in-callback-queue");
}

#[test]
fn c_destroy_while_events_are_in_flight() {
    scenario("destroy-inflight");
}

#[test]
fn c_one_event_thread_for_all_ports() {
    scenario("one-thread");
}

/// Issue 16: the host fails to allocate one event's iterator; that event is dropped without a
/// leak and the next is delivered.
#[test]
fn c_a_failed_iterator_allocation_drops_only_that_event() {
    scenario("alloc-fail");
}
