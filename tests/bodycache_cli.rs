//! The body cache through the real binary: `popview show` twice with
//! `cache_bodies` set sends one RETR, the debug log says "cache hit", and
//! the cached copy prints the same bytes; with the server gone it still
//! does (`show` needs a listing, so the offline read is the worker's, see
//! `tests/bodycache_worker.rs`).

mod support;

use popview::demo::Mailbox;
use support::cli::*;

fn config(sb: &Sandbox, port: u16, extra: &str) -> String {
    let path = sb.home().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[accounts.t]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\n\
             username = \"demo\"\npassword_env = \"PV_TEST_PW\"\nca_file = \"{}\"\n{extra}\n",
            ca()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn retrs(s: &popview::demo::Server) -> usize {
    s.log()
        .iter()
        .filter(|l| l.line.starts_with("RETR "))
        .count()
}

#[test]
fn a_second_show_is_a_cache_hit_with_no_retr() {
    let server = stls_server(Mailbox::generated(3));
    let sb = Sandbox::new();
    let cfg = config(&sb, server.addr().port(), "cache_bodies = \"1M\"");
    let log = sb.home().join("debug.log");
    let env = [("PV_TEST_PW", PW), ("POPVIEW_LOG", log.to_str().unwrap())];
    let first = sb.run(&["show", "2", "--raw", "--config", &cfg], &env).ok();
    settle(&server);
    assert_eq!(retrs(&server), 1);
    let second = sb.run(&["show", "2", "--raw", "--config", &cfg], &env).ok();
    settle(&server);
    assert_eq!(retrs(&server), 1, "the second show sent a RETR");
    assert_eq!(first.out(), second.out());
    assert!(!first.out().is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("cache hit"), "{text}");
    assert!(!text.contains(PW));

    // Off: every show is a RETR, and no body is written.
    let sb = Sandbox::new();
    let cfg = config(&sb, server.addr().port(), "cache_bodies = \"off\"");
    let env = [("PV_TEST_PW", PW)];
    sb.run(&["show", "2", "--raw", "--config", &cfg], &env).ok();
    settle(&server);
    sb.run(&["show", "2", "--raw", "--config", &cfg], &env).ok();
    settle(&server);
    assert_eq!(retrs(&server), 3);
    assert!(
        !sb.files()
            .iter()
            .any(|f| f.components().any(|c| c.as_os_str() == "bodies")),
        "{:?}",
        sb.files()
    );
}
