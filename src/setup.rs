//! From the command line and the config file to what the worker and the UI
//! need: the account, the password, the on-disk state, the demo server.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Cmd, exit};
use crate::commands::{CmdError, authorize};
use crate::config::{self, Account, Config, UiConfig};
use crate::demo;
use crate::oauth;
use crate::password;
use crate::pop3::{ConnectOptions, TlsMode};
use crate::store::{self, LockError, Store};
use crate::worker::persist::{Memory, OnDisk};
use crate::worker::{Persist, WorkerConfig};

/// Everything needed to run a session.
pub struct Target {
    pub worker: WorkerConfig,
    pub persist: Box<dyn Persist>,
    /// Shown in the header: `user@host:port`.
    pub label: String,
    pub ui: UiConfig,
    /// Things allowed but probably not meant, from the config file.
    pub warnings: Vec<String>,
    /// Keeps the demo server alive for the run.
    pub demo: Option<demo::Server>,
    /// `[rules.NAME]`: name and pattern.
    pub rules: Vec<(String, String)>,
    /// The account's `authserv_id`, for the hints.
    pub authserv_id: Option<String>,
    /// The account's `filter_command` (mpop's filter).
    pub filter_command: Option<String>,
    /// Where the TUI keeps its pattern history (none for the demo, or
    /// with no state directory).
    pub history: Option<Store>,
    /// The account's data directory (`None` for the demo: nothing kept).
    pub data_dir: Option<PathBuf>,
    /// The account's `save_to`.
    pub save_to: Option<crate::localbox::Destination>,
}

/// Resolve the target. `prompt` is true for the scripting commands, which
/// ask for a missing password on the terminal once connected (see
/// [`crate::commands::Engine`]) and need a terminal for that; the TUI asks
/// in its own dialog.
pub fn resolve(cli: &Cli, prompt: bool) -> Result<Target, CmdError> {
    if cli.common.demo {
        return demo_target(cli);
    }
    let (account, cfg) = account(cli)?;
    resolve_account(cli, prompt, account, cfg)
}

/// The TUI's switch to the account called `name` (its accounts screen):
/// as [`resolve`] with `--account NAME`, whatever URL the command line
/// gave. Any password is asked for in the TUI's dialog.
pub fn resolve_named(cli: &Cli, name: &str) -> Result<Target, CmdError> {
    let (cfg, _) = config_file(cli)?;
    let account = cfg
        .account(Some(name))
        .map_err(|e| CmdError::new(exit::USAGE, e.to_string()))?
        .clone();
    resolve_account(cli, false, account, cfg)
}

