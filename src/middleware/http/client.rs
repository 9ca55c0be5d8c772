//! The client side: the current trace into outgoing requests.

use crate::context::inject_trace_context;

#[cfg(feature = "reqwest")]
use crate::middleware::attributes::{self, capped};

/// Writes the current trace context (`traceparent`, `tracestate`, `baggage`,
/// or what the configured propagator writes) into an outgoing request's
/// headers: for hyper or any client built on `http::Request`.
///
/// ```
/// use distributed_tracing::middleware::inject_into_request;
/// let _trace = distributed_tracing::DistributedTraceContext::new().enter();
/// let mut request = http::Request::get("http://127.0.0.1/").body(()).unwrap();
/// inject_into_request(&mut request);
/// assert!(request.headers().contains_key("traceparent"));
/// ```
pub fn inject_into_request<B>(request: &mut http::Request<B>) {
    inject_trace_context(request.headers_mut());
}

/// Adds the current trace context to a `reqwest` request (feature `reqwest`):
/// for a plain `reqwest::Client`, without `reqwest-middleware` (no CLIENT span;
/// for one, use [`ClientTraceMiddleware`]).
///
/// ```
/// use distributed_tracing::middleware::RequestBuilderExt as _;
///
/// let _request = distributed_tracing::DistributedTraceContext::from_ids(
///     Some(distributed_tracing::parse_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")?),
///     None,
/// )
/// .enter();
/// let outgoing = reqwest::Client::new()
///     .get("http://127.0.0.1:8080/users/7")
///     .with_trace_context()
///     .build()
///     .unwrap();
/// let traceparent = outgoing.headers()["traceparent"].to_str().unwrap();
/// assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// # Ok::<(), distributed_tracing::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[cfg(feature = "reqwest")]
pub trait RequestBuilderExt {
    /// The request, with the current trace's headers.
    fn with_trace_context(self) -> Self;
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_trace_context(self) -> Self {
        let mut headers = http::HeaderMap::new();
        inject_trace_context(&mut headers);
        self.headers(headers)
    }
}

/// A `reqwest-middleware` middleware (feature `reqwest`): every call gets a
/// CLIENT span, a child of the current span, whose context is sent in the
/// request's headers; the span records the method, URL and server (from the
/// start, so a sampler sees them), the status code, the protocol version and
/// the peer's address, and an error status with `error.type` for 4xx and
/// 5xx answers (the code, `"404"`, without a description) and failed calls
/// (`"connect"`, `"timeout"`, ..., the error's message as description); a
/// call given up before its answer (its future dropped) ends unset, as a
/// cancellation by the caller is not an error.
///
/// `url.full` never holds the URL's credentials (`REDACTED:REDACTED` in their
/// place) nor the values of signed-URL query keys (`sig`, `Signature`, ...:
/// `REDACTED`), and, like `server.address`, an unknown method's name and a
/// failed call's error message (whose URL is redacted the same way), is cut
/// to at most [`max_attribute_len`](Self::max_attribute_len) bytes, by
/// default [`DEFAULT_MAX_ATTRIBUTE_LEN`](crate::middleware::DEFAULT_MAX_ATTRIBUTE_LEN)
/// (1024), at a character boundary.
///
/// ```
/// use distributed_tracing::middleware::ClientTraceMiddleware;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(ClientTraceMiddleware::new().max_attribute_len(2048))
///     .build();
/// # drop(client);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone)]
pub struct ClientTraceMiddleware {
    max_attribute_len: usize,
    known_methods: &'static [&'static str],
    spans: crate::bridge::Spans,
    metrics: crate::metrics::Recorder,
}

#[cfg(feature = "reqwest")]
impl Default for ClientTraceMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "reqwest")]
impl ClientTraceMiddleware {
    /// Values cut to [`DEFAULT_MAX_ATTRIBUTE_LEN`](crate::middleware::DEFAULT_MAX_ATTRIBUTE_LEN)
    /// bytes, the [`DEFAULT_KNOWN_METHODS`](crate::middleware::DEFAULT_KNOWN_METHODS).
    pub const fn new() -> Self {
        Self {
            max_attribute_len: crate::middleware::DEFAULT_MAX_ATTRIBUTE_LEN,
            known_methods: crate::middleware::DEFAULT_KNOWN_METHODS,
            spans: crate::bridge::Spans::Global,
            metrics: crate::metrics::Recorder::Global,
        }
    }

