//! A real RabbitMQ for the AMQP tests: Debian's `rabbitmq-server` (installed by
//! `scripts/e2e-rabbitmq.sh`, which runs first), started as a private node of
//! the test: its own HOME (so its own Erlang cookie), node name, epmd,
//! ports of 127.0.0.1, configuration, database and logs, all in one temporary
//! directory. Nothing of a system RabbitMQ (its service, `/etc/rabbitmq`, the
//! epmd on 4369) is used, and tests running in parallel each get their own.
//!
//! A node takes about 7 s to start (RabbitMQ 3.10.8 on Erlang/OTP 25), so a
//! test binary shares one ([`RabbitMq::shared`]).

use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::e2e::{free_ports, spawn_logged, Process};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A private RabbitMQ node and its epmd, both in one process group of their
/// own, killed together (and the directory removed) when dropped. The
/// directory is kept when the test panics, and its path printed, so that the
/// node's log can be read.
///
/// A node outlives nothing: a watchdog process holds a pipe from the test
/// process and kills the group (and removes the directory) when the pipe
/// closes, that is when the test process ends however it ends — a node in a
/// `static` is never dropped.
pub struct RabbitMq {
    epmd: Process,
    server: Process,
    watchdog: Option<(Child, ChildStdin)>,
    /// The process group of epmd, the start script, `beam.smp` and its ports.
    group: u32,
    port: u16,
    epmd_port: u16,
    node: String,
    dir: PathBuf,
    started_in: Duration,
}

