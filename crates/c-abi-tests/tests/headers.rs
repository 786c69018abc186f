//! Generated C headers are fresh: `<mach_sim.h>` equals what cbindgen generates now from
//! `crates/mach-sim/src/ffi/sim.rs` and `crates/mach-abi/src/kevent.rs`.
//!
//! Regenerate with `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test headers`.

use c_abi_tests::{check_header, workspace_root};

#[test]
fn headers_are_fresh() {
    let root = workspace_root();
    let sim = root.join("crates/mach-sim");
    check_header(
        &sim.join("cbindgen.toml"),
        &[
            &sim.join("src/ffi/sim.rs"),
            &root.join("crates/mach-abi/src/kevent.rs"),
        ],
        &sim.join("include/mach_sim.h"),
    );
}
