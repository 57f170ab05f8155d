//! The command line: `popview [OPTIONS] [URL]` opens the TUI; `list`, `show`,
//! `delete`, `save` and `serverinfo` run without it; `completions`
//! and `manpage` print what [`crate::install`] derives from this [`Cli`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::install::Shell;

/// `--version`: the crate version and the build, `0.1.0 (abc1234 2026-12-03)`
/// from a git checkout, `0.1.0 (unknown commit)` otherwise (see `build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("POPVIEW_BUILD"), ")");

/// Exit codes, a contract for scripts.
pub mod exit {
    pub const OK: i32 = 0;
    /// Anything unexpected.
    pub const INTERNAL: i32 = 1;
    /// Bad command line or configuration.
    pub const USAGE: i32 = 2;
    /// The server refused the credentials.
    pub const AUTH: i32 = 3;
    /// Network, timeout or TLS/certificate failure.
    pub const NETWORK: i32 = 4;
    /// The server refused or failed (locked mailbox, no such message, ...).
    pub const SERVER: i32 = 5;
    /// `delete`: nothing was deleted (a mark or DELE refused, or the
    /// connection lost before QUIT).
    pub const NOT_DELETED: i32 = 6;
    /// `delete`: QUIT was sent but not confirmed (`-ERR`, or no answer):
    /// the server may or may not have deleted the messages.
    pub const UNKNOWN: i32 = 7;
    /// Another popview has this account open (`delete` refuses to run
    /// beside it; as fetchmail's 8, "another instance is running").
    pub const LOCKED: i32 = 8;
    /// `save`: some messages were not saved (each listed as "not saved";
    /// none of them was deleted).
    pub const NOT_SAVED: i32 = 9;
}

const AFTER_HELP: &str = "\
URL: pop3s://user@host[:port] (implicit TLS, port 995) or pop3://user@host[:port]
     (STLS required, port 110). Without a URL, the account from the config file.

Password, in order: --password-command, the account's password_command or
password_env, the POPVIEW_PASSWORD environment variable, else a prompt.

Exit codes: 0 success, 1 internal error, 2 usage or configuration error
(also: a message name that fits two messages), 3 authentication failed,
4 network/TLS error, 5 server error; for delete, 6 nothing was deleted
(a mark or DELE refused, the connection lost before QUIT), 7 unknown (QUIT
got no +OK: the server may or may not have deleted), 8 another popview
has the account open (nothing was deleted); for save, 9 some messages
were not saved. delete prints one line per message: deleted, not deleted
or unknown, then number and UIDL.