    /// Whether calls are measured in `http.client.request.duration`
    /// ([`crate::metrics`]): on by default, into the store
    /// [`init_observability`](crate::init_observability) installs
    /// ([`RequestMetrics::global`](crate::metrics::RequestMetrics::global);
    /// nothing is recorded without one). `true` goes back to that store after
    /// [`request_metrics`](Self::request_metrics).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = crate::metrics::Recorder::switch(on);
        self
    }

    /// Records this middleware's measurements into `metrics` instead of the
    /// installed store.
    pub fn request_metrics(mut self, metrics: &crate::metrics::RequestMetrics) -> Self {
        self.metrics = crate::metrics::Recorder::Given(metrics.clone());
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

    /// The most bytes of each value copied from a request into the span:
    /// `url.full`, `server.address`, `http.request.method_original` and a
    /// failed call's error message. Default
    /// [`DEFAULT_MAX_ATTRIBUTE_LEN`](crate::middleware::DEFAULT_MAX_ATTRIBUTE_LEN) (1024).
    /// A longer value is cut at the last UTF-8 character boundary that fits.
    pub const fn max_attribute_len(mut self, max: usize) -> Self {
        self.max_attribute_len = max;
        self
    }

    /// The methods recorded as they are in `http.request.method` and the span
    /// name; any other is recorded as `_OTHER` with the method in
    /// `http.request.method_original`, and the span is named `HTTP`, as the
    /// semantic conventions ask. The list replaces
    /// [`DEFAULT_KNOWN_METHODS`](crate::middleware::DEFAULT_KNOWN_METHODS); methods are
    /// case-sensitive.
    pub const fn known_methods(mut self, methods: &'static [&'static str]) -> Self {
        self.known_methods = methods;
        self
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ClientTraceMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
        use opentelemetry::KeyValue;

        let parent = crate::context::with_current_context(Clone::clone);
        let meter = crate::middleware::metered::Meter::start(&self.metrics);
        let max = self.max_attribute_len;
        let mut attributes = Vec::with_capacity(5);
        let (name, method) = attributes::push_method(
            req.method().as_str(),
            self.known_methods,
            max,
            &mut attributes,
        );
        if let Some(full) = full_url(req.url(), max) {
            attributes.push(KeyValue::new("url.full", full));
        }
        // Shared by the span and the measurement.
        let host: Option<std::sync::Arc<str>> =
            req.url().host_str().map(|host| capped(host, max).into());
        if let Some(host) = &host {
            attributes.push(KeyValue::new("server.address", host.clone()));
        }
        let port = req.url().port_or_known_default();
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        let mut builder = opentelemetry::trace::SpanBuilder::from_name(name)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        builder.start_time = meter.as_ref().map(|m| m.start_time());
        let cx = self.spans.start(builder, &parent);
        crate::propagation::inject_context_into(
            &cx,
            &mut crate::propagation::HeaderMapInjector(req.headers_mut()),
        );
        // Ends the span (unset: the caller's cancellation is no error) if
        // this future is dropped before the answer (a timeout around the
        // call, a `select!`).
        let mut pending = Pending {
            cx: Some(cx.clone()),
            meter,
            method,
            host,
            port,
        };
        let result =
            opentelemetry::trace::FutureExt::with_context(next.run(req, extensions), cx.clone())
                .await;
        let span = cx.span();
        match &result {
            Ok(response) => {
                if let Some(peer) = response.remote_addr() {
                    span.set_attributes([
                        KeyValue::new("network.peer.address", peer.ip().to_string()),
                        KeyValue::new("network.peer.port", i64::from(peer.port())),
                    ]);
                }
                let version = attributes::protocol_version(response.version());
                let status = response.status();
                let error = attributes::record_status(
                    &span,
                    status,
                    attributes::Side::Client,
                    Some(KeyValue::new("network.protocol.version", version)),
                );
                pending.end(
                    Some(status.as_u16()),
                    error.then(|| status.as_str()),
                    Some(version),
                );
            }
            Err(error) => {
                // No status code: the error's words are the description.
                span.set_status(Status::error(error_message(error, max)));
                let error_type = error_type(error);
                span.set_attribute(KeyValue::new("error.type", error_type));
                pending.end(None, Some(error_type), None);
            }
        }
        result
    }
}

