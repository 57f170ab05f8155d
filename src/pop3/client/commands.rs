//! One command, one answer: the convenience calls over the pipeline.

use std::io::{Read, Write};

use super::*;

/// Convenience commands: one command, one answer.
impl<S: Read + Write, T> Client<S, T> {
    pub fn stat(&mut self) -> Result<(u32, u64)> {
        match self.execute(Command::Stat)? {
            Reply::Stat { count, size } => Ok((count, size)),
            other => Err(unexpected(other)),
        }
    }

    pub fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        match self.execute(Command::List(None))? {
            Reply::ScanListing(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    pub fn list_one(&mut self, msg: u32) -> Result<(u32, u64)> {
        match self.execute(Command::List(Some(msg)))? {
            Reply::Scan(n, s) => Ok((n, s)),
            other => Err(unexpected(other)),
        }
    }

    pub fn uidl(&mut self) -> Result<Vec<(u32, Option<String>)>> {
        match self.execute(Command::Uidl(None))? {
            Reply::UidListing(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    pub fn uidl_one(&mut self, msg: u32) -> Result<(u32, Option<String>)> {
        match self.execute(Command::Uidl(Some(msg)))? {
            Reply::Uid(n, u) => Ok((n, u)),
            other => Err(unexpected(other)),
        }
    }

    pub fn top(&mut self, msg: u32, lines: u32) -> Result<Body> {
        match self.execute(Command::Top {
            msg,
            lines,
            size: None,
        })? {
            Reply::Body(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    pub fn retr(&mut self, msg: u32) -> Result<Body> {
        match self.execute(Command::Retr { msg, size: None })? {
            Reply::Body(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    pub fn dele(&mut self, msg: u32) -> Result<()> {
        self.execute(Command::Dele(msg)).map(drop)
    }

    pub fn noop(&mut self) -> Result<()> {
        self.execute(Command::Noop).map(drop)
    }

    pub fn rset(&mut self) -> Result<()> {
        self.execute(Command::Rset).map(drop)
    }

    /// QUIT. In the transaction state the server now deletes the marked
    /// messages; a `-ERR` means it may not have (SECURITY E26).
    pub fn quit(&mut self) -> Result<()> {
        let result = self.execute(Command::Quit).map(drop);
        self.state = State::Closed;
        result
    }
}
