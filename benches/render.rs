//! Keypress -> `App::handle` -> `draw` finished, on a 120x40 `TestBackend`,
//! for 1,000 and 100,000 messages with previews. Plain `Instant` timing;
//! prints p50/p99/max per key type and size, plus filter and sort alone,
//! and what the demo's 6.6 MB message costs the UI thread when it arrives.
//!
//! Run: `cargo bench --bench render`.
//!
//! `cargo bench --bench render -- nesting [MB]` measures only the hostile
//! HTML shapes (`tests/support/hostile_html.rs`): for each, the time and
//! the peak memory above the start (VmHWM, reset through
//! `/proc/self/clear_refs`) of `mail::view` + `app::prepare` on a message of
//! MB megabytes (default 5), the goal being under 1 s and 100 MB.
//! `-- html2text [KB...]` times html2text alone on `<div>` nesting of those
//! sizes (what the pre-pass in `popview::html` protects against).

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{App, AppEvent, AppOptions, Effect, SortJob};
use popview::mail::{HeaderSummary, MailDate};
use popview::worker::api::{Event, ListEntry, MsgKey};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_710_252_300;
const W: u16 = 120;
const H: u16 = 40;

fn key(c: KeyCode) -> AppEvent {
    let mods = match c {
        KeyCode::Char(ch) if ch.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    AppEvent::Key(KeyEvent::new(c, mods))
}

fn mailbox(n: u32) -> App {
    let mut app = App::new(AppOptions::default());
    handle(&mut app, AppEvent::Clock(NOW));
    handle(&mut app, AppEvent::Resize(W, H));
    let keys: Vec<MsgKey> = (1..=n)
        .map(|i| MsgKey {
            number: i,
            uid: Some(format!("{i:08x}")),
            generation: 0,
        })
        .collect();
    handle(
        &mut app,
        AppEvent::Worker(Event::Listing {
            entries: keys
                .iter()
                .map(|k| ListEntry {
                    key: k.clone(),
                    size: 500 + u64::from(k.number * 7919 % 200_000),
                })
                .collect(),
            no_uidl_reason: None,
        }),
    );
    const NAMES: [&str; 8] = [
        "Alice Example",
        "Bob Builder",
        "Carol 日本語",
        "Dave",
        "Eve 🎉 Party",
        "Frank Ocean",
        "Grace Hopper",
        "Heidi Klum",
    ];
    for chunk in keys.chunks(1000) {
        let batch = chunk
            .iter()
            .map(|k| {
                let i = k.number;
                (
                    k.clone(),
                    HeaderSummary {
                        from_name: format!("{} {}", NAMES[i as usize % 8], i % 89),
                        from_addr: format!("user{}@example.org", i % 1000),
                        subject: format!("Subject {i} about topic {} and more words", i % 97),
                        date: Some(MailDate {
                            unix: NOW - i64::from(i) * 3_571,
                            tz_offset_minutes: 0,
                        }),
                        has_attachments: i.is_multiple_of(5),
                        ..Default::default()
                    },
                )
            })
            .collect();
        handle(&mut app, AppEvent::Worker(Event::Previews(batch)));
    }
    handle(&mut app, AppEvent::Tick);
    app
}

/// A preview arrives again for message 1: every cached sort order is stale.
fn invalidate(app: &mut App) {
    handle(
        app,
        AppEvent::Worker(Event::Previews(vec![(
            MsgKey {
                number: 1,
                uid: Some(format!("{:08x}", 1)),
                generation: 0,
            },
            HeaderSummary {
                from_name: "Alice Example 1".into(),
                subject: "Subject 1 about topic 1 and more words".into(),
                ..Default::default()
            },
        )])),
    );
}

#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn pct(&mut self, p: f64) -> Duration {
        self.0.sort();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i]
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

