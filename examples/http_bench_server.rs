//! The server of the HTTP load benchmark (`benches/http_load.sh`): one axum
//! route, `GET /hello`, in one of three set-ups, all with the same
//! OpenTelemetry SDK and `tracing` subscriber installed:
//!
//! * `plain`: no tracing middleware (the baseline);
//! * `ours`: `distributed_tracing::middleware::ServerTraceLayer`;
//! * `upstream`: the usual hand-rolled upstream stack: a middleware that
//!   extracts the caller's context with the SDK's `TraceContextPropagator`,
//!   opens a `tracing` span (`otel.kind = "server"`), `set_parent`s it and
//!   instruments the handler with it (tracing-opentelemetry bridges the span);
//! * `axum-otel`: axum-tracing-opentelemetry's `OtelAxumLayer` (0.42, on the
//!   same opentelemetry 0.33), its span at `INFO`.
//!
//! ```text
//! cargo run --release --example http_bench_server --features reqwest -- ours 127.0.0.1:8081
//! ```

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use distributed_tracing::config::TracesExporter;
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry::propagation::TextMapPropagator;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

async fn hello() -> &'static str {
    "hello"
}

/// The hand-rolled upstream middleware.
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "plain".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    // Spans are recorded (sampled) but not exported: the comparison is about
    // the middleware, not the exporter.
    let _guard = ObservabilityBuilder::default()
        .service_name("bench")
        .traces_exporter(TracesExporter::None)
        // `info`: the upstream middlewares' spans are `INFO` spans, which a
        // stricter filter would disable (and so not measure).
        .env_vars([("RUST_LOG", "info")])
        .init()
        .unwrap();
    let app = Router::new().route("/hello", get(hello));
    let app = match mode.as_str() {
        "plain" => app,
        "ours" => app.layer(ServerTraceLayer::new()),
        "upstream" => app.layer(axum::middleware::from_fn(upstream)),
        "axum-otel" => app.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
        other => panic!("mode {other}: plain, ours, upstream or axum-otel"),
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("LISTENING {mode} http://{addr}");
    axum::serve(listener, app).await.unwrap();
}
