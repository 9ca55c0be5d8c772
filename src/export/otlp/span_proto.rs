//! A finished span's OTLP protobuf message (`opentelemetry.proto.trace.v1.Span`)
//! written straight from the SDK's `SpanData` into a buffer: no intermediate
//! structs (`opentelemetry-proto`'s conversion makes a `String` and a `Vec`
//! per attribute), one pass over the attributes.
//!
//! The bytes are those of `opentelemetry-proto`'s conversion encoded by prost,
//! byte for byte (a property test compares them for spans of every shape):
//! fields in tag order, scalar fields at their default value left out, a oneof
//! value and a present message always written.

use opentelemetry::trace::{SpanContext, SpanId, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use crate::otlp_file::write::{flags, kind_number, nanos};

/// The key of field `tag` (1 to 15: one byte) with wire type `wire`.
#[inline]
fn key(out: &mut Vec<u8>, tag: u32, wire: WireType) {
    debug_assert!((1..16).contains(&tag));
    out.push(((tag << 3) | wire as u32) as u8);
}

/// A varint, written byte by byte (most are one byte: lengths, counts).
#[inline]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
fn varint_len(value: u64) -> usize {
    encoded_len_varint(value)
}

/// Writes a length-delimited field `tag` whose content `content` writes: one
/// byte is kept for the length, and the content moved when its length needs
/// more (an event or a link over 127 bytes). Where the length is known
/// beforehand (attributes of one value), it is written first instead.
pub(super) fn message(out: &mut Vec<u8>, tag: u32, content: impl FnOnce(&mut Vec<u8>)) {
    key(out, tag, WireType::LengthDelimited);
    let at = out.len();
    out.push(0);
    content(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut prefix = [0u8; 10];
        let mut cursor = &mut prefix[..];
        encode_varint(len as u64, &mut cursor);
        let n = encoded_len_varint(len as u64);
        out.splice(at..at + 1, prefix[..n].iter().copied());
    }
}

#[inline]
pub(super) fn bytes(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    key(out, tag, WireType::LengthDelimited);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A string field, left out when empty (proto3).
#[inline]
pub(super) fn string(out: &mut Vec<u8>, tag: u32, value: &str) {
    if !value.is_empty() {
        bytes(out, tag, value.as_bytes());
    }
}

#[inline]
pub(super) fn varint(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(out, tag, WireType::Varint);
        put_varint(out, value);
    }
}

#[inline]
pub(super) fn fixed64(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(out, tag, WireType::SixtyFourBit);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A fixed32 field; `tag` may be 16 (a span's flags: a two-byte key).
#[inline]
pub(super) fn fixed32(out: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// The length of an `AnyValue`'s content when it is one value (not an array).
#[inline]
fn scalar_len(value: &Value) -> Option<usize> {
    Some(match value {
        Value::String(s) => 1 + varint_len(s.as_str().len() as u64) + s.as_str().len(),
        Value::Bool(_) => 2,
        Value::I64(n) => 1 + varint_len(*n as u64),
        Value::F64(_) => 9,
        _ => return None,
    })
}

/// An `AnyValue`'s content: its oneof, written even at its default value.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    fn array<T>(out: &mut Vec<u8>, items: &[T], one: impl Fn(&mut Vec<u8>, &T)) {
        // AnyValue.array_value = 5, ArrayValue.values = 1.
        message(out, 5, |out| {
            for item in items {
                message(out, 1, |out| one(out, item));
            }
        });
    }
    if let Some(len) = scalar_len(value) {
        let at = out.len();
        out.resize(at + len, 0);
        scalar_value_at(out, at, value);
        return;
    }
    match value {
        Value::Array(Array::Bool(v)) => array(out, v, |out, b| any_value(out, &Value::Bool(*b))),
        Value::Array(Array::I64(v)) => array(out, v, |out, n| any_value(out, &Value::I64(*n))),
        Value::Array(Array::F64(v)) => array(out, v, |out, f| any_value(out, &Value::F64(*f))),
        Value::Array(Array::String(v)) => {
            array(out, v, |out, s| bytes(out, 1, s.as_str().as_bytes()))
        }
        // Both enums are non-exhaustive; `opentelemetry-proto` panics on a
        // kind it does not know, this writes it as its text.
        #[allow(unreachable_patterns)]
        other => bytes(out, 1, other.to_string().as_bytes()),
    }
}

/// Writes `value` as a varint into `buf` at `at`; where it ends.
#[inline]
fn varint_at(buf: &mut [u8], mut at: usize, mut value: u64) -> usize {
    while value >= 0x80 {
        buf[at] = (value as u8) | 0x80;
        at += 1;
        value >>= 7;
    }
    buf[at] = value as u8;
    at + 1
}

/// The lengths of a `KeyValue` whose value is not an array: its key field's,
/// its value's content, the message's, and all of it framed as field `tag`.
#[inline]
fn scalar_key_value_len(kv: &KeyValue) -> Option<(usize, usize, usize)> {
    let value_len = scalar_len(&kv.value)?;
    let name = kv.key.as_str().len();
    let key_len = match name {
        0 => 0,
        n => 1 + varint_len(n as u64) + n,
    };
    let len = key_len + 1 + varint_len(value_len as u64) + value_len;
    Some((value_len, len, 1 + varint_len(len as u64) + len))
}

/// Writes a `KeyValue` whose value is not an array into `buf` at `at`, its
/// lengths as [`scalar_key_value_len`] counted them; where it ends.
#[inline]
fn scalar_key_value_at(
    buf: &mut [u8],
    mut at: usize,
    tag: u32,
    kv: &KeyValue,
    (value_len, len): (usize, usize),
) -> usize {
    const LEN: u8 = WireType::LengthDelimited as u8;
    buf[at] = ((tag << 3) as u8) | LEN;
    at = varint_at(buf, at + 1, len as u64);
    let name = kv.key.as_str().as_bytes();
    if !name.is_empty() {
        buf[at] = (1 << 3) | LEN;
        at = varint_at(buf, at + 1, name.len() as u64);
        buf[at..at + name.len()].copy_from_slice(name);
        at += name.len();
    }
    // KeyValue.value = 2, an AnyValue: its oneof.
    buf[at] = (2 << 3) | LEN;
    at = varint_at(buf, at + 1, value_len as u64);
    scalar_value_at(buf, at, &kv.value)
}

/// Writes an `AnyValue`'s oneof for a value that is not an array into `buf`
/// at `at` (its length as [`scalar_len`] counts it); where it ends.
#[inline]
fn scalar_value_at(buf: &mut [u8], mut at: usize, value: &Value) -> usize {
    match value {
        Value::String(s) => {
            let s = s.as_str().as_bytes();
            buf[at] = (1 << 3) | WireType::LengthDelimited as u8;
            at = varint_at(buf, at + 1, s.len() as u64);
            buf[at..at + s.len()].copy_from_slice(s);
            at + s.len()
        }
        Value::Bool(b) => {
            buf[at] = 2 << 3;
            buf[at + 1] = u8::from(*b);
            at + 2
        }
        Value::I64(n) => {
            buf[at] = 3 << 3;
            varint_at(buf, at + 1, *n as u64)
        }
        Value::F64(f) => {
            buf[at] = (4 << 3) | WireType::SixtyFourBit as u8;
            buf[at + 1..at + 9].copy_from_slice(&f.to_le_bytes());
            at + 9
        }
        // `scalar_len` gave no length for any other value.
        _ => at,
    }
}

/// `KeyValue`s as repeated field `tag`. Each run of attributes that are not
/// arrays (nearly all) is measured first, the buffer grown once for the run,
/// and each written in place (no length to move, one copy of each text); an
/// array is written with [`message`].
pub(crate) fn attributes(out: &mut Vec<u8>, tag: u32, kvs: &[KeyValue]) {
    // The lengths of up to RUN attributes, counted once.
    const RUN: usize = 16;
    let mut lens = [(0usize, 0usize); RUN];
    let mut i = 0;
    while i < kvs.len() {
        let start = i;
        let mut total = 0;
        while i - start < RUN {
            let Some((value_len, len, framed)) = kvs.get(i).and_then(scalar_key_value_len) else {
                break;
            };
            lens[i - start] = (value_len, len);
            total += framed;
            i += 1;
        }
        if i > start {
            let mut at = out.len();
            out.resize(at + total, 0);
            for (kv, &lens) in kvs[start..i].iter().zip(&lens) {
                at = scalar_key_value_at(out, at, tag, kv, lens);
            }
            continue;
        }
        // An array.
        let kv = &kvs[i];
        message(out, tag, |out| {
            string(out, 1, kv.key.as_str());
            message(out, 2, |out| any_value(out, &kv.value));
        });
        i += 1;
    }
}

fn ids(out: &mut Vec<u8>, context: &SpanContext) {
    bytes(out, 1, &context.trace_id().to_bytes());
    bytes(out, 2, &context.span_id().to_bytes());
    string(out, 3, &context.trace_state().header());
}

/// The fields of `span`'s `Span` message (without its own key and length).
pub(crate) fn span(out: &mut Vec<u8>, span: &SpanData) {
    ids(out, &span.span_context);
    if span.parent_span_id != SpanId::INVALID {
        bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    string(out, 5, &span.name);
    varint(out, 6, u64::from(kind_number(&span.span_kind)));
    fixed64(out, 7, nanos(span.start_time));
    fixed64(out, 8, nanos(span.end_time));
    attributes(out, 9, &span.attributes);
    varint(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        message(out, 11, |out| {
            fixed64(out, 1, nanos(event.timestamp));
            string(out, 2, &event.name);
            attributes(out, 3, &event.attributes);
            varint(out, 4, u64::from(event.dropped_attributes_count));
        });
    }
    varint(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        message(out, 13, |out| {
            ids(out, &link.span_context);
            attributes(out, 4, &link.attributes);
            varint(out, 5, u64::from(link.dropped_attributes_count));
            fixed32(
                out,
                6,
                flags(
                    link.span_context.trace_flags().to_u8(),
                    link.span_context.is_remote(),
                ),
            );
        });
    }
    varint(out, 14, u64::from(span.links.dropped_count));
    // Status: message = 2, code = 3 (Unset 0, Ok 1, Error 2).
    message(out, 15, |out| match &span.status {
        Status::Unset => {}
        Status::Ok => varint(out, 3, 1),
        Status::Error { description } => {
            string(out, 2, description);
            varint(out, 3, 2);
        }
    });
    fixed32(
        out,
        16,
        flags(
            span.span_context.trace_flags().to_u8(),
            span.parent_span_is_remote,
        ),
    );
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use prost::Message as _;

    /// Runs of more attributes than are measured at once, arrays between them.
    #[test]
    fn many_attributes_and_arrays_between_them() {
        use opentelemetry::{Array, Value};
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(memory.clone())
            .build();
        let mut span = provider.tracer("t").start("span");
        for i in 0..40i64 {
            let value = match i % 7 {
                0 => Value::Array(Array::I64(vec![i, -i])),
                1 => Value::I64(-i),
                2 => Value::Bool(i % 2 == 0),
                3 => Value::F64(i as f64 / 3.0),
                4 => Value::String("v".repeat(i as usize * 5).into()),
                _ => Value::String(format!("value {i}").into()),
            };
            span.set_attribute(KeyValue::new(format!("key.{i}"), value));
        }
        span.end();
        let data = memory.get_finished_spans().unwrap().pop().unwrap();
        assert_eq!(data.attributes.len(), 40);
        let mut ours = Vec::new();
        super::span(&mut ours, &data);
        let upstream = opentelemetry_proto::tonic::trace::v1::Span::from(data).encode_to_vec();
        assert_eq!(ours, upstream);
    }

    /// Lengths of one, two and three bytes, nested: a 20,000-character value
    /// in an attribute, an event and a link.
    #[test]
    fn long_fields_have_the_lengths_prost_gives_them() {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(memory.clone())
            .build();
        let tracer = provider.tracer("t");
        let long = "x".repeat(20_000);
        let linked = tracer.start("linked").span_context().clone();
        let mut span = tracer.start("span");
        span.set_attribute(KeyValue::new("long", long.clone()));
        span.set_attribute(KeyValue::new("short", "y"));
        span.add_event("event", vec![KeyValue::new("long", long.clone())]);
        span.add_link(linked, vec![KeyValue::new("mid", "z".repeat(300))]);
        span.end();
        let data = memory.get_finished_spans().unwrap().pop().unwrap();
        let mut ours = Vec::new();
        super::span(&mut ours, &data);
        let upstream = opentelemetry_proto::tonic::trace::v1::Span::from(data).encode_to_vec();
        assert_eq!(ours, upstream);
    }
}
