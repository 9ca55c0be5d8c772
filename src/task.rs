//! Carrying the trace across task and thread boundaries.
//!
//! Rust has no implicit context inheritance: a future given to `tokio::spawn`
//! starts with an empty context, so this loses the trace:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use distributed_tracing::{current_trace_id, DistributedTraceContext};
//! let seen = DistributedTraceContext::new()
//!     .scope(async { tokio::spawn(async { current_trace_id() }).await.unwrap() })
//!     .await;
//! assert_eq!(seen, None, "plain tokio::spawn: the trace is lost");
//! # }
//! ```
//!
//! The fix is one word: [`spawn`] (or [`spawn_blocking`], or
//! [`.in_current_trace()`](TraceFutureExt::in_current_trace) on any future):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use distributed_tracing::{current_trace_id, spawn, DistributedTraceContext};
//! let scope = DistributedTraceContext::new();
//! let expected = scope.trace_id();
//! let seen = scope
//!     .scope(async { spawn(async { current_trace_id() }).await.unwrap() })
//!     .await;
//! assert_eq!(seen, Some(expected));
//! # }
//! ```

use std::borrow::Cow;
use std::future::Future;

use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::Context;
use tokio::task::JoinHandle;
use tracing::instrument::{Instrument as _, Instrumented};
use tracing::Span;

use crate::context::{DistributedTraceContext, Scoped};

/// A future that runs in the trace that was current when it was wrapped: the
/// `tracing` span (for log lines and span parents) and the OpenTelemetry context.
pub type InCurrentTrace<F> = Instrumented<WithContext<F>>;

/// Extension methods to run a future in a trace.
///
/// For the places where [`spawn`] does not fit: a `JoinSet`, a runtime
/// `Handle`, a future stored and polled later.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::{current_trace_id, DistributedTraceContext, TraceFutureExt};
///
/// let request = DistributedTraceContext::new();
/// let expected = request.trace_id();
/// let seen = async {
///     let mut jobs = tokio::task::JoinSet::new();
///     jobs.spawn(async { current_trace_id() }.in_current_trace());
///     jobs.join_next().await.unwrap().unwrap()
/// }
/// .in_trace(request) // the scope lasts as long as the future
/// .await;
/// assert_eq!(seen, Some(expected));
/// # }
/// ```
pub trait TraceFutureExt: Future + Sized {
    /// Runs this future in the current trace, wherever it is polled.
    ///
    /// Captures both the current `tracing` span and the current OpenTelemetry
    /// context; the context is attached inside the span, so an
    /// [`DistributedTraceContext::enter`](crate::DistributedTraceContext::enter) scope opened inside a span
    /// still wins, as it does on the calling thread.
    fn in_current_trace(self) -> InCurrentTrace<Self> {
        self.with_context(Context::current())
            .instrument(Span::current())
    }

    /// Runs this future in the given scope (which ends when the future does).
    fn in_trace(self, scope: DistributedTraceContext) -> Scoped<Self> {
        scope.scope(self)
    }
}

impl<F: Future> TraceFutureExt for F {}

/// [`tokio::spawn`] that keeps the current trace.
///
/// Must be called inside a Tokio runtime, like `tokio::spawn`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::{current_trace_id, spawn, DistributedTraceContext};
///
/// let request = DistributedTraceContext::new();
/// let expected = request.trace_id();
/// let (lost, kept) = request
///     .scope(async {
///         let lost = tokio::spawn(async { current_trace_id() }).await.unwrap();
///         let kept = spawn(async { current_trace_id() }).await.unwrap();
///         (lost, kept)
///     })
///     .await;
/// assert_eq!(lost, None, "tokio::spawn starts with an empty context");
/// assert_eq!(kept, Some(expected));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_trace())
}

/// [`tokio::task::spawn_blocking`] that keeps the current trace.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::{current_trace_id, spawn_blocking, DistributedTraceContext};
///
/// let request = DistributedTraceContext::new();
/// let expected = request.trace_id();
/// let seen = request
///     .scope(async {
///         // e.g. hashing a password, reading a file with std::fs
///         spawn_blocking(|| current_trace_id()).await.unwrap()
///     })
///     .await;
/// assert_eq!(seen, Some(expected));
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(in_current_trace_fn(f))
}

/// Wraps a closure so that it runs in the current trace on whatever thread calls
/// it (for `std::thread::spawn`, thread pools, callbacks).
///
/// ```
/// use distributed_tracing::{current_trace_id, in_current_trace_fn, DistributedTraceContext};
/// let guard = DistributedTraceContext::new().enter();
/// let seen = std::thread::spawn(in_current_trace_fn(current_trace_id)).join().unwrap();
/// assert_eq!(seen, Some(guard.trace_id()));
/// ```
pub fn in_current_trace_fn<F, R>(f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    let span = Span::current();
    let cx = Context::current();
    move || {
        let _entered = span.enter();
        let _attached = cx.attach();
        f()
    }
}

/// Spawns a background job in a new trace of its own, its root span named
/// `name` and linked to the current span (the request that queued it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use distributed_tracing::{current_trace_id, spawn_background_job, DistributedTraceContext};
/// let request = DistributedTraceContext::new().enter();
/// let job_trace = spawn_background_job("send_email", async { current_trace_id() })
///     .await
///     .unwrap()
///     .unwrap();
/// assert_ne!(job_trace, request.trace_id(), "a trace of its own");
/// # }
/// ```
pub fn spawn_background_job<F>(
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let scope = DistributedTraceContext::background_job(name);
    // A fresh trace: no tracing span of the request either (Span::none()).
    tokio::spawn(scope.scope(future))
}
