//! Any OpenTelemetry SDK `SpanExporter` behind the export queue: one given to
//! [`ObservabilityBuilder::span_exporter`](crate::ObservabilityBuilder::span_exporter).
//!
//! The queue's guarantees hold (bounded in spans and bytes, never blocking
//! `on_end`, losses counted and reported once, the shutdown deadline), and
//! every call has the export timeout as its deadline. What the crate's own OTLP
//! transport adds is not there: requests are not cut to a size, a request
//! refused as too large is not split, and a failure is not retried (the
//! crate cannot tell what another exporter's error means, nor whether that
//! exporter retries by itself).

use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::size::span_bytes;
use super::{Export, Failure, Sent};

/// An SDK `SpanExporter`, driven by the export thread. Failures are not
/// retried.
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

    async fn send(&mut self, batch: &[SpanData], timeout: Duration) -> Result<Sent, Failure> {
        let no_answer = || format!("no answer within {} ms", timeout.as_millis());
        match tokio::time::timeout(timeout, self.exporter.export(batch.to_vec())).await {
            Ok(Ok(())) => Ok(Sent::default()),
            Ok(Err(OTelSdkError::Timeout(_))) | Err(_) => Err(Failure::Exporter(no_answer())),
            Ok(Err(e)) => Err(Failure::Exporter(e.to_string())),
        }
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
