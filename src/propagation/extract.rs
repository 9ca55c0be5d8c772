//! The caller's context from incoming headers, as [`ExtractedContext`]: the
//! entry points re-exported at the crate root (the rest of the module is
//! reached through `propagation`).

use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::Context;

use super::trace_context::{normalized_tracestate, remote_context, Traceparent};
use super::w3c::{self, FastExtract, ReceivedTracestate};
use super::{
    extract_context_from, tracestate_header, with_configured, Configured, HeaderMapExtractor,
    PairsExtractor, W3cPropagator,
};

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
        let cx = p.extract_with_context(&Context::new(), &HeaderMapExtractor(headers));
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
    pub(super) fn from_context(cx: Context) -> Option<Self> {
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