fn resolve_account(
    cli: &Cli,
    prompt: bool,
    mut account: Account,
    cfg: Config,
) -> Result<Target, CmdError> {
    if let Some(ca) = &cli.common.ca_file {
        account.ca_file = Some(ca.clone());
    }
    let sources = account.password_sources(cli.common.password_command.as_deref());
    // Built-in OAuth2 (`[oauth2]`), unless a password (token) source is
    // given; a rejected access token is fetched again with
    // `oauth::Freshness::Fresh`.
    let token_source = match &account.oauth2 {
        Some(o) if cli.common.password_command.is_none() && account.password.is_none() => Some(
            oauth::TokenSource::new(o.clone(), Some(account.name.clone())),
        ),
        _ => None,
    };
    // The TUI draws the list as last seen before anything else: a token
    // exchange that asks no one (see `TokenSource::never_asks`) is left to
    // the worker, which makes it while that list is on screen and the
    // connection opens. A command waits for the server anyway.
    let later = token_source
        .as_ref()
        .filter(|t| !prompt && t.never_asks())
        .cloned();
    let password = match &token_source {
        Some(_) if later.is_some() => None,
        Some(t) => Some(
            t.access_token(oauth::Freshness::Cached)
                .map_err(|e| CmdError::new(authorize::exit_code(&e), e.to_string()))?,
        ),
        None => {
            password::resolve(&sources).map_err(|e| CmdError::new(exit::AUTH, e.to_string()))?
        }
    };
    // A missing password is asked for once the server is reached and its
    // certificate checked (by the worker, answered by the command or the
    // TUI's dialog); without a terminal there is no one to ask.
    if password.is_none() && prompt && !std::io::stdin().is_terminal() {
        return Err(CmdError::new(
            exit::AUTH,
            "no password: give it with --password-command, the account's \
             password_command or password_env, or POPVIEW_PASSWORD",
        ));
    }
    // A token from a command or a variable can be fetched again; one the
    // user types is asked for again instead.
    let from_a_source = password.is_some() || later.is_some();
    let mut worker = account.worker_config(password);
    if let Some(t) = later {
        worker.password_first = Some(crate::worker::Refetch(std::sync::Arc::new(move || {
            t.access_token(oauth::Freshness::Cached)
                .map_err(|e| e.to_string())
        })));
    }
    worker.trace = cli.common.log.clone();
    if (account.auth.is_oauth() || token_source.is_some()) && from_a_source {
        // A rejected access token: the token command runs once more.
        // With built-in OAuth2, a fresh exchange of the refresh token.
        worker.refetch_password =
            Some(crate::worker::Refetch(std::sync::Arc::new(
                move || match &token_source {
                    Some(t) => t
                        .access_token(oauth::Freshness::Fresh)
                        .map_err(|e| e.to_string()),
                    None => match password::resolve(&sources) {
                        Ok(Some(token)) => Ok(token),
                        Ok(None) => Err("no token command or variable to ask again".to_string()),
                        Err(e) => Err(e.to_string()),
                    },
                },
            )));
    }
    let key = account_key(&account);
    // The TUI keeps pending marks on disk; a scripting command leaves them
    // alone (it neither commits nor forgets them).
    let lock = match &cli.command {
        None => Lock::OrReadOnly,
        Some(Cmd::Delete { .. } | Cmd::Save { delete: true, .. }) => Lock::Required,
        Some(_) => Lock::No,
    };
    let bodies = account.cache_bodies.filter(|_| !cli.common.no_cache);
    let persist = persistence(
        &key,
        account.cache && !cli.common.no_cache,
        !prompt,
        lock,
        bodies,
    )?;
    let history =
        store::default_roots().and_then(|r| Store::open_split(&r.cache, &r.data, &key).ok());
    let data_dir = store::default_roots()
        .and_then(|r| Store::open_split(&r.cache, &r.data, &key).ok())
        .map(|s| s.data_dir().to_path_buf());
    Ok(Target {
        worker,
        persist,
        label: key,
        ui: cfg.ui.clone(),
        warnings: cfg.warnings().to_vec(),
        demo: None,
        rules: rules_of(&cfg),
        authserv_id: account.authserv_id.clone(),
        filter_command: account.filter_command.clone(),
        history,
        data_dir,
        save_to: account.save_to.clone(),
    })
}

/// The account from the URL or the config file, and the config (for `[ui]`).
pub fn account(cli: &Cli) -> Result<(Account, Config), CmdError> {
    let usage = |e: config::ConfigError| CmdError::new(exit::USAGE, e.to_string());
    let (cfg, path) = config_file(cli)?;
    if let Some(url) = cli.url() {
        let mut account = config::account_from_url(&url).map_err(usage)?;
        // A one-off account still follows the file's `[ui]` settings.
        account.keepalive = cfg.ui.keepalive;
        account.check_mail = cfg.ui.check_mail;
        account.release_after = cfg.ui.release_after;
        return Ok((account, cfg));
    }
    if cfg.accounts.is_empty() {
        let where_ = path.unwrap_or_else(|| PathBuf::from("config.toml"));
        return Err(CmdError::new(
            exit::USAGE,
            config::first_run_message(&where_),
        ));
    }
    let account = cfg
        .account(cli.common.account.as_deref())
        .map_err(usage)?
        .clone();
    Ok((account, cfg))
}

/// The config file (`--config`, or the default one when it exists; else
/// an empty config) and its path.
fn config_file(cli: &Cli) -> Result<(Config, Option<PathBuf>), CmdError> {
    let usage = |e: config::ConfigError| CmdError::new(exit::USAGE, e.to_string());
    let path = cli.common.config.clone().or_else(config::default_path);
    let cfg = match &path {
        Some(p) if p.exists() || cli.common.config.is_some() => config::load(p).map_err(usage)?,
        _ => Config::default(),
    };
    Ok((cfg, path))
}

/// The key an account's state is kept under, and the header's label:
/// `user@host:port`.
pub fn account_key(account: &Account) -> String {
    format!("{}@{}:{}", account.username, account.host, account.port)
}

/// A configured account as the TUI's accounts screen lists it, read from
/// its state on disk (nothing is asked of any server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub name: String,
    /// `user@host:port` (see [`account_key`]).
    pub label: String,
    /// Messages in its header cache, as last seen; `None`: no cache.
    pub cached: Option<usize>,
    /// Deletion marks kept on disk, not yet committed.
    pub marks: usize,
}

