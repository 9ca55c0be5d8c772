//! The configuration of [`init_observability`](crate::init_observability): what
//! [`ObservabilityBuilder::config`](crate::ObservabilityBuilder::config) and
//! [`ObservabilityGuard::config`](crate::ObservabilityGuard::config) return
//! ([`EffectiveConfig`]), and the types the builder's setters take.
//!
//! The values come from the OpenTelemetry environment variables, overridden in
//! code by the [`ObservabilityBuilder`](crate::ObservabilityBuilder). Parsing
//! follows the OpenTelemetry specification
//! (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>):
//! an empty value is the same as an unset one, and a value that cannot be used
//! is reported as a [`ConfigIssue`] (naming the variable and the value) and
//! ignored, the default taking its place; with
//! [`strict`](crate::ObservabilityBuilder::strict) it is an error at start-up
//! instead. [`reference::configuration`](crate::reference::configuration)
//! lists every variable.
//!
//! ```
//! use distributed_tracing::config::{OtlpProtocol, SamplerConfig, TracesExporter};
//! use distributed_tracing::ObservabilityBuilder;
//!
//! let config = ObservabilityBuilder::default()
//!     .env_vars([
//!         ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
//!         ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
//!         ("OTEL_TRACES_SAMPLER", "sometimes"),
//!     ])
//!     .config()?;
//! assert_eq!(config.traces_exporter, TracesExporter::Otlp);
//! assert_eq!(config.otlp.protocol, OtlpProtocol::Grpc);
//! assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn); // reported, default used
//! assert_eq!(config.issues[0].variable, "OTEL_TRACES_SAMPLER");
//! # Ok::<(), distributed_tracing::Error>(())
//! ```

// The types are defined here; the reading of the environment is in `env` (the
// variable names, their defaults, the value parsers), with one resolver per
// concern, which `EffectiveConfig::resolve` calls in turn: `resolve.rs`
// (resource, batch, logging), `limits.rs`, `exporters.rs` (the exporters and OTLP),
// `tls.rs` (the TLS files), `sampler.rs` and `propagators.rs`. `user.rs` is
// the user the process runs as (the spans file's owner). This module uses the
// logging types it configures, never `init` or `export`.

mod env;
mod exporters;
mod limits;
mod propagators;
mod resolve;
mod sampler;
#[cfg(test)]
mod tests;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod tls;
pub(crate) mod user;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Shown};
use crate::logging::{DatadogTags, JsonFormat, LogFormat, TraceContextFormat};
use crate::propagation::PropagatorName;

pub(crate) use env::{map_env, process_env};
pub use limits::SpanLimitsConfig;
pub(crate) use resolve::env_filter;

/// Where finished spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracesExporter {
    /// OTLP to a collector (`OTEL_TRACES_EXPORTER=otlp`, or any OTLP endpoint set).
    Otlp,
    /// Standard output, in the OTLP file format ([`crate::otlp_file`];
    /// `OTEL_TRACES_EXPORTER=console`).
    Console,
    /// A local file in the OTLP file format ([`crate::otlp_file`]): the
    /// embedded default when nothing is configured, so that a new user sees
    /// traces without a collector. Its path: the builder's
    /// [`spans_file`](crate::ObservabilityBuilder::spans_file), else
    /// `DISTRIBUTED_TRACING_SPANS_FILE`, else a per-user default. Private to
    /// the user and rotated: see
    /// [`ObservabilityBuilder::spans_file`](crate::ObservabilityBuilder::spans_file).
    File(std::path::PathBuf),
    /// Spans are recorded (ids, sampling) but sent nowhere (`OTEL_TRACES_EXPORTER=none`).
    None,
    /// The `SpanExporter` given to
    /// [`ObservabilityBuilder::span_exporter`](crate::ObservabilityBuilder::span_exporter),
    /// behind the crate's queue; the text is its type's name, as reports show it.
    Custom(String),
}

