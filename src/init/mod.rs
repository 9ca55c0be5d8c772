//! Start-up: [`init_observability`] configures the OpenTelemetry SDK, the
//! propagators and the `tracing` subscriber once, and returns a guard that
//! flushes and shuts down on drop.
//!
//! Configuration comes from the OpenTelemetry environment variables (see
//! [`EffectiveConfig`]), overridden in code by [`ObservabilityBuilder`]. With
//! nothing configured, finished spans go to a local file (the OTLP file format), so a new
//! user sees their traces without running a collector; setting an OTLP endpoint
//! (or `OTEL_TRACES_EXPORTER=otlp`) sends them to a collector instead.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{global, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData};
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::bridge::{bridge_layer, otel_layer_with, BridgeOptions};
use crate::config::{
    self, EffectiveConfig, MetricsExporter, OtlpCompression, OtlpProtocol, SamplerConfig,
    TracesExporter,
};
use crate::error::Result;
use crate::export::metrics::MetricsPipeline;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::export::otlp;
use crate::export::otlp_file::OtlpFileExporter;
use crate::export::spans_file::Size;
use crate::export::stats::Counters;
use crate::export::{ExportStats, QueueProcessor, SdkExporter};
use crate::logging::{fmt_layer, LogFormat, TraceContextFormat};
use crate::metrics::{Histogram, RequestMetrics};
use crate::propagation::PropagatorName;

/// How long the guard's drop waits for the last spans, by default.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Installs everything, configured from the environment; see [`ObservabilityBuilder`].
///
/// Hold the returned guard until the end of `main`: dropping it flushes the
/// spans still queued and shuts the SDK down.
///
/// ```
/// use distributed_tracing::{init_observability, Error};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     # // The doctest exports nowhere (no spans file in your home folder).
///     # std::env::set_var("OTEL_TRACES_EXPORTER", "none");
///     let _guard = init_observability()?; // flushes and shuts down when dropped
///     tracing::info!("started"); // [-] [INFO    ] started (no trace yet)
///
///     // Only one global subscriber per process: a second call fails.
///     assert!(matches!(init_observability(), Err(Error::SubscriberAlreadySet(_))));
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// * [`Error::SubscriberAlreadySet`](crate::Error::SubscriberAlreadySet): a
///   global `tracing` subscriber is already installed (a second call, or
///   another crate's); the first one's pipeline is left as it was.
/// * [`Error::Exporter`](crate::Error::Exporter): the span (or log) exporter
///   cannot be built, e.g. OTLP export is configured in a build without the
///   `otlp-grpc` and `otlp-http` features, or the Jaeger remote sampler's
///   client cannot be built.
/// * [`Error::Io`](crate::Error::Io): the export thread, or its runtime,
///   cannot be started.
///
/// A configuration value that cannot be used (an `OTEL_*` variable, `RUST_LOG`)
/// is not an error here: as the OpenTelemetry specification asks, it is
/// reported once at start-up, naming the variable and the value, and ignored.
/// [`ObservabilityBuilder::strict`] makes it an error. Neither is a spans
/// file that cannot be opened: the service starts and a warning says why.
pub fn init_observability() -> Result<ObservabilityGuard> {
    ObservabilityBuilder::default().init()
}

/// Something given to the builder that cannot be cloned (the log output, a
/// span exporter): its clones share it, and the first `init` or `build`
/// takes it.
struct TakenOnce<T>(Arc<std::sync::Mutex<Option<T>>>);

impl<T> TakenOnce<T> {
    fn new(value: T) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(value))))
    }

    fn take(&self) -> Option<T> {
        self.0.lock().ok()?.take()
    }
}

impl<T> Clone for TakenOnce<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::fmt::Debug for TakenOnce<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TakenOnce")
    }
}

/// How to start the export of a `SpanExporter` given in code (taken once, at
/// `build`): it runs behind the crate's queue.
type StartExport = Box<
    dyn FnOnce(Resource, config::BatchConfig) -> Result<(QueueProcessor<SpanData>, Arc<Counters>)>
        + Send,
>;

/// Configuration of [`init_observability`]: the environment's, overridden in code.
///
/// ```no_run
/// use std::time::Duration;
/// let _guard = distributed_tracing::ObservabilityBuilder::default()
///     .service_name("checkout")
///     .otlp_endpoint("http://127.0.0.1:4317")
///     .otlp_protocol(distributed_tracing::config::OtlpProtocol::Grpc)
///     .log_pattern("{timestamp} [{trace_id}] {level} {message}")
///     .shutdown_deadline(Duration::from_secs(2))
///     .init()?;
/// # Ok::<(), distributed_tracing::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct ObservabilityBuilder {
    over: config::Overrides,
    env: Option<HashMap<String, OsString>>,
    log_format: Option<LogFormat>,
    log_pattern: Option<String>,
    log_output: Option<TakenOnce<Box<dyn std::io::Write + Send>>>,
    non_blocking_lines: Option<usize>,
    bridge: BridgeOptions,
    strict: bool,
    shutdown_deadline: Option<Duration>,
    span_exporter: Option<TakenOnce<StartExport>>,
}

