//! A user-space packet wire: a point-to-point IP link between this host and
//! a network namespace the wire creates, that delays every IP packet by a
//! fixed one-way time in each direction (optionally with a rate limit).
//!
//! This machine's kernel has no `sch_netem`, so instead of `tc … netem` the
//! link is two TUN devices joined by two threads: each reads the packets one
//! device's kernel side sends, holds them in a queue ordered by due time
//! (the time read + the delay, or later when the rate limit says the link is
//! busy), and writes them into the other device when due. Unlike a
//! delaying TCP proxy, the real TCP connection crosses it: the handshake,
//! slow start, ACK clocking, delayed ACKs and the TLS round trips all feel
//! the delay.
//!
//! Layout: host device `pvh<id>` with `169.254.217.(4k+1)`, namespace
//! `pv-bench-<pid>` holding device `pvn<id>` with `169.254.217.(4k+2)`, a
//! /30 that no interface here uses yet. Only these two addresses are routed
//! over the link: nothing reaches beyond it.
//!
//! Everything is torn down by [`Wire`]'s `Drop` (threads stopped and
//! joined, the namespace and the host device deleted, each `ip` command with
//! a deadline), so a panic in a bench still cleans up.
//!
//! Needs root, `ip` (iproute2) and `/dev/net/tun`.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

/// The poll timeout rounds up to whole milliseconds: on average a packet
/// leaves this much late, so the delay is shortened by it.
const POLL_LATENESS: Duration = Duration::from_micros(500);
/// Tail drop beyond this many packets queued in one direction.
const QUEUE_PACKETS: usize = 20_000;
/// How long one `ip` command may take.
const IP_DEADLINE: Duration = Duration::from_secs(10);

/// Packets forwarded and dropped, both directions.
#[derive(Default)]
pub struct Stats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
}

/// A delaying link between the host and a private network namespace.
pub struct Wire {
    /// The namespace (`ip netns exec NS …` runs a command in it).
    pub netns: String,
    /// The host's address on the link.
    pub host_addr: Ipv4Addr,
    /// The namespace's address on the link.
    pub ns_addr: Ipv4Addr,
    /// The delay of each direction, in microseconds (change it with
    /// [`Wire::set_one_way`]).
    one_way_us: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
    host_dev: String,
    stop: Arc<InterruptEvent>,
    threads: Vec<JoinHandle<()>>,
}

impl Wire {
    /// Create the namespace and the link with `one_way` delay per direction
    /// and, if `rate_bytes_per_sec` > 0, that rate per direction.
    pub fn up(one_way: Duration, rate_bytes_per_sec: u64) -> Result<Wire, String> {
        let pid = std::process::id();
        let netns = format!("pv-bench-{pid}");
        let host_dev = format!("pvh{}", pid % 1_000_000);
        let ns_dev = format!("pvn{}", pid % 1_000_000);
        let (host_addr, ns_addr) = free_slash30()?;
        let stop = Arc::new(InterruptEvent::new().map_err(|e| format!("interrupt event: {e}"))?);
        let mut wire = Wire {
            netns: netns.clone(),
            host_addr,
            ns_addr,
            one_way_us: Arc::new(AtomicU64::new(one_way.as_micros() as u64)),
            stats: Arc::new(Stats::default()),
            host_dev: host_dev.clone(),
            stop: stop.clone(),
            threads: Vec::new(),
        };
        // From here on, `wire`'s Drop undoes whatever was done.
        let open = |name: &str| {
            DeviceBuilder::new()
                .name(name)
                .build_sync()
                .map(Arc::new)
                .map_err(|e| {
                    format!("can't create TUN device {name} (root and /dev/net/tun?): {e}")
                })
        };
        let host = open(&host_dev)?;
        let ns = open(&ns_dev)?;
        ip(&["netns", "add", &netns])?;
        ip(&["-n", &netns, "link", "set", "lo", "up"])?;
        // The open fd stays attached to the device when it moves.
        ip(&["link", "set", &ns_dev, "netns", &netns])?;
        let (h, n) = (host_addr.to_string(), ns_addr.to_string());
        ip(&["addr", "add", &h, "peer", &n, "dev", &host_dev])?;
        ip(&["link", "set", &host_dev, "up"])?;
        ip(&["-n", &netns, "addr", "add", &n, "peer", &h, "dev", &ns_dev])?;
        ip(&["-n", &netns, "link", "set", &ns_dev, "up"])?;
        for (from, to) in [(host.clone(), ns.clone()), (ns, host)] {
            let stop = stop.clone();
            let delay = wire.one_way_us.clone();
            let stats = wire.stats.clone();
            wire.threads.push(
                std::thread::Builder::new()
                    .name("wire".into())
                    .spawn(move || forward(&from, &to, &stop, &delay, rate_bytes_per_sec, &stats))
                    .map_err(|e| format!("spawn wire thread: {e}"))?,
            );
        }
        Ok(wire)
    }

    /// The delay of each direction from now on (packets queued keep theirs).
    pub fn set_one_way(&self, one_way: Duration) {
        self.one_way_us
            .store(one_way.as_micros() as u64, Ordering::Relaxed);
    }

    /// The delay of each direction.
    pub fn one_way(&self) -> Duration {
        Duration::from_micros(self.one_way_us.load(Ordering::Relaxed))
    }

