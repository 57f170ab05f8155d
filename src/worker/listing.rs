//! PURE: the session's listing, built from LIST and UIDL, and the mapping
//! between the UI's keys and this session's message numbers.

use std::collections::HashMap;

use super::api::{ListEntry, MsgKey};

/// One message of this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub number: u32,
    pub size: u64,
    /// `None` without UIDL, for an invalid UID, or for a duplicated one.
    pub uid: Option<String>,
    /// The UID was shared with another message: it can still be read, but
    /// marks are refused (`ops::mark`) so one mark can't become two
    /// deletions (SECURITY D23).
    pub ambiguous: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Listing {
    msgs: Vec<Msg>,
    by_uid: HashMap<String, u32>,
    pub has_uids: bool,
    /// Which listing this is (the worker counts them, from 1): the keys it
    /// gives for messages without UID carry it, so a number from an older
    /// listing never names a message of this one.
    pub generation: u64,
}

impl Listing {
    /// Build from LIST (`number size`) and optionally UIDL (`number uid`).
    /// Numbers are validated: out of range or repeated lines are dropped
    /// (SECURITY D22).
    pub fn new(list: &[(u32, u64)], uidl: Option<&[(u32, Option<String>)]>) -> Listing {
        let mut msgs: Vec<Msg> = list
            .iter()
            .map(|&(number, size)| Msg {
                number,
                size,
                uid: None,
                ambiguous: false,
            })
            .collect();
        // In number order; a repeated number keeps its first line (the sort
        // is stable, and `dedup` keeps the first of a run).
        msgs.sort_by_key(|m| m.number);
        msgs.dedup_by_key(|m| m.number);
        let mut listing = Listing {
            has_uids: uidl.is_some(),
            generation: 1,
            ..Listing::default()
        };
        if let Some(uidl) = uidl {
            let mut count: HashMap<&str, usize> = HashMap::with_capacity(uidl.len());
            for uid in uidl.iter().filter_map(|(_, uid)| uid.as_deref()) {
                *count.entry(uid).or_default() += 1;
            }
            let mut assigned = vec![false; msgs.len()];
            let mut by_uid = HashMap::with_capacity(msgs.len());
            for (number, uid) in uidl {
                let (Ok(i), Some(uid)) = (
                    msgs.binary_search_by_key(number, |m| m.number),
                    uid.as_deref(),
                ) else {
                    continue;
                };
                // A number's first UIDL line wins.
                if std::mem::replace(&mut assigned[i], true) {
                    continue;
                }
                if count[uid] > 1 {
                    msgs[i].ambiguous = true;
                } else {
                    msgs[i].uid = Some(uid.to_string());
                    by_uid.insert(uid.to_string(), *number);
                }
            }
            listing.by_uid = by_uid;
        }
        listing.msgs = msgs;
        listing
    }

    /// The listing a session kept for the next start's first screen
    /// (number, UID, size, from popview's own file: untrusted), built as
    /// LIST and UIDL would build it: its messages with a valid UID only.
    pub fn kept(kept: Vec<(u32, String, u64)>) -> Listing {
        let kept: Vec<(u32, String, u64)> = kept
            .into_iter()
            .filter(|(_, uid, _)| crate::pop3::response::valid_uid(uid.as_bytes()))
            .collect();
        let list: Vec<(u32, u64)> = kept.iter().map(|&(n, _, size)| (n, size)).collect();
        let uidl: Vec<(u32, Option<String>)> =
            kept.into_iter().map(|(n, uid, _)| (n, Some(uid))).collect();
        Listing::new(&list, Some(&uidl))
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn msgs(&self) -> &[Msg] {
        &self.msgs
    }

    pub fn get(&self, number: u32) -> Option<&Msg> {
        self.msgs
            .binary_search_by_key(&number, |m| m.number)
            .ok()
            .map(|i| &self.msgs[i])
    }

    pub fn by_uid(&self, uid: &str) -> Option<&Msg> {
        self.by_uid.get(uid).and_then(|n| self.get(*n))
    }

    /// The message a UI key means in this session. A key with a UID resolves
    /// by UID only; a key without one resolves by number only if it came
    /// from this listing and that message has no UID either (so a stale
    /// number never hits another message).
    pub fn resolve(&self, key: &MsgKey) -> Option<&Msg> {
        match &key.uid {
            Some(uid) => self.by_uid(uid),
            None if self.is_stale(key) => None,
            None => self.get(key.number).filter(|m| m.uid.is_none()),
        }
    }

    /// A key without UID from an older listing: its number may name
    /// another message now.
    pub fn is_stale(&self, key: &MsgKey) -> bool {
        key.uid.is_none() && key.generation != self.generation
    }

    pub fn key(&self, m: &Msg) -> MsgKey {
        MsgKey {
            number: m.number,
            uid: m.uid.clone(),
            generation: if m.uid.is_some() { 0 } else { self.generation },
        }
    }

    pub fn entries(&self) -> Vec<ListEntry> {
        self.msgs
            .iter()
            .map(|m| ListEntry {
                key: self.key(m),
                size: m.size,
            })
            .collect()
    }
}

/// The order previews are fetched in: nearest to the rows on screen first.
///
/// Positions are indices in the listing (message-number order). Before the
/// UI says which rows it shows, the view is the newest end (popview starts
/// sorted by arrival, newest first), so the fill runs from the highest
/// number down. [`FillOrder::focus`] moves the view: from then on the fill
/// takes, turn about, the nearest position below the view and the nearest
/// above it, so the rows just off screen either way come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillOrder {
    /// Positions below the view still to look at: `0..below`.
    below: usize,
    /// Positions above the view still to look at: `above..len`.
    above: usize,
    len: usize,
    /// Which side takes the next turn.
    down_next: bool,
}

