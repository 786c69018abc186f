//! Decides, once for the whole workspace, which Mach backend this build uses, and tells every
//! crate that depends on `mach-async` (through the `links` metadata `DEP_MACH_ASYNC_CFG`).
//!
//! | cfg | meaning |
//! |---|---|
//! | `mach_backend = "nextbsd"` | `sys/nextbsd.rs`: NextBSD's traps and `kevent` filter −16 |
//! | `mach_backend = "macos"` | `sys/macos.rs`: libSystem and `kevent` filter −8 |
//! | `mach_backend = "sim"` | `sys/sim.rs`: the simulated kernel's Rust API, several IPC spaces per process |
//! | `mach_over_sim` | with `mach_backend = "nextbsd"`: the NextBSD backend's raw calls go to the simulated kernel's trap face ("NextBSD over sim") |
//! | `mach_sim_kernel` | the simulated kernel (`mach-sim`) is the kernel underneath (`sim`, or NextBSD over sim) |
//! | `mach_trap_so` | with `mach_backend = "nextbsd"`: the raw calls are `mach_sim_trap_*` C symbols of the shared simulated kernel `libmach_sim.so`, resolved at load time (Stage 4 on Linux, docs/stage4-linking.md); no simulated kernel is compiled in |
//!
//! The choice: feature `nextbsd-over-shared-sim` → NextBSD over the shared simulated kernel;
//! else feature `nextbsd-over-sim` → NextBSD over sim (on any OS); else feature `sim`, or
//! any OS other than FreeBSD and macOS → `sim`; else FreeBSD → `nextbsd`, macOS → `macos`.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let feature = |name: &str| env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let trap_so = feature("NEXTBSD_OVER_SHARED_SIM");
    let over_sim = !trap_so && feature("NEXTBSD_OVER_SIM");
    let backend = if over_sim || trap_so {
        "nextbsd"
    } else if feature("SIM") || !(os == "freebsd" || os == "macos") {
        "sim"
    } else if os == "freebsd" {
        "nextbsd"
    } else {
        "macos"
    };
    let mut cfgs = vec![format!("mach_backend=\"{backend}\"")];
    if over_sim {
        cfgs.push("mach_over_sim".into());
    }
    if trap_so {
        cfgs.push("mach_trap_so".into());
    }
    if over_sim || backend == "sim" {
        cfgs.push("mach_sim_kernel".into());
    }
    for cfg in &cfgs {
        println!("cargo::rustc-cfg={cfg}");
    }
    let checks = [
        "cfg(mach_backend, values(\"nextbsd\", \"macos\", \"sim\"))",
        "cfg(mach_over_sim)",
        "cfg(mach_sim_kernel)",
        "cfg(mach_trap_so)",
    ];
    for check in checks {
        println!("cargo::rustc-check-cfg={check}");
    }
    // For dependents' build scripts (see `backend_cfg` in their build.rs).
    println!("cargo::metadata=cfg={}", cfgs.join(" "));
    println!("cargo::metadata=check_cfg={}", checks.join("|"));
}
