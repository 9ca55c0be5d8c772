//! A strict AWS X-Ray propagator (`X-Amzn-Trace-Id`).
//!
//! Follows AWS's tracing header format
//! (<https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>)
//! and the mapping of OpenTelemetry's AWS X-Ray propagator:
//! `X-Amzn-Trace-Id: Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1}`, where
//! the two parts of `Root` (the epoch seconds and 96 random bits) are the 32
//! hex digits of the W3C trace id, and `Parent` is the caller's span id.
//!
//! Choices where the format leaves room (each rule is one commented line below):
//!
//! * fields are `key=value` pairs separated by `;`, in any order, with optional
//!   white space around them; unknown fields (`Lineage`, `Self`, ...) are
//!   ignored; `Root` and `Parent` are required, each at most once;
//! * ids are lowercase hex (what AWS sends) and not all zero; the `Root` version
//!   is `1`;
//! * `Sampled` is `1` (sampled), `0`, or absent / `?` (deferred: the flag stays
//!   unset, as with the other formats);
//! * a value over 256 bytes is refused before it is parsed (AWS's own limit for
//!   the header is far below it);
//! * two `X-Amzn-Trace-Id` headers are invalid;
//! * inject writes `Root=1-{8}-{24};Parent={16};Sampled={0|1}`.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::carrier::one_value;
use crate::ids::{decode_hex_u128, decode_hex_u64, SpanIdHex, TraceIdHex};
use crate::untrusted::trim_ows;

/// The header name (lowercase: carriers compare names case-insensitively).
const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";

/// The longest value parsed.
const MAX_LEN: usize = 256;

/// The strict AWS X-Ray propagator (`X-Amzn-Trace-Id`), `xray` in
/// `OTEL_PROPAGATORS`.
///
/// ```
/// use distributed_tracing::propagation::XrayPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "x-amzn-trace-id".to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
/// );
/// let cx = XrayPropagator::new().extract(&headers);
/// let span = cx.span();
/// assert_eq!(format!("{:032x}", span.span_context().trace_id()), "5759e988bd862e3fe1be46a994272793");
/// assert!(span.span_context().is_sampled());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct XrayPropagator {
    _private: (),
}

impl XrayPropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// Why a header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XrayError {
    TooLong,
    Field,
    Root,
    RootZero,
    Parent,
    ParentZero,
    Sampled,
    Duplicate,
    Missing,
}