impl ObservabilityBuilder {
    /// The `service.name` resource attribute (default: `OTEL_SERVICE_NAME`, then
    /// `OTEL_RESOURCE_ATTRIBUTES`, then `unknown_service:<executable>`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.over.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute (after those of `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.over
            .resource_attributes
            .push((key.into(), value.into()));
        self
    }

    /// Where spans go (default: OTLP when an endpoint is configured, else a local file).
    pub fn traces_exporter(mut self, exporter: TracesExporter) -> Self {
        self.over.traces_exporter = Some(exporter);
        self
    }

    /// Where the request metrics go (default: `OTEL_METRICS_EXPORTER`, else
    /// where spans go; see [`MetricsExporter`]).
    pub fn metrics_exporter(mut self, exporter: MetricsExporter) -> Self {
        self.over.metrics_exporter = Some(exporter);
        self
    }

    /// The time between two collections of the request metrics (default:
    /// `OTEL_METRIC_EXPORT_INTERVAL`, else 60 s; zero is refused).
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.over.metrics_interval = Some(interval);
        self
    }

    /// The most series each request-metrics instrument keeps, the overflow
    /// series included (default
    /// [`DEFAULT_CARDINALITY_LIMIT`](crate::metrics::DEFAULT_CARDINALITY_LIMIT),
    /// 2000; at least 2).
    pub fn metrics_cardinality_limit(mut self, limit: usize) -> Self {
        self.over.cardinality_limit = Some(limit);
        self
    }

    /// Exports finished spans with `exporter`, any OpenTelemetry SDK
    /// `SpanExporter` (an `opentelemetry_otlp::SpanExporter` you configured
    /// yourself, a vendor's, the SDK's `InMemorySpanExporter`), instead of
    /// the exporter the environment chooses; the configuration then shows
    /// [`TracesExporter::Custom`] with its type's name.
    ///
    /// It runs behind the crate's queue, so what the queue guarantees holds:
    /// `on_end` never blocks, memory is bounded in spans and bytes, a loss is
    /// counted ([`ExportStats`](crate::ExportStats)) and reported once, and
    /// shutdown waits at most its deadline. Each call of `export` has the
    /// export timeout (`OTEL_BSP_EXPORT_TIMEOUT`) as its deadline. What the
    /// crate's own OTLP transport adds is given up: requests are not cut to a
    /// size (4 MiB), a request the collector refuses as too large is not
    /// split, and a failed request is not retried (the crate cannot tell what
    /// another exporter's error means); `exporter` retries by itself if it
    /// does. It is called on the export thread, inside a Tokio runtime of its
    /// own.
    ///
    /// ```
    /// use distributed_tracing::ObservabilityBuilder;
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// let spans = InMemorySpanExporter::default();
    /// let guard = ObservabilityBuilder::default()
    ///     .span_exporter(spans.clone())
    ///     .build()?;
    /// # drop(guard);
    /// # Ok::<(), distributed_tracing::Error>(())
    /// ```
    pub fn span_exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
    {
        let name = std::any::type_name::<E>();
        let start: StartExport = Box::new(move |resource, batch| {
            let exporter = SdkExporter {
                exporter,
                destination: format!("the span exporter {name}"),
            };
            QueueProcessor::start(move || Ok(exporter), resource, batch)
        });
        self.over.traces_exporter = Some(TracesExporter::Custom(name.to_owned()));
        self.span_exporter = Some(TakenOnce::new(start));
        self
    }

    /// Sends spans over OTLP to this URL (for HTTP, the full URL with
    /// `/v1/traces`), like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. Checked like
    /// it: a URL that cannot be used (not `http://`, no host) disables span
    /// export, reported at start-up ([`ConfigIssue::disables`](config::ConfigIssue::disables)).
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.over.otlp_endpoint = Some(url.into());
        self
    }

    /// Sends log records (feature `logs`) over OTLP to this URL (for HTTP, the
    /// full URL with `/v1/logs`), like `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.
    /// Default: derived from the traces endpoint. A URL that cannot be used
    /// disables log export, reported at start-up.
    pub fn otlp_logs_endpoint(mut self, url: impl Into<String>) -> Self {
        self.over.otlp_logs_endpoint = Some(url.into());
        self
    }

    /// The OTLP transport, like `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.over.otlp_protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP request (an API key, say).
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.over.otlp_headers.push((name.into(), value.into()));
        self
    }

    /// The deadline of one OTLP request, like `OTEL_EXPORTER_OTLP_TIMEOUT`.
    /// Zero, which would fail every request at once, is reported at start-up
    /// and the default (10 s) used.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.over.otlp_timeout = Some(timeout);
        self
    }

    /// The compression of OTLP requests (spans and log records), like
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`.
    ///
    /// ```
    /// use distributed_tracing::config::OtlpCompression;
    /// use distributed_tracing::ObservabilityBuilder;
    /// let builder = ObservabilityBuilder::default().otlp_compression(OtlpCompression::Gzip);
    /// # drop(builder);
    /// ```
    pub fn otlp_compression(mut self, compression: OtlpCompression) -> Self {
        self.over.otlp_compression = Some(compression);
        self
    }

    /// A PEM file of the CA certificates trusted for an `https://` collector
    /// (spans and log records), instead of the system's roots, like
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`. A file that cannot be read or holds
    /// no certificate disables the export that would use it, reported at
    /// start-up with the path ([`ConfigIssue::disables`](config::ConfigIssue::disables)).
    ///
    /// ```
    /// use distributed_tracing::ObservabilityBuilder;
    /// let builder = ObservabilityBuilder::default()
    ///     .otlp_endpoint("https://collector.internal:4318/v1/traces")
    ///     .otlp_certificate("/etc/otel/ca.pem")
    ///     .otlp_client_certificate("/etc/otel/client.pem")
    ///     .otlp_client_key("/etc/otel/client-key.pem");
    /// # drop(builder);
    /// ```
    pub fn otlp_certificate(mut self, ca_pem: impl Into<PathBuf>) -> Self {
        self.over.otlp_tls.certificate = Some(ca_pem.into());
        self
    }

    /// A PEM file of the client certificate (chain) presented to an
    /// `https://` collector that requires one (mutual TLS), like
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`; its key is
    /// [`otlp_client_key`](Self::otlp_client_key).
    pub fn otlp_client_certificate(mut self, cert_pem: impl Into<PathBuf>) -> Self {
        self.over.otlp_tls.client_certificate = Some(cert_pem.into());
        self
    }

    /// A PEM file of the client certificate's private key (PKCS#8, PKCS#1 or
    /// SEC1), like `OTEL_EXPORTER_OTLP_CLIENT_KEY`. Its content is never shown.
    pub fn otlp_client_key(mut self, key_pem: impl Into<PathBuf>) -> Self {
        self.over.otlp_tls.client_key = Some(key_pem.into());
        self
    }

    /// Whether a gRPC endpoint given without a scheme (`collector:4317`) is
    /// plain text (`true`) or TLS (`false`, the default), like
    /// `OTEL_EXPORTER_OTLP_INSECURE`. An `http://` or `https://` endpoint
    /// decides by its scheme.
    pub fn otlp_insecure(mut self, insecure: bool) -> Self {
        self.over.otlp_insecure = Some(insecure);
        self
    }

    /// The sampler, like `OTEL_TRACES_SAMPLER`.
    pub fn sampler(mut self, sampler: SamplerConfig) -> Self {
        self.over.sampler = Some(sampler);
        self
    }

    /// The propagators, in order, like `OTEL_PROPAGATORS` (empty: none).
    pub fn propagators(mut self, propagators: Vec<PropagatorName>) -> Self {
        self.over.propagators = Some(propagators);
        self
    }

    /// The bound of the span queue, like `OTEL_BSP_MAX_QUEUE_SIZE` (default
    /// 2048). Past it, spans are dropped and counted ([`ObservabilityGuard::export_stats`]).
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.over.max_queue_size = Some(spans.max(1));
        self
    }

    /// The byte bound of the span queue, like `DISTRIBUTED_TRACING_MAX_QUEUE_BYTES`
    /// (default 32 MiB): the queued spans and the batch being exported hold at
    /// most this much, whatever they carry. Past it, the oldest queued spans
    /// are dropped and counted.
    pub fn max_queue_bytes(mut self, bytes: usize) -> Self {
        self.over.max_queue_bytes = Some(bytes.max(1));
        self
    }

    /// The most one OTLP export request carries, like
    /// `DISTRIBUTED_TRACING_MAX_EXPORT_BYTES` (default 4 MiB less 64 KiB): set it
    /// under your collector's limit if that is lower than gRPC's usual 4 MiB.
    pub fn max_export_bytes(mut self, bytes: usize) -> Self {
        self.over.max_export_bytes = Some(bytes.max(1));
        self
    }

    /// The delay between exports, like `OTEL_BSP_SCHEDULE_DELAY` (default 5 s).
    /// Zero is reported at start-up and the default used, as for the variable:
    /// exporting without a pause keeps a core busy while the service is idle.
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.over.scheduled_delay = Some(delay);
        self
    }

    /// The longest string attribute value kept, in characters, like
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (default: no limit); see
    /// [`SpanLimitsConfig`](config::SpanLimitsConfig).
    pub fn attribute_value_length_limit(mut self, chars: usize) -> Self {
        self.over.limits.attribute_value_length = Some(chars);
        self
    }

    /// Attributes per span, like `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (default 128).
    pub fn attribute_count_limit(mut self, attributes: u32) -> Self {
        self.over.limits.attribute_count = Some(attributes);
        self
    }

    /// Events per span, like `OTEL_SPAN_EVENT_COUNT_LIMIT` (default 128).
    pub fn event_count_limit(mut self, events: u32) -> Self {
        self.over.limits.event_count = Some(events);
        self
    }

    /// Links per span, like `OTEL_SPAN_LINK_COUNT_LIMIT` (default 128).
    pub fn link_count_limit(mut self, links: u32) -> Self {
        self.over.limits.link_count = Some(links);
        self
    }

    /// Attributes per span event, like `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT` (default 128).
    pub fn event_attribute_count_limit(mut self, attributes: u32) -> Self {
        self.over.limits.event_attribute_count = Some(attributes);
        self
    }

    /// Attributes per span link, like `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` (default 128).
    pub fn link_attribute_count_limit(mut self, attributes: u32) -> Self {
        self.over.limits.link_attribute_count = Some(attributes);
        self
    }

    /// The file of the embedded default sink (default:
    /// `<service name>.spans.jsonl` in `$XDG_STATE_HOME/distributed-tracing/`,
    /// else `$HOME/.local/state/distributed-tracing/`, else
    /// `<temp dir>/distributed-tracing-<uid>/`, a folder kept private to the
    /// user). The file is opened the same way wherever it is: never through a
    /// symbolic link, mode 0600, rotated at
    /// [`spans_file_max_bytes`](Self::spans_file_max_bytes). When it cannot be
    /// opened, the service starts anyway, spans are not exported and a warning
    /// says why (an error with [`strict`](Self::strict)).
    pub fn spans_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.over.default_spans_file = Some(path.into());
        self
    }

    /// The size at which the spans file is rotated to `<file>.1`, like
    /// `DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES` (default 16 MiB; at least 1).
    pub fn spans_file_max_bytes(mut self, bytes: u64) -> Self {
        self.over.spans_file_max_bytes = Some(bytes.max(1));
        self
    }

    /// The log line pattern (default [`DEFAULT_PATTERN`](crate::logging::DEFAULT_PATTERN));
    /// an unknown placeholder is an error at `init`.
    pub fn log_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.log_pattern = Some(pattern.into());
        self
    }

    /// The log line format: text (the default, see [`log_pattern`](Self::log_pattern))
    /// or JSON, with or without Datadog's attributes.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = Some(format);
        self
    }

    /// What the `tracing` bridge records on spans (default
    /// [`BridgeOptions::default`]: location, no thread attributes, no busy/idle
    /// timings, only `ERROR` events as span events).
    pub fn bridge(mut self, options: BridgeOptions) -> Self {
        self.bridge = options;
        self
    }

    /// Where log lines go (default: standard output).
    pub fn log_output(mut self, output: impl std::io::Write + Send + 'static) -> Self {
        self.log_output = Some(TakenOnce::new(Box::new(output)));
        self
    }

    /// Writes log lines from a background thread, so that a slow stdout (a
    /// full pipe, a slow terminal) never blocks the service's threads. At most
    /// `lines` lines wait in memory; past that, new lines are dropped and counted
    /// ([`ObservabilityGuard::dropped_log_lines`]). Default: lines are written
    /// directly, as `tracing-subscriber` does.
    pub fn non_blocking_logs(mut self, lines: usize) -> Self {
        self.non_blocking_lines = Some(lines.max(1));
        self
    }

    /// How long the guard's drop waits for the last spans (default 5 s).
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = Some(deadline);
        self
    }

    /// Reads the configuration from these variables instead of the process
    /// environment (for tests, or configuration kept elsewhere).
    ///
    /// The values are bytes, as in the process environment (`&str` and
    /// `String` work as they are): a value that is not UTF-8 is a bad
    /// value, reported and ignored like any other, never taken as unset; an
    /// OTLP endpoint or TLS file that is not UTF-8 disables its export.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::unix::ffi::OsStringExt as _;
    /// use distributed_tracing::ObservabilityBuilder;
    /// let config = ObservabilityBuilder::default()
    ///     .env_vars([(
    ///         "OTEL_SERVICE_NAME",
    ///         std::ffi::OsString::from_vec(b"checkout\xff".to_vec()),
    ///     )])
    ///     .config()
    ///     .unwrap();
    /// assert_eq!(config.issues[0].variable, "OTEL_SERVICE_NAME");
    /// assert!(config.issues[0].reason.starts_with("not valid UTF-8"));
    /// # }
    /// ```
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<OsString>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Makes every configuration value that cannot be used an error at
    /// start-up ([`Error::Config`](crate::Error::Config), naming the variable
    /// and the value). Without it, as the OpenTelemetry specification asks,
    /// such a value is reported (a warning at start-up) and ignored; an OTLP
    /// endpoint that cannot be used disables its export instead (an error
    /// at start-up, see [`ConfigIssue::disables`](config::ConfigIssue::disables)).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The configuration `init` would use, without installing anything.
    pub fn config(&self) -> Result<EffectiveConfig> {
        let config = match &self.env {
            Some(vars) => EffectiveConfig::resolve(&config::map_env(vars.clone()), &self.over),
            None => EffectiveConfig::resolve(&config::process_env, &self.over),
        };
        if self.strict {
            if let Some(issue) = config.issues.first() {
                return Err(issue.clone().into());
            }
        }
        Ok(config)
    }

    /// Builds the export pipeline (tracer provider, queue, exporter) without
    /// installing anything global: for a subscriber stack of your own (use
    /// [`ObservabilityGuard::tracer_provider`]), or for tests.
    ///
    /// A spans file that cannot be opened is reported here (to the current
    /// `tracing` subscriber, else standard error), unless strict.
    pub fn build(self) -> Result<ObservabilityGuard> {
        let config = self.config()?;
        let guard = self.build_quietly(config)?;
        guard.report_spans_sink(false);
        Ok(guard)
    }

    /// `build` with the configuration already resolved, without the report
    /// (`init` makes it once its subscriber is in).
    fn build_quietly(self, config: EffectiveConfig) -> Result<ObservabilityGuard> {
        let mut spans_sink_failure = None;
        let (provider, counters) = match config.sdk_disabled {
            true => (None, None),
            false => {
                let given = self.span_exporter.and_then(|given| given.take());
                let (provider, counters, failure) = build_pipeline(&config, self.strict, given)?;
                spans_sink_failure = failure;
                (Some(provider), Some(counters))
            }
        };
        #[cfg(feature = "logs")]
        let logs = match !config.sdk_disabled && config.logs_otlp {
            true => Some(build_log_pipeline(&config)?),
            false => None,
        };
        let (metrics, metrics_sink_failure) = build_metrics_pipeline(&config, self.strict)?;
        Ok(ObservabilityGuard {
            provider,
            counters,
            metrics,
            metrics_sink_failure,
            installed_metrics: false,
            #[cfg(feature = "logs")]
            logs,
            config,
            spans_sink_failure,
            shutdown_deadline: self.shutdown_deadline.unwrap_or(SHUTDOWN_DEADLINE),
            dropped_lines: None,
            log_worker: None,
        })
    }

    /// Installs the global propagator, tracer provider and subscriber.
    ///
    /// The subscriber is: `EnvFilter` from `RUST_LOG` (default `info`), the
    /// trace-id log line format and the OpenTelemetry bridge
    /// ([`otel_layer`](crate::otel_layer)). The OpenTelemetry SDK's own log
    /// lines (targets `opentelemetry`, `opentelemetry_sdk`,
    /// `opentelemetry-otlp`, ...) are kept at `WARN` unless `RUST_LOG` names
    /// them (e.g. `RUST_LOG=info,opentelemetry_sdk=debug`).
    pub fn init(self) -> Result<ObservabilityGuard> {
        // The builder's format, else its pattern, else
        // `DISTRIBUTED_TRACING_LOG_FORMAT`, else text lines.
        // The environment is resolved once, here; `build_quietly` takes the result.
        let config = self.config()?;
        let format = match (&self.log_format, &self.log_pattern) {
            (Some(format), _) => format.clone(),
            (None, Some(pattern)) => LogFormat::Text(TraceContextFormat::new(pattern)?),
            (None, None) => config.log_format.clone().unwrap_or_default(),
        };
        let non_blocking = self.non_blocking_lines;
        let bridge_options = self.bridge;
        let output: Box<dyn std::io::Write + Send> = self
            .log_output
            .as_ref()
            .and_then(TakenOnce::take)
            .unwrap_or_else(|| Box::new(std::io::stdout()));
        let mut guard = self.build_quietly(config)?;
        let layer = match non_blocking {
            Some(lines) => {
                let (writer, worker) =
                    tracing_appender::non_blocking::NonBlockingBuilder::default()
                        .buffered_lines_limit(lines)
                        .lossy(true)
                        .thread_name("distributed-tracing-log")
                        .finish(output);
                guard.dropped_lines = Some(writer.error_counter());
                guard.log_worker = Some(worker);
                fmt_layer(format, writer)
            }
            None => fmt_layer(format, std::sync::Mutex::new(output)),
        };
        #[cfg(feature = "logs")]
        let bridge = guard.logs.as_ref().map(|(provider, _)| {
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)
        });
        #[cfg(not(feature = "logs"))]
        let bridge: Option<tracing_subscriber::layer::Identity> = None;
        // The bridge uses the new provider's own tracer, so that the global
        // propagator and provider are only replaced once the subscriber is in:
        // a second `init` fails without disturbing the first one's pipeline.
        let otel = match &guard.provider {
            Some(provider) => {
                bridge_layer(provider.tracer(crate::bridge::TRACER_NAME), bridge_options)
            }
            None => otel_layer_with(bridge_options),
        };
        tracing_subscriber::registry()
            .with(subscriber_filter(&guard.config.log_filter))
            // The format layer inside the OpenTelemetry one: see `trace_context_fmt_layer`.
            .with(layer)
            .with(bridge)
            .with(otel)
            .try_init()?;
        crate::propagation::install_global(&guard.config.propagators);
        if let Some(provider) = &guard.provider {
            global::set_tracer_provider(crate::bridge::RandomFlagProvider(provider.clone()));
            crate::bridge::cache_installed_tracer(provider);
        }
        if let Some((metrics, _)) = &guard.metrics {
            RequestMetrics::set_global(Some(metrics.store().clone()));
            guard.installed_metrics = true;
        }
        let config = &guard.config;
        for issue in &config.issues {
            issue.log();
        }
        guard.report_spans_sink(true);
        tracing::debug!(target: "distributed_tracing::init", config = ?config, "observability configured");
        Ok(guard)
    }
}

