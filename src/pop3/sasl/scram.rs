//! SCRAM-SHA-256 (RFC 5802, RFC 7677), client side: the server never sees
//! the password, and the client checks that the server knows it too.
//!
//! Everything the server sends is untrusted: the nonce must extend ours,
//! the salt must be base64, the iteration count must be in
//! [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`] (a huge count is a denial of
//! service, a tiny one a downgrade), and a wrong server signature ends the
//! session ("possible impostor").
//!
//! SASLprep (RFC 4013) is applied to the user name and the password; a
//! string SASLprep refuses (unassigned code points, for one) is used as it
//! is, which is what servers that skip SASLprep expect.

use std::borrow::Cow;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::pop3::error::{Error, ErrorKind, Result};

/// Fewest PBKDF2 iterations accepted (RFC 7677 asks for at least 4096).
pub const MIN_ITERATIONS: u32 = 4096;
/// Most PBKDF2 iterations accepted: more is a server making the client burn
/// CPU (a million rounds already takes about a second).
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Longest server message accepted (the server-first message is ~100 bytes).
const MAX_MESSAGE: usize = 4096;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: this can't fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn prep(s: &str) -> Cow<'_, str> {
    stringprep::saslprep(s).unwrap_or(Cow::Borrowed(s))
}

/// `=` and `,` escaped in a SCRAM user name (RFC 5802 section 5.1).
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn impostor() -> Error {
    Error::protocol(
        "the server could not prove it knows your password: possible impostor; \
         popview ended the session (check the host name and the network you are on)",
    )
}

/// One SCRAM-SHA-256 exchange.
pub struct Scram {
    client_nonce: String,
    client_first_bare: String,
    password: Zeroizing<String>,
    /// Expected `v=` once the client-final message was made.
    server_signature: Option<[u8; 32]>,
    verified: bool,
}

