//! popview's entry point: arguments -> configuration -> worker -> UI.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use popview::app::{AccountEntry, App, AppEvent, AppOptions};
use popview::cli::{self, Cli, Cmd, exit};
use popview::commands::{self, CmdError};
use popview::keymap::Keymap;
use popview::localbox::Destination;
use popview::setup::{self, Target};
use popview::{install, tui, worker};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("popview: {}", e.message);
            ExitCode::from(u8::try_from(e.code).unwrap_or(1))
        }
    }
}

fn run(cli: Cli) -> Result<(), CmdError> {
    // Generated from the parser itself; no config, account or network.
    let printed = match &cli.command {
        Some(Cmd::Completions { shell }) => {
            install::completions(*shell, Cli::command(), &mut std::io::stdout())
        }
        Some(Cmd::Manpage) => install::manpage(Cli::command(), &mut std::io::stdout()),
        Some(Cmd::Authorize) => {
            let (account, _) = setup::account(&cli)?;
            return commands::authorize(&account, &mut std::io::stdout());
        }
        _ => return run_mail(cli),
    };
    printed.map_err(|e| CmdError::new(exit::INTERNAL, format!("cannot write to stdout: {e}")))
}

fn run_mail(cli: Cli) -> Result<(), CmdError> {
    // Off unless asked for (--debug-log FILE or POPVIEW_LOG=FILE).
    popview::debug_log::init(cli.common.debug_log.as_deref())?;
    tracing::debug!("popview started");
    // The scripting commands may prompt on the terminal; the TUI asks in
    // its own dialog.
    let mut target = setup::resolve(&cli, cli.command.is_some())?;
    for w in &target.warnings {
        eprintln!("popview: warning: {w}");
    }
    // Held until the end of the run.
    let _demo = target.demo.take();
    let Some(command) = &cli.command else {
        return run_tui(&cli, target);
    };
    let mut out = std::io::stdout().lock();
    let Target {
        worker: mut cfg,
        persist,
        data_dir,
        save_to,
        ..
    } = target;
    // No first screen to draw before the listing, and no header block
    // needed unless a pattern searches it (see `commands::matching`).
    cfg.show_cached = false;
    cfg.header_blocks = false;
    cfg.previews = matches!(
        command,
        Cmd::List { .. }
            | Cmd::Delete {
                pattern: Some(_),
                ..
            }
    );
    match command {
        Cmd::List {
            json,
            pattern: Some(p),
            ..
        } => commands::list_matching(cfg, persist, p, *json, &mut out),
        Cmd::List { json, .. } => commands::list(cfg, persist, *json, &mut out),
        Cmd::Show { raw: true, .. } if std::io::stdout().is_terminal() => Err(CmdError::new(
            exit::USAGE,
            "refusing to write a raw message to the terminal: mail can carry escape \
                 sequences that act on it. Redirect it: popview show MSG --raw > message.eml",
        )),
        Cmd::Show { msg, raw, .. } => commands::show(cfg, persist, msg, *raw, &mut out),
        Cmd::Delete {
            args,
            dry_run,
            pattern: Some(p),
        } => {
            if !cli::delete_targets(args).is_empty() {
                return Err(CmdError::new(
                    exit::USAGE,
                    "give either messages (MSG...) or --match PATTERN to delete, not both",
                ));
            }
            commands::delete_matching(cfg, persist, p, *dry_run, &mut out)
        }
        Cmd::Delete { args, dry_run, .. } => {
            commands::delete(cfg, persist, &cli::delete_targets(args), *dry_run, &mut out)
        }
        Cmd::Save {
            args,
            maildir,
            mbox,
            delete,
        } => {
            let dest = match (maildir, mbox, save_to) {
                (Some(d), None, _) => Destination::Maildir(home_arg(d)?),
                (None, Some(f), _) => Destination::Mbox(home_arg(f)?),
                (None, None, Some(d)) => d,
                _ => {
                    return Err(CmdError::new(
                        exit::USAGE,
                        "say where to save: --maildir DIR or --mbox FILE \
                         (e.g. popview save --maildir ~/Mail), or set the account's \
                         save_to = \"maildir:~/Mail\"",
                    ));
                }
            };
            let opts = commands::SaveOptions {
                targets: cli::delete_targets(args),
                dest,
                delete: *delete,
                index_dir: data_dir,
            };
            // Holds the account lock for --delete (see setup::resolve).
            let _held = persist;
            commands::save(cfg, opts, &mut out)
        }
        Cmd::Serverinfo { .. } => commands::serverinfo(cfg, persist, &mut out),
        Cmd::Completions { .. } | Cmd::Manpage | Cmd::Authorize => unreachable!("done by run"),
    }
}

