//! Export over OTLP into the in-process receiver (`common::otlp`), one test
//! binary: each module was a binary of its own, and they share the receiver
//! and the way they build their pipeline.
//!
//! A module belongs here only if its tests build their pipeline with
//! `ObservabilityBuilder::build()` and install nothing process-wide except
//! what every module here tolerates: `tls` installs the global subscriber
//! `ExportMessages::global()` (it keeps the export warnings that name its own
//! endpoints), `otlp` sets the global tracer provider once (no other module
//! reads it). Tests that `init()`, set process variables, count every export
//! message, or measure the process's memory keep a binary of their own
//! (`export_reporting`, `export_overload`, `export_loss_reported_once`,
//! `export_memory_bound`, `export_hostile_collector`).

#[path = "../common/mod.rs"]
mod common;

mod compression;
mod faults;
#[cfg(feature = "logs")]
mod logs;
#[cfg(feature = "logs")]
mod logs_tls;
mod metrics;
mod otlp;
mod retry;
mod span_limits;
mod tls;
mod too_large;
