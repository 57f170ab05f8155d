//! A model-based property test of the one thing popview can't undo.
//!
//! Random sequences of what a user does (mark, undo one, undo all, commit
//! now, check for new mail, quit and start again, sit idle until popview
//! lets go of the session) interleaved with what a
//! server and the network do (a connection cut at the next command, another
//! client deleting a message, new mail, a UID reused for another message of
//! another or of the same size) drive the real worker against the
//! in-process server. The model knows every message by the server's own id,
//! which a reused UID can't fake, and checks after every step:
//!
//! - **safety**: every message popview deleted was marked by the user (on
//!   the message the user saw under that key) and confirmed by a commit;
//! - **no lost choice**: after a commit the server confirmed, no confirmed
//!   message that is still on the server is left undeleted, and the worker's
//!   marks are exactly the user's marks that are still on the server.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, MsgKey, Request};
use proptest::prelude::*;
use support::worker::{Harness, summary};

type Mem = popview::worker::persist::Memory;

#[derive(Clone, Debug)]
enum Step {
    Mark(usize),
    Unmark(usize),
    UnmarkAll,
    CommitNow,
    CheckNewMail,
    /// The connection drops at the next command that isn't part of a login.
    Cut,
    /// Another client deletes the message at this position of the maildrop.
    OtherDeletes(usize),
    NewMail,
    /// The server gives the UID of the message at this position to a new
    /// message, of the same size or not.
    ReuseUid {
        at: usize,
        same_size: bool,
    },
    /// The UI dies (no QUIT) and popview starts again on the same files.
    Restart,
    /// `r`, then a mark pressed at once on the list as it was: the mark
    /// reaches the worker while it logs in again, or in the new session.
    CheckThenMark(usize),
    /// The user sits idle until popview lets go of the session (RSET,
    /// QUIT; `WorkerConfig::release_after`); the next step connects again.
    /// Never without UIDL: popview keeps such a session.
    Release,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..16usize).prop_map(Step::Mark),
        2 => (0..16usize).prop_map(Step::Unmark),
        1 => Just(Step::UnmarkAll),
        2 => Just(Step::CommitNow),
        1 => Just(Step::CheckNewMail),
        2 => Just(Step::Cut),
        1 => (0..16usize).prop_map(Step::OtherDeletes),
        1 => Just(Step::NewMail),
        2 => (0..16usize, any::<bool>()).prop_map(|(at, same_size)| Step::ReuseUid { at, same_size }),
        1 => Just(Step::Restart),
        2 => (0..16usize).prop_map(Step::CheckThenMark),
        1 => Just(Step::Release),
    ]
}

/// A message whose size depends only on `pad`, and whose Message-ID and
/// subject name `serial` (fixed width, so two serials give equal sizes).
fn message(serial: u32, pad: usize) -> Vec<u8> {
    format!(
        "From: Sender {serial:04} <s{serial:04}@example.org>\r\n\
         Subject: {}\r\n\
         Message-ID: <{serial:04}.model@example.org>\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n\
         body {}\r\n",
        subject(serial),
        "x".repeat(pad)
    )
    .into_bytes()
}

fn subject(serial: u32) -> String {
    format!("message {serial:04}")
}

struct Model {
    server: Server,
    persist: Mem,
    cut: Arc<AtomicBool>,
    h: Option<Harness>,
    /// The listing the user sees: key and the server's id of that message.
    view: Vec<(MsgKey, u64)>,
    /// Listings received so far, by every worker: the n-th listing belongs
    /// to the n-th login the server saw.
    listings: usize,
    /// Mark writes sent to the current worker.
    writes: u64,
    /// What the user marked and has not undone, by server id.
    intent: BTreeSet<u64>,
    /// What the user confirmed with a commit, by server id.
    confirmed: BTreeSet<u64>,
    /// Every message the server ever held, by id (with its UID).
    ever: BTreeMap<u64, String>,
    /// The subject of every message the server ever held, by id.
    subjects: BTreeMap<u64, String>,
    /// The size of every message the server ever held, by id.
    sizes: BTreeMap<u64, usize>,
    /// Messages that took the UID of one of the same size.
    same_size_reuses: BTreeSet<u64>,
    /// Messages another client deleted or a UID reuse replaced.
    gone_elsewhere: BTreeSet<u64>,
    serial: u32,
    trail: Vec<String>,
    marks_since_listing: bool,
    previews_in: bool,
    commits: usize,
    /// Commits refused as coming from an older listing (no UIDL).
    refusals: usize,
    /// Marks the worker dropped and said so (see `Event::MarkDropped`).
    told_dropped: BTreeSet<u64>,
    /// The last marks the worker reported, and how many writes they settle.
    last_marks: (Vec<MsgKey>, u64),
    /// The server gives UIDs; without them a mark is a message number, good
    /// for the one listing it was made on.
    uidl: bool,
    /// `Event::Released` seen so far.
    releases: usize,
    /// Released, and no new session since.
    released: bool,
}

