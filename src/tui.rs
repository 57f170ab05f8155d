//! The terminal loop: owns the terminal and the [`App`].
//!
//! ```text
//! input thread (crossterm) --\
//! worker thread -------------+--> funnel: mpsc<AppEvent> --> run(): App::handle --> draw
//! save threads --------------/                                   |
//!        worker <------------ mpsc<Request> <---------------------/
//! ```
//!
//! The input thread ends when its send fails or when `run` returns; ticks
//! come from the receive timeout (about every 250 ms). The screen is drawn
//! only when the app says something changed. A failed send to the worker
//! means it is gone: the app shows it and quitting becomes immediate.

mod external;
mod mailbox;

use std::io::{Write, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as CtEvent, KeyEventKind, MouseEventKind,
};
use crossterm::execute;

use crate::app::external::{ExternalDone, OpenJob, PipeJob};
use crate::app::{App, AppEvent, Effect};
use crate::worker::api::Request;

/// How often the app gets a [`AppEvent::Tick`].
pub const TICK: Duration = Duration::from_millis(250);
/// Most events handled in a row before the screen is drawn again.
const MAX_BATCH: usize = 512;
/// Longest time spent handling a burst before drawing.
const MAX_BATCH_TIME: Duration = Duration::from_millis(12);

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Restores the terminal when dropped (normal return, `?` error, unwind).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}

fn install_mouse_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        previous(info);
    }));
}

/// Panics on other threads (the worker, a guarded mail parse) are caught
/// there and reported to the app as errors; letting the hook restore the
/// terminal and print for them would tear the screen down under a running
/// UI. Only a panic of the UI thread itself restores and prints.
fn install_ui_thread_only_hook() {
    let ui_thread = thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if thread::current().id() == ui_thread {
            previous(info);
        }
    }));
}

