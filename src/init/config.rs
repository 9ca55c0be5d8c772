//! The effective configuration of [`init_observability`](crate::init_observability):
//! the OpenTelemetry environment variables, overridden by the builder.
//!
//! Parsing follows the OpenTelemetry specification
//! (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>):
//! an empty value is the same as an unset one, and a value that cannot be used is
//! reported (naming the variable and the value) and ignored, the default taking
//! its place. [`ObservabilityBuilder::strict`](crate::ObservabilityBuilder::strict)
//! makes every such value an error at start-up instead.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::limits::SpanLimitsConfig;
use super::sink::{current_uid, Uid, DEFAULT_MAX_BYTES};
use crate::error::{Error, Shown};
use crate::propagation::PropagatorName;
use crate::text::{percent_decode, NotUtf8};

/// Where finished spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracesExporter {
    /// OTLP to a collector (`OTEL_TRACES_EXPORTER=otlp`, or any OTLP endpoint set).
    Otlp,
    /// JSON lines on standard output (`OTEL_TRACES_EXPORTER=console`).
    Console,
    /// JSON lines appended to a local file: the embedded default when nothing
    /// is configured, so that a new user sees traces without a collector.
    /// Private to the user and rotated: see
    /// [`ObservabilityBuilder::spans_file`](crate::ObservabilityBuilder::spans_file).
    File(std::path::PathBuf),
    /// Spans are recorded (ids, sampling) but sent nowhere (`OTEL_TRACES_EXPORTER=none`).
    None,
}

/// The log line format chosen by `DISTRIBUTED_TRACING_LOG_FORMAT` (this
/// crate's variable; the OpenTelemetry specification has none for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormatName {
    /// `text`: the pattern's lines (default).
    Text,
    /// `json`: JSON lines.
    Json,
    /// `datadog`: JSON lines with Datadog's correlation attributes.
    Datadog,
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

