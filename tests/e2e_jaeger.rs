//! End to end into Jaeger, the backend this crate exists to feed, directly and
//! through an OpenTelemetry Collector running the repository's
//! `otel-collector.yaml` as shipped (its addresses overridden by environment).
//! Both are built from their Go modules by `scripts/e2e-tools.sh` (run here
//! first; it builds what is missing). Every trace is read back from Jaeger's
//! query API (`/api/traces/<trace id>`), and compared with the ids on the log
//! lines of the programs that sent it. The OTLP file format too: the lines the
//! crate writes (standard output, spans files) are posted to Jaeger's
//! OTLP/HTTP receiver as JSON and must read back as the same run's
//! OTLP/protobuf export. And the request metrics: the chains' duration
//! histograms through the collector to its Prometheus endpoint, scraped in
//! OpenMetrics, each count the chains' requests, each exemplar a span in
//! Jaeger. Everything listens on 127.0.0.1 only.
#![cfg(all(feature = "http-server", feature = "reqwest"))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::e2e::{
    free_ports, http_get, http_get_accept, http_post, spawn_logged, wait_until, Process,
};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::Key;
use distributed_tracing::{otlp_file, ObservabilityBuilder};
use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dt-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A Jaeger v2 process (`scripts/e2e-tools/jaeger.yaml`) on free ports.
struct Jaeger {
    _process: Process,
    otlp_grpc: u16,
    otlp_http: u16,
    query: u16,
}

fn start_jaeger(work: &Path) -> Jaeger {
    let [otlp_grpc, otlp_http, query, query_grpc] = free_ports();
    let process = spawn_logged(
        Command::new(common::e2e_tool("jaeger"))
            .arg("--config")
            .arg(repo().join("scripts/e2e-tools/jaeger.yaml"))
            .env("JAEGER_OTLP_GRPC", format!("127.0.0.1:{otlp_grpc}"))
            .env("JAEGER_OTLP_HTTP", format!("127.0.0.1:{otlp_http}"))
            .env("JAEGER_QUERY_HTTP", format!("127.0.0.1:{query}"))
            .env("JAEGER_QUERY_GRPC", format!("127.0.0.1:{query_grpc}")),
        &work.join("jaeger.log"),
        "jaeger",
    );
    wait_until("Jaeger's query API", Duration::from_secs(60), || {
        http_get(query, "/api/services").filter(|(status, _)| *status == 200)
    });
    wait_until("Jaeger's OTLP receiver", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", otlp_grpc)).ok()
    });
    Jaeger {
        _process: process,
        otlp_grpc,
        otlp_http,
        query,
    }
}

/// A collector running `otel-collector.yaml`.
struct Collector {
    process: Process,
    /// Where its `prometheus` exporter serves the services' metrics
    /// (`http://127.0.0.1:<it>/metrics`).
    prometheus: u16,
}

/// The collector running `otel-collector.yaml`, forwarding to `jaeger`, its
/// OTLP receivers on `grpc` and `http`.
///
/// A collector that exits before it listens (a port another process of the
/// tests took between its choice and the collector's bind: its metrics port
/// is chosen here) is started once more; a collector that does not listen
/// says why, with the end of its log.
fn start_collector(work: &Path, jaeger: &Jaeger, grpc: u16, http: u16) -> Collector {
    let log = work.join(format!("otelcol-{grpc}.log"));
    for attempt in 1..=2 {
        let (mut command, prometheus) = collector_command(jaeger, grpc, http);
        let mut process = spawn_logged(
            command
                .arg("--config")
                .arg(repo().join("otel-collector.yaml")),
            &log,
            "otelcol",
        );
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", grpc)).is_ok() {
                return Collector {
                    process,
                    prometheus,
                };
            }
            if let Ok(Some(_)) = process.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: String = text
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        let exited = matches!(process.0.try_wait(), Ok(Some(_)));
        assert!(
            exited && attempt == 1,
            "the collector did not listen on {grpc} (attempt {attempt}, exited: {exited}); its log ends with:\n{tail}"
        );
        eprintln!("the collector exited before it listened; once more. Its log ends with:\n{tail}");
    }
    unreachable!("the second attempt returns or panics")
}

/// The collector's command with the addresses of `otel-collector.yaml` set:
/// its receivers, Jaeger, and free ports for its own metrics and for the
/// Prometheus endpoint of the services' metrics (8888 and 8889 on every
/// interface by default, which two collectors cannot share); with the port
/// of the latter.
fn collector_command(jaeger: &Jaeger, grpc: u16, http: u16) -> (Command, u16) {
    let [metrics, prometheus, _, _] = free_ports();
    let mut command = Command::new(common::e2e_tool("otelcol"));
    command
        .env("OTELCOL_OTLP_GRPC", format!("127.0.0.1:{grpc}"))
        .env("OTELCOL_OTLP_HTTP", format!("127.0.0.1:{http}"))
        .env("OTELCOL_METRICS_PORT", metrics.to_string())
        .env("OTELCOL_PROMETHEUS", format!("127.0.0.1:{prometheus}"))
        .env(
            "JAEGER_OTLP_ENDPOINT",
            format!("127.0.0.1:{}", jaeger.otlp_grpc),
        );
    (command, prometheus)
}

/// One span as Jaeger's query API returns it.
#[derive(Debug)]
struct JaegerSpan {
    name: String,
    span_id: String,
    parent: Option<String>,
    service: String,
}

/// The trace `trace_id` as Jaeger's query API gives it (`data[0]`: its
/// spans and processes), once it has at least `spans` spans.
fn jaeger_trace_json(jaeger: &Jaeger, trace_id: &str, spans: usize) -> Value {
    let trace = wait_until(
        &format!("{spans} spans of trace {trace_id} in Jaeger"),
        Duration::from_secs(30),
        || {
            let (status, body) = http_get(jaeger.query, &format!("/api/traces/{trace_id}"))?;
            let value: Value = serde_json::from_str(&body).ok()?;
            let trace = value["data"].get(0)?.clone();
            let found = trace["spans"].as_array()?.len();
            (status == 200 && found >= spans).then_some(trace)
        },
    );
    assert_eq!(trace["traceID"], trace_id);
    trace
}

/// The trace `trace_id` from Jaeger once it has at least `spans` spans.
fn jaeger_trace(jaeger: &Jaeger, trace_id: &str, spans: usize) -> Vec<JaegerSpan> {
    let trace = jaeger_trace_json(jaeger, trace_id, spans);
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| {
            assert_eq!(span["traceID"], trace_id, "{span}");
            let parent = span["references"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["refType"] == "CHILD_OF" && r["traceID"] == trace_id)
                .map(|r| r["spanID"].as_str().unwrap().to_owned());
            let process = span["processID"].as_str().unwrap();
            JaegerSpan {
                name: span["operationName"].as_str().unwrap().to_owned(),
                span_id: span["spanID"].as_str().unwrap().to_owned(),
                parent,
                service: trace["processes"][process]["serviceName"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            }
        })
        .collect()
}

