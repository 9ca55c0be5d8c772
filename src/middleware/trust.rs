//! [`TrustPolicy`]: whether a server continues, only links, or ignores its
//! caller's trace context ([`Trust`]), per request; the HTTP and gRPC server
//! layers both decide with it.

use opentelemetry::trace::Link;
use opentelemetry::Context;

use crate::extract_trace_context_from_headers;
pub use crate::propagation::Trust;

/// Decides a request's [`Trust`]: implemented by [`Trust`] itself (the same for
/// every request) and by any `Fn(&http::HeaderMap, &http::Extensions) -> Trust`
/// (the extensions hold the peer address, e.g. axum's `ConnectInfo`).
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

/// The parent context and links of a server span for a request, as `policy`
/// decides (HTTP and gRPC servers alike).
pub(super) fn parent_of<P: TrustPolicy>(
    policy: &P,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> (Context, Vec<Link>) {
    match policy.decide(headers, extensions) {
        Trust::Ignore => (Context::new(), Vec::new()),
        trust => trust.parent(extract_trace_context_from_headers(headers)),
    }
}
