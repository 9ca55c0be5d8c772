//! Losses are reported once, not per span: one warning when export starts to
//! fail, one when failed requests start losing spans, one when the queue starts
//! dropping, one note when export resumes, one total at shutdown, whatever the
//! number of spans and export attempts.

mod common;

use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;

#[test]
fn losses_are_reported_once() {
    let captured = common::ExportMessages::global();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_EXPORT_TIMEOUT", "1000")])
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_timeout(Duration::from_millis(300))
        .max_queue_size(50)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("t");
    for round in 0..5 {
        for i in 0..100 {
            tracer.start(format!("down-{round}-{i}")).end();
        }
        let _ = guard.flush();
    }
    let stats = guard.export_stats();
    assert!(
        stats.failed > 0 && stats.dropped_queue_full > 0,
        "{stats:?}"
    );

    let receiver = Receiver::start(Protocol::Grpc, port, Store::default());
    for i in 0..10 {
        tracer.start(format!("up-{i}")).end();
    }
    guard.flush().expect("the collector is back");
    drop(guard);
    drop(receiver);

    let stats_at_end = stats;
    let messages: Vec<String> = captured
        .all()
        .into_iter()
        // Feature `logs` adds the log records' own summary.
        .filter(|m| !m.contains("log record"))
        .collect();
    let count = |needle: &str| messages.iter().filter(|m| m.contains(needle)).count();
    let endpoint = format!("http://127.0.0.1:{port}");
    assert_eq!(
        count(&format!("span export to {endpoint} failed: ")),
        1,
        "{messages:#?}"
    );
    assert_eq!(count("span queue full"), 1, "{messages:#?}");
    assert_eq!(count("spans lost: export to"), 1, "{messages:#?}");
    assert_eq!(
        count(&format!("span export to {endpoint} resumed")),
        1,
        "{messages:#?}"
    );
    assert_eq!(
        count(&format!(
            "10 spans exported to {endpoint} during this run, "
        )),
        1,
        "the total, at shutdown: {messages:#?} {stats_at_end:?}"
    );
    assert_eq!(messages.len(), 5, "nothing per span: {messages:#?}");
}
