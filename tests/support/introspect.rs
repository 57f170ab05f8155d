//! A tiny OAuth 2.0 token introspection endpoint (RFC 7662) on 127.0.0.1
//! for Dovecot's `oauth2` passdb: it POSTs `token=...`, and this answers
//! `{"active": true, "username": USER}` for a token it was told is good,
//! `{"active": false}` otherwise. It keeps every token it was asked about.
//! Plain std: one thread, one request per connection, bounded reads.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request read (Dovecot's is a few hundred bytes plus the token).
const MAX_REQUEST: usize = 256 * 1024;

#[derive(Default)]
struct State {
    /// Good token -> the user it belongs to.
    good: HashMap<String, String>,
    asked: Vec<String>,
}

pub struct Introspection {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Introspection {
    pub fn start() -> Introspection {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the introspection endpoint");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let s = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        Introspection { port, state }
    }

    /// The URL for `introspection_url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// From now on `token` is good for `user`.
    pub fn accept(&self, token: &str, user: &str) {
        let mut s = self.state.lock().unwrap();
        s.good.insert(token.to_string(), user.to_string());
    }

    /// Every token asked about, in order.
    pub fn asked(&self) -> Vec<String> {
        self.state.lock().unwrap().asked.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?).take(MAX_REQUEST as u64);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0).min(MAX_REQUEST);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body);
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| {
            percent_encoding::percent_decode_str(t)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let answer = {
        let mut s = state.lock().unwrap();
        s.asked.push(token.clone());
        match s.good.get(&token) {
            Some(user) => format!(r#"{{"active": true, "username": "{user}"}}"#),
            None => r#"{"active": false}"#.to_string(),
        }
    };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}