/// Runs the quickstart exporting to `endpoint`; returns the one trace id on
/// its log lines.
fn run_quickstart(endpoint: &str, protocol: &str, service: &str) -> String {
    let stdout = common::stdout_of(
        Command::new(common::example_binary("quickstart"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_SERVICE_NAME", service)
            // Jaeger stores traces only (built with `logs`, the example would
            // also send log records, which Jaeger refuses).
            .env("OTEL_LOGS_EXPORTER", "none")
            .env_remove("RUST_LOG"),
    );
    let trace_id = common::quickstart_trace_id(&stdout);
    assert!(
        stdout.contains("none lost"),
        "the quickstart reports its export: {stdout}"
    );
    trace_id
}

/// Runs the chain `example` exporting over OTLP/gRPC to 127.0.0.1:`port`;
/// returns its output and the trace id of the answer line starting with
/// `answer` (which ends with `(trace <id>)`).
fn run_chain(example: &str, port: u16, answer: &str) -> (String, String) {
    let stdout = common::stdout_of(
        Command::new(common::example_binary(example))
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("RUST_LOG"),
    );
    let line = stdout
        .lines()
        .find(|l| l.contains(answer))
        .unwrap_or_else(|| panic!("{stdout}"));
    let trace_id = line[line.len() - 33..line.len() - 1].to_owned();
    (stdout, trace_id)
}

/// The quickstart's trace: `process_batch` and its three `fetch_item` children.
fn check_quickstart_trace(spans: &[JaegerSpan], service: &str) {
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let root: Vec<&JaegerSpan> = spans.iter().filter(|s| s.parent.is_none()).collect();
    assert_eq!(root.len(), 1, "one root: {spans:#?}");
    assert_eq!(root[0].name, "process_batch");
    let children: Vec<&JaegerSpan> = spans
        .iter()
        .filter(|s| s.parent.as_deref() == Some(root[0].span_id.as_str()))
        .collect();
    assert_eq!(children.len(), 3, "{spans:#?}");
    assert!(children.iter().all(|s| s.name == "fetch_item"));
    assert!(spans.iter().all(|s| s.service == service), "{spans:#?}");
}

#[test]
fn the_quickstart_into_jaeger_over_grpc_and_http() {
    let work = work_dir("jaeger-quickstart");
    let jaeger = start_jaeger(&work);
    for (protocol, port) in [
        ("grpc", jaeger.otlp_grpc),
        ("http/protobuf", jaeger.otlp_http),
    ] {
        let service = format!("quickstart-{}", protocol.replace('/', "-"));
        let trace_id = run_quickstart(&format!("http://127.0.0.1:{port}"), protocol, &service);
        check_quickstart_trace(&jaeger_trace(&jaeger, &trace_id, 4), &service);
    }
    std::fs::remove_dir_all(&work).ok();
}

#[test]
fn the_service_chain_into_jaeger() {
    let work = work_dir("jaeger-chain");
    let jaeger = start_jaeger(&work);
    let (stdout, trace_id) = run_chain(
        "service_chain",
        jaeger.otlp_grpc,
        "GET /checkout -> in stock (trace ",
    );
    let trace_id = trace_id.as_str();
    // Every log line of the checkout, in the three processes, has this id.
    let checkout: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("handling the request") || l.contains(" done answer="))
        .collect();
    assert_eq!(checkout.len(), 6, "{stdout}");
    assert!(checkout.iter().all(|l| &l[12..44] == trace_id), "{stdout}");

    let spans = jaeger_trace(&jaeger, trace_id, 8);
    let one = |service: &str, name: &str| -> &JaegerSpan {
        let found: Vec<&JaegerSpan> = spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "{service} {name}: {spans:#?}");
        found[0]
    };
    let front_server = one("frontend", "GET /checkout");
    let back_server = one("backend", "GET /price");
    let worker_server = one("worker", "GET /stock");
    assert_eq!(front_server.parent, None, "the frontend started the trace");
    let front_client = spans
        .iter()
        .find(|s| s.service == "frontend" && s.name == "GET")
        .unwrap_or_else(|| panic!("the frontend's CLIENT span: {spans:#?}"));
    let back_client = spans
        .iter()
        .find(|s| s.service == "backend" && s.name == "GET")
        .unwrap_or_else(|| panic!("the backend's CLIENT span: {spans:#?}"));
    assert_eq!(back_server.parent.as_ref(), Some(&front_client.span_id));
    assert_eq!(worker_server.parent.as_ref(), Some(&back_client.span_id));
    std::fs::remove_dir_all(&work).ok();
}

/// The NATS jobs example (a web service queues a job per order on JetStream,
/// a worker process runs it) into Jaeger: each job's CONSUMER span, one per
/// delivery, is in the request's trace, the child (CHILD_OF) of the web's
/// PRODUCER span, itself the child of the request's SERVER span.
#[cfg(feature = "nats")]
#[test]
fn a_job_across_nats_into_jaeger_under_the_request() {
    let nats = common::nats::NatsServer::start();
    job_across_a_broker_into_jaeger("nats_jobs", &[("NATS_URL", nats.url())]);
}

/// The same job across RabbitMQ (`examples/amqp_jobs.rs`).
#[cfg(all(feature = "amqp", feature = "http-server", feature = "reqwest"))]
#[test]
fn a_job_across_rabbitmq_into_jaeger_under_the_request() {
    let rabbitmq = common::rabbitmq::RabbitMq::start();
    job_across_a_broker_into_jaeger(
        "amqp_jobs",
        &[
            ("AMQP_HOST", "127.0.0.1".to_string()),
            ("AMQP_PORT", rabbitmq.port().to_string()),
        ],
    );
}

/// Runs a jobs example (web publishes, worker consumes, order 1 redelivered)
/// into Jaeger and checks each order's trace there: SERVER -> PRODUCER ->
/// one CONSUMER per delivery.
#[cfg(any(feature = "nats", feature = "amqp"))]
fn job_across_a_broker_into_jaeger(example: &str, broker: &[(&str, String)]) {
    let work = work_dir(&format!("jaeger-{example}"));
    let jaeger = start_jaeger(&work);
    let mut command = Command::new(common::example_binary(example));
    for (key, value) in broker {
        command.env(key, value);
    }
    let stdout = common::stdout_of(
        command
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", jaeger.otlp_grpc),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("DT_JOBS_TRUST")
            .env_remove("RUST_LOG"),
    );
    // Order 1's first delivery is refused and redelivered: two CONSUMER spans.
    for (order, deliveries) in [(1, 2), (2, 1)] {
        let answer = stdout
            .lines()
            .find(|l| l.starts_with(&format!("POST /orders -> order {order} accepted (trace ")))
            .unwrap_or_else(|| panic!("{stdout}"));
        let trace_id = &answer[answer.len() - 33..answer.len() - 1];
        // SERVER, PRODUCER, and per delivery CONSUMER and `send_mail`.
        let spans = jaeger_trace(&jaeger, trace_id, 2 + 2 * deliveries);
        let named = |service: &str, name: &str| -> Vec<&JaegerSpan> {
            spans
                .iter()
                .filter(|s| s.service == service && s.name == name)
                .collect()
        };
        let server = named("web", "POST /orders");
        let producer = named("web", "publish jobs.email");
        assert_eq!((server.len(), producer.len()), (1, 1), "{spans:#?}");
        assert_eq!(producer[0].parent.as_ref(), Some(&server[0].span_id));
        let consumers = named("worker", "process jobs.email");
        assert_eq!(consumers.len(), deliveries, "{spans:#?}");
        for consumer in consumers {
            assert_eq!(
                consumer.parent.as_ref(),
                Some(&producer[0].span_id),
                "{spans:#?}"
            );
        }
    }
    std::fs::remove_dir_all(&work).ok();
}