/// The OpenTelemetry crates' target prefix: `opentelemetry`, `opentelemetry_sdk`,
/// `opentelemetry-otlp`, `opentelemetry-http`, `opentelemetry-appender-tracing`
/// (their internal logs use the package name as the target).
const OTEL_TARGETS: &str = "opentelemetry";

/// The subscriber's filter: `log_filter` (`RUST_LOG`'s syntax), with the
/// OpenTelemetry SDK's own lines ("Global tracer provider is set...") at
/// `WARN`, so that they do not mix with the service's `INFO` lines. A
/// directive of `log_filter` for one of those crates wins: a longer target is
/// more specific (`opentelemetry_sdk=debug`), and one for `opentelemetry`
/// itself is kept as it is.
fn subscriber_filter(log_filter: &str) -> tracing_subscriber::EnvFilter {
    // `log_filter` was checked when the configuration was resolved.
    let filter = crate::logging::parse_filter(log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let names_otel = log_filter
        .split(',')
        .any(|directive| directive.split(['[', '=']).next().map(str::trim) == Some(OTEL_TARGETS));
    match names_otel {
        true => filter,
        false => filter.add_directive(
            format!("{OTEL_TARGETS}=warn")
                .parse()
                .expect("a valid directive"),
        ),
    }
}

fn sampler(config: &EffectiveConfig) -> Result<Sampler> {
    Ok(match &config.sampler {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(*r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(*r)))
        }
        #[cfg(feature = "jaeger-remote-sampler")]
        SamplerConfig::JaegerRemote {
            parent_based,
            endpoint,
            polling_interval,
            initial_sampling_rate,
        } => {
            // The strategy is polled on a thread of its own with its own
            // runtime (`TokioCurrentThread`), whatever runtime the service uses.
            let remote = Sampler::jaeger_remote(
                opentelemetry_sdk::runtime::TokioCurrentThread,
                reqwest::Client::new(),
                Sampler::TraceIdRatioBased(*initial_sampling_rate),
                config.service_name.clone(),
            )
            .with_endpoint(endpoint.clone())
            .with_update_interval(*polling_interval)
            .build()
            .map_err(|e| crate::Error::Exporter(format!("Jaeger remote sampler: {e}")))?;
            match parent_based {
                true => Sampler::ParentBased(Box::new(remote)),
                false => remote,
            }
        }
        #[allow(unreachable_patterns)]
        _ => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
    })
}

