//! [`TracedBody`]: the response body, which ends the request's span when it
//! is done.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::metrics::Instrument;
use crate::middleware::metered::{AttrBuf, Meter};

/// What a request's measurement (`http.server.request.duration`) needs at
/// its end, besides the span.
#[derive(Debug)]
pub(crate) struct Measure {
    pub(super) meter: Meter,
    /// `http.request.method`: a known method or `_OTHER`.
    pub(super) method: &'static str,
    /// `url.scheme`: `http`, `https` or `_OTHER`.
    pub(super) scheme: &'static str,
    /// `http.route`, shared with the span.
    pub(super) route: Option<Arc<str>>,
    /// `network.protocol.version`.
    pub(super) version: &'static str,
    /// `http.response.status_code`, once sent.
    pub(super) status: Option<u16>,
    /// `error.type`, when the request ended with an error.
    pub(super) error_type: Option<Cow<'static, str>>,
}

/// Ends the request's span, and records its measurement if it has one.
pub(super) fn end(cx: &Context, measure: Option<Measure>) {
    let Some(m) = measure else {
        cx.span().end();
        return;
    };
    let mut a = AttrBuf::default();
    a.str("http.request.method", m.method);
    a.str("url.scheme", m.scheme);
    if let Some(route) = &m.route {
        a.str("http.route", route);
    }
    if let Some(status) = m.status {
        a.int("http.response.status_code", i64::from(status));
    }
    if let Some(error) = &m.error_type {
        a.str("error.type", error);
    }
    a.str("network.protocol.version", m.version);
    m.meter.end(cx, Instrument::HttpServer, a.as_slice());
}

pin_project_lite::pin_project! {
    /// A response body that ends the request's server span when it is done
    /// (fully sent, failed, or dropped).
    #[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
    pub struct TracedBody<B> {
        #[pin]
        pub(super) inner: B,
        pub(super) cx: Option<Context>,
        // Whether the status already made the span an error (its `error.type`).
        pub(super) error: bool,
        pub(super) measure: Option<Measure>,
    }

    impl<B> PinnedDrop for TracedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(cx) = this.cx.take() {
                end(&cx, this.measure.take());
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
                    end(&cx, this.measure.take());
                }
            }
            Some(Err(error)) => {
                if let Some(cx) = this.cx.take() {
                    let span = cx.span();
                    span.set_status(Status::error(format!("response body: {error}")));
                    let mut measure = this.measure.take();
                    if !*this.error {
                        span.set_attribute(KeyValue::new("error.type", "response_body"));
                        if let Some(m) = &mut measure {
                            m.error_type = Some("response_body".into());
                        }
                    }
                    end(&cx, measure);
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
