//! Pure tests of the app state: feed events, assert the state and the exact
//! effects `handle` returns (mostly the requests to the worker). No
//! terminal, no threads.

#[path = "support/app.rs"]
mod app_support;
use app_support::{NOW, Requests, code, k, key_of, listing};

use std::collections::BTreeMap;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use popview::action::Action;
use popview::app::format::human_size;
use popview::app::{
    Answer, App, AppEvent, AppOptions, ConnState, Content, Dialog, Effect, MarkState, SaveJob,
    Screen, SortKey,
};
use popview::keymap::Keymap;
use popview::mail::{HeaderSummary, MailDate, MessageView};
use popview::pop3::ErrorKind;
use popview::worker::api::{
    ConnectionInfo, Event, ListEntry, MsgKey, Request, TlsState, WorkerError,
};

/// `U` then Enter (an empty pattern): undo every mark, as mutt's `U` does
/// with `~A`; the requests of the Enter.
fn undo_all(app: &mut App) -> Vec<Request> {
    assert_eq!(app.handle(k('U')).requests(), vec![]);
    app.handle(code(KeyCode::Enter)).requests()
}

/// The files an event's effects ask to write.
fn saves(effects: Vec<Effect>) -> Vec<SaveJob> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Save(job) => Some(job),
            _ => None,
        })
        .collect()
}

fn summary(name: &str, subject: &str, unix: i64) -> HeaderSummary {
    HeaderSummary {
        from_name: name.to_string(),
        from_addr: format!("{}@example.org", name.to_lowercase()),
        subject: subject.to_string(),
        date: Some(MailDate {
            unix,
            tz_offset_minutes: 0,
        }),
        ..Default::default()
    }
}

fn app() -> App {
    let mut app = App::new(AppOptions {
        account_label: "alice".into(),
        big_message_threshold: 1_000_000,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(100, 30)).requests();
    app
}

/// An app with messages 1..=n (sizes 1000*n) and previews for all.
fn loaded(n: u32) -> App {
    let mut app = app();
    let entries: Vec<_> = (1..=n).map(|i| (i, 1000 * u64::from(i))).collect();
    app.handle(listing(&entries)).requests();
    let names = ["Alice", "Bob", "Carol", "Dave", "Eve"];
    let batch = (1..=n)
        .map(|i| {
            let name = names[(i as usize) % names.len()];
            (
                key_of(i),
                summary(name, &format!("subject {i}"), NOW - 3600 * i64::from(i)),
            )
        })
        .collect();
    app.handle(AppEvent::Worker(Event::Previews(batch)))
        .requests();
    app.handle(AppEvent::Tick).requests();
    app
}

fn view(v: MessageView) -> Box<MessageView> {
    Box::new(v)
}

#[test]
fn listing_then_previews_and_visible_rows() {
    let mut app = app();
    let reqs = app
        .handle(listing(&[(1, 100), (2, 200), (3, 300)]))
        .requests();
    // The worker hears the listing was taken in (keys sent from now on are
    // this listing's); newest first, the on-screen rows requested first.
    assert_eq!(
        reqs,
        vec![
            Request::ListingSeen,
            Request::Visible(vec![key_of(3), key_of(2), key_of(1)])
        ]
    );
    assert_eq!(app.view_keys(), vec![key_of(3), key_of(2), key_of(1)]);
    assert_eq!(app.cursor_key(), Some(&key_of(3)));
    assert!(app.rows().iter().all(|r| r.info.is_none()));

    let reqs = app
        .handle(AppEvent::Worker(Event::Previews(vec![(
            key_of(2),
            summary("Bob", "hello", NOW),
        )])))
        .requests();
    assert_eq!(reqs, vec![]);
    let row = app.row(&key_of(2)).unwrap();
    assert_eq!(row.info.as_ref().unwrap().subject, "hello");
    assert_eq!(app.previews_loaded(), 1);
    assert!(app.row(&key_of(1)).unwrap().info.is_none());

    app.handle(progress(1, 3)).requests();
    assert_eq!(
        app.conn_state(),
        &ConnState::LoadingPreviews { done: 1, total: 3 }
    );
    app.handle(progress(3, 3)).requests();
    assert_eq!(app.conn_state(), &ConnState::Idle);
}

/// The header never says `idle` over rows whose previews are still to
/// come: from the login to the previews' first progress it says
/// `listing…`, and a reconnect's notice leaves the progress as it is.
#[test]
fn the_header_says_listing_until_the_previews_progress() {
    let mut app = app();
    app.handle(AppEvent::Worker(Event::Connected(Box::new(connection()))))
        .requests();
    assert_eq!(app.conn_state(), &ConnState::Listing);
    app.handle(listing(&[(1, 100), (2, 200)])).requests();
    assert_eq!(app.conn_state(), &ConnState::Listing);
    app.handle(progress(0, 2)).requests();
    assert_eq!(
        app.conn_state(),
        &ConnState::LoadingPreviews { done: 0, total: 2 }
    );
    app.handle(AppEvent::Worker(Event::Reconnected { marks_reapplied: 0 }))
        .requests();
    assert_eq!(
        app.conn_state(),
        &ConnState::LoadingPreviews { done: 0, total: 2 }
    );
    app.handle(progress(2, 2)).requests();
    assert_eq!(app.conn_state(), &ConnState::Idle);
}

#[test]
fn visible_is_sent_only_when_the_set_changes() {
    let mut app = loaded(100);
    let h = app.list_height();
    assert_eq!(h, 26);
    // Moving inside the page: same rows, nothing sent.
    assert_eq!(app.handle(k('j')).requests(), vec![]);
    assert_eq!(app.handle(k('k')).requests(), vec![]);
    // A page down shows other rows.
    let reqs = app.handle(code(KeyCode::PageDown)).requests();
    let keys = app.view_keys();
    let off = app.offset();
    assert_eq!(reqs, vec![Request::Visible(keys[off..off + h].to_vec())]);
    assert_eq!(app.cursor(), h);
    // G: last page.
    let reqs = app.handle(k('G')).requests();
    assert_eq!(app.cursor(), 99);
    assert_eq!(reqs, vec![Request::Visible(keys[100 - h..].to_vec())]);
    assert_eq!(app.handle(k('G')).requests(), vec![]);
}

#[test]
fn mark_unmark_and_unmark_all_send_the_right_requests() {
    let mut app = loaded(3);
    let first = app.cursor_key().cloned().unwrap();
    assert_eq!(
        app.handle(k('d')).requests(),
        vec![Request::Mark(first.clone())]
    );
    assert_eq!(app.mark_state(&first), Some(MarkState::Marking));
    assert_eq!(app.marked_count(), 1);
    // mutt habit: the cursor moves on after d.
    assert_eq!(app.cursor(), 1);
    // The worker confirms.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![first.clone()],
        restored: false,
        settled: 1,
    }))
    .requests();
    assert_eq!(app.mark_state(&first), Some(MarkState::Marked));

    app.handle(k('k')).requests();
    assert_eq!(
        app.handle(k('u')).requests(),
        vec![Request::Unmark(first.clone())]
    );
    assert_eq!(app.mark_state(&first), Some(MarkState::Unmarking));
    assert_eq!(app.marked_count(), 0);
    // u moves on too, like d (mutt).
    assert_eq!(app.cursor(), 1);
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![],
        restored: false,
        settled: 2,
    }))
    .requests();
    assert_eq!(app.mark_state(&first), Some(MarkState::None));
    // u on an unmarked row sends nothing, and still moves on.
    assert_eq!(app.handle(k('u')).requests(), vec![]);
    assert_eq!(app.cursor(), 2);

    app.handle(k('g')).requests();
    let a = app.view_keys();
    assert_eq!(
        app.handle(k('d')).requests(),
        vec![Request::Mark(a[0].clone())]
    );
    assert_eq!(
        app.handle(k('d')).requests(),
        vec![Request::Mark(a[1].clone())]
    );
    assert_eq!(undo_all(&mut app), vec![], "two marks: asks first");
    assert_eq!(app.handle(k('y')).requests(), vec![Request::UnmarkAll]);
    assert_eq!(app.marked_count(), 0);
    // Worker reports in order: after Mark, Mark, UnmarkAll.
    for (marked, settled) in [(vec![a[0].clone()], 3), (a[..2].to_vec(), 4), (vec![], 5)] {
        app.handle(AppEvent::Worker(Event::Marks {
            marked,
            restored: false,
            settled,
        }))
        .requests();
    }
    assert!(app.rows().iter().all(|r| r.mark_state() == MarkState::None));
    assert_eq!(undo_all(&mut app), vec![]);
}

