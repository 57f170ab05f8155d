//! A private Dovecot POP3 server per test.
//!
//! [`Dovecot::start`] writes a self-contained config into a short temp dir
//! (`/dev/shm/pvdXXXXXX` or `/tmp/pvdXXXXXX`, see [`super::temp_root`]), seeds a Maildir (message i gets UID i, UIDVALIDITY
//! [`UID_VALIDITY`]), runs `dovecot -F -c CONFIG` and waits until the plain
//! port answers `+OK` and the POP3S port answers `+OK` through a verified
//! TLS handshake. Dropping the value stops the master and its children.
//!
//! Nothing under `/etc/dovecot` is read or touched; the system Dovecot is
//! never started.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::certs::TestPki;
use super::rawpop::{self, Session, Tcp, Uninterrupted};
use super::{passwd_ids, two_free_ports};

/// UIDVALIDITY of every seeded Maildir.
pub const UID_VALIDITY: u32 = 0x6553_f100;

/// The default user and password.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "pv-Test-Pass1";

const START_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);
const PORT_ATTEMPTS: usize = 5;

/// Another mailbox on the same server.
#[derive(Debug, Clone, Default)]
pub struct ExtraUser {
    pub name: String,
    pub password: String,
    /// Raw messages, in order: message i gets UID i.
    pub messages: Vec<Vec<u8>>,
}

/// What to start. `DovecotOptions::default()` is an empty mailbox for
/// [`USER`] with cleartext logins allowed (so the *client's* refusal to send
/// a password in the clear is what gets tested).
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// Raw RFC 5322 messages for the main user, in order (message i gets UID i).
    pub messages: Vec<Vec<u8>>,
    pub extra_users: Vec<ExtraUser>,
    /// Dovecot's `disable_plaintext_auth`.
    pub disable_plaintext_auth: bool,
    /// Dovecot's `auth_mechanisms`.
    pub auth_mechanisms: String,
    /// Dovecot's `auth_failure_delay`; `None` keeps Dovecot's 2 s.
    pub auth_failure_delay: Option<Duration>,
    /// Dovecot's per-IP auth penalty: after a failed login, the next logins
    /// from 127.0.0.1 wait (about 4 s measured here, growing to 15 s).
    /// `false` disables it (anvil-auth-penalty listener with `mode = 0`).
    pub auth_penalty: bool,
    /// Dovecot's `login_greeting`; `None` keeps "Dovecot (Debian) ready.".
    pub login_greeting: Option<String>,
    /// Extra config lines appended verbatim (last setting wins).
    pub extra_config: String,
    /// An OAuth2 introspection URL: XOAUTH2 and OAUTHBEARER logins are
    /// checked by an `oauth2` passdb that asks it (see
    /// [`super::introspect`]); add the mechanisms to `auth_mechanisms`.
    pub oauth2_introspection: Option<String>,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            messages: Vec::new(),
            extra_users: Vec::new(),
            disable_plaintext_auth: false,
            auth_mechanisms: "plain login apop".to_string(),
            auth_failure_delay: None,
            auth_penalty: true,
            login_greeting: None,
            extra_config: String::new(),
            oauth2_introspection: None,
        }
    }
}

impl DovecotOptions {
    /// Default options with these messages.
    pub fn with_messages(messages: Vec<Vec<u8>>) -> Self {
        DovecotOptions {
            messages,
            ..Default::default()
        }
    }
}

