//! [`GrpcServerLayer`]: a SERVER span for every call a tonic `Server` serves.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use super::call::{Call, Known, Side};
use super::{GrpcBody, GrpcFuture};
use crate::middleware::attributes::{PeerFn, DEFAULT_MAX_ATTRIBUTE_LEN};
use crate::middleware::trust::{parent_of, Trust, TrustPolicy};

/// The tower layer that traces every call a tonic `Server` serves (feature
/// `grpc`).
///
/// Each call gets a SERVER span named `package.Service/Method`, a child of
/// the caller's context read from the request metadata (`traceparent`,
/// `tracestate`, `baggage`, or what the global propagator reads) under the
/// same [`Trust`] policy as HTTP, current while the handler runs and while
/// its response stream is polled. The span ends when the response stream
/// ends (its trailers carry the status), or when the call is cancelled (the
/// client went away: `CANCELLED`).
///
/// Attributes, after the semantic conventions for gRPC (see the
/// [table](crate::middleware#attributes-by-span-kind)): from the start, so
/// that a sampler sees them, `rpc.system.name = "grpc"`, `rpc.method =
/// "package.Service/Method"`, `server.address` and `server.port` (from the
/// request's `:authority`), and `network.peer.address` / `network.peer.port`
/// and `client.address` with a [`peer_fn`](Self::peer_fn); at the end `rpc.response.status_code`
/// (`"OK"`, `"NOT_FOUND"`, ...), and for the statuses a server counts as
/// errors (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
/// `UNAVAILABLE`, `DATA_LOSS`) `error.type` (the status's name) and an error
/// status whose description is the `grpc-message` (none without one). A
/// method of a service the server does not serve (see
/// [`services`](Self::services)) is recorded as `rpc.method = "_OTHER"` with
/// `rpc.method_original`, and the span is named `grpc`. Every value copied
/// from a request is cut to [`max_attribute_len`](Self::max_attribute_len)
/// bytes.
///
/// ```
/// use distributed_tracing::middleware::{GrpcServerLayer, Trust};
///
/// let _server = tonic::transport::Server::builder()
///     .layer(GrpcServerLayer::new().trust(Trust::Continue));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Debug, Clone)]
pub struct GrpcServerLayer<P = Trust> {
    policy: P,
    services: Option<&'static [&'static str]>,
    peer: Option<PeerFn>,
    max_attribute_len: usize,
    spans: crate::bridge::Spans,
    metrics: crate::metrics::Recorder,
}

impl Default for GrpcServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcServerLayer {
    /// Continues callers' traces ([`Trust::Continue`]), values copied from a
    /// request cut to [`DEFAULT_MAX_ATTRIBUTE_LEN`] bytes.
    pub const fn new() -> Self {
        Self {
            policy: Trust::Continue,
            services: None,
            peer: None,
            max_attribute_len: DEFAULT_MAX_ATTRIBUTE_LEN,
            spans: crate::bridge::Spans::Global,
            metrics: crate::metrics::Recorder::Global,
        }
    }
}

impl<P> GrpcServerLayer<P> {
    /// The trust policy: a [`Trust`] for every call, or a function deciding
    /// per call from its metadata (the HTTP/2 headers) and extensions.
    pub fn trust<Q: TrustPolicy>(self, policy: Q) -> GrpcServerLayer<Q> {
        GrpcServerLayer {
            policy,
            services: self.services,
            peer: self.peer,
            max_attribute_len: self.max_attribute_len,
            spans: self.spans,
            metrics: self.metrics,
        }
    }

    /// The services the server serves (`package.Service`; a tonic server's
    /// generated `NamedService::NAME`): a call to a method of any other is
    /// recorded as `rpc.method = "_OTHER"` with `rpc.method_original`, in a
    /// span named `grpc`, from its start. A method of a listed service (or,
    /// without the list, any method) is recorded as its path says, so that
    /// samplers see it when the span starts; if the server answers
    /// `UNIMPLEMENTED` (a method it does not serve), the span is renamed
    /// `grpc`, so that callers cannot mint span names, and `rpc.method`
    /// keeps the path's method (cut to the attribute bound).
    ///
    /// ```
    /// use distributed_tracing::middleware::GrpcServerLayer;
    /// use tonic::server::NamedService;
    /// type Health = tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>;
    ///
    /// let _layer = GrpcServerLayer::new().services(&[<Health as NamedService>::NAME]);
    /// ```
    pub const fn services(mut self, services: &'static [&'static str]) -> Self {
        self.services = Some(services);
        self
    }

    /// How to read the peer's address from a call's extensions
    /// (`network.peer.address`, `network.peer.port`, `client.address`; gRPC
    /// has no proxy headers the layer reads); for tonic:
    /// `|ext| ext.get::<tonic::transport::server::TcpConnectInfo>().and_then(|i| i.remote_addr())`.
    pub const fn peer_fn(mut self, peer: PeerFn) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Starts this layer's SERVER spans with `provider` instead of the global
    /// provider (see [which tracer provider](crate::middleware#which-tracer-provider)).
    pub fn tracer_provider(
        mut self,
        provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    ) -> Self {
        self.spans = crate::bridge::Spans::of(provider);
        self
    }

    /// Whether calls are measured in `rpc.server.call.duration`
    /// ([`crate::metrics`]): on by default, into the store
    /// [`init_observability`](crate::init_observability) installs
    /// ([`RequestMetrics::global`](crate::metrics::RequestMetrics::global);
    /// nothing is recorded without one). `true` goes back to that store after
    /// [`request_metrics`](Self::request_metrics).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = crate::metrics::Recorder::switch(on);
        self
    }

    /// Records this layer's measurements into `metrics` instead of the
    /// installed store.
    pub fn request_metrics(mut self, metrics: &crate::metrics::RequestMetrics) -> Self {
        self.metrics = crate::metrics::Recorder::Given(metrics.clone());
        self
    }

    /// The most bytes of each value copied from a request into the span
    /// (the method, the server address, a `grpc-message`). Default
    /// [`DEFAULT_MAX_ATTRIBUTE_LEN`] (1024).
    pub const fn max_attribute_len(mut self, max: usize) -> Self {
        self.max_attribute_len = max;
        self
    }
}

impl<S, P: Clone> tower_layer::Layer<S> for GrpcServerLayer<P> {
    type Service = GrpcServerService<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`GrpcServerLayer`].
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Debug, Clone)]
pub struct GrpcServerService<S, P = Trust> {
    inner: S,
    layer: GrpcServerLayer<P>,
}

impl<S, P, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>>
    for GrpcServerService<S, P>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
    P: TrustPolicy,
    ResBody: http_body::Body,
{
    type Response = http::Response<GrpcBody<ResBody>>;
    type Error = S::Error;
    type Future = GrpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let (parent, links) = parent_of(&self.layer.policy, req.headers(), req.extensions());
        let known = Known {
            server: None,
            services: self.layer.services,
            peer: self.layer.peer.and_then(|f| f(req.extensions())),
            metrics: Some(&self.layer.metrics),
        };
        let call = Call::start(
            &req,
            Side::Server,
            &parent,
            links,
            known,
            self.layer.max_attribute_len,
            &self.layer.spans,
        );
        let inner = {
            let _attached = call.cx.clone().attach();
            self.inner.call(req)
        };
        GrpcFuture {
            inner,
            call: Some(call),
        }
    }
}