/// The log line format chosen by `DISTRIBUTED_TRACING_LOG_FORMAT` (this
/// crate's variable; the OpenTelemetry specification has none for it), before
/// it becomes a [`LogFormat`] in [`EffectiveConfig::log_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormatName {
    /// `text`: the pattern's lines (default).
    Text,
    /// `json`: JSON lines.
    Json,
    /// `datadog`: JSON lines with Datadog's correlation attributes.
    Datadog,
}

impl LogFormatName {
    /// The format this name stands for; `datadog` takes its tags from `datadog`.
    pub(crate) fn format(self, datadog: &DatadogConfig) -> LogFormat {
        match self {
            Self::Text => LogFormat::Text(TraceContextFormat::default()),
            Self::Json => LogFormat::Json(JsonFormat::new()),
            Self::Datadog => LogFormat::Json(JsonFormat::new().datadog(datadog.clone().into())),
        }
    }
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC (`grpc`), default port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`, the specification's
    /// default), default port 4318.
    HttpProtobuf,
}

impl OtlpProtocol {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "grpc" => Some(Self::Grpc),
            "http/protobuf" => Some(Self::HttpProtobuf),
            _ => None,
        }
    }

    /// The name used in `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// The compression of OTLP requests (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Requests as they are (`none`, the specification's default).
    #[default]
    None,
    /// gzip: `Content-Encoding: gzip` over HTTP, `grpc-encoding: gzip` over gRPC.
    Gzip,
}

impl OtlpCompression {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "gzip" => Some(Self::Gzip),
            _ => None,
        }
    }

    /// The name used in `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
        }
    }
}

/// The TLS files of an OTLP exporter, used when its endpoint is `https://`
/// (PEM files; each `None`: not given).
///
/// Without a CA file the system's trusted roots are used (what
/// `ca-certificates` installs in `/etc/ssl/certs`, or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR`); with one, only its certificates are trusted, as in the
/// OpenTelemetry SDKs of other languages. A client certificate and its key
/// come together (mutual TLS).
///
/// ```
/// use distributed_tracing::ObservabilityBuilder;
/// let config = ObservabilityBuilder::default()
///     .env_vars([
///         ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.internal:4318"),
///         ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/otel/ca.pem"),
///         ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/etc/otel/logs-ca.pem"),
///     ])
///     .config()
///     .unwrap();
/// assert_eq!(config.otlp.tls.certificate.as_deref(), Some("/etc/otel/ca.pem".as_ref()));
/// assert_eq!(config.otlp.logs_tls.certificate.as_deref(), Some("/etc/otel/logs-ca.pem".as_ref()));
/// // The file does not exist: span export is disabled, and says why.
/// assert!(config.issues[0].to_string().contains("/etc/otel/ca.pem"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpTls {
    /// The CA certificates trusted for the collector's certificate, instead of
    /// the system's (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub certificate: Option<PathBuf>,
    /// The client certificate (chain) of mutual TLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
    pub client_certificate: Option<PathBuf>,
    /// The client certificate's private key (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
}

/// The sampler for new spans (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
/// Its `Debug` form masks the credentials of the Jaeger endpoint.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum SamplerConfig {
    /// `always_on`
    AlwaysOn,
    /// `always_off`
    AlwaysOff,
    /// `traceidratio` with the ratio in `[0, 1]`.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default)
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with the ratio in `[0, 1]`.
    ParentBasedTraceIdRatio(f64),
    /// `jaeger_remote` (`parent_based: false`) and `parentbased_jaeger_remote`:
    /// the sampling strategy is polled from a Jaeger sampling endpoint (feature
    /// `jaeger-remote-sampler`). `OTEL_TRACES_SAMPLER_ARG`:
    /// `endpoint=http://localhost:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001`
    /// (those are the defaults; any of the three may be left out).
    JaegerRemote {
        /// Respect the parent's decision, use the remote strategy for roots.
        parent_based: bool,
        /// The sampling endpoint (`?service=<service name>` is appended).
        endpoint: String,
        /// How often the strategy is fetched.
        polling_interval: Duration,
        /// The trace id ratio used until the first strategy arrives.
        initial_sampling_rate: f64,
    },
}

