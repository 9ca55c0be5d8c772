//! Shared by the fuzz targets: the input as header lines, and (from
//! `tests/common/reference.rs`, shared with the property tests) the header
//! names the propagators read and the W3C rules for a `traceparent` written
//! independently of the crate.
#![allow(dead_code)]

#[path = "../../tests/common/reference.rs"]
pub mod reference;

use reference::HEADER_NAMES;

/// The input split into header lines, `name:value` each; a line without `:` is
/// a value of `default_name`. A one-character name `0`..`9` (and `a`..`e`)
/// stands for one of [`HEADER_NAMES`], so the fuzzer reaches them without spelling
/// them.
pub fn pairs<'a>(text: &'a str, default_name: &'a str) -> Vec<(&'a str, &'a str)> {
    text.split('\n')
        .map(|line| match line.split_once(':') {
            Some((name, value)) => (alias(name), value),
            None => (default_name, line),
        })
        .collect()
}

fn alias(name: &str) -> &str {
    match name.as_bytes() {
        [d @ b'0'..=b'9'] => HEADER_NAMES[usize::from(d - b'0')],
        [d @ b'a'..=b'e'] => HEADER_NAMES[10 + usize::from(d - b'a')],
        _ => name,
    }
}