/// Parses `jaeger_remote`'s `OTEL_TRACES_SAMPLER_ARG`.
fn jaeger_remote_arg(env: &mut Env<'_>, parent_based: bool) -> SamplerConfig {
    let mut endpoint = "http://localhost:5778/sampling".to_string();
    let mut polling_interval = Duration::from_millis(60_000);
    let mut initial_sampling_rate = 0.001;
    let mut unusable_endpoint = None;
    let mut shown = String::new();
    if let Some(value) = env.var("OTEL_TRACES_SAMPLER_ARG") {
        shown = redact_sampler_arg(&value);
        let mut bad = |reason: &str| {
            env.issue(
                "OTEL_TRACES_SAMPLER_ARG",
                &shown,
                format!("{reason}; the defaults are used"),
            )
        };
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("endpoint", v)) => match check_endpoint(v) {
                    Ok(()) => endpoint = v.to_string(),
                    Err(reason) => unusable_endpoint = Some(reason),
                },
                Some(("pollingIntervalMs", v)) => match v.parse::<u64>() {
                    Ok(ms) if ms > 0 => polling_interval = Duration::from_millis(ms),
                    _ => bad("pollingIntervalMs: expected a positive integer"),
                },
                Some(("initialSamplingRate", v)) => match v.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => initial_sampling_rate = r,
                    _ => bad("initialSamplingRate: expected a ratio between 0 and 1"),
                },
                _ => bad(&format!(
                    "unknown entry {pair:?} (endpoint, pollingIntervalMs, initialSamplingRate)"
                )),
            }
        }
    }
    if let Some(reason) = unusable_endpoint {
        env.disabling(
            "OTEL_TRACES_SAMPLER_ARG",
            &shown,
            format!("endpoint: {reason}; {REMOTE_SAMPLER_DISABLED}"),
            Disabled::RemoteSampler,
        );
        return SamplerConfig::ParentBasedAlwaysOn;
    }
    SamplerConfig::JaegerRemote {
        parent_based,
        endpoint,
        polling_interval,
        initial_sampling_rate,
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
            max_queue_size: 2048,
            scheduled_delay: Duration::from_millis(5000),
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
            max_queue_bytes: 32 * 1024 * 1024,
            max_export_bytes: 4 * 1024 * 1024 - 64 * 1024,
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
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`): API keys and the like.
    pub headers: Vec<(String, String)>,
    /// Deadline of one export request (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s; 0 is reported and ignored).
    pub timeout: Duration,
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
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .finish()
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
    /// Its value (shortened if long; credentials and header values masked).
    pub value: Shown,
    /// Why it cannot be used, and what is used instead.
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
}

impl fmt::Display for Disabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SpanExport => "span export",
            Self::LogExport => "log record export",
            Self::RemoteSampler => "Jaeger remote sampler",
        })
    }
}

/// What an unusable Jaeger sampling endpoint leads to.
const REMOTE_SAMPLER_DISABLED: &str = "the Jaeger remote sampler is disabled (no request goes to a sampling endpoint you did not name): parentbased_always_on samples instead";

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.variable, self.value, self.reason)
    }
}

impl ConfigIssue {
    /// Logs the issue at start-up: a warning for an ignored value, an error for
    /// one that disables something.
    ///
    /// The message quotes the value (`OTEL_TRACES_SAMPLER="bogus": ...`), so a
    /// text line shows where it starts and ends; the `value` field is the bare
    /// string (control characters escaped), so that a JSON line carries
    /// `"value":"bogus"`, quoted once.
    pub(crate) fn log(&self) {
        const TARGET: &str = "distributed_tracing::init";
        let value = escape_control(self.value.as_str());
        let value: &str = &value;
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

/// `value` with its control characters escaped (`\n`, `\u{1b}`): a value
/// logged as a field cannot break a text line or forge another one.
fn escape_control(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return value.into();
    }
    value
        .chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_default());
            let plain = (!c.is_control()).then_some(c);
            escaped.into_iter().flatten().chain(plain)
        })
        .collect::<String>()
        .into()
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
    /// Whether `tracing` events are also exported as OTLP log records (feature
    /// `logs`): `OTEL_LOGS_EXPORTER=otlp`, or unset while spans go over OTLP;
    /// `false` when their endpoint cannot be used as given.
    pub logs_otlp: bool,
    /// The OTLP settings (used when `traces_exporter` is `Otlp`).
    pub otlp: OtlpConfig,
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
    /// `DISTRIBUTED_TRACING_LOG_FORMAT`: `text`, `json` or `datadog` (`None`:
    /// unset, the builder's or the default text format).
    pub log_format: Option<LogFormatName>,
    /// Datadog's unified service tags for `datadog` log lines: `DD_SERVICE`
    /// (else `service.name`), `DD_ENV` (else `deployment.environment.name` or
    /// `deployment.environment`), `DD_VERSION` (else `service.version`).
    pub datadog: (String, Option<String>, Option<String>),
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
    pub(crate) otlp_protocol: Option<OtlpProtocol>,
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) otlp_timeout: Option<Duration>,
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

/// Reads variables, records the ones that cannot be used.
struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    issues: Vec<ConfigIssue>,
}

impl Env<'_> {
    /// The value, `None` when unset or empty (the specification: empty = unset).
    fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// Reports a value that is ignored, the default taking its place.
    fn issue(&mut self, variable: &'static str, value: &str, reason: impl Into<String>) {
        self.issues.push(ConfigIssue {
            variable,
            value: Shown::new(value),
            reason: reason.into(),
            disables: None,
        });
    }

    /// Reports a value that cannot be used and turns `disabled` off.
    fn disabling(
        &mut self,
        variable: &'static str,
        value: &str,
        reason: impl Into<String>,
        disabled: Disabled,
    ) {
        self.issue(variable, value, reason);
        if let Some(issue) = self.issues.last_mut() {
            issue.disables = Some(disabled);
        }
    }

    /// A boolean: `true`/`false`, case-insensitive.
    fn bool(&mut self, name: &'static str) -> bool {
        let Some(value) = self.var(name) else {
            return false;
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                self.issue(name, &value, "expected true or false; using false");
                false
            }
        }
    }

    /// A duration in milliseconds (a non-negative integer).
    fn millis(&mut self, name: &'static str) -> Option<Duration> {
        let value = self.var(name)?;
        match value.trim().parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                self.issue(
                    name,
                    &value,
                    "expected milliseconds (a non-negative integer); using the default",
                );
                None
            }
        }
    }

    /// A duration in milliseconds where 0 would harm: 0 is reported (`zero`
    /// says why) and ignored, like a bad value.
    fn nonzero_millis(&mut self, name: &'static str, zero: &str) -> Option<Duration> {
        let ms = self.millis(name)?;
        if ms.is_zero() {
            self.issue(name, "0", format!("{zero}; ignored"));
            return None;
        }
        Some(ms)
    }

    /// The builder's duration, checked like [`nonzero_millis`](Self::nonzero_millis).
    fn nonzero_override(
        &mut self,
        method: &'static str,
        value: Option<Duration>,
        zero: &str,
    ) -> Option<Duration> {
        match value {
            Some(d) if d.is_zero() => {
                self.issue(method, "Duration::ZERO", format!("{zero}; ignored"));
                None
            }
            other => other,
        }
    }

    /// A limit: a non-negative integer that fits `T`.
    fn limit<T: std::str::FromStr>(&mut self, name: &'static str) -> Option<T> {
        let value = self.var(name)?;
        match value.trim().parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.issue(
                    name,
                    &value,
                    "expected a non-negative integer (at most 4294967295 for a count); using the default",
                );
                None
            }
        }
    }

    /// A positive count.
    fn count(&mut self, name: &'static str) -> Option<usize> {
        let value = self.var(name)?;
        match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.issue(
                    name,
                    &value,
                    "expected a positive integer; using the default",
                );
                None
            }
        }
    }

    /// A positive number of bytes.
    fn bytes(&mut self, name: &'static str) -> Option<u64> {
        let value = self.var(name)?;
        match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.issue(
                    name,
                    &value,
                    "expected a positive number of bytes; using the default",
                );
                None
            }
        }
    }

    /// `key=value` pairs separated by `,`, each percent-decoded (the W3C Baggage
    /// form used by `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`).
    /// An invalid list is ignored whole, as the specification says.
    ///
    /// With `secret` (headers: API keys), the values are masked in the issue
    /// ([`mask_pairs`]).
    fn pairs(&mut self, name: &'static str, secret: bool) -> Vec<(String, String)> {
        let Some(value) = self.var(name) else {
            return Vec::new();
        };
        match parse_pairs(&value, secret) {
            Ok(pairs) => pairs,
            Err(reason) => {
                let shown = match secret {
                    true => mask_pairs(&value),
                    false => value,
                };
                self.issue(
                    name,
                    &shown,
                    format!("{reason}; the whole value is ignored"),
                );
                Vec::new()
            }
        }
    }
}

/// A `key=value` list as shown when its values are secrets (headers): every
/// value replaced by `***`, and a member without `=` (which may be a value
/// written `Authorization: Bearer ...`) by `***` whole.
fn mask_pairs(value: &str) -> String {
    value
        .split(',')
        .map(|member| match member.split_once('=') {
            _ if member.trim().is_empty() => member.to_string(),
            Some((key, _)) => format!("{}=***", key.trim()),
            None => "***".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `k1=v1,k2=v2` with percent-decoding; keys are trimmed and non-empty.
/// With `secret`, the error names a member by its key only (see [`mask_pairs`]).
pub(crate) fn parse_pairs(value: &str, secret: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for member in value.split(',') {
        if member.trim().is_empty() {
            continue;
        }
        let shown = match secret {
            true => mask_pairs(member),
            false => member.trim().to_string(),
        };
        let (key, val) = member.split_once('=').ok_or_else(|| match secret {
            true => "a member has no '=' (a header is written name=value)".to_string(),
            false => format!("member {shown:?} has no '='"),
        })?;
        let key = percent_decode(key.trim(), NotUtf8::Reject).ok_or("invalid percent-encoding")?;
        let val = percent_decode(val.trim(), NotUtf8::Reject).ok_or("invalid percent-encoding")?;
        if key.is_empty() {
            return Err(format!("member {shown:?} has an empty key"));
        }
        out.push((key, val));
    }
    Ok(out)
}

/// An URL as this crate shows it (log lines, `Debug`, errors): its userinfo
/// (`user:password@`) replaced by `REDACTED:REDACTED@`, as the OpenTelemetry
/// semantic conventions ask for `url.full`; the rest as given.
///
/// It works on any string, a valid URL or not (it also shows values that were
/// refused): the userinfo is everything between `://` (or the start) and the
/// last `@`. An `@` later in the URL (in the path or the query) hides more
/// than the userinfo, never less: a password holding `/`, `?` or `#` is still
/// hidden whole.
pub(crate) fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].rfind('@') {
        Some(at) => format!("{}REDACTED:REDACTED{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// `OTEL_TRACES_SAMPLER_ARG` as shown: each comma-separated entry through
/// [`redact_url`] (the `endpoint=` of `jaeger_remote` may hold credentials).
fn redact_sampler_arg(value: &str) -> String {
    value
        .split(',')
        .map(redact_url)
        .collect::<Vec<_>>()
        .join(",")
}

/// Validates an endpoint URL: `http` or `https` with a host. TLS is not built
/// in: an `https` endpoint is refused rather than failing at every export.
fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err("https needs TLS, which this build does not include yet: send to a collector on the local network over http://, and let it speak TLS".into())
        }
        _ => return Err("the URL must start with http://".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .map(|n| format!("unknown_service:{n}"))
        })
        .unwrap_or_else(|| "unknown_service".to_string())
}

/// `<folder>/<service>.spans.jsonl`, the folder chosen by [`spans_dir`] from
/// the configuration's environment (so `with_env` can move it).
fn default_spans_file(env: &Env<'_>, service: &str) -> PathBuf {
    let safe: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // `TMPDIR` as `std::env::temp_dir` reads it on Unix, but from this environment.
    let tmp = env
        .var("TMPDIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| match cfg!(unix) {
            true => PathBuf::from("/tmp"),
            false => std::env::temp_dir(),
        });
    let dir = spans_dir(
        env.var("XDG_STATE_HOME").as_deref(),
        env.var("HOME").as_deref(),
        &|p| p.is_dir(),
        &tmp,
        &|| current_uid().ok(),
    );
    dir.join(format!("{safe}.spans.jsonl"))
}

