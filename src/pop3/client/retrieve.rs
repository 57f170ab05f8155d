//! Many RETRs, pipelined: the window is kept full and refilled as answers
//! arrive, and each message is handed over as soon as it is complete (one
//! message held at a time, so memory does not grow with the mailbox).

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
}
