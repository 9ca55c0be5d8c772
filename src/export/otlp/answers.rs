//! What a collector answers, classified: pure functions over an OTLP
//! response's status, throttling hint and body, with table tests (the shape of
//! opentelemetry-otlp's `retry_classification.rs`).
//!
//! Everything here is untrusted input: any process listening on a plain
//! `http://` endpoint can answer anything. So every number is validated and
//! clamped before the export worker does arithmetic with it (a retry delay is
//! at most [`RETRY_HINT_MAX`], a partial success refuses at most the items the
//! request held), every text is shortened and escaped before it reaches a
//! report, and a size failure says in which direction it happened: only the
//! collector's word that the *request* was too large splits a batch.

use std::time::{Duration, SystemTime};

use crate::error::Shown;
use crate::export::{Failure, Sent};

/// The longest throttling hint honoured: a longer one (`Retry-After:
/// 18446744073709551615`, a `RetryInfo` of `i64::MAX` seconds) is taken as
/// this, which is past any export's deadline, so the request is not retried
/// within its export and the next batch tries again.
pub(crate) const RETRY_HINT_MAX: Duration = Duration::from_secs(24 * 3600);

/// The items the collector refused in an accepted request of `sent` items
/// (OTLP partial success; traces and logs share the message's shape:
/// `rejected_*` = field 1 as int64, `error_message` = field 2).
///
/// A body that does not decode is an acceptance without partial success (the
/// specification: the client MUST NOT retry an accepted request). A negative
/// count is ignored; a count larger than the request is taken as the whole
/// request, and the message says what the collector claimed.
pub(crate) fn partial_success(body: &[u8], sent: u64) -> Sent {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message as _;
    let Ok(ExportTraceServiceResponse {
        partial_success: Some(p),
    }) = ExportTraceServiceResponse::decode(body)
    else {
        return Sent::default();
    };
    let message = Shown::new(&p.error_message).to_string();
    match u64::try_from(p.rejected_spans) {
        Ok(claimed) if claimed > sent => Sent {
            rejected: sent,
            message: format!(
                "{message} (the collector claimed {claimed} refused of the {sent} sent; counted as {sent})"
            ),
            unread: None,
        },
        Ok(rejected) => Sent {
            rejected,
            message,
            unread: None,
        },
        Err(_) => Sent {
            rejected: 0,
            message: format!(
                "{message} (the collector claimed {} refused; a negative count is ignored)",
                p.rejected_spans
            ),
            unread: None,
        },
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, clamped
/// to [`RETRY_HINT_MAX`]. A date in the past is no wait; anything else
/// (negative, a fraction, words, bytes that are not text) is no hint, so the
/// exporter's own backoff applies.
// OTLP/HTTP only (and the fuzz target, which builds both transports).
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
pub(crate) fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // 1*DIGIT: a number too large for u64 is still a (very long) delay.
        let seconds = text.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(RETRY_HINT_MAX));
    }
    let date = httpdate_parse(text)?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_HINT_MAX),
    )
}

#[cfg(feature = "otlp-http")]
fn httpdate_parse(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text).ok()
}

// OTLP/HTTP only (and the fuzz target, which builds both transports).
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
#[cfg(not(feature = "otlp-http"))]
fn httpdate_parse(_text: &str) -> Option<SystemTime> {
    None
}

/// An OTLP/HTTP answer that is not a success (`status` outside 2xx), with
/// its `Retry-After` as [`retry_after`] read it.
// OTLP/HTTP only (and the fuzz target, which builds both transports).
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
pub(crate) fn http_failure(status: u16, retry_after: Option<Duration>) -> Failure {
    let status_text = match http::StatusCode::from_u16(status) {
        Ok(code) => format!("HTTP status {code}"),
        Err(_) => format!("HTTP status {status}"),
    };
    match status {
        // The collector's word that the request is too large: split it.
        413 => Failure::TooLarge(format!("rejected with {status_text}")),
        // The OTLP/HTTP specification's retryable answers.
        429 | 502 | 503 | 504 => Failure::Rejected {
            status: status_text,
            retryable: true,
            retry_after,
        },
        _ => Failure::Rejected {
            status: status_text,
            retryable: false,
            retry_after: None,
        },
    }
}

