//! A strict Jaeger propagator (`uber-trace-id`).
//!
//! Follows Jaeger's native propagation format
//! (<https://www.jaegertracing.io/docs/1.52/client-libraries/#propagation-format>):
//! `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`. Every rule the
//! parser checks is one commented line below, and the tests at the end of this
//! file label each rejected input with the rule it breaks.
//!
//! Choices where the format leaves room:
//!
//! * ids are lowercase hex (what Jaeger clients send), 1 to 32 characters for the
//!   trace id and 1 to 16 for the span id, left-padded with zeros (Jaeger lets
//!   senders omit leading zeros), and not all zeros;
//! * the deprecated parent span id is 1 to 16 hex characters, `0` included, and is
//!   ignored;
//! * flags are one or two hex digits (one byte); `0x01` is `sampled`, the debug
//!   bit (`0x02`) and the others are ignored (as in OpenTelemetry Java and Go), so
//!   the debug bit is not sent on. Decimal flags `0` to `9` read the same;
//! * a URL-encoded value is decoded: `%3A` (or `%3a`) is a `:`; any other `%` makes
//!   the value invalid, since no other character of a valid value needs encoding;
//! * two `uber-trace-id` headers are invalid; optional white space (spaces, tabs)
//!   around the value is allowed;
//! * inject writes `{32 hex}:{16 hex}:0:{1|0}`;
//! * the `uberctx-{key}` baggage headers are neither read nor written.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::carrier::one_value;
use crate::ids::{decode_hex_u128, decode_hex_u64, SpanIdHex, TraceIdHex};
use crate::untrusted::trim_ows;

/// The header name.
const UBER_TRACE_ID: &str = "uber-trace-id";

/// The `sampled` bit of the Jaeger flags.
const JAEGER_SAMPLED: u64 = 0x01;

/// `{32}%3A{16}%3A{16}%3A{2}`: the longest value, every separator URL-encoded.
const MAX_LEN: usize = 32 + 3 + 16 + 3 + 16 + 3 + 2;

/// The strict Jaeger propagator (`uber-trace-id`).
///
/// Implements OpenTelemetry's [`TextMapPropagator`].
///
/// ```
/// use distributed_tracing::propagation::JaegerPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert("uber-trace-id".to_string(), "a3ce929d0e0e4736:f067aa0ba902b7:0:1".to_string());
/// let cx = JaegerPropagator::new().extract(&headers);
/// let span = cx.span();
/// let sc = span.span_context();
/// assert!(sc.is_remote() && sc.is_sampled());
/// assert_eq!(sc.trace_id().to_string(), "0000000000000000a3ce929d0e0e4736");
/// assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
///
/// let mut out = HashMap::new();
/// JaegerPropagator::new().inject_context(&cx, &mut out);
/// assert_eq!(out["uber-trace-id"], "0000000000000000a3ce929d0e0e4736:00f067aa0ba902b7:0:1");
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct JaegerPropagator {
    _private: (),
}

impl JaegerPropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// Why an `uber-trace-id` value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JaegerError {
    TooLong,
    PercentEncoding,
    FieldCount,
    TraceIdLength,
    TraceId,
    TraceIdZero,
    SpanIdLength,
    SpanId,
    SpanIdZero,
    ParentSpanIdLength,
    ParentSpanId,
    FlagsLength,
    Flags,
}

/// The parsed fields of a valid `uber-trace-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UberTraceId {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) sampled: bool,
}