#[test]
fn marks_converge_to_the_worker() {
    let mut app = loaded(3);
    let first = app.cursor_key().cloned().unwrap();
    app.handle(k('d')).requests();
    // The worker says nothing is marked (the DELE failed): the optimistic
    // mark goes away.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![],
        restored: false,
        settled: 1,
    }))
    .requests();
    assert_eq!(app.mark_state(&first), Some(MarkState::None));
    // Restored marks from disk show up and are announced.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key_of(2)],
        restored: true,
        settled: 1,
    }))
    .requests();
    assert_eq!(app.mark_state(&key_of(2)), Some(MarkState::Marked));
    assert!(app.notice().unwrap().contains("restored"));
}

/// The worker reports the marks on its own too (a new session re-applies
/// them, a reconnect replays them). Such a report says how many of the
/// user's writes it includes, so a write still queued behind it stays
/// pending instead of flickering back to the old state.
#[test]
fn a_report_before_a_write_is_settled_keeps_that_write_pending() {
    let mut app = loaded(4);
    let keys = app.view_keys();
    app.handle(k('d')).requests(); // write 1: mark keys[0]
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![keys[0].clone()],
        restored: false,
        settled: 1,
    }))
    .requests();
    app.handle(k('d')).requests(); // write 2: mark keys[1]
    app.handle(k('k')).requests();
    app.handle(k('k')).requests();
    app.handle(k('u')).requests(); // write 3: unmark keys[0]
    assert_eq!(app.mark_state(&keys[0]), Some(MarkState::Unmarking));
    assert_eq!(app.mark_state(&keys[1]), Some(MarkState::Marking));
    // A reconnect replays what it had settled so far: write 1 only.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![keys[0].clone()],
        restored: false,
        settled: 1,
    }))
    .requests();
    assert_eq!(app.mark_state(&keys[0]), Some(MarkState::Unmarking));
    assert_eq!(app.mark_state(&keys[1]), Some(MarkState::Marking));
    assert_eq!(app.marked_count(), 1);
    // Write 2 settles; write 3 is still queued.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![keys[0].clone(), keys[1].clone()],
        restored: false,
        settled: 2,
    }))
    .requests();
    assert_eq!(app.mark_state(&keys[1]), Some(MarkState::Marked));
    assert_eq!(app.mark_state(&keys[0]), Some(MarkState::Unmarking));
    // Write 3 settles.
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![keys[1].clone()],
        restored: false,
        settled: 3,
    }))
    .requests();
    assert_eq!(app.mark_state(&keys[0]), Some(MarkState::None));
    assert_eq!(app.mark_state(&keys[1]), Some(MarkState::Marked));
    assert_eq!(app.marked_count(), 1);
}

#[test]
fn commit_now_asks_first_naming_count_and_size() {
    let mut app = loaded(3);
    assert_eq!(app.handle(k('$')).requests(), vec![]);
    assert!(app.notice().unwrap().contains("nothing to commit"));
    assert_eq!(app.dialog(), None);
    app.handle(k('d')).requests(); // message 3, 3000 octets
    app.handle(k('d')).requests(); // message 2, 2000 octets
    for cancel in [k('n'), code(KeyCode::Esc)] {
        assert_eq!(
            app.handle(k('$')).requests(),
            vec![],
            "asks, sends nothing yet"
        );
        let Some(Dialog::Commit(m)) = app.dialog() else {
            panic!("no commit dialog: {:?}", app.dialog())
        };
        assert_eq!((m.shown, m.bytes, m.total()), (2, 5000, 2));
        // Keys it doesn't list do nothing: not even the mark key or enter.
        for other in [k('d'), k('$'), code(KeyCode::Enter), k('q')] {
            assert_eq!(app.handle(other).requests(), vec![]);
            assert!(matches!(app.dialog(), Some(Dialog::Commit(_))));
        }
        assert_eq!(app.handle(cancel).requests(), vec![]);
        assert_eq!(app.dialog(), None);
    }
    app.handle(k('$')).requests();
    assert_eq!(app.handle(k('y')).requests(), vec![Request::CommitNow]);
    assert_eq!(app.dialog(), None);
    let phrase = format!("2 messages ({})", human_size(5000));
    assert!(
        app.notice().unwrap().contains(&phrase),
        "{:?}",
        app.notice()
    );
}

