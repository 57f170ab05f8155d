//! Triage with mutt's pattern commands: `D` marks and `U` undoes marks on
//! every message a pattern matches, `l` limits the list, `T` and `^T` tag
//! and untag by pattern, `t` tags one message, `;` applies the next
//! command to the tagged messages, `z` undoes the last bulk change, `M`
//! reviews every mark.
//!
//! The safety rules, in one place:
//! - a bulk change is shown (how many messages, how much data) and asked
//!   (`y`/`n`) before it is applied ([`Dialog::Bulk`]);
//! - `D` considers only the messages the list shows (the limit and the
//!   filter apply): nothing is marked that the user can't see; undoing
//!   (`U`) considers every message, as undoing deletes nothing;
//! - every bulk change is one step of the undo history (`z`).

use std::sync::Arc;

use super::line_edit::{Edit, LineEditor, remember};
use super::*;
use crate::pattern::{Candidate, Now, Pattern};

/// What a pattern prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternPurpose {
    Mark,
    Unmark,
    Limit,
    Tag,
    Untag,
}

impl PatternPurpose {
    /// The prompt's words.
    pub fn prompt(self) -> &'static str {
        match self {
            PatternPurpose::Mark => "Mark messages matching: ",
            PatternPurpose::Unmark => "Undo marks on messages matching: ",
            PatternPurpose::Limit => "Limit to messages matching: ",
            PatternPurpose::Tag => "Tag messages matching: ",
            PatternPurpose::Untag => "Untag messages matching: ",
        }
    }
}

/// The pattern prompt on the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternPrompt {
    pub purpose: PatternPurpose,
    pub editor: LineEditor,
    /// Why the last Enter was refused (the parser's words), until a key.
    pub error: Option<String>,
}

/// The list limited to what a pattern matches (`l`).
#[derive(Clone, Debug)]
pub struct Limit {
    /// As typed, for the status line.
    pub text: String,
    pattern: Pattern,
}

/// A change of marks applied at once, for `z` (undo).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkChange {
    pub marked: Vec<MsgKey>,
    pub unmarked: Vec<MsgKey>,
}

impl BulkChange {
    fn is_empty(&self) -> bool {
        self.marked.is_empty() && self.unmarked.is_empty()
    }
}

/// A bulk change waiting for its `y`: what it does, on which messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkPlan {
    /// The change itself.
    pub change: BulkChange,
    /// Their sizes, summed (as LIST gave them).
    pub mark_bytes: u64,
    pub unmark_bytes: u64,
    /// Where it comes from, for the question ("~f jenkins", "12 tagged",
    /// "the last bulk change").
    pub source: String,
    /// This plan undoes the last bulk change: applying it pops the history.
    pub is_undo: bool,
}

/// Most bulk changes `z` can undo, newest kept.
const UNDO_DEPTH: usize = 50;
/// At most this many bytes of bodies read in this session are kept for
/// `~b` (never downloaded to search; the oldest go first).
pub const BODY_CACHE_BYTES: usize = 64 * 1024 * 1024;

impl App {
    /// The clock and zone a pattern's dates are read in.
    fn pattern_now(&self) -> Now {
        Now {
            unix: self.now,
            offset_minutes: self.opts.utc_offset_minutes,
        }
    }

