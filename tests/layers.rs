//! Data flows one way: a module uses only modules in layers below its own.
//!
//! Reads every `src/**/*.rs` (not `main.rs`, the binary, which reaches the
//! library as `popview::`), blanks comments and string literals, and
//! collects each path that starts with `crate::`, `super::` or `self::`
//! (in `use` lines, groups like `crate::{a, b}`, and inline paths).
//!
//! - Between top-level modules, the order is [`LAYERS`] (the table in the
//!   module doc of `src/lib.rs` says the same thing in prose): a module may
//!   use a module of a lower layer only, never one of its own layer or above.
//! - Inside a module, sibling submodules must not use each other in a cycle
//!   (`pop3::transport` using `pop3::client` and back). A parent and its
//!   children may use each other (a `mod.rs` re-exports, a child uses
//!   `super::*`).
//!
//! Upward uses nobody has untied yet are listed, each with its reason, in
//! [`EXCEPTIONS`] and [`CYCLE_EXCEPTIONS`]; an exception that is no longer
//! needed fails [`exceptions_are_still_needed`], so the lists only shrink.
//!
//! std only.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first; mirrors the table in `src/lib.rs`. A module
/// may use modules of lower layers only.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "sanitize",
            "html",
            "action",
            "install",
            "mailcap",
            "private_fs",
            "paths",
        ],
    ),
    ("pure adapters", &["text", "mail", "pop3", "keymap"]),
    (
        "below the session",
        &[
            "store",
            "password",
            "layout",
            "demo",
            "pattern",
            "localbox",
            "bodycache",
        ],
    ),
    ("session", &["worker", "oauth"]),
    ("settings", &["config"]),
    ("state", &["app"]),
    ("view", &["ui"]),
    ("terminal and arguments", &["tui", "cli"]),
    ("commands", &["commands"]),
    ("start-up", &["debug_log", "setup"]),
];