fn resource(config: &EffectiveConfig) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(
            opentelemetry_sdk::resource::TelemetryResourceDetector,
        ))
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(config.service_name.clone())
        .build()
}

/// The crate's span queue, whichever form it keeps spans in: as they ended
/// (the spans file, standard output, an SDK exporter) or encoded for OTLP when
/// they ended.
#[derive(Debug)]
enum SpanQueue {
    Spans(QueueProcessor<opentelemetry_sdk::trace::SpanData>),
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    Otlp(QueueProcessor<otlp::SpanBytes>),
}

impl SpanQueue {
    fn truncating(self, limit: Option<usize>) -> Self {
        match self {
            Self::Spans(q) => Self::Spans(q.truncating(limit)),
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Self::Otlp(q) => Self::Otlp(q.truncating(limit)),
        }
    }

    fn processor(&self) -> &dyn opentelemetry_sdk::trace::SpanProcessor {
        match self {
            Self::Spans(q) => q,
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Self::Otlp(q) => q,
        }
    }
}

impl opentelemetry_sdk::trace::SpanProcessor for SpanQueue {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.processor().on_start(span, cx)
    }

    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        self.processor().on_end(span)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.processor().force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.processor().shutdown_with_timeout(timeout)
    }
}

/// The tracer provider, the export pipeline's counters, and why the spans
/// file could not be opened (then spans go nowhere, unless `strict` makes it
/// an error).
fn build_pipeline(
    config: &EffectiveConfig,
    strict: bool,
    given: Option<StartExport>,
) -> Result<(SdkTracerProvider, Arc<Counters>, Option<String>)> {
    let resource = resource(config);
    let (processor, counters) = match &config.traces_exporter {
        TracesExporter::Otlp => {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            {
                let otlp = config.otlp.clone();
                let max_bytes = config.batch.max_export_bytes;
                let (queue, counters) = QueueProcessor::start(
                    move || {
                        otlp::OtlpExporter::<otlp::Traces>::new(
                            &otlp,
                            otlp.traces_target(),
                            max_bytes,
                        )
                    },
                    resource.clone(),
                    config.batch,
                )?;
                (SpanQueue::Otlp(queue), counters)
            }
            #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
            {
                return Err(crate::Error::Exporter(
                    "OTLP export is not in this build: enable the otlp-grpc or otlp-http feature"
                        .into(),
                ));
            }
        }
        TracesExporter::Console => {
            let (queue, counters) = QueueProcessor::start(
                || Ok(OtlpFileExporter::stdout()),
                resource.clone(),
                config.batch,
            )?;
            (SpanQueue::Spans(queue), counters)
        }
        TracesExporter::File(path) => match OtlpFileExporter::file(
            path,
            config.spans_dir_is_default,
            config.spans_file_max_bytes,
        ) {
            Ok(sink) => {
                let (queue, counters) =
                    QueueProcessor::start(move || Ok(sink), resource.clone(), config.batch)?;
                (SpanQueue::Spans(queue), counters)
            }
            Err(e) if strict => return Err(e),
            // As with `None`: the provider still gives spans their ids.
            Err(e) => {
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource)
                    .with_sampler(sampler(config)?)
                    .build();
                return Ok((provider, Arc::new(Counters::default()), Some(e.to_string())));
            }
        },
        TracesExporter::Custom(name) => match given {
            Some(start) => {
                let (queue, counters) = start(resource.clone(), config.batch)?;
                (SpanQueue::Spans(queue), counters)
            }
            None => {
                return Err(crate::Error::Exporter(format!(
                    "TracesExporter::Custom({name:?}) names no exporter: give one to ObservabilityBuilder::span_exporter (once: a builder's exporter is used by its first build)"
                )))
            }
        },
        TracesExporter::None => {
            let provider = SdkTracerProvider::builder()
                .with_resource(resource)
                .with_sampler(sampler(config)?)
                .with_span_limits(config.span_limits.sdk())
                .build();
            return Ok((provider, Arc::new(Counters::default()), None));
        }
    };
    let mut provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler(config)?)
        .with_span_limits(config.span_limits.sdk())
        .with_span_processor(processor.truncating(config.span_limits.attribute_value_length));
    if config.also_console && config.traces_exporter != TracesExporter::Console {
        // A queue of its own: standard output never waits for the collector,
        // nor the collector for standard output. Its losses are reported by
        // its own worker; the guard's counters are the main export's.
        let (console, _) = QueueProcessor::start(
            || Ok(OtlpFileExporter::<SpanData>::stdout()),
            resource,
            config.batch,
        )?;
        provider = provider
            .with_span_processor(console.truncating(config.span_limits.attribute_value_length));
    }
    Ok((provider.build(), counters, None))
}

