//! PURE: untrusted text (from the network or a mail) to text that is safe to
//! put on a terminal.
//!
//! (Interim version: removes control characters. The full rules of
//! SECURITY-CASES section F replace it.)

/// A one-line field (subject, sender, status text): no controls, newlines
/// collapsed to spaces.
pub fn line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect()
}

/// Multi-line text (a message body): keeps `\n`, removes other controls.
pub fn text(s: &str) -> String {
    s.chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}
