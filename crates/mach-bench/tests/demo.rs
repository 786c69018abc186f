//! The end-to-end demo on a kernel of the test's own: the whole chain runs (registry →
//! ipconfigd's IOKit watch → configd → the app's SCNotify watch → ipconfigd's MIG service), in
//! order, with the right answers, and leaves nothing in the kernel.

#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

#[test]
fn demo_runs_the_three_consumers_end_to_end_and_leaks_nothing() {
    let kernel = mach_sim::Kernel::new();
    let mut lines = Vec::new();
    mach_bench::demo::run_on(&kernel, &mut |line| lines.push(line)).expect("demo");
    let text = lines.join("\n");

    // The chain, in order: each step caused by the one before it.
    let expected = [
        "ipconfigd  IOKit watch on class \"em\" (arrive, depart): 0 present",
        "registry   device_attach em",
        "ipconfigd  ← IOKit: arrive id",
        "binds em0 = 10.0.2.15",
        "ipconfigd  → configd: set State:/Network/Interface/em0/IPv4",
        "app        ← SCNotify: changed [\"State:/Network/Interface/em0/IPv4\"]",
        "app        → ipconfigd: if_addr(em0) = 10.0.2.15 (status ipconfig_status_success_e), if_count = 1",
        "binds em1 = 10.0.2.16",
        "if_addr(em1) = 10.0.2.16 (status ipconfig_status_success_e), if_count = 2",
        "registry   device_detach",
        "ipconfigd  ← IOKit: depart id",
        "ipconfigd  → configd: remove State:/Network/Interface/em0/IPv4",
        "if_addr(em0) = 0.0.0.0 (status ipconfig_status_no_server_e), if_count = 1",
        "all three consumers stopped",
        "kernel     every port, right, message, kqueue and knote of the demo is gone",
    ];
    let mut from = 0;
    for step in expected {
        let at = text[from..]
            .find(step)
            .unwrap_or_else(|| panic!("missing or out of order: {step}\n---\n{text}"));
        from += at + step.len();
    }
    kernel.assert_no_leaks();
}