/// The gRPC chain (HTTP frontend -> inventory -> pricing over gRPC, three
/// processes) through the collector into Jaeger: one trace, each SERVER span
/// the child of its caller's CLIENT span, every log line with its id.
#[cfg(feature = "grpc")]
#[test]
fn the_grpc_chain_through_the_collector_into_jaeger() {
    let work = work_dir("jaeger-grpc-chain");
    let jaeger = start_jaeger(&work);
    let [grpc, http, _, _] = free_ports();
    let collector = start_collector(&work, &jaeger, grpc, http);
    let (stdout, trace_id) = run_chain(
        "grpc_chain",
        grpc,
        "GET /check/widget -> 7 in stock at 12.50 (trace ",
    );
    let trace_id = trace_id.as_str();
    // The log lines of the three processes: `[role     ] [trace id] ...`.
    let logged: Vec<&str> = stdout
        .lines()
        .filter(|l| l.len() > 45 && l.as_bytes()[0] == b'[' && !l.contains("[-]"))
        .collect();
    for role in ["frontend ", "inventory", "pricing  "] {
        let of_role: Vec<&&str> = logged.iter().filter(|l| l[1..10] == *role).collect();
        assert!(!of_role.is_empty(), "{role}: {stdout}");
        assert!(
            of_role.iter().all(|l| &l[13..45] == trace_id),
            "{role}: {stdout}"
        );
    }

    let spans = jaeger_trace(&jaeger, trace_id, 8);
    let one = |service: &str, name: &str, server: bool| -> &JaegerSpan {
        let found: Vec<&JaegerSpan> = spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        // A CLIENT span and the SERVER span share the method's name in
        // different services; within one service it is unique here.
        assert_eq!(
            found.len(),
            1,
            "{service} {name} (server {server}): {spans:#?}"
        );
        found[0]
    };
    let front_server = one("frontend", "GET /check/{item}", true);
    assert_eq!(front_server.parent, None, "the frontend started the trace");
    let front_client = one("frontend", "demo.Inventory/Check", false);
    let inventory_server = one("inventory", "demo.Inventory/Check", true);
    let inventory_client = one("inventory", "demo.Pricing/Quote", false);
    let pricing_server = one("pricing", "demo.Pricing/Quote", true);
    assert_eq!(
        inventory_server.parent.as_ref(),
        Some(&front_client.span_id)
    );
    assert_eq!(
        pricing_server.parent.as_ref(),
        Some(&inventory_client.span_id)
    );
    collector.process.terminate(Duration::from_secs(10));
    std::fs::remove_dir_all(&work).ok();
}

#[test]
fn the_shipped_collector_configuration_validates_and_forwards_to_jaeger() {
    let work = work_dir("otelcol");
    let jaeger = start_jaeger(&work);
    let [grpc, http, _, _] = free_ports();
    let validate = collector_command(&jaeger, grpc, http)
        .0
        .arg("validate")
        .arg("--config")
        .arg(repo().join("otel-collector.yaml"))
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "otelcol validate: {}",
        String::from_utf8_lossy(&validate.stderr)
    );
    let _collector = start_collector(&work, &jaeger, grpc, http);
    for (protocol, port) in [("grpc", grpc), ("http/protobuf", http)] {
        let service = format!("via-collector-{}", protocol.replace('/', "-"));
        let trace_id = run_quickstart(&format!("http://127.0.0.1:{port}"), protocol, &service);
        check_quickstart_trace(&jaeger_trace(&jaeger, &trace_id, 4), &service);
    }
    std::fs::remove_dir_all(&work).ok();
}

/// The collector stopped (as an orchestrator stops it, SIGTERM) and started
/// again two seconds later while a service keeps sending: what the crate
/// promises (every span kept and resent once the collector is back) holds
/// all the way into Jaeger.
#[test]
fn a_collector_restart_under_load_loses_nothing_in_jaeger() {
    let work = work_dir("otelcol-restart");
    let jaeger = start_jaeger(&work);
    let [grpc, http, _, _] = free_ports();
    let mut collector = Some(start_collector(&work, &jaeger, grpc, http));
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "100")])
        .service_name("restart")
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_endpoint(format!("http://127.0.0.1:{grpc}"))
        .shutdown_deadline(Duration::from_secs(30))
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("restart");
    let mut created = 0;
    for round in 0..40 {
        for _ in 0..10 {
            tracer.start(format!("op-{created:04}")).end();
            created += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
        if round == 5 {
            collector
                .take()
                .unwrap()
                .process
                .terminate(Duration::from_secs(15));
        }
        if round == 25 {
            collector = Some(start_collector(&work, &jaeger, grpc, http));
        }
    }
    guard.flush().expect("the collector is back");
    let stats = guard.export_stats();
    assert_eq!(stats.lost(), 0, "{stats:?}");
    assert_eq!(stats.exported, created, "{stats:?}");
    drop(guard);
    // Each span is a trace of its own: search them by service.
    let names = wait_until(
        &format!("{created} traces of `restart` in Jaeger"),
        Duration::from_secs(60),
        || {
            let (_, body) = http_get(
                jaeger.query,
                "/api/traces?service=restart&limit=100000&lookback=1h",
            )?;
            let value: Value = serde_json::from_str(&body).ok()?;
            let mut names: Vec<String> = value["data"]
                .as_array()?
                .iter()
                .flat_map(|t| t["spans"].as_array().cloned().unwrap_or_default())
                .map(|s| s["operationName"].as_str().unwrap_or_default().to_owned())
                .collect();
            names.sort();
            names.dedup();
            (names.len() >= created as usize).then_some(names)
        },
    );
    assert_eq!(names.len(), created as usize);
    drop(collector);
    std::fs::remove_dir_all(&work).ok();
}

// The OTLP file format into Jaeger: the lines the crate writes (spans file,
// `console` exporter) are OTLP/HTTP JSON bodies. Posted to a real Jaeger,
// they must read back as the spans the same run exported over OTLP/protobuf.

/// An example's command without this process's `OTEL_*`,
/// `DISTRIBUTED_TRACING_*`, `XDG_STATE_HOME` and `RUST_LOG`: a run sets what
/// it uses, the rest is the crate's default.
fn example(name: &str) -> Command {
    let mut command = Command::new(common::example_binary(name));
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("OTEL_")
            || name.starts_with("DISTRIBUTED_TRACING_")
            || name == "XDG_STATE_HOME"
            || name == "RUST_LOG"
        {
            command.env_remove(&key);
        }
    }
    command
}

/// Spans over OTLP/HTTP protobuf to `jaeger`, no log records (Jaeger
/// refuses them); with `console`, the same spans also as OTLP file lines on
/// standard output.
fn otlp_http_protobuf<'a>(
    command: &'a mut Command,
    jaeger: &Jaeger,
    console: bool,
) -> &'a mut Command {
    command
        .env(
            "OTEL_TRACES_EXPORTER",
            if console { "otlp,console" } else { "otlp" },
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", jaeger.otlp_http),
        )
        .env("OTEL_LOGS_EXPORTER", "none")
}

/// The OTLP file lines of an output (its log lines are text).
fn span_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("{\"resourceSpans\""))
        .collect()
}

/// What the crate's own reader finds in some lines.
struct ReadBack {
    /// The span ids of each trace id.
    traces: BTreeMap<String, BTreeSet<String>>,
    /// The `service.name` of each batch's resource.
    services: BTreeSet<String>,
}

/// Reads `lines` with `otlp_file::Reader`: each line is one batch, read
/// without error, its resource with a `service.name`.
fn read_lines<S: AsRef<str>>(lines: &[S]) -> ReadBack {
    let text: String = lines.iter().map(|l| format!("{}\n", l.as_ref())).collect();
    let mut read = ReadBack {
        traces: BTreeMap::new(),
        services: BTreeSet::new(),
    };
    let mut batches = 0;
    for batch in otlp_file::Reader::new(text.as_bytes()) {
        let batch = batch.unwrap_or_else(|e| panic!("otlp_file::Reader: {e}\n{text}"));
        batches += 1;
        let service = batch
            .resource
            .get(&Key::new("service.name"))
            .unwrap_or_else(|| panic!("no service.name on line {}: {text}", batch.line));
        read.services.insert(service.to_string());
        for span in &batch.spans {
            read.traces
                .entry(common::hex_trace(span.span_context.trace_id()))
                .or_default()
                .insert(common::hex_span(span.span_context.span_id()));
        }
    }
    assert_eq!(batches, lines.len(), "one batch a line: {text}");
    read
}

