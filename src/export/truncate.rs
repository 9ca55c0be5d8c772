//! Span limits: the OpenTelemetry limit variables
//! (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#span-limits>),
//! the counts applied by the SDK's tracer provider and the attribute value
//! length applied by [`truncate_span`], since the 0.33 SDK has no such limit.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanLimits};

/// The limits of what one span keeps: attributes, events, links, and the
/// length of string attribute values. What is over a count limit is dropped
/// (the latest first) and counted in the exported span's
/// `dropped_attributes_count`, `dropped_events_count` or `dropped_links_count`.
///
/// From the environment: a span-specific variable, else the generic one, else
/// the specification's default; [`ObservabilityBuilder`](crate::ObservabilityBuilder)'s
/// `*_limit` methods override each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanLimitsConfig {
    /// Characters of a string attribute value (and of each string of an array
    /// value), at most, on the span, its events and its links; a longer value
    /// is cut at a character boundary when the span ends
    /// (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`; default `None`: no limit).
    pub attribute_value_length: Option<usize>,
    /// Attributes of a span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub attribute_count: u32,
    /// Events of a span (`OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128).
    pub event_count: u32,
    /// Links of a span (`OTEL_SPAN_LINK_COUNT_LIMIT`, default 128).
    pub link_count: u32,
    /// Attributes of one event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub event_attribute_count: u32,
    /// Attributes of one link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub link_attribute_count: u32,
}

impl Default for SpanLimitsConfig {
    /// The specification's defaults: 128 of each, no value length limit.
    fn default() -> Self {
        Self {
            attribute_value_length: None,
            attribute_count: 128,
            event_count: 128,
            link_count: 128,
            event_attribute_count: 128,
            link_attribute_count: 128,
        }
    }
}

impl SpanLimitsConfig {
    /// The counts, for `SdkTracerProvider::builder().with_span_limits`.
    pub(crate) fn sdk(&self) -> SpanLimits {
        SpanLimits {
            max_events_per_span: self.event_count,
            max_attributes_per_span: self.attribute_count,
            max_links_per_span: self.link_count,
            max_attributes_per_event: self.event_attribute_count,
            max_attributes_per_link: self.link_attribute_count,
        }
    }
}

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

    #[test]
    fn the_sdk_limits_are_the_counts() {
        let limits = SpanLimitsConfig {
            attribute_value_length: Some(5),
            attribute_count: 1,
            event_count: 2,
            link_count: 3,
            event_attribute_count: 4,
            link_attribute_count: 5,
        }
        .sdk();
        assert_eq!(
            (
                limits.max_attributes_per_span,
                limits.max_events_per_span,
                limits.max_links_per_span,
                limits.max_attributes_per_event,
                limits.max_attributes_per_link
            ),
            (1, 2, 3, 4, 5)
        );
        let default = SpanLimitsConfig::default().sdk();
        let sdk = SpanLimits::default();
        assert_eq!(
            (
                default.max_attributes_per_span,
                default.max_events_per_span,
                default.max_links_per_span,
                default.max_attributes_per_event,
                default.max_attributes_per_link
            ),
            (
                sdk.max_attributes_per_span,
                sdk.max_events_per_span,
                sdk.max_links_per_span,
                sdk.max_attributes_per_event,
                sdk.max_attributes_per_link
            ),
            "the same defaults as the SDK's"
        );
    }
}
