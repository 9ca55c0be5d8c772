//! The format's round trip: any span the SDK can produce, written and read
//! back, is the span it was; and a line decodes (with upstream's OTLP JSON
//! decoder) to exactly what the OTLP exporters' protobuf conversion makes.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use proptest::collection::vec;
use proptest::prelude::*;

use super::write::traces_data;
use super::{Batch, Reader};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z._]{0,12}",
        any::<String>(),
        // Long enough for a field's length to take two bytes (three: the
        // exporter's test of a 20,000-character value).
        "[a-z]{120,600}",
        Just("\"quoted\" \\ </script>\u{2028}\u{0}".to_string()),
    ]
}

fn non_empty(values: &[&'static str]) -> impl Strategy<Value = Option<String>> {
    let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    proptest::option::of(proptest::sample::select(values))
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(1e300),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        Just(Value::I64(i64::MIN)),
        Just(Value::I64((1 << 53) + 1)),
        double().prop_map(Value::F64),
        text().prop_map(|s| Value::String(s.into())),
        vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
        vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        vec(double(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
        vec(text(), 0..4).prop_map(|v| Value::Array(Array::String(
            v.into_iter().map(StringValue::from).collect()
        ))),
    ]
}

fn key_values() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (text(), value()).prop_map(|(k, v)| KeyValue::new(k, v)),
        0..5,
    )
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    any::<u128>()
        .prop_filter("valid", |n| *n != 0)
        .prop_map(TraceId::from)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<u64>()
        .prop_filter("valid", |n| *n != 0)
        .prop_map(SpanId::from)
}

fn trace_state() -> impl Strategy<Value = TraceState> {
    vec(("[a-z][a-z0-9_*/-]{0,8}", "[!-+.-<>-~]{1,8}"), 0..3).prop_map(|kvs| {
        let mut seen = std::collections::HashSet::new();
        let kvs: Vec<_> = kvs
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        TraceState::from_key_value(kvs).expect("valid members")
    })
}

fn time() -> impl Strategy<Value = std::time::SystemTime> {
    (0..u64::MAX).prop_map(|n| UNIX_EPOCH + Duration::from_nanos(n))
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (
        text(),
        non_empty(&["1.0.0", "0.34.0"]),
        non_empty(&["https://opentelemetry.io/schemas/1.37.0"]),
        key_values(),
    )
        .prop_map(|(name, version, schema_url, attributes)| {
            let mut scope = InstrumentationScope::builder(name).with_attributes(attributes);
            if let Some(v) = version {
                scope = scope.with_version(v);
            }
            if let Some(s) = schema_url {
                scope = scope.with_schema_url(s);
            }
            scope.build()
        })
}

fn link() -> impl Strategy<Value = Link> {
    (
        trace_id(),
        span_id(),
        any::<u8>(),
        any::<bool>(),
        trace_state(),
        key_values(),
        any::<u32>(),
    )
        .prop_map(|(t, s, flags, remote, state, attributes, dropped)| {
            let context = SpanContext::new(t, s, TraceFlags::new(flags), remote, state);
            Link::new(context, attributes, dropped)
        })
}

fn event() -> impl Strategy<Value = Event> {
    (text(), time(), key_values(), any::<u32>())
        .prop_map(|(name, at, attributes, dropped)| Event::new(name, at, attributes, dropped))
}

prop_compose! {
    fn span_data(scope: InstrumentationScope)(
        ids in (trace_id(), span_id(), any::<u8>(), trace_state()),
        parent in prop_oneof![Just(SpanId::INVALID), span_id()],
        parent_span_is_remote in any::<bool>(),
        kind in proptest::sample::select(vec![
            SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer,
        ]),
        name in text(),
        times in (time(), time()),
        attributes in key_values(),
        dropped in (any::<u32>(), any::<u32>(), any::<u32>()),
        events in vec(event(), 0..3),
        links in vec(link(), 0..3),
        status in prop_oneof![
            Just(Status::Unset),
            Just(Status::Ok),
            text().prop_map(|d| Status::Error { description: Cow::Owned(d) }),
        ],
    ) -> SpanData {
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        span_events.dropped_count = dropped.1;
        let mut span_links = SpanLinks::default();
        span_links.links = links;
        span_links.dropped_count = dropped.2;
        SpanData {
            span_context: SpanContext::new(ids.0, ids.1, TraceFlags::new(ids.2), false, ids.3),
            parent_span_id: parent,
            parent_span_is_remote,
            span_kind: kind,
            name: Cow::Owned(name),
            start_time: times.0,
            end_time: times.1,
            attributes,
            dropped_attributes_count: dropped.0,
            events: span_events,
            links: span_links,
            status,
            instrumentation_scope: scope.clone(),
        }
    }
}

