//! The user's writes within a session: marks (DELE), undo (RSET and the
//! others marked again), undo all, commit (QUIT) and leaving without
//! deleting. Never reordered, never dropped.

use super::*;
use tracing::{debug, info};

impl Worker {
    /// DELE every intended mark not applied in this session (pipelined);
    /// a refusal keeps the mark (the intent) and is reported. Returns how
    /// many were applied.
    pub(super) fn apply_unapplied(&mut self, s: &mut Session) -> Result<usize, Error> {
        let (ok, failed) = self.dele_unapplied(s)?;
        for (n, e) in failed {
            let e = e.reword(|m| format!("could not mark message {n} for deletion: {m}"));
            self.error(&e, false);
        }
        Ok(ok)
    }

    /// The pipelined DELE of every unapplied mark: how many the server
    /// accepted, and the refusals in order.
    fn dele_unapplied(&mut self, s: &mut Session) -> Result<(usize, Vec<(u32, Error)>), Error> {
        let todo = self.marks.unapplied(&s.listing);
        let mut ok = 0;
        let mut failed = Vec::new();
        s.client
            .pipeline(todo.iter().map(|n| Command::Dele(*n)), |a| {
                if let Command::Dele(n) = a.command {
                    match a.result {
                        Ok(_) => {
                            ok += 1;
                            self.marks.applied(n);
                        }
                        Err(e) => failed.push((n, e)),
                    }
                }
                Ok(())
            })?;
        for &n in &todo {
            match failed.iter().find(|(f, _)| *f == n) {
                None => debug!(number = n, uid = %self.logged_uid(&s.listing, n), "mark applied"),
                Some((_, e)) => info!(
                    number = n,
                    uid = %self.logged_uid(&s.listing, n),
                    kind = ?e.kind,
                    reason = %self.logged(&e.message),
                    "mark refused by the server (DELE)"
                ),
            }
        }
        Ok((ok, failed))
    }

    /// Apply queued writes in order. Exclusive ones wait for the pipe to
    /// drain. A run of marks is written to disk and reported once, at its
    /// end or before the next write that is not a mark.
    pub(super) fn run_ops(&mut self, s: &mut Session) -> Result<Option<Exit>, Error> {
        let result = self.run_ops_deferring(s);
        // While more marks of the run wait for room in the pipe, the file
        // and the report wait too (one each per run, not per window); the
        // session's end flushes them as well.
        let more_marks = matches!(self.ops.front(), Some(Op::Mark { .. }));
        if result.is_err() || !more_marks {
            self.flush_marks();
        }
        result
    }

    fn run_ops_deferring(&mut self, s: &mut Session) -> Result<Option<Exit>, Error> {
        while let Some(exclusive) = self.ops.front().map(Op::exclusive) {
            let ready = if exclusive {
                s.client.in_flight() == 0
            } else {
                s.client.can_submit()
            };
            if !ready {
                return Ok(None);
            }
            let Some(op) = self.ops.pop_front() else {
                break;
            };
            if !matches!(op, Op::Mark { .. }) {
                self.flush_marks();
            }
            match op {
                Op::Mark { key, shown } => {
                    self.defer_marks();
                    self.writes_settled += 1;
                    self.mark(key, shown, s)?;
                }
                Op::Undo(Undo::One(key)) => {
                    // A run of single undos (a bulk undo) takes one RSET.
                    let mut keys = vec![key];
                    while let Some(Op::Undo(Undo::One(_))) = self.ops.front() {
                        if let Some(Op::Undo(Undo::One(k))) = self.ops.pop_front() {
                            keys.push(k);
                        }
                    }
                    self.writes_settled += keys.len() as u64;
                    self.undo_some(keys, s)?;
                }
                Op::Undo(Undo::All) => {
                    self.writes_settled += 1;
                    self.undo_all(s)?;
                }
                Op::Session(op) => {
                    if let Some(exit) = self.session_op(op, s)? {
                        return Ok(Some(exit));
                    }
                }
                Op::Save(job) => self.run_save(*job, s)?,
            }
        }
        Ok(None)
    }

