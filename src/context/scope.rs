//! [`DistributedTraceContext`]: a trace scope, entered synchronously with a
//! guard or asynchronously around a future (the old `with` / `async with`).

use std::borrow::Cow;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{self, Poll};

use opentelemetry::context::ContextGuard;
use opentelemetry::trace::{
    Link, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId,
    TraceState,
};
use opentelemetry::Context;

use crate::bridge::start_span;
use crate::ids::{new_span_id, new_trace_id};
use crate::propagation::{
    extract_trace_context_from_headers, traceparent_string, ExtractedContext, FLAG_RANDOM,
    FLAG_SAMPLED,
};

/// Flags of a trace whose id we generated: sampled, and (W3C Level 2) random.
const NEW_TRACE_FLAGS: TraceFlags = TraceFlags::new(FLAG_SAMPLED | FLAG_RANDOM);

/// A trace scope: the Rust form of the old `DistributedTraceContext`.
///
/// It holds an OpenTelemetry [`Context`] and, when it started a span, ends that
/// span when it is dropped. Make it current:
///
/// * synchronously with [`enter`](Self::enter), which returns a guard (the old
///   `with DistributedTraceContext(...)`);
/// * around a future with [`scope`](Self::scope): the context is current during
///   every poll, so across every `.await` (the old `async with`).
///
/// ```
/// use distributed_tracing::{current_trace_id, DistributedTraceContext};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // sync
/// let guard = DistributedTraceContext::new_root("batch").enter();
/// assert_eq!(current_trace_id(), Some(guard.trace_id()));
/// drop(guard);
/// assert_eq!(current_trace_id(), None);
///
/// // async
/// let scope = DistributedTraceContext::new_root("request");
/// let expected = scope.trace_id();
/// let seen = scope
///     .scope(async {
///         tokio::task::yield_now().await;
///         current_trace_id()
///     })
///     .await;
/// assert_eq!(seen, Some(expected));
/// # }
/// ```
#[derive(Debug)]
pub struct DistributedTraceContext {
    cx: Context,
    /// Whether this scope started the span in `cx`, and so ends it.
    owns_span: bool,
}

impl Default for DistributedTraceContext {
    fn default() -> Self {
        Self::new()
    }
}

impl DistributedTraceContext {
    /// A new trace, with a root span named `trace_context`.
    pub fn new() -> Self {
        Self::new_root("trace_context")
    }

    /// A new trace whose root span has the given name.
    ///
    /// The span is started with the global tracer provider (the one
    /// [`init_observability`](crate::init_observability) installs) and exported
    /// when this scope ends. Without an SDK installed nothing is recorded, but the
    /// scope still gets fresh random ids (flags `03`: sampled, random).
    pub fn new_root(name: impl Into<Cow<'static, str>>) -> Self {
        Self::start(name.into(), &Context::new(), SpanKind::Internal, Vec::new())
    }

    /// Continues a caller's trace: a new span (a child of the caller's span, same
    /// trace id, flags and `tracestate`) named `continue_trace`.
    pub fn from_extracted(remote: ExtractedContext) -> Self {
        Self::child_of(remote.context(), "continue_trace")
    }

