//! Mirrors `mach-async`'s backend cfgs (`mach_backend`, `mach_over_sim`, `mach_sim_kernel`),
//! which its build.rs decides once for the whole build (see `crates/mach-async/build.rs`).

fn main() {
    let dep = |key: &str| std::env::var(format!("DEP_MACH_ASYNC_{key}")).unwrap_or_default();
    dep("CFG")
        .split_whitespace()
        .for_each(|c| println!("cargo::rustc-cfg={c}"));
    dep("CHECK_CFG")
        .split('|')
        .for_each(|c| println!("cargo::rustc-check-cfg={c}"));
}