/// Known upward uses between top-level modules: (the user's top-level
/// module, the used top-level module). Each needs a reason. None today.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// Known cycles between sibling submodules: (from, to) edges left out of
/// the cycle check. Each needs a reason.
const CYCLE_EXCEPTIONS: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module path of a file under `src/`: `src/pop3/client/mod.rs` is
/// `["pop3", "client"]`, `src/lib.rs` is `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .skip(1)
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap();
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text with comments, string and char literals blanked (newlines
/// kept, so positions keep their line numbers).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        if at(0) == '/' && at(1) == '/' {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if at(0) == '/' && at(1) == '*' {
            let mut depth = 0;
            loop {
                let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
                if i >= c.len() {
                    break;
                } else if at(0) == '/' && at(1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(0) == '*' && at(1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if (at(0) == 'r' || (at(0) == 'b' && at(1) == 'r'))
            && (i == 0 || !ident(c[i - 1]))
            && {
                let s = if at(0) == 'b' { 2 } else { 1 };
                let mut k = s;
                while at(k) == '#' {
                    k += 1;
                }
                at(k) == '"'
            }
        {
            // A raw string: r"..", r#".."#, br#".."#.
            let s = if at(0) == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(s + hashes) == '#' {
                hashes += 1;
            }
            let open = s + hashes + 1;
            for _ in 0..open {
                out.push(' ');
            }
            i += open;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if at(0) == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() {
                match c[i] {
                    '\\' => {
                        blank(&mut out, c[i]);
                        if i + 1 < c.len() {
                            blank(&mut out, c[i + 1]);
                        }
                        i += 2;
                    }
                    '"' => {
                        out.push(' ');
                        i += 1;
                        break;
                    }
                    ch => {
                        blank(&mut out, ch);
                        i += 1;
                    }
                }
            }
        } else if at(0) == '\'' && (at(1) == '\\' || (at(1) != '\0' && at(2) == '\'')) {
            // A char literal ('{', '\n', '\u{1b}'); a lifetime has no
            // closing quote and is left alone.
            out.push(' ');
            i += 1;
            while i < c.len() {
                let ch = c[i];
                i += 1;
                if ch == '\\' {
                    blank(&mut out, ch);
                    if i < c.len() {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                } else if ch == '\'' {
                    out.push(' ');
                    break;
                } else {
                    blank(&mut out, ch);
                }
            }
        } else {
            out.push(at(0));
            i += 1;
        }
    }
    out
}

/// One use of a path: where, and the absolute module path it names
/// (possibly ending in an item name).
struct Use {
    line: usize,
    from: Vec<String>,
    target: Vec<String>,
}

/// Every `crate::`/`super::`/`self::` path in a file, resolved.
fn uses_in(file_module: &[String], code: &str) -> Vec<Use> {
    let c: Vec<char> = code.chars().collect();
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    // Inline modules (`mod tests { .. }`): name and the depth inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    let read_ident = |i: &mut usize| -> String {
        let s = *i;
        while *i < c.len() && ident_char(c[*i]) {
            *i += 1;
        }
        c[s..*i].iter().collect()
    };
    let skip_ws = |i: &mut usize, line: &mut usize| {
        while *i < c.len() && c[*i].is_whitespace() {
            if c[*i] == '\n' {
                *line += 1;
            }
            *i += 1;
        }
    };
    let at_sep = |i: usize| c.get(i) == Some(&':') && c.get(i + 1) == Some(&':');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch == '{' {
            depth += 1;
            if let Some(name) = pending_mod.take() {
                inline.push((name, depth));
            }
            i += 1;
        } else if ch == '}' {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
        } else if ch == ';' {
            pending_mod = None;
            i += 1;
        } else if ident_char(ch) && (i == 0 || !ident_char(c[i - 1])) {
            let word = read_ident(&mut i);
            if word == "mod" {
                let mut j = i;
                let mut l = line;
                skip_ws(&mut j, &mut l);
                let name = read_ident(&mut j);
                if !name.is_empty() {
                    pending_mod = Some(name);
                }
                continue;
            }
            if !matches!(word.as_str(), "crate" | "super" | "self") || !at_sep(i) {
                continue;
            }
            if i >= 2 + word.len() && at_sep(i - word.len() - 2) {
                continue; // `x::self`, `Self::..`: not the start of a path
            }
            let start_line = line;
            let mut here: Vec<String> = file_module.to_vec();
            here.extend(inline.iter().map(|(n, _)| n.clone()));
            let mut base = match word.as_str() {
                "crate" => Vec::new(),
                "self" => here.clone(),
                _ => {
                    let mut b = here.clone();
                    b.pop();
                    b
                }
            };
            // Walk `::seg::seg`; `super` steps up; `{` opens a group.
            let mut segs: Vec<String> = Vec::new();
            let mut groups: Vec<Vec<String>> = Vec::new();
            while at_sep(i) {
                i += 2;
                let mut j = i;
                let mut l = line;
                skip_ws(&mut j, &mut l);
                if c.get(j) == Some(&'{') {
                    i = j + 1;
                    line = l;
                    // Each element's leading path, up to a nested group.
                    let mut level = 1;
                    let mut elem: Vec<String> = Vec::new();
                    let mut expect_seg = true;
                    while i < c.len() && level > 0 {
                        let ch = c[i];
                        if ch == '\n' {
                            line += 1;
                        }
                        if ch == '{' {
                            level += 1;
                            i += 1;
                        } else if ch == '}' {
                            level -= 1;
                            i += 1;
                        } else if ch == ',' && level == 1 {
                            groups.push(std::mem::take(&mut elem));
                            expect_seg = true;
                            i += 1;
                        } else if level == 1 && expect_seg && ident_char(ch) {
                            elem.push(read_ident(&mut i));
                            expect_seg = at_sep(i);
                            if expect_seg {
                                i += 2;
                            }
                        } else {
                            i += 1;
                        }
                    }
                    groups.push(elem);
                    break;
                }
                let seg = read_ident(&mut i);
                if seg.is_empty() {
                    break;
                }
                if seg == "super" && segs.is_empty() {
                    base.pop();
                } else {
                    segs.push(seg);
                }
            }
            let mut prefix = base;
            prefix.extend(segs);
            let targets = if groups.is_empty() {
                vec![prefix]
            } else {
                groups
                    .into_iter()
                    .filter(|g| !g.is_empty())
                    .map(|g| {
                        let mut t = prefix.clone();
                        t.extend(g.into_iter().filter(|s| s != "self"));
                        t
                    })
                    .collect()
            };
            for target in targets {
                out.push(Use {
                    line: start_line,
                    from: here.clone(),
                    target,
                });
            }
        } else {
            i += 1;
        }
    }
    out
}

struct Crate {
    /// (path relative to the crate root, its module path, its uses)
    files: Vec<(String, Vec<Use>)>,
    modules: BTreeSet<Vec<String>>,
}

fn scan() -> Crate {
    let root = root();
    let mut paths = Vec::new();
    paths.extend(support::rust_files(&root.join("src")));
    let mut modules = BTreeSet::new();
    let mut files = Vec::new();
    for p in paths {
        let rel = p.strip_prefix(&root).unwrap().to_path_buf();
        if rel == Path::new("src/main.rs") {
            continue;
        }
        let module = module_of(&rel);
        modules.insert(module.clone());
        let code = code_only(&fs::read_to_string(&p).unwrap());
        let uses = uses_in(&module, &code);
        files.push((rel.display().to_string(), uses));
    }
    Crate { files, modules }
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// Top-level uses that go to the user's own layer or above, as
/// (from module, used module, `file:line: message`).
fn upward_uses(krate: &Crate) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (file, uses) in &krate.files {
        for u in uses {
            let (Some(from), Some(to)) = (u.from.first(), u.target.first()) else {
                continue;
            };
            if from == to || !krate.modules.contains(&vec![to.clone()]) {
                continue;
            }
            let (Some(lf), Some(lt)) = (layer_of(from), layer_of(to)) else {
                continue; // reported by every_module_has_a_layer
            };
            if lt >= lf {
                out.push((
                    from.clone(),
                    to.clone(),
                    format!(
                        "{file}:{}: `{from}` (layer {lf}, {}) uses `{}` (layer {lt}, {})",
                        u.line,
                        LAYERS[lf].0,
                        u.target.join("::"),
                        LAYERS[lt].0
                    ),
                ));
            }
        }
    }
    out
}

/// Uses between sibling submodules: parent -> (from, to) -> first place.
type Edges = BTreeMap<String, BTreeMap<(String, String), String>>;

fn sibling_edges(krate: &Crate) -> Edges {
    let mut edges: Edges = BTreeMap::new();
    for (file, uses) in &krate.files {
        for u in uses {
            let common = u
                .from
                .iter()
                .zip(&u.target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == 0 || common >= u.from.len() || common >= u.target.len() {
                continue; // top level (checked by layer), or parent/child
            }
            let sibling = u.target[..=common].to_vec();
            if !krate.modules.contains(&sibling) {
                continue; // an item of the parent, not a submodule
            }
            let parent = u.from[..common].join("::");
            let a = format!("{parent}::{}", u.from[common]);
            let b = format!("{parent}::{}", u.target[common]);
            edges
                .entry(parent)
                .or_default()
                .entry((a, b))
                .or_insert_with(|| format!("{file}:{}", u.line));
        }
    }
    edges
}

/// Edges that lie on a cycle among siblings, after leaving out the
/// `exempt` ones (Tarjan's strongly connected components): (from, to,
/// `file:line: message`).
fn cycles(edges: &Edges, exempt: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (parent, es) in edges {
        let kept: Vec<(&String, &String, &String)> = es
            .iter()
            .filter(|((a, b), _)| !exempt.contains(&(a.as_str(), b.as_str())))
            .map(|((a, b), w)| (a, b, w))
            .collect();
        let nodes: BTreeSet<&String> = kept.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
        let nodes: Vec<&String> = nodes.into_iter().collect();
        let ix = |n: &String| nodes.iter().position(|m| *m == n).unwrap();
        let mut adj = vec![Vec::new(); nodes.len()];
        for (a, b, _) in &kept {
            adj[ix(a)].push(ix(b));
        }
        let comp = scc(&adj);
        for (a, b, w) in &kept {
            if comp[ix(a)] == comp[ix(b)] {
                out.push((
                    a.to_string(),
                    b.to_string(),
                    format!("{w}: in `{parent}`, `{a}` uses `{b}`, which leads back to it"),
                ));
            }
        }
    }
    out
}

fn scc(adj: &[Vec<usize>]) -> Vec<usize> {
    struct T<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        comp: Vec<usize>,
        next: usize,
        ncomp: usize,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &t.adj[v] {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                t.comp[w] = t.ncomp;
                if w == v {
                    break;
                }
            }
            t.ncomp += 1;
        }
    }
    let n = adj.len();
    let mut t = T {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        comp: vec![0; n],
        next: 0,
        ncomp: 0,
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.comp
}

#[test]
fn every_module_has_a_layer() {
    let krate = scan();
    let top: BTreeSet<&str> = krate
        .modules
        .iter()
        .filter(|m| m.len() == 1)
        .map(|m| m[0].as_str())
        .collect();
    let listed: Vec<&str> = LAYERS
        .iter()
        .flat_map(|(_, ms)| ms.iter().copied())
        .collect();
    let mut problems = Vec::new();
    for m in &top {
        if !listed.contains(m) {
            problems.push(format!(
                "`{m}` is in no layer: add it to LAYERS here and to src/lib.rs"
            ));
        }
    }
    for m in &listed {
        if !top.contains(m) {
            problems.push(format!("LAYERS names `{m}`, which is not a module in src/"));
        }
        if listed.iter().filter(|x| *x == m).count() > 1 {
            problems.push(format!("LAYERS names `{m}` more than once"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_module_uses_a_module_above_it() {
    let krate = scan();
    let bad: Vec<String> = upward_uses(&krate)
        .into_iter()
        .filter(|(from, to, _)| !EXCEPTIONS.contains(&(from.as_str(), to.as_str())))
        .map(|(_, _, m)| m)
        .collect();
    assert!(
        bad.is_empty(),
        "{} upward use(s) (the layer order is in tests/layers.rs and src/lib.rs):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn sibling_submodules_form_no_cycle() {
    let bad: Vec<String> = cycles(&sibling_edges(&scan()), CYCLE_EXCEPTIONS)
        .into_iter()
        .map(|(_, _, m)| m)
        .collect();
    assert!(
        bad.is_empty(),
        "{} use(s) on a cycle:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn exceptions_are_still_needed() {
    let krate = scan();
    let up = upward_uses(&krate);
    let edges = sibling_edges(&krate);
    let mut stale = Vec::new();
    for (from, to) in EXCEPTIONS {
        if !up.iter().any(|(f, t, _)| f == from && t == to) {
            stale.push(format!(
                "EXCEPTIONS: `{from}` no longer uses `{to}`: remove the entry"
            ));
        }
    }
    // A cycle exception is needed while the cycle check, without it, finds
    // that very edge on a cycle.
    for (i, (from, to)) in CYCLE_EXCEPTIONS.iter().enumerate() {
        let mut others = CYCLE_EXCEPTIONS.to_vec();
        others.remove(i);
        let needed = cycles(&edges, &others)
            .iter()
            .any(|(a, b, _)| a == from && b == to);
        if !needed {
            stale.push(format!(
                "CYCLE_EXCEPTIONS: `{from}` -> `{to}` is on no cycle any more: remove the entry"
            ));
        }
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

/// The scanner itself: comments and strings don't count, groups and
/// `super::` resolve.
#[test]
fn the_scanner_reads_paths_not_comments() {
    let src = r##"
//! see [`crate::ui`]
/* crate::tui */ use crate::{app::App, text::{fit, wrap}, layout};
const S: &str = "crate::commands"; const R: &str = r#"crate::setup"#;
const C: char = '{';
fn f<'a>(x: &'a str) -> crate::mail::HeaderSummary { super::sibling::g() }
#[cfg(test)]
mod tests {
    use super::super::other;
}
pub(in crate::worker) fn h() {}
"##;
    let module = vec!["a".to_string(), "b".to_string()];
    let uses = uses_in(&module, &code_only(src));
    let got: Vec<(usize, String)> = uses.iter().map(|u| (u.line, u.target.join("::"))).collect();
    let want: Vec<(usize, String)> = [
        (3, "app::App"),
        (3, "text"),
        (3, "layout"),
        (6, "mail::HeaderSummary"),
        (6, "a::sibling::g"),
        (9, "a::other"),
        (11, "worker"),
    ]
    .into_iter()
    .map(|(l, s)| (l, s.to_string()))
    .collect();
    assert_eq!(got, want);
}