/// A running private Dovecot; stopped on drop.
pub struct Dovecot {
    /// Plain POP3 port (STLS available) on 127.0.0.1.
    pub plain_port: u16,
    /// POP3S (implicit TLS) port on 127.0.0.1.
    pub tls_port: u16,
    pub user: String,
    pub password: String,
    /// The CA that issued the server certificate (trust only this).
    pub ca_pem: PathBuf,
    /// The main user's Maildir.
    pub maildir: PathBuf,
    /// The instance's temp dir (config, log, run dirs, homes).
    pub dir: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    /// Writing the Maildirs, passwd-file (and the shared PKI on first use).
    pub seeding: Duration,
    /// From `dovecot` spawn to both ports answering (last attempt).
    pub startup: Duration,
    instance: String,
    child: Child,
    stderr_path: PathBuf,
    mail_uid: u32,
    mail_gid: u32,
    added: AtomicU32,
    _tmp: Option<tempfile::TempDir>,
}

impl Dovecot {
    /// Starts a private Dovecot. Panics (with the Dovecot log) when it can't
    /// start, and with a clear message when Dovecot is not installed.
    pub fn start(opts: DovecotOptions) -> Dovecot {
        let bin = dovecot_binary();
        let t_seed = Instant::now();
        let pki = TestPki::shared();
        let (mail_uid, mail_gid) = passwd_ids("nobody").unwrap_or((65534, 65534));

        let tmp = tempfile::Builder::new()
            .prefix("pvd")
            .rand_bytes(6)
            .tempdir_in(super::temp_root())
            .expect("temp dir for Dovecot");
        let dir = tmp.path().to_path_buf();
        let mut tmp = Some(tmp);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let instance = dir.file_name().unwrap().to_string_lossy().into_owned();
        let home = dir.join("home");
        fs::create_dir(&home).expect("home dir");
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).expect("chmod home");

        // Users and mailboxes.
        let mut users = vec![ExtraUser {
            name: USER.to_string(),
            password: PASSWORD.to_string(),
            messages: opts.messages.clone(),
        }];
        users.extend(opts.extra_users.iter().cloned());
        let mut passwd = String::new();
        for u in &users {
            assert!(
                !u.name.contains([':', ' ', '/']) && !u.password.contains([':', '\n']),
                "user names and passwords must fit a passwd-file line"
            );
            let uhome = home.join(&u.name);
            seed_maildir(&uhome, &u.messages, mail_uid, mail_gid);
            writeln!(
                passwd,
                "{}:{{PLAIN}}{}:{mail_uid}:{mail_gid}::{}::",
                u.name,
                u.password,
                uhome.display()
            )
            .unwrap();
        }
        let passwd_path = dir.join("passwd");
        fs::write(&passwd_path, passwd).expect("write passwd-file");
        fs::set_permissions(&passwd_path, fs::Permissions::from_mode(0o644)).unwrap();

        let seeding = t_seed.elapsed();
        let config = dir.join("dovecot.conf");
        let log = dir.join("dovecot.log");
        let stderr_path = dir.join("stderr.log");
        let mut last_failure = String::new();
        for _attempt in 0..PORT_ATTEMPTS {
            let (plain_port, tls_port) = two_free_ports();
            fs::write(
                &config,
                config_text(
                    &opts,
                    &dir,
                    &instance,
                    &passwd_path,
                    &log,
                    plain_port,
                    tls_port,
                    pki,
                ),
            )
            .expect("write dovecot.conf");
            // Each attempt starts with a fresh log.
            let _ = fs::remove_file(&log);
            let t0 = Instant::now();
            let stderr = fs::File::create(&stderr_path).expect("stderr file");
            let child = Command::new(&bin)
                .arg("-F")
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let mut dc = Dovecot {
                plain_port,
                tls_port,
                user: USER.to_string(),
                password: PASSWORD.to_string(),
                ca_pem: pki.ca_pem.clone(),
                maildir: home.join(USER).join("Maildir"),
                dir: dir.clone(),
                config: config.clone(),
                log: log.clone(),
                seeding,
                startup: Duration::ZERO,
                instance: instance.clone(),
                child,
                stderr_path: stderr_path.clone(),
                mail_uid,
                mail_gid,
                added: AtomicU32::new(0),
                _tmp: None,
            };
            match dc.wait_ready() {
                Ok(()) => {
                    dc.startup = t0.elapsed();
                    // Hand the real temp dir to the instance so it lives as
                    // long as the server.
                    dc._tmp = tmp.take();
                    return dc;
                }
                Err(Retry::PortClash(msg)) => {
                    last_failure = msg;
                    dc.stop();
                    continue;
                }
                Err(Retry::Fatal(msg)) => {
                    dc.stop();
                    panic!("{msg}");
                }
            }
        }
        panic!("Dovecot could not bind free ports after {PORT_ATTEMPTS} attempts:\n{last_failure}");
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

