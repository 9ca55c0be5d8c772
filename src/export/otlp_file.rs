//! The local exporters: the spans file and standard output (`console`), both
//! in the OTLP file format ([`crate::otlp_file`]).
//!
//! Spans are encoded on the export thread, each once, straight from
//! `SpanData`; a batch is written as lines of at most [`MAX_LINE_BYTES`] (the
//! export worker cuts it, as it cuts OTLP requests), each line one
//! `TracesData` with the resource and the scopes of its spans.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

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
}

/// Finished spans as OTLP file lines: the embedded default sink (a file, see
/// [`SpansFile`]) and the `console` exporter (standard output).
pub(crate) struct OtlpFileExporter {
    out: Out,
    destination: String,
    /// The resource object, encoded once, and its schema URL.
    resource: Vec<u8>,
    resource_schema_url: String,
    /// Each scope seen: its object and schema URL, encoded once.
    scopes: Vec<(Vec<u8>, String)>,
    scope_index: HashMap<(Vec<u8>, String), u32>,
    /// The line being written, reused.
    line: Vec<u8>,
}

impl std::fmt::Debug for OtlpFileExporter {
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

impl OtlpFileExporter {
    /// Appends to `path`, creating it (and its folder), rotated at `max_bytes`;
    /// `private_dir`: the folder is the crate's default one (see [`SpansFile`]).
    pub(crate) fn file(path: &Path, private_dir: bool, max_bytes: u64) -> Result<Self> {
        let file = SpansFile::open(path, private_dir, max_bytes).map_err(|source| Error::Io {
            what: format!("opening the spans file {}", path.display()),
            source,
        })?;
        Ok(Self::new(
            Out::File(file),
            format!("the spans file {}", path.display()),
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
            scopes: Vec::new(),
            scope_index: HashMap::new(),
            line: Vec::new(),
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
            write::Line {
                resource: &self.resource,
                resource_schema_url: &self.resource_schema_url,
                scopes: order.iter().map(|&scope| {
                    let (object, schema_url) = &scopes[scope as usize];
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

impl Export for OtlpFileExporter {
    type Item = SpanData;
    type Encoded = EncodedSpan;
    const KIND: &'static str = "span";

    fn encode(&mut self, span: SpanData) -> EncodedSpan {
        let mut object = Vec::new();
        write::scope(&mut object, &span.instrumentation_scope);
        let key = (
            object,
            span.instrumentation_scope
                .schema_url()
                .unwrap_or_default()
                .to_owned(),
        );
        let next = self.scopes.len() as u32;
        let scope = match self.scope_index.get(&key) {
            Some(&index) => index,
            None => {
                self.scope_index.insert(key.clone(), next);
                self.scopes.push(key);
                next
            }
        };
        let mut json = Vec::with_capacity(512);
        write::span(&mut json, &span);
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
