//! A scripted OAuth2 authorization server on 127.0.0.1 (plain HTTP, which
//! popview allows only to loopback): each path answers from its script in
//! order, the last answer repeating; every request is recorded with its
//! form fields and when it came.
//!
//! Answers: JSON (tokens, a device code, RFC 6749 errors such as
//! `authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
//! `invalid_grant`), raw bytes (garbage), an HTML page, a huge body, or a
//! hang (the connection held open, unanswered, until the server is
//! dropped or 60 s pass).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status and a JSON body.
    Json(u16, String),
    /// Exactly these bytes, then close.
    Raw(Vec<u8>),
    /// `200 OK` with an HTML login page.
    Html,
    /// `200 OK`, `application/json`, with this many bytes of JSON-ish body.
    Huge(usize),
    /// Read the request, answer nothing, hold the connection.
    Hang,
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub form: HashMap<String, String>,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
}

pub struct OAuthServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

/// `{"error": code}` with status 400.
pub fn error(code: &str) -> Reply {
    Reply::Json(400, format!("{{\"error\":\"{code}\"}}"))
}

/// `{"error": code, "error_description": text}` with status 400.
pub fn error_with(code: &str, description: &str) -> Reply {
    Reply::Json(
        400,
        serde_json::json!({"error": code, "error_description": description}).to_string(),
    )
}

/// A token answer; `refresh` left out when `None`.
pub fn tokens(access: &str, refresh: Option<&str>, expires_in: u64) -> Reply {
    let mut j = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let Some(r) = refresh {
        j["refresh_token"] = r.into();
    }
    Reply::Json(200, j.to_string())
}

/// A device authorization answer.
pub fn device_code(device: &str, user_code: &str, interval: u64, expires_in: u64) -> Reply {
    Reply::Json(
        200,
        serde_json::json!({
            "device_code": device,
            "user_code": user_code,
            "verification_uri": "https://login.example.test/device",
            "verification_uri_complete": format!("https://login.example.test/device?code={user_code}"),
            "interval": interval,
            "expires_in": expires_in,
        })
        .to_string(),
    )
}

impl OAuthServer {
    pub fn start() -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            // Bounded: the server lives at most 10 minutes.
            let end = Instant::now() + Duration::from_secs(600);
            while !sp.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (st, sp) = (Arc::clone(&st), Arc::clone(&sp));
                        thread::spawn(move || serve(conn, &st, &sp));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        OAuthServer { addr, state, stop }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// Answer requests to `path` with `replies`, in order; the last repeats.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_owned(), replies.into());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The requests to `path`.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>, stop: &AtomicBool) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let mut length = 0usize;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let form = parse_form(&String::from_utf8_lossy(&body));
    let reply = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            path: path.clone(),
            form,
            at: Instant::now(),
        });
        match st.scripts.get_mut(&path) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
    };
    let mut conn = conn;
    let respond = |conn: &mut TcpStream, status: u16, ctype: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(body);
    };
    match reply {
        None => respond(&mut conn, 404, "text/plain", b"no script for this path"),
        Some(Reply::Json(status, j)) => {
            respond(&mut conn, status, "application/json", j.as_bytes())
        }
        Some(Reply::Raw(bytes)) => {
            let _ = conn.write_all(&bytes);
        }
        Some(Reply::Html) => respond(
            &mut conn,
            200,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>",
        ),
        Some(Reply::Huge(n)) => {
            let mut b = b"{\"access_token\":\"".to_vec();
            b.resize(n, b'a');
            respond(&mut conn, 200, "application/json", &b);
        }
        Some(Reply::Hang) => {
            let end = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = conn.flush();
}

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}
