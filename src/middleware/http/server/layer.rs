//! [`ServerTraceLayer`]: the server middleware.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{Link, SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use super::attributes::{
    self, capped, capped_utf8, DEFAULT_KNOWN_METHODS, DEFAULT_MAX_ATTRIBUTE_LEN,
};
use super::forwarded::{split_host_port, Forwarded, ForwardedInfo};
use crate::extract_trace_context_from_headers;

/// What to do with a caller's trace context (`traceparent`, `baggage`).
///
/// Internal services continue their callers' traces. A service that faces the
/// internet may not: anyone can send a `traceparent` that forces sampling, or
/// `baggage` that its handlers then trust. The W3C Trace Context specification
/// leaves this decision to the receiving service.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::current_trace_id;
/// use distributed_tracing::middleware::{ServerTraceLayer, Trust};
/// use http_body_util::BodyExt as _;
/// use tower::{service_fn, Layer as _, ServiceExt as _};
///
/// // A handler that answers with the trace id it runs in.
/// let handler = service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(current_trace_id().map(|id| id.to_string()).unwrap_or_default()))
/// });
/// let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
/// let request = || {
///     http::Request::get("/")
///         .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
///         .body(String::new())
///         .unwrap()
/// };
/// let trace_of = |policy: Trust| {
///     let service = ServerTraceLayer::new().trust(policy).layer(handler.clone());
///     async move {
///         let response = service.oneshot(request()).await.unwrap();
///         let body = response.into_body().collect().await.unwrap().to_bytes();
///         String::from_utf8(body.to_vec()).unwrap()
///     }
/// };
///
/// // Internal: the caller's trace goes on.
/// assert_eq!(trace_of(Trust::Continue).await, caller);
/// // Edge: a new trace, whose server span links to the caller's.
/// assert_ne!(trace_of(Trust::NewTraceWithLink).await, caller);
/// # }
/// ```
///
/// To decide per request (a header your gateway sets, the peer address),
/// give [`ServerTraceLayer::trust`] a closure: see [`TrustPolicy`].
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Trust {
    /// Continue the caller's trace: the server span is a child of the caller's
    /// span, and the caller's sampling decision and baggage are kept (default).
    #[default]
    Continue,
    /// Start a new trace whose server span links to the caller's span. The
    /// caller's `sampled` flag does not decide sampling and its baggage is dropped.
    NewTraceWithLink,
    /// Start a new trace; the caller's context is not used at all.
    Ignore,
}

/// Decides a request's [`Trust`]: implemented by [`Trust`] itself (the same for
/// every request) and by any `Fn(&http::HeaderMap, &http::Extensions) -> Trust`
/// (the extensions hold the peer address, e.g. axum's `ConnectInfo`).
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
pub trait TrustPolicy: Clone + Send + Sync + 'static {
    /// The trust for one request.
    fn decide(&self, headers: &http::HeaderMap, extensions: &http::Extensions) -> Trust;
}

impl TrustPolicy for Trust {
    fn decide(&self, _: &http::HeaderMap, _: &http::Extensions) -> Trust {
        *self
    }
}

impl<F> TrustPolicy for F
where
    F: Fn(&http::HeaderMap, &http::Extensions) -> Trust + Clone + Send + Sync + 'static,
{
    fn decide(&self, headers: &http::HeaderMap, extensions: &http::Extensions) -> Trust {
        self(headers, extensions)
    }
}

/// Reads the route template (`/users/{id}`) of a request from its extensions.
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
pub type RouteFn = fn(&http::Extensions) -> Option<String>;

/// Reads the peer's address (`network.peer.address`, `network.peer.port`,
/// and `client.address` unless a believed proxy header says otherwise) from
/// a request's extensions, where the server put it:
///
/// * axum, served with `into_make_service_with_connect_info::<SocketAddr>()`:
///   `|ext| ext.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0)`;
/// * tonic: `|ext| ext.get::<tonic::transport::server::TcpConnectInfo>().and_then(|i| i.remote_addr())`;
/// * hyper: insert the address your accept loop has into each request's
///   extensions (`service_fn` over the connection), then
///   `|ext| ext.get::<SocketAddr>().copied()`.
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
pub type PeerFn = fn(&http::Extensions) -> Option<std::net::SocketAddr>;

