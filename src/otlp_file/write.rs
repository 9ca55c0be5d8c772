//! Writing the OTLP JSON encoding straight from the SDK's types, into a
//! reused buffer: no intermediate structs, one pass over the attributes.
//!
//! What a field holds follows `opentelemetry-proto`'s conversion (the one the
//! OTLP exporters use), so a line carries exactly what an OTLP/protobuf request
//! of the same spans would: a test decodes both and compares them. Fields at
//! their default value are left out, as the protobuf JSON mapping does.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

/// `flags` bit: the `is_remote` bits below are set (OTLP `SpanFlags`).
pub(crate) const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
/// `flags` bit: the parent (of a span) or the linked context is remote.
pub(crate) const CONTEXT_IS_REMOTE: u32 = 0x200;

/// A JSON string (`serde_json`'s escaping: every Rust string is valid JSON).
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A field name and its colon, after a comma unless it is the object's first.
fn key(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A 64-bit integer as the protobuf JSON mapping writes it: a decimal string
/// (JSON numbers above 2^53 lose digits in most readers).
fn int_string(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    let _ = write!(out, "\"{n}\"");
}

/// Nanoseconds since the Unix epoch, as `opentelemetry-proto` counts them (0
/// before the epoch, the low 64 bits after 2554).
pub(crate) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    out.push(b'"');
}

/// A double: a JSON number, or the protobuf JSON mapping's strings for the
/// values JSON has no number for.
fn double(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f.is_infinite() {
        out.extend_from_slice(match f > 0.0 {
            true => b"\"Infinity\"",
            false => b"\"-Infinity\"",
        });
    } else {
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

/// `{"stringValue": ...}` and the other `AnyValue` forms.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    fn array<T>(out: &mut Vec<u8>, items: &[T], one: impl Fn(&mut Vec<u8>, &T)) {
        // `values` even when empty: upstream's decoder (opentelemetry-proto's
        // `with-serde`) requires it.
        out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            one(out, item);
        }
        out.extend_from_slice(b"]}}");
    }
    match value {
        Value::Bool(b) => {
            let _ = write!(out, "{{\"boolValue\":{b}}}");
        }
        Value::I64(n) => {
            out.extend_from_slice(b"{\"intValue\":");
            int_string(out, n);
            out.push(b'}');
        }
        Value::F64(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            double(out, *f);
            out.push(b'}');
        }
        Value::String(s) => string_value(out, s),
        Value::Array(Array::Bool(v)) => {
            array(out, v, |out, b| any_value(out, &Value::Bool(*b)));
        }
        Value::Array(Array::I64(v)) => array(out, v, |out, n| any_value(out, &Value::I64(*n))),
        Value::Array(Array::F64(v)) => array(out, v, |out, f| any_value(out, &Value::F64(*f))),
        Value::Array(Array::String(v)) => array(out, v, string_value),
        // Both enums are non-exhaustive: a kind added later is written as
        // its text rather than dropped.
        #[allow(unreachable_patterns)]
        other => string_value(out, &StringValue::from(other.to_string())),
    }
}

fn string_value(out: &mut Vec<u8>, s: &StringValue) {
    out.extend_from_slice(b"{\"stringValue\":");
    string(out, s.as_str());
    out.push(b'}');
}

/// `"attributes":[...]` (left out when there are none).
fn attributes<'a>(
    out: &mut Vec<u8>,
    first: &mut bool,
    kvs: impl IntoIterator<Item = &'a KeyValue>,
) {
    attributes_named(out, first, "attributes", kvs);
}

/// `"<name>":[...]` of key-values (left out when there are none).
fn attributes_named<'a>(
    out: &mut Vec<u8>,
    first: &mut bool,
    name: &str,
    kvs: impl IntoIterator<Item = &'a KeyValue>,
) {
    let mut kvs = kvs.into_iter().peekable();
    if kvs.peek().is_none() {
        return;
    }
    key(out, first, name);
    out.push(b'[');
    for (i, kv) in kvs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        string(out, kv.key.as_str());
        out.extend_from_slice(b",\"value\":");
        any_value(out, &kv.value);
        out.push(b'}');
    }
    out.push(b']');
}

fn count(out: &mut Vec<u8>, first: &mut bool, name: &str, n: u32) {
    if n > 0 {
        key(out, first, name);
        let _ = write!(out, "{n}");
    }
}

fn text(out: &mut Vec<u8>, first: &mut bool, name: &str, value: &str) {
    if !value.is_empty() {
        key(out, first, name);
        string(out, value);
    }
}

/// The ids, trace state and flags of a span or a link.
fn context(out: &mut Vec<u8>, first: &mut bool, context: &SpanContext) {
    key(out, first, "traceId");
    hex(out, &context.trace_id().to_bytes());
    key(out, first, "spanId");
    hex(out, &context.span_id().to_bytes());
    text(out, first, "traceState", &context.trace_state().header());
}

/// W3C trace flags with OTLP's `is_remote` bits.
pub(crate) fn flags(trace_flags: u8, is_remote: bool) -> u32 {
    let mut flags = u32::from(trace_flags) | CONTEXT_HAS_IS_REMOTE;
    if is_remote {
        flags |= CONTEXT_IS_REMOTE;
    }
    flags
}