/// Posts each line to `jaeger`'s OTLP/HTTP receiver as `application/json`:
/// each is accepted whole (200, no span rejected).
fn post_lines<S: AsRef<str>>(jaeger: &Jaeger, lines: &[S]) {
    for line in lines {
        let line = line.as_ref();
        let (status, body) = http_post(
            jaeger.otlp_http,
            "/v1/traces",
            "application/json",
            line.as_bytes(),
        )
        .expect("an answer from Jaeger's OTLP/HTTP receiver");
        assert_eq!(status, 200, "{body}\nthe line posted: {line}");
        let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let rejected = &answer["partialSuccess"]["rejectedSpans"];
        assert!(
            rejected.is_null() || *rejected == "0" || *rejected == 0,
            "{body}\nthe line posted: {line}"
        );
    }
}

/// A tag, a log field or a process tag as Jaeger shows it: key, type
/// (`string`, `bool`, `int64`, `float64`, ...) and the value as JSON text (so
/// that `1` is not `"1"`).
type Tag = (String, String, String);

fn tags(list: &Value) -> Vec<Tag> {
    let mut tags: Vec<Tag> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["type"].as_str().unwrap().to_owned(),
                t["value"].to_string(),
            )
        })
        .collect();
    tags.sort();
    tags
}

/// One span as Jaeger's query API shows it, everything it shows, in an order
/// that does not depend on how the span was sent.
#[derive(Debug, PartialEq)]
struct Shown {
    operation: String,
    /// The span id of the `CHILD_OF` reference within the trace.
    parent: Option<String>,
    /// The other references (links are `FOLLOWS_FROM`): type, trace, span.
    references: Vec<(String, String, String)>,
    /// Microseconds since the epoch.
    start_time: u64,
    /// Microseconds.
    duration: u64,
    tags: Vec<Tag>,
    /// The logs (span events): timestamp and fields.
    logs: Vec<(u64, Vec<Tag>)>,
    /// The process (the resource): `service.name` and the other attributes.
    service: String,
    process: Vec<Tag>,
    /// What Jaeger found wrong with the span, as JSON text (`null`).
    warnings: String,
}

impl Shown {
    /// The type and value of the tag `key`.
    fn tag(&self, key: &str) -> Option<(&str, &str)> {
        self.tags
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(_, t, v)| (t.as_str(), v.as_str()))
    }
}

/// The spans of a trace (`jaeger_trace_json`) by span id.
fn shown(trace: &Value) -> BTreeMap<String, Shown> {
    let trace_id = trace["traceID"].as_str().unwrap();
    let mut spans = BTreeMap::new();
    for span in trace["spans"].as_array().unwrap() {
        let mut parent = None;
        let mut references = Vec::new();
        for r in span["references"].as_array().into_iter().flatten() {
            let (kind, trace, id) = (
                r["refType"].as_str().unwrap().to_owned(),
                r["traceID"].as_str().unwrap().to_owned(),
                r["spanID"].as_str().unwrap().to_owned(),
            );
            if kind == "CHILD_OF" && trace == trace_id && parent.is_none() {
                parent = Some(id);
            } else {
                references.push((kind, trace, id));
            }
        }
        references.sort();
        let mut logs: Vec<(u64, Vec<Tag>)> = span["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| (l["timestamp"].as_u64().unwrap(), tags(&l["fields"])))
            .collect();
        logs.sort();
        let process = &trace["processes"][span["processID"].as_str().unwrap()];
        let id = span["spanID"].as_str().unwrap().to_owned();
        let before = spans.insert(
            id.clone(),
            Shown {
                operation: span["operationName"].as_str().unwrap().to_owned(),
                parent,
                references,
                start_time: span["startTime"].as_u64().unwrap(),
                duration: span["duration"].as_u64().unwrap(),
                tags: tags(&span["tags"]),
                logs,
                service: process["serviceName"].as_str().unwrap().to_owned(),
                process: tags(&process["tags"]),
                warnings: span["warnings"].to_string(),
            },
        );
        assert!(before.is_none(), "span {id} twice in {trace}");
    }
    spans
}

/// The trace `trace_id` read back from `protobuf` (where a run exported it
/// over OTLP/protobuf) and from `json` (where its OTLP file lines were
/// posted), once each holds the spans `span_ids` (what the lines hold): the
/// same spans, shown the same. Returns them.
fn read_back_equal(
    protobuf: &Jaeger,
    json: &Jaeger,
    trace_id: &str,
    span_ids: &BTreeSet<String>,
) -> BTreeMap<String, Shown> {
    let sent = shown(&jaeger_trace_json(protobuf, trace_id, span_ids.len()));
    let posted = shown(&jaeger_trace_json(json, trace_id, span_ids.len()));
    let ids = |spans: &BTreeMap<String, Shown>| spans.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(ids(&sent), *span_ids, "trace {trace_id} over OTLP/protobuf");
    assert_eq!(
        ids(&posted),
        *span_ids,
        "trace {trace_id} posted as OTLP JSON"
    );
    for (id, span) in &sent {
        assert_eq!(
            posted.get(id),
            Some(span),
            "span {id} ({}) of trace {trace_id}: posted as OTLP JSON (left), exported over OTLP/protobuf (right)",
            span.operation
        );
    }
    posted
}

/// The trace ids of one run of the chain, from its output: the checkout's
/// (on its answer line), the order's and its confirmation job's (on their
/// log lines, `[service ] [trace id] ...`).
#[derive(Debug)]
struct ChainTraces {
    checkout: String,
    order: String,
    job: String,
}

fn chain_traces(stdout: &str) -> ChainTraces {
    let line = |what: &str, f: &dyn Fn(&str) -> bool| -> &str {
        stdout
            .lines()
            .find(|l| f(l))
            .unwrap_or_else(|| panic!("no line of {what}: {stdout}"))
    };
    let answer = line("the checkout's answer", &|l| {
        l.starts_with("GET /checkout -> in stock (trace ")
    });
    let order = line("the order", &|l| {
        l.starts_with("[frontend] [") && l.contains("received an order")
    });
    let job = line("the job", &|l| {
        l.starts_with("[backend ] [") && l.contains("sending the confirmation e-mail")
    });
    let traces = ChainTraces {
        checkout: answer[answer.len() - 33..answer.len() - 1].to_owned(),
        order: order[12..44].to_owned(),
        job: job[12..44].to_owned(),
    };
    let distinct: BTreeSet<&String> = [&traces.checkout, &traces.order, &traces.job].into();
    assert_eq!(distinct.len(), 3, "{traces:?}: {stdout}");
    traces
}

/// The one span of `service` named `operation`, with its id.
fn one<'a>(
    spans: &'a BTreeMap<String, Shown>,
    service: &str,
    operation: &str,
) -> (&'a str, &'a Shown) {
    let found: Vec<(&String, &Shown)> = spans
        .iter()
        .filter(|(_, s)| s.service == service && s.operation == operation)
        .collect();
    assert_eq!(found.len(), 1, "{service} {operation}: {spans:#?}");
    (found[0].0, found[0].1)
}