    /// What a pattern sees of row `i`.
    fn candidate(&self, i: usize) -> Candidate<'_> {
        let row = &self.rows.rows[i];
        let info = row.info.as_ref();
        Candidate {
            text: info.map(|x| &x.text),
            size: row.size,
            marked: row.mark_state().is_marked(),
            tagged: row.tagged,
            new: row.new,
            duplicate: info.is_some_and(|x| {
                !x.message_id.is_empty()
                    && self.message_ids.get(&x.message_id).is_some_and(|&n| n > 1)
            }),
            body: row
                .key
                .uid
                .as_ref()
                .and_then(|u| self.bodies.get(u))
                .map(|b| b.as_ref()),
        }
    }

    /// Row indices among `among` that `p` matches.
    fn matching(&self, p: &Pattern, among: impl Iterator<Item = usize>) -> Vec<usize> {
        among.filter(|&i| p.matches(&self.candidate(i))).collect()
    }

    /// Open the pattern prompt for `purpose`.
    pub(super) fn open_prompt(&mut self, purpose: PatternPurpose) {
        self.prompt = Some(PatternPrompt {
            purpose,
            editor: LineEditor::new(&self.pattern_history),
            error: None,
        });
    }

    /// A key while the pattern prompt is open.
    pub(super) fn prompt_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
        let Some(prompt) = &mut self.prompt else {
            return;
        };
        prompt.error = None;
        match prompt.editor.key(&k) {
            Edit::Editing => {}
            Edit::Cancel => self.prompt = None,
            Edit::Submit(text) => {
                let purpose = prompt.purpose;
                match Pattern::parse(&text, self.pattern_now()) {
                    Ok(p) => {
                        self.prompt = None;
                        if !text.trim().is_empty() {
                            remember(&mut self.pattern_history, &text);
                            self.effects
                                .push(Effect::SaveHistory(self.pattern_history.clone()));
                        }
                        self.apply_pattern(purpose, text.trim(), p, out);
                    }
                    Err(e) => {
                        if let Some(prompt) = &mut self.prompt {
                            prompt.error = Some(clean_line(&e.to_string()));
                        }
                    }
                }
            }
        }
    }

    fn apply_pattern(
        &mut self,
        purpose: PatternPurpose,
        text: &str,
        p: Pattern,
        out: &mut Vec<Request>,
    ) {
        match purpose {
            PatternPurpose::Limit => self.set_limit(text, p),
            PatternPurpose::Mark => {
                // Only what the list shows: nothing hidden gets marked.
                let hits = self.matching(&p, self.rows.view.clone().into_iter());
                let keys = self.keys_of(hits.into_iter().filter(|&i| !self.is_marked(i)));
                self.plan_marks(keys, Vec::new(), text.to_string(), false);
            }
            // `U` with an empty pattern or `~A`: every mark, asked as `U`
            // always did when more than one.
            PatternPurpose::Unmark if p.is_all() => self.unmark_all(out),
            PatternPurpose::Unmark => {
                let hits = self.matching(&p, 0..self.rows.rows.len());
                let keys = self.keys_of(hits.into_iter().filter(|&i| self.is_marked(i)));
                self.plan_marks(Vec::new(), keys, text.to_string(), false);
            }
            PatternPurpose::Tag | PatternPurpose::Untag => {
                let on = purpose == PatternPurpose::Tag;
                let hits = self.matching(&p, self.rows.view.clone().into_iter());
                let mut n = 0;
                for i in hits {
                    if self.rows.rows[i].tagged != on {
                        self.rows.rows[i].tagged = on;
                        n += 1;
                    }
                }
                self.set_notice(format!(
                    "{} {n} message{}; {} tagged",
                    if on { "tagged" } else { "untagged" },
                    plural(n),
                    self.tagged_count()
                ));
            }
        }
    }

    fn is_marked(&self, i: usize) -> bool {
        self.rows.rows[i].mark_state().is_marked()
    }

    fn keys_of(&self, rows: impl Iterator<Item = usize>) -> Vec<MsgKey> {
        rows.map(|i| self.rows.rows[i].key.clone()).collect()
    }

    fn size_of(&self, keys: &[MsgKey]) -> u64 {
        keys.iter()
            .filter_map(|k| self.rows.find(k))
            .map(|i| self.rows.rows[i].size)
            .fold(0u64, u64::saturating_add)
    }

    /// Ask before a bulk change, or say there is nothing to change.
    fn plan_marks(
        &mut self,
        mark: Vec<MsgKey>,
        unmark: Vec<MsgKey>,
        source: String,
        is_undo: bool,
    ) {
        if mark.is_empty() && unmark.is_empty() {
            self.set_notice(if is_undo {
                "nothing to undo: the marks are already as before".to_string()
            } else {
                format!("no message to change: {source} matches none that isn't so already")
            });
            if is_undo {
                self.bulk_undo.pop();
            }
            return;
        }
        self.dialog = Some(Dialog::Bulk(BulkPlan {
            mark_bytes: self.size_of(&mark),
            unmark_bytes: self.size_of(&unmark),
            change: BulkChange {
                marked: mark,
                unmarked: unmark,
            },
            source,
            is_undo,
        }));
    }

    /// `y` on a bulk change: apply it and remember it for `z`.
    pub(super) fn bulk_confirmed(&mut self, plan: BulkPlan, out: &mut Vec<Request>) {
        let mut done = BulkChange::default();
        for key in &plan.change.unmarked {
            if self.unmark_quietly(key, out) {
                done.unmarked.push(key.clone());
            }
        }
        for key in &plan.change.marked {
            if self.mark_quietly(key, out) {
                done.marked.push(key.clone());
            }
        }
        self.recount_marks();
        if plan.is_undo {
            self.bulk_undo.pop();
        } else if !done.is_empty() {
            self.bulk_undo.push(done.clone());
            if self.bulk_undo.len() > UNDO_DEPTH {
                self.bulk_undo.remove(0);
            }
        }
        self.set_notice(format!(
            "{}{}{}",
            if done.marked.is_empty() {
                String::new()
            } else {
                format!("marked {}", done.marked.len())
            },
            if done.marked.is_empty() || done.unmarked.is_empty() {
                ""
            } else {
                ", "
            },
            if done.unmarked.is_empty() {
                String::new()
            } else {
                format!(
                    "undid {} mark{}",
                    done.unmarked.len(),
                    plural(done.unmarked.len())
                )
            }
        ));
    }

    /// `z`: undo the last bulk change (asked like any bulk change).
    pub(super) fn undo_bulk(&mut self) {
        let Some(last) = self.bulk_undo.last().cloned() else {
            self.set_notice("no bulk change to undo".to_string());
            return;
        };
        // The reverse, of what still is as the change left it.
        let unmark: Vec<MsgKey> = last
            .marked
            .into_iter()
            .filter(|k| self.rows.find(k).is_some_and(|i| self.is_marked(i)))
            .collect();
        let mark: Vec<MsgKey> = last
            .unmarked
            .into_iter()
            .filter(|k| self.rows.find(k).is_some_and(|i| !self.is_marked(i)))
            .collect();
        self.plan_marks(mark, unmark, "the last bulk change".to_string(), true);
    }

    // ----- tags and `;` -----

    pub fn tagged_count(&self) -> usize {
        self.rows.rows.iter().filter(|r| r.tagged).count()
    }

    /// `t`: tag or untag the message under the cursor, then the next.
    pub(super) fn toggle_tag(&mut self) {
        if let Some(i) = self.cursor_key().and_then(|k| self.rows.find(k)) {
            let row = &mut self.rows.rows[i];
            row.tagged = !row.tagged;
            self.move_cursor(1);
        }
    }

    /// The command after `;`, applied to every tagged message.
    pub(super) fn on_tagged(&mut self, action: Action) {
        let tagged: Vec<usize> = (0..self.rows.rows.len())
            .filter(|&i| self.rows.rows[i].tagged)
            .collect();
        if tagged.is_empty() {
            self.set_notice(format!(
                "no message is tagged: {} tags one, {} tags by pattern",
                self.opts.keymap.hint(Action::ToggleTag),
                self.opts.keymap.hint(Action::TagPattern)
            ));
            return;
        }
        let source = format!("the {} tagged", tagged.len());
        match action {
            Action::Mark => {
                let keys = self.keys_of(tagged.into_iter().filter(|&i| !self.is_marked(i)));
                self.plan_marks(keys, Vec::new(), source, false);
            }
            Action::Unmark => {
                let keys = self.keys_of(tagged.into_iter().filter(|&i| self.is_marked(i)));
                self.plan_marks(Vec::new(), keys, source, false);
            }
            Action::ToggleTag => {
                for i in tagged {
                    self.rows.rows[i].tagged = false;
                }
                self.set_notice("every tag removed".to_string());
            }
            _ => self.set_notice(format!(
                "{} works with: {} (mark), {} (undo), {} (untag all)",
                self.opts.keymap.hint(Action::TagPrefix),
                self.opts.keymap.hint(Action::Mark),
                self.opts.keymap.hint(Action::Unmark),
                self.opts.keymap.hint(Action::ToggleTag)
            )),
        }
    }

    // ----- the limit -----

    fn set_limit(&mut self, text: &str, p: Pattern) {
        if p.is_all() {
            self.limit = None;
            self.rows.set_limit(None);
            self.set_notice("limit off: every message is shown".to_string());
        } else {
            self.limit = Some(Limit {
                text: text.to_string(),
                pattern: p,
            });
            self.limit_generation = None;
            self.refresh_limit();
        }
        self.rebuild_view(false);
    }

    /// Recompute which rows the limit lets through, when the rows or their
    /// previews changed since it was last computed.
    pub(super) fn refresh_limit(&mut self) {
        let Some(limit) = &self.limit else { return };
        let generation = self.rows.generation();
        if self.limit_generation == Some(generation) {
            return;
        }
        let mask: Vec<bool> = (0..self.rows.rows.len())
            .map(|i| limit.pattern.matches(&self.candidate(i)))
            .collect();
        self.rows.set_limit(Some(mask));
        self.limit_generation = Some(generation);
    }

    /// The limit's pattern as typed, when one is on.
    pub fn limit_text(&self) -> Option<&str> {
        self.limit.as_ref().map(|l| l.text.as_str())
    }

    /// The pattern prompt, when open.
    pub fn prompt(&self) -> Option<&PatternPrompt> {
        self.prompt.as_ref()
    }

    /// `;` was pressed and waits for its command.
    pub fn tag_prefix(&self) -> bool {
        self.tag_prefix
    }

    // ----- bodies for `~b`, duplicates for `~=` -----

    /// Keep the text of a message read in full, for `~b` (bounded).
    pub(super) fn remember_body(&mut self, key: &MsgKey, text: &str) {
        let Some(uid) = &key.uid else { return };
        let text: Arc<str> = Arc::from(text);
        if text.len() > BODY_CACHE_BYTES / 4 {
            return;
        }
        if let Some(old) = self.bodies.insert(uid.clone(), Arc::clone(&text)) {
            self.body_bytes -= old.len();
        } else {
            self.body_order.push_back(uid.clone());
        }
        self.body_bytes += text.len();
        while self.body_bytes > BODY_CACHE_BYTES {
            let Some(oldest) = self.body_order.pop_front() else {
                break;
            };
            if let Some(b) = self.bodies.remove(&oldest) {
                self.body_bytes -= b.len();
            }
        }
    }

    /// Row `i`'s preview is replaced by one with `message_id`: keep the
    /// counts for `~=` without walking every row.
    pub(super) fn count_message_id(&mut self, i: usize, message_id: &str) {
        if let Some(old) = self.rows.rows[i].info.as_ref().map(|x| &x.message_id)
            && !old.is_empty()
            && let Some(n) = self.message_ids.get_mut(old)
        {
            *n = n.saturating_sub(1);
        }
        if !message_id.is_empty() {
            *self.message_ids.entry(message_id.to_string()).or_insert(0) += 1;
        }
    }

    /// Count the Message-IDs of the rows with previews, for `~=`.
    pub(super) fn recount_message_ids(&mut self) {
        self.message_ids.clear();
        for r in &self.rows.rows {
            if let Some(info) = &r.info
                && !info.message_id.is_empty()
            {
                *self.message_ids.entry(info.message_id.clone()).or_insert(0) += 1;
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// mpop's filter to run: the command, and each message's header block
/// (unfolded and sanitized, as `~h` sees it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterJob {
    pub command: String,
    pub messages: Vec<(MsgKey, String)>,
}

/// What the filter said: the messages it would delete (exit 1), and the
/// first failure in words, if any (a filter that fails proposes nothing
/// for that message).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterVerdicts {
    pub delete: Vec<MsgKey>,
    pub error: Option<String>,
}

/// What the saved rules propose after a listing: per rule, how many of the
/// messages not yet marked it matches; the marks, asked like any bulk
/// change (`y` applies them as one undoable step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesProposal {
    pub per_rule: Vec<(String, usize)>,
    pub plan: BulkPlan,
    /// The rules' patterns joined with `|`, to show the matches (`v`).
    pub union: String,
}

