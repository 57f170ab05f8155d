//! Proves the test harness in `tests/support`: a private Dovecot over POP3S
//! and STLS (raw protocol, no popview code), the delaying/cutting proxy, the
//! raw benchmark baselines and the test certificates.

mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::certs::{CertKey, TestPki, sha256_fingerprint_hex};
use support::dovecot::{Dovecot, DovecotOptions, ExtraUser, generated_messages, virtual_size};
use support::proxy::Proxy;
use support::rawpop::{self, TerminatorCounter};

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{name}: ");
    lines.iter().find_map(|l| l.strip_prefix(prefix.as_str()))
}

#[test]
fn pop3s_and_stls_see_the_seeded_mailbox_and_dele_commits_at_quit() {
    let msgs = generated_messages(20);
    let dc = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    eprintln!("Dovecot ready in {:?}", dc.startup);
    let expected = Dovecot::expected_uidls(20);
    assert_eq!(expected[0], "000000016553f100");

    // POP3S, verified against the test CA.
    let mut s = dc.pop3s_session();
    assert_eq!(s.stat().0, 20);
    assert_eq!(s.uidl(), expected);
    // LIST sizes are CRLF sizes of what was seeded.
    let list = s.multi("LIST");
    assert_eq!(list.len(), 20);
    for (i, l) in list.iter().enumerate() {
        assert_eq!(l, &format!("{} {}", i + 1, virtual_size(&msgs[i])));
    }
    let top = s.multi("TOP 1 0");
    assert_eq!(
        top.last().map(String::as_str),
        Some(""),
        "headers end with a blank line"
    );
    assert!(header(&top, "Message-ID").unwrap().starts_with("<pv.1."));
    assert!(header(&top, "Subject").unwrap().ends_with("#1"));
    assert!(header(&top, "From").is_some());
    assert!(
        !top.iter().any(|l| l.contains("This is message number")),
        "TOP 1 0 sent body lines"
    );
    s.quit();

    // STLS on the plain port: same mailbox; DELE 1 is committed by QUIT.
    let mut s = dc.stls_session();
    assert_eq!(s.stat().0, 20);
    assert_eq!(s.uidl(), expected);
    s.ok("DELE 1");
    s.quit();
    assert_eq!(dc.uidls(), expected[1..].to_vec());
    assert_eq!(dc.message_count(), 19);

    // A dropped session does not commit its DELE.
    let mut s = dc.pop3s_session();
    s.ok("DELE 2");
    drop(s);
    assert_eq!(dc.uidls(), expected[1..].to_vec());

    // Dovecot found nothing to complain about in the config or the Maildir.
    let log = dc.log_contents();
    for bad in ["Warning:", "Error:", "Fatal:", "Panic:"] {
        assert!(!log.contains(bad), "Dovecot logged {bad}\n{log}");
    }
}

fn bad_login(dc: &Dovecot) -> (String, Duration) {
    let (mut s, _) = rawpop::connect_pop3s(dc.tls_addr(), &dc.connector());
    s.ok(&format!("USER {}", dc.user));
    let t = Instant::now();
    let answer = s.cmd("PASS not-the-password");
    (answer, t.elapsed())
}

#[test]
fn wrong_password_gets_err_after_the_auth_failure_delay() {
    // Dovecot's default auth_failure_delay is 2 s.
    let dc = Dovecot::start(DovecotOptions::with_messages(generated_messages(2)));
    let (answer, took) = bad_login(&dc);
    assert!(answer.starts_with("-ERR"), "got {answer:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "failure answered in {took:?}"
    );

    // With the delay set to zero and no penalty a failure is quick, and the
    // right password then works at once on a new connection.
    let dc = Dovecot::start(DovecotOptions {
        auth_failure_delay: Some(Duration::ZERO),
        auth_penalty: false,
        ..DovecotOptions::with_messages(generated_messages(2))
    });
    let (answer, took) = bad_login(&dc);
    assert!(answer.starts_with("-ERR"), "got {answer:?}");
    assert!(
        took < Duration::from_millis(1500),
        "failure answered in {took:?}"
    );
    let t = Instant::now();
    assert_eq!(dc.message_count(), 2);
    let next = t.elapsed();
    eprintln!("bad login answered in {took:?}; next good login took {next:?}");
    assert!(
        next < Duration::from_millis(1500),
        "penalty still applied: {next:?}"
    );
}

