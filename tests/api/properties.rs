//! Property tests over the public API: extraction never panics and never lets an
//! invalid input through, valid contexts round-trip through every propagator, the
//! id parsers agree with a reference predicate, and configuration parsing never
//! panics. Each property runs proptest's default 256 cases.
//!
//! No global propagator is installed in this binary, so
//! `extract_trace_context_from_pairs` uses the default (W3C Trace Context and
//! W3C Baggage).

use std::collections::HashMap;

use distributed_tracing::logging::TraceContextFormat;
use distributed_tracing::opentelemetry::baggage::{Baggage, BaggageExt};
use distributed_tracing::opentelemetry::propagation::TextMapPropagator;
use distributed_tracing::opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use distributed_tracing::opentelemetry::Context;
use distributed_tracing::propagation::{
    B3Propagator, HeaderMapExtractor, PairsExtractor, PropagatorName, W3cBaggagePropagator,
    W3cPropagator, W3cTraceContextPropagator,
};
use distributed_tracing::{
    extract_trace_context_from_headers, extract_trace_context_from_pairs, parse_span_id,
    parse_trace_id, ObservabilityBuilder,
};
use proptest::prelude::*;

// The header names and the reference rules, shared with the fuzz targets.
#[path = "../common/reference.rs"]
mod reference;
use reference::{reference_id, reference_traceparent, HEADER_NAMES};

// ---------------------------------------------------------------------------
// Helpers and strategies
// ---------------------------------------------------------------------------

/// Every propagator of the registry (`OTEL_PROPAGATORS`'s names), with its
/// name for failure messages.
fn propagators() -> Vec<(PropagatorName, Box<dyn TextMapPropagator + Send + Sync>)> {
    PropagatorName::ALL
        .into_iter()
        .map(|name| (name, name.propagator()))
        .collect()
}

/// The strategies reach every header a propagator of the registry reads (its
/// `fields`: B3 also reads `x-b3-parentspanid`, which it does not write).
#[test]
fn header_names_cover_every_propagator() {
    for (label, p) in propagators() {
        for field in p.fields() {
            assert!(HEADER_NAMES.contains(&field), "{label:?}: {field}");
        }
    }
}

/// A context that already holds a span context: a failed extract must hand it
/// back unchanged.
fn base() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7u128),
        SpanId::from(7u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ))
}

fn span_context(cx: &Context) -> SpanContext {
    cx.span().span_context().clone()
}

fn context_with(trace_id: u128, span_id: u64, flags: u8) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags),
        true,
        TraceState::NONE,
    ))
}

fn inject(p: &dyn TextMapPropagator, cx: &Context) -> HashMap<String, String> {
    let mut out = HashMap::new();
    p.inject_context(cx, &mut out);
    out
}

/// Header values: arbitrary text, short and long, and near-valid shapes.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[0-9a-fA-F\\-: ,;=%\t]{0,80}",
        1 => "\\PC{0,3000}",
        1 => "[ -~]{4000,20000}",
        2 => mutated_traceparent(),
        1 => "[0-9]{1,25}",
        1 => "[0-9a-f]{16,32}-[0-9a-f]{16}(-[01d])?(-[0-9a-f]{16})?",
        1 => "[0-9a-f]{1,32}(:|%3A)[0-9a-f]{1,16}(:|%3a)[0-9a-f]{1,16}(:|%3A)[0-9a-f]{1,2}",
        1 => "([a-z0-9_.@]{1,12}=[!-~]{0,12},){0,40}",
        1 => "(Root=1-[0-9a-f]{8}-[0-9a-f]{24}|Parent=[0-9a-f]{16}|Sampled=[01?]|Self=[ -~]{0,8}|[ ;=\t]){0,8}",
    ]
}

/// A header name: one a propagator reads (in any case), or anything.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => (prop::sample::select(&HEADER_NAMES[..]), any::<u64>()).prop_map(|(n, mask)| mixed_case(n, mask)),
        1 => any::<String>(),
    ]
}

fn mixed_case(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..8)
}

