//! What a pattern reads of one message, prepared once when its preview
//! arrives ([`MessageText`]): the fields, their diacritic-folded lower-case
//! forms, and the hints `~V` stands for ([`Hints`]).

use crate::mail::{self, HeaderSummary};

/// Lower case with diacritics and other marks folded to ASCII (`Łukasz
/// Żółć` becomes `lukasz zolc`, `Zürich` `zurich`): what bare words compare.
/// Both the pattern's word and the message's text go through it.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    deunicode::deunicode(s).to_lowercase()
}

/// A short field, as written and, for searches that ignore case, its
/// lower-case form followed (when it differs) by its folded form, so such a
/// regex runs as a faster case-sensitive search over lower-case text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Field {
    pub(crate) text: String,
    /// The lower-case text and, on a second line when it differs, the
    /// folded text ([`fold`]): one search for a plain word that ignores
    /// case.
    pub(crate) searchable: String,
    /// Where the lower-case text ends in `searchable`.
    lower_len: usize,
}

impl Field {
    fn new(text: &str) -> Field {
        let mut searchable = text.to_lowercase();
        let lower_len = searchable.len();
        if !text.is_ascii() {
            let folded = fold(text);
            if folded != searchable {
                searchable.push('\n');
                searchable.push_str(&folded);
            }
        }
        searchable.shrink_to_fit();
        Field {
            text: text.to_string(),
            searchable,
            lower_len,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.searchable.capacity()
    }

    /// The text in lower case.
    pub(crate) fn lower(&self) -> &str {
        self.searchable.get(..self.lower_len).unwrap_or("")
    }

    /// The folded text, when it differs from the lower-case one.
    pub(crate) fn folded(&self) -> Option<&str> {
        self.searchable.get(self.lower_len + 1..)
    }
}

/// What a careful reader checks before trusting a message, from its
/// headers alone (issue 13 §4); `~V` matches when any is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    /// An `Authentication-Results` header (of the account's authserv-id,
    /// when one is configured; else any) says `dkim=fail`, `spf=fail`,
    /// `spf=softfail` or `dmarc=fail`. Only failures count, so a forged
    /// header can add a warning but never hide one.
    pub auth_failed: bool,
    /// The display name names an address or domain (the sender rule,
    /// [`mail::looks_like_address`]) that is not the real sender's.
    pub name_mismatch: bool,
    /// Reply-To is in another domain than From.
    pub reply_to_elsewhere: bool,
}

impl Hints {
    /// Any hint at all.
    pub fn any(&self) -> bool {
        self.auth_failed || self.name_mismatch || self.reply_to_elsewhere
    }

    /// The hints of a summary; `authserv_id` as in
    /// [`MessageText::with_authserv`].
    pub fn of(h: &HeaderSummary, authserv_id: Option<&str>) -> Hints {
        Hints {
            auth_failed: h.auth_results.iter().any(|v| auth_failed(v, authserv_id)),
            name_mismatch: name_mismatch(&h.from_name, &h.from_addr),
            reply_to_elsewhere: reply_to_elsewhere(&h.from_addr, &h.reply_to),
        }
    }
}

/// One message as patterns read it. Made once per message (when its
/// preview arrives) so that matching 100,000 messages is fast.
#[derive(Clone, Debug, Default)]
pub struct MessageText {
    pub(crate) from_name: Field,
    pub(crate) from_addr: Field,
    /// Both From fields' searchable texts, one per line.
    pub(crate) from_searchable: String,
    pub(crate) to: Field,
    pub(crate) cc: Field,
    pub(crate) subject: Field,
    pub(crate) headers: String,
    pub(crate) message_id: String,
    /// Folded From name, From address and Subject, one per line: what a
    /// bare word is looked for in.
    words: String,
    pub(crate) date: Option<i64>,
    pub(crate) has_attachments: bool,
    pub(crate) hints: Hints,
}

impl MessageText {
    /// [`MessageText::with_authserv`] with no authserv-id: any
    /// `Authentication-Results` header counts for `~V`.
    pub fn new(h: &HeaderSummary) -> MessageText {
        MessageText::with_authserv(h, None)
    }

    /// The text of one message. `authserv_id` is the account's own
    /// provider's (`[accounts.NAME] authserv_id`): only its
    /// `Authentication-Results` count for `~V`; `None` lets any count
    /// (only failures are looked for, so a forged header can only add a
    /// hint).
    pub fn with_authserv(h: &HeaderSummary, authserv_id: Option<&str>) -> MessageText {
        let words = [h.from_name.as_str(), &h.from_addr, &h.subject]
            .map(fold)
            .join("\n");
        let (from_name, from_addr) = (Field::new(&h.from_name), Field::new(&h.from_addr));
        let from_searchable = format!("{}\n{}", from_name.searchable, from_addr.searchable);
        MessageText {
            from_name,
            from_addr,
            from_searchable,
            to: Field::new(&h.to),
            cc: Field::new(&h.cc),
            subject: Field::new(&h.subject),
            headers: h.headers.clone(),
            message_id: h.message_id.clone(),
            words,
            date: h.date.map(|d| d.unix),
            has_attachments: h.has_attachments,
            hints: Hints::of(h, authserv_id),
        }
    }