/// The resource, which Jaeger shows as every span's process: `service.name`
/// (the service: one of `services`) and the SDK's attributes.
fn check_resource(spans: &BTreeMap<String, Shown>, services: &[&str]) {
    for span in spans.values() {
        assert!(services.contains(&span.service.as_str()), "{span:#?}");
        for (key, value) in [
            ("telemetry.sdk.language", "\"rust\""),
            ("telemetry.sdk.name", "\"opentelemetry\""),
        ] {
            let found = span.process.iter().find(|(k, ..)| k == key);
            assert_eq!(
                found.map(|(_, t, v)| (t.as_str(), v.as_str())),
                Some(("string", value)),
                "{span:#?}"
            );
        }
    }
}

/// The OTLP file lines that the quickstart and the three-service chain write
/// to standard output (`OTEL_TRACES_EXPORTER=otlp,console`), posted as
/// OTLP/HTTP JSON to one Jaeger, read back exactly as the spans the same
/// runs exported over OTLP/HTTP protobuf to another: ids, parents, links,
/// times, typed tags, events (logs) and resource (process). Two Jaegers: one
/// would merge the two copies of each span (same ids) and hide a difference.
#[test]
fn otlp_file_lines_posted_to_jaeger_read_back_as_the_protobuf_export() {
    let work = work_dir("jaeger-otlp-json");
    let (protobuf, json) = std::thread::scope(|s| {
        let start = |name: &str| {
            let dir = work.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            s.spawn(move || start_jaeger(&dir))
        };
        let (a, b) = (start("protobuf"), start("json"));
        (a.join().unwrap(), b.join().unwrap())
    });

    // The quickstart: `process_batch` and three `fetch_item`, one process.
    let stdout = common::stdout_of(
        otlp_http_protobuf(&mut example("quickstart"), &protobuf, true)
            .env("OTEL_SERVICE_NAME", "quickstart-json"),
    );
    let trace_id = common::quickstart_trace_id(&stdout);
    for destination in [
        format!("http://127.0.0.1:{}/v1/traces", protobuf.otlp_http),
        "standard output".to_owned(),
    ] {
        let report = format!("4 spans exported to {destination} during this run, none lost");
        assert!(stdout.contains(&report), "{report}: {stdout}");
    }
    let lines = span_lines(&stdout);
    let read = read_lines(&lines);
    assert_eq!(read.services, ["quickstart-json".to_owned()].into());
    assert_eq!(read.traces.keys().collect::<Vec<_>>(), [&trace_id]);
    post_lines(&json, &lines);
    let spans = read_back_equal(&protobuf, &json, &trace_id, &read.traces[&trace_id]);
    assert_eq!(spans.len(), 4, "{spans:#?}");
    check_resource(&spans, &["quickstart-json"]);
    let (root_id, _) = one(&spans, "quickstart-json", "process_batch");
    let mut items: Vec<(&str, &str)> = Vec::new();
    for span in spans.values().filter(|s| s.operation == "fetch_item") {
        assert_eq!(span.parent.as_deref(), Some(root_id), "{span:#?}");
        items.extend(span.tag("item_id"));
        assert_eq!(span.tag("code.line.number").map(|t| t.0), Some("int64"));
    }
    items.sort();
    assert_eq!(items, [("int64", "1"), ("int64", "2"), ("int64", "3")]);

    // The chain: three processes, the parent relays the children's output
    // (their lines included); three traces: the checkout, the order, and the
    // confirmation job (linked to the order; an error event in it).
    let stdout = common::stdout_of(otlp_http_protobuf(
        &mut example("service_chain"),
        &protobuf,
        true,
    ));
    let traces = chain_traces(&stdout);
    let lines = span_lines(&stdout);
    let read = read_lines(&lines);
    assert_eq!(
        read.services,
        ["backend", "frontend", "worker"].map(str::to_owned).into()
    );
    assert_eq!(
        read.traces.keys().collect::<BTreeSet<_>>(),
        [&traces.checkout, &traces.order, &traces.job].into(),
        "{stdout}"
    );
    post_lines(&json, &lines);
    let services = ["frontend", "backend", "worker"];

    let checkout = read_back_equal(
        &protobuf,
        &json,
        &traces.checkout,
        &read.traces[&traces.checkout],
    );
    assert_eq!(checkout.len(), 8, "{checkout:#?}");
    check_resource(&checkout, &services);
    let (_, root) = one(&checkout, "frontend", "GET /checkout");
    assert_eq!(root.parent, None);
    for span in checkout.values().filter(|s| s.parent.is_some()) {
        let parent = span.parent.as_ref().unwrap();
        assert!(checkout.contains_key(parent), "{span:#?}");
    }
    for (service, operation) in [
        ("frontend", "GET /checkout"),
        ("backend", "GET /price"),
        ("worker", "GET /stock"),
    ] {
        let (_, server) = one(&checkout, service, operation);
        let status = server.tag("http.response.status_code");
        assert_eq!(status, Some(("int64", "200")), "{server:#?}");
        let kind = server.tag("span.kind");
        assert_eq!(kind, Some(("string", "\"server\"")), "{server:#?}");
    }

    let order = read_back_equal(&protobuf, &json, &traces.order, &read.traces[&traces.order]);
    assert_eq!(order.len(), 3, "{order:#?}");
    check_resource(&order, &services);

    let job = read_back_equal(&protobuf, &json, &traces.job, &read.traces[&traces.job]);
    assert_eq!(job.len(), 3, "{job:#?}");
    check_resource(&job, &["backend"]);
    let (job_id, root) = one(&job, "backend", "send_confirmation");
    assert_eq!(root.parent, None, "a trace of its own: {root:#?}");
    assert_eq!(root.references.len(), 1, "{root:#?}");
    let (kind, linked_trace, linked_span) = &root.references[0];
    assert_eq!(
        (kind.as_str(), linked_trace),
        ("FOLLOWS_FROM", &traces.order)
    );
    assert!(order.contains_key(linked_span), "{root:#?}\n{order:#?}");
    let attempts: Vec<&Shown> = job
        .values()
        .filter(|s| s.operation == "send_mail")
        .collect();
    assert_eq!(attempts.len(), 2, "{job:#?}");
    for span in &attempts {
        assert_eq!(span.parent.as_deref(), Some(job_id), "{span:#?}");
    }
    let (failed, sent): (Vec<&Shown>, Vec<&Shown>) = attempts
        .iter()
        .partition(|s| s.tag("attempt") == Some(("int64", "1")));
    let (failed, sent) = (failed[0], sent[0]);
    assert_eq!(sent.tag("attempt"), Some(("int64", "2")));
    assert_eq!(failed.tag("error"), Some(("bool", "true")), "{failed:#?}");
    let status = failed.tag("otel.status_code");
    assert_eq!(status, Some(("string", "\"ERROR\"")), "{failed:#?}");
    assert_eq!(failed.logs.len(), 1, "{failed:#?}");
    let fields = &failed.logs[0].1;
    for (key, kind, value) in [
        ("event", "string", "\"the mail server refused the e-mail\""),
        ("level", "string", "\"ERROR\""),
        ("reason", "string", "\"421 try again later\""),
    ] {
        let field = (key.to_owned(), kind.to_owned(), value.to_owned());
        assert!(fields.contains(&field), "{field:?}: {failed:#?}");
    }
    assert!(
        fields
            .iter()
            .any(|(k, t, _)| k == "code.line.number" && t == "int64"),
        "{failed:#?}"
    );
    assert_eq!((sent.tag("error"), sent.logs.len()), (None, 0), "{sent:#?}");

    std::fs::remove_dir_all(&work).ok();
}

/// What two runs of one program share in a trace (ids, times and ports
/// differ): per span, its service and operation with its ancestors' up to
/// the root, its tags' keys and types, its logs' fields' keys and types,
/// its links' kinds and its process.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    path: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    logs: Vec<Vec<(String, String)>>,
    links: Vec<String>,
    process: Vec<Tag>,
}

