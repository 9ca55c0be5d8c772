//! Start-up: [`init_observability`] configures the OpenTelemetry SDK, the
//! propagator and the `tracing` subscriber once, and returns a guard that flushes
//! and shuts down on drop.
//!
//! With nothing configured, spans go to a local file of JSON lines (one span a
//! line) so that a new user sees their traces without running a collector; the
//! path is [`ObservabilityGuard::spans_file`].

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{global, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::error::{Error, Result};
use crate::ids::{SpanIdHex, TraceIdHex};
use crate::logging::{env_filter, otel_layer, trace_context_fmt_layer, TraceContextFormat};
use crate::propagation::default_propagator;

/// How long the guard's drop waits for the last spans to be written.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Installs everything with the defaults; see [`ObservabilityBuilder`].
///
/// Hold the returned guard until the end of `main`.
pub fn init_observability() -> Result<ObservabilityGuard> {
    ObservabilityBuilder::default().init()
}

/// Configuration of [`init_observability`], overriding the defaults in code.
///
/// ```no_run
/// let _guard = distributed_tracing::ObservabilityBuilder::default()
///     .service_name("checkout")
///     .log_pattern("{timestamp} [{trace_id}] {level} {message}")
///     .init()?;
/// # Ok::<(), distributed_tracing::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct ObservabilityBuilder {
    service_name: Option<String>,
    log_pattern: Option<String>,
    spans_file: Option<PathBuf>,
}

impl ObservabilityBuilder {
    /// The `service.name` resource attribute (default: `OTEL_SERVICE_NAME`, then
    /// the SDK's `unknown_service`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The log line pattern (default [`DEFAULT_PATTERN`](crate::DEFAULT_PATTERN)).
    pub fn log_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.log_pattern = Some(pattern.into());
        self
    }

    /// Where finished spans are written, one JSON object a line (default:
    /// `<temp dir>/distributed-tracing/<service name>.spans.jsonl`).
    pub fn spans_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.spans_file = Some(path.into());
        self
    }

    /// Installs the global propagator, tracer provider and subscriber.
    pub fn init(self) -> Result<ObservabilityGuard> {
        let format = TraceContextFormat::new(
            self.log_pattern
                .as_deref()
                .unwrap_or(crate::logging::DEFAULT_PATTERN),
        )?;
        let mut resource = Resource::builder();
        if let Some(name) = &self.service_name {
            resource = resource.with_service_name(name.clone());
        }
        let resource = resource.build();
        let service = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|v| v.to_string())
            .unwrap_or_else(|| "unknown_service".to_string());
        let path = self.spans_file.unwrap_or_else(|| {
            std::env::temp_dir()
                .join("distributed-tracing")
                .join(format!("{}.spans.jsonl", sanitize(&service)))
        });
        let exporter = JsonLinesExporter::create(&path, &service)?;

        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        global::set_text_map_propagator(default_propagator());
        global::set_tracer_provider(provider.clone());
        tracing_subscriber::registry()
            .with(env_filter())
            .with(otel_layer())
            .with(trace_context_fmt_layer(format))
            .try_init()?;
        Ok(ObservabilityGuard {
            provider,
            spans_file: path,
        })
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Returned by [`init_observability`]: dropping it flushes the spans still
/// queued and shuts the SDK down, waiting at most 5 seconds.
#[must_use = "dropping the guard shuts the telemetry pipeline down"]
#[derive(Debug)]
pub struct ObservabilityGuard {
    provider: SdkTracerProvider,
    spans_file: PathBuf,
}

impl ObservabilityGuard {
    /// The file the local span sink writes to.
    pub fn spans_file(&self) -> &Path {
        &self.spans_file
    }

    /// Exports every finished span now.
    pub fn flush(&self) -> Result<()> {
        Ok(self.provider.force_flush()?)
    }
}

impl Drop for ObservabilityGuard {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown_with_timeout(SHUTDOWN_DEADLINE) {
            eprintln!("distributed-tracing: shutting down the tracer provider: {err}");
        }
    }
}

/// The local span sink: one JSON object per finished span, appended to a file.
#[derive(Debug)]
struct JsonLinesExporter {
    out: Arc<Mutex<BufWriter<File>>>,
    service: String,
}

impl JsonLinesExporter {
    fn create(path: &Path, service: &str) -> Result<Self> {
        let io = |source| Error::Io {
            what: format!("opening the spans file {}", path.display()),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Self {
            out: Arc::new(Mutex::new(BufWriter::new(file))),
            service: service.to_string(),
        })
    }

    fn line(&self, span: &SpanData) -> serde_json::Value {
        let nanos = |t: std::time::SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        };
        let parent = span.parent_span_id;
        let attributes: serde_json::Map<String, serde_json::Value> = span
            .attributes
            .iter()
            .map(|KeyValue { key, value, .. }| (key.to_string(), json!(value.to_string())))
            .collect();
        json!({
            "service": self.service,
            "name": span.name,
            "trace_id": TraceIdHex::new(span.span_context.trace_id()).as_str(),
            "span_id": SpanIdHex::new(span.span_context.span_id()).as_str(),
            "parent_span_id": (parent != opentelemetry::trace::SpanId::INVALID).then(|| SpanIdHex::new(parent).to_string()),
            "trace_flags": format!("{:02x}", span.span_context.trace_flags().to_u8()),
            "kind": match span.span_kind {
                SpanKind::Client => "client",
                SpanKind::Server => "server",
                SpanKind::Producer => "producer",
                SpanKind::Consumer => "consumer",
                SpanKind::Internal => "internal",
            },
            "start_unix_nano": nanos(span.start_time),
            "end_unix_nano": nanos(span.end_time),
            "status": match &span.status {
                Status::Unset => "unset".to_string(),
                Status::Ok => "ok".to_string(),
                Status::Error { description } => format!("error: {description}"),
            },
            "attributes": attributes,
            "links": span.links.iter().map(|l| json!({
                "trace_id": TraceIdHex::new(l.span_context.trace_id()).as_str(),
                "span_id": SpanIdHex::new(l.span_context.span_id()).as_str(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl SpanExporter for JsonLinesExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let lines: Vec<String> = batch.iter().map(|s| self.line(s).to_string()).collect();
        let mut out = self
            .out
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("spans file lock poisoned".into()))?;
        for line in lines {
            writeln!(out, "{line}").map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        }
        out.flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }
}
