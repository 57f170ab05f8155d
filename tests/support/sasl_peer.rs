//! An in-memory POP3 peer for SASL transcripts: a closure answers each
//! complete line the client writes, and every byte both ways is kept, so a
//! test can assert the exact wire and search it for secrets. Also the
//! server side of SCRAM-SHA-256 (RFC 5802), to play an honest or a forged
//! server.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub type Handler = Box<dyn FnMut(&str) -> Vec<u8> + Send>;

/// The client's side of the wire, as written, and the server's.
#[derive(Clone, Default)]
pub struct Wire {
    pub sent: Arc<Mutex<Vec<u8>>>,
    pub received: Arc<Mutex<Vec<u8>>>,
}

impl Wire {
    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }
}

pub struct Peer {
    handler: Handler,
    partial: Vec<u8>,
    readable: VecDeque<u8>,
    pub wire: Wire,
}

impl Peer {
    /// A peer that greets with `greeting` and answers each line the
    /// client writes (without its CRLF) with what `handler` returns.
    pub fn new(greeting: &[u8], handler: impl FnMut(&str) -> Vec<u8> + Send + 'static) -> Peer {
        let wire = Wire::default();
        wire.received.lock().unwrap().extend_from_slice(greeting);
        Peer {
            handler: Box::new(handler),
            partial: Vec::new(),
            readable: greeting.iter().copied().collect(),
            wire,
        }
    }
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap_or_default();
        }
        Ok(n) // 0 = EOF: the client waited for an answer the handler never gave
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wire.sent.lock().unwrap().extend_from_slice(buf);
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.partial.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            let reply = (self.handler)(&line);
            self.wire.received.lock().unwrap().extend_from_slice(&reply);
            self.readable.extend(reply);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("the client sent valid base64")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The server side of one SCRAM-SHA-256 exchange.
pub struct ScramServer {
    pub password: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
    client_first_bare: String,
    server_first: String,
    /// What the client proved: `Some(true)` once a good proof came in.
    pub proof_ok: Option<bool>,
}

impl ScramServer {
    pub fn new(password: &str, iterations: u32) -> ScramServer {
        ScramServer {
            password: password.to_string(),
            salt: b"popview-test-salt".to_vec(),
            iterations,
            client_first_bare: String::new(),
            server_first: String::new(),
            proof_ok: None,
        }
    }

    /// The server-first message for the client-first one (raw, not base64).
    pub fn first(&mut self, client_first: &[u8]) -> String {
        let text = String::from_utf8(client_first.to_vec()).unwrap();
        let bare = text.strip_prefix("n,,").expect("no channel binding");
        let nonce = bare.split(",r=").nth(1).unwrap();
        self.client_first_bare = bare.to_string();
        self.server_first = format!(
            "r={nonce}srvNONCE,s={},i={}",
            b64(&self.salt),
            self.iterations
        );
        self.server_first.clone()
    }

    /// Check the client-final message; the server-final (`v=`) message.
    pub fn last(&mut self, client_final: &[u8]) -> String {
        let text = String::from_utf8(client_final.to_vec()).unwrap();
        let (without_proof, proof) = text.rsplit_once(",p=").unwrap();
        let auth = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(
            self.password.as_bytes(),
            &self.salt,
            self.iterations,
            &mut salted,
        );
        let client_key = hmac(&salted, b"Client Key");
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        let sig = hmac(&stored, auth.as_bytes());
        let expected: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        self.proof_ok = Some(unb64(proof) == expected);
        let server_key = hmac(&salted, b"Server Key");
        format!("v={}", b64(&hmac(&server_key, auth.as_bytes())))
    }
}