fn resource() -> impl Strategy<Value = Resource> {
    (
        key_values(),
        non_empty(&["https://opentelemetry.io/schemas/1.37.0"]),
    )
        .prop_map(|(attributes, schema_url)| match schema_url {
            Some(url) => Resource::builder_empty()
                .with_schema_url(attributes, url)
                .build(),
            None => Resource::builder_empty()
                .with_attributes(attributes)
                .build(),
        })
}

/// A resource and spans of one or two scopes.
fn export() -> impl Strategy<Value = (Resource, Vec<SpanData>)> {
    (resource(), scope(), scope()).prop_flat_map(|(resource, a, b)| {
        (
            Just(resource),
            vec(prop_oneof![span_data(a), span_data(b)], 1..4),
        )
    })
}

/// OTLP has no type for an empty array: the SDK's empty arrays of any type
/// read back as empty arrays of strings (as over OTLP/protobuf).
fn typeless_empty(v: &Value) -> Value {
    match v {
        Value::Array(Array::Bool(a)) if a.is_empty() => Value::Array(Array::String(vec![])),
        Value::Array(Array::I64(a)) if a.is_empty() => Value::Array(Array::String(vec![])),
        Value::Array(Array::F64(a)) if a.is_empty() => Value::Array(Array::String(vec![])),
        other => other.clone(),
    }
}

fn normalized(kvs: &[KeyValue]) -> Vec<KeyValue> {
    kvs.iter()
        .map(|kv| KeyValue::new(kv.key.clone(), typeless_empty(&kv.value)))
        .collect()
}

/// Everything a span holds, comparable (`Debug`: NaN reads as `NaN` on both
/// sides, and -0.0 as -0.0, where `==` would not tell).
fn shown(span: &SpanData) -> String {
    let mut span = span.clone();
    span.attributes = normalized(&span.attributes);
    for e in span.events.events.iter_mut() {
        e.attributes = normalized(&e.attributes);
    }
    for l in span.links.links.iter_mut() {
        l.attributes = normalized(&l.attributes);
    }
    let scope = &span.instrumentation_scope;
    let mut same = InstrumentationScope::builder(scope.name().to_owned())
        .with_attributes(normalized(&scope.attributes().cloned().collect::<Vec<_>>()));
    if let Some(v) = scope.version() {
        same = same.with_version(v.to_owned());
    }
    if let Some(s) = scope.schema_url() {
        same = same.with_schema_url(s.to_owned());
    }
    span.instrumentation_scope = same.build();
    format!("{span:?}")
}

fn shown_resource(resource: &Resource) -> String {
    let mut kvs: Vec<String> = resource
        .iter()
        .map(|(k, v)| format!("{k:?}={:?}", typeless_empty(v)))
        .collect();
    kvs.sort();
    format!("{kvs:?} {:?}", resource.schema_url())
}

/// Whether every double (attributes of the resource, scopes, spans, events,
/// links) is finite.
fn all_finite(resource: &Resource, spans: &[SpanData]) -> bool {
    fn finite(v: &Value) -> bool {
        match v {
            Value::F64(f) => f.is_finite(),
            Value::Array(Array::F64(a)) => a.iter().all(|f| f.is_finite()),
            _ => true,
        }
    }
    let kvs = |kvs: &[KeyValue]| kvs.iter().all(|kv| finite(&kv.value));
    resource.iter().all(|(_, v)| finite(v))
        && spans.iter().all(|s| {
            kvs(&s.attributes)
                && s.instrumentation_scope
                    .attributes()
                    .all(|kv| finite(&kv.value))
                && s.events.iter().all(|e| kvs(&e.attributes))
                && s.links.iter().all(|l| kvs(&l.attributes))
        })
}