#[test]
fn undo_all_asks_when_it_drops_more_than_one_mark() {
    let mut app = loaded(3);
    app.handle(k('d')).requests();
    // One mark: undone at once, nothing to ask.
    assert_eq!(undo_all(&mut app), vec![Request::UnmarkAll]);
    assert_eq!(app.dialog(), None);
    let mut app = loaded(3);
    app.handle(k('d')).requests();
    app.handle(k('d')).requests();
    assert_eq!(undo_all(&mut app), vec![]);
    assert!(matches!(app.dialog(), Some(Dialog::UnmarkAll(m)) if m.total() == 2));
    assert_eq!(app.handle(code(KeyCode::Esc)).requests(), vec![]);
    assert_eq!(app.marked_count(), 2, "cancel keeps the marks");
    undo_all(&mut app);
    assert_eq!(app.handle(k('y')).requests(), vec![Request::UnmarkAll]);
    assert_eq!(app.marked_count(), 0);
}

#[test]
fn quit_with_marks_asks_and_each_choice_sends_the_right_quit() {
    for (choice, expect) in [
        (k('y'), Some(Request::Quit { commit: true })),
        (k('n'), Some(Request::Quit { commit: false })),
        (k('l'), Some(Request::QuitKeepMarks)),
        (code(KeyCode::Esc), None),
    ] {
        let mut app = loaded(3);
        app.handle(k('d')).requests();
        assert_eq!(app.handle(k('q')).requests(), vec![]);
        assert!(matches!(app.dialog(), Some(Dialog::Quit(m)) if m.total() == 1 && m.keepable == 1));
        // Every key the dialog accepts is one it lists.
        let listed: Vec<&str> = app
            .dialog_choices()
            .iter()
            .flat_map(|c| c.keys.iter().copied())
            .collect();
        assert_eq!(listed, ["y", "n", "l", "r", "esc"]);
        // Other keys leave the dialog open: the mark key never means
        // "delete now", and k no longer quits.
        for other in [k('z'), k('d'), k('k'), code(KeyCode::Enter)] {
            assert_eq!(app.handle(other).requests(), vec![]);
            assert!(app.dialog().is_some());
        }
        let reqs = app.handle(choice).requests();
        assert_eq!(app.dialog(), None);
        match expect {
            Some(req) => {
                assert_eq!(reqs, vec![req]);
                assert!(app.is_closing());
                assert_eq!(app.conn_state(), &ConnState::Closing);
                assert!(!app.should_quit(), "waits for Closed");
                app.handle(AppEvent::Worker(Event::Closed { committed: true }))
                    .requests();
                assert!(app.should_quit());
            }
            None => {
                assert_eq!(reqs, vec![]);
                assert!(!app.is_closing());
                assert!(!app.should_quit());
            }
        }
    }
}

#[test]
fn quit_without_marks_and_discard_quit() {
    let mut app = loaded(3);
    assert_eq!(
        app.handle(k('q')).requests(),
        vec![Request::Quit { commit: false }]
    );
    assert!(!app.should_quit());
    // A worker that never answers: q again leaves.
    assert_eq!(app.handle(k('q')).requests(), vec![]);
    assert!(app.should_quit());

    let mut app = loaded(3);
    app.handle(k('d')).requests();
    assert_eq!(
        app.handle(k('x')).requests(),
        vec![Request::Quit { commit: false }]
    );
    assert_eq!(app.dialog(), None);
}

#[test]
fn quitting_works_when_the_worker_is_gone() {
    let mut app = loaded(3);
    app.handle(k('d')).requests();
    app.handle(AppEvent::WorkerGone("its channel is closed".into()));
    assert!(app.error().unwrap().message.contains("worker stopped"));
    assert_eq!(app.handle(k('q')).requests(), vec![]);
    assert!(app.should_quit());

    // Gone while closing: quit at once.
    let mut app = loaded(1);
    app.handle(k('q')).requests();
    app.handle(AppEvent::WorkerGone("closed".into()));
    assert!(app.should_quit());
}

#[test]
fn closed_without_quit_keeps_the_ui_and_explains() {
    let mut app = loaded(2);
    app.handle(AppEvent::Worker(Event::Closed { committed: false }))
        .requests();
    assert!(!app.should_quit());
    assert!(app.error().is_some());
    app.handle(k('q')).requests();
    assert!(app.should_quit());
}

#[test]
fn stale_retrieve_answers_are_dropped() {
    let mut app = loaded(3);
    let keys = app.view_keys();
    assert_eq!(
        app.handle(code(KeyCode::Enter)).requests(),
        vec![Request::Retrieve {
            ticket: 1,
            key: keys[0].clone()
        }]
    );
    assert_eq!(app.screen(), Screen::Reader);
    // Next message before the first arrived: the old retrieve is cancelled.
    assert_eq!(
        app.handle(k('J')).requests(),
        vec![
            Request::CancelRetrieve { ticket: 1 },
            Request::Retrieve {
                ticket: 2,
                key: keys[1].clone()
            }
        ]
    );
    let old = MessageView {
        subject: "old".into(),
        body: "old body".into(),
        ..Default::default()
    };
    app.handle(AppEvent::Worker(Event::Message {
        ticket: 1,
        key: keys[0].clone(),
        view: view(old),
    }))
    .requests();
    assert_eq!(app.stale_dropped(), 1);
    assert!(matches!(
        app.reader().unwrap().content,
        Content::Loading { .. }
    ));
    let new = MessageView {
        subject: "new".into(),
        body: "new body".into(),
        ..Default::default()
    };
    app.handle(AppEvent::Worker(Event::Message {
        ticket: 2,
        key: keys[1].clone(),
        view: view(new),
    }))
    .requests();
    let r = app.reader().unwrap();
    assert_eq!(r.doc().unwrap().subject, "new");
    assert!(r.lines.iter().any(|l| l.text == "new body"));
    // Back with a finished message: nothing to cancel.
    assert_eq!(app.handle(code(KeyCode::Esc)).requests(), vec![]);
    assert_eq!(app.screen(), Screen::List);
    assert_eq!(app.cursor_key(), Some(&keys[1]));
}