/// Whether a gRPC status message says the server *received* a message
/// larger than it takes (so the request should be split), as grpc-go
/// ("grpc: received message larger than max (5 vs. 4)"), tonic ("Error,
/// decoded message length too large: found 5 bytes, the limit is: 4 bytes")
/// and others word it; not when it is about a message the server failed to
/// *send* (grpc-go's "trying to send message larger than max", "Sent message
/// larger than max"): that is its answer, not our request.
#[cfg(feature = "otlp-grpc")]
fn says_request_too_large(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    let about_size = m.contains("too large") || m.contains("larger than") || m.contains("exceeds");
    let about_sending = m.contains("send") || m.contains("sent ");
    about_size && !about_sending
}

/// The delay of the first `RetryInfo` in a gRPC status's details
/// (`grpc-status-details-bin`, a `google.rpc.Status`), clamped to
/// [`RETRY_HINT_MAX`]; a negative delay is no wait (as tonic-types reads it).
///
/// Read here rather than with tonic-types' `get_details_retry_info`: its
/// conversion (prost-types' `TryFrom<Duration>`) negates the seconds and
/// nanos of a negative delay, which overflows for `i64::MIN` seconds or
/// `i32::MIN` nanos: a panic of the export thread where overflow checks are
/// on (debug builds, the tests, the fuzz targets).
#[cfg(feature = "otlp-grpc")]
fn retry_info(details: &[u8]) -> Option<Duration> {
    use prost::Message as _;
    use tonic_types::pb;
    const TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";
    let status = pb::Status::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .filter(|any| any.type_url == TYPE_URL)
        .find_map(|any| pb::RetryInfo::decode(any.value.as_slice()).ok())?;
    let delay = info.retry_delay?;
    // Exact in i128: seconds and nanos may have either sign and any size.
    let nanos = i128::from(delay.seconds) * 1_000_000_000 + i128::from(delay.nanos);
    let max = RETRY_HINT_MAX.as_nanos() as i128;
    Some(Duration::from_nanos(nanos.clamp(0, max) as u64))
}

