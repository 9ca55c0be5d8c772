//! The exporters `init_observability` can install: OTLP (gRPC or HTTP) and the
//! local JSON-lines sink (a file, or standard output for `console`).

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::json;

use super::spans_file::SpansFile;
use crate::error::{Error, Result};
use crate::ids::{SpanIdHex, TraceFlagsHex, TraceIdHex};

/// Finished spans as JSON lines, one span a line: the embedded default sink
/// (a file, see [`SpansFile`]) and the `console` exporter (standard output).
pub(crate) struct JsonLinesExporter {
    out: Mutex<Out>,
    service: String,
}

/// Where the lines go.
enum Out {
    Stdout(std::io::Stdout),
    File(SpansFile),
}

impl Out {
    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        match self {
            Out::Stdout(out) => writeln!(out, "{line}"),
            Out::File(file) => file.write_line(line),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Stdout(out) => out.flush(),
            Out::File(file) => file.flush(),
        }
    }
}

impl std::fmt::Debug for JsonLinesExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesExporter")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl JsonLinesExporter {
    /// Appends to `path`, creating it (and its folder), rotated at `max_bytes`;
    /// `private_dir`: the folder is the crate's default one (see [`SpansFile`]).
    pub(crate) fn file(
        path: &Path,
        private_dir: bool,
        max_bytes: u64,
        service: &str,
    ) -> Result<Self> {
        let file = SpansFile::open(path, private_dir, max_bytes).map_err(|source| Error::Io {
            what: format!("opening the spans file {}", path.display()),
            source,
        })?;
        Ok(Self::new(Out::File(file), service))
    }

    /// Writes to standard output.
    pub(crate) fn stdout(service: &str) -> Self {
        Self::new(Out::Stdout(std::io::stdout()), service)
    }

    fn new(out: Out, service: &str) -> Self {
        Self {
            out: Mutex::new(out),
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
            "trace_flags": TraceFlagsHex::new(span.span_context.trace_flags()).as_str(),
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
            out.write_line(&line)
                .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
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
