//! Triage on the app state, pure: mutt's pattern commands (`D`, `U`, `l`,
//! `T`, `t`, `;`), the question before every bulk change, `z` undoing the
//! last one, the review of the marks, `~N` and the pattern history.

#[path = "support/app.rs"]
mod app_support;
use app_support::{NOW, code, k, key_of, requests};

use crossterm::event::KeyCode;
use popview::app::{App, AppEvent, AppOptions, Dialog, Effect, Screen};
use popview::mail::{HeaderSummary, MailDate};
use popview::worker::api::{Event, ListEntry, Request};

/// Type `text` and press Enter; the requests of the Enter.
fn type_line(app: &mut App, text: &str) -> Vec<Request> {
    for c in text.chars() {
        let ev = if c == ' ' { k(' ') } else { k(c) };
        assert!(requests(app.handle(ev)).is_empty(), "typing sends nothing");
    }
    requests(app.handle(code(KeyCode::Enter)))
}

/// Messages 1..=n from senders by `sender(i)`, sizes `size(i)`, dated a
/// day apart back from NOW.
fn mailbox(n: u32, sender: impl Fn(u32) -> &'static str, size: impl Fn(u32) -> u64) -> App {
    let mut app = App::new(AppOptions {
        account_label: "alice".into(),
        big_message_threshold: u64::MAX,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=n)
            .map(|i| ListEntry {
                key: key_of(i),
                size: size(i),
            })
            .collect(),
        no_uidl_reason: None,
    }));
    let batch = (1..=n)
        .map(|i| {
            let name = sender(i);
            let h = HeaderSummary {
                from_name: name.to_string(),
                from_addr: format!("{}@{}.example", name.to_lowercase(), name.to_lowercase()),
                subject: format!("report {i}"),
                date: Some(MailDate {
                    unix: NOW - 86_400 * i64::from(i),
                    tz_offset_minutes: 0,
                }),
                message_id: format!("<{i}@x>"),
                ..Default::default()
            };
            (key_of(i), h)
        })
        .collect();
    app.handle(AppEvent::Worker(Event::Previews(batch)));
    app.handle(AppEvent::Tick);
    app
}

fn jenkins_every_third(i: u32) -> &'static str {
    if i.is_multiple_of(3) {
        "Jenkins"
    } else {
        "Łukasz"
    }
}

