//! SASL exchanges byte by byte against an in-memory peer: XOAUTH2,
//! OAUTHBEARER, SCRAM-SHA-256 and LOGIN, each succeeding, failing, and
//! facing a hostile server; and the wire trace of every mechanism free of
//! the password, the token, the proof and their base64.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use popview::pop3::client::State;
use popview::pop3::{AuthMethod, Client, Credentials, ErrorKind, Trace};
use support::sasl_peer::{Peer, ScramServer, Wire, b64, unb64};

const TOKEN: &str = "ya29.a0AfB_byC-secret-token-Zm9vYmFy";
const CAPA: &[u8] = b"+OK\r\nUSER\r\nSASL PLAIN LOGIN SCRAM-SHA-256 XOAUTH2 OAUTHBEARER\r\n.\r\n";

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Run {
    result: popview::pop3::Result<AuthMethod>,
    wire: Wire,
    trace: String,
    state: State,
}

/// Log in with `method` against a peer that answers CAPA itself and
/// passes every other line to `handler`.
fn run(
    method: AuthMethod,
    creds: Credentials,
    mut handler: impl FnMut(&str) -> Vec<u8> + Send + 'static,
) -> Run {
    let peer = Peer::new(b"+OK ready\r\n", move |line| {
        if line == "CAPA" {
            CAPA.to_vec()
        } else {
            handler(line)
        }
    });
    let wire = peer.wire.clone();
    let trace = Shared::default();
    let mut c = Client::new(peer, true, Some(Trace::new(Box::new(trace.clone())))).unwrap();
    c.refresh_capabilities().unwrap();
    let result = c.login(&creds, method, false);
    let state = c.state();
    let trace = String::from_utf8_lossy(&trace.0.lock().unwrap()).into_owned();
    Run {
        result,
        wire,
        trace,
        state,
    }
}

fn lines(wire: &Wire) -> Vec<String> {
    wire.sent_text().split("\r\n").map(str::to_string).collect()
}

#[test]
fn xoauth2_is_always_two_step() {
    let want = b64(format!("user=alice\x01auth=Bearer {TOKEN}\x01\x01").as_bytes());
    let w = want.clone();
    let r = run(
        AuthMethod::XOAuth2,
        Credentials::new("alice", TOKEN),
        move |line| match line {
            "AUTH XOAUTH2" => b"+ \r\n".to_vec(),
            l if l == w => b"+OK Logged in.\r\n".to_vec(),
            other => panic!("unexpected {other:?}"),
        },
    );
    assert_eq!(r.result.unwrap(), AuthMethod::XOAuth2);
    assert_eq!(r.state, State::Transaction);
    assert_eq!(lines(&r.wire), ["CAPA", "AUTH XOAUTH2", &want, "CAPA", ""]);
}

#[test]
fn xoauth2_rejected_token_is_answered_and_told_in_words() {
    let json = br#"{"status":"401","schemes":"bearer","scope":"mail"}"#;
    let mut step = 0;
    let r = run(
        AuthMethod::XOAuth2,
        Credentials::new("alice", TOKEN),
        move |line| {
            step += 1;
            match (step, line) {
                (1, "AUTH XOAUTH2") => b"+ \r\n".to_vec(),
                (2, _) => format!("+ {}\r\n", b64(json)).into_bytes(),
                (3, "") => b"-ERR [AUTH] Authentication failed.\r\n".to_vec(),
                other => panic!("unexpected {other:?}"),
            }
        },
    );
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(
        e.message.starts_with("the token was rejected: 401")
            && e.message.contains("popview authorize --account"),
        "{}",
        e.message
    );
    assert_eq!(
        lines(&r.wire).len(),
        5,
        "CAPA, AUTH, response, empty line: {r:?}",
        r = lines(&r.wire)
    );
    assert_eq!(r.state, State::Authorization);
}

#[test]
fn oauthbearer_short_goes_on_the_line_long_waits_for_a_bare_plus() {
    let creds = Credentials::new("alice", "short").at("pop.example.com", 995);
    let want = b64(b"n,a=alice,\x01host=pop.example.com\x01port=995\x01auth=Bearer short\x01\x01");
    let line = format!("AUTH OAUTHBEARER {want}");
    let r = run(AuthMethod::OAuthBearer, creds, move |l| {
        assert_eq!(l, line);
        b"+OK\r\n".to_vec()
    });
    assert_eq!(r.result.unwrap(), AuthMethod::OAuthBearer);

    // A 10 KB token: `AUTH OAUTHBEARER`, then `+` with no space, then a
    // response line longer than 8 KB.
    let token = "t".repeat(10 * 1024);
    let creds = Credentials::new("alice", token.as_str()).at("h", 995);
    let mut step = 0;
    let r = run(AuthMethod::OAuthBearer, creds, move |l| {
        step += 1;
        match step {
            1 => {
                assert_eq!(l, "AUTH OAUTHBEARER");
                b"+\r\n".to_vec()
            }
            2 => {
                let raw = unb64(l);
                assert!(raw.len() > 10 * 1024 && raw.starts_with(b"n,a=alice,\x01host=h"));
                b"+OK\r\n".to_vec()
            }
            _ => panic!("unexpected {l:?}"),
        }
    });
    assert_eq!(r.result.unwrap(), AuthMethod::OAuthBearer);
}