impl fmt::Debug for SamplerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlwaysOn => f.write_str("AlwaysOn"),
            Self::AlwaysOff => f.write_str("AlwaysOff"),
            Self::TraceIdRatio(r) => f.debug_tuple("TraceIdRatio").field(r).finish(),
            Self::ParentBasedAlwaysOn => f.write_str("ParentBasedAlwaysOn"),
            Self::ParentBasedAlwaysOff => f.write_str("ParentBasedAlwaysOff"),
            Self::ParentBasedTraceIdRatio(r) => {
                f.debug_tuple("ParentBasedTraceIdRatio").field(r).finish()
            }
            Self::JaegerRemote {
                parent_based,
                endpoint,
                polling_interval,
                initial_sampling_rate,
            } => f
                .debug_struct("JaegerRemote")
                .field("parent_based", parent_based)
                .field("endpoint", &redact_url(endpoint))
                .field("polling_interval", polling_interval)
                .field("initial_sampling_rate", initial_sampling_rate)
                .finish(),
        }
    }
}

/// Batch export settings (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Finished spans waiting for export, at most (`OTEL_BSP_MAX_QUEUE_SIZE`,
    /// default 2048). When the queue is full, new spans are dropped and counted:
    /// memory stays bounded whatever the collector does.
    pub max_queue_size: usize,
    /// Delay between two exports (`OTEL_BSP_SCHEDULE_DELAY`, milliseconds, default
    /// 5000; 0 is reported and ignored).
    pub scheduled_delay: Duration,
    /// Spans in one export request, at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
    /// default 512), never more than `max_queue_size` (a larger value is
    /// reported and capped).
    pub max_export_batch_size: usize,
    /// Deadline of one export, retries included (`OTEL_BSP_EXPORT_TIMEOUT`,
    /// milliseconds, default 30000; 0 is reported and ignored).
    pub export_timeout: Duration,
    /// Bytes the queued spans (and the batch being exported) may hold, at most
    /// (`DISTRIBUTED_TRACING_MAX_QUEUE_BYTES`, default 32 MiB): with
    /// `max_queue_size`, the memory bound of the export queue, whatever the
    /// spans carry. Past it, the oldest queued spans are dropped and counted.
    pub max_queue_bytes: usize,
    /// Bytes one OTLP export request may carry, at most
    /// (`DISTRIBUTED_TRACING_MAX_EXPORT_BYTES`, default 4 MiB less 64 KiB, under
    /// the 4 MiB that gRPC servers accept by default). Larger batches are sent as
    /// several requests; a span larger than this alone is dropped and counted.
    pub max_export_bytes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_queue_size: env::OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT,
            scheduled_delay: env::OTEL_BSP_SCHEDULE_DELAY_DEFAULT,
            max_export_batch_size: env::OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT,
            export_timeout: env::OTEL_BSP_EXPORT_TIMEOUT_DEFAULT,
            max_queue_bytes: env::DISTRIBUTED_TRACING_MAX_QUEUE_BYTES_DEFAULT,
            max_export_bytes: env::DISTRIBUTED_TRACING_MAX_EXPORT_BYTES_DEFAULT,
        }
    }
}

