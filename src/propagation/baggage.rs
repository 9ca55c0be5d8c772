//! A strict W3C Baggage propagator (`baggage`).
//!
//! Follows the W3C Baggage Candidate Recommendation of 30 May 2024
//! (<https://www.w3.org/TR/baggage/>); the section numbers in the comments are
//! that document's. Every rule the parser checks is one commented line below, and
//! the tests at the end of this file label each rejected input with the rule it
//! breaks.
//!
//! What is read, and what happens past the limits (§3.3.2 lets a platform drop
//! list-members past 64 members or 8192 bytes, in any way it chooses, but never
//! propagate a partial one; the limits apply to all `baggage` lines together):
//!
//! * repeated `baggage` header lines are one list, as if joined with `,` (§3);
//! * a list longer than 8192 bytes, or with more than 64 non-empty list-members,
//!   is dropped whole and the context is left unchanged: nothing is truncated, so
//!   what is kept never depends on where a sender or a proxy cut the list. The
//!   length is checked before anything is parsed, so a hostile header costs one
//!   pass over the line lengths;
//! * a malformed list-member (no `=`, a key that is not an RFC 7230 `token`, a
//!   value or property outside the grammar of §3.3.1, a `%` that does not start a
//!   `%XX` escape) is dropped on its own and the other members are kept (§3.5:
//!   an entry not in the format "MAY" be removed). It still counts towards the
//!   64-member limit;
//! * values are percent-decoded (§3.3.1.3, RFC 3986 §2.1, hex digits of either
//!   case); decoded bytes that are not UTF-8 are replaced with U+FFFD, as §3.3.1.3
//!   requires, rather than dropping the member;
//! * keys are tokens and are not decoded (§3.3.1.2: a `%` in a key is a literal
//!   character of the token);
//! * properties (§3.3.1.4) are kept, verbatim (not decoded: the specification
//!   gives them no meaning), with white space around keys, values and `=` removed,
//!   in the [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata) of their
//!   member (`p1;p2=v2`), and sent on as they came;
//! * empty list-members (`a=1,,b=2`) are skipped, as RFC 7230 §7 asks of list
//!   recipients;
//! * a duplicate key keeps its last value (§3.5 allows deduplicating; the
//!   [`Baggage`] of OpenTelemetry holds one value per key);
//! * the result replaces the baggage of the context; a list with no valid member
//!   leaves the context unchanged.
//!
//! What is written: the context's [`Baggage`], members in key order, values
//! percent-encoded (every byte outside `baggage-octet`, and `%`, §3.3.1.3),
//! properties that are not valid per §3.3.1 left out (the member itself is sent).
//! A member that would take the list past 64 members or 8192 bytes is left out
//! whole and the following ones are still tried (§3.3.2), so what is written is
//! always accepted whole by a strict reader.
//!
//! Where it differs from `opentelemetry_sdk::propagation::BaggagePropagator`
//! (each measured against that crate, 0.33.1):
//!
//! * upstream reads only the first `baggage` line (it calls `get`, not `get_all`);
//! * upstream keeps the first 64 comma-separated pieces of a longer list (empty
//!   ones counted) and drops the rest;
//! * upstream cuts a value at its second `=` (`k=a=b` gives `a`), which §3.3.1.3
//!   forbids, percent-decodes keys, accepts values with spaces, `"`, `\`, control
//!   bytes or non-ASCII characters, keeps `%zz` or a trailing `%` literally, and
//!   drops a whole member whose escapes decode to invalid UTF-8 instead of
//!   replacing them with U+FFFD;
//! * upstream percent-decodes properties and silently drops the ones that are not
//!   UTF-8;
//! * upstream's inject sends `%` and `\` unencoded (a value `%41` arrives as `A`),
//!   writes metadata unchecked (a `,` in it splits the member), trims values, and
//!   has no size limit: 64 members of 40 `é` make a 15 679-byte header that every
//!   strict reader, upstream's included, drops whole;
//! * upstream's extract of a header with no valid member clears the baggage the
//!   context already had.

