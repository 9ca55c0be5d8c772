//! The server of the export benchmark (`benches/export_instructions.sh`): the
//! cost of a span after it ends (queue, size estimate, truncation, encoding,
//! the request), this crate's against upstream's. One axum route, `GET
//! /hello`, whose handler logs one line (`tracing::info!`), in one of these
//! set-ups:
//!
//! * `plain`: no tracing middleware; the crate's subscriber (spans not
//!   exported), so that the log line is there too (the baseline);
//! * `ours-none`: `ServerTraceLayer`, `TracesExporter::None` (spans recorded,
//!   no span processor);
//! * `ours-noop`: `ServerTraceLayer`, a span exporter that does nothing
//!   behind the crate's queue (`ObservabilityBuilder::span_exporter`): the
//!   queue, the size estimate and the truncation without the encoding and
//!   the request, but with what the crate's adapter of SDK exporters adds
//!   (it hands each batch over as a copy, `batch.to_vec()`, and estimates
//!   each span's size again);
//! * `ours-http`, `ours-grpc`: `ServerTraceLayer`, the crate's own OTLP/HTTP
//!   (protobuf) or OTLP/gRPC export to the receiver;
//! * `upstream-none`: the hand-rolled upstream middleware of
//!   `http_bench_server.rs`, an `SdkTracerProvider` of its own without span
//!   processor, `tracing_opentelemetry::layer()` and the crate's log line
//!   layer (`trace_context_fmt_layer`, the same lines as the crate's);
//! * `upstream-noop`: the same + the SDK's `BatchSpanProcessor` with an
//!   exporter that does nothing;
//! * `upstream-http`, `upstream-grpc`: the same + `opentelemetry-otlp`'s
//!   exporter, OTLP/HTTP protobuf (its default client, blocking reqwest) or
//!   OTLP/gRPC (tonic), to the receiver.
//!
//! The crate's modes configure the crate with `ObservabilityBuilder` (service
//! name `bench`, endpoint and protocol in code); both sides read the
//! environment, so the same `OTEL_BSP_*` variables set both queues. The log
//! filter is `info` on both sides (`RUST_LOG` is not read). The exporting
//! modes need the receiver's address: `examples/otlp_sink.rs`.
//!
//! ```text
//! cargo run --release --example otlp_sink -- 127.0.0.1:4318 127.0.0.1:4317
//! cargo run --release --example export_bench_server -- ours-http 127.0.0.1:8081 127.0.0.1:4318
//! LISTENING ours-http http://127.0.0.1:8081
//! ```
//!
//! On SIGTERM (Ctrl-C off Unix) the server stops accepting, waits for its
//! open connections, then flushes and shuts down its pipeline (the crate: the
//! guard's drop; upstream: `SdkTracerProvider::shutdown_with_timeout`), both
//! with a deadline of 60 s instead of their 5 s, so that a backlog is
//! exported rather than dropped. Then it prints `SHUTDOWN <mode>` (the
//! `*-noop` modes add how many spans their exporter was given: `SHUTDOWN
//! <mode> exported=<n>`) and, on Linux, `CPU_TICKS <n>`: the process's user +
//! system time, every thread, in clock ticks (`getconf CLK_TCK`), read from
//! `/proc/self/stat`.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use distributed_tracing::config::{OtlpProtocol, TracesExporter};
use distributed_tracing::logging::{trace_context_fmt_layer, TraceContextFormat};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const MODES: &str = "plain, ours-none, ours-noop, ours-http, ours-grpc, upstream-none, upstream-noop, upstream-http or upstream-grpc";

async fn hello() -> &'static str {
    tracing::info!("hello");
    "hello"
}

/// The hand-rolled upstream middleware (as in `http_bench_server.rs`).
async fn upstream(request: Request, next: Next) -> Response {
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(request.headers()));
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %format!("{} /hello", request.method()),
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let _ = span.set_parent(parent);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// An exporter that drops every batch, counting its spans.
#[derive(Debug, Clone, Default)]
struct Noop(Arc<AtomicUsize>);

impl SpanExporter for Noop {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        std::future::ready(Ok(()))
    }
}

/// How long each side's shutdown may take to export what it holds.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(60);

/// Listens for SIGTERM (Ctrl-C off Unix) from now on; the future ends when
/// it comes.
fn terminated() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    async move {
        #[cfg(unix)]
        term.recv().await;
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.unwrap();
    }
}

/// This process's user + system time, every thread (those ended included),
/// in clock ticks: fields 14 and 15 of `/proc/self/stat` (Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The middleware of a mode.
enum Middleware {
    None,
    Ours,
    Upstream,
}

/// What `main` shuts down once the server has stopped.
enum Pipeline {
    Ours(Box<distributed_tracing::ObservabilityGuard>),
    Upstream(SdkTracerProvider),
}

