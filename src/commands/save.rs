//! `popview save [MSG...] (--maildir DIR | --mbox FILE) [--delete]`: keep
//! messages in a local mailbox ([`crate::localbox`]), and with `--delete`
//! move them: delete from the server only what was saved and checked.
//!
//! One session, in three steps:
//! 1. Log in and list (retried like the other commands' first connection).
//! 2. RETR every message not saved before: small ones pipelined
//!    ([`crate::pop3::Client::retrieve_each`]), each kept as it completes;
//!    big ones ([`STREAM_FROM`]) one at a time, streamed
//!    ([`crate::pop3::Client::retrieve_into`]) into the destination line by
//!    line ([`crate::localbox::Saving`]), so memory stays small whatever
//!    the size. Each is fsynced and recorded as it completes, and a run cut
//!    anywhere resumes without duplicates (a message cut part way leaves
//!    nothing behind).
//! 3. With `--delete`: DELE the messages whose copy is durable and checked
//!    (saved now, or saved before and still where it was put), then QUIT;
//!    "deleted" only when QUIT is confirmed, as `delete` says it. A message
//!    that failed to save is never marked. A refused DELE or a lost
//!    connection ends the session without QUIT: nothing is deleted
//!    (SECURITY H47).
//!
//! stdout: a line for each message that was not saved, the deletion
//! outcome of each message with `--delete`, then one summary line. A
//! progress line goes to stderr only when stdout and stderr are terminals.

mod progress;

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use super::delete::{Outcome, line_of};
use super::*;
use crate::localbox::{Destination, Fate, Keeper};
use crate::pop3::transport::Stream;
use crate::pop3::{Client, Command, Credentials, Reply, Trace};
use crate::worker::listing::Listing;
use progress::{Progress, human};

/// What `popview save` was asked.
#[derive(Debug, Clone)]
pub struct SaveOptions {
    /// Message names (empty: every message).
    pub targets: Vec<String>,
    pub dest: Destination,
    pub delete: bool,
    /// Where the record of saved messages lives (`None`: not kept).
    pub index_dir: Option<PathBuf>,
}

/// One message to consider, and what became of it.
struct Item {
    entry: ListEntry,
    saved: Fate,
}

impl Item {
    fn deletable(&self) -> bool {
        matches!(
            self.saved,
            Fate::Before { holds: true } | Fate::Now { checked: true }
        )
    }
}

