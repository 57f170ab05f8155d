//! Faults on the real server: a bounded, seeded loop. Each iteration gets a
//! fresh mailbox (its own Dovecot user with 12 messages) and runs a session
//! script (mark, undo one, undo all, read, then commit, commit-now or
//! discard) through a proxy in front of Dovecot's POP3S port that kills the
//! connection one or more times: at a random server byte count armed at the
//! start, between steps, and at a random byte count armed just before the
//! commit (which can land inside the DELE replay, or inside the answer to
//! QUIT).
//!
//! After each run an independent POP3S session checks the server against an
//! oracle built from the script alone:
//! - never a deletion the user didn't commit: an unmarked message is always
//!   present, and a run the worker reports as not committed deleted nothing,
//! - never a committed deletion lost: a confirmed commit deleted exactly
//!   the marks,
//! - the legitimate ambiguity: if the cut lands after QUIT was sent but
//!   before its `+OK` arrived, the worker says the commit was not confirmed
//!   and, since the user asked to delete and quit, commits again on a new
//!   session: the messages the first QUIT did delete are named in
//!   `Committed { already_gone }`, the others are deleted then, and exactly
//!   the unmarked messages remain.
//! - when no commit could be confirmed at all, the server holds either all
//!   the marked messages (QUIT never processed) or none of them (it was):
//!   never some. A follow-up session with the same on-disk state must
//!   restore the marks, re-apply those still present, and name the others
//!   in `Committed { already_gone }`; after its commit exactly the unmarked
//!   messages remain.
//!
//! Seeds are fixed ([`SEEDS`]); every iteration's script, faults and outcome
//! are printed when any iteration fails.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use popview::pop3::TlsMode;
use popview::worker::api::{Event, MsgKey, Request};

use support::dovecot::{Dovecot, DovecotOptions, ExtraUser, generated_messages};
use support::proxy::Proxy;
use support::worker::{Dirs, Harness, dovecot_config, proxied_config, server_uidls_of, uids_of};

/// One per iteration.
const SEEDS: [u64; 25] = [
    0x0001,
    0x00c0_ffee,
    0x0bad_cafe,
    0x1234_5678,
    0x2718_2818,
    0x3141_5926,
    0x4242_4242,
    0x5eed_0001,
    0x5eed_0002,
    0x5eed_0003,
    0x6502_6502,
    0x7fff_ffff,
    0x8086_8086,
    0x9999_0000,
    0xa5a5_a5a5,
    0xbeef_0001,
    0xc0de_c0de,
    0xd00d_d00d,
    0xdead_beef,
    0xe1e1_0042,
    0xf00d_f00d,
    0x0f0f_0f0f,
    0x1357_9bdf,
    0x2468_ace0,
    0xfeed_face,
];
const MSGS: usize = 12;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick(&mut self, set: &BTreeSet<usize>) -> Option<usize> {
        if set.is_empty() {
            return None;
        }
        set.iter()
            .nth(self.below(set.len() as u64) as usize)
            .copied()
    }
}

