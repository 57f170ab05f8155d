//! Property tests for `popview::sanitize`: whatever the input, the output of
//! `line` and `text` carries nothing a terminal could act on, and `fit`
//! stays within its width on grapheme boundaries.

use popview::sanitize::{self, is_forbidden, line, text};
// The width helpers the UI renders with (ratatui's cell-width rule).
use popview::text::{fit, pad, width};
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

/// The characters named in SECURITY-CASES F32 (bidi and invisible), checked
/// explicitly so the test doesn't only trust `is_forbidden`.
const NAMED: &[char] = &[
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}',
    '\u{FEFF}', '\u{00AD}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}', '\u{180E}',
];

fn check_clean(out: &str, keep_newline: bool) -> Result<(), TestCaseError> {
    for c in out.chars() {
        if keep_newline && c == '\n' {
            continue;
        }
        prop_assert!(!c.is_control(), "control {:?} in {:?}", c, out);
        prop_assert!(!NAMED.contains(&c), "bidi/invisible {:?} in {:?}", c, out);
        prop_assert!(!is_forbidden(c), "forbidden {:?} in {:?}", c, out);
    }
    Ok(())
}

/// Strings made mostly of the characters escape sequences are built from.
fn hostile() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("\x1b".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\x07".to_string()),
        Just("\\".to_string()),
        Just("P".to_string()),
        Just("_".to_string()),
        Just("^".to_string()),
        Just(";".to_string()),
        Just("0".to_string()),
        Just("52".to_string()),
        Just("m".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just(" ".to_string()),
        Just("日".to_string()),
        Just("e\u{301}".to_string()),
        (0x80u32..=0x9f).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        proptest::sample::select(NAMED).prop_map(|c| c.to_string()),
        "[a-z]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(atoms, 0..64).prop_map(|v| v.concat())
}

fn check_fit(s: &str, w: usize) -> Result<(), TestCaseError> {
    let clean = line(s);
    let f = fit(&clean, w);
    prop_assert!(
        width(&f) <= w,
        "fit({:?}, {}) = {:?} is too wide",
        clean,
        w,
        f
    );
    let prefix = f.strip_suffix('…').unwrap_or(&f);
    prop_assert!(
        clean.starts_with(prefix),
        "{:?} is not a prefix of {:?}",
        f,
        clean
    );
    // the cut is on a grapheme boundary
    let boundaries: Vec<usize> = clean
        .grapheme_indices(true)
        .map(|(i, _)| i)
        .chain(std::iter::once(clean.len()))
        .collect();
    prop_assert!(
        boundaries.contains(&prefix.len()),
        "cut inside a grapheme: {:?}",
        f
    );
    // it only gets cut when it doesn't fit
    if width(&clean) <= w {
        prop_assert_eq!(&f, &clean);
    } else {
        prop_assert!(f.ends_with('…') || w == 0);
    }
    let p = pad(&clean, w);
    prop_assert_eq!(width(&p), w);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn line_is_clean_for_any_string(s in any::<String>()) {
        let out = line(&s);
        check_clean(&out, false)?;
        prop_assert!(!out.contains('\n'));
        prop_assert_eq!(out.trim(), out.as_str());
        prop_assert!(!out.contains("  "));
    }

    #[test]
    fn text_is_clean_for_any_string(s in any::<String>()) {
        check_clean(&text(&s), true)?;
    }

    #[test]
    fn line_is_clean_for_hostile_strings(s in hostile()) {
        let out = line(&s);
        check_clean(&out, false)?;
        prop_assert!(!out.contains('\n'));
    }

    #[test]
    fn text_is_clean_for_hostile_strings(s in hostile()) {
        let out = text(&s);
        check_clean(&out, true)?;
        prop_assert!(!out.contains('\r'));
    }

    #[test]
    fn bytes_line_is_clean_for_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let out = sanitize::bytes_line(&b);
        check_clean(&out, false)?;
        prop_assert!(!out.contains('\n'));
    }

    /// Sanitizing twice changes nothing: nothing the first pass lets through
    /// could start a sequence on the second.
    #[test]
    fn sanitizing_is_idempotent(s in hostile()) {
        let once = line(&s);
        prop_assert_eq!(line(&once), once.clone());
        let t = text(&s);
        prop_assert_eq!(text(&t), t.clone());
    }

    #[test]
    fn fit_any(s in any::<String>(), w in 0usize..40) {
        check_fit(&s, w)?;
    }

    #[test]
    fn fit_hostile(s in hostile(), w in 0usize..40) {
        check_fit(&s, w)?;
    }

    #[test]
    fn fit_wide_and_combining(s in "[a日本語😀\u{301}\u{200D}👩🇫🇷 ]{0,30}", w in 0usize..20) {
        check_fit(&s, w)?;
    }

    /// An escape sequence ends at a line break, terminated or not: every
    /// line break of the input is a line break of the output, and the text
    /// after the last one is kept as it was.
    #[test]
    fn every_line_break_and_the_text_after_it_survive(
        s in hostile(),
        tail in "[a-z]{1,8}( [a-z]{1,8}){0,3}",
    ) {
        let breaks = |t: &str| t.chars().filter(|c| sanitize::is_line_break(*c)).count();
        let out = text(&s);
        prop_assert_eq!(breaks(&s), out.matches('\n').count(), "{:?} -> {:?}", s, out);
        let input = format!("{s}\n{tail}");
        let out = text(&input);
        prop_assert!(out.ends_with(&format!("\n{tail}")), "{:?} -> {:?}", input, out);
        prop_assert!(line(&input).ends_with(&tail), "{:?}", input);
    }
}
