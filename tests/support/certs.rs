//! Real certificates for tests, made with the `openssl` command line tool.
//!
//! [`TestPki::shared`] is one PKI for every test (a `OnceLock` per process,
//! on disk in a cache dir shared by all test processes);
//! [`TestPki::generate`] makes a fresh one in a temp dir. Keys are EC P-256
//! (fast to generate), key files are PKCS#8 PEM (`BEGIN PRIVATE KEY`, as
//! `native_tls::Identity::from_pkcs8` wants) and each leaf also has a PKCS#12
//! file protected by [`P12_PASSWORD`], written by OpenSSL 3 with its modern
//! defaults (AES-256-CBC + PBKDF2), which OpenSSL 3 reads without the legacy
//! provider.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Password of every PKCS#12 file made here.
pub const P12_PASSWORD: &str = "test";

/// One certificate with its key.
#[derive(Debug, Clone)]
pub struct CertKey {
    /// The certificate, PEM.
    pub cert_pem: PathBuf,
    /// Its private key, PKCS#8 PEM, unencrypted.
    pub key_pem: PathBuf,
    /// Certificate + key as PKCS#12, password [`P12_PASSWORD`].
    pub p12: PathBuf,
}

impl CertKey {
    /// The certificate's PEM text.
    pub fn cert_pem_bytes(&self) -> Vec<u8> {
        fs::read(&self.cert_pem).expect("read cert PEM")
    }

    /// A server identity from the PKCS#12 file.
    pub fn identity(&self) -> native_tls::Identity {
        let der = fs::read(&self.p12).expect("read PKCS#12");
        native_tls::Identity::from_pkcs12(&der, P12_PASSWORD).expect("PKCS#12 identity")
    }

    /// A server identity from the PEM certificate and PKCS#8 key.
    pub fn identity_pkcs8(&self) -> native_tls::Identity {
        let cert = fs::read(&self.cert_pem).expect("read cert PEM");
        let key = fs::read(&self.key_pem).expect("read key PEM");
        native_tls::Identity::from_pkcs8(&cert, &key).expect("PKCS#8 identity")
    }

    /// SHA-256 of the certificate's DER, lower-case hex without separators.
    pub fn sha256_fingerprint_hex(&self) -> String {
        sha256_fingerprint_hex(&self.cert_pem_bytes())
    }
}

/// A private test PKI in a temporary directory (removed when dropped).
#[derive(Debug)]
pub struct TestPki {
    /// The temporary directory holding every file below.
    pub dir: PathBuf,
    /// The test CA's certificate: the one root clients should trust.
    pub ca_pem: PathBuf,
    /// The test CA's private key.
    pub ca_key: PathBuf,
    /// Valid: `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1`,
    /// `CA:FALSE`, EKU serverAuth, issued by the test CA.
    pub valid: CertKey,
    /// Self-signed leaf for localhost (same SAN): untrusted issuer.
    pub self_signed: CertKey,
    /// The second, unknown CA's certificate (not to be trusted by clients).
    pub other_ca_pem: PathBuf,
    /// Leaf for localhost issued by the unknown second CA.
    pub unknown_ca: CertKey,
    /// Leaf issued by the test CA for `wrong.example` only.
    pub wrong_host: CertKey,
    /// Leaf for localhost issued by the test CA, valid 2020-01-01..2021-01-01.
    pub expired: CertKey,
    _tmp: Option<tempfile::TempDir>,
}

