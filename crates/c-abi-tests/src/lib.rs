//! Harness for the workspace's C ABI tests.
//!
//! C programs under `tests/c/` are compiled with the system C compiler against a crate's headers,
//! linked with that crate's Rust static library, run, and their output and exit status asserted.
//! The integration tests of this crate do it for `mach-sim` (the libmach C ABI of the simulated
//! kernel); consumer crates (scnotify, iokit-notify, ipconfig-rpc) reuse the same functions from
//! their own tests by adding this crate as a dev-dependency:
//!
//! ```no_run
//! use c_abi_tests::{build_staticlib, compile_and_run, include_dir, workspace_root};
//!
//! let lib = build_staticlib("mach-sim");
//! let source = workspace_root().join("tests/c/mach_sim/request_reply.c");
//! let output = compile_and_run(&[source.as_path()], &[include_dir("mach-sim").as_path()], &lib);
//! c_abi_tests::assert_passed(&output, "mach-sim C ABI");
//! ```
//!
//! # Finding the static library
//! [`build_staticlib`] runs `$CARGO build -p <crate> --lib --message-format=json` with its own
//! target directory, `<target>/c-abi` (where `<target>` is the directory of the running test
//! binary's profile directory, found through [`std::env::current_exe`]), and takes the `.a` path
//! from cargo's `compiler-artifact` message. A separate target directory matters: the outer
//! `cargo test` may hold its own build directory's lock while tests run, so building there from a
//! test could deadlock. `$CARGO` is the cargo that runs the test (falling back to the one that
//! compiled this crate, then `cargo`), so the same toolchain builds both. Cargo is incremental,
//! so after the first build this costs a fraction of a second; results are cached per process.
//!
//! # Compiling
//! [`compile`] runs `$CC` (default `cc`) with `-std=c11 -Wall -Wextra -Werror -g`, the include
//! directories, the sources, the static library and `-lpthread -ldl -lm`.
//!
//! # Generated headers
//! [`check_header`] regenerates a cbindgen header into a string and compares it with the
//! checked-in file, rewriting the file instead when `UPDATE_HEADERS=1`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a C program may run before [`run`] kills it (override with
/// `C_ABI_TEST_TIMEOUT_SECS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Libraries a C program needs besides a Rust static library (the Rust standard library's
/// dependencies on Linux; glibc ≥ 2.34 has `rt` and `util` in libc).
pub const SYSTEM_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

/// Compiler flags every C program is compiled with.
pub const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"];

/// The workspace root (the directory of the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("crates/c-abi-tests lives two levels below the workspace root")
        .to_path_buf()
}

/// The checked-in C header directory of a workspace crate: `crates/<crate_name>/include`.
pub fn include_dir(crate_name: &str) -> PathBuf {
    workspace_root()
        .join("crates")
        .join(crate_name)
        .join("include")
}

/// The harness's own directory inside the cargo target directory, `<target>/c-abi`
/// (override with `C_ABI_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("C_ABI_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // A test binary lives in <target>/<profile>/deps/ (or <target>/<triple>/<profile>/deps/).
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .or_else(|| exe.parent())
        .expect("test binary has a parent directory");
    profile_dir.parent().unwrap_or(profile_dir).join("c-abi")
}

/// The cargo executable to use for nested builds.
fn cargo() -> OsString {
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| OsString::from("cargo"))
}

