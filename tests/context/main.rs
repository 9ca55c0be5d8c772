//! The trace context of `tracing` spans, tasks and background jobs, one test
//! binary: the bridge (`bridge`), jobs in traces of their own (`background_job`)
//! and concurrent requests that never see each other's trace (`isolation`),
//! their spans read back from the in-memory SDK that `common::sdk()` installs
//! once for the whole binary.
//!
//! The modules' tests run in parallel and each reads only the spans of its own
//! trace ids: a module joins only if its fixed trace ids are used by no other
//! module here. (`bridge` counts the spans of the W3C example trace id,
//! `4bf92f35...`, which `tests/http/server.rs` and `w3c_level2_hops` use too.)

#[path = "../common/mod.rs"]
mod common;

mod background_job;
mod bridge;
mod isolation;
#[cfg(all(feature = "testing", feature = "http-server", feature = "reqwest"))]
mod testing_aid;
