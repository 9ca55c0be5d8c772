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

use super::sink::{current_uid, Uid, DEFAULT_MAX_BYTES};
use crate::error::{Error, Shown};

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
#[derive(Debug, Clone, PartialEq)]
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

/// Parses `jaeger_remote`'s `OTEL_TRACES_SAMPLER_ARG`.
fn jaeger_remote_arg(env: &mut Env<'_>, parent_based: bool) -> SamplerConfig {
    let mut endpoint = "http://localhost:5778/sampling".to_string();
    let mut polling_interval = Duration::from_millis(60_000);
    let mut initial_sampling_rate = 0.001;
    if let Some(value) = env.var("OTEL_TRACES_SAMPLER_ARG") {
        let mut bad = |reason: &str| {
            env.issue(
                "OTEL_TRACES_SAMPLER_ARG",
                &value,
                format!("{reason}; the defaults are used"),
            )
        };
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("endpoint", v)) => match check_endpoint(v) {
                    Ok(()) => endpoint = v.to_string(),
                    Err(reason) => bad(&format!("endpoint: {reason}")),
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
    SamplerConfig::JaegerRemote {
        parent_based,
        endpoint,
        polling_interval,
        initial_sampling_rate,
    }
}

/// A propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorName {
    /// `tracecontext`: W3C Trace Context (this crate's strict propagator).
    TraceContext,
    /// `baggage`: W3C Baggage.
    Baggage,
    /// `b3`: B3 single header.
    B3,
    /// `b3multi`: B3 multiple headers.
    B3Multi,
    /// `jaeger`: `uber-trace-id`.
    Jaeger,
    /// `xray`: AWS X-Ray's `X-Amzn-Trace-Id`.
    Xray,
    /// `datadog`: `x-datadog-trace-id`, `x-datadog-parent-id`,
    /// `x-datadog-sampling-priority`, `x-datadog-tags` (the name Datadog's own
    /// tracers use in `OTEL_PROPAGATORS`).
    Datadog,
}

impl PropagatorName {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "tracecontext" => Some(Self::TraceContext),
            "baggage" => Some(Self::Baggage),
            "b3" => Some(Self::B3),
            "b3multi" => Some(Self::B3Multi),
            "jaeger" => Some(Self::Jaeger),
            "datadog" => Some(Self::Datadog),
            "xray" => Some(Self::Xray),
            _ => None,
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
    /// Delay between two exports (`OTEL_BSP_SCHEDULE_DELAY`, milliseconds, default 5000).
    pub scheduled_delay: Duration,
    /// Spans in one export request, at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    pub max_export_batch_size: usize,
    /// Deadline of one export, retries included (`OTEL_BSP_EXPORT_TIMEOUT`,
    /// milliseconds, default 30000).
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
    /// `/v1/logs` path): `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, else derived like
    /// `endpoint`.
    pub logs_endpoint: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`): API keys and the like.
    pub headers: Vec<(String, String)>,
    /// Deadline of one export request (`OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s).
    pub timeout: Duration,
}

impl fmt::Debug for OtlpConfig {
    /// Header values are secrets (API keys): they are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("protocol", &self.protocol.as_str())
            .field("endpoint", &self.endpoint)
            .field("logs_endpoint", &self.logs_endpoint)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A configuration value that was reported and ignored (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value (shortened if long).
    pub value: Shown,
    /// Why it cannot be used, and what is used instead.
    pub reason: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.variable, self.value, self.reason)
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
    /// Where spans go.
    pub traces_exporter: TracesExporter,
    /// Whether `tracing` events are also exported as OTLP log records (feature
    /// `logs`): `OTEL_LOGS_EXPORTER=otlp`, or unset while spans go over OTLP.
    pub logs_otlp: bool,
    /// The OTLP settings (used when `traces_exporter` is `Otlp`).
    pub otlp: OtlpConfig,
    /// The sampler.
    pub sampler: SamplerConfig,
    /// The propagators, in order (`OTEL_PROPAGATORS`, default `tracecontext,baggage`).
    pub propagators: Vec<PropagatorName>,
    /// Batch export settings.
    pub batch: BatchConfig,
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

