//! Request metrics from the same layers as the spans: the semantic
//! conventions' (v1.44.0) duration histograms, each linked to its traces by
//! exemplars.
//!
//! The middleware records, from the start and end of the span it makes for a
//! request (one clock read at each end serves both):
//!
//! | metric | layer | attributes |
//! |---|---|---|
//! | `http.server.request.duration` | [`ServerTraceLayer`](crate::middleware::ServerTraceLayer) | `http.request.method`, `url.scheme`, `http.route`, `http.response.status_code`, `error.type`, `network.protocol.version` |
//! | `http.client.request.duration` | `ClientTraceMiddleware` | `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, `error.type`, `network.protocol.version` |
//! | `rpc.server.call.duration` | `GrpcServerLayer` | `rpc.system.name`, `rpc.method`, `rpc.response.status_code`, `error.type` |
//! | `rpc.client.call.duration` | `GrpcClientLayer` | `rpc.system.name`, `rpc.method`, `server.address`, `server.port`, `rpc.response.status_code`, `error.type` |
//!
//! All in seconds, with the conventions' buckets ([`DURATION_BUCKETS`]).
//! [`reference::metrics`](crate::reference::metrics) says what bounds each
//! attribute, how exemplars are kept and how they are exported.
//!
//! # Bounded
//!
//! No attribute holds a value a caller chooses freely: a method outside the
//! known ones is `_OTHER`, a request no route matched has no `http.route`,
//! a gRPC method the server does not implement is `_OTHER`. And each
//! instrument keeps at most [`RequestMetrics::cardinality_limit`] series;
//! past it, measurements go to the overflow series
//! ([`OVERFLOW_ATTRIBUTE`]` = true`), counted there.
//!
//! # Exemplars
//!
//! A measurement taken inside a sampled span is offered to its bucket's
//! reservoir: each bucket of each series keeps one, picked uniformly among
//! those of the interval, with the span's trace and span id. The
//! OpenTelemetry Rust SDK (0.33) does not fill exemplars
//! (opentelemetry-rust#3369), which is why the crate keeps its own store.
//!
//! ```
//! use distributed_tracing::metrics::{Instrument, RequestMetrics, Temporality};
//! let metrics = RequestMetrics::new();
//! // ... give it to a layer: `ServerTraceLayer::new().request_metrics(&metrics)`
//! assert!(metrics.collect(Temporality::Cumulative).is_empty());
//! assert_eq!(metrics.series_count(Instrument::HttpServer), 0);
//! ```

mod data;
mod instrument;
mod store;

pub use data::{Exemplar, Histogram, HistogramPoint, Temporality};
pub use instrument::{Instrument, DURATION_BUCKETS};
#[cfg(feature = "testing")]
pub(crate) use store::set_scoped;
#[cfg(any(feature = "http-server", feature = "reqwest"))]
pub(crate) use store::{Attrs, Recorder, Val};
pub use store::{RequestMetrics, DEFAULT_CARDINALITY_LIMIT, OVERFLOW_ATTRIBUTE};

/// The instrumentation scope of the request metrics: the crate's name and version.
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
