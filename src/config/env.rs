//! Reading the environment: the variables' names, each beside its default
//! (as `opentelemetry-otlp` keeps them), and [`Env`], which reads a value and
//! records the ones that cannot be used.
//!
//! Every variable this crate reads is named here, once.

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use super::{ConfigIssue, Disabled};
use crate::error::Shown;
use crate::untrusted::{percent_decode, NotUtf8};

// Switch.

/// `true` turns recording and export off.
pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";

// Resource.

/// `key=value,...` resource attributes.
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `service.name` (default `unknown_service:<executable>`).
pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";

// Exporters.

/// `otlp`, `console` or `none`, or a list (`otlp,console`) (default: a local
/// file, unless an OTLP endpoint is set).
pub(crate) const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `otlp`, `console` or `none` (default: `otlp` when spans go over OTLP).
pub(crate) const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";

// OTLP.

/// The traces' OTLP transport, before [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `grpc` or `http/protobuf` (the default).
pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// The traces' full URL, used as is.
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// A base URL (OTLP/HTTP appends `/v1/traces`).
pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The default endpoint of OTLP/gRPC.
pub(crate) const OTEL_EXPORTER_OTLP_GRPC_ENDPOINT_DEFAULT: &str = "http://localhost:4317";
/// The default traces endpoint of OTLP/HTTP.
pub(crate) const OTEL_EXPORTER_OTLP_HTTP_TRACES_ENDPOINT_DEFAULT: &str =
    "http://localhost:4318/v1/traces";
