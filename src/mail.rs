//! Pure adapter over mail-parser: header previews from `TOP n 0` bytes and
//! full message views from `RETR` bytes, as owned, sanitized data.
//!
//! Everything here runs on the worker thread; the UI only ever sees the
//! owned structs below, never MIME.
//!
//! Every string that leaves this module went through [`crate::sanitize`]
//! after all decoding (RFC 2047, quoted-printable, base64, charsets).
//! mail-parser is fed hostile bytes, so each call runs under
//! `catch_unwind` (a panic gives a raw, sanitized view with a note) and the
//! work is bounded: [`MAX_HEADERS`] headers and [`MAX_HEADER_VALUE`] bytes
//! per value in a view, [`MAX_SUMMARY_FIELD`] bytes per summary field, and a
//! message with more than [`MAX_PARTS`] MIME parts is shown as raw text
//! instead of being walked. mail-parser itself keeps nested multiparts on a
//! heap stack (no recursion) and stops decoding nested messages at depth 3.
//! An HTML-only body is converted within the bounds of [`crate::html`].
//!
//! A big attachment is not decoded when a message is viewed: the view
//! keeps where its body is in [`MessageView::raw`] ([`Content::Encoded`]),
//! and [`Attachment::data`] decodes it when it is saved or opened. A big
//! message with long base64 runs is parsed without most of them
//! (`skeleton`), so opening a 50 MB message with a 40 MB attachment costs
//! a parse of a few kilobytes and no second copy.

mod attachment;
mod skeleton;

use std::borrow::Cow;
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use mail_parser::{
    Address, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::sanitize;

pub use attachment::{Content, Encoded, LAZY_MIN, Transfer};
use skeleton::Skeleton;

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
    /// The Cc addresses, comma separated, for display (like `to`).
    #[serde(default)]
    pub cc: String,
    /// The address of the first Reply-To; empty when there is none.
    #[serde(default)]
    pub reply_to: String,
    /// The header block for pattern searches (`~h`): unfolded `Name: value`
    /// lines joined by `\n`, each sanitized, whole lines only, at most
    /// [`MAX_HEADER_BLOCK`] bytes.
    #[serde(default)]
    pub headers: String,
    /// The values of the `Authentication-Results` headers, in order, each
    /// sanitized and capped, at most [`MAX_AUTH_RESULTS`] of them (for the
    /// authentication hints, `~V`).
    #[serde(default)]
    pub auth_results: Vec<String>,
}

/// One attachment of a retrieved message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// A safe base name to save under (never a path).
    pub name: String,
    /// MIME type, e.g. `application/pdf`.
    pub mime: String,
    /// The decoded size in bytes.
    pub size: u64,
    /// The content: decoded, or still encoded in [`MessageView::raw`] (a
    /// big attachment is decoded only when it is saved or opened).
    pub content: Content,
}

impl Attachment {
    /// An attachment whose decoded content is held.
    pub fn held(name: String, mime: String, data: Vec<u8>) -> Attachment {
        Attachment {
            name,
            mime,
            size: data.len() as u64,
            content: Content::Held(data),
        }
    }

    /// The decoded content; `raw` is the message's [`MessageView::raw`].
    /// `None` when `raw` doesn't hold it where the parse found it.
    pub fn data<'a>(&'a self, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        self.content.bytes(raw)
    }
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
    /// The HTML part's source as sent (decoded, not sanitized: for a
    /// viewer and the link list, never drawn), for messages of at most
    /// [`MAX_HTML_SOURCE`] bytes.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The message exactly as the server sent it (after dot-unstuffing).
    pub raw: Vec<u8>,
    /// Set when the message could not be parsed normally; says why.
    pub parse_note: Option<String>,
}

/// Messages larger than this keep no [`MessageView::html`].
pub const MAX_HTML_SOURCE: usize = 8 * 1024 * 1024;
/// At most this many headers go into [`MessageView::headers`].
pub const MAX_HEADERS: usize = 1_000;
/// At most this many bytes of one header value are kept in a view.
pub const MAX_HEADER_VALUE: usize = 16 * 1024;
/// At most this many bytes of one [`HeaderSummary`] field are kept (the list
/// shows a few dozen columns; a 1 MB subject must not live in the cache).
pub const MAX_SUMMARY_FIELD: usize = 2 * 1024;
/// At most this many bytes of the header block are kept in
/// [`HeaderSummary::headers`].
pub const MAX_HEADER_BLOCK: usize = 16 * 1024;
/// At most this many `Authentication-Results` values are kept in a summary.
pub const MAX_AUTH_RESULTS: usize = 16;
/// Messages with more MIME parts than this are not walked part by part.
pub const MAX_PARTS: usize = 10_000;
/// At most this many addresses are listed in a To/Cc field.
const MAX_ADDRESSES: usize = 50;
/// Width the HTML-to-text conversion wraps at.
const HTML_WIDTH: usize = 100;
/// Tries [`save_name_in`] makes with `name (N).ext` before giving up on
/// counting.
const MAX_SAVE_TRIES: u32 = 999;

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside a guarded mail-parser call of this
/// module. A process-wide panic hook (which ratatui's `init` installs to
/// restore the terminal) can check it and skip the terminal restore for a
/// panic that [`view`] or [`summarize`] is going to catch anyway.
pub fn in_guarded_parse() -> bool {
    GUARDED.with(|g| g.get())
}

