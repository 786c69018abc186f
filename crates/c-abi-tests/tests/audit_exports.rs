//! Audit: no exported C function can let a panic cross the C boundary (where it aborts the host
//! process). Every `#[no_mangle] extern "C" fn` in the workspace's sources runs its body under a
//! `catch_unwind` guard: the body calls one of the guard helpers (each crate's `guard` /
//! `guard_errno`, `catch_unwind`, or mach-sim's `port_call` / `port_query` / `with_service` /
//! `with_port_out` / `stats`, which wrap `guard`), except the few listed in `TRIVIAL`, whose
//! bodies cannot panic. `mach-sim/tests/ffi_guard.rs` checks that a guard does turn a panic into
//! the documented error code.

use std::path::{Path, PathBuf};

use c_abi_tests::workspace_root;

/// Calls that run their closure under `catch_unwind`.
const GUARDS: &[&str] = &[
    "guard(",
    "guard_errno(",
    "catch_unwind(",
    "port_call(",
    "port_query(",
    "with_service(",
    "with_port_out(",
    "stats()",
];

/// Exports without a guard, and why none is needed.
const TRIVIAL: &[(&str, &str)] = &[("mig_put_reply_port", "its body is `let _ = reply_port;`")];

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `(function name, body)` of every `#[no_mangle]` function in `source`.
fn exports(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("#[no_mangle]") {
        rest = &rest[at + "#[no_mangle]".len()..];
        // The next item: a function (statics such as `NDR_record` are skipped).
        let item_end = rest.find(['{', ';']).unwrap_or(rest.len());
        let item = &rest[..item_end];
        let Some(fn_at) = item.find("fn ") else {
            continue;
        };
        if !item[..fn_at].contains("extern \"C\"") {
            continue;
        }
        let name: String = item[fn_at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0usize;
        let mut end = item_end;
        for (i, c) in rest[item_end..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = item_end + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push((name, rest[item_end..end].to_owned()));
    }
    found
}

#[test]
fn every_export_runs_under_a_panic_guard() {
    let mut sources = Vec::new();
    let crates = workspace_root().join("crates");
    for entry in std::fs::read_dir(&crates).expect("read crates/") {
        rust_sources(
            &entry.expect("directory entry").path().join("src"),
            &mut sources,
        );
    }
    sources.sort();
    let mut checked = Vec::new();
    let mut unguarded = Vec::new();
    for path in &sources {
        let text = std::fs::read_to_string(path).expect("read a source file");
        for (name, body) in exports(&text) {
            let guarded = GUARDS.iter().any(|g| body.contains(g));
            if !guarded && !TRIVIAL.iter().any(|(n, _)| *n == name) {
                unguarded.push(format!("{name} ({})", path.display()));
            }
            checked.push(name);
        }
    }
    // The scan found the exports it is meant to check (it would pass vacuously otherwise).
    for expected in [
        "mach_msg",
        "mach_sim_kevent",
        "bootstrap_look_up",
        "SCDynamicStoreSetDispatchQueue",
        "scnotify_configd_start",
        "IOServiceAddMatchingNotification",
        "iokit_sim_ioctl",
        "mach_service_start",
    ] {
        assert!(
            checked.iter().any(|n| n == expected),
            "{expected} not found by the scan ({} exports found)",
            checked.len()
        );
    }
    assert!(
        unguarded.is_empty(),
        "exports without a catch_unwind guard:\n{}",
        unguarded.join("\n")
    );
}

#[test]
fn the_scan_sees_an_unguarded_export() {
    let source = "#[no_mangle]\npub extern \"C\" fn f(x: u32) -> u32 {\n    x.checked_add(1).unwrap()\n}\n\
                  #[no_mangle]\npub static S: u32 = 0;\n\
                  #[no_mangle]\npub unsafe extern \"C\" fn g() -> i32 {\n    guard(-1, || { 0 })\n}\n";
    let found = exports(source);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "f");
    assert!(!GUARDS.iter().any(|g| found[0].1.contains(g)));
    assert_eq!(found[1].0, "g");
    assert!(GUARDS.iter().any(|g| found[1].1.contains(g)));
}
