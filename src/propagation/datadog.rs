//! A strict Datadog propagator (`x-datadog-*` headers).
//!
//! Follows Datadog's trace context propagation documentation
//! (<https://docs.datadoghq.com/tracing/trace_collection/trace_context_propagation/>)
//! and its trace id format page
//! (<https://docs.datadoghq.com/tracing/guide/span_and_trace_id_format/>):
//!
//! * `x-datadog-trace-id`: the lower 64 bits of the trace id, an unsigned decimal;
//! * `x-datadog-parent-id`: the caller's span id, an unsigned decimal;
//! * `x-datadog-sampling-priority`: an integer, `> 0` keep (sampled), `<= 0` drop;
//! * `x-datadog-tags`: comma-separated `key=value` trace tags, of which
//!   `_dd.p.tid` holds the upper 64 bits of a 128-bit trace id as 16 lowercase
//!   hex digits. Its size is limited to 512 bytes (Datadog's default
//!   `DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH`).
//!
//! Every rule the parsers check is one commented line below, and the tests at the
//! end of this file label each rejected input with the rule it breaks.
//!
//! Choices where the documentation leaves room:
//!
//! * ids are 1 to 20 ASCII digits that fit in a `u64` (leading zeros allowed), and
//!   not zero; a sign (`-`, `+`) is invalid, so the negative ids some old tracers
//!   sent are rejected;
//! * the sampling priority is an optional `-` and 1 to 19 digits; when it is
//!   absent the span context is valid with the `sampled` flag unset (OpenTelemetry
//!   cannot say "undecided"; the default `ParentBased` sampler then does not
//!   sample); an invalid one makes the headers invalid;
//! * a tags header longer than 512 bytes, repeated, or malformed (a member without
//!   `=`, a bad key or value, two `_dd.p.tid`) is ignored whole, as Datadog
//!   tracers do; so is a `_dd.p.tid` that is not 16 lowercase hex digits. The ids
//!   are kept, and the trace id is then the 64-bit one;
//! * any other tag and `x-datadog-origin` are neither read nor sent on;
//! * two `x-datadog-trace-id`, `x-datadog-parent-id` or
//!   `x-datadog-sampling-priority` headers are invalid; optional white space
//!   (spaces, tabs) around a value is allowed;
//! * inject writes sampling priority `1` or `0` (Datadog's "auto keep" and "auto
//!   reject"), and `x-datadog-tags: _dd.p.tid=...` only when the upper 64 bits
//!   are non-zero; it writes nothing for a trace id whose lower 64 bits are zero,
//!   which Datadog cannot represent.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::carrier::one_value;
use crate::ids::{datadog_span_id, datadog_trace_id, decode_hex_u64};
use crate::untrusted::trim_ows;

/// The header names, lowercase (header names are case-insensitive).
const X_DATADOG_TRACE_ID: &str = "x-datadog-trace-id";
const X_DATADOG_PARENT_ID: &str = "x-datadog-parent-id";
const X_DATADOG_SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
const X_DATADOG_TAGS: &str = "x-datadog-tags";

/// The trace tag holding the upper 64 bits of a 128-bit trace id.
const TAG_TID: &str = "_dd.p.tid";

/// The largest `x-datadog-tags` value read, in bytes.
const MAX_TAGS_LEN: usize = 512;

/// The strict Datadog propagator (`x-datadog-trace-id`, `x-datadog-parent-id`,
/// `x-datadog-sampling-priority`, `x-datadog-tags`).
///
/// Implements OpenTelemetry's [`TextMapPropagator`]. The rules are those of
/// <https://docs.datadoghq.com/tracing/trace_collection/trace_context_propagation/>.
///
/// ```
/// use distributed_tracing::propagation::DatadogPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let headers: HashMap<String, String> = [
///     ("x-datadog-trace-id", "11803532876627986230"),
///     ("x-datadog-parent-id", "67667974448284343"),
///     ("x-datadog-sampling-priority", "1"),
///     ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=4bf92f3577b34da6"),
/// ]
/// .into_iter()
/// .map(|(k, v)| (k.to_string(), v.to_string()))
/// .collect();
/// let cx = DatadogPropagator::new().extract(&headers);
/// let span = cx.span();
/// let sc = span.span_context();
/// assert!(sc.is_remote() && sc.is_sampled());
/// assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct DatadogPropagator {
    _private: (),
}

