//! W3C trace and span ids: generation, strict parsing and allocation-free hex.
//!
//! Ids are the typed [`TraceId`] and [`SpanId`] of `opentelemetry::trace`; this
//! module adds what the old Python module offered on top of them:
//!
//! * [`new_trace_id`] / [`new_span_id`]: new random ids (all 128 / 64 bits
//!   random, never all zero); as hex `String`s, the compat shims
//!   [`generate_trace_id`](crate::compat::generate_trace_id) /
//!   [`generate_span_id`](crate::compat::generate_span_id);
//! * [`parse_trace_id`] / [`parse_span_id`]: the strict W3C form (lowercase hex of
//!   the exact length, not all zero), with an error naming the bad value;
//! * [`TraceIdHex`] / [`SpanIdHex`]: `Copy` stack buffers that deref to `&str`,
//!   for hot paths that must not allocate.
//!
//! # Randomness
//! Ids come from a per-thread [`SmallRng`] (Xoshiro256++ on 64-bit targets) seeded
//! once per thread from the operating system, the same generator the OpenTelemetry
//! SDK's `RandomIdGenerator` uses. It is fast and statistically uniform, which is
//! what W3C Trace Context Level 2 asks of random trace ids; it is not a
//! cryptographic generator, so trace ids must never be used as secrets.

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, Result, Shown};

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

/// A new random trace id: 128 random bits, never all zero.
#[inline]
pub fn new_trace_id() -> TraceId {
    RNG.with(|rng| {
        let mut rng = rng.borrow_mut();
        loop {
            let id: u128 = rng.random();
            if id != 0 {
                return TraceId::from(id);
            }
        }
    })
}

/// A new random span id: 64 random bits, never zero.
#[inline]
pub fn new_span_id() -> SpanId {
    RNG.with(|rng| {
        let mut rng = rng.borrow_mut();
        loop {
            let id: u64 = rng.random();
            if id != 0 {
                return SpanId::from(id);
            }
        }
    })
}

/// Parses a trace id in the W3C form: exactly 32 lowercase hex digits, not all zero.
///
/// ```
/// use distributed_tracing::parse_trace_id;
/// assert!(parse_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").is_ok());
/// let err = parse_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap_err();
/// assert!(err.to_string().contains("4BF92F35"), "the error names the value");
/// ```
pub fn parse_trace_id(value: &str) -> Result<TraceId> {
    let err = |reason| Error::InvalidTraceId {
        value: Shown::new(value),
        reason,
    };
    let bytes = value.as_bytes();
    if bytes.len() != 32 {
        return Err(err("must be exactly 32 characters"));
    }
    let id =
        decode_hex_u128(bytes).ok_or_else(|| err("must be lowercase hex digits (0-9, a-f)"))?;
    if id == 0 {
        return Err(err("must not be all zeros"));
    }
    Ok(TraceId::from(id))
}

/// Parses a span id in the W3C form: exactly 16 lowercase hex digits, not all zero.
///
/// ```
/// use distributed_tracing::parse_span_id;
/// assert!(parse_span_id("00f067aa0ba902b7").is_ok());
/// assert!(parse_span_id("0000000000000000").is_err());
/// ```
pub fn parse_span_id(value: &str) -> Result<SpanId> {
    let err = |reason| Error::InvalidSpanId {
        value: Shown::new(value),
        reason,
    };
    let bytes = value.as_bytes();
    if bytes.len() != 16 {
        return Err(err("must be exactly 16 characters"));
    }
    let id = decode_hex_u64(bytes).ok_or_else(|| err("must be lowercase hex digits (0-9, a-f)"))?;
    if id == 0 {
        return Err(err("must not be all zeros"));
    }
    Ok(SpanId::from(id))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Value of one lowercase hex digit, `0xff` for anything else (uppercase included).
const fn unhex_table() -> [u8; 256] {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX[i] as usize] = i as u8;
        i += 1;
    }
    table
}
static UNHEX: [u8; 256] = unhex_table();

/// Decodes lowercase hex (at most 32 digits) into an integer; `None` on any other byte.
pub(crate) fn decode_hex_u128(bytes: &[u8]) -> Option<u128> {
    debug_assert!(bytes.len() <= 32);
    // Two 64-bit halves: cheaper than shifting a u128 per digit.
    let split = bytes.len().saturating_sub(16);
    let high = decode_hex_u64(&bytes[..split])?;
    let low = decode_hex_u64(&bytes[split..])?;
    Some(u128::from(high) << 64 | u128::from(low))
}