use std::sync::OnceLock;

use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;

use crate::untrusted::{percent_decode, trim_ows, NotUtf8};

/// The `baggage` header name.
pub(crate) const BAGGAGE: &str = "baggage";

/// §3.3.2 Condition 1: at most 64 list-members.
const MAX_MEMBERS: usize = 64;

/// §3.3.2 Condition 2: at most 8192 bytes, all `baggage` lines together.
const MAX_BYTES: usize = 8192;

/// The strict W3C Baggage propagator.
///
/// Implements OpenTelemetry's [`TextMapPropagator`] and stores what it reads as
/// OpenTelemetry's [`Baggage`] in the context, so the rest of OpenTelemetry sees
/// it (it is the second half of [`default_propagator`](crate::propagation::default_propagator)).
///
/// Strict per the W3C Baggage Candidate Recommendation (<https://www.w3.org/TR/baggage/>):
/// repeated `baggage` lines are one list; a list over 8192 bytes or 64 members is
/// dropped whole (the context is left unchanged), a malformed member is dropped
/// on its own; values are percent-decoded, with U+FFFD for bytes that are not
/// UTF-8, and a `%` that does not start an escape makes its member malformed;
/// properties are kept verbatim in the entry's metadata. Inject percent-encodes
/// values and writes whole members, in key order, within the same limits.
///
/// ```
/// use distributed_tracing::propagation::W3cBaggagePropagator;
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "baggage".to_string(),
///     "userId=Am%C3%A9lie, serverNode = DF%2028;zone=eu, bad key=1".to_string(),
/// );
/// let cx = W3cBaggagePropagator::new().extract(&headers);
/// assert_eq!(cx.baggage().get("userId").unwrap().as_str(), "Amélie");
/// assert_eq!(cx.baggage().get("serverNode").unwrap().as_str(), "DF 28");
/// assert_eq!(cx.baggage().len(), 2, "the malformed member is dropped on its own");
///
/// let mut out = HashMap::new();
/// W3cBaggagePropagator::new().inject_context(&cx, &mut out);
/// assert_eq!(out["baggage"], "serverNode=DF%2028;zone=eu,userId=Am%C3%A9lie");
///
/// // A list over 8192 bytes is dropped whole, not truncated.
/// headers.insert("baggage".into(), format!("a=1,b={}", "x".repeat(8192)));
/// assert!(W3cBaggagePropagator::new().extract(&headers).baggage().is_empty());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct W3cBaggagePropagator {
    _private: (),
}

impl W3cBaggagePropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// Why a whole `baggage` list was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BaggageError {
    TooLong,
    TooManyMembers,
}

/// Why one list-member was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberError {
    MissingEquals,
    Key,
    Value,
    PercentEscape,
    PropertyKey,
    PropertyValue,
}

/// A valid list-member: its key, its decoded value, its properties (verbatim,
/// white space around them removed, joined with `;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: String,
    pub(crate) properties: String,
}

/// `tchar` (RFC 7230 §3.2.6): the characters of a `token`.
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// token = 1*tchar
fn valid_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(tchar)
}

/// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (§3.3.1):
/// printable ASCII but space, DQUOTE, comma, semicolon and backslash.
fn baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// value = *baggage-octet
fn valid_value(s: &str) -> bool {
    s.bytes().all(baggage_octet)
}