fn config(server: &Server) -> WorkerConfig {
    let mut c = support::worker::demo_config(server.addr().port());
    c.backoff = Duration::from_millis(20);
    c.max_backoff = Duration::from_millis(100);
    c.release_after = Some(RELEASE_AFTER);
    c
}

/// Idle time before the worker lets go (the `Release` step waits for it).
const RELEASE_AFTER: Duration = Duration::from_millis(200);

impl Model {
    fn new(start: usize, uidl: bool) -> Model {
        let cut = Arc::new(AtomicBool::new(false));
        let armed = Arc::clone(&cut);
        let opts = ServerOptions {
            hook: Some(Arc::new(move |ctx| {
                let verb = ctx.line.split(' ').next().unwrap_or("");
                let after_login =
                    matches!(verb, "DELE" | "RSET" | "QUIT" | "NOOP" | "TOP" | "RETR");
                if after_login && armed.swap(false, Ordering::SeqCst) {
                    Action::Drop
                } else {
                    Action::Normal
                }
            })),
            uidl,
            ..ServerOptions::default()
        };
        let pairs = (1..=start as u32)
            .map(|i| (format!("u{i}"), message(i, i as usize * 7)))
            .collect();
        let server = Server::start(Mailbox::from_pairs(pairs), opts).unwrap();
        let ever = server.ids().into_iter().collect();
        let mut m = Model {
            server,
            persist: Mem::default(),
            cut,
            h: None,
            view: Vec::new(),
            listings: 0,
            writes: 0,
            intent: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            ever,
            gone_elsewhere: BTreeSet::new(),
            same_size_reuses: BTreeSet::new(),
            sizes: BTreeMap::new(),
            subjects: (1..=start as u64).map(|i| (i, subject(i as u32))).collect(),
            serial: start as u32,
            trail: Vec::new(),
            marks_since_listing: false,
            previews_in: false,
            commits: 0,
            refusals: 0,
            told_dropped: BTreeSet::new(),
            last_marks: (Vec::new(), 0),
            uidl,
            releases: 0,
            released: false,
        };
        m.sizes = m
            .server
            .ids()
            .iter()
            .map(|(id, _)| (*id, m.size_of(*id)))
            .collect();
        m.start_worker();
        m
    }

    /// Send a request; a worker that ended by itself fails the case with
    /// what it said last.
    fn send(&mut self, r: Request) {
        let h = self.h.as_mut().expect("a running worker");
        if h.try_send(r).is_err() {
            while h.next(Duration::from_millis(100)).is_some() {}
            self.fail("the worker ended by itself");
        }
    }

    fn h(&mut self) -> &mut Harness {
        self.h.as_mut().expect("a running worker")
    }

    fn fail(&self, why: &str) -> ! {
        let seen = self
            .h
            .as_ref()
            .map(|h| summary(&h.seen))
            .unwrap_or_default();
        panic!(
            "{why}\nsteps:\n  {}\nintent {:?} confirmed {:?} gone elsewhere {:?}\nserver {:?}\nevents:\n{seen}",
            self.trail.join("\n  "),
            self.intent,
            self.confirmed,
            self.gone_elsewhere,
            self.server.ids(),
        );
    }

    fn start_worker(&mut self) {
        self.writes = 0;
        self.last_marks = (Vec::new(), 0);
        self.h = Some(Harness::start(
            config(&self.server),
            Box::new(self.persist.clone()),
        ));
        self.pump_until_session(self.listings + 1);
    }

