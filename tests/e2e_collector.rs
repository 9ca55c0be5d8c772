//! End to end through rotel, a real OpenTelemetry collector (written in Rust,
//! installed from PyPI by `scripts/e2e-setup.sh`, which this test runs when it
//! is missing), with its smallest message limit and a restart under load, into
//! the in-process OTLP receiver. (The way into a real trace backend, Jaeger,
//! directly and through the OpenTelemetry Collector, is `tests/e2e_jaeger.rs`.)
//! Everything listens on 127.0.0.1 only.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::e2e::{free_ports, spawn_logged, wait_until, Process};
use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::ObservabilityBuilder;

/// The rotel collector binary installed by `scripts/e2e-setup.sh`.
fn rotel_bin() -> std::path::PathBuf {
    let venv = common::e2e_venv();
    std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|python| python.path().join("site-packages/rotel/rotel-agent"))
        .find(|p| p.exists())
        .expect("rotel-agent in the venv")
}

/// Starts rotel receiving OTLP on `grpc_port` and `http_port` (with a gRPC
/// message limit of `max_mib` MiB when given), forwarding over OTLP/HTTP to
/// `to`; returns once it listens.
fn start_rotel(
    work: &Path,
    grpc_port: u16,
    http_port: u16,
    max_mib: Option<u32>,
    to: &str,
) -> Process {
    let mut command = Command::new(rotel_bin());
    command.arg("start");
    if let Some(max_mib) = max_mib {
        command
            .arg("--otlp-grpc-max-recv-msg-size-mib")
            .arg(max_mib.to_string());
    }
    let process = spawn_logged(
        command
            .args(["--exporter", "otlp", "--otlp-exporter-protocol", "http"])
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--otlp-exporter-endpoint")
            .arg(to)
            .arg("--batch-timeout")
            .arg("100ms")
            .arg("--pid-file")
            .arg(work.join(format!("rotel-{grpc_port}.pid")))
            .arg("--log-file")
            .arg(work.join("rotel-agent.log")),
        &work.join("rotel.log"),
        "rotel",
    );
    wait_until("rotel to listen", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", grpc_port)).ok()
    });
    process
}

/// A real collector with a 1 MiB message limit (rotel's smallest): batches of
/// ordinary spans over it are split until they pass, one 2 MB span is dropped
/// alone, and every ordinary span reaches the backend behind the collector;
/// then the collector is restarted under load and nothing is lost.
#[test]
fn a_real_collector_with_a_small_limit_and_a_restart_loses_no_normal_span() {
    let work = std::env::temp_dir().join(format!("dt-e2e-limit-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let backend = Receiver::start(Protocol::Http, 0, Store::default());
    let [grpc_port, http_port, _, _] = free_ports();
    let to = format!("http://{}", backend.addr);
    let mut rotel = Some(start_rotel(&work, grpc_port, http_port, Some(1), &to));

    let guard = ObservabilityBuilder::default()
        .env_vars([("OTEL_BSP_SCHEDULE_DELAY", "100")])
        .service_name("limit")
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_endpoint(format!("http://127.0.0.1:{grpc_port}"))
        .shutdown_deadline(Duration::from_secs(20))
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("limit");
    let note = "n".repeat(3000);
    // 512 spans of ~3 KB: one batch of about 1.5 MB, over rotel's 1 MiB.
    for i in 0..600 {
        let mut span = tracer.start(format!("normal-{i}"));
        span.set_attribute(KeyValue::new("note", note.clone()));
        span.end();
        if i == 300 {
            let mut span = tracer.start("huge");
            span.set_attribute(KeyValue::new("blob", "x".repeat(2_000_000)));
            span.end();
        }
    }
    let _ = guard.flush();
    let stats = guard.export_stats();
    assert_eq!(
        (stats.exported, stats.too_large, stats.failed),
        (600, 1, 0),
        "{stats:?}"
    );

    // The collector restarts (down 2 s) while spans keep coming.
    let mut created = 600;
    for round in 0..40 {
        for _ in 0..10 {
            tracer.start(format!("normal-{created}")).end();
            created += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
        if round == 5 {
            // A restart as an orchestrator does it: SIGTERM, so the collector
            // forwards what it has accepted (a SIGKILL loses its batch, which
            // it has already acknowledged: no exporter can recover that).
            rotel.take().unwrap().terminate(Duration::from_secs(10));
        }
        if round == 25 {
            rotel = Some(start_rotel(&work, grpc_port, http_port, Some(1), &to));
        }
    }
    guard.flush().expect("the collector is back");
    let stats = guard.export_stats();
    assert_eq!(stats.lost(), 1, "only the huge span: {stats:?}");
    drop(guard);
    let spans = backend.store.wait_for(Duration::from_secs(30), |spans| {
        spans
            .iter()
            .filter(|s| s.span.name.starts_with("normal-"))
            .count()
            >= created
    });
    let mut names: Vec<&str> = spans
        .iter()
        .map(|s| s.span.name.as_str())
        .filter(|n| n.starts_with("normal-"))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        created,
        "every normal span reached the backend: {stats:?}"
    );
    assert!(spans.iter().all(|s| s.span.name != "huge"));
    drop(rotel);
    std::fs::remove_dir_all(&work).ok();
}