/// `url.full`: the URL without its credentials (`REDACTED:REDACTED` in their
/// place) and with the values of signed-URL query keys redacted, cut to `max`
/// bytes. A URL with neither costs one copy of the part kept.
#[cfg(feature = "reqwest")]
fn full_url(url: &reqwest::Url, max: usize) -> Option<String> {
    use attributes::{has_sensitive_value, push_capped, push_redacted_query};

    let s = url.as_str();
    let credentials = !url.username().is_empty() || url.password().is_some();
    // The serialization ends with `[?query][#fragment]`.
    let fragment_start = s.len() - url.fragment().map_or(0, |f| f.len() + 1);
    let query = url
        .query()
        .filter(|q| has_sensitive_value(q))
        .map(|q| (fragment_start - q.len(), q));
    if !credentials && query.is_none() {
        return Some(capped(s, max).to_owned());
    }
    let mut out = String::with_capacity(max.min(s.len() + 64));
    let query_start = query.map_or(fragment_start, |(start, _)| start);
    // Each push stops the chain once the cap is reached.
    let _whole = match credentials {
        // `scheme://userinfo@host[:port]path`: the userinfo is
        // percent-encoded, so the first `@` after `://` ends it (without
        // one, nothing is recorded rather than the credentials).
        true => {
            let authority = url.scheme().len() + "://".len();
            let host = authority + s.get(authority..)?.find('@')? + 1;
            push_capped(&mut out, &s[..authority], max)
                && push_capped(&mut out, "REDACTED:REDACTED@", max)
                && push_capped(&mut out, &s[host..query_start], max)
        }
        false => push_capped(&mut out, &s[..query_start], max),
    } && query.is_none_or(|(_, q)| push_redacted_query(&mut out, q, max))
        && push_capped(&mut out, &s[fragment_start..], max);
    Some(out)
}

/// A call in flight: its span, and what its measurement
/// (`http.client.request.duration`) needs at the end. Dropped before its
/// answer (its future dropped: the caller cancelled it, with a timeout of its
/// own or a `select!`), it ends the span with its status unset and no
/// `error.type`, as the HTTP span conventions (v1.44.0) ask of a
/// cancellation by the caller, and measures it so.
#[cfg(feature = "reqwest")]
struct Pending {
    cx: Option<opentelemetry::Context>,
    meter: Option<crate::middleware::metered::Meter>,
    /// `http.request.method`: a known method or `_OTHER`.
    method: &'static str,
    host: Option<std::sync::Arc<str>>,
    port: Option<u16>,
}

#[cfg(feature = "reqwest")]
impl Pending {
    /// Ends the span (its attributes already set) and measures the call.
    fn end(
        &mut self,
        status: Option<u16>,
        error_type: Option<&str>,
        version: Option<&'static str>,
    ) {
        use opentelemetry::trace::TraceContextExt as _;
        let Some(cx) = self.cx.take() else { return };
        let Some(meter) = self.meter.take() else {
            cx.span().end();
            return;
        };
        let mut a = crate::middleware::metered::AttrBuf::default();
        a.str("http.request.method", self.method);
        if let Some(host) = &self.host {
            a.str("server.address", host);
        }
        if let Some(port) = self.port {
            a.int("server.port", i64::from(port));
        }
        if let Some(status) = status {
            a.int("http.response.status_code", i64::from(status));
        }
        if let Some(error_type) = error_type {
            a.str("error.type", error_type);
        }
        if let Some(version) = version {
            a.str("network.protocol.version", version);
        }
        meter.end(&cx, crate::metrics::Instrument::HttpClient, a.as_slice());
    }
}

#[cfg(feature = "reqwest")]
impl Drop for Pending {
    fn drop(&mut self) {
        self.end(None, None, None);
    }
}

/// `error.type` of a call that got no response: what failed, in a word
/// (the conventions: a low-cardinality identifier of the error).
#[cfg(feature = "reqwest")]
fn error_type(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(e) if e.is_redirect() => "redirect",
        reqwest_middleware::Error::Reqwest(e) if e.is_builder() => "request",
        reqwest_middleware::Error::Reqwest(e) if e.is_body() || e.is_decode() => "body",
        // Another middleware's error, or one reqwest does not classify.
        _ => "_OTHER",
    }
}

