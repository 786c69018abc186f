//! The libmach C ABI of the simulated kernel, from C: `tests/c/mach_sim/request_reply.c` and
//! `exit_handlers.c` compiled with `cc -std=c11 -Wall -Wextra -Werror` against
//! `crates/mach-sim/include` and linked with the `mach-sim` static library.

use c_abi_tests::{assert_passed, build_staticlib, compile_and_run, include_dir, workspace_root};

#[test]
#[cfg_attr(miri, ignore = "spawns cargo and cc")]
fn request_reply_queue_limit_server_death_kqueue() {
    let lib = build_staticlib("mach-sim");
    let source = workspace_root().join("tests/c/mach_sim/request_reply.c");
    let include = include_dir("mach-sim");
    let output = compile_and_run(&[source.as_path()], &[include.as_path()], &lib);
    assert_passed(&output, "mach-sim C ABI");
}

/// Calls from an `atexit` handler and an ELF destructor (after `exit` destroyed the main thread's
/// thread-locals) return their documented error codes, or keep working for the kernel-wide
/// calls; nothing panics (no panic message on stderr) and nothing aborts (exit status 0).
#[test]
#[cfg_attr(miri, ignore = "spawns cargo and cc")]
fn calls_from_atexit_handlers_and_destructors_return_error_codes() {
    let lib = build_staticlib("mach-sim");
    let source = workspace_root().join("tests/c/mach_sim/exit_handlers.c");
    let include = include_dir("mach-sim");
    let output = compile_and_run(&[source.as_path()], &[include.as_path()], &lib);
    assert_passed(&output, "mach-sim exit handlers");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "a call at exit panicked:\n{stderr}"
    );
}

/// A C program shaped like MIG output for ipconfig.defs (user stubs, server stubs, routine
/// table, demux), built against mach-sim's headers only (`<mach/mig.h>`, `<mach/std_types.h>`,
/// `<mach/thread_status.h>`, ...), runs a round trip on the simulated kernel, with the demux's
/// `MIG_BAD_ID` and a stub's `MIG_BAD_ARGUMENTS`, and ends with no leak.
#[test]
#[cfg_attr(miri, ignore = "spawns cargo and cc")]
fn mig_shaped_stubs_build_against_the_headers_and_round_trip() {
    let lib = build_staticlib("mach-sim");
    let source = workspace_root().join("tests/c/mig/ipconfig_mig.c");
    let include = include_dir("mach-sim");
    let output = compile_and_run(&[source.as_path()], &[include.as_path()], &lib);
    assert_passed(&output, "mig-ipconfig");
}
