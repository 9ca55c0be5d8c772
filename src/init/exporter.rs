//! The exporters `init_observability` can install: OTLP (gRPC or HTTP) and the
//! local JSON-lines sink (a file, or standard output for `console`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::json;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use super::config::{redact_url, OtlpConfig, OtlpProtocol};
use crate::error::{Error, Result};
use crate::ids::{SpanIdHex, TraceIdHex};

/// Builds an OTLP exporter (`SpanExporter` or `LogExporter`: their builders
/// have the same shape) for `config`, sending to `endpoint`. Must run inside a
/// Tokio runtime (the export thread's), which tonic's channel needs.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
macro_rules! otlp_exporter {
    ($exporter:ty, $config:expr, $endpoint:expr) => {{
        use opentelemetry_otlp::WithExportConfig as _;
        let config: &OtlpConfig = $config;
        let endpoint: String = $endpoint;
        // The builder's errors may quote the endpoint: never with its password.
        let build_error = |e: opentelemetry_otlp::ExporterBuildError| {
            Error::Exporter(e.to_string().replace(&endpoint, &redact_url(&endpoint)))
        };
        match config.protocol {
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig as _;
                let mut headers = http::HeaderMap::new();
                for (k, v) in &config.headers {
                    if let (Ok(name), Ok(value)) = (
                        http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
                        http::HeaderValue::from_str(v),
                    ) {
                        headers.insert(name, value);
                    }
                }
                let metadata =
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers);
                <$exporter>::builder()
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_metadata(metadata)
                    .build()
                    .map_err(build_error)
            }
            #[cfg(feature = "otlp-http")]
            OtlpProtocol::HttpProtobuf => {
                use opentelemetry_otlp::WithHttpConfig as _;
                <$exporter>::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_headers(config.headers.iter().cloned().collect())
                    .build()
                    .map_err(build_error)
            }
            #[allow(unreachable_patterns)]
            other => Err(Error::Exporter(format!(
                "OTLP over {} is not in this build: enable the crate feature {}",
                other.as_str(),
                match other {
                    OtlpProtocol::Grpc => "otlp-grpc",
                    OtlpProtocol::HttpProtobuf => "otlp-http",
                }
            ))),
        }
    }};
}

/// The OTLP span exporter for `config`.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn otlp(config: &OtlpConfig) -> Result<opentelemetry_otlp::SpanExporter> {
    otlp_exporter!(
        opentelemetry_otlp::SpanExporter,
        config,
        config.endpoint.clone()
    )
}

/// The OTLP log exporter for `config`.
#[cfg(all(feature = "logs", any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) fn otlp_logs(config: &OtlpConfig) -> Result<opentelemetry_otlp::LogExporter> {
    otlp_exporter!(
        opentelemetry_otlp::LogExporter,
        config,
        config.logs_endpoint.clone()
    )
}

/// Finished spans as JSON lines, one span a line: the embedded default sink
/// (a file) and the `console` exporter (standard output).
pub(crate) struct JsonLinesExporter {
    out: Arc<Mutex<Box<dyn std::io::Write + Send>>>,
    service: String,
}

impl std::fmt::Debug for JsonLinesExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesExporter")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl JsonLinesExporter {
    /// Appends to `path`, creating it (and its folder).
    pub(crate) fn file(path: &Path, service: &str) -> Result<Self> {
        let io = |source| Error::Io {
            what: format!("opening the spans file {}", path.display()),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Self::new(Box::new(BufWriter::new(file)), service))
    }

    /// Writes to standard output.
    pub(crate) fn stdout(service: &str) -> Self {
        Self::new(Box::new(std::io::stdout()), service)
    }

    fn new(out: Box<dyn std::io::Write + Send>, service: &str) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
            service: service.to_string(),
        }
    }

    pub(crate) fn line(&self, span: &SpanData) -> serde_json::Value {
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
            "parent_span_id": (parent != SpanId::INVALID).then(|| SpanIdHex::new(parent).to_string()),
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
            .map_err(|_| OTelSdkError::InternalFailure("spans sink lock poisoned".into()))?;
        for line in lines {
            writeln!(out, "{line}").map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        }
        out.flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
    }
}