/// The terminal loop receives messages through `app::prepare`, which
/// builds the sanitized `Doc` on the worker's side of the channel: the
/// reader shows exactly what the plain worker event would have shown, and
/// a stale prepared message is dropped the same way.
#[test]
fn a_prepared_message_reads_like_the_worker_event() {
    let message = || MessageView {
        from: "Alice <alice@example.org>".into(),
        subject: "Report \u{1b}[2J".into(),
        body: "line one\nline \u{202e}two".into(),
        raw: b"Subject: Report\r\n\r\nline one\r\n".to_vec(),
        ..Default::default()
    };
    let mut direct = loaded(3);
    let mut prepared = loaded(3);
    let key = direct.view_keys()[0].clone();
    for app in [&mut direct, &mut prepared] {
        app.handle(code(KeyCode::Enter)).requests();
    }
    let ev = |ticket| Event::Message {
        ticket,
        key: key.clone(),
        view: view(message()),
    };
    // A stale ticket first: dropped in both.
    direct.handle(AppEvent::Worker(ev(7))).requests();
    let stale = popview::app::prepare(ev(7));
    assert!(matches!(stale, AppEvent::Ready { .. }), "{stale:?}");
    prepared.handle(stale).requests();
    assert_eq!(direct.stale_dropped(), 1);
    assert_eq!(prepared.stale_dropped(), 1);
    direct.handle(AppEvent::Worker(ev(1))).requests();
    prepared.handle(popview::app::prepare(ev(1))).requests();
    let (a, b) = (direct.reader().unwrap(), prepared.reader().unwrap());
    assert_eq!(a.doc(), b.doc());
    assert_eq!(a.lines, b.lines);
    assert_eq!(b.doc().unwrap().subject, "Report");
    // Other events pass through untouched.
    assert_eq!(
        popview::app::prepare(Event::Notice("hi".into())),
        AppEvent::Worker(Event::Notice("hi".into()))
    );
}

#[test]
fn new_mail_listing_keeps_cursor_and_marks() {
    let mut app = loaded(3);
    // Cursor on message 2, mark message 1.
    app.handle(k('j')).requests();
    assert_eq!(app.cursor_key(), Some(&key_of(2)));
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key_of(1)],
        restored: false,
        settled: 0,
    }))
    .requests();
    // New mail: 4 and 5 arrive; 3 was deleted elsewhere, so numbers shift.
    let reqs = app
        .handle(AppEvent::Worker(Event::Listing {
            entries: vec![
                ListEntry {
                    key: key_of(1),
                    size: 1000,
                },
                ListEntry {
                    key: key_of(2),
                    size: 2000,
                },
                ListEntry {
                    key: MsgKey {
                        number: 3,
                        uid: Some("uid-4".into()),
                        generation: 0,
                    },
                    size: 4000,
                },
                ListEntry {
                    key: MsgKey {
                        number: 4,
                        uid: Some("uid-5".into()),
                        generation: 0,
                    },
                    size: 5000,
                },
            ],
            no_uidl_reason: None,
        }))
        .requests();
    assert_eq!(app.cursor_key(), Some(&key_of(2)));
    assert_eq!(app.mark_state(&key_of(1)), Some(MarkState::Marked));
    assert_eq!(app.marked_count(), 1);
    assert!(app.row(&key_of(2)).unwrap().info.is_some(), "preview kept");
    assert_eq!(app.rows().len(), 4);
    assert!(app.row(&key_of(3)).is_none(), "gone message removed");
    let new = MsgKey {
        number: 3,
        uid: Some("uid-4".into()),
        generation: 0,
    };
    assert!(app.row(&new).unwrap().info.is_none());
    assert_eq!(app.notice(), Some("2 new messages"));
    // The listing is acknowledged; the new rows are on screen now.
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0], Request::ListingSeen);
    assert!(matches!(&reqs[1], Request::Visible(v) if v.contains(&new)));
}

#[test]
fn filter_is_incremental_and_n_moves_between_matches() {
    let mut app = loaded(10);
    app.handle(k('/')).requests();
    assert!(app.editing_filter());
    app.handle(k('b')).requests();
    app.handle(k('o')).requests();
    // "bo" matches Bob (sender) only: messages 1 and 6.
    let keys = app.view_keys();
    assert_eq!(keys, vec![key_of(6), key_of(1)]);
    app.handle(code(KeyCode::Backspace)).requests();
    app.handle(k('O')).requests();
    assert_eq!(app.filter(), "bO");
    assert_eq!(
        app.view_keys(),
        vec![key_of(6), key_of(1)],
        "case-insensitive"
    );
    app.handle(code(KeyCode::Enter)).requests();
    assert!(!app.editing_filter());
    assert_eq!(app.cursor(), 0);
    app.handle(k('n')).requests();
    assert_eq!(app.cursor_key(), Some(&key_of(1)));
    app.handle(k('N')).requests();
    assert_eq!(app.cursor_key(), Some(&key_of(6)));
    // Subject matches too.
    app.handle(code(KeyCode::Esc)).requests();
    assert_eq!(app.view_len(), 10);
    app.handle(k('/')).requests();
    for c in "subject 1".chars() {
        app.handle(k(c)).requests();
    }
    assert_eq!(app.view_keys(), vec![key_of(10), key_of(1)]);
    // The message under the cursor was filtered out: the first match.
    assert_eq!(app.cursor(), 0);
    app.handle(code(KeyCode::Esc)).requests();
    assert_eq!(app.filter(), "");
    assert_eq!(app.view_len(), 10);
    // The cursor stays on the same message across filter changes.
    assert_eq!(app.cursor_key(), Some(&key_of(10)));
}

#[test]
fn sort_cycles_and_reverses() {
    let mut app = app();
    app.handle(listing(&[(1, 500), (2, 100), (3, 900)]))
        .requests();
    app.handle(AppEvent::Worker(Event::Previews(vec![
        (key_of(1), summary("Zed", "b", NOW - 10)),
        (key_of(2), summary("Amy", "c", NOW - 30)),
        (key_of(3), summary("Max", "a", NOW - 20)),
    ])))
    .requests();
    assert_eq!(app.sort(), (SortKey::Arrival, true));
    assert_eq!(app.view_keys(), vec![key_of(3), key_of(2), key_of(1)]);
    app.handle(k('o')).requests();
    assert_eq!(app.sort(), (SortKey::Date, true));
    assert_eq!(app.view_keys(), vec![key_of(1), key_of(3), key_of(2)]);
    app.handle(k('o')).requests();
    assert_eq!(app.sort(), (SortKey::Sender, false));
    assert_eq!(app.view_keys(), vec![key_of(2), key_of(3), key_of(1)]);
    app.handle(k('O')).requests();
    assert_eq!(app.sort(), (SortKey::Sender, true));
    assert_eq!(app.view_keys(), vec![key_of(1), key_of(3), key_of(2)]);
    app.handle(k('o')).requests();
    assert_eq!(app.view_keys(), vec![key_of(3), key_of(1), key_of(2)]);
    app.handle(k('o')).requests();
    assert_eq!(app.sort(), (SortKey::Size, true));
    assert_eq!(app.view_keys(), vec![key_of(3), key_of(1), key_of(2)]);
    app.handle(k('o')).requests();
    assert_eq!(app.sort(), (SortKey::Arrival, true));
    assert_eq!(app.sort_label(), "arrival ↓");
}