/// The TUI, one session after another: choosing another account on the
/// accounts screen (`c`) ends the session (its worker finished, so its
/// account lock is released) and starts the chosen one in a new app.
fn run_tui(cli: &Cli, first: Target) -> Result<(), CmdError> {
    let mut target = first;
    // Printed once the screen is gone: how each session ended.
    let mut outcomes: Vec<String> = Vec::new();
    let mut had_session = false;
    loop {
        let app = run_session(cli, target)?;
        had_session |= app.connection().is_some();
        if let Some(n) = app.outcome() {
            outcomes.push(n.to_string());
        }
        let Some(name) = app.switch_to() else {
            return finish(&app, &outcomes, had_session);
        };
        target = match setup::resolve_named(cli, name) {
            Ok(t) => t,
            Err(e) => {
                say(&outcomes);
                return Err(CmdError::new(
                    e.code,
                    format!("can't switch to the account {name:?}: {}", e.message),
                ));
            }
        };
    }
}

fn say(outcomes: &[String]) {
    for n in outcomes {
        println!("popview: {n}");
    }
}

/// The last session ended for good: say how, and whether it is a success.
fn finish(app: &App, outcomes: &[String], had_session: bool) -> Result<(), CmdError> {
    // The screen is gone: say how the sessions ended (a commit that
    // failed at quit must not pass unseen).
    say(outcomes);
    if let Some(e) = app.error() {
        eprintln!("popview: {}", e.message);
    }
    // Never had a session (the password never given, the server never
    // reached): not a success for a shell or a script.
    if !had_session {
        let kind = app.error().and_then(|e| e.kind);
        return Err(CmdError::from_kind(
            kind.unwrap_or(popview::pop3::ErrorKind::Network),
            "ended without a session: nothing was read or deleted",
        ));
    }
    Ok(())
}

/// One account's session in the TUI, until the app quits; returns the app
/// once the worker has finished (or a straggler was given 5 s).
fn run_session(cli: &Cli, mut target: Target) -> Result<App, CmdError> {
    let keymap = Keymap::with_overrides(&target.ui.keys)
        .map_err(|e| CmdError::new(exit::USAGE, format!("[ui.keys]: {e}")))?;
    let save_dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| ".".into());
    // Read before the app starts: the app never touches the disk.
    let accounts = setup::accounts_overview(cli)
        .into_iter()
        .map(|a| AccountEntry {
            current: a.label == target.label,
            name: a.name,
            label: a.label,
            cached: a.cached,
            marks: a.marks,
        })
        .collect();
    let opts = AppOptions {
        account_label: target.label.clone(),
        keymap,
        big_message_threshold: target.ui.big_message_threshold,
        no_color: !target.ui.colors_enabled(),
        save_dir,
        utc_offset_minutes: chrono::Local::now().offset().local_minus_utc() / 60,
        authserv_id: target.authserv_id.clone(),
        filter_command: target.filter_command.clone(),
        rules: target.rules.clone(),
        pattern_history: target
            .history
            .as_ref()
            .map(|s| s.load_pattern_history())
            .unwrap_or_default(),
        accounts,
        save_to: target.save_to.clone(),
        saved_index_dir: target.data_dir.clone(),
    };
    let history = target.history.take();
    let (funnel_tx, funnel_rx) = mpsc::channel::<AppEvent>();
    let (req_tx, req_rx) = mpsc::channel();
    let to_ui = funnel_tx.clone();
    let cfg = target.worker;
    // Runs on the worker's threads: a message's Doc is made on the parse
    // thread, dated in the viewer's zone like the list.
    let zone = opts.utc_offset_minutes;
    // The worker owns `persist` (and the account lock in it): both are
    // dropped when its thread ends, before the next session opens.
    let handle = worker::spawn(cfg, target.persist, req_rx, move |ev| {
        to_ui.send(popview::app::prepare_in(ev, zone)).is_ok()
    });
    let keep_history = move |h: &[String]| {
        if let Some(store) = &history {
            // Losing the history of patterns loses no mail: say nothing.
            let _ = store.save_pattern_history(h);
        }
    };
    let result = tui::run(
        App::new(opts),
        req_tx,
        (funnel_tx, funnel_rx),
        Box::new(keep_history),
    );
    // The app quits after the worker's Closed; give a straggler a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !handle.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    result.map_err(|e| CmdError::new(exit::INTERNAL, format!("terminal error: {e}")))
}

/// A path given on the command line with its `~` put in (a quoted
/// `"~/Mail"` reaches popview as typed), by the one `~` rule
/// ([`popview::paths::expand_tilde`]).
fn home_arg(p: &std::path::Path) -> Result<std::path::PathBuf, CmdError> {
    let Some(text) = p.to_str() else {
        return Ok(p.to_path_buf());
    };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from);
    popview::paths::expand_tilde(text, home.as_deref())
        .map_err(|e| CmdError::new(exit::USAGE, format!("{}: {e}", p.display())))
}
