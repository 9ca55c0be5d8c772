//! Shared by `tests/api/properties.rs` and the fuzz targets
//! (`fuzz/fuzz_targets/common.rs` includes it with `#[path]`): the header
//! names the propagators read, and the W3C rules for a `traceparent` and the
//! id parsers' contract, written independently of the crate.
#![allow(dead_code, unreachable_pub)]

/// Every header name one of the propagators reads. The fuzz targets spell the
/// first ten `0`..`9` and the rest `a`..`e`, so new names go at the end.
pub const HEADER_NAMES: [&str; 15] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-tags",
    "x-b3-parentspanid",
    "x-amzn-trace-id",
];

fn lower_hex(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_hex(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |n, &c| {
        n << 4 | u128::from((c as char).to_digit(16).unwrap())
    })
}

/// The W3C Trace Context rules for one `traceparent` value: `Some((trace id,
/// parent id, flags kept))` when valid.
pub fn reference_traceparent(value: &str) -> Option<(u128, u64, u8)> {
    let b = value.trim_matches([' ', '\t']).as_bytes();
    if b.len() < 55 {
        return None;
    }
    let (version, trace, parent, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    let fields_ok = lower_hex(version)
        && version != b"ff"
        && b[2] == b'-'
        && b[35] == b'-'
        && b[52] == b'-'
        && lower_hex(trace)
        && lower_hex(parent)
        && lower_hex(flags);
    let length_ok = if version == b"00" {
        b.len() == 55
    } else {
        b.len() == 55 || b[55] == b'-'
    };
    if !(fields_ok && length_ok) {
        return None;
    }
    let (t, p) = (parse_hex(trace), parse_hex(parent) as u64);
    (t != 0 && p != 0).then_some((t, p, parse_hex(flags) as u8 & 0x03))
}

/// `parse_trace_id` / `parse_span_id`'s contract: exactly `len` lowercase hex
/// digits, not all zero.
pub fn reference_id(s: &str, len: usize) -> bool {
    s.len() == len && lower_hex(s.as_bytes()) && s.bytes().any(|c| c != b'0')
}
