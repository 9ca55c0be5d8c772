//! A strict B3 propagator (Zipkin): the single `b3` header and the multi-header
//! `X-B3-*` encoding.
//!
//! Follows the B3 specification (<https://github.com/openzipkin/b3-propagation>)
//! and the B3 requirements of the OpenTelemetry propagators specification
//! (<https://opentelemetry.io/docs/specs/otel/context/api-propagators/#b3-requirements>).
//! Every rule the parsers check is one commented line below, and the tests at the
//! end of this file label each rejected input with the rule it breaks.
//!
//! Choices where the specifications leave room:
//!
//! * both encodings are read on extract, whichever one the propagator injects;
//!   a valid `b3` header takes precedence, and when it is absent, invalid, or a
//!   bare sampling decision (`b3: 0`), the `X-B3-*` headers are tried;
//! * a bare sampling decision (`0`, `1` or `d`) is valid syntax but carries no
//!   trace to continue, so on its own it leaves the context unchanged;
//! * ids are lowercase hex of the exact lengths (trace id 16 or 32 characters, a
//!   16-character one is left-padded with zeros to 128 bits; span ids 16) and not
//!   all zeros; the parent span id of the single header is checked the same way
//!   and then ignored, and `X-B3-ParentSpanId` is ignored without being read;
//! * `X-B3-Sampled` is `1` or `0`, and the legacy `true` / `false` are accepted on
//!   extract; `X-B3-Flags` is `1` (debug) or `0`; any other value of either makes
//!   the headers invalid;
//! * debug (`d`, `X-B3-Flags: 1`) implies sampled and wins over `X-B3-Sampled`;
//!   it is sent on to the next service (`d` / `X-B3-Flags: 1`), as the
//!   OpenTelemetry B3 specification asks, for the trace it came with;
//! * an absent sampling state ("defer") is a valid remote span context with the
//!   `sampled` flag unset: OpenTelemetry's trace flags cannot say "undecided", as
//!   with the B3 propagators of OpenTelemetry Java and Go. Note that the default
//!   `ParentBased` sampler then treats the trace as not sampled;
//! * a header given twice (two `b3`, two `X-B3-TraceId`, ...) is invalid;
//! * optional white space (spaces, tabs) around a header value is allowed.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::carrier::one_value;
use crate::ids::{decode_hex_u128, decode_hex_u64, SpanIdHex, TraceIdHex};
use crate::untrusted::trim_ows;

/// The single-header name.
const B3: &str = "b3";
/// The multi-header names, lowercase (header names are case-insensitive).
const X_B3_TRACE_ID: &str = "x-b3-traceid";
const X_B3_SPAN_ID: &str = "x-b3-spanid";
const X_B3_SAMPLED: &str = "x-b3-sampled";
const X_B3_FLAGS: &str = "x-b3-flags";

/// `{32}-{16}-{1}-{16}`: the longest single-header value.
const MAX_SINGLE_LEN: usize = 32 + 1 + 16 + 1 + 1 + 1 + 16;

/// The strict B3 propagator, in the single-header or the multi-header encoding.
///
/// The encoding chosen by the constructor is the one written on inject; extract
/// reads both (the single `b3` header first). Implements OpenTelemetry's
/// [`TextMapPropagator`].
///
/// ```
/// use distributed_tracing::propagation::B3Propagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "b3".to_string(),
///     "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".to_string(),
/// );
/// let cx = B3Propagator::single_header().extract(&headers);
/// let span = cx.span();
/// assert!(span.span_context().is_remote() && span.span_context().is_sampled());
///
/// let mut out = HashMap::new();
/// B3Propagator::multi_header().inject_context(&cx, &mut out);
/// assert_eq!(out["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
/// assert_eq!(out["x-b3-spanid"], "e457b5a2e4d86bd1");
/// assert_eq!(out["x-b3-sampled"], "1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct B3Propagator {
    encoding: Encoding,
}

/// Which headers inject writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Single,
    Multi,
}

impl B3Propagator {
    /// Injects the single header `b3: {TraceId}-{SpanId}-{1|0}`.
    pub const fn single_header() -> Self {
        Self {
            encoding: Encoding::Single,
        }
    }

    /// Injects `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled` (`1` or `0`).
    pub const fn multi_header() -> Self {
        Self {
            encoding: Encoding::Multi,
        }
    }
}

