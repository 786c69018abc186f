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

use c_abi_tests::{assert_passed, build_staticlib, check_header, compile, include_dir, run, workspace_root};

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
        &[&crate_dir.join("src/ffi/sim.rs"), &crate_dir.join("src/wire.rs")],
        &crate_dir.join("include/iokit_sim.h"),
    );
}