/// The tower layer that traces every request; see the [module docs](crate::middleware).
///
/// Each value it copies from a request into the span (the user agent, path,
/// query, route, scheme, host, a believed proxy's client address and an
/// unknown method's name) is cut to at most
/// [`max_attribute_len`](Self::max_attribute_len) bytes, by default
/// [`DEFAULT_MAX_ATTRIBUTE_LEN`] (1024), at a character boundary: a caller
/// cannot make the spans waiting for export hold more than that per value.
///
/// ```
/// use axum::{routing::get, Router};
/// use distributed_tracing::middleware::{ServerTraceLayer, Trust};
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "ok" }))
///     // `layer`, not `route_layer`: axum wraps each route and the fallback
///     // in it, so requests no route matches (404) are traced too, and the
///     // route of a matched one (`MatchedPath`) is known when the span starts.
///     // Add routes before it: axum does not wrap those added after.
///     .layer(ServerTraceLayer::new().route_fn(|ext| {
///         ext.get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_owned())
///     }));
/// // At the edge: callers' traces are linked, never continued, and the
/// // values copied from a request are shorter.
/// let edge: Router = Router::new().layer(
///     ServerTraceLayer::new().trust(Trust::NewTraceWithLink).max_attribute_len(256),
/// );
/// # drop((app, edge));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
#[derive(Clone)]
pub struct ServerTraceLayer<P = Trust> {
    policy: P,
    traceresponse: bool,
    route: Option<RouteFn>,
    peer: Option<PeerFn>,
    forwarded: Forwarded,
    scheme: &'static str,
    max_attribute_len: usize,
    known_methods: &'static [&'static str],
}

impl<P: fmt::Debug> fmt::Debug for ServerTraceLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTraceLayer")
            .field("policy", &self.policy)
            .field("traceresponse", &self.traceresponse)
            .field("forwarded", &self.forwarded)
            .field("scheme", &self.scheme)
            .field("max_attribute_len", &self.max_attribute_len)
            .field("known_methods", &self.known_methods)
            .finish_non_exhaustive()
    }
}

impl Default for ServerTraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerTraceLayer {
    /// Continues callers' traces ([`Trust::Continue`]), no `traceresponse`,
    /// no route nor peer address, proxies' headers ignored
    /// ([`Forwarded::Ignore`]), scheme `http`, values copied from a request
    /// cut to [`DEFAULT_MAX_ATTRIBUTE_LEN`] bytes, the [`DEFAULT_KNOWN_METHODS`].
    pub const fn new() -> Self {
        Self {
            policy: Trust::Continue,
            traceresponse: false,
            route: None,
            peer: None,
            forwarded: Forwarded::Ignore,
            scheme: "http",
            max_attribute_len: DEFAULT_MAX_ATTRIBUTE_LEN,
            known_methods: DEFAULT_KNOWN_METHODS,
        }
    }
}

impl<P> ServerTraceLayer<P> {
    /// The trust policy: a [`Trust`] for every request, or a function deciding
    /// per request.
    pub fn trust<Q: TrustPolicy>(self, policy: Q) -> ServerTraceLayer<Q> {
        ServerTraceLayer {
            policy,
            traceresponse: self.traceresponse,
            route: self.route,
            peer: self.peer,
            forwarded: self.forwarded,
            scheme: self.scheme,
            max_attribute_len: self.max_attribute_len,
            known_methods: self.known_methods,
        }
    }

    /// Adds W3C Trace Context Level 2's `traceresponse` header to responses:
    /// the server span's context, so a caller can find the trace its request
    /// started (useful at the edge, where callers' contexts are not continued).
    pub const fn traceresponse(mut self, on: bool) -> Self {
        self.traceresponse = on;
        self
    }

    /// How to read a request's route template (`http.route` and the span name).
    pub const fn route_fn(mut self, route: RouteFn) -> Self {
        self.route = Some(route);
        self
    }

    /// How to read the peer's address from a request's extensions
    /// (`network.peer.address`, `network.peer.port`, `client.address`); see
    /// [`PeerFn`] for axum, tonic and hyper. Without it, none of the three
    /// is recorded (the layer cannot see the connection).
    pub const fn peer_fn(mut self, peer: PeerFn) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Whether the proxies' headers are believed for `client.address`,
    /// `url.scheme`, `server.address` and `server.port`; default
    /// [`Forwarded::Ignore`] (a caller cannot choose them).
    pub const fn forwarded(mut self, policy: Forwarded) -> Self {
        self.forwarded = policy;
        self
    }

    /// The scheme the server is reached with (`url.scheme`), when the request
    /// does not say: default `http`. The layer cannot see whether the
    /// connection is TLS; give `"https"` for a server behind TLS (or a
    /// believed `X-Forwarded-Proto` / `Forwarded: proto=` says it per
    /// request). A request URI in absolute form (`https://host/path`, and
    /// HTTP/2's `:scheme`) wins over both.
    pub const fn scheme(mut self, scheme: &'static str) -> Self {
        self.scheme = scheme;
        self
    }

    /// The most bytes of each value copied from a request into the span:
    /// `user_agent.original`, `url.path`, `url.query`, `url.scheme`,
    /// `server.address`, `client.address`, `http.route` (the span name adds
    /// a known method or `HTTP` to it) and `http.request.method_original`. Default [`DEFAULT_MAX_ATTRIBUTE_LEN`]
    /// (1024). A longer value is cut at the last UTF-8 character boundary
    /// that fits; a user agent that is not UTF-8 within the cap is not recorded.
    pub const fn max_attribute_len(mut self, max: usize) -> Self {
        self.max_attribute_len = max;
        self
    }