    /// The UIDL Dovecot gives the message with this UID
    /// (`pop3_uidl_format = %08Xu%08Xv`, printed in lower case).
    pub fn expected_uidl(uid: u32) -> String {
        format!("{uid:08x}{UID_VALIDITY:08x}")
    }

    /// UIDLs of UIDs 1..=n.
    pub fn expected_uidls(n: usize) -> Vec<String> {
        (1..=n as u32).map(Dovecot::expected_uidl).collect()
    }

    /// Logged-in POP3S session (verified TLS) as the main user.
    pub fn pop3s_session(&self) -> Session<native_tls::TlsStream<Tcp>> {
        let (mut s, _) = rawpop::connect_pop3s(self.tls_addr(), &self.connector());
        s.login(&self.user, &self.password);
        s
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
        self.uidls_of(&self.user, &self.password)
    }

    /// Like [`Dovecot::uidls`] for another user.
    pub fn uidls_of(&self, user: &str, password: &str) -> Vec<String> {
        let (mut s, _) = rawpop::connect_pop3s(self.tls_addr(), &self.connector());
        s.login(user, password);
        let u = s.uidl();
        s.quit();
        u
    }

    /// `STAT` count from an independent POP3S session.
    pub fn message_count(&self) -> usize {
        let mut s = self.pop3s_session();
        let (n, _) = s.stat();
        s.quit();
        n
    }

    /// Delivers messages to the main user's Maildir `new/` (as new mail
    /// arriving while a client is connected). They get the next UIDs in
    /// order when Dovecot next syncs the mailbox (a new session or, in a
    /// live POP3 session, never: POP3 sessions see a fixed snapshot).
    pub fn add_messages(&self, msgs: &[Vec<u8>]) {
        for m in msgs {
            let seq = self.added.fetch_add(1, Ordering::SeqCst);
            // Same-length names sorting in arrival order.
            let base = format!(
                "1800000000.M{seq:08}P{}.popview,S={},W={}",
                std::process::id(),
                m.len(),
                virtual_size(m)
            );
            let tmp = self.maildir.join("tmp").join(&base);
            write_owned(&tmp, m, self.mail_uid, self.mail_gid);
            fs::rename(&tmp, self.maildir.join("new").join(&base)).expect("deliver to new/");
        }
    }

    /// Dovecot's log and the master's stderr so far.
    pub fn log_contents(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let err = fs::read_to_string(&self.stderr_path).unwrap_or_default();
        format!("--- {} ---\n{log}--- stderr ---\n{err}", self.log.display())
    }

    /// The process title prefix Dovecot uses for this instance.
    pub fn instance_name(&self) -> &str {
        &self.instance
    }

