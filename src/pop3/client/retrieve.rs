//! Many RETRs, pipelined: the window is kept full and refilled as answers
//! arrive, and each message is handed over as soon as it is complete (one
//! message held at a time, so memory does not grow with the mailbox).
//! And one RETR streamed: each line handed on as it arrives, so memory
//! does not grow with the message either.

use std::io::{Read, Write};
use std::ops::ControlFlow;

use super::*;

impl<S: Read + Write, T> Client<S, T> {
    /// `RETR` each of `msgs` (number, LIST size), in order, pipelined when
    /// the server allows. `each(number, answer)` gets every answer as it
    /// completes: the body, or the server's refusal (the session goes on).
    /// When `each` breaks, no more RETRs are sent; those already sent are
    /// read (and handed over) so that the session stays in step. An error
    /// of the connection ends it (the answers not received are lost).
    /// `progress(bytes)` reports the bytes of the message being received.
    pub fn retrieve_each(
        &mut self,
        msgs: &[(u32, u64)],
        progress: &mut dyn FnMut(u64),
        mut each: impl FnMut(u32, Result<Body>) -> ControlFlow<()>,
    ) -> Result<()> {
        if self.in_flight() > 0 {
            return Err(Error::local(
                "internal: commands in flight before a pipelined retrieve",
            ));
        }
        let mut next = 0;
        let mut stop = false;
        loop {
            while !stop && next < msgs.len() && self.can_submit() {
                let (msg, size) = msgs[next];
                self.submit(Command::Retr {
                    msg,
                    size: Some(size),
                })?;
                next += 1;
            }
            if self.in_flight() == 0 {
                return Ok(());
            }
            let answer = self.recv_with(progress)?;
            let Command::Retr { msg, .. } = answer.command else {
                return Err(Error::local("internal: an answer to another command"));
            };
            let body = answer.result.and_then(|r| match r {
                Reply::Body(b) => Ok(b),
                other => Err(unexpected(other)),
            });
            if each(msg, body).is_break() {
                stop = true;
            }
        }
    }

    /// `RETR msg`, each line of the message (dot-unstuffed, with its line
    /// end as sent) handed to `sink` as it arrives, nothing kept: memory
    /// stays the same whatever the size. `size` is the LIST size (bounds
    /// what the server may send). Returns the bytes handed over. A refusal
    /// is an `Err` of kind `Refused` and the session goes on; any other
    /// error (the connection, the framing, or `sink` failing part way)
    /// ends the session.
    pub fn retrieve_into(
        &mut self,
        msg: u32,
        size: Option<u64>,
        sink: &mut Sink<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        if self.in_flight() > 0 {
            return Err(Error::local(
                "internal: commands in flight before a streamed retrieve",
            ));
        }
        self.submit(Command::Retr { msg, size })?;
        let mut bytes = 0u64;
        let mut counted = |piece: &[u8]| {
            bytes += piece.len() as u64;
            sink(piece)
        };
        let answer = self.recv_into(progress, Some(&mut counted))?;
        match answer.result? {
            Reply::Body(_) => Ok(bytes),
            other => Err(unexpected(other)),
        }
    }

    /// [`Client::retrieve_into`] for a `sink` that can't fail (a local
    /// save that notes its own failure and takes the rest, so the session
    /// goes on) and for its LIST size.
    pub fn retrieve_to(
        &mut self,
        msg: u32,
        size: u64,
        sink: &mut dyn FnMut(&[u8]),
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        self.retrieve_into(
            msg,
            Some(size),
            &mut |piece| {
                sink(piece);
                Ok(())
            },
            progress,
        )
        .map(|_| ())
    }
}
