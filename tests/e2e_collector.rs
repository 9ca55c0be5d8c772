//! End to end through a real collector and a real trace backend, both from
//! PyPI (installed by `scripts/e2e-setup.sh`, which this test runs when they
//! are missing): spans leave this crate over OTLP (gRPC and HTTP), pass through
//! `rotel` (an OpenTelemetry collector) and land in Arize Phoenix (a trace
//! backend storing them in SQLite), from whose REST API the test reads the trace
//! back. Everything listens on 127.0.0.1 only.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::compat::{get_span_id, get_trace_id};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::ObservabilityBuilder;
use tracing_subscriber::layer::SubscriberExt as _;

/// The rotel collector binary installed by `scripts/e2e-setup.sh`.
fn rotel_bin() -> std::path::PathBuf {
    let venv = common::e2e_venv();
    std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|python| python.path().join("site-packages/rotel/rotel-agent"))
        .find(|p| p.exists())
        .expect("rotel-agent in the venv")
}

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Process {
    /// Sends SIGTERM and waits for the process to exit, at most `limit`
    /// (then it is killed when dropped).
    fn terminate(mut self, limit: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Four distinct free ports on 127.0.0.1 (held together while chosen, so the
/// system cannot hand out the same one twice).
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}

/// `GET http://127.0.0.1:{port}{path}`: status and body (HTTP/1.1, no keep-alive).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends one trace (two nested spans) through a pipeline to `endpoint`;
/// returns (trace id, outer span id, inner span id).
fn send_trace(protocol: OtlpProtocol, endpoint: String, project: &str) -> (String, String, String) {
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_SERVICE_NAME", "e2e-service")])
        .resource_attribute("openinference.project.name", project)
        .otlp_protocol(protocol)
        .otlp_endpoint(endpoint)
        .build()
        .unwrap();
    let provider = guard.tracer_provider().unwrap().clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("e2e")));
    let ids = tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("checkout");
        let _o = outer.enter();
        let outer_id = get_span_id().unwrap();
        let inner = tracing::info_span!("charge_card");
        let _i = inner.enter();
        (get_trace_id().unwrap(), outer_id, get_span_id().unwrap())
    });
    drop(guard);
    ids
}

