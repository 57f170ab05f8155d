//! What an installed popview prints about itself: shell completions and the
//! man page, both generated from the `clap::Command` that parses the
//! arguments (`Cli::command()`, passed in), so neither can drift from it.
//! Needs no configuration, account or network.

use std::io::{self, Write};

use clap::{Arg, ArgAction, Command, ValueEnum};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// The shells `popview completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl From<Shell> for clap_complete::Shell {
    fn from(s: Shell) -> Self {
        match s {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// The completion script of `cmd` for `shell`; a reader that stopped
/// reading (`| head`) is not an error.
pub fn completions(shell: Shell, mut cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let name = cmd.get_name().to_owned();
    // Made in memory: clap_complete panics when its writer fails (a closed
    // pipe, `popview completions bash | head`); this returns the error.
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut cmd,
        name,
        &mut script,
    );
    reader_gone_is_ok(out.write_all(&script).and_then(|()| out.flush()))
}

/// The man page of `cmd` (section 1, roff): clap_mangen's sections, except
/// that each subcommand is described here in full (synopsis, options) rather
/// than pointing at a `popview-list(1)` page that is never installed.
/// A reader that stopped reading (`| head`) is not an error.
pub fn manpage(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    reader_gone_is_ok(render_manpage(cmd, out))
}

fn render_manpage(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    commands_section(&cmd, out)?;
    if cmd.get_after_help().is_some() {
        man.render_extra_section(out)?;
    }
    man.render_version_section(out)?;
    out.flush()
}

fn reader_gone_is_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// `.SH COMMANDS`: per subcommand, its synopsis, what it does and its own
/// options (the global ones are in OPTIONS above).
fn commands_section(cmd: &Command, out: &mut dyn Write) -> io::Result<()> {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut line = vec![bold(format!("{} {}", cmd.get_name(), sub.get_name()))];
        let own: Vec<&Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
            .collect();
        for a in &own {
            line.push(roman(" "));
            line.extend(synopsis_word(a));
        }
        roff.control("TP", []);
        roff.text(line);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        for a in own.iter().filter(|a| a.get_help().is_some()) {
            roff.control("RS", []);
            roff.control("TP", []);
            roff.text(synopsis_word(a));
            roff.text([roman(
                a.get_help().map(|h| h.to_string()).unwrap_or_default(),
            )]);
            roff.control("RE", []);
        }
    }
    roff.to_writer(out)
}

/// `[--json]`, `MSG...`, `[URL]`: one argument as a synopsis shows it.
fn synopsis_word(a: &Arg) -> Vec<clap_mangen::roff::Inline> {
    let name = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
    let mut word = match a.get_long() {
        Some(long) if matches!(a.get_action(), ArgAction::SetTrue) => {
            vec![bold(format!("--{long}"))]
        }
        Some(long) => vec![bold(format!("--{long} ")), italic(name)],
        None if matches!(a.get_action(), ArgAction::Append)
            || a.get_num_args().is_some_and(|n| n.max_values() > 1) =>
        {
            vec![italic(format!("{name}..."))]
        }
        None => vec![italic(name)],
    };
    if !a.is_required_set() {
        word.insert(0, roman("["));
        word.push(roman("]"));
    }
    word
}
