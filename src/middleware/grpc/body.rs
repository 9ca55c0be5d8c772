//! [`GrpcBody`]: the response stream, polled in the call's context; its
//! trailers end the call's span.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::call::{Call, Side, CANCELLED, UNAVAILABLE};

pin_project_lite::pin_project! {
    /// A gRPC response body (a stream of messages, then the trailers): the
    /// call's context is current while it is polled (a server's response
    /// stream runs its code there), and its span ends with the status of the
    /// trailers, or of the headers of a trailers-only response, when it ends;
    /// `CANCELLED` when it is dropped before.
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub struct GrpcBody<B> {
        #[pin]
        pub(super) inner: B,
        pub(super) call: Option<Call>,
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