/// One edit of a string: replace, insert or delete a character at a position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        prop::sample::select(vec![
            '0', '1', 'f', 'a', 'A', 'F', 'g', '-', ' ', '\t', ',', 'é', '\0'
        ]),
        any::<char>(),
    ];
    prop_oneof![
        (0..64usize, c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (0..64usize, c).prop_map(|(i, c)| Edit::Insert(i, c)),
        (0..64usize).prop_map(Edit::Delete),
    ]
}

fn apply(s: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for e in edits {
        match *e {
            Edit::Replace(i, c) if !chars.is_empty() => {
                let i = i % chars.len();
                chars[i] = c;
            }
            Edit::Insert(i, c) => {
                let i = i % (chars.len() + 1);
                chars.insert(i, c);
            }
            Edit::Delete(i) if !chars.is_empty() => {
                let i = i % chars.len();
                chars.remove(i);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// A valid traceparent: version, ids (non-zero, sometimes tiny to make all-zero
/// ids one edit away) and flags.
fn traceparent() -> impl Strategy<Value = String> {
    (
        prop_oneof![8 => Just("00".to_string()), 1 => "[0-9a-f]{2}", 1 => Just("fe".to_string())],
        prop_oneof![any::<u128>(), 1..16u128],
        prop_oneof![any::<u64>(), 1..16u64],
        any::<u8>(),
        prop_oneof![3 => Just(String::new()), 1 => "-[ -~]{0,20}"],
    )
        .prop_map(|(version, t, s, f, tail)| {
            let (t, s) = (t.max(1), s.max(1));
            let tail = if version == "00" { String::new() } else { tail };
            format!("{version}-{t:032x}-{s:016x}-{f:02x}{tail}")
        })
}

fn mutated_traceparent() -> impl Strategy<Value = String> {
    (traceparent(), prop::collection::vec(edit(), 0..4)).prop_map(|(tp, e)| apply(&tp, &e))
}

// ---------------------------------------------------------------------------
// Extraction never panics and never lets an invalid input through
// ---------------------------------------------------------------------------

proptest! {
    /// Any carrier through any propagator: no panic; the span context is the
    /// one we had, or a valid remote one that re-injects and extracts again to
    /// the same ids and sampled flag.
    #[test]
    fn extract_never_panics_and_is_stable(pairs in pairs()) {
        let carrier = PairsExtractor::new(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let before = span_context(&base());
        for (label, p) in propagators() {
            let cx = p.extract_with_context(&base(), &carrier);
            let sc = span_context(&cx);
            if sc == before {
                continue;
            }
            prop_assert!(sc.is_valid() && sc.is_remote(), "{label:?}: {sc:?}");
            let again = p.extract_with_context(&Context::new(), &inject(&*p, &cx));
            let again = span_context(&again);
            prop_assert_eq!(again.trace_id(), sc.trace_id(), "{:?}", label);
            prop_assert_eq!(again.span_id(), sc.span_id(), "{:?}", label);
            prop_assert_eq!(again.is_sampled(), sc.is_sampled(), "{:?}", label);
        }
    }

    /// Raw header bytes (obs-text included) through `HeaderMapExtractor`: no panic.
    #[test]
    fn extract_from_raw_header_bytes_never_panics(
        raw in prop::collection::vec(
            (prop::sample::select(&HEADER_NAMES[..]), prop::collection::vec(any::<u8>(), 0..600)),
            0..8,
        )
    ) {
        let mut headers = http::HeaderMap::new();
        for (name, bytes) in &raw {
            if let Ok(value) = http::HeaderValue::from_bytes(bytes) {
                headers.append(*name, value);
            }
        }
        for (label, p) in propagators() {
            let cx = p.extract_with_context(&base(), &HeaderMapExtractor(&headers));
            let sc = span_context(&cx);
            prop_assert!(sc == span_context(&base()) || (sc.is_valid() && sc.is_remote()), "{:?}", label);
        }
    }

    /// Mutated traceparents: the W3C propagator accepts exactly what the
    /// reference rules accept, with the same ids and flags; everything else
    /// leaves the context unchanged.
    #[test]
    fn traceparent_matches_the_reference(value in prop_oneof![traceparent(), mutated_traceparent()]) {
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), value.clone());
        let cx = W3cTraceContextPropagator::new().extract_with_context(&base(), &carrier);
        let sc = span_context(&cx);
        match reference_traceparent(&value) {
            Some((t, p, f)) => {
                prop_assert!(sc.is_valid() && sc.is_remote());
                prop_assert_eq!(sc.trace_id(), TraceId::from(t));
                prop_assert_eq!(sc.span_id(), SpanId::from(p));
                prop_assert_eq!(sc.trace_flags().to_u8(), f);
            }
            None => prop_assert_eq!(sc, span_context(&base()), "accepted {:?}", value),
        }
    }

    /// Two `traceparent` lines, even valid ones, are invalid.
    #[test]
    fn two_traceparents_are_invalid(a in traceparent(), b in traceparent()) {
        let carrier = PairsExtractor::new([("traceparent", a.as_str()), ("traceparent", b.as_str())]);
        let cx = W3cTraceContextPropagator::new().extract_with_context(&base(), &carrier);
        prop_assert_eq!(span_context(&cx), span_context(&base()));
    }

    /// Uppercase hex anywhere in a traceparent makes it invalid.
    #[test]
    fn uppercase_traceparent_is_invalid(tp in traceparent(), at in any::<prop::sample::Index>()) {
        let mut chars: Vec<char> = tp.chars().collect();
        // A hex letter of the first 55 characters (the fields every version has).
        let letters: Vec<usize> = (0..55).filter(|&i| chars[i].is_ascii_lowercase()).collect();
        prop_assume!(!letters.is_empty());
        let at = letters[at.index(letters.len())];
        chars[at] = chars[at].to_ascii_uppercase();
        let value: String = chars.into_iter().collect();
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), value);
        let cx = W3cTraceContextPropagator::new().extract_with_context(&base(), &carrier);
        prop_assert_eq!(span_context(&cx), span_context(&base()));
    }
}

/// A `tracestate` line: members valid (Level 2 keys, `@` anywhere after the
/// first character; a few keys, so duplicates are common), near-valid (a leading
/// `@`, `,`/`=` in values, upper case) or arbitrary, joined with `,`.
fn tracestate_line() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        4 => "[a-z][a-z0-9_*/-]{0,6}(@[a-z][a-z0-9]{0,14})?=[ -~]{1,8}",
        2 => "[0-9a-c][a-c@]{0,3}=[!-+]{1,3}",
        1 => "@[a-z]{1,3}=[a-z]{1,4}",
        1 => "[A-Za-z]{1,4}=[a-z]{1,4}",
        1 => value(),
    ];
    (prop::collection::vec(member, 0..6), "[ \t]{0,2}")
        .prop_map(|(members, ows)| members.join(&format!("{ows},")))
}