    /// The methods recorded as they are in `http.request.method` and the span
    /// name; any other is recorded as `_OTHER` with the method in
    /// `http.request.method_original`, and the span is named `HTTP` (or
    /// `HTTP {route}`), as the semantic conventions ask. The list replaces
    /// [`DEFAULT_KNOWN_METHODS`]; methods are case-sensitive.
    pub const fn known_methods(mut self, methods: &'static [&'static str]) -> Self {
        self.known_methods = methods;
        self
    }
}

impl<S, P: Clone> tower_layer::Layer<S> for ServerTraceLayer<P> {
    type Service = ServerTraceService<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTraceService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ServerTraceLayer`].
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
#[derive(Clone)]
pub struct ServerTraceService<S, P = Trust> {
    inner: S,
    layer: ServerTraceLayer<P>,
}

impl<S, P: fmt::Debug> fmt::Debug for ServerTraceService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTraceService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

/// The parent context and links of a server span for a request, as `policy`
/// decides (HTTP and gRPC servers alike).
pub(super) fn parent_of<P: TrustPolicy>(
    policy: &P,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> (Context, Vec<Link>) {
    match policy.decide(headers, extensions) {
        Trust::Continue => {
            let cx = extract_trace_context_from_headers(headers)
                .map(|remote| remote.into_context())
                .unwrap_or_default();
            (cx, Vec::new())
        }
        Trust::NewTraceWithLink => {
            let links = extract_trace_context_from_headers(headers)
                .map(|remote| vec![Link::with_context(remote.span_context())])
                .unwrap_or_default();
            (Context::new(), links)
        }
        Trust::Ignore => (Context::new(), Vec::new()),
    }
}

/// The attributes a server span can start with (all but the response's),
/// plus the two its end adds: the SDK keeps the `Vec` the span starts with,
/// so one with room for all never grows.
const MAX_ATTRIBUTES: usize = 16;

/// `network.peer.address` and `network.peer.port` of a peer (and its
/// address as text, for `client.address`).
pub(super) fn push_peer(peer: std::net::SocketAddr, attributes: &mut Vec<KeyValue>) -> String {
    let address = peer.ip().to_string();
    attributes.push(KeyValue::new("network.peer.address", address.clone()));
    attributes.push(KeyValue::new("network.peer.port", i64::from(peer.port())));
    address
}

impl<P: TrustPolicy> ServerTraceLayer<P> {
    /// Starts the request's span with every attribute the request itself
    /// gives: all the sampling-relevant ones (`http.request.method`,
    /// `url.path`, `url.scheme`, `server.address`, `server.port`, and
    /// `http.route` where the route is known before the handler) are in the
    /// builder, so a sampler sees them.
    fn start<B>(&self, req: &http::Request<B>) -> Context {
        let (parent, links) = parent_of(&self.policy, req.headers(), req.extensions());
        let max = self.max_attribute_len;
        let headers = req.headers();
        let forwarded = match self.forwarded.believed(headers, req.extensions()) {
            true => ForwardedInfo::of(headers, max),
            false => ForwardedInfo::default(),
        };
        let mut attributes = Vec::with_capacity(MAX_ATTRIBUTES);
        let method = attributes::push_method(
            req.method().as_str(),
            self.known_methods,
            max,
            &mut attributes,
        );
        let route =
            self.route
                .and_then(|f| f(req.extensions()))
                .map(|route| match route.len() <= max {
                    true => route,
                    // Only the part kept is copied; the long `String` is dropped here.
                    false => capped(&route, max).to_owned(),
                });
        let name: Cow<'static, str> = match &route {
            Some(route) => format!("{method} {route}").into(),
            None => method.into(),
        };
        let uri = req.uri();
        attributes.push(KeyValue::new(
            "url.path",
            capped(uri.path(), max).to_owned(),
        ));
        if let Some(query) = uri.query() {
            attributes.push(KeyValue::new("url.query", attributes::query(query, max)));
        }
        if let Some(route) = route {
            attributes.push(KeyValue::new("http.route", route));
        }
        // The request's own scheme (absolute form, HTTP/2's `:scheme`), a
        // believed proxy's, else the layer's (`http` unless told).
        let scheme = uri.scheme_str().or(forwarded.proto);
        attributes.push(match scheme {
            Some(scheme) => KeyValue::new("url.scheme", capped(scheme, max).to_owned()),
            None => KeyValue::new("url.scheme", self.scheme),
        });
        let scheme = scheme.unwrap_or(self.scheme);
        // The semantic conventions' order: the absolute form's (and HTTP/2's
        // `:authority`), a believed proxy's `host`, the `Host` header.
        let server = match uri.host() {
            Some(host) => Some((host, uri.port_u16())),
            None => forwarded
                .host
                // A `Host` is visible ASCII (names are punycode): checked
                // byte by byte, cheaper than UTF-8 validation; cut below.
                .or_else(|| {
                    headers
                        .get(http::header::HOST)
                        .and_then(|v| v.to_str().ok())
                })
                .map(split_host_port),
        };
        if let Some((host, port)) = server.filter(|(host, _)| !host.is_empty()) {
            attributes.push(KeyValue::new(
                "server.address",
                capped(host, max).to_owned(),
            ));
            // No port in the `Host`: the scheme's (what the client dialled).
            let port = port.or(match scheme {
                "http" => Some(80),
                "https" => Some(443),
                _ => None,
            });
            if let Some(port) = port {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        let peer = self.peer.and_then(|f| f(req.extensions()));
        let peer_address = peer.map(|peer| push_peer(peer, &mut attributes));
        match forwarded.client {
            Some(client) => attributes.push(KeyValue::new(
                "client.address",
                capped(client, max).to_owned(),
            )),
            None => {
                if let Some(address) = peer_address {
                    attributes.push(KeyValue::new("client.address", address));
                }
            }
        }
        if let Some(agent) = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| capped_utf8(v.as_bytes(), max))
        {
            attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
        }
        attributes.push(KeyValue::new(
            "network.protocol.version",
            super::protocol_version(req.version()),
        ));
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        crate::bridge::start_span(builder, &parent)
    }
}

impl<S, P, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>>
    for ServerTraceService<S, P>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
    P: TrustPolicy,
    ResBody: http_body::Body,
    ResBody::Error: fmt::Display,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let cx = self.layer.start(&req);
        // The handler's synchronous part (in `call`) runs in the trace too.
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            cx: Some(cx),
            traceresponse: self.layer.traceresponse,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerTraceService`]: the request's context is
    /// current during every poll of the handler.
    #[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        cx: Option<Context>,
        traceresponse: bool,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> std::future::Future for ResponseFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
    E: fmt::Display,
    B: http_body::Body,
    B::Error: fmt::Display,
{
    type Output = Result<http::Response<TracedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.cx.as_ref().map(|cx| cx.clone().attach());
            std::task::ready!(this.inner.poll(task))
        };
        let Some(cx) = this.cx.take() else {
            // Polled after completion: the inner future decides what that means.
            return Poll::Ready(result.map(|res| {
                res.map(|body| TracedBody {
                    inner: body,
                    cx: None,
                    error: false,
                })
            }));
        };
        Poll::Ready(match result {
            Ok(mut response) => {
                let error = record_response(&cx, &mut response, *this.traceresponse);
                Ok(response.map(|body| TracedBody {
                    inner: body,
                    cx: Some(cx),
                    error,
                }))
            }
            Err(error) => {
                // No response, so no status code: the error's words are the
                // description, `error.type` a fixed identifier.
                let span = cx.span();
                span.set_status(Status::error(error.to_string()));
                span.set_attribute(KeyValue::new("error.type", "handler_error"));
                span.end();
                Err(error)
            }
        })
    }
}