#[test]
fn spans_reach_a_real_backend_through_a_real_collector() {
    let venv = common::e2e_venv();
    let work = std::env::temp_dir().join(format!("dt-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let [phoenix_http, phoenix_grpc, rotel_grpc, rotel_http] = free_ports();

    let phoenix_log = std::fs::File::create(work.join("phoenix.log")).unwrap();
    let _phoenix = Process(
        Command::new(venv.join("bin/python"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/phoenix_serve.py"))
            .arg("serve")
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", phoenix_http.to_string())
            .env("PHOENIX_GRPC_PORT", phoenix_grpc.to_string())
            .env("PHOENIX_WORKING_DIR", &work)
            .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdout(phoenix_log.try_clone().unwrap())
            .stderr(phoenix_log)
            .spawn()
            .expect("start phoenix"),
    );
    wait_until("phoenix to start", Duration::from_secs(120), || {
        http_get(phoenix_http, "/v1/projects").filter(|(status, _)| *status == 200)
    });
    let _rotel = start_rotel(
        &work,
        rotel_grpc,
        rotel_http,
        None,
        &format!("http://127.0.0.1:{phoenix_http}"),
    );

    let project = format!("dt-e2e-{}", std::process::id());
    let cases = [
        (OtlpProtocol::Grpc, format!("http://127.0.0.1:{rotel_grpc}")),
        (
            OtlpProtocol::HttpProtobuf,
            format!("http://127.0.0.1:{rotel_http}/v1/traces"),
        ),
    ];
    for (protocol, endpoint) in cases {
        let (trace_id, outer_id, inner_id) = send_trace(protocol, endpoint, &project);
        let path = format!("/v1/projects/{project}/spans?trace_id={trace_id}&limit=100");
        let spans: Vec<serde_json::Value> = wait_until(
            &format!("{protocol:?} trace {trace_id} in phoenix"),
            Duration::from_secs(60),
            || {
                let (status, body) = http_get(phoenix_http, &path)?;
                let json: serde_json::Value = serde_json::from_str(&body).ok()?;
                let data = json["data"].as_array()?.clone();
                (status == 200 && data.len() >= 2).then_some(data)
            },
        );
        assert_eq!(spans.len(), 2, "{protocol:?}: {spans:#?}");
        let by_name = |name: &str| {
            spans
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {spans:#?}"))
        };
        let (outer, inner) = (by_name("checkout"), by_name("charge_card"));
        assert_eq!(outer["context"]["trace_id"], trace_id.as_str());
        assert_eq!(outer["context"]["span_id"], outer_id.as_str());
        assert!(outer["parent_id"].is_null(), "the root");
        assert_eq!(inner["context"]["span_id"], inner_id.as_str());
        assert_eq!(inner["parent_id"], outer_id.as_str(), "parent link");
    }
    // The resource survived the collector: Phoenix files the spans under the
    // project our resource attribute named. (Phoenix keeps no other resource
    // attribute, so `service.name` cannot be read back from it.)
    let (_, projects) = http_get(phoenix_http, "/v1/projects").unwrap();
    assert!(projects.contains(&project), "{projects}");
    std::fs::remove_dir_all(&work).ok();
}

/// Starts rotel receiving OTLP on `grpc_port` and `http_port` (with a gRPC
/// message limit of `max_mib` MiB when given), forwarding over OTLP/HTTP to
/// `to`; returns once it listens.
fn start_rotel(
    work: &Path,
    grpc_port: u16,
    http_port: u16,
    max_mib: Option<u32>,
    to: &str,
) -> Process {
    let log = std::fs::File::create(work.join("rotel.log")).unwrap();
    let mut command = Command::new(rotel_bin());
    command.arg("start");
    if let Some(max_mib) = max_mib {
        command
            .arg("--otlp-grpc-max-recv-msg-size-mib")
            .arg(max_mib.to_string());
    }
    let process = Process(
        command
            .args(["--exporter", "otlp", "--otlp-exporter-protocol", "http"])
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--otlp-exporter-endpoint")
            .arg(to)
            .arg("--batch-timeout")
            .arg("100ms")
            .arg("--pid-file")
            .arg(work.join(format!("rotel-{grpc_port}.pid")))
            .arg("--log-file")
            .arg(work.join("rotel-agent.log"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start rotel"),
    );
    wait_until("rotel to listen", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", grpc_port)).ok()
    });
    process
}

/// A real collector with a 1 MiB message limit (rotel's smallest): batches of
/// ordinary spans over it are split until they pass, one 2 MB span is dropped
/// alone, and every ordinary span reaches the backend behind the collector;
/// then the collector is restarted under load and nothing is lost.
#[test]
fn a_real_collector_with_a_small_limit_and_a_restart_loses_no_normal_span() {
    let work = std::env::temp_dir().join(format!("dt-e2e-limit-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let backend = Receiver::start(Protocol::Http, 0, Store::default());
    let [grpc_port, http_port, _, _] = free_ports();
    let to = format!("http://{}", backend.addr);
    let mut rotel = Some(start_rotel(&work, grpc_port, http_port, Some(1), &to));

    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "100")])
        .service_name("limit")
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_endpoint(format!("http://127.0.0.1:{grpc_port}"))
        .shutdown_deadline(Duration::from_secs(20))
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("limit");
    let note = "n".repeat(3000);
    // 512 spans of ~3 KB: one batch of about 1.5 MB, over rotel's 1 MiB.
    for i in 0..600 {
        let mut span = tracer.start(format!("normal-{i}"));
        span.set_attribute(KeyValue::new("note", note.clone()));
        span.end();
        if i == 300 {
            let mut span = tracer.start("huge");
            span.set_attribute(KeyValue::new("blob", "x".repeat(2_000_000)));
            span.end();
        }
    }
    let _ = guard.flush();
    let stats = guard.export_stats();
    assert_eq!(
        (stats.exported, stats.too_large, stats.failed),
        (600, 1, 0),
        "{stats:?}"
    );

    // The collector restarts (down 2 s) while spans keep coming.
    let mut created = 600;
    for round in 0..40 {
        for _ in 0..10 {
            tracer.start(format!("normal-{created}")).end();
            created += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
        if round == 5 {
            // A restart as an orchestrator does it: SIGTERM, so the collector
            // forwards what it has accepted (a SIGKILL loses its batch, which
            // it has already acknowledged: no exporter can recover that).
            rotel.take().unwrap().terminate(Duration::from_secs(10));
        }
        if round == 25 {
            rotel = Some(start_rotel(&work, grpc_port, http_port, Some(1), &to));
        }
    }
    guard.flush().expect("the collector is back");
    let stats = guard.export_stats();
    assert_eq!(stats.lost(), 1, "only the huge span: {stats:?}");
    drop(guard);
    let spans = backend.store.wait_for(Duration::from_secs(30), |spans| {
        spans
            .iter()
            .filter(|s| s.span.name.starts_with("normal-"))
            .count()
            >= created
    });
    let mut names: Vec<&str> = spans
        .iter()
        .map(|s| s.span.name.as_str())
        .filter(|n| n.starts_with("normal-"))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        created,
        "every normal span reached the backend: {stats:?}"
    );
    assert!(spans.iter().all(|s| s.span.name != "huge"));
    drop(rotel);
    std::fs::remove_dir_all(&work).ok();
}