    /// PID of the master process.
    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) -> Result<(), Retry> {
        let deadline = Instant::now() + START_TIMEOUT;
        let connector = self.connector();
        let mut plain_ok = false;
        let mut last_err = String::new();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let logs = self.log_contents();
                if logs.contains("Address already in use") {
                    return Err(Retry::PortClash(logs));
                }
                return Err(Retry::Fatal(format!(
                    "Dovecot exited during startup ({status}):\n{logs}"
                )));
            }
            if !plain_ok {
                match probe_plain(self.plain_addr()) {
                    Ok(()) => plain_ok = true,
                    Err(e) => last_err = format!("plain port: {e}"),
                }
            }
            if plain_ok {
                match probe_tls(self.tls_addr(), &connector) {
                    Ok(()) => return Ok(()),
                    Err(e) => last_err = format!("TLS port: {e}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(Retry::Fatal(format!(
                    "Dovecot not ready after {START_TIMEOUT:?} (last: {last_err}):\n{}",
                    self.log_contents()
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Stops the instance: SIGTERM to the master and all its children at
    /// once (Dovecot's own shutdown takes about 1 s, and a login process
    /// proxying an open TLS session outlives the master), wait up to 0.5 s,
    /// SIGKILL whatever is left, then reap the master.
    fn stop(&mut self) {
        let pid = self.child.id();
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let children = child_pids(pid);
        signal(pid, "TERM");
        for &c in &children {
            signal(c, "TERM");
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut master_done = false;
        let mut left = children;
        loop {
            if !master_done {
                master_done = matches!(self.child.try_wait(), Ok(Some(_)));
            }
            left.retain(|p| alive(*p));
            if (master_done && left.is_empty()) || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        if !master_done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for p in left {
            signal(p, "KILL");
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Retry {
    PortClash(String),
    Fatal(String),
}

fn dovecot_binary() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for d in path.split(':') {
            let p = Path::new(d).join("dovecot");
            if p.exists() {
                return p;
            }
        }
    }
    panic!("Dovecot is required: apt-get install dovecot-core dovecot-pop3d");
}

fn probe_plain(addr: SocketAddr) -> Result<(), String> {
    let s =
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    probe_session(s)
}

fn probe_tls(addr: SocketAddr, connector: &native_tls::TlsConnector) -> Result<(), String> {
    let s =
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    let tls = connector
        .connect("localhost", Uninterrupted::new(s))
        .map_err(|e| format!("verified TLS handshake failed: {e}"))?;
    probe_session(tls)
}

fn probe_session<S: std::io::Read + std::io::Write>(s: S) -> Result<(), String> {
    let mut sess = Session::new(s);
    match sess.try_read_line() {
        Ok(Some(l)) if l.starts_with("+OK") => {
            sess.send("QUIT");
            let _ = sess.try_read_line();
            Ok(())
        }
        Ok(Some(l)) => Err(format!("greeting {l:?}")),
        Ok(None) => Err("closed before greeting".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
fn config_text(
    opts: &DovecotOptions,
    dir: &Path,
    instance: &str,
    passwd: &Path,
    log: &Path,
    plain_port: u16,
    tls_port: u16,
    pki: &TestPki,
) -> String {
    let d = dir.display();
    let mut c = String::new();
    writeln!(
        c,
        "# Private popview test instance: nothing from /etc/dovecot.
base_dir = {d}/run
state_dir = {d}/state
log_path = {log}
info_log_path = {log}
instance_name = {instance}
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
mail_location = maildir:~/Maildir
disable_plaintext_auth = {dpa}
auth_mechanisms = {mechs}
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 100
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
{oauth2}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {plain_port}
  }}
  inet_listener pop3s {{
    port = {tls_port}
    ssl = yes
  }}
}}",
        log = log.display(),
        cert = pki.valid.cert_pem.display(),
        key = pki.valid.key_pem.display(),
        dpa = if opts.disable_plaintext_auth {
            "yes"
        } else {
            "no"
        },
        mechs = opts.auth_mechanisms,
        passwd = passwd.display(),
        oauth2 = oauth2_passdb(opts, dir),
    )
    .unwrap();
    if let Some(delay) = opts.auth_failure_delay {
        writeln!(c, "auth_failure_delay = {}ms", delay.as_millis()).unwrap();
    }
    if !opts.auth_penalty {
        c.push_str("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n");
    }
    if let Some(g) = &opts.login_greeting {
        writeln!(c, "login_greeting = {g}").unwrap();
    }
    c.push_str(&opts.extra_config);
    c.push('\n');
    c
}

/// The `oauth2` passdb (before the passwd-file one) and its args file,
/// written into `dir`, when the options name an introspection URL.
fn oauth2_passdb(opts: &DovecotOptions, dir: &Path) -> String {
    let Some(url) = &opts.oauth2_introspection else {
        return String::new();
    };
    let ext = dir.join("oauth2.conf.ext");
    std::fs::write(
        &ext,
        format!(
            "introspection_mode = post\nintrospection_url = {url}\n\
             username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        ),
    )
    .expect("write oauth2.conf.ext");
    format!(
        "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
        ext.display()
    )
}

/// Size with every bare LF counted as CRLF (what LIST reports).
pub fn virtual_size(m: &[u8]) -> usize {
    let bare_lf = m
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || m[i - 1] != b'\r'))
        .count();
    m.len() + bare_lf
}

fn write_owned(path: &Path, data: &[u8], uid: u32, gid: u32) {
    let mut f = fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(data).expect("write message");
    drop(f);
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

fn mkdir_owned(path: &Path, uid: u32, gid: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

/// Home + Maildir with messages in `cur/` and a `dovecot-uidlist` that fixes
/// message i to UID i.
fn seed_maildir(home: &Path, messages: &[Vec<u8>], uid: u32, gid: u32) {
    mkdir_owned(home, uid, gid);
    let md = home.join("Maildir");
    mkdir_owned(&md, uid, gid);
    for sub in ["cur", "new", "tmp"] {
        mkdir_owned(&md.join(sub), uid, gid);
    }
    let mut uidlist = format!(
        "3 V{UID_VALIDITY} N{} G{:032x}\n",
        messages.len() + 1,
        (u128::from(std::process::id()) << 64)
            | u128::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            )
    );
    for (i, m) in messages.iter().enumerate() {
        let n = i + 1;
        let base = format!(
            "{}.M{n:08}P1.popview,S={},W={}",
            1_700_000_000 + n,
            m.len(),
            virtual_size(m)
        );
        write_owned(&md.join("cur").join(format!("{base}:2,")), m, uid, gid);
        writeln!(uidlist, "{n} :{base}").unwrap();
    }
    write_owned(&md.join("dovecot-uidlist"), uidlist.as_bytes(), uid, gid);
}

fn child_pids(pid: u32) -> Vec<u32> {
    // /proc/<pid>/task/<pid>/children lists direct children.
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie still has /proc/<pid>; treat it as gone.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Deterministic PRNG (SplitMix64) for message generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const NAMES: &[(&str, &str)] = &[
    ("Alice Martin", "alice.martin@example.org"),
    ("=?UTF-8?Q?Zo=C3=AB_M=C3=BCller?=", "zoe@example.de"),
    ("\"Doe, John\"", "jdoe@example.com"),
    ("=?UTF-8?B?5bGx55Sw5aSq6YOO?=", "yamada@example.jp"),
    ("Bob", "bob@example.net"),
    ("=?ISO-8859-1?Q?Ren=E9_Dupr=E9?=", "rene@example.fr"),
    ("Mailing List", "list-noreply@lists.example.org"),
    ("Carol O'Neil", "carol@example.ie"),
];

const TOPICS: &[&str] = &[
    "Quarterly report",
    "Lunch on Friday?",
    "Re: build failure on main",
    "Invoice",
    "Meeting notes",
    "Fwd: travel plans",
    "Your order has shipped",
    "Weekly digest",
];

const ENCODED_TOPICS: &[&str] = &[
    "=?UTF-8?Q?Caf=C3=A9_tomorrow=3F?=",
    "=?UTF-8?B?UmU6IMOcYmVyc2ljaHQ=?=",
    "=?UTF-8?B?8J+OiSBQYXJ0eQ==?= plans",
    "=?ISO-8859-1?Q?R=E9sum=E9?= attached",
];

const WORDS: &[&str] = &[
    "the", "mailbox", "server", "message", "please", "review", "attached", "tomorrow", "schedule",
    "project", "thanks", "budget", "protocol", "terminal", "delete", "archive", "Dovecot",
    "quickly", "update", "draft", "network", "latency", "header", "preview",
];

/// `n` realistic, distinct, deterministic messages (CRLF line ends): From
/// with display names (some RFC 2047), Subject (some RFC 2047 encoded
/// words), Date, Message-ID, every fifth one multipart/mixed with a small
/// base64 attachment; sizes from about 500 B to 50 KB.
pub fn generated_messages(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x005e_ed0f_u64);
    (1..=n).map(|i| generate_one(i, &mut rng)).collect()
}

fn generate_one(i: usize, rng: &mut Rng) -> Vec<u8> {
    // Log-uniform-ish size between 500 B and 50 KB.
    let target = {
        let exp = rng.below(1000) as f64 / 1000.0; // 0..1
        (500.0 * 100f64.powf(exp * exp)) as usize
    }
    .clamp(500, 50_000);
    let (name, addr) = NAMES[rng.below(NAMES.len())];
    let subject = if i.is_multiple_of(3) {
        format!("{} #{i}", rng.pick(ENCODED_TOPICS))
    } else {
        format!("{} #{i}", rng.pick(TOPICS))
    };
    let date = rfc2822_date(1_704_067_200 + i as u64 * 2_221 + rng.below(600) as u64);
    let mut m = String::with_capacity(target + 1024);
    write!(
        m,
        "Return-Path: <{addr}>\r\n\
         Received: from mx{r}.example.net (mx{r}.example.net [192.0.2.{r}])\r\n\
         \tby mail.example.com with ESMTPS id {id:016x}\r\n\
         \tfor <alice@example.com>; {date}\r\n\
         From: {name} <{addr}>\r\n\
         To: Alice <alice@example.com>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <pv.{i}.{id:016x}@gen.popview.test>\r\n\
         MIME-Version: 1.0\r\n",
        r = 1 + rng.below(200),
        id = rng.next(),
    )
    .unwrap();
    let multipart = i.is_multiple_of(5);
    let boundary = format!("=_pv_{i}_{:08x}", rng.next() as u32);
    if multipart {
        write!(
            m,
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             This is a multi-part message in MIME format.\r\n\r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n"
        )
        .unwrap();
    } else {
        m.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
    }
    writeln!(m, "Hello Alice,\r\n\r\nThis is message number {i}.\r").unwrap();
    let attachment_len = if multipart { 300 + rng.below(1500) } else { 0 };
    // Base64 of the attachment is 4/3 larger plus line ends.
    let body_target = target.saturating_sub(attachment_len * 14 / 10 + 200);
    let mut line = String::new();
    while m.len() < body_target {
        let w = rng.pick(WORDS);
        if line.len() + w.len() + 1 > 72 {
            // A dot at line start exercises dot-stuffing.
            if rng.below(40) == 0 {
                m.push('.');
            }
            m.push_str(&line);
            m.push_str("\r\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    m.push_str(&line);
    m.push_str("\r\n\r\n-- \r\nSent by the popview generator\r\n");
    if multipart {
        let data: Vec<u8> = (0..attachment_len).map(|_| rng.next() as u8).collect();
        write!(
            m,
            "\r\n--{boundary}\r\n\
             Content-Type: application/octet-stream; name=\"data-{i}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"data-{i}.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        )
        .unwrap();
        let b64 = base64_encode(&data);
        for chunk in b64.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap());
            m.push_str("\r\n");
        }
        write!(m, "\r\n--{boundary}--\r\n").unwrap();
    }
    m.into_bytes()
}

fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Mon, 01 Jan 2024 10:00:00 +0000` for a Unix time.
fn rfc2822_date(t: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(mo - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
