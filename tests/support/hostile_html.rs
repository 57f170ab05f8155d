//! HTML mail made to be expensive to render: the worst nesting shapes
//! (html2text's cost grows with the square of the nesting depth; html5ever's
//! scope checks walk the open-element stack), filled to a given size.
//!
//! std only, so the render bench and the tests can both include it with
//! `#[path]`.
#![allow(dead_code)]

/// One way of nesting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `<div>` × N, then `</div>` × N.
    Div,
    /// `<ul><li>` × N, closed.
    List,
    /// `<table><tr><td>` × N, closed: tables in tables.
    Table,
    /// `<blockquote>` × N, closed (a long reply chain gone wrong).
    Blockquote,
    /// `<div>` × N never closed.
    Unclosed,
    /// `<b class=K>` × N never closed across paragraphs: html5ever
    /// reconstructs every open formatting element at each new paragraph.
    Formatting,
    /// One column per cell: a single table row with N cells.
    WideTable,
    /// Many shallow paragraphs: the size alone, no nesting.
    Flat,
    /// 80 nested `<div>`s (within popview's bound) holding the rest as
    /// paragraphs: every line laid out at every level.
    DeepText,
    /// One element with as many attributes as fit (html5ever checks each
    /// new attribute against all earlier ones).
    Attributes,
}

impl Shape {
    pub const ALL: [Shape; 10] = [
        Shape::Div,
        Shape::List,
        Shape::Table,
        Shape::Blockquote,
        Shape::Unclosed,
        Shape::Formatting,
        Shape::WideTable,
        Shape::Flat,
        Shape::DeepText,
        Shape::Attributes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Div => "div",
            Shape::List => "ul-li",
            Shape::Table => "table",
            Shape::Blockquote => "blockquote",
            Shape::Unclosed => "unclosed div",
            Shape::Formatting => "formatting",
            Shape::WideTable => "wide table",
            Shape::Flat => "flat",
            Shape::DeepText => "deep text",
            Shape::Attributes => "attributes",
        }
    }

    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Shape::Div => ("<div>", "x", "</div>"),
            Shape::List => ("<ul><li>", "x", "</li></ul>"),
            Shape::Table => ("<table><tr><td>", "x", "</td></tr></table>"),
            Shape::Blockquote => ("<blockquote>", "x", "</blockquote>"),
            Shape::Unclosed => ("<div>", "x", ""),
            Shape::Formatting => ("<p><b class=k>t", "x", ""),
            Shape::WideTable => ("<td>c", "", ""),
            Shape::Flat | Shape::DeepText => {
                ("<p>Some words in a paragraph, ", "", "and more.</p>\n")
            }
            Shape::Attributes => ("", "", ""),
        }
    }
}

/// An HTML body of about `bytes` bytes nested in the given shape (each level
/// opens and, where the shape closes, closes once).
pub fn html(shape: Shape, bytes: usize) -> String {
    let (open, mid, close) = shape.parts();
    let mut s = String::with_capacity(bytes + 64);
    s.push_str("<html><body>");
    if shape == Shape::WideTable {
        s.push_str("<table><tr>");
    }
    if shape == Shape::DeepText {
        s.push_str(&"<div>".repeat(80));
    }
    if shape == Shape::Attributes {
        s.push_str("<div");
        let mut i = 0u64;
        while s.len() < bytes.saturating_sub(32) {
            s.push_str(&format!(" a{i}"));
            i += 1;
        }
        s.push_str(">x</div>");
    } else if matches!(shape, Shape::Flat | Shape::DeepText) {
        while s.len() + open.len() + close.len() < bytes {
            s.push_str(open);
            s.push_str(close);
        }
    } else {
        let per = open.len() + close.len();
        let n = bytes.saturating_sub(s.len() + mid.len() + 32) / per.max(1);
        if shape == Shape::Formatting {
            // a different attribute each time defeats the "Noah's Ark"
            // limit of three identical formatting elements
            for i in 0..n {
                s.push_str(&format!("<p><b class=k{i}>t"));
                if s.len() >= bytes.saturating_sub(32) {
                    break;
                }
            }
        } else {
            for _ in 0..n {
                s.push_str(open);
            }
            s.push_str(mid);
            for _ in 0..n {
                s.push_str(close);
            }
        }
    }
    s.push_str("</body></html>\n");
    s
}

/// A whole message (headers, then the HTML as its only part) of about
/// `bytes` bytes.
pub fn message(shape: Shape, bytes: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Nested <nested@example.org>\r\nTo: you@example.org\r\n\
         Subject: {} nesting\r\nDate: Tue, 12 Mar 2024 14:05:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        shape.name()
    )
    .into_bytes();
    m.extend_from_slice(html(shape, bytes.saturating_sub(m.len())).as_bytes());
    m
}
