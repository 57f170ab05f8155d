//! Logging in (USER/PASS, APOP, SASL PLAIN, pipelined with what follows
//! when that is safe) and the STLS upgrade.

use std::io::{Read, Write};

use super::*;

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
        creds.validate()?;
        // From now on, a server that echoes the password in its text
        // (`-ERR bad password hunter2`) has it cut out.
        self.secrets.add_password(&creds.user, &creds.password);
        let method = auth::choose(wanted, &self.caps, &self.greeting.text, self.tls)?;
        let auth_commands = match method {
            AuthMethod::User | AuthMethod::Auto => vec![
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
            AuthMethod::Plain => {
                let ir = auth::plain_initial_response(creds);
                if auth::fits_on_auth_line("PLAIN", &ir) {
                    vec![Command::Auth {
                        mechanism: "PLAIN".into(),
                        initial: Some(ir),
                    }]
                } else {
                    // The exchange needs a challenge: no pipelining.
                    self.sasl_plain_after_challenge(creds)?;
                    self.state = State::Transaction;
                    let answers = self.run_all(then)?;
                    return Ok((method, answers));
                }
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

    /// SASL PLAIN whose initial response is too long for the AUTH line
    /// (RFC 5034): AUTH, the empty challenge, then the response.
    pub(super) fn sasl_plain_after_challenge(&mut self, creds: &Credentials) -> Result<()> {
        let ir = auth::plain_initial_response(creds);
        {
            self.submit(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: None,
            })?;
            self.flush()?;
            let line = self.read_status_line("waiting for the SASL challenge")?;
            // The challenge line answers the AUTH command itself.
            self.in_flight.pop_front();
            self.bytes_ahead = 0;
            match parse_continuation(&line) {
                Some(challenge) if challenge.iter().all(|b| *b == b' ') => {}
                Some(_) => return self.cancel_sasl("the server sent an unexpected challenge"),
                None => {
                    let status = self.parse_status_line(&line)?;
                    return Err(refusal_error(&status, "AUTH", true));
                }
            }
            self.submit(Command::SaslResponse(ir))?;
        }
        self.flush()?;
        let line = self.read_status_line("waiting for the login result")?;
        if parse_continuation(&line).is_some() {
            self.in_flight.pop_front();
            self.bytes_ahead = 0;
            return self.cancel_sasl("the server sent a challenge PLAIN does not expect");
        }
        let command = self.in_flight.pop_front();
        self.bytes_ahead = 0;
        debug_assert!(command.is_some());
        let status = self.parse_status_line(&line)?;
        if status.ok {
            Ok(())
        } else {
            Err(refusal_error(&status, "AUTH", true))
        }
    }

    /// Cancel an exchange with `*` (RFC 5034) and report it.
    pub(super) fn cancel_sasl(&mut self, why: &str) -> Result<()> {
        self.submit(Command::SaslResponse("*".into()))?;
        let _ = self.recv();
        Err(Error::protocol(format!("{why}; the login was cancelled")))
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
