//! [`ResponseFuture`]: the handler's future, polled in the request's
//! context; its answer is recorded on the span.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use super::body::{end, Measure};
use super::TracedBody;
use crate::middleware::attributes::{record_status, Side};

pin_project_lite::pin_project! {
    /// The response future of [`ServerTraceService`](super::ServerTraceService):
    /// the request's context is current during every poll of the handler.
    #[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) cx: Option<Context>,
        pub(super) traceresponse: bool,
        pub(super) measure: Option<Measure>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the answer (the caller went away): the span
            // ends without a status code, and the request is measured so.
            let this = this.project();
            if let Some(cx) = this.cx.take() {
                end(&cx, this.measure.take());
            }
        }
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
                    measure: None,
                })
            }));
        };
        Poll::Ready(match result {
            Ok(mut response) => {
                let error = record_response(&cx, &mut response, *this.traceresponse);
                let mut measure = this.measure.take();
                if let Some(m) = &mut measure {
                    let status = response.status();
                    m.status = Some(status.as_u16());
                    if error {
                        m.error_type = Some(status.as_str().to_owned().into());
                    }
                }
                Ok(response.map(|body| TracedBody {
                    inner: body,
                    cx: Some(cx),
                    error,
                    measure,
                }))
            }
            Err(error) => {
                // No response, so no status code: the error's words are the
                // description, `error.type` a fixed identifier.
                let span = cx.span();
                span.set_status(Status::error(error.to_string()));
                span.set_attribute(KeyValue::new("error.type", "handler_error"));
                let mut measure = this.measure.take();
                if let Some(m) = &mut measure {
                    m.error_type = Some("handler_error".into());
                }
                end(&cx, measure);
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
    let error = record_status(&span, response.status(), Side::Server, None);
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