/// Checks a property list (the text after a value's first `;`) and returns it
/// normalised: each property's white space removed, joined with `;`.
fn parse_properties(props: &str) -> Result<String, MemberError> {
    let mut out = String::with_capacity(props.len());
    for (i, property) in props.split(';').enumerate() {
        // property = key OWS "=" OWS value / key OWS (§3.3.1), OWS around each
        // property removed (§3.3.1.4).
        let (key, value) = match property.split_once('=') {
            Some((key, value)) => (trim_ows(key), Some(trim_ows(value))),
            None => (trim_ows(property), None),
        };
        // The property key is a token (an empty property is none).
        if !valid_token(key) {
            return Err(MemberError::PropertyKey);
        }
        // The property value is *baggage-octet; kept verbatim, not decoded.
        if value.is_some_and(|v| !valid_value(v)) {
            return Err(MemberError::PropertyValue);
        }
        if i > 0 {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    Ok(out)
}

/// Parses one non-empty list-member (white space around it already removed).
pub(crate) fn parse_member(member: &str) -> Result<Member<'_>, MemberError> {
    // list-member = key OWS "=" OWS value *( OWS ";" OWS property ): ";" is neither
    // a tchar nor a baggage-octet, so the first ";" ends the value.
    let (key_value, properties) = match member.split_once(';') {
        Some((kv, props)) => (kv, Some(props)),
        None => (member, None),
    };
    // The first "=" ends the key; the value may contain more (§3.3.1.3).
    let (key, value) = key_value
        .split_once('=')
        .ok_or(MemberError::MissingEquals)?;
    // OWS around the key and the value is not part of them (§3.3.1.2, §3.3.1.3).
    let (key, value) = (trim_ows(key), trim_ows(value));
    // key = token (RFC 7230 §3.2.6): ASCII only, not empty, no separators.
    if !valid_token(key) {
        return Err(MemberError::Key);
    }
    // value = *baggage-octet: no white space, DQUOTE, comma, semicolon,
    // backslash, control or non-ASCII byte (those must arrive percent-encoded).
    if !valid_value(value) {
        return Err(MemberError::Value);
    }
    // §3.3.1.3: a literal "%" MUST itself be encoded, so every "%" starts an
    // escape; octet sequences that are not UTF-8 MUST be replaced with U+FFFD.
    let value = percent_decode(value, NotUtf8::Replace).ok_or(MemberError::PercentEscape)?;
    let properties = match properties {
        Some(props) => parse_properties(props)?,
        None => String::new(),
    };
    Ok(Member {
        key,
        value,
        properties,
    })
}

/// Parses the `baggage` header lines (one list, as if joined with `,`) into its
/// valid members, malformed members skipped.
///
/// Linear in the input; never looks at the content of a list over the byte limit
/// and stops at the 65th member.
pub(crate) fn parse_baggage<'a>(lines: &[&'a str]) -> Result<Vec<Member<'a>>, BaggageError> {
    // §3.3.2 Condition 2: at most 8192 bytes, all lines together (joined with ",");
    // a longer list is dropped whole, before any parsing.
    let mut bytes = lines.len().saturating_sub(1);
    for line in lines {
        bytes += line.len();
        if bytes > MAX_BYTES {
            return Err(BaggageError::TooLong);
        }
    }
    let mut members = Vec::new();
    let mut count = 0;
    for line in lines {
        // baggage-string = list-member 0*179( OWS "," OWS list-member ) (§3.3.1).
        for member in line.split(',') {
            let member = trim_ows(member);
            // Empty list elements are ignored (RFC 7230 §7).
            if member.is_empty() {
                continue;
            }
            // §3.3.2 Condition 1: at most 64 list-members, malformed ones included;
            // a longer list is dropped whole.
            count += 1;
            if count > MAX_MEMBERS {
                return Err(BaggageError::TooManyMembers);
            }
            // §3.5: a member not in the format is removed; the others are kept.
            if let Ok(member) = parse_member(member) {
                members.push(member);
            }
        }
    }
    Ok(members)
}

/// Percent-encodes a value: every byte outside `baggage-octet`, and `%` (§3.3.1.3).
fn percent_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if baggage_octet(b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0f)] as char);
        }
    }
}

/// The valid properties of a metadata string, normalised; invalid ones left out.
fn sanitize_properties(metadata: &str) -> String {
    if trim_ows(metadata).is_empty() {
        return String::new();
    }
    metadata
        .split(';')
        .filter_map(|property| parse_properties(property).ok())
        .collect::<Vec<_>>()
        .join(";")
}

