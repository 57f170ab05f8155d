//! PURE bookkeeping of deletion marks: the user's intent (what should be
//! deleted on commit, kept by UID on disk) versus what this session has
//! applied on the server with DELE (lost whenever the session ends without
//! QUIT, RFC 1939 section 6).

use std::collections::{BTreeMap, BTreeSet};

use super::api::MsgKey;
use super::listing::Listing;

/// How a mark is identified across sessions: by UID when there is one;
/// otherwise by number, valid only within the session that made it.
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

#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// What the user wants deleted, with the last key known for each.
    intent: BTreeMap<MarkId, MsgKey>,
    /// Message numbers DELE'd (answered +OK) in the current session.
    applied: BTreeSet<u32>,
}

impl Marks {
    /// Marks restored from disk (UIDs) after a crash or a kill.
    pub fn restored(uids: Vec<String>) -> Marks {
        let intent = uids
            .into_iter()
            .map(|u| {
                (
                    MarkId::Uid(u.clone()),
                    MsgKey {
                        number: 0,
                        uid: Some(u),
                    },
                )
            })
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

    pub fn add(&mut self, key: MsgKey) -> bool {
        self.intent.insert(MarkId::of(&key), key).is_none()
    }

    pub fn remove(&mut self, key: &MsgKey) -> bool {
        self.intent.remove(&MarkId::of(key)).is_some()
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

    /// The UIDs to keep on disk.
    pub fn uids(&self) -> Vec<String> {
        self.intent
            .keys()
            .filter_map(|id| match id {
                MarkId::Uid(u) => Some(u.clone()),
                MarkId::Number(_) => None,
            })
            .collect()
    }

    /// Re-map every mark onto a (new) session's listing. Returns the marks
    /// that no longer match a message: UIDs gone from the server, and
    /// number-only marks (their numbers can't be trusted in a new session).
    pub fn remap(&mut self, listing: &Listing) -> Vec<MsgKey> {
        let mut gone = Vec::new();
        self.intent.retain(|id, key| match id {
            MarkId::Uid(uid) => match listing.by_uid(uid) {
                Some(m) => {
                    key.number = m.number;
                    true
                }
                None => {
                    gone.push(key.clone());
                    false
                }
            },
            MarkId::Number(_) => {
                gone.push(key.clone());
                false
            }
        });
        gone
    }

    /// Drop the marks kept by message number: a number means nothing in a
    /// new session (messages may have shifted). Returns them.
    pub fn drop_number_marks(&mut self) -> Vec<MsgKey> {
        let mut gone = Vec::new();
        self.intent.retain(|id, key| match id {
            MarkId::Number(_) => {
                gone.push(key.clone());
                false
            }
            MarkId::Uid(_) => true,
        });
        gone
    }

    /// Current keys of the marked messages (numbers of this session).
    pub fn keys(&self) -> Vec<MsgKey> {
        self.intent.values().cloned().collect()
    }

    /// Intent marks not yet applied in this session, as message numbers.
    pub fn unapplied(&self, listing: &Listing) -> Vec<u32> {
        self.intent
            .values()
            .filter_map(|k| listing.resolve(k).map(|m| m.number))
            .filter(|n| !self.applied.contains(n))
            .collect()
    }

    /// Numbers that are applied on the server but no longer intended.
    pub fn stale_applied(&self, listing: &Listing) -> Vec<u32> {
        let wanted: BTreeSet<u32> = self
            .intent
            .values()
            .filter_map(|k| listing.resolve(k).map(|m| m.number))
            .collect();
        self.applied.difference(&wanted).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32, uid: &str) -> MsgKey {
        MsgKey {
            number: n,
            uid: Some(uid.into()),
        }
    }

    #[test]
    fn restored_marks_follow_uids_and_drop_the_gone() {
        let mut m = Marks::restored(vec!["a".into(), "z".into()]);
        let l = Listing::new(
            &[(1, 1), (2, 2)],
            Some(&[(1, Some("b".into())), (2, Some("a".into()))]),
        );
        let gone = m.remap(&l);
        assert_eq!(gone, vec![key(0, "z")]);
        assert_eq!(m.keys(), vec![key(2, "a")]);
        assert_eq!(m.unapplied(&l), vec![2]);
        m.applied(2);
        assert!(m.unapplied(&l).is_empty());
    }

    #[test]
    fn unmark_leaves_a_stale_applied_number() {
        let l = Listing::new(
            &[(1, 1), (2, 2)],
            Some(&[(1, Some("a".into())), (2, Some("b".into()))]),
        );
        let mut m = Marks::default();
        m.add(key(1, "a"));
        m.add(key(2, "b"));
        m.applied(1);
        m.applied(2);
        m.remove(&key(1, "a"));
        assert_eq!(m.stale_applied(&l), vec![1]);
        assert_eq!(m.uids(), vec!["b".to_string()]);
    }
}
