//! The record log under the header cache and the last listing: a file
//! header (8-byte magic, a little-endian `u32` version, 4 zero bytes), then
//! records, each a little-endian `u32` payload length, a `u64` checksum of
//! the payload and the payload. A record that runs past the end of the
//! file or whose checksum is wrong (a power cut mid-append) ends the log:
//! it and anything after it are ignored, what came before is kept.
//!
//! The checksum detects torn and damaged records, not forgeries: a planted
//! file can carry right checksums, so every payload is still read as
//! untrusted (the [`Dec`] reader never reads past its record, and callers
//! validate and resanitize what it gives).

/// Bytes of a file header.
pub(super) const HEADER_LEN: usize = 16;
/// Bytes before each payload (length and checksum).
pub(super) const FRAME_LEN: usize = 12;

/// The header of a log file of this `magic` and `version`.
pub(super) fn file_header(magic: &[u8; 8], version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(magic);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A 64-bit checksum of `bytes` (a multiply-rotate round per 8-byte word,
/// seeded with the length, and a final mix): fast enough that checking a
/// 100,000-entry cache costs a few milliseconds.
pub(super) fn checksum(bytes: &[u8]) -> u64 {
    let mut h = K ^ (bytes.len() as u64).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(29);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(a) ^ 0x80)
            .wrapping_mul(K)
            .rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 29)
}

/// Append one framed record holding `payload` to `out`.
pub(super) fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why a log file's header is not this log's.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BadHeader {
    /// Too short, or not this magic: a damaged or foreign file.
    Damaged,
    /// This magic, another version.
    Version(u32),
}

/// The records of a log file read whole.
#[derive(Debug)]
pub(super) struct Scan<'a> {
    /// The payloads, in file order.
    pub records: Vec<&'a [u8]>,
    /// Bytes up to the end of the last good record.
    pub valid_len: u64,
}

/// The records of `bytes` (a whole log file), each at most `max_record`
/// bytes, up to the first one that is torn, damaged or too big.
pub(super) fn scan<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u32,
    max_record: usize,
) -> Result<Scan<'a>, BadHeader> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != magic || bytes[12..16] != [0; 4] {
        return Err(BadHeader::Damaged);
    }
    let v = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if v != version {
        return Err(BadHeader::Version(v));
    }
    let mut records = Vec::new();
    let mut pos = HEADER_LEN;
    while let Some(frame) = bytes.get(pos..pos + FRAME_LEN) {
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&frame[4..12]);
        if len > max_record {
            break;
        }
        let start = pos + FRAME_LEN;
        let Some(payload) = bytes.get(start..start + len) else {
            break;
        };
        if checksum(payload) != u64::from_le_bytes(sum) {
            break;
        }
        records.push(payload);
        pos = start + len;
    }
    Ok(Scan {
        records,
        valid_len: pos as u64,
    })
}

/// Builds one payload.
#[derive(Default)]
pub(super) struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

/// Reads one untrusted payload: every read is bounds-checked (`None` past
/// the end), strings must be UTF-8.
pub(super) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }
    pub fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    /// Everything was read.
    pub fn done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_or_damaged_record_ends_the_log() {
        let mut f = file_header(b"TESTLOG\0", 1).to_vec();
        frame(&mut f, b"one");
        frame(&mut f, b"two");
        let good = f.len();
        frame(&mut f, b"three");
        let s = scan(&f, b"TESTLOG\0", 1, 100).unwrap();
        assert_eq!(s.records, vec![&b"one"[..], b"two", b"three"]);
        // Torn: each cut inside the last record keeps the first two.
        for cut in good + 1..f.len() {
            let s = scan(&f[..cut], b"TESTLOG\0", 1, 100).unwrap();
            assert_eq!(s.records.len(), 2, "cut at {cut}");
            assert_eq!(s.valid_len, good as u64);
        }
        // A flipped payload byte fails its checksum.
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(scan(&bad, b"TESTLOG\0", 1, 100).unwrap().records.len(), 2);
        // Too big for the cap.
        assert_eq!(scan(&f, b"TESTLOG\0", 1, 3).unwrap().records.len(), 2);
        assert_eq!(
            scan(&f, b"TESTLOG\0", 2, 100).unwrap_err(),
            BadHeader::Version(1)
        );
        assert_eq!(
            scan(&f, b"OTHERLOG", 1, 100).unwrap_err(),
            BadHeader::Damaged
        );
        assert_eq!(
            scan(&f[..10], b"TESTLOG\0", 1, 100).unwrap_err(),
            BadHeader::Damaged
        );
    }

    #[test]
    fn the_decoder_never_reads_past_its_payload() {
        let mut e = Enc::default();
        e.str("héllo");
        e.u64(7);
        let mut d = Dec::new(&e.0);
        assert_eq!(d.str(), Some("héllo"));
        assert_eq!(d.u64(), Some(7));
        assert!(d.done());
        assert_eq!(d.u8(), None);
        // A length beyond the payload, and bytes that are not UTF-8.
        let mut d = Dec::new(&[255, 255, 255, 255, b'a']);
        assert_eq!(d.str(), None);
        let mut d = Dec::new(&[2, 0, 0, 0, 0xff, 0xfe]);
        assert_eq!(d.str(), None);
    }
}
