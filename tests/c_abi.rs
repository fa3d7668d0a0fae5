//! The C ABI from C: checks that `include/smb_handles.h` is what cbindgen
//! makes of the code, that it compiles as C11 and C++17 (twice in one
//! translation unit) without warnings, and builds and runs the C tests of
//! `tests/c/` and the example of `examples/c/` against both the static and
//! the shared library, under AddressSanitizer and UndefinedBehaviorSanitizer.
//!
//! `cargo test` builds `libsmb_handles.a` and `libsmb_handles.so` (the
//! crate's `staticlib` and `cdylib` targets) next to `target/<profile>/deps`,
//! where these tests find them. Needs a C and a C++ compiler (`$CC`/`$CXX`,
//! else `cc`/`c++`); `scripts/test.sh` installs them.

#![cfg(target_os = "linux")]

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What cbindgen generated from the code in this build (see build.rs).
const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/smb_handles.h"));

const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];
const SANITIZERS: &[&str] = &["-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
/// The system libraries a Rust static library needs on Linux.
const STATIC_DEPS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt"];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the crate's static and shared libraries are: `cargo test` builds
/// them into `target/<profile>/deps/` (this test binary's folder) without
/// copying them up; `cargo build` puts them in `target/<profile>/`.
fn lib_dir() -> PathBuf {
    let exe = env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("deps folder");
    let has_libs =
        |d: &Path| d.join("libsmb_handles.a").is_file() && d.join("libsmb_handles.so").is_file();
    if has_libs(deps) {
        return deps.to_path_buf();
    }
    let profile = deps.parent().expect("target/<profile> folder");
    assert!(
        has_libs(profile),
        "libsmb_handles.a and libsmb_handles.so are in neither {} nor {}: they come from the \
         crate's `staticlib` and `cdylib` targets, which `cargo test` builds",
        deps.display(),
        profile.display()
    );
    profile.to_path_buf()
}

fn static_lib() -> PathBuf {
    lib_dir().join("libsmb_handles.a")
}

/// A fresh folder for one test's binaries.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_abi").join(name);
    fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

fn tool(var: &str, default: &str) -> String {
    env::var(var).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_string())
}

/// Runs a command and panics with everything it printed unless it succeeds.
fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

/// Compiles one C source of the repo into `dir` and returns the binary.
fn build_c(source: &str, dir: &Path, link: Link) -> PathBuf {
    let root = manifest_dir();
    let stem = Path::new(source).file_stem().unwrap().to_string_lossy().into_owned();
    let exe = dir.join(format!("{stem}-{link:?}").to_lowercase());
    let mut cmd = Command::new(tool("CC", "cc"));
    cmd.arg("-std=c11")
        .args(WARNINGS)
        .args(SANITIZERS)
        .args(["-g", "-O1", "-fno-omit-frame-pointer", "-pthread"])
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/c"))
        .arg(root.join(source))
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(static_lib()).args(STATIC_DEPS);
        }
        Link::Shared => {
            let dir = lib_dir();
            cmd.arg("-L")
                .arg(&dir)
                .arg("-lsmb_handles")
                .arg(format!("-Wl,-rpath,{}", dir.display()));
        }
    }
    run(&mut cmd, &format!("compiling {source} ({link:?})"));
    exe
}

/// Runs a sanitized binary; any sanitizer report or failed check fails it.
fn run_sanitized(exe: &Path) -> String {
    let out = run(
        Command::new(exe)
            .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .env("LSAN_OPTIONS", "report_objects=1")
            // The shared library this build made, not another build's
            // (cargo's own LD_LIBRARY_PATH would come before the rpath).
            .env("LD_LIBRARY_PATH", lib_dir()),
        &format!("running {}", exe.display()),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn header_matches_generated() {
    let path = manifest_dir().join("include/smb_handles.h");
    if env::var_os("SMBH_BLESS_HEADER").is_some() {
        fs::write(&path, GENERATED_HEADER).expect("write include/smb_handles.h");
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed != GENERATED_HEADER {
        let line = committed
            .lines()
            .zip(GENERATED_HEADER.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
        panic!(
            "include/smb_handles.h differs from what cbindgen generates from src/ffi/ (first \
             difference at {line}).\nRegenerate it with:\n    \
             SMBH_BLESS_HEADER=1 cargo test --test c_abi header_matches_generated\nand commit it."
        );
    }
}

#[test]
fn header_compiles_as_c11_and_cpp17_twice_in_one_unit() {
    let root = manifest_dir();
    let dir = out_dir("header");
    let src = root.join("tests/c/header_twice.c");
    let include = root.join("include");
    let c_exe = dir.join("header_twice_c");
    run(
        Command::new(tool("CC", "cc"))
            .arg("-std=c11")
            .args(WARNINGS)
            .arg("-I")
            .arg(&include)
            .arg(&src)
            .arg(static_lib())
            .args(STATIC_DEPS)
            .arg("-o")
            .arg(&c_exe),
        "compiling the header as C11",
    );
    run(&mut Command::new(&c_exe), "running the C11 header check");
    let cpp_exe = dir.join("header_twice_cpp");
    run(
        Command::new(tool("CXX", "c++"))
            .arg("-std=c++17")
            .args(WARNINGS)
            .arg("-I")
            .arg(&include)
            .args(["-x", "c++"])
            .arg(&src)
            .args(["-x", "none"])
            .arg(static_lib())
            .args(STATIC_DEPS)
            .arg("-o")
            .arg(&cpp_exe),
        "compiling the header as C++17",
    );
    run(&mut Command::new(&cpp_exe), "running the C++17 header check");
}

fn c_tests(link: Link) {
    let dir = out_dir(&format!("{link:?}").to_lowercase());
    let mut tests = vec![
        ("tests/c/api_test.c", "api_test: ok"),
        ("tests/c/threads_test.c", "threads_test: ok"),
        ("tests/c/locks_test.c", "locks_test: ok"),
        ("tests/c/sessions_test.c", "sessions_test: ok"),
        ("tests/c/leases_test.c", "leases_test: ok"),
        ("tests/c/durable_test.c", "durable_test: ok"),
    ];
    // smbh_store_table_new is in a library built with the store feature
    // (scripts/test.sh tests with --all-features).
    if cfg!(feature = "store") {
        tests.push(("tests/c/store_test.c", "store_test: ok"));
    }
    for (source, banner) in tests {
        let exe = build_c(source, &dir, link);
        let stdout = run_sanitized(&exe);
        assert!(stdout.contains(banner), "{source} ({link:?}) did not finish: {stdout}");
    }
}

#[test]
fn c_tests_against_static_library_with_sanitizers() {
    c_tests(Link::Static);
}

#[test]
fn c_tests_against_shared_library_with_sanitizers() {
    c_tests(Link::Shared);
}

#[test]
fn c_example_builds_and_runs() {
    let dir = out_dir("example");
    let exe = build_c("examples/c/open_files.c", &dir, Link::Static);
    let stdout = run_sanitized(&exe);
    assert!(stdout.contains("\"file_handles\":["), "example printed no listing: {stdout}");
    assert!(stdout.contains("closed 2 of 2"), "example did not close its batch: {stdout}");
}
