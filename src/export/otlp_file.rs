//! The local exporters: the spans file and standard output (`console`), both
//! in the OTLP file format ([`crate::otlp_file`]).
//!
//! Spans are encoded on the export thread, each once, straight from
//! `SpanData`; a batch is written as lines of at most [`MAX_LINE_BYTES`] (the
//! export worker cuts it, as it cuts OTLP requests), each line one
//! `TracesData` with the resource and the scopes of its spans.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::scopes::{same_scope, Scopes};
use super::spans_file::SpansFile;
use super::{Export, Failure, Sent};
use crate::error::{Error, Result};
use crate::otlp_file::write;

/// The most one line holds (with its resource and scopes): what an OTLP
/// request holds by default, well under what [`crate::otlp_file::Reader`]
/// reads by default. A span larger than this alone is dropped and counted, as
/// over OTLP.
pub(crate) const MAX_LINE_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// Where the lines go.
enum Out {
    Stdout,
    File(SpansFile),
    #[cfg(test)]
    Memory(std::sync::Arc<std::sync::Mutex<Vec<u8>>>),
}

/// What the local exporters write: finished spans, or the request metrics'
/// histograms.
pub(crate) trait FileItem: Send + 'static {
    /// The item's name in reports.
    const KIND: &'static str;
    /// The keys of the line (`TracesData`, `MetricsData`).
    const KEYS: write::Keys;
    /// What tells the item's scope from another's.
    type ScopeKey: Send + 'static;
    /// Whether the item's scope is `key`.
    fn has_scope(&self, key: &Self::ScopeKey) -> bool;
    /// Its scope: the key, the encoded object, the schema URL.
    fn scope(&self) -> (Self::ScopeKey, Vec<u8>, String);
    /// The item's object.
    fn write(&self, out: &mut Vec<u8>);
}

impl FileItem for SpanData {
    const KIND: &'static str = "span";
    const KEYS: write::Keys = write::TRACES;
    type ScopeKey = opentelemetry::InstrumentationScope;

    fn has_scope(&self, key: &Self::ScopeKey) -> bool {
        same_scope(key, &self.instrumentation_scope)
    }

    fn scope(&self) -> (Self::ScopeKey, Vec<u8>, String) {
        let scope = &self.instrumentation_scope;
        let mut object = Vec::new();
        write::scope(&mut object, scope);
        let schema_url = scope.schema_url().unwrap_or_default().to_owned();
        (scope.clone(), object, schema_url)
    }

    fn write(&self, out: &mut Vec<u8>) {
        write::span(out, self);
    }
}

impl FileItem for crate::metrics::Histogram {
    const KIND: &'static str = "metric";
    const KEYS: write::Keys = write::METRICS;
    /// One scope: the crate's.
    type ScopeKey = ();

    fn has_scope(&self, _: &()) -> bool {
        true
    }

    fn scope(&self) -> ((), Vec<u8>, String) {
        let mut object = Vec::new();
        write::scope(&mut object, &crate::metrics::scope());
        ((), object, String::new())
    }

    fn write(&self, out: &mut Vec<u8>) {
        write::metric(out, self);
    }
}

/// Finished spans (or metrics) as OTLP file lines: the embedded default sink
/// (a file, see [`SpansFile`]) and the `console` exporter (standard output).
pub(crate) struct OtlpFileExporter<T: FileItem = SpanData> {
    out: Out,
    destination: String,
    /// The resource object, encoded once, and its schema URL.
    resource: Vec<u8>,
    resource_schema_url: String,
    /// Each scope seen: its object and schema URL, encoded once.
    scopes: Scopes<(Vec<u8>, String), T::ScopeKey>,
    /// The line being written, reused.
    line: Vec<u8>,
    _item: std::marker::PhantomData<fn(T)>,
}

impl<T: FileItem> std::fmt::Debug for OtlpFileExporter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpFileExporter")
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

/// One encoded span: its scope (an index into the exporter's scopes) and its
/// `Span` object.
#[derive(Debug)]
pub(crate) struct EncodedSpan {
    scope: u32,
    json: Vec<u8>,
}

impl<T: FileItem> OtlpFileExporter<T> {
    /// Appends to `path`, creating it (and its folder), rotated at `max_bytes`;
    /// `private_dir`: the folder is the crate's default one (see [`SpansFile`]).
    pub(crate) fn file(path: &Path, private_dir: bool, max_bytes: u64) -> Result<Self> {
        let file = SpansFile::open(path, private_dir, max_bytes).map_err(|source| Error::Io {
            what: format!("opening the {}s file {}", T::KIND, path.display()),
            source,
        })?;
        Ok(Self::new(
            Out::File(file),
            format!("the {}s file {}", T::KIND, path.display()),
        ))
    }

    /// Writes to standard output.
    pub(crate) fn stdout() -> Self {
        Self::new(Out::Stdout, "standard output".into())
    }

    fn new(out: Out, destination: String) -> Self {
        let mut exporter = Self {
            out,
            destination,
            resource: Vec::new(),
            resource_schema_url: String::new(),
            scopes: Scopes::default(),
            line: Vec::new(),
            _item: std::marker::PhantomData,
        };
        exporter.set_resource(&Resource::builder_empty().build());
        exporter
    }

