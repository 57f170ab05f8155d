//! `list --match PATTERN` and `delete --match PATTERN [--dry-run]`: the
//! TUI's pattern language ([`crate::pattern`]) from scripts.
//!
//! The pattern is parsed before anything connects; an error exits
//! [`exit::USAGE`] (2) with the column and what was expected. The
//! messages are matched on their header previews (as the list shows them)
//! and the LIST size. A script has no marks, tags, new-mail state or
//! downloaded bodies, so `~D`, `~T`, `~N` and `~b` match nothing here;
//! `~=` compares the Message-IDs of the whole listing.
//!
//! `delete --match` never deletes a message whose header preview is
//! missing (the server has no TOP, or it failed for that message): the
//! pattern could not be checked against it. They are counted on stderr.

use std::collections::HashMap;

use super::delete::{delete_entries, line_of};
use super::*;
use crate::pattern::{Candidate, MessageText, Now, Pattern};

/// Parse a pattern given on the command line; an error is a usage error.
pub fn parse_pattern(src: &str) -> Result<Pattern> {
    Pattern::parse(src, Now::system())
        .map_err(|e| CmdError::new(exit::USAGE, format!("bad pattern: {e}")))
}

/// The entries of the listing the pattern matches, in listing order, and
/// how many were left out for lack of a preview.
fn matching(engine: &Engine, pattern: &Pattern) -> (Vec<ListEntry>, usize) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for h in engine.previews.values() {
        if !h.message_id.is_empty() {
            *ids.entry(h.message_id.as_str()).or_default() += 1;
        }
    }
    let mut hits = Vec::new();
    let mut unknown = 0;
    for e in &engine.listing {
        let h = engine.previews.get(&e.key);
        let text = h.map(MessageText::new);
        let c = Candidate {
            text: text.as_ref(),
            size: e.size,
            duplicate: h.is_some_and(|h| ids.get(h.message_id.as_str()).is_some_and(|n| *n > 1)),
            ..Candidate::default()
        };
        if pattern.matches(&c) {
            if h.is_none() {
                unknown += 1;
            }
            hits.push(e.clone());
        }
    }
    (hits, unknown)
}

/// `list --match`: the lines of `list` for the matching messages only.
pub fn list_matching(
    mut cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    pattern: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let pattern = parse_pattern(pattern)?;
    cfg.header_blocks = pattern.reads_header_block();
    let mut engine = Engine::open(cfg, persist)?;
    engine.wait_previews()?;
    let (hits, _) = matching(&engine, &pattern);
    // Everything is in: the session ends while the lines are written.
    engine.send(Request::Quit { commit: false })?;
    write_list(&engine, &hits, json, out)?;
    engine.finished()?;
    Ok(())
}

/// `delete --match`: delete exactly what the pattern matches (asking
/// nothing), reported as `delete` reports; with `dry_run`, print each
/// message that would go, then their count and total size, and change
/// nothing.
pub fn delete_matching(
    mut cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    pattern: &str,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let pattern = parse_pattern(pattern)?;
    cfg.header_blocks = pattern.reads_header_block();
    let mut engine = Engine::open(cfg, persist)?;
    engine.wait_previews()?;
    let (mut hits, _) = matching(&engine, &pattern);
    let before = hits.len();
    hits.retain(|e| engine.previews.contains_key(&e.key));
    if hits.len() < before {
        eprintln!(
            "popview: {} matching message(s) have no header preview and are left alone \
             (the pattern could not be checked against their headers)",
            before - hits.len()
        );
    }
    let total: u64 = hits.iter().map(|e| e.size).sum();
    if dry_run {
        let empty = HeaderSummary::default();
        for e in &hits {
            let h = engine.previews.get(&e.key).unwrap_or(&empty);
            writeln!(
                out,
                "would delete {}\t{}\t{}\t{}",
                line_of(e),
                e.size,
                h.from_addr,
                h.subject
            )
            .map_err(io_err)?;
        }
        writeln!(out, "would delete {} message(s), {total} bytes", hits.len()).map_err(io_err)?;
        engine.finish(false)?;
        return Ok(());
    }
    if hits.is_empty() {
        eprintln!("popview: no message matches the pattern; nothing was deleted");
        engine.finish(false)?;
        return Ok(());
    }
    delete_entries(engine, hits, out)
}
