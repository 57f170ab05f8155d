//! Logging in (USER/PASS and APOP, pipelined with what follows when that
//! is safe; the SASL exchanges of [`crate::pop3::sasl`] framed as RFC 5034
//! says) and the STLS upgrade.

use std::io::{Read, Write};

use base64::Engine as _;

use super::*;
use crate::pop3::sasl::Sasl;

/// Most challenges one SASL exchange may send (SCRAM needs two).
const MAX_SASL_ROUNDS: usize = 4;
/// Longest challenge line accepted: more than a status line (8 KB), as
/// some servers send long challenges; the mechanisms bound their own data.
const MAX_SASL_LINE: usize = 64 * 1024;

impl<S: Read + Write, T> Client<S, T> {
    /// Log in, then ask CAPA again (some servers only list PIPELINING, TOP
    /// or UIDL after login). Returns the method used.
    pub fn login(
        &mut self,
        creds: &Credentials,
        wanted: AuthMethod,
        allow_cleartext: bool,
    ) -> Result<AuthMethod> {
        let method = self.authenticate(creds, wanted, allow_cleartext)?;
        self.refresh_capabilities()?;
        Ok(method)
    }

    /// Log in without asking CAPA afterwards (the caller pipelines it with
    /// its first commands). Credentials are never sent over a connection
    /// without TLS unless `allow_cleartext` is set. On success the state is
    /// TRANSACTION; the capabilities from before login stay until refreshed.
    pub fn authenticate(
        &mut self,
        creds: &Credentials,
        wanted: AuthMethod,
        allow_cleartext: bool,
    ) -> Result<AuthMethod> {
        self.login_then(creds, wanted, allow_cleartext, Vec::new())
            .map(|(method, _)| method)
    }