#[test]
fn previews_resort_on_the_next_event() {
    let mut app = app();
    app.handle(listing(&[(1, 1), (2, 1)])).requests();
    app.handle(k('o')).requests();
    app.handle(k('o')).requests(); // sender
    app.handle(AppEvent::Worker(Event::Previews(vec![
        (key_of(1), summary("Bob", "x", NOW)),
        (key_of(2), summary("Amy", "y", NOW)),
    ])))
    .requests();
    // Deferred while previews stream (no preview yet: by number).
    assert_eq!(app.view_keys(), vec![key_of(1), key_of(2)]);
    app.handle(AppEvent::Tick).requests();
    assert_eq!(app.view_keys(), vec![key_of(2), key_of(1)]);
}

#[test]
fn big_message_asks_then_peeks_or_downloads_and_esc_cancels() {
    let mut app = app();
    app.handle(listing(&[(1, 5_000_000)])).requests();
    assert_eq!(app.handle(code(KeyCode::Enter)).requests(), vec![]);
    assert_eq!(
        app.dialog(),
        Some(&Dialog::BigMessage {
            key: key_of(1),
            size: 5_000_000
        })
    );
    // Peek.
    assert_eq!(
        app.handle(k('p')).requests(),
        vec![Request::Peek {
            ticket: 1,
            key: key_of(1),
            lines: 200
        }]
    );
    assert!(app.reader().unwrap().is_peek());
    app.handle(AppEvent::Worker(Event::Peeked {
        ticket: 1,
        key: key_of(1),
        view: view(MessageView {
            body: "first lines".into(),
            ..Default::default()
        }),
    }))
    .requests();
    assert!(matches!(
        app.reader().unwrap().content,
        Content::Ready { peek: true, .. }
    ));
    // Enter in a peek downloads the whole message, no second question.
    assert_eq!(
        app.handle(code(KeyCode::Enter)).requests(),
        vec![Request::Retrieve {
            ticket: 2,
            key: key_of(1)
        }]
    );
    app.handle(AppEvent::Worker(Event::RetrieveProgress {
        ticket: 2,
        bytes: 1_000_000,
        total: 5_000_000,
    }))
    .requests();
    assert!(matches!(
        app.reader().unwrap().content,
        Content::Loading {
            bytes: 1_000_000,
            total: 5_000_000,
            peek: false
        }
    ));
    // Esc cancels the download.
    assert_eq!(
        app.handle(code(KeyCode::Esc)).requests(),
        vec![Request::CancelRetrieve { ticket: 2 }]
    );
    assert_eq!(app.screen(), Screen::List);
    assert_eq!(app.notice(), Some("download cancelled"));

    // Download straight away; cancel the dialog.
    app.handle(code(KeyCode::Enter)).requests();
    assert_eq!(
        app.handle(k('y')).requests(),
        vec![Request::Retrieve {
            ticket: 3,
            key: key_of(1)
        }]
    );
    app.handle(code(KeyCode::Esc)).requests();
    app.handle(code(KeyCode::Enter)).requests();
    assert_eq!(app.handle(code(KeyCode::Esc)).requests(), vec![]);
    assert_eq!(app.dialog(), None);
    assert_eq!(app.screen(), Screen::List);
}

#[test]
fn password_prompt_sends_once_and_keeps_nothing() {
    let mut app = loaded(1);
    app.handle(AppEvent::Worker(Event::PasswordNeeded {
        reason: "the server refused the password".into(),
    }))
    .requests();
    assert!(matches!(app.dialog(), Some(Dialog::Password { .. })));
    for c in "s3cr:t".chars() {
        // Keys go to the prompt, not the keymap (no 'd' marking etc.).
        assert_eq!(app.handle(k(c)).requests(), vec![]);
    }
    app.handle(code(KeyCode::Backspace)).requests();
    app.handle(k('T')).requests();
    let debug = format!("{app:?}");
    assert!(!debug.contains("s3cr"), "password leaked in Debug");
    assert_eq!(
        app.handle(code(KeyCode::Enter)).requests(),
        vec![Request::Password("s3cr:T".into())]
    );
    assert_eq!(app.dialog(), None);
    assert!(!format!("{app:?}").contains("s3cr"));

    // Esc cancels without sending.
    app.handle(AppEvent::Worker(Event::PasswordNeeded {
        reason: "again".into(),
    }))
    .requests();
    app.handle(k('x')).requests();
    assert_eq!(app.handle(code(KeyCode::Esc)).requests(), vec![]);
    assert_eq!(app.dialog(), None);
    assert_eq!(app.error().unwrap().kind, Some(ErrorKind::Auth));
}

#[test]
fn reader_toggles_save_and_next_previous() {
    let dir = std::path::PathBuf::from("/tmp/popview-save-test");
    let mut app = App::new(AppOptions {
        save_dir: dir.clone(),
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 30)).requests();
    app.handle(listing(&[(1, 10), (2, 10)])).requests();
    app.handle(code(KeyCode::Enter)).requests();
    let mut v = MessageView {
        from: "Alice <alice@example.org>".into(),
        subject: "Report".into(),
        headers: vec![("X-Custom".into(), "yes".into())],
        body: "Hello".into(),
        raw: b"Subject: Report\r\nX-Custom: yes\r\n\r\nHello\r\n".to_vec(),
        ..Default::default()
    };
    v.attachments.push(popview::mail::Attachment::held(
        "../../etc/evil.pdf".into(),
        "application/pdf".into(),
        vec![1, 2, 3],
    ));
    app.handle(AppEvent::Worker(Event::Message {
        ticket: 1,
        key: key_of(2),
        view: view(v),
    }))
    .requests();
    let text = |app: &App| -> Vec<String> {
        app.reader()
            .unwrap()
            .lines
            .iter()
            .map(|l| l.text.clone())
            .collect()
    };
    assert!(text(&app).contains(&"Subject: Report".to_string()));
    assert!(!text(&app).iter().any(|l| l.contains("X-Custom")));
    app.handle(k('h')).requests();
    assert!(text(&app).contains(&"X-Custom: yes".to_string()));
    app.handle(k('v')).requests();
    assert!(app.reader().unwrap().raw);
    assert_eq!(text(&app)[0], "Subject: Report");
    app.handle(k('v')).requests();
    // Save the attachment: asked where, the default (Enter) a job with a
    // safe base name in save_dir.
    assert!(saves(app.handle(k('s'))).is_empty());
    let jobs = saves(app.handle(code(KeyCode::Enter)));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].dir, dir);
    assert_eq!(jobs[0].name, "evil.pdf");
    assert_eq!(jobs[0].data, vec![1, 2, 3]);
    // Tab selects the whole message: `s` asks for a mailbox (see
    // tests/app_save.rs); Esc leaves the prompt.
    app.handle(code(KeyCode::Tab)).requests();
    assert!(saves(app.handle(k('s'))).is_empty());
    assert!(app.save_prompt().is_some());
    app.handle(code(KeyCode::Esc)).requests();
    assert!(app.save_prompt().is_none());
    app.handle(AppEvent::Saved(Ok(dir.join("evil.pdf"))))
        .requests();
    assert!(app.notice().unwrap().contains("saved to"));
    // Newest first: J goes to message 1, K back to 2.
    assert_eq!(
        app.handle(k('J')).requests(),
        vec![Request::Retrieve {
            ticket: 2,
            key: key_of(1)
        }]
    );
    assert_eq!(app.handle(k('J')).requests(), vec![]);
    assert!(app.notice().unwrap().contains("last message"));
    assert_eq!(
        app.handle(k('K')).requests(),
        vec![
            Request::CancelRetrieve { ticket: 2 },
            Request::Retrieve {
                ticket: 3,
                key: key_of(2)
            }
        ]
    );
    // d in the reader marks this message and goes on to the next one.
    assert_eq!(
        app.handle(k('d')).requests(),
        vec![
            Request::Mark(key_of(2)),
            Request::CancelRetrieve { ticket: 3 },
            Request::Retrieve {
                ticket: 4,
                key: key_of(1)
            }
        ]
    );
}