/// Decodes lowercase hex (at most 16 digits) into a `u64`; `None` on any other byte.
pub(crate) fn decode_hex_u64(bytes: &[u8]) -> Option<u64> {
    debug_assert!(bytes.len() <= 16);
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &b in bytes {
        let v = UNHEX[b as usize];
        bad |= v;
        acc = (acc << 4) | u64::from(v & 0x0f);
    }
    // Every valid digit is < 16, so the high bit of `bad` is set only by an invalid byte.
    (bad & 0x80 == 0).then_some(acc)
}

/// Writes `bytes` as lowercase hex into `out` (which is twice as long).
#[inline]
pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0x0f) as usize];
    }
}

macro_rules! hex_type {
    ($(#[$doc:meta])* $vis:vis $name:ident, $id:ty, $len:literal) => {
        hex_type!($(#[$doc])* $vis $name, $id, $len, |id: $id| id.to_bytes());
    };
    // `$bytes`: the id's big-endian bytes (`$len / 2` of them).
    ($(#[$doc:meta])* $vis:vis $name:ident, $id:ty, $len:literal, $bytes:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        $vis struct $name([u8; $len]);

        impl $name {
            /// The lowercase hex form of `id`, on the stack.
            #[inline]
            $vis fn new(id: $id) -> Self {
                let mut buf = [0u8; $len];
                encode_hex(&($bytes)(id), &mut buf);
                Self(buf)
            }

            /// The hex digits as a string slice.
            #[inline]
            $vis fn as_str(&self) -> &str {
                // The buffer only ever holds ASCII hex digits written by `encode_hex`.
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl Deref for $name {
            type Target = str;
            #[inline]
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl From<$id> for $name {
            fn from(id: $id) -> Self {
                Self::new(id)
            }
        }
    };
}

hex_type!(
    /// A trace id as 32 lowercase hex digits in a `Copy` stack buffer; derefs to `&str`.
    ///
    /// ```
    /// use distributed_tracing::TraceIdHex;
    /// use opentelemetry::trace::TraceId;
    /// let hex = TraceIdHex::new(TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736u128));
    /// assert_eq!(&*hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub TraceIdHex,
    TraceId,
    32
);
hex_type!(
    /// A span id as 16 lowercase hex digits in a `Copy` stack buffer; derefs to `&str`.
    pub SpanIdHex,
    SpanId,
    16
);
hex_type!(
    /// Trace flags as two lowercase hex digits (`"01"`, `"03"`) in a `Copy`
    /// stack buffer; derefs to `&str`. All eight bits, as received: the
    /// `traceparent` writer masks the flags its version does not define itself.
    pub(crate) TraceFlagsHex,
    TraceFlags,
    2,
    |flags: TraceFlags| [flags.to_u8()]
);

/// A trace id as Datadog has it: its lower 64 bits (Datadog's ids are 64-bit;
/// the `datadog` propagator carries the upper half in the `_dd.p.tid` tag).
#[inline]
pub(crate) fn datadog_trace_id(id: TraceId) -> u64 {
    u128::from_be_bytes(id.to_bytes()) as u64
}

/// A span id as Datadog has it: the same 64 bits, as an integer.
#[inline]
pub(crate) fn datadog_span_id(id: SpanId) -> u64 {
    u64::from_be_bytes(id.to_bytes())
}

/// A `u64` in decimal, as Datadog writes its ids, in a `Copy` stack buffer;
/// derefs to `&str`.
#[derive(Clone, Copy)]
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    /// The decimal digits of `n`, on the stack.
    #[inline]
    pub(crate) fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { buf, start }
    }
}

impl Deref for Decimal {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        // The buffer only ever holds ASCII digits written by `new`.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::{generate_span_id, generate_trace_id};
    use std::collections::HashSet;

    #[test]
    fn trace_flags_as_two_hex_digits() {
        // (flags, expected, why)
        let cases: &[(u8, &str, &str)] = &[
            (0x00, "00", "none"),
            (0x01, "01", "sampled"),
            (0x03, "03", "sampled, random"),
            (0xff, "ff", "every bit, as received"),
            (0xa0, "a0", "lowercase"),
        ];
        for (flags, expected, why) in cases {
            assert_eq!(
                &*TraceFlagsHex::new(TraceFlags::new(*flags)),
                *expected,
                "{why}"
            );
        }
    }

    #[test]
    fn datadog_ids_in_decimal() {
        let trace = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        let low = 0xa3ce_929d_0e0e_4736u64;
        assert_eq!(datadog_trace_id(trace), low, "the lower 64 bits");
        assert_eq!(&*Decimal::new(low), low.to_string());
        let span = SpanId::from(0x00f0_67aa_0ba9_02b7);
        assert_eq!(datadog_span_id(span), 0x00f0_67aa_0ba9_02b7);
        for n in [0, 7, 10, 99, u64::MAX] {
            assert_eq!(&*Decimal::new(n), n.to_string());
        }
    }

    #[test]
    fn generated_ids_are_lowercase_hex_of_the_right_length() {
        for _ in 0..1000 {
            let t = generate_trace_id();
            let s = generate_span_id();
            assert_eq!(t.len(), 32);
            assert_eq!(s.len(), 16);
            assert!(t.bytes().all(|b| HEX.contains(&b)), "{t}");
            assert!(s.bytes().all(|b| HEX.contains(&b)), "{s}");
            assert_eq!(parse_trace_id(&t).unwrap(), TraceId::from_hex(&t).unwrap());
            assert_eq!(parse_span_id(&s).unwrap(), SpanId::from_hex(&s).unwrap());
        }
    }

    #[test]
    fn generated_ids_are_unique() {
        let traces: HashSet<_> = (0..10_000).map(|_| generate_trace_id()).collect();
        let spans: HashSet<_> = (0..10_000).map(|_| generate_span_id()).collect();
        assert_eq!(traces.len(), 10_000);
        assert_eq!(spans.len(), 10_000);
    }

    /// uuid4 fixes the version nibble (bits 48-51) and the variant bits (64-65).
    /// Here every bit position must take both values over a few thousand ids.
    #[test]
    fn all_128_bits_vary() {
        let (mut ones, mut zeros) = (0u128, 0u128);
        for _ in 0..4096 {
            let id = u128::from_be_bytes(new_trace_id().to_bytes());
            ones |= id;
            zeros |= !id;
        }
        assert_eq!(ones, u128::MAX, "some bit is never 1");
        assert_eq!(zeros, u128::MAX, "some bit is never 0");
        let (mut ones, mut zeros) = (0u64, 0u64);
        for _ in 0..4096 {
            let id = u64::from_be_bytes(new_span_id().to_bytes());
            ones |= id;
            zeros |= !id;
        }
        assert_eq!((ones, zeros), (u64::MAX, u64::MAX));
    }

    #[test]
    fn ids_differ_between_threads() {
        let a = std::thread::spawn(generate_trace_id).join().unwrap();
        let b = std::thread::spawn(generate_trace_id).join().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn trace_id_parsing_table() {
        let ok = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            parse_trace_id(ok).unwrap(),
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736u128)
        );
        let cases = [
            ("4BF92F3577B34DA6A3CE929D0E0E4736", "uppercase hex"),
            ("4bf92f3577b34da6a3ce929d0e0e473", "31 characters"),
            ("4bf92f3577b34da6a3ce929d0e0e47360", "33 characters"),
            ("", "empty"),
            ("4bf92f3577b34da6a3ce929d0e0e473g", "non-hex digit"),
            ("00000000000000000000000000000000", "all zeros"),
            ("+bf92f3577b34da6a3ce929d0e0e4736", "sign character"),
            (" bf92f3577b34da6a3ce929d0e0e4736", "space"),
            ("4bf92f3577b34da6a3ce929d0e0e47é", "non-ASCII, 32 bytes"),
        ];
        for (input, label) in cases {
            let err = parse_trace_id(input).expect_err(label);
            assert!(matches!(err, Error::InvalidTraceId { .. }), "{label}");
            let shown: String = input.chars().take(8).collect();
            assert!(err.to_string().contains(&shown), "{label}: {err}");
        }
    }

    #[test]
    fn span_id_parsing_table() {
        assert_eq!(
            parse_span_id("00f067aa0ba902b7").unwrap(),
            SpanId::from(0x00f067aa0ba902b7u64)
        );
        let cases = [
            ("00F067AA0BA902B7", "uppercase hex"),
            ("00f067aa0ba902b", "15 characters"),
            ("00f067aa0ba902b70", "17 characters"),
            ("0000000000000000", "all zeros"),
            ("00f067aa0ba902bz", "non-hex digit"),
        ];
        for (input, label) in cases {
            assert!(
                matches!(parse_span_id(input), Err(Error::InvalidSpanId { .. })),
                "{label}"
            );
        }
    }

    #[test]
    fn hex_types_match_upstream_formatting() {
        for _ in 0..100 {
            let t = new_trace_id();
            let s = new_span_id();
            assert_eq!(TraceIdHex::new(t).as_str(), format!("{t:032x}"));
            assert_eq!(SpanIdHex::new(s).as_str(), format!("{s:016x}"));
        }
        assert_eq!(
            TraceIdHex::new(TraceId::from(1u128)).as_str(),
            "00000000000000000000000000000001"
        );
    }
}