/// The per-user folder of the default spans file, first that applies:
/// * `$XDG_STATE_HOME/distributed-tracing` (absolute, as the XDG Base
///   Directory specification requires; a relative one is ignored);
/// * `$HOME/.local/state/distributed-tracing` (the specification's default),
///   when `HOME` is an absolute path to an existing folder other than `/`
///   (daemons often run with `HOME=/` or `/nonexistent`);
/// * `<tmp>/distributed-tracing-<uid>` (Unix; `<tmp>/distributed-tracing`
///   elsewhere, where the temporary folder is the user's own).
///
/// Its checks (owner, mode) happen when the file is opened (`sink.rs`).
fn spans_dir(
    xdg_state_home: Option<&str>,
    home: Option<&str>,
    is_dir: &dyn Fn(&Path) -> bool,
    tmp: &Path,
    uid: &dyn Fn() -> Option<Uid>,
) -> PathBuf {
    const NAME: &str = "distributed-tracing";
    if let Some(state) = xdg_state_home.map(Path::new).filter(|p| p.is_absolute()) {
        return state.join(NAME);
    }
    if let Some(home) = home
        .map(Path::new)
        // `parent()`: not the root folder.
        .filter(|p| p.is_absolute() && p.parent().is_some() && is_dir(p))
    {
        return home.join(".local").join("state").join(NAME);
    }
    #[cfg(unix)]
    if let Some(uid) = uid() {
        return tmp.join(format!("{NAME}-{uid}"));
    }
    #[cfg(not(unix))]
    let _ = uid;
    // Unix without a user id: opening asks for it again and fails with the
    // reason, or checks this shared folder's owner like any other.
    tmp.join(NAME)
}

