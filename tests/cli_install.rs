//! What an installed popview prints about itself, from the real binary in a
//! fresh HOME with no config: completion scripts for bash, zsh and fish and
//! the man page name every subcommand and option of the parser itself
//! (`Cli::command()`), so a new one that they miss fails here; `--version`
//! names the build.

mod support;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use popview::cli::Cli;
use support::cli::*;

/// Every subcommand's name, from the parser.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for want in [
        "list",
        "show",
        "delete",
        "serverinfo",
        "completions",
        "manpage",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    names
}

/// Every long option of the top-level command (the global ones included),
/// from the parser, built as it parses (so `--help` and `--version` too).
fn top_level_longs() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let longs: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect();
    for want in ["--account", "--demo", "--version", "--help"] {
        assert!(longs.iter().any(|l| l == want), "{want} in {longs:?}");
    }
    longs
}

/// Each subcommand's own long options (`--json`, `--raw`, `--dry-run`).
fn subcommand_longs() -> Vec<String> {
    let longs: Vec<String> = Cli::command()
        .get_subcommands()
        .flat_map(|s| {
            s.get_arguments()
                .filter_map(|a| a.get_long())
                .map(|l| format!("--{l}"))
                .collect::<Vec<_>>()
        })
        .collect();
    for want in ["--json", "--raw", "--dry-run"] {
        assert!(longs.iter().any(|l| l == want), "{want} in {longs:?}");
    }
    longs
}

fn completions(shell: &str) -> String {
    let r = Sandbox::new().run(&["completions", shell], &[]).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let out = r.out();
    assert!(out.len() > 200, "{shell}: {out:?}");
    out
}

#[test]
fn completions_name_every_subcommand_and_option_in_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = completions(shell);
        for name in subcommands() {
            assert!(script.contains(&name), "{shell} completes no {name}");
        }
        for long in top_level_longs().iter().chain(&subcommand_longs()) {
            // fish names options without their dashes: `-l dry-run`.
            let bare = long.trim_start_matches('-');
            let found = match shell {
                "fish" => script.contains(&format!("-l {bare}")),
                _ => script.contains(long.as_str()),
            };
            assert!(found, "{shell} completes no {long}");
        }
    }
}

#[test]
fn completions_are_each_shells_own_script() {
    assert!(completions("bash").contains("complete -F _popview"));
    assert!(completions("zsh").starts_with("#compdef popview"));
    assert!(completions("fish").contains("complete -c popview"));
}

#[test]
fn bash_accepts_the_bash_completions() {
    let sb = Sandbox::new();
    let path = sb.home().join("popview.bash");
    std::fs::write(&path, completions("bash")).unwrap();
    let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sourced, it registers the function for popview.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p popview", path.display()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("_popview"), "{said}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let r = Sandbox::new()
        .run(&["completions", "powershell"], &[])
        .code(2);
    assert!(r.stdout.is_empty());
    for shell in ["bash", "zsh", "fish"] {
        assert!(r.stderr.contains(shell), "{}", r.stderr);
    }
}

#[test]
fn man_page_documents_every_subcommand_and_option() {
    let r = Sandbox::new().run(&["manpage"], &[]).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let page = r.out();
    assert!(
        page.lines().any(|l| l.starts_with(".TH popview 1 ")),
        "{page}"
    );
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "VERSION"] {
        assert!(page.contains(&format!(".SH {section}")), "no {section}");
    }
    // roff writes a dash as `\-`.
    let roff = |s: &str| s.replace('-', "\\-");
    for name in subcommands() {
        assert!(
            page.contains(&format!("popview {name}")),
            "the man page has no `popview {name}`"
        );
    }
    for long in top_level_longs().iter().chain(&subcommand_longs()) {
        assert!(page.contains(&roff(long)), "the man page has no {long}");
    }
    // One page, no pointers to per-command pages that are never installed.
    assert!(!page.contains("popview\\-list(1)"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn version_names_the_crate_version_and_the_commit() {
    let r = Sandbox::new().run(&["--version"], &[]).ok();
    let line = r.out();
    let line = line.trim_end();
    let prefix = format!("popview {} (", env!("CARGO_PKG_VERSION"));
    let build = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}: not `{prefix}BUILD)`"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !manifest.join(".git").exists() {
        assert_eq!(build, "unknown commit");
        return;
    }
    // Built from a checkout: the short commit and its date.
    let (commit, date) = build
        .split_once(' ')
        .unwrap_or_else(|| panic!("{build:?}: not `COMMIT DATE`"));
    assert!(
        commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{commit:?}"
    );
    let d: Vec<&str> = date.split('-').collect();
    assert!(
        d.len() == 3 && [4, 2, 2] == [d[0].len(), d[1].len(), d[2].len()],
        "{date:?}"
    );
    let head = Command::new("git")
        .arg("-C")
        .arg(manifest)
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git, which built this checkout's version");
    let head = String::from_utf8_lossy(&head.stdout);
    assert!(head.starts_with(commit), "built {commit}, HEAD is {head}");
}