/// The OTLP exporter's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The transport.
    pub protocol: OtlpProtocol,
    /// The full URL spans are sent to (for HTTP, with the `/v1/traces` path).
    pub endpoint: String,
    /// The full URL log records are sent to (feature `logs`; for HTTP, with the
    /// `/v1/logs` path): `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, else derived from
    /// `endpoint`.
    pub logs_endpoint: String,
    /// The full URL metrics are sent to (for HTTP, with the `/v1/metrics`
    /// path): `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else derived from `endpoint`.
    pub metrics_endpoint: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`): API keys and the like.
    pub headers: Vec<(String, String)>,
    /// Deadline of one export request (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s; 0 is reported and ignored).
    pub timeout: Duration,
    /// Compression of the span requests: the builder's, else
    /// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, else
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`; default none.
    pub compression: OtlpCompression,
    /// Compression of the log record requests (feature `logs`): the builder's,
    /// else `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`, else
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`; default none.
    pub logs_compression: OtlpCompression,
    /// Compression of the metric requests: the builder's, else
    /// `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION`, else
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`; default none.
    pub metrics_compression: OtlpCompression,
    /// The TLS files of span export (for an `https://` endpoint): the
    /// builder's, else `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` (`_CLIENT_CERTIFICATE`,
    /// `_CLIENT_KEY`), else `OTEL_EXPORTER_OTLP_CERTIFICATE` (...), each alone.
    pub tls: OtlpTls,
    /// The TLS files of log record export (feature `logs`): the builder's, else
    /// the `OTEL_EXPORTER_OTLP_LOGS_*` forms, else the generic ones.
    pub logs_tls: OtlpTls,
    /// The TLS files of metric export: the builder's, else the
    /// `OTEL_EXPORTER_OTLP_METRICS_*` forms, else the generic ones.
    pub metrics_tls: OtlpTls,
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl OtlpConfig {
    /// Where span requests go, compressed and secured how.
    pub(crate) fn traces_target(&self) -> OtlpTarget<'_> {
        OtlpTarget {
            endpoint: &self.endpoint,
            compression: self.compression,
            tls: &self.tls,
        }
    }

    /// Where log record requests go, compressed and secured how.
    #[cfg_attr(not(feature = "logs"), allow(dead_code))]
    pub(crate) fn logs_target(&self) -> OtlpTarget<'_> {
        OtlpTarget {
            endpoint: &self.logs_endpoint,
            compression: self.logs_compression,
            tls: &self.logs_tls,
        }
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl OtlpConfig {
    /// Where metric requests go, compressed and secured how.
    pub(crate) fn metrics_target(&self) -> OtlpTarget<'_> {
        OtlpTarget {
            endpoint: &self.metrics_endpoint,
            compression: self.metrics_compression,
            tls: &self.metrics_tls,
        }
    }
}

/// Where the request metrics ([`crate::metrics`]) go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsExporter {
    /// OTLP to a collector (`OTEL_METRICS_EXPORTER=otlp`, or unset while spans
    /// go over OTLP), at [`OtlpConfig::metrics_endpoint`].
    Otlp,
    /// Standard output, in the OTLP file format (`OTEL_METRICS_EXPORTER=console`).
    Console,
    /// A local file in the OTLP file format: the embedded default when spans
    /// go to the spans file (beside it, `<service>.metrics.jsonl`, or
    /// `DISTRIBUTED_TRACING_METRICS_FILE`); private and rotated as the spans
    /// file is.
    File(PathBuf),
    /// Not recorded (`OTEL_METRICS_EXPORTER=none`, or `OTEL_SDK_DISABLED=true`):
    /// no store is installed and the layers record nothing.
    None,
}

