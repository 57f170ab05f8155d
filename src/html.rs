//! PURE: an HTML part as readable text, in bounded time and memory
//! (SECURITY-CASES F34).
//!
//! html2text (over html5ever) is a good renderer with costs that grow with
//! the square of the nesting depth (each level re-lays out what it holds;
//! html5ever's scope checks walk the whole stack of open elements), with
//! the number of table cells, and with misnested formatting elements (which
//! html5ever reopens at every paragraph). A few hundred KB of nested `<div>`s
//! took minutes and more than a gigabyte. So [`to_text`] parses with
//! html5ever itself, fed in small slices into a sink that counts what is
//! built ([`Budget`]), and only hands the tree to html2text when it is
//! within every bound:
//!
//! - at most [`MAX_DEPTH`] nested elements and [`MAX_ELEMENTS`] elements,
//!   of which at most [`MAX_CELLS`] table cells, and [`MAX_TEXT`] bytes of
//!   text;
//! - the parse stops as soon as a bound is passed, or after
//!   [`PARSE_BUDGET`] of work (a safety net for costs no count sees).
//!
//! Past a bound, [`strip_tags`] gives the text in one linear pass (block
//! elements become line breaks, entities are decoded) and the result says
//! why in its note. Either way the caller sanitizes the text.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{Duration, Instant};

use html2text::{Handle, RcDom};
use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{Attribute, ExpandedName, QualName};

/// Most elements nested in one another that html2text is given.
pub const MAX_DEPTH: usize = 96;
/// Most elements in one part that html2text is given.
pub const MAX_ELEMENTS: usize = 40_000;
/// Most table cells (html2text lays out every cell of a table at each
/// candidate width).
pub const MAX_CELLS: usize = 8_000;
/// Most bytes of text that html2text is given.
pub const MAX_TEXT: usize = 1 << 20;
/// Most wall-clock time the parse may take before the plain-text fallback
/// is used instead. Only a safety net: the counts above stop every known
/// expensive shape long before.
pub const PARSE_BUDGET: Duration = Duration::from_millis(400);
/// The parser is fed this many bytes at a time, so a bound is noticed soon
/// after it is passed.
const SLICE: usize = 1024;

/// An HTML part made readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The text, not yet sanitized.
    pub text: String,
    /// Set when the fallback was used: why, for the reader's notice.
    pub note: Option<String>,
}

/// The HTML `html` as text wrapped at `width` columns, within the bounds
/// of this module; never fails.
pub fn to_text(html: &str, width: usize) -> Rendered {
    to_text_within(html, width, PARSE_BUDGET)
}

/// [`to_text`] with another time budget for the parse (tests give a
/// generous one, so that only the counts decide).
pub fn to_text_within(html: &str, width: usize, budget: Duration) -> Rendered {
    let fallback = |why: String| Rendered {
        text: strip_tags(html),
        note: Some(format!(
            "This HTML part {why}, so it is shown as plain text without its layout."
        )),
    };
    let dom = match parse(html, budget) {
        Ok(dom) => dom,
        Err(over) => return fallback(over.to_string()),
    };
    if let Err(over) = measure(&dom) {
        return fallback(over.to_string());
    }
    let config = html2text::config::plain().allow_width_overflow();
    let rendered = config
        .dom_to_render_tree(&dom)
        .and_then(|tree| config.render_to_string(tree, width));
    match rendered {
        Ok(text) => Rendered { text, note: None },
        Err(e) => fallback(format!("could not be laid out ({e})")),
    }
}

/// Which bound a part passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    Depth,
    Elements,
    Cells,
    Text,
    Time,
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Depth => write!(f, "is nested more than {MAX_DEPTH} levels deep"),
            Over::Elements => write!(f, "has more than {MAX_ELEMENTS} elements"),
            Over::Cells => write!(f, "has more than {MAX_CELLS} table cells"),
            Over::Text => write!(f, "holds more than {} KB of text", MAX_TEXT / 1024),
            Over::Time => write!(
                f,
                "took longer than {} ms to read",
                PARSE_BUDGET.as_millis()
            ),
        }
    }
}