/// The logger provider exporting OTLP log records, and its counters.
#[cfg(feature = "logs")]
fn build_log_pipeline(
    config: &EffectiveConfig,
) -> Result<(opentelemetry_sdk::logs::SdkLoggerProvider, Arc<Counters>)> {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    {
        let otlp = config.otlp.clone();
        let max_bytes = config.batch.max_export_bytes;
        let (processor, counters) = QueueProcessor::start(
            move || otlp::OtlpExporter::<otlp::Logs>::new(&otlp, otlp.logs_target(), max_bytes),
            resource(config),
            config.batch,
        )?;
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_resource(resource(config))
            .with_log_processor(processor)
            .build();
        Ok((provider, counters))
    }
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    {
        let _ = config;
        Err(crate::Error::Exporter(
            "OTLP log export is not in this build: enable the otlp-grpc or otlp-http feature"
                .into(),
        ))
    }
}

/// The request metrics' store and export, and why the metrics file could
/// not be opened (then metrics are not recorded, unless `strict` makes it an
/// error).
#[allow(clippy::type_complexity)]
fn build_metrics_pipeline(
    config: &EffectiveConfig,
    strict: bool,
) -> Result<(Option<(MetricsPipeline, Arc<Counters>)>, Option<String>)> {
    let metrics = &config.metrics;
    let store = RequestMetrics::with_cardinality_limit(metrics.cardinality_limit);
    let resource = resource(config);
    let pipeline = match &metrics.exporter {
        MetricsExporter::None => return Ok((None, None)),
        MetricsExporter::Otlp => {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            {
                let mut otlp = config.otlp.clone();
                otlp.timeout = metrics.request_timeout;
                let max_bytes = config.batch.max_export_bytes;
                MetricsPipeline::start(
                    move || {
                        otlp::OtlpExporter::<otlp::Metrics>::new(
                            &otlp,
                            otlp.metrics_target(),
                            max_bytes,
                        )
                    },
                    resource,
                    metrics,
                    store,
                )?
            }
            #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
            {
                return Err(crate::Error::Exporter(
                    "OTLP metric export is not in this build: enable the otlp-grpc or otlp-http feature"
                        .into(),
                ));
            }
        }
        MetricsExporter::Console => MetricsPipeline::start(
            || Ok(OtlpFileExporter::<Histogram>::stdout()),
            resource,
            metrics,
            store,
        )?,
        MetricsExporter::File(path) => match OtlpFileExporter::<Histogram>::file(
            path,
            config.spans_dir_is_default,
            config.spans_file_max_bytes,
        ) {
            Ok(sink) => MetricsPipeline::start(move || Ok(sink), resource, metrics, store)?,
            Err(e) if strict => return Err(e),
            Err(e) => return Ok((None, Some(e.to_string()))),
        },
    };
    Ok((Some(pipeline), None))
}