/// Every configured account (by name) with what its state on disk says.
/// A config that can't be read lists no account (the start-up said why).
pub fn accounts_overview(cli: &Cli) -> Vec<AccountInfo> {
    let roots = store::default_roots();
    let cfg = config_file(cli).map(|(c, _)| c).unwrap_or_default();
    cfg.accounts
        .values()
        .map(|account| {
            let label = account_key(account);
            let store = roots
                .as_ref()
                .and_then(|r| Store::open_split(&r.cache, &r.data, &label).ok());
            let cache = account.cache && !cli.common.no_cache;
            // The last listing's length (small to read), not the header
            // cache (tens of MB at 100,000 messages): this runs before
            // every TUI start, for every account.
            let cached = store
                .as_ref()
                .filter(|_| cache)
                .map(|s| s.load_listing().len())
                .filter(|&n| n > 0);
            AccountInfo {
                name: account.name.clone(),
                label,
                cached,
                marks: store.map_or(0, |s| s.load_mark_records().len()),
            }
        })
        .collect()
}

/// Whether a run takes the account lock (see [`Store::lock`]): the one
/// popview that may change an account's marks or delete holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// The TUI: take it, or run read-only (browse and read; no marks, no
    /// commit, the marks file untouched) when another popview has it.
    OrReadOnly,
    /// `popview delete`: take it, or stop with [`exit::LOCKED`].
    Required,
    /// Commands that neither mark nor delete.
    No,
}

fn persistence(
    account_key: &str,
    cache: bool,
    marks: bool,
    lock: Lock,
    bodies: Option<u64>,
) -> Result<Box<dyn Persist>, CmdError> {
    let roots = store::default_roots().ok_or_else(|| {
        CmdError::new(
            exit::USAGE,
            "can't find a home directory for popview's cache and state; set HOME",
        )
    })?;
    let store = Store::open_split(&roots.cache, &roots.data, account_key).map_err(|e| {
        CmdError::new(
            exit::USAGE,
            format!(
                "can't use popview's state directory {}: {e}",
                roots.data.display()
            ),
        )
    })?;
    let mut disk = OnDisk::new(store, cache, marks);
    disk.bodies = bodies;
    if lock == Lock::No {
        return Ok(Box::new(disk));
    }
    match (lock, disk.store.lock()) {
        (_, Ok(held)) => disk.lock = Some(held),
        (Lock::OrReadOnly, Err(LockError::Held(h))) => disk.read_only = Some(h.to_string()),
        (Lock::OrReadOnly, Err(LockError::Io(e))) => {
            disk.read_only = Some(format!("can't lock the account's state ({e})"));
        }
        (_, Err(LockError::Held(h))) => {
            return Err(CmdError::new(
                exit::LOCKED,
                format!(
                    "{h}; nothing was deleted. Quit it (or delete from it), then run this again"
                ),
            ));
        }
        (_, Err(LockError::Io(e))) => {
            return Err(CmdError::new(
                exit::USAGE,
                format!("can't lock the account's state: {e}; nothing was deleted"),
            ));
        }
    }
    Ok(Box::new(disk))
}

/// `--demo`: the sample mailbox on 127.0.0.1, fresh on every run; nothing
/// is read from or written to disk.
fn demo_target(cli: &Cli) -> Result<Target, CmdError> {
    let server = demo::start_demo_server().map_err(|e| {
        CmdError::new(
            exit::NETWORK,
            format!("can't start the demo server on 127.0.0.1: {e}"),
        )
    })?;
    let port = server.addr().port();
    // Loopback only, in-process: the password "demo" never leaves the machine.
    let mut worker = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", port, TlsMode::None),
        demo::DEMO_USER,
    );
    worker.password = Some(demo::DEMO_PASSWORD.into());
    worker.allow_cleartext = true;
    worker.trace = cli.common.log.clone();
    let cfg = match cli.common.config.as_ref() {
        Some(p) => config::load(p).map_err(|e| CmdError::new(exit::USAGE, e.to_string()))?,
        None => Config::default(),
    };
    Ok(Target {
        worker,
        persist: Box::new(Memory::default()),
        label: format!("demo@127.0.0.1:{port} (demo mailbox)"),
        ui: cfg.ui.clone(),
        warnings: Vec::new(),
        demo: Some(server),
        rules: rules_of(&cfg),
        authserv_id: None,
        filter_command: None,
        history: None,
        data_dir: None,
        save_to: None,
    })
}

fn rules_of(cfg: &Config) -> Vec<(String, String)> {
    cfg.rules
        .iter()
        .map(|r| (r.name.clone(), r.pattern.clone()))
        .collect()
}