#[derive(Debug, Clone)]
enum Step {
    Mark(usize),
    Unmark(usize),
    UnmarkAll,
    Read(usize),
    /// `Proxy::cut_all` after this many milliseconds.
    Cut(u64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Commit,
    /// `CommitNow`, wait for the next session, then quit discarding.
    CommitNowThenDiscard,
    Discard,
}

#[derive(Debug)]
struct Script {
    /// `cut_after_server_bytes` armed before the worker starts.
    first_cut: Option<u64>,
    steps: Vec<Step>,
    /// `cut_after_server_bytes` armed just before the final request.
    end_cut: Option<u64>,
    end: End,
}

fn script(seed: u64) -> Script {
    let mut rng = Rng(seed);
    let mut marked = BTreeSet::new();
    let mut unmarked: BTreeSet<usize> = (0..MSGS).collect();
    let mut steps = Vec::new();
    for _ in 0..4 + rng.below(6) {
        let r = rng.below(100);
        let step = if r < 45 && !unmarked.is_empty() {
            let i = rng.pick(&unmarked).unwrap();
            Step::Mark(i)
        } else if r < 65 && !marked.is_empty() {
            Step::Unmark(rng.pick(&marked).unwrap())
        } else if r < 72 && !marked.is_empty() {
            Step::UnmarkAll
        } else if r < 88 && !unmarked.is_empty() {
            Step::Read(rng.pick(&unmarked).unwrap())
        } else {
            Step::Cut(rng.below(30))
        };
        match &step {
            Step::Mark(i) => {
                marked.insert(*i);
                unmarked.remove(i);
            }
            Step::Unmark(i) => {
                marked.remove(i);
                unmarked.insert(*i);
            }
            Step::UnmarkAll => {
                unmarked.extend(std::mem::take(&mut marked));
            }
            _ => {}
        }
        steps.push(step);
        if rng.below(4) == 0 {
            steps.push(Step::Cut(rng.below(30)));
        }
    }
    // Make sure the user has something to commit most of the time.
    if marked.is_empty()
        && let Some(i) = rng.pick(&unmarked)
    {
        steps.push(Step::Mark(i));
    }
    let mut first_cut = (rng.below(10) < 6).then(|| rng.below(30_000));
    let end_cut = (rng.below(10) < 6).then(|| rng.below(400));
    let end = match rng.below(20) {
        0..=2 => End::Discard,
        3..=5 => End::CommitNowThenDiscard,
        _ => End::Commit,
    };
    let any_cut =
        first_cut.is_some() || end_cut.is_some() || steps.iter().any(|s| matches!(s, Step::Cut(_)));
    if !any_cut {
        first_cut = Some(rng.below(30_000));
    }
    Script {
        first_cut,
        steps,
        end_cut,
        end,
    }
}

fn uid(i: usize) -> String {
    Dovecot::expected_uidl(i as u32 + 1)
}

fn set_of(ix: &BTreeSet<usize>) -> Vec<String> {
    ix.iter().map(|&i| uid(i)).collect()
}

fn user(k: usize) -> (String, String) {
    (format!("f{k:02}"), format!("pw-f{k:02}-x"))
}

fn wait_marks(h: &mut Harness, intent: &BTreeSet<usize>) {
    let want = set_of(intent);
    h.wait(&format!("marks {want:?}"), |e| match e {
        Event::Marks { marked, .. } => uids_of(marked) == want,
        _ => false,
    });
}

fn keys_from(entries: &[MsgKey]) -> Vec<MsgKey> {
    entries.to_vec()
}

fn says_unconfirmed(seen: &[Event]) -> bool {
    seen.iter().any(|e| match e {
        Event::Error(w) => w.message.contains("did not confirm"),
        Event::Reconnecting { reason, .. } => reason.contains("did not confirm"),
        _ => false,
    })
}

/// One commit, confirmed, covering every mark: deleted then, or, when a
/// cut lost the answer to a QUIT the server did process and the worker
/// committed again on a new session, named as already gone.
fn check_one_commit(
    confirmed: &[(usize, Vec<String>)],
    intent: &BTreeSet<usize>,
    unconfirmed: bool,
) {
    let [(deleted, already_gone)] = confirmed else {
        panic!("not exactly one Committed: {confirmed:?}");
    };
    assert_eq!(deleted + already_gone.len(), intent.len(), "{confirmed:?}");
    assert!(
        already_gone.iter().all(|u| set_of(intent).contains(u)),
        "named gone but not marked: {already_gone:?}"
    );
    assert!(
        already_gone.is_empty() || unconfirmed,
        "already gone without a lost QUIT answer: {already_gone:?}"
    );
}

fn count_cuts(seen: &[Event]) -> usize {
    seen.iter()
        .filter(|e| matches!(e, Event::Reconnecting { .. }))
        .count()
}

fn run_iteration(d: &Dovecot, k: usize, seed: u64, out: &mut String) {
    let sc = script(seed);
    let (name, password) = user(k);
    let all: Vec<String> = Dovecot::expected_uidls(MSGS);
    writeln!(out, "  script: {sc:?}").unwrap();
    let proxy = Proxy::start(d.tls_addr());
    let mut cfg = proxied_config(d, &proxy, TlsMode::Implicit);
    cfg.user = name.clone();
    cfg.password = Some(password.clone().into());
    let dirs = Dirs::new();
    if let Some(n) = sc.first_cut {
        proxy.cut_after_server_bytes(n);
    }
    let mut h = Harness::start(cfg, dirs.persist());
    let keys = keys_from(&h.listing());
    assert_eq!(uids_of(&keys), all);
    let mut intent = BTreeSet::new();
    let mut ticket = 0;
    for step in &sc.steps {
        match step {
            Step::Mark(i) => {
                intent.insert(*i);
                h.send(Request::Mark(keys[*i].clone()));
                wait_marks(&mut h, &intent);
            }
            Step::Unmark(i) => {
                intent.remove(i);
                h.send(Request::Unmark(keys[*i].clone()));
                wait_marks(&mut h, &intent);
            }
            Step::UnmarkAll => {
                intent.clear();
                h.send(Request::UnmarkAll);
                wait_marks(&mut h, &intent);
            }
            Step::Read(i) => {
                ticket += 1;
                h.send(Request::Retrieve {
                    ticket,
                    key: keys[*i].clone(),
                });
                let t = ticket;
                h.wait(
                    &format!("message ticket {t}"),
                    |e| matches!(e, Event::Message { ticket, .. } if *ticket == t),
                );
            }
            Step::Cut(ms) => {
                std::thread::sleep(Duration::from_millis(*ms));
                proxy.cut_all();
            }
        }
    }
    let first_cut_fired = sc.first_cut.is_some() && !proxy.cut_pending();
    if let Some(n) = sc.end_cut {
        proxy.cut_after_server_bytes(n);
    }
    let seen = match sc.end {
        End::Commit => h.quit(true),
        End::Discard => h.quit(false),
        End::CommitNowThenDiscard => {
            h.send(Request::CommitNow);
            let before = h.seen.len();
            // Whatever happened to the commit, a new session follows (a
            // fresh one after success, a reconnect after a loss).
            h.wait("listing after commit-now", |e| {
                matches!(e, Event::Listing { .. })
            });
            assert!(h.seen.len() > before);
            h.quit(false)
        }
    };
    let end_cut_fired = sc.end_cut.is_some() && !proxy.cut_pending();
    let confirmed: Vec<(usize, Vec<String>)> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Committed {
                deleted,
                already_gone,
            } => Some((*deleted, already_gone.clone())),
            _ => None,
        })
        .collect();
    let unconfirmed = says_unconfirmed(&seen);
    let closed_committed = seen
        .iter()
        .any(|e| matches!(e, Event::Closed { committed: true }));
    let server = server_uidls_of(d, &name, &password);
    let kept: Vec<String> = all
        .iter()
        .filter(|u| !set_of(&intent).contains(u))
        .cloned()
        .collect();
    write!(
        out,
        "  intent {:?}; {} reconnect(s); proxy connections {}; first cut fired {}, end cut fired {}; \
         confirmed {confirmed:?}; unconfirmed {unconfirmed}; closed committed {closed_committed}; \
         server has {} of {MSGS}",
        intent,
        count_cuts(&seen),
        proxy.connections(),
        first_cut_fired,
        end_cut_fired,
        server.len()
    )
    .unwrap();
    // Never a deletion the user didn't ask for: everything not marked at
    // the end is present, whatever happened.
    for u in &kept {
        assert!(server.contains(u), "unmarked {u} was deleted");
    }
    let marked_present: Vec<String> = set_of(&intent)
        .into_iter()
        .filter(|u| server.contains(u))
        .collect();
    let gone_now = intent.len() - marked_present.len();
    match sc.end {
        End::Discard => {
            assert!(confirmed.is_empty(), "a discard committed");
            assert_eq!(server, all, "a discard deleted something");
            assert!(dirs.marks().is_empty(), "discarded marks left on disk");
            writeln!(out, " => discarded, nothing deleted").unwrap();
        }
        End::CommitNowThenDiscard => {
            if !confirmed.is_empty() {
                check_one_commit(&confirmed, &intent, unconfirmed);
                assert_eq!(server, kept, "a confirmed commit-now lost a deletion");
                writeln!(out, " => commit-now confirmed").unwrap();
            } else if unconfirmed {
                assert!(
                    gone_now == 0 || gone_now == intent.len(),
                    "half a commit: {marked_present:?} of {intent:?} left"
                );
                writeln!(
                    out,
                    " => commit-now unconfirmed, server {}",
                    if gone_now == 0 {
                        "kept all"
                    } else {
                        "deleted all"
                    }
                )
                .unwrap();
            } else {
                assert_eq!(server, all, "a failed commit-now deleted something");
                writeln!(out, " => commit-now failed before QUIT, nothing deleted").unwrap();
            }
            assert!(dirs.marks().is_empty(), "discarded marks left on disk");
        }
        End::Commit => {
            if closed_committed {
                // One commit, confirmed. When a cut lost the answer to a
                // QUIT the server did process, the worker committed again
                // on a new session: those marks are named as already gone.
                check_one_commit(&confirmed, &intent, unconfirmed);
                assert_eq!(server, kept, "a confirmed commit lost a deletion");
                assert!(dirs.marks().is_empty(), "committed marks left on disk");
                writeln!(
                    out,
                    " => committed{}",
                    if unconfirmed {
                        " on a second session after the QUIT answer was lost"
                    } else {
                        ""
                    }
                )
                .unwrap();
                return;
            }
            assert!(confirmed.is_empty(), "Committed without Closed(committed)");
            if unconfirmed {
                assert!(
                    gone_now == 0 || gone_now == intent.len(),
                    "half a commit: {marked_present:?} of {intent:?} left"
                );
            } else {
                assert_eq!(server, all, "an unconfirmed commit deleted something");
            }
            assert_eq!(dirs.marks(), set_of(&intent), "marks not kept on disk");
            write!(
                out,
                " => not committed ({}), server {}; follow-up:",
                if unconfirmed {
                    "QUIT unconfirmed"
                } else {
                    "failed before QUIT"
                },
                if gone_now == 0 {
                    "kept all"
                } else {
                    "deleted all"
                }
            )
            .unwrap();
            // A follow-up session, straight to Dovecot, same on-disk state.
            let mut cfg = dovecot_config(d);
            cfg.user = name.clone();
            cfg.password = Some(password.clone().into());
            let mut h = Harness::start(cfg, dirs.persist());
            if !intent.is_empty() {
                let ev = h.wait("restored marks", |e| {
                    matches!(e, Event::Marks { restored: true, .. })
                });
                let Event::Marks { marked, .. } = ev else {
                    unreachable!()
                };
                assert_eq!(uids_of(&marked), set_of(&intent));
            }
            h.listing();
            // The first `Marks` after the listing: what this session applied.
            let ev = h.wait("re-applied marks", |e| matches!(e, Event::Marks { .. }));
            let Event::Marks { marked, .. } = ev else {
                unreachable!()
            };
            assert_eq!(uids_of(&marked), marked_present, "present marks re-applied");
            let seen = h.quit(true);
            let confirmed: Vec<(usize, Vec<String>)> = seen
                .iter()
                .filter_map(|e| match e {
                    Event::Committed {
                        deleted,
                        already_gone,
                    } => Some((*deleted, already_gone.clone())),
                    _ => None,
                })
                .collect();
            let mut gone: Vec<String> = set_of(&intent)
                .into_iter()
                .filter(|u| !marked_present.contains(u))
                .collect();
            gone.sort();
            assert_eq!(
                confirmed,
                vec![(marked_present.len(), gone)],
                "follow-up commit: deleted the present marks, named the gone ones"
            );
            assert_eq!(server_uidls_of(d, &name, &password), kept);
            assert!(dirs.marks().is_empty());
            writeln!(out, " committed").unwrap();
        }
    }
}

