//! [`ServerTraceService`]: starts a request's span and calls the handler in
//! its context.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use super::{ResponseFuture, ServerTraceLayer, TracedBody};
use crate::middleware::trust::{Trust, TrustPolicy};

/// The service of [`ServerTraceLayer`].
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
#[derive(Clone)]
pub struct ServerTraceService<S, P = Trust> {
    pub(super) inner: S,
    pub(super) layer: ServerTraceLayer<P>,
}

impl<S, P: fmt::Debug> fmt::Debug for ServerTraceService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTraceService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
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
        let (cx, measure) = self.layer.start(&req);
        // The handler's synchronous part (in `call`) runs in the trace too.
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            cx: Some(cx),
            traceresponse: self.layer.traceresponse,
            measure,
        }
    }
}
