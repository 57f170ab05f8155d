//! PURE bookkeeping of deletion marks: the user's intent (what should be
//! deleted on commit, kept on disk) versus what this session has applied on
//! the server with DELE (lost whenever the session ends without QUIT, RFC
//! 1939 section 6).
//!
//! A mark names one message, and only that one. With the UID it keeps what
//! the listing said when the mark was made (the LIST size) and, once a
//! preview of the message was known, its Message-ID. Every new session
//! ([`Marks::remap`]) checks each mark against the new listing before it is
//! applied again: a UID that now lists with another size is another message
//! (RFC 1939 forbids reusing a UID; real servers do it), so the mark is
//! dropped and the user told why. A mark with a Message-ID is held back
//! until a fresh `TOP n 0` shows the same Message-ID ([`Marks::checked`]),
//! so a reused UID with the same size is caught too. A mark restored from a
//! version 1 marks file knows neither: it is matched by UID only, once,
//! takes the size it finds, and the user is told.
//!
//! Without a UID a mark is only a message number, valid for the listing it
//! was made on: a new session drops it ([`Marks::remap`]), and keys from an
//! older listing never resolve ([`Listing::resolve`]).

use std::collections::{BTreeMap, BTreeSet};

use super::api::MsgKey;
use super::listing::{Listing, Msg};
use crate::mail::HeaderSummary;
use crate::store::SavedMark;

/// How a mark is identified across sessions: by UID when there is one;
/// otherwise by number, valid only within the listing that made it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkId {
    Uid(String),
    Number(u32),
}

impl MarkId {
    pub fn of(key: &MsgKey) -> MarkId {
        match &key.uid {
            Some(u) => MarkId::Uid(u.clone()),
            None => MarkId::Number(key.number),
        }
    }
}

/// One deletion mark: the message it names, as the listing and the
/// preview described it when the mark was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The key in the current session.
    pub key: MsgKey,
    /// LIST size when marked; `None` for a mark from a version 1 file until
    /// a listing matched it.
    pub size: Option<u64>,
    /// The Message-ID, once a preview of this message was known.
    pub message_id: Option<String>,
    pub from: String,
    pub subject: String,
    /// Held back until a fresh `TOP n 0` in this session confirmed the
    /// Message-ID: not applied (no DELE) until then.
    checking: bool,
}

impl Mark {
    /// A mark made now on `m` (key `key`), with the preview the worker
    /// holds for it, if any (it must be for this message: the caller checks
    /// the cached size).
    pub fn new(key: MsgKey, m: &Msg, preview: Option<&HeaderSummary>) -> Mark {
        let mut mark = Mark {
            key,
            size: Some(m.size),
            message_id: None,
            from: String::new(),
            subject: String::new(),
            checking: false,
        };
        if let Some(h) = preview {
            mark.learn(h);
        }
        mark
    }

    /// Take what a preview of this very message says (Message-ID, sender,
    /// subject), where the mark doesn't know it yet. True when it changed.
    pub fn learn(&mut self, h: &HeaderSummary) -> bool {
        let mut changed = false;
        if self.message_id.is_none() && !h.message_id.is_empty() {
            self.message_id = Some(h.message_id.clone());
            changed = true;
        }
        if self.from.is_empty() {
            let from = if h.from_addr.is_empty() {
                &h.from_name
            } else {
                &h.from_addr
            };
            if !from.is_empty() {
                self.from = from.clone();
                changed = true;
            }
        }
        if self.subject.is_empty() && !h.subject.is_empty() {
            self.subject = h.subject.clone();
            changed = true;
        }
        changed
    }

    /// From a marks file (UID marks only).
    pub fn restored(s: SavedMark) -> Mark {
        Mark {
            key: MsgKey::new(0, Some(s.uid)),
            size: s.size,
            message_id: s.message_id.filter(|m| !m.is_empty()),
            from: s.from,
            subject: s.subject,
            checking: false,
        }
    }