impl App {
    /// After a listing's previews are in: what the rules propose, if
    /// anything (never applied without the user's `y`).
    pub(super) fn propose_rules(&mut self) {
        if (self.opts.rules.is_empty() && self.opts.filter_command.is_none())
            || self.dialog.is_some()
            || self.prompt.is_some()
            || self.filter_running
        {
            return;
        }
        self.rules_due = false;
        if let Some(command) = self.opts.filter_command.clone()
            && self.filter_hits.is_empty()
        {
            // The filter first (unless its verdicts wait for a dialog to
            // close); they come back as
            // `AppEvent::Filtered` and the proposal follows them.
            let messages: Vec<(MsgKey, String)> = self
                .rows
                .rows
                .iter()
                .filter(|r| !r.mark_state().is_marked())
                .filter_map(|r| Some((r.key.clone(), r.info.as_ref()?.text.headers().to_string())))
                .collect();
            if !messages.is_empty() {
                self.filter_running = true;
                self.effects
                    .push(Effect::Filter(FilterJob { command, messages }));
                return;
            }
        }
        self.propose_now();
    }

    /// The filter answered: propose with its verdicts.
    pub(super) fn on_filtered(&mut self, v: FilterVerdicts) {
        self.filter_running = false;
        if let Some(e) = &v.error {
            self.set_notice(format!("filter_command: {}", clean_line(e)));
        }
        self.filter_hits = v.delete;
        self.propose_now();
    }