    /// Take the next event; a listing becomes the view the user sees (what
    /// that session's login saw). Fails the case after the harness's wait.
    fn pump(&mut self) -> Event {
        let Some(e) = self.h().next(Duration::from_secs(10)) else {
            self.fail("timed out waiting for the worker");
        };
        match &e {
            Event::Listing { entries, .. } => {
                let logins = self.server.logins();
                let Some(seen) = logins.get(self.listings).cloned() else {
                    self.fail("a listing without a login");
                };
                self.listings += 1;
                self.released = false;
                // As the app does: the keys sent from now on are this
                // listing's.
                // (After a quit the worker may be gone already: fine.)
                let _ = self.h().try_send(Request::ListingSeen);
                self.marks_since_listing = false;
                self.previews_in = false;
                self.view = entries
                    .iter()
                    .map(|e| (e.key.clone(), seen[e.key.number as usize - 1].0))
                    .collect();
                // Messages the user marked that this listing no longer shows
                // are gone (deleted elsewhere, or their UID now names another
                // message): no mark can stay on a message that isn't there.
                let shown: BTreeSet<u64> = self.view.iter().map(|(_, id)| *id).collect();
                self.intent.retain(|id| shown.contains(id));
                if !self.uidl {
                    // Numbers mean nothing in a new listing: no mark made on
                    // an older one may carry over.
                    self.intent.clear();
                }
            }
            Event::CachedListing(entries) => {
                // The last listing the server gave (the last login's, which
                // the worker keeps even when it died before anyone saw it),
                // from the cache, before any new login: each row is the
                // message that login showed under its UID.
                // Made before this worker started: by the time this event is
                // looked at, the new worker may have logged in already.
                let logins = self.server.logins();
                let last = logins[..self.listings.min(logins.len())]
                    .last()
                    .cloned()
                    .unwrap_or_default();
                let mut view = Vec::with_capacity(entries.len());
                for e in entries {
                    let Some(id) = last
                        .iter()
                        .find(|(_, uid)| Some(uid) == e.key.uid.as_ref())
                        .map(|(id, _)| *id)
                    else {
                        self.fail(&format!(
                            "the cached listing shows {:?}, which the last login did not",
                            e.key
                        ));
                    };
                    view.push((e.key.clone(), id));
                }
                self.view = view;
                self.previews_in = false;
            }
            Event::Marks {
                marked, settled, ..
            } => {
                self.marks_since_listing = true;
                self.last_marks = (marked.clone(), *settled);
            }
            Event::Progress { done, total, .. } if done == total => self.previews_in = true,
            Event::Committed { .. } => self.commits += 1,
            Event::Released => {
                if !self.uidl {
                    self.fail(
                        "a session without UIDL was released: its number marks would be lost",
                    );
                }
                self.releases += 1;
                self.released = true;
            }
            Event::MarkDropped(d) => {
                // Told, and only right when the message the user marked is
                // gone, or was shown with another's cached preview (a
                // same-size reused UID: the Message-ID the mark kept is not
                // this message's).
                let marked: Vec<u64> = self
                    .intent
                    .iter()
                    .copied()
                    .filter(|id| self.ever.get(id) == d.key.uid.as_ref())
                    .collect();
                for id in marked {
                    if self.on_server().contains(&id) && !self.same_size_reuses.contains(&id) {
                        self.fail(&format!(
                            "the mark on {:?} was dropped, but it is there",
                            d.key
                        ));
                    }
                    self.intent.remove(&id);
                    self.told_dropped.insert(id);
                }
            }
            Event::Error(w) if w.message.contains("older list") => self.refusals += 1,
            Event::Previews(v) => {
                // A preview is the message's own, never another's that had
                // its UID (the header cache follows the mark rule).
                for (key, summary) in v {
                    let id = self
                        .view
                        .iter()
                        .find(|(k, _)| k.number == key.number)
                        .map(|(_, i)| *i);
                    // The cache is keyed by UID and size, as the issue asks:
                    // a same-size reuse can't be told from the cache alone
                    // (marks check the Message-ID with a fresh TOP instead).
                    if id.is_some_and(|i| self.same_size_reuses.contains(&i)) {
                        continue;
                    }
                    let want = id.and_then(|i| self.subjects.get(&i));
                    if want != Some(&summary.subject) {
                        self.fail(&format!(
                            "the preview of {key:?} says {:?}, the message is {want:?}",
                            summary.subject
                        ));
                    }
                }
            }
            _ => {}
        }
        e
    }

    /// Pump until at least `n` listings have arrived and the marks were
    /// re-applied to the last one.
    fn pump_until_session(&mut self, n: usize) {
        while self.listings < n || !self.marks_since_listing {
            self.pump();
        }
    }

