//! A log record's OTLP protobuf message (`opentelemetry.proto.logs.v1.LogRecord`)
//! written straight from the SDK's record, as [`super::span_proto`] writes a
//! span: byte for byte `opentelemetry-proto`'s conversion encoded by prost (a
//! test compares them), without its intermediate structs.

use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::logs::SdkLogRecord;
use prost::encoding::{encode_key, encode_varint, WireType};

use super::span_proto::{bytes, fixed32, fixed64, message, string, varint};
use crate::otlp_file::write::nanos;

/// An `AnyValue`'s content: its oneof, written even at its default value.
fn any_value(out: &mut Vec<u8>, value: &AnyValue) {
    match value {
        AnyValue::String(s) => bytes(out, 1, s.as_str().as_bytes()),
        AnyValue::Boolean(b) => {
            encode_key(2, WireType::Varint, out);
            encode_varint(u64::from(*b), out);
        }
        AnyValue::Int(n) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(*n as u64, out);
        }
        AnyValue::Double(f) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
        // ArrayValue.values = 1.
        AnyValue::ListAny(values) => message(out, 5, |out| {
            for v in values.iter() {
                message(out, 1, |out| any_value(out, v));
            }
        }),
        // KeyValueList.values = 1, each a KeyValue (key = 1, value = 2).
        AnyValue::Map(map) => message(out, 6, |out| {
            for (key, v) in map.iter() {
                message(out, 1, |out| {
                    string(out, 1, key.as_str());
                    message(out, 2, |out| any_value(out, v));
                });
            }
        }),
        AnyValue::Bytes(b) => bytes(out, 7, b),
        // Non-exhaustive; `opentelemetry-proto` panics on a kind it does not
        // know, this writes nothing (an empty value).
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// The fields of `record`'s `LogRecord` message (without its own key and length).
pub(crate) fn log_record(out: &mut Vec<u8>, record: &SdkLogRecord) {
    fixed64(out, 1, record.timestamp().map(nanos).unwrap_or_default());
    varint(
        out,
        2,
        record.severity_number().map_or(0, |s| s as i32 as u64),
    );
    string(out, 3, record.severity_text().unwrap_or_default());
    if let Some(body) = record.body() {
        message(out, 5, |out| any_value(out, body));
    }
    for (key, value) in record.attributes_iter() {
        message(out, 6, |out| {
            string(out, 1, key.as_str());
            message(out, 2, |out| any_value(out, value));
        });
    }
    let context = record.trace_context();
    fixed32(
        out,
        8,
        context
            .and_then(|c| c.trace_flags)
            .map_or(0, |f| u32::from(f.to_u8())),
    );
    if let Some(context) = context {
        bytes(out, 9, &context.trace_id.to_bytes());
        bytes(out, 10, &context.span_id.to_bytes());
    }
    fixed64(
        out,
        11,
        record.observed_timestamp().map(nanos).unwrap_or_default(),
    );
    string(out, 12, record.event_name().unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::logs::{
        AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity,
    };
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
    use opentelemetry::Key;
    use opentelemetry_sdk::logs::SdkLoggerProvider;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use prost::Message as _;

    fn value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(AnyValue::Int),
            any::<f64>().prop_map(AnyValue::Double),
            any::<bool>().prop_map(AnyValue::Boolean),
            prop_oneof![".{0,8}", "[a-z]{120,300}"]
                .prop_map(|s: String| AnyValue::String(s.into())),
            vec(any::<u8>(), 0..200).prop_map(|b| AnyValue::Bytes(Box::new(b))),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|v| AnyValue::ListAny(Box::new(v))),
                vec(("[a-z]{0,6}", inner), 0..4).prop_map(|kvs| {
                    let map: HashMap<Key, AnyValue> =
                        kvs.into_iter().map(|(k, v)| (Key::from(k), v)).collect();
                    AnyValue::Map(Box::new(map))
                }),
            ]
        })
    }

    proptest! {
        /// Byte for byte what `opentelemetry-proto`'s conversion encodes.
        #[test]
        fn the_exporters_log_bytes_are_the_protobuf_conversions(
            times in (proptest::option::of(0..u64::MAX), 1..u64::MAX),
            severity in 0usize..25,
            body in proptest::option::of(value()),
            attributes in vec(("[a-z.]{0,10}", value()), 0..5),
            context in proptest::option::of((1..u128::MAX, 1..u64::MAX, any::<bool>())),
            event_name in proptest::option::of(proptest::sample::select(vec!["", "login"])),
        ) {
            let provider = SdkLoggerProvider::builder().build();
            let logger = provider.logger("t");
            let mut record = logger.create_log_record();
            if let Some(t) = times.0 {
                record.set_timestamp(UNIX_EPOCH + Duration::from_nanos(t));
            }
            record.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(times.1));
            if severity > 0 {
                let all = [
                    Severity::Trace, Severity::Trace2, Severity::Trace3, Severity::Trace4,
                    Severity::Debug, Severity::Debug2, Severity::Debug3, Severity::Debug4,
                    Severity::Info, Severity::Info2, Severity::Info3, Severity::Info4,
                    Severity::Warn, Severity::Warn2, Severity::Warn3, Severity::Warn4,
                    Severity::Error, Severity::Error2, Severity::Error3, Severity::Error4,
                    Severity::Fatal, Severity::Fatal2, Severity::Fatal3, Severity::Fatal4,
                ];
                record.set_severity_number(all[severity - 1]);
                record.set_severity_text(all[severity - 1].name());
            }
            if let Some(body) = body {
                record.set_body(body);
            }
            for (k, v) in attributes {
                record.add_attribute(k, v);
            }
            if let Some((trace, span, sampled)) = context {
                let flags = match sampled { true => TraceFlags::SAMPLED, false => TraceFlags::default() };
                record.set_trace_context(TraceId::from(trace), SpanId::from(span), Some(flags));
            }
            if let Some(name) = event_name {
                record.set_event_name(name);
            }
            let mut ours = Vec::new();
            super::log_record(&mut ours, &record);
            let upstream = opentelemetry_proto::tonic::logs::v1::LogRecord::from(&record).encode_to_vec();
            prop_assert_eq!(ours, upstream);
        }
    }
}