impl Scram {
    /// A fresh exchange with a random nonce.
    pub fn new(user: &str, password: &str) -> Result<Scram> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|e| {
            Error::local(format!(
                "no random numbers for the SCRAM nonce ({e}); use another auth method"
            ))
        })?;
        Ok(Scram::with_nonce(user, password, &b64().encode(raw)))
    }

    /// A fresh exchange with the nonce given (for tests).
    pub fn with_nonce(user: &str, password: &str, nonce: &str) -> Scram {
        Scram {
            client_nonce: nonce.to_string(),
            client_first_bare: format!("n={},r={nonce}", sasl_name(&prep(user))),
            password: Zeroizing::new(prep(password).into_owned()),
            server_signature: None,
            verified: false,
        }
    }

    /// The client-first message (no channel binding: `n,,`).
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// The answer to the server-first message: the client-final message
    /// with the proof. Refuses a nonce that doesn't extend ours, a bad salt,
    /// an iteration count out of bounds, and mandatory extensions.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>> {
        if self.server_signature.is_some() {
            return Err(Error::protocol("the server repeated the SCRAM first step"));
        }
        if server_first.len() > MAX_MESSAGE {
            return Err(Error::protocol("the SCRAM challenge is too long"));
        }
        let text = std::str::from_utf8(server_first)
            .ok()
            .filter(|t| t.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .ok_or_else(|| Error::protocol("the SCRAM challenge is not printable ASCII"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attr) in text.split(',').enumerate() {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| Error::protocol("the SCRAM challenge is malformed"))?;
            match (i, k) {
                (0, "m") => {
                    return Err(Error::protocol(
                        "the server asks for a SCRAM extension popview does not know",
                    ));
                }
                (0, "r") => nonce = Some(v),
                (1, "s") => salt = Some(v),
                (2, "i") => iterations = Some(v),
                (0..=2, _) => {
                    return Err(Error::protocol("the SCRAM challenge is malformed"));
                }
                _ => {} // Optional extensions: ignored (RFC 5802 section 5.1).
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(Error::protocol("the SCRAM challenge is incomplete"));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(Error::protocol(
                "the SCRAM challenge does not continue popview's nonce",
            ));
        }
        let salt = b64()
            .decode(salt)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::protocol("the SCRAM salt is not valid base64"))?;
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|_| iterations.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Error::protocol("the SCRAM iteration count is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "the server asks for {iterations} SCRAM iterations; popview accepts \
                     {MIN_ITERATIONS} to {MAX_ITERATIONS} (fewer would weaken the password's \
                     protection, more would stall popview); use another auth method"
                ),
            ));
        }
        let mut salted = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(self.password.as_bytes(), &salt, iterations, salted.as_mut());
        let client_key = Zeroizing::new(hmac(salted.as_ref(), b"Client Key"));
        let stored_key: [u8; 32] = Sha256::digest(client_key.as_ref()).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = [0u8; 32];
        for (p, (k, s)) in proof
            .iter_mut()
            .zip(client_key.iter().zip(client_signature.iter()))
        {
            *p = k ^ s;
        }
        let server_key = hmac(salted.as_ref(), b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", b64().encode(proof)).into_bytes())
    }

    /// Check the server-final message (`v=` signature, or `e=` error).
    pub fn verify(&mut self, server_final: &[u8]) -> Result<()> {
        let Some(expected) = self.server_signature else {
            return Err(Error::protocol(
                "the server skipped a step of the SCRAM exchange",
            ));
        };
        if server_final.len() > MAX_MESSAGE {
            return Err(impostor());
        }
        let text = String::from_utf8_lossy(server_final);
        let first = text.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "the server refused the login: {}; check the user name and password",
                    crate::sanitize::line(e)
                ),
            ));
        }
        let given = first.strip_prefix("v=").and_then(|v| b64().decode(v).ok());
        // Comparing a public value: timing does not matter here.
        if given.as_deref() != Some(expected.as_slice()) {
            return Err(impostor());
        }
        self.verified = true;
        Ok(())
    }

    /// True once the client-final message was made: the next server
    /// message is the one that proves the server knows the password.
    pub fn verify_pending(&self) -> bool {
        self.server_signature.is_some() && !self.verified
    }

    /// True once the server's signature was checked.
    pub fn verified(&self) -> bool {
        self.verified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    fn rfc7677() -> Scram {
        Scram::with_nonce("user", "pencil", "rOprNGfwEbeRWgbNEkqO")
    }

    #[test]
    fn matches_the_rfc7677_example() {
        let mut s = rfc7677();
        assert_eq!(s.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let f = s.client_final(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(f).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(!s.verified());
        s.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.verified());
    }

    #[test]
    fn a_forged_server_signature_is_an_impostor() {
        let mut s = rfc7677();
        s.client_final(SERVER_FIRST.as_bytes()).unwrap();
        for bad in [
            &b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="[..],
            b"v=not base64!",
            b"",
            b"x=1",
        ] {
            let e = s.verify(bad).unwrap_err();
            assert!(e.message.contains("possible impostor"), "{bad:?}");
        }
        assert!(!s.verified());
        let e = s.verify(b"e=invalid-proof").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
    }

    #[test]
    fn hostile_server_first_messages_are_refused() {
        let cases = [
            // Our nonce not extended, or not at all.
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Iterations out of bounds or garbage.
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967296",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
            // Bad salt, missing fields, mandatory extension, garbage.
            "r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
            "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "",
            "\u{1b}[31m",
        ];
        for c in cases {
            assert!(rfc7677().client_final(c.as_bytes()).is_err(), "{c:?}");
        }
        assert!(rfc7677().client_final(&[b'r'; 5000]).is_err());
        // Verifying before the first step is an error, not a pass.
        assert!(rfc7677().verify(b"v=AAAA").is_err());
    }

    #[test]
    fn user_names_are_escaped_and_nonces_random() {
        let s = Scram::with_nonce("a=b,c", "p", "N");
        assert_eq!(s.client_first(), b"n,,n=a=3Db=2Cc,r=N");
        let a = Scram::new("u", "p").unwrap();
        let b = Scram::new("u", "p").unwrap();
        assert_ne!(a.client_first(), b.client_first());
    }
}