/// Parses `html` in slices, stopping at the first bound passed or when
/// `budget` is spent.
pub fn parse(html: &str, budget: Duration) -> Result<RcDom, Over> {
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut parser = html5ever::parse_document(Budget::default(), opts);
    let start = Instant::now();
    let mut rest = html;
    while !rest.is_empty() {
        let mut cut = SLICE.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (slice, tail) = rest.split_at(cut);
        rest = tail;
        parser.process(StrTendril::from_slice(slice));
        if let Some(over) = parser.tokenizer.sink.sink.over.get() {
            return Err(over);
        }
        if start.elapsed() > budget {
            return Err(Over::Time);
        }
    }
    let budget = parser.finish();
    match budget.over.get() {
        Some(over) => Err(over),
        None => Ok(budget.dom),
    }
}

/// The tree as built, measured in one walk (appends can move whole
/// subtrees, so the depth checked while parsing is only an early warning).
/// Text is counted while parsing: a text node is never copied.
fn measure(dom: &RcDom) -> Result<(), Over> {
    let (mut elements, mut cells) = (0usize, 0usize);
    let mut stack: Vec<(Handle, usize)> = vec![(dom.document.clone(), 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Over::Depth);
        }
        if let html2text::Element { name, .. } = &node.data {
            elements += 1;
            if matches!(&*name.local, "td" | "th") {
                cells += 1;
            }
        }
        if elements > MAX_ELEMENTS {
            return Err(Over::Elements);
        }
        if cells > MAX_CELLS {
            return Err(Over::Cells);
        }
        for child in node.children.borrow().iter() {
            stack.push((child.clone(), depth + 1));
        }
    }
    Ok(())
}

/// The sink html5ever builds into: html2text's DOM, plus counts that stop
/// the parse early. Parse errors are not kept (a hostile part has millions).
#[derive(Default)]
pub struct Budget {
    dom: RcDom,
    elements: Cell<usize>,
    text: Cell<usize>,
    over: Cell<Option<Over>>,
}

impl Budget {
    fn flag(&self, over: Over) {
        if self.over.get().is_none() {
            self.over.set(Some(over));
        }
    }

    /// Checks the depth a node gets under `parent` (counted up to one past
    /// the bound, so a check costs at most that many steps).
    fn check_depth_under(&self, parent: &Handle) {
        let mut depth = 1;
        let mut node = parent.clone();
        loop {
            let up = node.parent.take();
            node.parent.set(up.clone());
            match up.and_then(|w| w.upgrade()) {
                Some(p) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        self.flag(Over::Depth);
                        return;
                    }
                    node = p;
                }
                None => return,
            }
        }
    }

    fn check(&self, parent: &Handle, child: &NodeOrText<Handle>) {
        match child {
            NodeOrText::AppendNode(_) => self.check_depth_under(parent),
            NodeOrText::AppendText(t) => {
                let n = self.text.get() + t.len();
                self.text.set(n);
                if n > MAX_TEXT {
                    self.flag(Over::Text);
                }
            }
        }
    }
}

impl TreeSink for Budget {
    type Handle = Handle;
    type Output = Self;
    type ElemName<'a> = ExpandedName<'a>;

