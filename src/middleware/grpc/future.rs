//! [`GrpcFuture`]: the inner service's future, polled in the call's context;
//! a response's headers may already carry the status.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::call::{Call, CANCELLED};
use super::GrpcBody;

pin_project_lite::pin_project! {
    /// The response future of [`GrpcServerService`](super::GrpcServerService)
    /// and [`GrpcClientService`](super::GrpcClientService): the call's context
    /// is current during every poll.
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub struct GrpcFuture<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) call: Option<Call>,
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