/// The metrics' full URL (default: derived from the traces endpoint).
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// The metrics' compression, before [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str =
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// The metrics' CA file, before [`OTEL_EXPORTER_OTLP_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE";
/// The metrics' client certificate, before [`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE";
/// The metrics' client key, before [`OTEL_EXPORTER_OTLP_CLIENT_KEY`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: &str =
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY";
/// The metrics' [`OTEL_EXPORTER_OTLP_INSECURE`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_INSECURE: &str = "OTEL_EXPORTER_OTLP_METRICS_INSECURE";
/// The metrics' request deadline (milliseconds), before [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// `cumulative` (default), `delta` or `lowmemory`.
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// Where metrics go: `otlp`, `console` or `none` (default: as spans).
pub(crate) const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// The time between two collections of the metrics (milliseconds).
pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Default of [`OTEL_METRIC_EXPORT_INTERVAL`] (the specification's).
pub(crate) const OTEL_METRIC_EXPORT_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
/// The deadline of one export of the metrics (milliseconds).
pub(crate) const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// Default of [`OTEL_METRIC_EXPORT_TIMEOUT`] (the specification's).
pub(crate) const OTEL_METRIC_EXPORT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// The local metrics file's path (default: beside the spans file).
pub(crate) const DISTRIBUTED_TRACING_METRICS_FILE: &str = "DISTRIBUTED_TRACING_METRICS_FILE";
/// The log records' full URL (default: derived from the traces endpoint).
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Request headers, `name=value,...`.
pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// The traces' request headers, after [`OTEL_EXPORTER_OTLP_HEADERS`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// The compression of all OTLP requests: `gzip` or `none`.
pub(crate) const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// The traces' compression, before [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str =
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// The log records' compression, before [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// A PEM file of the CA certificates trusted for the collector's TLS
/// certificate, instead of the system's roots.
pub(crate) const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// The traces' CA file, before [`OTEL_EXPORTER_OTLP_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// The log records' CA file, before [`OTEL_EXPORTER_OTLP_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE";
/// A PEM file of the client certificate (chain) of mutual TLS.
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// The traces' client certificate, before [`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
/// The log records' client certificate, before [`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`].
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE";
/// A PEM file of the client certificate's private key.
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// The traces' client key, before [`OTEL_EXPORTER_OTLP_CLIENT_KEY`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
/// The log records' client key, before [`OTEL_EXPORTER_OTLP_CLIENT_KEY`].
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY";
/// `true`: a gRPC endpoint given without a scheme is plain text (default
/// `false`: TLS). An endpoint's own scheme always decides.
pub(crate) const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// The traces' [`OTEL_EXPORTER_OTLP_INSECURE`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// The log records' [`OTEL_EXPORTER_OTLP_INSECURE`].
pub(crate) const OTEL_EXPORTER_OTLP_LOGS_INSECURE: &str = "OTEL_EXPORTER_OTLP_LOGS_INSECURE";
/// The traces' request deadline (milliseconds), before [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// The request deadline (milliseconds).
pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Default of [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

// Sampler.

/// The sampler's name (default `parentbased_always_on`).
pub(crate) const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The sampler's argument: a ratio, or `jaeger_remote`'s `key=value` list.
pub(crate) const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Default of the ratio in [`OTEL_TRACES_SAMPLER_ARG`].
pub(crate) const OTEL_TRACES_SAMPLER_ARG_RATIO_DEFAULT: f64 = 1.0;
/// Default `endpoint=` of `jaeger_remote`.
pub(crate) const JAEGER_REMOTE_ENDPOINT_DEFAULT: &str = "http://localhost:5778/sampling";
/// Default `pollingIntervalMs=` of `jaeger_remote`.
pub(crate) const JAEGER_REMOTE_POLLING_INTERVAL_DEFAULT: Duration = Duration::from_millis(60_000);
/// Default `initialSamplingRate=` of `jaeger_remote`.
pub(crate) const JAEGER_REMOTE_INITIAL_SAMPLING_RATE_DEFAULT: f64 = 0.001;

// Propagators.

/// The propagators, in order (default `tracecontext,baggage`).
pub(crate) const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

// Batch export.

/// Spans waiting for export, at most.
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Default of [`OTEL_BSP_MAX_QUEUE_SIZE`].
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT: usize = 2048;
/// Delay between two exports (milliseconds).
pub(crate) const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Default of [`OTEL_BSP_SCHEDULE_DELAY`].
pub(crate) const OTEL_BSP_SCHEDULE_DELAY_DEFAULT: Duration = Duration::from_millis(5000);
/// Spans in one export, at most.
pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Default of [`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`].
pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT: usize = 512;
/// Deadline of one export (milliseconds).
pub(crate) const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Default of [`OTEL_BSP_EXPORT_TIMEOUT`].
pub(crate) const OTEL_BSP_EXPORT_TIMEOUT_DEFAULT: Duration = Duration::from_millis(30_000);
/// Bytes of the queued spans, at most (this crate's variable).
pub(crate) const DISTRIBUTED_TRACING_MAX_QUEUE_BYTES: &str = "DISTRIBUTED_TRACING_MAX_QUEUE_BYTES";
/// Default of [`DISTRIBUTED_TRACING_MAX_QUEUE_BYTES`]: 32 MiB.
pub(crate) const DISTRIBUTED_TRACING_MAX_QUEUE_BYTES_DEFAULT: usize = 32 * 1024 * 1024;
/// Bytes of one OTLP export request, at most (this crate's variable).
pub(crate) const DISTRIBUTED_TRACING_MAX_EXPORT_BYTES: &str =
    "DISTRIBUTED_TRACING_MAX_EXPORT_BYTES";
/// Default of [`DISTRIBUTED_TRACING_MAX_EXPORT_BYTES`]: 4 MiB less 64 KiB,
/// under the 4 MiB that gRPC servers accept by default.
pub(crate) const DISTRIBUTED_TRACING_MAX_EXPORT_BYTES_DEFAULT: usize = 4 * 1024 * 1024 - 64 * 1024;

// Span limits (their defaults: `SpanLimitsConfig::default`).

/// Attribute value length, any signal.
pub(crate) const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Attributes per record, any signal.
pub(crate) const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// Attribute value length on spans.
pub(crate) const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str =
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Attributes per span.
pub(crate) const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Events per span.
pub(crate) const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Links per span.
pub(crate) const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// Attributes per span event.
pub(crate) const OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT";
/// Attributes per span link.
pub(crate) const OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT";

// Logging.

/// The log filter, `EnvFilter`'s syntax.
pub(crate) const RUST_LOG: &str = "RUST_LOG";
/// Default of [`RUST_LOG`].
pub(crate) const RUST_LOG_DEFAULT: &str = "info";
/// `text` (the default), `json` or `datadog` (this crate's variable).
pub(crate) const DISTRIBUTED_TRACING_LOG_FORMAT: &str = "DISTRIBUTED_TRACING_LOG_FORMAT";
/// Datadog's `dd.service` (default: `service.name`).
pub(crate) const DD_SERVICE: &str = "DD_SERVICE";
/// Datadog's `dd.env` (default: `deployment.environment.name`).
pub(crate) const DD_ENV: &str = "DD_ENV";
/// Datadog's `dd.version` (default: `service.version`).
pub(crate) const DD_VERSION: &str = "DD_VERSION";

// The local spans file.

/// The spans file's path (this crate's variable; default
/// `<state folder>/distributed-tracing/<service>.spans.jsonl`).
pub(crate) const DISTRIBUTED_TRACING_SPANS_FILE: &str = "DISTRIBUTED_TRACING_SPANS_FILE";
/// The size at which the spans file is rotated (bytes, this crate's variable).
pub(crate) const DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES: &str =
    "DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES";
/// The default maximum size of the spans file: 16 MiB.
pub(crate) const DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;
/// The XDG state folder, first choice for the spans file's folder.
pub(crate) const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
/// The home folder, second choice.
pub(crate) const HOME: &str = "HOME";
/// The temporary folder (Unix), last choice.
pub(crate) const TMPDIR: &str = "TMPDIR";

/// The environment a configuration is read from: the value of a variable,
/// as bytes (`None`: unset).
pub(crate) type Get<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// A variable as read, before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// Unset or empty (the specification: empty = unset).
    Unset,
    /// Set, as text.
    Text(String),
    /// Set, but not valid UTF-8: a bad value, shown lossily (U+FFFD for the
    /// bytes that are not UTF-8).
    NotUtf8(String),
}

/// Why a value that is not UTF-8 cannot be used (the start of the reason).
pub(super) const NOT_UTF8: &str = "not valid UTF-8 (shown with U+FFFD for the bytes that are not)";

/// The longest reason an issue keeps, in characters (the longest this crate
/// writes fits, with the inputs it quotes): the quoted inputs in a reason
/// are [`Shown`] (64 characters each), but the messages of other crates
/// (`EnvFilter`'s, the URL parser's) may quote more.
const MAX_REASON: usize = 400;

/// Reads variables, records the ones that cannot be used.
pub(super) struct Env<'a> {
    get: Get<'a>,
    issues: Vec<ConfigIssue>,
    /// The variables reported as not UTF-8: once each, however often read.
    not_utf8: Vec<&'static str>,
}