#[test]
fn oauthbearer_rejected_token_is_answered_with_ctrl_a() {
    let mut step = 0;
    let r = run(
        AuthMethod::OAuthBearer,
        Credentials::new("alice", TOKEN).at("h", 110),
        move |l| {
            step += 1;
            match step {
                1 => format!("+ {}\r\n", b64(br#"{"status":"invalid_token"}"#)).into_bytes(),
                2 => {
                    assert_eq!(l, "AQ==");
                    b"-ERR [AUTH] Authentication failed.\r\n".to_vec()
                }
                _ => panic!("unexpected {l:?}"),
            }
        },
    );
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(e.message.contains("invalid_token"), "{}", e.message);
}

#[test]
fn a_failure_challenge_that_is_not_json_still_ends_as_a_rejection() {
    let mut step = 0;
    let r = run(
        AuthMethod::XOAuth2,
        Credentials::new("alice", TOKEN),
        move |_| {
            step += 1;
            match step {
                1 => b"+ \r\n".to_vec(),
                2 => format!("+ {}\r\n", b64(b"<html>nope")).into_bytes(),
                _ => b"-ERR nope\r\n".to_vec(),
            }
        },
    );
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    // The JSON could not be read: the server's `-ERR` text says why.
    assert!(
        e.message.starts_with("the token was rejected: nope"),
        "{}",
        e.message
    );
}

#[test]
fn a_challenge_that_is_not_base64_is_cancelled() {
    for method in [
        AuthMethod::XOAuth2,
        AuthMethod::Login,
        AuthMethod::ScramSha256,
    ] {
        let mut step = 0;
        let r = run(method, Credentials::new("alice", "pw"), move |l| {
            step += 1;
            match step {
                1 => b"+ !!!not base64\r\n".to_vec(),
                2 => {
                    assert_eq!(l, "*");
                    b"-ERR cancelled\r\n".to_vec()
                }
                _ => panic!("unexpected {l:?}"),
            }
        });
        let e = r.result.unwrap_err();
        assert!(
            e.message.contains("not valid base64"),
            "{method:?}: {}",
            e.message
        );
        assert!(lines(&r.wire).contains(&"*".to_string()), "{method:?}");
    }
}

#[test]
fn login_answers_the_two_prompts() {
    let mut step = 0;
    let r = run(
        AuthMethod::Login,
        Credentials::new("alice", "hunter2"),
        move |l| {
            step += 1;
            match (step, l) {
                (1, "AUTH LOGIN") => b"+ VXNlcm5hbWU6\r\n".to_vec(),
                (2, "YWxpY2U=") => b"+ UGFzc3dvcmQ6\r\n".to_vec(),
                (3, "aHVudGVyMg==") => b"+OK Logged in.\r\n".to_vec(),
                other => panic!("unexpected {other:?}"),
            }
        },
    );
    assert_eq!(r.result.unwrap(), AuthMethod::Login);
}

/// A SCRAM server: honest, or with its signature forged.
fn scram_peer(password: &str, forge: bool) -> impl FnMut(&str) -> Vec<u8> + Send + 'static {
    let mut server = ScramServer::new(password, 4096);
    let mut step = 0;
    move |l| {
        step += 1;
        match step {
            1 => {
                let ir = l
                    .strip_prefix("AUTH SCRAM-SHA-256 ")
                    .expect("initial response");
                format!("+ {}\r\n", b64(server.first(&unb64(ir)).as_bytes())).into_bytes()
            }
            2 => {
                let mut v = server.last(&unb64(l));
                assert_eq!(server.proof_ok, Some(true), "the client's proof is right");
                if forge {
                    v = format!("v={}", b64(&[7u8; 32]));
                }
                format!("+ {}\r\n", b64(v.as_bytes())).into_bytes()
            }
            3 if forge => {
                assert_eq!(l, "*", "a forged proof cancels the exchange");
                b"-ERR cancelled\r\n".to_vec()
            }
            3 => {
                assert_eq!(l, "", "an empty response after the server's proof");
                b"+OK Logged in.\r\n".to_vec()
            }
            _ => b"-ERR no more\r\n".to_vec(),
        }
    }
}

#[test]
fn scram_logs_in_and_checks_the_server() {
    let r = run(
        AuthMethod::ScramSha256,
        Credentials::new("alice", "pencil"),
        scram_peer("pencil", false),
    );
    assert_eq!(r.result.unwrap(), AuthMethod::ScramSha256);
    assert_eq!(r.state, State::Transaction);
    assert!(!r.wire.sent_text().contains("pencil"));
}

#[test]
fn scram_with_a_forged_server_signature_ends_the_session() {
    let r = run(
        AuthMethod::ScramSha256,
        Credentials::new("alice", "pencil"),
        scram_peer("pencil", true),
    );
    let e = r.result.unwrap_err();
    assert!(e.message.contains("possible impostor"), "{}", e.message);
    assert_ne!(r.state, State::Transaction);
    // Cancelled: not one command after the forged proof but `*`.
    let l = lines(&r.wire);
    assert_eq!(l[l.len() - 2], "*", "{l:?}");
}

#[test]
fn scram_ok_without_a_server_proof_is_refused() {
    let mut server = ScramServer::new("pencil", 4096);
    let mut step = 0;
    let r = run(
        AuthMethod::ScramSha256,
        Credentials::new("alice", "pencil"),
        move |l| {
            step += 1;
            match step {
                1 => {
                    let ir = l.strip_prefix("AUTH SCRAM-SHA-256 ").unwrap();
                    format!("+ {}\r\n", b64(server.first(&unb64(ir)).as_bytes())).into_bytes()
                }
                _ => b"+OK trust me\r\n".to_vec(),
            }
        },
    );
    let e = r.result.unwrap_err();
    assert!(e.message.contains("possible impostor"), "{}", e.message);
    assert_eq!(r.state, State::Closed);
}

#[test]
fn scram_refuses_absurd_iteration_counts() {
    for i in [1u32, 4095, 1_000_001, u32::MAX] {
        let mut step = 0;
        let r = run(
            AuthMethod::ScramSha256,
            Credentials::new("alice", "pencil"),
            move |l| {
                step += 1;
                match step {
                    1 => {
                        let ir = unb64(l.strip_prefix("AUTH SCRAM-SHA-256 ").unwrap());
                        let first = String::from_utf8(ir).unwrap();
                        let nonce = first.split(",r=").nth(1).unwrap();
                        let sf = format!("r={nonce}x,s={},i={i}", b64(b"salt"));
                        format!("+ {}\r\n", b64(sf.as_bytes())).into_bytes()
                    }
                    _ => {
                        assert_eq!(l, "*");
                        b"-ERR cancelled\r\n".to_vec()
                    }
                }
            },
        );
        let e = r.result.unwrap_err();
        assert!(e.message.contains("SCRAM iterations"), "{i}: {}", e.message);
    }
}

#[test]
fn a_huge_challenge_is_bounded() {
    let r = run(
        AuthMethod::Login,
        Credentials::new("alice", "pw"),
        move |_| {
            let mut v = b"+ ".to_vec();
            v.extend(std::iter::repeat_n(b'A', 200 * 1024));
            v.extend_from_slice(b"\r\n");
            v
        },
    );
    assert!(r.result.is_err());
    assert_eq!(r.state, State::Closed);
}

#[test]
fn no_trace_holds_a_secret_or_its_base64() {
    let password = "s3cret-Pa55";
    let runs = [
        run(
            AuthMethod::XOAuth2,
            Credentials::new("alice", password),
            |l: &str| {
                if l == "AUTH XOAUTH2" {
                    b"+ \r\n".to_vec()
                } else {
                    b"+OK\r\n".to_vec()
                }
            },
        ),
        run(
            AuthMethod::OAuthBearer,
            Credentials::new("alice", password).at("h", 995),
            |_: &str| b"+OK\r\n".to_vec(),
        ),
        run(AuthMethod::Login, Credentials::new("alice", password), {
            let mut n = 0;
            move |_: &str| {
                n += 1;
                if n < 3 {
                    b"+ \r\n".to_vec()
                } else {
                    b"+OK\r\n".to_vec()
                }
            }
        }),
        run(
            AuthMethod::Plain,
            Credentials::new("alice", password),
            |_: &str| b"+OK\r\n".to_vec(),
        ),
        run(
            AuthMethod::ScramSha256,
            Credentials::new("alice", password),
            scram_peer(password, false),
        ),
        // A server that echoes what it got.
        run(
            AuthMethod::XOAuth2,
            Credentials::new("alice", password),
            |l: &str| {
                if l == "AUTH XOAUTH2" {
                    b"+ \r\n".to_vec()
                } else {
                    format!("-ERR bad {l}\r\n").into_bytes()
                }
            },
        ),
    ];
    for r in runs {
        // Every response line the client sent (base64 responses, proofs)
        // and the secret itself, in any form, are absent from the trace.
        let mut forbidden = vec![password.to_string(), b64(password.as_bytes())];
        let sent = r.wire.sent_text();
        forbidden.extend(
            sent.split("\r\n")
                .flat_map(|l| l.rsplit(' ').next())
                .filter(|l| l.len() >= 8 && *l != "XOAUTH2" && *l != "OAUTHBEARER")
                .map(str::to_string),
        );
        assert!(r.trace.contains("C: "), "a trace was written: {}", r.trace);
        for f in &forbidden {
            assert!(
                !r.trace.contains(f.as_str()),
                "{f:?} in the trace:\n{}",
                r.trace
            );
        }
        if let Err(e) = &r.result {
            assert!(!e.message.contains(password), "{}", e.message);
        }
    }
}