fn marked(reqs: &[Request]) -> Vec<u32> {
    let mut v: Vec<u32> = reqs
        .iter()
        .filter_map(|r| match r {
            Request::Mark(k) => Some(k.number),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn unmarked(reqs: &[Request]) -> Vec<u32> {
    let mut v: Vec<u32> = reqs
        .iter()
        .filter_map(|r| match r {
            Request::Unmark(k) => Some(k.number),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

#[test]
fn d_pattern_shows_count_and_size_then_marks_exactly_the_matches() {
    let mut app = mailbox(12, jenkins_every_third, |i| 1000 * u64::from(i));
    assert!(requests(app.handle(k('D'))).is_empty());
    assert!(app.prompt().is_some());
    // Enter asks first: nothing is sent yet.
    assert!(type_line(&mut app, "~f jenkins").is_empty());
    let Some(Dialog::Bulk(plan)) = app.dialog() else {
        panic!("no question: {:?}", app.dialog())
    };
    assert_eq!(plan.change.marked.len(), 4);
    assert_eq!(plan.mark_bytes, 3000 + 6000 + 9000 + 12000);
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![3, 6, 9, 12]);
    assert_eq!(app.marked_count(), 4);
}

#[test]
fn n_at_the_question_changes_nothing() {
    let mut app = mailbox(6, jenkins_every_third, |_| 10);
    app.handle(k('D'));
    type_line(&mut app, "~A");
    assert!(requests(app.handle(k('n'))).is_empty());
    assert_eq!(app.marked_count(), 0);
    assert!(app.dialog().is_none());
}

#[test]
fn a_bare_word_folds_diacritics_and_sizes_use_k_and_m() {
    let mut app = mailbox(6, jenkins_every_third, |i| u64::from(i) * 1024 * 1024);
    app.handle(k('D'));
    type_line(&mut app, "lukasz ~z >3M");
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![4, 5]);
}

#[test]
fn a_pattern_error_names_the_column_and_keeps_the_line() {
    let mut app = mailbox(3, jenkins_every_third, |_| 10);
    app.handle(k('D'));
    assert!(type_line(&mut app, "~z >1Q").is_empty());
    let p = app.prompt().expect("the prompt stays open");
    let e = p.error.as_deref().expect("an error is shown");
    assert!(e.contains("column") && e.contains('Q'), "{e}");
    assert_eq!(p.editor.text(), "~z >1Q");
    assert!(app.dialog().is_none());
    app.handle(code(KeyCode::Esc));
    assert!(app.prompt().is_none());
}

#[test]
fn d_never_marks_what_the_limit_hides_and_the_review_lists_hidden_marks() {
    let mut app = mailbox(9, jenkins_every_third, |_| 100);
    // Mark 1 by hand, then limit to Jenkins.
    app.handle(code(KeyCode::End));
    let first = app.cursor_key().cloned().unwrap();
    requests(app.handle(k('d')));
    app.handle(k('l'));
    type_line(&mut app, "~f jenkins");
    assert_eq!(app.view_len(), 3);
    assert_eq!(app.limit_text(), Some("~f jenkins"));
    // ~A under a limit: only the three shown.
    app.handle(k('D'));
    type_line(&mut app, "~A");
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![3, 6, 9]);
    // The review shows all four marks, one of them hidden by the limit.
    app.handle(k('M'));
    assert_eq!(app.screen(), Screen::Review);
    let reviewed: Vec<u32> = app.review_rows().iter().map(|r| r.key.number).collect();
    assert_eq!(reviewed.len(), 4);
    assert!(reviewed.contains(&first.number));
    // u there undoes the mark under its cursor.
    let at = app.review_rows()[0].key.clone();
    let reqs = requests(app.handle(k('u')));
    assert_eq!(reqs, vec![Request::Unmark(at)]);
    app.handle(code(KeyCode::Esc));
    assert_eq!(app.screen(), Screen::List);
    // l with an empty pattern lifts the limit.
    app.handle(k('l'));
    type_line(&mut app, "");
    assert_eq!(app.view_len(), 9);
    assert_eq!(app.limit_text(), None);
}

#[test]
fn u_pattern_undoes_matching_marks_and_empty_u_undoes_all() {
    let mut app = mailbox(6, jenkins_every_third, |_| 100);
    app.handle(k('D'));
    type_line(&mut app, "~A");
    requests(app.handle(k('y')));
    assert_eq!(app.marked_count(), 6);
    app.handle(k('U'));
    type_line(&mut app, "~f jenkins");
    let reqs = requests(app.handle(k('y')));
    assert_eq!(unmarked(&reqs), vec![3, 6]);
    assert_eq!(app.marked_count(), 4);
    app.handle(k('U'));
    assert!(type_line(&mut app, "").is_empty(), "more than one: asks");
    assert!(matches!(app.dialog(), Some(Dialog::UnmarkAll(_))));
    assert_eq!(requests(app.handle(k('y'))), vec![Request::UnmarkAll]);
}

#[test]
fn z_undoes_the_last_bulk_change_exactly() {
    let mut app = mailbox(9, jenkins_every_third, |_| 100);
    app.handle(k('d')); // message 9 (newest first), by hand
    app.handle(k('D'));
    type_line(&mut app, "~z 100");
    let reqs = requests(app.handle(k('y')));
    assert_eq!(
        marked(&reqs).len(),
        8,
        "the one marked by hand is not marked again"
    );
    app.handle(k('z'));
    assert!(matches!(app.dialog(), Some(Dialog::Bulk(p)) if p.change.unmarked.len() == 8));
    let reqs = requests(app.handle(k('y')));
    assert_eq!(unmarked(&reqs).len(), 8);
    assert_eq!(app.marked_count(), 1, "the hand-made mark stays");
    // Nothing more to undo.
    app.handle(k('z'));
    assert!(app.dialog().is_none());
    assert!(app.notice().unwrap().contains("no bulk change"));
}

#[test]
fn tags_and_semicolon_apply_a_command_to_the_tagged() {
    let mut app = mailbox(6, jenkins_every_third, |_| 100);
    app.handle(k('t'));
    app.handle(k('t'));
    assert_eq!(app.tagged_count(), 2);
    app.handle(k('T'));
    type_line(&mut app, "~f jenkins");
    assert_eq!(app.tagged_count(), 3, "6 was tagged by t already; 3 joins");
    app.handle(k(';'));
    assert!(app.tag_prefix());
    app.handle(k('d'));
    let Some(Dialog::Bulk(p)) = app.dialog() else {
        panic!("no question")
    };
    assert_eq!(p.change.marked.len(), 3);
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![3, 5, 6]);
    // ;t untags them all.
    app.handle(k(';'));
    app.handle(k('t'));
    assert_eq!(app.tagged_count(), 0);
}

#[test]
fn unseen_messages_are_new_for_tilde_n() {
    let mut app = mailbox(5, jenkins_every_third, |_| 100);
    app.handle(AppEvent::Worker(Event::Unseen(vec![key_of(4), key_of(5)])));
    app.handle(k('l'));
    type_line(&mut app, "~N");
    assert_eq!(app.view_len(), 2);
}

#[test]
fn the_quit_question_offers_the_review() {
    let mut app = mailbox(3, jenkins_every_third, |_| 100);
    app.handle(k('d'));
    app.handle(k('q'));
    assert!(matches!(app.dialog(), Some(Dialog::Quit(_))));
    assert!(requests(app.handle(k('r'))).is_empty());
    assert_eq!(app.screen(), Screen::Review);
    assert_eq!(app.review_rows().len(), 1);
}

#[test]
fn patterns_go_to_the_history_and_come_back_with_up() {
    let mut app = mailbox(3, jenkins_every_third, |_| 100);
    app.handle(k('l'));
    for c in "~s report".chars() {
        app.handle(k(c));
    }
    let effects = app.handle(code(KeyCode::Enter));
    let saved = effects.iter().find_map(|e| match e {
        Effect::SaveHistory(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(saved, Some(vec!["~s report".to_string()]));
    app.handle(k('D'));
    app.handle(code(KeyCode::Up));
    assert_eq!(app.prompt().unwrap().editor.text(), "~s report");
}

#[test]
fn a_history_from_disk_is_offered_by_up() {
    let mut app = App::new(AppOptions {
        pattern_history: vec!["~z >1M".into()],
        ..Default::default()
    });
    app.handle(AppEvent::Resize(80, 24));
    app.handle(k('D'));
    app.handle(code(KeyCode::Up));
    assert_eq!(app.prompt().unwrap().editor.text(), "~z >1M");
}

fn with_rules(n: u32, rules: &[(&str, &str)]) -> App {
    let mut app = App::new(AppOptions {
        account_label: "alice".into(),
        big_message_threshold: u64::MAX,
        rules: rules
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(100, 30));
    let donor = mailbox(n, jenkins_every_third, |i| 1000 * u64::from(i));
    // The same listing and previews, then the worker's "all previews in".
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=n)
            .map(|i| ListEntry {
                key: key_of(i),
                size: 1000 * u64::from(i),
            })
            .collect(),
        no_uidl_reason: None,
    }));
    assert!(app.dialog().is_none(), "no proposal before the previews");
    let batch = donor
        .rows()
        .iter()
        .map(|r| {
            let h = HeaderSummary {
                from_name: r.info.as_ref().unwrap().sender.clone(),
                from_addr: format!("{}@x.example", r.info.as_ref().unwrap().sender),
                subject: r.info.as_ref().unwrap().subject.clone(),
                ..Default::default()
            };
            (r.key.clone(), h)
        })
        .collect();
    app.handle(AppEvent::Worker(Event::Previews(batch)));
    app.handle(AppEvent::Worker(Event::Progress {
        done: n as usize,
        total: n as usize,
        bytes: 0,
    }));
    app
}

#[test]
fn rules_propose_marks_and_mark_nothing_until_applied() {
    let mut app = with_rules(9, &[("ci", "~f jenkins"), ("big", "~z >7K")]);
    let Some(Dialog::Rules(r)) = app.dialog() else {
        panic!("no proposal: {:?}", app.dialog())
    };
    assert_eq!(
        r.per_rule,
        vec![("ci".to_string(), 3), ("big".to_string(), 2)]
    );
    assert_eq!(r.plan.change.marked.len(), 4, "9 matches both rules: once");
    assert_eq!(app.marked_count(), 0, "nothing marked yet");
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![3, 6, 8, 9]);
    // One undoable step.
    app.handle(k('z'));
    assert!(matches!(app.dialog(), Some(Dialog::Bulk(p)) if p.change.unmarked.len() == 4));
}

#[test]
fn a_dismissed_proposal_marks_nothing_and_v_shows_the_matches() {
    let mut app = with_rules(9, &[("ci", "~f jenkins")]);
    assert!(requests(app.handle(k('n'))).is_empty());
    assert_eq!(app.marked_count(), 0);
    assert!(app.dialog().is_none());
    let mut app = with_rules(9, &[("ci", "~f jenkins")]);
    let reqs = requests(app.handle(k('v')));
    assert!(marked(&reqs).is_empty(), "{reqs:?}");
    assert_eq!(app.view_len(), 3);
    assert_eq!(app.marked_count(), 0);
}

#[test]
fn mpops_filter_feeds_the_same_proposal_and_marks_nothing_unasked() {
    let mut app = App::new(AppOptions {
        big_message_threshold: u64::MAX,
        filter_command: Some("my-filter".into()),
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=3)
            .map(|i| ListEntry {
                key: key_of(i),
                size: 100,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Previews(
        (1..=3)
            .map(|i| {
                let h = HeaderSummary {
                    from_name: format!("Sender {i}"),
                    headers: format!("From: Sender {i} <s{i}@x.example>"),
                    ..Default::default()
                };
                (key_of(i), h)
            })
            .collect(),
    )));
    let effects = app.handle(AppEvent::Worker(Event::Progress {
        done: 3,
        total: 3,
        bytes: 0,
    }));
    let job = effects
        .into_iter()
        .find_map(|e| match e {
            Effect::Filter(job) => Some(job),
            _ => None,
        })
        .expect("the filter is asked for");
    assert_eq!(job.command, "my-filter");
    assert_eq!(job.messages.len(), 3);
    assert!(
        job.messages[0].1.contains("From: Sender"),
        "{:?}",
        job.messages[0]
    );
    assert!(app.dialog().is_none(), "no proposal before the verdicts");
    app.handle(AppEvent::Filtered(popview::app::FilterVerdicts {
        delete: vec![key_of(2)],
        error: None,
    }));
    let Some(Dialog::Rules(r)) = app.dialog() else {
        panic!("no proposal: {:?}", app.dialog())
    };
    assert_eq!(r.per_rule, vec![("filter_command".to_string(), 1)]);
    assert_eq!(app.marked_count(), 0);
    let reqs = requests(app.handle(k('y')));
    assert_eq!(marked(&reqs), vec![2]);
}
