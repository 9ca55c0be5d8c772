//! What an OTLP collector answers, through the exporter's pure decisions
//! (`distributed_tracing::fuzzing`): an accepted request's body (partial
//! success), an OTLP/HTTP refusal with its `Retry-After`, an OTLP/gRPC status
//! with its details. Whatever the answer: no panic, a refusal never counts
//! more items than were sent, a throttling hint never asks for more than
//! `RETRY_HINT_MAX`, the report is short and escaped (no control or bidi
//! character reaches a log line), and only the collector's word that the
//! request was too large (HTTP 413, gRPC RESOURCE_EXHAUSTED / OUT_OF_RANGE)
//! splits a batch.
//!
//! Input: the first byte picks the function (modulo 3), the bytes after it
//! give its numbers (little-endian; missing bytes are zero), the rest is the
//! body, the header value or the details:
//!
//! | first byte % 3 | then | rest |
//! | --- | --- | --- |
//! | 0: `otlp_response` | `sent`: u64 | the response body |
//! | 1: `http_answer` | status: u16, `now`: u64 seconds since 1970 | the `Retry-After` value |
//! | 2: `grpc_answer` | code: i32, message length: u16, the message (UTF-8, lossy) | `grpc-status-details-bin` |
#![no_main]

use std::time::{Duration, SystemTime};

use distributed_tracing::fuzzing::{
    grpc_answer, http_answer, otlp_response, Answer, RETRY_HINT_MAX,
};
use libfuzzer_sys::fuzz_target;

/// The longest report: the collector's text is cut to 64 characters and
/// escaped (at most 10 characters each, `\u{10ffff}`), inside a sentence
/// with the numbers and the status.
const REPORT_MAX: usize = 1024;

/// Bidirectional controls: they reorder what a terminal shows (Trojan Source).
const BIDI: &[char] = &[
    '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Reads numbers off the front of the input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

fn check_report(answer: &Answer) {
    let report = &answer.report;
    assert!(
        report.chars().count() <= REPORT_MAX,
        "{} chars: {report}",
        report.chars().count()
    );
    assert!(
        !report.chars().any(char::is_control),
        "a control character: {report:?}"
    );
    assert!(!report.contains(BIDI), "a bidi control: {report:?}");
    if let Some(wait) = answer.wait {
        assert!(wait <= RETRY_HINT_MAX, "{wait:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut input = Input(rest);
    match kind % 3 {
        0 => {
            let sent = u64::from_le_bytes(input.take());
            let answer = otlp_response(input.0, sent);
            check_report(&answer);
            assert!(answer.rejected <= sent, "{} of {sent}", answer.rejected);
            assert!(
                !answer.splits && !answer.retryable && answer.wait.is_none(),
                "{answer:?}"
            );
        }
        1 => {
            let status = u16::from_le_bytes(input.take());
            let seconds = u64::from_le_bytes(input.take());
            let now = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(seconds))
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let answer = http_answer(status, input.0, now);
            check_report(&answer);
            assert_eq!(answer.rejected, 0);
            assert_eq!(answer.splits, status == 413, "{status}: {answer:?}");
            let retryable = matches!(status, 429 | 502 | 503 | 504);
            assert_eq!(answer.retryable, retryable, "{status}: {answer:?}");
            // A hint is only taken with a retryable status.
            assert!(answer.wait.is_none() || retryable, "{status}: {answer:?}");
            assert!(answer.report.contains(&status.to_string()), "{answer:?}");
        }
        _ => {
            let code = i32::from_le_bytes(input.take());
            let len = u16::from_le_bytes(input.take());
            let message = String::from_utf8_lossy(input.bytes(usize::from(len)));
            let answer = grpc_answer(code, &message, input.0);
            check_report(&answer);
            assert_eq!(answer.rejected, 0);
            // RESOURCE_EXHAUSTED = 8, OUT_OF_RANGE = 11.
            assert!(
                !answer.splits || matches!(code, 8 | 11),
                "{code}: {answer:?}"
            );
            assert!(!answer.splits || !answer.retryable, "{code}: {answer:?}");
        }
    }
});
