//! Honest reporting with a collector that accepts connections and never
//! answers: the queue-full drops are reported when they start (not after the
//! export timeout), the failure names the endpoint and its cause, and the
//! total is printed at shutdown even when the shutdown deadline cuts it short.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::Lines;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;

#[test]
fn a_hanging_collector_is_reported_at_once_and_the_total_at_shutdown() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let lines = Lines::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_BSP_EXPORT_TIMEOUT", "60000"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ])
        .service_name("reporting")
        .otlp_endpoint(endpoint.clone())
        .otlp_protocol(OtlpProtocol::Grpc)
        .max_queue_size(50)
        .shutdown_deadline(Duration::from_secs(1))
        .log_output(lines.clone())
        .init()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("t");
    // A first batch goes out and hangs.
    for i in 0..60 {
        tracer.start(format!("first-{i}")).end();
    }
    std::thread::sleep(Duration::from_millis(300));
    // The queue fills while the export hangs.
    for i in 0..100 {
        tracer.start(format!("second-{i}")).end();
    }
    let reported = lines.wait_for("span queue full", Duration::from_secs(10));
    assert!(
        reported.is_some(),
        "queue-full drops are reported while the export (timeout 30 s) still hangs: {}",
        lines.text()
    );
    let stats = guard.export_stats();
    assert!(stats.dropped_queue_full >= 50, "{stats:?}");

    drop(guard);
    let text = lines.text();
    let summary = text
        .lines()
        .find(|l| l.contains(" spans exported to ") && l.contains("during this run"))
        .unwrap_or_else(|| panic!("a total at shutdown: {text}"));
    assert!(summary.contains(&endpoint), "names the endpoint: {summary}");
    assert!(summary.contains("during this run, 160 lost ("), "{summary}");
    assert!(
        summary.contains("shutdown stopped waiting after 1000 ms"),
        "{summary}"
    );
    assert_eq!(
        text.matches("span queue full").count(),
        1,
        "reported once: {text}"
    );
    drop(silent);
    eprintln!("{text}");
}