    pub(super) fn mark(
        &mut self,
        key: MsgKey,
        shown: Option<u64>,
        s: &mut Session,
    ) -> Result<(), Error> {
        if s.listing.is_stale(&key) {
            self.stale_ui = true;
            self.refuse_mark(key, stale_key("nothing was marked"));
            return Ok(());
        }
        let Some(m) = s.listing.resolve(&key).cloned() else {
            self.refuse_mark(key, "that message is no longer on the server".into());
            return Ok(());
        };
        if m.ambiguous {
            // SECURITY D23: its UID is shared, so a mark kept by UID could
            // turn into two deletions after a reconnect.
            let reason = format!(
                "message {} shares its unique id with another message; popview won't mark it, \
                 so one mark can't delete two messages",
                m.number
            );
            self.refuse_mark(key, reason);
            return Ok(());
        }
        if let Some(why) = out_of_date(&key, shown, s.listing.generation) {
            self.refuse_mark(key, why);
            return Ok(());
        }
        let key = s.listing.key(&m);
        // The UI wrote with a key of this listing: it shows this listing.
        self.stale_ui = false;
        if self.marks.contains(&key) {
            self.send_marks();
            return Ok(());
        }
        let mark = Mark::new(key, &m, self.cached_preview(&m));
        self.marks.add(mark);
        self.persist_marks();
        self.send_marks();
        debug!(number = m.number, uid = %self.logged_uid(&s.listing, m.number), "mark sent (DELE)");
        s.client
            .submit_tagged(Command::Dele(m.number), Purpose::Mark(m.number))
    }

    fn refuse_mark(&mut self, key: MsgKey, reason: String) {
        info!(
            number = key.number,
            uid = %key.uid.as_deref().map_or_else(|| "-".to_string(), |u| self.logged(u)),
            reason = %self.logged(&reason),
            "mark refused"
        );
        self.send(Event::MarkRefused { key, reason });
        self.send_marks();
    }

    /// Take some marks back (after the pipe drained): one RSET for all of
    /// them when any was applied in this session, then the others are
    /// marked again.
    fn undo_some(&mut self, keys: Vec<MsgKey>, s: &mut Session) -> Result<(), Error> {
        let mut removed = Vec::new();
        for key in keys {
            if s.listing.is_stale(&key) {
                // Its mark was dropped with the older listing; the
                // number may name another message now.
                self.stale_ui = true;
                self.refuse_mark(key, stale_key("the undo was not applied"));
                continue;
            }
            if key.uid.is_none() {
                self.stale_ui = false;
            }
            self.gone_marks.retain(|u| key.uid.as_ref() != Some(u));
            removed.extend(self.marks.remove(&key));
        }
        if removed.is_empty() {
            self.send_marks();
            return Ok(());
        }
        self.persist_marks();
        if !self.marks.stale_applied(&s.listing).is_empty() {
            // POP3 can't undo one DELE: RSET undoes all, then the
            // others are marked again.
            match s.client.rset() {
                Ok(()) => {
                    self.marks.session_reset();
                    self.apply_unapplied(s)?;
                }
                Err(e) if !e.is_fatal_to_session() => {
                    let what = if removed.len() == 1 {
                        "the mark stays"
                    } else {
                        "the marks stay"
                    };
                    for mark in removed {
                        self.marks.add(mark);
                    }
                    self.persist_marks();
                    let e = e.reword(|m| format!("the server refused RSET, so {what}: {m}"));
                    self.error(&e, false);
                }
                Err(e) => {
                    // The session is gone, and with it every DELE:
                    // the intent is already updated on disk.
                    self.send_marks();
                    return Err(e);
                }
            }
        }
        self.send_marks();
        Ok(())
    }

    fn undo_all(&mut self, s: &mut Session) -> Result<(), Error> {
        self.stale_ui = false;
        match s.client.rset() {
            Ok(()) => {
                self.gone_marks.clear();
                self.marks.clear_intent();
                self.marks.session_reset();
                self.persist_marks();
            }
            Err(e) if !e.is_fatal_to_session() => {
                let e = e.reword(|m| format!("the server refused RSET, so the marks stay: {m}"));
                self.error(&e, false);
            }
            Err(e) => {
                self.gone_marks.clear();
                self.marks.clear_intent();
                self.persist_marks();
                self.send_marks();
                return Err(e);
            }
        }
        self.send_marks();
        Ok(())
    }

