//! A stream that retries reads and writes interrupted by a signal (EINTR),
//! so the layer above it, OpenSSL in particular, never sees them.
//!
//! Linux fails `recv` with EINTR whenever a socket has a receive timeout
//! and the process catches a signal (crossterm's SIGWINCH on a terminal
//! resize) or is stopped and continued (Ctrl-Z then `fg`, a frozen
//! container), even with `SA_RESTART` (signal(7)). The plain reader
//! retries EINTR itself, but OpenSSL turns it into a fatal handshake or
//! read error. Retrying below TLS keeps the session alive.

use std::io::{self, Read, Write};

/// How many interruptions in a row are retried before the error is passed
/// up: a signal storm must not turn into an endless loop.
const MAX_RETRIES: u32 = 1000;

/// `S` with EINTR retried on every read and write.
#[derive(Debug)]
pub struct Uninterrupted<S>(pub S);

/// Socket settings (timeouts, shutdown) go to the inner stream; reads and
/// writes through `Uninterrupted` itself.
impl<S> std::ops::Deref for Uninterrupted<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> Uninterrupted<S> {
    pub fn get_ref(&self) -> &S {
        &self.0
    }

    pub fn into_inner(self) -> S {
        self.0
    }
}

fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut interruptions = 0;
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interruptions < MAX_RETRIES => {
                interruptions += 1;
            }
            other => return other,
        }
    }
}

impl<S: Read> Read for Uninterrupted<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| self.0.read(buf))
    }
}

impl<S: Write> Write for Uninterrupted<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retry(|| self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        retry(|| self.0.flush())
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
        let mut r = Uninterrupted(Flaky::new(&b"+OK hello\r\n"[..]));
        let mut buf = [0u8; 64];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"+OK hello\r\n");
        assert_eq!(r.0.interruptions, 1);

        let mut w = Uninterrupted(Flaky::new(Vec::new()));
        w.write_all(b"STAT\r\n").unwrap();
        assert_eq!(w.0.inner, b"STAT\r\n");
        assert!(w.0.interruptions >= 1);
    }

    #[test]
    fn an_endless_storm_is_passed_up_after_the_bound() {
        struct Always;
        impl Read for Always {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::Interrupted.into())
            }
        }
        let e = Uninterrupted(Always).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
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
        let mut r = Uninterrupted(Broken(0));
        assert_eq!(
            r.read(&mut [0u8; 4]).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(r.0.0, 1);
    }
}