fn shape(spans: &BTreeMap<String, Shown>) -> Vec<Shape> {
    let keys = |tags: &[Tag]| -> Vec<(String, String)> {
        tags.iter()
            .map(|(k, t, _)| (k.clone(), t.clone()))
            .collect()
    };
    let mut shapes: Vec<Shape> = spans
        .values()
        .map(|span| {
            let mut path = vec![(span.service.clone(), span.operation.clone())];
            let mut at = span;
            while let Some(parent) = at.parent.as_ref().and_then(|p| spans.get(p)) {
                assert!(path.len() <= spans.len(), "a cycle: {spans:#?}");
                path.push((parent.service.clone(), parent.operation.clone()));
                at = parent;
            }
            Shape {
                path,
                tags: keys(&span.tags),
                logs: span.logs.iter().map(|(_, fields)| keys(fields)).collect(),
                links: span.references.iter().map(|r| r.0.clone()).collect(),
                process: span.process.clone(),
            }
        })
        .collect();
    shapes.sort();
    shapes
}

/// The spans files the chain writes with nothing configured but
/// `XDG_STATE_HOME` (`<it>/distributed-tracing/<service>.spans.jsonl`),
/// posted to Jaeger as OTLP/HTTP JSON: each trace reads back with the shape
/// of the same program's run exported over OTLP/HTTP protobuf (services,
/// operations, parents, tag keys and types, events, links, resource; ids,
/// times and ports are each run's own).
#[test]
fn the_chains_spans_files_posted_to_jaeger_read_back_as_its_protobuf_export() {
    let work = work_dir("jaeger-spans-files");
    let jaeger = start_jaeger(&work);
    let stdout = common::stdout_of(otlp_http_protobuf(
        &mut example("service_chain"),
        &jaeger,
        false,
    ));
    let exported = chain_traces(&stdout);

    let state = work.join("state");
    let stdout = common::stdout_of(example("service_chain").env("XDG_STATE_HOME", &state));
    assert!(
        span_lines(&stdout).is_empty(),
        "spans go to the files only: {stdout}"
    );
    let from_files = chain_traces(&stdout);
    let dir = state.join("distributed-tracing");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["backend", "frontend", "worker"]
            .map(|s| [format!("{s}.metrics.jsonl"), format!("{s}.spans.jsonl")])
            .concat(),
        "a spans file and a metrics file per service"
    );
    names.retain(|n| n.ends_with(".spans.jsonl"));
    let mut lines: Vec<String> = Vec::new();
    for name in &names {
        let path = dir.join(name);
        // The public reader reads the file as it is: each line a batch of
        // the file's service.
        let service = name.trim_end_matches(".spans.jsonl");
        let mut batches = 0;
        for batch in otlp_file::read(&path).unwrap() {
            let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = batch.resource.get(&Key::new("service.name"));
            assert_eq!(name.map(|n| n.to_string()).as_deref(), Some(service));
            batches += 1;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(batches, text.lines().count(), "{}", path.display());
        lines.extend(text.lines().map(str::to_owned));
    }
    let read = read_lines(&lines);
    assert_eq!(
        read.traces.keys().collect::<BTreeSet<_>>(),
        [&from_files.checkout, &from_files.order, &from_files.job].into()
    );
    post_lines(&jaeger, &lines);

    for (what, file_trace, exported_trace, spans) in [
        ("checkout", &from_files.checkout, &exported.checkout, 8),
        ("order", &from_files.order, &exported.order, 3),
        ("job", &from_files.job, &exported.job, 3),
    ] {
        assert_eq!(read.traces[file_trace].len(), spans, "{what}");
        let posted = shape(&shown(&jaeger_trace_json(&jaeger, file_trace, spans)));
        let sent = shape(&shown(&jaeger_trace_json(&jaeger, exported_trace, spans)));
        assert_eq!(
            posted, sent,
            "the {what}: from the spans files (left), exported over OTLP/protobuf (right)"
        );
    }
    std::fs::remove_dir_all(&work).ok();
}

// Request metrics through the collector: the two chains export their
// duration histograms (OTLP, one chain over HTTP, the other over gRPC) to the
// collector, whose `prometheus` exporter serves them; the scrape is read
// strictly (`common::openmetrics`), each series counted against the requests
// the chains' log lines show, and each exemplar's trace and span read back
// from Jaeger.

/// The four histograms as the collector's `prometheus` exporter names them:
/// dots to underscores, the unit (`s`) as the suffix `_seconds`.
const HTTP_SERVER: &str = "http_server_request_duration_seconds";
const HTTP_CLIENT: &str = "http_client_request_duration_seconds";
const RPC_SERVER: &str = "rpc_server_call_duration_seconds";
const RPC_CLIENT: &str = "rpc_client_call_duration_seconds";

/// The bucket boundaries the semantic conventions (v1.44.0) advise for all
/// four (`ExplicitBucketBoundaries`), then `+Inf`.
#[rustfmt::skip]
const SEMCONV_BOUNDS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, f64::INFINITY,
];

/// The labels that tell the series of a family apart in this test (the
/// others, `url_scheme`, `server_port`, ..., are checked against the
/// exemplar's span): the service (`job`) and the attributes that differ
/// between the chains' requests.
fn key_labels(family: &str) -> &'static [&'static str] {
    match family {
        HTTP_SERVER => &[
            "job",
            "http_request_method",
            "http_route",
            "http_response_status_code",
        ],
        HTTP_CLIENT => &[
            "job",
            "http_request_method",
            "http_response_status_code",
            "server_address",
        ],
        RPC_SERVER => &[
            "job",
            "rpc_system_name",
            "rpc_method",
            "rpc_response_status_code",
        ],
        RPC_CLIENT => &[
            "job",
            "rpc_system_name",
            "rpc_method",
            "rpc_response_status_code",
            "server_address",
        ],
        other => panic!("not one of the four histograms: {other}"),
    }
}

