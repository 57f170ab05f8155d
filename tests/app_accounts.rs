//! Pure tests of the accounts screen (`c`) and the switch it leads to:
//! feed events, assert the state, the requests to the worker and the
//! screen drawn on ratatui's `TestBackend`. No terminal, no threads.

#[path = "support/app.rs"]
mod app_support;
use app_support::{code, k, key_of, requests};

use crossterm::event::KeyCode;
use popview::app::{AccountEntry, Answer, App, AppEvent, AppOptions, Dialog, Screen};
use popview::worker::api::{Event, ListEntry, Request};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn entries() -> Vec<AccountEntry> {
    vec![
        AccountEntry {
            name: "home".into(),
            label: "bob@mail.example.net:995".into(),
            current: false,
            cached: Some(7),
            marks: 2,
        },
        AccountEntry {
            name: "work".into(),
            label: "alice@pop.example.org:995".into(),
            current: true,
            cached: Some(1),
            marks: 0,
        },
    ]
}

/// On "work", three messages listed; the worker says only uid-1 was
/// there last time.
fn app_with(accounts: Vec<AccountEntry>) -> App {
    let mut app = App::new(AppOptions {
        account_label: "alice@pop.example.org:995".into(),
        accounts,
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 20));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=3)
            .map(|n| ListEntry {
                key: key_of(n),
                size: 1000,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Unseen(vec![key_of(2), key_of(3)])));
    app
}

/// Mark message `n` and let the worker settle it.
fn marked(app: &mut App, n: u32) {
    let key = key_of(n);
    let pos = app.view_pos_of(&key).unwrap();
    while app.cursor() > pos {
        app.handle(k('k'));
    }
    while app.cursor() < pos {
        app.handle(k('j'));
    }
    assert_eq!(
        requests(app.handle(k('d'))),
        vec![Request::Mark(key.clone())]
    );
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key],
        restored: false,
        settled: 1,
    }));
}

