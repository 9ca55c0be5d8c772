//! The `tracing`-to-OpenTelemetry bridge: the tracing-opentelemetry layer and
//! its options ([`otel_layer`](crate::otel_layer) at the crate root, [`otel_layer_with`],
//! [`BridgeOptions`]), the
//! tracer the crate's own spans are started with, and the tracer wrapper that
//! keeps the W3C Level 2 `random` flag on both.
//!
//! The spans the crate starts, the `tracing` bridge's and the global provider's
//! keep the `random` flag: a span has it when its parent had it, sampled or
//! dropped, and when it starts a trace (the SDK alone gives a dropped span no
//! flags and a root only `sampled`).

pub(crate) mod layer;
mod random_flag;
mod tracer;
mod unsigned;

pub(crate) use layer::bridge_layer;
pub use layer::{otel_layer_for, otel_layer_with};
pub(crate) use random_flag::{with_random_flag, RandomFlagProvider, RandomFlagTracer};
#[cfg(feature = "testing")]
pub(crate) use tracer::set_scoped;
pub(crate) use tracer::Spans;
pub(crate) use tracer::{cache_installed_tracer, start_span, TRACER_NAME};

/// Which `tracing` events inside a span are also recorded on the span, as span
/// events ([`BridgeOptions::span_events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpanEvents {
    /// None: log lines stay log lines (and OTLP log records with feature `logs`).
    None,
    /// `ERROR` events only (default): they also mark the span's status as an
    /// error and record exceptions, as tracing-opentelemetry does.
    #[default]
    Errors,
    /// Every event (tracing-opentelemetry's own default): each log line inside
    /// a span is stored a second time, on the span.
    All,
}

/// What the `tracing`-to-OpenTelemetry bridge records on each span; see
/// [`otel_layer_with`]. The defaults keep what a trace viewer needs and drop
/// what costs the most per span ([`reference::performance`](crate::reference::performance)
/// has the measured cost of each option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeOptions {
    /// `code.file.path`, `code.line.number`, `code.module.name` (default on).
    pub location: bool,
    /// `thread.id` and `thread.name`, an allocated string per span (default off).
    pub threads: bool,
    /// `busy_ns` / `idle_ns`: two clock reads per enter/exit (default off).
    pub timings: bool,
    /// Which events become span events (default [`SpanEvents::Errors`]).
    pub span_events: SpanEvents,
    /// Make an entered `tracing` span's OpenTelemetry context current (default
    /// on): OpenTelemetry-native code (`Context::current()`, other crates'
    /// instrumentation) then sees the span. Off, entering and exiting a span
    /// costs less ([`reference::performance`](crate::reference::performance)
    /// has the figures) and this crate's shims, log lines, spawns and HTTP
    /// client still read the entered span, but
    /// `Context::current()` does not, and neither do OTLP log records (feature
    /// `logs`: the SDK's logger takes their trace from `Context::current()`).
    pub context_activation: bool,
    /// Record unsigned (`u8` to `u64`, `usize`) and 128-bit integer fields
    /// as OTLP integers (default on; as their decimal text past `i64`).
    /// Off, they are recorded as text, as tracing-opentelemetry does, and
    /// each `tracing` span costs less (the bridge is not wrapped nor
    /// twinned; [`reference::performance`](crate::reference::performance)
    /// has the figures).
    pub integer_fields: bool,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self {
            location: true,
            threads: false,
            timings: false,
            span_events: SpanEvents::Errors,
            context_activation: true,
            integer_fields: true,
        }
    }
}

impl BridgeOptions {
    /// Sets [`location`](Self::location).
    pub fn location(mut self, on: bool) -> Self {
        self.location = on;
        self
    }

    /// Sets [`threads`](Self::threads).
    pub fn threads(mut self, on: bool) -> Self {
        self.threads = on;
        self
    }

    /// Sets [`timings`](Self::timings).
    pub fn timings(mut self, on: bool) -> Self {
        self.timings = on;
        self
    }

    /// Sets [`context_activation`](Self::context_activation).
    pub fn context_activation(mut self, on: bool) -> Self {
        self.context_activation = on;
        self
    }

    /// Sets [`integer_fields`](Self::integer_fields).
    pub fn integer_fields(mut self, on: bool) -> Self {
        self.integer_fields = on;
        self
    }

    /// Sets [`span_events`](Self::span_events).
    pub fn span_events(mut self, events: SpanEvents) -> Self {
        self.span_events = events;
        self
    }
}
