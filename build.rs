//! Embeds the demo mailbox (`assets/demo/*.eml`) into the binary, and names
//! the build for `--version`.
//!
//! Writes `$OUT_DIR/demo_assets.rs`: a table of `(file name, include_bytes!)`
//! sorted by file name, which `src/demo/mailbox.rs` includes. The file order
//! is the maildrop order of `popview --demo`.
//!
//! Sets `POPVIEW_BUILD` to the commit and its date (`abc1234 2026-12-03`)
//! when built from a git checkout of this crate, else `unknown commit`;
//! a missing `git` never fails the build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/demo");

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let build = git_build(&manifest_dir).unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=POPVIEW_BUILD={build}");

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

/// `git` run in `dir`: its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// `abc1234 2026-12-03` (short commit, commit date) when `dir` is the top of
/// a git work tree (not a crate unpacked inside some other repository); asks
/// cargo to run this again when HEAD moves.
fn git_build(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    if fs::canonicalize(top).ok()? != fs::canonicalize(dir).ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short", "HEAD"])?;
    let date = git(dir, &["show", "-s", "--format=%cd", "--date=short", "HEAD"])?;
    // HEAD lives in the work tree's git dir, the branch it names in the
    // common one (a linked worktree has both); only existing paths are
    // named, as a missing one would rerun this on every build.
    let git_dir = git(dir, &["rev-parse", "--absolute-git-dir"]).map(PathBuf::from);
    let common = git(dir, &["rev-parse", "--git-common-dir"]).map(|c| dir.join(c));
    let head_ref = git(dir, &["rev-parse", "--symbolic-full-name", "HEAD"]);
    let mut watch: Vec<PathBuf> = Vec::new();
    if let Some(g) = &git_dir {
        watch.push(g.join("HEAD"));
    }
    if let Some(c) = &common {
        watch.push(c.join("packed-refs"));
        if let Some(r) = head_ref.as_deref().filter(|r| r.starts_with("refs/")) {
            watch.push(c.join(r));
        }
    }
    for p in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    Some(format!("{commit} {date}"))
}
