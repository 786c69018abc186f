//! Audit of the mach-sim libmach C ABI (issue 2 part 4) from C: `tests/c/mach_sim/
//! audit_signatures.c` checks every required call's standard signature at compile time
//! (function pointers of the standard types, `-Werror`), FreeBSD's `struct kevent` layout, and
//! runs what `request_reply.c` does not reach (`mach_reply_port`, a successful
//! `bootstrap_register`), ending with the kernel's leak check.

use c_abi_tests::{assert_passed, build_staticlib, compile_and_run, include_dir, workspace_root};

#[test]
#[cfg_attr(miri, ignore = "spawns cargo and cc")]
fn standard_signatures_kevent_layout_reply_port_and_register() {
    let lib = build_staticlib("mach-sim");
    let source = workspace_root().join("tests/c/mach_sim/audit_signatures.c");
    let include = include_dir("mach-sim");
    let output = compile_and_run(&[source.as_path()], &[include.as_path()], &lib);
    assert_passed(&output, "mach-sim C ABI audit");
}
