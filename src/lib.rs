//! W3C trace context for async Rust services, as a thin and strict bridge over
//! [OpenTelemetry](https://opentelemetry.io) and [`tracing`].
//!
//! Call [`init_observability`] once at start-up, put
//! [`middleware::ServerTraceLayer`] in front of your router and
//! [`middleware::ClientTraceMiddleware`] in your `reqwest` client, and log with `tracing` (or `log`) as usual. From then on every
//! request continues its caller's trace (or starts one), every log line written
//! while handling it carries its `trace_id`, every outgoing call carries the
//! trace on, and finished spans are exported over OTLP (by default, with
//! nothing configured, to a local file in the OTLP file format, which
//! [`otlp_file`] reads back and draws as a waterfall page).
//!
//! ```toml
//! [dependencies]
//! # `http-server` (the server layer) is on by default; `reqwest` adds the client side.
//! distributed-tracing = { version = "0.1", features = ["reqwest"] }
//! axum = "0.8"
//! reqwest = "0.13"
//! reqwest-middleware = "0.5"
//! tokio = { version = "1.40", features = ["full"] }
//! tracing = "0.1"
//! ```
//!
//! # Example
//!
//! A service that answers `GET /users/{id}` and calls itself through the
//! traced client: the client's CLIENT span and the server's SERVER span are one
//! trace, and the handler's log line carries its id.
//!
//! ```
//! # #[cfg(not(all(feature = "http-server", feature = "reqwest")))] fn main() {}
//! # #[cfg(all(feature = "http-server", feature = "reqwest"))]
//! # mod example {
//! use axum::{extract::{MatchedPath, Path}, routing::get, Router};
//! use distributed_tracing::middleware::{ServerTraceLayer, ClientTraceMiddleware};
//! use tracing::{info, instrument};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     # // The doctest exports nowhere (no spans file in your home folder).
//!     # std::env::set_var("OTEL_TRACES_EXPORTER", "none");
//!     // Once, at start-up: propagators, tracer provider, exporter, log lines.
//!     // Dropping the guard at the end of `main` flushes the last spans.
//!     let _guard = distributed_tracing::init_observability()?;
//!
//!     // Server: every request continues the caller's trace (or starts one).
//!     let app = Router::new()
//!         .route("/users/{id}", get(user))
//!         // `layer`, not `route_layer`: requests no route matches (404) are
//!         // traced too, and the span of a matched one knows its route.
//!         .layer(ServerTraceLayer::new().route_fn(|ext| {
//!             ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())
//!         }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     tokio::spawn(async move { axum::serve(listener, app).await });
//!
//!     // Client: every call gets a CLIENT span whose context goes in the headers.
//!     let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!         .with(ClientTraceMiddleware::new())
//!         .build();
//!     let body = client.get(format!("http://{addr}/users/7")).send().await?.text().await?;
//!     assert_eq!(body, "user 7");
//!     Ok(())
//! }
//!
//! // Log as usual: the line carries the request's trace id.
//! #[instrument]
//! async fn user(Path(id): Path<u32>) -> String {
//!     info!(id, "looking the user up"); // [4bf92f3577b34da6a3ce929d0e0e4736] [INFO    ] looking the user up id=7
//!     format!("user {id}")
//! }
//! # pub(super) fn run() -> Result<(), Box<dyn std::error::Error>> { main() }
//! # }
//! # #[cfg(all(feature = "http-server", feature = "reqwest"))]
//! # fn main() { example::run().unwrap() }
//! ```
//!
//! A future given to `tokio::spawn` starts without the trace: use
//! [`spawn`] / [`spawn_blocking`] instead, or
//! [`.in_current_trace()`](TraceFutureExt::in_current_trace) on the future
//! ([`spawn`] shows the failure it prevents).
//!
//! # Map
//!
//! | path | what you find there |
//! |---|---|
//! | crate root | what a service starts from. Start-up: [`init_observability`], [`ObservabilityBuilder`] (configuration in code, over the `OTEL_*` variables), [`ObservabilityGuard`] (flush on drop, [`ExportStats`]); the one [`Error`] (with [`Shown`], how it quotes a value) and [`Result`]. The current trace: [`current_trace_id`], [`current_span_id`], [`current_trace_flags`], [`current_span_context`], [`current_trace_id_hex`], [`with_current_span_context`]; scopes: [`DistributedTraceContext`], [`TraceContextGuard`], [`Scoped`]. Headers: [`inject_trace_context`], [`extract_trace_context_from_headers`], [`extract_trace_context_from_pairs`], [`ExtractedContext`]. Tasks: [`spawn`], [`spawn_blocking`], [`TraceFutureExt`], [`InCurrentTrace`], [`in_current_trace_fn`] (threads), [`spawn_background_job`] (a new trace linked to its cause). Ids: [`new_trace_id`], [`new_span_id`], [`parse_trace_id`], [`parse_span_id`], [`TraceIdHex`], [`SpanIdHex`]. The `tracing` bridge layer for your own subscriber: [`otel_layer`] |
//! | [`middleware`] | [`middleware::ServerTraceLayer`] (tower server middleware for axum, hyper, tonic) and its [`middleware::Trust`] policy for edge services; [`middleware::ClientTraceMiddleware`] and [`middleware::RequestBuilderExt`] for reqwest; [`middleware::inject_into_request`] for any `http::Request` |
//! | [`metrics`] | the request metrics the layers record: [`metrics::RequestMetrics`] (the store, its cardinality limit, [`metrics::RequestMetrics::collect`]), [`metrics::Histogram`], [`metrics::HistogramPoint`], [`metrics::Exemplar`] |
//! | [`messaging`] | trace context across message brokers: [`messaging::Messaging`] (PRODUCER and CONSUMER spans by the messaging conventions, [`messaging::PairsInjector`]); `messaging::nats` (feature `nats`) for core NATS and JetStream, `messaging::amqp` (feature `amqp`) for RabbitMQ |
//! | [`config`] | what [`init_observability`] resolved ([`config::EffectiveConfig`], [`config::ConfigIssue`]) and the types the builder takes ([`config::SamplerConfig`], [`config::OtlpProtocol`], [`config::TracesExporter`], ...) |
//! | [`logging`] | the log line formats with trace ids ([`logging::TraceContextFormat`], [`logging::JsonFormat`], [`logging::DEFAULT_PATTERN`]) and their layers for a subscriber stack of your own ([`logging::trace_context_fmt_layer`], [`logging::json_fmt_layer`]) |
//! | `testing` (feature) | what a test asserts on: [`testing::TestTelemetry`], the spans, log lines and request metrics of one test, scoped to its thread |
//! | [`bridge`] | the `tracing`-to-OpenTelemetry layer with options: [`bridge::otel_layer_with`] (the global provider), [`bridge::otel_layer_for`] (a provider of your own), [`bridge::BridgeOptions`], [`bridge::SpanEvents`] |
//! | [`propagation`] | strict W3C `traceparent`/`tracestate` and `baggage` ([`propagation::W3cPropagator`]), B3, Jaeger, X-Ray and Datadog; the carriers ([`propagation::HeaderMapInjector`], ...) and [`propagation::inject_context_into`] / [`propagation::extract_context_from`] for any OpenTelemetry carrier |
//! | [`otlp_file`] | the OTLP file format of the spans file and `console`: [`otlp_file::read`] and [`otlp_file::Reader`] (strict, bounded), [`otlp_file::Batch`], the metrics file ([`otlp_file::read_metrics`]), the waterfall page ([`otlp_file::waterfall_html`], [`otlp_file::WaterfallOptions`]); the `trace-waterfall` binary draws a file |
//! | [`compat`] | the Python module's functions by their old names ([`compat::get_trace_id`], [`compat::init_trace_context`], ...), each a shim over the API above |
//! | [`reference`](mod@reference) | no code: the reference pages (the repository's `docs/` folder). [`reference::configuration`] (every variable), [`reference::export`] (Jaeger, the collector, vendors; the export guarantees; the spans file), [`reference::metrics`] (the request metrics), [`reference::security`], [`reference::w3c`], [`reference::services`] (HTTP and gRPC in detail), [`reference::migration`] (from the Python module), [`reference::performance`], [`reference::testing`] |
//!
//! [`opentelemetry`], [`opentelemetry_sdk`] and [`tracing_opentelemetry`] are
//! re-exported, so that your code builds against the versions this crate uses.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `log` | yes | records of the `log` crate bridged into `tracing`, so they carry the trace ids too |
//! | `otlp-grpc` | yes | OTLP/gRPC export (tonic), plain text or TLS (rustls, `ring`) |
//! | `otlp-http` | yes | OTLP/HTTP export with protobuf bodies (hyper), plain text or TLS (rustls, `ring`) |
//! | `http-server` | yes | [`middleware::ServerTraceLayer`], the tower server middleware |
//! | `reqwest` | no | [`middleware::ClientTraceMiddleware`] for reqwest-middleware, [`middleware::RequestBuilderExt`] |
//! | `grpc` | no | [`middleware::GrpcServerLayer`] for a tonic `Server`, [`middleware::GrpcClientLayer`] for a tonic `Channel`, with the gRPC semantic conventions; implies `http-server` |
//! | `jaeger-remote-sampler` | no | `OTEL_TRACES_SAMPLER=jaeger_remote` / `parentbased_jaeger_remote` ([`config::SamplerConfig::JaegerRemote`]): the sampling strategy polled from a Jaeger sampling endpoint |
//! | `logs` | no | `tracing` events also exported as OTLP log records next to the spans, with the ids of their span (`OTEL_LOGS_EXPORTER`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`) |
//! | `amqp` | no | `messaging::amqp`: PRODUCER and CONSUMER spans for RabbitMQ (AMQP 0.9.1) through `amqprs` |
//! | `nats` | no | `messaging::nats`: PRODUCER and CONSUMER spans for core NATS and JetStream through `async-nats` (which needs Rust 1.89) |
//! | `testing` | no | [`testing::TestTelemetry`]: the spans, log lines and request metrics of one test, scoped to its thread (for `[dev-dependencies]`) |
//!
//! Configuration follows the OpenTelemetry environment variables
//! (`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_PROPAGATORS`, ...; see [`config::EffectiveConfig`] and
//! [`reference::configuration`]). The [`reference`](mod@reference) pages have the rest: the
//! table from the Python module this crate replaces, the security model, the
//! export guarantees and the measurements.
//!
//! The minimum supported Rust version is 1.85.

