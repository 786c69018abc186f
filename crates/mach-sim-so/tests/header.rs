//! `<mach_sim_so.h>` is fresh: it equals what cbindgen generates now from `src/imp.rs`.
//! Regenerate with `UPDATE_HEADERS=1 cargo test -p mach-sim-so`.

use c_abi_tests::{check_header, workspace_root};

#[test]
fn header_is_fresh() {
    let dir = workspace_root().join("crates/mach-sim-so");
    check_header(
        &dir.join("cbindgen.toml"),
        &[&dir.join("src/imp.rs")],
        &dir.join("include/mach_sim_so.h"),
    );
}