/// Parses one `X-Amzn-Trace-Id` value into a remote span context.
fn parse(value: &str) -> Result<SpanContext, XrayError> {
    use XrayError as E;
    // Bounded before any work.
    if value.len() > MAX_LEN {
        return Err(E::TooLong);
    }
    let (mut root, mut parent, mut sampled) = (None, None, None);
    for field in value.split(';') {
        let field = trim_ows(field);
        if field.is_empty() {
            continue;
        }
        // field = key "=" value
        let (key, val) = field.split_once('=').ok_or(E::Field)?;
        let slot = match trim_ows(key) {
            "Root" => &mut root,
            "Parent" => &mut parent,
            "Sampled" => &mut sampled,
            // Other fields (Lineage, Self, ...) are not ours to read.
            _ => continue,
        };
        // Each known field at most once.
        if slot.replace(trim_ows(val)).is_some() {
            return Err(E::Duplicate);
        }
    }
    let (root, parent) = (root.ok_or(E::Missing)?, parent.ok_or(E::Missing)?);
    // Root = "1-" 8HEXDIGLC "-" 24HEXDIGLC
    let r = root.as_bytes();
    if r.len() != 35 || &r[..2] != b"1-" || r[10] != b'-' {
        return Err(E::Root);
    }
    let mut hex = [0u8; 32];
    hex[..8].copy_from_slice(&r[2..10]);
    hex[8..].copy_from_slice(&r[11..35]);
    let trace_id = decode_hex_u128(&hex).ok_or(E::Root)?;
    if trace_id == 0 {
        return Err(E::RootZero);
    }
    // Parent = 16HEXDIGLC, not all zeros.
    if parent.len() != 16 {
        return Err(E::Parent);
    }
    let span_id = decode_hex_u64(parent.as_bytes()).ok_or(E::Parent)?;
    if span_id == 0 {
        return Err(E::ParentZero);
    }
    // Sampled = "1" / "0"; absent or "?" defers the decision.
    let flags = match sampled {
        Some("1") => TraceFlags::SAMPLED,
        Some("0") | Some("?") | None => TraceFlags::default(),
        Some(_) => return Err(E::Sampled),
    };
    Ok(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        flags,
        true,
        TraceState::NONE,
    ))
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [X_AMZN_TRACE_ID.to_string()])
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let trace = TraceIdHex::new(sc.trace_id());
        let sampled = if sc.is_sampled() { '1' } else { '0' };
        injector.set(
            X_AMZN_TRACE_ID,
            format!(
                "Root=1-{}-{};Parent={};Sampled={sampled}",
                &trace[..8],
                &trace[8..],
                SpanIdHex::new(sc.span_id())
            ),
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Exactly one header.
        let Ok(Some(value)) = one_value(extractor, X_AMZN_TRACE_ID) else {
            return cx.clone();
        };
        match parse(value) {
            Ok(sc) => cx.with_remote_span_context(sc),
            Err(_) => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::W3cTraceContextPropagator;
    use std::collections::HashMap;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const TID: &str = "5759e988bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    #[test]
    fn valid_headers() {
        let cases = [
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=1"),
                true,
                "canonical",
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=0"),
                false,
                "not sampled",
            ),
            (
                format!("Root={ROOT};Parent={PARENT}"),
                false,
                "deferred (absent)",
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=?"),
                false,
                "deferred (?)",
            ),
            (
                format!("Sampled=1;Parent={PARENT};Root={ROOT}"),
                true,
                "any order",
            ),
            (
                format!(" Root={ROOT} ; Parent={PARENT} ;Sampled=1; "),
                true,
                "white space",
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5"),
                true,
                "unknown field",
            ),
            (
                format!(
                    "Self=1-67891234-12456789abcdef012345678;Root={ROOT};Parent={PARENT};Sampled=1"
                ),
                true,
                "Self field",
            ),
        ];
        for (value, sampled, label) in cases {
            let sc = parse(&value).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(format!("{:032x}", sc.trace_id()), TID, "{label}");
            assert_eq!(format!("{:016x}", sc.span_id()), PARENT, "{label}");
            assert_eq!(sc.is_sampled(), sampled, "{label}");
            assert!(sc.is_remote());
        }
    }

    #[test]
    fn invalid_headers() {
        use XrayError as E;
        let long = format!(
            "Root={ROOT};Parent={PARENT};Sampled=1;{}",
            "x".repeat(1 << 20)
        );
        let cases = [
            (String::new(), E::Missing, "empty"),
            (format!("Root={ROOT}"), E::Missing, "no parent"),
            (format!("Parent={PARENT}"), E::Missing, "no root"),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled"),
                E::Field,
                "field without =",
            ),
            (
                format!("Root=2-5759e988-bd862e3fe1be46a994272793;Parent={PARENT}"),
                E::Root,
                "root version 2",
            ),
            (
                format!("Root=1-5759e988bd862e3fe1be46a994272793;Parent={PARENT}"),
                E::Root,
                "root without dash",
            ),
            (
                format!("Root=1-5759E988-bd862e3fe1be46a994272793;Parent={PARENT}"),
                E::Root,
                "uppercase root",
            ),
            (
                format!("Root=1-5759e98-bd862e3fe1be46a994272793;Parent={PARENT}"),
                E::Root,
                "short epoch",
            ),
            (
                format!("Root=1-00000000-000000000000000000000000;Parent={PARENT}"),
                E::RootZero,
                "all-zero root",
            ),
            (
                format!("Root={ROOT};Parent=53995C3F42CD8AD8"),
                E::Parent,
                "uppercase parent",
            ),
            (
                format!("Root={ROOT};Parent=53995c3f42cd8ad"),
                E::Parent,
                "15-char parent",
            ),
            (
                format!("Root={ROOT};Parent=0000000000000000"),
                E::ParentZero,
                "all-zero parent",
            ),
            (
                format!("Root={ROOT};Parent={PARENT};Sampled=yes"),
                E::Sampled,
                "sampled yes",
            ),
            (
                format!("Root={ROOT};Root={ROOT};Parent={PARENT}"),
                E::Duplicate,
                "root twice",
            ),
            (
                format!("Root={ROOT};Parent={PARENT}é"),
                E::Parent,
                "non-ASCII",
            ),
            (
                format!("Root={ROOT};Parent={PARENT}\u{1}"),
                E::Parent,
                "control byte",
            ),
            (long, E::TooLong, "a megabyte-long header"),
        ];
        for (value, reason, label) in cases {
            assert_eq!(parse(&value).err(), Some(reason), "{label}");
        }
    }

    #[test]
    fn round_trip_with_w3c() {
        let mut headers = HashMap::new();
        headers.insert(
            X_AMZN_TRACE_ID.to_string(),
            format!("Root={ROOT};Parent={PARENT};Sampled=1"),
        );
        let cx = XrayPropagator::new().extract(&headers);
        let mut w3c = HashMap::new();
        W3cTraceContextPropagator::new().inject_context(&cx, &mut w3c);
        assert_eq!(w3c["traceparent"], format!("00-{TID}-{PARENT}-01"));
        let back = W3cTraceContextPropagator::new().extract(&w3c);
        let mut xray = HashMap::new();
        XrayPropagator::new().inject_context(&back, &mut xray);
        assert_eq!(
            xray[X_AMZN_TRACE_ID],
            format!("Root={ROOT};Parent={PARENT};Sampled=1")
        );
    }

    #[test]
    fn two_headers_are_invalid() {
        let mut headers = http::HeaderMap::new();
        let value = format!("Root={ROOT};Parent={PARENT};Sampled=1");
        headers.append("x-amzn-trace-id", value.parse().unwrap());
        let one = XrayPropagator::new().extract(&crate::propagation::HeaderMapExtractor(&headers));
        assert!(one.span().span_context().is_valid());
        headers.append("X-Amzn-Trace-Id", value.parse().unwrap());
        let two = XrayPropagator::new().extract(&crate::propagation::HeaderMapExtractor(&headers));
        assert!(!two.span().span_context().is_valid());
    }
}
