//! The OTLP file format: what the spans file and the `console` exporter write,
//! and how to read it back.
//!
//! The format is the OpenTelemetry specification's
//! [OTLP file exporter](https://opentelemetry.io/docs/specs/otel/protocol/file-exporter/):
//! JSON lines, one `TracesData` object a line, in the OTLP JSON encoding (hex
//! ids, 64-bit integers as decimal strings, typed `AnyValue`s, enums as
//! integers). A line is a valid `application/json` body for an OTLP/HTTP
//! receiver's `/v1/traces`, and the Collector's `otlpjsonfile` receiver reads
//! the file as it is. The metrics file ([`read_metrics`]) holds
//! `MetricsData` lines (`/v1/metrics`), one collection a line.

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

/// The spans of one resource on one line of a file (a line this crate wrote
/// has one resource; other writers may put several on a line, each is a
/// `Batch`). Every span keeps its instrumentation scope.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Batch {
    /// The line's number in the file (the first line is 1).
    pub line: u64,
    /// The resource the spans were exported with (`service.name`, ...).
    pub resource: Resource,
    /// The spans, in the order of the line.
    pub spans: Vec<SpanData>,
}

impl Batch {
    /// A batch of `spans` exported with `resource`, from line `line` of a
    /// file (for spans that come from elsewhere, any number: the page shows
    /// it in the details of a span).
    pub fn new(line: u64, resource: Resource, spans: Vec<SpanData>) -> Batch {
        Batch {
            line,
            resource,
            spans,
        }
    }
}

mod metrics;
mod read;
#[cfg(test)]
mod tests;
mod waterfall;
pub(crate) mod write;

pub use metrics::{read_metrics, MetricsBatch, MetricsReader};
pub use read::{read, FromLine, LineError, Reader, DEFAULT_MAX_LINE_BYTES};
pub use waterfall::{waterfall_html, Waterfall, WaterfallOptions};