impl<'a> Env<'a> {
    /// Reads `get` (the process environment, or pairs given in code).
    pub(super) fn new(get: Get<'a>) -> Self {
        Self {
            get,
            issues: Vec::new(),
            not_utf8: Vec::new(),
        }
    }

    /// The values reported, in the order they were read.
    pub(super) fn into_issues(self) -> Vec<ConfigIssue> {
        self.issues
    }

    /// The value as it is, reporting nothing: for the callers that report a
    /// value that is not UTF-8 themselves ([`not_utf8`](Self::not_utf8)),
    /// because it must not fall back to anything (an endpoint, a TLS file)
    /// or stands for more than a default (a sampler's argument).
    pub(super) fn read(&self, name: &str) -> Value {
        let Some(value) = (self.get)(name) else {
            return Value::Unset;
        };
        match value.into_string() {
            Ok(text) if text.trim().is_empty() => Value::Unset,
            Ok(text) => Value::Text(text),
            Err(bytes) => Value::NotUtf8(bytes.to_string_lossy().into_owned()),
        }
    }

    /// The value, `None` when unset or empty (the specification: empty =
    /// unset), or when it is not UTF-8: then it is reported (once), and the
    /// default takes its place, as for any value that cannot be used.
    pub(super) fn var(&mut self, name: &'static str) -> Option<String> {
        self.var_or(name, "using the default")
    }

    /// [`var`](Self::var), saying what takes the place of a value that is not
    /// UTF-8 (`instead`: "using false").
    pub(super) fn var_or(&mut self, name: &'static str, instead: &str) -> Option<String> {
        match self.read(name) {
            Value::Unset => None,
            Value::Text(text) => Some(text),
            Value::NotUtf8(lossy) => {
                self.not_utf8(name, &lossy, instead, None);
                None
            }
        }
    }

    /// Reports `name`'s value that is not UTF-8 (`lossy`), once per
    /// variable: `instead` says what is used instead, `disabled` what it
    /// turns off, if anything.
    pub(super) fn not_utf8(
        &mut self,
        name: &'static str,
        lossy: &str,
        instead: &str,
        disabled: Option<Disabled>,
    ) {
        if self.not_utf8.contains(&name) {
            return;
        }
        self.not_utf8.push(name);
        let reason = format!("{NOT_UTF8}; {instead}");
        match disabled {
            Some(disabled) => self.disabling(name, lossy, reason, disabled),
            None => self.issue(name, lossy, reason),
        }
    }

