//! A private Cyrus IMAP 3.6 POP3 server (`pop3d`) per test: the second real
//! server popview is tested against, next to [`super::dovecot`].
//!
//! Debian's `cyrus-pop3d` conflicts with `dovecot-pop3d`, so the binaries are
//! not installed as packages: `.ci/cyrus-setup.sh` unpacks `cyrus-common`,
//! `cyrus-pop3d` and `sasl2-bin` into [`install_dir`] (`/opt/popview-cyrus`,
//! or `$POPVIEW_CYRUS_DIR`) and installs only their shared libraries.
//!
//! [`Cyrus::start`] makes a short temp dir (`/dev/shm/pvcXXXXXX`, see
//! [`super::temp_root`]) owned by `nobody` (Cyrus services refuse to run as
//! root, and the machine has no `cyrus` user; none is created) holding:
//! an `imapd.conf` (config dir, partition, sockets, sasldb, TLS certificate
//! of the shared test PKI), a `cyrus.conf` with only `pop3` (STLS),
//! `pop3s` and a unix-socket `lmtp` service, and a sasldb made with
//! `saslpasswd2`. It runs `master` in the foreground, waits until both POP3
//! ports greet with this instance's server name (the POP3S one through a
//! verified TLS handshake), then delivers the messages in order over LMTP,
//! which creates the INBOX (`autocreate_post`), so message i gets UID i.
//! Dropping the value stops master and its children.
//!
//! Nothing under `/etc` is read for configuration or changed; no system
//! service is started. Cyrus logs only to syslog and this machine has no
//! `/dev/log`, so a failure shows master's stderr and the protocol error.
//!
//! What Cyrus changes on delivery: `lmtpd` replaces `Return-Path` with the
//! envelope sender (the harness sends the message's own `Return-Path`
//! address, so that line stays the same) and inserts `Received: ... by NAME
//! (Cyrus ...) with LMTPA`, `X-Cyrus-Session-Id` and `X-Sieve` after it;
//! [`Cyrus::strip_delivery_headers`] removes exactly those. It rejects
//! messages with a header line that has no colon. Bare LFs are sent as CRLF.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::certs::TestPki;
use super::rawpop::{self, Session, Tcp, Uninterrupted};
use super::{passwd_ids, two_free_ports};

/// The default user and password (same as the Dovecot harness).
pub const USER: &str = "alice";
pub const PASSWORD: &str = "pv-Test-Pass1";

/// Where `.ci/cyrus-setup.sh` unpacks Cyrus by default.
pub const DEFAULT_INSTALL_DIR: &str = "/opt/popview-cyrus";

const START_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(20);
const PORT_ATTEMPTS: usize = 4;
/// How long [`Cyrus::uidls`] retries a login refused because the mailbox is
/// still locked by a session whose connection was just cut.
const LOCK_RETRY: Duration = Duration::from_secs(10);