    fn finish(self) -> Self {
        self
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> Handle {
        self.dom.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> ExpandedName<'a> {
        self.dom.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        let n = self.elements.get() + 1;
        self.elements.set(n);
        if n > MAX_ELEMENTS {
            self.flag(Over::Elements);
        }
        self.dom.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> Handle {
        self.dom.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.dom.create_pi(target, data)
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        self.check(parent, &child);
        self.dom.append(parent, child)
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        self.check(prev_element, &child);
        self.dom
            .append_based_on_parent_node(element, prev_element, child)
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.dom
            .append_doctype_to_document(name, public_id, system_id)
    }

    fn mark_script_already_started(&self, node: &Handle) {
        self.dom.mark_script_already_started(node)
    }

    fn pop(&self, node: &Handle) {
        self.dom.pop(node)
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        self.dom.get_template_contents(target)
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.dom.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.dom.set_quirks_mode(mode)
    }

    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        self.check(sibling, &new_node);
        self.dom.append_before_sibling(sibling, new_node)
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.dom.add_attrs_if_missing(target, attrs)
    }

    fn associate_with_form(
        &self,
        target: &Handle,
        form: &Handle,
        nodes: (&Handle, Option<&Handle>),
    ) {
        self.dom.associate_with_form(target, form, nodes)
    }

    fn remove_from_parent(&self, target: &Handle) {
        self.dom.remove_from_parent(target)
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        self.check_depth_under(new_parent);
        self.dom.reparent_children(node, new_parent)
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.dom.is_mathml_annotation_xml_integration_point(handle)
    }
}

/// Elements that start a new line in [`strip_tags`].
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Elements whose content is not text to read.
const HIDDEN: &[&str] = &["head", "template"];

/// HTML as plain text in one pass with constant work per byte (the
/// fallback of [`to_text`]): tags go, block elements end a line, `<li>`
/// gets a `* `, cells are separated by a space, the content of `<script>`,
/// `<style>` and `<head>` goes, comments go, character references are
/// decoded, and runs of white space collapse (except in `<pre>`), with at
/// most one empty line in a row.
pub fn strip_tags(html: &str) -> String {
    let mut out = Plain::default();
    let b = html.as_bytes();
    let mut i = 0;
    let mut hidden: Option<&str> = None;
    let mut pre = 0usize;
    while i < b.len() {
        let starts_tag = b[i] == b'<'
            && b.get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'));
        if starts_tag {
            if b[i..].starts_with(b"<!--") {
                i = find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
                continue;
            }
            let end = tag_end(b, i + 1);
            let tag = &html[i + 1..end.min(b.len())];
            i = (end + 1).min(b.len());
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect::<String>()
                .to_ascii_lowercase();
            if let Some(h) = hidden {
                // a head left open ends where the body starts
                if (closing && name == h) || (h == "head" && !closing && name == "body") {
                    hidden = None;
                }
                continue;
            }
            if name.is_empty() {
                continue;
            }
            if !closing && matches!(name.as_str(), "script" | "style") {
                // raw text: no tags inside, up to the matching end tag
                i = raw_text_end(b, i, name.as_bytes());
                continue;
            }
            if !closing && let Some(h) = HIDDEN.iter().find(|h| **h == name) {
                hidden = Some(h);
                continue;
            }
            match name.as_str() {
                "pre" if closing => pre = pre.saturating_sub(1),
                "pre" => pre += 1,
                _ => {}
            }
            if name == "td" || name == "th" {
                out.space();
            } else if BLOCKS.contains(&name.as_str()) {
                out.newline(matches!(
                    name.as_str(),
                    "p" | "table" | "blockquote" | "pre"
                ));
                if name == "li" && !closing {
                    out.push_str("* ");
                }
            }
            continue;
        }
        if hidden.is_some() {
            i += 1;
            continue;
        }
        if b[i] == b'&' {
            let (decoded, used) = entity(&html[i..]);
            if used > 0 {
                out.text(decoded, pre > 0);
                i += used;
                continue;
            }
        }
        let next = html[i..]
            .find(['<', '&'])
            .map_or(html.len(), |n| i + n.max(1));
        for c in html[i..next].chars() {
            out.text(c, pre > 0);
        }
        i = next;
    }
    out.finish()
}

/// Where a tag that starts at `from` (just after `<`) ends: the next `>`
/// outside a quoted attribute value, or the end of the input.
fn tag_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    let mut quote: Option<u8> = None;
    let mut after_eq = false;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'>' => return i,
            None if after_eq && (c == b'"' || c == b'\'') => quote = Some(c),
            None => {}
        }
        if quote.is_none() && !c.is_ascii_whitespace() {
            after_eq = c == b'=';
        }
        i += 1;
    }
    b.len()
}