    /// Pump until every preview of the current session is in (a mark's
    /// Message-ID is known once its preview is).
    fn previews(&mut self) {
        while !self.previews_in || !self.marks_since_listing {
            self.pump();
        }
    }

    /// Pump until the worker has settled every mark write sent so far, then
    /// check that its marks are the user's.
    fn settle(&mut self) {
        while self.last_marks.1 < self.writes {
            self.pump();
        }
        let marked = self.last_marks.0.clone();
        self.check_marks(&marked);
    }

    /// No lost choice, no extra one: the worker's marks are the user's
    /// marks on the messages of the view.
    /// A mark the crashed worker dropped on its way out (a mark made while
    /// released reconnects; the session's Message-ID check then finds a
    /// same-size reuse, or the message gone) was told to a UI that died
    /// with it: as for `MarkDropped`, it leaves the intent, and only for
    /// those reasons. Any other mark missing from the saved marks is lost.
    fn drops_told_to_the_dead_ui(&mut self) {
        if !self.uidl {
            return;
        }
        let saved: BTreeSet<String> = self.persist.state().marked_uids().into_iter().collect();
        let on_server = self.on_server();
        let missing: Vec<u64> = self
            .intent
            .iter()
            .copied()
            .filter(|id| self.ever.get(id).is_none_or(|uid| !saved.contains(uid)))
            .collect();
        for id in missing {
            if on_server.contains(&id) && !self.same_size_reuses.contains(&id) {
                self.fail(&format!("the mark on message {id} was lost in a crash"));
            }
            self.intent.remove(&id);
            self.told_dropped.insert(id);
        }
    }

    fn check_marks(&self, marked: &[MsgKey]) {
        if !self.uidl {
            // The worker's numbers may already be a newer listing's than the
            // view; safety is checked by what the server deleted.
            return;
        }
        let want: BTreeSet<String> = self
            .view
            .iter()
            .filter(|(_, id)| self.intent.contains(id))
            .filter_map(|(k, _)| k.uid.clone())
            .collect();
        let mut got: BTreeSet<String> = marked.iter().filter_map(|k| k.uid.clone()).collect();
        // A mark whose UID now names a message of the same size (a reuse)
        // waits for its fresh Message-ID check (`TOP n 0` at the start of a
        // session), which a cut can put off to the next session: until
        // then the worker keeps it, unapplied. Safety is checked apart.
        got.retain(|uid| {
            want.contains(uid)
                || !self.view.iter().any(|(k, id)| {
                    k.uid.as_ref() == Some(uid) && self.same_size_reuses.contains(id)
                })
        });
        if got != want {
            self.fail(&format!(
                "the worker's marks {got:?} are not the user's {want:?}"
            ));
        }
    }

    fn row(&self, i: usize) -> Option<(MsgKey, u64)> {
        (!self.view.is_empty()).then(|| self.view[i % self.view.len()].clone())
    }

    /// The size of a message on the server now (0 when it isn't there).
    fn size_of(&self, id: u64) -> usize {
        self.server
            .messages()
            .into_iter()
            .zip(self.server.ids())
            .find(|(_, (i, _))| *i == id)
            .map(|((_, b), _)| b.len())
            .unwrap_or(0)
    }

    fn new_message(&mut self, same_size_as: Option<u64>) -> Vec<u8> {
        self.serial += 1;
        let pad = match same_size_as {
            Some(id) => self
                .size_of(id)
                .saturating_sub(message(self.serial, 0).len()),
            None => (self.serial as usize * 13) % 50,
        };
        message(self.serial, pad)
    }