fn screen_text(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(100, 20)).unwrap();
    t.draw(|f| popview::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn c_opens_the_accounts_with_counts_and_moves_and_closes() {
    let mut app = app_with(entries());
    assert_eq!(requests(app.handle(k('c'))), vec![]);
    assert_eq!(app.screen(), Screen::Accounts);
    // The cursor starts on the account connected.
    assert_eq!(app.accounts_cursor(), 1);
    let [home, work] = [&app.accounts()[0], &app.accounts()[1]];
    let w = app.account_counts(work);
    assert_eq!(
        (w.messages, w.new, w.marks),
        (Some(3), Some(2), 0),
        "live: 3 listed, 2 not in the cache of the last look"
    );
    let h = app.account_counts(home);
    assert_eq!((h.messages, h.new, h.marks), (Some(7), None, 2));

    let text = screen_text(&app);
    assert!(text.contains("● work"), "{text}");
    assert!(text.contains("3 msgs, 2 new"), "{text}");
    assert!(
        text.contains("7 msgs (as last seen) · 2 marks pending"),
        "{text}"
    );
    assert!(text.contains("bob@mail.example.net:995"), "{text}");

    app.handle(k('k'));
    assert_eq!(app.accounts_cursor(), 0);
    app.handle(k('k'));
    assert_eq!(app.accounts_cursor(), 0, "stays on the first");
    app.handle(k('j'));
    app.handle(k('j'));
    assert_eq!(app.accounts_cursor(), 1, "stays on the last");
    app.handle(code(KeyCode::Esc));
    assert_eq!(app.screen(), Screen::List);
    // c toggles too.
    app.handle(k('c'));
    app.handle(k('c'));
    assert_eq!(app.screen(), Screen::List);
    assert_eq!(app.switch_to(), None);
}

#[test]
fn enter_on_the_account_shown_goes_back_without_ending_anything() {
    let mut app = app_with(entries());
    app.handle(k('c'));
    assert_eq!(requests(app.handle(code(KeyCode::Enter))), vec![]);
    assert_eq!(app.screen(), Screen::List);
    assert_eq!(app.switch_to(), None);
    assert!(!app.is_closing());
    assert!(app.notice().unwrap().contains("work is the account shown"));
}

#[test]
fn switching_without_marks_ends_the_session_cleanly() {
    let mut app = app_with(entries());
    app.handle(k('c'));
    app.handle(k('k'));
    let reqs = requests(app.handle(code(KeyCode::Enter)));
    assert_eq!(
        reqs,
        vec![Request::Quit { commit: false }],
        "nothing deleted"
    );
    assert_eq!(app.switch_to(), Some("home"));
    assert!(app.is_closing());
    assert!(!app.should_quit(), "waits for the worker's Closed");
    app.handle(AppEvent::Worker(Event::Closed { committed: false }));
    assert!(app.should_quit());
    assert_eq!(app.switch_to(), Some("home"));
}

#[test]
fn switching_with_marks_asks_like_quitting_each_answer() {
    for (key, want) in [
        ('y', Some(Request::Quit { commit: true })),
        ('n', Some(Request::Quit { commit: false })),
        ('l', Some(Request::QuitKeepMarks)),
        ('r', None),
    ] {
        let mut app = app_with(entries());
        marked(&mut app, 2);
        app.handle(k('c'));
        assert_eq!(app.account_counts(&app.accounts()[1].clone()).marks, 1);
        app.handle(k('k'));
        assert_eq!(requests(app.handle(code(KeyCode::Enter))), vec![]);
        assert!(matches!(app.dialog(), Some(Dialog::Quit(m)) if m.total() == 1));
        let choices = app.dialog_choices();
        let answers: Vec<Answer> = choices.iter().map(|c| c.answer).collect();
        assert_eq!(
            answers,
            [
                Answer::DeleteAndQuit,
                Answer::ForgetAndQuit,
                Answer::KeepMarksAndQuit,
                Answer::Review,
                Answer::Cancel
            ]
        );
        let keep = choices
            .iter()
            .find(|c| c.answer == Answer::KeepMarksAndQuit)
            .unwrap();
        assert!(
            keep.label.ends_with("then switch to home"),
            "{}",
            keep.label
        );
        assert!(screen_text(&app).contains(" Switch account "));
        let reqs = requests(app.handle(k(key)));
        match want {
            Some(req) => {
                assert_eq!(reqs, vec![req], "answer {key}");
                assert_eq!(app.switch_to(), Some("home"));
                app.handle(AppEvent::Worker(Event::Closed {
                    committed: key == 'y',
                }));
                assert!(app.should_quit());
            }
            None => {
                assert_eq!(reqs, vec![]);
                assert_eq!(app.screen(), Screen::Review);
                assert_eq!(app.switch_to(), None, "the review drops the switch");
            }
        }
    }
}

#[test]
fn cancelling_the_switch_question_stays_and_a_later_quit_quits() {
    let mut app = app_with(entries());
    marked(&mut app, 1);
    app.handle(k('c'));
    app.handle(k('k'));
    app.handle(code(KeyCode::Enter));
    assert!(app.dialog().is_some());
    assert_eq!(requests(app.handle(code(KeyCode::Esc))), vec![]);
    assert_eq!(app.dialog(), None);
    assert_eq!(app.switch_to(), None);
    assert!(!app.is_closing());
    // q now asks about quitting, not switching.
    app.handle(code(KeyCode::Esc));
    app.handle(k('q'));
    let labels: Vec<String> = app.dialog_choices().into_iter().map(|c| c.label).collect();
    assert!(
        labels.iter().any(|l| l.ends_with("then quit")),
        "{labels:?}"
    );
    assert!(!labels.iter().any(|l| l.contains("switch")), "{labels:?}");
    assert!(screen_text(&app).contains(" Quit "));
}

#[test]
fn no_configured_account_says_how_to_add_them() {
    let mut app = app_with(Vec::new());
    assert_eq!(requests(app.handle(k('c'))), vec![]);
    assert_eq!(app.screen(), Screen::List);
    let n = app.notice().unwrap();
    assert!(n.contains("no other accounts"), "{n}");
    assert!(n.contains("[accounts.NAME]"), "{n}");
}

#[test]
fn the_only_account_is_listed_with_how_to_add_more() {
    let only = vec![AccountEntry {
        name: "work".into(),
        label: "alice@pop.example.org:995".into(),
        current: true,
        cached: None,
        marks: 0,
    }];
    let mut app = app_with(only);
    app.handle(k('c'));
    assert_eq!(app.screen(), Screen::Accounts);
    let text = screen_text(&app);
    assert!(text.contains("only account in the config"), "{text}");
}

#[test]
fn from_the_reader_c_opens_the_accounts_and_esc_returns_to_it() {
    let mut app = app_with(entries());
    app.handle(code(KeyCode::Enter));
    assert_eq!(app.screen(), Screen::Reader);
    app.handle(k('c'));
    assert_eq!(app.screen(), Screen::Accounts);
    app.handle(code(KeyCode::Esc));
    assert_eq!(app.screen(), Screen::Reader);
}