/// Just past the end tag `</name ...>` that closes a raw-text element whose
/// content starts at `from` (ASCII case-insensitive), or the end.
fn raw_text_end(b: &[u8], from: usize, name: &[u8]) -> usize {
    let mut at = from;
    while let Some(p) = memchr::memchr(b'<', b.get(at..).unwrap_or_default()) {
        let start = at + p;
        let tail = &b[start..];
        if tail.len() > name.len() + 1
            && tail[1] == b'/'
            && tail[2..2 + name.len()].eq_ignore_ascii_case(name)
        {
            return (tag_end(b, start + 1) + 1).min(b.len());
        }
        at = start + 1;
    }
    b.len()
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| from + p)
}

/// A character reference at the start of `s` (`&amp;`, `&#233;`, `&#xE9;`):
/// the character and the bytes used, or `(_, 0)` when there is none.
fn entity(s: &str) -> (char, usize) {
    let body: String = s[1..]
        .chars()
        .take(12)
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .collect();
    let used = 1 + body.len() + usize::from(s[1 + body.len()..].starts_with(';'));
    let c = if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        n.map(|n| char::from_u32(n).unwrap_or('\u{FFFD}'))
    } else {
        match body.as_str() {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "shy" => Some('\u{AD}'),
            "copy" => Some('©'),
            "reg" => Some('®'),
            "trade" => Some('™'),
            "hellip" => Some('…'),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "lsquo" => Some('‘'),
            "rsquo" => Some('’'),
            "ldquo" => Some('“'),
            "rdquo" => Some('”'),
            "bull" => Some('•'),
            "euro" => Some('€'),
            _ => None,
        }
    };
    match c {
        Some(c) => (c, used),
        None => ('&', 0),
    }
}

/// The text being built by [`strip_tags`].
#[derive(Default)]
struct Plain {
    out: String,
    /// A space is owed before the next visible character.
    space: bool,
    /// Line breaks at the end of `out` (capped at 2: one empty line).
    breaks: usize,
}

impl Plain {
    fn text(&mut self, c: char, pre: bool) {
        if pre {
            if c == '\n' {
                self.newline(false);
            } else {
                self.put(c);
            }
        } else if c.is_whitespace() {
            self.space();
        } else {
            self.put(c);
        }
    }