    /// Reports a value that is ignored, the default taking its place. The
    /// reason is escaped and cut as a whole (its quoted inputs should be
    /// [`Shown`] already): no issue grows with its input.
    pub(super) fn issue(&mut self, variable: &'static str, value: &str, reason: impl Into<String>) {
        let reason = reason.into();
        let reason = match crate::untrusted::shorten_untrusted(&reason, MAX_REASON) {
            std::borrow::Cow::Borrowed(_) => reason,
            std::borrow::Cow::Owned(shown) => shown,
        };
        self.issues.push(ConfigIssue {
            variable,
            value: Shown::new(value),
            reason,
            disables: None,
        });
    }

    /// Reports a value that cannot be used and turns `disabled` off.
    pub(super) fn disabling(
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

    /// Adds `more` to the reason of the issue already reported for
    /// `variable` (one line per variable, saying all it disables); false when
    /// there is none.
    pub(super) fn amend(&mut self, variable: &'static str, more: &str) -> bool {
        match self
            .issues
            .iter_mut()
            .rev()
            .find(|i| i.variable == variable)
        {
            Some(issue) => {
                issue.reason.push_str(more);
                true
            }
            None => false,
        }
    }

    /// A boolean: `true`/`false`, case-insensitive.
    pub(super) fn bool(&mut self, name: &'static str) -> bool {
        self.opt_bool(name).unwrap_or(false)
    }

    /// A boolean when set to one (anything else is reported and skipped).
    pub(super) fn opt_bool(&mut self, name: &'static str) -> Option<bool> {
        let value = self.var_or(name, "using false")?;
        match value.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.issue(name, &value, "expected true or false; using false");
                None
            }
        }
    }

    /// A duration in milliseconds (a non-negative integer).
    pub(super) fn millis(&mut self, name: &'static str) -> Option<Duration> {
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
    pub(super) fn nonzero_millis(&mut self, name: &'static str, zero: &str) -> Option<Duration> {
        let ms = self.millis(name)?;
        if ms.is_zero() {
            self.issue(name, "0", format!("{zero}; ignored"));
            return None;
        }
        Some(ms)
    }

    /// The builder's duration, checked like [`nonzero_millis`](Self::nonzero_millis).
    pub(super) fn nonzero_override(
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
    pub(super) fn limit<T: std::str::FromStr>(&mut self, name: &'static str) -> Option<T> {
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
    pub(super) fn count(&mut self, name: &'static str) -> Option<usize> {
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
    pub(super) fn bytes(&mut self, name: &'static str) -> Option<u64> {
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
    pub(super) fn pairs(&mut self, name: &'static str, secret: bool) -> Vec<(String, String)> {
        let value = match self.read(name) {
            Value::Unset => return Vec::new(),
            Value::Text(value) => value,
            Value::NotUtf8(lossy) => {
                let shown = match secret {
                    true => mask_pairs(&lossy),
                    false => lossy,
                };
                self.not_utf8(name, &shown, "the whole value is ignored", None);
                return Vec::new();
            }
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
pub(super) fn mask_pairs(value: &str) -> String {
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
        // Quoted through `Shown`: escaped, and cut however long the member.
        let shown = || match secret {
            true => Shown::new(&mask_pairs(member)),
            false => Shown::new(member.trim()),
        };
        let (key, val) = member.split_once('=').ok_or_else(|| match secret {
            true => "a member has no '=' (a header is written name=value)".to_string(),
            false => format!("member {} has no '='", shown()),
        })?;
        let key = percent_decode(key.trim(), NotUtf8::Reject).ok_or("invalid percent-encoding")?;
        let val = percent_decode(val.trim(), NotUtf8::Reject).ok_or("invalid percent-encoding")?;
        if key.is_empty() {
            return Err(format!("member {} has an empty key", shown()));
        }
        out.push((key, val));
    }
    Ok(out)
}

/// The process environment, as bytes: a value that is not UTF-8 is read
/// (and reported as a bad value), never taken as unset.
pub(crate) fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// An environment given as pairs (for tests and other configuration sources).
pub(crate) fn map_env(
    vars: HashMap<String, OsString>,
) -> impl Fn(&str) -> Option<OsString> + Send + Sync {
    move |name| vars.get(name).cloned()
}
