//! The messages a demo or test server starts with.
//!
//! [`Mailbox::demo`] is the sample mailbox of `popview --demo`: every
//! `assets/demo/*.eml` file, embedded into the binary at compile time by
//! `build.rs` (sorted by file name, which is also the maildrop order), plus
//! one large message (> 6 MB, a base64 attachment) generated here from code
//! so the repository stays small. [`Mailbox::from_messages`] and
//! [`Mailbox::generated`] build mailboxes for tests and benchmarks.
//!
//! UIDs are deterministic: the same bytes at the same position always get the
//! same UID, so a header cache keyed by UIDL stays valid between demo runs.

use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/demo_assets.rs"));
}

/// Size of the raw attachment of the generated large demo message. Its base64
/// form with CRLF line ends is a little over 6.5 MB.
pub const LARGE_ATTACHMENT_BYTES: usize = 4_900_000;

/// Messages with their UIDs, in maildrop order (message 1 first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mailbox {
    messages: Vec<(String, Vec<u8>)>,
}

impl Mailbox {
    /// An empty mailbox.
    pub fn new() -> Mailbox {
        Mailbox::default()
    }

    /// The sample mailbox: every embedded `assets/demo/*.eml` (sorted by file
    /// name) followed by one generated message larger than 6 MB.
    pub fn demo() -> Mailbox {
        let mut messages: Vec<Vec<u8>> = assets::DEMO_ASSETS
            .iter()
            .map(|(_, bytes)| bytes.to_vec())
            .collect();
        messages.push(large_message().to_vec());
        Mailbox::from_messages(messages)
    }

    /// The file names of the embedded demo messages, in maildrop order (the
    /// generated large message, last in [`Mailbox::demo`], has no file).
    pub fn demo_file_names() -> Vec<&'static str> {
        assets::DEMO_ASSETS.iter().map(|(name, _)| *name).collect()
    }

    /// These messages in this order, with deterministic UIDs (see [`uid_for`]).
    pub fn from_messages(messages: Vec<Vec<u8>>) -> Mailbox {
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| (uid_for(i + 1, &bytes), bytes))
            .collect();
        Mailbox { messages }
    }

    /// These messages with the UIDs given (for tests of odd or duplicate UIDs:
    /// the server serves them verbatim).
    pub fn from_pairs(messages: Vec<(String, Vec<u8>)>) -> Mailbox {
        Mailbox { messages }
    }

    /// `n` small synthetic messages, deterministic (same `n`, same bytes and
    /// UIDs), for benchmarks and tests. Every seventh body has a line that
    /// starts with a dot.
    pub fn generated(n: usize) -> Mailbox {
        Mailbox::from_messages((0..n).map(|i| generated_message(i, n)).collect())
    }

    /// Append a message with a deterministic UID.
    pub fn push(&mut self, bytes: Vec<u8>) {
        let uid = uid_for(self.messages.len() + 1, &bytes);
        self.messages.push((uid, bytes));
    }

    /// `(uid, bytes)` in maildrop order, bytes as given (the server
    /// normalises line ends to CRLF when it serves them).
    pub fn messages(&self) -> &[(String, Vec<u8>)] {
        &self.messages
    }

    pub fn into_messages(self) -> Vec<(String, Vec<u8>)> {
        self.messages
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// The UID given to the message at 1-based `position` with these bytes:
/// 8 hex digits of the position and 8 of the SHA-256 of the bytes, e.g.
/// `0000000c3fa91b02` (16 printable characters, as RFC 1939 wants).
pub fn uid_for(position: usize, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut uid = format!("{position:08x}");
    for b in &digest[..4] {
        uid.push_str(&format!("{b:02x}"));
    }
    uid
}

/// The generated large demo message (built once per process).
fn large_message() -> &'static [u8] {
    static LARGE: OnceLock<Vec<u8>> = OnceLock::new();
    LARGE.get_or_init(build_large_message)
}