    /// Log in and run `then` right after. When the server advertised
    /// PIPELINING, `then` goes in the same write as the last authentication
    /// command, saving a round trip (Dovecot, for one, takes USER, PASS and
    /// STAT in one write). If the login fails, the answers to `then` (refusals
    /// in the authorization state) are read and dropped, and the login error
    /// is returned. Without PIPELINING, `then` runs after the login.
    pub fn login_then(
        &mut self,
        creds: &Credentials,
        wanted: AuthMethod,
        allow_cleartext: bool,
        then: Vec<Command>,
    ) -> Result<(AuthMethod, Vec<Answer<T>>)> {
        if self.state != State::Authorization {
            return Err(Error::local("already logged in"));
        }
        if !self.tls && !allow_cleartext {
            return Err(Error::new(
                ErrorKind::Tls,
                "refusing to send the password over a connection without TLS; \
                 use pop3s:// or STLS, or explicitly allow cleartext for this account",
            ));
        }
        // From now on, a server that echoes the password in its text
        // (`-ERR bad password hunter2`) has it cut out.
        self.secrets.add_password(&creds.user, &creds.password);
        let method = auth::choose(wanted, &self.caps, &self.greeting.text, self.tls)?;
        creds.validate_for(method)?;
        let auth_commands = match method {
            AuthMethod::User => vec![
                Command::User(creds.user.clone()),
                Command::Pass(creds.password.clone()),
            ],
            AuthMethod::Apop => {
                let stamp = apop_timestamp(&self.greeting.text)
                    .ok_or_else(|| Error::local("the greeting has no valid APOP timestamp"))?;
                vec![Command::Apop {
                    user: creds.user.clone(),
                    digest: auth::apop_digest(stamp, &creds.password),
                }]
            }
            _ => {
                // A SASL exchange must finish before anything follows it:
                // a SASL server may reset its input when the exchange
                // completes (Cyrus drops whatever followed AUTH).
                self.sasl_exchange(Sasl::new(method, creds)?)?;
                self.state = State::Transaction;
                let answers = self.run_all(then)?;
                return Ok((method, answers));
            }
        };
        // Never pipeline after AUTH: a SASL server may reset its input when
        // the exchange completes (Cyrus drops whatever followed AUTH).
        let sasl = auth_commands
            .iter()
            .any(|c| matches!(c, Command::Auth { .. }));
        if !self.caps.pipelining || sasl {
            for command in auth_commands {
                let is_user = matches!(command, Command::User(_));
                self.execute(command)
                    .map_err(|e| if is_user { as_auth_error(e) } else { e })?;
            }
            self.state = State::Transaction;
            let answers = self.run_all(then)?;
            return Ok((method, answers));
        }
        // One write: the authentication, then `then`.
        let n_auth = auth_commands.len();
        for command in auth_commands.into_iter().chain(then) {
            self.queue(command, None);
        }
        let mut failure = None;
        let mut answers = Vec::new();
        for i in 0..self.in_flight.len() {
            // A server may hang up after a failed login: report the login.
            let answer = match self.recv() {
                Ok(a) => a,
                Err(e) => return Err(failure.unwrap_or(e)),
            };
            if i < n_auth {
                if let Err(e) = answer.result {
                    let e = if matches!(answer.command, Command::User(_)) {
                        as_auth_error(e)
                    } else {
                        e
                    };
                    failure.get_or_insert(e);
                } else if i + 1 == n_auth && failure.is_none() {
                    self.state = State::Transaction;
                }
            } else if failure.is_none() {
                answers.push(answer);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((method, answers)),
        }
    }

    /// Run commands through the window, collecting every answer.
    pub(super) fn run_all(&mut self, commands: Vec<Command>) -> Result<Vec<Answer<T>>> {
        let mut answers = Vec::new();
        self.pipeline(commands, |a| {
            answers.push(a);
            Ok(())
        })?;
        Ok(answers)
    }

    /// Keep capabilities parsed from a CAPA answer received in a pipeline.
    pub fn set_capabilities(&mut self, caps: Capabilities) {
        self.caps = caps;
    }

    /// Run one SASL exchange (RFC 5034): `AUTH MECH [initial-response]`,
    /// then a response to each `+` challenge, until `+OK` or `-ERR`. The
    /// initial response goes on the AUTH line only when the line stays
    /// within 255 octets (never for XOAUTH2); otherwise it answers the first,
    /// empty, challenge. A challenge that is not strict base64, or that the
    /// mechanism refuses, cancels the exchange with `*`. Every response is
    /// a secret: traced as redacted and cut out of server text.
    pub(super) fn sasl_exchange(&mut self, mut sasl: Sasl) -> Result<()> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mechanism = sasl.mechanism();
        let initial = sasl
            .initial_on_auth_line(|ir| auth::fits_on_auth_line(mechanism, &b64.encode(ir)))
            .map(|ir| {
                if ir.is_empty() {
                    "=".to_string()
                } else {
                    b64.encode(ir)
                }
            });
        if let Some(ir) = &initial {
            self.secrets.add(ir);
        }
        self.submit(Command::Auth {
            mechanism: mechanism.into(),
            initial,
        })?;
        self.flush()?;
        // The AUTH command stays in flight until its final answer: the
        // continuation lines belong to it.
        for _ in 0..MAX_SASL_ROUNDS {
            let line = self.read_sasl_line()?;
            let Some(challenge) = parse_continuation(&line) else {
                self.in_flight.pop_front();
                self.bytes_ahead = 0;
                let status = self.parse_status_line(&line)?;
                if status.ok {
                    return sasl.succeeded(&status.text).inspect_err(|_| {
                        // Logged in to a server that could not prove who
                        // it is: nothing more goes over this connection.
                        self.state = State::Closed;
                    });
                }
                return Err(sasl.refused(refusal_error(&status, "AUTH", true), &status.text));
            };
            let challenge = challenge.trim_ascii();
            let decoded = match b64.decode(challenge) {
                Ok(d) => d,
                Err(_) => {
                    return self.cancel_sasl(Error::protocol(
                        "the server sent a SASL challenge that is not valid base64",
                    ));
                }
            };
            match sasl.respond(&decoded) {
                Ok(response) => {
                    let line = zeroize::Zeroizing::new(b64.encode(response.as_slice()));
                    self.secrets.add(&line);
                    self.send_sasl_line(&line)?;
                }
                Err(e) => return self.cancel_sasl(e),
            }
        }
        self.cancel_sasl(Error::protocol(
            "the server sent more SASL challenges than the mechanism needs",
        ))
    }