/// The request metrics' settings (the `OTEL_METRIC*` variables).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Where they go.
    pub exporter: MetricsExporter,
    /// The time between two collections (`OTEL_METRIC_EXPORT_INTERVAL`,
    /// milliseconds, default 60000; 0 is reported and ignored).
    pub interval: Duration,
    /// The deadline of one export, retries included
    /// (`OTEL_METRIC_EXPORT_TIMEOUT`, milliseconds, default 30000).
    pub timeout: Duration,
    /// The deadline of one OTLP request: `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`,
    /// else [`OtlpConfig::timeout`].
    pub request_timeout: Duration,
    /// The temporality of the histograms
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative`,
    /// the default; `delta` and `lowmemory` give delta histograms).
    pub temporality: crate::metrics::Temporality,
    /// The most series one instrument keeps, the overflow series included
    /// (the builder's [`metrics_cardinality_limit`](crate::ObservabilityBuilder::metrics_cardinality_limit),
    /// default [`DEFAULT_CARDINALITY_LIMIT`](crate::metrics::DEFAULT_CARDINALITY_LIMIT)).
    pub cardinality_limit: usize,
}

/// One signal's share of [`OtlpConfig`].
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct OtlpTarget<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) compression: OtlpCompression,
    pub(crate) tls: &'a OtlpTls,
}

impl fmt::Debug for OtlpConfig {
    /// Header values are secrets (API keys): they are masked; so are the
    /// credentials of the endpoints (`REDACTED:REDACTED@`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("protocol", &self.protocol.as_str())
            .field("endpoint", &redact_url(&self.endpoint))
            .field("logs_endpoint", &redact_url(&self.logs_endpoint))
            .field("metrics_endpoint", &redact_url(&self.metrics_endpoint))
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression.as_str())
            .field("logs_compression", &self.logs_compression.as_str())
            .field("metrics_compression", &self.metrics_compression.as_str())
            .field("tls", &self.tls)
            .field("logs_tls", &self.logs_tls)
            .field("metrics_tls", &self.metrics_tls)
            .finish()
    }
}

/// Datadog's unified service tags, as resolved for `datadog` log lines
/// ([`EffectiveConfig::datadog`]); [`DatadogTags`] converts from it.
///
/// ```
/// use distributed_tracing::ObservabilityBuilder;
/// use distributed_tracing::logging::{DatadogTags, JsonFormat};
/// let config = ObservabilityBuilder::default()
///     .env_vars([("DD_SERVICE", "checkout"), ("DD_ENV", "prod")])
///     .config()
///     .unwrap();
/// assert_eq!(config.datadog.service, "checkout");
/// assert_eq!(config.datadog.env.as_deref(), Some("prod"));
/// let format = JsonFormat::new().datadog(DatadogTags::from(config.datadog));
/// # drop(format);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatadogConfig {
    /// `dd.service`: `DD_SERVICE`, else `service.name`.
    pub service: String,
    /// `dd.env`: `DD_ENV`, else the resource's `deployment.environment.name`
    /// or `deployment.environment`.
    pub env: Option<String>,
    /// `dd.version`: `DD_VERSION`, else the resource's `service.version`.
    pub version: Option<String>,
}

impl From<DatadogConfig> for DatadogTags {
    fn from(config: DatadogConfig) -> Self {
        let mut tags = DatadogTags::default().service(config.service);
        if let Some(env) = config.env {
            tags = tags.env(env);
        }
        if let Some(version) = config.version {
            tags = tags.version(version);
        }
        tags
    }
}

/// A configuration value that was reported (see the module docs): ignored,
/// the default taking its place (a warning at start-up), or, when
/// [`disables`](Self::disables) says so, unusable in a way that turns
/// something off (an error at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigIssue {
    /// The environment variable, or the builder method for a value given in
    /// code (`ObservabilityBuilder::otlp_endpoint`).
    pub variable: &'static str,
    /// Its value (shortened if long and escaped, see [`Shown`]; credentials
    /// and header values masked; a value that is not UTF-8 shown with U+FFFD
    /// for the bytes that are not).
    pub value: Shown,
    /// Why it cannot be used, and what is used instead: a few hundred
    /// characters at most, the input it quotes escaped and shortened.
    pub reason: String,
    /// What this value turns off, if anything: an OTLP endpoint that cannot be
    /// used as given disables the export that would use it rather than send to
    /// another address (with the API keys of `OTEL_EXPORTER_OTLP_HEADERS`).
    pub disables: Option<Disabled>,
}

/// What an unusable configuration value turns off ([`ConfigIssue::disables`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disabled {
    /// Span export: spans are still recorded (ids, sampling, log lines) but
    /// sent nowhere, as with [`TracesExporter::None`].
    SpanExport,
    /// The export of `tracing` events as OTLP log records (feature `logs`).
    LogExport,
    /// The Jaeger remote sampler (`OTEL_TRACES_SAMPLER_ARG`'s `endpoint=`):
    /// `parentbased_always_on` samples instead.
    RemoteSampler,
    /// The export of the request metrics: they are not recorded, as with
    /// [`MetricsExporter::None`].
    MetricExport,
}

impl fmt::Display for Disabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SpanExport => "span export",
            Self::LogExport => "log record export",
            Self::RemoteSampler => "Jaeger remote sampler",
            Self::MetricExport => "metric export",
        })
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reason is escaped where it is made (`Env::issue`); again here,
        // at no cost when there is nothing to escape.
        let reason = crate::untrusted::escape_untrusted(&self.reason);
        write!(f, "{}={}: {reason}", self.variable, self.value)
    }
}