/// The crate's pipeline: the process environment, with `RUST_LOG=info`.
fn ours(traces: Option<(&str, OtlpProtocol)>, noop: Option<Noop>) -> Pipeline {
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| k != "RUST_LOG")
        .chain([("RUST_LOG".to_owned(), "info".into())]);
    let mut builder = ObservabilityBuilder::default()
        .service_name("bench")
        .env_vars(env)
        .shutdown_deadline(SHUTDOWN_DEADLINE)
        .traces_exporter(TracesExporter::None);
    if let Some((endpoint, protocol)) = traces {
        builder = builder
            .traces_exporter(TracesExporter::Otlp)
            .otlp_endpoint(endpoint)
            .otlp_protocol(protocol);
    }
    if let Some(noop) = noop {
        builder = builder.span_exporter(noop);
    }
    Pipeline::Ours(Box::new(builder.init().unwrap()))
}

/// Upstream's pipeline: a provider of its own (a `BatchSpanProcessor` with
/// `exporter`, if any), `tracing_opentelemetry::layer()` and the crate's log
/// line layer with the crate's writer (a mutex around standard output) and
/// filter (`info`, the SDK's own lines at `warn`).
fn upstream_pipeline(exporter: Option<impl SpanExporter + 'static>) -> Pipeline {
    let mut provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("bench").build());
    if let Some(exporter) = exporter {
        // `BatchConfig` from `OTEL_BSP_*`, as the crate's.
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let stdout: Box<dyn Write + Send> = Box::new(std::io::stdout());
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "info,opentelemetry=warn",
        ))
        .with(
            trace_context_fmt_layer(TraceContextFormat::default()).with_writer(Mutex::new(stdout)),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .init();
    Pipeline::Upstream(provider)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "plain".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let receiver = args.next();
    let receiver = || {
        receiver
            .clone()
            .unwrap_or_else(|| panic!("mode {mode}: the receiver's address is needed"))
    };
    let http_url = || format!("http://{}/v1/traces", receiver());
    let grpc_url = || format!("http://{}", receiver());
    let noop = Noop::default();

    let (pipeline, middleware) = match mode.as_str() {
        "plain" => (ours(None, None), Middleware::None),
        "ours-none" => (ours(None, None), Middleware::Ours),
        "ours-noop" => (ours(None, Some(noop.clone())), Middleware::Ours),
        "ours-http" => (
            ours(Some((&http_url(), OtlpProtocol::HttpProtobuf)), None),
            Middleware::Ours,
        ),
        "ours-grpc" => (
            ours(Some((&grpc_url(), OtlpProtocol::Grpc)), None),
            Middleware::Ours,
        ),
        "upstream-none" => (upstream_pipeline(None::<Noop>), Middleware::Upstream),
        "upstream-noop" => (upstream_pipeline(Some(noop.clone())), Middleware::Upstream),
        "upstream-http" => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(http_url())
                .build()
                .unwrap();
            (upstream_pipeline(Some(exporter)), Middleware::Upstream)
        }
        "upstream-grpc" => {
            // Built inside the runtime: tonic's channel runs its connection
            // on it (the batch processor's thread only waits for answers).
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(grpc_url())
                .build()
                .unwrap();
            (upstream_pipeline(Some(exporter)), Middleware::Upstream)
        }
        other => panic!("mode {other}: {MODES}"),
    };
    let app = Router::new().route("/hello", get(hello));
    let app = match middleware {
        Middleware::None => app,
        Middleware::Ours => app.layer(ServerTraceLayer::new()),
        Middleware::Upstream => app.layer(axum::middleware::from_fn(upstream)),
    };

    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    // Answers to pipelined requests are written one by one: without
    // TCP_NODELAY, each after the first waits for the client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let terminated = terminated();
    println!("LISTENING {mode} http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated)
        .await
        .unwrap();

    // Blocking, off the runtime: upstream's gRPC export needs the runtime
    // running to send the last batch.
    tokio::task::spawn_blocking(move || match pipeline {
        Pipeline::Ours(guard) => drop(guard),
        Pipeline::Upstream(provider) => {
            if let Err(e) = provider.shutdown_with_timeout(SHUTDOWN_DEADLINE) {
                eprintln!("shutdown: {e}");
            }
        }
    })
    .await
    .unwrap();
    match mode.ends_with("-noop") {
        true => println!(
            "SHUTDOWN {mode} exported={}",
            noop.0.load(Ordering::Relaxed)
        ),
        false => println!("SHUTDOWN {mode}"),
    }
    if let Some(ticks) = cpu_ticks() {
        println!("CPU_TICKS {ticks}");
    }
}