/// Run the UI until the app wants to quit; returns the app (for its final
/// state). `funnel` is the one channel every event comes through; the
/// worker feeds it with `AppEvent::Worker`.
pub fn run(
    mut app: App,
    to_worker: Sender<Request>,
    funnel: (Sender<AppEvent>, Receiver<AppEvent>),
    keep_history: KeepHistory,
) -> anyhow::Result<App> {
    let (tx, rx) = funnel;
    // Order matters: ratatui's hook (installed by try_init) restores the
    // screen, then ours turns mouse reporting off, then the default prints.
    install_mouse_panic_hook();
    let mut terminal = ratatui::try_init()?;
    install_ui_thread_only_hook();
    let _restore = Restore;
    execute!(stdout(), EnableMouseCapture)?;

    let mut input = Input::start(tx.clone())?;

    let mut out = Outside {
        to_worker,
        funnel: tx,
        redraw: false,
        suspend: false,
        keep_history,
        foreground: std::collections::VecDeque::new(),
        kept_dirs: Vec::new(),
    };
    out.dispatch(&mut app, AppEvent::Clock(unix_now()));
    let size = terminal.size()?;
    out.dispatch(&mut app, AppEvent::Resize(size.width, size.height));

    let mut next_tick = Instant::now() + TICK;
    let result = loop {
        if std::mem::take(&mut out.suspend) {
            if let Err(e) = suspend(&mut terminal) {
                break Err(e.into());
            }
            // Redraw everything, at the size the terminal has now.
            match terminal.size() {
                Ok(size) => out.dispatch(&mut app, AppEvent::Resize(size.width, size.height)),
                Err(e) => break Err(e.into()),
            }
        }
        if let Some(job) = out.foreground.pop_front() {
            // A program in the foreground: the terminal is its own until
            // it ends; then everything is drawn again.
            let done = match hand_over(&mut terminal, &mut input, &out.funnel, |kept| {
                run_foreground(job, kept)
            }) {
                Ok(done) => done,
                Err(e) => break Err(e.into()),
            };
            out.kept_dirs.extend(done.1);
            match terminal.size() {
                Ok(size) => out.dispatch(&mut app, AppEvent::Resize(size.width, size.height)),
                Err(e) => break Err(e.into()),
            }
            out.dispatch(&mut app, AppEvent::External(done.0));
            continue;
        }
        if std::mem::take(&mut out.redraw)
            && let Err(e) = terminal.draw(|f| crate::ui::draw(f, &app))
        {
            break Err(e.into());
        }
        if app.should_quit() {
            break Ok(());
        }
        let timeout = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(ev) => {
                out.dispatch(&mut app, ev);
                // Handle a burst (a flood of previews, key repeat) before
                // drawing once.
                let started = Instant::now();
                for _ in 0..MAX_BATCH {
                    if app.should_quit() || started.elapsed() > MAX_BATCH_TIME {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(ev) => out.dispatch(&mut app, ev),
                        Err(_) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Cannot happen while we hold `tx`; stay safe anyway.
                let gone = AppEvent::WorkerGone("the event channel closed".into());
                out.dispatch(&mut app, gone);
            }
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + TICK;
            out.dispatch(&mut app, AppEvent::Clock(unix_now()));
            out.dispatch(&mut app, AppEvent::Tick);
        }
    };
    input.stop();
    drop(rx);
    result.map(|()| app)
}

/// The input thread, stopped while another program owns the terminal (it
/// would take that program's keys) and started again after.
struct Input {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Input {
    fn start(tx: Sender<AppEvent>) -> std::io::Result<Input> {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn_input(tx, Arc::clone(&stop))?;
        Ok(Input {
            stop,
            handle: Some(handle),
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A program to run with the terminal handed over.
enum Foreground {
    Pipe(PipeJob),
    Open {
        what: String,
        command: String,
        dir: tempfile::TempDir,
        keep: bool,
    },
    Url(String),
}

/// Run `job` (the terminal is handed over); the temporary directory to
/// keep until popview ends, if any.
fn run_foreground(job: Foreground, kept: &mut Option<tempfile::TempDir>) -> ExternalDone {
    match job {
        Foreground::Pipe(p) => {
            let done = external::pipe(&p);
            let status = match &done {
                ExternalDone::Finished { status, .. } => status.clone(),
                ExternalDone::Failed(why) => why.clone(),
                ExternalDone::Output { .. } => String::new(),
            };
            wait_key(&format!("popview: the command ended ({status})"));
            done
        }
        Foreground::Open {
            what,
            command,
            dir,
            keep,
        } => {
            let done = external::foreground(&what, &command);
            if keep {
                *kept = Some(dir);
            }
            done
        }
        Foreground::Url(url) => external::run_url(&url),
    }
}

/// "Press any key" after a piped command, so its output can be read.
fn wait_key(said: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\n{said}. Press any key to return to popview.\r\n");
    let _ = err.flush();
    if crossterm::terminal::enable_raw_mode().is_err() {
        return;
    }
    // Bounded: the first key ends it; resizes and the like are skipped, at
    // most this many.
    for _ in 0..10_000 {
        match event::read() {
            Ok(CtEvent::Key(k)) if k.kind != KeyEventKind::Release => break,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
}

/// Give the terminal to `work` (input thread stopped, mouse off, raw mode
/// off, main screen), then take it back and clear it so the next draw
/// repaints every cell.
fn hand_over<T>(
    terminal: &mut ratatui::DefaultTerminal,
    input: &mut Input,
    funnel: &Sender<AppEvent>,
    work: impl FnOnce(&mut Option<tempfile::TempDir>) -> T,
) -> std::io::Result<(T, Option<tempfile::TempDir>)> {
    input.stop();
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    let mut kept = None;
    let result = work(&mut kept);
    crossterm::terminal::enable_raw_mode()?;
    execute!(
        stdout(),
        crossterm::terminal::EnterAlternateScreen,
        EnableMouseCapture
    )?;
    terminal.clear()?;
    *input = Input::start(funnel.clone())?;
    Ok((result, kept))
}

/// Ctrl-Z: give the terminal back, stop like any job (the shell's `fg`
/// continues us), then take the terminal again and clear it so the next
/// draw repaints every cell. The worker keeps its session meanwhile (its
/// reads interrupted by the stop are retried, see `pop3::uninterrupted`).
fn suspend(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    // Without job control (no shell to `fg` us) the kernel discards the
    // signal and this returns at once: the screen simply comes back.
    signal_hook::low_level::raise(signal_hook::consts::SIGTSTP)?;
    crossterm::terminal::enable_raw_mode()?;
    execute!(
        stdout(),
        crossterm::terminal::EnterAlternateScreen,
        EnableMouseCapture
    )?;
    terminal.clear()
}

/// Writes the pattern history for the next start (the account's state
/// directory, or nowhere for the demo).
pub type KeepHistory = Box<dyn FnMut(&[String])>;

/// Where the app's effects are performed: the worker's channel, the
/// threads that save and sort, and the two flags the loop acts on (a
/// suspend, a redraw) once a burst of events is handled.
struct Outside {
    to_worker: Sender<Request>,
    funnel: Sender<AppEvent>,
    redraw: bool,
    suspend: bool,
    /// Writes the pattern history where the next start finds it.
    keep_history: KeepHistory,
    /// Programs to run with the terminal handed over, in order.
    foreground: std::collections::VecDeque<Foreground>,
    /// Temporary directories of viewers started with `xdg-open`, removed
    /// when popview ends.
    kept_dirs: Vec<tempfile::TempDir>,
}

impl Outside {
    /// Feed one event to the app and perform what it returns.
    fn dispatch(&mut self, app: &mut App, ev: AppEvent) {
        let mut effects = std::collections::VecDeque::from(app.handle(ev));
        // Bounded: each answer below is one event, and an event's own
        // effects are few; a lost worker is reported once.
        while let Some(effect) = effects.pop_front() {
            let answer = match effect {
                Effect::Send(req) => match self.to_worker.send(req) {
                    Ok(()) => None,
                    Err(_) if app.worker_gone() => None,
                    Err(_) => Some(AppEvent::WorkerGone("its channel is closed".into())),
                },
                Effect::Save(job) => {
                    self.spawn("popview-save", move || AppEvent::Saved(job.write()))
                }
                // Sorting a big list happens off this thread: a key press
                // never waits.
                Effect::Sort(job) => {
                    self.spawn("popview-sort", move || AppEvent::Sorted(job.run()))
                }
                Effect::Suspend => {
                    self.suspend = true;
                    None
                }
                Effect::Redraw => {
                    self.redraw = true;
                    None
                }
                Effect::SaveHistory(h) => {
                    (self.keep_history)(&h);
                    None
                }
                Effect::Filter(job) => self.spawn("popview-filter", move || {
                    AppEvent::Filtered(external::filter(&job))
                }),
                Effect::Pipe(job) => {
                    self.foreground.push_back(Foreground::Pipe(job));
                    None
                }
                Effect::OpenUrl(url) => {
                    self.foreground.push_back(Foreground::Url(url));
                    None
                }
                Effect::OpenPart(job) => self.open_part(job),
                Effect::Mailbox(q) => Some(AppEvent::Mailbox(mailbox::answer(q))),
            };
            if let Some(ev) = answer {
                effects.extend(app.handle(ev));
            }
        }
    }

    /// Write the part and choose its viewer: a `copiousoutput` one runs on
    /// a thread of its own, any other in the foreground.
    fn open_part(&mut self, job: OpenJob) -> Option<AppEvent> {
        match external::plan_open(&job) {
            external::OpenPlan::Failed(why) => Some(AppEvent::External(ExternalDone::Failed(why))),
            external::OpenPlan::Capture {
                title,
                command,
                dir,
            } => self.spawn("popview-view", move || {
                let done = external::capture(title, &command);
                drop(dir);
                AppEvent::External(done)
            }),
            external::OpenPlan::Foreground {
                what,
                command,
                dir,
                keep,
            } => {
                self.foreground.push_back(Foreground::Open {
                    what,
                    command,
                    dir,
                    keep,
                });
                None
            }
        }
    }

    /// Run `work` on a thread of its own and send its answer to the loop;
    /// without a thread, run it here (late rather than never) and return it.
    fn spawn<F>(&self, name: &str, work: F) -> Option<AppEvent>
    where
        F: FnOnce() -> AppEvent + Send + 'static,
    {
        let tx = self.funnel.clone();
        let (job_tx, job_rx) = std::sync::mpsc::channel::<F>();
        let spawned = thread::Builder::new().name(name.into()).spawn(move || {
            if let Ok(work) = job_rx.recv() {
                let _ = tx.send(work());
            }
        });
        match spawned {
            Ok(_) => job_tx.send(work).err().map(|e| (e.0)()),
            Err(_) => Some(work()),
        }
    }
}

/// Read terminal events and forward them until told to stop or the funnel
/// is closed. Mouse motion is dropped (only clicks and the wheel matter).
fn spawn_input(
    tx: Sender<AppEvent>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("popview-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(100)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => break,
                }
                let ev = match event::read() {
                    Ok(ev) => ev,
                    Err(_) => break,
                };
                let app_ev = match ev {
                    CtEvent::Key(k) if k.kind != KeyEventKind::Release => AppEvent::Key(k),
                    CtEvent::Mouse(m)
                        if matches!(
                            m.kind,
                            MouseEventKind::Down(_)
                                | MouseEventKind::ScrollDown
                                | MouseEventKind::ScrollUp
                        ) =>
                    {
                        AppEvent::Mouse(m)
                    }
                    CtEvent::Resize(w, h) => AppEvent::Resize(w, h),
                    _ => continue,
                };
                if tx.send(app_ev).is_err() {
                    break;
                }
            }
        })
}