    /// A command (program and arguments) that runs `argv` in the namespace.
    pub fn exec(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns]).args(argv);
        c
    }

    /// The median time of a TCP connect from the namespace to `port` on the
    /// host side (one round trip: SYN, SYN-ACK), over `tries` connects.
    pub fn tcp_rtt(&self, port: u16, tries: usize) -> Result<Duration, String> {
        // A connect from inside the namespace: bash's /dev/tcp, timed by
        // bash itself so process start-up is not counted.
        let script = format!(
            "for i in $(seq {tries}); do t0=$EPOCHREALTIME; \
             exec 3<>/dev/tcp/{}/{port} || exit 1; t1=$EPOCHREALTIME; exec 3>&-; \
             echo $t0 $t1; done",
            self.host_addr
        );
        let out = run_with_deadline(self.exec(&["bash", "-c", &script]), Duration::from_secs(30))?;
        let mut times: Vec<f64> = out
            .lines()
            .filter_map(|l| {
                let mut it = l
                    .split_whitespace()
                    .map(|s| s.replace(',', ".").parse::<f64>());
                match (it.next(), it.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => Some(b - a),
                    _ => None,
                }
            })
            .collect();
        if times.is_empty() {
            return Err(format!("no TCP connect over the wire succeeded: {out}"));
        }
        times.sort_by(f64::total_cmp);
        Ok(Duration::from_secs_f64(times[times.len() / 2].max(0.0)))
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        let _ = self.stop.trigger();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Processes of ours still in the namespace (a tmux pane's popview):
        // their ids are listed by the kernel for this namespace only.
        if let Ok(pids) = run_with_deadline(
            {
                let mut c = Command::new("ip");
                c.args(["netns", "pids", &self.netns]);
                c
            },
            IP_DEADLINE,
        ) {
            for pid in pids.split_whitespace().filter(|p| p.parse::<u32>().is_ok()) {
                let _ = run_with_deadline(
                    {
                        let mut c = Command::new("kill");
                        c.args(["-KILL", pid]);
                        c
                    },
                    IP_DEADLINE,
                );
            }
        }
        let _ = ip(&["netns", "del", &self.netns]);
        // The host device goes with its fd (dropped with the threads); make sure.
        let _ = run_with_deadline(
            {
                let mut c = Command::new("ip");
                c.args(["link", "del", &self.host_dev]);
                c
            },
            IP_DEADLINE,
        );
    }
}

/// One direction: read from `from`, deliver to `to` after the delay.
fn forward(
    from: &SyncDevice,
    to: &SyncDevice,
    stop: &InterruptEvent,
    delay_us: &AtomicU64,
    rate: u64,
    stats: &Stats,
) {
    // Due times only grow (a fixed delay after a link that is free again
    // later and later), so a FIFO is ordered by due time.
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut link_free = Instant::now();
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = Instant::now();
        while let Some((due, _)) = queue.front() {
            if *due > now {
                break;
            }
            let (_, pkt) = queue.pop_front().expect("front exists");
            match to.send(&pkt) {
                Ok(_) => stats.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => stats.dropped.fetch_add(1, Ordering::Relaxed),
            };
        }
        let timeout = queue
            .front()
            .map(|(due, _)| due.saturating_duration_since(Instant::now()));
        match from.recv_intr_timeout(&mut buf, stop, timeout) {
            Ok(n) => {
                let read = Instant::now();
                let delay = Duration::from_micros(delay_us.load(Ordering::Relaxed))
                    .saturating_sub(POLL_LATENESS);
                if queue.len() >= QUEUE_PACKETS {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let leaves = if rate > 0 {
                    let start = link_free.max(read);
                    link_free = start + Duration::from_secs_f64(n as f64 / rate as f64);
                    link_free
                } else {
                    read
                };
                queue.push_back((leaves + delay, buf[..n].to_vec()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // The stop event, or the device is gone.
            Err(_) => return,
        }
    }
}

/// The first `169.254.217.x/30` whose host address no interface here has.
fn free_slash30() -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let used = run_with_deadline(
        {
            let mut c = Command::new("ip");
            c.args(["-o", "-4", "addr", "show"]);
            c
        },
        IP_DEADLINE,
    )?;
    for k in 0..64u8 {
        let host = Ipv4Addr::new(169, 254, 217, 4 * k + 1);
        let needle = format!(" {host}");
        if !used.contains(&format!("{needle}/")) && !used.contains(&format!("{needle} ")) {
            return Ok((host, Ipv4Addr::new(169, 254, 217, 4 * k + 2)));
        }
    }
    Err("no free /30 in 169.254.217.0/24".to_string())
}

/// Run `ip ARGS` with a deadline; its stderr in the error.
fn ip(args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("ip");
    c.args(args);
    run_with_deadline(c, IP_DEADLINE).map_err(|e| format!("ip {}: {e}", args.join(" ")))
}

/// Run `cmd` to its end or `deadline` (then killed); its stdout, or an
/// error with its stderr.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Result<String, String> {
    let out_file = tempfile::tempfile().map_err(|e| e.to_string())?;
    let err_file = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(err_file.try_clone().map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("can't run {:?}: {e}", cmd.get_program()))?;
    let until = Instant::now() + deadline;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {deadline:?}: killed"));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut s = String::new();
        let _ = f.rewind();
        let _ = f.read_to_string(&mut s);
        s
    };
    let (out, err) = (read(out_file), read(err_file));
    if status.success() {
        Ok(out)
    } else {
        Err(format!("{status}: {}", err.trim()))
    }
}
