//! Every reference to the threat catalogue resolves: comments that cite
//! `SECURITY A1` or `SECURITY-CASES D23` (also lists like `F32, F35`, ranges
//! like `A1-A7` and bare section letters), and tests named after a case
//! (`fn b10_…`), must each find an entry in docs/security.md. The catalogue
//! in turn may name only files and test functions that exist.
//!
//! std only; this file itself is not scanned (it holds examples).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const CATALOGUE: &str = "docs/security.md";
/// Where references may live, relative to the crate root.
const SCANNED: &[&str] = &["src", "tests", "fuzz", "benches", "README.md"];
/// Files whose text is scanned.
const EXTENSIONS: &[&str] = &["rs", "md", "toml", "sh"];
/// Test-name prefixes that look like case ids but name the ISO 6429 control
/// sets (`c0_…`, `c1_…`); no case has these numbers.
const NOT_CASES: &[&str] = &["c0", "c1"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A case id (`A1`) or a section (`A`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Id {
    letter: char,
    number: Option<u32>,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.number {
            Some(n) => write!(f, "{}{n}", self.letter),
            None => write!(f, "{}", self.letter),
        }
    }
}

/// An id at the start of `s`, and the bytes it took. The id must end at a
/// character that can't continue a word (`A1b` or `Ab` is no id).
fn id_at(s: &str) -> Option<(Id, usize)> {
    let b = s.as_bytes();
    let letter = *b.first()?;
    if !letter.is_ascii_uppercase() {
        return None;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end = 1 + digits;
    if b.get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        return None;
    }
    let number = if digits == 0 {
        None
    } else {
        Some(s[1..end].parse().ok()?)
    };
    Some((
        Id {
            letter: letter as char,
            number,
        },
        end,
    ))
}

/// The ids cited by the text after a `SECURITY` keyword: `A1`,
/// `F32, F35`, `A1-A7` (expanded), `B, C, D`, `A1/B8`. `None` when the text
/// does not start with an id at all.
fn cited(mut s: &str) -> Option<Vec<Id>> {
    let mut ids = Vec::new();
    loop {
        let (first, n) = id_at(s)?;
        s = &s[n..];
        let range_end = ["-", "\u{2013}"]
            .iter()
            .find_map(|dash| s.strip_prefix(dash))
            .and_then(|rest| id_at(rest).map(|(id, n)| (id, &rest[n..])));
        match range_end {
            Some((last, rest)) => {
                s = rest;
                match (first.number, last.number) {
                    (Some(a), Some(b)) if first.letter == last.letter && a <= b => {
                        ids.extend((a..=b).map(|n| Id {
                            letter: first.letter,
                            number: Some(n),
                        }));
                    }
                    _ => {
                        ids.push(first);
                        ids.push(last);
                    }
                }
            }
            None => ids.push(first),
        }
        let next = [", ", ",", "/"]
            .iter()
            .find_map(|sep| s.strip_prefix(sep))
            .filter(|rest| id_at(rest).is_some());
        match next {
            Some(rest) => s = rest,
            None => return Some(ids),
        }
    }
}

/// A problem found at a place in a file.
fn at(path: &Path, line: usize, what: String) -> String {
    let rel = path.strip_prefix(root()).unwrap_or(path);
    format!("{}:{line}: {what}", rel.display())
}

/// The references on one line: `(id, how it was cited)`, or a malformed
/// citation as an error. A function name counts as a reference when it
/// starts with a case id of one of the catalogue's `sections`.
fn references(line: &str, sections: &BTreeSet<char>) -> (Vec<(Id, String)>, Vec<String>) {
    let mut refs = Vec::new();
    let mut bad = Vec::new();
    let word_before = |i: usize| {
        line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    // Citations: `SECURITY X` and `SECURITY-CASES X`.
    let mut from = 0;
    while let Some(i) = line[from..].find("SECURITY").map(|i| i + from) {
        from = i + "SECURITY".len();
        if word_before(i) {
            continue;
        }
        let mut rest = &line[from..];
        let strict = rest.starts_with("-CASES");
        if strict {
            rest = &rest["-CASES".len()..];
        } else if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-') {
            continue; // SECURITY_FOO, SECURITY-POLICY: not a citation
        }
        let text = rest.strip_prefix(' ').and_then(cited);
        match text {
            Some(ids) => {
                let how = line[i..].chars().take(60).collect::<String>();
                refs.extend(ids.into_iter().map(|id| (id, how.clone())));
            }
            // `SECURITY-CASES` always cites; `SECURITY` followed by a number
            // forgot the section letter.
            None if strict || rest.trim_start().starts_with(|c: char| c.is_ascii_digit()) => {
                bad.push(format!(
                    "malformed citation {:?}: cite a case as `SECURITY X12` (letter and \
                     number, on one line)",
                    line[i..].chars().take(40).collect::<String>()
                ));
            }
            None => {}
        }
    }
    // Test functions named after a case: `fn b10_...`.
    let mut from = 0;
    while let Some(i) = line[from..].find("fn ").map(|i| i + from) {
        from = i + 3;
        if word_before(i) {
            continue;
        }
        let name = &line[from..];
        let Some(letter) = name.chars().next().filter(char::is_ascii_lowercase) else {
            continue;
        };
        if !sections.contains(&letter.to_ascii_uppercase()) {
            continue;
        }
        let digits = name[1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || name.as_bytes().get(1 + digits) != Some(&b'_') {
            continue;
        }
        if NOT_CASES.contains(&&name[..1 + digits]) {
            continue;
        }
        let id = Id {
            letter: letter.to_ascii_uppercase(),
            number: name[1..1 + digits].parse().ok(),
        };
        let fn_name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        refs.push((id, format!("fn {fn_name}")));
    }
    (refs, bad)
}

/// Every text file to scan under `path` (skipping `target` and hidden dirs,
/// and this file).
fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if EXTENSIONS.contains(&ext) && !path.ends_with("tests/docs_refs.rs") {
            out.push(path.to_path_buf());
        }
        return;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() && (name == "target" || name.starts_with('.')) {
            continue;
        }
        files(&p, out);
    }
}

