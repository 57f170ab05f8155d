//! Property tests of the pattern language: no input makes the parser or
//! matcher panic; a parsed pattern written back parses to an equal one;
//! and the matcher agrees with a naive reference (written here, without
//! the parser) on the boolean structure, precedence, smart case and
//! diacritic folding, over random messages.

use popview::mail::{HeaderSummary, MailDate};
use popview::pattern::{Candidate, MessageText, Now, Pattern};
use proptest::prelude::*;

const NOW: Now = Now {
    unix: 1_796_299_200,
    offset_minutes: 60,
};

/// Words a message and a pattern are made of: the same word with and
/// without diacritics, in different cases.
const WORDS: &[&str] = &[
    "lukasz", "Łukasz", "ŁUKASZ", "zurich", "Zürich", "report", "Report", "jenkins", "build",
];

/// The reference fold, by table, for the letters in [`WORDS`].
fn ref_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'Ł' | 'ł' => 'l',
            'Ü' | 'ü' => 'u',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

#[derive(Clone, Debug)]
struct Msg {
    name: String,
    subject: String,
    size: u64,
    marked: bool,
    new: bool,
    dated: bool,
}

fn msg() -> impl Strategy<Value = Msg> {
    (
        prop::sample::select(WORDS),
        prop::collection::vec(prop::sample::select(WORDS), 0..3),
        0u64..3000,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, subject, size, marked, new, dated)| Msg {
            name: name.to_string(),
            subject: subject.join(" "),
            size,
            marked,
            new,
            dated,
        })
}

#[derive(Clone, Debug)]
enum Atom {
    /// A bare word: From name, address or Subject, case and diacritics
    /// folded.
    Word(&'static str),
    /// `~s WORD`: smart case; ignoring case also folds. `true`: written
    /// `~s (WORD)`, a regex rather than a plain word (the other path).
    Subject(&'static str, bool),
    /// `~f WORD`, like `~s` over the From name and address.
    From(&'static str, bool),
    /// `~z <N`.
    Below(u64),
    Marked,
    New,
    /// `~d <30d` (the message is dated yesterday, or not at all).
    Recent,
}

#[derive(Clone, Debug)]
enum Expr {
    Atom(Atom),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(Atom::Word),
        (prop::sample::select(WORDS), any::<bool>()).prop_map(|(w, g)| Atom::Subject(w, g)),
        (prop::sample::select(WORDS), any::<bool>()).prop_map(|(w, g)| Atom::From(w, g)),
        (0u64..3000).prop_map(Atom::Below),
        Just(Atom::Marked),
        Just(Atom::New),
        Just(Atom::Recent),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    atom()
        .prop_map(Expr::Atom)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
            ]
        })
}

fn render_atom(a: &Atom) -> String {
    match a {
        Atom::Word(w) => w.to_string(),
        Atom::Subject(w, false) => format!("~s {w}"),
        Atom::Subject(w, true) => format!("~s ({w})"),
        Atom::From(w, false) => format!("~f {w}"),
        Atom::From(w, true) => format!("~f ({w})"),
        Atom::Below(n) => format!("~z <{n}"),
        Atom::Marked => "~D".into(),
        Atom::New => "~N".into(),
        Atom::Recent => "~d <30d".into(),
    }
}

fn render(e: &Expr) -> String {
    match e {
        Expr::Atom(a) => render_atom(a),
        Expr::Not(e) => format!("!{}", render(e)),
        Expr::And(v) => format!("({})", v.iter().map(render).collect::<Vec<_>>().join(" ")),
        Expr::Or(v) => format!("({})", v.iter().map(render).collect::<Vec<_>>().join("|")),
    }
}

