//! The producer and consumer spans on an SDK of the test's own: names,
//! kinds, attributes, parents and links under each trust, redelivery,
//! batches, and hostile headers.

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanKind, TraceContextExt, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

use super::*;
use crate::propagation::{PairsExtractor, Trust};

fn sdk() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Sends one message; returns its headers and the PRODUCER span.
fn sent(nats: &Messaging, exporter: &InMemorySpanExporter) -> (Vec<(String, String)>, SpanData) {
    let mut headers = Vec::new();
    let sending = nats.send(
        "orders.created",
        &Message::new().id("m-1").body_size(42),
        &mut PairsInjector(&mut headers),
    );
    sending.end(Ok(()));
    let spans = exporter.get_finished_spans().unwrap();
    (headers, spans.last().unwrap().clone())
}

fn pairs(headers: &[(String, String)]) -> PairsExtractor<'_> {
    PairsExtractor::new(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[test]
fn the_producer_span_follows_the_conventions_and_travels_in_the_headers() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats")
        .server("127.0.0.1", Some(4222))
        .body_size(true)
        .tracer_provider(&provider);
    let (headers, producer) = sent(&nats, &exporter);
    assert_eq!(producer.name, "publish orders.created");
    assert_eq!(producer.span_kind, SpanKind::Producer);
    for (key, value) in [
        ("messaging.system", Value::from("nats")),
        ("messaging.operation.name", Value::from("publish")),
        ("messaging.operation.type", Value::from("send")),
        ("messaging.destination.name", Value::from("orders.created")),
        ("messaging.message.id", Value::from("m-1")),
        ("messaging.message.body.size", Value::I64(42)),
        ("server.address", Value::from("127.0.0.1")),
        ("server.port", Value::I64(4222)),
    ] {
        assert_eq!(attr(&producer, key), Some(value), "{key}");
    }
    let traceparent = &headers.iter().find(|(k, _)| k == "traceparent").unwrap().1;
    assert!(
        traceparent.contains(&producer.span_context.span_id().to_string()),
        "{traceparent}"
    );
    // Body size is opt-in: off by default.
    let (_, plain) = sent(
        &Messaging::new("nats").tracer_provider(&provider),
        &exporter,
    );
    assert_eq!(attr(&plain, "messaging.message.body.size"), None);
}

#[test]
fn a_consumer_continues_links_or_ignores_as_its_trust_says() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats").tracer_provider(&provider);
    let (headers, producer) = sent(&nats, &exporter);
    let destination = Destination::new("orders.created")
        .template("orders.*")
        .consumer_group("billing");
    for trust in [Trust::Continue, Trust::NewTraceWithLink, Trust::Ignore] {
        let consumer = nats.clone().trust(trust);
        let processing =
            consumer.process(&destination, &Message::new().id("m-1"), &pairs(&headers));
        let seen = {
            let _attached = processing.attach();
            crate::current_trace_id()
        };
        processing.end(Ok(()));
        let span = exporter
            .get_finished_spans()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(span.span_kind, SpanKind::Consumer);
        assert_eq!(span.name, "process orders.*", "the template names the span");
        assert_eq!(
            attr(&span, "messaging.operation.type"),
            Some("process".into())
        );
        assert_eq!(
            attr(&span, "messaging.destination.name"),
            Some("orders.created".into())
        );
        assert_eq!(
            attr(&span, "messaging.consumer.group.name"),
            Some("billing".into())
        );
        assert_eq!(
            seen,
            Some(span.span_context.trace_id()),
            "current while attached"
        );
        let producer_trace = producer.span_context.trace_id();
        match trust {
            Trust::Continue => {
                assert_eq!(span.span_context.trace_id(), producer_trace);
                assert_eq!(span.parent_span_id, producer.span_context.span_id());
                assert!(span.parent_span_is_remote);
                assert!(span.links.is_empty());
            }
            Trust::NewTraceWithLink => {
                assert_ne!(span.span_context.trace_id(), producer_trace);
                assert_eq!(span.links.len(), 1);
                let linked = &span.links[0].span_context;
                assert_eq!(
                    (linked.trace_id(), linked.span_id()),
                    (producer_trace, producer.span_context.span_id())
                );
            }
            _ => {
                assert_ne!(span.span_context.trace_id(), producer_trace);
                assert!(span.links.is_empty());
            }
        }
    }
}

