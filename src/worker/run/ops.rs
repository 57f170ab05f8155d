//! The user's writes within a session: marks (DELE), undo (RSET and the
//! others marked again), undo all, commit (QUIT) and leaving without
//! deleting. Never reordered, never dropped.

use super::*;

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
        Ok((ok, failed))
    }

    /// Apply queued writes in order. Exclusive ones wait for the pipe to drain.
    pub(super) fn run_ops(&mut self, s: &mut Session) -> Result<Option<Exit>, Error> {
        while let Some(op) = self.ops.front().cloned() {
            if op.exclusive() {
                if s.client.in_flight() > 0 {
                    return Ok(None);
                }
                self.ops.pop_front();
                if op.is_mark_write() {
                    self.writes_settled += 1;
                }
                if let Some(exit) = self.exclusive(op, s)? {
                    return Ok(Some(exit));
                }
                continue;
            }
            if !s.client.can_submit() {
                return Ok(None);
            }
            self.ops.pop_front();
            if let Op::Mark(key) = op {
                self.writes_settled += 1;
                self.mark(key, s)?;
            }
        }
        Ok(None)
    }

    pub(super) fn mark(&mut self, key: MsgKey, s: &mut Session) -> Result<(), Error> {
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
        let key = s.listing.key(&m);
        if self.marks.contains(&key) {
            self.send_marks();
            return Ok(());
        }
        self.marks.add(key);
        self.persist_marks();
        self.send_marks();
        s.client.submit(Command::Dele(m.number))
    }

    fn refuse_mark(&mut self, key: MsgKey, reason: String) {
        self.send(Event::MarkRefused { key, reason });
        self.send_marks();
    }

    pub(super) fn exclusive(&mut self, op: Op, s: &mut Session) -> Result<Option<Exit>, Error> {
        match op {
            Op::Mark(_) => unreachable!("marks are not exclusive"),
            Op::Unmark(key) => {
                self.gone_marks.retain(|u| key.uid.as_ref() != Some(u));
                if !self.marks.remove(&key) {
                    self.send_marks();
                    return Ok(None);
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
                            self.marks.add(key);
                            self.persist_marks();
                            let e = e.reword(|m| {
                                format!("the server refused RSET, so the mark stays: {m}")
                            });
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
                Ok(None)
            }
            Op::UnmarkAll => {
                match s.client.rset() {
                    Ok(()) => {
                        self.gone_marks.clear();
                        self.marks.clear_intent();
                        self.marks.session_reset();
                        self.persist_marks();
                    }
                    Err(e) if !e.is_fatal_to_session() => {
                        let e = e
                            .reword(|m| format!("the server refused RSET, so the marks stay: {m}"));
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
                Ok(None)
            }
            Op::CheckNewMail => {
                // With LOGIN-DELAY, ending this session would leave the user
                // offline for the rest of the delay: keep it and say when.
                if let (Some(delay), Some(last)) = (self.login_delay, self.last_login) {
                    let left = Duration::from_secs(delay).saturating_sub(last.elapsed());
                    if !left.is_zero() {
                        self.notice(format!(
                            "the server allows one login every {delay} seconds: \
                             check again in {} s",
                            left.as_secs().max(1)
                        ));
                        return Ok(None);
                    }
                }
                // A POP3 session sees the maildrop as it was at login: end
                // this one without deleting anything and open a new one. The
                // marks are re-applied there.
                self.flush_previews(s, true);
                self.save_cache();
                end_without_deleting(s);
                self.notice("checking for new mail");
                Ok(Some(Exit::Renew))
            }
            Op::CommitNow => match self.commit(s) {
                Ok(()) => Ok(Some(Exit::Renew)),
                // As for a quit with commit (below): the connection broke on
                // the way, so the commit is tried again on a new session.
                Err(e) if e.is_fatal_to_session() => {
                    self.ops.push_front(Op::CommitNow);
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
            Op::Quit { commit: true } => {
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
                        self.ops.push_front(Op::Quit { commit: true });
                        Err(e)
                    }
                    Err(e) => {
                        self.error(&e, true);
                        Ok(Some(Exit::Done(false)))
                    }
                }
            }
            Op::Quit { commit: false } => {
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
        match s.client.quit() {
            Ok(()) => {
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
                self.send(Event::Committed {
                    deleted: deleted.len(),
                    already_gone,
                });
                self.send_marks();
                Ok(())
            }
            Err(e) => {
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

/// End a session so that nothing is deleted: RSET then QUIT, or, if RSET is
/// refused, drop the connection (RFC 1939: no QUIT, no deletions).
fn end_without_deleting(s: &mut Session) {
    match s.client.rset() {
        Ok(()) => {
            let _ = s.client.quit();
        }
        Err(_) => s.client.stream().shutdown(),
    }
}
