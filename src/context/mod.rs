//! The current trace: reading it, starting one, clearing it.
//!
//! There is one source of truth, the OpenTelemetry [`Context`]. Entering a
//! `tracing` span makes its OTel context current (tracing-opentelemetry's
//! context activation, on by default), and the scopes of this crate
//! ([`DistributedTraceContext`], [`init_trace_context`], ...) attach theirs, so the
//! innermost scope wins in both worlds, and every function here reads the same
//! thread-local OTel context stack.
//!
//! The spans of these scopes are started with the [bridge](crate::bridge)'s
//! tracer, which keeps the W3C Level 2 `random` flag.

mod scope;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error::Result;
use crate::ids::{parse_span_id, parse_trace_id, SpanIdHex, TraceFlagsHex, TraceIdHex};
use crate::propagation::{
    extract_trace_context_from_headers, inject_context_into, traceparent_string, tracestate_header,
    HeaderInjector,
};

pub use scope::{DistributedTraceContext, Scoped, TraceContextGuard};

/// Runs `f` on the current OpenTelemetry context: the innermost attached one
/// (a scope of this crate, or an entered `tracing` span with context
/// activation) when it holds a valid span, else the entered `tracing` span's own
/// context (for subscribers whose OpenTelemetry layer has context activation
/// turned off), else the attached context (no trace, maybe baggage).
pub(crate) fn with_current_context<T>(f: impl FnOnce(&Context) -> T) -> T {
    let mut f = Some(f);
    let found = Context::map_current(|cx| {
        let valid = cx.span().span_context().is_valid();
        valid.then(|| f.take().map(|f| f(cx))).flatten()
    });
    match (found, f) {
        (Some(out), _) => out,
        (None, Some(f)) => {
            match tracing_span_context().filter(|cx| cx.span().span_context().is_valid()) {
                Some(cx) => f(&cx),
                None => Context::map_current(f),
            }
        }
        (None, None) => unreachable!("the closure runs at most once"),
    }
}

/// Runs `f` on the current span context (see [`current_span_context`]), or
/// returns `None` outside a trace.
pub fn with_current_span_context<T>(f: impl FnOnce(&SpanContext) -> T) -> Option<T> {
    with_current_context(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| f(sc))
    })
}

/// The current span context (a clone), `None` outside a trace.
pub fn current_span_context() -> Option<SpanContext> {
    with_current_span_context(SpanContext::clone)
}

/// The current trace id, typed; `None` outside a trace (never all zeros).
#[inline]
pub fn current_trace_id() -> Option<TraceId> {
    with_current_span_context(SpanContext::trace_id)
}

/// The current span id, typed; `None` outside a trace (never all zeros).
#[inline]
pub fn current_span_id() -> Option<SpanId> {
    with_current_span_context(SpanContext::span_id)
}

/// The current trace id as 32 lowercase hex digits on the stack (no allocation).
#[inline]
pub fn current_trace_id_hex() -> Option<TraceIdHex> {
    with_current_span_context(|sc| TraceIdHex::new(sc.trace_id()))
}

/// The current trace id as 32 lowercase hex digits; `None` outside a trace.
///
/// Replaces the old `get_trace_id()`. Inside an entered `tracing` span that the
/// OpenTelemetry layer exports, this is the trace id of the exported span.
///
/// ```
/// use distributed_tracing::{get_trace_id, init_trace_context};
/// assert_eq!(get_trace_id(), None);
/// let guard = init_trace_context(None, None).unwrap();
/// assert_eq!(get_trace_id(), Some(guard.trace_id().to_string()));
/// drop(guard);
/// assert_eq!(get_trace_id(), None);
/// ```
#[inline]
pub fn get_trace_id() -> Option<String> {
    with_current_span_context(|sc| TraceIdHex::new(sc.trace_id()).as_str().to_owned())
}

/// The current span id as 16 lowercase hex digits; `None` outside a trace.
#[inline]
pub fn get_span_id() -> Option<String> {
    with_current_span_context(|sc| SpanIdHex::new(sc.span_id()).as_str().to_owned())
}

/// The current trace flags as two lowercase hex digits (`"01"`: sampled, `"03"`:
/// sampled with a random trace id); `None` outside a trace.
pub fn get_trace_flags() -> Option<String> {
    with_current_span_context(|sc| TraceFlagsHex::new(sc.trace_flags()).as_str().to_owned())
}

/// The current trace flags, typed.
pub fn current_trace_flags() -> Option<TraceFlags> {
    with_current_span_context(SpanContext::trace_flags)
}

/// The `traceparent` header value of the current span, `None` outside a trace.
///
/// Replaces the old `propagate_trace_context()`.
///
/// ```
/// use distributed_tracing::{init_trace_context, propagate_trace_context};
/// assert_eq!(propagate_trace_context(), None);
/// let guard = init_trace_context(Some("4bf92f3577b34da6a3ce929d0e0e4736"), None).unwrap();
/// let tp = propagate_trace_context().unwrap();
/// assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// ```
#[inline]
pub fn propagate_trace_context() -> Option<String> {
    with_current_span_context(traceparent_string)
}

/// Writes the current context (`traceparent`, `tracestate`, `baggage`, or what
/// the configured propagator writes) into `headers`, replacing what was there.
///
/// ```
/// use distributed_tracing::{init_trace_context, inject_trace_context};
/// let _trace = init_trace_context(None, None).unwrap();
/// let mut headers = http::HeaderMap::new();
/// inject_trace_context(&mut headers);
/// assert!(headers.contains_key("traceparent"));
/// ```
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    with_current_context(|cx| inject_context_into(cx, &mut HeaderInjector(headers)));
}