#[test]
fn extra_users_and_added_messages() {
    let bob = ExtraUser {
        name: "bob".into(),
        password: "bobs-pass".into(),
        messages: generated_messages(4),
    };
    let dc = Dovecot::start(DovecotOptions {
        messages: generated_messages(3),
        extra_users: vec![bob],
        login_greeting: Some("popview test server ready".into()),
        ..Default::default()
    });
    // The greeting is ours, with Dovecot's APOP timestamp appended.
    let (s, greeting) = rawpop::connect_plain(dc.plain_addr());
    assert!(
        greeting.starts_with("+OK popview test server ready <"),
        "{greeting:?}"
    );
    assert!(greeting.ends_with('>'), "{greeting:?}");
    drop(s);
    assert_eq!(dc.uidls_of("bob", "bobs-pass"), Dovecot::expected_uidls(4));
    assert_eq!(dc.uidls(), Dovecot::expected_uidls(3));

    // New mail while a session is open: that session keeps its snapshot,
    // the next one sees UIDs 4..=8 in delivery order.
    let mut open = dc.pop3s_session();
    assert_eq!(open.stat().0, 3);
    let more = generated_messages(8).split_off(3);
    dc.add_messages(&more);
    assert_eq!(open.stat().0, 3);
    assert_eq!(dc.uidls(), Dovecot::expected_uidls(8));
    let mut s = dc.pop3s_session();
    let top = s.multi("TOP 6 0");
    assert!(header(&top, "Message-ID").unwrap().starts_with("<pv.6."));
    s.quit();
    open.quit();
}

#[test]
fn drop_stops_dovecot_without_orphans() {
    let dc = Dovecot::start(DovecotOptions::default());
    let master = dc.master_pid();
    let dir = dc.dir.clone();
    // Make sure a login and a pop3 process exist.
    let s = dc.pop3s_session();
    let children: Vec<u32> =
        std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
    assert!(
        children.len() >= 3,
        "expected Dovecot's service processes, got {children:?}"
    );
    let pgrep = |arg: &str| {
        let out = Command::new("pgrep")
            .args(["-f", arg])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let conf = dc.config.display().to_string();
    assert_eq!(pgrep(&conf), master.to_string());
    let t = Instant::now();
    drop(dc);
    let stopped = t.elapsed();
    drop(s);
    assert_eq!(pgrep(&conf), "", "master still running");
    for c in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{c}")).exists()
                || std::fs::read_to_string(format!("/proc/{c}/stat"))
                    .unwrap_or_default()
                    .contains(") Z"),
            "child {c} survived"
        );
    }
    assert!(!dir.exists(), "temp dir left behind");
    assert!(
        stopped < Duration::from_secs(3),
        "stopping took {stopped:?}"
    );
    eprintln!("Dovecot stopped in {stopped:?}");
}

#[test]
fn proxy_delays_each_direction_and_pipelining_beats_round_trips() {
    let dc = Dovecot::start(DovecotOptions::with_messages(generated_messages(200)));
    let proxy = Proxy::with_delay(dc.plain_addr(), Duration::from_millis(25));

    let (mut s, _) = rawpop::connect_plain(proxy.addr());
    s.login(&dc.user, &dc.password);
    let t = Instant::now();
    s.ok("NOOP");
    let rtt = t.elapsed();
    assert!(rtt >= Duration::from_millis(50), "NOOP round trip {rtt:?}");
    assert!(rtt < Duration::from_millis(500), "NOOP round trip {rtt:?}");
    s.quit();

    let one = rawpop::one_at_a_time_top_all(proxy.addr(), &dc.user, &dc.password, 20);
    let piped = rawpop::raw_pipelined_top_all(proxy.addr(), &dc.user, &dc.password, 200);
    eprintln!("over 50 ms RTT: 20 TOP one at a time {one:?}, 200 TOP pipelined {piped:?}");
    // 20 sequential round trips alone are 1 s.
    assert!(one >= Duration::from_millis(20 * 50), "{one:?}");
    // Ten times the work, pipelined, still takes less.
    assert!(piped < one, "pipelined {piped:?} vs one at a time {one:?}");
    assert_eq!(proxy.connections(), 3);
}

