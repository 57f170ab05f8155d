//! A listener that accepts connections and never says anything (a server
//! waiting for a TLS ClientHello, or a hung one); it counts what it
//! accepted. Dropping it stops it (and it stops by itself after two
//! minutes).

use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Silent {
    pub port: u16,
    pub accepted: Arc<Mutex<usize>>,
    _stop: mpsc::Sender<()>,
}

impl Silent {
    /// How many connections it accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

pub fn silent_listener() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(0));
    let count = Arc::clone(&accepted);
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..12_000 {
            if !matches!(
                stopped.recv_timeout(Duration::from_millis(10)),
                Err(mpsc::RecvTimeoutError::Timeout)
            ) {
                break;
            }
            while let Ok((s, _)) = listener.accept() {
                *count.lock().unwrap() += 1;
                held.push(s);
            }
        }
    });
    Silent {
        port,
        accepted,
        _stop: stop,
    }
}
