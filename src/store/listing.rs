//! The last listing the server gave, kept so the list can be drawn before
//! connecting: in order, each message's number, UID and LIST size, in the
//! account's cache directory (`listing.bin`: a [record log](super::log)
//! holding one record). Written whole and atomically when it changed;
//! read as untrusted (a regular file only, capped, numbers increasing,
//! UIDs valid and distinct), empty on anything wrong.

use std::collections::HashSet;
use std::io::{self, Write};

use super::files::{Unfit, read_regular, write_atomic};
use super::log::{self, Dec, Enc};
use super::{MAX_ENTRIES, Store};
use crate::pop3::response::valid_uid;

/// The last listing's file, in the cache directory.
pub const LISTING_FILE: &str = "listing.bin";
const LISTING_MAGIC: &[u8; 8] = b"PVLIST\0\0";
/// Version of the listing file written here (another: read as empty).
pub const LISTING_VERSION: u32 = 1;
/// A listing file bigger than this is set aside.
pub const MAX_LISTING_BYTES: u64 = 128 << 20;

/// One message of a listing: number, UID, LIST size.
pub type ListedMessage = (u32, String, u64);

impl Store {
    /// Keep `listing` as the last one the server gave (nothing is written
    /// when it is the one already kept). Entries with an invalid UID are
    /// left out.
    pub fn save_listing(&self, listing: &[ListedMessage]) -> io::Result<()> {
        let mut e = Enc::default();
        let valid: Vec<&ListedMessage> = listing
            .iter()
            .filter(|(_, uid, _)| valid_uid(uid.as_bytes()))
            .take(MAX_ENTRIES)
            .collect();
        e.u32(valid.len() as u32);
        for (n, uid, size) in valid {
            e.u32(*n);
            e.str(uid);
            e.u64(*size);
        }
        let sum = log::checksum(&e.0);
        if self.logs().listing_sum == Some(sum) {
            return Ok(());
        }
        let mut out = log::file_header(LISTING_MAGIC, LISTING_VERSION).to_vec();
        log::frame(&mut out, &e.0);
        write_atomic(&self.cache_dir.join(LISTING_FILE), |w| w.write_all(&out))?;
        self.logs().listing_sum = Some(sum);
        Ok(())
    }

    /// The last listing kept, in order. Missing: empty. Unfit (not a
    /// regular file, too big, damaged, another version, numbers not
    /// increasing, a UID invalid or repeated, more than
    /// [`MAX_ENTRIES`]): empty, set aside with a warning.
    pub fn load_listing(&self) -> Vec<ListedMessage> {
        let path = self.cache_dir.join(LISTING_FILE);
        let bytes = match read_regular(&path, MAX_LISTING_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return Vec::new(),
            Err(Unfit::Io(e)) => {
                self.warn(format!("can't read {}: {e}", path.display()));
                return Vec::new();
            }
            Err(Unfit::Set(why)) => {
                self.set_aside(&path, &why);
                return Vec::new();
            }
        };
        let parsed = log::scan(
            &bytes,
            LISTING_MAGIC,
            LISTING_VERSION,
            MAX_LISTING_BYTES as usize,
        )
        .ok()
        .and_then(|s| match s.records[..] {
            [payload] if s.valid_len == bytes.len() as u64 => {
                decode(payload).map(|l| (l, log::checksum(payload)))
            }
            _ => None,
        });
        match parsed {
            Some((listing, sum)) => {
                self.logs().listing_sum = Some(sum);
                listing
            }
            None => {
                self.set_aside(&path, "it is damaged or of another version");
                Vec::new()
            }
        }
    }
}

fn decode(payload: &[u8]) -> Option<Vec<ListedMessage>> {
    let mut d = Dec::new(payload);
    let count = d.u32()? as usize;
    if count > MAX_ENTRIES {
        return None;
    }
    // Each entry takes at least 17 bytes: a count beyond that is a lie.
    let mut out = Vec::with_capacity(count.min(payload.len() / 17));
    let mut seen = HashSet::with_capacity(out.capacity());
    let mut last = 0u32;
    for _ in 0..count {
        let n = d.u32()?;
        let uid = d.str()?;
        let size = d.u64()?;
        if n <= last || !valid_uid(uid.as_bytes()) || !seen.insert(uid) {
            return None;
        }
        last = n;
        out.push((n, uid.to_string(), size));
    }
    d.done().then_some(out)
}
