//! A real NATS server for the messaging tests: the `nats-server` that
//! `scripts/e2e-tools.sh` builds from its Go module (the script runs first and
//! builds what is missing), on a free port of 127.0.0.1, with JetStream on and
//! its store in a directory of its own.

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::e2e::{spawn_logged, Process};

/// A `nats-server` process (core NATS and JetStream), killed and its
/// directory (store and log) removed when dropped. The directory is kept when
/// the test panics, and its path printed, so that the server's log can be read.
pub struct NatsServer {
    process: Process,
    port: u16,
    dir: PathBuf,
}

impl NatsServer {
    /// Starts a server on `127.0.0.1:<free port>` with JetStream storing into
    /// a new temporary directory, and returns once it greets a client (its
    /// `INFO` line). A server that exits before it listens (a port another
    /// process took between its choice here and the server's bind) is started
    /// once more on another port; one that does not listen panics with the
    /// end of its log.
    pub fn start() -> NatsServer {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let binary = super::e2e_tool("nats-server");
        let dir = std::env::temp_dir().join(format!(
            "dt-nats-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("jetstream");
        std::fs::create_dir_all(&store).unwrap();
        let log = dir.join("nats-server.log");
        for attempt in 1..=2 {
            let port = free_port();
            let mut process = spawn_logged(
                Command::new(&binary)
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                    .arg(&store),
                &log,
                "nats-server",
            );
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if greets(port) {
                    return NatsServer { process, port, dir };
                }
                if let Ok(Some(_)) = process.0.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let exited = matches!(process.0.try_wait(), Ok(Some(_)));
            let tail = log_tail(&log, 20);
            assert!(
                exited && attempt == 1,
                "nats-server did not listen on 127.0.0.1:{port} (attempt {attempt}, exited: {exited}); its log ends with:\n{tail}"
            );
            eprintln!(
                "nats-server exited before it listened; once more. Its log ends with:\n{tail}"
            );
        }
        unreachable!("the second attempt returns or panics")
    }

    /// `nats://127.0.0.1:<port>`, for `async_nats::connect` (and nats-py).
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats-server.log")).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
        if std::thread::panicking() {
            eprintln!("nats-server's store and log kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a NATS server on `port` greets a new connection with its `INFO`
/// line (it listens for clients once JetStream has started).
fn greets(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO {")
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
