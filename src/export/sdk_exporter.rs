//! Any OpenTelemetry SDK `SpanExporter` behind the export queue.

use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::size::span_bytes;
use super::{Export, Failure, Sent};

/// An SDK `SpanExporter` (the JSON-lines file or standard output), driven by
/// the export thread. Failures are not retried.
pub(crate) struct SdkExporter<E> {
    pub(crate) exporter: E,
    pub(crate) destination: String,
}

impl<E: SpanExporter + 'static> Export for SdkExporter<E> {
    type Item = SpanData;
    type Encoded = SpanData;
    const KIND: &'static str = "span";

    fn encode(&mut self, item: SpanData) -> SpanData {
        item
    }

    fn encoded_len(item: &SpanData) -> usize {
        span_bytes(item)
    }

    fn max_request_bytes(&self) -> Option<usize> {
        None
    }

    async fn send(&mut self, batch: &[SpanData], _timeout: Duration) -> Result<Sent, Failure> {
        self.exporter
            .export(batch.to_vec())
            .await
            .map(|()| Sent::default())
            .map_err(|e| Failure::Sink(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource)
    }

    fn destination(&self) -> &str {
        &self.destination
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        self.exporter.shutdown()
    }
}