    /// One line of a SASL exchange, bounded by [`MAX_SASL_LINE`].
    fn read_sasl_line(&mut self) -> Result<Vec<u8>> {
        loop {
            let next = match self.input.next_line(MAX_SASL_LINE) {
                Ok(next) => next,
                Err(e) => {
                    // Out of step with the server: nothing more is sent.
                    self.state = State::Closed;
                    return Err(self.secrets.error(e));
                }
            };
            if let Some(line) = next {
                let content = line.content.to_vec();
                if let Some(t) = self.trace.as_mut() {
                    t.server(&self.secrets.redact_bytes(&content));
                }
                return Ok(content);
            }
            self.fill("waiting for the server's SASL answer")?;
        }
    }

    /// Write one SASL response line (traced as redacted).
    fn send_sasl_line(&mut self, line: &str) -> Result<()> {
        if let Some(t) = self.trace.as_mut() {
            t.client(&Command::SaslResponse(String::new()).trace_form());
        }
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
        self.flush()
    }

    /// Cancel an exchange with `*` (RFC 5034), read the server's `-ERR`,
    /// and report `why`.
    fn cancel_sasl(&mut self, why: Error) -> Result<()> {
        let why = why.reword(|m| format!("{m}; the login was cancelled"));
        if self.send_sasl_line("*").is_ok() {
            // The server's answer to the cancel; a server that has hung up
            // or sends garbage ends the session anyway.
            match self.read_sasl_line() {
                Ok(line) if parse_continuation(&line).is_none() => {
                    self.in_flight.pop_front();
                    self.bytes_ahead = 0;
                    if parse_status(&line).is_ok_and(|s| !s.ok) {
                        return Err(why);
                    }
                }
                _ => {}
            }
        }
        self.state = State::Closed;
        Err(why)
    }

    /// Send STLS and, on `+OK`, hand back the raw stream for the TLS
    /// handshake. Anything already received after the `+OK` is an injection
    /// attempt (SECURITY A2) and aborts.
    pub fn start_tls(mut self) -> Result<(S, Parked)> {
        if self.tls {
            return Err(Error::local(
                "TLS is already active; STLS is never sent twice",
            ));
        }
        if !self.in_flight.is_empty() || !self.output.is_empty() {
            return Err(Error::local("internal: STLS must be alone on the wire"));
        }
        match self.execute(Command::Stls) {
            Ok(_) => {}
            // Any refusal, with or without a response code: a `-ERR [AUTH]`,
            // `[IN-USE]` or `[SYS/TEMP]` to STLS must not be taken as a login
            // failure or a reason to retry (SECURITY A1: a man in the middle
            // strips STLS with whatever code makes the client ask for the
            // password or loop).
            Err(e) if !e.is_fatal_to_session() && e.kind != ErrorKind::Local => {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!(
                        "the server refused STLS ({}); popview will not continue without TLS",
                        e.message
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
        if !self.input.pending().is_empty() {
            return Err(Error::protocol(format!(
                "the server sent data after agreeing to STLS and before the TLS handshake \
                 ({}); this looks like a response-injection attack, closing the connection",
                self.redact(&preview(self.input.pending()))
            )));
        }
        Ok((
            self.stream,
            Parked {
                greeting: self.greeting,
                trace: self.trace,
                secrets: self.secrets,
            },
        ))
    }
}

impl Parked {
    /// Continue the session over the TLS stream: every capability learnt
    /// before TLS is forgotten and CAPA is asked again (SECURITY A3).
    pub fn resume<S: Read + Write>(self, stream: S) -> Result<Client<S>> {
        let mut client = Client {
            stream,
            input: LineBuffer::new(),
            output: Vec::new(),
            state: State::Authorization,
            caps: Capabilities::default(),
            greeting: self.greeting,
            tls: true,
            in_flight: VecDeque::new(),
            bytes_ahead: 0,
            window: PIPELINE_WINDOW,
            trace: self.trace,
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
            secrets: self.secrets,
        };
        client.refresh_capabilities()?;
        Ok(client)
    }
}