    /// For the marks file; `None` for a mark without UID (a number means
    /// nothing in another session).
    pub fn saved(&self) -> Option<SavedMark> {
        Some(SavedMark {
            uid: self.key.uid.clone()?,
            size: self.size,
            message_id: self.message_id.clone(),
            from: self.from.clone(),
            subject: self.subject.clone(),
        })
    }
}

/// A mark dropped at a new session, and why (words for the user).
pub type Dropped = (Mark, String);

/// What a new session's listing did to the marks ([`Marks::remap`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Remap {
    /// UIDs no longer listed (deleted by someone else, or by a commit whose
    /// QUIT answer was lost).
    pub gone: Vec<Mark>,
    /// UIDs now listed with another size: another message.
    pub dropped: Vec<Dropped>,
    /// Marks without UID: a number means nothing in a new listing.
    pub numbers: Vec<Mark>,
    /// Marks from a version 1 file, matched by UID only (they took the size
    /// listed now).
    pub uid_only: Vec<Mark>,
    /// Numbers of marked messages to check with a fresh `TOP n 0` before
    /// they are applied (the mark knows a Message-ID).
    pub to_check: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// What the user wants deleted.
    intent: BTreeMap<MarkId, Mark>,
    /// Message numbers DELE'd (answered +OK) in the current session.
    applied: BTreeSet<u32>,
}

