//! HTTP in and out: the server middleware that continues (or starts) a trace
//! for every request, and the client side that carries it to the next service.
//!
//! * [`ServerTraceLayer`] (feature `http-server`): a tower `Layer`, so it serves axum,
//!   hyper and tonic alike. For every request it extracts the caller's context
//!   with the global propagator, starts a SERVER span as its child (or a new
//!   trace), makes it current for the handler, records the HTTP semantic
//!   convention attributes and ends the span when the response body is done.
//!   A [`Trust`] policy decides, per request, whether a caller's context is
//!   continued, only linked, or ignored.
//! * [`inject_into_request`]: the current context into any `http::Request`
//!   (hyper and others); with feature `reqwest`, [`ClientTraceMiddleware`] for
//!   `reqwest-middleware` (a CLIENT span per call) and
//!   [`RequestBuilderExt::with_trace_context`] for a plain `reqwest::RequestBuilder`.
//! * gRPC (feature `grpc`): [`GrpcServerLayer`] on a tonic `Server` (a SERVER
//!   span per call, the caller's context read from the metadata under the
//!   same [`Trust`] policy) and [`GrpcClientLayer`] on a tonic `Channel` (a
//!   CLIENT span per call, its context written into the metadata), with the
//!   gRPC semantic conventions' attributes and the call's status from the
//!   trailers.
//!
//! # What a request can put into a span
//!
//! Spans wait in the exporter's queue with their attributes, so both sides
//! bound what they copy from a request:
//!
//! * every value is cut to at most [`DEFAULT_MAX_ATTRIBUTE_LEN`] (1024) bytes,
//!   at a UTF-8 character boundary: on the server `user_agent.original`,
//!   `url.path`, `url.query`, `url.scheme`, `http.route` (and so the span
//!   name) and `http.request.method_original`; on the client `url.full`,
//!   `server.address` and `http.request.method_original`. Change it with
//!   [`ServerTraceLayer::max_attribute_len`] and
//!   [`ClientTraceMiddleware::max_attribute_len`];
//! * a method outside [`DEFAULT_KNOWN_METHODS`] (the semantic conventions'
//!   list) is recorded as `http.request.method = "_OTHER"`, the method itself
//!   in `http.request.method_original`, and names the span `HTTP` (or
//!   `HTTP {route}`), so a caller cannot mint span names; `known_methods`
//!   on either side replaces the list;
//! * the values of the query keys `AWSAccessKeyId`, `Signature`, `sig` and
//!   `X-Goog-Signature` are recorded as `REDACTED` in `url.query` and
//!   `url.full`, and credentials in a client's URL as `REDACTED:REDACTED`,
//!   as the semantic conventions ask.

#[cfg(any(feature = "http-server", feature = "reqwest"))]
mod attributes;
mod client;
#[cfg(feature = "http-server")]
mod forwarded;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http-server")]
mod server;

#[cfg(any(feature = "http-server", feature = "reqwest"))]
pub use attributes::{DEFAULT_KNOWN_METHODS, DEFAULT_MAX_ATTRIBUTE_LEN};
pub use client::inject_into_request;
#[cfg(feature = "reqwest")]
pub use client::{ClientTraceMiddleware, RequestBuilderExt};
#[cfg(feature = "http-server")]
pub use forwarded::Forwarded;
#[cfg(feature = "grpc")]
pub use grpc::{
    GrpcBody, GrpcClientLayer, GrpcClientService, GrpcFuture, GrpcServerLayer, GrpcServerService,
};
#[cfg(feature = "http-server")]
pub use server::{
    PeerFn, ResponseFuture, RouteFn, ServerTraceLayer, ServerTraceService, TracedBody, Trust,
    TrustPolicy,
};

/// Which end of an HTTP exchange a span is: it decides which statuses are
/// errors.
#[cfg(any(feature = "http-server", feature = "reqwest"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    Client,
}

/// Records an HTTP response status on a span: `http.response.status_code`,
/// and for an error `error.type` (the code as text, `"503"`) and an error
/// status without a description (the conventions: none that the status code
/// already says). A 5xx is an error on both sides; a 4xx only on the client
/// (the conventions: 4xx MUST leave a SERVER span unset, the caller's mistake
/// is not the server's error, and SHOULD be an error on a CLIENT span, whose
/// call failed). Returns whether it was an error.
#[cfg(any(feature = "http-server", feature = "reqwest"))]
fn record_status(
    span: &opentelemetry::trace::SpanRef<'_>,
    status: ::http::StatusCode,
    side: Side,
    more: Option<opentelemetry::KeyValue>,
) -> bool {
    let code =
        opentelemetry::KeyValue::new("http.response.status_code", i64::from(status.as_u16()));
    let error = status.is_server_error() || (side == Side::Client && status.is_client_error());
    // One `set_attributes`: the span's lock is taken once for all.
    let error_type =
        error.then(|| opentelemetry::KeyValue::new("error.type", status.as_str().to_owned()));
    span.set_attributes([Some(code), error_type, more].into_iter().flatten());
    if error {
        span.set_status(opentelemetry::trace::Status::error(""));
    }
    error
}

/// `network.protocol.version` of an HTTP version (both sides).
#[cfg(any(feature = "http-server", feature = "reqwest"))]
fn protocol_version(version: ::http::Version) -> &'static str {
    match version {
        ::http::Version::HTTP_10 => "1.0",
        ::http::Version::HTTP_11 => "1.1",
        ::http::Version::HTTP_2 => "2",
        ::http::Version::HTTP_3 => "3",
        _ => "0.9",
    }
}