/// `$POPVIEW_CYRUS_DIR` or [`DEFAULT_INSTALL_DIR`].
pub fn install_dir() -> PathBuf {
    std::env::var_os("POPVIEW_CYRUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_INSTALL_DIR))
}

struct Install {
    bin: PathBuf,
    lib: PathBuf,
    saslpasswd2: PathBuf,
}

/// The unpacked binaries; panics with the command to run when missing.
fn install() -> Install {
    let root = install_dir();
    let i = Install {
        bin: root.join("usr/lib/cyrus/bin"),
        lib: root.join("usr/lib/x86_64-linux-gnu"),
        saslpasswd2: root.join("usr/sbin/saslpasswd2"),
    };
    let needed = [
        i.bin.join("master"),
        i.bin.join("pop3d"),
        i.bin.join("lmtpd"),
        i.bin.join("ctl_cyrusdb"),
        i.saslpasswd2.clone(),
    ];
    if let Some(missing) = needed.iter().find(|p| !p.exists()) {
        panic!(
            "Cyrus pop3d is required for this test but {} is missing.\n\
             Run (as root): bash .ci/cyrus-setup.sh\n\
             (it unpacks Debian's cyrus-common, cyrus-pop3d and sasl2-bin into {}; \
             set POPVIEW_CYRUS_DIR for another directory)",
            missing.display(),
            root.display()
        );
    }
    i
}

/// A running private Cyrus; stopped on drop.
pub struct Cyrus {
    /// Plain POP3 port (STLS available) on 127.0.0.1.
    pub plain_port: u16,
    /// POP3S (implicit TLS) port on 127.0.0.1.
    pub tls_port: u16,
    pub user: String,
    pub password: String,
    /// The CA that issued the server certificate (trust only this).
    pub ca_pem: PathBuf,
    /// The instance's temp dir (configs, databases, partition, sockets).
    pub dir: PathBuf,
    /// The `imapd.conf` every Cyrus process of this instance reads.
    pub config: PathBuf,
    /// Cyrus's `servername` for this instance (also the SASL realm); it is
    /// in the greeting, so a probe can tell this instance from another.
    pub servername: String,
    /// UIDVALIDITY of the INBOX, read back after delivery (0 when no
    /// message was delivered: the INBOX is then created at first login).
    pub uid_validity: u64,
    /// Temp dir, configs, sasldb (and the shared PKI on first use).
    pub setup: Duration,
    /// From `master` spawn to both ports answering (last attempt).
    pub startup: Duration,
    /// Delivering the messages over LMTP.
    pub delivery: Duration,
    child: Child,
    stderr_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Cyrus {
    /// Starts a private Cyrus with these messages in the main user's INBOX,
    /// in order (message i gets UID i). Panics with what to run when Cyrus
    /// is not unpacked, and with master's stderr when it can't start.
    pub fn start(messages: Vec<Vec<u8>>) -> Cyrus {
        let inst = install();
        let t_setup = Instant::now();
        let pki = TestPki::shared();
        let (uid, gid) = passwd_ids("nobody").expect("user nobody in /etc/passwd");

        let tmp = tempfile::Builder::new()
            .prefix("pvc")
            .rand_bytes(6)
            .tempdir_in(super::temp_root())
            .expect("temp dir for Cyrus");
        let dir = tmp.path().to_path_buf();
        let mut tmp = Some(tmp);
        let servername = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_ascii_lowercase();
        for sub in [
            "conf/db",
            "conf/proc",
            "conf/lock",
            "conf/log",
            "conf/msg",
            "conf/ptclient",
            "conf/quota",
            "conf/sieve",
            "conf/socket",
            "conf/sync",
            "conf/user",
            "part",
            "run/proc",
            "run/lock",
            "tmp",
        ] {
            fs::create_dir_all(dir.join(sub)).expect("Cyrus dirs");
        }
        // The server reads its own copy of the certificate and key.
        let cert = dir.join("server.pem");
        let key = dir.join("server.key");
        fs::copy(&pki.valid.cert_pem, &cert).expect("copy certificate");
        fs::copy(&pki.valid.key_pem, &key).expect("copy key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();

        let sasldb = dir.join("sasldb2");
        make_sasldb(&inst, &sasldb, &servername, USER, PASSWORD);

        let config = dir.join("imapd.conf");
        let lmtp_socket = dir.join("run/lmtp");
        fs::write(
            &config,
            imapd_conf(&dir, &servername, &sasldb, &cert, &key, &lmtp_socket),
        )
        .expect("write imapd.conf");
        chown_tree(&dir, uid, gid);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let setup = t_setup.elapsed();

        let cyrus_conf = dir.join("cyrus.conf");
        let stderr_path = dir.join("master.stderr");
        let mut last_failure = String::new();
        for _attempt in 0..PORT_ATTEMPTS {
            let (plain_port, tls_port) = two_free_ports();
            fs::write(
                &cyrus_conf,
                cyrus_conf_text(&inst, &config, &lmtp_socket, plain_port, tls_port),
            )
            .expect("write cyrus.conf");
            let t0 = Instant::now();
            let stderr = fs::File::create(&stderr_path).expect("stderr file");
            // -D: stay attached to our stderr; master runs in the foreground
            // unless -d is given, so it is our child and stopped on drop.
            // Its own process group: when master shuts down it signals its
            // whole process group, which would otherwise be every Cyrus of
            // this test process (seen here: one instance's drop killed
            // another instance's pop3d in the middle of a TLS handshake).
            let child = Command::new(inst.bin.join("master"))
                .process_group(0)
                .arg("-C")
                .arg(&config)
                .arg("-M")
                .arg(&cyrus_conf)
                .arg("-p")
                .arg(dir.join("run/master.pid"))
                .arg("-D")
                .env("LD_LIBRARY_PATH", &inst.lib)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn Cyrus master: {e}"));
            let mut cy = Cyrus {
                plain_port,
                tls_port,
                user: USER.to_string(),
                password: PASSWORD.to_string(),
                ca_pem: pki.ca_pem.clone(),
                dir: dir.clone(),
                config: config.clone(),
                servername: servername.clone(),
                uid_validity: 0,
                setup,
                startup: Duration::ZERO,
                delivery: Duration::ZERO,
                child,
                stderr_path: stderr_path.clone(),
                _tmp: None,
            };
            match cy.wait_ready(&lmtp_socket) {
                Ok(()) => {
                    cy.startup = t0.elapsed();
                    cy._tmp = tmp.take();
                    let t_deliver = Instant::now();
                    cy.deliver(&lmtp_socket, &messages);
                    cy.delivery = t_deliver.elapsed();
                    cy.uid_validity = cy.read_uid_validity(messages.len());
                    return cy;
                }
                Err(Retry::PortClash(msg)) => {
                    last_failure = msg;
                    cy.stop();
                }
                Err(Retry::Fatal(msg)) => {
                    cy.stop();
                    panic!("{msg}");
                }
            }
        }
        panic!(
            "Cyrus could not listen on free ports after {PORT_ATTEMPTS} attempts:\n{last_failure}"
        );
    }

    pub fn plain_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.plain_port))
    }

    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tls_port))
    }

    /// A native-tls connector trusting only the test CA, TLS 1.2+.
    pub fn connector(&self) -> native_tls::TlsConnector {
        TestPki::shared().verifying_connector()
    }

    /// The UIDL Cyrus gives the message with this UID (`uidl_format:
    /// cyrus`, the default: `UIDVALIDITY.UID`).
    pub fn expected_uidl(&self, uid: u32) -> String {
        format!("{}.{uid}", self.uid_validity)
    }

    /// UIDLs of UIDs 1..=n.
    pub fn expected_uidls(&self, n: usize) -> Vec<String> {
        (1..=n as u32).map(|u| self.expected_uidl(u)).collect()
    }

    /// Logged-in POP3S session (verified TLS) as the main user.
    pub fn pop3s_session(&self) -> Session<native_tls::TlsStream<Tcp>> {
        self.pop3s_login_retrying(&self.user, &self.password)
    }

    /// Logged-in session over STLS on the plain port, as the main user.
    pub fn stls_session(&self) -> Session<native_tls::TlsStream<Tcp>> {
        let mut s = rawpop::connect_stls(self.plain_addr(), &self.connector());
        s.login(&self.user, &self.password);
        s
    }

    /// What the server holds now, seen by an independent POP3S session
    /// (USER/PASS, UIDL, QUIT).
    pub fn uidls(&self) -> Vec<String> {
        let mut s = self.pop3s_login_retrying(&self.user, &self.password);
        let u = s.uidl();
        s.quit();
        u
    }

    /// `STAT` count from an independent POP3S session.
    pub fn message_count(&self) -> usize {
        let mut s = self.pop3s_login_retrying(&self.user, &self.password);
        let (n, _) = s.stat();
        s.quit();
        n
    }

    /// Master's stderr so far (Cyrus itself logs only to syslog).
    pub fn log_contents(&self) -> String {
        let err = fs::read_to_string(&self.stderr_path).unwrap_or_default();
        format!("--- master stderr ---\n{err}")
    }

    /// PID of the master process.
    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }

    /// A header block as Cyrus serves it, less the fields its `lmtpd` added
    /// on delivery here: the `Received: from ... by SERVERNAME (Cyrus ...)`
    /// field and the `X-Cyrus-Session-Id` and `X-Sieve` fields (each with
    /// its continuation lines). Everything else is kept byte for byte.
    pub fn strip_delivery_headers(&self, headers: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(headers.len());
        let mut dropping = false;
        for line in headers.split_inclusive(|&b| b == b'\n') {
            let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
            if !continuation {
                let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
                dropping = lower.starts_with("x-cyrus-session-id:")
                    || lower.starts_with("x-sieve:")
                    || (lower.starts_with("received: from ")
                        && self.is_own_received(headers, line));
            }
            if !dropping {
                out.extend_from_slice(line);
            }
        }
        out
    }

    /// Whether the `Received` field starting at `first_line` is the one
    /// this instance's lmtpd wrote (`by SERVERNAME (Cyrus`).
    fn is_own_received(&self, headers: &[u8], first_line: &[u8]) -> bool {
        let start = first_line.as_ptr() as usize - headers.as_ptr() as usize;
        let mut field = Vec::new();
        for (i, line) in headers[start..]
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
        {
            if i > 0 && !line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                break;
            }
            field.extend_from_slice(line);
        }
        let field = String::from_utf8_lossy(&field);
        field.contains(&format!("by {} (Cyrus ", self.servername))
    }

    /// USER/PASS over POP3S; a login refused because the maildrop is still
    /// locked (a session whose connection was cut a moment ago) is retried
    /// for up to [`LOCK_RETRY`].
    fn pop3s_login_retrying(
        &self,
        user: &str,
        password: &str,
    ) -> Session<native_tls::TlsStream<Tcp>> {
        let deadline = Instant::now() + LOCK_RETRY;
        loop {
            let (mut s, _) = rawpop::connect_pop3s(self.tls_addr(), &self.connector());
            s.ok(&format!("USER {user}"));
            let st = s.cmd(&format!("PASS {password}"));
            if st.starts_with("+OK") {
                return s;
            }
            assert!(
                st.contains("[IN-USE]") && Instant::now() < deadline,
                "PASS got {st:?}"
            );
            let _ = s.cmd("QUIT");
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_ready(&mut self, lmtp_socket: &Path) -> Result<(), Retry> {
        let deadline = Instant::now() + START_TIMEOUT;
        let connector = self.connector();
        let mut plain_ok = false;
        let mut tls_ok = false;
        let mut last_err = String::new();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Err(Retry::Fatal(format!(
                    "Cyrus master exited during startup ({status}):\n{}",
                    self.log_contents()
                )));
            }
            if !plain_ok {
                match probe(self.plain_addr(), None, &self.servername) {
                    Ok(()) => plain_ok = true,
                    Err(Probe::Foreign(g)) => {
                        return Err(Retry::PortClash(format!(
                            "port {} answered for another server: {g}",
                            self.plain_port
                        )));
                    }
                    Err(Probe::NotYet(e)) => last_err = format!("plain port: {e}"),
                }
            }
            if !tls_ok {
                match probe(self.tls_addr(), Some(&connector), &self.servername) {
                    Ok(()) => tls_ok = true,
                    Err(Probe::Foreign(g)) => {
                        return Err(Retry::PortClash(format!(
                            "port {} answered for another server: {g}",
                            self.tls_port
                        )));
                    }
                    Err(Probe::NotYet(e)) => last_err = format!("TLS port: {e}"),
                }
            }
            if plain_ok && tls_ok && UnixStream::connect(lmtp_socket).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // Master logs a failed bind to syslog only and keeps
                // running, so a port taken between our probe and its bind
                // looks like this; a fresh pair of ports is the cure.
                return Err(Retry::PortClash(format!(
                    "Cyrus not ready after {START_TIMEOUT:?} (last: {last_err}):\n{}",
                    self.log_contents()
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Delivers the messages in order over LMTP (one transaction each, the
    /// envelope commands pipelined). The first delivery creates the INBOX.
    fn deliver(&self, socket: &Path, messages: &[Vec<u8>]) {
        let stream = UnixStream::connect(socket).expect("connect to lmtpd");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        lmtp_reply(&mut r, "greeting", 220);
        w.write_all(b"LHLO localhost\r\n").unwrap();
        lmtp_reply(&mut r, "LHLO", 250);
        for (i, m) in messages.iter().enumerate() {
            let n = i + 1;
            let from = return_path(m).unwrap_or_default();
            write!(
                w,
                "MAIL FROM:<{from}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
                self.user
            )
            .unwrap();
            lmtp_reply(&mut r, &format!("MAIL FROM of message {n}"), 250);
            lmtp_reply(&mut r, &format!("RCPT TO of message {n}"), 250);
            lmtp_reply(&mut r, &format!("DATA of message {n}"), 354);
            w.write_all(&dot_stuffed(m)).unwrap();
            lmtp_reply(&mut r, &format!("delivery of message {n}"), 250);
        }
        w.write_all(b"QUIT\r\n").unwrap();
        lmtp_reply(&mut r, "QUIT", 221);
    }

    /// UIDVALIDITY from the first UIDL line; checks that the UIDLs are
    /// `V.1 .. V.n` in order (the delivery order).
    fn read_uid_validity(&self, n: usize) -> u64 {
        let uidls = self.uidls();
        assert_eq!(uidls.len(), n, "messages in the INBOX after delivery");
        let Some(first) = uidls.first() else {
            return 0;
        };
        let validity: u64 = first
            .split_once('.')
            .and_then(|(v, _)| v.parse().ok())
            .unwrap_or_else(|| panic!("Cyrus UIDL {first:?} is not UIDVALIDITY.UID"));
        let want: Vec<String> = (1..=n).map(|u| format!("{validity}.{u}")).collect();
        assert_eq!(uidls, want, "UIDLs after delivery");
        validity
    }

    /// Stops the instance. Master runs in its own process group (see
    /// [`Cyrus::start`]) holding exactly this instance's processes: SIGTERM
    /// to the group (master also stops its services itself), wait up to
    /// 2 s, SIGKILL the group if anything is left, reap master.
    fn stop(&mut self) {
        let pgid = self.child.id();
        if group_alive(pgid) {
            signal_group(pgid, "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut master_done = false;
        loop {
            if !master_done {
                master_done = matches!(self.child.try_wait(), Ok(Some(_)));
            }
            if master_done && !group_alive(pgid) {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        signal_group(pgid, "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Retry {
    PortClash(String),
    Fatal(String),
}

enum Probe {
    /// Not answering (yet), or not as expected.
    NotYet(String),
    /// A POP3 server that is not this instance.
    Foreign(String),
}

/// Connects (through a verified TLS handshake when `tls` is given) and
/// checks the greeting names this instance.
fn probe(
    addr: SocketAddr,
    tls: Option<&native_tls::TlsConnector>,
    servername: &str,
) -> Result<(), Probe> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        .map_err(|e| Probe::NotYet(e.to_string()))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok();
    s.set_write_timeout(Some(Duration::from_secs(3))).ok();
    match tls {
        None => probe_session(s, servername),
        Some(c) => {
            let t = c
                .connect("localhost", Uninterrupted::new(s))
                .map_err(|e| Probe::NotYet(format!("verified TLS handshake failed: {e}")))?;
            probe_session(t, servername)
        }
    }
}

fn probe_session<S: Read + Write>(s: S, servername: &str) -> Result<(), Probe> {
    let mut sess = Session::new(s);
    match sess.try_read_line() {
        Ok(Some(l)) if l.starts_with(&format!("+OK {servername} Cyrus POP3")) => {
            sess.send("QUIT");
            let _ = sess.try_read_line();
            Ok(())
        }
        Ok(Some(l)) => Err(Probe::Foreign(l)),
        Ok(None) => Err(Probe::NotYet("closed before greeting".into())),
        Err(e) => Err(Probe::NotYet(e.to_string())),
    }
}

/// Reads one (possibly multi-line) LMTP reply and asserts its code.
fn lmtp_reply(r: &mut impl BufRead, what: &str, code: u16) {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("LMTP {what}: {e}"));
        assert!(n > 0, "lmtpd closed the connection at {what}: {all}");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    assert!(
        all.starts_with(&code.to_string()),
        "LMTP {what}: expected {code}, got {all:?}"
    );
}

/// The address in the message's first `Return-Path:` header, if any.
fn return_path(m: &[u8]) -> Option<String> {
    let head_end = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(m.len());
    let head = String::from_utf8_lossy(&m[..head_end]);
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.eq_ignore_ascii_case("return-path") {
            return None;
        }
        let v = value.trim();
        Some(
            v.strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(v)
                .to_string(),
        )
    })
}

/// The message as LMTP DATA: every line ending CRLF (a bare LF becomes
/// CRLF), lines starting with '.' doubled, then the terminating ".".
fn dot_stuffed(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len() + m.len() / 50 + 5);
    let mut at_line_start = true;
    for (i, &b) in m.iter().enumerate() {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && (i == 0 || m[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn make_sasldb(inst: &Install, db: &Path, realm: &str, user: &str, password: &str) {
    let mut child = Command::new(&inst.saslpasswd2)
        .arg("-p")
        .arg("-c")
        .arg("-f")
        .arg(db)
        .arg("-u")
        .arg(realm)
        .arg(user)
        .env("LD_LIBRARY_PATH", &inst.lib)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", inst.saslpasswd2.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("saslpasswd2");
    assert!(
        out.status.success() && db.exists(),
        "saslpasswd2 failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn imapd_conf(
    dir: &Path,
    servername: &str,
    sasldb: &Path,
    cert: &Path,
    key: &Path,
    lmtp_socket: &Path,
) -> String {
    let d = dir.display();
    let mut c = String::new();
    writeln!(
        c,
        "# Private popview test instance: nothing from /etc.
configdirectory: {d}/conf
partition-default: {d}/part
defaultpartition: default
proc_path: {d}/run/proc
mboxname_lockpath: {d}/run/lock
lmtpsocket: {lmtp}
idlesocket: {d}/run/idle
notifysocket: {d}/run/notify
temp_path: {d}/tmp
servername: {servername}
cyrus_user: nobody
syslog_prefix: popview-cyrus
hashimapspool: false
umask: 077
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {sasldb}
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
allowapop: yes
popminpoll: 0
autocreate_quota: 0
autocreate_post: yes
tls_server_cert: {cert}
tls_server_key: {key}
tls_versions: tls1_2 tls1_3",
        lmtp = lmtp_socket.display(),
        sasldb = sasldb.display(),
        cert = cert.display(),
        key = key.display(),
    )
    .unwrap();
    c
}

fn cyrus_conf_text(
    inst: &Install,
    config: &Path,
    lmtp_socket: &Path,
    plain_port: u16,
    tls_port: u16,
) -> String {
    let b = inst.bin.display();
    let conf = config.display();
    format!(
        "# Private popview test instance: only POP3, POP3S and LMTP.
START {{
  recover cmd=\"{b}/ctl_cyrusdb -C {conf} -r\"
}}
SERVICES {{
  pop3 cmd=\"{b}/pop3d -C {conf}\" listen=\"127.0.0.1:{plain_port}\" prefork=0
  pop3s cmd=\"{b}/pop3d -s -C {conf}\" listen=\"127.0.0.1:{tls_port}\" prefork=0
  lmtp cmd=\"{b}/lmtpd -a -C {conf}\" listen=\"{lmtp}\" prefork=0
}}
EVENTS {{
}}
",
        lmtp = lmtp_socket.display(),
    )
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for e in fs::read_dir(path).expect("read_dir") {
            chown_tree(&e.expect("dir entry").path(), uid, gid);
        }
    }
}

/// Whether any process other than a zombie is in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            // After "(comm)": state, ppid, pgrp, ...
            let mut f = stat.rsplit(')').next().unwrap_or("").split_whitespace();
            let state = f.next();
            let _ppid = f.next();
            f.next() == Some(pgid.to_string().as_str()) && state != Some("Z")
        })
}

/// `kill -SIG -- -pgid`: the whole process group.
fn signal_group(pgid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}
