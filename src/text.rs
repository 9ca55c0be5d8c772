//! Small text helpers shared by the header parsers, the configuration and the
//! layers that copy outside text into spans, log lines and reports.

/// `s` without HTTP "optional white space" (OWS: spaces and horizontal tabs,
/// RFC 9110 §5.6.3, the OWS of the W3C header grammars) around it.
pub(crate) fn trim_ows(s: &str) -> &str {
    // Bytes, not chars: both OWS characters are ASCII, so the cut positions are
    // character boundaries, and this stays cheap on the propagation hot path.
    let b = s.as_bytes();
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !ows(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ows(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// How [`percent_decode`] treats decoded octets that are not UTF-8. The two
/// inputs that are percent-decoded ask for different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotUtf8 {
    /// Replace them with U+FFFD: W3C Baggage §3.3.1.3 says a value's octet
    /// sequences that are not UTF-8 MUST be replaced so, and propagation never
    /// fails a request.
    Replace,
    /// Refuse the value: a configuration value (`OTEL_EXPORTER_OTLP_HEADERS`)
    /// is written by the user, who is better told than sent an altered header.
    Reject,
}

/// Percent-decodes `s`: every `%` starts a `"%" HEXDIG HEXDIG` escape (RFC 3986
/// §2.1, either case), every other byte stands for itself. `None` when a `%`
/// is not followed by two hex digits, or, with [`NotUtf8::Reject`], when the
/// decoded octets are not UTF-8.
pub(crate) fn percent_decode(s: &str, not_utf8: NotUtf8) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex_digit)?;
            let lo = b.get(i + 2).copied().and_then(hex_digit)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    match (String::from_utf8(out), not_utf8) {
        (Ok(s), _) => Some(s),
        (Err(e), NotUtf8::Replace) => Some(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        (Err(_), NotUtf8::Reject) => None,
    }
}

/// The value of one hex digit, either case.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `s` cut to at most `max` bytes, at the last character boundary that fits.
///
/// A value that fits is returned whole; a longer one loses at most 3 more
/// bytes than needed (the rest of a character that straddles the cut).
// Used by the HTTP layers and the OTLP exporters only; compiled (and tested)
// with every feature set, as the rest of this module is needed by all.
#[cfg_attr(
    not(any(
        feature = "http-server",
        feature = "reqwest",
        feature = "otlp-grpc",
        feature = "otlp-http"
    )),
    allow(dead_code)
)]
pub(crate) fn capped(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    // A UTF-8 character is at most 4 bytes: at most 3 steps back.
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_ows_removes_spaces_and_tabs_only() {
        // (value, expected, why)
        let cases: &[(&str, &str, &str)] = &[
            ("abc", "abc", "nothing to trim"),
            ("  abc\t", "abc", "spaces and a tab"),
            ("\t a b \t", "a b", "inner white space kept"),
            ("", "", "empty"),
            (" \t ", "", "only OWS"),
            ("\nabc\r", "\nabc\r", "CR and LF are not OWS"),
            (" é ", "é", "multi-byte character at the edges"),
            ("\u{a0}a", "\u{a0}a", "no-break space is not OWS"),
        ];
        for (value, expected, why) in cases {
            assert_eq!(trim_ows(value), *expected, "{why}");
        }
    }

    #[test]
    fn percent_decode_rules() {
        use NotUtf8::{Reject, Replace};
        // (value, rule, expected, why)
        let cases: &[(&str, NotUtf8, Option<&str>, &str)] = &[
            ("a%20b", Reject, Some("a b"), "an escape"),
            ("%3d%3D", Reject, Some("=="), "hex digits in either case"),
            ("plain", Reject, Some("plain"), "nothing to decode"),
            ("%c3%a9", Reject, Some("é"), "a UTF-8 sequence"),
            ("%", Reject, None, "a lone %"),
            ("%2", Reject, None, "one digit"),
            ("%zz", Reject, None, "not hex"),
            ("%+a", Reject, None, "a sign is not a digit"),
            ("%e9", Reject, None, "not UTF-8, rejected"),
            ("%e9", Replace, Some("\u{FFFD}"), "not UTF-8, replaced"),
            (
                "a%zz",
                Replace,
                None,
                "a bad escape is refused under both rules",
            ),
        ];
        for (value, rule, expected, why) in cases {
            assert_eq!(percent_decode(value, *rule).as_deref(), *expected, "{why}");
        }
    }

    #[test]
    fn capped_cuts_at_a_character_boundary() {
        // (value, cap, expected, why)
        let cases: &[(&str, usize, &str, &str)] = &[
            ("abc", 4, "abc", "ASCII under the cap"),
            ("abcd", 4, "abcd", "ASCII at the cap"),
            ("abcde", 4, "abcd", "ASCII over the cap"),
            ("", 4, "", "empty"),
            ("abc", 0, "", "cap 0"),
            ("é", 0, "", "cap 0, multi-byte"),
            ("aé", 2, "a", "2-byte char straddling the cut"),
            ("aé", 3, "aé", "2-byte char ending at the cut"),
            ("a€", 2, "a", "3-byte char, cut after its first byte"),
            ("a€", 3, "a", "3-byte char, cut after its second byte"),
            ("a€", 4, "a€", "3-byte char ending at the cut"),
            ("a😀", 2, "a", "4-byte char, cut after its first byte"),
            ("a😀", 3, "a", "4-byte char, cut after its second byte"),
            ("a😀", 4, "a", "4-byte char, cut after its third byte"),
            ("a😀b", 5, "a😀", "4-byte char ending at the cut"),
            ("😀", 3, "", "only a 4-byte char, cap under it"),
            ("éé", 3, "é", "2-byte chars, cut in the second"),
        ];
        for (value, max, expected, why) in cases {
            assert_eq!(capped(value, *max), *expected, "{why}");
            assert!(capped(value, *max).len() <= *max, "{why}");
        }
    }

    #[test]
    fn capped_borrows_from_its_input() {
        let s = "abcdef";
        assert!(std::ptr::eq(capped(s, 3).as_ptr(), s.as_ptr()));
        assert!(std::ptr::eq(capped(s, 10), s));
    }
}
