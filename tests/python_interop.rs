//! Interoperability with a peer we did not write: the OpenTelemetry Python SDK
//! (from PyPI, `scripts/py_service.py`). In the middle of the chain
//! (Rust -> Python -> Rust) the trace stays one, parent links included; and a
//! Python client calling a Rust service sees its trace continued. All spans,
//! Python's too, are read back from a real OTLP receiver.
#![cfg(all(feature = "http-server", feature = "reqwest"))]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::otlp::{Protocol, Received, Receiver, Store};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

struct Service(Child, String);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a service that prints `LISTENING <url>` first; relays nothing else.
fn start(mut cmd: Command) -> Service {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start a service");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the service to start").unwrap();
        if let Some(url) = line.strip_prefix("LISTENING ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Service(child, url)
}

fn rust_service(role: &str, next: &str, endpoint: &str) -> Service {
    let mut cmd = Command::new(common::example_binary("service_chain"));
    cmd.args(["serve", role, next])
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    start(cmd)
}

fn python(venv: &std::path::Path, args: &[&str], endpoint: &str) -> Command {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/py_service.py"))
        .args(args)
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
        .env("OTEL_SERVICE_NAME", "python-middle");
    cmd
}

fn get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

fn kind(s: &Received) -> SpanKind {
    SpanKind::try_from(s.span.kind).unwrap_or(SpanKind::Unspecified)
}

#[test]
fn a_python_service_in_the_middle_keeps_the_trace() {
    let venv = common::e2e_venv();
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let endpoint = receiver.endpoint(Protocol::Http);
    let worker = rust_service("worker", "-", &endpoint);
    let backend = rust_service("backend", &worker.1, &endpoint);
    let middle = start(python(&venv, &["serve", &backend.1], &endpoint));
    let frontend = rust_service("frontend", &middle.1, &endpoint);

    let answer = get(&format!("{}/checkout", frontend.1));
    let trace_id = answer
        .rsplit("(trace ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    for service in [&frontend, &backend, &worker] {
        get(&format!("{}/shutdown", service.1));
    }
    get(&format!("{}/shutdown", middle.1));
    let store = receiver.store.clone();
    store.wait_for(std::time::Duration::from_secs(20), |spans| {
        spans
            .iter()
            .filter(|s| s.trace_id() == trace_id && kind(s) == SpanKind::Server)
            .count()
            >= 4
    });
    drop((frontend, backend, worker, middle));
    let spans = store.of_trace(&trace_id);
    let server = |service: &str| {
        spans
            .iter()
            .find(|s| s.service == service && kind(s) == SpanKind::Server)
            .unwrap_or_else(|| panic!("{service}'s server span in {spans:#?}"))
    };
    let client = |service: &str| {
        spans
            .iter()
            .find(|s| s.service == service && kind(s) == SpanKind::Client)
            .unwrap_or_else(|| panic!("{service}'s client span in {spans:#?}"))
    };
    let python = server("python-middle");
    assert_eq!(
        python.parent_span_id(),
        client("frontend").span_id(),
        "Python continued the frontend's call"
    );
    assert_eq!(
        server("backend").parent_span_id(),
        python.span_id(),
        "the backend continued Python's span"
    );
    assert_eq!(
        server("worker").parent_span_id(),
        client("backend").span_id()
    );
    assert!(spans.iter().all(|s| s.trace_id() == trace_id));
}

#[test]
fn a_python_client_sees_its_trace_continued() {
    let venv = common::e2e_venv();
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let endpoint = receiver.endpoint(Protocol::Http);
    let worker = rust_service("worker", "-", &endpoint);
    let out = python(
        &venv,
        &["client", &format!("{}/stock", worker.1)],
        &endpoint,
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["status"], 200);
    let trace_id = seen["trace_id"].as_str().unwrap().to_string();
    get(&format!("{}/shutdown", worker.1));
    let store = receiver.store.clone();
    store.wait_for(std::time::Duration::from_secs(20), |spans| {
        spans
            .iter()
            .any(|s| s.trace_id() == trace_id && s.service == "worker")
    });
    drop(worker);
    let spans = store.of_trace(&trace_id);
    let server = spans
        .iter()
        .find(|s| s.service == "worker" && kind(s) == SpanKind::Server)
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(
        server.parent_span_id(),
        seen["span_id"].as_str().unwrap(),
        "a child of the Python client's span"
    );
}