/// A gRPC status from the collector (or tonic's own, for a connection that
/// failed), as the OTLP specification classifies it.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_failure(status: tonic::Status, timeout: Duration) -> Failure {
    use tonic::Code;
    let message = Shown::new(status.message());
    let code = status.code();
    let retry_after = retry_info(status.details());
    if matches!(code, Code::ResourceExhausted | Code::OutOfRange)
        && says_request_too_large(status.message())
    {
        return Failure::TooLarge(format!("rejected with gRPC status {code:?}: {message}"));
    }
    if let Some(reason) = super::tls::handshake_failure(&status) {
        return Failure::Tls(reason);
    }
    let mut source = std::error::Error::source(&status);
    while let Some(e) = source {
        // tonic's own deadline (the request's `grpc-timeout`): no answer.
        if e.is::<tonic::TimeoutExpired>() {
            return Failure::TimedOut(timeout);
        }
        source = e.source();
    }
    match (code, std::error::Error::source(&status)) {
        // tonic's own "could not connect" status, with its causes.
        (Code::Unavailable, Some(source)) => {
            return Failure::Unreachable(super::error_chain(source))
        }
        // A connection that broke under the request ("connection closed",
        // "transport error"): no status from the collector; worth another try.
        (Code::Unknown | Code::Cancelled, Some(source)) => {
            return Failure::Interrupted(super::error_chain(source))
        }
        _ => {}
    }
    if code == Code::DeadlineExceeded {
        return Failure::Rejected {
            status: format!("gRPC status {code:?} (timed out): {message}"),
            retryable: true,
            retry_after: None,
        };
    }
    // OTLP/gRPC: these codes are retryable; RESOURCE_EXHAUSTED only when the
    // server says when to retry (RetryInfo).
    let retryable = matches!(
        code,
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    ) || (code == Code::ResourceExhausted && retry_after.is_some());
    Failure::Rejected {
        status: format!("gRPC status {code:?}: {message}"),
        retryable,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message as _;

    fn response(rejected: i64, message: &str) -> Vec<u8> {
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message.into(),
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn partial_success_is_bounded_by_the_request() {
        #[rustfmt::skip]
        let cases: &[(Vec<u8>, u64, u64, &str)] = &[
            (response(3, "quota"), 10, 3, "a count within the request"),
            (response(0, ""), 10, 0, "no refusal"),
            (response(301, "x"), 4, 4, "more than the request: the whole request"),
            (response(i64::MAX, "x"), 301, 301, "i64::MAX: the whole request, no wrap"),
            (response(-5, "x"), 10, 0, "negative: ignored"),
            (response(i64::MIN, "x"), 10, 0, "i64::MIN: ignored"),
            (Vec::new(), 10, 0, "empty body: accepted"),
            (vec![0xff, 0xff], 10, 0, "garbage: accepted"),
        ];
        for (body, sent, rejected, why) in cases {
            let got = partial_success(body, *sent);
            assert_eq!(got.rejected, *rejected, "{why}");
            assert!(got.rejected <= *sent, "{why}");
        }
        let claimed = partial_success(&response(i64::MAX, "quota"), 4);
        assert!(
            claimed.message.contains("claimed 9223372036854775807"),
            "{}",
            claimed.message
        );
        let long = partial_success(&response(1, &"\u{202e}x".repeat(100_000)), 4);
        assert!(long.message.len() < 400, "{}", long.message.len());
        assert!(!long.message.contains('\u{202e}'));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        #[rustfmt::skip]
        let cases: &[(&[u8], Option<Duration>, &str)] = &[
            (b"5", Some(Duration::from_secs(5)), "seconds"),
            (b" 5\t", Some(Duration::from_secs(5)), "seconds with white space"),
            (b"0", Some(Duration::ZERO), "zero"),
            (b"18446744073709551615", Some(RETRY_HINT_MAX), "u64::MAX: clamped"),
            (b"99999999999999999999999999", Some(RETRY_HINT_MAX), "over u64: clamped"),
            (b"86401", Some(RETRY_HINT_MAX), "a day and a second: clamped"),
            (b"-5", None, "negative: no hint"),
            (b"1.5", None, "a fraction: no hint"),
            (b"soon", None, "words: no hint"),
            (b"", None, "empty"),
            (b"+5", None, "a sign is not a digit"),
            (b"5\xff", None, "not text"),
            (date.as_bytes(), Some(Duration::from_secs(7)), "an HTTP-date 7 s ahead"),
            (past.as_bytes(), Some(Duration::ZERO), "an HTTP-date in the past: no wait"),
            (b"Fri, 31 Dec 9999 23:59:59 GMT", Some(RETRY_HINT_MAX), "a far date: clamped"),
        ];
        for (value, expected, why) in cases {
            assert_eq!(retry_after(value, now), *expected, "{why}");
        }
    }

    #[test]
    fn http_statuses_are_classified() {
        let hint = Some(Duration::from_secs(2));
        #[rustfmt::skip]
        let cases: &[(u16, &str, Option<Duration>, &str)] = &[
            (429, "retryable", hint, "throttled, with its hint"),
            (502, "retryable", hint, "bad gateway"),
            (503, "retryable", hint, "unavailable"),
            (504, "retryable", hint, "gateway timeout"),
            (413, "too large", None, "the collector's word about the request"),
            (400, "final", None, "bad request: the hint is not used"),
            (401, "final", None, "unauthorized"),
            (500, "final", None, "internal error"),
            (999, "final", None, "a code outside the registry"),
        ];
        for (status, kind, retry_after, why) in cases {
            let failure = http_failure(*status, hint);
            let got = match &failure {
                Failure::TooLarge(_) => "too large",
                f if f.retryable() => "retryable",
                _ => "final",
            };
            assert_eq!(got, *kind, "{why}");
            assert_eq!(failure.retry_after(), *retry_after, "{why}");
        }
    }

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_statuses_are_classified() {
        use tonic::{Code, Status};
        #[rustfmt::skip]
        let cases: &[(Status, &str, &str)] = &[
            (Status::new(Code::Unavailable, "down"), "retryable", "unavailable"),
            (Status::new(Code::Aborted, "x"), "retryable", "aborted"),
            (Status::new(Code::DataLoss, "x"), "retryable", "data loss"),
            (Status::new(Code::OutOfRange, "x"), "retryable", "out of range"),
            (Status::new(Code::ResourceExhausted, "quota"), "final", "exhausted without RetryInfo"),
            (Status::new(Code::PermissionDenied, "key"), "final", "permission"),
            (Status::new(Code::InvalidArgument, "bad"), "final", "invalid argument"),
            (Status::new(Code::OutOfRange, "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes"), "too large", "tonic server: our request"),
            (Status::new(Code::ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), "too large", "grpc-go server: our request"),
            (Status::new(Code::ResourceExhausted, "grpc: trying to send message larger than max (8388613 vs. 4194304)"), "final", "grpc-go: its own answer, not our request"),
            (Status::new(Code::ResourceExhausted, "Sent message larger than max (8388613 vs. 4194304)"), "final", "grpc-core: its own answer"),
        ];
        for (status, expected, why) in cases {
            let got = match grpc_failure(status.clone(), Duration::from_secs(1)) {
                Failure::TooLarge(_) => "too large",
                f if f.retryable() => "retryable",
                _ => "final",
            };
            assert_eq!(got, *expected, "{why}: {status:?}");
        }
    }

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_retry_info_is_clamped() {
        use tonic::{Code, Status};
        use tonic_types::{ErrorDetails, StatusExt as _};
        #[rustfmt::skip]
        let cases: &[(Duration, Duration, &str)] = &[
            (Duration::from_secs(2), Duration::from_secs(2), "a short delay"),
            (Duration::from_secs(i64::MAX as u64), RETRY_HINT_MAX, "i64::MAX seconds: clamped"),
            (Duration::ZERO, Duration::ZERO, "zero"),
        ];
        for (delay, expected, why) in cases {
            let status = Status::with_error_details(
                Code::Unavailable,
                "busy",
                ErrorDetails::with_retry_info(Some(*delay)),
            );
            assert_eq!(
                grpc_failure(status, Duration::from_secs(1)).retry_after(),
                Some(*expected),
                "{why}"
            );
        }
    }

    /// `RetryInfo` as a collector may put it on the wire: any seconds and
    /// nanos, of either sign (what `ErrorDetails` cannot build; prost-types
    /// is a dev-dependency for its `Any` and `Duration`).
    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_retry_info_on_the_wire() {
        use tonic_types::pb;
        fn details(infos: &[(&str, Option<(i64, i32)>)]) -> Vec<u8> {
            pb::Status {
                code: 14,
                message: "busy".into(),
                details: infos
                    .iter()
                    .map(|(type_url, delay)| prost_types::Any {
                        type_url: (*type_url).into(),
                        value: pb::RetryInfo {
                            retry_delay: delay
                                .map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
                        }
                        .encode_to_vec(),
                    })
                    .collect(),
            }
            .encode_to_vec()
        }
        const RETRY: &str = "type.googleapis.com/google.rpc.RetryInfo";
        let ms = Duration::from_millis;
        #[rustfmt::skip]
        let cases: &[(Vec<u8>, Option<Duration>, &str)] = &[
            (details(&[(RETRY, Some((2, 500_000_000)))]), Some(ms(2500)), "2.5 s"),
            (details(&[(RETRY, Some((i64::MAX, 999_999_999)))]), Some(RETRY_HINT_MAX), "i64::MAX s: clamped"),
            (details(&[(RETRY, Some((i64::MIN, 0)))]), Some(Duration::ZERO), "i64::MIN s: no wait, no overflow"),
            (details(&[(RETRY, Some((0, i32::MIN)))]), Some(Duration::ZERO), "i32::MIN ns: no wait, no overflow"),
            (details(&[(RETRY, Some((i64::MIN, i32::MIN)))]), Some(Duration::ZERO), "both at their minimum"),
            (details(&[(RETRY, Some((-5, 0)))]), Some(Duration::ZERO), "negative: no wait"),
            (details(&[(RETRY, Some((3, -500_000_000)))]), Some(ms(2500)), "nanos of the other sign"),
            (details(&[(RETRY, Some((1, i32::MAX)))]), Some(ms(3147)), "nanos over a second carry"),
            (details(&[(RETRY, None)]), None, "a RetryInfo without delay"),
            (details(&[("type.googleapis.com/google.rpc.DebugInfo", Some((1, 0))), (RETRY, Some((4, 0)))]), Some(Duration::from_secs(4)), "the RetryInfo among others"),
            (vec![0xff, 0xff], None, "details that do not decode"),
        ];
        for (bytes, expected, why) in cases {
            let got = retry_info(bytes).map(|d| Duration::from_millis(d.as_millis() as u64));
            assert_eq!(got, *expected, "{why}");
        }
    }
}