/// The ids with an entry in the catalogue: a `## ` or `### ` heading that
/// starts with the id (`## A.`, `### A1.`), or a line that starts with a
/// case id (`A1 ...`).
fn entries(catalogue: &str) -> BTreeSet<Id> {
    catalogue
        .lines()
        .filter_map(|l| {
            let heading = ["## ", "### "]
                .iter()
                .find_map(|h| l.strip_prefix(h))
                .map(str::trim_start);
            match heading {
                Some(h) => id_at(h).map(|(id, _)| id),
                None => id_at(l).map(|(id, _)| id).filter(|id| id.number.is_some()),
            }
        })
        .collect()
}

/// The section letters of the catalogue.
fn sections(known: &BTreeSet<Id>) -> BTreeSet<char> {
    known
        .iter()
        .filter(|id| id.number.is_none())
        .map(|id| id.letter)
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether `file` defines a function called `name`.
fn defines(file: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    file.match_indices(&needle).any(|(i, _)| {
        let before = file[..i].chars().next_back();
        let after = file[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The problems with the catalogue itself: every `path/file.ext` it names in
/// backticks must exist, and every test name on a `Tested in` line must be a
/// function of the file named before it on that line.
fn catalogue_problems(catalogue: &str, path: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (n, line) in catalogue.lines().enumerate() {
        let tested_in = line.contains("**Tested in:**");
        let mut file: Option<(String, String)> = None;
        for (k, token) in line.split('`').enumerate() {
            if k % 2 == 0 {
                continue; // outside backticks
            }
            let looks_like_path = token.contains('/')
                && !token.contains(' ')
                && token.rsplit_once('.').is_some_and(|(_, ext)| {
                    !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric())
                })
                && SCANNED.iter().any(|d| token.starts_with(&format!("{d}/")));
            if looks_like_path {
                match fs::read_to_string(root().join(token)) {
                    Ok(text) => file = Some((token.to_string(), text)),
                    Err(_) => {
                        problems.push(at(
                            path,
                            n + 1,
                            format!("names `{token}`, which does not exist"),
                        ));
                        file = None;
                    }
                }
                continue;
            }
            let is_ident = !token.is_empty()
                && token.contains('_')
                && token
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !tested_in || !is_ident {
                continue;
            }
            match &file {
                Some((name, text)) if !defines(text, token) => problems.push(at(
                    path,
                    n + 1,
                    format!("names test `{token}`, which is not a function in `{name}`"),
                )),
                Some(_) => {}
                None => problems.push(at(
                    path,
                    n + 1,
                    format!("names test `{token}` without an existing file before it"),
                )),
            }
        }
    }
    problems
}

#[test]
fn every_security_reference_has_an_entry_in_the_catalogue() {
    let catalogue_path = root().join(CATALOGUE);
    let catalogue = read(&catalogue_path);
    let known = entries(&catalogue);
    let sections = sections(&known);
    let mut scanned = Vec::new();
    for dir in SCANNED {
        files(&root().join(dir), &mut scanned);
    }
    let mut problems = Vec::new();
    let mut cited_count = 0;
    for path in &scanned {
        for (n, line) in read(path).lines().enumerate() {
            let (refs, bad) = references(line, &sections);
            problems.extend(bad.into_iter().map(|b| at(path, n + 1, b)));
            for (id, how) in refs {
                cited_count += 1;
                if !known.contains(&id) {
                    problems.push(at(
                        path,
                        n + 1,
                        format!("{id} (in {how:?}) has no entry in {CATALOGUE}"),
                    ));
                }
            }
        }
    }
    problems.extend(catalogue_problems(&catalogue, &catalogue_path));
    assert!(
        problems.is_empty(),
        "{} broken reference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The scan found something: an empty walk would pass vacuously.
    assert!(cited_count > 20, "only {cited_count} references found");
}

#[test]
fn the_reference_parser_reads_lists_ranges_and_sections() {
    let known = entries("## A. TLS\n### A1. Stripping\nB8 line\nA private CA\n#### C9 no\n## D.\n");
    let names: Vec<String> = known.iter().map(Id::to_string).collect();
    assert_eq!(names, ["A", "A1", "B8", "D"]);
    let sections: BTreeSet<char> = "ABCDEFGH".chars().collect();
    let references = |line: &str| references(line, &sections);
    let ids = |line: &str| -> Vec<String> {
        let (refs, bad) = references(line);
        assert!(bad.is_empty(), "{line}: {bad:?}");
        refs.into_iter().map(|(id, _)| id.to_string()).collect()
    };
    assert_eq!(ids("// (SECURITY A1)."), ["A1"]);
    assert_eq!(ids("//! (SECURITY-CASES F32, F35)."), ["F32", "F35"]);
    assert_eq!(
        ids("(SECURITY-CASES A1-A3, B8/B9): x"),
        ["A1", "A2", "A3", "B8", "B9"]
    );
    assert_eq!(ids("(SECURITY-CASES B, C, D): x"), ["B", "C", "D"]);
    assert_eq!(ids("SECURITY D16, D21)."), ["D16", "D21"]);
    assert_eq!(ids("fn b10_fake_listing() {"), ["B10"]);
    assert_eq!(ids("    pub fn d23_server() -> Server {"), ["D23"]);
    // Not references.
    assert!(ids("fn c1_via_latin1_decode() {").is_empty());
    assert!(ids("fn b_10() {} fn a1() {} fn xa1_y() {} fn v2_api() {}").is_empty());
    assert!(ids("SECURITY_LEVEL, SECURITY policy, INSECURITY A1").is_empty());
    // Malformed: a number without its letter, a dangling keyword.
    assert_eq!(references("(SECURITY-CASES 32).").1.len(), 1);
    assert_eq!(references("see SECURITY 32").1.len(), 1);
    assert_eq!(references("/// as SECURITY-CASES").1.len(), 1);
}
