//! Pure adapter over mail-parser: header previews from `TOP n 0` bytes and
//! full message views from `RETR` bytes, as owned, sanitized data.
//!
//! Everything here runs on the worker thread; the UI only ever sees the
//! owned structs below, never MIME.

use serde::{Deserialize, Serialize};

/// A point in time as written in a `Date:` header: UTC seconds plus the
/// sender's offset, so the UI can show local or sender time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MailDate {
    /// Seconds since the Unix epoch, UTC.
    pub unix: i64,
    /// The sender's offset from UTC in minutes (east positive).
    pub tz_offset_minutes: i32,
}

/// What the message list needs of one message, parsed from its headers.
/// Every string is already sanitized for the terminal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSummary {
    /// Display name of the first From address; empty when there is none.
    pub from_name: String,
    /// Address of the first From address; empty when there is none.
    pub from_addr: String,
    /// The To addresses, comma separated, for display.
    pub to: String,
    /// Subject, RFC 2047 decoded.
    pub subject: String,
    pub date: Option<MailDate>,
    pub message_id: String,
    /// The message is likely to carry attachments (multipart/mixed and similar).
    pub has_attachments: bool,
}

/// One attachment of a retrieved message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// A safe base name to save under (never a path).
    pub name: String,
    /// MIME type, e.g. `application/pdf`.
    pub mime: String,
    /// The decoded content.
    pub data: Vec<u8>,
}

/// A retrieved message, ready to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageView {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub date: Option<MailDate>,
    /// The `Date:` header as written, sanitized (shown when it can't be parsed).
    pub date_text: String,
    pub subject: String,
    /// Every header in order, names and unfolded values, sanitized.
    pub headers: Vec<(String, String)>,
    /// The body as readable text, sanitized; HTML-only mail converted.
    pub body: String,
    /// The text came from an HTML part.
    pub body_from_html: bool,
    pub attachments: Vec<Attachment>,
    /// The message exactly as the server sent it (after dot-unstuffing).
    pub raw: Vec<u8>,
    /// Set when the message could not be parsed normally; says why.
    pub parse_note: Option<String>,
}

// Interim adapter (replaced by the full one from the mail branch).
pub fn summarize(header_bytes: &[u8]) -> HeaderSummary {
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(header_bytes) else {
        return HeaderSummary::default();
    };
    let from = msg.from().and_then(|a| a.first());
    HeaderSummary {
        from_name: crate::sanitize::line(from.and_then(|a| a.name()).unwrap_or("")),
        from_addr: crate::sanitize::line(from.and_then(|a| a.address()).unwrap_or("")),
        subject: crate::sanitize::line(msg.subject().unwrap_or("")),
        ..HeaderSummary::default()
    }
}

pub fn view(raw: Vec<u8>) -> MessageView {
    let parsed = mail_parser::MessageParser::default().parse(&raw);
    let (subject, body) = match &parsed {
        Some(m) => (
            m.subject().unwrap_or("").to_string(),
            m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    MessageView {
        subject: crate::sanitize::line(&subject),
        body: crate::sanitize::text(&body),
        raw,
        ..MessageView::default()
    }
}