impl Marks {
    /// Marks restored from disk after a crash or a kill.
    pub fn restored(saved: Vec<SavedMark>) -> Marks {
        let intent = saved
            .into_iter()
            .map(Mark::restored)
            .map(|m| (MarkId::of(&m.key), m))
            .collect();
        Marks {
            intent,
            applied: BTreeSet::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.intent.is_empty()
    }

    pub fn contains(&self, key: &MsgKey) -> bool {
        self.intent.contains_key(&MarkId::of(key))
    }

    /// Add a mark; false when that message was marked already.
    pub fn add(&mut self, mark: Mark) -> bool {
        let id = MarkId::of(&mark.key);
        if self.intent.contains_key(&id) {
            return false;
        }
        self.intent.insert(id, mark);
        true
    }

    pub fn remove(&mut self, key: &MsgKey) -> Option<Mark> {
        self.intent.remove(&MarkId::of(key))
    }

    /// A preview of the marked message `key` arrived in this session (so it
    /// is that message): the mark learns its Message-ID, sender, subject.
    /// True when the mark changed (save it).
    pub fn learn(&mut self, key: &MsgKey, h: &HeaderSummary) -> bool {
        self.intent
            .get_mut(&MarkId::of(key))
            .is_some_and(|m| m.learn(h))
    }

    pub fn clear_intent(&mut self) {
        self.intent.clear();
    }

    /// A new session begins: nothing is applied on the server yet.
    pub fn session_reset(&mut self) {
        self.applied.clear();
    }

    pub fn applied(&mut self, number: u32) {
        self.applied.insert(number);
    }

    pub fn is_applied(&self, number: u32) -> bool {
        self.applied.contains(&number)
    }

    /// The marks to keep on disk (those with a UID).
    pub fn saved(&self) -> Vec<SavedMark> {
        self.intent.values().filter_map(Mark::saved).collect()
    }

    /// The UIDs of the marks.
    pub fn uids(&self) -> Vec<String> {
        self.intent
            .keys()
            .filter_map(|id| match id {
                MarkId::Uid(u) => Some(u.clone()),
                MarkId::Number(_) => None,
            })
            .collect()
    }

    /// Check every mark against a new session's listing and re-map it
    /// there (see the module doc). Marks that no longer name their message
    /// leave the intent and are returned, with the reason; marks that know
    /// a Message-ID are held back for [`Marks::checked`].
    pub fn remap(&mut self, listing: &Listing) -> Remap {
        let mut out = Remap::default();
        let intent = std::mem::take(&mut self.intent);
        for (id, mut mark) in intent {
            let uid = match &id {
                MarkId::Uid(uid) => uid,
                MarkId::Number(_) => {
                    out.numbers.push(mark);
                    continue;
                }
            };
            let Some(m) = listing.by_uid(uid) else {
                out.gone.push(mark);
                continue;
            };
            mark.key = listing.key(m);
            match mark.size {
                Some(then) if then != m.size => {
                    let why = format!(
                        "is now listed with {} bytes, not the {then} bytes it had when marked: \
                         the server gave its unique id to another message",
                        m.size
                    );
                    out.dropped.push((mark, why));
                    continue;
                }
                Some(_) => {}
                None => {
                    mark.size = Some(m.size);
                    out.uid_only.push(mark.clone());
                }
            }
            mark.checking = mark.message_id.is_some();
            if mark.checking {
                out.to_check.push(m.number);
            }
            self.intent.insert(id, mark);
        }
        out
    }

    /// The answer to the check of marked message `number` in this session:
    /// the Message-ID a fresh `TOP n 0` shows (`Ok`, empty when it has
    /// none), or why it could not be read (`Err`). A mark whose Message-ID
    /// differs, or that could not be checked, is dropped and returned with
    /// the reason; a confirmed one may be applied.
    pub fn checked(
        &mut self,
        number: u32,
        listing: &Listing,
        fresh: Result<&str, String>,
    ) -> Option<Dropped> {
        let id = self
            .intent
            .iter()
            .find(|(_, m)| {
                m.checking && listing.resolve(&m.key).is_some_and(|x| x.number == number)
            })
            .map(|(id, _)| id.clone())?;
        let mark = self.intent.get_mut(&id)?;
        let then = mark.message_id.clone().unwrap_or_default();
        let why = match fresh {
            Ok(now) if now == then => {
                mark.checking = false;
                return None;
            }
            Ok("") => format!(
                "now has no Message-ID, while the marked message had {then}: the server gave \
                 its unique id to another message"
            ),
            Ok(now) => format!(
                "now has the Message-ID {now}, not {then} as when it was marked: the server \
                 gave its unique id to another message"
            ),
            Err(e) => {
                format!("could not be checked to be the same message before deleting it ({e})")
            }
        };
        let mark = self.intent.remove(&id)?;
        Some((mark, why))
    }

    /// Drop every mark still waiting for its check (the check got no
    /// answer), with the reason.
    pub fn unchecked(&mut self, why: &str) -> Vec<Dropped> {
        let ids: Vec<MarkId> = self
            .intent
            .iter()
            .filter(|(_, m)| m.checking)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| self.intent.remove(&id))
            .map(|m| (m, why.to_string()))
            .collect()
    }

    /// Drop the marks kept by message number: a number means nothing in a
    /// new session (messages may have shifted). Returns them.
    pub fn drop_number_marks(&mut self) -> Vec<Mark> {
        let (numbers, keep) = std::mem::take(&mut self.intent)
            .into_iter()
            .partition(|(id, _)| matches!(id, MarkId::Number(_)));
        self.intent = keep;
        numbers.into_values().collect()
    }

    /// Current keys of the marked messages (numbers of this session).
    pub fn keys(&self) -> Vec<MsgKey> {
        self.intent.values().map(|m| m.key.clone()).collect()
    }

    /// The marks themselves.
    pub fn marks(&self) -> impl Iterator<Item = &Mark> {
        self.intent.values()
    }

    /// Intent marks not yet applied in this session, as message numbers
    /// (marks waiting for their check are not ready).
    pub fn unapplied(&self, listing: &Listing) -> Vec<u32> {
        self.intent
            .values()
            .filter(|m| !m.checking)
            .filter_map(|m| listing.resolve(&m.key).map(|x| x.number))
            .filter(|n| !self.applied.contains(n))
            .collect()
    }

