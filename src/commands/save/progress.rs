//! The progress line of `popview save` on a terminal: messages, bytes,
//! rate and time left, redrawn at most ten times a second on stderr.

use std::io::Write;
use std::time::{Duration, Instant};

/// Redraws no more often than this.
const EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    on: bool,
    total_msgs: usize,
    total_bytes: u64,
    msgs: usize,
    /// Bytes of the messages finished.
    done_bytes: u64,
    /// Bytes of the message arriving.
    current: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    /// `on`: stdout and stderr are a terminal.
    pub fn new(on: bool, total_msgs: usize, total_bytes: u64) -> Progress {
        Progress {
            on,
            total_msgs,
            total_bytes,
            msgs: 0,
            done_bytes: 0,
            current: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Bytes of the message being received so far.
    pub fn receiving(&mut self, bytes: u64) {
        self.current = bytes;
        self.draw(false);
    }

    /// One more message finished (saved or not), of `size` bytes.
    pub fn finished(&mut self, size: u64) {
        self.msgs += 1;
        self.done_bytes += size;
        self.current = 0;
        // The last one is always shown: the line ends at its total.
        self.draw(self.msgs == self.total_msgs);
    }

    /// Take the line off the screen (before printing, and at the end).
    pub fn clear(&mut self) {
        if self.on && self.drawn.is_some() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = None;
        }
    }

    fn draw(&mut self, force: bool) {
        if !self.on || (!force && self.drawn.is_some_and(|t| t.elapsed() < EVERY)) {
            return;
        }
        let line = self.line();
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{line}");
        let _ = e.flush();
        self.drawn = Some(Instant::now());
    }

    /// `saving 12/40, 1.2 MB of 3.4 MB, 800 KB/s, 3 s left`.
    pub fn line(&self) -> String {
        let bytes = self.done_bytes + self.current;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = bytes as f64 / secs;
        let left = if rate > 0.0 {
            format!(
                ", {} s left",
                (self.total_bytes.saturating_sub(bytes) as f64 / rate).ceil() as u64
            )
        } else {
            String::new()
        };
        format!(
            "saving {}/{}, {} of {}, {}/s{left}",
            self.msgs,
            self.total_msgs,
            human(bytes),
            human(self.total_bytes),
            human(rate as u64)
        )
    }
}

/// `512 B`, `1.2 KB`, `3.4 MB`, `1.0 GB` (powers of 1024).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_messages_and_bytes() {
        let mut p = Progress::new(false, 3, 3000);
        p.finished(1000);
        p.receiving(500);
        let l = p.line();
        assert!(l.starts_with("saving 1/3, 1.5 KB of 2.9 KB, "), "{l}");
        assert!(l.contains("s left"), "{l}");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MB");
    }
}