#[test]
fn seeded_cuts_never_delete_unasked_and_never_lose_a_commit() {
    let t0 = Instant::now();
    let msgs = generated_messages(MSGS);
    let users = (0..SEEDS.len())
        .map(|k| {
            let (name, password) = user(k);
            ExtraUser {
                name,
                password,
                messages: msgs.clone(),
            }
        })
        .collect();
    let d = Dovecot::start(DovecotOptions {
        extra_users: users,
        ..DovecotOptions::with_messages(Vec::new())
    });
    let mut report = String::new();
    let mut failed = Vec::new();
    for (k, &seed) in SEEDS.iter().enumerate() {
        let t = Instant::now();
        let mut out = String::new();
        let r = catch_unwind(AssertUnwindSafe(|| run_iteration(&d, k, seed, &mut out)));
        let status = match &r {
            Ok(()) => "ok".to_string(),
            Err(p) => {
                failed.push(seed);
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("FAILED: {msg}")
            }
        };
        writeln!(
            report,
            "iteration {k} seed {seed:#x} ({:?}): {status}\n{out}",
            t.elapsed()
        )
        .unwrap();
    }
    eprintln!("{report}total {:?}", t0.elapsed());
    assert!(
        failed.is_empty(),
        "failed seeds {failed:x?}:\n{report}\nDovecot log:\n{}",
        d.log_contents()
    );
}
