//! A collector that answers, but slower than spans come: the queue drops (the
//! oldest spans) for as long as that lasts, and says so once, not after every
//! accepted request.

mod common;

use std::time::{Duration, Instant};

use common::otlp::{Protocol, Receiver, Store};
use common::Lines;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;

#[test]
fn sustained_overload_is_reported_once() {
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let lines = Lines::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "20")])
        .otlp_endpoint(receiver.endpoint(Protocol::Grpc))
        .otlp_protocol(OtlpProtocol::Grpc)
        .max_queue_size(20)
        .log_output(lines.clone())
        .init()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("t");
    // Bursts far faster than one export thread sends, for a second.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        for i in 0..200 {
            tracer.start(format!("burst-{i}")).end();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = guard.export_stats();
    guard.flush().unwrap();
    let text = lines.text();
    assert!(
        stats.exported > 0 && stats.dropped_queue_full > 0,
        "{stats:?}"
    );
    assert_eq!(text.matches("span queue full").count(), 1, "{text}");
    assert!(text.matches("resumed").count() <= 1, "{text}");
    drop(guard);
}