#[test]
fn proxy_cuts_all_and_after_server_bytes() {
    let dc = Dovecot::start(DovecotOptions::with_messages(generated_messages(20)));
    let proxy = Proxy::start(dc.plain_addr());

    // cut_all: the client sees EOF.
    let (mut s, _) = rawpop::connect_plain(proxy.addr());
    s.login(&dc.user, &dc.password);
    s.ok("NOOP");
    assert_eq!(proxy.live_connections(), 1);
    proxy.cut_all();
    let mut buf = [0u8; 16];
    let n = s.get_mut().read(&mut buf).expect("read after cut");
    assert_eq!(n, 0, "expected EOF after cut_all");

    // cut_after_server_bytes: exactly n bytes of the UIDL answer arrive.
    let (mut s, _) = rawpop::connect_plain(proxy.addr());
    s.login(&dc.user, &dc.password);
    proxy.cut_after_server_bytes(100);
    assert!(proxy.cut_pending());
    s.send("UIDL");
    let mut got = Vec::new();
    s.into_inner().read_to_end(&mut got).expect("read to EOF");
    assert_eq!(got.len(), 100, "got {:?}", String::from_utf8_lossy(&got));
    assert!(got.starts_with(b"+OK"));
    assert!(!proxy.cut_pending());

    // Later connections are unaffected.
    let (mut s, _) = rawpop::connect_plain(proxy.addr());
    s.login(&dc.user, &dc.password);
    assert_eq!(s.uidl(), Dovecot::expected_uidls(20));
    s.quit();
    assert_eq!(proxy.connections(), 3);
}

#[test]
fn terminator_counter_handles_every_split() {
    let data = b"+OK\r\nA: b\r\n\r\n.\r\n+OK\r\nC: d\r\n..x\r\n\r\n.\r\n";
    for split in 0..data.len() {
        let mut c = TerminatorCounter::new();
        c.feed(&data[..split]);
        c.feed(&data[split..]);
        assert_eq!(c.count(), 2, "split at {split}");
    }
}

/// Serves one TLS handshake with `identity`; returns the client's result.
fn handshake(
    identity: native_tls::Identity,
    connector: &native_tls::TlsConnector,
    domain: &str,
) -> Result<(), String> {
    let acceptor = native_tls::TlsAcceptor::new(identity).expect("acceptor");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if let Ok(mut tls) = acceptor.accept(popview::pop3::Uninterrupted::new(tcp)) {
            use std::io::Write;
            let _ = tls.write_all(b"+OK hi\r\n");
        }
    });
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let result = match connector.connect(domain, popview::pop3::Uninterrupted::new(tcp)) {
        Ok(mut tls) => {
            let mut buf = [0u8; 8];
            tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
            assert_eq!(&buf, b"+OK hi\r\n");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    };
    server.join().unwrap();
    result
}

fn openssl_fingerprint(ck: &CertKey) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&ck.cert_pem)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

