//! Hostile HTML (the shapes of `tests/support/hostile_html.rs`) through
//! `popview::html` and `popview::mail::view`: every shape ends within the
//! module's bounds, past them as plain text with a notice that says which
//! bound, and the text is still there. Wall-clock time is measured by
//! `cargo bench --bench render -- nesting`; here a generous time budget
//! lets only the counts decide, so the outcome is the same on any machine.

#[path = "support/hostile_html.rs"]
mod hostile_html;

use std::time::Duration;

use hostile_html::Shape;
use popview::html::{self, MAX_DEPTH, MAX_TEXT};

const AMPLE: Duration = Duration::from_secs(600);

fn note_for(shape: Shape) -> Option<&'static str> {
    match shape {
        Shape::Div
        | Shape::List
        | Shape::Table
        | Shape::Blockquote
        | Shape::Unclosed
        | Shape::Formatting => Some("nested more than"),
        Shape::WideTable => Some("elements"),
        Shape::Flat | Shape::DeepText => Some("KB of text"),
        Shape::Attributes => None,
    }
}

#[test]
fn every_worst_shape_is_bounded_and_says_why() {
    // big enough to pass each bound, small enough for a debug build
    for shape in Shape::ALL {
        let Some(why) = note_for(shape) else { continue };
        let size = match shape {
            Shape::Flat | Shape::DeepText => MAX_TEXT + MAX_TEXT / 2,
            _ => 300_000,
        };
        let doc = hostile_html::html(shape, size);
        let r = html::to_text_within(&doc, 100, AMPLE);
        let note = r.note.unwrap_or_default();
        assert!(note.contains(why), "{shape:?}: {note:?}");
        let visible = match shape {
            Shape::Flat | Shape::DeepText => "Some words in a paragraph, and more.",
            Shape::Formatting => "t",
            Shape::WideTable => "c c c",
            _ => "x",
        };
        assert!(r.text.contains(visible), "{shape:?}: the text is lost");
        // the fallback is text, never the markup
        assert!(!r.text.contains("<div"), "{shape:?}");
    }
}

#[test]
fn a_whole_message_of_the_worst_nesting_is_shown_with_a_notice() {
    let raw = hostile_html::message(Shape::Div, 2_000_000);
    let v = popview::mail::view(raw);
    let note = v.parse_note.expect("a notice");
    assert!(
        note.contains(&format!("nested more than {MAX_DEPTH} levels")),
        "{note}"
    );
    assert_eq!(v.body.trim(), "x");
    assert!(v.body_from_html);
}

#[test]
fn ordinary_shapes_under_the_bounds_keep_their_layout() {
    // the same shapes, shallow: html2text lays them out, no notice
    for (doc, want) in [
        (hostile_html::html(Shape::List, 300), "* * * x"),
        (hostile_html::html(Shape::Blockquote, 300), "> > > x"),
        (
            hostile_html::html(Shape::Flat, 5_000),
            "Some words in a paragraph, and more.",
        ),
    ] {
        let r = html::to_text_within(&doc, 100, AMPLE);
        assert_eq!(r.note, None, "{doc}");
        assert!(r.text.contains(want), "{want:?} in {:?}", r.text);
    }
}
