//! The message rows, kept by [`MsgKey`], with a sorted order and a filtered
//! view (indices into the rows) recomputed only when the listing, the sort
//! or the filter change, never per frame.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::mail::{HeaderSummary, MailDate};
use crate::pattern::MessageText;
use crate::text::clean_line;
use crate::worker::api::{ListEntry, MsgKey};

/// What the list shows of a message once its preview arrived (sanitized).
#[derive(Clone, Debug)]
pub struct RowInfo {
    pub sender: String,
    pub subject: String,
    pub date: Option<MailDate>,
    pub has_attachments: bool,
    /// What patterns match against (folded texts, hints).
    pub text: MessageText,
    /// The Message-ID, for `~=` (duplicates).
    pub message_id: String,
    /// Lower-case "sender subject" for the filter.
    search: String,
    /// Shared with background sorts (cloning is a reference count).
    sort_sender: Arc<str>,
    sort_subject: Arc<str>,
    /// The first 16 bytes of `sort_sender`/`sort_subject`, big-endian, so
    /// most comparisons while sorting touch no string.
    sender_prefix: u128,
    subject_prefix: u128,
    /// Hashes of the whole strings: equal prefix and equal hash is taken as
    /// equal (a tie), so runs of mail from one sender cost no string compare.
    sender_hash: u64,
    subject_hash: u64,
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

impl RowInfo {
    pub fn from_summary(h: &HeaderSummary) -> RowInfo {
        RowInfo::for_account(h, None)
    }

    /// With the account's own `authserv_id`, whose Authentication-Results
    /// alone are trusted for the hints (see [`MessageText::with_authserv`]).
    pub fn for_account(h: &HeaderSummary, authserv_id: Option<&str>) -> RowInfo {
        let sender = clean_line(&h.sender());
        let subject = clean_line(&h.subject);
        let sort_sender = sender.to_lowercase();
        let sort_subject = subject.to_lowercase();
        let search = format!("{sort_sender} {sort_subject}");
        RowInfo {
            sender,
            subject,
            date: h.date,
            has_attachments: h.has_attachments,
            text: MessageText::with_authserv(h, authserv_id),
            message_id: h.message_id.clone(),
            search,
            sender_prefix: prefix(&sort_sender),
            subject_prefix: prefix(&sort_subject),
            sender_hash: hash(&sort_sender),
            subject_hash: hash(&sort_subject),
            sort_sender: sort_sender.into(),
            sort_subject: sort_subject.into(),
        }
    }
}

/// The state of one message's deletion mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkState {
    None,
    /// Marked, as the worker confirmed.
    Marked,
    /// Mark requested, the worker has not confirmed yet.
    Marking,
    /// Unmark requested, the worker has not confirmed yet.
    Unmarking,
}

impl MarkState {
    /// Will this message be deleted on commit (as far as the user knows)?
    pub fn is_marked(self) -> bool {
        matches!(self, MarkState::Marked | MarkState::Marking)
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub key: MsgKey,
    pub size: u64,
    pub info: Option<RowInfo>,
    /// As the worker last reported.
    pub marked: bool,
    /// Optimistic: what the user asked for and the worker has not confirmed.
    pub pending: Option<bool>,
    /// Which of the UI's mark writes (counted from 1) set `pending`: it
    /// holds until an `Event::Marks` has settled that many.
    pub pending_write: u64,
    /// Tagged (`t`, `T`): the target of `;`.
    pub tagged: bool,
    /// Not seen in an earlier session (`~N`, the `N` flag).
    pub new: bool,
}

impl Row {
    pub fn mark_state(&self) -> MarkState {
        match (self.marked, self.pending) {
            (false, Some(true)) => MarkState::Marking,
            (true, Some(false)) => MarkState::Unmarking,
            (true, _) => MarkState::Marked,
            (false, _) => MarkState::None,
        }
    }
}

/// Most rows searched one by one when a filter is extended; above this the
/// search index is scanned instead.
const NARROW_MAX: usize = 4096;

/// What the list is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Server order (message number).
    Arrival,
    Date,
    Sender,
    Subject,
    Size,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Arrival => SortKey::Date,
            SortKey::Date => SortKey::Sender,
            SortKey::Sender => SortKey::Subject,
            SortKey::Subject => SortKey::Size,
            SortKey::Size => SortKey::Arrival,
        }
    }
    /// The natural direction: newest/biggest first, names A to Z.
    pub fn default_descending(self) -> bool {
        matches!(self, SortKey::Arrival | SortKey::Date | SortKey::Size)
    }
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Arrival => "arrival",
            SortKey::Date => "date",
            SortKey::Sender => "sender",
            SortKey::Subject => "subject",
            SortKey::Size => "size",
        }
    }
    /// Does the order depend on previews?
    pub fn needs_previews(self) -> bool {
        matches!(self, SortKey::Date | SortKey::Sender | SortKey::Subject)
    }
}

