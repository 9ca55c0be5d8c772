//! gRPC (feature `grpc`): [`GrpcServerLayer`] for a tonic `Server` and
//! [`GrpcClientLayer`] for a tonic `Channel`. Both are tower layers over
//! `http::Request`/`http::Response`, so the crate does not depend on tonic.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use super::attributes::{capped, DEFAULT_MAX_ATTRIBUTE_LEN};
use super::server::{parent_of, Trust, TrustPolicy};

/// `rpc.system.name` (and the span name of a call whose method is not known).
const GRPC: &str = "grpc";

/// The names of a status's metadata, made once (a `&str` name is parsed again
/// at every look-up).
const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");

/// The attributes a span starts with (`rpc.system.name`, `rpc.method`,
/// `rpc.method_original`, `server.address`, `server.port`,
/// `network.peer.address`, `network.peer.port`, `client.address`) and the
/// most it gets at its end (`rpc.response.status_code`, `error.type`): the
/// SDK keeps the `Vec` the span starts with, so one with room for all never
/// grows.
const MAX_ATTRIBUTES: usize = 10;

/// The gRPC status codes by number, as `rpc.response.status_code` records them.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

const CANCELLED: u8 = 1;
const UNKNOWN: u8 = 2;
const UNIMPLEMENTED: u8 = 12;
const UNAVAILABLE: u8 = 14;

/// The side of a call, which decides what is an error: every status but OK
/// for a client; for a server, only those the semantic conventions list
/// (a caller's bad argument is not the server's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

impl Side {
    fn is_error(self, code: u8) -> bool {
        match self {
            Side::Client => code != 0,
            // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
        }
    }
}

/// `"pkg.Service/Method"` of a request path `/pkg.Service/Method`, if it has
/// that form.
fn method_of(path: &str) -> Option<&str> {
    let method = path.strip_prefix('/')?;
    // Bytes, not `char` patterns: a path is short, and `/` is ASCII.
    let slash = method.bytes().position(|b| b == b'/')?;
    let name = &method.as_bytes()[slash + 1..];
    (slash > 0 && !name.is_empty() && !name.contains(&b'/')).then_some(method)
}

/// A status code from a `grpc-status` value (`0` to `16`).
fn parse_code(value: &http::HeaderValue) -> Option<u8> {
    let code: u8 = std::str::from_utf8(value.as_bytes()).ok()?.parse().ok()?;
    (usize::from(code) < CODES.len()).then_some(code)
}

/// One traced call: its span's context and what is known of its end.
#[derive(Debug)]
struct Call {
    cx: Context,
    side: Side,
    /// A server's call whose method was recorded as it came: an
    /// `UNIMPLEMENTED` answer renames the span `grpc`.
    renamable: bool,
    /// The status the response's headers carried (a trailers-only response).
    status: Option<(u8, Option<String>)>,
    max_attribute_len: usize,
}

/// What a layer knows of the calls it traces, besides the request.
#[derive(Debug, Default, Clone, Copy)]
struct Known<'a> {
    /// The server the channel talks to (client).
    server: Option<&'a (String, Option<u16>)>,
    /// The services served (server), if the user listed them.
    services: Option<&'static [&'static str]>,
    /// The peer's address (server, from its `peer_fn`).
    peer: Option<std::net::SocketAddr>,
}

impl Call {
    /// Starts the call's span with the sampling-relevant attributes
    /// (`rpc.system.name`, `rpc.method`, `server.address`, `server.port`) in
    /// the builder, so a sampler sees them.
    fn start<B>(
        req: &http::Request<B>,
        side: Side,
        parent: &Context,
        links: Vec<opentelemetry::trace::Link>,
        known: Known<'_>,
        max: usize,
    ) -> Call {
        let path = req.uri().path();
        // A method is known to the instrumentation when the path has its form
        // and, on a server given its services, one of them serves it.
        let method = method_of(path).filter(|method| match known.services {
            Some(services) => method
                .rsplit_once('/')
                .is_some_and(|(service, _)| services.contains(&service)),
            None => true,
        });
        let mut attributes = Vec::with_capacity(MAX_ATTRIBUTES);
        attributes.push(KeyValue::new("rpc.system.name", GRPC));
        let name: Cow<'static, str> = match method {
            Some(method) => {
                let method = capped(method, max).to_owned();
                attributes.push(KeyValue::new("rpc.method", method.clone()));
                method.into()
            }
            // So that callers cannot mint span names or `rpc.method`s.
            None => {
                attributes.push(KeyValue::new("rpc.method", "_OTHER"));
                let original = path.strip_prefix('/').unwrap_or(path);
                attributes.push(KeyValue::new(
                    "rpc.method_original",
                    capped(original, max).to_owned(),
                ));
                GRPC.into()
            }
        };
        let (host, port) = match (req.uri().host(), known.server) {
            (Some(host), _) => (Some(host), req.uri().port_u16()),
            (None, Some((host, port))) => (Some(host.as_str()), *port),
            (None, None) => (None, None),
        };
        if let Some(host) = host {
            attributes.push(KeyValue::new(
                "server.address",
                capped(host, max).to_owned(),
            ));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        if let Some(peer) = known.peer {
            let address = super::server::push_peer(peer, &mut attributes);
            attributes.push(KeyValue::new("client.address", address));
        }
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(match side {
                Side::Server => SpanKind::Server,
                Side::Client => SpanKind::Client,
            })
            .with_attributes(attributes);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        Call {
            cx: crate::bridge::start_span(builder, parent),
            side,
            renamable: side == Side::Server && method.is_some(),
            status: None,
            max_attribute_len: max,
        }
    }

