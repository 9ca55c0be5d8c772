//! A strict W3C Trace Context propagator (`traceparent` / `tracestate`).
//!
//! Follows the W3C Trace Context Recommendation and Level 2
//! (<https://www.w3.org/TR/trace-context-2/>). Every rule the parser checks is
//! one commented line below, and the tests at the end of this file label each
//! rejected input with the rule it breaks.
//!
//! Where it differs from `opentelemetry_sdk::propagation::TraceContextPropagator`
//! (each measured against that crate, 0.33):
//!
//! * the version, trace id, parent id and flags have exactly 2, 32, 16 and 2
//!   characters (upstream accepts 1- or 3-character fields and zero-pads short ids);
//! * a version-00 header is exactly 55 characters; a higher version may carry more
//!   fields after a `-`, which are ignored (the rules for future versions);
//! * the Level 2 `random` flag (`0x02`) is kept; other unknown flag bits are
//!   ignored and never sent on;
//! * `tracestate` keys follow the Level 2 grammar (a lowercase letter or digit,
//!   then up to 255 of `a-z 0-9 _ - * / @`), values are 1 to 256 printable
//!   characters; a list with more than 32 members or any malformed member is
//!   dropped whole while the `traceparent` is kept; a key repeated later in a
//!   list is dropped, the list kept (upstream rejects keys such as `1foo` or
//!   `foo@@bar`, and the whole list with them);
//! * the `random` flag of a caller is kept on every outgoing header of its
//!   trace, sampled or not, and a trace started here has it (the crate's
//!   tracers correct the SDK's flags: see [`crate::context`]);
//! * two `traceparent` headers make the request's context invalid (a new trace).

use std::sync::{Arc, OnceLock};

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::carrier::one_value;
use crate::ids::{decode_hex_u128, decode_hex_u64, encode_hex};
use crate::untrusted::trim_ows;

/// The `traceparent` header name.
pub(crate) const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub(crate) const TRACESTATE: &str = "tracestate";

/// The `sampled` flag (`0x01`).
pub(crate) const FLAG_SAMPLED: u8 = 0x01;
/// The W3C Level 2 `random` flag (`0x02`): the trace id's low 56 bits are random.
pub(crate) const FLAG_RANDOM: u8 = 0x02;
/// The flags this version of the specification defines; other bits are ignored.
const KNOWN_FLAGS: u8 = FLAG_SAMPLED | FLAG_RANDOM;

/// Maximum number of `tracestate` list members.
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The strict W3C Trace Context propagator.
///
/// Implements OpenTelemetry's [`TextMapPropagator`], so it is installed like any
/// other (it is the default of [`default_propagator`](crate::propagation::default_propagator)).
///
/// ```
/// use distributed_tracing::propagation::W3cTraceContextPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
/// );
/// let cx = W3cTraceContextPropagator::new().extract(&headers);
/// assert!(cx.span().span_context().is_remote());
///
/// headers.insert("traceparent".into(), "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".into());
/// let cx = W3cTraceContextPropagator::new().extract(&headers);
/// assert!(!cx.span().span_context().is_valid(), "uppercase hex is invalid");
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct W3cTraceContextPropagator {
    _private: (),
}

impl W3cTraceContextPropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// A valid `tracestate` that OpenTelemetry's [`TraceState`] cannot hold.
///
/// `TraceState` validates keys with an older grammar than the W3C's Level 2 (it
/// rejects `foo@@bar`, `foo@bar@baz` or more than 13 characters after the `@`). Such a
/// list is kept (valid members, later duplicates dropped) in the [`Context`]
/// beside the span context, bound to its trace id, and sent on by
/// [`inject`](TextMapPropagator::inject_context) while the span context's own
/// `TraceState` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawTraceState {
    pub(crate) trace_id: TraceId,
    pub(crate) header: Arc<str>,
}

/// Why a `traceparent` value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceparentError {
    TooShort,
    Version,
    VersionFf,
    Separator,
    TraceId,
    TraceIdZero,
    ParentId,
    ParentIdZero,
    Flags,
    Version00Length,
    FutureVersionTrailer,
}

/// The parsed fields of a valid `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Traceparent {
    pub(crate) trace_id: TraceId,
    pub(crate) parent_id: SpanId,
    pub(crate) flags: TraceFlags,
}