impl DatadogPropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// Why the Datadog headers were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatadogError {
    TraceId,
    TraceIdZero,
    ParentId,
    ParentIdZero,
    SamplingPriority,
}

/// Why an `x-datadog-tags` value was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagsError {
    TooLong,
    MissingEquals,
    Key,
    Value,
    DuplicateTid,
    Tid,
}

/// The trace the Datadog headers continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DatadogContext {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) sampled: bool,
}

/// An unsigned decimal of 1 to 20 ASCII digits that fits in a `u64`.
fn decode_decimal_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        let digit = c.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// An optional `-` then 1 to 19 ASCII digits.
fn decode_decimal_i64(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.len() > 19 {
        return None;
    }
    // 19 digits always fit in a u64; the sign is applied in i64.
    let magnitude = i64::try_from(decode_decimal_u64(digits)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A header value without the optional white space HTTP allows around it.
fn trim(s: &str) -> &[u8] {
    trim_ows(s).as_bytes()
}

/// Parses the `x-datadog-*` header values, strictly. Problems with the tags
/// header only drop the tags (the trace id then has 64 bits).
pub(crate) fn parse_datadog(
    trace_id: &str,
    parent_id: &str,
    sampling_priority: Option<&str>,
    tags: Option<&str>,
) -> Result<DatadogContext, DatadogError> {
    use DatadogError as E;
    // x-datadog-trace-id = the lower 64 bits as an unsigned decimal, not zero.
    let lower = decode_decimal_u64(trim(trace_id)).ok_or(E::TraceId)?;
    if lower == 0 {
        return Err(E::TraceIdZero);
    }
    // x-datadog-parent-id = the span id as an unsigned decimal, not zero.
    let span_id = decode_decimal_u64(trim(parent_id)).ok_or(E::ParentId)?;
    if span_id == 0 {
        return Err(E::ParentIdZero);
    }
    // x-datadog-sampling-priority = an integer, > 0 is keep; absent is no decision.
    let sampled = match sampling_priority {
        None => false,
        Some(p) => decode_decimal_i64(trim(p)).ok_or(E::SamplingPriority)? > 0,
    };
    // The upper 64 bits come from `_dd.p.tid`; an unusable tags header is ignored.
    let upper = tags.and_then(|t| parse_tags(t).ok()).unwrap_or(0);
    Ok(DatadogContext {
        trace_id: TraceId::from(u128::from(upper) << 64 | u128::from(lower)),
        span_id: SpanId::from(span_id),
        sampled,
    })
}

/// Parses an `x-datadog-tags` value into the upper 64 bits of the trace id
/// (`0` without `_dd.p.tid`). Linear, and reads at most 512 bytes.
pub(crate) fn parse_tags(value: &str) -> Result<u64, TagsError> {
    use TagsError as E;
    // A value longer than 512 bytes is not read at all.
    if value.len() > MAX_TAGS_LEN {
        return Err(E::TooLong);
    }
    let value = trim_ows(value);
    // An empty header carries no tags.
    if value.is_empty() {
        return Ok(0);
    }
    let mut tid = None;
    // tags = tag *( "," tag )
    for member in value.split(',') {
        // tag = key "=" value
        let (key, val) = member.split_once('=').ok_or(E::MissingEquals)?;
        // key = 1*( printable ASCII but space, "," and "=" )
        if key.is_empty() || !key.bytes().all(|c| (0x21..=0x7e).contains(&c) && c != b',') {
            return Err(E::Key);
        }
        // value = 1*( printable ASCII but "," ), space included
        if val.is_empty() || !val.bytes().all(|c| (0x20..=0x7e).contains(&c) && c != b',') {
            return Err(E::Value);
        }
        if key == TAG_TID {
            // `_dd.p.tid` is given at most once.
            if tid.is_some() {
                return Err(E::DuplicateTid);
            }
            // _dd.p.tid = 16 lowercase hex digits.
            if val.len() != 16 {
                return Err(E::Tid);
            }
            tid = Some(decode_hex_u64(val.as_bytes()).ok_or(E::Tid)?);
        }
    }
    Ok(tid.unwrap_or(0))
}

/// The remote span context the headers carry, `None` if none is valid.
fn extract_datadog(extractor: &dyn Extractor) -> Option<SpanContext> {
    // Both ids are needed to continue a trace; each header at most once.
    let trace_id = one_value(extractor, X_DATADOG_TRACE_ID).ok()??;
    let parent_id = one_value(extractor, X_DATADOG_PARENT_ID).ok()??;
    let priority = one_value(extractor, X_DATADOG_SAMPLING_PRIORITY).ok()?;
    // A repeated tags header is ignored, like a malformed one.
    let tags = one_value(extractor, X_DATADOG_TAGS).ok().flatten();
    let dd = parse_datadog(trace_id, parent_id, priority, tags).ok()?;
    let flags = if dd.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        dd.trace_id,
        dd.span_id,
        flags,
        true,
        TraceState::NONE,
    ))
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 4]> = OnceLock::new();
    FIELDS.get_or_init(|| {
        [
            X_DATADOG_TRACE_ID.to_string(),
            X_DATADOG_PARENT_ID.to_string(),
            X_DATADOG_SAMPLING_PRIORITY.to_string(),
            X_DATADOG_TAGS.to_string(),
        ]
    })
}