/// A redelivered message: a new CONSUMER span each time, with the same
/// parent; a failure is an error with its type.
#[test]
fn each_delivery_is_a_span_of_its_own_with_the_same_parent() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats").tracer_provider(&provider);
    let (headers, producer) = sent(&nats, &exporter);
    let destination = Destination::new("jobs");
    let first = nats.process(&destination, &Message::new(), &pairs(&headers));
    first.end_with_error_type(&"the mail server refused", "smtp_refused");
    let second = nats.process(&destination, &Message::new(), &pairs(&headers));
    second.end(Ok(()));
    let spans = exporter.get_finished_spans().unwrap();
    let deliveries: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Consumer)
        .collect();
    assert_eq!(deliveries.len(), 2);
    assert_ne!(
        deliveries[0].span_context.span_id(),
        deliveries[1].span_context.span_id()
    );
    for d in &deliveries {
        assert_eq!(d.parent_span_id, producer.span_context.span_id());
    }
    assert_eq!(
        attr(deliveries[0], "error.type"),
        Some("smtp_refused".into())
    );
    assert!(matches!(
        deliveries[0].status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert_eq!(attr(deliveries[1], "error.type"), None);
}

/// A batch: one CONSUMER span in the current trace, linked to the first
/// `max_links` messages with a valid context, counting them all.
#[test]
fn a_batch_links_to_a_bounded_number_of_messages() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats").tracer_provider(&provider);
    let mut all = Vec::new();
    for _ in 0..300 {
        all.push(sent(&nats, &exporter));
    }
    let bad = vec![("traceparent".to_string(), "00-garbage".to_string())];
    let extractors: Vec<PairsExtractor<'_>> = std::iter::once(pairs(&bad))
        .chain(all.iter().map(|(h, _)| pairs(h)))
        .collect();
    let processing = nats.process_batch(
        &Destination::new("orders.created"),
        extractors.iter().map(|e| e as &dyn Extractor),
    );
    processing.end(Ok(()));
    let batch = exporter
        .get_finished_spans()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        attr(&batch, "messaging.batch.message_count"),
        Some(Value::I64(301))
    );
    assert_eq!(batch.links.len(), DEFAULT_MAX_LINKS);
    assert_eq!(
        batch.links[0].span_context.span_id(),
        all[0].1.span_context.span_id(),
        "the invalid context skipped, the first valid one linked"
    );
    assert!(all
        .iter()
        .all(|(_, p)| p.span_context.trace_id() != batch.span_context.trace_id()));
    let ignoring = nats.clone().trust(Trust::Ignore).max_links(2);
    let p = ignoring.process_batch(
        &Destination::new("orders.created"),
        extractors.iter().map(|e| e as &dyn Extractor),
    );
    p.end(Ok(()));
    assert!(exporter
        .get_finished_spans()
        .unwrap()
        .last()
        .unwrap()
        .links
        .is_empty());
}

/// Headers no producer of ours would send: the consumer never fails, a new
/// trace starts where the context is not valid, and what is copied into the
/// span is bounded.
#[test]
fn hostile_headers_start_a_new_trace_and_stay_bounded() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats").tracer_provider(&provider);
    let (good, producer) = sent(&nats, &exporter);
    let tp = good
        .iter()
        .find(|(k, _)| k == "traceparent")
        .unwrap()
        .1
        .clone();
    let many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("x-header-{i}"), "v".repeat(100)))
        .chain(std::iter::once(("traceparent".to_string(), tp.clone())))
        .collect();
    let long_name = "d".repeat(100_000);
    // (headers, continued, why)
    type Case = (Vec<(String, String)>, bool, &'static str);
    let cases: Vec<Case> = vec![
        (
            many,
            true,
            "10,000 other headers: the context is still found",
        ),
        (
            vec![
                ("traceparent".into(), tp.clone()),
                ("traceparent".into(), tp.clone()),
            ],
            false,
            "duplicated traceparent",
        ),
        (
            vec![("TRACEPARENT".into(), tp.clone())],
            true,
            "names are case-insensitive",
        ),
        (
            vec![(
                "traceparent".into(),
                format!("{tp}{}", "-".repeat(1_000_000)),
            )],
            false,
            "oversized",
        ),
        (
            vec![(
                "traceparent".into(),
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
            )],
            false,
            "all-zero trace id",
        ),
        (
            vec![("traceparent".into(), "\u{fffd}\u{0}binary\u{7f}".into())],
            false,
            "binary",
        ),
        (
            vec![("tracestate".into(), "a=b".repeat(100_000))],
            false,
            "tracestate alone",
        ),
        (vec![], false, "no headers"),
    ];
    for (headers, continued, why) in cases {
        let processing = nats.process(
            &Destination::new(&long_name),
            &Message::new().id(&long_name),
            &pairs(&headers),
        );
        processing.end(Ok(()));
        let span = exporter
            .get_finished_spans()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        let same = span.span_context.trace_id() == producer.span_context.trace_id();
        assert_eq!(same, continued, "{why}");
        assert_ne!(span.span_context.trace_id(), TraceId::INVALID, "{why}");
        for key in ["messaging.destination.name", "messaging.message.id"] {
            let len = attr(&span, key).unwrap().as_str().len();
            assert!(len <= DEFAULT_MAX_ATTRIBUTE_LEN, "{why}: {key} {len}");
        }
        assert!(span.name.len() <= DEFAULT_MAX_ATTRIBUTE_LEN + "process ".len());
    }
    // The context of the current trace goes on under a consumer that
    // ignores the message's.
    let _root = crate::DistributedTraceContext::new().enter();
    let current = crate::current_trace_id().unwrap();
    let p = nats.clone().trust(Trust::Ignore).process(
        &Destination::new("q"),
        &Message::new(),
        &pairs(&good),
    );
    assert_eq!(p.context().span().span_context().trace_id(), current);
    p.end(Ok(()));
}

/// `Processing::run`: the work runs in the span's context and its error ends
/// the span as one.
#[tokio::test]
async fn run_processes_in_the_span_and_ends_it_with_the_result() {
    let (provider, exporter) = sdk();
    let nats = Messaging::new("nats").tracer_provider(&provider);
    let (headers, producer) = sent(&nats, &exporter);
    let processing = nats.process(&Destination::new("jobs"), &Message::new(), &pairs(&headers));
    let seen = processing
        .run(async {
            Err::<Option<TraceId>, _>(format!("refused in {:?}", crate::current_trace_id()))
        })
        .await
        .unwrap_err();
    assert!(
        seen.contains(&producer.span_context.trace_id().to_string()),
        "{seen}"
    );
    let span = exporter
        .get_finished_spans()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(attr(&span, "error.type"), Some("_OTHER".into()));
    assert_eq!(span.parent_span_id, producer.span_context.span_id());
}
