//! [`ServerTraceLayer`]: the server middleware's settings, and the span it
//! starts for a request.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::trace::{SpanBuilder, SpanKind};
use opentelemetry::{Context, KeyValue};

use super::body::Measure;
use super::ServerTraceService;
use crate::metrics::{Recorder, RequestMetrics};
use crate::middleware::attributes::{
    self, capped, capped_utf8, push_peer, PeerFn, DEFAULT_KNOWN_METHODS, DEFAULT_MAX_ATTRIBUTE_LEN,
};
use crate::middleware::forwarded::{split_host_port, Forwarded, ForwardedInfo};
use crate::middleware::metered::{metric_scheme, Meter};
use crate::middleware::trust::{parent_of, Trust, TrustPolicy};

/// Reads the route template (`/users/{id}`) of a request from its extensions.
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
pub type RouteFn = fn(&http::Extensions) -> Option<String>;

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
    pub(super) traceresponse: bool,
    route: Option<RouteFn>,
    peer: Option<PeerFn>,
    forwarded: Forwarded,
    scheme: &'static str,
    max_attribute_len: usize,
    known_methods: &'static [&'static str],
    spans: crate::bridge::Spans,
    metrics: Recorder,
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
            .field("metrics", &self.metrics)
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
            spans: crate::bridge::Spans::Global,
            metrics: Recorder::Global,
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
            spans: self.spans,
            metrics: self.metrics,
        }
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

    /// Whether requests are measured in `http.server.request.duration`
    /// ([`crate::metrics`]): on by default, into the store
    /// [`init_observability`](crate::init_observability) installs
    /// ([`RequestMetrics::global`]; nothing is recorded without one).
    /// `true` goes back to that store after [`request_metrics`](Self::request_metrics).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = Recorder::switch(on);
        self
    }

    /// Records this layer's measurements into `metrics` instead of the
    /// installed store (a test's, or one you export yourself).
    pub fn request_metrics(mut self, metrics: &RequestMetrics) -> Self {
        self.metrics = Recorder::Given(metrics.clone());
        self
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

/// The attributes a server span can start with (all but the response's),
/// plus the two its end adds: the SDK keeps the `Vec` the span starts with,
/// so one with room for all never grows.
const MAX_ATTRIBUTES: usize = 16;

impl<P: TrustPolicy> ServerTraceLayer<P> {
    /// Starts the request's span with every attribute the request itself
    /// gives: all the sampling-relevant ones (`http.request.method`,
    /// `url.path`, `url.scheme`, `server.address`, `server.port`, and
    /// `http.route` where the route is known before the handler) are in the
    /// builder, so a sampler sees them. With metrics on, the span's start
    /// time is the measurement's.
    pub(super) fn start<B>(&self, req: &http::Request<B>) -> (Context, Option<Measure>) {
        let meter = Meter::start(&self.metrics);
        let (parent, links) = parent_of(&self.policy, req.headers(), req.extensions());
        let max = self.max_attribute_len;
        let headers = req.headers();
        let forwarded = match self.forwarded.believed(headers, req.extensions()) {
            true => ForwardedInfo::of(headers, max),
            false => ForwardedInfo::default(),
        };
        let mut attributes = Vec::with_capacity(MAX_ATTRIBUTES);
        let (method, method_attribute) = attributes::push_method(
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
        let route = route.map(|route| match meter {
            // Shared with the measurement.
            Some(_) => {
                let route: std::sync::Arc<str> = route.into();
                attributes.push(KeyValue::new("http.route", route.clone()));
                Some(route)
            }
            None => {
                attributes.push(KeyValue::new("http.route", route));
                None
            }
        });
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
        let version = attributes::protocol_version(req.version());
        attributes.push(KeyValue::new("network.protocol.version", version));
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        let measure = meter.map(|meter| {
            builder.start_time = Some(meter.start_time());
            Measure {
                meter,
                method: method_attribute,
                scheme: metric_scheme(scheme),
                route: route.flatten(),
                version,
                status: None,
                error_type: None,
            }
        });
        (self.spans.start(builder, &parent), measure)
    }
}
