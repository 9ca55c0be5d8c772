//! Small text helpers shared by the layers that copy outside text into
//! spans, log lines and reports.

/// `s` cut to at most `max` bytes, at the last character boundary that fits.
///
/// A value that fits is returned whole; a longer one loses at most 3 more
/// bytes than needed (the rest of a character that straddles the cut).
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