/// Parses one `uber-trace-id` value, strictly.
pub(crate) fn parse_uber_trace_id(value: &str) -> Result<UberTraceId, JaegerError> {
    use JaegerError as E;
    // HTTP allows optional white space around a header value.
    let b = trim_ows(value).as_bytes();
    // The longest valid value has 75 characters (every `:` written `%3A`).
    if b.len() > MAX_LEN {
        return Err(E::TooLong);
    }
    // The value may be URL-encoded: `%3A` / `%3a` is `:`, and no other character
    // of a valid value is ever encoded. Decoded into a stack buffer.
    let mut buf = [0u8; MAX_LEN];
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i] == b'%' {
            if !matches!(b.get(i + 1..i + 3), Some(b"3A" | b"3a")) {
                return Err(E::PercentEncoding);
            }
            buf[n] = b':';
            i += 3;
        } else {
            buf[n] = b[i];
            i += 1;
        }
        n += 1;
    }
    // uber-trace-id = trace-id ":" span-id ":" parent-span-id ":" flags
    let mut fields = buf[..n].split(|&c| c == b':');
    let (Some(trace), Some(span), Some(parent), Some(flags), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(E::FieldCount);
    };
    // trace-id = 1 to 32 hex characters (leading zeros may be omitted), not all zeros.
    if trace.is_empty() || trace.len() > 32 {
        return Err(E::TraceIdLength);
    }
    let trace_id = decode_hex_u128(trace).ok_or(E::TraceId)?;
    if trace_id == 0 {
        return Err(E::TraceIdZero);
    }
    // span-id = 1 to 16 hex characters, not all zeros.
    if span.is_empty() || span.len() > 16 {
        return Err(E::SpanIdLength);
    }
    let span_id = decode_hex_u64(span).ok_or(E::SpanId)?;
    if span_id == 0 {
        return Err(E::SpanIdZero);
    }
    // parent-span-id = 1 to 16 hex characters, `0` for none; deprecated and ignored.
    if parent.is_empty() || parent.len() > 16 {
        return Err(E::ParentSpanIdLength);
    }
    decode_hex_u64(parent).ok_or(E::ParentSpanId)?;
    // flags = one byte as one or two hex digits.
    if flags.is_empty() || flags.len() > 2 {
        return Err(E::FlagsLength);
    }
    let flags = decode_hex_u64(flags).ok_or(E::Flags)?;
    Ok(UberTraceId {
        trace_id: TraceId::from(trace_id),
        span_id: SpanId::from(span_id),
        // Only the `sampled` bit maps to OpenTelemetry; debug and the rest are ignored.
        sampled: flags & JAEGER_SAMPLED != 0,
    })
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [UBER_TRACE_ID.to_string()])
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let flags = if sc.is_sampled() { "1" } else { "0" };
        injector.set(
            UBER_TRACE_ID,
            format!(
                "{}:{}:0:{flags}",
                TraceIdHex::new(sc.trace_id()),
                SpanIdHex::new(sc.span_id())
            ),
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Exactly one uber-trace-id header: two of them make the context invalid.
        let Ok(Some(value)) = one_value(extractor, UBER_TRACE_ID) else {
            return cx.clone();
        };
        let Ok(parsed) = parse_uber_trace_id(value) else {
            return cx.clone();
        };
        let flags = if parsed.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(
            parsed.trace_id,
            parsed.span_id,
            flags,
            true,
            TraceState::NONE,
        );
        cx.with_remote_span_context(sc)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{HeaderMapExtractor, W3cTraceContextPropagator};
    use std::collections::HashMap;

    const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SID: &str = "00f067aa0ba902b7";

    fn parsed(trace: u128, span: u64, sampled: bool) -> UberTraceId {
        UberTraceId {
            trace_id: TraceId::from(trace),
            span_id: SpanId::from(span),
            sampled,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_values() {
        let full = parsed(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, true);
        let unsampled = UberTraceId {
            sampled: false,
            ..full
        };
        let cases = [
            (format!("{TID}:{SID}:0:1"), full, "canonical, sampled"),
            (format!("{TID}:{SID}:0:0"), unsampled, "not sampled"),
            (format!("{TID}:{SID}:0:01"), full, "two-digit flags"),
            (format!("{TID}:{SID}:0:3"), full, "sampled + debug"),
            (
                format!("{TID}:{SID}:0:2"),
                unsampled,
                "debug alone is not sampled",
            ),
            (format!("{TID}:{SID}:0:ff"), full, "unknown bits ignored"),
            (format!("{TID}:{SID}:0:8"), unsampled, "firehose only"),
            (
                format!("{TID}:{SID}:{SID}:1"),
                full,
                "deprecated parent span id",
            ),
            (format!("{TID}:{SID}:00:1"), full, "parent 00"),
            (
                format!("{TID}:f067aa0ba902b7:0:1"),
                full,
                "span id without leading zeros",
            ),
            (format!("{TID}%3A{SID}%3A0%3A1"), full, "URL-encoded"),
            (
                format!("{TID}%3a{SID}%3a0%3a1"),
                full,
                "URL-encoded, lowercase escape",
            ),
            (format!("{TID}:{SID}%3A0:1"), full, "partly URL-encoded"),
            (
                format!(" \t{TID}:{SID}:0:1\t "),
                full,
                "optional white space",
            ),
            (
                "a3ce929d0e0e4736:1:0:1".to_string(),
                parsed(0xa3ce929d0e0e4736, 1, true),
                "64-bit trace id, one-digit span id",
            ),
            ("1:1:0:1".to_string(), parsed(1, 1, true), "shortest ids"),
            (
                format!("{}:{}:{}:1", "f".repeat(32), "f".repeat(16), "f".repeat(16)),
                parsed(u128::MAX, u64::MAX, true),
                "longest ids",
            ),
        ];
        for (value, expected, label) in cases {
            assert_eq!(parse_uber_trace_id(&value), Ok(expected), "{label}");
        }
    }

    #[test]
    fn invalid_values() {
        use JaegerError as E;
        let megabyte = format!("{TID}:{SID}:0:1{}", "0".repeat(1 << 20));
        let cases: Vec<(String, E, &str)> = vec![
            (String::new(), E::FieldCount, "empty"),
            (megabyte, E::TooLong, "a megabyte-long header"),
            (
                format!("{TID}0%3A{SID}%3A{SID}%3A01"),
                E::TooLong,
                "76 characters",
            ),
            (format!("{TID}:{SID}:0"), E::FieldCount, "three fields"),
            (format!("{TID}:{SID}:0:1:1"), E::FieldCount, "five fields"),
            (format!("{TID}-{SID}-0-1"), E::FieldCount, "dash separators"),
            (
                format!("{TID}%3B{SID}:0:1"),
                E::PercentEncoding,
                "other escape",
            ),
            (format!("{TID}%3"), E::PercentEncoding, "truncated escape"),
            (
                format!("{TID}:{SID}:0:1%"),
                E::PercentEncoding,
                "lone percent",
            ),
            (
                format!("{TID}%2561:{SID}:0:1"),
                E::PercentEncoding,
                "double encoding",
            ),
            (format!(":{SID}:0:1"), E::TraceIdLength, "empty trace id"),
            (
                format!("{TID}0:{SID}:0:1"),
                E::TraceIdLength,
                "33-char trace id",
            ),
            (
                format!("{}:{SID}:0:1", TID.to_uppercase()),
                E::TraceId,
                "uppercase trace id",
            ),
            (
                format!("{}g:{SID}:0:1", &TID[..31]),
                E::TraceId,
                "non-hex trace id",
            ),
            (
                format!("{}:{SID}:0:1", "0".repeat(32)),
                E::TraceIdZero,
                "all-zero trace id",
            ),
            (format!("0:{SID}:0:1"), E::TraceIdZero, "trace id 0"),
            (format!("{TID}::0:1"), E::SpanIdLength, "empty span id"),
            (
                format!("{TID}:{SID}0:0:1"),
                E::SpanIdLength,
                "17-char span id",
            ),
            (
                format!("{TID}:{}:0:1", SID.to_uppercase()),
                E::SpanId,
                "uppercase span id",
            ),
            (
                format!("{TID}:{}:0:1", "0".repeat(16)),
                E::SpanIdZero,
                "all-zero span id",
            ),
            (
                format!("{TID}:{SID}::1"),
                E::ParentSpanIdLength,
                "empty parent span id",
            ),
            (
                format!("{TID}:{SID}:{SID}0:1"),
                E::ParentSpanIdLength,
                "17-char parent span id",
            ),
            (
                format!("{TID}:{SID}:x:1"),
                E::ParentSpanId,
                "non-hex parent span id",
            ),
            (format!("{TID}:{SID}:0:"), E::FlagsLength, "empty flags"),
            (
                format!("{TID}:{SID}:0:001"),
                E::FlagsLength,
                "three-digit flags",
            ),
            (format!("{TID}:{SID}:0:x"), E::Flags, "non-hex flags"),
            (format!("{TID}:{SID}:0:A"), E::Flags, "uppercase flags"),
            (format!("{TID}:{SID}:0:-1"), E::Flags, "negative flags"),
            (
                format!("{}:{SID}:0:1", "é".repeat(16)),
                E::TraceId,
                "non-ASCII trace id",
            ),
            (format!("{TID}:{SID}:0:\u{0}"), E::Flags, "control byte"),
            (format!("{TID}:{SID}:0:1\r\n"), E::FlagsLength, "CR LF"),
        ];
        for (value, reason, label) in cases {
            assert_eq!(
                parse_uber_trace_id(&value),
                Err(reason),
                "{label}: {value:.80}"
            );
        }
    }

    #[test]
    fn extract_sets_a_remote_span_context() {
        let p = JaegerPropagator::new();
        let value = format!("{TID}%3A{SID}%3A0%3A3");
        let cx = p.extract(&map(&[("uber-trace-id", value.as_str())]));
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_id(), TraceId::from_hex(TID).unwrap());
        assert_eq!(sc.span_id(), SpanId::from_hex(SID).unwrap());
        assert_eq!(sc.trace_flags(), TraceFlags::SAMPLED, "debug bit dropped");
    }

    #[test]
    fn invalid_input_leaves_the_context_unchanged() {
        let base = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ));
        let unchanged = base.span().span_context().clone();
        let p = JaegerPropagator::new();
        let cases: Vec<(String, &str)> = vec![
            (format!("{TID}:{SID}:0:1:"), "trailing separator"),
            ("0:0:0:0".into(), "all zeros"),
            ("%".repeat(1 << 20), "a megabyte of percent signs"),
            ("ü".repeat(30), "non-ASCII"),
            (format!("{TID}:{SID}:\u{7f}:1"), "DEL"),
        ];
        for (value, label) in cases {
            let cx = p.extract_with_context(&base, &map(&[("uber-trace-id", &*value)]));
            assert_eq!(*cx.span().span_context(), unchanged, "{label}");
        }
        let cx = p.extract_with_context(&base, &map(&[]));
        assert_eq!(*cx.span().span_context(), unchanged, "no header");

        let mut headers = http::HeaderMap::new();
        let value = format!("{TID}:{SID}:0:1");
        headers.append("Uber-Trace-Id", value.parse().unwrap());
        let cx = p.extract_with_context(&base, &HeaderMapExtractor(&headers));
        assert!(cx.span().span_context().trace_id() == TraceId::from_hex(TID).unwrap());
        headers.append("uber-trace-id", value.parse().unwrap());
        let cx = p.extract_with_context(&base, &HeaderMapExtractor(&headers));
        assert_eq!(*cx.span().span_context(), unchanged, "two headers");
    }

    #[test]
    fn inject() {
        let p = JaegerPropagator::new();
        for (flags, f) in [(TraceFlags::SAMPLED, "1"), (TraceFlags::default(), "0")] {
            let sc = SpanContext::new(
                TraceId::from(0xa3ce929d0e0e4736u128),
                SpanId::from(0xf067aa0ba902b7u64),
                flags,
                false,
                TraceState::NONE,
            );
            let mut out = HashMap::new();
            p.inject_context(&Context::new().with_remote_span_context(sc), &mut out);
            let expected = format!("0000000000000000a3ce929d0e0e4736:00f067aa0ba902b7:0:{f}");
            assert_eq!(out, map(&[("uber-trace-id", expected.as_str())]));
        }
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject_context(&Context::new(), &mut out);
        assert!(out.is_empty(), "nothing without a valid span");
        assert_eq!(p.fields().collect::<Vec<_>>(), ["uber-trace-id"]);
    }

    #[test]
    fn round_trip_with_w3c() {
        let (p, w3c) = (JaegerPropagator::new(), W3cTraceContextPropagator::new());
        let cases = [
            (format!("{TID}:{SID}:0:1"), format!("00-{TID}-{SID}-01")),
            (format!("{TID}:{SID}:0:0"), format!("00-{TID}-{SID}-00")),
            (
                "a3ce929d0e0e4736:f067aa0ba902b7:0:3".to_string(),
                format!("00-0000000000000000a3ce929d0e0e4736-{SID}-01"),
            ),
        ];
        for (jaeger, traceparent) in cases {
            let cx = p.extract(&map(&[("uber-trace-id", jaeger.as_str())]));
            let mut w3c_out = HashMap::new();
            w3c.inject_context(&cx, &mut w3c_out);
            assert_eq!(w3c_out["traceparent"], traceparent, "{jaeger}");

            let cx2 = w3c.extract(&w3c_out);
            let mut jaeger_out = HashMap::new();
            p.inject_context(&cx2, &mut jaeger_out);
            let back = p.extract(&jaeger_out);
            let (a, b) = (cx.span(), back.span());
            assert_eq!(a.span_context(), b.span_context(), "{jaeger}");
        }
    }
}