    /// Numbers that are applied on the server but no longer intended.
    pub fn stale_applied(&self, listing: &Listing) -> Vec<u32> {
        let wanted: BTreeSet<u32> = self
            .intent
            .values()
            .filter_map(|m| listing.resolve(&m.key).map(|x| x.number))
            .collect();
        self.applied.difference(&wanted).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32, uid: &str) -> MsgKey {
        MsgKey::new(n, Some(uid.into()))
    }

    fn listing(sizes_uids: &[(u64, &str)]) -> Listing {
        let list: Vec<(u32, u64)> = (1..).zip(sizes_uids.iter().map(|(s, _)| *s)).collect();
        let uidl: Vec<(u32, Option<String>)> = (1..)
            .zip(sizes_uids.iter().map(|(_, u)| Some(u.to_string())))
            .collect();
        Listing::new(&list, Some(&uidl))
    }

    fn summary(id: &str, from: &str, subject: &str) -> HeaderSummary {
        HeaderSummary {
            message_id: id.into(),
            from_addr: from.into(),
            subject: subject.into(),
            ..HeaderSummary::default()
        }
    }

    /// A mark made in `l` on message `n`, with this preview.
    fn mark_on(l: &Listing, n: u32, preview: Option<&HeaderSummary>) -> Mark {
        let m = l.get(n).unwrap();
        Mark::new(l.key(m), m, preview)
    }

    fn saved(uid: &str, size: Option<u64>, id: Option<&str>) -> SavedMark {
        SavedMark {
            uid: uid.into(),
            size,
            message_id: id.map(String::from),
            from: "a@example.org".into(),
            subject: "hello".into(),
        }
    }

    #[test]
    fn restored_marks_follow_uids_and_drop_the_gone() {
        let mut m = Marks::restored(vec![saved("a", Some(2), None), saved("z", Some(1), None)]);
        let l = listing(&[(1, "b"), (2, "a")]);
        let r = m.remap(&l);
        assert_eq!(r.gone.len(), 1);
        assert_eq!(r.gone[0].key.uid.as_deref(), Some("z"));
        assert!(r.dropped.is_empty() && r.to_check.is_empty() && r.uid_only.is_empty());
        assert_eq!(m.keys(), vec![key(2, "a")]);
        assert_eq!(m.unapplied(&l), vec![2]);
        m.applied(2);
        assert!(m.unapplied(&l).is_empty());
    }

    #[test]
    fn a_reused_uid_with_another_size_drops_the_mark() {
        let before = listing(&[(100, "a"), (200, "b")]);
        let mut m = Marks::default();
        assert!(m.add(mark_on(&before, 1, None)));
        assert!(m.add(mark_on(&before, 2, None)));
        // Next session: "a" now names a message of 101 bytes.
        let after = listing(&[(200, "b"), (101, "a")]);
        let r = m.remap(&after);
        assert_eq!(r.dropped.len(), 1);
        let (dropped, why) = &r.dropped[0];
        assert_eq!(dropped.key, key(2, "a"));
        assert!(
            why.contains("101 bytes") && why.contains("100 bytes"),
            "{why}"
        );
        assert_eq!(m.keys(), vec![key(1, "b")]);
        assert_eq!(
            m.unapplied(&after),
            vec![1],
            "only the unchanged mark is applied"
        );
        assert_eq!(m.saved().len(), 1, "the dropped mark leaves the file too");
    }