impl ConfigIssue {
    /// Logs the issue at start-up: a warning for an ignored value, an error for
    /// one that disables something.
    ///
    /// The message quotes the value (`OTEL_TRACES_SAMPLER="bogus": ...`), so a
    /// text line shows where it starts and ends; the `value` field is the bare
    /// string ([`Shown::as_str`]: control, bidirectional and line separator
    /// characters escaped), so that a JSON line carries `"value":"bogus"`,
    /// quoted once. Nothing of the input reaches either raw.
    pub(crate) fn log(&self) {
        const TARGET: &str = "distributed_tracing::init";
        let value = self.value.as_str();
        match self.disables {
            Some(disabled) => tracing::error!(
                target: TARGET,
                variable = self.variable,
                value,
                disables = %disabled,
                "unusable configuration {self}"
            ),
            None => tracing::warn!(
                target: TARGET,
                variable = self.variable,
                value,
                "ignored configuration {self}"
            ),
        }
    }
}

impl From<ConfigIssue> for Error {
    fn from(issue: ConfigIssue) -> Self {
        Error::Config {
            variable: issue.variable,
            value: issue.value,
            reason: issue.reason,
        }
    }
}

/// The configuration `init_observability` resolved from the environment and the
/// builder; see [`ObservabilityBuilder::config`](crate::ObservabilityBuilder::config).
/// Its `Debug` form masks secrets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EffectiveConfig {
    /// `OTEL_SDK_DISABLED=true`: no spans are recorded or exported; log lines
    /// still carry the ids of incoming traces.
    pub sdk_disabled: bool,
    /// `service.name`: the builder's, else `OTEL_SERVICE_NAME`, else
    /// `OTEL_RESOURCE_ATTRIBUTES`' `service.name`, else `unknown_service:<executable>`.
    pub service_name: String,
    /// Other resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, then the builder's).
    pub resource_attributes: Vec<(String, String)>,
    /// Where spans go: [`TracesExporter::None`] also when OTLP was asked for
    /// but its endpoint cannot be used as given (reported, see
    /// [`ConfigIssue::disables`]).
    pub traces_exporter: TracesExporter,
    /// Whether spans are also written to standard output, in the OTLP file
    /// format, beside their OTLP export (`OTEL_TRACES_EXPORTER=otlp,console`).
    pub also_console: bool,
    /// Whether `tracing` events are also exported as OTLP log records (feature
    /// `logs`): `OTEL_LOGS_EXPORTER=otlp`, or unset while spans go over OTLP;
    /// `false` when their endpoint cannot be used as given.
    pub logs_otlp: bool,
    /// The OTLP settings (used when `traces_exporter` is `Otlp`).
    pub otlp: OtlpConfig,
    /// The request metrics: where they go, how often, which temporality.
    pub metrics: MetricsConfig,
    /// The sampler.
    pub sampler: SamplerConfig,
    /// The propagators, in order (`OTEL_PROPAGATORS`, default `tracecontext,baggage`).
    pub propagators: Vec<PropagatorName>,
    /// Batch export settings.
    pub batch: BatchConfig,
    /// What one span keeps (the `OTEL_*_LIMIT` variables).
    pub span_limits: SpanLimitsConfig,
    /// The log filter, `RUST_LOG`'s syntax (default `info`).
    pub log_filter: String,
    /// The format `DISTRIBUTED_TRACING_LOG_FORMAT` chose: `text` (the default
    /// pattern), `json` or `datadog` (JSON with the [`datadog`](Self::datadog)
    /// tags). `None`: unset or unusable, so the default text format; the
    /// builder's [`log_format`](crate::ObservabilityBuilder::log_format) or
    /// [`log_pattern`](crate::ObservabilityBuilder::log_pattern) wins over it.
    pub log_format: Option<LogFormat>,
    /// Datadog's unified service tags for `datadog` log lines: `DD_SERVICE`
    /// (else `service.name`), `DD_ENV` (else `deployment.environment.name` or
    /// `deployment.environment`), `DD_VERSION` (else `service.version`).
    pub datadog: DatadogConfig,
    /// The size at which the local spans file is rotated
    /// (`DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES`, bytes, default 16 MiB):
    /// the file is renamed `<file>.1`, replacing the previous one, and a new
    /// file started, so that the sink takes at most about twice this on disk.
    pub spans_file_max_bytes: u64,
    /// Whether the spans file's folder is the crate's per-user default (checked
    /// and kept private at start-up) rather than a path given in code.
    pub(crate) spans_dir_is_default: bool,
    /// Values that were reported and ignored.
    pub issues: Vec<ConfigIssue>,
}

