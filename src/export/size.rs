//! What a queued item costs: an upper bound of its memory, which also bounds
//! its OTLP encoding. The queue's byte budget and the cutting of requests
//! count with it.

use opentelemetry::trace::TraceState;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

#[cfg(feature = "logs")]
use super::queue::LogItem;

/// The heap a string value holds.
fn value_bytes(value: &Value) -> usize {
    use opentelemetry::Array;
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(v)) => v
            .iter()
            .map(|s| s.as_str().len() + std::mem::size_of_val(s))
            .sum(),
        Value::Array(Array::I64(v)) => v.len() * 8,
        Value::Array(Array::F64(v)) => v.len() * 8,
        Value::Array(Array::Bool(v)) => v.len(),
        _ => 0,
    }
}

fn attributes_bytes<'a>(attributes: impl IntoIterator<Item = &'a KeyValue>) -> usize {
    attributes
        .into_iter()
        .map(|kv| std::mem::size_of::<KeyValue>() + kv.key.as_str().len() + value_bytes(&kv.value))
        .sum()
}

fn trace_state_bytes(state: &TraceState) -> usize {
    // Most spans have none: compared without building the header.
    if *state == TraceState::NONE {
        0
    } else {
        state.header().len() + 64
    }
}

/// The heap an instrumentation scope holds, at most (its texts are often
/// static; counted all the same).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn scope_bytes(scope: &opentelemetry::InstrumentationScope) -> usize {
    scope.name().len()
        + scope.version().map_or(0, str::len)
        + scope.schema_url().map_or(0, str::len)
        + attributes_bytes(scope.attributes())
}

/// An upper bound of a finished span's memory, which also bounds its OTLP
/// encoding (every protobuf field costs less than the Rust value it comes from).
pub(crate) fn span_bytes(span: &SpanData) -> usize {
    std::mem::size_of::<SpanData>()
        + span.name.len()
        + trace_state_bytes(span.span_context.trace_state())
        + attributes_bytes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| {
                std::mem::size_of::<opentelemetry::trace::Event>()
                    + e.name.len()
                    + attributes_bytes(&e.attributes)
            })
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|l| {
                std::mem::size_of::<opentelemetry::trace::Link>()
                    + trace_state_bytes(l.span_context.trace_state())
                    + attributes_bytes(&l.attributes)
            })
            .sum::<usize>()
        + match &span.status {
            opentelemetry::trace::Status::Error { description } => description.len(),
            _ => 0,
        }
}

#[cfg(feature = "logs")]
fn any_value_bytes(value: &opentelemetry::logs::AnyValue) -> usize {
    use opentelemetry::logs::AnyValue;
    std::mem::size_of::<AnyValue>()
        + match value {
            AnyValue::String(s) => s.as_str().len(),
            AnyValue::Bytes(b) => b.len(),
            AnyValue::ListAny(l) => l.iter().map(any_value_bytes).sum(),
            AnyValue::Map(m) => m
                .iter()
                .map(|(k, v)| k.as_str().len() + any_value_bytes(v))
                .sum(),
            _ => 0,
        }
}

/// An upper bound of a queued log record's memory and encoding.
#[cfg(feature = "logs")]
pub(crate) fn log_bytes((record, scope): &LogItem) -> usize {
    std::mem::size_of::<LogItem>()
        + scope.name().len()
        + record.target().map_or(0, |t| t.len())
        + record.event_name().map_or(0, str::len)
        + record.severity_text().map_or(0, str::len)
        + record.body().map_or(0, any_value_bytes)
        + record
            .attributes_iter()
            .map(|(k, v)| k.as_str().len() + any_value_bytes(v))
            .sum::<usize>()
}