    /// Check for new mail, commit or quit (after the pipe drained).
    pub(super) fn session_op(
        &mut self,
        op: SessionOp,
        s: &mut Session,
    ) -> Result<Option<Exit>, Error> {
        match op {
            SessionOp::CheckNewMail => self.check_new_mail(s),
            SessionOp::CommitNow if self.commit_refers_to_older_listing(s) => {
                self.error(&Error::local(stale_commit()), false);
                Ok(None)
            }
            SessionOp::Quit { commit: true } if self.commit_refers_to_older_listing(s) => {
                self.flush_previews(s, true);
                self.save_cache();
                self.error(&Error::local(stale_commit()), false);
                end_without_deleting(s);
                Ok(Some(Exit::Done(false)))
            }
            SessionOp::CommitNow => match self.commit(s) {
                Ok(()) => Ok(Some(Exit::Renew)),
                // As for a quit with commit (below): the connection broke on
                // the way, so the commit is tried again on a new session.
                Err(e) if e.is_fatal_to_session() => {
                    self.ops.push_front(Op::Session(SessionOp::CommitNow));
                    Err(e)
                }
                Err(e) => {
                    // Refused: nothing was deleted; the marks are kept. A
                    // fresh session shows the truth.
                    self.error(&e, false);
                    s.client.stream().shutdown();
                    Ok(Some(Exit::Renew))
                }
            },
            SessionOp::Quit { commit: true } => {
                self.flush_previews(s, true);
                self.save_cache();
                match self.commit(s) {
                    Ok(()) => Ok(Some(Exit::Done(true))),
                    // The connection broke on the way, before QUIT or before
                    // its answer: "delete and quit" still stands. It is
                    // tried again on a new session (within the retry
                    // policy), whose listing shows what a QUIT that did
                    // arrive already deleted; the rest is marked again.
                    Err(e) if e.is_fatal_to_session() => {
                        self.ops
                            .push_front(Op::Session(SessionOp::Quit { commit: true }));
                        Err(e)
                    }
                    Err(e) => {
                        self.error(&e, true);
                        Ok(Some(Exit::Done(false)))
                    }
                }
            }
            SessionOp::Quit { commit: false } => {
                self.flush_previews(s, true);
                self.save_cache();
                if !self.keep_marks_at_quit {
                    self.marks.clear_intent();
                    self.persist_marks();
                }
                end_without_deleting(s);
                Ok(Some(Exit::Done(false)))
            }
        }
    }

    /// `r`: a new session beside this one, or, when the server locks the
    /// maildrop per session, this one ended first.
    fn check_new_mail(&mut self, s: &mut Session) -> Result<Option<Exit>, Error> {
        // With LOGIN-DELAY, ending this session would leave the user
        // offline for the rest of the delay: keep it and say when.
        if let (Some(delay), Some(last)) = (self.login_delay, self.last_login) {
            let left = Duration::from_secs(delay).saturating_sub(last.elapsed());
            if !left.is_zero() {
                info!(
                    login_delay_secs = delay,
                    left_secs = left.as_secs(),
                    "LOGIN-DELAY: check for new mail postponed, session kept"
                );
                self.notice(format!(
                    "the server allows one login every {delay} seconds: \
                     check again in {} s",
                    left.as_secs().max(1)
                ));
                return Ok(None);
            }
        }
        // A POP3 session sees the maildrop as it was at login, so new
        // mail needs a new one. It is opened first, beside this one:
        // if it can't be had (the server busy, the network gone), the
        // user keeps a working session instead of nothing. Then this
        // one ends without deleting anything (RSET, QUIT; or a drop),
        // and the marks are re-applied in the new one.
        self.flush_previews(s, true);
        self.save_cache();
        self.notice("checking for new mail");
        if !self.maildrop_locked_per_session {
            // Connected, then logged in (or not): a connection that
            // can't be had says nothing about a lock.
            let next = self
                .connect()
                .map(|conn| self.log_in_within(conn, Some(SECOND_LOGIN_SILENCE)));
            match next {
                Ok(Ok(next)) => {
                    info!("r: new session opened beside the old one; swapping");
                    end_without_deleting(s);
                    return Ok(Some(Exit::Swap(Box::new(next))));
                }
                // The server locks the maildrop for the session
                // (RFC 1939's lock; Dovecot's pop3_lock_session,
                // which holds the login about 13 s, then answers
                // `[IN-USE]`): no second session while this one
                // lives. Only then end this one first, as there is
                // no other way to see new mail; the server has just
                // answered us, so the new login is likely to work,
                // and if it doesn't, the retry policy reconnects
                // (what `r` always did before). Remembered, so later
                // checks don't knock first.
                Ok(Err(e)) if e.kind == ErrorKind::InUse || e.kind == ErrorKind::Timeout => {
                    info!(
                        kind = ?e.kind,
                        "r: the server locks the maildrop per session; ending this one first"
                    );
                    self.maildrop_locked_per_session = true;
                }
                Ok(Err(e)) | Err(e) => {
                    info!(
                        kind = ?e.kind,
                        error = %self.logged(&e.message),
                        "r: no new session; keeping this one"
                    );
                    let e = e.reword(|m| {
                        format!(
                            "could not check for new mail ({m}); still connected, \
                             showing the mailbox as it was; press r to try again"
                        )
                    });
                    self.error(&e, false);
                    return Ok(None);
                }
            }
        }
        debug!("r: ending this session before opening the next");
        end_without_deleting(s);
        Ok(Some(Exit::Renew))
    }