impl TestPki {
    /// The PKI shared by every test of this process, loaded on first use.
    ///
    /// A static is never dropped, so instead of a per-process temp dir (which
    /// would leak) it lives in a cache dir shared by all test processes,
    /// `{temp_root}/pvpki-v1-{epoch_days / 30}`: generated in a temp dir and
    /// renamed into place atomically (the loser of a race uses the winner's),
    /// renewed every 30 days.
    pub fn shared() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let days = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() / 86_400);
            let cache = super::temp_root().join(format!("pvpki-v1-{}", days / 30));
            if !cache.join("complete").exists() {
                let fresh = TestPki::generate();
                fs::write(fresh.dir.join("complete"), "").expect("mark PKI complete");
                let tmp = fresh._tmp.expect("generated PKI owns its dir").keep();
                if fs::rename(&tmp, &cache).is_err() {
                    // Another process won the race.
                    let _ = fs::remove_dir_all(&tmp);
                }
            }
            assert!(
                cache.join("complete").exists(),
                "shared PKI missing at {}",
                cache.display()
            );
            TestPki::at(cache, None)
        })
    }

    fn at(dir: PathBuf, tmp: Option<tempfile::TempDir>) -> TestPki {
        let p = |name: &str| dir.join(name);
        let ck = |name: &str| CertKey {
            cert_pem: p(&format!("{name}.pem")),
            key_pem: p(&format!("{name}.key")),
            p12: p(&format!("{name}.p12")),
        };
        TestPki {
            ca_pem: p("ca.pem"),
            ca_key: p("ca.key"),
            other_ca_pem: p("ca2.pem"),
            valid: ck("valid"),
            self_signed: ck("self_signed"),
            unknown_ca: ck("unknown_ca"),
            wrong_host: ck("wrong_host"),
            expired: ck("expired"),
            dir,
            _tmp: tmp,
        }
    }

    /// Generates a fresh PKI. Panics (with openssl's stderr) if `openssl`
    /// is missing or fails.
    pub fn generate() -> TestPki {
        let tmp = tempfile::Builder::new()
            .prefix("pvpki")
            .tempdir_in(super::temp_root())
            .expect("temp dir for PKI");
        let dir = tmp.path().to_path_buf();
        // Readable by Dovecot's unprivileged processes, should they need it.
        set_mode(&dir, 0o755);
        let cnf = dir.join("openssl.cnf");
        fs::write(&cnf, openssl_config(&dir)).expect("write openssl.cnf");
        fs::create_dir(dir.join("newcerts")).expect("newcerts dir");
        fs::write(dir.join("index.txt"), "").expect("index.txt");
        // `openssl ca` wants an even number of hex digits.
        fs::write(dir.join("serial"), "1000\n").expect("serial");

        let p = |name: &str| dir.join(name);
        let ossl = |args: &[&str]| openssl(&cnf, args);

        // The test CA and an unknown second CA.
        make_ca(&ossl, &p("ca.pem"), &p("ca.key"), "popview test CA");
        make_ca(&ossl, &p("ca2.pem"), &p("ca2.key"), "popview unknown CA");

        let valid = leaf_signed(
            &ossl,
            &dir,
            "valid",
            "/CN=localhost",
            "leaf_localhost",
            "ca",
            5001,
        );
        let unknown_ca = leaf_signed(
            &ossl,
            &dir,
            "unknown_ca",
            "/CN=localhost",
            "leaf_localhost",
            "ca2",
            5002,
        );
        let wrong_host = leaf_signed(
            &ossl,
            &dir,
            "wrong_host",
            "/CN=wrong.example",
            "leaf_wrong",
            "ca",
            5003,
        );

        // Self-signed leaf.
        let self_signed = CertKey {
            cert_pem: p("self_signed.pem"),
            key_pem: p("self_signed.key"),
            p12: p("self_signed.p12"),
        };
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            s(&self_signed.key_pem),
            "-subj",
            "/CN=localhost",
            "-extensions",
            "leaf_localhost_self",
            "-days",
            "825",
            "-out",
            s(&self_signed.cert_pem),
        ]);
        make_p12(&ossl, &self_signed);

        // Expired leaf, through `openssl ca` with dates in the past.
        let expired = CertKey {
            cert_pem: p("expired.pem"),
            key_pem: p("expired.key"),
            p12: p("expired.p12"),
        };
        let csr = p("expired.csr");
        ossl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            s(&expired.key_pem),
            "-subj",
            "/CN=localhost",
            "-out",
            s(&csr),
        ]);
        ossl(&[
            "ca",
            "-batch",
            "-notext",
            "-name",
            "test_ca",
            "-extensions",
            "leaf_localhost",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
            "-in",
            s(&csr),
            "-out",
            s(&expired.cert_pem),
        ]);
        make_p12(&ossl, &expired);

        let pki = TestPki::at(dir, Some(tmp));
        for ck in [&valid, &self_signed, &unknown_ca, &wrong_host, &expired] {
            assert!(ck.cert_pem.exists() && ck.key_pem.exists() && ck.p12.exists());
        }
        pki
    }

    /// The test CA certificate as a native-tls root.
    pub fn ca_certificate(&self) -> native_tls::Certificate {
        let pem = fs::read(&self.ca_pem).expect("read CA PEM");
        native_tls::Certificate::from_pem(&pem).expect("CA certificate")
    }

    /// A connector that trusts only the test CA (no system roots) and
    /// speaks TLS 1.2 or later, with full verification.
    pub fn verifying_connector(&self) -> native_tls::TlsConnector {
        native_tls::TlsConnector::builder()
            .add_root_certificate(self.ca_certificate())
            .disable_built_in_roots(true)
            .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
            .build()
            .expect("TLS connector")
    }
}

