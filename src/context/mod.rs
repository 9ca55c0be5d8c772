//! The current trace: reading it, starting one, clearing it.
//!
//! There is one source of truth, the OpenTelemetry [`Context`]. Entering a
//! `tracing` span makes its OTel context current (tracing-opentelemetry's
//! context activation, on by default), and the scopes of this crate
//! ([`DistributedTraceContext`] and the [`compat`](crate::compat) shims) attach theirs, so the
//! innermost scope wins in both worlds, and every function here reads the same
//! thread-local OTel context stack.
//!
//! The spans of these scopes are started with the [bridge](crate::bridge)'s
//! tracer, which keeps the W3C Level 2 `random` flag.

mod scope;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::ids::TraceIdHex;
use crate::propagation::{inject_context_into, HeaderMapInjector};

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
/// Its `Display` is the 32 lowercase hex digits.
///
/// Inside an entered `tracing` span that the OpenTelemetry layer exports, this
/// is the trace id of the exported span.
///
/// ```
/// use distributed_tracing::{current_trace_id, DistributedTraceContext};
/// assert_eq!(current_trace_id(), None);
/// let guard = DistributedTraceContext::new().enter();
/// assert_eq!(current_trace_id(), Some(guard.trace_id()));
/// drop(guard);
/// assert_eq!(current_trace_id(), None);
/// ```
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

/// The current trace flags, typed.
pub fn current_trace_flags() -> Option<TraceFlags> {
    with_current_span_context(SpanContext::trace_flags)
}

/// Writes the current context (`traceparent`, `tracestate`, `baggage`, or what
/// the configured propagator writes) into `headers`, replacing what was there.
///
/// ```
/// use distributed_tracing::{inject_trace_context, DistributedTraceContext};
/// let _trace = DistributedTraceContext::new().enter();
/// let mut headers = http::HeaderMap::new();
/// inject_trace_context(&mut headers);
/// assert!(headers.contains_key("traceparent"));
/// ```
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    with_current_context(|cx| inject_context_into(cx, &mut HeaderMapInjector(headers)));
}

/// The entered `tracing` span's own OTel context: the fallback for subscribers
/// whose OpenTelemetry layer has context activation turned off.
fn tracing_span_context() -> Option<Context> {
    let span = tracing::Span::current();
    (!span.is_none()).then(|| span.context())
}
