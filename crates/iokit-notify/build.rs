//! Selects the registry backend: `cfg(sim_registry)` when the simulated kernel is in use (every OS
//! except FreeBSD and macOS, or any OS with the `sim` feature), matching `mach-async`'s choice of
//! Mach backend.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sim_registry)");
    println!("cargo::rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let forced = env::var_os("CARGO_FEATURE_SIM").is_some();
    if forced || !(os == "freebsd" || os == "macos") {
        println!("cargo::rustc-cfg=sim_registry");
    }
}