/// Why a B3 value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B3Error {
    Empty,
    TooLong,
    FieldCount,
    TraceIdLength,
    TraceId,
    TraceIdZero,
    SpanIdLength,
    SpanId,
    SpanIdZero,
    SamplingState,
    ParentSpanIdLength,
    ParentSpanId,
    ParentSpanIdZero,
    Sampled,
    Flags,
}

/// A sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sampling {
    Deny,
    Accept,
    Debug,
}

/// The trace a B3 value continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct B3Context {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    /// `None`: the sampling decision is deferred.
    pub(crate) sampling: Option<Sampling>,
}

impl B3Context {
    fn span_context(&self) -> SpanContext {
        let flags = match self.sampling {
            // Debug implies an accept decision.
            Some(Sampling::Accept | Sampling::Debug) => TraceFlags::SAMPLED,
            // Deferred: OpenTelemetry cannot say "undecided"; the flag stays unset.
            Some(Sampling::Deny) | None => TraceFlags::default(),
        };
        SpanContext::new(self.trace_id, self.span_id, flags, true, TraceState::NONE)
    }
}

/// A parsed single `b3` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B3Single {
    /// Only a sampling decision (`b3: 0`): no trace to continue.
    SamplingOnly(Sampling),
    /// A trace to continue.
    Context(B3Context),
}

/// TraceId = 16 or 32 lower-hex characters, not all zeros; a 64-bit id is
/// left-padded with zeros to 128 bits.
fn parse_trace_id(b: &[u8]) -> Result<TraceId, B3Error> {
    if b.len() != 16 && b.len() != 32 {
        return Err(B3Error::TraceIdLength);
    }
    match decode_hex_u128(b) {
        None => Err(B3Error::TraceId),
        Some(0) => Err(B3Error::TraceIdZero),
        Some(id) => Ok(TraceId::from(id)),
    }
}

/// SpanId = 16 lower-hex characters, not all zeros.
fn parse_span_id(b: &[u8]) -> Result<SpanId, B3Error> {
    if b.len() != 16 {
        return Err(B3Error::SpanIdLength);
    }
    match decode_hex_u64(b) {
        None => Err(B3Error::SpanId),
        Some(0) => Err(B3Error::SpanIdZero),
        Some(id) => Ok(SpanId::from(id)),
    }
}

/// SamplingState = `0` (deny), `1` (accept) or `d` (debug).
fn parse_sampling_state(b: &[u8]) -> Result<Sampling, B3Error> {
    match b {
        b"0" => Ok(Sampling::Deny),
        b"1" => Ok(Sampling::Accept),
        b"d" => Ok(Sampling::Debug),
        _ => Err(B3Error::SamplingState),
    }
}

/// Parses one single-header `b3` value, strictly.
pub(crate) fn parse_single(value: &str) -> Result<B3Single, B3Error> {
    use B3Error as E;
    // HTTP allows optional white space around a header value.
    let b = trim_ows(value).as_bytes();
    // An empty value carries nothing.
    if b.is_empty() {
        return Err(E::Empty);
    }
    // The longest form, {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}, has 68 characters.
    if b.len() > MAX_SINGLE_LEN {
        return Err(E::TooLong);
    }
    // A value of one character is a bare sampling decision: `0`, `1` or `d`.
    if b.len() == 1 {
        return parse_sampling_state(b).map(B3Single::SamplingOnly);
    }
    // b3 = TraceId "-" SpanId [ "-" SamplingState [ "-" ParentSpanId ] ]
    let mut fields = b.split(|&c| c == b'-');
    let (Some(trace), Some(span), sampling, parent, None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(E::FieldCount);
    };
    let trace_id = parse_trace_id(trace)?;
    let span_id = parse_span_id(span)?;
    // The sampling state, when present, is `0`, `1` or `d` (an empty field is not absent).
    let sampling = sampling.map(parse_sampling_state).transpose()?;
    // ParentSpanId = 16 lower-hex characters, not all zeros; checked, then ignored.
    if let Some(parent) = parent {
        if parent.len() != 16 {
            return Err(E::ParentSpanIdLength);
        }
        match decode_hex_u64(parent) {
            None => return Err(E::ParentSpanId),
            Some(0) => return Err(E::ParentSpanIdZero),
            Some(_) => {}
        }
    }
    Ok(B3Single::Context(B3Context {
        trace_id,
        span_id,
        sampling,
    }))
}

