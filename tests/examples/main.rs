//! The examples run as a user runs them, each in processes of its own, one
//! test binary: `quickstart`, the three-process `service_chain`
//! (`http_chain`), `nats_jobs` and `amqp_jobs` (a web service and a worker
//! across a real NATS server, a real RabbitMQ node) and `w3c_test_service`,
//! their output and the spans the in-process receiver (`common::otlp`) gets
//! checked. The examples are built
//! by `cargo test --all-features` beside this binary
//! (`common::example_binary`).
//!
//! Nothing here installs anything process-wide: each example's settings go
//! to its own process (`Command::env`), and every server listens on a port of
//! its own (`127.0.0.1:0`).

#[path = "../common/mod.rs"]
mod common;

#[cfg(all(feature = "amqp", feature = "http-server", feature = "reqwest"))]
mod amqp_jobs;
#[cfg(all(feature = "http-server", feature = "reqwest"))]
mod http_chain;
#[cfg(all(feature = "nats", feature = "http-server", feature = "reqwest"))]
mod nats_jobs;
mod quickstart;
#[cfg(all(feature = "http-server", feature = "reqwest"))]
mod w3c_test_service;