/// Where spans (and, with feature `logs`, log records) go, one line each, as
/// the start-up report says it: the endpoint with its credentials masked, the
/// protocol, the compression, TLS or plain text.
fn destinations(config: &EffectiveConfig) -> Vec<String> {
    if config.sdk_disabled {
        return vec![
            "OpenTelemetry is disabled (OTEL_SDK_DISABLED=true): no span is recorded or exported"
                .into(),
        ];
    }
    #[cfg_attr(not(feature = "logs"), allow(unused_mut))]
    let mut lines = vec![match &config.traces_exporter {
        TracesExporter::Otlp => format!(
            "spans are exported to {}",
            otlp_destination(
                &config.otlp,
                &config.otlp.endpoint,
                config.otlp.compression,
                &config.otlp.tls
            )
        ),
        TracesExporter::Console => "spans are written to standard output (OTLP file format)".into(),
        TracesExporter::File(path) => format!(
            "spans are written to {} (OTLP file format, rotated at {})",
            shown_path(path),
            Size(config.spans_file_max_bytes)
        ),
        TracesExporter::Custom(name) => format!("spans are exported by the span exporter {name}"),
        TracesExporter::None => {
            "spans are recorded but not exported (traces exporter: none)".into()
        }
    }];
    if config.also_console && config.traces_exporter != TracesExporter::Console {
        lines.push("spans are also written to standard output (OTLP file format)".into());
    }
    #[cfg(feature = "logs")]
    if config.logs_otlp {
        lines.push(format!(
            "log records are exported to {}",
            otlp_destination(
                &config.otlp,
                &config.otlp.logs_endpoint,
                config.otlp.logs_compression,
                &config.otlp.logs_tls
            )
        ));
    }
    let every = format!(
        "every {} ms ({})",
        config.metrics.interval.as_millis(),
        match config.metrics.temporality {
            crate::metrics::Temporality::Delta => "delta",
            _ => "cumulative",
        }
    );
    lines.push(match &config.metrics.exporter {
        MetricsExporter::Otlp => format!(
            "request metrics are exported to {}, {every}",
            otlp_destination(
                &config.otlp,
                &config.otlp.metrics_endpoint,
                config.otlp.metrics_compression,
                &config.otlp.metrics_tls
            )
        ),
        MetricsExporter::Console => {
            format!("request metrics are written to standard output (OTLP file format), {every}")
        }
        MetricsExporter::File(path) => format!(
            "request metrics are written to {} (OTLP file format), {every}",
            shown_path(path)
        ),
        _ => "request metrics are not recorded (metrics exporter: none)".into(),
    });
    lines
}

/// A path from the environment or the builder as a line shows it: its
/// control and bidirectional characters escaped, at most 256 characters.
fn shown_path(path: &std::path::Path) -> String {
    let path = path.display().to_string();
    crate::untrusted::shorten_untrusted(&path, config::MAX_URL_SHOWN).into_owned()
}

/// `endpoint (OTLP/gRPC, gzip, TLS with a client certificate, 1 header)`.
fn otlp_destination(
    otlp: &config::OtlpConfig,
    endpoint: &str,
    compression: OtlpCompression,
    tls: &config::OtlpTls,
) -> String {
    let protocol = match otlp.protocol {
        OtlpProtocol::Grpc => "OTLP/gRPC",
        OtlpProtocol::HttpProtobuf => "OTLP/HTTP protobuf",
    };
    let compression = match compression {
        OtlpCompression::Gzip => "gzip",
        _ => "no compression",
    };
    let security = match (config::is_https(endpoint), tls) {
        (false, _) => "plain text".to_owned(),
        (true, tls) => format!(
            "TLS{}{}",
            match &tls.certificate {
                Some(ca) => format!(", trusting the CA of {}", shown_path(ca)),
                None => String::new(),
            },
            match tls.client_certificate {
                Some(_) => " with a client certificate",
                None => "",
            }
        ),
    };
    let headers = match otlp.headers.len() {
        0 => String::new(),
        1 => ", 1 header".to_owned(),
        n => format!(", {n} headers"),
    };
    format!(
        "{} ({protocol}, {compression}, {security}{headers})",
        config::redact_url(endpoint)
    )
}

