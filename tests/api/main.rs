//! The public API with nothing installed process-wide, one test binary: the
//! context across async boundaries, the root names of a glob import, the W3C
//! test suite's cases, the old Python module's test suite, and the property
//! tests of the parsers.
//!
//! No test in this binary installs a subscriber, a tracer provider or a
//! propagator, and none sets process variables: `python_api` checks that the
//! shims work on OpenTelemetry's context alone, `properties` that extraction
//! goes through the default propagator. A test that installs anything joins
//! another binary.

mod async_boundaries;
mod glob_import;
mod properties;
mod python_api;
mod w3c_cases;