    fn apply(&mut self, s: &Step) {
        self.trail.push(format!("{s:?}"));
        match *s {
            Step::Mark(i) => {
                self.previews();
                let Some((key, id)) = self.row(i) else { return };
                let seen_before = self.h().seen.len();
                self.writes += 1;
                self.send(Request::Mark(key.clone()));
                // Marked unless refused with words (that message is gone).
                let was_marked = !self.intent.insert(id);
                self.settle_mark(&key, id, seen_before, was_marked);
            }
            Step::Unmark(i) => {
                let Some((key, id)) = self.row(i) else { return };
                self.writes += 1;
                self.send(Request::Unmark(key));
                self.intent.remove(&id);
                self.settle();
            }
            Step::UnmarkAll => {
                self.writes += 1;
                self.send(Request::UnmarkAll);
                self.intent.clear();
                self.settle();
            }
            Step::CommitNow => {
                if self.intent.is_empty() && self.last_marks.0.is_empty() {
                    // The UI says "nothing to commit" and sends nothing.
                    return;
                }
                let (commits, refusals) = (self.commits, self.refusals);
                let confirmed_now = self.intent.clone();
                self.confirmed.extend(confirmed_now.iter().copied());
                self.send(Request::CommitNow);
                while self.commits == commits && self.refusals == refusals {
                    self.pump();
                }
                if self.refusals != refusals {
                    // Without UIDL, a commit of marks made on an older
                    // listing is refused with words: nothing is deleted.
                    if self.uidl {
                        self.fail("a commit was refused as from an older list with UIDL");
                    }
                    self.intent.clear();
                    return self.check_safety();
                }
                self.intent.clear();
                let listings = self.listings;
                self.pump_until_session(listings + 1);
                // The server confirmed it: nothing confirmed is left behind
                // (without UIDL a reconnect may have dropped number marks,
                // said so: only safety holds).
                if !self.uidl {
                    return self.check_safety();
                }
                let on_server = self.on_server();
                if let Some(left) = confirmed_now
                    .iter()
                    .find(|i| on_server.contains(i) && !self.told_dropped.contains(i))
                {
                    self.fail(&format!(
                        "confirmed message {left} survived a confirmed commit"
                    ));
                }
            }
            Step::CheckNewMail => {
                let listings = self.listings;
                self.send(Request::CheckNewMail);
                self.pump_until_session(listings + 1);
            }
            Step::CheckThenMark(i) => {
                self.previews();
                let Some((key, id)) = self.row(i) else { return };
                let (listings, seen_before) = (self.listings, self.h().seen.len());
                self.send(Request::CheckNewMail);
                self.writes += 1;
                self.send(Request::Mark(key.clone()));
                // The user meant the message they saw: if the new listing
                // still has it, the mark is kept; if not, it must be refused.
                let was_marked = !self.intent.insert(id);
                self.pump_until_session(listings + 1);
                self.settle_mark(&key, id, seen_before, was_marked);
            }
            Step::Release => {
                if !self.uidl || self.released {
                    // Kept without UIDL; already let go.
                    return;
                }
                // Idle: every preview in, marks settled; then nothing is sent
                // until the worker lets go.
                self.previews();
                self.settle();
                let releases = self.releases;
                while self.releases == releases {
                    self.pump();
                }
            }
            Step::Cut => self.cut.store(true, Ordering::SeqCst),
            Step::OtherDeletes(i) => {
                let ids = self.server.ids();
                if ids.is_empty() {
                    return;
                }
                let (id, uid) = ids[i % ids.len()].clone();
                self.server.remove_message(&uid);
                self.gone_elsewhere.insert(id);
            }
            Step::NewMail => {
                let bytes = self.new_message(None);
                let uid = format!("u{}", self.serial);
                self.server.add_message(uid.clone(), bytes);
                let id = self.server.ids().last().expect("just added").0;
                self.sizes.insert(id, self.size_of(id));
                self.ever.insert(id, uid);
                self.subjects.insert(id, subject(self.serial));
            }
            Step::ReuseUid { at, same_size } => {
                let ids = self.server.ids();
                if ids.is_empty() {
                    return;
                }
                let (old, uid) = ids[at % ids.len()].clone();
                let bytes = self.new_message(same_size.then_some(old));
                let new = self.server.reuse_uid(&uid, bytes);
                self.sizes.insert(new, self.size_of(new));
                self.gone_elsewhere.insert(old);
                // Sizes may match by chance too, and a cache may hold any
                // earlier message of this UID: what counts is whether one of
                // them had this size.
                let size = self.sizes[&new];
                if self
                    .ever
                    .iter()
                    .any(|(id, u)| *u == uid && self.sizes.get(id) == Some(&size))
                {
                    self.same_size_reuses.insert(new);
                }
                self.ever.insert(new, uid);
                self.subjects.insert(new, subject(self.serial));
            }
            Step::Restart => {
                if let Some(h) = self.h.take() {
                    h.crash();
                }
                self.drops_told_to_the_dead_ui();
                // A login the dead worker made on its way out (its listing
                // never reached anyone) is not the new worker's.
                self.listings = self.server.logins().len();
                self.start_worker();
            }
        }
        self.check_safety();
    }

