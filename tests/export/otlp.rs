//! Spans exported over OTLP, gRPC and HTTP, are received by a real OTLP
//! receiver on 127.0.0.1 with the ids, parent links, names and service name that
//! `get_trace_id()` and the `tracing` spans had.

use crate::common;

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

#[tracing::instrument(fields(extra = 5u8, late = tracing::field::Empty))]
fn unsigned_work(a: u32, b: u64, c: usize, big: u64, text: &str) {
    // Recorded after the span started (entered: its OTel span exists).
    tracing::Span::current().record("late", 9u64);
    tracing::info!(count = 3u64, huge = u64::MAX, small = 7u16, "an event");
}

/// Unsigned integer fields reach the receiver as OTLP integers (where they
/// fit in an `i64`; as their decimal text where they do not), on spans
/// (`#[instrument]` arguments, `info_span!` fields, `Span::record`) and on
/// span events, each key once; strings stay strings.
#[test]
fn unsigned_fields_arrive_as_integers() {
    use distributed_tracing::bridge::{otel_layer_with, BridgeOptions, SpanEvents};
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::KeyValue;

    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .otlp_endpoint(receiver.endpoint(Protocol::Grpc))
        .otlp_protocol(OtlpProtocol::Grpc)
        .build()
        .expect("pipeline");
    // The crate's bridge, on this pipeline's provider.
    distributed_tracing::opentelemetry::global::set_tracer_provider(
        guard.tracer_provider().unwrap().clone(),
    );
    let subscriber = tracing_subscriber::registry().with(otel_layer_with(
        BridgeOptions::default().span_events(SpanEvents::All),
    ));
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let manual = tracing::info_span!(
            "manual",
            n = 42u16,
            wide = 1u128 << 80,
            narrow = -3i128,
            word = "12"
        );
        let _entered = manual.enter();
        unsigned_work(1, 2, 3, u64::MAX, "x");
        get_trace_id().unwrap()
    });
    // Switched off: text, as tracing-opentelemetry records them.
    let plain = tracing_subscriber::registry().with(otel_layer_with(
        BridgeOptions::default().integer_fields(false),
    ));
    let plain_trace = tracing::subscriber::with_default(plain, || {
        let span = tracing::info_span!("plain", n = 42u16);
        let _entered = span.enter();
        get_trace_id().unwrap()
    });
    drop(guard);
    let store = receiver.stop();
    let plain = store.of_trace(&plain_trace);
    assert_eq!(
        plain[0].attribute("n").as_deref(),
        Some("42"),
        "integer_fields(false)"
    );
    assert!(matches!(
        plain[0]
            .span
            .attributes
            .iter()
            .find(|kv| kv.key == "n")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref()),
        Some(Value::StringValue(_))
    ));
    let spans = store.of_trace(&trace_id);
    let value = |attributes: &[KeyValue], key: &str| {
        let found: Vec<_> = attributes.iter().filter(|kv| kv.key == key).collect();
        assert_eq!(found.len(), 1, "{key} once: {attributes:?}");
        found[0].value.as_ref().and_then(|v| v.value.clone())
    };
    let int = |i: i64| Some(Value::IntValue(i));
    let text = |s: &str| Some(Value::StringValue(s.to_owned()));
    let manual = spans.iter().find(|s| s.span.name == "manual").unwrap();
    let a = &manual.span.attributes;
    assert_eq!(value(a, "n"), int(42));
    assert_eq!(
        value(a, "wide"),
        text(&(1u128 << 80).to_string()),
        "too wide: text"
    );
    assert_eq!(value(a, "narrow"), int(-3));
    assert_eq!(value(a, "word"), text("12"), "a string stays a string");
    let work = spans
        .iter()
        .find(|s| s.span.name == "unsigned_work")
        .unwrap();
    let a = &work.span.attributes;
    assert_eq!(value(a, "a"), int(1));
    assert_eq!(value(a, "b"), int(2));
    assert_eq!(value(a, "c"), int(3));
    assert_eq!(
        value(a, "big"),
        text("18446744073709551615"),
        "over i64::MAX: text"
    );
    assert_eq!(value(a, "extra"), int(5));
    assert_eq!(value(a, "late"), int(9), "Span::record");
    assert_eq!(value(a, "text"), text("x"));
    assert_eq!(work.parent_span_id(), manual.span_id());
    let event = work
        .span
        .events
        .iter()
        .find(|e| e.name == "an event")
        .expect("the span event");
    let a = &event.attributes;
    assert_eq!(value(a, "count"), int(3));
    assert_eq!(value(a, "small"), int(7));
    assert_eq!(value(a, "huge"), text("18446744073709551615"));
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
