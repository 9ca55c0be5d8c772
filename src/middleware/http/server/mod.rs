//! [`ServerTraceLayer`]: the server middleware. The layer holds the settings
//! and starts a request's span, the service calls the handler in its context,
//! the future records the answer, and the body ends the span when it is done.

mod body;
mod future;
mod layer;
mod service;

pub use self::{
    body::TracedBody,
    future::ResponseFuture,
    layer::{RouteFn, ServerTraceLayer},
    service::ServerTraceService,
};