/// OTLP's `Span.SpanKind` numbers.
pub(crate) fn kind_number(kind: &SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// One `Span` object.
pub(crate) fn span(out: &mut Vec<u8>, span: &SpanData) {
    let mut first = true;
    let f = &mut first;
    out.push(b'{');
    context(out, f, &span.span_context);
    if span.parent_span_id != SpanId::INVALID {
        key(out, f, "parentSpanId");
        hex(out, &span.parent_span_id.to_bytes());
    }
    key(out, f, "flags");
    let _ = write!(
        out,
        "{}",
        flags(
            span.span_context.trace_flags().to_u8(),
            span.parent_span_is_remote
        )
    );
    key(out, f, "name");
    string(out, &span.name);
    key(out, f, "kind");
    let _ = write!(out, "{}", kind_number(&span.span_kind));
    key(out, f, "startTimeUnixNano");
    int_string(out, nanos(span.start_time));
    key(out, f, "endTimeUnixNano");
    int_string(out, nanos(span.end_time));
    attributes(out, f, &span.attributes);
    count(
        out,
        f,
        "droppedAttributesCount",
        span.dropped_attributes_count,
    );
    if !span.events.is_empty() {
        key(out, f, "events");
        out.push(b'[');
        for (i, event) in span.events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut first = true;
            let f = &mut first;
            out.push(b'{');
            key(out, f, "timeUnixNano");
            int_string(out, nanos(event.timestamp));
            text(out, f, "name", &event.name);
            attributes(out, f, &event.attributes);
            count(
                out,
                f,
                "droppedAttributesCount",
                event.dropped_attributes_count,
            );
            out.push(b'}');
        }
        out.push(b']');
    }
    count(out, f, "droppedEventsCount", span.events.dropped_count);
    if !span.links.is_empty() {
        key(out, f, "links");
        out.push(b'[');
        for (i, link) in span.links.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut first = true;
            let f = &mut first;
            out.push(b'{');
            context(out, f, &link.span_context);
            attributes(out, f, &link.attributes);
            count(
                out,
                f,
                "droppedAttributesCount",
                link.dropped_attributes_count,
            );
            key(out, f, "flags");
            let _ = write!(
                out,
                "{}",
                flags(
                    link.span_context.trace_flags().to_u8(),
                    link.span_context.is_remote()
                )
            );
            out.push(b'}');
        }
        out.push(b']');
    }
    count(out, f, "droppedLinksCount", span.links.dropped_count);
    key(out, f, "status");
    match &span.status {
        Status::Unset => out.extend_from_slice(b"{}"),
        Status::Ok => out.extend_from_slice(b"{\"code\":1}"),
        Status::Error { description } => {
            out.extend_from_slice(b"{");
            let mut first = true;
            text(out, &mut first, "message", description);
            key(out, &mut first, "code");
            out.extend_from_slice(b"2}");
        }
    }
    out.push(b'}');
}

/// One `InstrumentationScope` object.
pub(crate) fn scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    let mut first = true;
    let f = &mut first;
    out.push(b'{');
    text(out, f, "name", scope.name());
    text(out, f, "version", scope.version().unwrap_or_default());
    attributes(out, f, scope.attributes());
    out.push(b'}');
}

/// One `Resource` object.
pub(crate) fn resource(out: &mut Vec<u8>, resource: &Resource) {
    let mut first = true;
    out.push(b'{');
    let kvs: Vec<KeyValue> = resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    attributes(out, &mut first, &kvs);
    out.push(b'}');
}

/// A request-metrics histogram as an OTLP JSON `Metric` object.
pub(crate) fn metric(out: &mut Vec<u8>, histogram: &crate::metrics::Histogram) {
    let instrument = histogram.instrument;
    out.push(b'{');
    let mut first = true;
    text(out, &mut first, "name", instrument.name());
    text(out, &mut first, "description", instrument.description());
    text(out, &mut first, "unit", instrument.unit());
    key(out, &mut first, "histogram");
    out.push(b'{');
    let mut first = true;
    key(out, &mut first, "dataPoints");
    out.push(b'[');
    for (i, p) in histogram.points.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        point(out, p);
    }
    out.push(b']');
    key(out, &mut first, "aggregationTemporality");
    let number = match histogram.temporality {
        crate::metrics::Temporality::Delta => 1,
        crate::metrics::Temporality::Cumulative => 2,
    };
    let _ = write!(out, "{number}");
    out.extend_from_slice(b"}}");
}

