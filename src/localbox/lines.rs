//! The one conversion of a message as the server sends it (CRLF line
//! ends, in pieces of any size) to the form it is stored in (LF line
//! ends, a final newline added when missing; a lone CR kept), line by
//! line, with the stored form's length, line count and digest counted as
//! it passes: nothing but the line being assembled is held.

use std::io;

use sha2::{Digest, Sha256};

/// Raw pieces in, stored lines out (each handed over without its line
/// end: every stored line ends with one LF).
#[derive(Default)]
pub struct ToLf {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    len: u64,
    lines: u64,
    hash: Sha256,
}

impl ToLf {
    /// Take the next piece; `line(content)` gets every line it completes.
    pub fn push(
        &mut self,
        piece: &[u8],
        line: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut rest = piece;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(i + 1);
            rest = tail;
            let head = &head[..head.len() - 1];
            if self.partial.is_empty() {
                self.emit(head, line)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(head);
                let r = self.emit(&whole, line);
                whole.clear();
                self.partial = whole;
                r?;
            }
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The message is complete: the last line (without a line end) is
    /// handed over, and an empty message becomes one empty line.
    pub fn finish(&mut self, line: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        if !self.partial.is_empty() || self.lines == 0 {
            let last = std::mem::take(&mut self.partial);
            self.count(&last);
            line(&last)?;
        }
        Ok(())
    }

    fn emit(
        &mut self,
        content: &[u8],
        line: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        self.count(content);
        line(content)
    }

    fn count(&mut self, content: &[u8]) {
        self.len += content.len() as u64 + 1;
        self.lines += 1;
        self.hash.update(content);
        self.hash.update(b"\n");
    }

    /// Bytes stored so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The stored size as a POP3 server counts it (CRLF line ends).
    pub fn crlf_size(&self) -> u64 {
        self.len + self.lines
    }

    /// [`super::digest`] of what was stored.
    pub fn digest(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces, however they are cut, give what `to_lf` gives.
    #[test]
    fn agrees_with_to_lf_whatever_the_cuts() {
        let samples: [&[u8]; 6] = [
            b"a\r\nb\r\n",
            b"a\r\nb",
            b"a\rb\n",
            b"",
            b"x\r\n\r\nFrom y\r\n.z\r",
            b"\n\n",
        ];
        for raw in samples {
            for cut in 1..=raw.len().max(1) {
                let mut t = ToLf::default();
                let mut out = Vec::new();
                let mut line = |c: &[u8]| {
                    out.extend_from_slice(c);
                    out.push(b'\n');
                    Ok(())
                };
                for piece in raw.chunks(cut) {
                    t.push(piece, &mut line).unwrap();
                }
                t.finish(&mut line).unwrap();
                let want = super::super::lf_bytes(raw);
                assert_eq!(out, want, "{raw:?} cut every {cut}");
                assert_eq!(t.len(), want.len() as u64);
                assert_eq!(t.crlf_size(), super::super::crlf_size(&want));
                assert_eq!(t.digest(), super::super::digest(&want));
            }
        }
    }
}
