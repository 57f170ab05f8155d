//! The accounts screen (`c`): every configured account with its host,
//! whether it is the one connected, its messages (live for this one, as
//! last seen for the others: their header caches, read from disk before
//! the app started), the mail new since the last look, and the marks kept
//! pending. Choosing another account ends this session the way quitting
//! does (asked first when marks are pending: commit, forget, keep them on
//! disk, cancel) and records the account to switch to; the terminal
//! loop's caller then starts it (see `main.rs`).

use super::*;

/// One configured account, as the accounts screen shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountEntry {
    /// Its name in the config file (`[accounts.NAME]`).
    pub name: String,
    /// `user@host:port`, as the header shows it.
    pub label: String,
    /// The account this app is connected to (or connecting to).
    pub current: bool,
    /// Messages in its header cache on disk (as last seen); `None`: no
    /// cache (never opened, or `cache = false`).
    pub cached: Option<usize>,
    /// Deletion marks kept on disk for it, not yet committed.
    pub marks: usize,
}

/// What the screen shows for an account's messages and marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCounts {
    /// Messages: live for the current account, else as last seen.
    pub messages: Option<usize>,
    /// New since the last look (only known for the current account).
    pub new: Option<usize>,
    /// Marks pending.
    pub marks: usize,
}

/// How the accounts screen answers `c` with no account to list.
pub const NO_OTHER_ACCOUNTS: &str = "no other accounts: add [accounts.NAME] tables (host, username) \
     to popview's config.toml, then start popview with --account NAME and press c to switch";

impl App {
    /// The configured accounts, in the config file's order.
    pub fn accounts(&self) -> &[AccountEntry] {
        &self.opts.accounts
    }

    pub fn accounts_cursor(&self) -> usize {
        self.accounts_cursor
    }

    /// The account chosen to switch to: set once this session is ending
    /// for it (read by the terminal loop's caller after the app quits).
    pub fn switch_to(&self) -> Option<&str> {
        self.switch_to.as_deref()
    }

    /// Messages, new mail and marks of `entry`, live for the current one.
    pub fn account_counts(&self, entry: &AccountEntry) -> AccountCounts {
        if !entry.current {
            return AccountCounts {
                messages: entry.cached,
                new: None,
                marks: entry.marks,
            };
        }
        let listed = self.info.is_some() || !self.rows.rows.is_empty();
        // The worker tells new from old (`Event::Unseen`, the `N` flag)
        // when the header cache knew messages at the start.
        let new = (listed && entry.cached.is_some())
            .then(|| self.rows.rows.iter().filter(|r| r.new).count());
        AccountCounts {
            messages: if listed {
                Some(self.rows.rows.len())
            } else {
                entry.cached
            },
            new,
            marks: self.mark_summary().total(),
        }
    }

    /// `c`: open the accounts screen, or close it; with no account in the
    /// config, say how to add some.
    pub(super) fn toggle_accounts(&mut self) {
        if self.screen == Screen::Accounts {
            self.leave_accounts();
            return;
        }
        if self.closing_since.is_some() {
            self.set_notice("the session is ending".to_string());
            return;
        }
        if self.opts.accounts.is_empty() {
            self.set_notice(NO_OTHER_ACCOUNTS.to_string());
            return;
        }
        self.accounts_cursor = self
            .opts
            .accounts
            .iter()
            .position(|a| a.current)
            .unwrap_or(0);
        self.screen = Screen::Accounts;
    }

    fn leave_accounts(&mut self) {
        self.screen = if self.reader.is_some() {
            Screen::Reader
        } else {
            Screen::List
        };
    }

    pub(super) fn accounts_action(&mut self, action: Action, out: &mut Vec<Request>) {
        let len = self.opts.accounts.len();
        let step = |app: &mut App, d: isize| {
            if len > 0 {
                let c = (app.accounts_cursor as isize).saturating_add(d);
                app.accounts_cursor = c.clamp(0, len as isize - 1) as usize;
            }
        };
        match action {
            Action::Down => step(self, 1),
            Action::Up => step(self, -1),
            Action::PageDown | Action::HalfPageDown | Action::Bottom => step(self, isize::MAX / 2),
            Action::PageUp | Action::HalfPageUp | Action::Top => step(self, isize::MIN / 2),
            Action::Back | Action::Quit => self.leave_accounts(),
            Action::Open => self.choose_account(out),
            _ => self.set_notice(format!(
                "choosing an account: {} switches to it, {} goes back",
                self.opts.keymap.hint(Action::Open),
                self.opts.keymap.hint(Action::Back)
            )),
        }
    }

    /// Enter on an account: the current one goes back to its list;
    /// another ends this session (asked first when marks are pending).
    fn choose_account(&mut self, out: &mut Vec<Request>) {
        let Some(entry) = self.opts.accounts.get(self.accounts_cursor) else {
            return;
        };
        let (name, current) = (entry.name.clone(), entry.current);
        let shown = clean_line(&name);
        if current {
            self.leave_accounts();
            self.set_notice(format!("{shown} is the account shown"));
            return;
        }
        self.switch_to = Some(name);
        // The quit question, or a clean end of the session at once.
        self.quit(out);
        if self.dialog.is_none() {
            self.set_notice(format!("ending this session, then opening {shown}…"));
        }
    }

    /// A switch that is neither being asked about nor under way (the
    /// question was cancelled, or went to the review) is forgotten, so a
    /// later quit quits.
    pub(super) fn forget_stale_switch(&mut self) {
        if self.switch_to.is_some()
            && self.closing_since.is_none()
            && !self.quit
            && !matches!(self.dialog, Some(Dialog::Quit(_)))
        {
            self.switch_to = None;
        }
    }
}

/// The quit question's answers, reworded for a switch: "…, then switch
/// to NAME" instead of "…, then quit".
pub(super) fn switch_labels(choices: &mut [Choice], to: &str) {
    let to = clean_line(to);
    for c in choices {
        if let Some(head) = c.label.strip_suffix("then quit") {
            c.label = format!("{head}then switch to {to}");
        }
    }
}
