//! A `SpanExporter` the user brings (`ObservabilityBuilder::span_exporter`)
//! runs behind the crate's queue: opentelemetry-otlp's own exporter,
//! configured by hand as its users do, delivers to a real OTLP receiver on
//! 127.0.0.1; the SDK's in-memory exporter keeps typed attributes; and an
//! outage is counted and reported once, like the crate's own transport's.

mod common;

use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use common::Lines;
use distributed_tracing::compat::{get_span_id, get_trace_id};
use distributed_tracing::config::TracesExporter;
use distributed_tracing::logging::{JsonFormat, LogFormat};
use distributed_tracing::opentelemetry::trace::TracerProvider as _;
use distributed_tracing::opentelemetry::Value;
use distributed_tracing::{ObservabilityBuilder, ObservabilityGuard};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use tracing_subscriber::layer::SubscriberExt as _;

/// Two nested `tracing` spans bridged to `guard`'s provider (not installed
/// globally): their trace id and span ids.
fn two_spans(guard: &ObservabilityGuard) -> (String, String, String) {
    let provider = guard.tracer_provider().unwrap().clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("handle_request", user.id = 7_i64);
        let _o = outer.enter();
        let outer_id = get_span_id().unwrap();
        let inner = tracing::info_span!("query_db");
        let _i = inner.enter();
        (get_trace_id().unwrap(), outer_id, get_span_id().unwrap())
    })
}

/// The tonic exporter of opentelemetry-otlp, built on `runtime` (its channel
/// spawns a task there) and sending to `endpoint`.
fn otlp_exporter(
    runtime: &tokio::runtime::Runtime,
    endpoint: String,
    timeout: Duration,
) -> opentelemetry_otlp::SpanExporter {
    let _in_runtime = runtime.enter();
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(timeout)
        .build()
        .expect("the exporter")
}

#[test]
fn opentelemetry_otlp_configured_by_hand_delivers_through_the_queue() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let exporter = otlp_exporter(
        &runtime,
        receiver.endpoint(Protocol::Grpc),
        Duration::from_secs(5),
    );
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_SERVICE_NAME", "checkout")])
        .span_exporter(exporter)
        .build()
        .expect("pipeline");
    assert_eq!(
        guard.config().traces_exporter,
        TracesExporter::Custom("opentelemetry_otlp::span::SpanExporter".into())
    );
    let (trace_id, outer_id, inner_id) = two_spans(&guard);
    guard.flush().expect("delivered");
    assert_eq!(guard.export_stats().exported, 2);
    drop(guard);
    let store = receiver.stop();
    let spans = store.of_trace(&trace_id);
    assert_eq!(spans.len(), 2, "{spans:?}");
    let outer = spans.iter().find(|s| s.span_id() == outer_id).unwrap();
    let inner = spans.iter().find(|s| s.span_id() == inner_id).unwrap();
    assert_eq!(inner.parent_span_id(), outer_id);
    assert_eq!(outer.span.name, "handle_request");
    assert!(spans.iter().all(|s| s.service == "checkout"), "{spans:?}");
}

#[test]
fn the_sdk_in_memory_exporter_keeps_typed_attributes() {
    let spans = InMemorySpanExporter::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_SERVICE_NAME", "checkout")])
        .span_exporter(spans.clone())
        .build()
        .expect("pipeline");
    let (trace_id, outer_id, _) = two_spans(&guard);
    guard.flush().unwrap();
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 2);
    let outer = finished
        .iter()
        .find(|s| s.span_context.span_id().to_string() == outer_id)
        .unwrap();
    assert_eq!(outer.span_context.trace_id().to_string(), trace_id);
    let user = outer
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "user.id")
        .map(|kv| kv.value.clone());
    assert_eq!(user, Some(Value::I64(7)), "an integer, not its text");
}

/// What the subscriber `init` installs wrote (JSON lines), as `LEVEL message`.
fn messages(output: &Lines) -> Vec<String> {
    output
        .utf8()
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                line["level"].as_str().unwrap(),
                line["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// Nothing listens at the exporter's endpoint: each batch is one attempt
/// (the crate does not retry another exporter's failure), its spans are
/// counted as failed, and the outage is reported once, then in total.
#[test]
fn an_outage_is_counted_and_reported_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exporter = otlp_exporter(
        &runtime,
        format!("http://127.0.0.1:{port}"),
        Duration::from_millis(500),
    );
    let output = Lines::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_SERVICE_NAME", "checkout")])
        .log_format(LogFormat::Json(JsonFormat::new()))
        .log_output(output.clone())
        .span_exporter(exporter)
        .init()
        .expect("pipeline");
    for _ in 0..3 {
        tracing::info_span!("job").in_scope(|| {});
        assert!(guard.flush().is_err(), "nothing listens");
    }
    let stats = guard.export_stats();
    assert_eq!((stats.exported, stats.failed), (0, 3));
    drop(guard);
    let messages = messages(&output);
    let about = |words: &str| messages.iter().filter(|m| m.contains(words)).count();
    const NAME: &str = "the span exporter opentelemetry_otlp::span::SpanExporter";
    assert_eq!(
        about(&format!("spans are exported by {NAME}")),
        1,
        "the start-up line: {messages:#?}"
    );
    assert_eq!(
        about(&format!("export to {NAME} failed")),
        1,
        "{messages:#?}"
    );
    assert_eq!(about("not retried"), 1, "{messages:#?}");
    assert_eq!(
        about(" lost:"),
        0,
        "said once, with the failure: {messages:#?}"
    );
    assert_eq!(
        about("during this run, 3 lost (3 failed)"),
        1,
        "the total at shutdown: {messages:#?}"
    );
}
