//! The OpenTelemetry limit variables (and the builder's `*_limit` methods)
//! reach the tracer provider: a real OTLP receiver on 127.0.0.1 gets spans
//! that kept what the limits allow, with the rest counted as dropped.

use crate::common;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::{OtlpProtocol, SpanLimitsConfig};
use distributed_tracing::opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::ObservabilityBuilder;

#[test]
fn counts_over_the_limits_are_dropped_and_reported() {
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "100"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "1"),
        ])
        .link_count_limit(0)
        .otlp_endpoint(receiver.endpoint(Protocol::Http))
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .build()
        .expect("pipeline");
    assert!(
        guard.config().issues.is_empty(),
        "{:?}",
        guard.config().issues
    );
    let limits = guard.config().span_limits;
    let mut expected = SpanLimitsConfig::default();
    expected.attribute_count = 2;
    expected.event_count = 1;
    expected.event_attribute_count = 1;
    expected.link_count = 0;
    expected.link_attribute_count = 100;
    assert_eq!(limits, expected);

    let tracer = guard.tracer_provider().unwrap().tracer("test");
    let linked = SpanContext::new(
        TraceId::from(7),
        SpanId::from(7),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let mut span = tracer
        .span_builder("limited")
        .with_attributes((0..5).map(|i| KeyValue::new(format!("at_start_{i}"), i)))
        .with_links(vec![Link::with_context(linked)])
        .start(&tracer);
    span.set_attribute(KeyValue::new("later", "x"));
    for i in 0..3 {
        span.add_event(
            format!("event_{i}"),
            vec![
                KeyValue::new("a", 1),
                KeyValue::new("b", 2),
                KeyValue::new("c", 3),
            ],
        );
    }
    span.end();
    drop(guard); // flushes

    let spans = receiver.stop().spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0].span;
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["at_start_0", "at_start_1"], "the first two kept");
    assert_eq!(span.dropped_attributes_count, 4, "3 at start, 1 later");
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "event_0");
    assert_eq!(span.dropped_events_count, 2);
    assert_eq!(span.events[0].attributes.len(), 1);
    assert_eq!(span.events[0].dropped_attributes_count, 2);
    assert!(span.links.is_empty());
    assert_eq!(span.dropped_links_count, 1);
}

/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` cuts string values (of the span, its
/// events and its links, arrays element by element) to that many characters,
/// on a character boundary, before they are queued and exported.
#[test]
fn string_values_are_cut_to_the_length_limit() {
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8")])
        .otlp_endpoint(receiver.endpoint(Protocol::Grpc))
        .otlp_protocol(OtlpProtocol::Grpc)
        .build()
        .expect("pipeline");
    let tracer = guard.tracer_provider().unwrap().tracer("test");
    let mut span = tracer.start("cut");
    span.set_attribute(KeyValue::new("long", "é".repeat(100)));
    span.set_attribute(KeyValue::new("short", "abc"));
    span.set_attribute(KeyValue::new("number", 123_456_789_i64));
    span.add_event("e", vec![KeyValue::new("detail", "d".repeat(50))]);
    span.end();
    guard.flush().unwrap();
    drop(guard);
    let spans = receiver.stop().spans();
    let span = spans
        .iter()
        .find(|s| s.span.name == "cut")
        .expect("exported");
    assert_eq!(span.attribute("long").unwrap(), "é".repeat(8));
    assert_eq!(span.attribute("short").unwrap(), "abc");
    assert_eq!(span.attribute("number").unwrap(), "123456789");
    let event = &span.span.events[0];
    let detail = format!("{:?}", event.attributes[0].value);
    assert!(
        detail.contains(&format!("\"{}\"", "d".repeat(8))),
        "{detail}"
    );
}
