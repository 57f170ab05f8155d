//! An attachment's content: decoded and held (small parts, forwarded
//! messages), or still encoded in the raw message and decoded only when
//! the user saves, opens or pipes it. A 40 MB attachment then costs no
//! decoding when the message is opened and is not held twice (the raw
//! message stays for `v`, save and pipe anyway).
//!
//! The decoding is mail-parser's own, run from where the part's body
//! starts in the raw message up to the boundary that ends it, exactly as
//! the parse of the whole message would have run it, so the bytes are the
//! same as an eager parse gives. The range comes from our parse but is
//! checked against the raw bytes it is used with (untrusted): a range
//! outside them, or a decoding that ends elsewhere than the parse said,
//! gives `None`, never a panic or a wrong slice.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::parsers::MessageStream;

/// Encoded bodies at least this long are left encoded in a view.
pub const LAZY_MIN: usize = 64 * 1024;

/// How a body is written in the raw message (its Content-Transfer-Encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Base64,
    QuotedPrintable,
    /// 7bit, 8bit, binary or none: the bytes as they are.
    AsIs,
}

/// Where an attachment's body is in the raw message and how to decode it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    range: Range<usize>,
    transfer: Transfer,
    /// The boundary of the multipart around it (empty for the body of a
    /// single-part message): the decoder stops there.
    boundary: Vec<u8>,
}

/// An attachment's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Decoded.
    Held(Vec<u8>),
    /// Still encoded in the raw message.
    Encoded(Encoded),
}

impl Encoded {
    /// The body `range` of the raw message, written with `transfer`, ended
    /// by `boundary`; `None` unless the bytes after it in `raw` are where
    /// mail-parser's decoders stop (a line break and `--boundary`, or the
    /// end of the message for an empty boundary), a cheap check that the
    /// decoding at save time will end there too.
    pub(super) fn new(
        raw: &[u8],
        range: Range<usize>,
        transfer: Transfer,
        boundary: &[u8],
    ) -> Option<Encoded> {
        if range.start > range.end || range.end > raw.len() {
            return None;
        }
        let after = &raw[range.end..];
        let ends = if boundary.is_empty() {
            after.is_empty()
        } else {
            let dashes = |rest: &[u8]| {
                rest.strip_prefix(b"--")
                    .is_some_and(|r| r.starts_with(boundary))
            };
            after
                .strip_prefix(b"\r\n")
                .or_else(|| after.strip_prefix(b"\n"))
                .is_some_and(dashes)
                || dashes(after)
        };
        ends.then(|| Encoded {
            range,
            transfer,
            boundary: boundary.to_vec(),
        })
    }

    /// The encoded length in the raw message.
    pub fn encoded_len(&self) -> usize {
        self.range.len()
    }

    /// How the body is written.
    pub fn transfer(&self) -> Transfer {
        self.transfer
    }

    /// The decoded body, from `raw` (the message it was found in); `None`
    /// when `raw` does not hold it where the parse found it.
    pub fn decode<'a>(&self, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        if self.range.end > raw.len() {
            return None;
        }
        // Up to the boundary that ends it (a line break, `--`, the
        // boundary), not the rest of the message: the decoder sizes its
        // buffer by what it is given.
        let stop = (self.range.end + 4 + self.boundary.len()).min(raw.len());
        let from = raw.get(self.range.start..stop)?;
        let mut stream = MessageStream::new(from);
        let (end, bytes) = match self.transfer {
            Transfer::Base64 => stream.decode_base64_mime(&self.boundary),
            Transfer::QuotedPrintable => stream.decode_quoted_printable_mime(&self.boundary),
            Transfer::AsIs => stream.mime_part(&self.boundary),
        };
        (end == self.range.len()).then_some(bytes)
    }
}

impl Content {
    /// The decoded content; `raw` is the message it came from (used only
    /// when it is still encoded there). `None` when `raw` doesn't hold it.
    pub fn bytes<'a>(&'a self, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        match self {
            Content::Held(d) => Some(Cow::Borrowed(d)),
            Content::Encoded(e) => e.decode(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_must_end_where_the_decoder_stops() {
        let raw = b"--b\r\nX: y\r\n\r\nQUJD\r\nREVG\r\n--b--\r\n";
        let start = 13;
        let end = start + 10;
        let e = Encoded::new(raw, start..end, Transfer::Base64, b"b").unwrap();
        assert_eq!(e.decode(raw).unwrap().as_ref(), b"ABCDEF");
        // Not followed by the boundary: refused.
        assert!(Encoded::new(raw, start..end - 1, Transfer::Base64, b"b").is_none());
        assert!(Encoded::new(raw, start..end, Transfer::Base64, b"c").is_none());
        // Outside the message, or backwards: refused, no panic.
        assert!(Encoded::new(raw, start..raw.len() + 1, Transfer::Base64, b"").is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = end..start;
        assert!(Encoded::new(raw, backwards, Transfer::Base64, b"b").is_none());
        // Decoding against other bytes than the parse's: None.
        assert!(e.decode(&raw[..20]).is_none());
        assert!(
            e.decode(b"--b\r\nX: y\r\n\r\nQUJDREVGR0hJ\r\n--b--\r\n")
                .is_none()
        );
        // Single part: runs to the end.
        let raw = b"QUJD\r\n";
        let e = Encoded::new(raw, 0..raw.len(), Transfer::Base64, b"").unwrap();
        assert_eq!(e.decode(raw).unwrap().as_ref(), b"ABC");
        let e = Encoded::new(raw, 0..raw.len(), Transfer::AsIs, b"").unwrap();
        assert_eq!(e.decode(raw).unwrap().as_ref(), raw);
    }
}