fn ref_atom(a: &Atom, m: &Msg) -> bool {
    let addr = "someone@example.org";
    match a {
        Atom::Word(w) => {
            let w = ref_fold(w);
            [m.name.as_str(), addr, &m.subject]
                .iter()
                .any(|f| ref_fold(f).contains(&w))
        }
        Atom::Subject(w, _) => ref_regex(w, &m.subject),
        Atom::From(w, _) => ref_regex(w, &m.name) || ref_regex(w, addr),
        Atom::Below(n) => m.size < *n,
        Atom::Marked => m.marked,
        Atom::New => m.new,
        Atom::Recent => m.dated,
    }
}

/// A plain-word regex with smart case: a capital makes it case-sensitive;
/// else case and (on these fields) diacritics are ignored.
fn ref_regex(w: &str, text: &str) -> bool {
    if w.chars().any(char::is_uppercase) {
        text.contains(w)
    } else {
        text.to_lowercase().contains(&w.to_lowercase()) || ref_fold(text).contains(&ref_fold(w))
    }
}

fn reference(e: &Expr, m: &Msg) -> bool {
    match e {
        Expr::Atom(a) => ref_atom(a, m),
        Expr::Not(e) => !reference(e, m),
        Expr::And(v) => v.iter().all(|e| reference(e, m)),
        Expr::Or(v) => v.iter().any(|e| reference(e, m)),
    }
}

fn text_of(m: &Msg) -> MessageText {
    MessageText::new(&HeaderSummary {
        from_name: m.name.clone(),
        from_addr: "someone@example.org".into(),
        subject: m.subject.clone(),
        date: m.dated.then_some(MailDate {
            unix: NOW.unix - 86_400,
            tz_offset_minutes: 0,
        }),
        ..HeaderSummary::default()
    })
}

fn check(p: &Pattern, m: &Msg) -> bool {
    let text = text_of(m);
    p.matches(&Candidate {
        text: Some(&text),
        size: m.size,
        marked: m.marked,
        new: m.new,
        ..Candidate::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn matcher_agrees_with_the_reference(e in expr(), msgs in prop::collection::vec(msg(), 1..8)) {
        let src = render(&e);
        let p = Pattern::parse(&src, NOW).unwrap_or_else(|err| panic!("{src}: {err}"));
        for m in &msgs {
            prop_assert_eq!(check(&p, m), reference(&e, m), "{} on {:?}", src, m);
        }
    }

    /// Without parentheses: juxtaposition binds tighter than `|`, and `!`
    /// tighter than both.
    #[test]
    fn precedence(
        groups in prop::collection::vec(prop::collection::vec((any::<bool>(), atom()), 1..4), 1..4),
        m in msg(),
    ) {
        let src = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|(neg, a)| format!("{}{}", if *neg { "!" } else { "" }, render_atom(a)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let want = groups
            .iter()
            .any(|g| g.iter().all(|(neg, a)| ref_atom(a, &m) != *neg));
        let p = Pattern::parse(&src, NOW).unwrap_or_else(|err| panic!("{src}: {err}"));
        prop_assert_eq!(check(&p, &m), want, "{}", src);
    }

    /// Any text: no panic; an accepted pattern written back parses to an
    /// equal pattern, and matching it doesn't panic either.
    #[test]
    fn any_text_parses_or_fails_cleanly(src in prop_oneof![
        ".{0,80}",
        "[~ftcCshizbdADTNa=V()|!'\"\\\\ <>0-9KMdwmy/.*+?\\[\\]{}^$-]{0,40}",
    ]) {
        match Pattern::parse(&src, NOW) {
            Ok(p) => {
                let shown = p.to_string();
                let again = Pattern::parse(&shown, NOW)
                    .unwrap_or_else(|e| panic!("{src:?} -> {shown:?}: {e}"));
                prop_assert_eq!(&p, &again, "{:?} -> {:?}", src, shown);
                let m = Msg { name: src.clone(), subject: src.clone(), size: 7, marked: true, new: false, dated: true };
                let _ = check(&p, &m);
            }
            Err(e) => {
                prop_assert!(e.column <= src.chars().count(), "{:?}: {}", src, e);
                prop_assert!(e.message.contains(&format!("at column {}", e.column)), "{}", e);
            }
        }
    }
}
