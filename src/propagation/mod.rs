//! Reading and writing trace context on the wire: `traceparent`, `tracestate`
//! and `baggage`, through the globally configured OpenTelemetry propagator.
//!
//! * [`inject_context_into`]: a context into any OTel [`Injector`] (the current
//!   trace's headers are written by [`inject_trace_context`](crate::inject_trace_context)
//!   and [`compat::propagate_trace_context`](crate::compat::propagate_trace_context));
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
mod registry;
mod trace_context;
mod w3c;
mod xray;

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{global, Context};

pub use b3::B3Propagator;
pub use baggage::W3cBaggagePropagator;
pub use carrier::{HeaderExtractor, HeaderInjector, PairsExtractor, NOT_TEXT};
pub use datadog::DatadogPropagator;
pub use jaeger::JaegerPropagator;
pub(crate) use registry::install_global;
pub use registry::{propagator, PropagatorName};
use trace_context::{normalized_tracestate, remote_context, Traceparent};
pub(crate) use trace_context::{traceparent_string, tracestate_header};
pub use trace_context::{
    W3cTraceContextPropagator, FLAG_RANDOM, FLAG_SAMPLED, MAX_TRACESTATE_MEMBERS, TRACEPARENT,
    TRACESTATE,
};
pub use w3c::W3cPropagator;
use w3c::{FastExtract, ReceivedTracestate};
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
    let extract = |p: &dyn TextMapPropagator| {
        let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(headers));
        ExtractedContext::from_context(cx)
    };
    with_configured(|p| match p {
        Configured::Other(p) => extract(p),
        Configured::W3c => match w3c::fast_extract(headers) {
            FastExtract::None => None,
            FastExtract::Remote(traceparent, tracestate) => {
                Some(ExtractedContext::lazy(traceparent, tracestate))
            }
            FastExtract::Generic => extract(&W3cPropagator::new()),
        },
    })
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
///
/// Read with the default [`W3cPropagator`] from an `HeaderMap`, the `tracestate`
/// is kept as received and checked (an invalid list dropped whole, as the W3C
/// asks) when it is read or the `Context` is built, the first time that is
/// asked for: extracting the ids and flags costs no allocation.
#[derive(Debug, Clone)]
pub struct ExtractedContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    /// The `tracestate` as received (unchecked), while `cx` is not built yet.
    raw: Option<ReceivedTracestate>,
    cx: OnceLock<Context>,
}

impl ExtractedContext {
    /// From a context a propagator produced: `None` unless it holds a valid
    /// remote span context.
    fn from_context(cx: Context) -> Option<Self> {
        let (trace_id, span_id, flags) = {
            let span = cx.span();
            let sc = span.span_context();
            if !(sc.is_valid() && sc.is_remote()) {
                return None;
            }
            (sc.trace_id(), sc.span_id(), sc.trace_flags())
        };
        Some(Self {
            trace_id,
            span_id,
            flags,
            raw: None,
            cx: OnceLock::from(cx),
        })
    }

    /// From a parsed `traceparent` and a valid `tracestate`, context not built.
    fn lazy(tp: Traceparent, raw: Option<ReceivedTracestate>) -> Self {
        Self {
            trace_id: tp.trace_id,
            span_id: tp.parent_id,
            flags: tp.flags,
            raw,
            cx: OnceLock::new(),
        }
    }

    /// The remote span context (its span id is the caller's span, our parent).
    pub fn span_context(&self) -> SpanContext {
        self.context().span().span_context().clone()
    }

    /// The caller's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span id: the parent of the span we start.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The caller's trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.flags
    }

    /// Whether the caller sampled this trace.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The caller's `tracestate`, as it will be sent on; `None` if there was none.
    pub fn tracestate(&self) -> Option<String> {
        if let Some(cx) = self.cx.get() {
            let span = cx.span();
            return tracestate_header(cx, span.span_context());
        }
        // Checked now; members joined with `,`, as the parsed list is sent on.
        let raw = self.raw.as_ref()?;
        Some(normalized_tracestate([raw.as_str()])).filter(|list| !list.is_empty())
    }

    /// The OpenTelemetry context (for `tracing_opentelemetry`'s `set_parent`, or
    /// a tracer's `start_with_context`).
    pub fn context(&self) -> &Context {
        self.cx.get_or_init(|| self.build())
    }

    /// Consumes this into the OpenTelemetry context.
    pub fn into_context(mut self) -> Context {
        self.cx.take().unwrap_or_else(|| self.build())
    }

    /// The remote context: the span context (its `TraceState` parsed from the
    /// raw `tracestate` now) in an empty context.
    fn build(&self) -> Context {
        let tp = Traceparent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        };
        remote_context(
            &Context::new(),
            tp,
            self.raw.as_ref().map(ReceivedTracestate::as_str),
        )
    }
}