/// Parses one `traceparent` value, strictly.
pub(crate) fn parse_traceparent(value: &str) -> Result<Traceparent, TraceparentError> {
    use TraceparentError as E;
    // HTTP allows optional white space around a header value.
    let b = trim_ows(value).as_bytes();
    // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2 = 55 characters.
    if b.len() < 55 {
        return Err(E::TooShort);
    }
    // version = 2HEXDIGLC
    let version = decode_hex_u64(&b[0..2]).ok_or(E::Version)?;
    // Version ff is forbidden.
    if version == 0xff {
        return Err(E::VersionFf);
    }
    // Fields are separated by a single dash.
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(E::Separator);
    }
    // trace-id = 32HEXDIGLC, not all zeros.
    let trace_id = decode_hex_u128(&b[3..35]).ok_or(E::TraceId)?;
    if trace_id == 0 {
        return Err(E::TraceIdZero);
    }
    // parent-id = 16HEXDIGLC, not all zeros.
    let parent_id = decode_hex_u64(&b[36..52]).ok_or(E::ParentId)?;
    if parent_id == 0 {
        return Err(E::ParentIdZero);
    }
    // trace-flags = 2HEXDIGLC.
    let flags = decode_hex_u64(&b[53..55]).ok_or(E::Flags)? as u8;
    if version == 0 {
        // Version 00 has exactly these four fields.
        if b.len() != 55 {
            return Err(E::Version00Length);
        }
    } else if b.len() > 55 && b[55] != b'-' {
        // A higher version may append fields, each after a dash; we ignore them.
        return Err(E::FutureVersionTrailer);
    }
    Ok(Traceparent {
        trace_id: TraceId::from(trace_id),
        parent_id: SpanId::from(parent_id),
        // Unknown flags must be ignored: keep only `sampled` and `random`.
        flags: TraceFlags::new(flags & KNOWN_FLAGS),
    })
}

/// Why a `tracestate` list was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TracestateError {
    TooManyMembers,
    MissingEquals,
    Key,
    Value,
}

/// Parses the `tracestate` header lines (joined as one list) into its members,
/// in order; a key repeated later in the list is dropped (the first entry is
/// the most recent position: see "Mutating the tracestate Field").
///
/// Linear in the input for distinct keys, at most 32 × 32 key comparisons;
/// stops at the first error or at the 33rd member.
pub(crate) fn parse_tracestate<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(&'a str, &'a str)>, TracestateError> {
    use TracestateError as E;
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut received = 0;
    for line in lines {
        // list = list-member 0*31( OWS "," OWS list-member ); repeated header lines
        // are one list, as if joined with ",".
        for member in split_bytes(line, b',') {
            let member = trim_ows(member);
            // Empty and white-space-only members are allowed and skipped.
            if member.is_empty() {
                continue;
            }
            // At most 32 members as received (duplicates count): a longer list
            // does not match the grammar and is dropped whole.
            if received == MAX_TRACESTATE_MEMBERS {
                return Err(E::TooManyMembers);
            }
            received += 1;
            // list-member = key "=" value
            let at = find_byte(member, b'=').ok_or(E::MissingEquals)?;
            let (key, value) = (&member[..at], &member[at + 1..]);
            if !valid_key(key) {
                return Err(E::Key);
            }
            if !valid_value(value) {
                return Err(E::Value);
            }
            // The grammar has no uniqueness rule; receivers MAY discard duplicate
            // keys they did not generate: the later entries go, the list stays.
            if !members.iter().any(|(k, _)| *k == key) {
                members.push((key, value));
            }
        }
    }
    Ok(members)
}

/// A valid list as it is sent on: its members joined with `,` (no white space,
/// no empty members). Empty if the list is invalid.
pub(crate) fn normalized_tracestate<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    parse_tracestate(lines)
        .map(|members| join_members(&members))
        .unwrap_or_default()
}