#![cfg_attr(docsrs, feature(doc_cfg))]
// The lints (`unsafe_code` forbidden, `missing_docs`, ...) are in Cargo.toml's
// `[lints]`.

pub mod bridge;
pub mod compat;
pub mod config;
mod context;
mod error;
mod export;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[doc(hidden)]
pub mod fuzzing;
mod ids;
mod init;
pub mod logging;
pub mod messaging;
pub mod metrics;
pub mod middleware;
pub mod otlp_file;
pub mod propagation;
pub mod reference;
mod task;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod untrusted;

// The crate root: what a new user starts from. Every other public item has
// one path, through its module above.
pub use bridge::layer::otel_layer;
pub use context::{
    current_span_context, current_span_id, current_trace_flags, current_trace_id,
    current_trace_id_hex, inject_trace_context, with_current_span_context, DistributedTraceContext,
    Scoped, TraceContextGuard,
};
pub use error::{Error, Result, Shown};
pub use export::ExportStats;
pub use ids::{new_span_id, new_trace_id, parse_span_id, parse_trace_id, SpanIdHex, TraceIdHex};
pub use init::{init_observability, ObservabilityBuilder, ObservabilityGuard};
pub use propagation::extract::{
    extract_trace_context_from_headers, extract_trace_context_from_pairs, ExtractedContext,
};
pub use task::{
    in_current_trace_fn, spawn, spawn_background_job, spawn_blocking, InCurrentTrace,
    TraceFutureExt,
};

// The README is the repository's front page, no longer the crate docs: its
// Rust code blocks are still compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// Re-exported so that users build against the exact versions this crate uses.
pub use opentelemetry;
pub use opentelemetry_sdk;
pub use tracing_opentelemetry;
