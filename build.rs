//! Embeds the demo mailbox (`assets/demo/*.eml`) into the binary.
//!
//! Writes `$OUT_DIR/demo_assets.rs`: a table of `(file name, include_bytes!)`
//! sorted by file name, which `src/demo/mailbox.rs` includes. The file order
//! is the maildrop order of `popview --demo`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/demo");

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = manifest_dir.join("assets").join("demo");
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            (name.ends_with(".eml") && path.is_file()).then_some((name, path))
        })
        .collect();
    files.sort();

    let mut out = String::from(
        "/// `(file name, bytes)` of every `assets/demo/*.eml`, sorted by file name.\n\
         pub(crate) static DEMO_ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        let path = path.to_str().expect("asset paths are UTF-8");
        writeln!(out, "    ({name:?}, include_bytes!({path:?})),").expect("write to String");
    }
    out.push_str("];\n");

    let out_path =
        PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("demo_assets.rs");
    fs::write(&out_path, out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out_path.display()));
}