    /// Make the server's marks equal the intent, then QUIT. Any doubt (a DELE
    /// refused, RSET refused, QUIT refused) means no QUIT, or marks kept.
    pub(super) fn commit(&mut self, s: &mut Session) -> Result<(), Error> {
        if !s.listing.has_uids && !self.marks.uids().is_empty() {
            return Err(Error::local(
                "the server gave no unique ids in this session, so the marks can't be matched \
                 to messages; nothing was deleted and the marks are kept",
            ));
        }
        if !self.marks.stale_applied(&s.listing).is_empty() {
            s.client.rset()?;
            self.marks.session_reset();
        }
        let (_, failed) = self.dele_unapplied(s)?;
        if let Some((n, e)) = failed.into_iter().next() {
            info!(number = n, kind = ?e.kind, "commit not sent: a mark was refused; dropping the session");
            // Never QUIT with an unknown set of deletions (SECURITY E27):
            // drop the session, which deletes nothing.
            s.client.stream().shutdown();
            return Err(e.reword(|m| {
                format!("message {n} could not be marked ({m}); nothing was deleted and the marks are kept")
            }));
        }
        let keys = self.marks.keys();
        let mut deleted = Vec::new();
        let mut already_gone = self.gone_marks.clone();
        for k in &keys {
            match s.listing.resolve(k) {
                Some(m) if self.marks.is_applied(m.number) => deleted.push(k.clone()),
                _ => already_gone.push(k.uid.clone().unwrap_or_else(|| k.number.to_string())),
            }
        }
        info!(
            marks = keys.len(),
            deleting = deleted.len(),
            already_gone = already_gone.len(),
            "commit sent (QUIT)"
        );
        match s.client.quit() {
            Ok(()) => {
                info!(deleted = deleted.len(), "commit confirmed");
                self.quit_unconfirmed = false;
                self.gone_marks.clear();
                for k in &keys {
                    self.marks.remove(k);
                }
                for m in &deleted {
                    if let Some(uid) = &m.uid {
                        self.cache.remove(uid);
                        self.cache_dirty = true;
                    }
                }
                self.persist_marks();
                self.keep_listing_after_commit(&s.listing, &deleted);
                self.send(Event::Committed {
                    deleted: deleted.len(),
                    already_gone,
                });
                self.send_marks();
                Ok(())
            }
            Err(e) => {
                info!(
                    kind = ?e.kind,
                    error = %self.logged(&e.message),
                    "commit unknown: QUIT not confirmed; marks kept"
                );
                self.quit_unconfirmed = true;
                Err(e.reword(|m| {
                    format!(
                        "the server did not confirm the deletion ({m}); the marks are kept and \
                         the next session will check what is really gone"
                    )
                }))
            }
        }
    }
}

/// How long a second login (beside a live session) may leave the server
/// silent before it is taken for a wait on the maildrop lock.
const SECOND_LOGIN_SILENCE: Duration = Duration::from_secs(4);

impl Worker {
    /// Server without UIDL, and the UI may still show an older listing: a
    /// commit it asks for might mean marks made there.
    fn commit_refers_to_older_listing(&self, s: &Session) -> bool {
        self.stale_ui && !s.listing.has_uids
    }

