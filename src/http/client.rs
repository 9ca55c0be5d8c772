//! The client side: the current trace into outgoing requests.

use crate::context::inject_trace_context;

/// Writes the current trace context (`traceparent`, `tracestate`, `baggage`,
/// or what the configured propagator writes) into an outgoing request's
/// headers: for hyper or any client built on `http::Request`.
///
/// ```
/// use distributed_tracing::{http::inject_into_request, init_trace_context};
/// let _trace = init_trace_context(None, None).unwrap();
/// let mut request = http::Request::get("http://127.0.0.1/").body(()).unwrap();
/// inject_into_request(&mut request);
/// assert!(request.headers().contains_key("traceparent"));
/// ```
pub fn inject_into_request<B>(request: &mut http::Request<B>) {
    inject_trace_context(request.headers_mut());
}

/// Adds the current trace context to a `reqwest` request (feature `reqwest`).
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
/// request's headers; the span records the method, URL, status code, and an
/// error status for 5xx answers and failed calls.
///
/// ```no_run
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(distributed_tracing::http::TracingMiddleware::default())
///     .build();
/// # drop(client);
/// ```
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingMiddleware {
    _private: (),
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl reqwest_middleware::Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
        use opentelemetry::KeyValue;

        let parent = crate::context::with_current_context(Clone::clone);
        let method = req.method().as_str().to_owned();
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.clone()),
            KeyValue::new("url.full", req.url().to_string()),
        ];
        if let Some(host) = req.url().host_str() {
            attributes.push(KeyValue::new("server.address", host.to_owned()));
        }
        if let Some(port) = req.url().port_or_known_default() {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        let builder = opentelemetry::trace::SpanBuilder::from_name(method)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let cx = crate::context::start_span(builder, &parent);
        crate::propagation::inject_context_into(
            &cx,
            &mut crate::propagation::HeaderInjector(req.headers_mut()),
        );
        let result =
            opentelemetry::trace::FutureExt::with_context(next.run(req, extensions), cx.clone())
                .await;
        let span = cx.span();
        match &result {
            Ok(response) => super::record_status(&span, response.status()),
            Err(error) => {
                span.set_status(Status::error(error.to_string()));
                span.set_attribute(KeyValue::new("error.type", "request_failed"));
            }
        }
        span.end();
        result
    }
}