/// Returned by [`init_observability`]: dropping it flushes the spans still
/// queued and shuts the SDK down, waiting at most the shutdown deadline (5 s by
/// default) so that a dead collector can never hang the service's exit.
#[must_use = "dropping the guard shuts the telemetry pipeline down"]
#[derive(Debug)]
pub struct ObservabilityGuard {
    provider: Option<SdkTracerProvider>,
    counters: Option<Arc<Counters>>,
    metrics: Option<(MetricsPipeline, Arc<Counters>)>,
    /// Why the metrics file could not be opened (metrics then not recorded).
    metrics_sink_failure: Option<String>,
    /// Whether `init` installed the metrics store for the layers.
    installed_metrics: bool,
    #[cfg(feature = "logs")]
    logs: Option<(opentelemetry_sdk::logs::SdkLoggerProvider, Arc<Counters>)>,
    config: EffectiveConfig,
    /// Why the spans file could not be opened (spans then go nowhere).
    spans_sink_failure: Option<String>,
    shutdown_deadline: Duration,
    dropped_lines: Option<tracing_appender::non_blocking::ErrorCounter>,
    // Flushes the log lines still buffered when dropped (after the provider).
    log_worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl ObservabilityGuard {
    /// Log lines dropped because the non-blocking writer's buffer was full
    /// ([`ObservabilityBuilder::non_blocking_logs`]); 0 with the direct writer.
    pub fn dropped_log_lines(&self) -> usize {
        self.dropped_lines.as_ref().map_or(0, |c| c.dropped_lines())
    }

    /// The configuration in force.
    pub fn config(&self) -> &EffectiveConfig {
        &self.config
    }

    /// The file of the local span sink, when that is where spans go: `None`
    /// with another exporter, or when the file could not be opened (the
    /// warning at start-up says why; spans are then not exported).
    pub fn spans_file(&self) -> Option<&std::path::Path> {
        match (&self.config.traces_exporter, &self.spans_sink_failure) {
            (TracesExporter::File(path), None) => Some(path),
            _ => None,
        }
    }

    /// Says once, at start-up, why the spans file could not be opened
    /// (warning) or, with `announce`, where spans (and log records) go (info).
    fn report_spans_sink(&self, announce: bool) {
        const TARGET: &str = "distributed_tracing::init";
        // The metrics file is beside the spans file: when both fail, for the
        // same folder, one line says it.
        if let (Some(reason), None) = (&self.metrics_sink_failure, &self.spans_sink_failure) {
            let text = format!("request metrics are not recorded: {reason}");
            match tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>())
            {
                true => eprintln!("distributed-tracing: {text}"),
                false => tracing::warn!(target: TARGET, "{text}"),
            }
        }
        if let Some(reason) = &self.spans_sink_failure {
            let text = match self.metrics_sink_failure.is_some() {
                true => format!("spans are not exported, nor request metrics recorded: {reason}"),
                false => format!("spans are not exported: {reason}"),
            };
            // `build` may run before any subscriber is installed (it makes the
            // provider the subscriber's layer needs): then on standard error.
            match tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>())
            {
                true => eprintln!("distributed-tracing: {text}"),
                false => tracing::warn!(target: TARGET, "{text}"),
            }
        } else if announce {
            for line in destinations(&self.config) {
                tracing::info!(target: TARGET, "{line}");
            }
        }
    }

    /// The tracer provider (`None` when `OTEL_SDK_DISABLED=true`).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// The logger provider exporting `tracing` events as OTLP log records
    /// (feature `logs`; `None` unless log records go over OTLP). For your own
    /// subscriber stack: `opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)`.
    #[cfg_attr(docsrs, doc(cfg(feature = "logs")))]
    #[cfg(feature = "logs")]
    pub fn logger_provider(&self) -> Option<&opentelemetry_sdk::logs::SdkLoggerProvider> {
        self.logs.as_ref().map(|(provider, _)| provider)
    }

    /// What happened to the log records handed to the OTLP log exporter so far
    /// (feature `logs`).
    #[cfg_attr(docsrs, doc(cfg(feature = "logs")))]
    #[cfg(feature = "logs")]
    pub fn log_export_stats(&self) -> ExportStats {
        self.logs
            .as_ref()
            .map(|(_, c)| c.snapshot())
            .unwrap_or_default()
    }

    /// What happened to the finished spans so far.
    ///
    /// ```
    /// use distributed_tracing::ObservabilityBuilder;
    /// use distributed_tracing::config::TracesExporter;
    ///
    /// // Spans as JSON lines on standard output, for the example.
    /// let guard = ObservabilityBuilder::default()
    ///     .traces_exporter(TracesExporter::Console)
    ///     .init()?;
    /// tracing::info_span!("checkout").in_scope(|| tracing::info!("working"));
    /// guard.flush()?; // the span is exported now, not at the next batch
    ///
    /// let stats = guard.export_stats();
    /// assert_eq!(stats.exported, 1);
    /// assert_eq!(stats.lost(), 0, "queue full, failed, too large or unfinished");
    /// # Ok::<(), distributed_tracing::Error>(())
    /// ```
    pub fn export_stats(&self) -> ExportStats {
        self.counters
            .as_ref()
            .map(|c| c.snapshot())
            .unwrap_or_default()
    }

    /// The store of the request metrics ([`crate::metrics`]): the one the
    /// layers record into after [`init`](ObservabilityBuilder::init) (with
    /// [`build`](ObservabilityBuilder::build), give it to each layer with
    /// `.request_metrics(...)`). `None` when metrics are not recorded
    /// (`OTEL_METRICS_EXPORTER=none`, `OTEL_SDK_DISABLED=true`).
    pub fn request_metrics(&self) -> Option<&RequestMetrics> {
        self.metrics.as_ref().map(|(pipeline, _)| pipeline.store())
    }

    /// What happened to the exported metric histograms so far (an item: one
    /// instrument's points of one collection, at most 256).
    pub fn metric_export_stats(&self) -> ExportStats {
        self.metrics
            .as_ref()
            .map(|(_, c)| c.snapshot())
            .unwrap_or_default()
    }

    /// Exports every finished span (and log record) now, and what the
    /// request metrics hold (waits at most 30 s each).
    pub fn flush(&self) -> Result<()> {
        if let Some((metrics, _)) = &self.metrics {
            metrics.flush()?;
        }
        #[cfg(feature = "logs")]
        if let Some((provider, _)) = &self.logs {
            provider.force_flush()?;
        }
        match &self.provider {
            Some(provider) => Ok(provider.force_flush()?),
            None => Ok(()),
        }
    }
}

