//! The optional wire trace: what was sent and received, with secrets
//! redacted (the redaction happens in `Command::trace_form`) and every
//! non-printable byte escaped, so a trace can't carry live escape sequences.

use std::io::Write;

use super::response::preview;

pub struct Trace {
    out: Box<dyn Write + Send>,
}

impl Trace {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Trace { out }
    }

    /// A command sent, already redacted.
    pub fn client(&mut self, redacted: &str) {
        let _ = writeln!(self.out, "C: {}", escape(redacted.as_bytes()));
        let _ = self.out.flush();
    }

    /// A status line received.
    pub fn server(&mut self, line: &[u8]) {
        let _ = writeln!(self.out, "S: {}", escape(line));
    }

    /// The data lines of a multi-line answer (not logged: mail content).
    pub fn server_data(&mut self, bytes: usize) {
        let _ = writeln!(self.out, "S: <{bytes} bytes of data>");
        let _ = self.out.flush();
    }

    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "-- {}", escape(text.as_bytes()));
        let _ = self.out.flush();
    }
}

fn escape(bytes: &[u8]) -> String {
    let p = preview(bytes);
    // preview() quotes and shortens; traces want the whole line.
    if bytes.len() <= 80 {
        p[1..p.len() - 1].to_string()
    } else {
        bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    (b as char).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect()
    }
}
