//! Pure tests of saving from the TUI: `s` / `C` / `;s` → the mailbox prompt
//! (its default, Tab completion through the terminal loop's listing, the
//! create question, cancel) → `Request::Save`; the worker's outcome →
//! marks only for a move and only for durable copies; Esc stops a save;
//! the attachment prompt.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::complete::{DirEntry, EntryKind, Found};
use popview::app::{
    App, AppEvent, AppOptions, Effect, MailboxAnswer, MailboxQuery, MarkState, SaveJob, SavePurpose,
};
use popview::localbox::Destination;
use popview::mail::MessageView;
use popview::worker::api::{Event, ListEntry, MsgKey, Request, SaveOutcome, SaveRequest};

fn k(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn ctrl(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn key_of(n: u32) -> MsgKey {
    MsgKey::new(n, Some(format!("uid-{n}")))
}

fn requests(effects: &[Effect]) -> Vec<Request> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn queries(effects: &[Effect]) -> Vec<MailboxQuery> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mailbox(q) => Some(q.clone()),
            _ => None,
        })
        .collect()
}

fn saves(effects: &[Effect]) -> Vec<SaveJob> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Save(j) => Some(j.clone()),
            _ => None,
        })
        .collect()
}

fn app_with(save_to: Option<Destination>) -> App {
    let mut app = App::new(AppOptions {
        save_to,
        saved_index_dir: Some(PathBuf::from("/data/acct")),
        save_dir: PathBuf::from("/dl"),
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=3)
            .map(|n| ListEntry {
                key: key_of(n),
                size: 100,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    app
}

fn typed(app: &mut App, text: &str) {
    app.handle(ctrl('u'));
    for c in text.chars() {
        app.handle(k(c));
    }
}

fn prompt_text(app: &App) -> String {
    app.save_prompt().expect("the save prompt").editor.text()
}

fn probed(text: &str, path: &str, found: Found) -> AppEvent {
    AppEvent::Mailbox(MailboxAnswer::Probed {
        text: text.into(),
        found: Ok((PathBuf::from(path), found)),
    })
}

fn one_save(e: &[Effect]) -> SaveRequest {
    match requests(e).as_slice() {
        [Request::Save(r)] => r.clone(),
        other => panic!("one save, not {other:?}"),
    }
}

fn done(o: SaveOutcome) -> AppEvent {
    AppEvent::Worker(Event::SaveDone(Box::new(o)))
}

#[test]
fn s_asks_with_the_save_to_default_then_saves_and_marks_the_durable_copies() {
    let mut app = app_with(Some(Destination::Maildir("/m/inbox".into())));
    // The list shows the newest first: the cursor is on message 3.
    let cursor = app.cursor_key().cloned().unwrap();
    let e = app.handle(k('s'));
    assert!(requests(&e).is_empty());
    let p = app.save_prompt().unwrap();
    assert_eq!(p.purpose, SavePurpose::Move);
    assert_eq!(p.purpose.question(), "Save to mailbox: ");
    assert_eq!(prompt_text(&app), "/m/inbox");
    let e = app.handle(code(KeyCode::Enter));
    assert_eq!(
        queries(&e),
        vec![MailboxQuery::Probe {
            text: "/m/inbox".into()
        }]
    );
    let e = app.handle(probed(
        "/m/inbox",
        "/m/inbox",
        Found::Entry(EntryKind::Maildir),
    ));
    assert_eq!(
        requests(&e),
        vec![Request::Save(SaveRequest {
            id: 1,
            keys: vec![cursor.clone()],
            dest: Destination::Maildir("/m/inbox".into()),
            index_dir: Some("/data/acct".into()),
        })]
    );
    assert!(app.save_prompt().is_none());
    app.handle(AppEvent::Worker(Event::SaveProgress {
        id: 1,
        done: 0,
        total: 1,
        bytes: 40,
        total_bytes: 100,
    }));
    assert_eq!(app.save_running().unwrap().bytes, 40);
    let e = app.handle(done(SaveOutcome {
        id: 1,
        saved: vec![cursor.clone()],
        durable: vec![cursor.clone()],
        bytes: 100,
        ..Default::default()
    }));
    // Marked through d's path: a pending mark, sent as d sends it.
    assert_eq!(requests(&e), vec![Request::Mark(cursor.clone())]);
    assert_eq!(app.mark_state(&cursor), Some(MarkState::Marking));
    assert!(app.save_running().is_none());
    let n = app.notice().unwrap();
    assert!(
        n.contains("saved 1 to /m/inbox") && n.contains("marked"),
        "{n}"
    );
    // The next prompt offers the mailbox used last.
    app.handle(k('j'));
    app.handle(k('C'));
    assert_eq!(prompt_text(&app), "/m/inbox");
}

#[test]
fn copy_never_marks_and_a_failed_or_unchecked_copy_is_never_marked() {
    let mut app = app_with(None);
    let cursor = app.cursor_key().cloned().unwrap();
    app.handle(k('C'));
    assert_eq!(prompt_text(&app), "", "no save_to: no default");
    typed(&mut app, "/m/box");
    app.handle(code(KeyCode::Enter));
    let e = app.handle(probed("/m/box", "/m/box", Found::Entry(EntryKind::File)));
    let req = one_save(&e);
    assert_eq!(req.dest, Destination::Mbox("/m/box".into()));
    let e = app.handle(done(SaveOutcome {
        id: req.id,
        saved: vec![cursor.clone()],
        durable: vec![cursor.clone()],
        ..Default::default()
    }));
    assert!(requests(&e).is_empty(), "a copy marks nothing");
    // A move whose copies failed, or were saved but not checked: no mark.
    app.handle(code(KeyCode::Char('t')));
    app.handle(code(KeyCode::Char('t')));
    app.handle(k(';'));
    app.handle(k('s'));
    app.handle(code(KeyCode::Enter));
    let e = app.handle(probed("/m/box", "/m/box", Found::Entry(EntryKind::File)));
    let req = one_save(&e);
    assert_eq!(req.keys.len(), 2, "the tagged messages");
    let e = app.handle(done(SaveOutcome {
        id: req.id,
        saved: vec![req.keys[0].clone()],
        durable: vec![],
        failed: vec![(req.keys[1].clone(), "disk full".into())],
        ..Default::default()
    }));
    assert!(requests(&e).is_empty(), "{:?}", requests(&e));
    let err = app.error().expect("the failure is shown").message.clone();
    assert!(err.contains("1 failed: disk full"), "{err}");
}

#[test]
fn a_new_mailbox_asks_maildir_or_mbox_and_another_key_cancels() {
    let mut app = app_with(None);
    app.handle(k('s'));
    typed(&mut app, "~/Mail/new");
    app.handle(code(KeyCode::Enter));
    app.handle(probed("~/Mail/new", "/home/a/Mail/new", Found::Missing));
    assert_eq!(
        app.save_prompt().unwrap().create,
        Some(PathBuf::from("/home/a/Mail/new"))
    );
    let e = app.handle(k('b'));
    let req = one_save(&e);
    assert_eq!(req.dest, Destination::Mbox("/home/a/Mail/new".into()));
    app.handle(done(SaveOutcome {
        id: req.id,
        ..Default::default()
    }));
    // Again, and cancel at the question: nothing is sent.
    app.handle(k('C'));
    app.handle(code(KeyCode::Enter));
    app.handle(probed("~/Mail/new", "/x/y", Found::Missing));
    let e = app.handle(k('x'));
    assert!(requests(&e).is_empty());
    assert!(app.save_prompt().is_none());
    assert_eq!(app.notice(), Some("nothing saved"));
    // A folder that is not a Maildir is refused with words; Esc cancels.
    app.handle(k('s'));
    app.handle(code(KeyCode::Enter));
    app.handle(probed("~/Mail/new", "/x", Found::Entry(EntryKind::Dir)));
    let err = app.save_prompt().unwrap().error.clone().unwrap();
    assert!(err.contains("not a Maildir"), "{err}");
    let e = app.handle(code(KeyCode::Esc));
    assert!(requests(&e).is_empty());
    assert!(app.save_prompt().is_none());
}

#[test]
fn the_configured_save_to_is_created_with_its_own_kind_unasked() {
    let mut app = app_with(Some(Destination::Maildir("/m/new".into())));
    app.handle(k('s'));
    app.handle(code(KeyCode::Enter));
    let e = app.handle(probed("/m/new", "/m/new", Found::Missing));
    let req = one_save(&e);
    assert_eq!(req.dest, Destination::Maildir("/m/new".into()));
}

#[test]
fn tab_completes_from_the_listing_the_terminal_loop_reads() {
    let mut app = app_with(None);
    app.handle(k('s'));
    typed(&mut app, "~/Ma");
    let e = app.handle(code(KeyCode::Tab));
    assert_eq!(
        queries(&e),
        vec![MailboxQuery::List {
            text: "~/Ma".into()
        }]
    );
    let entries = vec![
        DirEntry {
            name: "Mail".into(),
            kind: EntryKind::Dir,
        },
        DirEntry {
            name: "Maildir".into(),
            kind: EntryKind::Maildir,
        },
    ];
    app.handle(AppEvent::Mailbox(MailboxAnswer::Listing {
        text: "~/Ma".into(),
        entries: entries.clone(),
    }));
    assert_eq!(prompt_text(&app), "~/Mail");
    assert_eq!(
        app.save_prompt().unwrap().candidates,
        vec!["Mail/", "Maildir"]
    );
    // A Maildir completes as a mailbox (no slash to descend into).
    typed(&mut app, "~/Maild");
    app.handle(code(KeyCode::Tab));
    app.handle(AppEvent::Mailbox(MailboxAnswer::Listing {
        text: "~/Maild".into(),
        entries: entries.clone(),
    }));
    assert_eq!(prompt_text(&app), "~/Maildir");
    // An answer for a line typed on since is dropped.
    app.handle(AppEvent::Mailbox(MailboxAnswer::Listing {
        text: "~/M".into(),
        entries,
    }));
    assert_eq!(prompt_text(&app), "~/Maildir");
}

#[test]
fn esc_stops_a_running_save_and_a_second_save_waits() {
    let mut app = app_with(Some(Destination::Maildir("/m".into())));
    app.handle(k('s'));
    app.handle(code(KeyCode::Enter));
    app.handle(probed("/m", "/m", Found::Entry(EntryKind::Maildir)));
    assert!(app.save_running().is_some());
    app.handle(k('s'));
    assert!(app.save_prompt().is_none(), "one save at a time");
    // In the reader, Esc goes back (the save goes on); in the list it stops.
    app.handle(code(KeyCode::Enter));
    let e = app.handle(code(KeyCode::Esc));
    assert!(!requests(&e).contains(&Request::StopSave));
    assert!(app.reader().is_none());
    let e = app.handle(code(KeyCode::Esc));
    assert_eq!(requests(&e), vec![Request::StopSave]);
    assert!(app.save_running().unwrap().stopping);
    app.handle(done(SaveOutcome {
        id: 1,
        not_reached: 1,
        stopped: true,
        ..Default::default()
    }));
    let n = app.notice().unwrap();
    assert!(n.contains("1 not saved (stopped)"), "{n}");
    assert!(app.save_running().is_none());
}

#[test]
fn the_attachment_prompt_saves_where_the_user_says() {
    let mut app = app_with(None);
    app.handle(code(KeyCode::Enter));
    let mut v = MessageView {
        body: "hi".into(),
        raw: b"Subject: x\r\n\r\nhi\r\n".to_vec(),
        ..Default::default()
    };
    v.attachments.push(popview::mail::Attachment::held(
        "../r\u{7}eport.pdf".into(),
        "application/pdf".into(),
        vec![7],
    ));
    let key = app.reader().unwrap().key.clone();
    app.handle(popview::app::prepare(Event::Message {
        ticket: 1,
        key,
        view: Box::new(v),
    }));
    let e = app.handle(k('s'));
    assert!(saves(&e).is_empty());
    assert_eq!(app.save_prompt().unwrap().purpose, SavePurpose::Attachment);
    assert_eq!(prompt_text(&app), "/dl/report.pdf");
    // Into a folder: the attachment's own name.
    typed(&mut app, "~/docs");
    let e = app.handle(code(KeyCode::Enter));
    assert_eq!(
        queries(&e),
        vec![MailboxQuery::Probe {
            text: "~/docs".into()
        }]
    );
    let e = app.handle(probed(
        "~/docs",
        "/home/a/docs",
        Found::Entry(EntryKind::Dir),
    ));
    let jobs = saves(&e);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].dir, PathBuf::from("/home/a/docs"));
    assert_eq!(jobs[0].name, "report.pdf");
    // Under a new name; an existing file is not overwritten (the job picks
    // a free name beside it, as always).
    app.handle(k('s'));
    assert_eq!(prompt_text(&app), "/dl/report.pdf");
    typed(&mut app, "/tmp/q.pdf");
    assert_eq!(prompt_text(&app), "/tmp/q.pdf");
    app.handle(code(KeyCode::Enter));
    let e = app.handle(probed(
        "/tmp/q.pdf",
        "/tmp/q.pdf",
        Found::Entry(EntryKind::File),
    ));
    let jobs = saves(&e);
    assert_eq!(
        (jobs[0].dir.clone(), jobs[0].name.clone()),
        ("/tmp".into(), "q.pdf".into())
    );
    // Tab in the reader then selects the whole message: `s` asks for a
    // mailbox, even from there.
    app.handle(code(KeyCode::Tab));
    app.handle(k('s'));
    assert_eq!(app.save_prompt().unwrap().purpose, SavePurpose::Move);
}

/// The screen as text, drawn by `popview::ui::draw` at 100x30.
fn screen(app: &App) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    t.draw(|f| popview::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

#[test]
fn the_status_line_shows_the_prompt_the_question_and_the_progress() {
    let mut app = app_with(Some(Destination::Maildir("/m/inbox".into())));
    app.handle(k('s'));
    let sc = screen(&app);
    assert!(sc.contains("Save to mailbox: /m/inbox▏"), "{sc}");
    assert!(sc.contains("tab completes"), "{sc}");
    typed(&mut app, "/m/other");
    app.handle(code(KeyCode::Enter));
    app.handle(probed("/m/other", "/m/other", Found::Missing));
    let sc = screen(&app);
    assert!(
        sc.contains("Create mailbox /m/other? (Maildir: m / mbox: b"),
        "{sc}"
    );
    app.handle(k('m'));
    app.handle(AppEvent::Worker(Event::SaveProgress {
        id: 1,
        done: 1,
        total: 1,
        bytes: 2048,
        total_bytes: 4096,
    }));
    let sc = screen(&app);
    assert!(sc.contains("saving 1/1 2.0K"), "{sc}");
}
