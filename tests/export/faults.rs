//! Faults of the collector, with a real OTLP receiver on 127.0.0.1: down at
//! start-up, dying under load and coming back, too slow to answer. The service
//! never blocks or fails because of them, memory stays bounded by the queue,
//! every span is accounted for (exported, dropped or failed), and export
//! resumes when the collector is back.

use crate::common;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::{ObservabilityBuilder, ObservabilityGuard};

fn proto(p: Protocol) -> OtlpProtocol {
    match p {
        Protocol::Grpc => OtlpProtocol::Grpc,
        Protocol::Http => OtlpProtocol::HttpProtobuf,
    }
}

/// A port on 127.0.0.1 with nothing listening on it.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn endpoint(protocol: Protocol, port: u16) -> String {
    match protocol {
        Protocol::Grpc => format!("http://127.0.0.1:{port}"),
        Protocol::Http => format!("http://127.0.0.1:{port}/v1/traces"),
    }
}

fn pipeline(protocol: Protocol, port: u16, queue: usize) -> ObservabilityGuard {
    ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_BSP_EXPORT_TIMEOUT", "1500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ])
        .otlp_endpoint(endpoint(protocol, port))
        .otlp_protocol(proto(protocol))
        .otlp_timeout(Duration::from_millis(500))
        .max_queue_size(queue)
        .shutdown_deadline(Duration::from_secs(3))
        .build()
        .expect("a pipeline, even with no collector")
}

fn emit(guard: &ObservabilityGuard, prefix: &str, n: usize) {
    let tracer = guard.tracer_provider().unwrap().tracer("faults");
    for i in 0..n {
        tracer.start(format!("{prefix}-{i}")).end();
    }
}

/// Runs `f` on another thread and fails the test if it has not returned after
/// `limit` (a hang detector, far above the expected time; not a timing assertion).
fn must_return<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("it hung")
}

fn names_with(store: &Store, prefix: &str) -> usize {
    store
        .spans()
        .iter()
        .filter(|s| s.span.name.starts_with(prefix))
        .count()
}

#[test]
fn collector_down_at_start_up_then_up() {
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let port = closed_port();
        let guard = pipeline(protocol, port, 2048);
        emit(&guard, "early", 10);
        let guard = must_return(Duration::from_secs(60), move || {
            assert!(guard.flush().is_err(), "{protocol:?}: nobody is listening");
            guard
        });
        let stats = guard.export_stats();
        assert_eq!(stats.failed, 10, "{protocol:?}: {stats:?}");
        assert_eq!(stats.exported, 0);

        let receiver = Receiver::start(protocol, port, Store::default());
        emit(&guard, "late", 10);
        let guard = must_return(Duration::from_secs(60), move || {
            guard.flush().expect("the collector is back");
            guard
        });
        let stats = guard.export_stats();
        assert_eq!(
            (stats.exported, stats.failed),
            (10, 10),
            "{protocol:?}: {stats:?}"
        );
        drop(guard);
        let store = receiver.stop();
        assert_eq!(names_with(&store, "late"), 10, "{protocol:?}");
    }
}

#[test]
fn collector_dies_under_load_and_comes_back() {
    let protocol = Protocol::Grpc;
    let receiver = Receiver::start(protocol, 0, Store::default());
    let port = receiver.addr.port();
    let guard = pipeline(protocol, port, 256);
    let store = receiver.store.clone();
    let mut created = 0u64;

    // Phase 1: collector up.
    emit(&guard, "before", 200);
    created += 200;
    store.wait_for(Duration::from_secs(20), |s| s.len() >= 200);
    // Phase 2: collector down; the service keeps creating spans, which never
    // blocks: the queue (256) fills, the rest is dropped and counted.
    drop(receiver);
    let guard = must_return(Duration::from_secs(60), move || {
        for round in 0..20 {
            emit(&guard, &format!("down{round}"), 100);
            std::thread::sleep(Duration::from_millis(20));
        }
        guard
    });
    created += 2000;
    let during = guard.export_stats();
    assert!(
        during.lost() > 0,
        "spans were lost while the collector was down: {during:?}"
    );
    assert!(
        during.dropped_queue_full > 0,
        "the queue is bounded, the surplus dropped: {during:?}"
    );
    // Phase 3: collector back on the same port; export resumes: what is still
    // queued goes out first, then new spans.
    let receiver = Receiver::start(protocol, port, store.clone());
    let guard = must_return(Duration::from_secs(60), move || {
        drop(guard.flush());
        guard
    });
    emit(&guard, "after", 200);
    created += 200;
    let guard = must_return(Duration::from_secs(60), move || {
        drop(guard.flush());
        guard
    });
    store.wait_for(Duration::from_secs(20), |_| {
        names_with(&store, "after") == 200
    });
    assert_eq!(names_with(&store, "after"), 200, "export resumed");
    let stats = guard.export_stats();
    drop(guard);
    drop(receiver);
    assert_eq!(
        stats.exported + stats.lost(),
        created,
        "every span is accounted for: {stats:?}"
    );
    assert_eq!(
        stats.exported as usize,
        store.spans().len(),
        "exported = received"
    );
}

#[test]
fn a_collector_that_never_answers_times_out_and_shutdown_keeps_its_deadline() {
    // Accepts connections, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let guard = pipeline(protocol, port, 2048);
        emit(&guard, "slow", 5);
        let stats = must_return(Duration::from_secs(60), move || {
            assert!(guard.flush().is_err(), "{protocol:?}: timed out");
            let stats = guard.export_stats();
            emit(&guard, "queued", 5);
            // On a current_thread runtime, as at the end of a `#[tokio::main(flavor =
            // "current_thread")]` main: the drop keeps its deadline.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move { drop(guard) });
            stats
        });
        assert_eq!(stats.failed, 5, "{protocol:?}: {stats:?}");
    }
}

#[test]
fn shutdown_with_spans_queued_delivers_them_all() {
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "600000")])
        .otlp_endpoint(receiver.endpoint(Protocol::Http))
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        emit(&guard, "queued", 700);
        tokio::task::yield_now().await;
        drop(guard);
    });
    assert_eq!(names_with(&receiver.stop(), "queued"), 700);
}
