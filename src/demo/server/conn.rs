//! One connection: buffered line input and output over plain TCP or TLS,
//! and the loop that feeds lines to the session and applies the hook.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::session::*;
use super::*;

// ---------------------------------------------------------------------------
// Connection I/O: buffered line input, buffered output.

pub(super) enum ReadError {
    TooLong,
    Io,
}

pub(super) struct Conn<'a> {
    shared: &'a Shared,
    id: usize,
    /// `None` only transiently during the STLS upgrade (or after it failed).
    stream: Option<Stream>,
    /// The raw socket, for shutdown and RST.
    socket: SocketSlot,
    inbuf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

impl Conn<'_> {
    pub(super) fn stream(&mut self) -> io::Result<&mut Stream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let stream = self.stream()?;
        stream.write_all(&out)?;
        stream.flush()
    }

    pub(super) fn latency(&self) -> bool {
        match self.shared.opts.latency {
            Some(d) if !d.is_zero() => sleep_unless_stopping(self.shared, d),
            _ => !self.shared.stopping.load(Ordering::SeqCst),
        }
    }

    /// The next line without its line end (CRLF or bare LF). Flushes pending
    /// output before blocking on the socket. `Ok(None)` at EOF.
    pub(super) fn read_line(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            let pending = &self.inbuf[self.pos..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let mut line = pending[..i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > MAX_LINE {
                    return Err(ReadError::TooLong);
                }
                return Ok(Some(line));
            }
            if pending.len() > MAX_LINE + 1 {
                return Err(ReadError::TooLong);
            }
            self.inbuf.drain(..self.pos);
            self.pos = 0;
            self.flush().map_err(|_| ReadError::Io)?;
            let mut buf = [0u8; 16 * 1024];
            let n = match self.stream().map_err(|_| ReadError::Io)?.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(_) => return Err(ReadError::Io),
            };
            if let Some(t) = lock(&self.shared.transcripts).get_mut(self.id) {
                t.extend_from_slice(&buf[..n]);
            }
            self.inbuf.extend_from_slice(&buf[..n]);
            if !self.latency() {
                return Err(ReadError::Io);
            }
        }
    }

    /// Bytes received but not yet consumed as lines.
    pub(super) fn discard_input(&mut self) {
        self.inbuf.clear();
        self.pos = 0;
    }

    /// Flush, then send FIN both ways (no TLS close_notify).
    pub(super) fn close(&mut self) {
        let _ = self.flush();
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Abort with a TCP RST: linger 0, then close every descriptor.
    pub(super) fn reset(&mut self) {
        let slot = lock(&self.socket).take();
        if let Some(s) = &slot {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
        drop(slot);
        self.stream = None;
    }
}

impl Out for Conn<'_> {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= FLUSH_THRESHOLD {
            self.flush()?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// One connection.

pub(super) fn serve(shared: &Shared, conn: usize, tcp: TcpStream, socket: SocketSlot) {
    let mut io = Conn {
        shared,
        id: conn,
        stream: None,
        socket,
        inbuf: Vec::with_capacity(4096),
        pos: 0,
        out: Vec::with_capacity(4096),
    };
    let mut session = Session::new(shared, conn);
    let tcp = Uninterrupted::new(tcp);
    if !shared.implicit_tls {
        io.stream = Some(Stream::Plain(tcp));
        let _ = run(&mut io, &mut session);
    } else if let Some(acceptor) = &shared.acceptor
        && let Ok(tls) = acceptor.accept(tcp)
    {
        io.stream = Some(Stream::Tls(Box::new(tls)));
        session.tls_active = true;
        let _ = run(&mut io, &mut session);
    }
    // Close every descriptor now (a failed handshake included); the session
    // and its maildrop lock are released by Session's Drop.
    io.stream = None;
    lock(&io.socket).take();
}

pub(super) fn run(io: &mut Conn<'_>, session: &mut Session<'_>) -> io::Result<()> {
    let shared = io.shared;
    if !io.latency() {
        return Ok(());
    }
    let greeting = session.greeting();
    io.send(&greeting)?;
    io.flush()?;
    let mut index_in_conn = 0;
    loop {
        let line = match io.read_line() {
            Ok(Some(line)) => line,
            Ok(None) | Err(ReadError::Io) => return Ok(()),
            Err(ReadError::TooLong) => {
                io.send(b"-ERR line too long\r\n")?;
                io.close();
                return Ok(());
            }
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        lock(&shared.log).push(LogLine {
            conn: io.id,
            line: text.clone(),
        });
        let global_index = shared.global_index.fetch_add(1, Ordering::SeqCst);
        let action = match &shared.opts.hook {
            Some(hook) => hook(&Ctx {
                conn: io.id,
                index_in_conn,
                global_index,
                line: &text,
                state: session.public_state(),
                tls: session.tls_active,
            }),
            None => Action::Normal,
        };
        index_in_conn += 1;
        match action {
            Action::Normal => {}
            Action::Reply(bytes) => {
                io.send(&bytes)?;
                continue;
            }
            Action::ReplyThenNormal(bytes) => io.send(&bytes)?,
            Action::Split(bytes, n) => {
                io.flush()?;
                for chunk in bytes.chunks(n.max(1)) {
                    io.send(chunk)?;
                    io.flush()?;
                    if !sleep_unless_stopping(shared, Duration::from_millis(2)) {
                        return Ok(());
                    }
                }
                continue;
            }
            Action::Drop => {
                io.close();
                return Ok(());
            }
            Action::ReplyThenStall(bytes, d) => {
                io.send(&bytes)?;
                io.flush()?;
                sleep_unless_stopping(shared, d);
                io.close();
                return Ok(());
            }
            Action::Stall(d) => {
                io.flush()?;
                if !sleep_unless_stopping(shared, d) {
                    return Ok(());
                }
            }
            Action::Reset => {
                io.flush()?;
                io.reset();
                return Ok(());
            }
        }
        match session.handle(&line, io)? {
            Flow::Continue => {}
            Flow::Close => {
                io.flush()?;
                if let Some(Stream::Tls(tls)) = io.stream.as_mut() {
                    let _ = tls.shutdown();
                }
                io.close();
                return Ok(());
            }
            Flow::StartTls => {
                io.flush()?;
                // Anything the client sent after STLS in the same flight is
                // plaintext that must not be taken as commands over TLS
                // (the command-injection attack): throw it away.
                io.discard_input();
                let Some(acceptor) = &shared.acceptor else {
                    return Ok(());
                };
                let Some(Stream::Plain(tcp)) = io.stream.take() else {
                    return Ok(());
                };
                match acceptor.accept(tcp) {
                    Ok(tls) => io.stream = Some(Stream::Tls(Box::new(tls))),
                    Err(_) => return Ok(()),
                }
                session.tls_active = true;
            }
        }
    }
}
