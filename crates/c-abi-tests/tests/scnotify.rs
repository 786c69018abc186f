//! scnotify's C ABI: the generated header is fresh, and C programs built against it, linked with
//! the scnotify static library (which carries the simulated kernel's libmach C ABI) and the C
//! test host under tests/c/scnotify (a minimal CoreFoundation / libdispatch / SC subset), do what
//! NextBSD's scnotifytest.c and scrltest.c do, plus the error paths of spec scnotify.md §2.2.
//!
//! Regenerate the header with
//! `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test scnotify headers_are_fresh`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use c_abi_tests::{
    assert_passed, build_staticlib, check_header, compile, include_dir, run, workspace_root,
};

#[test]
fn headers_are_fresh() {
    let crate_dir = workspace_root().join("crates/scnotify");
    check_header(
        &crate_dir.join("cbindgen.toml"),
        &[&crate_dir.join("src/ffi/mod.rs")],
        &crate_dir.join("include/scnotify.h"),
    );
    check_header(
        &crate_dir.join("cbindgen-sim.toml"),
        &[&crate_dir.join("src/ffi/sim.rs")],
        &crate_dir.join("include/scnotify_sim.h"),
    );
}

/// The test-support exports are declared only in the sim-only `<scnotify_sim.h>`, never in the
/// public `<scnotify.h>` a native build installs.
#[test]
fn scnotify_h_does_not_declare_test_support() {
    let include = include_dir("scnotify");
    let public = std::fs::read_to_string(include.join("scnotify.h")).expect("read scnotify.h");
    let sim = std::fs::read_to_string(include.join("scnotify_sim.h")).expect("read scnotify_sim.h");
    for name in ["scnotify_configd_start", "scnotify_configd_stop"] {
        assert!(!public.contains(name), "scnotify.h declares {name}");
        assert!(
            sim.contains(&format!("{name}(void);")),
            "scnotify_sim.h lacks {name}"
        );
    }
}

/// The C test program, built once per test process.
fn program() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lib = build_staticlib("scnotify");
        let dir = workspace_root().join("tests/c/scnotify");
        let sources = [dir.join("scnotify_tests.c"), dir.join("host.c")];
        let sources: Vec<&std::path::Path> = sources.iter().map(PathBuf::as_path).collect();
        compile(
            &sources,
            &[
                include_dir("scnotify").as_path(),
                dir.join("include").as_path(),
                include_dir("mach-sim").as_path(),
            ],
            &lib,
        )
    })
}

/// Runs one scenario of the C program in its own process (so each starts from an empty global
/// kernel and ends with its own leak check).
fn scenario(name: &str) {
    // A generous bound that only turns a hang into a failure.
    let output = run(program(), &[name], Duration::from_secs(120));
    assert_passed(&output, &format!("scnotify-{name}"));
}

#[test]
fn c_layout_matches_the_rust_mirror() {
    scenario("layout");
}

#[test]
fn c_scnotifytest_dispatch_queue_delivery() {
    scenario("dispatch");
}

#[test]
fn c_scrltest_run_loop_delivery() {
    scenario("runloop");
}

#[test]
fn c_error_paths_of_spec_2_2() {
    scenario("errors");
}

#[test]
fn c_registration_rules() {
    scenario("registration");
}

#[test]
fn c_changes_before_scheduling_and_copy_notified_keys() {
    scenario("early");
}

#[test]
fn c_concurrent_queue_never_runs_two_callouts_at_once() {
    scenario("concurrent");
}

#[test]
fn c_release_right_after_cancel_is_safe() {
    scenario("lifetime");
}

#[test]
fn c_server_restart_reconnects_with_an_empty_callout() {
    scenario("restart");
}

#[test]
fn c_disconnect_callback_runs_before_the_reread_batch() {
    scenario("disconnect");
}

#[test]
fn c_no_thread_per_store() {
    scenario("threads");
}

/// The C entry points round after round (`scenario_soak`): a watcher store on a dispatch queue
/// gets its key's change under a seeded fault (none, configd restarting, the queue cancelled and
/// the store released right after the change); every round must bring the kernel's counts back
/// to the first round's. `SCNOTIFY_SOAK_ROUNDS` (default 20) and `SCNOTIFY_SOAK_SEED` run it
/// longer or with another seed.
#[test]
fn c_soak_under_faults() {
    scenario("soak");
}

/// Issue 16: `SCDynamicStoreSetDispatchQueue` when delivery cannot start undoes its changes.
#[test]
fn c_a_dispatch_queue_that_cannot_start_leaves_the_store_unregistered() {
    scenario("dispatch-fail");
}
