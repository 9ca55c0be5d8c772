//! Text from outside (headers, the environment, a collector's answers):
//! trimming, percent-decoding, and escaping and shortening it before it is
//! shown in a message, a span or a log line. Shared by the header parsers,
//! the configuration and the layers.

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
// Used by the HTTP and gRPC layers only; compiled (and tested) with every
// feature set, as the rest of this module is needed by all.
#[cfg_attr(
    not(any(feature = "http-server", feature = "reqwest")),
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

/// Whether `c` must not reach a log line, a message or a terminal as it is:
/// the C0 and C1 control characters and DEL (a newline forges a log line, an
/// escape sequence drives the terminal), the Unicode bidirectional controls
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: they reorder what
/// a reader sees, "Trojan Source") and the line and paragraph separators
/// U+2028 and U+2029 (line breaks to some readers, JavaScript among them).
pub(crate) fn is_untrusted(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Appends `c` escaped as Rust writes it: `\n`, `\r`, `\t`, else `\u{202e}`.
fn push_escape(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        _ => drop(write!(out, "\\u{{{:x}}}", c as u32)),
    }
}

/// `s` with every [`is_untrusted`] character escaped (`\n`, `\u{1b}`,
/// `\u{202e}`); borrowed when there is none. Every message of this crate that
/// quotes outside input (an environment variable, a collector's answer, a
/// request's header) goes through this, or through its shortened form
/// [`shorten_untrusted`] (which [`Shown`](crate::Shown) uses): the text it
/// quotes cannot break a line, forge another one, or reorder what a reader
/// sees. Backslashes are left as they are: this is for showing, not a
/// reversible encoding.
pub(crate) fn escape_untrusted(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(first) = s.find(is_untrusted) else {
        return s.into();
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match is_untrusted(c) {
            true => push_escape(&mut out, c),
            false => out.push(c),
        }
    }
    out.into()
}

/// `s` escaped as [`escape_untrusted`] does and cut to at most `max`
/// characters of the escaped text (an escape is never split), followed by
/// `…` when something was cut. Linear in the part of `s` that is kept, so a
/// megabyte-long value costs no more than a short one.
pub(crate) fn shorten_untrusted(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let (kept, cut) = cut_chars(s, max, |c| match is_untrusted(c) {
        true => escape_len(c),
        false => 1,
    });
    let kept = &s[..kept];
    match cut {
        false => escape_untrusted(kept),
        true => {
            let mut out = escape_untrusted(kept).into_owned();
            out.push('…');
            out.into()
        }
    }
}

/// The length in characters of `c` as [`push_escape`] writes it.
fn escape_len(c: char) -> usize {
    match c {
        '\n' | '\r' | '\t' => 2,
        // `\u{` + hex digits + `}`
        _ => 4 + (32 - (c as u32).leading_zeros()).div_ceil(4).max(1) as usize,
    }
}

/// The byte length of the longest prefix of `s` whose characters weigh at
/// most `max` in all (`weight` of each), and whether anything is left after
/// it. Stops at the first character that does not fit.
pub(crate) fn cut_chars(s: &str, max: usize, weight: impl Fn(char) -> usize) -> (usize, bool) {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += weight(c);
        if used > max {
            return (i, true);
        }
    }
    (s.len(), false)
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

    #[test]
    fn untrusted_characters_are_escaped() {
        // (value, escaped, why)
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str)] = &[
            ("plain", "plain", "nothing to escape"),
            ("a\nb", "a\\nb", "a newline would forge a log line"),
            ("a\r\tb", "a\\r\\tb", "CR and tab, as Rust writes them"),
            ("\u{1b}[31m", "\\u{1b}[31m", "an escape sequence drives the terminal"),
            ("\u{0}\u{7f}", "\\u{0}\\u{7f}", "NUL and DEL"),
            ("\u{85}\u{9f}", "\\u{85}\\u{9f}", "C1 controls"),
            ("a\u{202e}b", "a\\u{202e}b", "right-to-left override"),
            ("\u{202a}\u{202b}\u{202c}\u{202d}", "\\u{202a}\\u{202b}\\u{202c}\\u{202d}", "the other embeddings and overrides"),
            ("\u{2066}\u{2067}\u{2068}\u{2069}", "\\u{2066}\\u{2067}\\u{2068}\\u{2069}", "the isolates"),
            ("\u{61c}\u{200e}\u{200f}", "\\u{61c}\\u{200e}\\u{200f}", "the marks"),
            ("\u{2028}\u{2029}", "\\u{2028}\\u{2029}", "line and paragraph separators"),
            ("é€😀\u{200d}", "é€😀\u{200d}", "other characters, a zero-width joiner included"),
            ("a\\nb", "a\\nb", "a backslash is left as it is"),
        ];
        for (value, escaped, why) in cases {
            assert_eq!(escape_untrusted(value), *escaped, "{why}");
        }
        assert!(matches!(
            escape_untrusted("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn shortened_values_count_their_escapes() {
        // (value, max, shown, why)
        #[rustfmt::skip]
        let cases: &[(&str, usize, &str, &str)] = &[
            ("abc", 3, "abc", "fits"),
            ("abcd", 3, "abc…", "cut, and said"),
            ("ééé", 2, "éé…", "characters, not bytes"),
            ("a\nb", 3, "a\\n…", "an escape counts as what it shows"),
            ("a\nb", 2, "a…", "an escape is never split"),
            ("\u{202e}x", 8, "\\u{202e}…", "eight characters for U+202E"),
            ("\u{202e}", 7, "…", "nothing fits"),
            ("", 0, "", "empty"),
        ];
        for (value, max, shown, why) in cases {
            assert_eq!(shorten_untrusted(value, *max), *shown, "{why}");
        }
        for c in [
            '\u{0}',
            '\u{1f}',
            '\u{85}',
            '\u{202e}',
            '\u{2069}',
            '\u{10ffff}',
        ] {
            let mut out = String::new();
            push_escape(&mut out, c);
            assert_eq!(out.chars().count(), escape_len(c), "{c:?}");
        }
    }
}