/// Runs `f`, catching a panic (mail-parser is third-party code fed hostile
/// input; the worker must survive it, SECURITY-CASES F34).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

/// The summary of a message from its header block (the answer to
/// `TOP n 0`; a partial body after the headers is ignored). Never fails:
/// unparsable input gives empty fields.
pub fn summarize(header_bytes: &[u8]) -> HeaderSummary {
    let header_bytes = header_block(header_bytes);
    guarded(|| {
        MessageParser::new()
            .parse_headers(header_bytes)
            .map(|m| summary_of(&m))
            .unwrap_or_default()
    })
    .unwrap_or_else(|panic| HeaderSummary {
        subject: cap(
            sanitize::line(&format!("(headers could not be parsed: {panic})")),
            MAX_SUMMARY_FIELD,
        ),
        ..HeaderSummary::default()
    })
}

fn summary_of(m: &Message<'_>) -> HeaderSummary {
    let (from_name, from_addr) = m
        .from()
        .and_then(|a| a.first())
        .map(|a| {
            (
                cap(sanitize::line(a.name().unwrap_or("")), MAX_SUMMARY_FIELD),
                cap(sanitize::line(a.address().unwrap_or("")), MAX_SUMMARY_FIELD),
            )
        })
        .unwrap_or_default();
    HeaderSummary {
        from_name,
        from_addr,
        to: cap(address_list(m.to()), MAX_SUMMARY_FIELD),
        subject: cap(sanitize::line(m.subject().unwrap_or("")), MAX_SUMMARY_FIELD),
        date: m.date().and_then(mail_date),
        message_id: cap(
            sanitize::line(m.message_id().unwrap_or("")),
            MAX_SUMMARY_FIELD,
        ),
        has_attachments: attachment_hint(m.root_part()),
        cc: cap(address_list(m.cc()), MAX_SUMMARY_FIELD),
        reply_to: m
            .reply_to()
            .and_then(|a| a.first())
            .map(|a| cap(sanitize::line(a.address().unwrap_or("")), MAX_SUMMARY_FIELD))
            .unwrap_or_default(),
        headers: header_lines(m),
        auth_results: m
            .headers()
            .iter()
            .filter(|h| {
                h.name
                    .as_str()
                    .eq_ignore_ascii_case("Authentication-Results")
            })
            .take(MAX_AUTH_RESULTS)
            .map(|h| {
                let bytes = m
                    .raw_message
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or_default();
                cap(sanitize::bytes_line(bytes), MAX_SUMMARY_FIELD)
            })
            .collect(),
    }
}

