//! PURE: how the scripting commands turn a name on the command line into
//! one message of the listing.
//!
//! A message can be named by its number (`3`, `#3`) or its UID (`abc`,
//! `uid:abc`). UIDs are up to 70 printable characters chosen by the server,
//! `#` and `:` included, so every form can name more than one message: `3`
//! is message 3 and perhaps the message whose UID is `3`; `#3` is message 3
//! and perhaps the message whose UID is literally `#3`; `uid:x` is the
//! message with UID `x` and perhaps the one whose UID is literally `uid:x`.
//! Every reading is tried; a name that fits two different messages is
//! refused (a guess could delete the wrong one), and the refusal shows each
//! candidate with a name that picks it alone.

use std::collections::HashMap;

use crate::mail::HeaderSummary;
use crate::sanitize;
use crate::worker::api::{ListEntry, MsgKey};

/// What a name on the command line resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<'a> {
    One(&'a ListEntry),
    /// Two or more different messages fit; in listing order.
    Ambiguous(Vec<&'a ListEntry>),
    None,
}

/// Every message `name` can mean in `listing`, each once, in listing order.
pub fn candidates<'a>(listing: &'a [ListEntry], name: &str) -> Vec<&'a ListEntry> {
    let number = |digits: &str| -> Option<u32> {
        // Digits only: `+3` or ` 3` are not numbers here (u32::from_str
        // would take `+3`).
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let mut numbers = Vec::new();
    let mut uids = vec![name];
    if let Some(n) = number(name) {
        numbers.push(n);
    }
    if let Some(n) = name.strip_prefix('#').and_then(number) {
        numbers.push(n);
    }
    if let Some(u) = name.strip_prefix("uid:") {
        uids.push(u);
    }
    listing
        .iter()
        .filter(|e| {
            numbers.contains(&e.key.number)
                || e.key.uid.as_deref().is_some_and(|u| uids.contains(&u))
        })
        .collect()
}

/// Resolve `name` against `listing`.
pub fn resolve<'a>(listing: &'a [ListEntry], name: &str) -> Resolved<'a> {
    let mut c = candidates(listing, name);
    match c.len() {
        0 => Resolved::None,
        1 => Resolved::One(c.remove(0)),
        _ => Resolved::Ambiguous(c),
    }
}

/// Names that pick `entry` alone in `listing`: the first that works of
/// `#N` and `N`, and the first that works of `uid:X`, `X`, then `uid:`
/// repeated (a server can plant UIDs that block each shorter form, but not
/// every one of them: UIDs are at most 70 characters).
pub fn unique_names(listing: &[ListEntry], entry: &ListEntry) -> Vec<String> {
    let alone = |t: &String| matches!(resolve(listing, t), Resolved::One(e) if e == entry);
    let by_number = [
        format!("#{}", entry.key.number),
        entry.key.number.to_string(),
    ];
    let mut names: Vec<String> = by_number.into_iter().find(alone).into_iter().collect();
    if let Some(u) = &entry.key.uid {
        let mut by_uid = vec![format!("uid:{u}"), u.clone()];
        for depth in 2..=6 {
            by_uid.push(format!("{}{u}", "uid:".repeat(depth)));
        }
        names.extend(by_uid.into_iter().find(alone));
    }
    names
}

/// The first of [`unique_names`].
pub fn unique_name(listing: &[ListEntry], entry: &ListEntry) -> Option<String> {
    unique_names(listing, entry).into_iter().next()
}

/// The refusal of an ambiguous name: every candidate (number, UID, size,
/// sender and subject when known, all sanitized) and how to name each alone.
pub fn ambiguity_message(
    listing: &[ListEntry],
    previews: &HashMap<MsgKey, HeaderSummary>,
    name: &str,
    found: &[&ListEntry],
) -> String {
    let mut s = format!(
        "\"{}\" could name {} different messages; refusing to guess:",
        sanitize::line(name),
        found.len()
    );
    for e in found {
        s.push_str(&format!("\n  {}", describe(e, previews.get(&e.key))));
        let names = unique_names(listing, e);
        if names.is_empty() {
            s.push_str("\n      (no name picks it alone in this listing)");
        } else {
            s.push_str(&format!(
                "\n      name it alone with: {}",
                sanitize::line(&names.join(" or "))
            ));
        }
    }
    s.push_str("\nGive one of the names shown (see `popview list`).");
    s
}