impl RabbitMq {
    /// The node of this test binary, started by the first test that asks
    /// (the others wait for it), stopped when the test process ends.
    pub fn shared() -> &'static RabbitMq {
        static NODE: OnceLock<RabbitMq> = OnceLock::new();
        NODE.get_or_init(RabbitMq::start)
    }

    /// Starts a private node with AMQP on `127.0.0.1:<free port>` (user
    /// `guest`, password `guest`, allowed from 127.0.0.1: `loopback_users =
    /// none`), no plugins, and returns once an AMQP connection (amqprs)
    /// opens. A node that exits before it listens (a port another process took
    /// between its choice here and the node's bind) is started once more on
    /// other ports; one that does not listen within 60 s panics with the end
    /// of its log.
    pub fn start() -> RabbitMq {
        install();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "{}x{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("dt-rabbitmq-{unique}"));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // The plugins file in Erlang terms: none. An empty environment file,
        // so that /etc/rabbitmq/rabbitmq-env.conf is not read.
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        let node = format!("dt{unique}@localhost");
        for attempt in 1..=2 {
            let [port, dist_port, epmd_port, _] = free_ports();
            std::fs::write(
                dir.join("rabbitmq.conf"),
                format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"),
            )
            .unwrap();
            let start = Instant::now();
            // epmd first, as the leader of the group: the node finds it on its
            // port and does not start one of its own (which would daemonize,
            // out of reach).
            let epmd = spawn_logged(
                Command::new("epmd")
                    .args(["-port", &epmd_port.to_string(), "-address", "127.0.0.1"])
                    .process_group(0),
                &dir.join("epmd.log"),
                "epmd",
            );
            let group = epmd.0.id();
            let mut server = Command::new(SERVER);
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                if key.starts_with("RABBITMQ_") || key.starts_with("ERL_") {
                    server.env_remove(&*key);
                }
            }
            server
                .env_remove("NOTIFY_SOCKET")
                .env("HOME", dir.join("home"))
                .env("RABBITMQ_NODENAME", &node)
                .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                .env("RABBITMQ_NODE_PORT", port.to_string())
                .env("RABBITMQ_DIST_PORT", dist_port.to_string())
                .env("ERL_EPMD_PORT", epmd_port.to_string())
                .env("ERL_EPMD_ADDRESS", "127.0.0.1")
                .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
                .env("RABBITMQ_LOG_BASE", dir.join("log"))
                .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq"))
                .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
                .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
                .process_group(group as i32);
            let mut server = spawn_logged(&mut server, &dir.join("server.log"), "rabbitmq-server");
            let watchdog = watchdog(group, &dir);
            while start.elapsed() < Duration::from_secs(60) {
                if listens(port) && amqp_opens(port) {
                    return RabbitMq {
                        epmd,
                        server,
                        watchdog: Some(watchdog),
                        group,
                        port,
                        epmd_port,
                        node,
                        dir,
                        started_in: start.elapsed(),
                    };
                }
                if let Ok(Some(_)) = server.0.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let exited = matches!(server.0.try_wait(), Ok(Some(_)));
            let tail = log_tail(&dir, 30);
            stop(group, watchdog, epmd, server);
            assert!(
                exited && attempt == 1,
                "rabbitmq-server did not accept AMQP on 127.0.0.1:{port} (attempt {attempt}, exited: {exited}); its logs end with:\n{tail}"
            );
            eprintln!(
                "rabbitmq-server exited before it listened; once more. Its logs end with:\n{tail}"
            );
        }
        unreachable!("the second attempt returns or panics")
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// The AMQP port (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the node's own epmd (127.0.0.1).
    pub fn epmd_port(&self) -> u16 {
        self.epmd_port
    }

    /// The node's name, `dt<pid>x<n>@localhost`.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node's temporary directory (HOME, database, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// From the start of epmd to the first AMQP connection that opened.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// `amqprs`' arguments for a connection to this node as `guest`.
    pub fn connection_arguments(&self) -> amqprs::connection::OpenConnectionArguments {
        amqprs::connection::OpenConnectionArguments::new("127.0.0.1", self.port, "guest", "guest")
    }

    /// What the node has logged so far (its log file, then what the start
    /// script printed).
    pub fn log(&self) -> String {
        let node_log =
            std::fs::read_to_string(self.dir.join("log").join(format!("{}.log", self.node)))
                .unwrap_or_default();
        let script = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        format!("{node_log}{script}")
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            // Stopped before its pipe closes: it would remove the directory.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
        kill_group(self.group);
        let _ = self.server.0.wait();
        let _ = self.epmd.0.wait();
        // `beam.smp` is not our child (the start script's): SIGKILL has been
        // sent, and its sockets close once its threads are gone.
        let start = Instant::now();
        while (listens(self.port) || listens(self.epmd_port))
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        if panicking {
            eprintln!(
                "rabbitmq-server's directory (logs, database) kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs `scripts/e2e-rabbitmq.sh` (once per test binary): installs Debian's
/// `rabbitmq-server` when it is missing.
fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("bash")
            .arg(root.join("scripts/e2e-rabbitmq.sh"))
            .status()
            .expect("run scripts/e2e-rabbitmq.sh");
        assert!(
            status.success(),
            "scripts/e2e-rabbitmq.sh failed: RabbitMQ could not be installed from Debian's packages"
        );
    });
}

/// A shell that waits for the end of its input (the test process ending, or
/// [`RabbitMq`]'s drop), then kills `group` and removes `dir`. It ignores the
/// terminal's signals (a Ctrl-C of `cargo test` reaches the test process, and
/// the watchdog then sees its pipe close).
fn watchdog(group: u32, dir: &Path) -> (Child, ChildStdin) {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "trap '' INT TERM HUP QUIT; cat >/dev/null; kill -KILL \"-$0\" 2>/dev/null; rm -rf -- \"$1\"",
        ])
        .arg(group.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the watchdog of rabbitmq-server");
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// SIGKILL to every process of `group`: epmd, the start script, `beam.smp`
/// (its port programs, `erl_child_setup` and `inet_gethost`, exit with it).
fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

fn stop(group: u32, watchdog: (Child, ChildStdin), mut epmd: Process, mut server: Process) {
    let (mut watchdog, stdin) = watchdog;
    let _ = watchdog.kill();
    let _ = watchdog.wait();
    drop(stdin);
    kill_group(group);
    let _ = server.0.wait();
    let _ = epmd.0.wait();
}

fn listens(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether an AMQP connection to `port` as guest opens (and closes), with
/// amqprs, on a runtime of its own in a thread of its own (the caller may be
/// inside a Tokio runtime, or not).
fn amqp_opens(port: u16) -> bool {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let arguments = amqprs::connection::OpenConnectionArguments::new(
                "127.0.0.1",
                port,
                "guest",
                "guest",
            );
            let open = amqprs::connection::Connection::open(&arguments);
            match tokio::time::timeout(Duration::from_secs(5), open).await {
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    true
                }
                _ => false,
            }
        })
    })
    .join()
    .unwrap_or(false)
}

fn log_tail(dir: &Path, lines: usize) -> String {
    let mut out = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.push(dir.join("server.log"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        out.push_str(&format!("== {}\n", file.display()));
        out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
        out.push('\n');
    }
    out
}
