//! The marks file (version 2) and the pattern prompts' history, in the
//! account's data directory (see the module doc of [`crate::store`]).

use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

use super::files::write_atomic;
use super::{MAX_ENTRIES, Store};
use crate::mail;
use crate::pop3::response::valid_uid;
use crate::private_fs::sync_dir;

/// Version of the marks file written here. Version 1 is still read
/// (migrated); a newer one is ignored (read as empty, left in place until
/// the next save replaces it).
pub const MARKS_VERSION: u32 = 2;
pub(super) const MARKS_FILE: &str = "marks.json";
/// A marks file bigger than this is set aside.
pub const MAX_MARKS_BYTES: u64 = 64 << 20;
/// The pattern history file is refused above this size (it holds at most
/// a hundred short lines).
pub const MAX_HISTORY_BYTES: u64 = 1 << 20;
/// The pattern prompts' history, in the account's data directory.
const HISTORY_FILE: &str = "patterns.json";

/// One deletion mark as kept on disk: the message it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMark {
    pub uid: String,
    /// The LIST size when the mark was made; `None` only for marks migrated
    /// from a version 1 file (matched by UID only, and the user is told).
    #[serde(default)]
    pub size: Option<u64>,
    /// The Message-ID of the marked message, when a preview was known.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Sender and subject, to tell the user which message a dropped mark was.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub subject: String,
}

impl SavedMark {
    /// A mark that knows only its UID (as a version 1 file kept it).
    pub fn uid_only(uid: impl Into<String>) -> SavedMark {
        SavedMark {
            uid: uid.into(),
            ..SavedMark::default()
        }
    }
}

#[derive(Serialize)]
struct MarksOut<'a> {
    version: u32,
    marks: &'a [SavedMark],
}

#[derive(Deserialize)]
struct MarksIn {
    version: u32,
    /// Version 2.
    #[serde(default)]
    marks: Vec<SavedMark>,
    /// Version 1: UIDs only.
    #[serde(default)]
    uids: Vec<String>,
}

impl Store {
    /// The marks not yet committed, in the order saved, each with what the
    /// listing said when it was made (a version 1 file gives UIDs only:
    /// `size` `None`). Missing, corrupt or not a regular file: none (set
    /// aside with a warning). Strings are sanitized and capped, invalid
    /// UIDs and duplicates dropped.
    pub fn load_mark_records(&self) -> Vec<SavedMark> {
        let path = self.dir.join(MARKS_FILE);
        let Some(m) = self.read_json::<MarksIn>(&path, MAX_MARKS_BYTES) else {
            return Vec::new();
        };
        let raw: Vec<SavedMark> = match m.version {
            1 => m.uids.into_iter().map(SavedMark::uid_only).collect(),
            MARKS_VERSION => m.marks,
            _ => return Vec::new(),
        };
        let total = raw.len();
        let mut seen = std::collections::HashSet::new();
        let marks: Vec<SavedMark> = raw
            .into_iter()
            .filter(|m| valid_uid(m.uid.as_bytes()) && seen.insert(m.uid.clone()))
            .take(MAX_ENTRIES)
            .map(|m| SavedMark {
                message_id: m
                    .message_id
                    .as_deref()
                    .map(mail::resanitize_field)
                    .filter(|id| !id.is_empty()),
                from: mail::resanitize_field(&m.from),
                subject: mail::resanitize_field(&m.subject),
                ..m
            })
            .collect();
        if marks.len() < total {
            self.warn(format!(
                "the marks file {} had {} unusable marks (invalid or repeated unique ids, \
                 or more than {MAX_ENTRIES}); they were dropped, nothing is deleted for them",
                path.display(),
                total - marks.len()
            ));
        }
        marks
    }

    /// The UIDs of [`Store::load_mark_records`] (for humans and tests).
    pub fn load_marks(&self) -> Vec<String> {
        self.load_mark_records()
            .into_iter()
            .map(|m| m.uid)
            .collect()
    }

    /// Replace the marks with `marks`, atomically; none removes the file.
    pub fn save_mark_records(&self, marks: &[SavedMark]) -> io::Result<()> {
        let path = self.dir.join(MARKS_FILE);
        if marks.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            };
        }
        let out = MarksOut {
            version: MARKS_VERSION,
            marks,
        };
        write_atomic(&path, |w| {
            serde_json::to_writer(w, &out).map_err(io::Error::other)
        })
    }

    /// Save marks that know only their UIDs (as a version 1 file did: they
    /// come back matched by UID only, and the user is told).
    pub fn save_marks(&self, uids: &[String]) -> io::Result<()> {
        let marks: Vec<SavedMark> = uids.iter().map(SavedMark::uid_only).collect();
        self.save_mark_records(&marks)
    }

    /// The pattern prompts' history, newest last: a JSON list of strings
    /// (none when the file is missing, unfit or not a list of strings;
    /// cleaning and bounding is the prompt's own rule).
    pub fn load_pattern_history(&self) -> Vec<String> {
        let path = self.dir.join(HISTORY_FILE);
        self.read_json::<Vec<String>>(&path, MAX_HISTORY_BYTES)
            .unwrap_or_default()
    }

    /// Replace the pattern history, atomically.
    pub fn save_pattern_history(&self, history: &[String]) -> io::Result<()> {
        let path = self.dir.join(HISTORY_FILE);
        write_atomic(&path, |w| {
            serde_json::to_writer(w, history).map_err(io::Error::other)
        })
    }
}
