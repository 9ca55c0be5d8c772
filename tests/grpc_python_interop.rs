//! Interoperability of the gRPC layers with a peer we did not write: gRPC for
//! Python instrumented by the OpenTelemetry gRPC instrumentation (from PyPI,
//! `scripts/py_grpc.py`), W3C trace context in the call's metadata. A Python
//! client calling the Rust server (`grpc_chain serve-backend`) sees its trace
//! continued, and the standard health check answers it; a Python server called
//! by the Rust client continues the Rust call. All spans, Python's too, are
//! read back from a real OTLP receiver.
//!
//! The Python instrumentation (0.66b2) names its spans after the path
//! (`/demo.Inventory/Check`) and records the older conventions (`rpc.system`,
//! `rpc.service`, `rpc.method` = `Check`, `rpc.grpc.status_code` = 0), so its
//! spans are found here by service and kind, and by `rpc.service`/`rpc.method`.
#![cfg(feature = "grpc")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::e2e::Process;
use common::otlp::{Protocol, Received, Receiver, Store};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// A server started by the test: killed when dropped; its output (standard
/// output and error) kept for the failure messages.
struct Peer {
    process: Process,
    url: String,
    output: Arc<Mutex<String>>,
    readers: [std::thread::JoinHandle<()>; 2],
}

impl Peer {
    /// Starts `cmd`, which prints `LISTENING <url>` once it accepts calls.
    fn start(name: &str, mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let errors = output.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            errors.lock().unwrap().push_str(&text);
        });
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let relayed = output.clone();
        let stdout_reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("LISTENING ") {
                    let _ = url_tx.send(url.to_string());
                }
                relayed.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let process = Process(child);
        let Ok(url) = url_rx.recv_timeout(Duration::from_secs(60)) else {
            drop(process);
            let _ = (stdout_reader.join(), stderr_reader.join());
            panic!("{name} did not print LISTENING: {}", output.lock().unwrap());
        };
        Peer {
            process,
            url,
            output,
            readers: [stdout_reader, stderr_reader],
        }
    }

    /// `host:port` of its URL, as a gRPC target.
    fn target(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Stops it with SIGTERM (it flushes its spans) and returns its output.
    fn stop(self) -> String {
        self.process.terminate(Duration::from_secs(10));
        // Its pipes close when it exits (or is killed): read to their end.
        for reader in self.readers {
            let _ = reader.join();
        }
        let output = self.output.lock().unwrap().clone();
        output
    }
}

/// The variables that make a process export its spans, batched with a short
/// delay, to the receiver over OTLP/HTTP.
fn export_to(cmd: &mut Command, receiver: &Receiver) {
    cmd.env(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://{}", receiver.addr),
    )
    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    .env("OTEL_BSP_SCHEDULE_DELAY", "50");
}

/// `grpc_chain serve-backend 127.0.0.1:0 [pricing URL]` (service `inventory`).
fn rust_backend(receiver: &Receiver, pricing: Option<&str>) -> Peer {
    let mut cmd = Command::new(common::example_binary("grpc_chain"));
    cmd.args(["serve-backend", "127.0.0.1:0"])
        .args(pricing)
        .env("OTEL_LOGS_EXPORTER", "none");
    export_to(&mut cmd, receiver);
    Peer::start("grpc_chain serve-backend", cmd)
}

/// `scripts/py_grpc.py <args>` under the service name `service`.
fn python(venv: &std::path::Path, args: &[&str], service: &str, receiver: &Receiver) -> Command {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/py_grpc.py"))
        .args(args)
        .env("OTEL_SERVICE_NAME", service);
    export_to(&mut cmd, receiver);
    cmd
}

/// What `py_grpc.py client` printed.
fn python_client(
    venv: &std::path::Path,
    target: &str,
    item: &str,
    receiver: &Receiver,
) -> serde_json::Value {
    let stdout = common::stdout_of(&mut python(
        venv,
        &["client", target, item],
        "python-client",
        receiver,
    ));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn kind(s: &Received) -> SpanKind {
    SpanKind::try_from(s.span.kind).unwrap_or(SpanKind::Unspecified)
}

/// The one span of `service` of `kind` that `matches`; panics with `context`.
fn one<'a>(
    spans: &'a [Received],
    service: &str,
    want: SpanKind,
    matches: impl Fn(&Received) -> bool,
    context: &dyn Fn() -> String,
) -> &'a Received {
    let found: Vec<&Received> = spans
        .iter()
        .filter(|s| s.service == service && kind(s) == want && matches(s))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {want:?} span of {service}: {}",
        context()
    );
    found[0]
}

/// A span of the Python instrumentation for `service/method` (older names).
fn python_rpc(service: &'static str, method: &'static str) -> impl Fn(&Received) -> bool {
    move |s| {
        s.attribute("rpc.service").as_deref() == Some(service)
            && s.attribute("rpc.method").as_deref() == Some(method)
    }
}

fn named(name: &'static str) -> impl Fn(&Received) -> bool {
    move |s| s.span.name == name
}

