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
//! # Which tracer provider
//!
//! The layers start their spans through the global tracer provider, the one
//! [`init_observability`](crate::init_observability) installs. For an
//! `SdkTracerProvider` of your own that is not installed globally, give it to
//! each layer with `.tracer_provider(&provider)` (and to the `tracing` bridge
//! with [`otel_layer_for`](crate::bridge::otel_layer_for)): the crate's fast
//! path (one cached tracer) and its W3C Level 2 `random` flag hold as with the
//! global one.
//!
//! # What a request can put into a span
//!
//! Spans wait in the exporter's queue with their attributes, so both sides
//! bound what they copy from a request:
//!
//! * every value is cut to at most [`DEFAULT_MAX_ATTRIBUTE_LEN`] (1024) bytes,
//!   at a UTF-8 character boundary: on the server `user_agent.original`,
//!   `url.path`, `url.query`, `url.scheme`, `server.address` (from `Host` or
//!   a believed proxy's header), `client.address`, `http.route` (and so the
//!   span name) and `http.request.method_original`; on the client `url.full`,
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
//!   `url.full`, and credentials in a client's URL as `REDACTED:REDACTED`
//!   (v1.44.0's list of keys differs: see the deviations below).
//!
//! # Attributes by span kind
//!
//! The layers follow the OpenTelemetry semantic conventions **v1.44.0**: the
//! stable [HTTP spans](https://opentelemetry.io/docs/specs/semconv/http/http-spans/)
//! and the release candidate of the
//! [RPC spans](https://opentelemetry.io/docs/specs/semconv/rpc/grpc/) for gRPC.
//! Each cell gives the conventions' level for that span kind, then when the
//! crate records it. Level: **R** required, **C** conditionally required
//! (its condition in the last column), **r** recommended, **O** opt-in, **-**
//! not in that span kind's conventions. *start*: in the span's builder, so
//! that a sampler sees it; `*` after it: one the conventions mark
//! sampling-relevant (to be given at span creation); *end*: when the answer
//! (or its absence) is known; no time: not recorded; a blank cell: neither
//! in the conventions nor recorded.
//!
//! | attribute | HTTP server | HTTP client (reqwest) | gRPC server | gRPC client | condition |
//! |---|---|---|---|---|---|
//! | `http.request.method` (`_OTHER` outside the known methods) | R start\* | R start\* | | | |
//! | `http.request.method_original` | C start | C start | | | iff different from `http.request.method` |
//! | `url.path` | R start\* | | | | |
//! | `url.scheme` | R start\* (1) | O | | | |
//! | `url.query` | C start\* | | | | iff one was received |
//! | `url.full` | | R start\* | | | |
//! | `http.route` | C start ([`ServerTraceLayer::route_fn`]) | | | | iff available |
//! | `server.address` | r start\* (1) | R start\* | C start\* (`:authority`) | R start\* ([`GrpcClientLayer::server`]) | gRPC server: if available |
//! | `server.port` | C start\* (1) | R start\* | C start\* (`:authority`) | C start\* ([`GrpcClientLayer::server`]) | HTTP server: if available and `server.address` is set; gRPC server: if applicable and `server.address` is set; gRPC client: iff the port is available and `server.address` is set |
//! | `client.address` | r start\* (2) | | - start (2) | | |
//! | `network.peer.address`, `network.peer.port` | r start (2) | r end (the response's) | r start (2) | r | `network.peer.port`: recommended if `network.peer.address` is set |
//! | `network.protocol.version` | r start | r end (the response's) | | | |
//! | `user_agent.original` | r start\* | O | | | |
//! | `http.response.status_code` | C end | C end | | | iff one was received/sent |
//! | `rpc.system.name` (`grpc`) | | | R start\* | R start\* | |
//! | `rpc.method` (`package.Service/Method`) | | | C start\* (3) | R start\* | gRPC server: if available |
//! | `rpc.method_original` | | | C start (3) | C start | iff different from `rpc.method` |
//! | `rpc.response.status_code` (`OK`, `NOT_FOUND`, ...) | | | R end | R end | |
//! | `error.type` | C end (4) | C end (4) | C end (5) | C end (5) | HTTP: if the request ended with an error; gRPC: iff the call failed |
//!
//! 1. The request target's in absolute form or HTTP/2's `:authority`, a
//!    believed proxy's `host` ([`Forwarded`]), else the `Host` header; without
//!    a port, the scheme's (80, 443). `url.scheme`: the request's, a believed
//!    proxy's `proto`, else [`ServerTraceLayer::scheme`] (`http` by default:
//!    the layer cannot see TLS).
//! 2. With a [`PeerFn`] ([`ServerTraceLayer::peer_fn`],
//!    [`GrpcServerLayer::peer_fn`]; one-liners for axum, tonic and hyper
//!    there): the layers cannot see the connection. `client.address` is a
//!    believed proxy's `for`, else the peer's address; proxies' headers are
//!    ignored unless [`Forwarded`] says to believe them.
//! 3. A method of a service not in [`GrpcServerLayer::services`] (when given)
//!    is `_OTHER`, with the method in `rpc.method_original`, and names the
//!    span `grpc`.
//! 4. The status code as text (`"503"`) for 5xx on both sides and 4xx on the
//!    client; with no answer: `handler_error` (server), `connect`, `timeout`,
//!    `redirect`, `request`, `body`, `_OTHER` (reqwest); `response_body`
//!    when the body failed. A client call the caller gave up (its future
//!    dropped) is not an error: status unset, no `error.type` (v1.44.0).
//! 5. The status's name for the statuses the side counts as errors (a
//!    client every status but `OK`; a server `UNKNOWN`, `DEADLINE_EXCEEDED`,
//!    `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`).
//!
//! Span status: an error exactly when `error.type` is set, and unset
//! otherwise (a server's 4xx MUST be unset, a client's SHOULD be an error).
//! Its description is the error's own words (a handler's or transport's
//! error, the `grpc-message`), and empty when the status code or gRPC status
//! already says it all, as the conventions ask.
//!
//! Where the crate deviates, and why:
//!
//! * a gRPC server cannot tell, before the answer, a method it does not
//!   serve from one it does: a method of a listed service (or any, without
//!   [`GrpcServerLayer::services`]) is recorded as its path says, for
//!   samplers; on `UNIMPLEMENTED` the span is renamed `grpc` (callers cannot
//!   mint span names) but `rpc.method` stays, as the SDK cannot replace an
//!   attribute;
//! * `network.peer.*` are not recorded on gRPC CLIENT spans (a tonic
//!   `Channel` does not expose its connection), nor
//!   `http.request.resend_count` on reqwest's (retries are another
//!   middleware's);
//! * a server request whose caller went away before the answer ends with no
//!   status code and an unset status (the conventions say nothing; it is not
//!   the server's error);
//! * `client.address` is recorded on gRPC SERVER spans as on HTTP ones,
//!   though the gRPC conventions do not list it;
//! * the redacted query keys are v1.44.0's (`X-Amz-Signature`,
//!   `X-Amz-Credential`, `X-Amz-Security-Token`, `sig`,
//!   `X-Goog-Signature`) and also AWS's older `AWSAccessKeyId` and
//!   `Signature`;
//! * of a proxy header's list, the first element is recorded (the client as
//!   the first proxy saw it): believe them only behind a proxy that sets them.
//!
//! The conventions' next release renames `rpc.response.status_code` to
//! `rpc.status_code`. The crate will follow it when that release is out:
//! first as a documented switch on both gRPC layers that records the new
//! name, then as the default in the crate's next breaking release (with the
//! switch kept to record the old name for dashboards that need it). Until
//! then, it records `rpc.response.status_code`, the v1.44.0 name.
//!
//! # Attributes of the request metrics
//!
//! Level: **R** required, **C** conditionally required, **r** recommended,
//! **O** opt-in, **-** not in that metric. A blank cell: neither in the
//! conventions nor recorded.
//!
//! | attribute | HTTP server | HTTP client | RPC server | RPC client | its values, bounded by |
//! |---|---|---|---|---|---|
//! | `http.request.method` | R | R | | | the known methods (`DEFAULT_KNOWN_METHODS` or the layer's list), else `_OTHER` |
//! | `url.scheme` | R | O (not recorded) | | | `http`, `https`, else `_OTHER` (deviation: a caller's absolute-form request or a believed proxy could name any scheme) |
//! | `http.route` | C: when the route function gives one | | | | the routes the server declares; a request no route matched has none |
//! | `http.response.status_code` | C: when one was sent | C: when one was received | | | 100 to 999 |
//! | `error.type` | C: 5xx as its code, `handler_error`, `response_body` | C: 4xx and 5xx as the code, `connect`, `timeout`, `redirect`, `request`, `body`, `_OTHER` | C: the status's name for the server's errors | C: every status but `OK` | the fixed lists on the left |
//! | `network.protocol.version` | r | r (of the response) | | | `1.0`, `1.1`, `2`, `3`, `0.9` |
//! | `network.protocol.name` | C: if not `http` (never: always `http`) | C (idem) | | | |
//! | `server.address` | O (not recorded: taken from the request's headers) | R | O (not recorded) | C: the channel's ([`GrpcClientLayer::server`](crate::middleware::GrpcClientLayer::server)), else the request's authority | the addresses the service calls (a client's choice, not a caller's) |
//! | `server.port` | O (not recorded) | R | O (not recorded) | C: when known | |
//! | `user_agent.synthetic.type` | O (not recorded) | | | | |
//! | `url.template` | | O (not recorded) | | | |
//! | `rpc.system.name` | | | R: `grpc` | R: `grpc` | |
//! | `rpc.method` | | | C: `package.Service/Method`; a method the server answers `UNIMPLEMENTED` for is `_OTHER` | C: the path's method | the methods the server implements; the client's calls |
//! | `rpc.response.status_code` | | | C: the status's name | C | the 17 gRPC status names |
//!
//! See [`crate::metrics`] for the store, the cardinality limit and the
//! exemplars, and [`reference::metrics`](crate::reference::metrics) for their export.

#[cfg(any(feature = "http-server", feature = "reqwest"))]
mod attributes;
#[cfg(feature = "http-server")]
mod forwarded;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
#[cfg(any(feature = "http-server", feature = "reqwest"))]
mod metered;
#[cfg(feature = "http-server")]
mod trust;

#[cfg(any(feature = "http-server", feature = "reqwest"))]
pub use self::attributes::{DEFAULT_KNOWN_METHODS, DEFAULT_MAX_ATTRIBUTE_LEN};
#[cfg(feature = "grpc")]
pub use self::grpc::{
    GrpcBody, GrpcClientLayer, GrpcClientService, GrpcFuture, GrpcServerLayer, GrpcServerService,
};
pub use self::http::inject_into_request;
#[cfg(feature = "reqwest")]
pub use self::http::{ClientTraceMiddleware, RequestBuilderExt};
#[cfg(feature = "http-server")]
pub use self::{
    attributes::PeerFn,
    forwarded::Forwarded,
    http::{ResponseFuture, RouteFn, ServerTraceLayer, ServerTraceService, TracedBody},
    trust::{Trust, TrustPolicy},
};