impl Drop for ObservabilityGuard {
    fn drop(&mut self) {
        // A failed shutdown is not reported here: the export queue's last line
        // says it (in the configured log format), with the counts of the run,
        // and a provider shut down already has nothing more to say.
        // The layers stop recording first; the last collection is exported
        // before the spans' queues close.
        if self.installed_metrics {
            if let Some((metrics, _)) = &self.metrics {
                let installed = RequestMetrics::global();
                if installed.is_some_and(|g| g.same_store(metrics.store())) {
                    RequestMetrics::set_global(None);
                }
            }
        }
        if let Some((metrics, _)) = &self.metrics {
            let _ = metrics.shutdown(self.shutdown_deadline);
        }
        #[cfg(feature = "logs")]
        if let Some((provider, _)) = &self.logs {
            let _ = provider.shutdown_with_timeout(self.shutdown_deadline);
        }
        if let Some(provider) = &self.provider {
            let _ = provider.shutdown_with_timeout(self.shutdown_deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::subscriber_filter;

    /// Records the target and level of every event that passes the filter.
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let meta = event.metadata();
            let line = format!("{} {}", meta.target(), meta.level());
            self.0.lock().unwrap().push(line);
        }
    }

    /// The events of the SDK's targets that `log_filter` lets through.
    fn shown(log_filter: &str) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(subscriber_filter(log_filter))
            .with(Seen(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "opentelemetry_sdk", "Global tracer provider is set");
            tracing::warn!(target: "opentelemetry_sdk", "export failed");
            tracing::info!(target: "opentelemetry", "info");
            tracing::debug!(target: "opentelemetry-otlp", "debug");
            tracing::info!(target: "my_service", "handling");
        });
        let shown = seen.lock().unwrap().clone();
        shown
    }

    #[test]
    fn the_sdk_logs_only_warnings_unless_rust_log_names_it() {
        // (RUST_LOG, events shown, why)
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "info",
                &["opentelemetry_sdk WARN", "my_service INFO"],
                "the default: the SDK's INFO is hidden, its WARN shown",
            ),
            (
                "debug",
                &["opentelemetry_sdk WARN", "my_service INFO"],
                "a global level does not name the SDK",
            ),
            (
                "info,opentelemetry_sdk=info",
                &[
                    "opentelemetry_sdk INFO",
                    "opentelemetry_sdk WARN",
                    "my_service INFO",
                ],
                "named: the more specific target wins",
            ),
            (
                "warn,opentelemetry=debug",
                &[
                    "opentelemetry_sdk INFO",
                    "opentelemetry_sdk WARN",
                    "opentelemetry INFO",
                    "opentelemetry-otlp DEBUG",
                ],
                "named by the common prefix: kept as written",
            ),
        ];
        // The default filter (`RUST_LOG` unset) is the first case.
        let default = super::ObservabilityBuilder::default()
            .env_vars(std::iter::empty::<(String, String)>())
            .config()
            .unwrap()
            .log_filter;
        assert_eq!(default, cases[0].0);
        for (rust_log, expected, why) in cases {
            assert_eq!(shown(rust_log), *expected, "RUST_LOG={rust_log}: {why}");
        }
    }

    /// Environment variables of one case.
    type Vars = &'static [(&'static str, &'static str)];

    /// One start-up line per exporter kind, naming where spans go and how,
    /// with no credential in it.
    #[test]
    fn the_start_up_line_names_where_spans_go() {
        use opentelemetry_sdk::trace::InMemorySpanExporter;
        #[rustfmt::skip]
        let cases: &[(Vars, &str, &str)] = &[
            (&[("OTEL_TRACES_EXPORTER", "console")], "spans are written to standard output (OTLP file format)", "console"),
            (&[("OTEL_TRACES_EXPORTER", "none")], "spans are recorded but not exported (traces exporter: none)", "none"),
            (&[("OTEL_SDK_DISABLED", "true")], "OpenTelemetry is disabled (OTEL_SDK_DISABLED=true): no span is recorded or exported", "disabled"),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], "spans are exported to http://collector:4318/v1/traces (OTLP/HTTP protobuf, no compression, plain text)", "the default protocol"),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")], "spans are exported to http://collector:4317 (OTLP/gRPC, no compression, plain text)", "gRPC"),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:secret@collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-team=a")], "spans are exported to http://REDACTED:REDACTED@collector:4317 (OTLP/gRPC, no compression, plain text, 2 headers)", "credentials masked, headers counted"),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"), ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], "spans are exported to https://collector:4318/v1/traces (OTLP/HTTP protobuf, gzip, TLS)", "HTTP over TLS, compressed"),
        ];
        for (vars, expected, why) in cases {
            let config = super::ObservabilityBuilder::default()
                .env_vars(vars.iter().copied())
                .config()
                .unwrap();
            let lines = super::destinations(&config);
            assert_eq!(lines[0], *expected, "{why}");
            assert!(
                !lines.iter().any(|l| l.contains("secret")),
                "{why}: {lines:?}"
            );
        }
        let config = super::ObservabilityBuilder::default()
            .env_vars([("OTEL_TRACES_EXPORTER", "otlp,console")])
            .config()
            .unwrap();
        assert_eq!(
            super::destinations(&config)[1],
            "spans are also written to standard output (OTLP file format)"
        );
        let config = super::ObservabilityBuilder::default()
            .env_vars(std::iter::empty::<(String, String)>())
            .spans_file("/var/lib/checkout/spans.jsonl")
            .config()
            .unwrap();
        assert_eq!(
            super::destinations(&config),
            [
                "spans are written to /var/lib/checkout/spans.jsonl (OTLP file format, rotated at 16 MiB)",
                "request metrics are written to /var/lib/checkout/spans.metrics.jsonl (OTLP file format), every 60000 ms (cumulative)"
            ],
            "the spans file, and the metrics file beside it"
        );
        let config = super::ObservabilityBuilder::default()
            .env_vars(std::iter::empty::<(String, String)>())
            .span_exporter(InMemorySpanExporter::default())
            .config()
            .unwrap();
        assert_eq!(
            super::destinations(&config),
            [
                "spans are exported by the span exporter opentelemetry_sdk::trace::in_memory_exporter::InMemorySpanExporter",
                "request metrics are not recorded (metrics exporter: none)"
            ],
            "a span exporter given in code: metrics go nowhere unless told"
        );
        let config = super::ObservabilityBuilder::default()
            .env_vars([
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://u:secret@collector:4318",
                ),
                ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ])
            .config()
            .unwrap();
        assert_eq!(
            super::destinations(&config).last().unwrap(),
            "request metrics are exported to http://REDACTED:REDACTED@collector:4318/v1/metrics (OTLP/HTTP protobuf, no compression, plain text), every 15000 ms (delta)",
            "the metrics' line"
        );
        // Paths come from the environment: escaped and bounded on the line.
        let hostile = format!("/tmp/\u{202e}ca\n{}.pem", "x".repeat(5_000));
        let tls = crate::config::OtlpTls {
            certificate: Some(hostile.clone().into()),
            ..Default::default()
        };
        let line = super::otlp_destination(
            &config.otlp,
            "https://collector:4318/v1/traces",
            crate::config::OtlpCompression::None,
            &tls,
        );
        assert!(
            line.contains("trusting the CA of /tmp/\\u{202e}ca\\n"),
            "{line}"
        );
        assert!(
            line.len() < 400 && !line.chars().any(crate::untrusted::is_untrusted),
            "{line}"
        );
        let config = super::ObservabilityBuilder::default()
            .env_vars(std::iter::empty::<(String, String)>())
            .spans_file(&hostile)
            .config()
            .unwrap();
        let line = &super::destinations(&config)[0];
        assert!(
            line.len() < 400 && !line.chars().any(crate::untrusted::is_untrusted),
            "{line}"
        );
        #[cfg(feature = "logs")]
        {
            let config = super::ObservabilityBuilder::default()
                .env_vars([
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                    ("OTEL_LOGS_EXPORTER", "otlp"),
                ])
                .config()
                .unwrap();
            assert_eq!(
                super::destinations(&config),
                [
                    "spans are exported to http://collector:4318/v1/traces (OTLP/HTTP protobuf, no compression, plain text)",
                    "log records are exported to http://collector:4318/v1/logs (OTLP/HTTP protobuf, no compression, plain text)",
                    "request metrics are exported to http://collector:4318/v1/metrics (OTLP/HTTP protobuf, no compression, plain text), every 60000 ms (cumulative)",
                ],
                "log records too"
            );
        }
    }
}
