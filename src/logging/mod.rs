//! Trace ids on every log line: the Rust form of the old `TraceContextFilter`
//! (the old `setup_trace_logging()` is
//! [`compat::setup_trace_logging`](crate::compat::setup_trace_logging)).
//!
//! Two `tracing-subscriber` event formatters put the trace context of the span
//! an event belongs to on every line, without any change to the logging calls:
//!
//! * [`TraceContextFormat`]: text lines following a pattern such as the default
//!   `"[{trace_id}] [{level:<8}] {message}{fields}"`, which reproduces the old
//!   module's lines:
//!
//!   ```text
//!   [4bf92f3577b34da6a3ce929d0e0e4736] [INFO    ] Batch processing started
//!   ```
//!
//! * [`JsonFormat`]: one JSON object a line with `trace_id`, `span_id` and
//!   `trace_flags` at the top level (the OpenTelemetry naming), optionally with
//!   Datadog's correlation attributes ([`DatadogTags`]).
//!
//! Use them in your own subscriber stack ([`trace_context_fmt_layer`],
//! [`json_fmt_layer`]), or let [`init_observability`](crate::init_observability)
//! install a complete one.
//!
//! The ids on a line are those of the span the event belongs to: its explicit
//! parent, else the current span (the same as [`current_trace_id`](crate::current_trace_id)
//! at that point, and as the exported span). Outside any trace they are never
//! zeros: text shows a placeholder (`-`), JSON omits the fields. Span open/close
//! lines (`FmtSpan`) carry the ids of their span.

mod json;
mod text;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

pub use json::{DatadogTags, JsonFormat};
pub use text::{TraceContextFormat, DEFAULT_PATTERN};

/// The ids an event is stamped with (all `Copy`: reading them never allocates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventIds {
    pub(crate) trace_id: TraceId,
    /// `None` on a span's "new" line: see [`event_ids`].
    pub(crate) span_id: Option<SpanId>,
    pub(crate) flags: TraceFlags,
}

impl EventIds {
    fn of(sc: &SpanContext) -> Self {
        Self {
            trace_id: sc.trace_id(),
            span_id: Some(sc.span_id()),
            flags: sc.trace_flags(),
        }
    }
}

/// Whether `event` is a span's lifecycle line (`FmtSpan`): those carry the
/// span's own metadata.
pub(crate) fn is_span_lifecycle(event: &Event<'_>) -> bool {
    event.metadata().is_span()
}

/// The trace context an event belongs to: its explicit parent span's, none for
/// an explicit root, else the current one.
///
/// A span's "new" line is the exception. Reading a span's ids starts its
/// OpenTelemetry span, and a started span's parent can no longer be set
/// (`set_parent` fails with `AlreadyStarted`), so a formatter that read them
/// there would break the usual "create the span, then set its parent from the
/// incoming headers" and log ids that are then wrong. The "new" line carries the
/// trace of the context the span is created in, and no span id yet; its later
/// lines (events, "close") carry both.
pub(crate) fn event_ids(event: &Event<'_>) -> Option<EventIds> {
    if let Some(parent) = event.parent() {
        if is_span_lifecycle(event) && is_new_line(event) {
            return crate::context::with_current_span_context(|sc| EventIds {
                span_id: None,
                ..EventIds::of(sc)
            });
        }
        let cx = tracing::dispatcher::get_default(|d| {
            tracing_opentelemetry::get_otel_context(parent, d)
        })?;
        let span = cx.span();
        let sc = span.span_context();
        return sc.is_valid().then(|| EventIds::of(sc));
    }
    if event.is_root() {
        return None;
    }
    crate::context::with_current_span_context(EventIds::of)
}

/// Whether a lifecycle event is the "new" one (its message is `new`).
fn is_new_line(event: &Event<'_>) -> bool {
    struct IsNew(bool);
    impl tracing::field::Visit for IsNew {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}") == "new";
            }
        }
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if field.name() == "message" {
                self.0 = value == "new";
            }
        }
    }
    let mut visit = IsNew(false);
    event.record(&mut visit);
    visit.0
}