/// A series as this test names it: its family and its key labels' values.
type SeriesKey = (&'static str, Vec<(String, String)>);

fn key(family: &'static str, values: &[&str]) -> SeriesKey {
    let names = key_labels(family);
    assert_eq!(names.len(), values.len(), "{family}: {values:?}");
    let labels = names
        .iter()
        .zip(values)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    (family, labels)
}

/// A log line of a chain, `[role] [trace id] [level] message`: the role
/// (trimmed), the trace id (`-` outside a trace) and the message.
fn log_line(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (role, rest) = rest.split_once("] [")?;
    let (trace, rest) = rest.split_once("] [")?;
    let (_, message) = rest.split_once("] ")?;
    Some((role.trim(), trace, message))
}

/// The requests of one run of `service_chain` that the metrics must count,
/// with the trace of each, from its log lines and what the example does
/// (`examples/service_chain.rs`): its `work` handler serves `/checkout` on
/// the frontend, `/price` on the backend, `/stock` on the worker, logs
/// `<role> handling the request` and calls the next service (frontend ->
/// backend -> worker) with GET; its `order` handler (`POST /orders`) logs
/// `<role> received an order`, and the frontend's forwards the order to the
/// backend with POST. Every answer is a 200.
fn service_chain_requests(stdout: &str) -> BTreeMap<SeriesKey, Vec<String>> {
    let mut requests: BTreeMap<SeriesKey, Vec<String>> = BTreeMap::new();
    let mut add = |key: SeriesKey, trace: &str| {
        requests.entry(key).or_default().push(trace.to_owned());
    };
    for (role, trace, message) in stdout.lines().filter_map(log_line) {
        if message.starts_with(&format!("{role} handling the request")) {
            let route = match role {
                "frontend" => "/checkout",
                "backend" => "/price",
                "worker" => "/stock",
                other => panic!("{other}: {stdout}"),
            };
            add(key(HTTP_SERVER, &[role, "GET", route, "200"]), trace);
            if role != "worker" {
                add(key(HTTP_CLIENT, &[role, "GET", "200", "127.0.0.1"]), trace);
            }
        } else if message.starts_with(&format!("{role} received an order")) {
            add(key(HTTP_SERVER, &[role, "POST", "/orders", "200"]), trace);
            if role == "frontend" {
                add(key(HTTP_CLIENT, &[role, "POST", "200", "127.0.0.1"]), trace);
            }
        }
    }
    requests
}

/// The same for one run of `grpc_chain` (`examples/grpc_chain.rs`): the
/// frontend's `GET /check/{item}` logs `frontend asking the inventory` and
/// calls `demo.Inventory/Check`; the inventory logs `checking the stock`,
/// and `stock checked` once it has the price from `demo.Pricing/Quote`; the
/// pricing service logs `quoting`. Every answer is a 200 or an `OK`.
fn grpc_chain_requests(stdout: &str) -> BTreeMap<SeriesKey, Vec<String>> {
    const CHECK: &str = "demo.Inventory/Check";
    const QUOTE: &str = "demo.Pricing/Quote";
    let mut requests: BTreeMap<SeriesKey, Vec<String>> = BTreeMap::new();
    let mut add = |key: SeriesKey, trace: &str| {
        requests.entry(key).or_default().push(trace.to_owned());
    };
    for (role, trace, message) in stdout.lines().filter_map(log_line) {
        match (role, message) {
            ("frontend", m) if m.starts_with("frontend asking the inventory") => {
                add(
                    key(HTTP_SERVER, &[role, "GET", "/check/{item}", "200"]),
                    trace,
                );
                let client = [role, "grpc", CHECK, "OK", "127.0.0.1"];
                add(key(RPC_CLIENT, &client), trace);
            }
            ("inventory", m) if m.starts_with("checking the stock") => {
                add(key(RPC_SERVER, &[role, "grpc", CHECK, "OK"]), trace);
            }
            ("inventory", m) if m.starts_with("stock checked") => {
                let client = [role, "grpc", QUOTE, "OK", "127.0.0.1"];
                add(key(RPC_CLIENT, &client), trace);
            }
            ("pricing", m) if m.starts_with("quoting") => {
                add(key(RPC_SERVER, &[role, "grpc", QUOTE, "OK"]), trace);
            }
            _ => {}
        }
    }
    requests
}

/// Runs the chain `example` exporting to the collector over `protocol` at
/// 127.0.0.1:`port`, a collection every 10 ms (a chain runs for 60 to 90 ms
/// here: a few collections, then the last one when each guard drops);
/// returns its output.
fn run_chain_metered(name: &str, protocol: &str, port: u16) -> String {
    common::stdout_of(
        example(name)
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_METRIC_EXPORT_INTERVAL", "10")
            .env("OTEL_LOGS_EXPORTER", "none"),
    )
}

/// What each process of a chain reports at exit about its metric export:
/// `[role] [-] [INFO ] <n> metric(s) exported to <endpoint> during this run,
/// none lost`, one line each of `roles`; the number of metrics (one a
/// histogram a collection) of each.
fn metrics_reported(stdout: &str, roles: &[&str], endpoint: &str) -> BTreeMap<String, usize> {
    let mut reported = BTreeMap::new();
    for (role, trace, message) in stdout.lines().filter_map(log_line) {
        let Some((count, rest)) = message.split_once(' ') else {
            continue;
        };
        let Some(rest) = rest
            .strip_prefix("metrics exported to ")
            .or_else(|| rest.strip_prefix("metric exported to "))
        else {
            continue;
        };
        assert_eq!(trace, "-", "{stdout}");
        assert_eq!(
            rest,
            format!("{endpoint} during this run, none lost"),
            "{role}: {stdout}"
        );
        let before = reported.insert(role.to_owned(), count.parse().unwrap());
        assert!(before.is_none(), "{role} reported twice: {stdout}");
    }
    let roles_reported: Vec<&String> = reported.keys().collect();
    let mut roles = roles.to_vec();
    roles.sort();
    assert_eq!(roles_reported, roles, "{stdout}");
    reported
}

/// One scrape of the collector's Prometheus endpoint, in OpenMetrics (the
/// only format with exemplars): its text, and what it reads as.
fn scrape(collector: &Collector) -> (String, Result<common::openmetrics::Scrape, String>) {
    let (status, body) = http_get_accept(
        collector.prometheus,
        "/metrics",
        "application/openmetrics-text; version=1.0.0",
    )
    .unwrap_or_default();
    let read = match status {
        200 => common::openmetrics::parse(&body),
        other => Err(format!("status {other}")),
    };
    (body, read)
}

/// Counts by series, one a line: `family{label="value",...} count`.
fn show_counts(counts: &BTreeMap<SeriesKey, usize>) -> String {
    counts
        .iter()
        .map(|((family, labels), count)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("  {family}{{{}}} {count}\n", labels.join(","))
        })
        .collect()
}

/// The series of the four families in `scrape`, by [`SeriesKey`]; panics if
/// two series share a key (labels this test does not tell apart).
fn series_by_key(
    scrape: &common::openmetrics::Scrape,
) -> BTreeMap<SeriesKey, (common::openmetrics::Labels, common::openmetrics::Histogram)> {
    let mut found = BTreeMap::new();
    for family in [HTTP_SERVER, HTTP_CLIENT, RPC_SERVER, RPC_CLIENT] {
        for (labels, histogram) in scrape.histograms(family) {
            let values: Vec<&str> = key_labels(family)
                .iter()
                .map(|name| labels.get(*name).map_or("(none)", String::as_str))
                .collect();
            let before = found.insert(key(family, &values), (labels.clone(), histogram));
            assert!(before.is_none(), "{family}: two series {values:?}");
        }
    }
    found
}

