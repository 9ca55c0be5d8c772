//! The attribute value length limit (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
//! [`SpanLimitsConfig::attribute_value_length`](crate::config::SpanLimitsConfig::attribute_value_length)),
//! applied by [`truncate_span`] when a span ends, since the 0.33 SDK has no such
//! limit; the count limits are the SDK tracer provider's.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Cuts every string attribute value of `span`, of its events and of its links
/// (and every string of an array value) to at most `max_chars` characters, at a
/// character boundary: the specification counts characters, not bytes.
///
/// Meant for the span processor's `on_end`, so it costs nothing for the common
/// span: a string whose byte length is at most `max_chars` (hence also its
/// character count) is not looked into, and only a value that is cut is
/// allocated again.
pub(crate) fn truncate_span(span: &mut SpanData, max_chars: usize) {
    truncate_attributes(&mut span.attributes, max_chars);
    for event in &mut span.events.events {
        truncate_attributes(&mut event.attributes, max_chars);
    }
    for link in &mut span.links.links {
        truncate_attributes(&mut link.attributes, max_chars);
    }
}

fn truncate_attributes(attributes: &mut [KeyValue], max_chars: usize) {
    for attribute in attributes {
        match &mut attribute.value {
            Value::String(s) => truncate_string(s, max_chars),
            Value::Array(Array::String(strings)) => {
                for s in strings {
                    truncate_string(s, max_chars);
                }
            }
            // Numbers and booleans have no length.
            _ => {}
        }
    }
}

fn truncate_string(value: &mut StringValue, max_chars: usize) {
    let s = value.as_str();
    // A character is at least one byte: no more bytes than `max_chars`, no
    // more characters either.
    if s.len() <= max_chars {
        return;
    }
    if let Some((end, _)) = s.char_indices().nth(max_chars) {
        *value = StringValue::from(s[..end].to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(attributes: Vec<KeyValue>) -> SpanData {
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "event",
            SystemTime::now(),
            attributes.clone(),
            0,
        ));
        let mut links = SpanLinks::default();
        links.links.push(Link::new(
            SpanContext::empty_context(),
            attributes.clone(),
            0,
        ));
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "a span name longer than the limit".into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    /// Every list of attributes of the span, its events' and its links'.
    fn all_attributes(span: &SpanData) -> Vec<&[KeyValue]> {
        vec![
            &span.attributes,
            &span.events.events[0].attributes,
            &span.links.links[0].attributes,
        ]
    }

    #[test]
    fn string_values_are_cut_to_max_chars() {
        // (value, max chars, expected, why)
        let cases: &[(&str, usize, &str, &str)] = &[
            ("hello", 10, "hello", "shorter"),
            ("hello", 5, "hello", "exactly the limit"),
            ("hello world", 5, "hello", "longer"),
            ("hello", 0, "", "a limit of 0 empties it"),
            ("", 3, "", "empty"),
            ("héllo", 2, "hé", "a 2-byte char kept whole"),
            ("ééé", 3, "ééé", "6 bytes but 3 characters: not cut"),
            ("日本語テキスト", 3, "日本語", "3-byte chars"),
            ("a🦀🦀b", 2, "a🦀", "a 4-byte char kept whole"),
            ("🦀🦀", 1, "🦀", "never cut inside a char"),
            (
                "e\u{301}e\u{301}",
                1,
                "e",
                "combining marks count as characters",
            ),
        ];
        for (value, max, expected, why) in cases {
            let mut s = span(vec![
                KeyValue::new("owned", value.to_string()),
                KeyValue::new("static", *value),
                KeyValue::new(
                    "array",
                    Value::Array(Array::String(vec![
                        StringValue::from(value.to_string()),
                        StringValue::from("x"),
                    ])),
                ),
            ]);
            truncate_span(&mut s, *max);
            for attributes in all_attributes(&s) {
                assert_eq!(attributes[0].value.as_str(), *expected, "{why}");
                assert_eq!(attributes[1].value.as_str(), *expected, "{why}");
                let Value::Array(Array::String(strings)) = &attributes[2].value else {
                    panic!("{why}: still an array of strings");
                };
                assert_eq!(strings[0].as_str(), *expected, "{why}");
                let short = if *max == 0 { "" } else { "x" };
                assert_eq!(strings[1].as_str(), short, "{why}");
            }
            assert_eq!(
                s.name, "a span name longer than the limit",
                "names are not values"
            );
        }
    }

    #[test]
    fn other_values_are_untouched_and_short_strings_not_reallocated() {
        let attributes = vec![
            KeyValue::new("int", 1234567890_i64),
            KeyValue::new("float", 1.5),
            KeyValue::new("bool", true),
            KeyValue::new("ints", Value::Array(Array::I64(vec![1, 2, 3, 4, 5, 6]))),
            KeyValue::new("short", "ab".to_string()),
            KeyValue::new("ascii, at the limit", "abc".to_string()),
        ];
        let mut s = span(attributes.clone());
        let before: Vec<*const u8> = s.attributes[4..]
            .iter()
            .map(|kv| match &kv.value {
                Value::String(v) => v.as_str().as_ptr(),
                _ => unreachable!(),
            })
            .collect();
        truncate_span(&mut s, 3);
        assert_eq!(s.attributes, attributes);
        let after: Vec<*const u8> = s.attributes[4..]
            .iter()
            .map(|kv| match &kv.value {
                Value::String(v) => v.as_str().as_ptr(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(before, after, "the same strings, not copies");
    }
}
