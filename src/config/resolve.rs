//! [`EffectiveConfig::resolve`]: one resolver per concern, called in turn.
//!
//! The order of the calls is the order of the reported issues (and the first
//! one is the error of a strict start-up): it is kept as it was.

use super::env::{
    process_env, Env, Get, DD_ENV, DD_SERVICE, DD_VERSION, DISTRIBUTED_TRACING_LOG_FORMAT,
    DISTRIBUTED_TRACING_MAX_EXPORT_BYTES, DISTRIBUTED_TRACING_MAX_QUEUE_BYTES,
    DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES, DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES_DEFAULT,
    OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME,
    RUST_LOG, RUST_LOG_DEFAULT,
};
use super::env::{
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_INTERVAL_DEFAULT, OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_METRIC_EXPORT_TIMEOUT_DEFAULT,
};
use super::limits::span_limits;
use super::propagators::propagators_from_env;
use super::{
    exporters, sampler, BatchConfig, DatadogConfig, EffectiveConfig, LogFormatName, MetricsConfig,
    MetricsExporter, Overrides,
};
use crate::logging::DatadogTags;
use crate::metrics::Temporality;

impl EffectiveConfig {
    /// Resolves the configuration from `get` (an environment) and `over`.
    pub(crate) fn resolve(get: Get<'_>, over: &Overrides) -> Self {
        let mut env = Env::new(get);
        let sdk_disabled = env.bool(OTEL_SDK_DISABLED);
        let (service_name, resource_attributes) = resource(&mut env, over);
        let export = exporters::resolve(&mut env, over, &service_name);
        let metrics = metrics(
            &mut env,
            over,
            export.metrics_exporter.clone(),
            export.otlp.timeout,
            sdk_disabled,
        );
        let sampler = sampler::resolve(&mut env, over);
        let propagators = over
            .propagators
            .clone()
            .unwrap_or_else(|| propagators_from_env(&mut env));
        let batch = batch(&mut env, over);
        let span_limits = span_limits(&mut env, &over.limits);
        let log_filter = log_filter(&mut env);
        let log_format = log_format(&mut env);
        let datadog = datadog(&mut env, &service_name, &resource_attributes);
        let log_format = log_format.map(|name| name.format(&datadog));
        let spans_file_max_bytes = over
            .spans_file_max_bytes
            .or_else(|| env.bytes(DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES))
            .unwrap_or(DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES_DEFAULT);
        Self {
            sdk_disabled,
            service_name,
            resource_attributes,
            traces_exporter: export.traces_exporter,
            also_console: export.also_console,
            logs_otlp: export.logs_otlp,
            otlp: export.otlp,
            metrics,
            sampler,
            propagators,
            batch,
            span_limits,
            log_filter,
            log_format,
            datadog,
            spans_file_max_bytes,
            spans_dir_is_default: export.spans_dir_is_default,
            issues: env.into_issues(),
        }
    }
}