#[test]
fn d_and_u_are_symmetric_in_the_list_and_the_reader() {
    // The list: both act on the cursor row, then move down one.
    for key in ['d', 'u'] {
        let mut app = loaded(4);
        let keys = app.view_keys();
        if key == 'u' {
            app.handle(k('d')).requests();
            app.handle(k('k')).requests();
        }
        let reqs = app.handle(k(key)).requests();
        let want = if key == 'd' {
            Request::Mark(keys[0].clone())
        } else {
            Request::Unmark(keys[0].clone())
        };
        assert_eq!(reqs, vec![want], "{key}");
        assert_eq!(app.cursor(), 1, "{key} moves on");
    }
    // The reader: both act on the message shown, then open the next one.
    for key in ['d', 'u'] {
        let mut app = loaded(4);
        let keys = app.view_keys();
        if key == 'u' {
            app.handle(k('d')).requests();
            app.handle(k('k')).requests();
        }
        app.handle(code(KeyCode::Enter)).requests();
        let shown = app.reader().unwrap().key.clone();
        assert_eq!(shown, keys[0]);
        let reqs = app.handle(k(key)).requests();
        assert_eq!(
            reqs[0],
            if key == 'd' {
                Request::Mark(shown.clone())
            } else {
                Request::Unmark(shown.clone())
            },
            "{key}"
        );
        assert!(
            matches!(&reqs[reqs.len() - 1], Request::Retrieve { key, .. } if *key == keys[1]),
            "{key}: {reqs:?}"
        );
        assert_eq!(app.reader().unwrap().key, keys[1]);
        assert_eq!(app.cursor(), 1);
    }
}

#[test]
fn errors_are_kept_in_words_with_advice() {
    let mut app = loaded(1);
    app.handle(AppEvent::Worker(Event::Error(WorkerError {
        kind: ErrorKind::Auth,
        message: "login refused\u{1b}[2J".into(),
        fatal: true,
    })))
    .requests();
    let e = app.error().unwrap();
    assert!(e.advice.contains("password"));
    assert!(!e.message.contains('\u{1b}'));
    assert_eq!(app.conn_state(), &ConnState::Offline);
    // Esc clears it in the list.
    app.handle(code(KeyCode::Esc)).requests();
    assert!(app.error().is_none());
}

#[test]
fn mouse_click_selects_and_double_click_opens() {
    let mut app = loaded(5);
    let click = |row| {
        AppEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Row 0 is the header bar, row 1 the column header: row 4 is position 2.
    assert_eq!(app.handle(click(4)).requests(), vec![]);
    assert_eq!(app.cursor(), 2);
    // Slow second click: no open.
    app.handle(AppEvent::Tick).requests();
    app.handle(AppEvent::Tick).requests();
    assert_eq!(app.handle(click(4)).requests(), vec![]);
    // Quick second click opens.
    let key = app.cursor_key().cloned().unwrap();
    assert_eq!(
        app.handle(click(4)).requests(),
        vec![Request::Retrieve { ticket: 1, key }]
    );
    app.handle(code(KeyCode::Esc)).requests();
    // Wheel.
    app.handle(AppEvent::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 5,
        modifiers: KeyModifiers::NONE,
    }))
    .requests();
    assert_eq!(app.cursor(), 4);
    // Clicks outside the rows do nothing.
    assert_eq!(app.handle(click(29)).requests(), vec![]);
    assert_eq!(app.cursor(), 4);
}

#[test]
fn key_releases_are_ignored_and_keymap_overrides_apply() {
    let mut o = BTreeMap::new();
    o.insert("D".to_string(), "mark".to_string());
    o.insert("d".to_string(), "none".to_string());
    let mut app = App::new(AppOptions {
        keymap: Keymap::with_overrides(&o).unwrap(),
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 30)).requests();
    app.handle(listing(&[(1, 1)])).requests();
    assert_eq!(app.handle(k('d')).requests(), vec![]);
    let release = AppEvent::Key(KeyEvent {
        code: KeyCode::Char('D'),
        modifiers: KeyModifiers::SHIFT,
        kind: KeyEventKind::Release,
        state: KeyEventState::NONE,
    });
    assert_eq!(app.handle(release).requests(), vec![]);
    assert_eq!(
        app.handle(k('D')).requests(),
        vec![Request::Mark(key_of(1))]
    );
    assert_eq!(app.keymap().keys_for(Action::Mark), vec!["D"]);
}

#[test]
fn tiny_and_zero_sizes_do_not_break_state() {
    let mut app = loaded(50);
    for (w, h) in [(0, 0), (10, 3), (1, 1), (40, 10)] {
        app.handle(AppEvent::Resize(w, h)).requests();
        app.handle(k('j')).requests();
        app.handle(code(KeyCode::PageDown)).requests();
        app.handle(k('G')).requests();
        assert!(app.cursor() < app.view_len());
    }
}

