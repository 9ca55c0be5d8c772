//! One oversized span never costs the other spans: requests are cut under the
//! exporter's limit, a request the collector rejects as too large is split,
//! and a span too large alone is dropped alone and counted.

use crate::common;

use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::{ObservabilityBuilder, ObservabilityGuard};

fn pipeline(
    protocol: Protocol,
    receiver: &Receiver,
    max_export_bytes: usize,
) -> ObservabilityGuard {
    ObservabilityBuilder::default()
        .otlp_endpoint(receiver.endpoint(protocol))
        .otlp_protocol(match protocol {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        })
        .otlp_timeout(Duration::from_secs(5))
        .max_export_bytes(max_export_bytes)
        .build()
        .unwrap()
}

/// 300 ordinary spans of about 600 bytes and, among them, three carrying
/// 200 KB each: a batch of all of them is far over the collector's 64 KiB limit.
fn emit(guard: &ObservabilityGuard) {
    let tracer = guard.tracer_provider().unwrap().tracer("sizes");
    let big = "x".repeat(200_000);
    for i in 0..300 {
        let mut span = tracer.start(format!("normal-{i}"));
        span.set_attribute(KeyValue::new("http.route", "/orders/{id}"));
        span.set_attribute(KeyValue::new("note", "n".repeat(500)));
        span.end();
        if i % 100 == 50 {
            let mut span = tracer.start(format!("huge-{i}"));
            span.set_attribute(KeyValue::new("blob", big.clone()));
            span.end();
        }
    }
}

/// The collector's limit is lower than ours (which the exporter does not
/// know): its "too large" answers make the exporter split the requests until
/// they pass; the huge spans, too large even alone, are dropped and counted.
#[test]
fn a_collector_with_a_small_limit_gets_every_normal_span() {
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let receiver = Receiver::start(protocol, 0, Store::with_max_request_bytes(64 * 1024));
        let guard = pipeline(protocol, &receiver, 4 * 1024 * 1024);
        emit(&guard);
        let _ = guard.flush();
        let stats = guard.export_stats();
        drop(guard);
        let store = receiver.stop();
        let normal = store
            .spans()
            .iter()
            .filter(|s| s.span.name.starts_with("normal-"))
            .count();
        assert_eq!(normal, 300, "{protocol:?}: no normal span lost: {stats:?}");
        assert_eq!(stats.exported, 300, "{protocol:?}: {stats:?}");
        assert_eq!(stats.too_large, 3, "{protocol:?}: {stats:?}");
        assert_eq!(stats.failed, 0, "{protocol:?}: {stats:?}");
    }
}

/// With our own limit set under the collector's, requests are cut before they
/// are sent: no request is ever refused, and the huge spans are dropped
/// without being sent.
#[test]
fn requests_are_cut_under_the_configured_limit() {
    let protocol = Protocol::Grpc;
    let receiver = Receiver::start(protocol, 0, Store::with_max_request_bytes(64 * 1024));
    let guard = pipeline(protocol, &receiver, 60 * 1024);
    emit(&guard);
    guard.flush().expect("every request fits");
    let stats = guard.export_stats();
    drop(guard);
    let store = receiver.stop();
    assert_eq!(store.spans().len(), 300, "{stats:?}");
    let sizes = store.request_sizes();
    assert!(sizes.len() > 1, "the batch was cut: {sizes:?}");
    assert!(sizes.iter().all(|&s| s <= 60 * 1024), "{sizes:?}");
    assert_eq!((stats.exported, stats.too_large), (300, 3));
}