/// Builds the static library of workspace crate `crate_name` (which must declare
/// `crate-type = ["staticlib", ...]`) in [`target_dir`] and returns the path of the `.a`.
///
/// Panics with cargo's output if the build fails.
pub fn build_staticlib(crate_name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Holding the lock serialises builds in this process (cargo would serialise them anyway).
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(crate_name) {
        return path.clone();
    }
    let root = workspace_root();
    let output = Command::new(cargo())
        .arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args([
            "-p",
            crate_name,
            "--lib",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--target-dir")
        .arg(target_dir())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("spawn cargo build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo build -p {crate_name} --lib failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let path = staticlib_from_messages(&stdout, crate_name).unwrap_or_else(|| {
        panic!(
            "cargo built {crate_name} but reported no static library (is crate-type \
             \"staticlib\" declared?)\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    built.insert(crate_name.to_owned(), path.clone());
    path
}

/// Finds the `.a` of `crate_name` in cargo's JSON messages.
fn staticlib_from_messages(messages: &str, crate_name: &str) -> Option<PathBuf> {
    let lib_name = format!("lib{}.a", crate_name.replace('-', "_"));
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| m["filenames"].as_array().cloned())
        .flatten()
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|p| p.file_name().is_some_and(|n| n == lib_name.as_str()))
}

/// Compiles `sources` with [`C_FLAGS`] and `-I` for each of `include_dirs`, links them with
/// `staticlib` and [`SYSTEM_LIBS`], and returns the executable's path (in [`target_dir`]`/bin`).
///
/// Panics with the compiler's output if compiling or linking fails.
pub fn compile(sources: &[&Path], include_dirs: &[&Path], staticlib: &Path) -> PathBuf {
    compile_with(sources, include_dirs, staticlib, &[])
}

/// [`compile`] with extra compiler arguments (e.g. `-DNAME=value`).
pub fn compile_with(
    sources: &[&Path],
    include_dirs: &[&Path],
    staticlib: &Path,
    extra_args: &[&str],
) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let stem = sources
        .first()
        .and_then(|s| s.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let bin_dir = target_dir().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("create the C test binary directory");
    let exe = bin_dir.join(format!(
        "{stem}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    let mut cmd = Command::new(&cc);
    cmd.args(C_FLAGS);
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    cmd.args(extra_args)
        .args(sources)
        .arg("-o")
        .arg(&exe)
        .arg(staticlib)
        .args(SYSTEM_LIBS);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "C compilation failed ({}): {cmd:?}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Compiles one source file to an object (nothing is linked) with `compiler` (`"cc"` reads
/// `$CC`, `"c++"` reads `$CXX`), the given flags, `-I` for each of `include_dirs` and
/// `extra_args`. Returns the compiler's output: the caller asserts success or failure (a header
/// test checks both, to prove that the check can fail).
pub fn compile_object(
    compiler: &str,
    flags: &[&str],
    source: &Path,
    include_dirs: &[&Path],
    extra_args: &[&str],
) -> Output {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let obj_dir = target_dir().join("obj");
    std::fs::create_dir_all(&obj_dir).expect("create the C object directory");
    let object = obj_dir.join(format!(
        "{}-{}-{}.o",
        source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let program = match compiler {
        "c++" => std::env::var_os("CXX").unwrap_or_else(|| OsString::from("c++")),
        _ => std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc")),
    };
    let mut cmd = Command::new(&program);
    cmd.args(flags);
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    let output = cmd
        .args(extra_args)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&object)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn the compiler {program:?}: {e}"));
    let _ = std::fs::remove_file(&object);
    output
}

/// Runs `exe` with `args`, capturing its output; kills it after `timeout`
/// (`C_ABI_TEST_TIMEOUT_SECS` overrides it), in which case the status is the kill's.
pub fn run(exe: &Path, args: &[&str], timeout: Duration) -> Output {
    let timeout = std::env::var("C_ABI_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(timeout);
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the C program") {
            break status;
        }
        if Instant::now() >= deadline {
            eprintln!("{} ran longer than {timeout:?}: killed", exe.display());
            let _ = child.kill();
            break child.wait().expect("wait for the killed C program");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// [`compile`] then [`run`] with no arguments and [`DEFAULT_TIMEOUT`].
pub fn compile_and_run(sources: &[&Path], include_dirs: &[&Path], staticlib: &Path) -> Output {
    let exe = compile(sources, include_dirs, staticlib);
    run(&exe, &[], DEFAULT_TIMEOUT)
}

/// Asserts that a C test program exited with status 0 and that its output has a summary line
/// `"<label>: N passed, 0 failed"` with N > 0. Prints the program's output either way.
pub fn assert_passed(output: &Output, label: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "C program failed: {}",
        output.status
    );
    let prefix = format!("{label}: ");
    let summary = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .next_back()
        .unwrap_or_else(|| panic!("no \"{prefix}N passed, N failed\" line in the output"));
    let counts: Vec<u64> = summary
        .split(',')
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        matches!(counts.as_slice(), [passed, 0, ..] if *passed > 0),
        "unexpected summary: {summary}"
    );
}

/// Regenerates a cbindgen header and compares it with the checked-in `header`; with
/// `UPDATE_HEADERS=1` in the environment it rewrites `header` instead. `config` is the crate's
/// `cbindgen.toml`, `sources` the Rust files to parse (they are parsed as standalone files, so
/// every type the header needs must be defined in one of them or renamed in the config).
///
/// Panics when the header is stale, with the first differing line.
pub fn check_header(config: &Path, sources: &[&Path], header: &Path) {
    let config = cbindgen::Config::from_file(config)
        .unwrap_or_else(|e| panic!("read {}: {e}", config.display()));
    let mut builder = cbindgen::Builder::new().with_config(config);
    for source in sources {
        builder = builder.with_src(source);
    }
    let bindings = builder
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("cbindgen wrote UTF-8");
    if std::env::var_os("UPDATE_HEADERS").is_some_and(|v| v == "1") {
        if let Some(dir) = header.parent() {
            std::fs::create_dir_all(dir).expect("create the header directory");
        }
        std::fs::write(header, &generated)
            .unwrap_or_else(|e| panic!("write {}: {e}", header.display()));
        return;
    }
    let checked_in = std::fs::read_to_string(header).unwrap_or_default();
    if checked_in != generated {
        let first_difference = checked_in
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  checked in: {a}\n  generated:  {b}", i + 1))
            .unwrap_or_else(|| "one file is a prefix of the other".into());
        panic!(
            "{} is stale ({first_difference}).\nRegenerate it with \
             `UPDATE_HEADERS=1 cargo test -p c-abi-tests --test headers` and commit it.",
            header.display()
        );
    }
}