    /// Bytes this text holds on the heap (for memory budgets; the struct
    /// itself is `size_of::<MessageText>()` more).
    pub fn heap_bytes(&self) -> usize {
        [
            &self.from_name,
            &self.from_addr,
            &self.to,
            &self.cc,
            &self.subject,
        ]
        .iter()
        .map(|f| f.heap_bytes())
        .sum::<usize>()
            + self.from_searchable.capacity()
            + self.headers.capacity()
            + self.message_id.capacity()
            + self.words.capacity()
    }

    /// The hints `~V` matches (for badges in the list).
    /// The header block: unfolded lines, sanitized, bounded (what `~h`
    /// matches and mpop's filter is given).
    pub fn headers(&self) -> &str {
        &self.headers
    }

    pub fn hints(&self) -> Hints {
        self.hints
    }

    /// Does the folded From or Subject contain the folded word?
    pub(crate) fn contains_word(&self, word: &memchr::memmem::Finder<'_>) -> bool {
        word.find(self.words.as_bytes()).is_some()
    }
}

/// The domain of an address, lower case, without a trailing dot; empty
/// when there is none.
fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('>').trim_end_matches('.'))
        .unwrap_or("")
        .to_lowercase()
}

/// One domain is the other or a subdomain of it (`mail.example.com` and
/// `example.com`).
fn related(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

fn reply_to_elsewhere(from_addr: &str, reply_to: &str) -> bool {
    let (from, reply) = (domain_of(from_addr), domain_of(reply_to));
    !from.is_empty() && !reply.is_empty() && !related(&from, &reply)
}

/// The display name looks like an address or domain (the one sender rule)
/// and names neither the real address nor its domain.
fn name_mismatch(name: &str, addr: &str) -> bool {
    if name.trim().is_empty() || !mail::looks_like_address(name) {
        return false;
    }
    let name = name.to_lowercase();
    let addr = addr.trim().to_lowercase();
    if addr.is_empty() {
        return true;
    }
    let domain = domain_of(&addr);
    !(name.contains(&addr) || (!domain.is_empty() && name.contains(&domain)))
}

/// One `Authentication-Results` value reports a failed DKIM, SPF or DMARC
/// check, and (when `authserv_id` is given) was written by that server.
fn auth_failed(value: &str, authserv_id: Option<&str>) -> bool {
    let value = strip_comments(value);
    let mut parts = value.split(';');
    let id = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or("");
    if let Some(want) = authserv_id
        && !id.eq_ignore_ascii_case(want.trim())
    {
        return false;
    }
    parts.any(|resinfo| {
        let compact: String = resinfo
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" =", "=")
            .replace("= ", "=")
            .to_ascii_lowercase();
        let Some(first) = compact.split_whitespace().next() else {
            return false;
        };
        matches!(
            first,
            "dkim=fail" | "spf=fail" | "spf=softfail" | "dmarc=fail"
        )
    })
}

/// The text without RFC 5322 comments (parenthesized, possibly nested).
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Łukasz Żółć"), "lukasz zolc");
        assert_eq!(fold("Zürich"), "zurich");
        assert_eq!(fold("ABC"), "abc");
    }

    #[test]
    fn auth_results() {
        let v = "mx.example.net; dkim=fail (bad sig) header.d=x; spf=pass";
        assert!(auth_failed(v, None));
        assert!(auth_failed(v, Some("MX.example.net")));
        assert!(!auth_failed(v, Some("other.example")));
        assert!(!auth_failed("mx; dkim=pass; spf=pass; dmarc=pass", None));
        assert!(auth_failed("mx 1; spf = softfail smtp.mailfrom=a", None));
        assert!(!auth_failed("mx; dkim=pass (comment dkim=fail)", None));
    }

    #[test]
    fn sender_hints() {
        assert!(name_mismatch("security@paypal.com", "x@evil.example"));
        assert!(name_mismatch("PayPal.com", "x@evil.example"));
        assert!(!name_mismatch("PayPal.com", "service@paypal.com"));
        assert!(!name_mismatch("a@b.example", "a@b.example"));
        assert!(!name_mismatch("Alice", "x@evil.example"));
        assert!(reply_to_elsewhere("a@shop.example", "b@evil.example"));
        assert!(!reply_to_elsewhere("a@mail.shop.example", "b@shop.example"));
        assert!(!reply_to_elsewhere("a@shop.example", ""));
    }
}