    /// Continues the trace in `headers`, or starts a new one when they hold none
    /// (or an invalid one).
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        match extract_trace_context_from_headers(headers) {
            Some(remote) => Self::from_extracted(remote),
            None => Self::new(),
        }
    }

    /// A new span named `name`, a child of the span in `parent` (or a new root if
    /// `parent` holds no valid span). Baggage and other values of `parent` are kept.
    pub fn child_of(parent: &Context, name: impl Into<Cow<'static, str>>) -> Self {
        Self::start(name.into(), parent, SpanKind::Internal, Vec::new())
    }

    /// A new trace for a background job, its root span linked to the current
    /// span (the trace that queued the job), as the old module gave every
    /// background task its own trace id.
    pub fn background_job(name: impl Into<Cow<'static, str>>) -> Self {
        let links = crate::context::current_span_context()
            .map(|cause| vec![Link::with_context(cause)])
            .unwrap_or_default();
        Self::start(name.into(), &Context::new(), SpanKind::Internal, links)
    }

    /// A scope with exactly these ids (each generated when `None`), sampled.
    ///
    /// Nothing is recorded for this span itself (its id was chosen by the caller,
    /// and the SDK chooses the ids of the spans it records); spans started inside
    /// it are its children. The W3C Level 2 `random` flag is set only when the
    /// trace id was generated here: a given trace id may not be random.
    pub fn from_ids(trace_id: Option<TraceId>, span_id: Option<SpanId>) -> Self {
        let flags = match trace_id {
            Some(_) => TraceFlags::SAMPLED,
            None => NEW_TRACE_FLAGS,
        };
        let sc = SpanContext::new(
            trace_id.unwrap_or_else(new_trace_id),
            span_id.unwrap_or_else(new_span_id),
            flags,
            false,
            TraceState::NONE,
        );
        Self {
            cx: Context::new().with_remote_span_context(sc),
            owns_span: false,
        }
    }

    /// A scope with no trace in it (the old `clear_trace_context()`).
    pub fn empty() -> Self {
        Self {
            cx: Context::new(),
            owns_span: false,
        }
    }

    /// The current context, to carry somewhere else (another task or thread).
    /// Dropping it ends nothing.
    pub fn current() -> Self {
        Self {
            cx: Context::current(),
            owns_span: false,
        }
    }

    fn start(name: Cow<'static, str>, parent: &Context, kind: SpanKind, links: Vec<Link>) -> Self {
        let parent_span = parent.span();
        let parent_sc = parent_span.span_context();
        let mut builder = SpanBuilder::from_name(name).with_kind(kind);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        let cx = start_span(builder, parent);
        let started = {
            let span = cx.span();
            let sc = span.span_context();
            sc.is_valid() && sc.span_id() != parent_sc.span_id()
        };
        if started {
            return Self {
                cx,
                owns_span: true,
            };
        }
        // OpenTelemetry's no-op tracer (no SDK installed) hands back the parent's
        // span context, or an invalid one for a root: give the scope its own ids.
        let sc = if parent_sc.is_valid() {
            SpanContext::new(
                parent_sc.trace_id(),
                new_span_id(),
                parent_sc.trace_flags(),
                false,
                parent_sc.trace_state().clone(),
            )
        } else {
            SpanContext::new(
                new_trace_id(),
                new_span_id(),
                NEW_TRACE_FLAGS,
                false,
                TraceState::NONE,
            )
        };
        Self {
            cx: parent.with_remote_span_context(sc),
            owns_span: false,
        }
    }

    /// The OpenTelemetry context of this scope.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// This scope's span context.
    pub fn span_context(&self) -> SpanContext {
        self.cx.span().span_context().clone()
    }

    /// The trace id (`TraceId::INVALID` only for [`empty`](Self::empty)).
    /// Its `Display` is the 32 lowercase hex digits.
    pub fn trace_id(&self) -> TraceId {
        self.cx.span().span_context().trace_id()
    }

    /// The span id of this scope (`SpanId::INVALID` only for [`empty`](Self::empty)).
    /// Its `Display` is the 16 lowercase hex digits.
    pub fn span_id(&self) -> SpanId {
        self.cx.span().span_context().span_id()
    }

    /// The trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.cx.span().span_context().trace_flags()
    }

    /// The `traceparent` header value for this scope, `None` for an empty scope.
    pub fn traceparent(&self) -> Option<String> {
        let span = self.cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| traceparent_string(sc))
    }

    /// Makes this scope current until the returned guard is dropped, which
    /// restores the previous context and then ends this scope's span.
    pub fn enter(self) -> TraceContextGuard {
        TraceContextGuard {
            _attached: self.cx.clone().attach(),
            scope: self,
        }
    }

    /// Runs `future` in this scope: the context is current during every poll,
    /// whatever thread polls it, and this scope's span ends when the future
    /// completes (or is dropped).
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            inner: future,
            scope: Some(self),
        }
    }
}

impl Drop for DistributedTraceContext {
    fn drop(&mut self) {
        if self.owns_span {
            self.cx.span().end();
        }
    }
}

/// The guard of an entered [`DistributedTraceContext`]; see
/// [`DistributedTraceContext::enter`].
///
/// Derefs to the scope, so `guard.trace_id()` is the trace this guard made
/// current. Not `Send`: the OpenTelemetry context stack is per thread.
#[must_use = "the trace context is only current while the guard is alive"]
#[derive(Debug)]
pub struct TraceContextGuard {
    // Field order matters: the previous context is restored before the span ends.
    _attached: ContextGuard,
    scope: DistributedTraceContext,
}

impl Deref for TraceContextGuard {
    type Target = DistributedTraceContext;
    fn deref(&self) -> &DistributedTraceContext {
        &self.scope
    }
}

pin_project_lite::pin_project! {
    /// A future run in a [`DistributedTraceContext`]; see
    /// [`DistributedTraceContext::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        scope: Option<DistributedTraceContext>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let attached = this.scope.as_ref().map(|s| s.cx.clone().attach());
        let poll = this.inner.poll(cx);
        drop(attached);
        if poll.is_ready() {
            // End the scope's span as soon as its work is done.
            this.scope.take();
        }
        poll
    }
}