fn build_large_message() -> Vec<u8> {
    // Deterministic pseudo-random bytes (xorshift64*), so every run serves
    // exactly the same message and UID.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut raw = Vec::with_capacity(LARGE_ATTACHMENT_BYTES);
    while raw.len() < LARGE_ATTACHMENT_BYTES {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let take = (LARGE_ATTACHMENT_BYTES - raw.len()).min(8);
        raw.extend_from_slice(&word.to_le_bytes()[..take]);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);

    let mut msg = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2048);
    msg.extend_from_slice(
        concat!(
            "Return-Path: <ben@okafor.example>\r\n",
            "Date: Sat, 21 Nov 2026 10:30:00 +0100\r\n",
            "From: Ben Okafor <ben@okafor.example>\r\n",
            "To: Sam Demo <demo@popview.demo>\r\n",
            "Subject: Sensor archive 2026 (a big one, 6 MB)\r\n",
            "Message-ID: <sensor-archive-2026@okafor.example>\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"sensor-archive-boundary\"\r\n",
            "\r\n",
            "--sensor-archive-boundary\r\n",
            "Content-Type: text/plain; charset=UTF-8\r\n",
            "Content-Transfer-Encoding: 7bit\r\n",
            "\r\n",
            "Hi Sam,\r\n",
            "\r\n",
            "attached is the raw archive of the soil sensors for this year, as\r\n",
            "promised. It is big (about 4.9 MB, 6.5 MB as mail), so your mail reader\r\n",
            "should show a progress indicator while it downloads.\r\n",
            "\r\n",
            "Ben\r\n",
            "\r\n",
            "--sensor-archive-boundary\r\n",
            "Content-Type: application/octet-stream; name=\"sensors-2026.bin\"\r\n",
            "Content-Disposition: attachment; filename=\"sensors-2026.bin\"\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
        )
        .as_bytes(),
    );
    for chunk in encoded.as_bytes().chunks(76) {
        msg.extend_from_slice(chunk);
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"\r\n--sensor-archive-boundary--\r\n");
    msg
}

const GEN_SENDERS: [&str; 7] = [
    "Anna Schmidt <anna.schmidt@example.org>",
    "Ben Okafor <ben@okafor.example>",
    "Chloe Martin <chloe.martin@example.fr>",
    "Olga Petrova <olga.petrova@primer.example>",
    "Ken Tanaka <tanaka@rei.example>",
    "Wang Fang <wang.fang@shili.example>",
    "Layla Haddad <layla.haddad@mithal.example>",
];

const GEN_TOPICS: [&str; 5] = [
    "Watering rota",
    "Seed order",
    "Shed key",
    "Compost",
    "Harvest",
];

fn generated_message(i: usize, n: usize) -> Vec<u8> {
    // One message an hour, starting 2025-01-01 00:00 UTC.
    let secs = 1_735_689_600u64 + i as u64 * 3600;
    let sender = GEN_SENDERS[i % GEN_SENDERS.len()];
    let topic = GEN_TOPICS[i % GEN_TOPICS.len()];
    let number = i + 1;
    let mut body = format!(
        "This is generated message {number} of {n}.\r\n\
         Topic: {topic}.\r\n\
         \r\n\
         The quick brown fox jumps over the lazy dog, {number} times.\r\n"
    );
    if number.is_multiple_of(7) {
        body.push_str(".a line that starts with a dot\r\n");
    }
    format!(
        "Date: {date}\r\n\
         From: {sender}\r\n\
         To: Sam Demo <demo@popview.demo>\r\n\
         Subject: {topic} #{number}\r\n\
         Message-ID: <gen-{number}@generated.popview.demo>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=US-ASCII\r\n\
         \r\n\
         {body}",
        date = rfc2822_utc(secs),
    )
    .into_bytes()
}

/// `Wed, 01 Jan 2025 00:00:00 +0000` for seconds since the Unix epoch.
fn rfc2822_utc(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm), for days >= 0.
    let z = days as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_correct() {
        assert_eq!(rfc2822_utc(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc2822_utc(1_735_689_600),
            "Wed, 01 Jan 2025 00:00:00 +0000"
        );
        assert_eq!(
            rfc2822_utc(1_709_210_096),
            "Thu, 29 Feb 2024 12:34:56 +0000"
        );
    }

    #[test]
    fn generated_is_deterministic() {
        assert_eq!(Mailbox::generated(20), Mailbox::generated(20));
        let m = Mailbox::generated(20);
        assert_eq!(m.len(), 20);
        let uids: std::collections::HashSet<_> = m.messages().iter().map(|(u, _)| u).collect();
        assert_eq!(uids.len(), 20);
    }

    #[test]
    fn large_message_is_large_and_stable() {
        let a = large_message();
        assert!(a.len() > 6 * 1024 * 1024, "{}", a.len());
        assert_eq!(uid_for(1, a), uid_for(1, &build_large_message()));
    }
}
