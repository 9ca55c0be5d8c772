//! The HTTP middleware on real axum servers on 127.0.0.1, one test binary:
//! `ServerTraceLayer` (`server`, `server_caps`) and `ClientTraceMiddleware`
//! (`client_caps`), their spans read back from the in-memory SDK that
//! `common::sdk()` installs once for the whole binary.
//!
//! The modules' tests run in parallel and each reads only the spans of its own
//! trace ids: a module joins only if its fixed trace ids are used by no other
//! module here. (`w3c_level2_hops` keeps a binary of its own: its calls carry
//! the W3C example trace id, `4bf92f35...`, whose spans `server` reads.)

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "reqwest")]
mod client_caps;
#[cfg(feature = "http-server")]
mod metrics;
mod server;
#[cfg(feature = "http-server")]
mod server_caps;