    /// A new session: check every mark against the new listing before it
    /// is applied again (see `worker::marks`), tell the user about each
    /// mark dropped, check the Message-ID of those that know one with a
    /// fresh `TOP n 0`, then DELE the rest. An error ends the session.
    pub(super) fn remap_marks(&mut self, s: &mut Session) -> Result<(), Error> {
        // Without UIDs this time nothing can be matched: UID marks are
        // kept as they are, unapplied, and a commit refuses to run.
        if !s.listing.has_uids && !self.marks.uids().is_empty() {
            self.notice(
                "the server gave no unique ids this time, so the pending marks can't be \
                 matched to messages; they are kept, and nothing will be deleted",
            );
            let numbers = self.marks.drop_number_marks();
            info!(
                uid_marks = self.marks.uids().len(),
                "no UIDL this session: UID marks kept unapplied"
            );
            self.numbers_dropped(numbers.len());
            return Ok(());
        }
        let r = self.marks.remap(&s.listing);
        let changed = !(r.gone.is_empty()
            && r.dropped.is_empty()
            && r.numbers.is_empty()
            && r.uid_only.is_empty());
        if !r.gone.is_empty() {
            for uid in r.gone.iter().filter_map(|m| m.key.uid.clone()) {
                if !self.gone_marks.contains(&uid) {
                    self.gone_marks.push(uid);
                }
            }
            info!(
                gone = r.gone.len(),
                "marks dropped at the new session: no longer on the server"
            );
            self.notice(format!(
                "{} marked message(s) are no longer on the server",
                r.gone.len()
            ));
        }
        self.numbers_dropped(r.numbers.len());
        if !r.uid_only.is_empty() {
            self.notice(format!(
                "{} deletion mark(s) saved by an older popview knew only the unique id: they \
                 were matched by unique id alone; check them before committing",
                r.uid_only.len()
            ));
        }
        let mut dropped = r.dropped;
        dropped.extend(self.check_marks(s, &r.to_check)?);
        let changed = changed || !dropped.is_empty();
        for (mark, reason) in dropped {
            info!(
                number = mark.key.number,
                uid = %mark.key.uid.as_deref().map_or_else(|| "-".to_string(), |u| self.logged(u)),
                reason = drop_kind(&reason),
                "mark dropped at the new session"
            );
            self.send(Event::MarkDropped(DroppedMark {
                key: mark.key,
                from: mark.from,
                subject: mark.subject,
                reason,
            }));
        }
        if changed {
            self.persist_marks();
        }
        Ok(())
    }

    fn numbers_dropped(&mut self, n: usize) {
        if n > 0 {
            info!(
                dropped = n,
                reason = "message numbers change between sessions",
                "number marks dropped at the new session"
            );
            self.stale_ui = true;
            self.notice(format!(
                "{n} mark(s) on messages without a unique id were dropped: message numbers \
                 change between sessions; nothing was deleted for them"
            ));
        }
    }

    /// Fetch `TOP n 0` afresh for these marked messages (pipelined) and
    /// drop each mark whose message now has another Message-ID, or that
    /// can't be checked. Returns the dropped marks.
    fn check_marks(
        &mut self,
        s: &mut Session,
        numbers: &[u32],
    ) -> Result<Vec<super::super::marks::Dropped>, Error> {
        let mut dropped = Vec::new();
        if numbers.is_empty() {
            return Ok(dropped);
        }
        if s.has_top {
            let listing = &s.listing;
            let marks = &mut self.marks;
            let cmds: Vec<Command> = numbers
                .iter()
                .map(|&n| Command::Top {
                    msg: n,
                    lines: 0,
                    size: listing.get(n).map(|m| m.size),
                })
                .collect();
            s.client.pipeline(cmds, |a| {
                if let Command::Top { msg, .. } = a.command {
                    let fresh = match a.result {
                        Ok(Reply::Body(body)) => Ok(mail::summarize(&body.data).message_id),
                        Ok(_) => Err("the server sent no headers".to_string()),
                        Err(e) => Err(format!("the server said: {}", sanitize::line(&e.message))),
                    };
                    dropped.extend(marks.checked(
                        msg,
                        listing,
                        fresh.as_deref().map_err(Clone::clone),
                    ));
                }
                Ok(())
            })?;
        }
        dropped.extend(self.marks.unchecked(if s.has_top {
            "could not be checked to be the same message before deleting it (no answer)"
        } else {
            "could not be checked to be the same message before deleting it (the server has \
             no TOP command)"
        }));
        Ok(dropped)
    }