proptest! {
    /// `extract_trace_context_from_headers` with the default propagator reads an
    /// `HeaderMap` directly and keeps `tracestate` raw until a context is asked
    /// for; whatever the headers, what it returns is what `W3cPropagator`
    /// produces through the generic carrier: ids, flags, `tracestate` (raw and
    /// once parsed), baggage, and the headers injected from it.
    #[test]
    fn header_map_fast_path_matches_the_propagator(
        traceparents in prop::collection::vec(prop_oneof![3 => traceparent(), 1 => mutated_traceparent()], 0..3),
        tracestates in prop::collection::vec(tracestate_line(), 0..4),
        baggage in prop::option::of("[a-z]{1,5}=[a-z0-9%]{0,6}(,[a-z]{1,3}=[a-z]{1,3}){0,2}"),
    ) {
        let mut headers = http::HeaderMap::new();
        let lines = traceparents.iter().map(|v| ("traceparent", v))
            .chain(tracestates.iter().map(|v| ("tracestate", v)))
            .chain(baggage.iter().map(|v| ("baggage", v)));
        for (name, value) in lines {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.append(name, value);
            }
        }
        let expected = W3cPropagator::new().extract_with_context(&Context::new(), &HeaderMapExtractor(&headers));
        let expected_sc = span_context(&expected);
        let Some(fast) = extract_trace_context_from_headers(&headers) else {
            prop_assert!(!expected_sc.is_valid(), "fast path found nothing in {:?}", headers);
            return Ok(());
        };
        prop_assert_eq!(fast.trace_id(), expected_sc.trace_id());
        prop_assert_eq!(fast.span_id(), expected_sc.span_id());
        prop_assert_eq!(fast.trace_flags(), expected_sc.trace_flags());
        let expected_out = inject(&W3cPropagator::new(), &expected);
        // Before the context is built (raw) and after (parsed).
        prop_assert_eq!(fast.tracestate(), expected_out.get("tracestate").cloned());
        prop_assert_eq!(span_context(fast.context()), expected_sc);
        prop_assert_eq!(fast.tracestate(), expected_out.get("tracestate").cloned());
        // Baggage included.
        prop_assert_eq!(inject(&W3cPropagator::new(), fast.context()), expected_out.clone());
        let unbuilt = extract_trace_context_from_headers(&headers).expect("same headers");
        prop_assert_eq!(inject(&W3cPropagator::new(), &unbuilt.into_context()), expected_out);
    }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    /// inject then extract gives the same ids and flags, for every propagator
    /// (W3C keeps `sampled` and `random`, the others `sampled` only; Datadog
    /// cannot carry a trace id whose lower 64 bits are zero).
    #[test]
    fn valid_context_round_trips(
        trace_id in prop_oneof![any::<u128>(), 1..u64::MAX as u128, any::<u64>().prop_map(|h| (h as u128) << 64)],
        span_id in any::<u64>(),
        flags in any::<u8>(),
    ) {
        prop_assume!(trace_id != 0 && span_id != 0);
        let cx = context_with(trace_id, span_id, flags);
        for (label, p) in propagators() {
            if label == PropagatorName::Baggage
                || (label == PropagatorName::Datadog && trace_id as u64 == 0)
            {
                continue;
            }
            let headers = inject(&*p, &cx);
            prop_assert!(!headers.is_empty(), "{:?}", label);
            let sc = span_context(&p.extract_with_context(&Context::new(), &headers));
            prop_assert!(sc.is_valid() && sc.is_remote(), "{:?}: {:?}", label, headers);
            prop_assert_eq!(sc.trace_id(), TraceId::from(trace_id), "{:?}", label);
            prop_assert_eq!(sc.span_id(), SpanId::from(span_id), "{:?}", label);
            let kept = if label == PropagatorName::TraceContext { 0x03 } else { 0x01 };
            prop_assert_eq!(sc.trace_flags().to_u8(), flags & kept, "{:?}", label);
        }
        // The two B3 encodings read each other.
        let single = inject(&B3Propagator::single_header(), &cx);
        let sc = span_context(&B3Propagator::multi_header().extract(&single));
        prop_assert_eq!(sc.trace_id(), TraceId::from(trace_id));
    }

    /// A valid tracestate (Level 2 keys, distinct) comes back as it was sent
    /// (members joined with ",").
    #[test]
    fn tracestate_round_trips(
        members in prop::collection::btree_map("[a-z0-9][a-z0-9_*/@-]{0,15}", "[!-+--<>-~]([ !-+--<>-~]{0,14}[!-+--<>-~])?", 1..=32),
        ows in "[ \t]{0,2}",
    ) {
        let list: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
        carrier.insert("tracestate".to_string(), list.join(&format!("{ows},{ows}")));
        let cx = W3cTraceContextPropagator::new().extract(&carrier);
        let out = inject(&W3cTraceContextPropagator::new(), &cx);
        prop_assert_eq!(out.get("tracestate"), Some(&list.join(",")));
    }

    /// A list with repeated keys is kept, each key's first entry in order (a
    /// reference model of Level 2's "receivers MAY discard duplicate keys").
    #[test]
    fn tracestate_duplicates_keep_the_first_entry(
        members in prop::collection::vec(("[a-c][@a-c]{0,1}", "[a-z0-9]{1,3}"), 1..=32),
    ) {
        let list: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut expected: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &members {
            if seen.insert(k.clone()) {
                expected.push(format!("{k}={v}"));
            }
        }
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
        carrier.insert("tracestate".to_string(), list.join(","));
        let cx = W3cTraceContextPropagator::new().extract(&carrier);
        let out = inject(&W3cTraceContextPropagator::new(), &cx);
        prop_assert_eq!(out.get("tracestate"), Some(&expected.join(",")));
    }

    /// Any baggage value, and any token key, round-trips exactly.
    #[test]
    fn baggage_round_trips(
        entries in prop::collection::btree_map("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}", any::<String>(), 1..20),
    ) {
        let mut baggage = Baggage::new();
        for (k, v) in &entries {
            baggage.insert(k.clone(), v.clone());
        }
        prop_assume!(baggage.len() == entries.len());
        let cx = Context::new().with_baggage(baggage);
        let headers = inject(&W3cBaggagePropagator::new(), &cx);
        let back = W3cBaggagePropagator::new().extract(&headers);
        let header = &headers["baggage"];
        prop_assert!(header.len() <= 8192);
        prop_assert!(header.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{}", header);
        // Every member that fitted is read back exactly; none is cut.
        let written = header.split(',').count();
        prop_assert_eq!(back.baggage().len(), written);
        for (k, (v, _)) in back.baggage() {
            prop_assert_eq!(v.as_str(), entries[k.as_str()].as_str());
        }
    }

    /// Whatever the baggage (metadata included), inject writes at most 64
    /// members and 8192 bytes, and a strict reader takes it whole.
    #[test]
    fn baggage_inject_respects_the_limits(
        entries in prop::collection::vec(
            (
                "[!-~]{1,30}",
                prop_oneof!["[ -~]{0,300}", "é{0,300}", "\\PC{0,30}"],
                prop_oneof!["([ -~]{0,8};){0,3}", any::<String>()],
            ),
            0..70,
        ),
    ) {
        let mut baggage = Baggage::new();
        for (k, v, m) in &entries {
            baggage.insert_with_metadata(k.clone(), v.clone(), m.as_str());
        }
        let headers = inject(&W3cBaggagePropagator::new(), &Context::new().with_baggage(baggage));
        if let Some(header) = headers.get("baggage") {
            prop_assert!(header.len() <= 8192);
            let written = header.split(',').count();
            prop_assert!(written <= 64);
            let back = W3cBaggagePropagator::new().extract(&headers);
            prop_assert_eq!(back.baggage().len(), written);
        }
    }

    /// Extract of arbitrary baggage lines: no panic; over 8192 bytes (all lines
    /// together) nothing is kept; never more than 64 entries.
    #[test]
    fn baggage_extract_is_bounded(lines in prop::collection::vec(value(), 1..5)) {
        let carrier = PairsExtractor::new(lines.iter().map(|l| ("baggage", l.as_str())));
        let cx = W3cBaggagePropagator::new().extract_with_context(&Context::new(), &carrier);
        let bytes: usize = lines.iter().map(String::len).sum::<usize>() + lines.len() - 1;
        prop_assert!(cx.baggage().len() <= 64);
        if bytes > 8192 {
            prop_assert!(cx.baggage().is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// Id parsers, header-name case, log patterns, configuration
// ---------------------------------------------------------------------------

fn regex(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("a valid regex")
}

/// The `OTEL_PROPAGATORS` names of the registry.
fn propagator_names() -> Vec<&'static str> {
    PropagatorName::ALL
        .iter()
        .map(|name| name.as_str())
        .collect()
}

fn id_candidate(len: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        regex(&format!("[0-9a-f]{{{len}}}")),
        regex(&format!("[0-9a-fA-F]{{{len}}}")),
        regex(&format!("[0-9a-g]{{{},{}}}", len - 2, len + 2)),
        Just("0".repeat(len)),
        regex(&format!("0{{{}}}[0-9a-f]", len - 1)),
        regex(&format!("[0-9a-f ]{{{len}}}")),
        any::<String>(),
        regex(&format!("\\PC{{{len}}}")),
    ]
}

proptest! {
    #[test]
    fn parse_trace_id_accepts_exactly_32_lowercase_hex_nonzero(s in id_candidate(32)) {
        let parsed = parse_trace_id(&s);
        prop_assert_eq!(parsed.is_ok(), reference_id(&s, 32), "{:?}", s);
        if let Ok(id) = parsed {
            prop_assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn parse_span_id_accepts_exactly_16_lowercase_hex_nonzero(s in id_candidate(16)) {
        let parsed = parse_span_id(&s);
        prop_assert_eq!(parsed.is_ok(), reference_id(&s, 16), "{:?}", s);
        if let Ok(id) = parsed {
            prop_assert_eq!(id.to_string(), s);
        }
    }

    /// Header names are case-insensitive: any casing gives the same result as
    /// the lowercase names.
    #[test]
    fn pairs_header_names_are_case_insensitive(
        tp in prop_oneof![traceparent(), mutated_traceparent()],
        ts in "([a-z][a-z0-9]{0,4}=[a-z0-9]{1,4},){0,4}",
        masks in any::<(u64, u64)>(),
    ) {
        let lower = extract_trace_context_from_pairs([("traceparent", tp.as_str()), ("tracestate", ts.as_str())]);
        let mixed = extract_trace_context_from_pairs([
            (mixed_case("traceparent", masks.0), tp.as_str()),
            (mixed_case("tracestate", masks.1), ts.as_str()),
        ]);
        prop_assert_eq!(lower.is_some(), mixed.is_some());
        if let (Some(l), Some(m)) = (lower, mixed) {
            prop_assert_eq!(l.span_context(), m.span_context());
            prop_assert_eq!(l.tracestate(), m.tracestate());
        }
    }

    /// Any pattern: a formatter or an error, never a panic.
    #[test]
    fn log_pattern_never_panics(
        pattern in prop_oneof![
            any::<String>(),
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![
                        "{trace_id}", "{span_id}", "{trace_flags}", "{level}", "{target}",
                        "{timestamp}", "{message}", "{fields}", "{dd.trace_id}", "{dd.span_id}",
                        "{level:<8}", "{level:>256}", "{level:^257}", "{level:99999999999999999999999}",
                        "{level:-1}", "{level:}", "{:}", "{", "}", "{{", "}}", "{}", "{trace", "é", ":",
                    ]).prop_map(String::from),
                    "[ -~]{0,5}",
                ],
                0..20,
            ).prop_map(|parts| parts.concat()),
        ]
    ) {
        let _ = TraceContextFormat::new(&pattern);
    }

    /// Any `OTEL_*` variables: `config()` never panics; it always succeeds when
    /// not strict, and a strict one errs or reports no issue.
    #[test]
    fn config_never_panics(
        vars in prop::collection::vec(
            (
                prop_oneof![
                    4 => prop::sample::select(vec![
                        "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
                        "OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_PROPAGATORS",
                        "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
                        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
                        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_PROTOCOL",
                        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_TIMEOUT",
                        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE",
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_SCHEDULE_DELAY",
                        "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                        "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
                        "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                    ]).prop_map(String::from),
                    1 => "OTEL_[A-Z_]{0,30}",
                ],
                prop_oneof![
                    any::<String>(),
                    "[0-9.eE+-]{0,25}",
                    regex(&format!("({}|none|,| ){{0,8}}", propagator_names().join("|"))),
                    "(always_on|always_off|traceidratio|parentbased_always_on|parentbased_traceidratio|otlp|console|none|true|false|grpc|http/protobuf|http/json)",
                    "(https?://)?[a-z0-9.:/\\[\\]@%-]{0,40}",
                    "([a-zA-Z0-9.%_-]{0,10}=[ -~]{0,10},){0,5}",
                ],
            ),
            0..10,
        )
    ) {
        let lenient = ObservabilityBuilder::default().env_vars(vars.clone()).config();
        prop_assert!(lenient.is_ok());
        match ObservabilityBuilder::default().env_vars(vars).strict(true).config() {
            Ok(config) => prop_assert!(config.issues.is_empty(), "{:?}", config.issues),
            Err(_) => prop_assert!(!lenient.unwrap().issues.is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------
// What the crate says about bad input: escaped and bounded
// ---------------------------------------------------------------------------

/// Every variable the crate reads.
const VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "DISTRIBUTED_TRACING_MAX_QUEUE_BYTES",
    "DISTRIBUTED_TRACING_MAX_EXPORT_BYTES",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "RUST_LOG",
    "DISTRIBUTED_TRACING_LOG_FORMAT",
    "DD_SERVICE",
    "DD_ENV",
    "DD_VERSION",
    "DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES",
    "XDG_STATE_HOME",
    "HOME",
    "TMPDIR",
];

/// The longest message about one bad input (a `ConfigIssue`, an `Error`).
const MAX_MESSAGE: usize = 600;

/// The characters no message may carry raw: C0 and C1 controls, DEL, the
/// Unicode bidirectional controls, U+2028 and U+2029.
fn is_untrusted(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Text built from the pieces configuration values are made of, the
/// characters that must not be shown raw, any character, and long runs.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => prop::sample::select(vec![
            "\u{202e}", "\u{202a}", "\u{2066}", "\u{2069}", "\u{61c}", "\u{200e}", "\u{200f}",
            "\u{2028}", "\u{2029}", "\u{85}", "\u{9b}", "\u{1b}[2J", "\n", "\r", "\t", "\u{0}", "\u{7f}",
        ]).prop_map(String::from),
        3 => prop::sample::select(vec![
            "=", ",", "%", "%zz", "http://", "https://", "u:pw@", "@", "/v1/traces", "grpc",
            "jaeger_remote", "endpoint=", "pollingIntervalMs=", "b3", "tracecontext", "true", "0",
            "-1", "api-key=", "bad name=", "info", "[", "]", "=debug", ":4318",
        ]).prop_map(String::from),
        1 => (any::<char>(), 100..3000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// A value for `env_vars`: hostile text, or (on Unix) bytes that may not be
/// UTF-8.
fn hostile_value() -> impl Strategy<Value = std::ffi::OsString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStringExt as _;
        (hostile_text(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(text, bytes)| {
            std::ffi::OsString::from_vec([text.into_bytes(), bytes].concat())
        })
    };
    #[cfg(not(unix))]
    let bytes = hostile_text().prop_map(std::ffi::OsString::from);
    prop_oneof![3 => hostile_text().prop_map(std::ffi::OsString::from), 1 => bytes]
}

/// Asserts that a message quotes its input safely.
fn shown_safely(what: &str, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!text.chars().any(is_untrusted), "{what}: {text:?}");
    prop_assert!(
        text.chars().count() <= MAX_MESSAGE,
        "{what}: {} characters: {text}",
        text.chars().count()
    );
    Ok(())
}

proptest! {
    /// Whatever the values, in any variables: every issue, its `Display`,
    /// its value as shown and the `Error` of a strict start-up hold no raw
    /// control or bidirectional character and stay under a few hundred
    /// characters. (What is masked is the unit tests' matter.)
    #[test]
    fn configuration_messages_are_escaped_and_bounded(
        vars in prop::collection::vec((prop::sample::select(VARIABLES), hostile_value()), 1..6),
    ) {
        // `EnvFilter` compiles a field value (`[{x=...}]`) into an automaton
        // whose construction can take exponential time: not generated here.
        let vars: Vec<(&str, std::ffi::OsString)> = vars
            .into_iter()
            .map(|(name, value)| match name {
                "RUST_LOG" => (name, value.to_string_lossy().replace('{', "").into()),
                _ => (name, value),
            })
            .collect();
        let config = ObservabilityBuilder::default().env_vars(vars.clone()).config().unwrap();
        for issue in &config.issues {
            shown_safely("Display", &issue.to_string())?;
            shown_safely("value", issue.value.as_str())?;
            shown_safely("Error", &distributed_tracing::Error::from(issue.clone()).to_string())?;
        }
        if let Err(err) = ObservabilityBuilder::default().env_vars(vars).strict(true).config() {
            shown_safely("strict", &err.to_string())?;
        }
        // The configuration dump shows the endpoints through the same helper.
        let debug = format!("{:?}", config.otlp);
        prop_assert!(!debug.chars().any(is_untrusted), "{debug:?}");
    }

    /// The errors of the other parsers of outside text, alike.
    #[test]
    fn parser_errors_are_escaped_and_bounded(text in hostile_text()) {
        if let Err(err) = parse_trace_id(&text) {
            shown_safely("trace id", &err.to_string())?;
        }
        if let Err(err) = parse_span_id(&text) {
            shown_safely("span id", &err.to_string())?;
        }
        for pattern in [text.clone(), format!("{{{text}}}"), format!("{{level:{text}}}")] {
            if let Err(err) = TraceContextFormat::new(&pattern) {
                shown_safely("pattern", &err.to_string())?;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Large inputs: completes, and is accepted or rejected correctly
// ---------------------------------------------------------------------------

/// Tracestate and baggage lists of 10, 10 000 and 100 000 members (one line in
/// the MiB range, or as many header lines), and a 1 MiB traceparent. Checks
/// the outcome only (no timing is asserted).
#[test]
fn large_lists_are_handled_whole() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for n in [10usize, 10_000, 100_000] {
        let members: Vec<String> = (0..n).map(|i| format!("k{i}=v{i}")).collect();
        let one_line = members.join(",");
        if n == 100_000 {
            assert!(one_line.len() > 1 << 20, "{}", one_line.len());
        }

        // tracestate: up to 32 members are kept, a longer list is dropped whole
        // while the traceparent still counts.
        let remote =
            extract_trace_context_from_pairs([("traceparent", tp), ("tracestate", &one_line)])
                .expect("the traceparent is valid");
        assert_eq!(
            remote.tracestate().is_some(),
            n <= 32,
            "tracestate of {n} members"
        );
        let mut lines: Vec<(&str, &str)> = vec![("traceparent", tp)];
        lines.extend(members.iter().map(|m| ("tracestate", m.as_str())));
        let remote = extract_trace_context_from_pairs(lines).expect("the traceparent is valid");
        assert_eq!(
            remote.tracestate().is_some(),
            n <= 32,
            "{n} tracestate lines"
        );

        // baggage: up to 64 members and 8192 bytes kept, otherwise dropped whole.
        let carrier = PairsExtractor::new([("baggage", one_line.as_str())]);
        let cx = W3cBaggagePropagator::new().extract(&carrier);
        assert_eq!(
            cx.baggage().len(),
            if n <= 64 { n } else { 0 },
            "baggage of {n} members"
        );
        let carrier = PairsExtractor::new(members.iter().map(|m| ("baggage", m.as_str())));
        let cx = W3cBaggagePropagator::new().extract(&carrier);
        assert_eq!(
            cx.baggage().len(),
            if n <= 64 { n } else { 0 },
            "{n} baggage lines"
        );
    }

    let long = format!("{tp}{}", "0".repeat(1 << 20));
    assert!(extract_trace_context_from_pairs([("traceparent", long.as_str())]).is_none());
    let long = format!("01{}-{}", &tp[2..], "x".repeat(1 << 20));
    assert!(
        extract_trace_context_from_pairs([("traceparent", long.as_str())]).is_some(),
        "a future version may carry more fields"
    );
    for (label, p) in propagators() {
        let huge = "9".repeat(1 << 20);
        let carrier: HashMap<String, String> = HEADER_NAMES
            .iter()
            .map(|n| (n.to_string(), huge.clone()))
            .collect();
        let cx = p.extract_with_context(&base(), &carrier);
        assert_eq!(
            span_context(&cx),
            span_context(&base()),
            "{label:?}: 1 MiB of digits"
        );
    }
}
