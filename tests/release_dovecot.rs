//! Letting go of an idle session (issue 12 §4) against a real Dovecot that
//! locks the maildrop for the whole session (`pop3_lock_session = yes`):
//! while popview holds its session a second client gets `[IN-USE]`; once
//! popview has released it, the second client gets in and finds nothing
//! deleted; a mark made while released is applied after the automatic
//! reconnect and committed on quit.

mod support;

use std::io::ErrorKind as IoKind;
use std::time::{Duration, Instant};

use popview::worker::api::{Event, Request};
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::rawpop;
use support::worker::{Harness, dovecot_config, summary};

type Mem = popview::worker::persist::Memory;

/// Dovecot holds a second login silent (about 13 s here) before it answers
/// `[IN-USE]`; popview's release must come after that check.
const RELEASE_AFTER: Duration = Duration::from_secs(25);

/// Another client logs in (USER/PASS on the plain port): `Ok(uidls)` when
/// it got in (it quits again), `Err(status line)` when refused.
fn second_client(d: &Dovecot) -> Result<Vec<String>, String> {
    let (mut s, _) = rawpop::connect_plain(d.plain_addr());
    s.ok(&format!("USER {}", d.user));
    s.send(&format!("PASS {}", d.password));
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match s.try_read_line() {
            Ok(Some(line)) => break line,
            Ok(None) => return Err("connection closed".into()),
            Err(e)
                if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut)
                    && Instant::now() < end => {}
            Err(e) => panic!("second client: {e}"),
        }
    };
    if !status.starts_with("+OK") {
        return Err(status);
    }
    let uidls = s.uidl();
    s.quit();
    Ok(uidls)
}

#[test]
fn released_lets_another_client_in_and_a_mark_made_meanwhile_is_committed() {
    let n = 6;
    let d = Dovecot::start(DovecotOptions {
        extra_config: "pop3_lock_session = yes\n".into(),
        ..DovecotOptions::with_messages(generated_messages(n))
    });
    let all = Dovecot::expected_uidls(n);
    let mut cfg = dovecot_config(&d);
    cfg.release_after = Some(RELEASE_AFTER);
    let started = Instant::now();
    let mut h = Harness::start(cfg, Box::new(Mem::default()));
    let keys = h.listing();
    h.previews_loaded();

    // Active: the maildrop is locked.
    let refused = second_client(&d).expect_err("a second login while popview is active");
    assert!(refused.contains("[IN-USE]"), "{refused}");
    assert!(
        !h.seen.iter().any(|e| matches!(e, Event::Released)),
        "released too early (after {:?}): the check above proves nothing",
        started.elapsed()
    );

    // Idle: released, and the other client gets in; nothing was deleted.
    h.try_wait(RELEASE_AFTER + Duration::from_secs(20), |e| {
        matches!(e, Event::Released)
    })
    .unwrap_or_else(|| panic!("never released: {}", summary(&h.seen)));
    assert_eq!(second_client(&d), Ok(all.clone()));

    // A mark while released: popview connects again by itself, applies it.
    h.send(Request::Mark(keys[3].clone()));
    h.marks_exactly(&[&all[3]]);
    h.wait("a new listing", |e| matches!(e, Event::Listing { .. }));
    h.wait(
        "reconnected",
        |e| matches!(e, Event::Reconnected { marks_reapplied } if *marks_reapplied == 1),
    );
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. })),
        "{}",
        summary(&seen)
    );
    let mut left = all.clone();
    left.remove(3);
    assert_eq!(d.uidls(), left);
}