/// A failed call's error status: the error's message, the URL reqwest writes
/// into it redacted as in `url.full`, cut to `max` bytes.
#[cfg(feature = "reqwest")]
fn error_message(error: &reqwest_middleware::Error, max: usize) -> String {
    let mut message = error.to_string();
    if let reqwest_middleware::Error::Reqwest(e) = error {
        if let Some(url) = e.url() {
            let redacted = full_url(url, usize::MAX).unwrap_or_default();
            message = message.replace(url.as_str(), &redacted);
        }
    }
    message.truncate(capped(&message, max).len());
    message
}

#[cfg(all(test, feature = "reqwest"))]
mod tests {
    use super::*;

    #[test]
    fn full_url_has_no_credentials_nor_signatures() {
        // (url, cap, url.full, why)
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "http://example.com/a?b=1",
                1024,
                "http://example.com/a?b=1",
                "nothing to hide",
            ),
            (
                "http://example.com/abcdef",
                22,
                "http://example.com/abc",
                "cut",
            ),
            (
                "https://user:pass@example.com/a",
                1024,
                "https://REDACTED:REDACTED@example.com/a",
                "user and password",
            ),
            (
                "https://user@example.com/",
                1024,
                "https://REDACTED:REDACTED@example.com/",
                "user only",
            ),
            (
                "https://:pass@example.com/",
                1024,
                "https://REDACTED:REDACTED@example.com/",
                "password only",
            ),
            (
                "http://u%40x:p%40ss@[::1]:8080/p@th?q=@#f@",
                1024,
                "http://REDACTED:REDACTED@[::1]:8080/p@th?q=@#f@",
                "`@` in the userinfo (encoded), IPv6 host, port, `@` further on",
            ),
            (
                "https://s3.example.com/o?AWSAccessKeyId=AKIA&Signature=abc&Expires=1#top",
                1024,
                "https://s3.example.com/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1#top",
                "signed URL, fragment kept",
            ),
            (
                "https://u:p@example.com/?sig=abc",
                1024,
                "https://REDACTED:REDACTED@example.com/?sig=REDACTED",
                "both",
            ),
            (
                "https://u:p@example.com/?sig=abc",
                20,
                "https://REDACTED:RED",
                "cut inside the redacted userinfo",
            ),
            (
                "https://example.com/?sig=abc&x=1",
                32,
                "https://example.com/?sig=REDACTE",
                "cut inside a redacted value",
            ),
            (
                "https://example.com/\u{e9}?sig=1",
                21,
                "https://example.com/%",
                "cut inside a percent-encoded path stays ASCII",
            ),
            ("https://u:p@example.com/", 0, "", "cap 0"),
        ];
        for (url, max, expected, why) in cases {
            let url = reqwest::Url::parse(url).unwrap();
            let full = full_url(&url, *max).unwrap();
            assert_eq!(full, *expected, "{why}");
            assert!(full.len() <= *max, "{why}");
        }
    }

    #[test]
    fn a_failed_call_reports_its_url_redacted() {
        let url = reqwest::Url::parse("http://user:secret@127.0.0.1:1/?sig=abc").unwrap();
        let error = reqwest_middleware::Error::Reqwest(
            reqwest::Client::new()
                .get(url.clone())
                .header("bad header", "x")
                .build()
                .unwrap_err(),
        );
        // The builder took the credentials out of the URL into a header: give
        // the error a URL that still has them.
        let error = match error {
            reqwest_middleware::Error::Reqwest(e) => {
                reqwest_middleware::Error::Reqwest(e.with_url(url))
            }
            other => other,
        };
        assert!(error.to_string().contains("secret"), "{error}");
        let message = error_message(&error, 1024);
        assert!(
            !message.contains("secret") && !message.contains("abc"),
            "{message}"
        );
        assert!(
            message.contains("REDACTED:REDACTED@127.0.0.1:1/?sig=REDACTED"),
            "{message}"
        );
        assert!(error_message(&error, 5).len() <= 5);
    }
}
