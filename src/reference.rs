//! The reference: one page per topic, from the repository's `docs/` folder.
//!
//! The README is the front door (what the crate is, how to add it to a
//! service); these pages hold the rest. Each is a Markdown file under `docs/`,
//! readable on its own in the repository and compiled here, so that its Rust
//! code blocks run as doctests (`cargo test --all-features --doc`) and its
//! links to the API are checked by `cargo doc`.
//!
//! | page | what it holds |
//! |---|---|
//! | [`configuration`] | every `OTEL_*` and `DISTRIBUTED_TRACING_*` variable, its values and default; what happens to a value that cannot be used (reported once, ignored; `strict`); no fallback for an unusable endpoint; how secrets are masked |
//! | [`export`] | where spans go: Jaeger and the OpenTelemetry Collector (Datadog overlay), a vendor's intake over TLS (Honeycomb, Grafana Cloud, New Relic, mutual TLS); the bounded queue, retries, loss reports and shutdown; the worst-case memory; the local spans file |
//! | [`metrics`] | the request metrics: the four duration histograms, their attributes and what bounds each, the cardinality limit, exemplars, export and the metrics file |
//! | [`security`] | what callers, outages and typos can do: the bound on everything taken from outside, and the [`Trust`](crate::middleware::Trust) policy for edge services |
//! | [`w3c`] | strict W3C Trace Context Level 2: what the crate's propagator accepts and rejects where the upstream one differs, the `random` flag through every hop, the W3C validation harness |
//! | [`services`] | HTTP, gRPC and jobs across a broker (NATS) in detail: what the server and client layers do to a request and a call, the example service chains and their output |
//! | [`migration`] | from the Python module: every old function, its `compat` shim and the Rust-shaped API |
//! | [`performance`] | the measurements, ours against the upstream way, and the commands that reproduce them |
//! | [`testing`] | what the test suite needs and what it covers |
//!
//! The features are listed in the [crate docs](crate#features), the changes in
//! the repository's `CHANGELOG.md`.

#[doc = include_str!("../docs/configuration.md")]
pub mod configuration {}

#[doc = include_str!("../docs/export.md")]
pub mod export {}

#[doc = include_str!("../docs/metrics.md")]
pub mod metrics {}

#[doc = include_str!("../docs/security.md")]
pub mod security {}

#[doc = include_str!("../docs/w3c.md")]
pub mod w3c {}

#[doc = include_str!("../docs/services.md")]
pub mod services {}

#[doc = include_str!("../docs/migration.md")]
pub mod migration {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/testing.md")]
pub mod testing {}
