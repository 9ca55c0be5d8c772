//! Reading and writing trace context on the wire: `traceparent`, `tracestate`
//! and `baggage`, through the globally configured OpenTelemetry propagator.
//!
//! * [`inject_context_into`]: a context into any OTel [`Injector`] (the current
//!   trace's headers are written by [`inject_trace_context`](crate::inject_trace_context)
//!   and [`compat::propagate_trace_context`](crate::compat::propagate_trace_context));
//! * [`extract_context_from`]: a context from any OTel [`Extractor`] (the
//!   caller's context from an `HeaderMap` or from plain `(name, value)` pairs is
//!   read by [`extract_trace_context_from_headers`]
//!   and [`extract_trace_context_from_pairs`](crate::extract_trace_context_from_pairs),
//!   at the crate root);
//! * the carriers [`HeaderMapInjector`], [`HeaderMapExtractor`] and
//!   [`PairsExtractor`];
//! * the propagators: [`W3cPropagator`] (the default: [`W3cTraceContextPropagator`]
//!   and [`W3cBaggagePropagator`] as one), [`B3Propagator`], [`JaegerPropagator`],
//!   [`XrayPropagator`], [`DatadogPropagator`]; [`PropagatorName`] and
//!   [`propagator`] build the `OTEL_PROPAGATORS` list.
//!
//! The propagator is the one installed with
//! [`opentelemetry::global::set_text_map_propagator`] (done by
//! [`init_observability`](crate::init_observability)). While none is installed,
//! [`default_propagator`] is used: strict W3C Trace Context plus W3C Baggage.

mod b3;
mod baggage;
pub(crate) mod carrier;
mod datadog;
pub(crate) mod extract;
mod jaeger;
mod registry;
mod trace_context;
mod trust;
mod w3c;
mod xray;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::{global, Context};

pub use b3::B3Propagator;
pub use baggage::W3cBaggagePropagator;
pub use carrier::{HeaderMapExtractor, HeaderMapInjector, PairsExtractor};
pub use datadog::DatadogPropagator;
pub(crate) use extract::{extract_trace_context_from_headers, ExtractedContext};
pub use jaeger::JaegerPropagator;
pub(crate) use registry::install_global;
pub use registry::{propagator, PropagatorName};
pub use trace_context::W3cTraceContextPropagator;
pub(crate) use trace_context::{traceparent_string, tracestate_header, FLAG_RANDOM, FLAG_SAMPLED};
pub use trust::Trust;
pub use w3c::W3cPropagator;
pub use xray::XrayPropagator;

/// The propagator this crate installs by default: strict W3C Trace Context then
/// W3C Baggage ([`W3cPropagator`]).
pub fn default_propagator() -> W3cPropagator {
    W3cPropagator::new()
}

/// The propagator to use: the global one, or [`W3cPropagator`] when that is
/// the global one or when the global one is OpenTelemetry's no-op (which
/// propagates no field at all).
enum Configured<'a> {
    W3c,
    Other(&'a dyn TextMapPropagator),
}

/// Runs `f` with the configured propagator (see [`Configured`]).
fn with_configured<T>(f: impl FnOnce(Configured<'_>) -> T) -> T {
    let mut f = Some(f);
    let done = global::get_text_map_propagator(|p| {
        if p.fields().next().is_none() || w3c::is_w3c(p) {
            None
        } else {
            f.take().map(|f| f(Configured::Other(p)))
        }
    });
    match (done, f) {
        (Some(out), _) => out,
        // Outside the global lock: `W3cPropagator` needs no shared state.
        (None, Some(f)) => f(Configured::W3c),
        (None, None) => unreachable!("the closure runs at most once"),
    }
}

/// Runs `f` with the global propagator, or with [`default_propagator`] while the
/// global one is OpenTelemetry's no-op (which propagates no field at all).
pub(crate) fn with_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    with_configured(|p| match p {
        Configured::W3c => f(&W3cPropagator::new()),
        Configured::Other(p) => f(p),
    })
}

/// Writes `cx` into any OpenTelemetry [`Injector`] with the configured propagator.
pub fn inject_context_into(cx: &Context, injector: &mut dyn Injector) {
    with_propagator(|p| p.inject_context(cx, injector));
}

/// Reads a context from any OpenTelemetry [`Extractor`] with the configured
/// propagator; `None` unless it holds a valid remote span context.
pub fn extract_context_from(extractor: &dyn Extractor) -> Option<ExtractedContext> {
    let cx = with_propagator(|p| p.extract_with_context(&Context::new(), extractor));
    ExtractedContext::from_context(cx)
}