/// Without UIDs a new listing (a new session, where numbers may have
/// shifted) can't say which row is which: nothing carries over by number,
/// so a stale preview can't sit on another message's row (SECURITY E29).
#[test]
fn no_uidl_entries_never_carry_over_by_number() {
    let mut app = app();
    let nouid = |n| MsgKey {
        number: n,
        uid: None,
        generation: 0,
    };
    let ev = |ns: &[u32]| {
        AppEvent::Worker(Event::Listing {
            entries: ns
                .iter()
                .map(|&n| ListEntry {
                    key: nouid(n),
                    size: 10,
                })
                .collect(),
            no_uidl_reason: Some("server has no UIDL".into()),
        })
    };
    app.handle(ev(&[1, 2])).requests();
    app.handle(AppEvent::Worker(Event::Previews(vec![(
        nouid(1),
        summary("A", "s", NOW),
    )])))
    .requests();
    assert!(app.row(&nouid(1)).unwrap().info.is_some());
    app.handle(ev(&[1, 2, 3])).requests();
    assert!(app.row(&nouid(1)).unwrap().info.is_none());
    assert_eq!(app.view_len(), 3);
    assert_eq!(app.no_uidl_reason(), Some("server has no UIDL"));
}

// ---------------------------------------------------------------- issue 9: the user's choice

fn marks(keys: Vec<MsgKey>, restored: bool, settled: u64) -> AppEvent {
    AppEvent::Worker(Event::Marks {
        marked: keys,
        restored,
        settled,
    })
}

fn restored_key(uid: &str) -> MsgKey {
    MsgKey {
        number: 0,
        uid: Some(uid.to_string()),
        generation: 0,
    }
}

#[test]
fn marks_restored_while_offline_are_never_dropped_by_a_plain_q() {
    // Restored from disk before any connection: the list has no rows.
    let mut app = app();
    app.handle(marks(
        vec![restored_key("0001aa"), restored_key("0002bb")],
        true,
        0,
    ))
    .requests();
    assert_eq!(app.marked_count(), 0, "the list shows none of them");
    assert_eq!(app.unshown_marks().len(), 2);
    assert_eq!(app.handle(k('q')).requests(), vec![], "q asks first");
    let Some(Dialog::Quit(m)) = app.dialog() else {
        panic!("no quit dialog: {:?}", app.dialog())
    };
    assert_eq!((m.shown, m.total(), m.keepable), (0, 2, 2));
    assert_eq!(m.unshown, ["0001aa", "0002bb"]);
    assert!(
        m.unshown_why.contains("not been reached"),
        "{}",
        m.unshown_why
    );
    let keys: Vec<_> = app.dialog_choices().iter().map(|c| c.answer).collect();
    assert!(keys.contains(&Answer::KeepMarksAndQuit));
    assert_eq!(app.handle(k('l')).requests(), vec![Request::QuitKeepMarks]);
    assert!(app.is_closing());

    // Esc, then $ and U know about them too.
    let mut app = self::app();
    app.handle(marks(
        vec![restored_key("0001aa"), restored_key("0002bb")],
        true,
        0,
    ))
    .requests();
    app.handle(k('q')).requests();
    app.handle(code(KeyCode::Esc)).requests();
    assert_eq!(app.handle(k('$')).requests(), vec![]);
    assert!(matches!(app.dialog(), Some(Dialog::Commit(m)) if m.unshown.len() == 2));
    app.handle(code(KeyCode::Esc)).requests();
    assert_eq!(undo_all(&mut app), vec![]);
    assert!(matches!(app.dialog(), Some(Dialog::UnmarkAll(m)) if m.total() == 2));
}

#[test]
fn marks_restored_on_a_server_without_uidl_are_named_in_the_quit_dialog() {
    let mut app = app();
    app.handle(marks(vec![restored_key("0001aa")], true, 0))
        .requests();
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: MsgKey {
                number: 1,
                uid: None,
                generation: 0,
            },
            size: 10,
        }],
        no_uidl_reason: Some("no UIDL".into()),
    }))
    .requests();
    app.handle(marks(vec![restored_key("0001aa")], true, 0))
        .requests();
    app.handle(AppEvent::Worker(Event::Connected(Box::new(connection()))))
        .requests();
    assert_eq!(app.unshown_marks().len(), 1);
    // A mark by number in this session, next to the restored one.
    app.handle(k('d')).requests();
    app.handle(k('q')).requests();
    let Some(Dialog::Quit(m)) = app.dialog() else {
        panic!("no quit dialog")
    };
    assert_eq!((m.shown, m.unshown.len(), m.keepable), (1, 1, 1));
    assert!(m.unshown_why.contains("no unique ids"), "{}", m.unshown_why);
    let keep = app
        .dialog_choices()
        .into_iter()
        .find(|c| c.answer == Answer::KeepMarksAndQuit)
        .expect("l is offered");
    assert!(keep.label.contains("forget the other 1"), "{}", keep.label);
}

/// The previews' progress, `done` of `total`.
fn progress(done: usize, total: usize) -> AppEvent {
    AppEvent::Worker(Event::Progress {
        done,
        total,
        bytes: 0,
    })
}

fn connection() -> ConnectionInfo {
    ConnectionInfo {
        server: "127.0.0.1:110".into(),
        tls: TlsState::None,
        greeting: "+OK".into(),
        capabilities: vec![],
        implementation: None,
        login_delay: None,
        expire: None,
        pipelining: false,
        has_top: true,
        has_uidl: true,
        auth_method: "USER".into(),
    }
}

#[test]
fn a_dialog_about_marks_follows_the_marks_while_open() {
    let mut app = loaded(3);
    let keys = app.view_keys();
    app.handle(k('d')).requests();
    app.handle(k('d')).requests();
    app.handle(k('$')).requests();
    assert!(matches!(app.dialog(), Some(Dialog::Commit(m)) if m.total() == 2));
    // The worker reports one of them refused.
    app.handle(AppEvent::Worker(Event::MarkRefused {
        key: keys[1].clone(),
        reason: "gone".into(),
    }))
    .requests();
    assert!(matches!(app.dialog(), Some(Dialog::Commit(m)) if m.total() == 1));
}

