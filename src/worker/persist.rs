//! What the worker keeps on disk, behind a trait so tests can use memory.

use std::collections::HashMap;
use std::io;

use crate::mail::HeaderSummary;

/// Header cache and pending deletion marks, both keyed by UID.
pub trait Persist: Send {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary>;
    fn save_headers(&mut self, headers: &HashMap<String, HeaderSummary>) -> io::Result<()>;
    fn load_marks(&mut self) -> Vec<String>;
    fn save_marks(&mut self, uids: &[String]) -> io::Result<()>;
}

/// Keeps nothing (`--no-cache`, or a server without UIDL). Marks still
/// live for the session.
#[derive(Debug, Default)]
pub struct Nothing;

impl Persist for Nothing {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary> {
        HashMap::new()
    }
    fn save_headers(&mut self, _: &HashMap<String, HeaderSummary>) -> io::Result<()> {
        Ok(())
    }
    fn load_marks(&mut self) -> Vec<String> {
        Vec::new()
    }
    fn save_marks(&mut self, _: &[String]) -> io::Result<()> {
        Ok(())
    }
}