    fn put(&mut self, c: char) {
        if self.space && self.breaks == 0 && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.space = false;
        self.breaks = 0;
        self.out.push(c);
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn space(&mut self) {
        self.space = true;
    }

    /// Ends the line; `blank` leaves an empty line too.
    fn newline(&mut self, blank: bool) {
        self.space = false;
        if self.out.is_empty() {
            return;
        }
        let want = if blank { 2 } else { 1 };
        while self.breaks < want {
            self.out.push('\n');
            self.breaks += 1;
        }
    }

    fn finish(mut self) -> String {
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMPLE: Duration = Duration::from_secs(600);

    #[test]
    fn ordinary_html_is_laid_out_by_html2text() {
        let r = to_text_within(
            "<p>Hello <b>world</b></p><ul><li>one</li><li>two</li></ul>\
             <table><tr><td>a</td><td>b</td></tr></table>",
            80,
            AMPLE,
        );
        assert_eq!(r.note, None);
        assert!(r.text.contains("Hello **world**"), "{}", r.text);
        assert!(
            r.text.contains("* one") && r.text.contains("* two"),
            "{}",
            r.text
        );
    }

    #[test]
    fn each_bound_falls_back_to_plain_text_with_a_note() {
        let deep = format!(
            "{}deep{}",
            "<div>".repeat(MAX_DEPTH + 5),
            "</div>".repeat(MAX_DEPTH + 5)
        );
        let many = "<span>s</span>".repeat(MAX_ELEMENTS + 1);
        let cells = format!("<table><tr>{}</tr></table>", "<td>c".repeat(MAX_CELLS + 1));
        let text = format!("<p>{}</p>", "word ".repeat(MAX_TEXT / 5 + 1));
        for (html, over, inside) in [
            (deep, Over::Depth, "deep"),
            (many, Over::Elements, "sss"),
            (cells, Over::Cells, "c c c"),
            (text, Over::Text, "word word"),
        ] {
            let r = to_text_within(&html, 80, AMPLE);
            assert_eq!(
                r.note,
                Some(format!(
                    "This HTML part {over}, so it is shown as plain text without its layout."
                ))
            );
            assert!(
                r.text.contains(inside),
                "{over:?}: {:?}",
                &r.text[..r.text.len().min(80)]
            );
        }
    }

    #[test]
    fn one_level_under_the_depth_bound_is_still_laid_out() {
        // html, body, then the divs: the text node sits at MAX_DEPTH
        let n = MAX_DEPTH - 3;
        let html = format!("{}inside{}", "<div>".repeat(n), "</div>".repeat(n));
        let r = to_text_within(&html, 80, AMPLE);
        assert_eq!(r.note, None);
        assert!(r.text.contains("inside"));
        let n = MAX_DEPTH - 2;
        let html = format!("{}inside{}", "<div>".repeat(n), "</div>".repeat(n));
        assert!(to_text_within(&html, 80, AMPLE).note.is_some());
    }

    #[test]
    fn misnested_formatting_is_stopped_by_the_depth_it_builds() {
        // html5ever reopens every unclosed <b> at each new paragraph
        let html: String = (0..2_000).map(|i| format!("<p><b class=k{i}>t")).collect();
        let r = to_text_within(&html, 80, AMPLE);
        assert_eq!(
            r.note.as_deref().map(|n| n.contains("nested more than")),
            Some(true),
            "{:?}",
            r.note
        );
    }

    #[test]
    fn the_time_budget_is_a_bound_too() {
        let html = "<p>x</p>".repeat(4096);
        let r = to_text_within(&html, 80, Duration::ZERO);
        assert_eq!(
            r.note.as_deref().map(|n| n.contains("took longer than")),
            Some(true)
        );
        assert!(r.text.starts_with("x\n\nx"), "{:?}", &r.text[..20]);
    }

    #[test]
    fn strip_tags_table() {
        let cases: &[(&str, &str)] = &[
            ("<p>a</p><p>b</p>", "a\n\nb\n"),
            ("a<br>b<br/>c", "a\nb\nc\n"),
            ("<ul><li>one<li>two</ul>", "* one\n* two\n"),
            ("<table><tr><td>a<td>b<tr><td>c</table>", "a b\nc\n"),
            (
                "x &amp; y &lt;z&gt; &#233;&#xE9; &bogus; &",
                "x & y <z> éé &bogus; &\n",
            ),
            (
                "<head><title>t</title><style>p{}</style></head>body",
                "body\n",
            ),
            ("<head><title>t</title><body>open head", "open head\n"),
            ("<script>if (a<b) {}</script>after", "after\n"),
            ("a <!-- <p>hidden</p> --> b", "a b\n"),
            ("a < b and c > d", "a < b and c > d\n"),
            ("<a href=\"x>y\" title='>'>link</a>", "link\n"),
            ("<pre>  two\n  lines</pre>", "  two\n  lines\n"),
            ("  lots   of\n\n  space ", "lots of space\n"),
            ("<div><div><div>deep</div></div></div>", "deep\n"),
            ("unclosed <b attr=\"never", "unclosed\n"),
        ];
        for (html, want) in cases {
            assert_eq!(&strip_tags(html), want, "{html:?}");
        }
    }
}