/// Parses the `X-B3-*` header values, strictly. `X-B3-ParentSpanId` is ignored.
pub(crate) fn parse_multi(
    trace_id: &str,
    span_id: &str,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Result<B3Context, B3Error> {
    use B3Error as E;
    // HTTP allows optional white space around a header value.
    let trace_id = parse_trace_id(trim_ows(trace_id).as_bytes())?;
    let span_id = parse_span_id(trim_ows(span_id).as_bytes())?;
    // X-B3-Sampled = `1` (accept) or `0` (deny); the legacy `true` / `false` are read too.
    let sampled = match sampled.map(trim_ows) {
        None => None,
        Some("1" | "true") => Some(Sampling::Accept),
        Some("0" | "false") => Some(Sampling::Deny),
        Some(_) => return Err(E::Sampled),
    };
    // X-B3-Flags = `1` (debug); `0` is "not debug".
    let debug = match flags.map(trim_ows) {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(E::Flags),
    };
    Ok(B3Context {
        trace_id,
        span_id,
        // Debug implies an accept decision, whatever `X-B3-Sampled` says.
        sampling: if debug {
            Some(Sampling::Debug)
        } else {
            sampled
        },
    })
}

/// The remote span context the headers carry, `None` if none is valid.
fn extract_b3(extractor: &dyn Extractor) -> Option<B3Context> {
    // The single header takes precedence when it carries a trace.
    if let Ok(Some(value)) = one_value(extractor, B3) {
        if let Ok(B3Single::Context(b3)) = parse_single(value) {
            return Some(b3);
        }
    }
    // Both ids are needed to continue a trace; each header at most once.
    let trace_id = one_value(extractor, X_B3_TRACE_ID).ok()??;
    let span_id = one_value(extractor, X_B3_SPAN_ID).ok()??;
    let sampled = one_value(extractor, X_B3_SAMPLED).ok()?;
    let flags = one_value(extractor, X_B3_FLAGS).ok()?;
    parse_multi(trace_id, span_id, sampled, flags).ok()
}

/// A caller's B3 debug decision, kept in the context beside the span context
/// (OpenTelemetry's trace flags have no debug bit) and bound to its trace, so
/// that it is sent on as the OpenTelemetry B3 specification asks ("debug MUST
/// be propagated").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct B3Debug(TraceId);

fn single_fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [B3.to_string()])
}