impl FillOrder {
    /// The newest first: the whole listing is "below" a view at its end.
    pub fn newest_first(len: usize) -> FillOrder {
        FillOrder {
            below: len,
            above: len,
            len,
            down_next: true,
        }
    }

    /// The view now starts at position `lo` (the lowest of the rows on
    /// screen, which the UI's request asks for itself): the fill goes on
    /// outward from there, the view's own rows included if any was left.
    pub fn focus(&mut self, lo: usize) {
        let lo = lo.min(self.len);
        self.below = lo;
        self.above = lo;
        self.down_next = true;
    }

    /// The next position not yet `taken`, nearest to the view; `None` when
    /// every position is taken. Skipped positions are never looked at again
    /// until the next [`FillOrder::focus`], so a whole fill costs O(len).
    pub fn next(&mut self, taken: &[bool]) -> Option<usize> {
        let taken_at = |i: usize| taken.get(i).copied().unwrap_or(true);
        while self.below > 0 && taken_at(self.below - 1) {
            self.below -= 1;
        }
        while self.above < self.len && taken_at(self.above) {
            self.above += 1;
        }
        let can_down = self.below > 0;
        let can_up = self.above < self.len;
        let down = match (can_down, can_up) {
            (false, false) => return None,
            (true, false) => true,
            (false, true) => false,
            (true, true) => self.down_next,
        };
        self.down_next = !down;
        if down {
            self.below -= 1;
            Some(self.below)
        } else {
            self.above += 1;
            Some(self.above - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(order: &mut FillOrder, taken: &mut [bool], n: usize) -> Vec<usize> {
        let mut out = Vec::new();
        while out.len() < n {
            let Some(i) = order.next(taken) else { break };
            taken[i] = true;
            out.push(i);
        }
        out
    }

    #[test]
    fn the_fill_starts_at_the_newest_end() {
        let mut taken = vec![false; 6];
        taken[4] = true; // a cache hit
        let mut o = FillOrder::newest_first(6);
        assert_eq!(drain(&mut o, &mut taken, 10), [5, 3, 2, 1, 0]);
        assert_eq!(o.next(&taken), None);
        assert_eq!(FillOrder::newest_first(0).next(&[]), None);
    }

    #[test]
    fn a_new_view_is_filled_outward_from_itself() {
        let mut taken = vec![false; 10];
        let mut o = FillOrder::newest_first(10);
        assert_eq!(drain(&mut o, &mut taken, 2), [9, 8]);
        // The rows 2..=3 were asked by the UI (taken), the fill goes on around them.
        taken[2] = true;
        taken[3] = true;
        o.focus(2);
        assert_eq!(drain(&mut o, &mut taken, 10), [1, 4, 0, 5, 6, 7]);
        // Out-of-range focus is clamped, never a panic.
        let mut o = FillOrder::newest_first(3);
        o.focus(99);
        assert_eq!(drain(&mut o, &mut [false; 3], 5), [2, 1, 0]);
        let mut o = FillOrder::newest_first(3);
        o.focus(1);
        assert_eq!(drain(&mut o, &mut [false; 3], 5), [0, 1, 2]);
    }

    fn uid(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn duplicates_and_out_of_range_lines_are_neutralised() {
        let list = [(1, 10), (2, 20), (2, 99), (3, 30)];
        let uidl = [
            (1, uid("a")),
            (2, uid("dup")),
            (3, uid("dup")),
            (7, uid("x")),
        ];
        let l = Listing::new(&list, Some(&uidl));
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(2).unwrap().size, 20, "first LIST line wins");
        assert!(l.get(2).unwrap().ambiguous && l.get(3).unwrap().ambiguous);
        assert_eq!(l.get(2).unwrap().uid, None);
        assert_eq!(l.by_uid("a").unwrap().number, 1);
        assert!(l.by_uid("dup").is_none());
        assert!(l.by_uid("x").is_none());
    }

    #[test]
    fn keys_resolve_by_uid_across_renumbering() {
        let l = Listing::new(&[(1, 5), (2, 6)], Some(&[(1, uid("b")), (2, uid("c"))]));
        let stale = MsgKey::new(1, uid("c"));
        assert_eq!(l.resolve(&stale).unwrap().number, 2);
        let gone = MsgKey::new(2, uid("a"));
        assert!(l.resolve(&gone).is_none());
        // A key without UID never resolves to a message that has one.
        let bare = MsgKey {
            number: 1,
            uid: None,
            generation: 1,
        };
        assert!(l.resolve(&bare).is_none());
        let mut no_uidl = Listing::new(&[(1, 5)], None);
        assert_eq!(no_uidl.resolve(&bare).unwrap().number, 1);
        assert_eq!(no_uidl.key(no_uidl.get(1).unwrap()), bare);
        // The next listing: the same number is refused.
        no_uidl.generation = 2;
        assert!(no_uidl.is_stale(&bare));
        assert!(no_uidl.resolve(&bare).is_none());
        assert_eq!(no_uidl.key(no_uidl.get(1).unwrap()).generation, 2);
    }
}
