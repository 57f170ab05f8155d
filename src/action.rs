//! The vocabulary of the keymap: every command a key can be bound to.
//!
//! Names are snake_case (`mark`, `half_page_down`, ...) both in the config
//! file (`[keys] d = "mark"`) and on the generated help screen.

use serde::{Deserialize, Serialize};

/// A user command. What it does can depend on the screen (`quit` leaves the
/// reader, but asks before ending the session in the list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Top,
    Bottom,
    Open,
    Back,
    NextMessage,
    PrevMessage,
    Mark,
    Unmark,
    UnmarkAll,
    Commit,
    Quit,
    QuitDiscard,
    Filter,
    NextMatch,
    PrevMatch,
    Sort,
    ReverseSort,
    CheckMail,
    Save,
    NextAttachment,
    Raw,
    FullHeaders,
    Help,
    Suspend,
    MarkPattern,
    UnmarkPattern,
    Limit,
    TagPattern,
    UntagPattern,
    ToggleTag,
    TagPrefix,
    UndoBulk,
    Review,
    Pipe,
    OpenPart,
    Links,
    Accounts,
    Copy,
}

impl Action {
    /// Every action, in the order the help screen lists them.
    pub const ALL: [Action; 44] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::HalfPageUp,
        Action::HalfPageDown,
        Action::Top,
        Action::Bottom,
        Action::Open,
        Action::Back,
        Action::NextMessage,
        Action::PrevMessage,
        Action::Mark,
        Action::Unmark,
        Action::UnmarkAll,
        Action::Commit,
        Action::Quit,
        Action::QuitDiscard,
        Action::Filter,
        Action::NextMatch,
        Action::PrevMatch,
        Action::Sort,
        Action::ReverseSort,
        Action::CheckMail,
        Action::Save,
        Action::NextAttachment,
        Action::Raw,
        Action::FullHeaders,
        Action::MarkPattern,
        Action::UnmarkPattern,
        Action::Limit,
        Action::TagPattern,
        Action::UntagPattern,
        Action::ToggleTag,
        Action::TagPrefix,
        Action::UndoBulk,
        Action::Review,
        Action::Pipe,
        Action::OpenPart,
        Action::Links,
        Action::Accounts,
        Action::Help,
        Action::Suspend,
        Action::Copy,
    ];

    /// The snake_case name used in config files (same as serde's).
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::HalfPageUp => "half_page_up",
            Action::HalfPageDown => "half_page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::Back => "back",
            Action::NextMessage => "next_message",
            Action::PrevMessage => "prev_message",
            Action::Mark => "mark",
            Action::Unmark => "unmark",
            Action::UnmarkAll => "unmark_all",
            Action::Commit => "commit",
            Action::Quit => "quit",
            Action::QuitDiscard => "quit_discard",
            Action::Filter => "filter",
            Action::NextMatch => "next_match",
            Action::PrevMatch => "prev_match",
            Action::Sort => "sort",
            Action::ReverseSort => "reverse_sort",
            Action::CheckMail => "check_mail",
            Action::Save => "save",
            Action::NextAttachment => "next_attachment",
            Action::Raw => "raw",
            Action::FullHeaders => "full_headers",
            Action::Help => "help",
            Action::Suspend => "suspend",
            Action::MarkPattern => "mark_pattern",
            Action::UnmarkPattern => "unmark_pattern",
            Action::Limit => "limit",
            Action::TagPattern => "tag_pattern",
            Action::UntagPattern => "untag_pattern",
            Action::ToggleTag => "toggle_tag",
            Action::TagPrefix => "tag_prefix",
            Action::UndoBulk => "undo_bulk",
            Action::Review => "review",
            Action::Pipe => "pipe",
            Action::OpenPart => "open_part",
            Action::Links => "links",
            Action::Accounts => "accounts",
            Action::Copy => "copy",
        }
    }

    /// What the action does, for the help screen.
    pub fn description(self) -> &'static str {
        match self {
            Action::Up => "move up / scroll up",
            Action::Down => "move down / scroll down",
            Action::PageUp => "one page up",
            Action::PageDown => "one page down",
            Action::HalfPageUp => "half a page up",
            Action::HalfPageDown => "half a page down",
            Action::Top => "first message / top",
            Action::Bottom => "last message / bottom",
            Action::Open => "open the message (confirm big ones; full download of a peek)",
            Action::Back => "back; cancel a download; clear the filter",
            Action::NextMessage => "reader: next message without going back",
            Action::PrevMessage => "reader: previous message without going back",
            Action::Mark => "mark for deletion (deleted only on commit), then the next message",
            Action::Unmark => "undo the mark on this message, then the next message",
            Action::UnmarkAll => "undo every mark (RSET; asks first when more than one)",
            Action::Commit => "commit the marks now: asks first, naming how many and how much",
            Action::Quit => "back; in the list: quit (asks: delete, forget or keep the marks)",
            Action::QuitDiscard => "quit now, keeping every message (marks dropped)",
            Action::Filter => "filter by sender and subject as you type",
            Action::NextMatch => "next message matching the filter",
            Action::PrevMatch => "previous message matching the filter",
            Action::Sort => "cycle sort: arrival, date, sender, subject, size",
            Action::ReverseSort => "reverse the sort direction",
            Action::CheckMail => "check for new mail (asks for a cancelled password again)",
            Action::Save => "save to a mailbox (asks where) and mark it; reader: an attachment",
            Action::NextAttachment => "reader: select the next attachment to save",
            Action::Raw => "reader: raw message on/off",
            Action::FullHeaders => "reader: all headers on/off",
            Action::Help => "this help",
            Action::Suspend => "suspend to the shell (fg resumes; the session stays open)",
            Action::MarkPattern => {
                "mark every shown message a pattern matches (~f jenkins, ~z >1M): shows how many, asks"
            }
            Action::UnmarkPattern => {
                "undo the marks a pattern matches (empty or ~A: every mark): shows how many, asks"
            }
            Action::Limit => "show only the messages a pattern matches (empty or ~A: all)",
            Action::TagPattern => "tag every shown message a pattern matches",
            Action::UntagPattern => "untag every shown message a pattern matches",
            Action::ToggleTag => "tag or untag this message, then the next",
            Action::TagPrefix => {
                "apply the next command (mark, undo, untag) to the tagged messages"
            }
            Action::UndoBulk => "undo the last bulk change of marks (asks first)",
            Action::Review => "review every marked message (count, size), undo marks there",
            Action::Pipe => {
                "pipe the message (raw) to a shell command; the terminal is handed over"
            }
            Action::OpenPart => {
                "reader: open the selected attachment (or the HTML part) with the mailcap viewer"
            }
            Action::Links => "reader: list the message's links; open one (shown in full, asks y)",
            Action::Accounts => {
                "the configured accounts: switch to another (asks about pending marks)"
            }
            Action::Copy => "copy to a mailbox (asks where); the message stays on the server",
        }
    }

    /// The action with this config name, if any.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_round_trip() {
        for a in Action::ALL {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
            assert_eq!(Action::from_name(a.name()), Some(a));
            let back: Action = serde_json::from_str(&json).unwrap();
            assert_eq!(back, a);
        }
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
