//! [`TracedBody`]: the response body, which ends the request's span when it
//! is done.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

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
