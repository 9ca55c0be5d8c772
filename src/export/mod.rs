//! What happens to a span after it ends: the export pipeline behind
//! [`init_observability`](crate::init_observability), and its guarantees.
//!
//! * `on_end` (on the request path) only puts the span in the queue; it never
//!   blocks. When the queue is full (`OTEL_BSP_MAX_QUEUE_SIZE` spans, or the
//!   byte budget), the oldest queued spans make room and are counted: a long
//!   outage loses its oldest surplus, never the memory bound ([`queue`]).
//! * The export thread owns a single-threaded Tokio runtime, so the gRPC and
//!   HTTP exporters work whatever runtime (or none) the service uses: flushing
//!   from a `current_thread` runtime cannot deadlock, and every wait has a
//!   deadline (the upstream hangs of opentelemetry-rust#2583 and #3589).
//! * Requests are sized: a batch is cut so that one request stays under the
//!   exporter's limit (4 MiB for OTLP); an item too large alone is dropped
//!   alone and counted; a request the collector rejects as too large is split
//!   ([`worker`], with the sizes of [`size`]).
//! * Transient failures (the OTLP specification's retryable codes, a collector
//!   that is restarting) are retried with exponential backoff and jitter, the
//!   server's throttling hint honoured, within the export timeout; the spans
//!   not yet sent stay queued meanwhile.
//! * Losses are reported when they start (at once, even while an export is
//!   hanging), when export resumes, and in total at shutdown, never per span
//!   ([`stats`]).
//! * Telemetry is suppressed on the export thread, so the exporter's own
//!   instrumentation (hyper, tonic) never produces spans that would be exported
//!   in turn.
//! * Every answer from a collector is untrusted input: the decisions on it are
//!   pure functions (`otlp::answers`), bounded in time and memory.
//! * String attribute values are cut to `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`
//!   when a span ends ([`truncate`]).
//!
//! The parts: [`queue`] (the span processor and its bounded queue), [`worker`]
//! (the export thread), what the worker drives ([`Export`]: `otlp` for a
//! collector, [`otlp_file`] for the OTLP file format on standard output or in
//! the [`spans_file`], [`SdkExporter`] for any SDK `SpanExporter`).
//! This module uses [`config`](crate::config) and never the reverse.

pub(crate) mod metrics;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
pub(crate) mod otlp_file;
pub(crate) mod queue;
pub(crate) mod scopes;
pub(crate) mod sdk_exporter;
pub(crate) mod size;
pub(crate) mod spans_file;
pub(crate) mod stats;
#[cfg(test)]
mod tests;
pub(crate) mod truncate;
pub(crate) mod worker;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

pub(crate) use queue::QueueProcessor;
pub(crate) use sdk_exporter::SdkExporter;
pub use stats::ExportStats;

/// `n` items of `kind` in words: `1 span`, `3 spans`, `1 log record`.
pub(crate) fn count(n: u64, kind: &str) -> String {
    match n {
        1 => format!("1 {kind}"),
        n => format!("{n} {kind}s"),
    }
}

/// What an in-episode report adds: the total comes at shutdown, unless this
/// is shutdown (then the total is the next line).
pub(crate) fn until_shutdown(stopping: bool) -> &'static str {
    match stopping {
        true => "",
        false => "; the total comes at shutdown",
    }
}

/// Why one export request failed.
#[derive(Debug, Clone)]
// Which variants are built depends on the transports in the build.
#[allow(dead_code)]
pub(crate) enum Failure {
    /// No connection could be made (refused, unreachable, DNS).
    Unreachable(String),
    /// No answer within the request's deadline.
    TimedOut(Duration),
    /// The connection broke during the request (the collector went away).
    Interrupted(String),
    /// The collector answered with an error status.
    Rejected {
        status: String,
        retryable: bool,
        retry_after: Option<Duration>,
    },
    /// The request is larger than the collector (or the exporter) accepts.
    TooLarge(String),
    /// The TLS handshake failed (an unknown CA, a name mismatch, a client
    /// certificate refused: not retried, another attempt would fail alike).
    Tls(String),
    /// Any other transport failure (not retried).
    Transport(String),
    /// An SDK `SpanExporter` failed: a local one (the spans file, standard
    /// output) or one given in code (not retried: the crate cannot tell what
    /// its error means).
    Exporter(String),
}

impl Failure {
    /// Whether the OTLP specification says to try again.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::TimedOut(_) | Self::Interrupted(_) => true,
            Self::Rejected { retryable, .. } => *retryable,
            Self::TooLarge(_) | Self::Tls(_) | Self::Transport(_) | Self::Exporter(_) => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    /// The words of a report: every text a failure carries may come from the
    /// collector or its certificate, so it is shortened and escaped here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |e: &str| crate::untrusted::shorten_untrusted(e, 400).into_owned();
        match self {
            Self::Unreachable(e) => write!(f, "cannot connect ({})", shown(e)),
            Self::TimedOut(t) => write!(f, "no answer within {} ms", t.as_millis()),
            Self::Interrupted(e) => write!(f, "connection lost ({})", shown(e)),
            Self::Rejected { status, .. } => write!(f, "rejected with {}", shown(status)),
            Self::TooLarge(e) => write!(f, "request too large ({})", shown(e)),
            Self::Tls(e) => write!(f, "TLS handshake failed: {}", shown(e)),
            Self::Transport(e) | Self::Exporter(e) => f.write_str(&shown(e)),
        }
    }
}

/// What an accepted request's answer says (OTLP partial success).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Items the collector refused, at most the request's.
    pub(crate) rejected: u64,
    /// The collector's message (shortened, escaped), or ours when its count
    /// could not be taken as it was.
    pub(crate) message: String,
    /// Why the answer could not be read whole (the request was accepted all
    /// the same: the collector answered with a success status).
    pub(crate) unread: Option<String>,
}

/// What the export thread drives: the OTLP exporter, or a local sink.
pub(crate) trait Export: Send + 'static {
    /// One queued item.
    type Item: Send + 'static;
    /// An item ready to send.
    type Encoded: Send + 'static;
    /// The item's name in reports ("span", "log record").
    const KIND: &'static str;
    /// Prepares an item for sending (on the export thread).
    fn encode(&mut self, item: Self::Item) -> Self::Encoded;
    /// The bytes an encoded item adds to a request.
    fn encoded_len(item: &Self::Encoded) -> usize;
    /// The most one request may carry (`None`: no limit).
    fn max_request_bytes(&self) -> Option<usize>;
    /// Sends one request.
    fn send(
        &mut self,
        batch: &[Self::Encoded],
        timeout: Duration,
    ) -> impl Future<Output = Result<Sent, Failure>> + Send;
    fn set_resource(&mut self, resource: &Resource);
    /// Takes back the items of a request that is done with (sent, or given
    /// up), to reuse their memory.
    fn recycle(&mut self, _items: Vec<Self::Encoded>) {}
    /// The deadline of one request (`None`: the export timeout).
    fn request_timeout(&self) -> Option<Duration> {
        None
    }
    /// Where items go, as shown in reports (credentials masked).
    fn destination(&self) -> &str;
    fn shutdown(&mut self) -> OTelSdkResult;
}
