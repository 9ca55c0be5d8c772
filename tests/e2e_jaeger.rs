//! End to end into Jaeger, the backend this crate exists to feed, directly and
//! through an OpenTelemetry Collector running the repository's
//! `otel-collector.yaml` as shipped (its addresses overridden by environment).
//! Both are built from their Go modules by `scripts/e2e-tools.sh` (run here
//! first; it builds what is missing). Every trace is read back from Jaeger's
//! query API (`/api/traces/<trace id>`), and compared with the ids on the log
//! lines of the programs that sent it. Everything listens on 127.0.0.1 only.
#![cfg(all(feature = "http-server", feature = "reqwest"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::e2e::{free_ports, http_get, spawn_logged, wait_until, Process};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;
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

/// The collector running `otel-collector.yaml`, forwarding to `jaeger`, its
/// OTLP receivers on `grpc` and `http`.
///
/// A collector that exits before it listens (a port another process of the
/// tests took between its choice and the collector's bind: its metrics port
/// is chosen here) is started once more; a collector that does not listen
/// says why, with the end of its log.
fn start_collector(work: &Path, jaeger: &Jaeger, grpc: u16, http: u16) -> Process {
    let log = work.join(format!("otelcol-{grpc}.log"));
    for attempt in 1..=2 {
        let mut process = spawn_logged(
            collector_command(jaeger, grpc, http)
                .arg("--config")
                .arg(repo().join("otel-collector.yaml")),
            &log,
            "otelcol",
        );
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", grpc)).is_ok() {
                return process;
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
/// its receivers, Jaeger, and a free port for its own metrics (8888 by
/// default, which two collectors cannot share).
fn collector_command(jaeger: &Jaeger, grpc: u16, http: u16) -> Command {
    let [metrics, _, _, _] = free_ports();
    let mut command = Command::new(common::e2e_tool("otelcol"));
    command
        .env("OTELCOL_OTLP_GRPC", format!("127.0.0.1:{grpc}"))
        .env("OTELCOL_OTLP_HTTP", format!("127.0.0.1:{http}"))
        .env("OTELCOL_METRICS_PORT", metrics.to_string())
        .env(
            "JAEGER_OTLP_ENDPOINT",
            format!("127.0.0.1:{}", jaeger.otlp_grpc),
        );
    command
}

/// One span as Jaeger's query API returns it.
#[derive(Debug)]
struct JaegerSpan {
    name: String,
    span_id: String,
    parent: Option<String>,
    service: String,
}

/// The trace `trace_id` from Jaeger once it has at least `spans` spans.
fn jaeger_trace(jaeger: &Jaeger, trace_id: &str, spans: usize) -> Vec<JaegerSpan> {
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
    collector.terminate(Duration::from_secs(10));
    std::fs::remove_dir_all(&work).ok();
}

#[test]
fn the_shipped_collector_configuration_validates_and_forwards_to_jaeger() {
    let work = work_dir("otelcol");
    let jaeger = start_jaeger(&work);
    let [grpc, http, _, _] = free_ports();
    let validate = collector_command(&jaeger, grpc, http)
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
            collector.take().unwrap().terminate(Duration::from_secs(15));
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