/// Makes a trace current for the calling scope and returns the guard that ends it.
///
/// * no ids: a new trace (a new root span, exported when an SDK is installed);
/// * a trace id (and optionally a span id): that trace, with a span id generated
///   when none is given. The ids are validated: 32 / 16 lowercase hex digits, not
///   all zero; an invalid one is an [`Error`](crate::Error) that names it.
///
/// Dropping the guard restores the context that was current before. The guard
/// cannot be sent to another thread, which also keeps it from being held across
/// an `.await` in a spawned task; in async code use
/// [`DistributedTraceContext::scope`] instead.
///
/// Replaces the old `init_trace_context(trace_id=None, span_id=None)`.
///
/// ```
/// use distributed_tracing::{get_span_id, get_trace_id, init_trace_context};
/// let guard = init_trace_context(
///     Some("4bf92f3577b34da6a3ce929d0e0e4736"),
///     Some("00f067aa0ba902b7"),
/// )
/// .unwrap();
/// assert_eq!(get_trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// assert_eq!(get_span_id().as_deref(), Some("00f067aa0ba902b7"));
/// assert!(init_trace_context(Some("4BF92F3577B34DA6A3CE929D0E0E4736"), None).is_err());
/// ```
pub fn init_trace_context(
    trace_id: Option<&str>,
    span_id: Option<&str>,
) -> Result<TraceContextGuard> {
    let scope = match (trace_id, span_id) {
        (None, None) => DistributedTraceContext::new(),
        (trace_id, span_id) => {
            let trace_id = trace_id.map(parse_trace_id).transpose()?;
            let span_id = span_id.map(parse_span_id).transpose()?;
            DistributedTraceContext::from_ids(trace_id, span_id)
        }
    };
    Ok(scope.enter())
}

/// Continues the caller's trace from HTTP headers, or starts a new one when
/// there is no valid `traceparent`; returns the guard.
///
/// The new span is a child of the caller's: same trace id, flags and
/// `tracestate`, a new span id. Replaces the old `init_trace_from_headers(headers)`.
///
/// ```
/// use distributed_tracing::{get_trace_id, init_trace_from_headers, propagate_trace_context};
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let _guard = init_trace_from_headers(&headers);
/// assert_eq!(get_trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// let tp = propagate_trace_context().unwrap();
/// assert!(!tp.contains("00f067aa0ba902b7"), "a new span id");
/// ```
pub fn init_trace_from_headers(headers: &http::HeaderMap) -> TraceContextGuard {
    match extract_trace_context_from_headers(headers) {
        Some(remote) => DistributedTraceContext::from_extracted(remote).enter(),
        None => DistributedTraceContext::new().enter(),
    }
}

/// A scope with no trace in it, for work that must not be attributed to the
/// caller's trace. Dropping the guard restores the previous context.
///
/// Replaces the old `clear_trace_context()` (which cleared for good; a guard is
/// the Rust form, so the caller's trace comes back when the scope ends).
///
/// ```
/// use distributed_tracing::{clear_trace_context, get_trace_id, init_trace_context};
/// let _trace = init_trace_context(None, None).unwrap();
/// {
///     let _cleared = clear_trace_context();
///     assert_eq!(get_trace_id(), None);
/// }
/// assert!(get_trace_id().is_some());
/// ```
pub fn clear_trace_context() -> TraceContextGuard {
    DistributedTraceContext::empty().enter()
}

/// The current trace context as a serializable value, as the old
/// `get_trace_context_dict()` returned it. All fields are `None` outside a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContextDict {
    /// 32 lowercase hex digits.
    pub trace_id: Option<String>,
    /// 16 lowercase hex digits.
    pub span_id: Option<String>,
    /// Two lowercase hex digits.
    pub trace_flags: Option<String>,
    /// The `traceparent` header value for the current span.
    pub traceparent: Option<String>,
    /// The `tracestate` header value, when there is one.
    pub tracestate: Option<String>,
}

/// The current trace context as a [`TraceContextDict`].
///
/// ```
/// use distributed_tracing::{get_trace_context_dict, init_trace_context};
/// assert_eq!(get_trace_context_dict().trace_id, None);
/// let guard = init_trace_context(None, None).unwrap();
/// let dict = get_trace_context_dict();
/// assert_eq!(dict.trace_id, Some(guard.trace_id().to_string()));
/// assert_eq!(
///     dict.traceparent.unwrap(),
///     format!("00-{}-{}-{}", guard.trace_id(), guard.span_id(), dict.trace_flags.unwrap())
/// );
/// ```
pub fn get_trace_context_dict() -> TraceContextDict {
    with_current_context(dict_of).unwrap_or_default()
}

fn dict_of(cx: &Context) -> Option<TraceContextDict> {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| TraceContextDict {
        trace_id: Some(TraceIdHex::new(sc.trace_id()).as_str().to_owned()),
        span_id: Some(SpanIdHex::new(sc.span_id()).as_str().to_owned()),
        trace_flags: Some(TraceFlagsHex::new(sc.trace_flags()).as_str().to_owned()),
        traceparent: Some(traceparent_string(sc)),
        tracestate: tracestate_header(cx, sc),
    })
}

/// The entered `tracing` span's own OTel context: the fallback for subscribers
/// whose OpenTelemetry layer has context activation turned off.
fn tracing_span_context() -> Option<Context> {
    let span = tracing::Span::current();
    (!span.is_none()).then(|| span.context())
}