fn read_all(bytes: &[u8]) -> Vec<Result<Batch, super::LineError>> {
    Reader::new(bytes).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_span_round_trips_through_the_file_format((resource, spans) in export()) {
        let mut line = Vec::new();
        traces_data(&mut line, &resource, &spans);
        prop_assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'), "one line");
        let read = read_all(&line);
        prop_assert_eq!(read.len(), 1);
        let batch = read.into_iter().next().unwrap().expect("the line reads back");
        prop_assert_eq!(batch.line, 1);
        prop_assert_eq!(shown_resource(&batch.resource), shown_resource(&resource));
        // The line groups spans by scope (`==`, as the protobuf conversion
        // does: a scope with a NaN attribute is not equal to itself), in the
        // order each scope is first seen.
        let mut groups: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
        for s in &spans {
            match groups.iter_mut().find(|(scope, _)| *scope == &s.instrumentation_scope) {
                Some((_, group)) => group.push(s),
                None => groups.push((&s.instrumentation_scope, vec![s])),
            }
        }
        let expected: Vec<&SpanData> = groups.into_iter().flat_map(|(_, g)| g).collect();
        prop_assert_eq!(batch.spans.len(), expected.len());
        for (got, want) in batch.spans.iter().zip(expected) {
            prop_assert_eq!(shown(got), shown(want));
        }
    }

    #[test]
    fn a_line_is_what_the_otlp_exporters_send((resource, spans) in export()) {
        use opentelemetry_proto::tonic::trace::v1::TracesData;
        use prost::Message as _;
        // Upstream's decoder takes a double only as a JSON number, where the
        // protobuf JSON mapping writes NaN and the infinities as strings (the
        // round trip above covers those).
        prop_assume!(all_finite(&resource, &spans));
        let mut line = Vec::new();
        traces_data(&mut line, &resource, &spans);
        let decoded: TracesData = serde_json::from_slice(&line).expect("upstream decodes the line");
        let sent = TracesData {
            resource_spans: opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                spans,
                &(&resource).into(),
            ),
        };
        // Bytes, not `==`: NaN equals itself only as bits.
        prop_assert_eq!(decoded.encode_to_vec(), sent.encode_to_vec());
    }
}

/// A valid line of one span (trace `...01`, span `...02`), for the reader's tests.
fn one_span_line() -> String {
    r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002","flags":257,"name":"GET /","kind":2,"startTimeUnixNano":"1796309782728938496","endTimeUnixNano":"1796309782731793241","attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],"status":{}}]}]}]}"#.to_string()
}

#[test]
fn a_valid_line_reads_with_its_types_and_exact_times() {
    let batches = read_all(one_span_line().as_bytes());
    let batch = batches[0].as_ref().expect("valid");
    let span = &batch.spans[0];
    assert_eq!(span.name, "GET /");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.attributes[0].value, Value::I64(200));
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    // As integers, not doubles: 2^53 is far below these nanoseconds.
    assert_eq!(
        duration.as_nanos(),
        1796309782731793241 - 1796309782728938496
    );
    assert_eq!(
        batch.resource.get(&"service.name".into()),
        Some(Value::from("shop"))
    );
    assert!(span.span_context.is_sampled());
}

#[rustfmt::skip]
#[test]
fn a_line_that_is_not_otlp_json_is_reported_with_its_number_and_skipped() {
    let good = one_span_line();
    let cases: &[(String, &str, &str)] = &[
        (format!("{}\n", &good[..good.len() / 2]), "not complete JSON (the line ends early)", "a line cut short, then a line feed"),
        ("hello\n".into(), "not JSON, at column 1", "not JSON"),
        ("[1,2]\n".into(), "not OTLP JSON", "JSON of another shape"),
        (good.replace("00000000000000000000000000000001", "0001"), "traceId: expected 32 hex digits, found \"0001\"", "a short trace id"),
        (good.replace("00000000000000000000000000000001", "0000000000000000000000000000000g"), "expected 32 hex digits", "a non-hex digit"),
        (good.replace("00000000000000000000000000000001", "00000000000000000000000000000000"), "the all-zero trace id", "an all-zero trace id"),
        (good.replace("0000000000000002", "0000000000000000"), "the all-zero span id", "an all-zero span id"),
        (good.replace("\"kind\":2", "\"kind\":9"), "kind: 9 is not a span kind", "an unknown span kind"),
        (good.replace("\"status\":{}", "\"status\":{\"code\":7}"), "status.code: 7 is not a status code", "an unknown status code"),
        (good.replace("\"1796309782728938496\"", "\"soon\""), "\"soon\" is not a 64-bit integer", "a time that is not a number"),
        (good.replace("\"1796309782728938496\"", "-1"), "-1 is out of range", "a negative time"),
        (good.replace("{\"intValue\":\"200\"}", "{\"intValue\":\"200\",\"stringValue\":\"x\"}"), "more than one value in one AnyValue", "two values in one"),
        (good.replace("\"flags\":257", "\"flags\":257,\"traceState\":\"a=b=c\""), "is not a W3C tracestate", "an invalid tracestate"),
        (good.replace("\"name\":\"GET /\"", "\"name\":\"\\u001b[2J\\u202e\""), "", "escaped control characters are data, not an error (escaped where shown)"),
        (good.replace("\"name\":\"GET /\"", "\"name\":\"\u{1b}\""), "control character", "a raw control character is not JSON"),
    ];
    for (line, expected, why) in cases {
        let input = format!("{good}\n{line}\n{good}");
        let got: Vec<_> = read_all(input.as_bytes());
        assert_eq!(got.len(), 3, "{why}: the lines around it are read");
        assert!(got[0].is_ok() && got[2].is_ok(), "{why}");
        match (&got[1], expected.is_empty()) {
            (Ok(_), true) => {}
            (Err(e), false) => {
                assert_eq!(e.line(), 2, "{why}");
                assert!(e.to_string().starts_with("line 2: "), "{why}: {e}");
                assert!(e.reason().contains(expected), "{why}: {e}");
            }
            (other, _) => panic!("{why}: {other:?}"),
        }
    }
}