#[test]
fn after_a_commit_the_reader_follows_its_uid_and_never_shows_another_number() {
    let mut app = loaded(4);
    // Read message 3 (the second row, newest first).
    app.handle(k('j')).requests();
    app.handle(code(KeyCode::Enter)).requests();
    assert_eq!(app.reader().unwrap().key, key_of(3));
    app.handle(AppEvent::Ready {
        ticket: 1,
        key: key_of(3),
        doc: Box::new(popview::app::Doc::from_view(MessageView::default())),
    })
    .requests();
    // Message 1 was marked and committed; the new session numbers 2, 3, 4
    // as 1, 2, 3.
    let shifted = |n: u32, uid: u32| ListEntry {
        key: MsgKey {
            number: n,
            uid: Some(format!("uid-{uid}")),
            generation: 0,
        },
        size: 1000 * u64::from(uid),
    };
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![shifted(1, 2), shifted(2, 3), shifted(3, 4)],
        no_uidl_reason: None,
    }))
    .requests();
    let r = app
        .reader()
        .expect("still open: its message is still there");
    assert_eq!(r.key.uid.as_deref(), Some("uid-3"));
    assert_eq!(r.key.number, 2, "shown under its new number");
    // d acts on the message shown, by its new key; J goes on from it.
    let reqs = app.handle(k('d')).requests();
    assert_eq!(
        reqs[0],
        Request::Mark(MsgKey {
            number: 2,
            uid: Some("uid-3".into()),
            generation: 0
        })
    );
    assert!(
        matches!(&reqs[reqs.len() - 1], Request::Retrieve { key, .. } if key.uid.as_deref() == Some("uid-2")),
        "{reqs:?}"
    );

    // The message shown is gone from the new listing: the reader closes.
    let mut app = loaded(2);
    app.handle(code(KeyCode::Enter)).requests();
    let shown = app.reader().unwrap().key.clone();
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: MsgKey {
                number: 1,
                uid: Some("uid-1".into()),
                generation: 0,
            },
            size: 1000,
        }],
        no_uidl_reason: None,
    }))
    .requests();
    assert_eq!(shown, key_of(2));
    assert!(app.reader().is_none());
    assert_eq!(app.screen(), Screen::List);
    assert!(app.notice().unwrap().contains("no longer on the server"));
}

#[test]
fn without_uidl_a_new_listing_closes_the_reader_and_cancels_its_download() {
    let nouid = |n| MsgKey {
        number: n,
        uid: None,
        generation: 0,
    };
    let ev = || {
        AppEvent::Worker(Event::Listing {
            entries: (1..=3)
                .map(|n| ListEntry {
                    key: nouid(n),
                    size: 10,
                })
                .collect(),
            no_uidl_reason: Some("no UIDL".into()),
        })
    };
    let mut app = app();
    app.handle(ev()).requests();
    app.handle(code(KeyCode::Enter)).requests();
    let ticket = app.reader().unwrap().ticket;
    let reqs = app.handle(ev()).requests();
    assert!(app.reader().is_none());
    assert!(
        reqs.contains(&Request::CancelRetrieve { ticket }),
        "{reqs:?}"
    );
    assert!(app.notice().unwrap().contains("no unique ids"));
}

#[test]
fn saving_from_a_peek_is_refused_with_the_way_out() {
    let mut app = app();
    app.handle(listing(&[(1, 5_000_000)])).requests();
    app.handle(code(KeyCode::Enter)).requests();
    app.handle(k('p')).requests();
    let mut v = MessageView {
        body: "first lines".into(),
        ..Default::default()
    };
    v.attachments.push(popview::mail::Attachment::held(
        "report.pdf".into(),
        "application/pdf".into(),
        vec![1, 2],
    ));
    app.handle(AppEvent::Worker(Event::Peeked {
        ticket: 1,
        key: key_of(1),
        view: view(v),
    }))
    .requests();
    let effects = app.handle(k('s'));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Send(_) | Effect::Save(_))),
        "no request, no cut-off file written: {effects:?}"
    );
    let n = app.notice().unwrap();
    assert!(n.contains("peek") && n.contains("enter"), "{n}");
    // enter downloads the whole message; then s saves.
    let reqs = app.handle(code(KeyCode::Enter)).requests();
    assert!(matches!(
        reqs.as_slice(),
        [Request::Retrieve { ticket: 2, .. }]
    ));
}

#[test]
fn r_asks_for_the_password_again_after_esc() {
    let mut app = loaded(1);
    app.handle(AppEvent::Worker(Event::PasswordNeeded {
        reason: "the server refused the password".into(),
    }))
    .requests();
    assert_eq!(app.handle(code(KeyCode::Esc)).requests(), vec![]);
    assert_eq!(app.dialog(), None);
    assert!(app.error().unwrap().advice.contains("press r"));
    // r: the prompt again, not a mail check.
    assert_eq!(app.handle(k('r')).requests(), vec![]);
    assert!(
        matches!(app.dialog(), Some(Dialog::Password { reason, .. }) if reason.contains("refused"))
    );
    assert_eq!(app.error(), None);
    app.handle(k('p')).requests();
    assert_eq!(
        app.handle(code(KeyCode::Enter)).requests(),
        vec![Request::Password("p".into())]
    );
    // Once sent, r checks for mail again.
    assert_eq!(app.handle(k('r')).requests(), vec![Request::CheckNewMail]);
}

#[test]
fn the_reconnect_countdown_counts_down() {
    let mut app = loaded(1);
    app.handle(AppEvent::Worker(Event::Reconnecting {
        attempt: 2,
        delay_secs: 10,
        reason: "connection reset".into(),
    }))
    .requests();
    let left = |app: &App| match app.conn_state() {
        ConnState::Reconnecting { delay_secs, .. } => *delay_secs,
        other => panic!("{other:?}"),
    };
    assert_eq!(left(&app), 10);
    let mut seen = vec![];
    for s in 1..=12 {
        app.handle(AppEvent::Clock(NOW + s));
        app.handle(AppEvent::Tick).requests();
        seen.push(left(&app));
    }
    assert_eq!(seen, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
    assert!(popview::ui::conn_label(app.conn_state()).contains("now"));
    app.handle(AppEvent::Clock(NOW + 13));
    app.handle(AppEvent::Worker(Event::Connecting {
        server: "x".into(),
        attempt: 2,
    }))
    .requests();
    assert_eq!(app.conn_state(), &ConnState::Connecting { attempt: 2 });
}

#[test]
fn effects_are_data_suspend_redraw_and_the_clock() {
    let mut app = loaded(3);
    // Ctrl-Z: the app asks the loop to suspend; it sends nothing.
    let z = AppEvent::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    let effects = app.handle(z);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Suspend)),
        "{effects:?}"
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Send(_))));
    // The clock within the same minute changes nothing on screen; the next
    // minute does (the date column says "today" by the minute).
    let same = app.handle(AppEvent::Clock(NOW + 1));
    assert!(
        !same.iter().any(|e| matches!(e, Effect::Redraw)),
        "{same:?}"
    );
    let next = app.handle(AppEvent::Clock(NOW + 61));
    assert!(next.iter().any(|e| matches!(e, Effect::Redraw)), "{next:?}");
    // A lost worker is an event too: the app says so and quitting is
    // immediate.
    let gone = app.handle(AppEvent::WorkerGone("its channel is closed".into()));
    assert!(gone.iter().any(|e| matches!(e, Effect::Redraw)));
    assert!(app.worker_gone());
}