/// The header block as unfolded, sanitized `Name: value` lines, whole
/// lines only, at most [`MAX_HEADER_BLOCK`] bytes.
fn header_lines(m: &Message<'_>) -> String {
    let mut out = String::new();
    for h in m.headers() {
        let bytes = m
            .raw_message
            .get(h.offset_start as usize..h.offset_end as usize)
            .unwrap_or_default();
        let bytes = &bytes[..bytes.len().min(MAX_SUMMARY_FIELD)];
        let line = format!(
            "{}: {}",
            sanitize::line(h.name.as_str()),
            sanitize::bytes_line(bytes)
        );
        if out.len() + line.len() + 1 > MAX_HEADER_BLOCK {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// Only the header block: everything up to the first empty line. A `TOP`
/// answer may carry body lines, which the summary doesn't need.
fn header_block(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if line == b"\n" || line == b"\r\n" {
            return &bytes[..end];
        }
        start = end;
    }
    bytes
}

/// The top-level content type says "there are attachments":
/// multipart/mixed, a single part that is not text (application/*, image/*,
/// audio/*, video/*, model/*), or `Content-Disposition: attachment`. Only
/// the headers are known here, so multipart/related and
/// multipart/alternative (usually inline images and text versions) don't
/// count.
fn attachment_hint(root: &MessagePart<'_>) -> bool {
    if root
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
    {
        return true;
    }
    let Some(ct) = root.content_type() else {
        return false;
    };
    let sub = ct.subtype().unwrap_or("");
    match ct.ctype().to_ascii_lowercase().as_str() {
        "multipart" => sub.eq_ignore_ascii_case("mixed"),
        "application" | "image" | "audio" | "video" | "model" => true,
        _ => false,
    }
}

fn mail_date(d: &mail_parser::DateTime) -> Option<MailDate> {
    if !d.is_valid() {
        return None;
    }
    let offset = i32::from(d.tz_hour) * 60 + i32::from(d.tz_minute);
    Some(MailDate {
        unix: d.to_timestamp(),
        tz_offset_minutes: if d.tz_before_gmt { -offset } else { offset },
    })
}

/// Addresses for display, `Name <addr>` each, comma separated, bounded.
fn address_list(a: Option<&Address<'_>>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    let mut out = Vec::new();
    let mut total = 0usize;
    for addr in a.iter() {
        total += 1;
        if out.len() < MAX_ADDRESSES {
            let one = address_label(
                &sanitize::line(addr.name().unwrap_or("")),
                &sanitize::line(addr.address().unwrap_or("")),
            );
            if !one.is_empty() {
                out.push(one);
            }
        }
    }
    let mut s = out.join(", ");
    if total > MAX_ADDRESSES {
        s.push_str(&format!(", … ({} more)", total - MAX_ADDRESSES));
    }
    s
}

/// At signs and their look-alikes.
const AT_SIGNS: &[char] = &['@', '＠', '﹫'];
/// Angle brackets and their look-alikes.
const BRACKETS: &[char] = &[
    '<', '>', '＜', '＞', '﹤', '﹥', '‹', '›', '«', '»', '〈', '〉', '⟨', '⟩', '《', '》', 'ᐸ',
    'ᐳ', '˂', '˃', '❮', '❯',
];
/// Full stops and the look-alikes IDNA maps to one.
const DOTS: &[char] = &['.', '。', '．', '｡', '․', '﹒'];

/// THE sender rule's test (SECURITY-CASES F33): a display name that
/// pretends to be an address, a domain or a URL. True when, after
/// sanitizing, it has an at sign or angle bracket (or a look-alike), a URL
/// (`scheme://`, `www.`, `mailto:`), or any word that is a domain name
/// (`paypal.com`, `PayPal.com.`, `ｐａｙｐａｌ．ｃｏｍ`, `xn--pypal-4ve.com`,
/// `пример.рф`, `bank.xn--p1ai`) or an IPv4 address.
pub fn looks_like_address(name: &str) -> bool {
    let name = sanitize::line(name).to_lowercase();
    if name
        .chars()
        .any(|c| AT_SIGNS.contains(&c) || BRACKETS.contains(&c))
    {
        return true;
    }
    if name.contains("://") {
        return true;
    }
    name.split(|c: char| c.is_whitespace() || "\"'(),;:[]{}|/\\!?*=+`~^$%&#".contains(c))
        .any(|word| word.starts_with("mailto") || is_domain(word))
}

/// A word shaped like a domain name or an IPv4 address.
fn is_domain(word: &str) -> bool {
    let word: String = word
        .chars()
        .map(|c| if DOTS.contains(&c) { '.' } else { c })
        .collect();
    let word = word.trim_matches(|c: char| c == '.' || c == '-' || c == '_');
    let Some((head, tld)) = word.rsplit_once('.') else {
        return false;
    };
    if head.is_empty() || head.ends_with('.') {
        return false;
    }
    let ipv4 = word.split('.').count() == 4 && word.chars().all(|c| c.is_ascii_digit() || c == '.');
    let alphabetic = tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic);
    let punycode = tld.len() > 4
        && tld.starts_with("xn--")
        && tld.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ipv4 || alphabetic || punycode || word.starts_with("www.")
}

/// THE sender rule, short form (the list, the CLI): the display name, but
/// the address whenever the name is empty or looks like an address (a name
/// such as `security@paypal.com` must not hide `attacker@evil.example`).
/// With no address at all, an address-like name is marked as such.
pub fn sender_label(name: &str, addr: &str) -> String {
    let (name, addr) = (name.trim(), addr.trim());
    if addr.is_empty() {
        if looks_like_address(name) {
            return format!("{name} (no address)");
        }
        return name.to_string();
    }
    if name.is_empty() || looks_like_address(name) {
        addr.to_string()
    } else {
        name.to_string()
    }
}

/// THE sender rule, full form (the reader's From, To and Cc): `Name <addr>`
/// for a name that can be trusted; an address-like name comes after the
/// real address, quoted, so a cut line still shows the address first.
pub fn address_label(name: &str, addr: &str) -> String {
    let (name, addr) = (name.trim(), addr.trim());
    match (name.is_empty(), addr.is_empty()) {
        (true, _) => addr.to_string(),
        (false, true) => sender_label(name, addr),
        (false, false) if name == addr => addr.to_string(),
        (false, false) if looks_like_address(name) => format!("{addr} (\"{name}\")"),
        (false, false) => format!("{name} <{addr}>"),
    }
}

impl HeaderSummary {
    /// What the list shows as the sender: [`sender_label`].
    pub fn sender(&self) -> String {
        sender_label(&self.from_name, &self.from_addr)
    }

    /// The sender for the reader: [`address_label`].
    pub fn sender_with_address(&self) -> String {
        address_label(&self.from_name, &self.from_addr)
    }
}

/// A retrieved message (the bytes of `RETR`, or of `TOP n k`, in which case
/// the body is partial) as owned, sanitized data. Never fails and never
/// panics: what can't be parsed is shown as raw text with a
/// [`MessageView::parse_note`].
pub fn view(raw: Vec<u8>) -> MessageView {
    view_with(raw, build_view)
}

/// [`view`] as it was before attachments were left encoded: the whole
/// message parsed, every attachment decoded and held. For tests that
/// compare the two; popview itself doesn't use it.
#[doc(hidden)]
pub fn view_decoding_all(raw: Vec<u8>) -> MessageView {
    view_with(raw, |raw| {
        walk(raw, &Skeleton::default(), false).unwrap_or_else(|_| {
            raw_view(
                raw,
                "The message could not be parsed; shown as raw text.".to_string(),
            )
        })
    })
}

/// The view `build` makes of `raw`, under `catch_unwind`.
fn view_with(raw: Vec<u8>, build: impl FnOnce(&[u8]) -> MessageView) -> MessageView {
    let built = guarded(|| build(&raw));
    let mut v = match built {
        Ok(v) => v,
        Err(panic) => raw_view(
            &raw,
            format!("The message could not be parsed (parser error: {panic}); shown as raw text."),
        ),
    };
    v.raw = raw;
    v
}

/// The fallback view: headers we can still read, the raw text as the body.
fn raw_view(raw: &[u8], note: String) -> MessageView {
    MessageView {
        body: sanitize::text(&String::from_utf8_lossy(raw)),
        parse_note: Some(sanitize::line(&note)),
        ..MessageView::default()
    }
}

/// More lines starting with `--` than parts we are willing to walk: a
/// message made to have millions of parts. Counted in one cheap pass.
fn too_many_boundaries(raw: &[u8]) -> bool {
    // Line starts found with memchr: a 50 MB message is 700,000 lines,
    // not 50 million bytes to look at one by one.
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', raw).map(|i| i + 1));
    starts
        .filter(|&i| raw[i.min(raw.len())..].starts_with(b"--"))
        .nth(2 * MAX_PARTS)
        .is_some()
}

fn build_view(raw: &[u8]) -> MessageView {
    // A big message with long base64 runs is parsed without most of them
    // (see `skeleton`); a cut the parse doesn't show inside a base64
    // attachment is put back (a second try), and failing that the message
    // is parsed whole.
    let mut cuts = skeleton::plan(raw);
    for _ in 0..2 {
        if !skeleton::worth(raw.len(), &cuts) {
            break;
        }
        let skel = Skeleton::make(raw, &cuts);
        match walk(raw, &skel, true) {
            Ok(v) => return v,
            Err(kept) => {
                cuts = cuts
                    .into_iter()
                    .zip(kept)
                    .filter_map(|(c, k)| k.then_some(c))
                    .collect();
            }
        }
    }
    walk(raw, &Skeleton::default(), true).unwrap_or_else(|_| {
        raw_view(
            raw,
            "The message could not be parsed; shown as raw text.".to_string(),
        )
    })
}

/// The parents of a message's parts, by index.
fn parents_of(m: &Message<'_>) -> Vec<Option<usize>> {
    let mut parents = vec![None; m.parts.len()];
    for (id, p) in m.parts.iter().enumerate() {
        if let PartType::Multipart(children) = &p.body {
            for c in children {
                if let Some(slot) = parents.get_mut(*c as usize) {
                    *slot = Some(id);
                }
            }
        }
    }
    parents
}

/// An attachment left encoded in the raw message: a base64 body with cuts
/// of the skeleton inside, or any binary body of at least [`LAZY_MIN`]
/// bytes, decoded without a problem. Its place in `raw`, its decoded size
/// and the cuts it accounts for.
fn lazy_part(
    raw: &[u8],
    skel: &Skeleton,
    m: &Message<'_>,
    parents: &[Option<usize>],
    id: usize,
) -> Option<(Encoded, u64, Vec<usize>)> {
    let p = m.parts.get(id)?;
    if p.is_encoding_problem || !matches!(p.body, PartType::Binary(_) | PartType::InlineBinary(_)) {
        return None;
    }
    let transfer = match p.encoding {
        mail_parser::Encoding::Base64 => Transfer::Base64,
        mail_parser::Encoding::QuotedPrintable => Transfer::QuotedPrintable,
        mail_parser::Encoding::None => Transfer::AsIs,
    };
    // The decoder stopped at the boundary of the multipart around it.
    let boundary: &[u8] = match id {
        0 => b"",
        _ => m
            .parts
            .get((*parents.get(id)?)?)?
            .content_type()?
            .attribute("boundary")?
            .as_bytes(),
    };
    let (start, end) = (p.offset_body as usize, p.offset_end as usize);
    let cuts: Vec<usize> = skel.cuts_inside(start, end).collect();
    let range = skel.to_raw(start)..skel.to_raw(end);
    if cuts.is_empty() && range.len() < LAZY_MIN || !cuts.is_empty() && transfer != Transfer::Base64
    {
        return None;
    }
    let cut_out: usize = cuts.iter().map(|&i| skel.cuts[i].1.letters / 4 * 3).sum();
    let encoded = Encoded::new(raw, range, transfer, boundary)?;
    Some((encoded, (p.contents().len() + cut_out) as u64, cuts))
}

/// The view of `raw`, parsed as `skel` (the raw message itself when it has
/// no cuts), big attachments left encoded when `leave_encoded`. `Err` with
/// the cuts to keep when one of them is not inside an attachment left
/// encoded.
fn walk(raw: &[u8], skel: &Skeleton, leave_encoded: bool) -> Result<MessageView, Vec<bool>> {
    let cut = !skel.cuts.is_empty();
    let bytes: &[u8] = if cut { &skel.bytes } else { raw };
    let none_kept = || vec![false; skel.cuts.len()];
    let mut notes: Vec<String> = Vec::new();
    let bomb = too_many_boundaries(bytes);
    if bomb && cut {
        return Err(none_kept());
    }
    let parser = MessageParser::new();
    let parsed = if bomb {
        parser.parse_headers(bytes)
    } else {
        parser.parse(bytes)
    };
    let Some(mut m) = parsed.filter(|m| {
        m.root_part()
            .headers
            .iter()
            .any(|h| is_field_name(h.name.as_str()))
    }) else {
        if cut {
            return Err(none_kept());
        }
        return Ok(raw_view(
            raw,
            "No message headers were found; shown as raw text.".to_string(),
        ));
    };

    // Attachments left encoded, and the cuts they account for.
    let parents = parents_of(&m);
    let mut kept = vec![false; skel.cuts.len()];
    let mut lazy: Vec<Option<(Encoded, u64)>> = vec![None; m.parts.len()];
    if leave_encoded && !bomb {
        for &id in &m.attachments {
            let id = id as usize;
            if id >= MAX_PARTS {
                continue;
            }
            if let Some((encoded, size, cuts)) = lazy_part(raw, skel, &m, &parents, id) {
                for c in cuts {
                    kept[c] = true;
                }
                lazy[id] = Some((encoded, size));
            }
        }
    }
    if kept.iter().any(|k| !k) {
        return Err(kept);
    }
    // From here on, offsets are the parse's: into `bytes`, which are the
    // raw bytes wherever they are read (headers, text parts).
    let raw_len = raw.len();
    let raw = bytes;
    let root = m.root_part();

    // Header block.
    let mut headers = Vec::new();
    let mut cut_values = 0usize;
    for h in root.headers.iter().take(MAX_HEADERS) {
        let name = sanitize::line(h.name.as_str());
        let start = h.offset_start as usize;
        let end = (h.offset_end as usize).min(raw.len());
        let bytes = raw.get(start..end).unwrap_or_default();
        let (bytes, cut) = if bytes.len() > MAX_HEADER_VALUE {
            cut_values += 1;
            (&bytes[..MAX_HEADER_VALUE], true)
        } else {
            (bytes, false)
        };
        let mut value = sanitize::bytes_line(bytes);
        if cut {
            value.push_str(" …");
        }
        headers.push((name, value));
    }
    if root.headers.len() > MAX_HEADERS {
        notes.push(format!(
            "Only the first {MAX_HEADERS} of {} headers are listed.",
            root.headers.len()
        ));
    }
    if cut_values > 0 {
        notes.push(format!(
            "{cut_values} header value(s) longer than {} KB were shortened.",
            MAX_HEADER_VALUE / 1024
        ));
    }

    let from = m
        .from()
        .and_then(|a| a.first())
        .map(|a| HeaderSummary {
            from_name: sanitize::line(a.name().unwrap_or("")),
            from_addr: sanitize::line(a.address().unwrap_or("")),
            ..HeaderSummary::default()
        })
        .unwrap_or_default();
    let mut subject = sanitize::line(m.subject().unwrap_or(""));
    if subject.len() > MAX_HEADER_VALUE {
        subject = cap(subject, MAX_HEADER_VALUE);
        notes.push("The subject was shortened.".to_string());
    }
    let date_text = m
        .header_raw(HeaderName::Date)
        .map(|d| cap(sanitize::line(d), MAX_HEADER_VALUE))
        .unwrap_or_default();

    let mut v = MessageView {
        from: cap(from.sender_with_address(), MAX_HEADER_VALUE),
        to: cap(address_list(m.to()), MAX_HEADER_VALUE),
        cc: cap(address_list(m.cc()), MAX_HEADER_VALUE),
        date: m.date().and_then(mail_date),
        date_text,
        subject,
        headers,
        ..MessageView::default()
    };

    if bomb {
        let body_start = (root.offset_body as usize).min(raw.len());
        v.body = sanitize::text(&String::from_utf8_lossy(&raw[body_start..]));
        notes.push(format!(
            "This message has more than {MAX_PARTS} MIME parts; its body is shown as raw text."
        ));
        v.parse_note = Some(notes.join(" "));
        return Ok(v);
    }

    if m.parts.len() > MAX_PARTS {
        notes.push(format!(
            "This message has {} MIME parts; only the first {MAX_PARTS} are looked at.",
            m.parts.len()
        ));
    }
    let part = |id: &u32| {
        m.parts
            .get(*id as usize)
            .filter(|_| (*id as usize) < MAX_PARTS)
    };

    // Body: the first text part, else the first HTML part converted.
    let text = m
        .text_body
        .iter()
        .filter_map(part)
        .find_map(|p| match &p.body {
            PartType::Text(t) => Some((p, t.as_ref())),
            _ => None,
        });
    if let Some((p, t)) = text {
        match undeclared_8bit(raw, p, t) {
            Some(decoded) => {
                v.body = sanitize::text(&decoded);
                notes.push(
                    "The text has no declared charset and isn't UTF-8; read as Windows-1252."
                        .to_string(),
                );
            }
            None => v.body = sanitize::text(t),
        }
    } else if let Some(html) = m
        .html_body
        .iter()
        .chain(m.text_body.iter())
        .filter_map(part)
        .find_map(|p| match &p.body {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        })
    {
        let rendered = crate::html::to_text(html, HTML_WIDTH);
        v.body = sanitize::text(&rendered.text);
        v.body_from_html = true;
        notes.extend(rendered.note);
    }

    if raw_len <= MAX_HTML_SOURCE {
        v.html = m
            .html_body
            .iter()
            .filter_map(|id| m.parts.get(*id as usize))
            .find_map(|p| match &p.body {
                PartType::Html(h) => Some(h.to_string()),
                _ => None,
            });
    }

    // Attachments. The decoded content is moved out of the parse (a
    // 40 MB attachment is not copied); a part listed twice is copied.
    let encoding_problem = root.is_encoding_problem;
    let ids: Vec<usize> = m
        .attachments
        .iter()
        .filter(|id| part(id).is_some())
        .map(|id| *id as usize)
        .collect();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (n, id) in ids.into_iter().enumerate() {
        let p = &m.parts[id];
        let mime = mime_of(p);
        let name = attachment_name(p.attachment_name(), n + 1, &mime);
        if matches!(p.body, PartType::Multipart(_)) {
            continue;
        }
        if let Some((encoded, size)) = &lazy[id] {
            v.attachments.push(Attachment {
                name,
                mime,
                size: *size,
                content: Content::Encoded(encoded.clone()),
            });
            continue;
        }
        let (size, content) = match undecoded_base64(raw, p) {
            Some(d) => (d.len() as u64, Content::Held(d)),
            None => match taken.iter().find(|(t, _)| *t == id) {
                Some(&(_, earlier)) => {
                    let a = &v.attachments[earlier];
                    (a.size, a.content.clone())
                }
                None => {
                    taken.push((id, v.attachments.len()));
                    let d = take_contents(&mut m.parts[id]);
                    (d.len() as u64, Content::Held(d))
                }
            },
        };
        v.attachments.push(Attachment {
            name,
            mime,
            size,
            content,
        });
    }

    if encoding_problem {
        notes.push("Part of this message was not encoded correctly.".to_string());
    }
    if !notes.is_empty() {
        v.parse_note = Some(sanitize::line(&notes.join(" ")));
    }
    Ok(v)
}

/// A part's decoded content (as [`MessagePart::contents`] gives it),
/// moved out of the parse when it owns it: the part is left empty. A
/// forwarded message is copied (its bytes are a slice of what it holds).
fn take_contents(p: &mut MessagePart<'_>) -> Vec<u8> {
    if matches!(p.body, PartType::Message(_) | PartType::Multipart(_)) {
        return p.contents().to_vec();
    }
    match std::mem::take(&mut p.body) {
        PartType::Text(t) | PartType::Html(t) => t.into_owned().into_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
        other => {
            p.body = other;
            p.contents().to_vec()
        }
    }
}

/// A text part sent as 8-bit without a declared charset that isn't UTF-8
/// (mail-parser then decodes it lossily): the raw bytes read as
/// Windows-1252, the usual charset of such old mailers. `None` when the
/// part declares a charset, is transfer-encoded, or decoded cleanly.
fn undeclared_8bit(raw: &[u8], p: &MessagePart<'_>, decoded: &str) -> Option<String> {
    if !decoded.contains('\u{FFFD}')
        || p.content_type()
            .is_some_and(|ct| ct.attribute("charset").is_some())
        || !matches!(p.encoding, mail_parser::Encoding::None)
    {
        return None;
    }
    let bytes = raw.get(p.offset_body as usize..p.offset_end as usize)?;
    if std::str::from_utf8(bytes).is_ok() {
        return None;
    }
    let cp1252 = mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")?;
    Some(cp1252(bytes))
}

/// RFC 5322 field name: printable ASCII without `:`. mail-parser takes any
/// first line as a header name, so garbage would pass for a message.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// mail-parser leaves the last part of a message whose closing boundary
/// never came (a cut or broken message) undecoded, with encoding `None`:
/// when the part declares base64, decode it ourselves, ignoring whitespace
/// and a cut-off tail. `None` when the part was decoded normally or isn't
/// base64.
fn undecoded_base64(raw: &[u8], p: &MessagePart<'_>) -> Option<Vec<u8>> {
    use base64::Engine;
    let declared = p
        .content_transfer_encoding()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    if !declared || matches!(p.encoding, mail_parser::Encoding::Base64) {
        return None;
    }
    let body = raw.get(p.offset_body as usize..p.offset_end as usize)?;
    if p.contents() != body {
        return None;
    }
    let mut clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD_INDIFFERENT;
    // a cut message may end inside a group: drop what can't be decoded
    clean.truncate(clean.len() - usize::from(clean.len() % 4 == 1));
    engine.decode(&clean).ok().or_else(|| {
        clean.truncate(clean.len() / 4 * 4);
        engine.decode(&clean).ok()
    })
}

/// `type/subtype` in lower case, only token characters; defaults per part.
fn mime_of(p: &MessagePart<'_>) -> String {
    let token = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(*c))
            .take(127)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let default = match p.body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    };
    match p.content_type() {
        Some(ct) => {
            let t = token(ct.ctype());
            let s = token(ct.subtype().unwrap_or(""));
            if t.is_empty() || s.is_empty() {
                default.to_string()
            } else {
                format!("{t}/{s}")
            }
        }
        None => default.to_string(),
    }
}

