//! HTTP: the server middleware (feature `http-server`) and the client side
//! (any `http::Request`; reqwest with feature `reqwest`).

mod client;
#[cfg(feature = "http-server")]
mod server;

pub use self::client::inject_into_request;
#[cfg(feature = "reqwest")]
pub use self::client::{ClientTraceMiddleware, RequestBuilderExt};
#[cfg(feature = "http-server")]
pub use self::server::{ResponseFuture, RouteFn, ServerTraceLayer, ServerTraceService, TracedBody};