    /// The line of `batch` in `self.line`: one `ResourceSpans`, one
    /// `ScopeSpans` per scope in the order first seen.
    fn write_line(&mut self, batch: &[EncodedSpan]) {
        let mut order: Vec<u32> = Vec::new();
        for item in batch {
            if !order.contains(&item.scope) {
                order.push(item.scope);
            }
        }
        self.line.clear();
        let scopes = &self.scopes;
        write::line(
            &mut self.line,
            T::KEYS,
            write::Line {
                resource: &self.resource,
                resource_schema_url: &self.resource_schema_url,
                scopes: order.iter().map(|&scope| {
                    let (object, schema_url) = scopes.get(scope);
                    (
                        object.as_slice(),
                        schema_url.as_str(),
                        batch
                            .iter()
                            .filter(move |i| i.scope == scope)
                            .map(|i| i.json.as_slice()),
                    )
                }),
            },
        );
    }
}

impl<T: FileItem> Export for OtlpFileExporter<T> {
    type Item = T;
    type Encoded = EncodedSpan;
    const KIND: &'static str = T::KIND;

    fn encode(&mut self, item: T) -> EncodedSpan {
        let scope = self.scopes.index_of(
            |last| item.has_scope(last),
            || {
                let (key, object, schema_url) = item.scope();
                (key, (object, schema_url))
            },
        );
        let mut json = Vec::with_capacity(512);
        item.write(&mut json);
        EncodedSpan { scope, json }
    }

    fn encoded_len(item: &EncodedSpan) -> usize {
        // The span and its comma.
        item.json.len() + 1
    }

    fn max_request_bytes(&self) -> Option<usize> {
        // The resource and the scopes of a line come on top of its spans.
        Some(MAX_LINE_BYTES.saturating_sub(self.resource.len()))
    }

    async fn send(&mut self, batch: &[EncodedSpan], _timeout: Duration) -> Result<Sent, Failure> {
        self.write_line(batch);
        let written = match &mut self.out {
            Out::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&self.line).and_then(|()| out.flush())
            }
            Out::File(file) => file.write_line(&self.line).and_then(|()| file.flush()),
            #[cfg(test)]
            Out::Memory(out) => {
                out.lock().unwrap().extend_from_slice(&self.line);
                Ok(())
            }
        };
        written
            .map(|()| Sent::default())
            .map_err(|e| Failure::Exporter(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource.clear();
        write::resource(&mut self.resource, resource);
        self.resource_schema_url = resource.schema_url().unwrap_or_default().to_owned();
    }

    fn destination(&self) -> &str {
        &self.destination
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use opentelemetry_sdk::Resource;

    use super::{OtlpFileExporter, Out};
    use crate::export::Export as _;
    use crate::otlp_file::Reader;

    /// A batch of spans of two scopes (interleaved) is one line: the resource
    /// once, each scope once with its spans, as the reader reads it back.
    #[tokio::test]
    async fn a_batch_is_one_line_with_its_resource_and_scopes() {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(memory.clone())
            .build();
        let a = provider
            .tracer_with_scope(InstrumentationScope::builder("a").with_version("1").build());
        let b = provider.tracer_with_scope(
            InstrumentationScope::builder("b")
                .with_attributes([KeyValue::new("x", 1)])
                .build(),
        );
        for (i, tracer) in [&a, &b, &a].into_iter().enumerate() {
            let mut span = tracer.start(format!("span {i}"));
            span.set_attribute(KeyValue::new("i", i as i64));
            span.end();
        }
        let spans = memory.get_finished_spans().unwrap();

        let out = Arc::new(Mutex::new(Vec::new()));
        let mut exporter = OtlpFileExporter::new(Out::Memory(out.clone()), "memory".into());
        exporter.set_resource(&Resource::builder_empty().with_service_name("shop").build());
        let encoded: Vec<_> = spans.into_iter().map(|s| exporter.encode(s)).collect();
        assert_eq!(exporter.scopes.len(), 2, "each scope encoded once");
        exporter
            .send(&encoded, std::time::Duration::from_secs(1))
            .await
            .unwrap();

        let bytes = out.lock().unwrap().clone();
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let batch = Reader::new(bytes.as_slice()).next().unwrap().unwrap();
        assert_eq!(
            batch.resource.get(&"service.name".into()),
            Some("shop".into())
        );
        let names: Vec<(&str, &str)> = batch
            .spans
            .iter()
            .map(|s| (s.instrumentation_scope.name(), s.name.as_ref()))
            .collect();
        // Grouped by scope, in the order each was first seen.
        assert_eq!(names, [("a", "span 0"), ("a", "span 2"), ("b", "span 1")]);
        assert_eq!(batch.spans[0].instrumentation_scope.version(), Some("1"));
        assert_eq!(batch.spans[2].instrumentation_scope.attributes().count(), 1);
        assert_eq!(batch.spans[1].attributes, [KeyValue::new("i", 2)]);
    }
}