    fn issue(&mut self, variable: &'static str, value: &str, reason: impl Into<String>) {
        self.issues.push(ConfigIssue {
            variable,
            value: Shown::new(value),
            reason: reason.into(),
        });
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
    fn pairs(&mut self, name: &'static str) -> Vec<(String, String)> {
        let Some(value) = self.var(name) else {
            return Vec::new();
        };
        match parse_pairs(&value) {
            Ok(pairs) => pairs,
            Err(reason) => {
                self.issue(
                    name,
                    &value,
                    format!("{reason}; the whole value is ignored"),
                );
                Vec::new()
            }
        }
    }
}

/// Parses `k1=v1,k2=v2` with percent-decoding; keys are trimmed and non-empty.
pub(crate) fn parse_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for member in value.split(',') {
        if member.trim().is_empty() {
            continue;
        }
        let (key, val) = member
            .split_once('=')
            .ok_or_else(|| format!("member {:?} has no '='", member.trim()))?;
        let key = percent_decode(key.trim()).ok_or("invalid percent-encoding")?;
        let val = percent_decode(val.trim()).ok_or("invalid percent-encoding")?;
        if key.is_empty() {
            return Err(format!("member {:?} has an empty key", member.trim()));
        }
        out.push((key, val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `url` with the password of its userinfo masked (`http://user:***@host/`),
/// for every place an endpoint is shown: logs, errors, `Debug`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// Validates an endpoint URL: `http` or `https` with a host. TLS is not built
/// in: an `https` endpoint is refused rather than failing at every export.
fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err("https needs TLS, which this build does not include: send to a local collector over http".into())
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
        let mut resource_attributes = env.pairs("OTEL_RESOURCE_ATTRIBUTES");
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

        // Endpoint: the per-signal URL is used as is; the generic one is a base
        // URL to which HTTP appends `v1/traces`.
        let mut endpoint_set = over.otlp_endpoint.is_some();
        let endpoint = match &over.otlp_endpoint {
            Some(url) => Some(url.clone()),
            None => {
                let mut found = None;
                for (name, per_signal) in [
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", true),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", false),
                ] {
                    let Some(value) = env.var(name) else { continue };
                    endpoint_set = true;
                    let value = value.trim().to_string();
                    if let Err(reason) = check_endpoint(&value) {
                        env.issue(
                            name,
                            &value,
                            format!("{reason}; using the default endpoint"),
                        );
                        continue;
                    }
                    found = Some(match (per_signal, protocol) {
                        (false, OtlpProtocol::HttpProtobuf) => {
                            format!("{}/v1/traces", value.trim_end_matches('/'))
                        }
                        _ => value,
                    });
                    break;
                }
                found
            }
        };
        let endpoint = endpoint.unwrap_or_else(|| match protocol {
            OtlpProtocol::Grpc => "http://localhost:4317".to_string(),
            OtlpProtocol::HttpProtobuf => "http://localhost:4318/v1/traces".to_string(),
        });
        // Logs: their own variable, else the traces endpoint with the logs path.
        let logs_endpoint = over.otlp_logs_endpoint.clone().or_else(|| {
            let value = env
                .var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")?
                .trim()
                .to_string();
            match check_endpoint(&value) {
                Ok(()) => Some(value),
                Err(reason) => {
                    env.issue(
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                        &value,
                        format!("{reason}; using the traces endpoint's"),
                    );
                    None
                }
            }
        });
        let logs_endpoint = logs_endpoint.unwrap_or_else(|| match protocol {
            OtlpProtocol::Grpc => endpoint.clone(),
            OtlpProtocol::HttpProtobuf => match endpoint.strip_suffix("/v1/traces") {
                Some(base) => format!("{base}/v1/logs"),
                None => endpoint.clone(),
            },
        });

        let mut headers = env.pairs("OTEL_EXPORTER_OTLP_HEADERS");
        for (k, v) in env.pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
            headers.retain(|(key, _)| *key != k);
            headers.push((k, v));
        }
        for (k, v) in &over.otlp_headers {
            headers.retain(|(key, _)| key != k);
            headers.push((k.clone(), v.clone()));
        }
        let before = headers.len();
        headers.retain(|(k, v)| {
            http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && http::HeaderValue::from_str(v).is_ok()
        });
        if headers.len() != before {
            let value = env.var("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default();
            env.issue(
                "OTEL_EXPORTER_OTLP_HEADERS",
                &value,
                "a header name or value is not valid in HTTP; that header is not sent",
            );
        }
        let timeout = over
            .otlp_timeout
            .or_else(|| env.millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"))
            .or_else(|| env.millis("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(Duration::from_secs(10));

        // Exporter: the embedded default (a local file) only when nothing asks for OTLP.
        let mut spans_dir_is_default = false;
        let traces_exporter = match &over.traces_exporter {
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

        let logs_otlp = match env.var("OTEL_LOGS_EXPORTER") {
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
        let sampler = over
            .sampler
            .clone()
            .unwrap_or_else(|| sampler_from_env(&mut env));
        let propagators = over
            .propagators
            .clone()
            .unwrap_or_else(|| propagators_from_env(&mut env));

        let defaults = BatchConfig::default();
        let mut batch = BatchConfig {
            max_queue_size: over
                .max_queue_size
                .or_else(|| env.count("OTEL_BSP_MAX_QUEUE_SIZE"))
                .unwrap_or(defaults.max_queue_size),
            scheduled_delay: over
                .scheduled_delay
                .or_else(|| env.millis("OTEL_BSP_SCHEDULE_DELAY"))
                .unwrap_or(defaults.scheduled_delay),
            max_export_batch_size: env
                .count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .unwrap_or(defaults.max_export_batch_size),
            export_timeout: env
                .millis("OTEL_BSP_EXPORT_TIMEOUT")
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
        // The specification: the batch size must not exceed the queue size.
        batch.max_export_batch_size = batch.max_export_batch_size.min(batch.max_queue_size);

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

fn sampler_from_env(env: &mut Env<'_>) -> SamplerConfig {
    let Some(value) = env.var("OTEL_TRACES_SAMPLER") else {
        return SamplerConfig::ParentBasedAlwaysOn;
    };
    match value.trim() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio_arg(env)),
        "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
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
    let default = vec![PropagatorName::TraceContext, PropagatorName::Baggage];
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
                format!("unknown propagator {name:?} (tracecontext, baggage, b3, b3multi, jaeger, xray, datadog, none); it is skipped"),
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
            parse_pairs("a=1, b = x%20y ,,c=%3D").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "=".into())
            ]
        );
        assert!(parse_pairs("a").is_err());
        assert!(parse_pairs("=1").is_err());
        assert!(parse_pairs("a=%zz").is_err());
        assert!(parse_pairs("a=%e9").is_err(), "not UTF-8");
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
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ]);
        assert_eq!(
            c.batch,
            BatchConfig {
                max_queue_size: 100,
                scheduled_delay: Duration::from_millis(250),
                max_export_batch_size: 100,
                export_timeout: Duration::from_millis(1000),
                ..BatchConfig::default()
            },
            "the batch size is capped by the queue size"
        );
        assert!(c.issues.is_empty());

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
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"),
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
            ("DISTRIBUTED_TRACING_LOG_FORMAT", "xml"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "0"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "16MiB"),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "-4096"),
            ("RUST_LOG", "info,[=bad"),
        ];
        for (name, value) in cases {
            let c = resolve(&[(name, value)]);
            assert_eq!(c.issues.len(), 1, "{name}={value}: {:?}", c.issues);
            let issue = &c.issues[0];
            assert_eq!(issue.variable, *name);
            let text = Error::from(issue.clone()).to_string();
            assert!(
                text.contains(name) && text.contains(&value[..value.len().min(8)]),
                "{text}"
            );
            // The default is used instead.
            assert_eq!(c.spans_file_max_bytes, DEFAULT_MAX_BYTES, "{name}");
            assert_eq!(c.sampler, defaults.sampler, "{name}");
            assert_eq!(c.otlp.protocol, defaults.otlp.protocol, "{name}");
            assert_eq!(c.batch, defaults.batch, "{name}");
        }
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