#[test]
fn a_rust_server_continues_the_trace_of_an_instrumented_python_client() {
    let venv = common::e2e_venv();
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let backend = rust_backend(&receiver, None);

    let seen = python_client(&venv, backend.target(), "widget", &receiver);
    let backend_output = backend.stop();
    let trace_id = seen["trace_id"].as_str().unwrap().to_string();
    let describe = |spans: &[Received]| {
        format!(
            "python client: {seen}\ngrpc_chain serve-backend:\n{backend_output}\nspans:\n{}",
            summary(spans)
        )
    };
    assert_eq!(seen["reply"]["in_stock"], 7, "{}", describe(&[]));
    assert_eq!(
        seen["reply"]["trace_id"],
        trace_id,
        "the Rust server answered in the Python client's trace: {}",
        describe(&[])
    );
    assert_eq!(
        seen["health"],
        "SERVING",
        "the standard health check: {}",
        describe(&[])
    );

    // Spans of both Rust server calls and both Python client calls.
    let store = receiver.store.clone();
    store.wait_for(Duration::from_secs(20), |spans| {
        let of_trace = spans.iter().filter(|s| s.trace_id() == trace_id);
        of_trace
            .clone()
            .filter(|s| s.service == "inventory" && kind(s) == SpanKind::Server)
            .count()
            >= 2
            && of_trace
                .filter(|s| s.service == "python-client" && kind(s) == SpanKind::Client)
                .count()
                >= 2
    });
    let spans = store.of_trace(&trace_id);
    let context = || describe(&spans);

    let py_check = one(
        &spans,
        "python-client",
        SpanKind::Client,
        python_rpc("demo.Inventory", "Check"),
        &context,
    );
    let rust_check = one(
        &spans,
        "inventory",
        SpanKind::Server,
        named("demo.Inventory/Check"),
        &context,
    );
    assert_eq!(
        py_check.parent_span_id(),
        seen["span_id"].as_str().unwrap(),
        "the Python call is in the client's span: {}",
        context()
    );
    assert_eq!(
        rust_check.parent_span_id(),
        py_check.span_id(),
        "the Rust server span is a child of the Python client span: {}",
        context()
    );
    assert_eq!(
        rust_check.attribute("rpc.response.status_code").as_deref(),
        Some("OK"),
        "{}",
        context()
    );

    let py_health = one(
        &spans,
        "python-client",
        SpanKind::Client,
        python_rpc("grpc.health.v1.Health", "Check"),
        &context,
    );
    let rust_health = one(
        &spans,
        "inventory",
        SpanKind::Server,
        named("grpc.health.v1.Health/Check"),
        &context,
    );
    assert_eq!(
        rust_health.parent_span_id(),
        py_health.span_id(),
        "the health check continued the traceparent the Python client sent: {}",
        context()
    );
}

#[test]
fn a_python_server_continues_the_trace_of_the_rust_client() {
    let venv = common::e2e_venv();
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let pricing = Peer::start(
        "py_grpc.py server",
        python(&venv, &["server"], "python-pricing", &receiver),
    );
    let backend = rust_backend(&receiver, Some(&pricing.url));

    // A Python client asks the Rust backend, which asks Python's pricing
    // service through GrpcClientLayer.
    let seen = python_client(&venv, backend.target(), "widget", &receiver);
    let backend_output = backend.stop();
    let pricing_output = pricing.stop();
    let trace_id = seen["trace_id"].as_str().unwrap().to_string();
    let describe = |spans: &[Received]| {
        format!(
            "python client: {seen}\ngrpc_chain serve-backend:\n{backend_output}\n\
             py_grpc.py server:\n{pricing_output}\nspans:\n{}",
            summary(spans)
        )
    };
    assert_eq!(
        seen["reply"]["price_cents"],
        4200,
        "the price came from the Python server: {}",
        describe(&[])
    );

    let store = receiver.store.clone();
    store.wait_for(Duration::from_secs(20), |spans| {
        let of_trace = || spans.iter().filter(|s| s.trace_id() == trace_id);
        of_trace().any(|s| s.service == "python-pricing" && kind(s) == SpanKind::Server)
            && of_trace().any(|s| s.service == "inventory" && kind(s) == SpanKind::Client)
    });
    let spans = store.of_trace(&trace_id);
    let context = || describe(&spans);

    let rust_quote = one(
        &spans,
        "inventory",
        SpanKind::Client,
        named("demo.Pricing/Quote"),
        &context,
    );
    let py_quote = one(
        &spans,
        "python-pricing",
        SpanKind::Server,
        python_rpc("demo.Pricing", "Quote"),
        &context,
    );
    assert_eq!(
        py_quote.parent_span_id(),
        rust_quote.span_id(),
        "the Python server span is a child of the Rust client span: {}",
        context()
    );
    assert_eq!(
        rust_quote.attribute("rpc.response.status_code").as_deref(),
        Some("OK"),
        "{}",
        context()
    );
    // The Rust client call sits in the Rust server's handling of the
    // Python client's call: one trace from end to end.
    let rust_check = one(
        &spans,
        "inventory",
        SpanKind::Server,
        named("demo.Inventory/Check"),
        &context,
    );
    assert!(
        ancestors(&spans, rust_quote).contains(&rust_check.span_id()),
        "the Rust client call is under the Rust server span: {}",
        context()
    );
}

/// One line per span: who sent it, its kind and name, its ids and attributes.
fn summary(spans: &[Received]) -> String {
    spans
        .iter()
        .map(|s| {
            let attributes: Vec<String> = s
                .span
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, s.attribute(&kv.key).unwrap_or_default()))
                .collect();
            format!(
                "  {} {:?} {:?} trace {} span {} parent {} [{}]\n",
                s.service,
                kind(s),
                s.span.name,
                s.trace_id(),
                s.span_id(),
                s.parent_span_id(),
                attributes.join(", ")
            )
        })
        .collect()
}

/// The span ids above `span` in `spans`, nearest first.
fn ancestors(spans: &[Received], span: &Received) -> Vec<String> {
    let mut found = Vec::new();
    let mut parent = span.parent_span_id();
    while let Some(next) = spans.iter().find(|s| s.span_id() == parent) {
        if found.len() == spans.len() {
            break; // a cycle: no real trace has one
        }
        found.push(parent);
        parent = next.parent_span_id();
    }
    found
}