/// `service.name` and the other resource attributes:
/// `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, then the builder.
fn resource(env: &mut Env<'_>, over: &Overrides) -> (String, Vec<(String, String)>) {
    let mut resource_attributes = env.pairs(OTEL_RESOURCE_ATTRIBUTES, false);
    let from_attributes = resource_attributes
        .iter()
        .position(|(k, _)| k == "service.name")
        .map(|i| resource_attributes.remove(i).1);
    let service_name = over
        .service_name
        .clone()
        .or_else(|| {
            env.var_or(
                OTEL_SERVICE_NAME,
                "ignored: service.name is OTEL_RESOURCE_ATTRIBUTES' one, else unknown_service:<executable>",
            )
        })
        .or(from_attributes)
        .unwrap_or_else(default_service_name);
    resource_attributes.extend(over.resource_attributes.iter().cloned());
    (service_name, resource_attributes)
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

/// Batch export settings (`OTEL_BSP_*` and this crate's byte bounds).
fn batch(env: &mut Env<'_>, over: &Overrides) -> BatchConfig {
    let defaults = BatchConfig::default();
    const SPINNING: &str =
        "0 would export without a pause, keeping a core busy while the service is idle";
    let max_queue_size = over
        .max_queue_size
        .or_else(|| env.count(OTEL_BSP_MAX_QUEUE_SIZE))
        .unwrap_or(defaults.max_queue_size);
    let max_export_batch_size = match env.count(OTEL_BSP_MAX_EXPORT_BATCH_SIZE) {
        // The specification: the batch size must not exceed the queue size.
        Some(n) if n > max_queue_size => {
            env.issue(
                OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
                &n.to_string(),
                format!("larger than the queue size ({max_queue_size}); capped to it"),
            );
            max_queue_size
        }
        Some(n) => n,
        None => defaults.max_export_batch_size.min(max_queue_size),
    };
    BatchConfig {
        max_queue_size,
        scheduled_delay: env
            .nonzero_override(
                "ObservabilityBuilder::scheduled_delay",
                over.scheduled_delay,
                SPINNING,
            )
            .or_else(|| env.nonzero_millis(OTEL_BSP_SCHEDULE_DELAY, SPINNING))
            .unwrap_or(defaults.scheduled_delay),
        max_export_batch_size,
        export_timeout: env
            .nonzero_millis(
                OTEL_BSP_EXPORT_TIMEOUT,
                "0 would make every export time out at once",
            )
            .unwrap_or(defaults.export_timeout),
        max_queue_bytes: over
            .max_queue_bytes
            .or_else(|| env.count(DISTRIBUTED_TRACING_MAX_QUEUE_BYTES))
            .unwrap_or(defaults.max_queue_bytes),
        max_export_bytes: over
            .max_export_bytes
            .or_else(|| env.count(DISTRIBUTED_TRACING_MAX_EXPORT_BYTES))
            .unwrap_or(defaults.max_export_bytes),
    }
}

/// The log filter of the process environment, as [`log_filter`] resolves
/// it, for `setup_trace_logging`: a bad value (one that is not UTF-8
/// included) is `info` there as here, and reported by
/// [`report_outside_init`] (on standard error: the subscriber it is for is
/// not installed yet).
fn log_filter_from_env() -> String {
    let mut env = Env::new(&process_env);
    let filter = log_filter(&mut env);
    report_outside_init(env);
    filter
}

/// `RUST_LOG` as [`log_filter_from_env`] resolves it, compiled: `info` when it
/// is unset, empty or invalid.
pub(crate) fn env_filter() -> tracing_subscriber::EnvFilter {
    crate::logging::parse_filter(&log_filter_from_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(RUST_LOG_DEFAULT))
}

/// Reports the issues of `env` for the functions that read the process
/// environment outside `init_observability` (which has its own report): to
/// the current `tracing` subscriber as `init` logs them, else, before any is
/// installed, on standard error (a [`ConfigIssue`](super::ConfigIssue)'s
/// `Display` is escaped and bounded).
fn report_outside_init(env: Env<'_>) {
    let no_subscriber =
        tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    for issue in env.into_issues() {
        match no_subscriber {
            true => eprintln!("distributed-tracing: ignored configuration {issue}"),
            false => issue.log(),
        }
    }
}

/// The log filter: `RUST_LOG` when `EnvFilter` accepts it, else `info`.
fn log_filter(env: &mut Env<'_>) -> String {
    match env.var_or(RUST_LOG, "using info") {
        Some(value) => match crate::logging::parse_filter(&value) {
            Ok(_) => value,
            Err(e) => {
                // `EnvFilter`'s message may quote the value: escaped and
                // cut with the reason (`Env::issue`).
                env.issue(RUST_LOG, &value, format!("{e}; using {RUST_LOG_DEFAULT}"));
                RUST_LOG_DEFAULT.to_string()
            }
        },
        None => RUST_LOG_DEFAULT.to_string(),
    }
}

/// `DISTRIBUTED_TRACING_LOG_FORMAT`.
fn log_format(env: &mut Env<'_>) -> Option<LogFormatName> {
    let value = env.var_or(DISTRIBUTED_TRACING_LOG_FORMAT, "using text");
    value.and_then(|value| match value.trim().to_ascii_lowercase().as_str() {
        "text" => Some(LogFormatName::Text),
        "json" => Some(LogFormatName::Json),
        "datadog" => Some(LogFormatName::Datadog),
        _ => {
            env.issue(
                DISTRIBUTED_TRACING_LOG_FORMAT,
                &value,
                "expected text, json or datadog; using text",
            );
            None
        }
    })
}

/// Datadog's unified service tags: `DD_SERVICE`, `DD_ENV` and `DD_VERSION`,
/// else the resource's `service.name`, `deployment.environment.name` (or
/// `deployment.environment`) and `service.version`.
fn datadog(
    env: &mut Env<'_>,
    service_name: &str,
    resource_attributes: &[(String, String)],
) -> DatadogConfig {
    let attribute = |keys: &[&str]| {
        resource_attributes
            .iter()
            .find(|(k, _)| keys.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    };
    let (service, dd_env, version) = datadog_vars(env);
    DatadogConfig {
        service: service.unwrap_or_else(|| service_name.to_string()),
        env: dd_env
            .or_else(|| attribute(&["deployment.environment.name", "deployment.environment"])),
        version: version.or_else(|| attribute(&["service.version"])),
    }
}

/// `DD_SERVICE`, `DD_ENV` and `DD_VERSION` as set (each `None` when unset
/// or empty, or not UTF-8: reported, and the fallback used): read here only.
fn datadog_vars(env: &mut Env<'_>) -> (Option<String>, Option<String>, Option<String>) {
    (
        env.var_or(DD_SERVICE, "ignored: dd.service is service.name"),
        env.var_or(
            DD_ENV,
            "ignored: dd.env is the resource's deployment.environment.name, if any",
        ),
        env.var_or(
            DD_VERSION,
            "ignored: dd.version is the resource's service.version, if any",
        ),
    )
}

// Defined here, beside the resolver it shares with `init_observability`: the
// logging module, which the configuration builds on, never reads the
// environment itself.
impl DatadogTags {
    /// From Datadog's `DD_SERVICE`, `DD_ENV` and `DD_VERSION`, as
    /// [`init_observability`](crate::init_observability) reads them, without the
    /// resource's fallbacks: an empty value is unset, and a value that is not
    /// UTF-8 is left out and reported (to the current subscriber, else on
    /// standard error).
    pub fn from_env() -> Self {
        let mut vars = Env::new(&process_env);
        let (service, env, version) = datadog_vars(&mut vars);
        report_outside_init(vars);
        let mut tags = DatadogTags::default();
        if let Some(service) = service {
            tags = tags.service(service);
        }
        if let Some(env) = env {
            tags = tags.env(env);
        }
        if let Some(version) = version {
            tags = tags.version(version);
        }
        tags
    }
}

/// The request metrics' settings: the exporter (none with the SDK
/// disabled), the collection interval and deadline, the temporality.
fn metrics(
    env: &mut Env<'_>,
    over: &Overrides,
    exporter: MetricsExporter,
    otlp_timeout: std::time::Duration,
    sdk_disabled: bool,
) -> MetricsConfig {
    let request_timeout = env
        .nonzero_millis(
            OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
            "0 would make every export request time out at once",
        )
        .unwrap_or(otlp_timeout);
    let interval = env
        .nonzero_override(
            "ObservabilityBuilder::metrics_interval",
            over.metrics_interval,
            "0 would collect without pause",
        )
        .or_else(|| {
            env.nonzero_millis(OTEL_METRIC_EXPORT_INTERVAL, "0 would collect without pause")
        })
        .unwrap_or(OTEL_METRIC_EXPORT_INTERVAL_DEFAULT);
    let timeout = env
        .nonzero_millis(
            OTEL_METRIC_EXPORT_TIMEOUT,
            "0 would make every export time out at once",
        )
        .unwrap_or(OTEL_METRIC_EXPORT_TIMEOUT_DEFAULT);
    let temporality = match env.var_or(
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        "using cumulative",
    ) {
        None => Temporality::Cumulative,
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Temporality::Cumulative,
            // Histograms are delta under both (the specification's table).
            "delta" | "lowmemory" => Temporality::Delta,
            _ => {
                env.issue(
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                    &value,
                    "expected cumulative, delta or lowmemory; using cumulative",
                );
                Temporality::Cumulative
            }
        },
    };
    MetricsConfig {
        exporter: match sdk_disabled {
            true => MetricsExporter::None,
            false => exporter,
        },
        interval,
        timeout,
        request_timeout,
        temporality,
        cardinality_limit: over
            .cardinality_limit
            .unwrap_or(crate::metrics::DEFAULT_CARDINALITY_LIMIT)
            .max(2),
    }
}