/// The span `span_id` of the trace `trace_id` in Jaeger, once it is there;
/// panics with `context` and the trace after 30 s.
fn jaeger_span(jaeger: &Jaeger, trace_id: &str, span_id: &str, context: &str) -> Shown {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) =
            http_get(jaeger.query, &format!("/api/traces/{trace_id}")).unwrap_or_default();
        let value: Value = serde_json::from_str(&body).unwrap_or_default();
        let mut spans = match (status, value["data"].get(0)) {
            (200, Some(trace)) => shown(trace),
            _ => BTreeMap::new(),
        };
        if let Some(span) = spans.remove(span_id) {
            return span;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "span {span_id} of an exemplar is not in trace {trace_id} in Jaeger: {spans:#?}\n{context}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of a Jaeger tag as a Prometheus label holds it (a string
/// without its quotes, a number as written).
fn label_value(tag: &Tag) -> String {
    match tag.1.as_str() {
        "string" => serde_json::from_str::<String>(&tag.2).unwrap(),
        _ => tag.2.clone(),
    }
}

/// Both chains exporting their request metrics over OTLP to the collector
/// running `otel-collector.yaml` (`service_chain` over HTTP, `grpc_chain`
/// over gRPC, a collection every 200 ms): the collector's `prometheus`
/// exporter serves the four semantic-convention histograms, in seconds with
/// the conventions' buckets, one series per service and request kind, whose
/// count is the number of such requests the chains' log lines show; every
/// series has exemplars, and each exemplar names a trace of those log lines
/// that Jaeger has, and in it the SERVER or CLIENT span of that request: the
/// span of the series' service, kind and name, whose attributes are the
/// series' labels and whose duration is the exemplar's value.
#[cfg(feature = "grpc")]
#[test]
fn request_metrics_through_the_collector_count_every_request_and_point_at_its_span_in_jaeger() {
    let started = std::time::Instant::now();
    let work = work_dir("metrics");
    let jaeger = start_jaeger(&work);
    let [grpc, http, _, _] = free_ports();
    let collector = start_collector(&work, &jaeger, grpc, http);
    let (http_chain, grpc_chain) = std::thread::scope(|s| {
        let http_chain = s.spawn(|| run_chain_metered("service_chain", "http/protobuf", http));
        let grpc_chain = s.spawn(|| run_chain_metered("grpc_chain", "grpc", grpc));
        (http_chain.join().unwrap(), grpc_chain.join().unwrap())
    });
    let mut expected = service_chain_requests(&http_chain);
    let from_grpc_chain = grpc_chain_requests(&grpc_chain);
    // The two chains' series are apart (both have a `frontend`, on other routes).
    assert!(
        expected.keys().all(|k| !from_grpc_chain.contains_key(k)),
        "{expected:?}\n{from_grpc_chain:?}"
    );
    expected.extend(from_grpc_chain);
    // The lines show what the examples do (read from their code): the HTTP
    // requests served (service_chain 5, grpc_chain 1) and sent (3), and the
    // gRPC calls (2 each way); else the lines were not read right.
    let total = |family: &str| -> usize {
        expected
            .iter()
            .filter(|((f, _), _)| *f == family)
            .map(|(_, traces)| traces.len())
            .sum()
    };
    assert_eq!(
        [HTTP_SERVER, HTTP_CLIENT, RPC_SERVER, RPC_CLIENT].map(total),
        [6, 3, 2, 2],
        "{http_chain}\n{grpc_chain}"
    );
    let traces_logged: BTreeSet<&String> = expected.values().flatten().collect();
    // Every process exported its metrics and lost none; and not only at
    // exit: more histograms went than the processes have (10), so periodic
    // collections were sent too, each cumulative.
    let mut exported = metrics_reported(
        &http_chain,
        &["frontend", "backend", "worker"],
        &format!("http://127.0.0.1:{http}/v1/metrics"),
    )
    .into_values()
    .sum::<usize>();
    exported += metrics_reported(
        &grpc_chain,
        &["frontend", "inventory", "pricing"],
        &format!("http://127.0.0.1:{grpc}"),
    )
    .into_values()
    .sum::<usize>();
    assert!(exported > 10, "{exported}: {http_chain}\n{grpc_chain}");

    // The collector's batch (5 s) and the exporters' last collection: poll
    // until the counts are there.
    let counts = |scrape: &common::openmetrics::Scrape| -> BTreeMap<SeriesKey, usize> {
        series_by_key(scrape)
            .into_iter()
            .map(|(k, (_, h))| (k, h.count as usize))
            .collect()
    };
    let want: BTreeMap<SeriesKey, usize> =
        expected.iter().map(|(k, t)| (k.clone(), t.len())).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (text, scrape) = loop {
        let (text, read) = scrape(&collector);
        if let Ok(scrape) = &read {
            if counts(scrape) == want {
                break (text, read.unwrap());
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scrape never counted the requests:\nexpected\n{}\nfound\n{}\nthe last scrape:\n{text}",
            show_counts(&want),
            match &read {
                Ok(scrape) => show_counts(&counts(scrape)),
                Err(e) => format!("(not read: {e})"),
            }
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let scraped_at = started.elapsed();

    let mut exemplars = 0;
    for (key, (labels, histogram)) in series_by_key(&scrape) {
        let (family, _) = &key;
        let context = format!("{family} {labels:?}\nthe scrape:\n{text}");
        assert_eq!(
            labels.get("otel_scope_name").map(String::as_str),
            Some("distributed-tracing"),
            "{context}"
        );
        assert_eq!(
            labels.get("otel_scope_version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION")),
            "{context}"
        );
        let bounds: Vec<f64> = histogram.buckets.iter().map(|b| b.0).collect();
        assert_eq!(bounds, SEMCONV_BOUNDS, "{context}");
        assert!(histogram.sum > 0.0, "{context}");
        // Every request is sampled (parentbased_always_on), so every series
        // has exemplars: one a bucket at most, in a bucket that counted.
        assert!(!histogram.exemplars.is_empty(), "no exemplar: {context}");
        let mut below = 0;
        for (le, cumulative) in &histogram.buckets {
            let in_bucket: Vec<_> = histogram.exemplars.iter().filter(|e| e.le == *le).collect();
            assert!(in_bucket.len() <= 1, "{context}");
            assert!(
                in_bucket.is_empty() || *cumulative > below,
                "an exemplar in an empty bucket: {context}"
            );
            below = *cumulative;
        }
        if histogram.count == 1 {
            assert_eq!(histogram.exemplars[0].value, histogram.sum, "{context}");
        }

        let (kind, operation) = match *family {
            HTTP_SERVER => (
                "server",
                format!("{} {}", labels["http_request_method"], labels["http_route"]),
            ),
            HTTP_CLIENT => ("client", labels["http_request_method"].clone()),
            RPC_SERVER => ("server", labels["rpc_method"].clone()),
            _ => ("client", labels["rpc_method"].clone()),
        };
        for exemplar in &histogram.exemplars {
            exemplars += 1;
            let trace = exemplar.trace_id().unwrap_or_else(|| panic!("{context}"));
            let span_id = exemplar.span_id().unwrap_or_else(|| panic!("{context}"));
            assert!(
                expected[&key].iter().any(|t| t == trace),
                "exemplar trace {trace} is not a trace of these requests ({:?}); logged: {traces_logged:?}: {context}",
                expected[&key]
            );
            let span = jaeger_span(&jaeger, trace, span_id, &context);
            assert_eq!(span.service, labels["job"], "{span:#?}\n{context}");
            assert_eq!(
                span.tag("span.kind"),
                Some(("string", format!("\"{kind}\"").as_str())),
                "{span:#?}\n{context}"
            );
            assert_eq!(span.operation, operation, "{span:#?}\n{context}");
            // The series' attributes are the span's (as Prometheus spells
            // their names).
            for (name, value) in &labels {
                if name == "job" || name == "instance" || name.starts_with("otel_scope_") {
                    continue;
                }
                let tag = span
                    .tags
                    .iter()
                    .find(|t| t.0.replace('.', "_") == *name)
                    .unwrap_or_else(|| {
                        panic!("no span tag for label {name}: {span:#?}\n{context}")
                    });
                assert_eq!(label_value(tag), *value, "{name}: {span:#?}\n{context}");
            }
            // One clock read at each end serves both: the exemplar's value
            // (seconds) is the span's duration (whole microseconds in Jaeger).
            let micros = exemplar.value * 1e6;
            assert!(
                (micros - span.duration as f64).abs() < 1.0 + 1e-6,
                "exemplar value {} s, span duration {} µs: {span:#?}\n{context}",
                exemplar.value,
                span.duration
            );
        }
    }
    assert!(exemplars >= want.len(), "{text}");
    eprintln!(
        "request metrics: {exported} histograms exported by the six processes; the scrape counted every request {:.1} s after the start, {} series, {exemplars} exemplars checked in Jaeger, {:.1} s in all",
        scraped_at.as_secs_f64(),
        want.len(),
        started.elapsed().as_secs_f64()
    );
    collector.process.terminate(Duration::from_secs(10));
    std::fs::remove_dir_all(&work).ok();
}