    /// Notes the status of a trailers-only response (or of the trailers).
    fn read_status(&mut self, headers: &http::HeaderMap) {
        let Some(code) = headers.get(GRPC_STATUS).and_then(parse_code) else {
            return;
        };
        // Only an error's status carries the message (`finish`): the others
        // are not looked up nor decoded.
        if !self.side.is_error(code) {
            self.status = Some((code, None));
            return;
        }
        // Percent-encoded (gRPC over HTTP/2); cut before and after decoding.
        let max = self.max_attribute_len;
        let message = headers
            .get(GRPC_MESSAGE)
            .and_then(|m| m.to_str().ok())
            .and_then(|m| {
                crate::text::percent_decode(
                    capped(m, max.saturating_mul(3)),
                    crate::text::NotUtf8::Replace,
                )
            })
            .map(|text| capped(&text, max).to_owned())
            .filter(|m| !m.is_empty());
        self.status = Some((code, message));
    }

    /// Ends the span with `code` (its message, if the peer sent one: the
    /// status's description; none otherwise, as the conventions ask of a
    /// description the status code already gives).
    fn finish(self, code: u8, message: Option<String>) {
        let span = self.cx.span();
        let name = CODES[usize::from(code)];
        // A server cannot tell a method it does not serve from one it does
        // before the answer (the list of services, if given, only tells
        // services apart): UNIMPLEMENTED says so, and the span is renamed so
        // that callers cannot mint span names (its `rpc.method`, given at the
        // start for samplers, stays: the SDK cannot replace an attribute).
        if self.renamable && code == UNIMPLEMENTED {
            span.update_name(GRPC);
        }
        let error = self.side.is_error(code);
        // One `set_attributes`: the span's lock is taken once for all.
        let status = KeyValue::new("rpc.response.status_code", name);
        let error_type = error.then(|| KeyValue::new("error.type", name));
        span.set_attributes([Some(status), error_type].into_iter().flatten());
        if error {
            span.set_status(Status::error(message.unwrap_or_default()));
        }
        span.end();
    }

    /// Ends the span of a call whose response stream ended: with the status
    /// its trailers (or the headers of a trailers-only response) carried,
    /// else `UNKNOWN`.
    fn end(mut self) {
        match self.status.take() {
            Some((code, message)) => self.finish(code, message),
            // A stream that ends without a status.
            None => self.finish(UNKNOWN, None),
        }
    }

    /// Ends the span of a call whose response never came (the transport
    /// failed on a client, the inner service failed on a server):
    /// `UNAVAILABLE`, with the error's words.
    fn fail(self, error: &dyn fmt::Display) {
        let max = self.max_attribute_len;
        let text = error.to_string();
        self.finish(UNAVAILABLE, Some(capped(&text, max).to_owned()));
    }
}