/// SHA-256 of the DER of the first certificate in `cert_pem`, lower-case hex
/// without separators (64 characters).
pub fn sha256_fingerprint_hex(cert_pem: &[u8]) -> String {
    let der = pem_to_der(cert_pem);
    Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The DER bytes of the first PEM block of `pem`.
pub fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).expect("PEM is ASCII");
    let mut inside = false;
    let mut b64 = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            break;
        } else if inside {
            b64.push_str(line);
        }
    }
    assert!(!b64.is_empty(), "no PEM block found");
    base64_decode(&b64)
}

fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c:#x}"),
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn openssl(cnf: &Path, args: &[&str]) {
    // `req` and `ca` read the config given by -config; pass it to both and
    // point OPENSSL_CONF at it so nothing from /etc/ssl leaks in.
    let mut cmd = Command::new("openssl");
    cmd.arg(args[0]);
    if matches!(args[0], "req" | "ca") {
        cmd.arg("-config").arg(cnf);
    }
    cmd.args(&args[1..]).env("OPENSSL_CONF", cnf);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            panic!("openssl is required to make test certificates (apt-get install openssl): {e}")
        }
    };
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(ossl: &dyn Fn(&[&str]), cert: &Path, key: &Path, cn: &str) {
    let subj = format!("/CN={cn}");
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(key),
        "-subj",
        &subj,
        "-extensions",
        "ca_ext",
        "-days",
        "3650",
        "-out",
        s(cert),
    ]);
}

fn leaf_signed(
    ossl: &dyn Fn(&[&str]),
    dir: &Path,
    name: &str,
    subj: &str,
    ext: &str,
    ca: &str,
    serial: u32,
) -> CertKey {
    let ck = CertKey {
        cert_pem: dir.join(format!("{name}.pem")),
        key_pem: dir.join(format!("{name}.key")),
        p12: dir.join(format!("{name}.p12")),
    };
    let csr = dir.join(format!("{name}.csr"));
    ossl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&ck.key_pem),
        "-subj",
        subj,
        "-out",
        s(&csr),
    ]);
    let ca_pem = dir.join(format!("{ca}.pem"));
    let ca_key = dir.join(format!("{ca}.key"));
    let cnf = dir.join("openssl.cnf");
    let serial = serial.to_string();
    ossl(&[
        "x509",
        "-req",
        "-in",
        s(&csr),
        "-CA",
        s(&ca_pem),
        "-CAkey",
        s(&ca_key),
        "-set_serial",
        &serial,
        "-days",
        "825",
        "-sha256",
        "-extfile",
        s(&cnf),
        "-extensions",
        ext,
        "-out",
        s(&ck.cert_pem),
    ]);
    make_p12(ossl, &ck);
    ck
}

fn make_p12(ossl: &dyn Fn(&[&str]), ck: &CertKey) {
    let pass = format!("pass:{P12_PASSWORD}");
    ossl(&[
        "pkcs12",
        "-export",
        "-in",
        s(&ck.cert_pem),
        "-inkey",
        s(&ck.key_pem),
        "-passout",
        &pass,
        "-out",
        s(&ck.p12),
    ]);
}

fn openssl_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ leaf_localhost ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_localhost_self ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash

[ leaf_wrong ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ ca ]
default_ca = test_ca

[ test_ca ]
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
certificate = {d}/ca.pem
private_key = {d}/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none

[ policy_any ]
commonName = supplied
"#
    )
}
