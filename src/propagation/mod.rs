//! Reading and writing trace context on the wire: `traceparent`, `tracestate`
//! and `baggage`, through the globally configured OpenTelemetry propagator.
//!
//! * [`inject_context_into`]: a context into any OTel [`Injector`] (the current
//!   trace's headers are written by [`propagate_trace_context`](crate::propagate_trace_context)
//!   and [`inject_trace_context`](crate::inject_trace_context));
//! * [`extract_trace_context_from_headers`] / [`extract_trace_context_from_pairs`]:
//!   the caller's context from an `HeaderMap` or from plain `(name, value)` pairs.
//!
//! The propagator is the one installed with
//! [`opentelemetry::global::set_text_map_propagator`] (done by
//! [`init_observability`](crate::init_observability)). While none is installed,
//! [`default_propagator`] is used: strict W3C Trace Context plus W3C Baggage.

mod b3;
mod baggage;
mod carrier;
mod datadog;
mod jaeger;
mod trace_context;
mod xray;

use std::sync::OnceLock;

use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{global, Context};

pub use b3::B3Propagator;
pub use baggage::W3cBaggagePropagator;
pub use carrier::{HeaderExtractor, HeaderInjector, PairsExtractor};
pub use datadog::DatadogPropagator;
pub use jaeger::JaegerPropagator;
pub(crate) use trace_context::{traceparent_string, tracestate_header};
pub use trace_context::{
    W3cTraceContextPropagator, FLAG_RANDOM, FLAG_SAMPLED, MAX_TRACESTATE_MEMBERS, TRACEPARENT,
    TRACESTATE,
};
pub use xray::XrayPropagator;

/// The propagator this crate installs by default: strict W3C Trace Context
/// ([`W3cTraceContextPropagator`]) then W3C Baggage.
pub fn default_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(W3cTraceContextPropagator::new()),
        Box::new(W3cBaggagePropagator::new()),
    ])
}

/// Runs `f` with the global propagator, or with [`default_propagator`] while the
/// global one is OpenTelemetry's no-op (which propagates no field at all).
pub(crate) fn with_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    static DEFAULT: OnceLock<TextMapCompositePropagator> = OnceLock::new();
    let mut f = Some(f);
    let done = global::get_text_map_propagator(|p| {
        if p.fields().next().is_none() {
            None
        } else {
            f.take().map(|f| f(p))
        }
    });
    match (done, f) {
        (Some(out), _) => out,
        (None, Some(f)) => f(DEFAULT.get_or_init(default_propagator)),
        (None, None) => unreachable!("the closure runs at most once"),
    }
}

/// Writes `cx` into any OpenTelemetry [`Injector`] with the configured propagator.
pub fn inject_context_into(cx: &Context, injector: &mut dyn Injector) {
    with_propagator(|p| p.inject_context(cx, injector));
}

/// Reads a context from any OpenTelemetry [`Extractor`] with the configured
/// propagator; `None` unless it holds a valid remote span context.
pub fn extract_context_from(extractor: &dyn Extractor) -> Option<ExtractedContext> {
    let cx = with_propagator(|p| p.extract_with_context(&Context::new(), extractor));
    let valid = {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid() && sc.is_remote()
    };
    valid.then_some(ExtractedContext { cx })
}

/// The caller's trace context from HTTP headers, `None` when there is none or it
/// is invalid (the W3C rules: then a new trace is to be started).
///
/// Header names are case-insensitive; repeated `tracestate` lines are one list;
/// two `traceparent` headers are invalid.
///
/// ```
/// use distributed_tracing::extract_trace_context_from_headers;
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let remote = extract_trace_context_from_headers(&headers).unwrap();
/// assert_eq!(remote.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(remote.is_sampled());
/// ```
pub fn extract_trace_context_from_headers(headers: &http::HeaderMap) -> Option<ExtractedContext> {
    extract_context_from(&HeaderExtractor(headers))
}

/// Like [`extract_trace_context_from_headers`], from plain `(name, value)` pairs
/// (a `HashMap<String, String>`, a slice of tuples, a message's metadata).
///
/// ```
/// use distributed_tracing::extract_trace_context_from_pairs;
/// let remote = extract_trace_context_from_pairs([
///     ("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
///     ("tracestate", "congo=t61rcWkgMzE"),
/// ])
/// .unwrap();
/// assert_eq!(remote.tracestate().as_deref(), Some("congo=t61rcWkgMzE"));
/// ```
pub fn extract_trace_context_from_pairs<I, K, V>(pairs: I) -> Option<ExtractedContext>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let pairs: Vec<(K, V)> = pairs.into_iter().collect();
    let extractor = PairsExtractor::new(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    extract_context_from(&extractor)
}

/// A caller's trace context, read from incoming headers.
///
/// Holds the whole OpenTelemetry [`Context`] the propagator produced (span
/// context, and baggage or other values), so nothing is lost when it is continued
/// with [`DistributedTraceContext::from_extracted`](crate::DistributedTraceContext::from_extracted).
#[derive(Debug, Clone)]
pub struct ExtractedContext {
    cx: Context,
}

impl ExtractedContext {
    /// The remote span context (its span id is the caller's span, our parent).
    pub fn span_context(&self) -> SpanContext {
        self.cx.span().span_context().clone()
    }

    /// The caller's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.cx.span().span_context().trace_id()
    }

    /// The caller's span id: the parent of the span we start.
    pub fn span_id(&self) -> SpanId {
        self.cx.span().span_context().span_id()
    }

    /// The caller's trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.cx.span().span_context().trace_flags()
    }

    /// Whether the caller sampled this trace.
    pub fn is_sampled(&self) -> bool {
        self.trace_flags().is_sampled()
    }

    /// The caller's `tracestate`, as it will be sent on; `None` if there was none.
    pub fn tracestate(&self) -> Option<String> {
        let span = self.cx.span();
        tracestate_header(&self.cx, span.span_context())
    }

    /// The OpenTelemetry context (for `tracing_opentelemetry`'s `set_parent`, or
    /// a tracer's `start_with_context`).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Consumes this into the OpenTelemetry context.
    pub fn into_context(self) -> Context {
        self.cx
    }
}