    #[test]
    fn a_reused_uid_with_the_same_size_is_caught_by_its_message_id() {
        let before = listing(&[(100, "a"), (100, "b")]);
        let mut m = Marks::default();
        m.add(mark_on(&before, 1, Some(&summary("<1@x>", "x@y", "one"))));
        m.add(mark_on(&before, 2, Some(&summary("<2@x>", "x@y", "two"))));
        let after = listing(&[(100, "a"), (100, "b")]);
        let r = m.remap(&after);
        assert_eq!(r.to_check, vec![1, 2]);
        assert!(
            m.unapplied(&after).is_empty(),
            "nothing applied before the check"
        );
        // "a" is still <1@x>; "b" now holds another message.
        assert_eq!(m.checked(1, &after, Ok("<1@x>")), None);
        let (gone, why) = m.checked(2, &after, Ok("<9@x>")).expect("dropped");
        assert_eq!(gone.subject, "two");
        assert!(why.contains("<9@x>") && why.contains("<2@x>"), "{why}");
        assert_eq!(m.unapplied(&after), vec![1]);
        assert_eq!(m.keys(), vec![key(1, "a")]);
    }

    #[test]
    fn a_check_that_fails_or_never_answers_drops_the_mark() {
        let l = listing(&[(10, "a"), (20, "b"), (30, "c")]);
        let mut m = Marks::default();
        for n in 1..=3 {
            m.add(mark_on(&l, n, Some(&summary(&format!("<{n}@x>"), "", ""))));
        }
        let r = m.remap(&l);
        assert_eq!(r.to_check, vec![1, 2, 3]);
        let (_, why) = m
            .checked(1, &l, Err("-ERR no such message".into()))
            .unwrap();
        assert!(why.contains("could not be checked"), "{why}");
        let (_, why) = m.checked(2, &l, Ok("")).unwrap();
        assert!(why.contains("no Message-ID"), "{why}");
        let left = m.unchecked("no answer");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0.key, key(3, "c"));
        assert!(m.is_empty());
    }

    #[test]
    fn version_one_marks_are_matched_by_uid_once_then_protected() {
        let mut m = Marks::restored(vec![SavedMark::uid_only("a")]);
        let first = listing(&[(50, "a")]);
        let r = m.remap(&first);
        assert_eq!(r.uid_only.len(), 1);
        assert_eq!(m.unapplied(&first), vec![1]);
        assert_eq!(m.saved()[0].size, Some(50), "the size is kept from now on");
        let second = listing(&[(51, "a")]);
        let r = m.remap(&second);
        assert!(r.uid_only.is_empty());
        assert_eq!(r.dropped.len(), 1);
    }

    #[test]
    fn number_marks_never_survive_a_new_listing() {
        let mut l = Listing::new(&[(1, 10), (2, 20)], None);
        let mut m = Marks::default();
        m.add(mark_on(&l, 2, None));
        assert_eq!(m.unapplied(&l), vec![2]);
        l.generation = 2;
        // Even with the same numbers and sizes, a new listing drops it.
        let r = m.remap(&l);
        assert_eq!(r.numbers.len(), 1);
        assert!(m.is_empty());
        assert!(m.saved().is_empty());
    }

    #[test]
    fn previews_teach_the_mark_who_it_is() {
        let l = listing(&[(10, "a")]);
        let mut m = Marks::default();
        m.add(mark_on(&l, 1, None));
        assert!(m.learn(&key(1, "a"), &summary("<a@x>", "s@x", "hi")));
        assert!(!m.learn(&key(1, "a"), &summary("<other@x>", "t@x", "no")));
        let s = &m.saved()[0];
        assert_eq!(
            (s.message_id.as_deref(), s.from.as_str(), s.subject.as_str()),
            (Some("<a@x>"), "s@x", "hi")
        );
    }

    #[test]
    fn unmark_leaves_a_stale_applied_number() {
        let l = listing(&[(1, "a"), (2, "b")]);
        let mut m = Marks::default();
        m.add(mark_on(&l, 1, None));
        m.add(mark_on(&l, 2, None));
        m.applied(1);
        m.applied(2);
        m.remove(&key(1, "a"));
        assert_eq!(m.stale_applied(&l), vec![1]);
        assert_eq!(m.uids(), vec!["b".to_string()]);
    }
}