    fn propose_now(&mut self) {
        if self.dialog.is_some() || self.prompt.is_some() {
            // Comes once they close (see `on_tick`).
            self.rules_due = true;
            return;
        }
        let now = self.pattern_now();
        let mut per_rule = Vec::new();
        let mut hit = vec![false; self.rows.rows.len()];
        let mut parts = Vec::new();
        for (name, text) in &self.opts.rules {
            // Checked when the config was read; a pattern that no longer
            // parses (it can't) proposes nothing.
            let Ok(p) = Pattern::parse(text, now) else {
                continue;
            };
            let mut n = 0;
            for (i, h) in hit.iter_mut().enumerate() {
                if !self.rows.rows[i].mark_state().is_marked() && p.matches(&self.candidate(i)) {
                    n += 1;
                    *h = true;
                }
            }
            if n > 0 {
                per_rule.push((name.clone(), n));
                parts.push(format!("({text})"));
            }
        }
        let mut from_filter = 0;
        for key in std::mem::take(&mut self.filter_hits) {
            if let Some(i) = self.rows.find(&key)
                && !self.rows.rows[i].mark_state().is_marked()
            {
                from_filter += 1;
                hit[i] = true;
            }
        }
        if from_filter > 0 {
            per_rule.push(("filter_command".to_string(), from_filter));
        }
        let keys = self.keys_of((0..hit.len()).filter(|&i| hit[i]));
        if keys.is_empty() {
            return;
        }
        let source = match per_rule.len() {
            1 => format!("rule {}", per_rule[0].0),
            n => format!("{n} rules"),
        };
        self.dialog = Some(Dialog::Rules(RulesProposal {
            per_rule,
            plan: BulkPlan {
                mark_bytes: self.size_of(&keys),
                unmark_bytes: 0,
                change: BulkChange {
                    marked: keys,
                    unmarked: Vec::new(),
                },
                source,
                is_undo: false,
            },
            union: parts.join(" | "),
        }));
    }

    /// `v` on the proposal: limit the list to what the rules match.
    pub(super) fn show_proposal(&mut self, proposal: RulesProposal) {
        match Pattern::parse(&proposal.union, self.pattern_now()) {
            Ok(p) => {
                self.set_limit(&proposal.union, p);
                self.set_notice(format!(
                    "showing what the rules match; {} marks them all (enter ~A), {} then enter shows all",
                    self.opts.keymap.hint(Action::MarkPattern),
                    self.opts.keymap.hint(Action::Limit)
                ));
            }
            Err(e) => self.set_notice(clean_line(&e.to_string())),
        }
    }
}