/// A usual file extension for a MIME type (for unnamed attachments).
fn extension_for(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "text/csv" => "csv",
        "message/rfc822" | "message/global" => "eml",
        "application/zip" => "zip",
        "application/json" => "json",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

/// The name an attachment is saved under: the sanitized base name of what
/// the sender proposed, or `attachment-N.ext`.
fn attachment_name(proposed: Option<&str>, n: usize, mime: &str) -> String {
    proposed
        .and_then(safe_base_name)
        .unwrap_or_else(|| format!("attachment-{n}.{}", extension_for(mime)))
}

/// Longest base name kept, in bytes.
const MAX_NAME: usize = 200;

/// A file name that is safe to create in a directory of the user's
/// choosing (SECURITY-CASES F36): no terminal controls, no path components
/// (`/`, `\`), no leading dots (hidden files, `..`), no characters Windows
/// forbids, bounded length (the extension is kept). `None` when nothing is
/// left.
fn safe_base_name(name: &str) -> Option<String> {
    let clean = sanitize::line(name);
    let base = clean.rsplit(['/', '\\']).next().unwrap_or("");
    let base: String = base
        .chars()
        .map(|c| match c {
            ':' | '<' | '>' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let base = base
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if base.is_empty() {
        return None;
    }
    if base.len() <= MAX_NAME {
        return Some(base.to_string());
    }
    // keep a short extension, cut the stem on a char boundary
    let (stem, ext) = match base.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.len() <= 16 => (s, e),
        _ => (base, ""),
    };
    let room = MAX_NAME - ext.len() - usize::from(!ext.is_empty());
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = stem[..cut].trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    Some(if ext.is_empty() {
        stem.to_string()
    } else {
        format!("{stem}.{ext}")
    })
}

/// Where to save a file called `name` (untrusted, e.g. an attachment name)
/// in `dir`: always directly inside `dir`, under a sanitized base name
/// (`attachment` when nothing usable is left), and, when that name is
/// taken (any kind of entry, including a dangling symlink), `stem (1).ext`,
/// `stem (2).ext` ... up to 999, then a name made unique with the process
/// id and time. The caller should still create the file with
/// `OpenOptions::create_new(true)`: another program may take the name
/// between this check and the write.
pub fn save_name_in(dir: &Path, name: &str) -> PathBuf {
    let base = safe_base_name(name).unwrap_or_else(|| "attachment".to_string());
    let taken = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let first = dir.join(&base);
    if !taken(&first) {
        return first;
    }
    let (stem, ext) = match base.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (base.clone(), String::new()),
    };
    for i in 1..=MAX_SAVE_TRIES {
        let p = dir.join(format!("{stem} ({i}){ext}"));
        if !taken(&p) {
            return p;
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!("{stem} ({}-{nanos}){ext}", std::process::id()))
}

/// A summary read back from popview's own files (the header cache): every
/// string field goes through the same sanitizing and cap as one parsed from
/// the network, so a planted escape sequence or a huge string never reaches
/// the terminal or `popview list`.
pub fn resanitize(h: HeaderSummary) -> HeaderSummary {
    let clean = resanitize_field;
    HeaderSummary {
        from_name: clean(&h.from_name),
        from_addr: clean(&h.from_addr),
        to: clean(&h.to),
        subject: clean(&h.subject),
        date: h.date,
        message_id: clean(&h.message_id),
        has_attachments: h.has_attachments,
        cc: clean(&h.cc),
        reply_to: clean(&h.reply_to),
        headers: resanitize_block(&h.headers),
        auth_results: h
            .auth_results
            .iter()
            .take(MAX_AUTH_RESULTS)
            .map(|v| clean(v))
            .collect(),
    }
}

/// A header block read back from popview's own files: each line sanitized
/// and capped, whole lines, at most [`MAX_HEADER_BLOCK`] bytes.
fn resanitize_block(block: &str) -> String {
    let mut out = String::new();
    for line in block.lines() {
        let line = resanitize_field(line);
        if out.len() + line.len() + 1 > MAX_HEADER_BLOCK {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// One field of a summary read back from popview's own files (see
/// [`resanitize`]).
pub fn resanitize_field(s: &str) -> String {
    cap(sanitize::line(s), MAX_SUMMARY_FIELD)
}

/// At most `max` bytes of `s`, cut on a grapheme boundary, with `…` added
/// when something was cut.
fn cap(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = 0;
    for (i, g) in s.grapheme_indices(true) {
        if i + g.len() > max.saturating_sub(3) {
            break;
        }
        end = i + g.len();
    }
    let mut out = s[..end].to_string();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_catches_panics_and_flags_the_thread() {
        assert!(!in_guarded_parse());
        let inside = guarded(in_guarded_parse);
        assert_eq!(inside, Ok(true));
        let caught: Result<(), String> = guarded(|| panic!("boom {}", 42));
        assert_eq!(caught, Err("boom 42".to_string()));
        assert!(!in_guarded_parse());
    }

    #[test]
    fn attachments_moved_out_of_the_parse_keep_their_bytes() {
        let inner = b"From: a@example.org\r\nSubject: inner\r\n\r\nhi\r\n";
        let mut m = b"From: b@example.org\r\nSubject: outer\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n\
body\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
            .to_vec();
        m.extend_from_slice(inner);
        m.extend_from_slice(
            b"\r\n--x\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--x--\r\n",
        );
        let v = view(m);
        assert_eq!(v.attachments.len(), 2);
        let data = |i: usize| v.attachments[i].data(&v.raw).unwrap();
        assert!(data(0).starts_with(b"From: a@example.org"));
        assert!(data(0).windows(2).any(|w| w == b"hi"));
        assert!(!data(0).windows(5).any(|w| w == b"outer"));
        assert_eq!(&*data(1), &[0, 1, 2, 3]);
    }

    #[test]
    fn boundary_lines_are_counted_at_line_starts_only() {
        let lines = |n: usize| "--b\r\n".repeat(n);
        assert!(!too_many_boundaries(lines(2 * MAX_PARTS).as_bytes()));
        assert!(too_many_boundaries(lines(2 * MAX_PARTS + 1).as_bytes()));
        // Not at a line start: not counted; the very first line is.
        let inside = "x--b\n".repeat(3 * MAX_PARTS);
        assert!(!too_many_boundaries(inside.as_bytes()));
        assert!(too_many_boundaries(
            format!("--{}", "\n--".repeat(2 * MAX_PARTS)).as_bytes()
        ));
    }

    #[test]
    fn raw_view_is_sanitized_with_a_note() {
        let v = raw_view(b"Subject: x\x1b]0;t\x07\r\n\r\nbody\x9b", "why".into());
        assert_eq!(v.body, "Subject: x\n\nbody\u{FFFD}");
        assert_eq!(v.parse_note.as_deref(), Some("why"));
    }

    #[test]
    fn header_block_stops_at_the_empty_line() {
        assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n\r\n");
        assert_eq!(header_block(b"A: b\n\nbody"), b"A: b\n\n");
        assert_eq!(header_block(b"A: b\r\n"), b"A: b\r\n");
    }

    #[test]
    fn cap_cuts_on_grapheme_boundaries() {
        assert_eq!(cap("short".into(), 10), "short");
        let s = "e\u{301}".repeat(10); // 3 bytes each
        let c = cap(s, 10);
        assert!(c.len() <= 10 && c.ends_with('…'));
        assert_eq!(c, "e\u{301}e\u{301}…");
    }
}
