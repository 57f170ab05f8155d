//! The body cache against a real, private Dovecot (through the proxy, to
//! count the RETRs and cut one): a RETR cut midway is never cached, the
//! whole message fetched again is, a second open sends no RETR, and with
//! Dovecot gone the message still opens, byte for byte.

mod support;

use popview::pop3::TlsMode;
use popview::worker::api::{Event, MsgKey, Request};
use popview::worker::persist::OnDisk;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::proxy::{CutRule, Proxy};
use support::worker::{Dirs, Harness, proxied_config};

fn persist(dirs: &Dirs) -> Box<OnDisk> {
    let mut d = OnDisk::new(dirs.store(), true, true);
    d.bodies = Some(8 << 20);
    Box::new(d)
}

fn open(h: &mut Harness, ticket: u64, key: &MsgKey) -> Vec<u8> {
    h.send(Request::Retrieve {
        ticket,
        key: key.clone(),
    });
    match h.wait(
        "the message",
        |e| matches!(e, Event::Message { ticket: t, .. } | Event::ReadFailed { ticket: t, .. } if *t == ticket),
    ) {
        Event::Message { view, .. } => view.raw,
        other => panic!("not read: {other:?}"),
    }
}

#[test]
fn a_cut_retr_is_never_cached_and_the_whole_message_reads_offline() {
    let mut msgs = generated_messages(3);
    let mut big = b"From: Big <big@example.org>\r\nTo: alice@example.com\r\n\
                    Subject: big one\r\nMessage-ID: <big@pv.test>\r\n\r\n"
        .to_vec();
    while big.len() < 600_000 {
        big.extend_from_slice(b"0123456789 abcdefghijklmnopqrstuvwxyz\r\n.dot line\r\n");
    }
    msgs.push(big.clone());
    let d = Dovecot::start(DovecotOptions::with_messages(msgs));
    let proxy = Proxy::start(d.plain_addr());
    let dirs = Dirs::new();
    let cfg = proxied_config(&d, &proxy, TlsMode::None);
    let mut h = Harness::start(cfg.clone(), persist(&dirs));
    let keys = h.listing();
    h.previews_loaded();
    proxy.cut_on(CutRule::after_client_sends("RETR ", 200_000));
    let got = open(&mut h, 1, &keys[3]);
    assert_eq!(proxy.rules_fired(), 1);
    assert!(got == big, "the delivered message is whole");
    assert_eq!(
        proxy.count_client_lines("RETR "),
        2,
        "cut once, asked again"
    );
    // Again: from the cache, whole.
    assert!(open(&mut h, 2, &keys[3]) == big);
    assert_eq!(
        proxy.count_client_lines("RETR "),
        2,
        "the second open sent a RETR"
    );
    h.quit(false);

    // Dovecot and the proxy go away: the message still opens.
    drop(proxy);
    drop(d);
    let mut offline = cfg;
    offline.max_attempts = 2;
    let mut h = Harness::start(offline, persist(&dirs));
    assert!(open(&mut h, 3, &keys[3]) == big, "read offline, whole");
    h.crash();
}
