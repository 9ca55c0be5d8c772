//! Span limits: the OpenTelemetry limit variables
//! (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#span-limits>):
//! the counts are applied by the SDK's tracer provider, the attribute value
//! length by the export queue when a span ends (the 0.33 SDK has no such limit).

use opentelemetry_sdk::trace::SpanLimits;

use super::env::{
    Env, OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT,
};
use super::LimitOverrides;

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

/// Span limits: the builder's, else the span-specific variable, else the
/// generic one (the specification's precedence), else the default.
pub(super) fn span_limits(env: &mut Env<'_>, limits: &LimitOverrides) -> SpanLimitsConfig {
    let any_length = env.limit::<usize>(OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT);
    let any_count = env.limit::<u32>(OTEL_ATTRIBUTE_COUNT_LIMIT);
    let default_limits = SpanLimitsConfig::default();
    SpanLimitsConfig {
        attribute_value_length: limits
            .attribute_value_length
            .or_else(|| env.limit(OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT))
            .or(any_length),
        attribute_count: limits
            .attribute_count
            .or_else(|| env.limit(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT))
            .or(any_count)
            .unwrap_or(default_limits.attribute_count),
        event_count: limits
            .event_count
            .or_else(|| env.limit(OTEL_SPAN_EVENT_COUNT_LIMIT))
            .unwrap_or(default_limits.event_count),
        link_count: limits
            .link_count
            .or_else(|| env.limit(OTEL_SPAN_LINK_COUNT_LIMIT))
            .unwrap_or(default_limits.link_count),
        event_attribute_count: limits
            .event_attribute_count
            .or_else(|| env.limit(OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT))
            .or(any_count)
            .unwrap_or(default_limits.event_attribute_count),
        link_attribute_count: limits
            .link_attribute_count
            .or_else(|| env.limit(OTEL_LINK_ATTRIBUTE_COUNT_LIMIT))
            .or(any_count)
            .unwrap_or(default_limits.link_attribute_count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