/// A `tracing-subscriber` fmt layer writing [`TraceContextFormat`] lines to
/// stdout, to add to your own subscriber stack (registry, `EnvFilter`, the
/// OpenTelemetry layer, ...). Change the writer with `.with_writer(...)`.
///
/// Add it *before* the OpenTelemetry layer, as below: layers see a span close
/// from the outermost in, and the OpenTelemetry layer ends and forgets the span
/// when it sees it close, so a format layer added after it cannot put the ids
/// on span "close" lines (`FmtSpan::CLOSE`). Every other line has its ids in
/// either order.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let format = distributed_tracing::logging::TraceContextFormat::default();
/// let subscriber = tracing_subscriber::registry()
///     .with(distributed_tracing::logging::trace_context_fmt_layer(format))
///     .with(distributed_tracing::otel_layer());
/// # drop(subscriber);
/// ```
pub fn trace_context_fmt_layer<S>(
    format: TraceContextFormat,
) -> tracing_subscriber::fmt::Layer<S, DefaultFields, TraceContextFormat>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(format)
}

/// A `tracing-subscriber` fmt layer writing [`JsonFormat`] lines to stdout.
pub fn json_fmt_layer<S>(
    format: JsonFormat,
) -> tracing_subscriber::fmt::Layer<S, DefaultFields, JsonFormat>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(format)
}

/// The line format of [`init_observability`](crate::init_observability)'s log output.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LogFormat {
    /// Text lines following a pattern.
    Text(TraceContextFormat),
    /// JSON lines (optionally with Datadog's correlation attributes).
    Json(JsonFormat),
}

impl Default for LogFormat {
    fn default() -> Self {
        LogFormat::Text(TraceContextFormat::default())
    }
}

/// A boxed fmt layer for `format`, writing with `writer`.
pub(crate) fn fmt_layer<S, W>(
    format: LogFormat,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text(f) => Box::new(trace_context_fmt_layer(f).with_writer(writer)),
        LogFormat::Json(f) => Box::new(json_fmt_layer(f).with_writer(writer)),
    }
}

/// The longest log filter taken (bytes): `EnvFilter` compiles directives in
/// time that grows faster than their count.
pub(crate) const MAX_FILTER_LEN: usize = 4096;

/// A log filter in `EnvFilter`'s syntax, compiled in bounded time: at most
/// [`MAX_FILTER_LEN`] bytes, and field values (`target[span{field=value}]`)
/// matched as text, not as regular expressions. With regular expressions, a
/// 36-character `RUST_LOG` took `EnvFilter` minutes to compile (its DFA), so
/// an environment value could keep a service from starting. The one
/// difference: a field value matches the field's `Debug` text exactly.
pub(crate) fn parse_filter(value: &str) -> Result<EnvFilter, String> {
    if value.len() > MAX_FILTER_LEN {
        return Err(format!(
            "{} bytes, over the {MAX_FILTER_LEN} a filter may have",
            value.len()
        ));
    }
    // tracing-subscriber 0.3.23's directive parser slices at byte offsets
    // that a multi-byte character can split (`"\u{2028}b3="` panics in
    // `Directive::parse`): module paths, levels and span and field names are
    // ASCII, so a filter is too.
    if let Some(c) = value.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "{} is not ASCII: a filter names module paths, levels, spans and fields",
            crate::untrusted::escape_untrusted(&c.to_string())
        ));
    }
    // And should the parser panic on some other input, the filter is refused,
    // never the start-up.
    std::panic::catch_unwind(|| EnvFilter::builder().with_regex(false).parse(value))
        .map_err(|_| "the filter parser failed on it".to_owned())?
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    /// A filter that is not ASCII is refused with a reason, never a panic
    /// (tracing-subscriber 0.3.23 panics on `"\u{2028}b3="`, a case the
    /// configuration's property test found), and ASCII filters still parse.
    #[test]
    fn a_filter_that_is_not_ascii_is_refused_without_a_panic() {
        for value in ["\u{2028}b3=", "b3=\u{2028}", "é=debug", "info,[span{f=ü}]"] {
            let reason = parse_filter(value).expect_err(value);
            assert!(reason.contains("is not ASCII"), "{value}: {reason}");
        }
        assert!(parse_filter("\u{2028}b3=")
            .unwrap_err()
            .contains("\\u{2028}"));
        for value in [
            "info",
            "warn,my_service=debug",
            "info,[request{id=7}]=trace",
        ] {
            assert!(parse_filter(value).is_ok(), "{value}");
        }
    }
}