/// `key=value` members joined with `,`.
fn join_members(members: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in members {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`
fn key_char(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            table[c] = b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@');
            c += 1;
        }
        table
    };
    TABLE[b as usize]
}

/// The index of the first `byte` in `s` (an ASCII byte: the index is a char
/// boundary).
fn find_byte(s: &str, byte: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&b| b == byte)
}

/// `s` split at every ASCII `sep` (a byte scan, no `char` decoding).
fn split_bytes(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match find_byte(current, sep) {
            Some(i) => {
                rest = Some(&current[i + 1..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )` (W3C Trace Context Level 2:
/// `@` may appear anywhere after the first character, any number of times).
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    (1..=256).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(|&c| key_char(c))
}

/// value = 0*255(chr) nblk-chr, with chr = %x20 / nblk-chr and
/// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (printable ASCII but "," and "=").
fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    let chr = |c: u8| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=';
    (1..=256).contains(&b.len()) && b.iter().all(|&c| chr(c)) && b[b.len() - 1] != b' '
}

/// Formats `00-{trace id}-{span id}-{flags}` into a stack buffer.
pub(crate) fn format_traceparent(sc: &SpanContext) -> [u8; 55] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    encode_hex(&sc.trace_id().to_bytes(), &mut out[3..35]);
    encode_hex(&sc.span_id().to_bytes(), &mut out[36..52]);
    // Flags this version does not define are never sent on.
    encode_hex(&[sc.trace_flags().to_u8() & KNOWN_FLAGS], &mut out[53..55]);
    out
}

/// The `traceparent` header value for a span context.
pub(crate) fn traceparent_string(sc: &SpanContext) -> String {
    String::from_utf8_lossy(&format_traceparent(sc)).into_owned()
}

/// The `tracestate` to send on for the span in `cx`: its `TraceState`, or the raw
/// header kept for a list `TraceState` cannot hold (same trace only).
pub(crate) fn tracestate_header(cx: &Context, sc: &SpanContext) -> Option<String> {
    let header = sc.trace_state().header();
    if !header.is_empty() {
        return Some(header);
    }
    cx.get::<RawTraceState>()
        .filter(|raw| raw.trace_id == sc.trace_id())
        .map(|raw| raw.header.to_string())
}

/// `cx` with the remote span context of a parsed `traceparent` and the
/// `tracestate` header lines (an invalid list is dropped whole).
pub(crate) fn remote_context<'a>(
    cx: &Context,
    tp: Traceparent,
    tracestate_lines: impl IntoIterator<Item = &'a str>,
) -> Context {
    let members = parse_tracestate(tracestate_lines).unwrap_or_default();
    let (trace_state, raw) = if members.is_empty() {
        (TraceState::NONE, None)
    } else {
        match TraceState::from_key_value(members.iter().copied()) {
            Ok(state) => (state, None),
            // Valid per the W3C grammar but not representable in `TraceState`.
            Err(_) => (
                TraceState::NONE,
                Some(RawTraceState {
                    trace_id: tp.trace_id,
                    header: join_members(&members).into(),
                }),
            ),
        }
    };
    let sc = SpanContext::new(tp.trace_id, tp.parent_id, tp.flags, true, trace_state);
    let cx = cx.with_remote_span_context(sc);
    match raw {
        Some(raw) => cx.with_value(raw),
        None => cx,
    }
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.to_string(), TRACESTATE.to_string()])
}

