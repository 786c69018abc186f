//! Installed C headers: `<mach_sim.h>` is fresh (equals what cbindgen generates now from
//! `crates/mach-sim/src/ffi/sim.rs` and `crates/mach-abi/src/kevent.rs`); every header under
//! `crates/*/include` compiles on its own as C and C++ with `-Werror`; `<IOKitNotify.h>` can be
//! included in one file with the system's `<IOKit/IOKitLib.h>`.
//!
//! Regenerate with `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test headers`.

use std::path::{Path, PathBuf};

use c_abi_tests::{check_header, compile_object, include_dir, workspace_root};

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

/// Every header under `crates/*/include`, relative to its include directory, with the include
/// directories it needs besides its own: the simulated kernel's `<mach/*.h>`, and for
/// `<scnotify.h>` the host library's headers (CoreFoundation, libdispatch, SystemConfiguration),
/// which the C tests' stand-ins under `tests/c/scnotify/include` provide.
fn installed_headers() -> Vec<(PathBuf, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "h") {
                out.push(path);
            }
        }
    }
    let mut headers = Vec::new();
    let crates = workspace_root().join("crates");
    let mut dirs: Vec<_> = std::fs::read_dir(&crates)
        .expect("read crates/")
        .map(|e| e.expect("directory entry").path().join("include"))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    for include in dirs {
        let mut found = Vec::new();
        walk(&include, &mut found);
        headers.extend(found.into_iter().map(|h| (include.clone(), h)));
    }
    headers
}

/// Each installed header compiles on its own, first thing in a file, as C11 and as C++17 with
/// every warning an error: it includes what it uses and nothing in it warns.
#[test]
fn every_installed_header_compiles_alone() {
    let root = workspace_root();
    let headers = installed_headers();
    let names: Vec<String> = headers
        .iter()
        .map(|(inc, h)| h.strip_prefix(inc).unwrap().display().to_string())
        .collect();
    for expected in [
        "mach/mach.h",
        "mach_sim.h",
        "IOKitNotify.h",
        "iokit_sim.h",
        "scnotify.h",
        "ipconfig_rpc.h",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found among the installed headers {names:?}"
        );
    }
    let dir = c_abi_tests::target_dir().join("obj/headers-alone");
    std::fs::create_dir_all(&dir).expect("create the generated source directory");
    let mach_sim = include_dir("mach-sim");
    let host = root.join("tests/c/scnotify/include");
    let mut failures = Vec::new();
    for ((include, header), name) in headers.iter().zip(&names) {
        let stem = name.replace(['/', '.'], "_");
        for (compiler, ext, flags) in [
            ("cc", "c", c_abi_tests::C_FLAGS),
            (
                "c++",
                "cc",
                &["-std=c++17", "-Wall", "-Wextra", "-Werror"][..],
            ),
        ] {
            let source = dir.join(format!("{stem}.{ext}"));
            std::fs::write(&source, format!("#include <{name}>\n"))
                .expect("write the generated source");
            let output = compile_object(
                compiler,
                flags,
                &source,
                &[include.as_path(), mach_sim.as_path(), host.as_path()],
                &[],
            );
            if !output.status.success() {
                failures.push(format!(
                    "{} ({compiler}):\n{}",
                    header.display(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} header compilation(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `<IOKitNotify.h>` compiles with `-Wall -Wextra -Werror` in one file with IOKitLib.h-style
/// declarations (tests/c/headers/iokitlib_style.h, written from the public facts): no macro
/// redefinition, no `-Warray-parameter` mismatch on `IOServiceAddMatchingNotification`, no
/// conflicting typedef, in either include order (IOKitNotify.h first needs
/// `IOKIT_NOTIFY_IOKITLIB_PROTOTYPE`, as its header comment says).
#[test]
fn iokit_notify_h_coexists_with_iokitlib_h() {
    let root = workspace_root();
    let source = root.join("tests/c/headers/iokitlib_coexist.c");
    let dirs = [
        include_dir("iokit-notify"),
        include_dir("mach-sim"),
        root.join("tests/c/headers"),
    ];
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    for defines in [
        &["-DIOKITLIB_FIRST", "-DIOKITLIB_EXPR_CODES"][..],
        &["-DIOKITLIB_FIRST"][..],
        &["-DIOKIT_NOTIFY_IOKITLIB_PROTOTYPE"][..],
    ] {
        let output = compile_object("cc", c_abi_tests::C_FLAGS, &source, &dirs, defines);
        assert!(
            output.status.success(),
            "IOKitNotify.h with IOKitLib.h ({defines:?}) does not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
