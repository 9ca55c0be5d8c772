//! Transient export failures are retried, as the OTLP specification asks:
//! a collector restarting for a few seconds under load loses nothing; a
//! collector answering "unavailable" (HTTP 503, gRPC UNAVAILABLE) is retried,
//! after the `Retry-After` it names; spans stay queued meanwhile.

use crate::common;

use std::time::{Duration, Instant};

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::{ObservabilityBuilder, ObservabilityGuard};

fn pipeline(protocol: Protocol, receiver: &Receiver, schedule_delay_ms: u64) -> ObservabilityGuard {
    ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", schedule_delay_ms.to_string())])
        .otlp_endpoint(receiver.endpoint(protocol))
        .otlp_protocol(match protocol {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        })
        .otlp_timeout(Duration::from_secs(2))
        .shutdown_deadline(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// 100 spans a second for 6 s; the collector is stopped after 1.5 s and comes
/// back on the same port 3 s later. Every span arrives; none is counted lost.
#[test]
fn a_collector_restart_under_load_loses_nothing() {
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let receiver = Receiver::start(protocol, 0, Store::default());
        let port = receiver.addr.port();
        let guard = pipeline(protocol, &receiver, 100);
        let tracer = guard.tracer_provider().unwrap().tracer("restart");
        let mut receiver = Some(receiver);
        let mut stopped_at = None;
        let mut store = None;
        let start = Instant::now();
        let mut created = 0;
        while start.elapsed() < Duration::from_secs(6) {
            for _ in 0..10 {
                tracer.start(format!("span-{created}")).end();
                created += 1;
            }
            std::thread::sleep(Duration::from_millis(100));
            if stopped_at.is_none() && start.elapsed() > Duration::from_millis(1500) {
                store = Some(receiver.take().unwrap().stop());
                stopped_at = Some(Instant::now());
            }
            if let Some(at) = stopped_at {
                if receiver.is_none() && at.elapsed() > Duration::from_secs(3) {
                    receiver = Some(Receiver::start(protocol, port, store.clone().unwrap()));
                }
            }
        }
        guard.flush().expect("the collector is back");
        let stats = guard.export_stats();
        drop(guard);
        let store = receiver.unwrap().stop();
        let mut names: Vec<String> = store.spans().into_iter().map(|s| s.span.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            created,
            "{protocol:?}: every span arrived: {stats:?}"
        );
        assert_eq!(stats.lost(), 0, "{protocol:?}: {stats:?}");
        assert_eq!(stats.exported, created as u64, "{protocol:?}: {stats:?}");
    }
}

/// A collector that answers "unavailable" twice, asking to come back in 1 s:
/// the spans arrive on the third request, which came after the hint.
#[test]
fn unavailable_is_retried_after_the_servers_hint() {
    for protocol in [Protocol::Http, Protocol::Grpc] {
        let mut store = Store::default();
        store.refuse_next(2, Some(1));
        let receiver = Receiver::start(protocol, 0, store);
        // Only the flush exports: the five spans go in one request.
        let guard = pipeline(protocol, &receiver, 600_000);
        let tracer = guard.tracer_provider().unwrap().tracer("throttled");
        for i in 0..5 {
            tracer.start(format!("throttled-{i}")).end();
        }
        guard.flush().expect("accepted on the third try");
        let stats = guard.export_stats();
        drop(guard);
        let store = receiver.stop();
        assert_eq!(store.spans().len(), 5, "{protocol:?}: {stats:?}");
        assert_eq!((stats.exported, stats.lost()), (5, 0), "{protocol:?}");
        let attempts = store.attempts();
        assert_eq!(attempts.len(), 3, "{protocol:?}: two refusals, one success");
        if protocol == Protocol::Http {
            // Retry-After: 1 is honoured (the backoff alone starts at 100 ms).
            for pair in attempts.windows(2) {
                assert!(
                    pair[1] - pair[0] >= Duration::from_millis(500),
                    "{:?}",
                    pair[1] - pair[0]
                );
            }
        }
    }
}

/// A request the collector refuses for good (HTTP 400-like answers other than
/// the retryable ones) is not retried: one attempt, the spans counted failed.
#[test]
fn a_final_refusal_is_not_retried() {
    // A path the HTTP receiver does not serve: 404.
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .otlp_endpoint(format!("http://{}/nowhere", receiver.addr))
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("refused");
    for i in 0..3 {
        tracer.start(format!("refused-{i}")).end();
    }
    let started = Instant::now();
    let error = guard.flush().expect_err("404");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not retried until the export timeout"
    );
    let text = error.to_string();
    assert!(
        text.contains("404") && text.contains(&receiver.addr.to_string()),
        "names the status and the endpoint: {text}"
    );
    assert_eq!(guard.export_stats().failed, 3);
}