#[test]
fn values_quoted_in_a_message_are_escaped_and_short() {
    let long = format!("\u{1b}[31m{}", "a".repeat(10_000));
    let line = one_span_line().replace("\"kind\":2", &format!("\"kind\":\"{long}\""));
    let err = read_all(line.as_bytes()).remove(0).unwrap_err();
    let shown = err.to_string();
    assert!(!shown.contains('\u{1b}'), "{shown}");
    assert!(shown.len() < 600, "{} bytes", shown.len());
}

#[test]
fn the_last_line_without_a_line_feed_reads_when_complete() {
    let input = format!("{}\n\n  \r\n{}", one_span_line(), one_span_line());
    let got = read_all(input.as_bytes());
    let lines: Vec<u64> = got.iter().map(|b| b.as_ref().unwrap().line).collect();
    // Blank lines are counted (numbers stay those of the file) and skipped.
    assert_eq!(lines, [1, 4]);
    // A crash while writing: the last line is cut, and says so.
    let good = one_span_line();
    let input = format!("{good}\n{}", &good[..good.len() / 2]);
    let got = read_all(input.as_bytes());
    assert!(got[0].is_ok());
    let err = got[1].as_ref().unwrap_err();
    assert_eq!(err.line(), 2);
    assert!(
        err.reason()
            .contains("the file ends in the middle of a line"),
        "{err}"
    );
}

#[test]
fn a_line_over_the_limit_is_skipped_without_being_held() {
    let good = one_span_line();
    let big = format!(
        "{{\"resourceSpans\":[],\"pad\":\"{}\"}}",
        "x".repeat(1 << 20)
    );
    let input = format!("{good}\n{big}\n{good}\n");
    let got: Vec<_> = Reader::new(input.as_bytes())
        .max_line_bytes(64 * 1024)
        .collect();
    assert_eq!(got.len(), 3);
    let err = got[1].as_ref().unwrap_err();
    assert_eq!(err.line(), 2);
    assert!(err.reason().contains("longer than the 65536"), "{err}");
    assert!(got[2].is_ok());
}

#[test]
fn an_empty_file_has_no_batches_and_unknown_fields_are_ignored() {
    assert!(read_all(b"").is_empty());
    let line =
        one_span_line().replace("\"flags\":257", "\"flags\":257,\"futureField\":{\"x\":[1]}");
    assert!(read_all(line.as_bytes())[0].is_ok());
}

#[test]
fn values_the_sdk_has_no_type_for_read_as_text() {
    let line = one_span_line().replace(
        "{\"intValue\":\"200\"}",
        r#"{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}}]}}"#,
    );
    let batch = read_all(line.as_bytes()).remove(0).unwrap();
    let Value::String(text) = &batch.spans[0].attributes[0].value else {
        panic!("{:?}", batch.spans[0].attributes[0].value)
    };
    assert!(text.as_str().contains("\"key\":\"a\""), "{text}");
    let mixed = one_span_line().replace(
        "{\"intValue\":\"200\"}",
        r#"{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"b"}]}}"#,
    );
    let batch = read_all(mixed.as_bytes()).remove(0).unwrap();
    assert_eq!(
        batch.spans[0].attributes[0].value,
        Value::String("[\"1\",\"b\"]".into())
    );
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The OTLP exporter's span message, written straight from `SpanData`,
    /// is byte for byte what `opentelemetry-proto`'s conversion encodes.
    #[test]
    fn the_exporters_span_bytes_are_the_protobuf_conversions((_, spans) in export()) {
        use prost::Message as _;
        for span in spans {
            let mut ours = Vec::new();
            crate::export::otlp::span_proto::span(&mut ours, &span);
            let upstream = opentelemetry_proto::tonic::trace::v1::Span::from(span).encode_to_vec();
            prop_assert_eq!(ours, upstream);
        }
    }
}