/// One message for a person: `#3 uid "abc" 1234 bytes from … subject …`.
pub fn describe(e: &ListEntry, preview: Option<&HeaderSummary>) -> String {
    let mut s = format!(
        "#{} uid \"{}\" {} bytes",
        e.key.number,
        sanitize::line(e.key.uid.as_deref().unwrap_or("-")),
        e.size
    );
    if let Some(h) = preview {
        let from = h.sender_with_address();
        if !from.is_empty() {
            s.push_str(&format!(" from {}", sanitize::line(&from)));
        }
        if !h.subject.is_empty() {
            s.push_str(&format!(" subject \"{}\"", sanitize::line(&h.subject)));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(uids: &[&str]) -> Vec<ListEntry> {
        uids.iter()
            .enumerate()
            .map(|(i, u)| ListEntry {
                key: MsgKey {
                    number: i as u32 + 1,
                    uid: Some(u.to_string()),
                    generation: 0,
                },
                size: 100 + i as u64,
            })
            .collect()
    }

    /// Numbers of the messages a name resolves to (empty: none).
    fn names(l: &[ListEntry], name: &str) -> Vec<u32> {
        candidates(l, name).iter().map(|e| e.key.number).collect()
    }

    /// Every form against listings whose UIDs collide with it: the
    /// messages each name can mean. One number: unique; two or more:
    /// refused.
    #[test]
    fn every_form_and_every_collision() {
        #[rustfmt::skip]
        let table: &[(&[&str], &str, &[u32])] = &[
            // A bare number.
            (&["a", "b", "c"], "3", &[3]),
            (&["3", "b", "c"], "3", &[1, 3]),   // UID 3 on message 1
            (&["a", "b", "3"], "3", &[3]),      // UID 3 on message 3 itself
            (&["a", "b", "c"], "9", &[]),
            (&["a", "b", "c"], "03", &[3]),     // leading zero: still 3
            (&["a", "b", "c"], "+3", &[]),      // not a number here
            (&["a", "+3", "c"], "+3", &[2]),
            // A bare UID.
            (&["a", "b", "c"], "b", &[2]),
            (&["a", "b", "c"], "zz", &[]),
            // #N.
            (&["a", "b", "c"], "#3", &[3]),
            (&["#3", "b", "c"], "#3", &[1, 3]), // UID literally "#3"
            (&["a", "b", "#3"], "#3", &[3]),
            (&["3", "b", "c"], "#3", &[3]),     // UID "3" is not "#3"
            (&["a", "b", "c"], "#", &[]),
            (&["a", "#", "c"], "#", &[2]),
            (&["a", "b", "c"], "#x", &[]),
            (&["a", "#x", "c"], "#x", &[2]),
            // uid:X.
            (&["a", "b", "c"], "uid:b", &[2]),
            (&["uid:b", "b", "c"], "uid:b", &[1, 2]), // UID literally "uid:b"
            (&["a", "b", "3"], "uid:3", &[3]),
            (&["3", "b", "c"], "uid:3", &[1]),   // never a number
            (&["a", "b", "c"], "uid:", &[]),
            (&["a", "uid:", "c"], "uid:", &[2]),
            (&["#2", "b", "c"], "uid:#2", &[1]),
            (&["a", "b", "c"], "uid:#2", &[]),
            (&["uid:uid:a", "uid:a", "a"], "uid:uid:a", &[1, 2]),
            // A UID that is both a number and #N of others.
            (&["2", "#1", "c"], "2", &[1, 2]),
            (&["2", "#1", "c"], "#1", &[1, 2]),
            (&["2", "#1", "c"], "uid:#1", &[2]),
            // Duplicate UIDs (a broken server): one name, two messages.
            (&["d", "d", "z"], "d", &[1, 2]),
            (&["d", "d", "z"], "uid:d", &[1, 2]),
            (&["d", "d", "z"], "#1", &[1]),
        ];
        for (uids, name, want) in table {
            let l = listing(uids);
            assert_eq!(&names(&l, name), want, "{name:?} in {uids:?}");
            let r = resolve(&l, name);
            match want.len() {
                0 => assert_eq!(r, Resolved::None, "{name:?} in {uids:?}"),
                1 => assert!(
                    matches!(r, Resolved::One(e) if e.key.number == want[0]),
                    "{name:?} in {uids:?}: {r:?}"
                ),
                _ => assert!(
                    matches!(&r, Resolved::Ambiguous(v) if v.len() == want.len()),
                    "{name:?} in {uids:?}: {r:?}"
                ),
            }
        }
    }

    /// Without UIDL, names are numbers only, and never ambiguous.
    #[test]
    fn without_uids_only_numbers_resolve() {
        let l: Vec<ListEntry> = (1..=3)
            .map(|n| ListEntry {
                key: MsgKey {
                    number: n,
                    uid: None,
                    generation: 0,
                },
                size: 1,
            })
            .collect();
        assert_eq!(names(&l, "2"), vec![2]);
        assert_eq!(names(&l, "#2"), vec![2]);
        assert_eq!(names(&l, "uid:2"), Vec::<u32>::new());
        assert_eq!(names(&l, "-"), Vec::<u32>::new());
    }

    /// Each candidate of a refusal gets a name that picks it alone, even
    /// when the server planted UIDs that block the short forms.
    #[test]
    fn every_candidate_gets_a_unique_name() {
        for uids in [
            &["3", "b", "c"][..],
            &["#3", "3", "x"],
            &["uid:a", "a", "3"],
            &["uid:uid:a", "uid:a", "a"],
            &["#1", "1", "uid:1", "uid:uid:1"],
            // #3 and 3 both blocked for message 3: only its UID names it.
            &["#3", "3", "uid:x", "x"],
        ] {
            let l = listing(uids);
            for e in &l {
                let names = unique_names(&l, e);
                // One by number and one by UID, unless blocked.
                assert!(!names.is_empty(), "{e:?} in {uids:?}");
                for n in names {
                    assert!(
                        matches!(resolve(&l, &n), Resolved::One(x) if x == e),
                        "{n:?} for {e:?} in {uids:?}"
                    );
                }
            }
        }
        // Duplicate UIDs: only the number can tell the two apart.
        let l = listing(&["d", "d"]);
        assert_eq!(unique_name(&l, &l[0]).as_deref(), Some("#1"));
    }

    #[test]
    fn the_refusal_shows_both_candidates_sanitized() {
        let l = listing(&["3", "b", "c"]);
        let mut previews = HashMap::new();
        previews.insert(
            l[2].key.clone(),
            HeaderSummary {
                from_name: "Evil\u{1b}[2J".into(),
                from_addr: "x@evil.example".into(),
                subject: "pay\u{202e}now".into(),
                ..HeaderSummary::default()
            },
        );
        let found = candidates(&l, "3");
        let m = ambiguity_message(&l, &previews, "3", &found);
        assert!(m.contains("#1 uid \"3\" 100 bytes"), "{m}");
        assert!(m.contains("#3 uid \"c\" 102 bytes"), "{m}");
        assert!(m.contains("x@evil.example"), "{m}");
        assert!(m.contains("name it alone with: #1 or uid:3"), "{m}");
        assert!(m.contains("name it alone with: #3 or uid:c"), "{m}");
        assert!(
            !m.chars().any(|c| c != '\n' && sanitize::is_forbidden(c)),
            "{m:?}"
        );
    }
}