/// What the builder overrides (each `None`: the environment decides).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) traces_exporter: Option<TracesExporter>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_logs_endpoint: Option<String>,
    pub(crate) metrics_exporter: Option<MetricsExporter>,
    pub(crate) metrics_interval: Option<Duration>,
    pub(crate) cardinality_limit: Option<usize>,
    pub(crate) otlp_protocol: Option<OtlpProtocol>,
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) otlp_timeout: Option<Duration>,
    pub(crate) otlp_compression: Option<OtlpCompression>,
    pub(crate) otlp_tls: OtlpTls,
    pub(crate) otlp_insecure: Option<bool>,
    pub(crate) sampler: Option<SamplerConfig>,
    pub(crate) propagators: Option<Vec<PropagatorName>>,
    pub(crate) max_queue_size: Option<usize>,
    pub(crate) scheduled_delay: Option<Duration>,
    pub(crate) default_spans_file: Option<std::path::PathBuf>,
    pub(crate) max_queue_bytes: Option<usize>,
    pub(crate) max_export_bytes: Option<usize>,
    pub(crate) spans_file_max_bytes: Option<u64>,
    pub(crate) limits: LimitOverrides,
}

/// The builder's span limits (each `None`: the environment decides).
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitOverrides {
    pub(crate) attribute_value_length: Option<usize>,
    pub(crate) attribute_count: Option<u32>,
    pub(crate) event_count: Option<u32>,
    pub(crate) link_count: Option<u32>,
    pub(crate) event_attribute_count: Option<u32>,
    pub(crate) link_attribute_count: Option<u32>,
}

/// An URL as this crate shows it (log lines, `Debug`, errors, the
/// destination every export warning names): its userinfo (`user:password@`)
/// replaced by `REDACTED:REDACTED@`, as the OpenTelemetry semantic
/// conventions ask for `url.full`; then escaped and cut after
/// [`MAX_URL_SHOWN`] characters (`…` marks the cut), as any outside text this
/// crate quotes.
///
/// It works on any string, a valid URL or not (it also shows values that were
/// refused): the userinfo is everything between `://` (or the start) and the
/// last `@`. An `@` later in the URL (in the path or the query) hides more
/// than the userinfo, never less: a password holding `/`, `?` or `#` is still
/// hidden whole.
pub(crate) fn redact_url(url: &str) -> String {
    // After the scheme's `://`: only a scheme may stand before it (a `://`
    // later in a URL without one, in its query say, does not start it).
    let start = match url.find("://") {
        Some(i) if is_scheme(&url[..i]) => i + 3,
        _ => 0,
    };
    // Redacted before it is cut: a password past the cut is hidden too.
    let redacted = match url[start..].rfind('@') {
        Some(at) => format!("{}REDACTED:REDACTED{}", &url[..start], &url[start + at..]).into(),
        None => std::borrow::Cow::Borrowed(url),
    };
    crate::untrusted::shorten_untrusted(&redacted, MAX_URL_SHOWN).into_owned()
}

/// Whether `s` is an URL scheme (RFC 3986 §3.1: a letter, then letters,
/// digits, `+`, `-` and `.`).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The characters of an URL [`redact_url`] shows, at most.
pub(crate) const MAX_URL_SHOWN: usize = 256;

/// Whether an endpoint URL is `https://` (the scheme in any case).
pub(crate) fn is_https(url: &str) -> bool {
    exporters::scheme(url) == Some("https")
}
