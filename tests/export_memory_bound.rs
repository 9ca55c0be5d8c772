//! Memory stays bounded whatever callers send and whatever the collector
//! does: with a collector that accepts connections and never answers, a
//! service behind `ServerTraceLayer` gets 300 requests carrying a 300 KB
//! `User-Agent` (hyper admits up to about 400 KB of headers) and its handlers
//! add 200 KB attributes of their own; the process's resident memory grows by
//! less than the export queue's documented bound (`max_queue_bytes` + two
//! export requests) plus the allocator's slack.
//!
//! One test in this file: RSS is a property of the whole process.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::ObservabilityBuilder;

const MIB: usize = 1024 * 1024;
const QUEUE_BYTES: usize = 8 * MIB;
const EXPORT_BYTES: usize = MIB;

/// The resident set of this process, from `/proc/self/status`.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

async fn handler() -> &'static str {
    // The handler's own span with a large attribute (a request body, say).
    let span = tracing::info_span!("handle", payload = tracing::field::Empty);
    span.record("payload", "p".repeat(200_000).as_str());
    let _entered = span.enter();
    "ok"
}

/// One HTTP/1.1 request with a `User-Agent` of `agent_len` bytes.
fn request(addr: SocketAddr, agent: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /work HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.100}");
}

#[test]
fn hostile_headers_and_a_silent_collector_do_not_grow_memory() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "warn,export_memory_bound=info"),
        ])
        .otlp_endpoint(format!("http://{}", silent.local_addr().unwrap()))
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_timeout(Duration::from_secs(60))
        .max_queue_bytes(QUEUE_BYTES)
        .max_export_bytes(EXPORT_BYTES)
        .shutdown_deadline(Duration::from_millis(200))
        .log_output(std::io::sink())
        .init()
        .unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let app = Router::new()
            .route("/work", get(handler))
            .layer(ServerTraceLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let agent = "a".repeat(300_000);
    // Warm up: the server, the allocator's arenas, the export thread.
    for _ in 0..20 {
        request(addr, &agent);
    }
    let before = rss();
    for _ in 0..300 {
        request(addr, &agent);
    }
    let after = rss();
    let growth = after.saturating_sub(before);
    let bound = QUEUE_BYTES + 2 * EXPORT_BYTES;
    let slack = 24 * MIB;
    assert!(
        growth < bound + slack,
        "RSS grew by {} MiB (before {} MiB, after {} MiB); bound {} MiB + slack {} MiB",
        growth / MIB,
        before / MIB,
        after / MIB,
        bound / MIB,
        slack / MIB
    );
    let stats = guard.export_stats();
    assert!(
        stats.dropped_queue_full > 200,
        "the queue's bound, not the collector, took the spans: {stats:?}"
    );
    drop(guard);
    drop(silent);
}
