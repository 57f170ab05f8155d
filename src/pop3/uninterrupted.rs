//! A stream that retries reads and writes interrupted by a signal (EINTR),
//! so the layer above it, OpenSSL in particular, never sees them.
//!
//! Linux fails `recv` with EINTR whenever a socket has a receive timeout
//! and the process catches a signal (crossterm's SIGWINCH on a terminal
//! resize) or is stopped and continued (Ctrl-Z then `fg`, a frozen
//! container), even with `SA_RESTART` (signal(7)). OpenSSL turns that into
//! a fatal handshake or read error, and a plain `read` passes it up as a
//! failure. Retrying here, below TLS, keeps the session alive.

use std::io::{self, Read, Write};

/// How many interruptions in a row are retried before the error is passed
/// up: a signal storm must not turn into an endless loop.
const MAX_RETRIES: u32 = 1000;

/// `S` with EINTR retried on every read and write.
#[derive(Debug)]
pub struct Uninterrupted<S> {
    inner: S,
    retried: u64,
}

/// Socket settings (timeouts, shutdown) go to the inner stream; reads and
/// writes through `Uninterrupted` itself.
impl<S> std::ops::Deref for Uninterrupted<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.inner
    }
}

impl<S> Uninterrupted<S> {
    pub fn new(inner: S) -> Self {
        Uninterrupted { inner, retried: 0 }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    /// How many interrupted calls were retried so far (for tests that must
    /// know an interruption really happened).
    pub fn retried(&self) -> u64 {
        self.retried
    }

    fn retry<T>(&mut self, mut op: impl FnMut(&mut S) -> io::Result<T>) -> io::Result<T> {
        let mut in_a_row = 0;
        loop {
            match op(&mut self.inner) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted && in_a_row < MAX_RETRIES => {
                    in_a_row += 1;
                    self.retried += 1;
                }
                other => return other,
            }
        }
    }
}

impl<S: Read> Read for Uninterrupted<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|s| s.read(buf))
    }
}

impl<S: Write> Write for Uninterrupted<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.retry(|s| s.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails every other call with EINTR, then behaves like its inner stream.
    struct Flaky<S> {
        inner: S,
        interrupt_next: bool,
        interruptions: usize,
    }

    impl<S> Flaky<S> {
        fn new(inner: S) -> Self {
            Flaky {
                inner,
                interrupt_next: true,
                interruptions: 0,
            }
        }

        fn interrupt(&mut self) -> bool {
            let now = self.interrupt_next;
            self.interrupt_next = !now;
            if now {
                self.interruptions += 1;
            }
            now
        }
    }

    impl<S: Read> Read for Flaky<S> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.interrupt() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.inner.read(buf)
        }
    }

    impl<S: Write> Write for Flaky<S> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupt() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.inner.write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    #[test]
    fn reads_and_writes_pass_through_interruptions() {
        let mut r = Uninterrupted::new(Flaky::new(&b"+OK hello\r\n"[..]));
        let mut buf = [0u8; 64];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"+OK hello\r\n");
        assert_eq!(r.retried(), 1);

        let mut w = Uninterrupted::new(Flaky::new(Vec::new()));
        w.write_all(b"STAT\r\n").unwrap();
        assert_eq!(w.get_ref().inner, b"STAT\r\n");
        assert_eq!(w.retried(), w.get_ref().interruptions as u64);
        assert!(w.retried() >= 1);
    }

    #[test]
    fn an_endless_storm_is_passed_up_after_the_bound() {
        struct Always;
        impl Read for Always {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::Interrupted.into())
            }
        }
        let mut r = Uninterrupted::new(Always);
        let e = r.read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert_eq!(r.retried(), u64::from(MAX_RETRIES));
    }

    #[test]
    fn other_errors_are_not_retried() {
        struct Broken(u32);
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                Err(io::ErrorKind::ConnectionReset.into())
            }
        }
        let mut r = Uninterrupted::new(Broken(0));
        assert_eq!(
            r.read(&mut [0u8; 4]).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(r.get_ref().0, 1);
    }
}
