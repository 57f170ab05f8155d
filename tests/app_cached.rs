//! The cached list on the app state, pure: drawn before the session lists,
//! marked as cached in the header, not counted as a listing the UI has
//! seen, then replaced by the session's listing with one note of what
//! changed since last time.

#[path = "support/app.rs"]
mod app_support;

use app_support::{NOW, k, key_of, listing, requests};
use popview::app::{App, AppEvent, AppOptions};
use popview::mail::HeaderSummary;
use popview::worker::api::{Event, ListEntry, Request};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn cached(ns: &[(u32, u64)]) -> AppEvent {
    AppEvent::Worker(Event::CachedListing(
        ns.iter()
            .map(|&(n, size)| ListEntry {
                key: key_of(n),
                size,
            })
            .collect(),
    ))
}

fn screen(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(100, 12)).unwrap();
    t.draw(|f| popview::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn started() -> App {
    let mut app = App::new(AppOptions {
        big_message_threshold: u64::MAX,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(100, 12));
    app
}

#[test]
fn the_cached_list_is_drawn_as_cached_and_not_counted_as_seen() {
    let mut app = started();
    let effects = app.handle(cached(&[(1, 100), (2, 200), (3, 300)]));
    assert!(
        !requests(effects).contains(&Request::ListingSeen),
        "a cached list is no session's listing"
    );
    app.handle(AppEvent::Worker(Event::Previews(vec![(
        key_of(2),
        HeaderSummary {
            subject: "kept from last time".into(),
            ..Default::default()
        },
    )])));
    app.handle(AppEvent::Worker(Event::Connecting {
        server: "pop.example.org:995".into(),
        attempt: 1,
    }));
    assert!(app.list_is_cached());
    assert_eq!(app.rows().len(), 3);
    let s = screen(&app);
    assert!(s.contains("cached · connecting"), "{s}");
    assert!(s.contains("kept from last time"), "{s}");
}

#[test]
fn the_sessions_listing_replaces_it_and_says_once_what_changed() {
    let mut app = started();
    app.handle(cached(&[(1, 100), (2, 200), (3, 300)]));
    app.handle(AppEvent::Worker(Event::Previews(vec![(
        key_of(3),
        HeaderSummary {
            subject: "third".into(),
            ..Default::default()
        },
    )])));
    // Message 1 left the server; 4 arrived; 3 is listed with another size
    // (another message under a reused UID: its old preview is dropped).
    let effects = app.handle(listing(&[(2, 200), (3, 999), (4, 400)]));
    assert!(requests(effects).contains(&Request::ListingSeen));
    assert!(!app.list_is_cached());
    assert_eq!(app.rows().len(), 3);
    let notice = app.notice().map(str::to_string).unwrap_or_default();
    assert_eq!(
        notice,
        "since last time: 1 new message, 1 gone from the server"
    );
    let s = screen(&app);
    assert!(!s.contains("cached"), "{s}");
    assert!(!s.contains("third"), "a preview of another message: {s}");
    // A later listing (new mail) says only what is new.
    app.handle(listing(&[(2, 200), (3, 999), (4, 400), (5, 500)]));
    assert_eq!(app.notice(), Some("1 new message"));
}

#[test]
fn a_cached_list_after_a_real_one_is_ignored() {
    let mut app = started();
    app.handle(listing(&[(1, 100)]));
    app.handle(cached(&[(1, 100), (2, 200)]));
    assert_eq!(app.rows().len(), 1);
    assert!(!app.list_is_cached());
    // Keys typed on it still act on the session's rows.
    assert_eq!(requests(app.handle(k('d'))), vec![Request::Mark(key_of(1))]);
}