MSG: a number (3 or #3) or a UIDL (abc or uid:abc). A name that could mean
two different messages (a UIDL can look like a number) is refused.

PATTERN (list --match, delete --match): mutt's patterns, e.g. \"~f jenkins\",
\"~z >1M\", \"~d <30d ~s report\", \"lukasz\"; a bad pattern exits 2.

A scripting command gives up on an unreachable server after at most 3
attempts within 60 s (each bounded by the account's timeout_secs).

Try it without an account: popview --demo";

#[derive(Debug, Parser)]
#[command(
    name = "popview",
    version = VERSION,
    about = "A full-screen terminal reader for POP3 mailboxes",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// pop3s://user@host[:port] or pop3://user@host[:port]
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Common {
    /// Use this account from the config file.
    #[arg(long, global = true, value_name = "NAME")]
    pub account: Option<String>,
    /// Read the configuration from PATH instead of the default location.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Serve the built-in sample mailbox on 127.0.0.1 and open it.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Trust this CA or certificate (PEM) in addition to the system store.
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Run CMD to get the password (e.g. "pass show mail").
    #[arg(long, global = true, value_name = "CMD")]
    pub password_command: Option<String>,
    /// Write a wire trace (passwords redacted) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Write the worker's decisions (no secrets, no mail) to FILE; also POPVIEW_LOG=FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub debug_log: Option<PathBuf>,
    /// Neither read nor write the header cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// One line per message: number, UIDL, size, date, from, subject.
    List {
        /// One JSON object per line instead.
        #[arg(long)]
        json: bool,
        /// Only the messages this mutt pattern matches (e.g. "~f jenkins ~z >1M").
        #[arg(long = "match", value_name = "PATTERN")]
        pattern: Option<String>,
        #[arg(value_name = "URL")]
        url: Option<String>,
    },
    /// Print a message (MSG: 3, #3, a UIDL, or uid:UIDL).
    Show {
        #[arg(value_name = "MSG")]
        msg: String,
        /// The exact bytes the server sent.
        #[arg(long)]
        raw: bool,
        #[arg(value_name = "URL")]
        url: Option<String>,
    },
    /// Delete messages (numbers or UIDLs) and commit; "deleted" only when QUIT is confirmed.
    Delete {
        /// MSG... followed by an optional URL.
        #[arg(value_name = "MSG", required_unless_present = "pattern", num_args = 1..)]
        args: Vec<String>,
        /// Show what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete every message this mutt pattern matches, instead of MSG... (try --dry-run first).
        #[arg(long = "match", value_name = "PATTERN")]
        pattern: Option<String>,
    },
    /// Keep messages (all, or MSG...) in a Maildir or an mbox; --delete moves them.
    Save {
        /// MSG... (none: every message) followed by an optional URL.
        #[arg(value_name = "MSG")]
        args: Vec<String>,
        /// Deliver into this Maildir (cur/ new/ tmp/ are created if missing).
        #[arg(long, value_name = "DIR", conflicts_with = "mbox")]
        maildir: Option<PathBuf>,
        /// Append to this mbox (mboxrd, locked as mutt locks it).
        #[arg(long, value_name = "FILE")]
        mbox: Option<PathBuf>,
        /// Then delete from the server what was saved and checked.
        #[arg(long)]
        delete: bool,
    },
    /// Greeting, TLS, capabilities, implementation, login delay, expire policy.
    Serverinfo {
        #[arg(value_name = "URL")]
        url: Option<String>,
    },
    /// Print a completion script for SHELL (bash, zsh, fish); needs no account.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the man page (roff), popview.1; needs no account.
    Manpage,
    /// Get an OAuth2 refresh token for the account's [oauth2] table: prints a code to enter in a browser.
    Authorize,
}

impl Cli {
    /// The URL given anywhere on the command line.
    pub fn url(&self) -> Option<String> {
        let sub = match &self.command {
            Some(Cmd::List { url, .. } | Cmd::Show { url, .. } | Cmd::Serverinfo { url }) => {
                url.clone()
            }
            Some(Cmd::Delete { args, .. } | Cmd::Save { args, .. }) => {
                args.iter().find(|a| a.contains("://")).cloned()
            }
            Some(Cmd::Completions { .. } | Cmd::Manpage | Cmd::Authorize) | None => None,
        };
        sub.or_else(|| self.url.clone())
    }
}

/// `delete`'s (and `save`'s) message arguments, without the URL.
pub fn delete_targets(args: &[String]) -> Vec<String> {
    args.iter()
        .filter(|a| !a.contains("://"))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse() {
        let c = Cli::try_parse_from(["popview", "pop3s://me@host"]).unwrap();
        assert!(c.command.is_none());
        assert_eq!(c.url().as_deref(), Some("pop3s://me@host"));
        let c = Cli::try_parse_from(["popview", "list", "--json", "--demo"]).unwrap();
        assert!(matches!(c.command, Some(Cmd::List { json: true, .. })));
        assert!(c.common.demo);
        let c = Cli::try_parse_from(["popview", "delete", "1", "abc", "pop3://u@h", "--dry-run"])
            .unwrap();
        let Some(Cmd::Delete { args, dry_run, .. }) = &c.command else {
            panic!()
        };
        assert!(dry_run);
        assert_eq!(delete_targets(args), vec!["1", "abc"]);
        assert_eq!(c.url().as_deref(), Some("pop3://u@h"));
        let c = Cli::try_parse_from(["popview", "show", "3", "--raw", "--account", "w"]).unwrap();
        assert!(matches!(c.command, Some(Cmd::Show { raw: true, .. })));
        assert_eq!(c.common.account.as_deref(), Some("w"));
        assert!(Cli::try_parse_from(["popview", "delete"]).is_err());
        let c =
            Cli::try_parse_from(["popview", "delete", "--match", "~z >1M", "pop3://u@h"]).unwrap();
        let Some(Cmd::Delete { args, pattern, .. }) = &c.command else {
            panic!()
        };
        assert_eq!(pattern.as_deref(), Some("~z >1M"));
        assert!(delete_targets(args).is_empty());
        assert_eq!(c.url().as_deref(), Some("pop3://u@h"));
        let c = Cli::try_parse_from(["popview", "list", "--match", "lukasz"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Cmd::List {
                pattern: Some(_),
                ..
            })
        ));
    }
}