pub fn save(cfg: WorkerConfig, opts: SaveOptions, out: &mut dyn Write) -> Result<()> {
    let usage = |e: crate::localbox::LocalError| CmdError::new(exit::USAGE, e.0);
    let mut keeper = Keeper::open(opts.dest.clone(), opts.index_dir.as_deref()).map_err(usage)?;
    for w in keeper.take_warnings() {
        eprintln!("popview: warning: {}", sanitize::line(&w));
    }
    let (mut client, listing) = open_session(&cfg)?;
    let entries = listing.entries();
    let chosen = match choose(&entries, &opts.targets) {
        Ok(c) => c,
        Err(e) => {
            let _ = client.quit();
            return Err(e);
        }
    };
    let mut items: Vec<Item> = chosen
        .into_iter()
        .map(|entry| {
            let saved = match entry.key.uid.as_deref() {
                Some(uid) if keeper.already_saved(uid, entry.size) => Fate::Before {
                    holds: keeper.copy_holds(uid, entry.size),
                },
                _ => Fate::Waiting,
            };
            Item { entry, saved }
        })
        .collect();
    if !listing.has_uids && !items.is_empty() {
        eprintln!(
            "popview: warning: the server gives no UIDs (UIDL): messages are recognised \
             by their content, so each run downloads every message again"
        );
    }
    let fetched = retrieve(&mut client, &mut keeper, &mut items);
    if let Err(e) = keeper.sync() {
        eprintln!("popview: warning: {}", sanitize::line(&e.0));
    }
    for w in keeper.take_warnings() {
        eprintln!("popview: warning: {}", sanitize::line(&w));
    }
    for it in &items {
        if let Fate::Failed(why) = &it.saved {
            writeln!(
                out,
                "not saved {}\t{}",
                line_of(&it.entry),
                sanitize::line(why)
            )
            .map_err(io_err)?;
        }
    }
    let lost = fetched.err();
    if opts.delete {
        for it in items
            .iter()
            .filter(|i| i.saved == Fate::Before { holds: false })
        {
            eprintln!(
                "popview: message {} was saved before, but its copy is no longer where it was \
                 put (or its size differed from the server's); it is not deleted",
                it.entry.key.number
            );
        }
    }
    let (deleted, delete_error) = if opts.delete {
        move_off(client, &items, lost.is_some(), out)?
    } else {
        if lost.is_none() {
            let _ = client.quit();
        }
        (0, None)
    };
    summary(out, &items, &opts.dest, deleted)?;
    let not_saved = items
        .iter()
        .filter(|i| matches!(i.saved, Fate::Failed(_) | Fate::Waiting))
        .count();
    if let Some(e) = lost {
        return Err(CmdError {
            message: format!(
                "{}; {} not saved (run the same command again to save the rest){}",
                e.message,
                were(not_saved),
                if opts.delete {
                    "; nothing was deleted"
                } else {
                    ""
                }
            ),
            ..e
        });
    }
    if let Some(e) = delete_error {
        return Err(e);
    }
    if not_saved > 0 {
        return Err(CmdError::new(
            exit::NOT_SAVED,
            format!(
                "{} not saved (listed as \"not saved\"){}",
                were(not_saved),
                if opts.delete {
                    "; they were not deleted from the server"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

/// The messages named (in listing order, each once), or all of them.
pub(super) fn choose(entries: &[ListEntry], targets: &[String]) -> Result<Vec<ListEntry>> {
    if targets.is_empty() {
        return Ok(entries.to_vec());
    }
    let mut chosen: Vec<ListEntry> = Vec::new();
    for t in targets {
        match naming::resolve(entries, t) {
            Resolved::One(e) if !chosen.contains(e) => chosen.push(e.clone()),
            Resolved::One(_) => {}
            Resolved::None => return Err(no_such(t)),
            Resolved::Ambiguous(found) => {
                return Err(CmdError::new(
                    exit::USAGE,
                    naming::ambiguity_message(entries, &HashMap::new(), t, &found),
                ));
            }
        }
    }
    chosen.sort_by_key(|e| e.key.number);
    Ok(chosen)
}

/// Messages this big (LIST size) or bigger are streamed (the rule of the
/// TUI's saves too).
pub use crate::localbox::STREAM_FROM;

/// RETR what was not saved before and keep each as it arrives, in
/// listing order: runs of small messages pipelined, a big one streamed.
/// `Err`: the connection was lost (the items not reached stay `Waiting`).
fn retrieve(
    client: &mut Client<Stream>,
    keeper: &mut Keeper,
    items: &mut [Item],
) -> std::result::Result<(), CmdError> {
    let wanted: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].saved == Fate::Waiting)
        .collect();
    let total: u64 = wanted.iter().map(|&i| items[i].entry.size).sum();
    let on = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let progress = std::cell::RefCell::new(Progress::new(on, wanted.len(), total));
    let mut rest = &wanted[..];
    let result = loop {
        let Some(&first) = rest.first() else {
            break Ok(());
        };
        if streams(&items[first]) {
            rest = &rest[1..];
            let r = stream_one(client, keeper, &mut items[first], &progress);
            progress.borrow_mut().finished(items[first].entry.size);
            if let Err(e) = r {
                break Err(e);
            }
            continue;
        }
        let run = rest.iter().take_while(|&&i| !streams(&items[i])).count();
        let (batch, after) = rest.split_at(run);
        rest = after;
        if let Err(e) = retrieve_batch(client, keeper, items, batch, &progress) {
            break Err(e);
        }
    };
    progress.borrow_mut().clear();
    result.map_err(|e| CmdError::from_kind(e.kind, &e.message))
}

/// A message is streamed when it is big (one without a UID too: see
/// [`Keeper::keep_streamed`]).
fn streams(it: &Item) -> bool {
    it.entry.size >= STREAM_FROM
}

/// The items `batch` (indexes into `items`), RETRs pipelined, each kept
/// whole as it completes.
fn retrieve_batch(
    client: &mut Client<Stream>,
    keeper: &mut Keeper,
    items: &mut [Item],
    batch: &[usize],
    progress: &std::cell::RefCell<Progress>,
) -> std::result::Result<(), crate::pop3::Error> {
    let wanted: Vec<(u32, u64)> = batch
        .iter()
        .map(|&i| (items[i].entry.key.number, items[i].entry.size))
        .collect();
    let by_number: HashMap<u32, usize> = batch
        .iter()
        .map(|&i| (items[i].entry.key.number, i))
        .collect();
    client.retrieve_each(
        &wanted,
        &mut |bytes| progress.borrow_mut().receiving(bytes),
        |number, body| {
            let Some(&i) = by_number.get(&number) else {
                return ControlFlow::Continue(());
            };
            let it = &mut items[i];
            it.saved = match body {
                Ok(b) if b.truncated => Fate::Failed("the message was cut short".into()),
                Ok(b) => Fate::of(keeper.keep(it.entry.key.uid.as_deref(), it.entry.size, b.data)),
                Err(e) => Fate::Failed(e.message),
            };
            warn_unchecked(it, progress);
            progress.borrow_mut().finished(it.entry.size);
            ControlFlow::Continue(())
        },
    )
}

/// RETR one message streamed into the keeper. A local failure (the disk)
/// fails this message only: the rest of it is read and dropped so the
/// session goes on. `Err`: the connection was lost.
fn stream_one(
    client: &mut Client<Stream>,
    keeper: &mut Keeper,
    it: &mut Item,
    progress: &std::cell::RefCell<Progress>,
) -> std::result::Result<(), crate::pop3::Error> {
    let uid = it.entry.key.uid.clone();
    let (number, size) = (it.entry.key.number, it.entry.size);
    let kept = keeper.keep_streamed(uid.as_deref(), size, |sink| {
        client.retrieve_to(number, size, sink, &mut |bytes| {
            progress.borrow_mut().receiving(bytes)
        })
    });
    it.saved = match kept {
        Ok(fate) => fate,
        Err(e) if !e.is_fatal_to_session() => Fate::Failed(e.message),
        Err(e) => return Err(e),
    };
    warn_unchecked(it, progress);
    Ok(())
}

fn warn_unchecked(it: &Item, progress: &std::cell::RefCell<Progress>) {
    if let Fate::Now { checked: false } = it.saved {
        progress.borrow_mut().clear();
        eprintln!(
            "popview: warning: message {} was saved, but its size differs from what \
             the server listed ({} bytes); it will not be deleted from the server",
            it.entry.key.number, it.entry.size
        );
    }
}

/// Step 3: DELE what may go, then QUIT. Returns how many were deleted
/// (confirmed) and the error to exit with, if any.
fn move_off(
    mut client: Client<Stream>,
    items: &[Item],
    lost: bool,
    out: &mut dyn Write,
) -> Result<(usize, Option<CmdError>)> {
    let go: Vec<&Item> = items.iter().filter(|i| i.deletable()).collect();
    let report = |out: &mut dyn Write, outcome: Outcome| -> Result<()> {
        for it in items {
            let o = if it.deletable() {
                outcome
            } else {
                Outcome::NotDeleted
            };
            writeln!(out, "{} {}", o.word(), line_of(&it.entry)).map_err(io_err)?;
        }
        Ok(())
    };
    if lost {
        report(out, Outcome::NotDeleted)?;
        return Ok((0, None));
    }
    if go.is_empty() {
        let _ = client.quit();
        report(out, Outcome::NotDeleted)?;
        return Ok((0, None));
    }
    if let Err(why) = mark(&mut client, &go) {
        // Dropped without QUIT: the server deletes nothing.
        drop(client);
        report(out, Outcome::NotDeleted)?;
        return Ok((
            0,
            Some(CmdError::new(
                exit::NOT_DELETED,
                format!(
                    "nothing was deleted: {why}; the saved copies are kept, and running \
                     the same command again deletes them"
                ),
            )),
        ));
    }
    match client.quit() {
        Ok(()) => {
            report(out, Outcome::Deleted)?;
            Ok((go.len(), None))
        }
        Err(e) => {
            report(out, Outcome::Unknown)?;
            Ok((
                0,
                Some(CmdError::new(
                    exit::UNKNOWN,
                    format!(
                        "the server did not confirm the deletion ({}): it may or may not have \
                         deleted the messages listed as unknown (their copies are saved); \
                         `popview list` shows what is left",
                        sanitize::line(&e.message)
                    ),
                )),
            ))
        }
    }
}

/// DELE every message of `go`, pipelined; the first refusal or failure
/// is returned.
fn mark(client: &mut Client<Stream>, go: &[&Item]) -> std::result::Result<(), String> {
    let mut next = 0;
    loop {
        while next < go.len() && client.can_submit() {
            client
                .submit(Command::Dele(go[next].entry.key.number))
                .map_err(|e| e.message)?;
            next += 1;
        }
        if client.in_flight() == 0 {
            return Ok(());
        }
        let a = client.recv().map_err(|e| e.message)?;
        if let Err(e) = a.result {
            return Err(sanitize::line(&e.message));
        }
    }
}

fn summary(out: &mut dyn Write, items: &[Item], dest: &Destination, deleted: usize) -> Result<()> {
    let now: Vec<&Item> = items
        .iter()
        .filter(|i| matches!(i.saved, Fate::Now { .. }))
        .collect();
    let bytes: u64 = now.iter().map(|i| i.entry.size).sum();
    let before = items
        .iter()
        .filter(|i| matches!(i.saved, Fate::Before { .. }))
        .count();
    let failed = items.len() - now.len() - before;
    let (kind, path) = match dest {
        Destination::Maildir(p) => ("Maildir", p),
        Destination::Mbox(p) => ("mbox", p),
    };
    let mut line = format!(
        "saved {} ({}) into the {kind} {}",
        messages(now.len()),
        human(bytes),
        sanitize::line(&path.display().to_string())
    );
    if before > 0 {
        line.push_str(&format!("; {before} saved before"));
    }
    if failed > 0 {
        line.push_str(&format!("; {failed} not saved"));
    }
    if deleted > 0 {
        line.push_str(&format!("; {deleted} deleted from the server"));
    }
    writeln!(out, "{line}").map_err(io_err)
}

/// Connect and log in, then LIST and UIDL; a passing failure is tried
/// again as [`Engine::open`] does.
pub(super) fn open_session(cfg: &WorkerConfig) -> Result<(Client<Stream>, Listing)> {
    let mut password = cfg.password.clone();
    with_retries(
        MAX_ATTEMPTS,
        GIVE_UP_AFTER,
        &mut |msg| eprintln!("popview: {msg}"),
        || open_once(cfg, &mut password),
    )
}

fn open_once(
    cfg: &WorkerConfig,
    password: &mut Option<crate::password::Password>,
) -> Result<(Client<Stream>, Listing)> {
    let from = |e: crate::pop3::Error| CmdError::from_kind(e.kind, &e.message);
    let trace = match &cfg.trace {
        Some(p) => Some(Trace::open_file(p).map_err(from)?),
        None => None,
    };
    let secrets = crate::pop3::Secrets::of(&Credentials::new(
        cfg.user.clone(),
        password.as_ref().map_or("", |p| p.expose()),
    ));
    // The certificate is checked before a password is asked for or sent.
    let conn = crate::pop3::transport::connect_as(&cfg.connect, &secrets, trace).map_err(from)?;
    let mut client = conn.client;
    if password.is_none() {
        let typed = crate::password::prompt_password(&format!(
            "Password for {} at {}: ",
            sanitize::line(&cfg.user),
            cfg.connect.server()
        ))
        .map_err(|e| CmdError::new(exit::AUTH, format!("can't read the password: {e}")))?;
        *password = Some(typed);
    }
    let creds = Credentials::new(
        cfg.user.clone(),
        password.as_ref().map_or("", |p| p.expose()),
    );
    client.set_secrets(crate::pop3::Secrets::of(&creds));
    let (_, answers) = client
        .login_then(
            &creds,
            cfg.auth,
            cfg.allow_cleartext,
            vec![
                Command::Capa,
                Command::Stat,
                Command::List(None),
                Command::Uidl(None),
            ],
        )
        .map_err(from)?;
    let (mut count, mut list, mut uidl) = (None, None, None);
    for a in answers {
        match a.result {
            Ok(Reply::Capa(caps)) => client.set_capabilities(caps),
            Ok(Reply::Stat { count: n, .. }) => count = Some(n),
            Ok(Reply::ScanListing(v)) => list = Some(v),
            Ok(Reply::UidListing(v)) => uidl = Some(v),
            Err(e) if matches!(a.command, Command::List(_)) => return Err(from(e)),
            _ => {}
        }
    }
    let mut list = list.ok_or_else(|| {
        CmdError::new(exit::SERVER, "the server sent no answer to LIST; try again")
    })?;
    // Numbers beyond what STAT said can't be real messages (SECURITY D22).
    if let Some(n) = count {
        list.retain(|(m, _)| *m <= n);
    }
    client.set_window(cfg.pipeline_window);
    Ok((client, Listing::new(&list, uidl.as_deref())))
}

/// `1 message`, `2 messages`.
fn messages(n: usize) -> String {
    if n == 1 {
        "1 message".to_string()
    } else {
        format!("{n} messages")
    }
}

/// `1 message was`, `2 messages were`.
fn were(n: usize) -> String {
    if n == 1 {
        "1 message was".to_string()
    } else {
        format!("{n} messages were")
    }
}