/// Records the response on the server span (status code, `error.type` and
/// an error status on 5xx) and adds the `traceresponse` header when asked
/// to; returns whether the status is an error.
fn record_response<B>(cx: &Context, response: &mut http::Response<B>, traceresponse: bool) -> bool {
    let span = cx.span();
    let error = super::record_status(&span, response.status(), super::Side::Server, None);
    if traceresponse {
        let sc = span.span_context();
        if sc.is_valid() {
            let value = crate::propagation::traceparent_string(sc);
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert("traceresponse", value);
            }
        }
    }
    error
}

pin_project_lite::pin_project! {
    /// A response body that ends the request's server span when it is done
    /// (fully sent, failed, or dropped).
    #[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        cx: Option<Context>,
        // Whether the status already made the span an error (its `error.type`).
        error: bool,
    }

    impl<B> PinnedDrop for TracedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(cx) = this.project().cx.take() {
                cx.span().end();
            }
        }
    }
}

impl<B> fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedBody").finish_non_exhaustive()
    }
}

impl<B> http_body::Body for TracedBody<B>
where
    B: http_body::Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(task));
        match &frame {
            None => {
                if let Some(cx) = this.cx.take() {
                    cx.span().end();
                }
            }
            Some(Err(error)) => {
                if let Some(cx) = this.cx.take() {
                    let span = cx.span();
                    span.set_status(Status::error(format!("response body: {error}")));
                    if !*this.error {
                        span.set_attribute(KeyValue::new("error.type", "response_body"));
                    }
                    span.end();
                }
            }
            Some(Ok(_)) => {}
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
