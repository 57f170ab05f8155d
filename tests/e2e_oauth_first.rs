//! Built-in OAuth2 and the first screen (issue 12 §2, "within 100 ms on
//! any link"): the access token comes from a refresh exchange with the
//! identity provider, which the TUI makes beside the cached list, not
//! before it. The real binary in tmux, a local token endpoint that hangs,
//! the in-process STLS server that takes the access token as the password.

mod support;

use std::time::Duration;

use popview::demo::Mailbox;
use popview::oauth::vault::Vault;
use support::cli::{PW, ca, stls_server};
use support::oauth_server::{OAuthServer, Reply, tokens};
use support::tmux::start_popview_in;

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const TOKEN: &str = "/token";
const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_secs(5);

#[test]
fn a_hanging_token_endpoint_does_not_hold_back_the_cached_list() {
    let server = OAuthServer::start();
    let pop = stls_server(Mailbox::generated(3));
    let port = pop.addr().port();
    // `timeout_secs` bounds each HTTP request of the exchange too.
    let config = format!(
        "[accounts.work]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\n\
         username = \"demo\"\nca_file = {:?}\ntimeout_secs = 3\n\
         [accounts.work.oauth2]\ntoken_url = {:?}\ndevice_authorization_url = {:?}\n\
         client_id = \"client-1\"\n",
        ca(),
        server.url(TOKEN),
        server.url("/device"),
    );
    let home = tempfile::Builder::new()
        .prefix("pvoauth")
        .tempdir_in(support::temp_root())
        .unwrap();
    // The refresh token `popview authorize` would have stored.
    let file = Vault::file_for(
        &home.path().join("data/popview"),
        &format!("demo@localhost:{port}"),
    );
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "Rt-refresh-1\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // First start: the exchange answers, the list is loaded and kept.
    server.script(TOKEN, vec![tokens(PW, None, 3600)]);
    let first = start_popview_in(home, BIN, &[], Some(&config), &[]);
    first.wait_until("the list, loaded", LONG, |sc| {
        sc.lines().next().is_some_and(|h| h.contains("idle")) && sc.contains("3 msgs")
    });
    first.send_keys(&["x"]);
    first.wait_until("popview to exit", LONG, |sc| sc.contains("EXIT=0"));
    let support::tmux::Popview { tmux, home } = first;
    drop(tmux);
    assert_eq!(server.seen_at(TOKEN).len(), 1);

    // Second start: the token endpoint takes the request and says nothing.
    // The cached list is drawn all the same, while the exchange waits.
    server.script(TOKEN, vec![Reply::Hang, tokens(PW, None, 3600)]);
    let second = start_popview_in(home, BIN, &[], Some(&config), &[]);
    // (Before, the exchange was made before the TUI started: popview
    // waited for it, then gave up with an error and no list.)
    second.wait_until("the cached list", SHORT, |sc| {
        sc.lines()
            .next()
            .is_some_and(|h| h.contains("cached · ") && h.contains("3 msgs"))
    });
    // Given up at the deadline, the exchange is made once more (as for a
    // rejected token) and the session opens with the new token.
    second.wait_until("the session after the second exchange", LONG, |sc| {
        let header = sc.lines().next().unwrap_or("");
        header.contains("idle") && !header.contains("cached")
    });
    assert_eq!(server.seen_at(TOKEN).len(), 3);
    second.send_keys(&["x"]);
    second.wait_until("popview to exit", LONG, |sc| sc.contains("EXIT=0"));
}
