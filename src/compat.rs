//! The Python module's functions, by their old names and in their old shapes
//! (ids as hex `String`s, `Option` for "no trace"), for code being ported and
//! for the migration table ([`reference::migration`](crate::reference::migration)).
//!
//! Each is a small shim over the Rust-shaped API at the crate root, which new
//! code starts from:
//!
//! | here | Rust-shaped |
//! |---|---|
//! | [`generate_trace_id`] / [`generate_span_id`] | [`new_trace_id`] / [`new_span_id`] (typed), [`TraceIdHex`] / [`SpanIdHex`] (hex on the stack) |
//! | [`init_trace_context`] | [`DistributedTraceContext::new`] / [`from_ids`](DistributedTraceContext::from_ids), then `.enter()` or `.scope(future)` |
//! | [`get_trace_id`] / [`get_span_id`] / [`get_trace_flags`] | [`current_trace_id`](crate::current_trace_id) / [`current_span_id`](crate::current_span_id) / [`current_trace_flags`](crate::current_trace_flags) (typed), [`current_trace_id_hex`](crate::current_trace_id_hex) |
//! | [`clear_trace_context`] | [`DistributedTraceContext::empty`]`.enter()` |
//! | [`propagate_trace_context`] | [`inject_trace_context`](crate::inject_trace_context) (all the propagator's headers) |
//! | [`init_trace_from_headers`] | [`DistributedTraceContext::from_headers`]`.enter()` |
//! | [`get_trace_context_dict`] | [`current_span_context`](crate::current_span_context) |
//! | [`setup_trace_logging`] | [`init_observability`](crate::init_observability) with [`log_pattern`](crate::ObservabilityBuilder::log_pattern) (export too) |

use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::env_filter;
use crate::context::{with_current_context, with_current_span_context};
use crate::error::Result;
use crate::ids::{new_span_id, new_trace_id, parse_span_id, parse_trace_id};
use crate::ids::{SpanIdHex, TraceFlagsHex, TraceIdHex};
use crate::logging::{trace_context_fmt_layer, TraceContextFormat};
use crate::propagation::{traceparent_string, tracestate_header};
use crate::{otel_layer, DistributedTraceContext, TraceContextGuard};

/// A new random trace id as 32 lowercase hex characters.
///
/// Replaces the old `generate_trace_id()`, whose `uuid4().hex` fixed 6 of the
/// 128 bits; here all 128 are random.
///
/// ```
/// let id = distributed_tracing::compat::generate_trace_id();
/// assert_eq!(id.len(), 32);
/// assert!(distributed_tracing::parse_trace_id(&id).is_ok());
/// ```
#[inline]
pub fn generate_trace_id() -> String {
    TraceIdHex::new(new_trace_id()).as_str().to_owned()
}

/// A new random span id as 16 lowercase hex characters (64 random bits, never zero).
///
/// ```
/// let id = distributed_tracing::compat::generate_span_id();
/// assert_eq!(id.len(), 16);
/// assert!(distributed_tracing::parse_span_id(&id).is_ok());
/// ```
#[inline]
pub fn generate_span_id() -> String {
    SpanIdHex::new(new_span_id()).as_str().to_owned()
}

/// The current trace id as 32 lowercase hex digits; `None` outside a trace.
///
/// Replaces the old `get_trace_id()`. Inside an entered `tracing` span that the
/// OpenTelemetry layer exports, this is the trace id of the exported span.
///
/// ```
/// use distributed_tracing::compat::{get_trace_id, init_trace_context};
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

/// The `traceparent` header value of the current span, `None` outside a trace.
///
/// Replaces the old `propagate_trace_context()`.
///
/// ```
/// use distributed_tracing::compat::{init_trace_context, propagate_trace_context};
/// assert_eq!(propagate_trace_context(), None);
/// let guard = init_trace_context(Some("4bf92f3577b34da6a3ce929d0e0e4736"), None).unwrap();
/// let tp = propagate_trace_context().unwrap();
/// assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// ```
#[inline]
pub fn propagate_trace_context() -> Option<String> {
    with_current_span_context(traceparent_string)
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
/// use distributed_tracing::compat::{get_span_id, get_trace_id, init_trace_context};
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
/// use distributed_tracing::compat::{get_trace_id, init_trace_from_headers, propagate_trace_context};
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
    DistributedTraceContext::from_headers(headers).enter()
}

/// A scope with no trace in it, for work that must not be attributed to the
/// caller's trace. Dropping the guard restores the previous context.
///
/// Replaces the old `clear_trace_context()` (which cleared for good; a guard is
/// the Rust form, so the caller's trace comes back when the scope ends).
///
/// ```
/// use distributed_tracing::compat::{clear_trace_context, get_trace_id, init_trace_context};
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
/// use distributed_tracing::compat::{get_trace_context_dict, init_trace_context};
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
    let sc: &SpanContext = span.span_context();
    sc.is_valid().then(|| TraceContextDict {
        trace_id: Some(TraceIdHex::new(sc.trace_id()).as_str().to_owned()),
        span_id: Some(SpanIdHex::new(sc.span_id()).as_str().to_owned()),
        trace_flags: Some(TraceFlagsHex::new(sc.trace_flags()).as_str().to_owned()),
        traceparent: Some(traceparent_string(sc)),
        tracestate: tracestate_header(cx, sc),
    })
}

/// Installs a global subscriber that writes every event with its trace context,
/// following `pattern` (e.g. [`DEFAULT_PATTERN`](crate::logging::DEFAULT_PATTERN)),
/// to stdout.
///
/// The subscriber is: `EnvFilter` from `RUST_LOG` (default `info`), the
/// OpenTelemetry bridge ([`otel_layer`]) and the
/// [`TraceContextFormat`] layer. Records of
/// the `log` crate are bridged too (feature `log`, on by default). Replaces the
/// old `setup_trace_logging()`; an unknown placeholder is an error.
///
/// It installs no exporter: spans get ids (for the log lines) but go nowhere.
/// For export too, use [`init_observability`](crate::init_observability)
/// instead (its `log_pattern` takes the same patterns).
///
/// ```
/// use distributed_tracing::compat::{init_trace_context, setup_trace_logging};
/// use distributed_tracing::Error;
///
/// assert!(matches!(
///     setup_trace_logging("[{trace_id}] {levle} {message}"),
///     Err(Error::InvalidPattern { .. })
/// ));
/// setup_trace_logging("[{trace_id}] {level} {message}")?;
///
/// let _request = init_trace_context(Some("4bf92f3577b34da6a3ce929d0e0e4736"), None)?;
/// tracing::info!("handling"); // [4bf92f3577b34da6a3ce929d0e0e4736] INFO handling
/// log::info!("from the log crate"); // the same, through the `log` bridge
/// # Ok::<(), Error>(())
/// ```
pub fn setup_trace_logging(pattern: &str) -> Result<()> {
    let format = TraceContextFormat::new(pattern)?;
    tracing_subscriber::registry()
        .with(env_filter())
        .with(trace_context_fmt_layer(format))
        .with(otel_layer())
        .try_init()?;
    Ok(())
}
