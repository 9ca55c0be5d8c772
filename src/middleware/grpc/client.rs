//! [`GrpcClientLayer`]: a CLIENT span for every call made through a tonic
//! `Channel`, its context written into the call's metadata.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use super::call::{Call, Known, Side};
use super::{GrpcBody, GrpcFuture};
use crate::middleware::attributes::DEFAULT_MAX_ATTRIBUTE_LEN;

/// The tower layer that traces every call made through a tonic `Channel`
/// (feature `grpc`): a CLIENT span named `package.Service/Method`, a child
/// of the current span, whose context goes into the request metadata (with
/// the global propagator); it records the same attributes as
/// [`GrpcServerLayer`](super::GrpcServerLayer) (every status but `OK` is
/// an error on this side) and ends when the response stream ends, fails, or
/// is dropped (`CANCELLED`).
/// A call the channel cannot make (no connection) is `UNAVAILABLE`.
///
/// The channel's requests carry only the path: give the server's address
/// with [`server`](Self::server) for `server.address` and `server.port`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::middleware::GrpcClientLayer;
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let traced = tower::ServiceBuilder::new()
///     .layer(GrpcClientLayer::new().server("127.0.0.1", Some(50051)))
///     .service(channel);
/// // `traced` is what a generated client takes: `InventoryClient::new(traced)`.
/// # drop(traced);
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Debug, Clone)]
pub struct GrpcClientLayer {
    server: Option<(String, Option<u16>)>,
    max_attribute_len: usize,
    spans: crate::bridge::Spans,
    metrics: crate::metrics::Recorder,
}

impl Default for GrpcClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcClientLayer {
    /// No server address (unless the requests carry one), values cut to
    /// [`DEFAULT_MAX_ATTRIBUTE_LEN`] bytes.
    pub const fn new() -> Self {
        Self {
            server: None,
            max_attribute_len: DEFAULT_MAX_ATTRIBUTE_LEN,
            spans: crate::bridge::Spans::Global,
            metrics: crate::metrics::Recorder::Global,
        }
    }

    /// The server the channel talks to, for `server.address` and
    /// `server.port` (a request's own authority wins).
    pub fn server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        self.server = Some((address.into(), port));
        self
    }

    /// Starts this layer's CLIENT spans with `provider` instead of the global
    /// provider (see [which tracer provider](crate::middleware#which-tracer-provider)).
    pub fn tracer_provider(
        mut self,
        provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    ) -> Self {
        self.spans = crate::bridge::Spans::of(provider);
        self
    }

    /// Whether calls are measured in `rpc.client.call.duration`
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

    /// The most bytes of each value copied into the span (the method, the
    /// server address, a `grpc-message`). Default [`DEFAULT_MAX_ATTRIBUTE_LEN`].
    pub const fn max_attribute_len(mut self, max: usize) -> Self {
        self.max_attribute_len = max;
        self
    }
}

impl<S> tower_layer::Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`GrpcClientLayer`].
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Debug, Clone)]
pub struct GrpcClientService<S> {
    inner: S,
    layer: GrpcClientLayer,
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for GrpcClientService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
    ResBody: http_body::Body,
{
    type Response = http::Response<GrpcBody<ResBody>>;
    type Error = S::Error;
    type Future = GrpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let parent = crate::context::with_current_context(Clone::clone);
        let known = Known {
            server: self.layer.server.as_ref(),
            metrics: Some(&self.layer.metrics),
            ..Known::default()
        };
        let call = Call::start(
            &req,
            Side::Client,
            &parent,
            Vec::new(),
            known,
            self.layer.max_attribute_len,
            &self.layer.spans,
        );
        crate::propagation::inject_context_into(
            &call.cx,
            &mut crate::propagation::HeaderMapInjector(req.headers_mut()),
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