impl EffectiveConfig {
    /// Resolves the configuration from `get` (an environment) and `over`.
    pub(crate) fn resolve(get: &dyn Fn(&str) -> Option<String>, over: &Overrides) -> Self {
        let mut env = Env {
            get,
            issues: Vec::new(),
        };
        let sdk_disabled = env.bool("OTEL_SDK_DISABLED");

        // Resource: OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, then the builder.
        let mut resource_attributes = env.pairs("OTEL_RESOURCE_ATTRIBUTES", false);
        let from_attributes = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = over
            .service_name
            .clone()
            .or_else(|| env.var("OTEL_SERVICE_NAME"))
            .or(from_attributes)
            .unwrap_or_else(default_service_name);
        resource_attributes.extend(over.resource_attributes.iter().cloned());

        // Protocol: per-signal, then generic, then the specification's default.
        let protocol = over.otlp_protocol.or_else(|| {
            [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ]
            .into_iter()
            .find_map(|name| {
                let value = env.var(name)?;
                let parsed = OtlpProtocol::parse(value.trim());
                if parsed.is_none() {
                    env.issue(
                        name,
                        &value,
                        "expected grpc or http/protobuf; using http/protobuf",
                    );
                }
                parsed
            })
        });
        let protocol = protocol.unwrap_or(OtlpProtocol::HttpProtobuf);

        // Endpoint: the builder's or the per-signal URL is used as is; the
        // generic one is a base URL to which HTTP appends `v1/traces`. The first
        // one set decides: an unusable one is never replaced by another (the
        // next one, or the default), which would send the spans, and the headers
        // with their API keys, to an address the user did not name.
        let given = match &over.otlp_endpoint {
            Some(url) => Some(("ObservabilityBuilder::otlp_endpoint", url.clone(), true)),
            None => [
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", true),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", false),
            ]
            .into_iter()
            .find_map(|(name, per_signal)| Some((name, env.var(name)?, per_signal))),
        };
        let endpoint_set = given.is_some();
        // (variable, value, why) of an endpoint that cannot be used.
        let mut unusable: Option<(&'static str, String, String)> = None;
        let endpoint = match given {
            None => match protocol {
                OtlpProtocol::Grpc => "http://localhost:4317".to_string(),
                OtlpProtocol::HttpProtobuf => "http://localhost:4318/v1/traces".to_string(),
            },
            Some((name, value, per_signal)) => {
                let value = value.trim().to_string();
                if let Err(reason) = check_endpoint(&value) {
                    unusable = Some((name, value.clone(), reason));
                }
                match (per_signal, protocol) {
                    (false, OtlpProtocol::HttpProtobuf) => {
                        format!("{}/v1/traces", value.trim_end_matches('/'))
                    }
                    _ => value,
                }
            }
        };
        // Logs: their own URL, else the traces endpoint with the logs path (so
        // an unusable traces endpoint leaves the logs without one too).
        let logs_given = match &over.otlp_logs_endpoint {
            Some(url) => Some((
                "ObservabilityBuilder::otlp_logs_endpoint",
                url.trim().to_string(),
            )),
            None => env
                .var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
                .map(|v| ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", v.trim().to_string())),
        };
        let (logs_endpoint, logs_unusable, logs_derived) = match logs_given {
            Some((name, value)) => {
                let bad = check_endpoint(&value)
                    .err()
                    .map(|reason| (name, value.clone(), reason));
                (value, bad, false)
            }
            None => {
                let derived = match protocol {
                    OtlpProtocol::Grpc => endpoint.clone(),
                    OtlpProtocol::HttpProtobuf => match endpoint.strip_suffix("/v1/traces") {
                        Some(base) => format!("{base}/v1/logs"),
                        None => endpoint.clone(),
                    },
                };
                let bad = unusable.clone().map(|(name, value, reason)| {
                    (
                        name,
                        value,
                        format!("{reason}; log records would go there too (no OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)"),
                    )
                });
                (derived, bad, true)
            }
        };

        // Headers: generic, then per-signal, then the builder's, a later one
        // replacing an earlier one of the same name. Their values are secrets:
        // masked wherever they are shown.
        let mut headers: Vec<(String, String)> = Vec::new();
        let sources = [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                env.pairs("OTEL_EXPORTER_OTLP_HEADERS", true),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                env.pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS", true),
            ),
            (
                "ObservabilityBuilder::otlp_header",
                over.otlp_headers.clone(),
            ),
        ];
        for (source, pairs) in sources {
            for (k, v) in pairs {
                let what = match (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    http::HeaderValue::from_str(&v),
                ) {
                    (Ok(_), Ok(_)) => None,
                    (Err(_), _) => Some("name"),
                    (_, Err(_)) => Some("value"),
                };
                if let Some(what) = what {
                    let shown = match env.var(source) {
                        Some(value) => mask_pairs(&value),
                        None => format!("{k}=***"),
                    };
                    env.issue(
                        source,
                        &shown,
                        format!("header {k:?}: its {what} is not valid in HTTP; that header is not sent"),
                    );
                    continue;
                }
                headers.retain(|(key, _)| *key != k);
                headers.push((k, v));
            }
        }
        const INSTANT_TIMEOUT: &str = "0 would make every export request time out at once";
        let timeout = env
            .nonzero_override(
                "ObservabilityBuilder::otlp_timeout",
                over.otlp_timeout,
                INSTANT_TIMEOUT,
            )
            .or_else(|| env.nonzero_millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", INSTANT_TIMEOUT))
            .or_else(|| env.nonzero_millis("OTEL_EXPORTER_OTLP_TIMEOUT", INSTANT_TIMEOUT))
            .unwrap_or(Duration::from_secs(10));

        // Exporter: the embedded default (a local file) only when nothing asks for OTLP.
        let mut spans_dir_is_default = false;
        let mut traces_exporter = match &over.traces_exporter {
            Some(e) => e.clone(),
            None => {
                let chosen = env.var("OTEL_TRACES_EXPORTER").and_then(|value| {
                    let first = value.split(',').next().unwrap_or("").trim().to_string();
                    match first.as_str() {
                        "otlp" => Some(TracesExporter::Otlp),
                        "console" => Some(TracesExporter::Console),
                        "none" => Some(TracesExporter::None),
                        _ => {
                            env.issue(
                                "OTEL_TRACES_EXPORTER",
                                &value,
                                "expected otlp, console or none; using the default",
                            );
                            None
                        }
                    }
                });
                chosen.unwrap_or_else(|| match endpoint_set {
                    true => TracesExporter::Otlp,
                    false => TracesExporter::File(match &over.default_spans_file {
                        Some(path) => path.clone(),
                        None => {
                            spans_dir_is_default = true;
                            default_spans_file(&env, &service_name)
                        }
                    }),
                })
            }
        };

        let mut logs_otlp = match env.var("OTEL_LOGS_EXPORTER") {
            None => traces_exporter == TracesExporter::Otlp,
            Some(value) => match value.split(',').next().unwrap_or("").trim() {
                "otlp" => true,
                "none" | "console" => false,
                _ => {
                    env.issue(
                        "OTEL_LOGS_EXPORTER",
                        &value,
                        "expected otlp, console or none; log lines go to standard output only",
                    );
                    false
                }
            },
        };
        // An unusable endpoint disables the export that would use it (no
        // fallback: see above), and is only ignored when nothing would.
        if let Some((name, value, reason)) = unusable {
            match traces_exporter {
                TracesExporter::Otlp => {
                    env.disabling(
                        name,
                        &redact_url(&value),
                        format!("{reason}; span export is disabled: no span is sent, to this or any other endpoint"),
                        Disabled::SpanExport,
                    );
                    traces_exporter = TracesExporter::None;
                }
                _ => env.issue(
                    name,
                    &redact_url(&value),
                    format!("{reason}; ignored (spans do not go over OTLP)"),
                ),
            }
        }
        if let Some((name, value, reason)) = logs_unusable {
            match (logs_otlp && cfg!(feature = "logs"), logs_derived) {
                (true, _) => env.disabling(
                    name,
                    &redact_url(&value),
                    format!("{reason}; log record export is disabled: no log record is sent, to this or any other endpoint"),
                    Disabled::LogExport,
                ),
                // Already reported with the traces endpoint.
                (false, true) => {}
                (false, false) => env.issue(
                    name,
                    &redact_url(&value),
                    format!("{reason}; ignored (log records do not go over OTLP)"),
                ),
            }
            logs_otlp = false;
        }
        let sampler = match &over.sampler {
            Some(SamplerConfig::JaegerRemote { endpoint, .. })
                if check_endpoint(endpoint).is_err() =>
            {
                let reason = check_endpoint(endpoint).unwrap_err();
                env.disabling(
                    "ObservabilityBuilder::sampler",
                    &redact_url(endpoint),
                    format!("{reason}; {REMOTE_SAMPLER_DISABLED}"),
                    Disabled::RemoteSampler,
                );
                SamplerConfig::ParentBasedAlwaysOn
            }
            Some(sampler) => sampler.clone(),
            None => sampler_from_env(&mut env),
        };
        let propagators = over
            .propagators
            .clone()
            .unwrap_or_else(|| propagators_from_env(&mut env));

        let defaults = BatchConfig::default();
        const SPINNING: &str =
            "0 would export without a pause, keeping a core busy while the service is idle";
        let max_queue_size = over
            .max_queue_size
            .or_else(|| env.count("OTEL_BSP_MAX_QUEUE_SIZE"))
            .unwrap_or(defaults.max_queue_size);
        let max_export_batch_size = match env.count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            // The specification: the batch size must not exceed the queue size.
            Some(n) if n > max_queue_size => {
                env.issue(
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    &n.to_string(),
                    format!("larger than the queue size ({max_queue_size}); capped to it"),
                );
                max_queue_size
            }
            Some(n) => n,
            None => defaults.max_export_batch_size.min(max_queue_size),
        };
        let batch = BatchConfig {
            max_queue_size,
            scheduled_delay: env
                .nonzero_override(
                    "ObservabilityBuilder::scheduled_delay",
                    over.scheduled_delay,
                    SPINNING,
                )
                .or_else(|| env.nonzero_millis("OTEL_BSP_SCHEDULE_DELAY", SPINNING))
                .unwrap_or(defaults.scheduled_delay),
            max_export_batch_size,
            export_timeout: env
                .nonzero_millis(
                    "OTEL_BSP_EXPORT_TIMEOUT",
                    "0 would make every export time out at once",
                )
                .unwrap_or(defaults.export_timeout),
            max_queue_bytes: over
                .max_queue_bytes
                .or_else(|| env.count("DISTRIBUTED_TRACING_MAX_QUEUE_BYTES"))
                .unwrap_or(defaults.max_queue_bytes),
            max_export_bytes: over
                .max_export_bytes
                .or_else(|| env.count("DISTRIBUTED_TRACING_MAX_EXPORT_BYTES"))
                .unwrap_or(defaults.max_export_bytes),
        };
        // Limits: the span-specific variable, else the generic one (the
        // specification's precedence), else the default.
        let any_length = env.limit::<usize>("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT");
        let any_count = env.limit::<u32>("OTEL_ATTRIBUTE_COUNT_LIMIT");
        let limits = &over.limits;
        let default_limits = SpanLimitsConfig::default();
        let span_limits = SpanLimitsConfig {
            attribute_value_length: limits
                .attribute_value_length
                .or_else(|| env.limit("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"))
                .or(any_length),
            attribute_count: limits
                .attribute_count
                .or_else(|| env.limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"))
                .or(any_count)
                .unwrap_or(default_limits.attribute_count),
            event_count: limits
                .event_count
                .or_else(|| env.limit("OTEL_SPAN_EVENT_COUNT_LIMIT"))
                .unwrap_or(default_limits.event_count),
            link_count: limits
                .link_count
                .or_else(|| env.limit("OTEL_SPAN_LINK_COUNT_LIMIT"))
                .unwrap_or(default_limits.link_count),
            event_attribute_count: limits
                .event_attribute_count
                .or_else(|| env.limit("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"))
                .or(any_count)
                .unwrap_or(default_limits.event_attribute_count),
            link_attribute_count: limits
                .link_attribute_count
                .or_else(|| env.limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"))
                .or(any_count)
                .unwrap_or(default_limits.link_attribute_count),
        };
        let log_filter = match env.var("RUST_LOG") {
            Some(value) => match tracing_subscriber::EnvFilter::try_new(&value) {
                Ok(_) => value,
                Err(e) => {
                    env.issue("RUST_LOG", &value, format!("{e}; using info"));
                    "info".to_string()
                }
            },
            None => "info".to_string(),
        };
        let log_format = env.var("DISTRIBUTED_TRACING_LOG_FORMAT").and_then(|value| {
            match value.trim().to_ascii_lowercase().as_str() {
                "text" => Some(LogFormatName::Text),
                "json" => Some(LogFormatName::Json),
                "datadog" => Some(LogFormatName::Datadog),
                _ => {
                    env.issue(
                        "DISTRIBUTED_TRACING_LOG_FORMAT",
                        &value,
                        "expected text, json or datadog; using text",
                    );
                    None
                }
            }
        });
        let attribute = |keys: &[&str]| {
            resource_attributes
                .iter()
                .find(|(k, _)| keys.contains(&k.as_str()))
                .map(|(_, v)| v.clone())
        };
        let datadog = (
            env.var("DD_SERVICE")
                .unwrap_or_else(|| service_name.clone()),
            env.var("DD_ENV")
                .or_else(|| attribute(&["deployment.environment.name", "deployment.environment"])),
            env.var("DD_VERSION")
                .or_else(|| attribute(&["service.version"])),
        );
        let spans_file_max_bytes = over
            .spans_file_max_bytes
            .or_else(|| env.bytes("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES"))
            .unwrap_or(DEFAULT_MAX_BYTES);

        Self {
            sdk_disabled,
            service_name,
            resource_attributes,
            traces_exporter,
            logs_otlp,
            otlp: OtlpConfig {
                protocol,
                endpoint,
                logs_endpoint,
                headers,
                timeout,
            },
            sampler,
            propagators,
            batch,
            span_limits,
            log_filter,
            log_format,
            datadog,
            spans_file_max_bytes,
            spans_dir_is_default,
            issues: env.issues,
        }
    }
}

fn ratio_arg(env: &mut Env<'_>) -> f64 {
    let Some(value) = env.var("OTEL_TRACES_SAMPLER_ARG") else {
        return 1.0;
    };
    match value.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => r,
        _ => {
            env.issue(
                "OTEL_TRACES_SAMPLER_ARG",
                &value,
                "expected a ratio between 0 and 1; using 1.0",
            );
            1.0
        }
    }
}

/// Reports `OTEL_TRACES_SAMPLER_ARG` set for a sampler that takes none (`why`).
fn unused_arg(env: &mut Env<'_>, why: &str) {
    if let Some(value) = env.var("OTEL_TRACES_SAMPLER_ARG") {
        env.issue(
            "OTEL_TRACES_SAMPLER_ARG",
            &redact_sampler_arg(&value),
            format!("{why}, which takes no argument; ignored"),
        );
    }
}

fn sampler_from_env(env: &mut Env<'_>) -> SamplerConfig {
    let Some(value) = env.var("OTEL_TRACES_SAMPLER") else {
        unused_arg(
            env,
            "OTEL_TRACES_SAMPLER is unset: the sampler is parentbased_always_on",
        );
        return SamplerConfig::ParentBasedAlwaysOn;
    };
    let name = value.trim();
    let (sampler, takes_arg) = match name {
        "always_on" => (SamplerConfig::AlwaysOn, false),
        "always_off" => (SamplerConfig::AlwaysOff, false),
        "parentbased_always_on" => (SamplerConfig::ParentBasedAlwaysOn, false),
        "parentbased_always_off" => (SamplerConfig::ParentBasedAlwaysOff, false),
        _ => (SamplerConfig::ParentBasedAlwaysOn, true),
    };
    if !takes_arg {
        unused_arg(env, &format!("the sampler is {name}"));
        return sampler;
    }
    match name {
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio_arg(env)),
        "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio_arg(env)),
        name @ ("jaeger_remote" | "parentbased_jaeger_remote")
            if cfg!(feature = "jaeger-remote-sampler") =>
        {
            jaeger_remote_arg(env, name == "parentbased_jaeger_remote")
        }
        "jaeger_remote" | "parentbased_jaeger_remote" => {
            env.issue(
                "OTEL_TRACES_SAMPLER",
                &value,
                "this build has no Jaeger remote sampler (crate feature jaeger-remote-sampler); using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
        "xray" => {
            env.issue(
                "OTEL_TRACES_SAMPLER",
                &value,
                "the X-Ray sampler (AWS's centralized sampling rules) is not implemented for Rust; using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
        _ => {
            env.issue(
                "OTEL_TRACES_SAMPLER",
                &value,
                "unknown sampler (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, jaeger_remote, parentbased_jaeger_remote); using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
    }
}

fn propagators_from_env(env: &mut Env<'_>) -> Vec<PropagatorName> {
    let default = PropagatorName::DEFAULT.to_vec();
    let Some(value) = env.var("OTEL_PROPAGATORS") else {
        return default;
    };
    let mut out = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match (name, PropagatorName::parse(name)) {
            ("none", _) => none = true,
            (_, Some(p)) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            (_, None) => env.issue(
                "OTEL_PROPAGATORS",
                &value,
                format!("{}; it is skipped", PropagatorName::unknown(name)),
            ),
        }
    }
    if none {
        return Vec::new();
    }
    out
}

/// The process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An environment given as pairs (for tests and other configuration sources).
pub(crate) fn map_env(
    vars: HashMap<String, String>,
) -> impl Fn(&str) -> Option<String> + Send + Sync {
    move |name| vars.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> EffectiveConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EffectiveConfig::resolve(&map_env(map), &Overrides::default())
    }

    #[test]
    fn pairs_are_percent_decoded() {
        assert_eq!(
            parse_pairs("a=1, b = x%20y ,,c=%3D", false).unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "=".into())
            ]
        );
        assert!(parse_pairs("a", false).is_err());
        assert!(parse_pairs("=1", false).is_err());
        assert!(parse_pairs("a=%zz", false).is_err());
        assert!(parse_pairs("a=%e9", false).is_err(), "not UTF-8");
        for (secret, message) in [
            ("Authorization: Bearer abc", "a member has no '='"),
            ("=abc", "member \"=***\" has an empty key"),
        ] {
            let err = parse_pairs(secret, true).unwrap_err();
            assert!(err.starts_with(message) && !err.contains("abc"), "{err}");
        }
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        for (url, shown) in [
            ("http://collector:4318", "http://collector:4318"),
            (
                "http://user:pass@collector:4318/v1/traces",
                "http://REDACTED:REDACTED@collector:4318/v1/traces",
            ),
            ("http://user@host", "http://REDACTED:REDACTED@host"),
            ("https://u:p@h?q=1", "https://REDACTED:REDACTED@h?q=1"),
            // Not a valid URL: still hidden, however it is written.
            ("user:pass@host:4317", "REDACTED:REDACTED@host:4317"),
            ("http://u:p/ss#w@host/", "http://REDACTED:REDACTED@host/"),
            ("http://u:p@ss@host", "http://REDACTED:REDACTED@host"),
            ("", ""),
            ("http://", "http://"),
            ("http://h/path@x", "http://REDACTED:REDACTED@x"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        assert_eq!(
            redact_sampler_arg("pollingIntervalMs=5,endpoint=http://a:b@h:5778/sampling"),
            "pollingIntervalMs=5,endpoint=http://REDACTED:REDACTED@h:5778/sampling"
        );
        assert_eq!(
            mask_pairs("api-key=abc, x-tenant = t1,,Authorization: Bearer x"),
            "api-key=***,x-tenant=***,,***"
        );
    }

    /// A password in a URL never appears in `Debug` (the configuration dump at
    /// start-up) nor in a reported value.
    #[test]
    fn credentials_are_never_shown() {
        let c = resolve(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://user:s3cret@collector:4318",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret"),
            ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "endpoint=http://user:s3cret@jaeger:5778/sampling,pollingIntervalMs=soon",
            ),
        ]);
        assert_eq!(
            c.otlp.endpoint, "http://user:s3cret@collector:4318/v1/traces",
            "used as given"
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(
            debug.contains("REDACTED:REDACTED@collector:4318"),
            "{debug}"
        );
        for (name, value) in [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://user:s3cret@collector:4318",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "ftp://user:s3cret@collector",
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "user:s3cret@collector"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret,bad"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization: Bearer s3cret"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=s3cret%"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad key=s3cret"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=s3cret\u{1}x"),
        ] {
            let c = resolve(&[(name, value), ("OTEL_LOGS_EXPORTER", "otlp")]);
            assert!(!c.issues.is_empty(), "{name}={value}");
            for issue in &c.issues {
                let text = Error::from(issue.clone()).to_string();
                assert!(!text.contains("s3cret"), "{text}");
                assert!(!format!("{issue:?}").contains("s3cret"), "{issue:?}");
            }
            assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        }
    }

    /// Start-up lines for issues, JSON and text: the value quoted once, at
    /// WARN for an ignored value and ERROR for one that disables an export.
    #[test]
    fn issues_are_logged_once_quoted() {
        use crate::logging::{fmt_layer, JsonFormat, LogFormat, TraceContextFormat};
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt as _;

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        fn lines(format: LogFormat, issues: &[ConfigIssue]) -> Vec<String> {
            let out = Capture::default();
            let writer = out.clone();
            let subscriber =
                tracing_subscriber::registry().with(fmt_layer(format, move || writer.clone()));
            tracing::subscriber::with_default(subscriber, || issues.iter().for_each(|i| i.log()));
            let bytes = out.0.lock().unwrap().clone();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "bogus"),
            ("OTEL_PROPAGATORS", "tracecontext,w3c\nforged line"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://u:pw@collector:4318"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ]);
        let issues = c.issues;
        assert_eq!(
            issues.iter().map(|i| i.variable).collect::<Vec<_>>(),
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_TRACES_SAMPLER",
                "OTEL_PROPAGATORS"
            ]
        );

        let json = lines(LogFormat::Json(JsonFormat::new()), &issues);
        assert_eq!(json.len(), 3, "{json:#?}");
        let json: Vec<serde_json::Value> = json
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // (level, value, in the message)
        for (line, (level, value, message)) in json.iter().zip([
            (
                "ERROR",
                "https://REDACTED:REDACTED@collector:4318",
                "unusable configuration OTEL_EXPORTER_OTLP_ENDPOINT=\"https://REDACTED:REDACTED@collector:4318\": https needs TLS",
            ),
            (
                "WARN",
                "bogus",
                "ignored configuration OTEL_TRACES_SAMPLER=\"bogus\": unknown sampler",
            ),
            (
                "WARN",
                "tracecontext,w3c\\nforged line",
                "ignored configuration OTEL_PROPAGATORS=\"tracecontext,w3c\\nforged line\"",
            ),
        ]) {
            assert_eq!(line["level"], level, "{line}");
            assert_eq!(line["fields"]["value"], value, "{line}");
            let text = line["message"].as_str().unwrap();
            assert!(text.starts_with(message), "{text}");
        }
        assert_eq!(json[0]["fields"]["disables"], "span export");
        assert!(json[0]["message"].as_str().unwrap().contains("disabled"));

        let pattern = TraceContextFormat::new("[{level}] {message}{fields}").unwrap();
        let text = lines(LogFormat::Text(pattern), &issues);
        assert_eq!(text.len(), 3, "one line each, none forged: {text:#?}");
        assert!(
            text[0].starts_with("[ERROR] unusable configuration OTEL_EXPORTER_OTLP_ENDPOINT=\"https://REDACTED:REDACTED@collector:4318\": "),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("[WARN] ignored configuration OTEL_TRACES_SAMPLER=\"bogus\": ")
                && text[1].ends_with(" variable=OTEL_TRACES_SAMPLER value=bogus"),
            "{}",
            text[1]
        );
        assert!(text.iter().all(|l| !l.contains("pw")), "{text:#?}");
    }

    #[test]
    fn defaults_with_nothing_set() {
        let c = resolve(&[]);
        assert!(!c.sdk_disabled);
        assert!(c.service_name.starts_with("unknown_service"));
        assert!(matches!(c.traces_exporter, TracesExporter::File(_)));
        assert_eq!(c.otlp.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(c.otlp.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(c.otlp.timeout, Duration::from_secs(10));
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(
            c.propagators,
            vec![PropagatorName::TraceContext, PropagatorName::Baggage]
        );
        assert_eq!(c.batch, BatchConfig::default());
        assert!(c.issues.is_empty());
    }

    #[test]
    fn empty_values_are_unset() {
        let c = resolve(&[
            ("OTEL_SERVICE_NAME", ""),
            ("OTEL_TRACES_SAMPLER", " "),
            ("OTEL_SDK_DISABLED", ""),
        ]);
        assert!(c.service_name.starts_with("unknown_service"));
        assert!(c.issues.is_empty());
    }

    /// Every variable with a good value: what it changes.
    #[test]
    fn good_values() {
        let c = resolve(&[("OTEL_SDK_DISABLED", "TRUE")]);
        assert!(c.sdk_disabled);
        assert!(!resolve(&[("OTEL_SDK_DISABLED", "false")]).sdk_disabled);

        let c = resolve(&[("OTEL_SERVICE_NAME", "checkout")]);
        assert_eq!(c.service_name, "checkout");
        let c = resolve(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=cart,deployment.environment=prod,team=a%2Cb",
        )]);
        assert_eq!(c.service_name, "cart", "service.name from the attributes");
        assert_eq!(
            c.resource_attributes,
            vec![
                ("deployment.environment".into(), "prod".into()),
                ("team".into(), "a,b".into())
            ]
        );
        let c = resolve(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=cart"),
            ("OTEL_SERVICE_NAME", "checkout"),
        ]);
        assert_eq!(c.service_name, "checkout", "OTEL_SERVICE_NAME wins");

        for (value, expected) in [
            ("otlp", TracesExporter::Otlp),
            ("console", TracesExporter::Console),
            ("none", TracesExporter::None),
        ] {
            assert_eq!(
                resolve(&[("OTEL_TRACES_EXPORTER", value)]).traces_exporter,
                expected
            );
        }

        let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(
            c.traces_exporter,
            TracesExporter::Otlp,
            "an endpoint means OTLP"
        );
        assert_eq!(
            c.otlp.endpoint, "http://collector:4318/v1/traces",
            "HTTP appends the signal path"
        );
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(
            (c.otlp.protocol, c.otlp.endpoint.as_str()),
            (OtlpProtocol::Grpc, "http://collector:4317")
        );
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:9999/custom/path",
            ),
        ]);
        assert_eq!(
            c.otlp.endpoint, "http://traces:9999/custom/path",
            "per-signal, used as is"
        );
        let c = resolve(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(c.otlp.endpoint, "http://localhost:4317", "the gRPC default");
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ]);
        assert_eq!(
            c.otlp.protocol,
            OtlpProtocol::HttpProtobuf,
            "per-signal wins"
        );

        let c = resolve(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "dd-api-key=abc%3D%3D,x-tenant=t1",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2"),
        ]);
        assert_eq!(
            c.otlp.headers,
            vec![
                ("dd-api-key".into(), "abc==".into()),
                ("x-tenant".into(), "t2".into())
            ]
        );
        assert!(
            !format!("{c:?}").contains("abc=="),
            "secrets are masked in Debug"
        );

        assert_eq!(
            resolve(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")])
                .otlp
                .timeout,
            Duration::from_millis(2500)
        );
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100"),
        ]);
        assert_eq!(c.otlp.timeout, Duration::from_millis(100));

        for (name, arg, expected) in [
            ("always_on", None, SamplerConfig::AlwaysOn),
            ("always_off", None, SamplerConfig::AlwaysOff),
            (
                "traceidratio",
                Some("0.25"),
                SamplerConfig::TraceIdRatio(0.25),
            ),
            ("traceidratio", None, SamplerConfig::TraceIdRatio(1.0)),
            (
                "parentbased_always_on",
                None,
                SamplerConfig::ParentBasedAlwaysOn,
            ),
            (
                "parentbased_always_off",
                None,
                SamplerConfig::ParentBasedAlwaysOff,
            ),
            (
                "parentbased_traceidratio",
                Some("0"),
                SamplerConfig::ParentBasedTraceIdRatio(0.0),
            ),
        ] {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            if let Some(arg) = arg {
                vars.push(("OTEL_TRACES_SAMPLER_ARG", arg));
            }
            let c = resolve(&vars);
            assert_eq!(c.sampler, expected, "{name}");
            assert!(c.issues.is_empty(), "{name}");
        }

        use PropagatorName as P;
        let c = resolve(&[(
            "OTEL_PROPAGATORS",
            "b3, tracecontext,baggage,jaeger,b3multi,tracecontext,xray,datadog",
        )]);
        assert_eq!(
            c.propagators,
            vec![
                P::B3,
                P::TraceContext,
                P::Baggage,
                P::Jaeger,
                P::B3Multi,
                P::Xray,
                P::Datadog
            ],
            "in order, once each"
        );
        assert!(resolve(&[("OTEL_PROPAGATORS", "none")])
            .propagators
            .is_empty());

        let c = resolve(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ]);
        assert_eq!(
            c.batch,
            BatchConfig {
                max_queue_size: 100,
                scheduled_delay: Duration::from_millis(250),
                max_export_batch_size: 50,
                export_timeout: Duration::from_millis(1000),
                ..BatchConfig::default()
            },
        );
        assert!(c.issues.is_empty());
        let c = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]);
        assert_eq!(
            c.batch.max_export_batch_size, 100,
            "the default batch size is capped by the queue size"
        );
        assert!(c.issues.is_empty(), "the default is not reported");

        // Limits: the span's own variable wins over the generic one.
        assert_eq!(resolve(&[]).span_limits, SpanLimitsConfig::default());
        let c = resolve(&[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ]);
        assert_eq!(
            c.span_limits,
            SpanLimitsConfig {
                attribute_value_length: Some(100),
                attribute_count: 10,
                event_count: 128,
                link_count: 128,
                event_attribute_count: 10,
                link_attribute_count: 10,
            },
            "the generic limits apply to the span, its events and links"
        );
        let c = resolve(&[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "0"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "4"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "5"),
        ]);
        assert_eq!(
            c.span_limits,
            SpanLimitsConfig {
                attribute_value_length: Some(20),
                attribute_count: 2,
                event_count: 3,
                link_count: 0,
                event_attribute_count: 4,
                link_attribute_count: 5,
            }
        );
        assert!(c.issues.is_empty(), "{:?}", c.issues);
        let over = Overrides {
            limits: LimitOverrides {
                attribute_value_length: Some(7),
                attribute_count: Some(1),
                event_count: Some(2),
                link_count: Some(3),
                event_attribute_count: Some(4),
                link_attribute_count: Some(5),
            },
            ..Overrides::default()
        };
        let vars = [
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "50"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "50"),
        ];
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let c = EffectiveConfig::resolve(&get, &over);
        assert_eq!(
            c.span_limits,
            SpanLimitsConfig {
                attribute_value_length: Some(7),
                attribute_count: 1,
                event_count: 2,
                link_count: 3,
                event_attribute_count: 4,
                link_attribute_count: 5,
            },
            "the builder wins"
        );

        assert_eq!(resolve(&[]).log_filter, "info");
        assert_eq!(
            resolve(&[("RUST_LOG", "warn,my_crate=debug")]).log_filter,
            "warn,my_crate=debug"
        );

        for (value, expected) in [
            ("text", LogFormatName::Text),
            ("JSON", LogFormatName::Json),
            ("datadog", LogFormatName::Datadog),
        ] {
            let c = resolve(&[("DISTRIBUTED_TRACING_LOG_FORMAT", value)]);
            assert_eq!(c.log_format, Some(expected));
        }
        let c = resolve(&[
            ("OTEL_SERVICE_NAME", "shop"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod,service.version=2",
            ),
        ]);
        assert_eq!(
            c.datadog,
            ("shop".into(), Some("prod".into()), Some("2".into()))
        );
        let c = resolve(&[
            ("OTEL_SERVICE_NAME", "shop"),
            ("DD_SERVICE", "dd-shop"),
            ("DD_ENV", "qa"),
        ]);
        assert_eq!(c.datadog, ("dd-shop".into(), Some("qa".into()), None));

        assert_eq!(resolve(&[]).spans_file_max_bytes, 16 * 1024 * 1024);
        let c = resolve(&[("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", " 4096 ")]);
        assert_eq!((c.spans_file_max_bytes, c.issues.len()), (4096, 0));
        let over = Overrides {
            spans_file_max_bytes: Some(100),
            ..Overrides::default()
        };
        let env = map_env(HashMap::from([(
            "DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES".to_string(),
            "4096".to_string(),
        )]));
        assert_eq!(
            EffectiveConfig::resolve(&env, &over).spans_file_max_bytes,
            100,
            "the builder wins"
        );
    }

    /// The folder of the default spans file, for each environment.
    #[test]
    fn the_spans_folder_is_per_user() {
        let existing = |p: &Path| p == Path::new("/home/ana") || p == Path::new("/");
        let tmp = Path::new("/var/tmp");
        let per_user_tmp = match cfg!(unix) {
            true => "/var/tmp/distributed-tracing-1000",
            false => "/var/tmp/distributed-tracing",
        };
        let cases: &[(Option<&str>, Option<&str>, &str, &str)] = &[
            (
                Some("/state"),
                Some("/home/ana"),
                "/state/distributed-tracing",
                "XDG_STATE_HOME first",
            ),
            (
                Some("state"),
                Some("/home/ana"),
                "/home/ana/.local/state/distributed-tracing",
                "a relative XDG_STATE_HOME is ignored (XDG spec)",
            ),
            (
                None,
                Some("/home/ana"),
                "/home/ana/.local/state/distributed-tracing",
                "HOME only",
            ),
            (
                None,
                Some("/nonexistent"),
                per_user_tmp,
                "HOME is not a folder",
            ),
            (None, Some("/"), per_user_tmp, "HOME is the root folder"),
            (None, Some("home/ana"), per_user_tmp, "HOME is relative"),
            (None, None, per_user_tmp, "neither"),
        ];
        #[cfg(unix)]
        let uid: Uid = 1000;
        #[cfg(not(unix))]
        let uid: Uid = ();
        for (xdg, home, expected, why) in cases {
            let dir = spans_dir(*xdg, *home, &existing, tmp, &|| Some(uid));
            assert_eq!(dir, Path::new(expected), "{why}");
        }
    }

    /// The default file's path comes from the configuration's environment.
    #[test]
    fn the_default_spans_file_follows_the_given_environment() {
        let dir = std::env::temp_dir();
        let state = dir.to_str().unwrap();
        let c = resolve(&[("XDG_STATE_HOME", state), ("OTEL_SERVICE_NAME", "a/b c")]);
        assert_eq!(
            c.traces_exporter,
            TracesExporter::File(dir.join("distributed-tracing").join("a_b_c.spans.jsonl"))
        );
        assert!(c.spans_dir_is_default);
        let c = resolve(&[("HOME", state), ("OTEL_SERVICE_NAME", "s")]);
        assert_eq!(
            c.traces_exporter,
            TracesExporter::File(dir.join(".local/state/distributed-tracing/s.spans.jsonl"))
        );
        let c = resolve(&[("TMPDIR", state), ("OTEL_SERVICE_NAME", "s")]);
        let TracesExporter::File(path) = c.traces_exporter else {
            panic!("{:?}", c.traces_exporter)
        };
        assert!(path.starts_with(state), "{path:?}");
        let over = Overrides {
            default_spans_file: Some("/elsewhere/s.jsonl".into()),
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&map_env(HashMap::new()), &over);
        assert_eq!(
            c.traces_exporter,
            TracesExporter::File("/elsewhere/s.jsonl".into())
        );
        assert!(
            !c.spans_dir_is_default,
            "a path given in code is the caller's"
        );
    }

    /// An OTLP endpoint that cannot be used as given disables the export that
    /// would use it, with an error naming the variable and the value: never
    /// the default endpoint or another variable's instead (which would send the
    /// spans and the API keys of the headers to an address nobody named).
    #[test]
    fn unusable_endpoints_disable_their_export() {
        let with_logs = cfg!(feature = "logs");
        // (variables, the variable reported, why, the spans exported, the log records exported)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, bool, bool);
        let cases: &[Case] = &[
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://",
                false,
                false,
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://",
                false,
                false,
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "TLS",
                false,
                false,
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "not a URL",
                false,
                false,
            ),
            (
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://:4318/v1/traces",
                )],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "host",
                false,
                false,
            ),
            // A bad per-signal endpoint does not fall back to the generic one.
            (
                &[
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "https://traces:4318/v1/traces",
                    ),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                ],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "TLS",
                false,
                false,
            ),
            // With OTEL_TRACES_EXPORTER=otlp and an endpoint of its own, the logs stay.
            (
                &[
                    ("OTEL_TRACES_EXPORTER", "otlp"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://traces"),
                    (
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                        "http://logs:4318/v1/logs",
                    ),
                ],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://",
                false,
                true,
            ),
            // The logs' own endpoint: the logs go nowhere, the spans on.
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    (
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                        "https://logs:4318/v1/logs",
                    ),
                ],
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "TLS",
                true,
                false,
            ),
        ];
        for (vars, variable, why, spans, logs) in cases {
            let c = resolve(vars);
            let exported = c.traces_exporter == TracesExporter::Otlp;
            assert_eq!(exported, *spans, "{vars:?}: {c:?}");
            assert_eq!(c.logs_otlp, *logs, "{vars:?}");
            if *spans && !with_logs {
                continue; // nothing to disable: this build exports no log records
            }
            let issue = &c.issues[0];
            assert_eq!(issue.variable, *variable, "{vars:?}");
            assert!(issue.reason.contains(why), "{vars:?}: {issue}");
            assert!(issue.disables.is_some(), "{vars:?}: {issue}");
            assert!(issue.reason.contains("disabled"), "{issue}");
            let disabled: Vec<_> = c.issues.iter().filter_map(|i| i.disables).collect();
            let mut expected = Vec::new();
            if !spans {
                expected.push(Disabled::SpanExport);
            }
            if !logs && with_logs {
                expected.push(Disabled::LogExport);
            }
            assert_eq!(disabled, expected, "{vars:?}: {:?}", c.issues);
            assert_eq!(c.issues.len(), expected.len(), "{vars:?}: {:?}", c.issues);
            let text = Error::from(issue.clone()).to_string();
            assert!(
                text.contains(variable) && text.contains("disabled"),
                "{text}"
            );
        }

        // An endpoint that no export uses is only ignored.
        let c = resolve(&[
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ]);
        assert_eq!(c.traces_exporter, TracesExporter::Console);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert_eq!(c.issues[0].disables, None);

        // The builder's URLs are checked the same way.
        let over = Overrides {
            otlp_endpoint: Some("https://user:pw@collector:4318/v1/traces".into()),
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&|_| None, &over);
        assert_eq!(c.traces_exporter, TracesExporter::None);
        assert_eq!(c.issues[0].variable, "ObservabilityBuilder::otlp_endpoint");
        assert_eq!(c.issues[0].disables, Some(Disabled::SpanExport));
        assert!(!format!("{:?}", c.issues).contains("pw"));
        let over = Overrides {
            otlp_endpoint: Some("http://collector:4318/v1/traces".into()),
            otlp_logs_endpoint: Some("collector".into()),
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&|_| None, &over);
        assert_eq!(c.traces_exporter, TracesExporter::Otlp);
        assert!(!c.logs_otlp);
        assert_eq!(
            c.issues[0].variable,
            "ObservabilityBuilder::otlp_logs_endpoint"
        );
        assert_eq!(
            c.issues[0].disables,
            Some(Disabled::LogExport).filter(|_| with_logs)
        );

        // The Jaeger sampling endpoint: the default sampler, no request to a
        // host nobody named.
        if cfg!(feature = "jaeger-remote-sampler") {
            let c = resolve(&[
                ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
                (
                    "OTEL_TRACES_SAMPLER_ARG",
                    "endpoint=https://jaeger:5778/sampling",
                ),
            ]);
            assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
            assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
            assert_eq!(c.issues[0].disables, Some(Disabled::RemoteSampler));
            assert!(c.issues[0].reason.contains("parentbased_always_on"));
        }
        let over = Overrides {
            sampler: Some(SamplerConfig::JaegerRemote {
                parent_based: true,
                endpoint: "jaeger:5778".into(),
                polling_interval: Duration::from_secs(1),
                initial_sampling_rate: 1.0,
            }),
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&|_| None, &over);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.issues[0].variable, "ObservabilityBuilder::sampler");
    }

    /// Every variable with a bad value: reported, naming the variable and the
    /// value, and the default used.
    #[test]
    fn bad_values_are_reported_and_ignored() {
        let defaults = resolve(&[]);
        let cases: &[(&str, &str)] = &[
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team"),
            ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "GRPC"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad header=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=%"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER", "xray"),
            ("OTEL_PROPAGATORS", "tracecontext,w3c"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-5"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1.5"),
            // Values that parse but would harm: reported and ignored the same way.
            ("OTEL_BSP_SCHEDULE_DELAY", "0"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
            // Set, but no sampler uses it.
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("DISTRIBUTED_TRACING_LOG_FORMAT", "xml"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "0"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "16MiB"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "-4096"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "many"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1e3"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4294967296"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1.5"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "-3"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "x"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "+-1"),
            ("RUST_LOG", "info,[=bad"),
        ];
        for (name, value) in cases {
            let c = resolve(&[(name, value)]);
            assert_eq!(c.issues.len(), 1, "{name}={value}: {:?}", c.issues);
            let issue = &c.issues[0];
            assert_eq!(issue.variable, *name);
            let text = Error::from(issue.clone()).to_string();
            // Shown as given, but for the secrets (header values, credentials).
            let shown = match name.contains("HEADERS") {
                true => mask_pairs(value),
                false => redact_url(value),
            };
            assert!(
                text.contains(name) && text.contains(&shown[..shown.len().min(8)]),
                "{text}"
            );
            // The default is used instead.
            assert_eq!(c.spans_file_max_bytes, DEFAULT_MAX_BYTES, "{name}");
            assert_eq!(c.sampler, defaults.sampler, "{name}");
            assert_eq!(c.otlp.protocol, defaults.otlp.protocol, "{name}");
            assert_eq!(c.batch, defaults.batch, "{name}");
            assert_eq!(c.otlp.timeout, defaults.otlp.timeout, "{name}");
            assert_eq!(c.span_limits, defaults.span_limits, "{name}");
        }
        // A sampler argument no sampler takes.
        for name in [
            "always_on",
            "always_off",
            "parentbased_always_on",
            "parentbased_always_off",
        ] {
            let c = resolve(&[
                ("OTEL_TRACES_SAMPLER", name),
                ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ]);
            assert_eq!(c.issues.len(), 1, "{name}: {:?}", c.issues);
            assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
            assert!(c.issues[0].reason.contains(name), "{}", c.issues[0]);
        }
        // A batch size over the queue size: capped, and now said.
        let c = resolve(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ]);
        assert_eq!(c.batch.max_export_batch_size, 100);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert_eq!(c.issues[0].variable, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
        // A zero duration from the builder, like the variable's.
        let over = Overrides {
            scheduled_delay: Some(Duration::ZERO),
            otlp_timeout: Some(Duration::ZERO),
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&|_| None, &over);
        assert_eq!(c.batch, defaults.batch);
        assert_eq!(c.otlp.timeout, defaults.otlp.timeout);
        let reported: Vec<_> = c.issues.iter().map(|i| i.variable).collect();
        assert_eq!(
            reported,
            [
                "ObservabilityBuilder::otlp_timeout",
                "ObservabilityBuilder::scheduled_delay"
            ]
        );
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ]);
        assert_eq!(c.sampler, SamplerConfig::TraceIdRatio(1.0));
        assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ]);
        assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
    }
}