#[test]
fn only_the_valid_certificate_passes_verification() {
    let t = Instant::now();
    let pki = TestPki::generate();
    eprintln!("TestPki::generate took {:?}", t.elapsed());
    let verify = pki.verifying_connector();

    // Both identity loaders work with this OpenSSL; the valid leaf passes
    // for the name and for the IP address.
    handshake(pki.valid.identity(), &verify, "localhost").unwrap();
    handshake(pki.valid.identity_pkcs8(), &verify, "localhost").unwrap();
    handshake(pki.valid.identity(), &verify, "127.0.0.1").unwrap();

    let cases: [(&str, &CertKey, &str); 4] = [
        ("self-signed", &pki.self_signed, "self-signed certificate"),
        (
            "unknown CA",
            &pki.unknown_ca,
            "unable to get local issuer certificate",
        ),
        ("wrong host", &pki.wrong_host, "hostname mismatch"),
        ("expired", &pki.expired, "certificate has expired"),
    ];
    for (what, ck, reason) in cases {
        let err = handshake(ck.identity(), &verify, "localhost").expect_err(what);
        assert!(err.contains(reason), "{what}: {err}");
        let err = handshake(ck.identity_pkcs8(), &verify, "localhost").expect_err(what);
        assert!(err.contains(reason), "{what}: {err}");
    }
    // The wrong-host leaf fails because of its name only: it is otherwise valid.
    let no_names = native_tls::TlsConnector::builder()
        .add_root_certificate(pki.ca_certificate())
        .disable_built_in_roots(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    handshake(pki.wrong_host.identity(), &no_names, "localhost").unwrap();
    handshake(pki.wrong_host.identity(), &verify, "wrong.example").unwrap();

    // Fingerprints match openssl's and differ between certificates.
    let all = [
        &pki.valid,
        &pki.self_signed,
        &pki.unknown_ca,
        &pki.wrong_host,
        &pki.expired,
    ];
    let mut fps: Vec<String> = all.iter().map(|ck| ck.sha256_fingerprint_hex()).collect();
    for (ck, fp) in all.iter().zip(&fps) {
        assert_eq!(fp.len(), 64);
        assert_eq!(*fp, openssl_fingerprint(ck));
        assert_eq!(*fp, sha256_fingerprint_hex(&ck.cert_pem_bytes()));
    }
    fps.sort();
    fps.dedup();
    assert_eq!(fps.len(), 5);
    // The shared PKI is one cached, complete set.
    let shared = TestPki::shared();
    assert!(std::ptr::eq(shared, TestPki::shared()));
    assert!(shared.dir.join("complete").exists());
    handshake(
        shared.valid.identity(),
        &shared.verifying_connector(),
        "localhost",
    )
    .unwrap();
}

#[test]
fn two_thousand_generated_messages() {
    let t = Instant::now();
    let msgs = generated_messages(2000);
    let generated = t.elapsed();
    assert_eq!(msgs, generated_messages(2000), "deterministic");
    let sizes: Vec<usize> = msgs.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|&s| (500..=50_000).contains(&s)),
        "sizes out of range"
    );
    assert!(sizes.iter().any(|&s| s < 1000) && sizes.iter().any(|&s| s > 30_000));
    let text: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        text.iter()
            .filter(|m| m.contains("multipart/mixed"))
            .count()
            >= 300
    );
    assert!(text.iter().filter(|m| m.contains("Subject: =?")).count() >= 300);
    let mut ids: Vec<&str> = text
        .iter()
        .map(|m| {
            m.split("Message-ID: ")
                .nth(1)
                .unwrap()
                .split("\r\n")
                .next()
                .unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2000, "Message-IDs are distinct");

    let t = Instant::now();
    let dc = Dovecot::start(DovecotOptions::with_messages(msgs));
    let started = t.elapsed();
    let t = Instant::now();
    let uidls = dc.uidls();
    let first_uidl = t.elapsed();
    let t = Instant::now();
    let piped = rawpop::raw_pipelined_top_all(dc.plain_addr(), &dc.user, &dc.password, 2000);
    let total = t.elapsed();
    eprintln!(
        "2000 messages: generate {generated:?}, seed+start {started:?} (seeding {:?}, Dovecot ready {:?}), \
         first UIDL session {first_uidl:?}, pipelined TOP all {piped:?} ({total:?} total)",
        dc.seeding, dc.startup
    );
    assert_eq!(uidls, Dovecot::expected_uidls(2000));
}