impl TextMapPropagator for DatadogPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        // Datadog's trace id is the lower 64 bits, and zero is invalid there.
        let lower = datadog_trace_id(sc.trace_id());
        if lower == 0 {
            return;
        }
        let upper = (u128::from_be_bytes(sc.trace_id().to_bytes()) >> 64) as u64;
        injector.set(X_DATADOG_TRACE_ID, lower.to_string());
        injector.set(
            X_DATADOG_PARENT_ID,
            datadog_span_id(sc.span_id()).to_string(),
        );
        let priority = if sc.is_sampled() { "1" } else { "0" };
        injector.set(X_DATADOG_SAMPLING_PRIORITY, priority.to_string());
        if upper != 0 {
            injector.set(X_DATADOG_TAGS, format!("{TAG_TID}={upper:016x}"));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_datadog(extractor) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
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

    /// `4bf92f3577b34da6a3ce929d0e0e4736` = tid `4bf92f3577b34da6`, lower 64 bits:
    const LOWER: &str = "11803532876627986230";
    const LOWER_HEX: &str = "a3ce929d0e0e4736";
    const TID: &str = "4bf92f3577b34da6";
    /// `00f067aa0ba902b7`
    const PARENT: &str = "67667974448284343";
    const SID: &str = "00f067aa0ba902b7";

    fn trace_id(hex: &str) -> TraceId {
        TraceId::from_hex(hex).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_headers() {
        let tags = format!("_dd.p.tid={TID}");
        let full = format!("{TID}{LOWER_HEX}");
        let short = format!("{LOWER_HEX:0>32}");
        let max = u64::MAX.to_string();
        #[rustfmt::skip]
        // (trace id, parent id, sampling priority, tags, expected trace id, span id, sampled, label)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            String,
            u64,
            bool,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                LOWER,
                PARENT,
                Some("1"),
                Some(&tags),
                full.clone(),
                0x00f067aa0ba902b7,
                true,
                "128-bit, auto keep",
            ),
            (
                LOWER,
                PARENT,
                Some("2"),
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                true,
                "64-bit, user keep",
            ),
            (
                LOWER,
                PARENT,
                Some("0"),
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                false,
                "auto reject",
            ),
            (
                LOWER,
                PARENT,
                Some("-1"),
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                false,
                "user reject",
            ),
            (
                LOWER,
                PARENT,
                Some("-0"),
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                false,
                "minus zero",
            ),
            (
                LOWER,
                PARENT,
                Some("1000"),
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                true,
                "large priority",
            ),
            (
                LOWER,
                PARENT,
                None,
                None,
                short.clone(),
                0x00f067aa0ba902b7,
                false,
                "no priority: not sampled",
            ),
            (
                "1",
                "1",
                Some("1"),
                None,
                format!("{:032x}", 1),
                1,
                true,
                "smallest ids",
            ),
            (
                &max,
                &max,
                Some("1"),
                None,
                format!("{:032x}", u64::MAX),
                u64::MAX,
                true,
                "largest ids",
            ),
            (
                "007",
                "0001",
                Some("01"),
                None,
                format!("{:032x}", 7),
                1,
                true,
                "leading zeros",
            ),
            (
                " 7\t",
                "\t1 ",
                Some(" 1 "),
                None,
                format!("{:032x}", 7),
                1,
                true,
                "optional white space",
            ),
            (
                LOWER,
                PARENT,
                Some("1"),
                Some("_dd.p.tid=zz"),
                short.clone(),
                0x00f067aa0ba902b7,
                true,
                "bad tags ignored, ids kept",
            ),
        ];
        for (trace, parent, priority, tags, tid, span, sampled, label) in cases {
            let got = parse_datadog(trace, parent, priority, tags)
                .unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(got.trace_id, trace_id(&tid), "{label}");
            assert_eq!(got.span_id, SpanId::from(span), "{label}");
            assert_eq!(got.sampled, sampled, "{label}");
        }
    }

    #[test]
    fn invalid_headers() {
        use DatadogError as E;
        let megabyte = "1".repeat(1 << 20);
        let overflow = "18446744073709551616";
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, Option<&str>, E, &str)> = vec![
            ("", PARENT, None, E::TraceId, "empty trace id"),
            ("0", PARENT, None, E::TraceIdZero, "zero trace id"),
            ("000", PARENT, None, E::TraceIdZero, "zero trace id, three digits"),
            ("-5", PARENT, None, E::TraceId, "negative (signed) trace id"),
            ("+5", PARENT, None, E::TraceId, "plus sign"),
            (overflow, PARENT, None, E::TraceId, "2^64 overflows a u64"),
            ("000000000000000000001", PARENT, None, E::TraceId, "21 digits"),
            (LOWER_HEX, PARENT, None, E::TraceId, "hex trace id"),
            ("1e3", PARENT, None, E::TraceId, "exponent"),
            ("1 2", PARENT, None, E::TraceId, "inner space"),
            (&megabyte, PARENT, None, E::TraceId, "a megabyte-long trace id"),
            ("١٢٣", PARENT, None, E::TraceId, "non-ASCII digits"),
            ("12\u{0}", PARENT, None, E::TraceId, "control byte"),
            (LOWER, "", None, E::ParentId, "empty parent id"),
            (LOWER, "0", None, E::ParentIdZero, "zero parent id"),
            (LOWER, "-1", None, E::ParentId, "negative parent id"),
            (LOWER, overflow, None, E::ParentId, "parent id overflow"),
            (LOWER, &megabyte, None, E::ParentId, "a megabyte-long parent id"),
            (LOWER, PARENT, Some(""), E::SamplingPriority, "empty sampling priority"),
            (LOWER, PARENT, Some("-"), E::SamplingPriority, "lone minus"),
            (LOWER, PARENT, Some("+1"), E::SamplingPriority, "plus sign"),
            (LOWER, PARENT, Some("1.0"), E::SamplingPriority, "not an integer"),
            (LOWER, PARENT, Some("true"), E::SamplingPriority, "boolean"),
            (LOWER, PARENT, Some("99999999999999999999"), E::SamplingPriority, "20 digits"),
            (LOWER, PARENT, Some("9223372036854775808"), E::SamplingPriority, "above i64::MAX"),
            (LOWER, PARENT, Some(&megabyte), E::SamplingPriority, "a megabyte-long priority"),
            (LOWER, PARENT, Some("1\r\n"), E::SamplingPriority, "CR LF"),
        ];
        for (trace, parent, priority, reason, label) in cases {
            assert_eq!(
                parse_datadog(trace, parent, priority, None),
                Err(reason),
                "{label}"
            );
        }
    }

    #[test]
    fn valid_tags() {
        let tid = 0x4bf92f3577b34da6;
        let at_limit = format!("_dd.p.tid={TID},x={}", "v".repeat(MAX_TAGS_LEN - 29));
        assert_eq!(at_limit.len(), MAX_TAGS_LEN);
        let cases: Vec<(String, u64, &str)> = vec![
            (format!("_dd.p.tid={TID}"), tid, "tid alone"),
            (
                format!("_dd.p.dm=-4,_dd.p.tid={TID}"),
                tid,
                "with decision maker",
            ),
            (
                format!("_dd.p.tid={TID},_dd.p.usr.id=a b=c"),
                tid,
                "value with space and =",
            ),
            ("_dd.p.dm=-4".into(), 0, "no tid"),
            (String::new(), 0, "empty"),
            (
                format!(" _dd.p.tid={TID}\t"),
                tid,
                "optional white space around",
            ),
            ("_dd.p.tid=0000000000000000".into(), 0, "zero tid"),
            (at_limit, tid, "exactly 512 bytes"),
        ];
        for (value, expected, label) in cases {
            assert_eq!(parse_tags(&value), Ok(expected), "{label}");
        }
    }

    #[test]
    fn invalid_tags() {
        use TagsError as E;
        let over_limit = format!("_dd.p.tid={TID},x={}", "v".repeat(MAX_TAGS_LEN - 28));
        let cases: Vec<(String, E, &str)> = vec![
            (over_limit, E::TooLong, "513 bytes"),
            (
                format!("_dd.p.tid={TID},{}", "x=1,".repeat(1 << 18)),
                E::TooLong,
                "a megabyte",
            ),
            ("_dd.p.dm".into(), E::MissingEquals, "member without ="),
            (
                format!("_dd.p.tid={TID},"),
                E::MissingEquals,
                "trailing comma",
            ),
            (
                format!("_dd.p.dm=-4,,_dd.p.tid={TID}"),
                E::MissingEquals,
                "empty member",
            ),
            ("=1".into(), E::Key, "empty key"),
            (
                format!("_dd.p.dm=-4, _dd.p.tid={TID}"),
                E::Key,
                "space in key",
            ),
            ("_dd.p.ké=1".into(), E::Key, "non-ASCII key"),
            ("_dd.p.dm=".into(), E::Value, "empty value"),
            ("_dd.p.dm=é".into(), E::Value, "non-ASCII value"),
            ("_dd.p.dm=a\tb".into(), E::Value, "tab in value"),
            ("_dd.p.dm=\u{0}".into(), E::Value, "control byte"),
            (
                format!("_dd.p.tid={TID},_dd.p.tid={TID}"),
                E::DuplicateTid,
                "two tids",
            ),
            (
                format!("_dd.p.tid={}", TID.to_uppercase()),
                E::Tid,
                "uppercase tid",
            ),
            (format!("_dd.p.tid={}", &TID[1..]), E::Tid, "15-digit tid"),
            (format!("_dd.p.tid={TID}0"), E::Tid, "17-digit tid"),
            ("_dd.p.tid=4bf92f3577b34dzz".into(), E::Tid, "non-hex tid"),
        ];
        for (value, reason, label) in cases {
            assert_eq!(parse_tags(&value), Err(reason), "{label}");
        }
    }

    #[test]
    fn extract_sets_a_remote_span_context() {
        let tags = format!("_dd.p.tid={TID}");
        let headers = map(&[
            ("x-datadog-trace-id", LOWER),
            ("x-datadog-parent-id", PARENT),
            ("x-datadog-sampling-priority", "2"),
            ("x-datadog-tags", &tags),
            ("x-datadog-origin", "synthetics"),
        ]);
        let cx = DatadogPropagator::new().extract(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_id(), trace_id(&format!("{TID}{LOWER_HEX}")));
        assert_eq!(sc.span_id(), SpanId::from_hex(SID).unwrap());
        assert_eq!(sc.trace_flags(), TraceFlags::SAMPLED);
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
        let megabyte = "9".repeat(1 << 20);
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "no header"),
            (vec![("x-datadog-trace-id", LOWER)], "no parent id"),
            (vec![("x-datadog-parent-id", PARENT)], "no trace id"),
            (
                vec![("x-datadog-trace-id", "0"), ("x-datadog-parent-id", PARENT)],
                "zero trace id",
            ),
            (
                vec![
                    ("x-datadog-trace-id", &megabyte),
                    ("x-datadog-parent-id", PARENT),
                ],
                "a megabyte-long trace id",
            ),
            (
                vec![
                    ("x-datadog-trace-id", LOWER),
                    ("x-datadog-parent-id", PARENT),
                    ("x-datadog-sampling-priority", "keep"),
                ],
                "invalid sampling priority",
            ),
            (
                vec![("x-datadog-trace-id", "ü"), ("x-datadog-parent-id", PARENT)],
                "non-ASCII",
            ),
        ];
        let p = DatadogPropagator::new();
        for (pairs, label) in cases {
            let cx = p.extract_with_context(&base, &map(&pairs));
            assert_eq!(*cx.span().span_context(), unchanged, "{label}");
        }

        let mut headers = http::HeaderMap::new();
        headers.append("X-Datadog-Trace-Id", LOWER.parse().unwrap());
        headers.append("X-Datadog-Parent-Id", PARENT.parse().unwrap());
        headers.append(
            "X-Datadog-Tags",
            format!("_dd.p.tid={TID}").parse().unwrap(),
        );
        let cx = p.extract_with_context(&base, &HeaderMapExtractor(&headers));
        let full = trace_id(&format!("{TID}{LOWER_HEX}"));
        assert_eq!(
            cx.span().span_context().trace_id(),
            full,
            "mixed-case names"
        );
        headers.append("x-datadog-tags", "_dd.p.dm=-4".parse().unwrap());
        let cx = p.extract_with_context(&base, &HeaderMapExtractor(&headers));
        let short = trace_id(&format!("{LOWER_HEX:0>32}"));
        assert_eq!(
            cx.span().span_context().trace_id(),
            short,
            "two tags headers are ignored"
        );
        headers.append("x-datadog-trace-id", LOWER.parse().unwrap());
        let cx = p.extract_with_context(&base, &HeaderMapExtractor(&headers));
        assert_eq!(*cx.span().span_context(), unchanged, "two trace id headers");

        let long_tags = format!("_dd.p.tid={TID},{}", "x=1,".repeat(1 << 18));
        let cx = p.extract(&map(&[
            ("x-datadog-trace-id", LOWER),
            ("x-datadog-parent-id", PARENT),
            ("x-datadog-tags", &long_tags),
        ]));
        assert_eq!(
            cx.span().span_context().trace_id(),
            short,
            "a megabyte of tags is ignored"
        );
    }

    #[test]
    fn inject() {
        let p = DatadogPropagator::new();
        let sc = |trace: u128, flags| {
            SpanContext::new(
                TraceId::from(trace),
                SpanId::from_hex(SID).unwrap(),
                flags,
                false,
                TraceState::NONE,
            )
        };
        let inject = |sc| {
            let mut out = HashMap::new();
            p.inject_context(&Context::new().with_remote_span_context(sc), &mut out);
            out
        };
        let full = u128::from_str_radix(&format!("{TID}{LOWER_HEX}"), 16).unwrap();
        let tags = format!("_dd.p.tid={TID}");
        assert_eq!(
            inject(sc(full, TraceFlags::SAMPLED)),
            map(&[
                ("x-datadog-trace-id", LOWER),
                ("x-datadog-parent-id", PARENT),
                ("x-datadog-sampling-priority", "1"),
                ("x-datadog-tags", &tags),
            ])
        );
        assert_eq!(
            inject(sc(full & u128::from(u64::MAX), TraceFlags::default())),
            map(&[
                ("x-datadog-trace-id", LOWER),
                ("x-datadog-parent-id", PARENT),
                ("x-datadog-sampling-priority", "0"),
            ]),
            "64-bit trace id: no tags"
        );
        assert!(
            inject(sc(1u128 << 64, TraceFlags::SAMPLED)).is_empty(),
            "lower 64 bits zero: nothing Datadog can read"
        );
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject_context(&Context::new(), &mut out);
        assert!(out.is_empty(), "nothing without a valid span");
        assert_eq!(
            p.fields().collect::<Vec<_>>(),
            [
                "x-datadog-trace-id",
                "x-datadog-parent-id",
                "x-datadog-sampling-priority",
                "x-datadog-tags"
            ]
        );
    }

    #[test]
    fn round_trip_with_w3c() {
        let (p, w3c) = (DatadogPropagator::new(), W3cTraceContextPropagator::new());
        let tags = format!("_dd.p.tid={TID}");
        let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
            (
                vec![
                    ("x-datadog-trace-id", LOWER),
                    ("x-datadog-parent-id", PARENT),
                    ("x-datadog-sampling-priority", "1"),
                    ("x-datadog-tags", &tags),
                ],
                format!("00-{TID}{LOWER_HEX}-{SID}-01"),
            ),
            (
                vec![
                    ("x-datadog-trace-id", LOWER),
                    ("x-datadog-parent-id", PARENT),
                    ("x-datadog-sampling-priority", "0"),
                ],
                format!("00-{LOWER_HEX:0>32}-{SID}-00"),
            ),
        ];
        for (headers, traceparent) in cases {
            let headers = map(&headers);
            let cx = p.extract(&headers);
            let mut w3c_out = HashMap::new();
            w3c.inject_context(&cx, &mut w3c_out);
            assert_eq!(w3c_out["traceparent"], traceparent);

            let cx2 = w3c.extract(&w3c_out);
            let mut dd_out = HashMap::new();
            p.inject_context(&cx2, &mut dd_out);
            assert_eq!(dd_out, headers, "{traceparent}");
            let (a, b) = (cx.span(), p.extract(&dd_out));
            assert_eq!(a.span_context(), b.span().span_context(), "{traceparent}");
        }
    }
}
