//! Entry points for the fuzz targets in `fuzz/` (`collector_answers`): the
//! OTLP exporter's pure decisions on what a collector answers. Hidden: not
//! part of the API, it may change in any release.

use std::time::Duration;
#[cfg(feature = "otlp-http")]
use std::time::SystemTime;

use crate::export::otlp::answers;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use crate::export::Failure;

/// The longest wait a collector's throttling hint can cause.
pub const RETRY_HINT_MAX: Duration = answers::RETRY_HINT_MAX;

/// What the exporter makes of one answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    /// The words of the report for a failure (empty for an acceptance), or
    /// the partial success's message.
    pub report: String,
    /// Whether the request is sent again.
    pub retryable: bool,
    /// Whether the batch is split in halves (the collector's word that the
    /// request is too large).
    pub splits: bool,
    /// The collector's throttling hint, as honoured.
    pub wait: Option<Duration>,
    /// Items counted as refused in an accepted request.
    pub rejected: u64,
}

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
fn failed(failure: Failure) -> Answer {
    Answer {
        report: failure.to_string(),
        retryable: failure.retryable(),
        splits: matches!(failure, Failure::TooLarge(_)),
        wait: failure.retry_after(),
        rejected: 0,
    }
}

/// An accepted request of `sent` items whose answer body is `body` (an
/// `ExportTraceServiceResponse` or `ExportLogsServiceResponse`).
pub fn otlp_response(body: &[u8], sent: u64) -> Answer {
    let sent = answers::partial_success(body, sent);
    Answer {
        report: sent.message,
        rejected: sent.rejected,
        ..Answer::default()
    }
}

/// An OTLP/HTTP answer with `status` (outside 2xx) and this `Retry-After`
/// value, read at `now`.
#[cfg(feature = "otlp-http")]
pub fn http_answer(status: u16, retry_after: &[u8], now: SystemTime) -> Answer {
    failed(answers::http_failure(
        status,
        answers::retry_after(retry_after, now),
    ))
}

/// An OTLP/gRPC status: its code, `grpc-message` and
/// `grpc-status-details-bin` (a `google.rpc.Status`, where `RetryInfo` is).
#[cfg(feature = "otlp-grpc")]
pub fn grpc_answer(code: i32, message: &str, details: &[u8]) -> Answer {
    let status = tonic::Status::with_details(
        tonic::Code::from_i32(code),
        message.to_owned(),
        prost::bytes::Bytes::copy_from_slice(details),
    );
    failed(answers::grpc_failure(status, Duration::from_secs(10)))
}