fn multi_fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 4]> = OnceLock::new();
    FIELDS.get_or_init(|| {
        [
            X_B3_TRACE_ID.to_string(),
            X_B3_SPAN_ID.to_string(),
            X_B3_SAMPLED.to_string(),
            X_B3_FLAGS.to_string(),
        ]
    })
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let trace_id = TraceIdHex::new(sc.trace_id());
        let span_id = SpanIdHex::new(sc.span_id());
        let debug = cx.get::<B3Debug>() == Some(&B3Debug(sc.trace_id()));
        let sampled = if sc.is_sampled() { "1" } else { "0" };
        match (self.encoding, debug) {
            (Encoding::Single, true) => injector.set(B3, format!("{trace_id}-{span_id}-d")),
            (Encoding::Single, false) => {
                injector.set(B3, format!("{trace_id}-{span_id}-{sampled}"))
            }
            (Encoding::Multi, _) => {
                injector.set(X_B3_TRACE_ID, trace_id.to_string());
                injector.set(X_B3_SPAN_ID, span_id.to_string());
                // Debug implies sampled; `X-B3-Sampled` is omitted with it.
                match debug {
                    true => injector.set(X_B3_FLAGS, "1".to_string()),
                    false => injector.set(X_B3_SAMPLED, sampled.to_string()),
                }
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_b3(extractor) {
            Some(b3) if b3.sampling == Some(Sampling::Debug) => cx
                .with_remote_span_context(b3.span_context())
                .with_value(B3Debug(b3.trace_id)),
            Some(b3) => cx.with_remote_span_context(b3.span_context()),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(match self.encoding {
            Encoding::Single => single_fields(),
            Encoding::Multi => multi_fields(),
        })
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;
    use std::collections::HashMap;

    /// The OpenTelemetry B3 specification: a caller's debug flag is sent on,
    /// by both encodings, from the continued trace's child spans too.
    #[test]
    fn debug_is_propagated() {
        let tid = "80f198ee56343ba864fe8b2a57d3eff7";
        for (carrier, label) in [
            (vec![("b3", format!("{tid}-e457b5a2e4d86bd1-d"))], "single"),
            (
                vec![
                    ("x-b3-traceid", tid.to_string()),
                    ("x-b3-spanid", "e457b5a2e4d86bd1".to_string()),
                    ("x-b3-flags", "1".to_string()),
                ],
                "multi",
            ),
        ] {
            let map: HashMap<String, String> = carrier
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let cx = B3Propagator::single_header().extract(&map);
            assert!(cx.span().span_context().is_sampled(), "{label}");
            let mut single = HashMap::new();
            B3Propagator::single_header().inject_context(&cx, &mut single);
            assert!(single["b3"].ends_with("-d"), "{label}: {single:?}");
            let mut multi = HashMap::new();
            B3Propagator::multi_header().inject_context(&cx, &mut multi);
            assert_eq!(
                multi.get("x-b3-flags").map(String::as_str),
                Some("1"),
                "{label}"
            );
            assert!(!multi.contains_key("x-b3-sampled"), "{label}");
        }
        // A sampled (not debug) caller is not turned into a debug one.
        let map: HashMap<String, String> =
            [("b3".to_string(), format!("{tid}-e457b5a2e4d86bd1-1"))].into();
        let cx = B3Propagator::single_header().extract(&map);
        let mut out = HashMap::new();
        B3Propagator::single_header().inject_context(&cx, &mut out);
        assert!(out["b3"].ends_with("-1"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{HeaderMapExtractor, W3cTraceContextPropagator};
    use std::collections::HashMap;

    const TID: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const TID64: &str = "a3ce929d0e0e4736";
    const SID: &str = "e457b5a2e4d86bd1";
    const PID: &str = "05e3ac9a4f6e3b90";

    fn trace_id(hex: &str) -> TraceId {
        TraceId::from_hex(hex).unwrap()
    }

    fn ctx(trace: &str, sampling: Option<Sampling>) -> B3Single {
        B3Single::Context(B3Context {
            trace_id: trace_id(trace),
            span_id: SpanId::from_hex(SID).unwrap(),
            sampling,
        })
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A context that already holds a (different) remote span: a failed extract
    /// must hand it back unchanged.
    fn base() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    }

    fn extract_sc(p: B3Propagator, pairs: &[(&str, &str)]) -> SpanContext {
        p.extract_with_context(&base(), &map(pairs))
            .span()
            .span_context()
            .clone()
    }

    #[test]
    fn valid_single_headers() {
        use Sampling::*;
        let cases = [
            (
                format!("{TID}-{SID}-1-{PID}"),
                ctx(TID, Some(Accept)),
                "all fields",
            ),
            (format!("{TID}-{SID}-1"), ctx(TID, Some(Accept)), "accept"),
            (format!("{TID}-{SID}-0"), ctx(TID, Some(Deny)), "deny"),
            (format!("{TID}-{SID}-d"), ctx(TID, Some(Debug)), "debug"),
            (
                format!("{TID}-{SID}-d-{PID}"),
                ctx(TID, Some(Debug)),
                "debug with parent",
            ),
            (format!("{TID}-{SID}"), ctx(TID, None), "deferred"),
            (
                format!("{TID64}-{SID}-1"),
                ctx(&format!("{:0>32}", TID64), Some(Accept)),
                "64-bit trace id, left-padded",
            ),
            (
                format!(" \t{TID}-{SID}-1\t "),
                ctx(TID, Some(Accept)),
                "optional white space",
            ),
            ("0".to_string(), B3Single::SamplingOnly(Deny), "bare deny"),
            (
                "1".to_string(),
                B3Single::SamplingOnly(Accept),
                "bare accept",
            ),
            ("d".to_string(), B3Single::SamplingOnly(Debug), "bare debug"),
        ];
        for (header, expected, label) in cases {
            assert_eq!(parse_single(&header), Ok(expected), "{label}");
        }
    }

    #[test]
    fn invalid_single_headers() {
        use B3Error as E;
        let megabyte = format!("{TID}-{SID}-1-{PID}{}", "0".repeat(1 << 20));
        let cases: Vec<(String, E, &str)> = vec![
            (String::new(), E::Empty, "empty"),
            (" \t ".into(), E::Empty, "white space only"),
            (megabyte, E::TooLong, "a megabyte-long header"),
            (format!("{TID}-{SID}-1-{PID}0"), E::TooLong, "69 characters"),
            (
                "2".into(),
                E::SamplingState,
                "bare sampling state not 0/1/d",
            ),
            ("D".into(), E::SamplingState, "uppercase bare debug"),
            ("-".into(), E::SamplingState, "single dash"),
            (TID.into(), E::FieldCount, "trace id without span id"),
            (
                format!("{TID64}-{SID}-1-{PID}-x"),
                E::FieldCount,
                "five fields",
            ),
            (
                format!("{}-{SID}-1", &TID[1..]),
                E::TraceIdLength,
                "31-char trace id",
            ),
            (
                format!("{}-{SID}-1", &TID64[1..]),
                E::TraceIdLength,
                "15-char trace id",
            ),
            (
                format!("{TID64}0-{SID}-1"),
                E::TraceIdLength,
                "17-char trace id",
            ),
            (format!("-{SID}-1"), E::TraceIdLength, "empty trace id"),
            (
                format!("{}-{SID}-1", TID.to_uppercase()),
                E::TraceId,
                "uppercase trace id",
            ),
            (
                format!("{}g-{SID}-1", &TID[..31]),
                E::TraceId,
                "non-hex trace id",
            ),
            (
                format!("{}-{SID}-1", "0".repeat(32)),
                E::TraceIdZero,
                "all-zero trace id",
            ),
            (
                format!("{}-{SID}-1", "0".repeat(16)),
                E::TraceIdZero,
                "all-zero 64-bit trace id",
            ),
            (
                format!("{TID}-{}-1", &SID[1..]),
                E::SpanIdLength,
                "15-char span id",
            ),
            (
                format!("{TID}-{SID}0-1"),
                E::SpanIdLength,
                "17-char span id",
            ),
            (format!("{TID}-"), E::SpanIdLength, "empty span id"),
            (
                format!("{TID}-{}-1", SID.to_uppercase()),
                E::SpanId,
                "uppercase span id",
            ),
            (
                format!("{TID}-{}-1", "0".repeat(16)),
                E::SpanIdZero,
                "all-zero span id",
            ),
            (
                format!("{TID}-{SID}-"),
                E::SamplingState,
                "empty sampling state",
            ),
            (
                format!("{TID}-{SID}-2"),
                E::SamplingState,
                "sampling state 2",
            ),
            (
                format!("{TID}-{SID}-D"),
                E::SamplingState,
                "uppercase debug",
            ),
            (
                format!("{TID}-{SID}-true"),
                E::SamplingState,
                "true is multi-header only",
            ),
            (
                format!("{TID}-{SID}-1-"),
                E::ParentSpanIdLength,
                "empty parent span id",
            ),
            (
                format!("{TID64}-{SID}-1-{TID}"),
                E::ParentSpanIdLength,
                "32-char parent span id",
            ),
            (
                format!("{TID}-{SID}-1-{}", PID.to_uppercase()),
                E::ParentSpanId,
                "uppercase parent span id",
            ),
            (
                format!("{TID}-{SID}-1-{}", "0".repeat(16)),
                E::ParentSpanIdZero,
                "all-zero parent span id",
            ),
            (
                format!("{TID}_{SID}_1"),
                E::FieldCount,
                "underscore separators",
            ),
            (
                format!("{}-{SID}-1", "é".repeat(16)),
                E::TraceId,
                "non-ASCII trace id",
            ),
            (
                format!("{TID}-{}\u{0}-1", &SID[..15]),
                E::SpanId,
                "control byte",
            ),
            (format!("{TID}-{SID}-\n"), E::SamplingState, "newline"),
        ];
        for (header, reason, label) in cases {
            assert_eq!(parse_single(&header), Err(reason), "{label}: {header:.80}");
        }
    }

    #[test]
    fn valid_multi_headers() {
        use Sampling::*;
        // (trace id, X-B3-Sampled, X-B3-Flags, expected sampling, label)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<Sampling>,
            &'a str,
        );
        let cases: [Case; 10] = [
            (TID, Some("1"), None, Some(Accept), "accept"),
            (TID, Some("0"), None, Some(Deny), "deny"),
            (TID, Some("true"), None, Some(Accept), "legacy true"),
            (TID, Some("false"), None, Some(Deny), "legacy false"),
            (TID, None, None, None, "deferred"),
            (TID, None, Some("1"), Some(Debug), "debug"),
            (
                TID,
                Some("0"),
                Some("1"),
                Some(Debug),
                "debug wins over deny",
            ),
            (
                TID,
                Some("1"),
                Some("0"),
                Some(Accept),
                "flags 0 is not debug",
            ),
            (TID64, Some("1"), None, Some(Accept), "64-bit trace id"),
            (
                TID,
                Some(" 1\t"),
                None,
                Some(Accept),
                "optional white space",
            ),
        ];
        for (trace, sampled, flags, sampling, label) in cases {
            let got = parse_multi(trace, SID, sampled, flags)
                .unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(got.trace_id, trace_id(&format!("{trace:0>32}")), "{label}");
            assert_eq!(got.span_id, SpanId::from_hex(SID).unwrap(), "{label}");
            assert_eq!(got.sampling, sampling, "{label}");
        }
    }

    #[test]
    fn invalid_multi_headers() {
        use B3Error as E;
        let megabyte = "a".repeat(1 << 20);
        let upper_tid = TID.to_uppercase();
        let upper_sid = SID.to_uppercase();
        let zero32 = "0".repeat(32);
        let zero16 = "0".repeat(16);
        let non_ascii = "é".repeat(8);
        // (trace id, span id, X-B3-Sampled, X-B3-Flags, rule broken, label)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            E,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                &TID[1..],
                SID,
                None,
                None,
                E::TraceIdLength,
                "31-char trace id",
            ),
            ("", SID, None, None, E::TraceIdLength, "empty trace id"),
            (
                &megabyte,
                SID,
                None,
                None,
                E::TraceIdLength,
                "a megabyte-long trace id",
            ),
            (
                &upper_tid,
                SID,
                None,
                None,
                E::TraceId,
                "uppercase trace id",
            ),
            (
                &zero32,
                SID,
                None,
                None,
                E::TraceIdZero,
                "all-zero trace id",
            ),
            (
                &zero16,
                SID,
                None,
                None,
                E::TraceIdZero,
                "all-zero 64-bit trace id",
            ),
            (
                &non_ascii,
                SID,
                None,
                None,
                E::TraceId,
                "non-ASCII trace id (16 bytes)",
            ),
            (
                TID,
                &SID[1..],
                None,
                None,
                E::SpanIdLength,
                "15-char span id",
            ),
            (
                TID,
                &megabyte,
                None,
                None,
                E::SpanIdLength,
                "a megabyte-long span id",
            ),
            (TID, &upper_sid, None, None, E::SpanId, "uppercase span id"),
            (TID, &zero16, None, None, E::SpanIdZero, "all-zero span id"),
            (TID, SID, Some("2"), None, E::Sampled, "sampled 2"),
            (
                TID,
                SID,
                Some("d"),
                None,
                E::Sampled,
                "d is single-header only",
            ),
            (TID, SID, Some("True"), None, E::Sampled, "capitalised True"),
            (TID, SID, Some(""), None, E::Sampled, "empty sampled"),
            (
                TID,
                SID,
                Some("1\u{0}"),
                None,
                E::Sampled,
                "control byte in sampled",
            ),
            (
                TID,
                SID,
                Some(&megabyte),
                None,
                E::Sampled,
                "a megabyte-long sampled",
            ),
            (TID, SID, None, Some("2"), E::Flags, "flags 2"),
            (TID, SID, None, Some("true"), E::Flags, "flags true"),
            (TID, SID, None, Some(""), E::Flags, "empty flags"),
        ];
        for (trace, span, sampled, flags, reason, label) in cases {
            assert_eq!(
                parse_multi(trace, span, sampled, flags),
                Err(reason),
                "{label}"
            );
        }
    }

    #[test]
    fn extract_sets_a_remote_span_context() {
        for p in [B3Propagator::single_header(), B3Propagator::multi_header()] {
            // (headers, sampled, label)
            type Case = (Vec<(&'static str, String)>, bool, &'static str);
            let cases: [Case; 6] = [
                (
                    vec![("b3", format!("{TID}-{SID}-1"))],
                    true,
                    "single, accept",
                ),
                (
                    vec![("b3", format!("{TID}-{SID}-d"))],
                    true,
                    "single, debug",
                ),
                (
                    vec![("b3", format!("{TID}-{SID}"))],
                    false,
                    "single, deferred",
                ),
                (
                    vec![
                        ("x-b3-traceid", TID.into()),
                        ("x-b3-spanid", SID.into()),
                        ("x-b3-sampled", "1".into()),
                        ("x-b3-parentspanid", "not even hex".into()),
                    ],
                    true,
                    "multi, parent span id ignored",
                ),
                (
                    vec![("x-b3-traceid", TID.into()), ("x-b3-spanid", SID.into())],
                    false,
                    "multi, deferred",
                ),
                (
                    vec![
                        ("x-b3-traceid", TID.into()),
                        ("x-b3-spanid", SID.into()),
                        ("x-b3-flags", "1".into()),
                    ],
                    true,
                    "multi, debug",
                ),
            ];
            for (pairs, sampled, label) in cases {
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let sc = extract_sc(p, &pairs);
                assert!(sc.is_valid() && sc.is_remote(), "{label}");
                assert_eq!(sc.trace_id(), trace_id(TID), "{label}");
                assert_eq!(sc.span_id(), SpanId::from_hex(SID).unwrap(), "{label}");
                assert_eq!(sc.is_sampled(), sampled, "{label}");
                assert_eq!(
                    sc.trace_flags().to_u8() & !1,
                    0,
                    "{label}: only the sampled flag"
                );
            }
        }
    }

    #[test]
    fn single_header_takes_precedence_and_falls_back_to_multi() {
        let p = B3Propagator::single_header();
        let single = format!("{TID}-{SID}-0");
        let multi = [
            ("x-b3-traceid", TID64),
            ("x-b3-spanid", PID),
            ("x-b3-sampled", "1"),
        ];
        let with = |b3: &str| {
            let mut pairs = multi.to_vec();
            pairs.push(("b3", b3));
            extract_sc(p, &pairs)
        };
        let sc = with(&single);
        assert_eq!(
            (sc.trace_id(), sc.is_sampled()),
            (trace_id(TID), false),
            "valid b3 wins"
        );
        for (b3, label) in [("0", "bare sampling state"), ("garbage", "invalid b3")] {
            let sc = with(b3);
            assert_eq!(sc.trace_id(), trace_id(&format!("{TID64:0>32}")), "{label}");
            assert_eq!(sc.span_id(), SpanId::from_hex(PID).unwrap(), "{label}");
        }
    }

    #[test]
    fn invalid_input_leaves_the_context_unchanged() {
        let unchanged = base().span().span_context().clone();
        let megabyte = "a".repeat(1 << 20);
        let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
            (vec![], "no header"),
            (vec![("b3", "0".into())], "bare sampling state alone"),
            (vec![("b3", "1".into())], "bare accept alone"),
            (
                vec![("b3", format!("{TID}-{SID}-x"))],
                "invalid single header",
            ),
            (vec![("b3", megabyte.clone())], "a megabyte-long b3"),
            (vec![("b3", "ü".repeat(40))], "non-ASCII b3"),
            (
                vec![("b3", format!("{TID}-{SID}\r\n-1"))],
                "control bytes in b3",
            ),
            (vec![("x-b3-traceid", TID.into())], "multi without span id"),
            (vec![("x-b3-spanid", SID.into())], "multi without trace id"),
            (
                vec![("x-b3-sampled", "1".into())],
                "multi sampling decision only",
            ),
            (
                vec![
                    ("x-b3-traceid", megabyte.clone()),
                    ("x-b3-spanid", SID.into()),
                ],
                "a megabyte-long x-b3-traceid",
            ),
            (
                vec![
                    ("x-b3-traceid", TID.into()),
                    ("x-b3-spanid", SID.into()),
                    ("x-b3-sampled", "yes".into()),
                ],
                "invalid x-b3-sampled",
            ),
            (
                vec![
                    ("x-b3-traceid", TID.into()),
                    ("x-b3-spanid", SID.into()),
                    ("x-b3-flags", megabyte),
                ],
                "a megabyte-long x-b3-flags",
            ),
        ];
        for p in [B3Propagator::single_header(), B3Propagator::multi_header()] {
            for (pairs, label) in &cases {
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                assert_eq!(extract_sc(p, &pairs), unchanged, "{label}");
            }
        }
    }

    #[test]
    fn repeated_headers_are_invalid() {
        let p = B3Propagator::single_header();
        let value = format!("{TID}-{SID}-1");
        let mut headers = http::HeaderMap::new();
        headers.append("B3", value.parse().unwrap());
        let sc = p
            .extract(&HeaderMapExtractor(&headers))
            .span()
            .span_context()
            .clone();
        assert!(sc.is_valid(), "names are case-insensitive");
        headers.append("b3", value.parse().unwrap());
        let sc = p
            .extract(&HeaderMapExtractor(&headers))
            .span()
            .span_context()
            .clone();
        assert!(!sc.is_valid(), "two b3 headers");

        let mut headers = http::HeaderMap::new();
        headers.append("X-B3-TraceId", TID.parse().unwrap());
        headers.append("X-B3-SpanId", SID.parse().unwrap());
        headers.append("X-B3-Sampled", "1".parse().unwrap());
        let sc = p
            .extract(&HeaderMapExtractor(&headers))
            .span()
            .span_context()
            .clone();
        assert!(sc.is_valid() && sc.is_sampled(), "mixed-case names");
        headers.append("X-B3-Sampled", "0".parse().unwrap());
        let sc = p
            .extract(&HeaderMapExtractor(&headers))
            .span()
            .span_context()
            .clone();
        assert!(!sc.is_valid(), "two X-B3-Sampled headers");
    }

    #[test]
    fn inject_writes_the_chosen_encoding() {
        let sc = |flags| {
            SpanContext::new(
                TraceId::from_hex(TID64).unwrap(),
                SpanId::from_hex(SID).unwrap(),
                flags,
                false,
                TraceState::NONE,
            )
        };
        let padded = format!("{TID64:0>32}");
        for (flags, s) in [(TraceFlags::SAMPLED, "1"), (TraceFlags::default(), "0")] {
            let cx = Context::new().with_remote_span_context(sc(flags));
            let mut out = HashMap::new();
            B3Propagator::single_header().inject_context(&cx, &mut out);
            assert_eq!(out, map(&[("b3", format!("{padded}-{SID}-{s}").as_str())]));
            let mut out = HashMap::new();
            B3Propagator::multi_header().inject_context(&cx, &mut out);
            let expected = map(&[
                ("x-b3-traceid", padded.as_str()),
                ("x-b3-spanid", SID),
                ("x-b3-sampled", s),
            ]);
            assert_eq!(out, expected);
        }
        // Debug is sent on (see `debug_tests`).
        let cx = B3Propagator::single_header()
            .extract(&map(&[("b3", format!("{TID}-{SID}-d").as_str())]));
        let mut out = HashMap::new();
        B3Propagator::single_header().inject_context(&cx, &mut out);
        assert_eq!(out["b3"], format!("{TID}-{SID}-d"));
    }

    #[test]
    fn inject_writes_nothing_without_a_valid_span() {
        for p in [B3Propagator::single_header(), B3Propagator::multi_header()] {
            let mut out: HashMap<String, String> = HashMap::new();
            p.inject_context(&Context::new(), &mut out);
            assert!(out.is_empty());
        }
    }

    #[test]
    fn fields_are_the_injected_headers() {
        let (single, multi) = (B3Propagator::single_header(), B3Propagator::multi_header());
        assert_eq!(single.fields().collect::<Vec<_>>(), ["b3"]);
        assert_eq!(
            multi.fields().collect::<Vec<_>>(),
            ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]
        );
    }

    #[test]
    fn round_trip_with_w3c() {
        let w3c = W3cTraceContextPropagator::new();
        let cases = [
            (format!("{TID}-{SID}-1"), "01", format!("{TID}-{SID}-1")),
            (format!("{TID}-{SID}-0"), "00", format!("{TID}-{SID}-0")),
            (format!("{TID}-{SID}-d"), "01", format!("{TID}-{SID}-1")),
            (format!("{TID}-{SID}"), "00", format!("{TID}-{SID}-0")),
            (
                format!("{TID64}-{SID}-1-{PID}"),
                "01",
                format!("{TID64:0>32}-{SID}-1"),
            ),
        ];
        for (b3, w3c_flags, back) in cases {
            for p in [B3Propagator::single_header(), B3Propagator::multi_header()] {
                let cx = p.extract(&map(&[("b3", b3.as_str())]));
                let mut w3c_out = HashMap::new();
                w3c.inject_context(&cx, &mut w3c_out);
                let tid = format!("{:0>32}", b3.split('-').next().unwrap());
                assert_eq!(
                    w3c_out["traceparent"],
                    format!("00-{tid}-{SID}-{w3c_flags}"),
                    "{b3}"
                );

                let cx = w3c.extract(&w3c_out);
                let mut b3_out = HashMap::new();
                p.inject_context(&cx, &mut b3_out);
                let again = p.extract(&b3_out);
                let (a, b) = (cx.span(), again.span());
                let (a, b) = (a.span_context(), b.span_context());
                assert_eq!(
                    (a.trace_id(), a.span_id()),
                    (b.trace_id(), b.span_id()),
                    "{b3}"
                );
                assert_eq!(a.is_sampled(), b.is_sampled(), "{b3}");
                if p == B3Propagator::single_header() {
                    assert_eq!(b3_out["b3"], back, "{b3}");
                }
            }
        }
    }
}