impl TextMapPropagator for W3cTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        injector.set(TRACEPARENT, traceparent_string(sc));
        if let Some(tracestate) = tracestate_header(cx, sc) {
            injector.set(TRACESTATE, tracestate);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Exactly one traceparent header: two of them make the context invalid.
        let Ok(Some(traceparent)) = one_value(extractor, TRACEPARENT) else {
            return cx.clone();
        };
        let Ok(tp) = parse_traceparent(traceparent) else {
            return cx.clone();
        };
        // An invalid tracestate is dropped whole; the traceparent still counts.
        let lines = extractor.get_all(TRACESTATE).unwrap_or_default();
        remote_context(cx, tp, lines)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SID: &str = "00f067aa0ba902b7";

    fn tp(s: &str) -> Result<Traceparent, TraceparentError> {
        parse_traceparent(s)
    }

    #[test]
    fn valid_traceparents() {
        let cases = [
            (format!("00-{TID}-{SID}-01"), 0x01, "sampled"),
            (format!("00-{TID}-{SID}-00"), 0x00, "not sampled"),
            (
                format!("00-{TID}-{SID}-03"),
                0x03,
                "sampled + random (Level 2)",
            ),
            (format!("00-{TID}-{SID}-02"), 0x02, "random only"),
            (
                format!("00-{TID}-{SID}-09"),
                0x01,
                "unknown flag 0x08 ignored",
            ),
            (
                format!("00-{TID}-{SID}-ff"),
                0x03,
                "all unknown flags ignored",
            ),
            (
                format!(" \t00-{TID}-{SID}-01\t "),
                0x01,
                "optional white space around",
            ),
            (
                format!("01-{TID}-{SID}-01"),
                0x01,
                "future version, same fields",
            ),
            (
                format!("01-{TID}-{SID}-01-what-the-future-will-be-like"),
                0x01,
                "future version, more fields",
            ),
            (
                format!("cc-{TID}-{SID}-01-"),
                0x01,
                "future version, trailing dash",
            ),
        ];
        for (header, flags, label) in cases {
            let parsed = tp(&header).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(parsed.trace_id, TraceId::from_hex(TID).unwrap(), "{label}");
            assert_eq!(parsed.parent_id, SpanId::from_hex(SID).unwrap(), "{label}");
            assert_eq!(parsed.flags.to_u8(), flags, "{label}");
        }
    }

    #[test]
    fn invalid_traceparents() {
        use TraceparentError as E;
        let long = format!("00-{TID}-{SID}-01{}", "0".repeat(1 << 20));
        let cases: Vec<(String, E, &str)> = vec![
            (String::new(), E::TooShort, "empty"),
            (format!("00-{TID}-{SID}-0"), E::TooShort, "flags of 1 char"),
            (
                format!("0-{TID}-{SID}-01"),
                E::TooShort,
                "version of 1 char",
            ),
            (
                format!("000-{TID}-{SID}-01"),
                E::Separator,
                "version of 3 chars",
            ),
            (
                format!("00-{TID}-{SID}-001"),
                E::Version00Length,
                "flags of 3 chars",
            ),
            (
                format!("00-{}-{SID}-01", &TID[1..]),
                E::TooShort,
                "31-char trace id",
            ),
            (
                format!("00-{TID}0-{SID}-01"),
                E::Separator,
                "33-char trace id",
            ),
            (
                format!("00-{TID}-{}-01-", &SID[1..]),
                E::Separator,
                "15-char parent id",
            ),
            (
                format!("00-{}-{SID}-01", TID.to_uppercase()),
                E::TraceId,
                "uppercase trace id",
            ),
            (
                format!("00-{TID}-{}-01", SID.to_uppercase()),
                E::ParentId,
                "uppercase parent id",
            ),
            (format!("00-{TID}-{SID}-0A"), E::Flags, "uppercase flags"),
            (
                format!("0A-{TID}-{SID}-01"),
                E::Version,
                "uppercase version",
            ),
            (format!("ff-{TID}-{SID}-01"), E::VersionFf, "version ff"),
            (format!("xx-{TID}-{SID}-01"), E::Version, "non-hex version"),
            (
                format!("00-{}-{SID}-01", "0".repeat(32)),
                E::TraceIdZero,
                "all-zero trace id",
            ),
            (
                format!("00-{TID}-{}-01", "0".repeat(16)),
                E::ParentIdZero,
                "all-zero parent id",
            ),
            (
                format!("00-{}g-{SID}-01", &TID[..31]),
                E::TraceId,
                "non-hex trace id",
            ),
            (
                format!("00-{TID}-{}g-01", &SID[..15]),
                E::ParentId,
                "non-hex parent id",
            ),
            (format!("00-{TID}-{SID}-0g"), E::Flags, "non-hex flags"),
            (
                format!("00_{TID}_{SID}_01"),
                E::Separator,
                "underscore separators",
            ),
            (format!("00-{TID}-{SID}.01"), E::Separator, "dot separator"),
            (
                format!("00-{TID}-{SID}-01-"),
                E::Version00Length,
                "version 00 with trailing dash",
            ),
            (
                format!("00-{TID}-{SID}-01-extra"),
                E::Version00Length,
                "version 00 with extra field",
            ),
            (
                format!("01-{TID}-{SID}-01.what-the-future"),
                E::FutureVersionTrailer,
                "future version without dash",
            ),
            (
                format!("01-{TID}-{SID}-0"),
                E::TooShort,
                "future version, short",
            ),
            (
                format!("00-{}-{SID}-01", "é".repeat(16)),
                E::TraceId,
                "non-ASCII trace id",
            ),
            (format!("00-{TID}-{SID}-\u{0}1"), E::Flags, "control byte"),
            (long, E::Version00Length, "a megabyte-long header"),
            (
                format!("00-{TID},00-{TID}-{SID}-01"),
                E::Separator,
                "two values in one line",
            ),
        ];
        for (header, reason, label) in cases {
            assert_eq!(tp(&header), Err(reason), "{label}: {header:.80}");
        }
    }

    #[test]
    fn tracestate_keys() {
        // key = ( lcalpha / DIGIT ) 0*255 ( keychar )
        // keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
        let valid = [
            ("a", "one letter"),
            ("7", "one digit"),
            ("foo", "simple"),
            ("1foo", "starts with a digit"),
            ("f0o_-*/@", "every keychar"),
            (&*"k".repeat(256), "256 characters"),
            (&*format!("9{}", "@".repeat(255)), "a digit then 255 @"),
            ("t@v", "tenant@system"),
            ("1tenant@vendor", "tenant starts with a digit"),
            ("foo@", "@ last"),
            ("t@", "one letter then @"),
            ("foo@@bar", "two @ in a row"),
            ("foo@bar@baz", "two @ apart"),
            ("t@1v", "digit after @"),
            ("t@_v", "underscore after @"),
            (
                &*format!("{}@{}", "t".repeat(241), "v".repeat(14)),
                "241-char tenant, 14-char system",
            ),
            (
                &*format!("{}@v", "t".repeat(242)),
                "242-char tenant before @",
            ),
            (&*format!("t@{}", "v".repeat(15)), "15-char system after @"),
        ];
        for (key, label) in valid {
            assert!(valid_key(key), "{label}");
        }
        let invalid = [
            ("", "empty"),
            ("@foo", "starts with @"),
            ("@", "only @"),
            ("_foo", "starts with underscore"),
            ("-foo", "starts with dash"),
            ("*foo", "starts with asterisk"),
            ("/foo", "starts with slash"),
            ("Foo", "uppercase first"),
            ("fOo", "uppercase inside"),
            ("foo.bar", "dot"),
            ("foo bar", "space"),
            ("foo\tbar", "tab"),
            ("foo=bar", "equals"),
            (&*"k".repeat(257), "257 characters"),
            (
                &*format!("{}@{}", "t".repeat(200), "v".repeat(56)),
                "257 characters with @",
            ),
            ("tö", "non-ASCII"),
        ];
        for (key, label) in invalid {
            assert!(!valid_key(key), "{label}");
        }
    }

    #[test]
    fn tracestate_values() {
        assert!(valid_value("v"));
        assert!(valid_value(" leading space is a chr"));
        assert!(valid_value("!\"#$%&'()*+-./:;<>?@[]^_`{|}~"));
        assert!(valid_value(&"v".repeat(256)));
        for (value, label) in [
            ("", "empty"),
            ("a b ", "trailing space"),
            ("a,b", "comma"),
            ("a=b", "equals"),
            ("a\tb", "tab"),
            ("é", "non-ASCII"),
            ("\u{7f}", "DEL"),
            (&*"v".repeat(257), "257 characters"),
        ] {
            assert!(!valid_value(value), "{label}");
        }
    }

    #[test]
    fn tracestate_lists() {
        use TracestateError as E;
        fn ok<'a>(lines: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, TracestateError> {
            parse_tracestate(lines.iter().copied())
        }
        assert_eq!(ok(&["a=1,b=2"]).unwrap(), vec![("a", "1"), ("b", "2")]);
        assert_eq!(
            ok(&["a=1", "b=2"]).unwrap(),
            vec![("a", "1"), ("b", "2")],
            "lines joined"
        );
        assert_eq!(
            ok(&[" a=1 ,\t, ,b=2\t"]).unwrap().len(),
            2,
            "OWS and empty members"
        );
        assert_eq!(ok(&[""]).unwrap(), vec![], "empty header");
        let members32: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert_eq!(ok(&[&members32.join(",")]).unwrap().len(), 32);
        let members33: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let many: Vec<String> = (0..10_000).map(|i| format!("k{i}=v")).collect();
        let cases: Vec<(Vec<String>, E, &str)> = vec![
            (vec![members33.join(",")], E::TooManyMembers, "33 members"),
            (
                vec![members32.join(","), "x=1".into()],
                E::TooManyMembers,
                "33 members over two lines",
            ),
            (
                vec![members32.join(","), "k0=1".into()],
                E::TooManyMembers,
                "33 members, the last a duplicate",
            ),
            (vec![many.join(",")], E::TooManyMembers, "10 000 members"),
            (vec!["a".into()], E::MissingEquals, "no equals sign"),
            (vec!["A=1".into()], E::Key, "uppercase key"),
            (vec!["@a=1,b=2".into()], E::Key, "key starts with @"),
            (vec!["a=".into()], E::Value, "empty value"),
            (vec!["a=1=2".into()], E::Value, "equals in value"),
            (
                vec![format!("a={}", "v".repeat(1 << 20))],
                E::Value,
                "megabyte value",
            ),
        ];
        for (lines, reason, label) in cases {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(ok(&lines), Err(reason), "{label}");
        }
    }

    #[test]
    fn tracestate_duplicate_keys_keep_the_first_entry() {
        type Members<'a> = &'a [(&'a str, &'a str)];
        // (lines, members kept, label)
        let cases: [(&[&str], Members, &str); 6] = [
            (&["foo=1,foo=1"], &[("foo", "1")], "same key, same value"),
            (&["foo=1,foo=2"], &[("foo", "1")], "same key, other value"),
            (&["foo=1", "foo=1"], &[("foo", "1")], "over two lines"),
            (
                &["foo=1", "foo=2"],
                &[("foo", "1")],
                "over two lines, other value",
            ),
            (
                &["a=1,b=2,a=3,c=4,b=5"],
                &[("a", "1"), ("b", "2"), ("c", "4")],
                "order of first entries kept",
            ),
            (
                &["foo@@bar=1,bar=2,foo@@bar=3"],
                &[("foo@@bar", "1"), ("bar", "2")],
                "Level 2 key repeated",
            ),
        ];
        for (lines, kept, label) in cases {
            let parsed = parse_tracestate(lines.iter().copied());
            assert_eq!(parsed.as_deref(), Ok(kept), "{label}");
        }
    }

    fn extract(pairs: &[(&str, &str)]) -> Context {
        let mut map: HashMap<String, String> = HashMap::new();
        for (k, v) in pairs {
            map.insert(k.to_string(), v.to_string());
        }
        W3cTraceContextPropagator::new().extract_with_context(&Context::new(), &map)
    }

    #[test]
    fn extract_keeps_traceparent_when_tracestate_is_invalid() {
        let header = format!("00-{TID}-{SID}-01");
        let cx = extract(&[("traceparent", &header), ("tracestate", "a=1,A=2")]);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_state().header(), "");
    }

    #[test]
    fn tracestate_sent_on_under_the_level_2_grammar() {
        let tenant242 = format!("{}@v=1", "t".repeat(242));
        let system15 = format!("t@{}=1", "v".repeat(15));
        // (incoming tracestate, outgoing tracestate, label)
        let cases: Vec<(&str, Option<&str>, &str)> = vec![
            (
                "1foo=1,bar=2",
                Some("1foo=1,bar=2"),
                "key starts with a digit",
            ),
            ("foo@=1,bar=2", Some("foo@=1,bar=2"), "@ last"),
            (
                "foo@@bar=1,bar=2",
                Some("foo@@bar=1,bar=2"),
                "two @ in a row",
            ),
            (
                "foo@bar@baz=1,bar=2",
                Some("foo@bar@baz=1,bar=2"),
                "two @ apart",
            ),
            ("t@=1", Some("t@=1"), "one letter then @"),
            (&tenant242, Some(&tenant242), "242-char tenant"),
            (&system15, Some(&system15), "15-char system"),
            ("foo=1,foo=2", Some("foo=1"), "duplicate key: first kept"),
            ("a=1, b=2 ,a=3", Some("a=1,b=2"), "duplicate key, OWS"),
            ("@foo=1,bar=2", None, "key starts with @: dropped whole"),
            ("foo@=1,Bar=2", None, "uppercase key: dropped whole"),
        ];
        let header = format!("00-{TID}-{SID}-01");
        for (incoming, outgoing, label) in cases {
            let cx = extract(&[("traceparent", &header), ("tracestate", incoming)]);
            let mut out: HashMap<String, String> = HashMap::new();
            W3cTraceContextPropagator::new().inject_context(&cx, &mut out);
            assert_eq!(out.get("traceparent"), Some(&header), "{label}");
            assert_eq!(
                out.get("tracestate").map(String::as_str),
                outgoing,
                "{label}"
            );
        }
    }

    #[test]
    fn round_trip_keeps_flags_and_tracestate() {
        let header = format!("00-{TID}-{SID}-03");
        let cx = extract(&[
            ("traceparent", &header),
            ("tracestate", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"),
        ]);
        let mut out: HashMap<String, String> = HashMap::new();
        W3cTraceContextPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(out["traceparent"], header);
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn tracestate_that_upstream_cannot_hold_is_sent_on() {
        let system15 = format!("t@{}", "v".repeat(15));
        for key in ["foo@@bar", "foo@bar@baz", &system15] {
            assert!(
                TraceState::from_key_value([(key, "1")]).is_err(),
                "{key}: upstream holds it now; this test no longer tests the fallback"
            );
            let state = format!("foo=1,{key}=1,foo=2");
            let header = format!("00-{TID}-{SID}-01");
            let cx = extract(&[("traceparent", &header), ("tracestate", &state)]);
            let mut out: HashMap<String, String> = HashMap::new();
            W3cTraceContextPropagator::new().inject_context(&cx, &mut out);
            assert_eq!(out["tracestate"], format!("foo=1,{key}=1"), "{key}");
        }
    }

    #[test]
    fn random_flag_through_an_unsampled_hop() {
        use crate::bridge::RandomFlagTracer;
        use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider};
        use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
        // The default sampler, parentbased_always_on: an unsampled caller's
        // child is dropped, a sampled caller's recorded.
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .build();
        let tracer = RandomFlagTracer(provider.tracer("test"));
        // (incoming flags or None, outgoing flags, same trace, label)
        let cases = [
            (
                Some("02"),
                "02",
                true,
                "random, not sampled: kept on the dropped hop",
            ),
            (Some("03"), "03", true, "random, sampled"),
            (Some("01"), "01", true, "sampled, not random: stays unset"),
            (Some("00"), "00", true, "neither: stays unset"),
            (Some("06"), "02", true, "unknown bit dropped, random kept"),
            (
                None,
                "03",
                false,
                "no caller: a new trace, sampled and random",
            ),
        ];
        for (incoming, outgoing, same_trace, label) in cases {
            let headers: Vec<(&str, String)> = incoming
                .map(|flags| ("traceparent", format!("00-{TID}-{SID}-{flags}")))
                .into_iter()
                .collect();
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let parent = extract(&pairs);
            let cx =
                parent.with_span(tracer.build_with_context(SpanBuilder::from_name("hop"), &parent));
            let mut out: HashMap<String, String> = HashMap::new();
            W3cTraceContextPropagator::new().inject_context(&cx, &mut out);
            let tp = &out["traceparent"];
            assert_eq!(&tp[53..], outgoing, "{label}: {tp}");
            assert_eq!(&tp[3..35] == TID, same_trace, "{label}: {tp}");
            assert_ne!(&tp[36..52], SID, "{label}: a new span id");
        }
    }

    #[test]
    fn inject_writes_nothing_without_a_valid_span() {
        let mut out: HashMap<String, String> = HashMap::new();
        W3cTraceContextPropagator::new().inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn inject_never_sends_unknown_flags() {
        let sc = SpanContext::new(
            TraceId::from_hex(TID).unwrap(),
            SpanId::from_hex(SID).unwrap(),
            TraceFlags::new(0xff),
            false,
            TraceState::NONE,
        );
        assert_eq!(traceparent_string(&sc), format!("00-{TID}-{SID}-03"));
    }
}