/// The `baggage` header for `baggage`, within the limits; `None` if nothing fits.
pub(crate) fn baggage_header(baggage: &Baggage) -> Option<String> {
    let mut entries: Vec<_> = baggage.iter().collect();
    // A stable order: members sorted by key (a key is unique in `Baggage`).
    entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut header = String::new();
    let mut members = 0;
    let mut member = String::new();
    for (key, (value, metadata)) in entries {
        let key = key.as_str();
        // key = token; `Baggage` checks it on insert, checked again here.
        if !valid_token(key) {
            continue;
        }
        member.clear();
        member.push_str(key);
        member.push('=');
        percent_encode(value.as_str(), &mut member);
        let properties = sanitize_properties(metadata.as_str());
        if !properties.is_empty() {
            member.push(';');
            member.push_str(&properties);
        }
        // §3.3.2: at most 64 members and 8192 bytes; a member that does not fit is
        // left out whole (never a partial member) and the next ones are tried.
        let separator = usize::from(members > 0);
        if members == MAX_MEMBERS || header.len() + separator + member.len() > MAX_BYTES {
            continue;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(&member);
        members += 1;
    }
    (members > 0).then_some(header)
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [BAGGAGE.to_string()])
}

impl TextMapPropagator for W3cBaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(header) = baggage_header(cx.baggage()) {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Every baggage line: repeated headers are one list (§3).
        let Some(lines) = extractor.get_all(BAGGAGE) else {
            return cx.clone();
        };
        // Over a limit: dropped whole, the context is unchanged.
        let Ok(members) = parse_baggage(&lines) else {
            return cx.clone();
        };
        if members.is_empty() {
            return cx.clone();
        }
        let mut baggage = Baggage::new();
        for member in members {
            // A duplicate key keeps its last value. The limits checked above keep
            // `Baggage`'s own (64 entries, 8192 bytes of keys, values and
            // metadata) from dropping anything: decoding never makes text longer.
            baggage.insert_with_metadata(member.key.to_string(), member.value, member.properties);
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::PairsExtractor;
    use opentelemetry::baggage::BaggageMetadata;
    use opentelemetry::KeyValue;
    use std::collections::HashMap;

    #[test]
    fn valid_members() {
        let cases = [
            ("k=v", "k", "v", "", "simple"),
            (
                "k \t= \tv",
                "k",
                "v",
                "",
                "white space around the equals sign",
            ),
            ("k=", "k", "", "", "empty value"),
            ("k=a=b==", "k", "a=b==", "", "equals signs in the value"),
            (
                "!#$%&'*+-.^_`|~09AZaz=v",
                "!#$%&'*+-.^_`|~09AZaz",
                "v",
                "",
                "every tchar in the key",
            ),
            ("k%41=v", "k%41", "v", "", "a key is not decoded"),
            ("k=DF%2028", "k", "DF 28", "", "escaped space"),
            ("k=Am%C3%A9lie", "k", "Amélie", "", "escaped UTF-8"),
            ("k=%c3%a9", "k", "é", "", "lowercase hex digits"),
            ("k=100%25", "k", "100%", "", "escaped percent sign"),
            (
                "k=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29",
                "k",
                "\t \"';=asdf!@#$%^&*()",
                "",
                "the W3C test suite's value",
            ),
            ("k=a%FFb", "k", "a\u{fffd}b", "", "invalid UTF-8: U+FFFD"),
            (
                "k=%80",
                "k",
                "\u{fffd}",
                "",
                "lone continuation byte: U+FFFD",
            ),
            (
                "k=%C0%AF",
                "k",
                "\u{fffd}\u{fffd}",
                "",
                "overlong encoding: U+FFFD each",
            ),
            (
                "k=%ED%A0%80",
                "k",
                "\u{fffd}\u{fffd}\u{fffd}",
                "",
                "surrogate: U+FFFD each",
            ),
            (
                "k=%E2%82x",
                "k",
                "\u{fffd}x",
                "",
                "truncated sequence: one U+FFFD",
            ),
            (
                "k=!#$&'()*+-./:<=>?@[]^_`{|}~",
                "k",
                "!#$&'()*+-./:<=>?@[]^_`{|}~",
                "",
                "every unreserved punctuation octet",
            ),
            ("k=v;p", "k", "v", "p", "key-only property"),
            ("k=v;p=x", "k", "v", "p=x", "key-value property"),
            (
                "k=v \t; p1 ;\tp2 = a%20b=c ",
                "k",
                "v",
                "p1;p2=a%20b=c",
                "properties: white space removed, kept verbatim",
            ),
            ("k=v;p=", "k", "v", "p=", "property with an empty value"),
        ];
        for (input, key, value, properties, label) in cases {
            let member = parse_member(input).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(member.key, key, "{label}");
            assert_eq!(member.value, value, "{label}");
            assert_eq!(member.properties, properties, "{label}");
        }
    }

    #[test]
    fn invalid_members() {
        use MemberError as E;
        let long_key = format!("{}=v", "k ".repeat(1 << 19));
        let cases: Vec<(String, E, &str)> = vec![
            ("k".into(), E::MissingEquals, "no equals sign"),
            (
                "k;p=v".into(),
                E::MissingEquals,
                "equals sign only in a property",
            ),
            ("=v".into(), E::Key, "empty key"),
            (" \t=v".into(), E::Key, "white-space key"),
            ("a b=v".into(), E::Key, "space inside the key"),
            ("a(b=v".into(), E::Key, "separator in the key"),
            ("a/b=v".into(), E::Key, "slash in the key"),
            ("a\"b=v".into(), E::Key, "DQUOTE in the key"),
            ("é=v".into(), E::Key, "non-ASCII key"),
            ("a\u{1}=v".into(), E::Key, "control byte in the key"),
            ("a\u{7f}=v".into(), E::Key, "DEL in the key"),
            (long_key, E::Key, "half-megabyte key with spaces"),
            ("k=a b".into(), E::Value, "space inside the value"),
            ("k=a\tb".into(), E::Value, "tab inside the value"),
            ("k=a\"b".into(), E::Value, "DQUOTE in the value"),
            ("k=a\\b".into(), E::Value, "backslash in the value"),
            ("k=é".into(), E::Value, "raw non-ASCII value"),
            ("k=\u{0}".into(), E::Value, "NUL in the value"),
            ("k=a\u{1b}b".into(), E::Value, "ESC in the value"),
            ("k=a\u{7f}".into(), E::Value, "DEL in the value"),
            ("k=a\r\nb".into(), E::Value, "CR LF in the value"),
            ("k=100%".into(), E::PercentEscape, "trailing percent sign"),
            ("k=%4".into(), E::PercentEscape, "one hex digit"),
            ("k=%zz".into(), E::PercentEscape, "non-hex escape"),
            ("k=%%41".into(), E::PercentEscape, "percent then escape"),
            ("k=%-1".into(), E::PercentEscape, "sign in the escape"),
            ("k=v;".into(), E::PropertyKey, "empty property"),
            (
                "k=v;;p".into(),
                E::PropertyKey,
                "empty property between two",
            ),
            ("k=v;=x".into(), E::PropertyKey, "property without key"),
            ("k=v;a b".into(), E::PropertyKey, "space in a property key"),
            (
                "k=v;p=a b".into(),
                E::PropertyValue,
                "space in a property value",
            ),
            (
                "k=v;p=é".into(),
                E::PropertyValue,
                "non-ASCII property value",
            ),
            (
                "k=v;p=\u{1}".into(),
                E::PropertyValue,
                "control byte in a property value",
            ),
        ];
        for (input, reason, label) in cases {
            assert_eq!(parse_member(&input), Err(reason), "{label}: {input:.60}");
        }
    }

    fn keys(members: &[Member<'_>]) -> Vec<String> {
        members.iter().map(|m| m.key.to_string()).collect()
    }

    #[test]
    fn lists() {
        let ok = |lines: &[&str]| keys(&parse_baggage(lines).unwrap());
        assert_eq!(ok(&["a=1,b=2"]), ["a", "b"]);
        assert_eq!(ok(&["a=1", "b=2"]), ["a", "b"], "lines are one list");
        assert_eq!(
            ok(&[" a=1 ,\t, ,b=2\t"]),
            ["a", "b"],
            "OWS and empty members"
        );
        assert_eq!(
            ok(&["a=1,b,c=3"]),
            ["a", "c"],
            "a malformed member alone is dropped"
        );
        assert_eq!(ok(&["a=1,a=2"]), ["a", "a"], "duplicates are all read");
        assert!(ok(&[""]).is_empty(), "empty header");
        assert!(ok(&[",,,"]).is_empty(), "only empty members");

        let members64: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
        assert_eq!(ok(&[&members64.join(",")]).len(), 64, "64 members");
        let with_empty = format!("{}{}", ",".repeat(100), members64.join(", ,"));
        assert_eq!(ok(&[&with_empty]).len(), 64, "empty members do not count");

        let value8190 = "v".repeat(8190);
        assert_eq!(ok(&[&format!("k={value8190}")]).len(), 1, "8192 bytes");
        let half = "v".repeat(4094);
        assert_eq!(
            ok(&[&format!("a={half}"), &format!("b={}", &half[1..])]).len(),
            2,
            "8192 bytes over two lines, the joining comma counted"
        );
    }

    #[test]
    fn lists_dropped_whole() {
        use BaggageError as E;
        let value8190 = "v".repeat(8190);
        let half = "v".repeat(4094);
        let members65: Vec<String> = (0..65).map(|i| format!("k{i}=v")).collect();
        let members64: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
        let short: Vec<String> = (0..10_000).map(|i| format!("{}=", i % 10)).collect();
        let cases: Vec<(Vec<String>, E, &str)> = vec![
            (vec![format!("k={value8190}v")], E::TooLong, "8193 bytes"),
            (
                vec![format!("a={half}"), format!("b={half}")],
                E::TooLong,
                "8193 bytes over two lines with the comma",
            ),
            (
                vec![format!("k={}", "v".repeat(1 << 20))],
                E::TooLong,
                "a 1 MiB header",
            ),
            (
                vec!["a=1".into(); 100_000],
                E::TooLong,
                "100 000 lines of 3 bytes",
            ),
            (vec![short.join(",")], E::TooLong, "10 000 members"),
            (vec![members65.join(",")], E::TooManyMembers, "65 members"),
            (
                vec![members64.join(","), "x=1".into()],
                E::TooManyMembers,
                "65 members over two lines",
            ),
            (
                vec![format!("{},bad", members64.join(","))],
                E::TooManyMembers,
                "64 members and a malformed one",
            ),
            (
                vec![(0..65).map(|_| "=").collect::<Vec<_>>().join(",")],
                E::TooManyMembers,
                "65 malformed members",
            ),
        ];
        for (lines, reason, label) in cases {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(parse_baggage(&lines), Err(reason), "{label}");
        }
    }

    fn extract_lines(cx: &Context, lines: &[&str]) -> Context {
        let extractor = PairsExtractor::new(lines.iter().map(|l| ("baggage", *l)));
        W3cBaggagePropagator::new().extract_with_context(cx, &extractor)
    }

    fn value(cx: &Context, key: &str) -> Option<String> {
        cx.baggage().get(key).map(|v| v.as_str().to_string())
    }

    #[test]
    fn extract_stores_baggage_in_the_context() {
        let cx = extract_lines(
            &Context::new(),
            &[
                "userId=alice",
                "serverNode = DF%2028;p1; p2=x , isProduction=false",
            ],
        );
        assert_eq!(cx.baggage().len(), 3);
        assert_eq!(value(&cx, "userId").as_deref(), Some("alice"));
        assert_eq!(value(&cx, "serverNode").as_deref(), Some("DF 28"));
        assert_eq!(
            cx.baggage().get_with_metadata("serverNode").unwrap().1,
            BaggageMetadata::from("p1;p2=x")
        );
    }

    #[test]
    fn extract_leaves_the_context_unchanged_when_dropped() {
        let before = Context::new().with_baggage([KeyValue::new("old", "1")]);
        let members65: Vec<String> = (0..65).map(|i| format!("k{i}=v")).collect();
        let cases: Vec<(Vec<String>, &str)> = vec![
            (vec![format!("k={}", "v".repeat(1 << 20))], "1 MiB header"),
            (vec![members65.join(",")], "65 members"),
            (vec!["bad, k=a b, é=1".into()], "no valid member"),
            (vec!["".into()], "empty header"),
        ];
        for (lines, label) in cases {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let cx = extract_lines(&before, &lines);
            assert_eq!(value(&cx, "old").as_deref(), Some("1"), "{label}");
            assert_eq!(cx.baggage().len(), 1, "{label}");
        }
        let map: HashMap<String, String> = HashMap::new();
        let cx = W3cBaggagePropagator::new().extract_with_context(&before, &map);
        assert_eq!(value(&cx, "old").as_deref(), Some("1"), "no header");
    }

    #[test]
    fn extract_replaces_the_baggage_of_the_context() {
        let before = Context::new().with_baggage([KeyValue::new("old", "1")]);
        let cx = extract_lines(&before, &["new=2"]);
        assert_eq!(value(&cx, "old"), None);
        assert_eq!(value(&cx, "new").as_deref(), Some("2"));
    }

    #[test]
    fn duplicate_key_keeps_the_last_value() {
        let cx = extract_lines(&Context::new(), &["k=1,j=0", "k=2"]);
        assert_eq!(value(&cx, "k").as_deref(), Some("2"));
        assert_eq!(cx.baggage().len(), 2);
    }

    #[test]
    fn hostile_headers() {
        let megabyte = format!("k={}", "v".repeat(1 << 20));
        let many: Vec<String> = (0..10_000).map(|i| format!("k{i}=v")).collect();
        let many = many.join(",");
        let control: String = (0u8..0x20).map(char::from).collect();
        let control = format!("k={control},j=1");
        let cases: Vec<(Vec<&str>, usize, &str)> = vec![
            (vec![&megabyte], 0, "1 MiB header"),
            (vec![&many], 0, "10 000 members"),
            (vec!["k=Amélie,j=1"], 1, "raw non-ASCII value dropped alone"),
            (vec!["ключ=v,j=1"], 1, "non-ASCII key dropped alone"),
            (vec![&control], 1, "control bytes"),
            (vec!["k=%00%01%1b,j=1"], 2, "escaped control bytes are data"),
            (vec!["k=%zz,j=%41"], 1, "invalid escape dropped alone"),
            (vec!["k=%FF%FE%FD"], 1, "invalid UTF-8 replaced"),
            (vec!["a=1"; 64], 1, "64 lines of the same member"),
            (vec!["a=1"; 65], 0, "65 lines"),
        ];
        for (lines, len, label) in cases {
            let cx = extract_lines(&Context::new(), &lines);
            assert_eq!(cx.baggage().len(), len, "{label}");
        }
    }

    fn inject(baggage: Baggage) -> Option<String> {
        let mut out: HashMap<String, String> = HashMap::new();
        W3cBaggagePropagator::new().inject_context(&Context::new().with_baggage(baggage), &mut out);
        out.remove("baggage")
    }

    #[test]
    fn inject_encodes_values() {
        let cases = [
            ("plain", "plain", "baggage-octets as they are"),
            ("DF 28", "DF%2028", "space"),
            ("100%", "100%25", "percent sign"),
            ("%41", "%2541", "an escape-like value"),
            ("a,b;c", "a%2Cb%3Bc", "comma and semicolon"),
            ("\"\\", "%22%5C", "DQUOTE and backslash"),
            ("Amélie", "Am%C3%A9lie", "non-ASCII"),
            ("\u{0}\u{1b}\u{7f}", "%00%1B%7F", "control bytes"),
            (" padded ", "%20padded%20", "white space around is kept"),
            ("a=b", "a=b", "equals sign"),
            ("", "", "empty value"),
        ];
        for (value, encoded, label) in cases {
            let mut baggage = Baggage::new();
            baggage.insert("k", value);
            assert_eq!(inject(baggage), Some(format!("k={encoded}")), "{label}");
        }
    }

    #[test]
    fn inject_properties() {
        let cases = [
            ("p", "k=v;p", "key-only"),
            ("p1; p2 = x", "k=v;p1;p2=x", "white space removed"),
            ("bad key;p=1", "k=v;p=1", "an invalid property is left out"),
            ("p=a,b", "k=v", "a comma would split the member"),
            ("p=\u{1}", "k=v", "control byte"),
            (";;", "k=v", "empty properties"),
        ];
        for (metadata, header, label) in cases {
            let mut baggage = Baggage::new();
            baggage.insert_with_metadata("k", "v", metadata);
            assert_eq!(inject(baggage).as_deref(), Some(header), "{label}");
        }
    }

    #[test]
    fn inject_respects_the_limits() {
        // Nothing to send.
        assert_eq!(inject(Baggage::new()), None);
        // 64 values of 40 "é": 5 184 bytes decoded, over 15 000 encoded: members
        // are written in key order while they fit, none of them cut.
        let mut baggage = Baggage::new();
        for i in 0..64 {
            baggage.insert(format!("k{i:02}"), "é".repeat(40));
        }
        let header = inject(baggage).unwrap();
        assert!(header.len() <= MAX_BYTES, "{}", header.len());
        let members: Vec<&str> = header.split(',').collect();
        assert_eq!(members.len(), 33);
        let member = format!("={}", "%C3%A9".repeat(40));
        for (i, m) in members.iter().enumerate() {
            assert_eq!(*m, format!("k{i:02}{member}"));
        }
        // A member too long on its own is skipped, the smaller ones still sent.
        let mut baggage = Baggage::new();
        baggage.insert("a", "é".repeat(2000));
        baggage.insert("b", "1");
        assert_eq!(inject(baggage).as_deref(), Some("b=1"));
        // What is written is read back whole.
        let mut baggage = Baggage::new();
        for i in 0..64 {
            baggage.insert(format!("k{i:02}"), "\u{1}".repeat(40));
        }
        let header = inject(baggage).unwrap();
        assert!(parse_baggage(&[&header]).is_ok());
    }

    #[test]
    fn round_trip() {
        let mut baggage = Baggage::new();
        baggage.insert("userId", "Amélie");
        baggage.insert("path", "/a b/c,d;e=f%20\"\\");
        baggage.insert("empty", "");
        baggage.insert("!#$%&'*+-.^_`|~", " ☃ \u{0}\u{7f}");
        baggage.insert_with_metadata("p", "v", "p1;p2=x%20y");
        let header = inject(baggage).unwrap();
        let cx = extract_lines(&Context::new(), &[&header]);
        assert_eq!(cx.baggage().len(), 5);
        assert_eq!(value(&cx, "userId").as_deref(), Some("Amélie"));
        assert_eq!(value(&cx, "path").as_deref(), Some("/a b/c,d;e=f%20\"\\"));
        assert_eq!(value(&cx, "empty").as_deref(), Some(""));
        assert_eq!(
            value(&cx, "!#$%&'*+-.^_`|~").as_deref(),
            Some(" ☃ \u{0}\u{7f}")
        );
        assert_eq!(
            cx.baggage().get_with_metadata("p").unwrap().1,
            BaggageMetadata::from("p1;p2=x%20y")
        );
        // Extract then inject gives the same header again.
        let mut out: HashMap<String, String> = HashMap::new();
        W3cBaggagePropagator::new().inject_context(&cx, &mut out);
        assert_eq!(out["baggage"], header);
    }

    #[test]
    fn fields_name_the_header() {
        let p = W3cBaggagePropagator::new();
        assert_eq!(p.fields().collect::<Vec<_>>(), ["baggage"]);
    }
}