thread_local! {
    /// Sorts the app asked for and the bench has not run yet (the terminal
    /// loop would run them off its thread).
    static SORTS: std::cell::RefCell<Vec<SortJob>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Handle one event as the terminal loop does, keeping its sorts for later.
fn handle(app: &mut App, ev: AppEvent) {
    for effect in app.handle(ev) {
        if let Effect::Sort(job) = effect {
            SORTS.with(|s| s.borrow_mut().push(job));
        }
    }
}

fn take_sort_jobs() -> Vec<SortJob> {
    SORTS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// Press one key and draw; returns the whole time.
fn press(app: &mut App, term: &mut Terminal<TestBackend>, ev: AppEvent) -> Duration {
    let t = Instant::now();
    handle(app, ev);
    term.draw(|f| popview::ui::draw(f, app)).unwrap();
    t.elapsed()
}

fn run(n: u32, rows: &mut Vec<(String, String, usize, String, String, String)>) {
    let t = Instant::now();
    let mut app = mailbox(n);
    let setup = t.elapsed();
    let mut term = Terminal::new(TestBackend::new(W, H)).unwrap();
    term.draw(|f| popview::ui::draw(f, &app)).unwrap();
    let label = format!("{n}");
    let mut push = |name: &str, mut s: Samples| {
        let count = s.0.len();
        rows.push((
            label.clone(),
            name.to_string(),
            count,
            ms(s.pct(0.5)),
            ms(s.pct(0.99)),
            ms(s.pct(1.0)),
        ));
    };

    let mut s = Samples::default();
    for _ in 0..2000 {
        s.0.push(press(&mut app, &mut term, key(KeyCode::Char('j'))));
    }
    push("j", s);

    let mut s = Samples::default();
    for i in 0..500 {
        if i % 100 == 99 {
            press(&mut app, &mut term, key(KeyCode::Char('g')));
        }
        s.0.push(press(&mut app, &mut term, key(KeyCode::PageDown)));
    }
    push("PgDn", s);

    let mut s = Samples::default();
    for i in 0..400u32 {
        let c = if i.is_multiple_of(2) { 'G' } else { 'g' };
        s.0.push(press(&mut app, &mut term, key(KeyCode::Char(c))));
    }
    push("G / g", s);

    // Filter typing: every keystroke refilters (narrowing), Esc restores all.
    let mut s = Samples::default();
    let mut esc = Samples::default();
    for _ in 0..20 {
        press(&mut app, &mut term, key(KeyCode::Char('/')));
        for c in "topic 42".chars() {
            s.0.push(press(&mut app, &mut term, key(KeyCode::Char(c))));
        }
        esc.0.push(press(&mut app, &mut term, key(KeyCode::Esc)));
    }
    push("/filter char", s);
    push("filter esc", esc);

    // Sort cycling right after a preview arrived (no cached order): the key
    // press draws at once; a big list is sorted off the UI thread (as the
    // terminal loop does), then the sorted list is drawn.
    let mut s = Samples::default();
    let mut done = Samples::default();
    for _ in 0..25 {
        invalidate(&mut app);
        let t = Instant::now();
        s.0.push(press(&mut app, &mut term, key(KeyCode::Char('o'))));
        for job in take_sort_jobs() {
            handle(&mut app, AppEvent::Sorted(job.run()));
        }
        term.draw(|f| popview::ui::draw(f, &app)).unwrap();
        done.0.push(t.elapsed());
    }
    push("o sort, cold", s);
    push("  ..sorted shown", done);

    // The same after the app was idle for a few ticks: it prepares the
    // sort orders then, so `o` is a copy of a cached order.
    for _ in 0..12 {
        handle(&mut app, AppEvent::Tick);
        for job in take_sort_jobs() {
            handle(&mut app, AppEvent::Sorted(job.run()));
        }
    }
    let mut s = Samples::default();
    for _ in 0..25 {
        s.0.push(press(&mut app, &mut term, key(KeyCode::Char('o'))));
    }
    push("o sort, idle", s);

    // Sorting alone (handle only, no draw), per sort key reached by `o`,
    // with the cache invalidated first (a preview arrives): worst case.
    for _ in 0..5 {
        invalidate(&mut app);
        let t = Instant::now();
        handle(&mut app, key(KeyCode::Char('o')));
        for job in take_sort_jobs() {
            handle(&mut app, AppEvent::Sorted(job.run()));
        }
        let d = t.elapsed();
        let mut s = Samples::default();
        s.0.push(d);
        push(&format!("o->{}", app.sort_label()), s);
    }
    // Filtering alone (handle only): first char scans every row.
    let mut s = Samples::default();
    for _ in 0..20 {
        handle(&mut app, key(KeyCode::Char('/')));
        let t = Instant::now();
        handle(&mut app, key(KeyCode::Char('t')));
        s.0.push(t.elapsed());
        handle(&mut app, key(KeyCode::Esc));
    }
    push("filter 1st ch", s);

    // Draw alone (no state change): the per-frame cost.
    let mut s = Samples::default();
    for _ in 0..500 {
        let t = Instant::now();
        term.draw(|f| popview::ui::draw(f, &app)).unwrap();
        s.0.push(t.elapsed());
    }
    push("draw only", s);
    eprintln!("{n} messages: setup (listing + previews) {}", ms(setup));
}

/// The demo's 6.6 MB message arrives in an open reader: the UI thread's
/// time (handle + draw) when it gets the worker's event and makes the
/// `Doc` itself, against when `app::prepare` made it on the worker's side
/// (whose own time is shown too).
fn big_message(rows: &mut Vec<(String, String, usize, String, String, String)>) {
    let mb = popview::demo::Mailbox::demo();
    let raw = mb
        .messages()
        .iter()
        .map(|m| &m.1)
        .max_by_key(|m| m.len())
        .unwrap();
    let view = popview::mail::view(raw.clone());
    let mut app = mailbox(1_000);
    let mut term = Terminal::new(TestBackend::new(W, H)).unwrap();
    let key0 = app.view_keys()[0].clone();
    let mut ticket = 0u64;
    let mut open = |app: &mut App| {
        handle(app, key(KeyCode::Esc));
        for effect in app.handle(key(KeyCode::Enter)) {
            if let Effect::Send(popview::worker::api::Request::Retrieve { ticket: t, .. }) = effect
            {
                ticket = t;
            }
        }
        ticket
    };
    let (mut direct, mut ready, mut prep) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..10 {
        let ticket = open(&mut app);
        let ev = Event::Message {
            ticket,
            key: key0.clone(),
            view: Box::new(view.clone()),
        };
        direct
            .0
            .push(press(&mut app, &mut term, AppEvent::Worker(ev)));
        let ticket = open(&mut app);
        let ev = Event::Message {
            ticket,
            key: key0.clone(),
            view: Box::new(view.clone()),
        };
        let t = Instant::now();
        let ev = popview::app::prepare(ev);
        prep.0.push(t.elapsed());
        ready.0.push(press(&mut app, &mut term, ev));
    }
    // `v` on that message: the raw view lays out all its lines.
    let mut raw_on = Samples::default();
    for _ in 0..10 {
        raw_on
            .0
            .push(press(&mut app, &mut term, key(KeyCode::Char('v'))));
        press(&mut app, &mut term, key(KeyCode::Char('v')));
    }
    let label = format!("{:.1}M", raw.len() as f64 / 1e6);
    for (name, mut s) in [
        ("v raw on", raw_on),
        ("msg, raw event", direct),
        ("msg, prepared", ready),
        ("  ..prepare()", prep),
    ] {
        rows.push((
            label.clone(),
            name.into(),
            s.0.len(),
            ms(s.pct(0.5)),
            ms(s.pct(0.99)),
            ms(s.pct(1.0)),
        ));
    }
}

#[path = "../tests/support/hostile_html.rs"]
mod hostile_html;

/// A line of `/proc/self/status` in KB (`VmHWM`, `VmRSS`).
fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resets the peak resident size to the current one (Linux >= 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn nesting(mb: f64) {
    println!(
        "{:<13} | {:>7} | {:>9} | {:>9} | {:>8} | {:>7} | note",
        "shape", "MB", "view ms", "prep ms", "extra MB", "body KB"
    );
    println!("{}", "-".repeat(100));
    // One process per shape: memory freed by one shape would hide what the
    // next one allocates.
    let exe = std::env::current_exe().expect("the bench's own path");
    for shape in hostile_html::Shape::ALL {
        let out = std::process::Command::new(&exe)
            .args(["nesting-one", shape.name(), &mb.to_string()])
            .output()
            .expect("running one shape");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// One row of [`nesting`]: `mail::view` + `app::prepare` on one shape, with
/// the peak resident size above the start.
fn nesting_one(name: &str, mb: f64) {
    let Some(shape) = hostile_html::Shape::ALL
        .into_iter()
        .find(|s| s.name() == name)
    else {
        return;
    };
    let raw = hostile_html::message(shape, (mb * 1e6) as usize);
    let len = raw.len();
    let peak_ok = reset_peak();
    let base = status_kb("VmRSS").unwrap_or(0);
    let t = Instant::now();
    let view = popview::mail::view(raw);
    let view_t = t.elapsed();
    let body_kb = view.body.len() / 1024;
    let note = view.parse_note.clone().unwrap_or_default();
    let t = Instant::now();
    let ev = popview::app::prepare(Event::Message {
        ticket: 1,
        key: MsgKey {
            number: 1,
            uid: None,
            generation: 0,
        },
        view: Box::new(view),
    });
    let prep_t = t.elapsed();
    let extra = status_kb("VmHWM").unwrap_or(0).saturating_sub(base);
    drop(ev);
    let extra = if peak_ok {
        format!("{:.1}", extra as f64 / 1024.0)
    } else {
        "?".into()
    };
    let note: String = note.chars().take(48).collect();
    println!(
        "{:<13} | {:>7.2} | {:>9} | {:>9} | {:>8} | {:>7} | {note}",
        shape.name(),
        len as f64 / 1e6,
        ms(view_t),
        ms(prep_t),
        extra,
        body_kb
    );
}

/// html2text alone on `<div>` nesting: the growth the pre-pass removes.
fn html2text_alone(sizes_kb: &[usize]) {
    println!(
        "{:>7} | {:>7} | {:>10} | {:>8}",
        "KB", "depth", "ms", "extra MB"
    );
    let shape = match std::env::var("SHAPE").as_deref() {
        Ok("flat") => hostile_html::Shape::Flat,
        Ok("table") => hostile_html::Shape::Table,
        Ok("formatting") => hostile_html::Shape::Formatting,
        Ok("wide") => hostile_html::Shape::WideTable,
        Ok("deep") => hostile_html::Shape::DeepText,
        Ok("attributes") => hostile_html::Shape::Attributes,
        _ => hostile_html::Shape::Div,
    };
    for &kb in sizes_kb {
        let html = hostile_html::html(shape, kb * 1024);
        let depth = html.matches("<div>").count();
        reset_peak();
        let base = status_kb("VmRSS").unwrap_or(0);
        let t = Instant::now();
        let out = html2text::from_read(html.as_bytes(), 100);
        let d = t.elapsed();
        let extra = status_kb("VmHWM").unwrap_or(0).saturating_sub(base);
        drop(out);
        println!(
            "{kb:>7} | {depth:>7} | {:>10} | {:>8.1}",
            ms(d),
            extra as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "nesting-one") {
        let mb = args.get(i + 2).and_then(|a| a.parse().ok()).unwrap_or(5.0);
        nesting_one(args.get(i + 1).map_or("", |s| s.as_str()), mb);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "nesting") {
        let mb = args.get(i + 1).and_then(|a| a.parse().ok()).unwrap_or(5.0);
        nesting(mb);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "html2text") {
        let sizes: Vec<usize> = args[i + 1..]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        html2text_alone(if sizes.is_empty() {
            &[16, 32, 64]
        } else {
            &sizes
        });
        return;
    }
    let mut rows = Vec::new();
    for n in [1_000, 100_000] {
        run(n, &mut rows);
    }
    big_message(&mut rows);
    println!(
        "{:>8} | {:<13} | {:>5} | {:>9} | {:>9} | {:>9}",
        "messages", "key", "n", "p50 ms", "p99 ms", "max ms"
    );
    println!("{}", "-".repeat(68));
    for (size, name, count, p50, p99, max) in rows {
        println!("{size:>8} | {name:<13} | {count:>5} | {p50:>9} | {p99:>9} | {max:>9}");
    }
}
