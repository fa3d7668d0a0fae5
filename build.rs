//! Generates the C header `smb_handles.h` into `OUT_DIR` with the cbindgen
//! version pinned in Cargo.toml.
//!
//! The committed `include/smb_handles.h` is never rewritten here: the test
//! `header_matches_generated` (tests/c_abi.rs) compares it with this output
//! and fails on any difference, so CI catches a header that drifted from the
//! code. To update the committed header on purpose, run
//! `SMBH_BLESS_HEADER=1 cargo test --test c_abi header_matches_generated`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("smb_handles.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    // `with_src` parses src/lib.rs and the modules it declares, without
    // running `cargo metadata` (which would need the network or a lock).
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src").join("lib.rs"))
        .generate()
        .expect("cbindgen generates the C header from src/ffi/");
    bindings.write_to_file(&out);
}