    /// After a mark: settled, and either kept or refused with words; a
    /// refusal is only right for a message that is no longer there (or no
    /// longer the one the user saw).
    fn settle_mark(&mut self, key: &MsgKey, id: u64, seen_before: usize, was_marked: bool) {
        while self.last_marks.1 < self.writes {
            self.pump();
        }
        let refused = self.h.as_ref().expect("worker").seen[seen_before..]
            .iter()
            .any(|e| matches!(e, Event::MarkRefused { key: k, .. } if k == key));
        if refused {
            let there = self.on_server().contains(&id) && self.view.iter().any(|(_, i)| *i == id);
            // A mark pressed on the list before a re-login reached the
            // screen is refused too: it may name another message now.
            let out_of_date = self.h.as_ref().expect("worker").seen[seen_before..]
                .iter()
                .any(|e| matches!(e, Event::MarkRefused { reason, .. } if reason.contains("out of date")));
            // Without UIDL a mark on an older listing is refused even if the
            // message is still there: its number may mean another one now.
            if self.uidl && there && !out_of_date {
                self.fail(&format!("the mark on {key:?} was refused, but it is there"));
            }
            if !was_marked {
                // A refused second press leaves the first mark alone.
                self.intent.remove(&id);
            }
        }
        let marked = self.last_marks.0.clone();
        self.check_marks(&marked);
    }

    fn on_server(&self) -> BTreeSet<u64> {
        self.server.ids().into_iter().map(|(i, _)| i).collect()
    }

    /// Every message popview deleted was marked and confirmed.
    fn check_safety(&self) {
        let on_server: BTreeSet<u64> = self.server.ids().into_iter().map(|(i, _)| i).collect();
        for id in self.ever.keys() {
            let deleted_by_us = !on_server.contains(id) && !self.gone_elsewhere.contains(id);
            if deleted_by_us && !self.confirmed.contains(id) {
                self.fail(&format!(
                    "message {id} ({}) was deleted but the user never confirmed it",
                    self.ever[id]
                ));
            }
        }
    }

    /// At the end: quit with commit; every message the user still has
    /// marked is deleted, and nothing else.
    fn finish(mut self) {
        self.cut.store(false, Ordering::SeqCst);
        self.settle();
        let final_marks = self.intent.clone();
        self.confirmed.extend(final_marks.iter().copied());
        self.send(Request::Quit { commit: true });
        loop {
            if let Event::Closed { .. } = self.pump() {
                break;
            }
        }
        self.check_safety();
        if !self.uidl {
            // Number marks may have been dropped by a reconnect the model
            // did not see yet (said so by the worker): only safety holds.
            return;
        }
        if !final_marks.is_empty() && self.commits == 0 {
            self.fail("the final commit did not happen");
        }
        let on_server = self.on_server();
        if let Some(left) = final_marks
            .iter()
            .find(|i| on_server.contains(i) && !self.told_dropped.contains(i))
        {
            self.fail(&format!(
                "confirmed message {left} survived the final commit"
            ));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn deleted_is_always_a_subset_of_marked_and_confirmed(
        start in 2usize..7,
        steps in prop::collection::vec(step(), 1..14),
    ) {
        let mut m = Model::new(start, true);
        for s in &steps {
            m.apply(s);
        }
        m.finish();
    }

    /// Without UIDL a mark is a message number, valid for one listing: none
    /// may ever be applied to another listing's message.
    #[test]
    fn without_uidl_no_number_mark_crosses_a_listing(
        start in 2usize..7,
        steps in prop::collection::vec(step(), 1..14),
    ) {
        let mut m = Model::new(start, false);
        for s in &steps {
            m.apply(s);
        }
        m.finish();
    }
}

/// Found by the model: a mark made while released on a message whose UID
/// another message of the same size took meanwhile; the session that would
/// check it is cut, and an undo comes while offline.
#[test]
fn a_mark_made_while_released_waits_for_its_check_across_a_cut() {
    let mut m = Model::new(5, true);
    for s in [
        Step::Release,
        Step::CommitNow,
        Step::Cut,
        Step::ReuseUid {
            at: 11,
            same_size: true,
        },
        Step::Cut,
        Step::ReuseUid {
            at: 2,
            same_size: true,
        },
        Step::Mark(8),
        Step::Unmark(5),
    ] {
        m.apply(&s);
    }
    m.finish();
}
