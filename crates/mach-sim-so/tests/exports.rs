//! The export lists of Stage 4 (`scripts/stage4-exports`, docs/stage4-linking.md §2.1) name
//! exactly the C ABI the Rust code defines.
//!
//! `stage4-exports` reads the C headers to build each library's version script and `-u` list,
//! and `stage4-demo` checks the linked libraries against the same headers, so a header the parser
//! misreads (a declaration it skips, a typedef it takes for a function) would go unnoticed by
//! both. This test compares what the parser finds in each header with the `#[no_mangle]` items
//! of the Rust sources that header is generated from (or, for the hand-written libmach headers,
//! implemented by): a missing name would not be exported, an extra one would fail the link.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use c_abi_tests::workspace_root;

/// Names `scripts/stage4-exports --names` finds in `headers`.
fn header_names(headers: &[&str]) -> BTreeSet<String> {
    let root = workspace_root();
    let output = Command::new("python3")
        .arg(root.join("scripts/stage4-exports"))
        .arg("--names")
        .args(headers.iter().map(|h| root.join(h)))
        .output()
        .expect("run python3 scripts/stage4-exports (python3 is required, as for check-doc-refs)");
    assert!(
        output.status.success(),
        "stage4-exports --names {headers:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Names of the `#[no_mangle]` functions and statics in `sources`.
fn no_mangle_names(sources: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for source in sources {
        let path = workspace_root().join(source);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", Path::new(source).display()));
        let mut pending = false;
        for line in text.lines().map(str::trim) {
            if line == "#[no_mangle]" {
                pending = true;
                continue;
            }
            if !pending || line.starts_with("#[") || line.starts_with("//") {
                continue;
            }
            let item = line
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .skip_while(|w| !matches!(*w, "fn" | "static"))
                .filter(|w| !w.is_empty())
                .nth(1)
                .unwrap_or_else(|| panic!("{source}: no item after #[no_mangle]: {line}"));
            names.insert(item.to_owned());
            pending = false;
        }
    }
    names
}

fn assert_same(what: &str, headers: &[&str], sources: &[&str]) {
    let from_headers = header_names(headers);
    let from_sources = no_mangle_names(sources);
    assert!(
        !from_sources.is_empty(),
        "{what}: no #[no_mangle] item found"
    );
    assert_eq!(
        from_headers, from_sources,
        "{what}: the names stage4-exports reads from {headers:?} differ from the #[no_mangle] \
         items of {sources:?}"
    );
}

#[test]
fn consumer_headers_name_their_whole_c_abi() {
    assert_same(
        "scnotify",
        &["crates/scnotify/include/scnotify.h"],
        &["crates/scnotify/src/ffi/mod.rs"],
    );
    assert_same(
        "iokit-notify",
        &["crates/iokit-notify/include/IOKitNotify.h"],
        &["crates/iokit-notify/src/ffi/mod.rs"],
    );
    assert_same(
        "ipconfig-rpc",
        &["crates/ipconfig-rpc/include/ipconfig_rpc.h"],
        &["crates/ipconfig-rpc/src/ffi/mod.rs"],
    );
}

#[test]
fn kernel_library_headers_name_the_simulated_libmach() {
    // The headers scripts/stage4-demo exports from libmach_sim.so.
    assert_same(
        "libmach_sim.so",
        &[
            "crates/mach-sim/include/mach/mach.h",
            "crates/mach-sim/include/mach/mach_init.h",
            "crates/mach-sim/include/mach/mach_port.h",
            "crates/mach-sim/include/mach/mach_traps.h",
            "crates/mach-sim/include/mach/message.h",
            "crates/mach-sim/include/mach/mig.h",
            "crates/mach-sim/include/mach/mig_errors.h",
            "crates/mach-sim/include/mach/ndr.h",
            "crates/mach-sim/include/servers/bootstrap.h",
            "crates/mach-sim/include/mach_sim.h",
            "crates/mach-sim-so/include/mach_sim_so.h",
        ],
        &[
            "crates/mach-sim/src/ffi/libmach.rs",
            "crates/mach-sim/src/ffi/bootstrap.rs",
            "crates/mach-sim/src/ffi/sim.rs",
            "crates/mach-sim-so/src/imp.rs",
        ],
    );
}
