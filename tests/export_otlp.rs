//! Spans exported over OTLP, gRPC and HTTP, are received by a real OTLP
//! receiver on 127.0.0.1 with the ids, parent links, names and service name that
//! `get_trace_id()` and the `tracing` spans had.

mod common;

use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::compat::{get_span_id, get_trace_id};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::TracerProvider as _;
use distributed_tracing::ObservabilityBuilder;
use tracing_subscriber::layer::SubscriberExt as _;

/// Runs a request with two nested spans under a pipeline exporting to `protocol`,
/// drops the guard (flush + shutdown) and returns what the receiver got.
fn export_one_trace(protocol: Protocol) -> (Store, String, String, String) {
    let receiver = Receiver::start(protocol, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_SERVICE_NAME", "checkout")])
        .otlp_endpoint(receiver.endpoint(protocol))
        .otlp_protocol(match protocol {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        })
        .otlp_header("x-api-key", "secret-123")
        .build()
        .expect("pipeline");
    let provider = guard.tracer_provider().unwrap().clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let (trace_id, outer_id, inner_id) = tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("handle_request");
        let _o = outer.enter();
        let outer_id = get_span_id().unwrap();
        let inner = tracing::info_span!("query_db");
        let _i = inner.enter();
        (get_trace_id().unwrap(), outer_id, get_span_id().unwrap())
    });
    drop(guard); // flushes before returning
    let store = receiver.stop();
    (store, trace_id, outer_id, inner_id)
}

fn check(protocol: Protocol) {
    let (store, trace_id, outer_id, inner_id) = export_one_trace(protocol);
    let spans = store.of_trace(&trace_id);
    assert_eq!(spans.len(), 2, "{protocol:?}: {spans:?}");
    let outer = spans
        .iter()
        .find(|s| s.span.name == "handle_request")
        .unwrap();
    let inner = spans.iter().find(|s| s.span.name == "query_db").unwrap();
    assert_eq!(outer.span_id(), outer_id);
    assert_eq!(inner.span_id(), inner_id);
    assert_eq!(inner.parent_span_id(), outer_id);
    assert_eq!(outer.parent_span_id(), "");
    assert!(spans.iter().all(|s| s.service == "checkout"));
    let headers = store.request_headers();
    assert!(
        headers
            .iter()
            .all(|h| h.iter().any(|(k, v)| k == "x-api-key" && v == "secret-123")),
        "{protocol:?}: the configured header is sent: {headers:?}"
    );
}

#[test]
fn spans_arrive_over_grpc() {
    check(Protocol::Grpc);
}

#[test]
fn spans_arrive_over_http_protobuf() {
    check(Protocol::Http);
}

#[test]
fn the_guard_flushes_every_finished_span_on_drop() {
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let receiver = Receiver::start(protocol, 0, Store::default());
        let guard = ObservabilityBuilder::default()
            .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "60000")])
            .otlp_endpoint(receiver.endpoint(protocol))
            .otlp_protocol(match protocol {
                Protocol::Grpc => OtlpProtocol::Grpc,
                Protocol::Http => OtlpProtocol::HttpProtobuf,
            })
            .build()
            .unwrap();
        let tracer = guard.tracer_provider().unwrap().tracer("test");
        for i in 0..1500 {
            use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _};
            let mut span = tracer.start(format!("job-{i}"));
            span.end();
        }
        // Nothing was exported yet (the schedule is a minute away); drop flushes.
        drop(guard);
        let spans = receiver.stop().spans();
        assert_eq!(spans.len(), 1500, "{protocol:?}: none lost");
    }
    let _ = Duration::ZERO;
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL=GRPC` (enum values are case-insensitive, as
/// the configuration specification asks) exports over gRPC: the spans reach
/// a gRPC receiver, instead of OTLP/HTTP being spoken to a gRPC port.
#[test]
fn an_upper_case_protocol_exports_over_grpc() {
    use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _};
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC".to_string()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                receiver.endpoint(Protocol::Grpc),
            ),
        ])
        .build()
        .expect("pipeline");
    assert!(
        guard.config().issues.is_empty(),
        "{:?}",
        guard.config().issues
    );
    let tracer = guard.tracer_provider().unwrap().tracer("case");
    tracer.start("upper-case-protocol").end();
    drop(guard);
    let store = receiver.stop();
    let names: Vec<String> = store.spans().iter().map(|s| s.span.name.clone()).collect();
    assert_eq!(names, ["upper-case-protocol"]);
}
