//! Asserting on spans and log lines in your own tests (feature `testing`).
//!
//! [`TestTelemetry`] records what the code under test produces: the finished
//! spans (OpenTelemetry's `SpanData`, attribute values typed: `200` is an
//! integer, not `"200"`) and the log lines (as JSON objects, with the
//! `trace_id` and `span_id` they were written under). [`TestTelemetry::set_default`]
//! makes it this thread's default, like tracing-subscriber's `set_default`:
//! the `tracing` spans and events of this thread, and the spans the crate's
//! layers and scopes start on it ([`ServerTraceLayer`](crate::middleware::ServerTraceLayer),
//! `ClientTraceMiddleware`, the gRPC layers, [`DistributedTraceContext`](crate::DistributedTraceContext)),
//! go to it until the guard is dropped. Nothing process-global is installed,
//! so tests of one binary run in parallel, each seeing only its own spans,
//! and [`init_observability`](crate::init_observability) is not needed.
//!
//! The default is per thread: `#[tokio::test]` runs the test, the servers it
//! spawns and their connections on its one thread (the `current_thread`
//! runtime), so all of it is recorded. Work sent to other threads
//! (`spawn_blocking`, a `multi_thread` runtime) is recorded when it carries
//! the subscriber: `tracing::instrument::WithSubscriber::with_current_subscriber`,
//! or give the layers the provider explicitly with
//! `.tracer_provider(telemetry.provider())`.
//!
//! The layers' request metrics go to [`TestTelemetry::metrics`] the same way
//! (per thread; `.request_metrics(telemetry.metrics())` on a layer otherwise).
//!
//! ```
//! use distributed_tracing::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new();
//! let _guard = telemetry.set_default();
//! tracing::info_span!("checkout", items = 3_i64).in_scope(|| tracing::info!("paid"));
//!
//! let span = telemetry.span("checkout").expect("recorded");
//! assert_eq!(telemetry.attribute(&span, "items"), Some(opentelemetry::Value::I64(3)));
//! let line = &telemetry.lines()[0];
//! assert_eq!(line["message"], "paid");
//! assert_eq!(line["trace_id"], span.span_context.trace_id().to_string());
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, TracerProviderBuilder};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::bridge::{bridge_layer, set_scoped, BridgeOptions, RandomFlagTracer, TRACER_NAME};
use crate::logging::{json_fmt_layer, JsonFormat};

/// Records finished spans as they end (no queue, no thread: a test reads
/// them as soon as the span closed).
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Recorder {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if let Ok(mut spans) = self.0.lock() {
            spans.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Log lines written to memory.
#[derive(Debug, Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The spans and log lines of one test; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TestTelemetry {
    provider: SdkTracerProvider,
    spans: Recorder,
    lines: Lines,
    options: BridgeOptions,
    metrics: crate::metrics::RequestMetrics,
}

impl Default for TestTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl TestTelemetry {
    /// A recorder with its own tracer provider (every span sampled), the
    /// bridge's default options and log lines at every level.
    pub fn new() -> Self {
        Self::with_provider(SdkTracerProvider::builder(), BridgeOptions::default())
    }

    /// A recorder whose provider is `builder`'s (a sampler, a resource, span
    /// limits of your own), with `options` for the `tracing` bridge.
    pub fn with_provider(builder: TracerProviderBuilder, options: BridgeOptions) -> Self {
        let spans = Recorder::default();
        let provider = builder.with_span_processor(spans.clone()).build();
        Self {
            provider,
            spans,
            lines: Lines::default(),
            options,
            metrics: crate::metrics::RequestMetrics::new(),
        }
    }

    /// Makes this recorder the current thread's default until the guard is
    /// dropped (the previous default comes back then; guards nest).
    #[must_use = "the recorder is the default only while the guard lives"]
    pub fn set_default(&self) -> TestGuard {
        let tracer = self.provider.tracer(TRACER_NAME);
        let subscriber = tracing_subscriber::registry()
            .with(json_fmt_layer(JsonFormat::new()).with_writer({
                let lines = self.lines.clone();
                move || lines.clone()
            }))
            .with(bridge_layer(tracer.clone(), self.options));
        let previous = set_scoped(Some(RandomFlagTracer(tracer)));
        let previous_metrics = crate::metrics::set_scoped(Some(self.metrics.clone()));
        TestGuard {
            previous,
            previous_metrics,
            _subscriber: tracing::subscriber::set_default(subscriber),
        }
    }

    /// The tracer provider spans are recorded with: for a layer's
    /// `.tracer_provider(..)` or anything else you start spans with.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// The request metrics the layers recorded on this thread while the
    /// recorder was its default (their [`collect`](crate::metrics::RequestMetrics::collect)
    /// is what would be exported).
    pub fn metrics(&self) -> &crate::metrics::RequestMetrics {
        &self.metrics
    }

    /// The spans finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The first finished span named `name`.
    pub fn span(&self, name: &str) -> Option<SpanData> {
        self.spans().into_iter().find(|s| s.name == name)
    }

    /// The value of `span`'s attribute `key`, typed.
    pub fn attribute(&self, span: &SpanData, key: &str) -> Option<Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    }

    /// The log lines written so far, each a JSON object: `timestamp`,
    /// `level`, `target`, `message`, `fields`, and `trace_id`, `span_id`,
    /// `trace_flags` when written inside a trace (the
    /// [`JsonFormat`] of the service).
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.lines.0.lock().map(|l| l.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

/// Returned by [`TestTelemetry::set_default`]: the recorder is this thread's
/// default until it is dropped.
#[derive(Debug)]
pub struct TestGuard {
    previous: Option<RandomFlagTracer<opentelemetry_sdk::trace::SdkTracer>>,
    previous_metrics: Option<crate::metrics::RequestMetrics>,
    _subscriber: tracing::subscriber::DefaultGuard,
}

impl Drop for TestGuard {
    fn drop(&mut self) {
        set_scoped(self.previous.take());
        crate::metrics::set_scoped(self.previous_metrics.take());
    }
}