/// One `HistogramDataPoint` object.
fn point(out: &mut Vec<u8>, p: &crate::metrics::HistogramPoint) {
    out.push(b'{');
    let mut first = true;
    attributes(out, &mut first, &p.attributes);
    key(out, &mut first, "startTimeUnixNano");
    int_string(out, nanos(p.start_time));
    key(out, &mut first, "timeUnixNano");
    int_string(out, nanos(p.time));
    key(out, &mut first, "count");
    int_string(out, p.count);
    key(out, &mut first, "sum");
    double(out, p.sum);
    key(out, &mut first, "bucketCounts");
    out.push(b'[');
    for (i, c) in p.bucket_counts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        int_string(out, c);
    }
    out.push(b']');
    key(out, &mut first, "explicitBounds");
    out.push(b'[');
    for (i, b) in p.bounds.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        double(out, *b);
    }
    out.push(b']');
    if !p.exemplars.is_empty() {
        key(out, &mut first, "exemplars");
        out.push(b'[');
        for (i, e) in p.exemplars.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let mut f = true;
            attributes_named(out, &mut f, "filteredAttributes", &e.filtered_attributes);
            key(out, &mut f, "timeUnixNano");
            int_string(out, nanos(e.time));
            key(out, &mut f, "asDouble");
            double(out, e.value);
            key(out, &mut f, "spanId");
            hex(out, &e.span_id.to_bytes());
            key(out, &mut f, "traceId");
            hex(out, &e.trace_id.to_bytes());
            out.push(b'}');
        }
        out.push(b']');
    }
    if let Some(min) = p.min {
        key(out, &mut first, "min");
        double(out, min);
    }
    if let Some(max) = p.max {
        key(out, &mut first, "max");
        double(out, max);
    }
    out.push(b'}');
}

/// The encoded parts of one line: the resource (an object and its schema URL)
/// and, for each scope in order, its object, its schema URL and its items.
pub(crate) struct Line<'a, S> {
    pub(crate) resource: &'a [u8],
    pub(crate) resource_schema_url: &'a str,
    pub(crate) scopes: S,
}

/// The keys of one signal's line: `TracesData` (`resourceSpans`,
/// `scopeSpans`, `spans`) or `MetricsData` (`resourceMetrics`, ...).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys {
    pub(crate) resource: &'static [u8],
    pub(crate) scope: &'static [u8],
    pub(crate) items: &'static [u8],
}

/// `TracesData`'s keys.
pub(crate) const TRACES: Keys = Keys {
    resource: b"{\"resourceSpans\":[{\"resource\":",
    scope: b",\"scopeSpans\":[",
    items: b",\"spans\":[",
};

/// `MetricsData`'s keys.
pub(crate) const METRICS: Keys = Keys {
    resource: b"{\"resourceMetrics\":[{\"resource\":",
    scope: b",\"scopeMetrics\":[",
    items: b",\"metrics\":[",
};

/// One `TracesData` (or, with [`METRICS`], `MetricsData`) line, ended by a
/// line feed.
pub(crate) fn line<'a, S, I>(out: &mut Vec<u8>, keys: Keys, line: Line<'a, S>)
where
    S: IntoIterator<Item = (&'a [u8], &'a str, I)>,
    I: IntoIterator<Item = &'a [u8]>,
{
    out.extend_from_slice(keys.resource);
    out.extend_from_slice(line.resource);
    out.extend_from_slice(keys.scope);
    for (i, (scope, schema_url, spans)) in line.scopes.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"scope\":");
        out.extend_from_slice(scope);
        out.extend_from_slice(keys.items);
        for (j, span) in spans.into_iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(span);
        }
        out.push(b']');
        let mut first = false;
        text(out, &mut first, "schemaUrl", schema_url);
        out.push(b'}');
    }
    out.push(b']');
    let mut first = false;
    text(out, &mut first, "schemaUrl", line.resource_schema_url);
    out.extend_from_slice(b"}]}\n");
}

/// The spans of one export as `TracesData` lines in `out`: one line, with the
/// spans grouped by scope in the order they come. (The export thread cuts a
/// batch into lines by size; this is the whole batch in one line, for tests.)
#[cfg(test)]
pub(crate) fn traces_data(out: &mut Vec<u8>, resource: &Resource, spans: &[SpanData]) {
    let mut res = Vec::new();
    self::resource(&mut res, resource);
    /// Each scope: itself, its encoded object, its encoded spans.
    type Scopes<'a> = Vec<(&'a InstrumentationScope, Vec<u8>, Vec<Vec<u8>>)>;
    let mut scopes: Scopes<'_> = Vec::new();
    for s in spans {
        let at = match scopes
            .iter()
            .position(|(sc, ..)| *sc == &s.instrumentation_scope)
        {
            Some(at) => at,
            None => {
                let mut encoded = Vec::new();
                scope(&mut encoded, &s.instrumentation_scope);
                scopes.push((&s.instrumentation_scope, encoded, Vec::new()));
                scopes.len() - 1
            }
        };
        let mut encoded = Vec::new();
        span(&mut encoded, s);
        scopes[at].2.push(encoded);
    }
    line(
        out,
        TRACES,
        Line {
            resource: &res,
            resource_schema_url: resource.schema_url().unwrap_or_default(),
            scopes: scopes.iter().map(|(sc, encoded, spans)| {
                (
                    encoded.as_slice(),
                    sc.schema_url().unwrap_or_default(),
                    spans.iter().map(Vec::as_slice),
                )
            }),
        },
    );
}