/// From this many rows up, a sort the cache can't answer runs on another
/// thread, so a key press never waits for it.
pub const ASYNC_SORT_ROWS: usize = 20_000;

/// (no value: last either way, the value in the asked direction, number,
/// row index, hash of the whole string for string keys).
type SortEntry = (bool, u128, u32, u32, u64);

/// A sort to run off the UI thread: owned data only.
#[derive(Debug)]
pub struct SortJob {
    generation: u64,
    layout: u64,
    key: SortKey,
    descending: bool,
    entries: Vec<SortEntry>,
    /// The whole lower-case strings, by row, for string keys.
    texts: Vec<Option<Arc<str>>>,
}

/// A finished sort, to hand back with [`Rows::sorted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortDone {
    generation: u64,
    layout: u64,
    key: SortKey,
    descending: bool,
    order: Vec<usize>,
}

impl SortJob {
    pub fn run(mut self) -> SortDone {
        let (key, descending) = (self.key, self.descending);
        let texts = &self.texts;
        let full = |i: u32| -> &str { texts[i as usize].as_deref().unwrap_or("") };
        let strings = matches!(key, SortKey::Sender | SortKey::Subject);
        let number_dir = |a: u32, b: u32| {
            if key == SortKey::Arrival || key == SortKey::Size {
                // Ties (equal sizes) follow the direction too.
                if descending { b.cmp(&a) } else { a.cmp(&b) }
            } else {
                a.cmp(&b)
            }
        };
        self.entries.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| {
                    if strings && !a.0 && a.4 != b.4 {
                        let o = full(a.3).cmp(full(b.3));
                        if descending { o.reverse() } else { o }
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .then_with(|| number_dir(a.2, b.2))
        });
        SortDone {
            generation: self.generation,
            layout: self.layout,
            key,
            descending,
            order: self.entries.into_iter().map(|e| e.3 as usize).collect(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<Row>,
    by_uid: HashMap<String, usize>,
    by_number: HashMap<u32, usize>,
    /// All rows in sort order.
    order: Vec<usize>,
    /// `order` filtered; what the list shows. Positions are "view indices".
    pub view: Vec<usize>,
    /// The filter `view` was computed with.
    view_filter: String,
    pub total_size: u64,
    pub with_preview: usize,
    /// Bumped whenever the rows or their previews change; the caches below
    /// are valid only for the generation they were built at.
    generation: u64,
    /// Sort orders already computed: (key, descending) -> (generation, order).
    sorted: HashMap<(SortKey, bool), (u64, Vec<usize>)>,
    /// Background sorts asked for and not yet taken by the terminal loop.
    jobs: Vec<SortJob>,
    /// Background sorts running (key, descending): at most one each.
    sorting: HashSet<(SortKey, bool)>,
    /// Bumped when the listing is replaced: row indices change, so sort
    /// orders from before (cached or still running) are worthless.
    layout: u64,
    /// Every row's search text in one buffer, for one fast scan per filter.
    search: SearchIndex,
    /// The rows a limit (`l`) lets through, by row index; `None`: all.
    limit: Option<Vec<bool>>,
    /// The limit changed since the view was computed.
    limit_changed: bool,
}

/// The rows' lower-case "sender subject" texts, each followed by `\n`, in
/// one contiguous buffer: a filter is one `memmem` scan over it instead of
/// 100,000 pointer chases.
#[derive(Debug, Default)]
struct SearchIndex {
    generation: Option<u64>,
    blob: Vec<u8>,
    /// Where each row's text starts in `blob`.
    starts: Vec<usize>,
}

impl SearchIndex {
    fn rebuild(&mut self, rows: &[Row], generation: u64) {
        self.blob.clear();
        self.starts.clear();
        for r in rows {
            self.starts.push(self.blob.len());
            if let Some(info) = &r.info {
                self.blob.extend_from_slice(info.search.as_bytes());
            }
            self.blob.push(b'\n');
        }
        self.generation = Some(generation);
    }

    /// Which rows contain `q` (which holds no `\n`).
    fn hits(&self, q: &str) -> Vec<bool> {
        let mut hit = vec![false; self.starts.len()];
        let finder = memchr::memmem::Finder::new(q.as_bytes());
        let mut pos = 0;
        while let Some(found) = finder.find(&self.blob[pos..]) {
            let at = pos + found;
            let row = self.starts.partition_point(|&s| s <= at) - 1;
            hit[row] = true;
            // One hit per row is enough: go on from the next row.
            pos = self.starts.get(row + 1).copied().unwrap_or(self.blob.len());
        }
        hit
    }
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row index of a key: by UID when there is one, else by number.
    pub fn find(&self, key: &MsgKey) -> Option<usize> {
        match &key.uid {
            Some(uid) => self.by_uid.get(uid).copied(),
            None => self.by_number.get(&key.number).copied(),
        }
    }

    /// Replace the listing, carrying previews and marks over by UID (or by
    /// number when the server has no UIDL). Returns how many rows are new.
    pub fn merge(&mut self, entries: Vec<ListEntry>) -> usize {
        let mut old: Vec<Option<Row>> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(Some)
            .collect();
        let old_by_uid = std::mem::take(&mut self.by_uid);
        self.by_number.clear();
        let had_rows = !old.is_empty();
        let mut new_count = 0;
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            // A listing always comes from a new session, where message
            // numbers may have shifted: only a UID says it is the same
            // message (SECURITY E29). Rows without one start afresh.
            let prev = e
                .key
                .uid
                .as_ref()
                .and_then(|uid| old_by_uid.get(uid).copied())
                .and_then(|i| old[i].take());
            let row = match prev {
                Some(mut r) => {
                    // A UID listed with another size is another message: a
                    // tag (the target of `;`) is not carried over to it.
                    // Nor its preview (the cached list's, say): fetched
                    // again for this one.
                    if r.size != e.size {
                        r.tagged = false;
                        r.info = None;
                    }
                    r.key = e.key;
                    r.size = e.size;
                    r
                }
                None => {
                    new_count += 1;
                    Row {
                        key: e.key,
                        size: e.size,
                        info: None,
                        marked: false,
                        pending: None,
                        pending_write: 0,
                        tagged: false,
                        new: false,
                    }
                }
            };
            rows.push(row);
        }
        self.rows = rows;
        self.reindex();
        // Row indices changed: every order computed before means nothing.
        self.order.clear();
        self.sorted.clear();
        self.layout += 1;
        self.generation += 1;
        if had_rows { new_count } else { 0 }
    }

    fn reindex(&mut self) {
        self.by_uid.clear();
        self.by_number.clear();
        // Sized once, not grown row by row (a first listing of 30,000).
        self.by_uid.reserve(self.rows.len());
        self.by_number.reserve(self.rows.len());
        self.total_size = 0;
        self.with_preview = 0;
        for (i, r) in self.rows.iter().enumerate() {
            if let Some(uid) = &r.key.uid {
                self.by_uid.insert(uid.clone(), i);
            }
            self.by_number.insert(r.key.number, i);
            self.total_size += r.size;
            self.with_preview += usize::from(r.info.is_some());
        }
    }

    pub fn set_info(&mut self, i: usize, info: RowInfo) {
        if self.rows[i].info.is_none() {
            self.with_preview += 1;
        }
        self.rows[i].info = Some(info);
        self.generation += 1;
    }

    /// Changes with every listing and preview (for "nothing changed since").
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Prepare one sort order the user may ask for next, while idle, so
    /// that `o`/`O` later costs a copy instead of a sort: in the background
    /// for a big list. Returns false when every order is current or coming.
    pub fn warm_one_order(&mut self) -> bool {
        const KEYS: [SortKey; 5] = [
            SortKey::Date,
            SortKey::Sender,
            SortKey::Subject,
            SortKey::Size,
            SortKey::Arrival,
        ];
        let wanted = KEYS
            .iter()
            .map(|&k| (k, k.default_descending()))
            .chain(KEYS.iter().map(|&k| (k, !k.default_descending())));
        for (key, desc) in wanted {
            if !self.order_is_current(key, desc) && !self.sorting.contains(&(key, desc)) {
                self.order_later_or_now(key, desc);
                return true;
            }
        }
        false
    }

    /// Compute an order now (small lists) or queue a background sort.
    /// Returns whether the order is ready.
    fn order_later_or_now(&mut self, key: SortKey, desc: bool) -> bool {
        if self.rows.len() < ASYNC_SORT_ROWS || key == SortKey::Arrival {
            let order = self.sort_job(key, desc).run().order;
            self.sorted.insert((key, desc), (self.generation, order));
            return true;
        }
        // One at a time per order: while previews stream in, the running
        // sort finishes (a little stale) before the next one starts.
        if self.sorting.insert((key, desc)) {
            let job = self.sort_job(key, desc);
            self.jobs.push(job);
        }
        false
    }

    /// Background sorts for the terminal loop to run off the UI thread.
    pub fn take_sort_jobs(&mut self) -> Vec<SortJob> {
        std::mem::take(&mut self.jobs)
    }

    /// A background sort finished. Kept unless the listing was replaced
    /// meanwhile; if only previews arrived, it is kept as a stale order:
    /// shown (better than the one before) and computed again later.
    /// Returns whether it is stored.
    pub fn sorted(&mut self, done: SortDone) -> bool {
        self.sorting.remove(&(done.key, done.descending));
        if done.layout != self.layout || done.order.len() != self.rows.len() {
            return false;
        }
        self.sorted
            .insert((done.key, done.descending), (done.generation, done.order));
        true
    }

    fn order_is_current(&self, key: SortKey, desc: bool) -> bool {
        self.sorted
            .get(&(key, desc))
            .is_some_and(|(g, _)| *g == self.generation)
    }

    pub fn marked_count(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.mark_state().is_marked())
            .count()
    }

    /// Recompute the sort order, then the view.
    ///
    /// Keys are copied into a compact vector first (one linear pass over the
    /// rows), so the sort itself compares small fixed-size entries instead
    /// of chasing row pointers; strings are compared only when their first
    /// 16 bytes tie.
    /// Returns false when the order is being computed in the background;
    /// meanwhile the latest order for this sort (if any) or the previous
    /// one stays shown, until [`Rows::sorted`] delivers the new one.
    pub fn sort(&mut self, key: SortKey, descending: bool, filter: &str) -> bool {
        let usable = |r: &Rows| {
            r.sorted
                .get(&(key, descending))
                .is_some_and(|(_, o)| o.len() == r.rows.len())
        };
        if !self.order_is_current(key, descending) {
            if self.order.len() != self.rows.len() && !usable(self) {
                // Nothing to show meanwhile (a first listing): sort now.
                let order = self.sort_job(key, descending).run().order;
                self.sorted
                    .insert((key, descending), (self.generation, order));
            } else {
                self.order_later_or_now(key, descending);
            }
        }
        if usable(self) {
            self.order = self.sorted[&(key, descending)].1.clone();
        }
        self.view_filter.clear();
        self.filter(filter, true);
        self.order_is_current(key, descending)
    }

    /// The compact copy of the rows a sort needs (one linear pass): keys
    /// are copied into small fixed-size entries so the sort compares
    /// integers, and strings only when their first 16 bytes tie.
    fn sort_job(&self, key: SortKey, descending: bool) -> SortJob {
        let directed = |v: u128| if descending { !v } else { v };
        let rows = &self.rows;
        let entries = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let n = r.key.number;
                let value: Option<u128> = match key {
                    SortKey::Arrival => Some(u128::from(n)),
                    SortKey::Size => Some(u128::from(r.size)),
                    SortKey::Date => r
                        .info
                        .as_ref()
                        .and_then(|x| x.date)
                        .map(|d| (i128::from(d.unix) - i128::from(i64::MIN)) as u128),
                    SortKey::Sender => r.info.as_ref().map(|x| x.sender_prefix),
                    SortKey::Subject => r.info.as_ref().map(|x| x.subject_prefix),
                };
                let h = match (key, r.info.as_ref()) {
                    (SortKey::Sender, Some(x)) => x.sender_hash,
                    (SortKey::Subject, Some(x)) => x.subject_hash,
                    _ => 0,
                };
                (value.is_none(), value.map_or(0, directed), n, i as u32, h)
            })
            .collect();
        let texts = match key {
            SortKey::Sender => rows
                .iter()
                .map(|r| r.info.as_ref().map(|x| Arc::clone(&x.sort_sender)))
                .collect(),
            SortKey::Subject => rows
                .iter()
                .map(|r| r.info.as_ref().map(|x| Arc::clone(&x.sort_subject)))
                .collect(),
            _ => Vec::new(),
        };
        SortJob {
            generation: self.generation,
            layout: self.layout,
            key,
            descending,
            entries,
            texts,
        }
    }

    #[cfg(test)]
    fn compute_order(&self, key: SortKey, descending: bool) -> Vec<usize> {
        self.sort_job(key, descending).run().order
    }

    /// Recompute the view for `filter` (lower-cased substring over sender
    /// and subject). When the new filter only extends the old one, only the
    /// current view is searched.
    pub fn filter(&mut self, filter: &str, force: bool) {
        // A pasted line break can't match across two rows' texts.
        let q: String = filter.to_lowercase().replace(['\n', '\r'], " ");
        if !force && q == self.view_filter && !self.limit_changed {
            return;
        }
        let narrowing_allowed = !self.limit_changed;
        self.limit_changed = false;
        if q.is_empty() {
            self.view = self.order.clone();
        } else {
            // Extending the filter only needs the rows still shown, while
            // few; with many, one scan of the contiguous index is faster
            // than a pointer chase per row.
            let narrowing = !force
                && narrowing_allowed
                && !self.view_filter.is_empty()
                && q.starts_with(&self.view_filter)
                && self.view.len() <= NARROW_MAX;
            let rows = &self.rows;
            let matches = |r: &Row| {
                r.info
                    .as_ref()
                    .is_some_and(|info| info.search.contains(q.as_str()))
            };
            self.view = if narrowing {
                self.view
                    .iter()
                    .copied()
                    .filter(|&i| matches(&rows[i]))
                    .collect()
            } else {
                if self.search.generation != Some(self.generation) {
                    self.search.rebuild(rows, self.generation);
                }
                let hit = self.search.hits(&q);
                self.order.iter().copied().filter(|&i| hit[i]).collect()
            };
        }
        if let Some(mask) = &self.limit {
            self.view.retain(|&i| mask.get(i) == Some(&true));
        }
        self.view_filter = q;
    }

    /// Every row index in the current sort order (while a first sort is
    /// pending, in server order).
    pub fn order(&self) -> Vec<usize> {
        if self.order.len() == self.rows.len() {
            self.order.clone()
        } else {
            (0..self.rows.len()).collect()
        }
    }

    /// Limit the view to the rows `mask` lets through (by row index), or
    /// lift the limit; the next [`Rows::filter`] applies it.
    pub fn set_limit(&mut self, mask: Option<Vec<bool>>) {
        self.limit = mask;
        self.limit_changed = true;
    }

    /// How many rows the limit lets through (all without a limit).
    pub fn limited_len(&self) -> usize {
        match &self.limit {
            Some(mask) => mask.iter().filter(|&&b| b).count(),
            None => self.rows.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(subjects: &[&str]) -> Rows {
        let mut r = Rows::default();
        r.merge(
            (1..=subjects.len() as u32)
                .map(|n| ListEntry {
                    key: MsgKey {
                        number: n,
                        uid: Some(format!("u{n}")),
                        generation: 0,
                    },
                    size: u64::from(n),
                })
                .collect(),
        );
        for (i, s) in subjects.iter().enumerate() {
            if !s.is_empty() {
                let h = HeaderSummary {
                    from_name: format!("Sender {}", i % 3),
                    from_addr: "a@b.example".into(),
                    subject: s.to_string(),
                    ..Default::default()
                };
                r.set_info(i, RowInfo::from_summary(&h));
            }
        }
        r
    }

    #[test]
    fn the_search_index_finds_what_contains_finds() {
        let subjects = [
            "Hello world",
            "",
            "WORLD peace",
            "nothing",
            "worldwide",
            "wor\u{308}ld",
        ];
        let mut r = rows(&subjects);
        r.sort(SortKey::Arrival, false, "");
        for q in [
            "world",
            "o",
            "sender 1",
            "peace",
            "zzz",
            "ld\nwo",
            "wor\u{308}",
        ] {
            r.filter(q, true);
            let want: Vec<usize> = r
                .order
                .iter()
                .copied()
                .filter(|&i| {
                    let needle = q.to_lowercase().replace(['\n', '\r'], " ");
                    r.rows[i]
                        .info
                        .as_ref()
                        .is_some_and(|x| x.search.contains(&needle))
                })
                .collect();
            assert_eq!(r.view, want, "query {q:?}");
        }
    }

    #[test]
    fn warmed_orders_equal_fresh_sorts_and_go_stale_on_change() {
        let mut r = rows(&["b", "a", "", "c", "a"]);
        while r.warm_one_order() {}
        for key in [
            SortKey::Date,
            SortKey::Sender,
            SortKey::Subject,
            SortKey::Size,
        ] {
            for desc in [false, true] {
                assert_eq!(r.sorted[&(key, desc)].1, r.compute_order(key, desc));
            }
        }
        r.set_info(
            2,
            RowInfo::from_summary(&HeaderSummary {
                subject: "0 first".into(),
                ..Default::default()
            }),
        );
        assert!(!r.order_is_current(SortKey::Subject, false));
        r.sort(SortKey::Subject, false, "");
        assert_eq!(r.order[0], 2, "the new preview is sorted in");
    }
    #[test]
    fn big_lists_sort_in_the_background_one_job_at_a_time() {
        let subjects: Vec<String> = (0..ASYNC_SORT_ROWS + 10)
            .map(|i| format!("s{}", (i * 7919) % 1000))
            .collect();
        let refs: Vec<&str> = subjects.iter().map(String::as_str).collect();
        let mut r = rows(&refs);
        r.sort(SortKey::Arrival, false, "");
        let before = r.order.clone();
        assert!(!r.sort(SortKey::Subject, false, ""), "queued, not done");
        assert_eq!(r.order, before, "the old order stays shown");
        assert!(!r.sort(SortKey::Subject, false, ""));
        let jobs = r.take_sort_jobs();
        assert_eq!(jobs.len(), 1, "one job at a time per order");
        // A preview arrives while it runs: the result is kept (and shown),
        // but it is stale, so the next sort asks again.
        r.set_info(0, RowInfo::from_summary(&HeaderSummary::default()));
        assert!(r.sorted(jobs.into_iter().next().unwrap().run()));
        assert!(!r.sort(SortKey::Subject, false, ""));
        assert_ne!(r.order, before, "the slightly stale order is shown");
        let done = r.take_sort_jobs().pop().unwrap().run();
        assert!(r.sorted(done));
        assert!(r.sort(SortKey::Subject, false, ""));
        assert_eq!(r.order, r.compute_order(SortKey::Subject, false));
        // A new listing (row indices change) makes a running sort worthless.
        assert!(!r.sort(SortKey::Sender, false, ""));
        let job = r.take_sort_jobs().pop().unwrap();
        let entries = r
            .rows
            .iter()
            .map(|row| ListEntry {
                key: row.key.clone(),
                size: row.size,
            })
            .collect();
        r.merge(entries);
        assert!(!r.sorted(job.run()));
    }
}