    /// Without a session: a mark on a message of the last listing changes
    /// only the intent (kept on disk, applied at the next session after
    /// the same checks as any restored mark). A key that listing can't
    /// name (or one without UID: a number needs its session) is refused.
    pub(super) fn mark_offline(&mut self, key: MsgKey, shown: Option<u64>) {
        let generation = self.last_listing.as_ref().map_or(0, |l| l.generation);
        if let Some(why) = out_of_date(&key, shown, generation) {
            self.refuse_mark(key, why);
            return;
        }
        let found = self
            .last_listing
            .as_ref()
            .filter(|l| !l.is_stale(&key))
            .and_then(|l| l.resolve(&key).map(|m| (l.key(m), m.clone())));
        let Some((key, m)) = found.filter(|(k, m)| k.uid.is_some() && !m.ambiguous) else {
            info!(
                number = key.number,
                "mark refused: offline, and no unique id to keep it by"
            );
            self.send(Event::MarkRefused {
                key,
                reason: "not connected: only a message with a unique id can be marked \
                         while popview is offline; nothing was marked"
                    .into(),
            });
            return;
        };
        if !self.marks.contains(&key) {
            debug!(
                uid = %key.uid.as_deref().map_or_else(|| "-".to_string(), |u| self.logged(u)),
                "mark kept offline (applied at the next session)"
            );
            let mark = Mark::new(key, &m, self.cached_preview(&m));
            self.marks.add(mark);
        }
    }

    /// Another popview holds the account: marks, undo and commit are
    /// refused here (quit never commits). `None` when the request was
    /// answered here; otherwise the request to take in.
    pub(super) fn unless_read_only(&mut self, req: Request) -> Option<Request> {
        let Some(why) = self.read_only.clone() else {
            return Some(req);
        };
        let why = format!("{why}; marks are off here: nothing was marked or deleted");
        match req {
            Request::Mark(key) | Request::Unmark(key) => {
                self.writes_settled += 1;
                self.refuse_mark(key, why);
                None
            }
            Request::UnmarkAll => {
                self.writes_settled += 1;
                self.notice(why);
                self.send_marks();
                None
            }
            Request::CommitNow => {
                self.notice(why);
                None
            }
            Request::Quit { commit: true } => Some(Request::Quit { commit: false }),
            other => Some(other),
        }
    }
}

/// The kind of a dropped mark's reason, for the debug log: the reason
/// itself may quote Message-IDs, which are the message's headers.
fn drop_kind(reason: &str) -> &'static str {
    if reason.contains("Message-ID") {
        "another Message-ID under its unique id"
    } else if reason.contains("bytes") {
        "another size under its unique id"
    } else {
        "could not be checked"
    }
}

/// Why a write with a key of an older listing is refused.
pub(super) fn stale_key(what: &str) -> String {
    format!(
        "{what}: that message number is from an older list (popview logged in again since), \
         and this server gives no unique ids, so the number may name another message now; \
         do it again on the new list"
    )
}

/// Why a commit asked for from an older listing is refused.
fn stale_commit() -> String {
    "nothing was deleted: the marks you confirmed were made on an older list (popview logged \
     in again since, and this server gives no unique ids, so they were dropped); mark the \
     messages again on the new list and commit again"
        .to_string()
}

/// End a session so that nothing is deleted: RSET then QUIT, or, if RSET is
/// refused, drop the connection (RFC 1939: no QUIT, no deletions).
pub(super) fn end_without_deleting(s: &mut Session) {
    match s.client.rset() {
        Ok(()) => {
            let _ = s.client.quit();
        }
        Err(_) => s.client.stream().shutdown(),
    }
}

/// A mark by UID pressed on a list older than the one it would apply to
/// (popview logged in again and the UI had not shown the new listing yet):
/// the UID may name another message now, even one of the same size, so it
/// is refused with words rather than applied to what the user never saw.
/// `shown` is the listing the UI showed when the mark was asked for (see
/// `Op::Mark`); the window is the time a new listing takes to reach the
/// screen. A key without UID has its own generation check
/// (`Listing::is_stale`).
fn out_of_date(key: &MsgKey, shown: Option<u64>, generation: u64) -> Option<String> {
    let shown = shown?;
    if key.uid.is_none() || shown == generation {
        return None;
    }
    Some(
        "nothing was marked: popview logged in again just as you pressed it, and the list \
         you marked it on is out of date (its unique id may name another message now); mark \
         it again on the new list"
            .to_string(),
    )
}
