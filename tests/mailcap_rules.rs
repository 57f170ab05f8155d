//! RFC 1524 mailcap parsing and selection (`popview::mailcap`), pure, with
//! hostile entries: nothing of a mail reaches the shell but the quoted
//! path popview chose.

use std::path::Path;

use popview::mailcap::{Entry, expand, lookup, matches, parse, search_path, shell_quote};

const FILE: &str = "/tmp/popview-x/it's a \"file\" $(reboot).txt";

#[test]
fn parses_fields_flags_tests_and_continuations() {
    let text = "# comment\n\
        \n\
        text/html; w3m -dump -T text/html %s; copiousoutput; nametemplate=%s.html\n\
        text/*; less %s; needsterminal\n\
        image/png; feh %s; test=test -n \"$DISPLAY\"\n\
        application/pdf; zathura \\\n  %s\n\
        text/plain; echo a\\;b %s\n\
        bogus line without command\n\
        audio/*;\n\
        video ; mpv %s\n\
        \x1b[31m/x; evil %s\n";
    let e = parse(text);
    let got: Vec<(&str, &str, bool, bool, Option<&str>)> = e
        .iter()
        .map(|e| {
            (
                e.mime.as_str(),
                e.command.as_str(),
                e.copiousoutput,
                e.needsterminal,
                e.test.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("text/html", "w3m -dump -T text/html %s", true, false, None),
            ("text/*", "less %s", false, true, None),
            (
                "image/png",
                "feh %s",
                false,
                false,
                Some("test -n \"$DISPLAY\"")
            ),
            ("application/pdf", "zathura   %s", false, false, None),
            ("text/plain", "echo a;b %s", false, false, None),
            ("video/*", "mpv %s", false, false, None),
        ]
    );
}

#[test]
fn wildcards_and_case() {
    assert!(matches("text/*", "text/plain"));
    assert!(matches("text/*", "TEXT/HTML"));
    assert!(matches("text/plain", "Text/Plain"));
    assert!(!matches("text/plain", "text/html"));
    assert!(!matches("text/*", "image/png"));
    assert!(!matches("image/png", "image/pngx"));
}

#[test]
fn the_file_is_single_quoted_whatever_it_holds() {
    let cmd = expand("cat %s | head", Path::new(FILE), "text/plain").unwrap();
    assert_eq!(
        cmd,
        format!("cat {} | head", shell_quote(FILE)),
        "quoted once, nothing else changed"
    );
    // The shell reads back exactly the path: run it through sh.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf %s {}", shell_quote(FILE)))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), FILE);
}

#[test]
fn type_is_quoted_and_percent_escapes_work() {
    let cmd = expand("view -t %t -p 100%% %s", Path::new("/t/a"), "text/x;rm").unwrap();
    assert_eq!(cmd, "view -t 'text/x;rm' -p 100% '/t/a'");
}

#[test]
fn entries_asking_for_mail_parameters_are_skipped() {
    for cmd in ["iconv -f %{charset} %s", "x %n %s", "x %F", "x %"] {
        assert_eq!(expand(cmd, Path::new("/t/a"), "text/plain"), None, "{cmd}");
    }
    let entries = parse("text/plain; iconv -f %{charset} %s; copiousoutput\ntext/plain; cat %s\n");
    let (e, cmd) = lookup(&entries, "text/plain", Path::new("/t/a"), |_| true).unwrap();
    assert_eq!(e.command, "cat %s");
    assert_eq!(cmd, "cat '/t/a'");
}

#[test]
fn without_percent_s_the_file_goes_to_stdin() {
    assert_eq!(
        expand("less", Path::new("/t/a b"), "text/plain").unwrap(),
        "less < '/t/a b'"
    );
}

#[test]
fn first_entry_whose_test_passes_wins() {
    let entries = parse(
        "image/*; gui %s; test=false\n\
         image/*; tui %s; needsterminal; test=true\n\
         image/*; last %s\n",
    );
    let mut asked = Vec::new();
    let (e, cmd) = lookup(&entries, "image/png", Path::new("/t/p.png"), |t| {
        asked.push(t.to_string());
        t.starts_with("true")
    })
    .unwrap();
    assert_eq!(e.command, "tui %s");
    assert!(e.needsterminal);
    assert_eq!(cmd, "tui '/t/p.png'");
    assert_eq!(asked.len(), 2);
    assert!(lookup(&entries, "text/plain", Path::new("/t/x"), |_| true).is_none());
}

#[test]
fn search_path_follows_mailcaps_then_home_then_etc() {
    assert_eq!(
        search_path(Some("/a/mc::/b/mc"), Some(Path::new("/home/u"))),
        vec![
            Path::new("/a/mc").to_path_buf(),
            Path::new("/b/mc").to_path_buf()
        ]
    );
    assert_eq!(
        search_path(None, Some(Path::new("/home/u"))),
        vec![
            Path::new("/home/u/.mailcap").to_path_buf(),
            Path::new("/etc/mailcap").to_path_buf()
        ]
    );
    assert_eq!(
        search_path(Some(""), None),
        vec![Path::new("/etc/mailcap").to_path_buf()]
    );
}

#[test]
fn hostile_input_never_panics_and_stays_bounded() {
    let mut junk = String::new();
    for i in 0..20_000u32 {
        junk.push_str(&format!("t{i}/s; c %s; \\\\;;;=;test=\n"));
    }
    let e = parse(&junk);
    assert!(e.len() <= popview::mailcap::MAX_ENTRIES);
    for s in [
        "\\",
        ";;;",
        "/;x",
        "a/b;\\",
        "a/b; %",
        "a/b; x %{",
        "é/ü; x",
    ] {
        let es = parse(s);
        for e in &es {
            let _ = expand(&e.command, Path::new("/t"), &e.mime);
        }
    }
    let one = Entry {
        mime: "a/b".into(),
        command: "%s%s".into(),
        ..Entry::default()
    };
    assert_eq!(
        expand(&one.command, Path::new("/t"), "a/b").unwrap(),
        "'/t''/t'"
    );
}