// ---------------------------------------------------------------- server

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
    peer: Option<super::server::PeerFn>,
    max_attribute_len: usize,
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
    pub const fn peer_fn(mut self, peer: super::server::PeerFn) -> Self {
        self.peer = Some(peer);
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
        };
        let call = Call::start(
            &req,
            Side::Server,
            &parent,
            links,
            known,
            self.layer.max_attribute_len,
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

// ---------------------------------------------------------------- client

/// The tower layer that traces every call made through a tonic `Channel`
/// (feature `grpc`): a CLIENT span named `package.Service/Method`, a child
/// of the current span, whose context goes into the request metadata (with
/// the global propagator); it records the same attributes as
/// [`GrpcServerLayer`] (every status but `OK` is an error on this side) and
/// ends when the response stream ends, fails, or is dropped (`CANCELLED`).
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
        }
    }

    /// The server the channel talks to, for `server.address` and
    /// `server.port` (a request's own authority wins).
    pub fn server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        self.server = Some((address.into(), port));
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
            ..Known::default()
        };
        let call = Call::start(
            &req,
            Side::Client,
            &parent,
            Vec::new(),
            known,
            self.layer.max_attribute_len,
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

// ---------------------------------------------------------------- both

pin_project_lite::pin_project! {
    /// The response future of [`GrpcServerService`] and [`GrpcClientService`]:
    /// the call's context is current during every poll.
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub struct GrpcFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }

    impl<F> PinnedDrop for GrpcFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the answer: the call was cancelled.
            if let Some(call) = this.project().call.take() {
                call.finish(CANCELLED, None);
            }
        }
    }
}

impl<F> fmt::Debug for GrpcFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> std::future::Future for GrpcFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
    E: fmt::Display,
    B: http_body::Body,
{
    type Output = Result<http::Response<GrpcBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.call.as_ref().map(|call| call.cx.clone().attach());
            std::task::ready!(this.inner.poll(task))
        };
        let Some(mut call) = this.call.take() else {
            return Poll::Ready(result.map(|res| {
                res.map(|body| GrpcBody {
                    inner: body,
                    call: None,
                })
            }));
        };
        Poll::Ready(match result {
            Ok(response) => {
                call.read_status(response.headers());
                Ok(response.map(|body| GrpcBody {
                    inner: body,
                    call: Some(call),
                }))
            }
            Err(error) => {
                call.fail(&error);
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A gRPC response body (a stream of messages, then the trailers): the
    /// call's context is current while it is polled (a server's response
    /// stream runs its code there), and its span ends with the status of the
    /// trailers, or of the headers of a trailers-only response, when it ends;
    /// `CANCELLED` when it is dropped before.
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub struct GrpcBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }

    impl<B> PinnedDrop for GrpcBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut call) = this.project().call.take() {
                match call.status.take() {
                    Some((code, message)) => call.finish(code, message),
                    None => call.finish(CANCELLED, None),
                }
            }
        }
    }
}

impl<B> fmt::Debug for GrpcBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcBody").finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for GrpcBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = {
            let _attached = this.call.as_ref().map(|call| call.cx.clone().attach());
            std::task::ready!(this.inner.poll_frame(task))
        };
        match &frame {
            Some(Ok(frame)) => {
                // The trailers are the stream's last frame: the call ends
                // here, without waiting for the poll that says so.
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(mut call) = this.call.take() {
                        call.read_status(trailers);
                        call.end();
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    // The stream broke: a client sees UNAVAILABLE, a server
                    // could not finish its answer (INTERNAL).
                    let code = match call.side {
                        Side::Client => UNAVAILABLE,
                        Side::Server => 13,
                    };
                    call.finish(code, None);
                }
            }
            None => {
                if let Some(call) = this.call.take() {
                    call.end();
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_codes() {
        // (path, the method)
        let cases = [
            ("/demo.Inventory/Check", Some("demo.Inventory/Check")),
            ("/Inventory/Check", Some("Inventory/Check")),
            ("/demo.Inventory/", None),
            ("//Check", None),
            ("/demo.Inventory", None),
            ("/a/b/c", None),
            ("demo.Inventory/Check", None),
            ("/", None),
        ];
        for (path, method) in cases {
            assert_eq!(method_of(path), method, "{path}");
        }
        // (grpc-status, the code)
        let codes = [
            ("0", Some(0)),
            ("5", Some(5)),
            ("16", Some(16)),
            ("17", None),
            ("-1", None),
            ("1x", None),
            ("", None),
            ("999999999999", None),
        ];
        for (value, code) in codes {
            assert_eq!(
                parse_code(&http::HeaderValue::from_static(value)),
                code,
                "{value}"
            );
        }
        // Errors by side.
        assert!(Side::Client.is_error(5) && !Side::Server.is_error(5));
        for code in [2, 4, 12, 13, 14, 15] {
            assert!(Side::Server.is_error(code), "{}", CODES[code as usize]);
        }
        assert!(!Side::Server.is_error(0) && !Side::Client.is_error(0));
    }
}
