//! Pattern evaluation over a big mailbox, pure (no server).
//!
//! Makes N synthetic header summaries (default 100,000;
//! `POPVIEW_BENCH_N`), prepares each one's [`MessageText`] as the app does
//! when a preview arrives, then evaluates typical patterns over all of
//! them, several times each, and prints the best and the median time per
//! evaluation. The goal (issue 13) is under 50 ms per evaluation at
//! 100,000 messages.
//!
//! Run: `cargo bench --bench patterns`

use std::hint::black_box;
use std::time::{Duration, Instant};

use popview::mail::{HeaderSummary, MailDate};
use popview::pattern::{Candidate, MessageText, Now, Pattern};

const NOW: i64 = 1_796_299_200;
const GOAL: Duration = Duration::from_millis(50);
const RUNS: usize = 7;

const NAMES: &[(&str, &str)] = &[
    ("Jenkins", "jenkins@ci.example"),
    ("Łukasz Żółć", "lukasz@zolc.example.pl"),
    ("Anna Schmidt", "anna.schmidt@example.org"),
    ("Chloé Martin", "chloe.martin@example.fr"),
    ("The Terminal Times", "news@terminaltimes.example"),
    ("Ben Okafor", "ben@okafor.example"),
    ("田中 玲", "tanaka@rei.example"),
    ("Mira Lindqvist", "mira@lindqvist.example"),
];

const TOPICS: &[&str] = &[
    "Build #{} failed",
    "Weekly report {}",
    "Re: Plot 14: who's in for next season? ({})",
    "Invoice INV-{} from Zürich",
    "Your order #{} has shipped",
    "Minutes of the meeting {}",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn summary(i: usize) -> HeaderSummary {
    let (name, addr) = NAMES[i % NAMES.len()];
    let subject = TOPICS[(i / 3) % TOPICS.len()].replace("{}", &i.to_string());
    let headers = format!(
        "Return-Path: <{addr}>\nReceived: from mx{r}.example.net (mx{r}.example.net \
         [192.0.2.{r}]) by mail.example.com with ESMTPS id {i:016x} for <alice@example.com>\n\
         Authentication-Results: mail.example.com; dkim=pass header.d=example; spf=pass\n\
         From: {name} <{addr}>\nTo: alice@example.com\nSubject: {subject}\n\
         Message-ID: <{i}@example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         X-Spam-Flag: {spam}",
        r = i % 250,
        spam = if i.is_multiple_of(17) { "YES" } else { "NO" },
    );
    HeaderSummary {
        from_name: name.into(),
        from_addr: addr.into(),
        to: "alice@example.com".into(),
        subject,
        date: Some(MailDate {
            unix: NOW - (i as i64) * 613,
            tz_offset_minutes: 60,
        }),
        message_id: format!("{i}@example"),
        has_attachments: i.is_multiple_of(5),
        auth_results: vec!["mail.example.com; dkim=pass header.d=example; spf=pass".into()],
        headers,
        ..HeaderSummary::default()
    }
}

fn main() {
    let n = env_usize("POPVIEW_BENCH_N", 100_000);
    let summaries: Vec<HeaderSummary> = (0..n).map(summary).collect();
    let sizes: Vec<u64> = (0..n as u64).map(|i| (i * 7919) % 3_000_000).collect();

    let t = Instant::now();
    let texts: Vec<MessageText> = summaries.iter().map(MessageText::new).collect();
    let prep = t.elapsed();
    println!(
        "MessageText::new for {n} messages: {:.1} ms ({:.2} µs each; done once per preview)",
        prep.as_secs_f64() * 1e3,
        prep.as_secs_f64() * 1e6 / n.max(1) as f64
    );

    let heap: usize = texts.iter().map(MessageText::heap_bytes).sum();
    let each = heap / n.max(1) + std::mem::size_of::<MessageText>();
    let block = summaries.iter().map(|h| h.headers.len()).sum::<usize>() / n.max(1);
    println!(
        "MessageText memory: {each} bytes per message ({block} of them the header block), \
         {:.1} MB for {n}",
        (each * n) as f64 / 1e6
    );

    let now = Now {
        unix: NOW,
        offset_minutes: 60,
    };
    let mut missed = false;
    for src in [
        "~f jenkins",
        "~z >1M",
        "lukasz",
        "~d <30d ~s report",
        "~h '^X-Spam-Flag: YES'",
        "~V | ~a ~C alice",
    ] {
        let p = Pattern::parse(src, now).expect("a valid pattern");
        let mut times = Vec::with_capacity(RUNS);
        let mut hits = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            hits = texts
                .iter()
                .zip(&sizes)
                .filter(|(text, size)| {
                    p.matches(black_box(&Candidate {
                        text: Some(text),
                        size: **size,
                        ..Candidate::default()
                    }))
                })
                .count();
            times.push(t.elapsed());
        }
        times.sort();
        let (best, median) = (times[0], times[RUNS / 2]);
        let ok = median < GOAL;
        missed |= !ok;
        println!(
            "{src:<28} {n} messages: best {:>6.2} ms, median {:>6.2} ms, {hits} match{}",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            if ok { "" } else { "  (over the 50 ms goal)" }
        );
    }
    if missed {
        println!("goal: under 50 ms per evaluation: MISSED");
    } else {
        println!("goal: under 50 ms per evaluation: met");
    }
}
