#![cfg(feature = "nats")]
//! `messaging::nats` against a real NATS server (`common::nats::NatsServer`,
//! core NATS and JetStream on a free port of 127.0.0.1), each test with an SDK
//! of its own (`SdkTracerProvider` + `InMemorySpanExporter` given to
//! `Messaging::tracer_provider`) and no global state, so that they run in
//! parallel:
//!
//! * core NATS: a queue-group subscriber's CONSUMER span is the child of the
//!   PRODUCER span, with the conventions' attributes;
//! * JetStream: the message id (stream sequence, else `Nats-Msg-Id`), a
//!   redelivery (two CONSUMER spans with the same parent), a batch (one span,
//!   its count, at most `max_links` links);
//! * hostile messages written as raw `HPUB` frames (no client sanitizes
//!   them): the consumer never panics, gets a span (a new trace where the
//!   context is invalid), and its memory stays bounded;
//! * the OpenTelemetry Python SDK (nats-py) as producer and as consumer.
//!
//! Run with `--nocapture` to see what async-nats does with each hostile
//! frame and the memory figures.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use async_nats::HeaderMap;
use common::nats::NatsServer;
use distributed_tracing::messaging::{nats, Destination, Messaging};
use distributed_tracing::opentelemetry::propagation::TextMapPropagator as _;
use distributed_tracing::opentelemetry::trace::{
    FutureExt as _, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceId, Tracer as _,
    TracerProvider as _,
};
use distributed_tracing::opentelemetry::{Context, Value};
use distributed_tracing::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData,
};
use distributed_tracing::propagation::W3cTraceContextPropagator;
use futures::StreamExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

/// An SDK of the test's own: every finished span in the exporter.
fn sdk() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

/// A span of the test (a request, say) to publish in: its context.
fn request(provider: &SdkTracerProvider, name: &'static str) -> Context {
    let span = provider.tracer("test").start(name);
    Context::new().with_span(span)
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn finished(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().expect("in-memory exporter")
}

fn of_kind(spans: &[SpanData], kind: SpanKind) -> Vec<SpanData> {
    spans
        .iter()
        .filter(|s| s.span_kind == kind)
        .cloned()
        .collect()
}

/// The span with id `id`.
fn by_id(spans: &[SpanData], id: SpanId) -> SpanData {
    spans
        .iter()
        .find(|s| s.span_context.span_id() == id)
        .cloned()
        .unwrap_or_else(|| panic!("a span {id}"))
}

/// Asserts `span` is the child of `parent` (same trace, parent span id).
fn assert_child_of(span: &SpanData, parent: &SpanContext, what: &str) {
    assert_eq!(
        span.span_context.trace_id(),
        parent.trace_id(),
        "{what}: the trace"
    );
    assert_eq!(
        span.parent_span_id,
        parent.span_id(),
        "{what}: the parent span"
    );
}

async fn next(subscriber: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(10), subscriber.next())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open")
}

async fn create_stream(js: &jetstream::Context, name: &str, subjects: &str) -> stream::Stream {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec![subjects.into()],
        ..Default::default()
    })
    .await
    .expect("create the stream")
}

// ---------------------------------------------------------------------------
// 1. Core NATS
// ---------------------------------------------------------------------------

#[tokio::test]
async fn core_nats_a_queue_group_consumer_continues_the_producer_s_trace() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let (provider, exporter) = sdk();
    let messaging = nats::messaging(&client)
        .tracer_provider(&provider)
        .body_size(true);
    let plain = nats::messaging(&client).tracer_provider(&provider);

    let mut workers = client
        .queue_subscribe("orders.*", "billing".to_string())
        .await
        .unwrap();
    let mut exact = client.subscribe("orders.created").await.unwrap();
    client.flush().await.unwrap();

    let cx = request(&provider, "request");
    nats::publish(&client, &messaging, "orders.created", "order 1".into())
        .with_context(cx.clone())
        .await
        .expect("publish");
    cx.span().end();

    // The queue group's worker, subscribed with a wildcard, body size on.
    let message = next(&mut workers).await;
    nats::process(&messaging, &message, Some("orders.*"), Some("billing")).end(Ok(()));
    // A plain subscriber of the exact subject, body size off.
    let message = next(&mut exact).await;
    nats::process(&plain, &message, Some("orders.created"), None).end(Ok(()));

    let spans = finished(&exporter);
    let producers = of_kind(&spans, SpanKind::Producer);
    assert_eq!(producers.len(), 1, "{spans:#?}");
    let producer = &producers[0];
    let parent = cx.span().span_context().clone();
    assert_child_of(producer, &parent, "the PRODUCER span");
    assert_eq!(producer.name, "publish orders.created");

    let info = client.server_info();
    assert_eq!(info.host, "127.0.0.1", "the server's INFO host");
    assert_eq!(info.port, server.port(), "the server's INFO port");
    let common = [
        ("messaging.system", Value::from("nats")),
        ("messaging.destination.name", Value::from("orders.created")),
        ("server.address", Value::from("127.0.0.1")),
        ("server.port", Value::I64(i64::from(server.port()))),
    ];
    for (key, value) in common.iter().cloned().chain([
        ("messaging.operation.name", Value::from("publish")),
        ("messaging.operation.type", Value::from("send")),
        ("messaging.message.body.size", Value::I64(7)),
    ]) {
        assert_eq!(attr(producer, key), Some(value), "PRODUCER {key}");
    }
    assert_eq!(attr(producer, "messaging.message.id"), None, "no id given");

    let consumers = of_kind(&spans, SpanKind::Consumer);
    assert_eq!(consumers.len(), 2, "{consumers:#?}");
    for consumer in &consumers {
        assert_child_of(consumer, &producer.span_context, &consumer.name);
        for (key, value) in common.iter().cloned().chain([
            ("messaging.operation.name", Value::from("process")),
            ("messaging.operation.type", Value::from("process")),
        ]) {
            assert_eq!(attr(consumer, key), Some(value), "{} {key}", consumer.name);
        }
    }
    let worker = &consumers[0];
    assert_eq!(worker.name, "process orders.*", "named by the subscription");
    assert_eq!(
        attr(worker, "messaging.destination.template"),
        Some(Value::from("orders.*"))
    );
    assert_eq!(
        attr(worker, "messaging.consumer.group.name"),
        Some(Value::from("billing"))
    );
    assert_eq!(
        attr(worker, "messaging.message.body.size"),
        Some(Value::I64(7))
    );

    let subscriber = &consumers[1];
    assert_eq!(subscriber.name, "process orders.created");
    for key in [
        "messaging.destination.template",
        "messaging.consumer.group.name",
        "messaging.message.body.size",
    ] {
        assert_eq!(attr(subscriber, key), None, "exact subscriber: no {key}");
    }
}

// ---------------------------------------------------------------------------
// 2. JetStream
// ---------------------------------------------------------------------------

#[tokio::test]
async fn jetstream_message_ids_and_a_redelivery_with_the_same_parent() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let (provider, exporter) = sdk();
    let messaging = nats::messaging(&client).tracer_provider(&provider);
    let js = jetstream::new(client.clone());
    let orders = create_stream(&js, "ORDERS", "orders.>").await;
    let consumer = orders
        .create_consumer(pull::Config {
            durable_name: Some("billing".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .expect("create the consumer");

    // Message 1: no Nats-Msg-Id, the stream sequence is its id.
    let cx1 = request(&provider, "request 1");
    let ack = nats::publish_jetstream(
        &js,
        &messaging,
        "orders.created",
        HeaderMap::new(),
        "order 1".into(),
    )
    .with_context(cx1.clone())
    .await
    .expect("the stream's ack");
    cx1.span().end();
    assert_eq!(ack.sequence, 1);

    // Delivered, processed, not acked; redelivered after ack_wait.
    let mut deliveries = Vec::new();
    for _ in 0..2 {
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .expect("batch");
        let message = batch
            .next()
            .await
            .expect("a message within the batch's 5 s")
            .expect("a message");
        let processing = nats::process_jetstream(&messaging, &message);
        let span_id = processing.context().span().span_context().span_id();
        processing.end(Ok(()));
        let info = message.info().expect("JetStream info");
        deliveries.push((info.delivered, span_id));
        if info.delivered == 2 {
            message.ack().await.expect("ack");
        }
    }
    assert_eq!(
        (deliveries[0].0, deliveries[1].0),
        (1, 2),
        "delivered, then redelivered"
    );

    // Message 2: its Nats-Msg-Id is its id.
    let cx2 = request(&provider, "request 2");
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "order-2");
    nats::publish_jetstream(&js, &messaging, "orders.created", headers, "order 2".into())
        .with_context(cx2.clone())
        .await
        .expect("the stream's ack");
    cx2.span().end();
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch");
    let message = batch.next().await.expect("message 2").expect("a message");
    nats::process_jetstream(&messaging, &message).end(Ok(()));
    message.ack().await.expect("ack");

    let spans = finished(&exporter);
    let producers = of_kind(&spans, SpanKind::Producer);
    assert_eq!(producers.len(), 2, "{producers:#?}");
    assert_child_of(
        &producers[0],
        &cx1.span().span_context().clone(),
        "PRODUCER 1",
    );
    assert_child_of(
        &producers[1],
        &cx2.span().span_context().clone(),
        "PRODUCER 2",
    );
    assert_eq!(
        attr(&producers[0], "messaging.message.id"),
        Some(Value::from("1")),
        "the stream sequence"
    );
    assert_eq!(
        attr(&producers[1], "messaging.message.id"),
        Some(Value::from("order-2")),
        "Nats-Msg-Id"
    );

    // The two deliveries of message 1: two spans, one parent.
    let (first, second) = (
        by_id(&spans, deliveries[0].1),
        by_id(&spans, deliveries[1].1),
    );
    assert_ne!(first.span_context.span_id(), second.span_context.span_id());
    for delivery in [&first, &second] {
        assert_eq!(delivery.span_kind, SpanKind::Consumer);
        assert_child_of(
            delivery,
            &producers[0].span_context,
            "a delivery of message 1",
        );
        assert_eq!(delivery.name, "process orders.created");
        assert_eq!(
            attr(delivery, "messaging.message.id"),
            Some(Value::from("1"))
        );
        assert_eq!(
            attr(delivery, "messaging.consumer.group.name"),
            Some(Value::from("billing")),
            "the durable consumer"
        );
        assert_eq!(
            attr(delivery, "messaging.operation.type"),
            Some(Value::from("process"))
        );
    }
    let consumers = of_kind(&spans, SpanKind::Consumer);
    assert_eq!(consumers.len(), 3);
    let of_2 = consumers
        .iter()
        .find(|s| s.parent_span_id == producers[1].span_context.span_id())
        .expect("message 2's CONSUMER span");
    assert_eq!(
        attr(of_2, "messaging.message.id"),
        Some(Value::from("order-2"))
    );
}

#[tokio::test]
async fn jetstream_a_batch_is_one_span_linked_to_at_most_max_links_producers() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let (provider, exporter) = sdk();
    let messaging = nats::messaging(&client).tracer_provider(&provider);
    let js = jetstream::new(client.clone());
    let jobs = create_stream(&js, "JOBS", "jobs.>").await;
    let consumer = jobs
        .create_consumer(pull::Config {
            durable_name: Some("batcher".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create the consumer");

    // Five messages, each published by a request of its own (five traces).
    for n in 0..5 {
        let cx = request(&provider, "request");
        nats::publish_jetstream(
            &js,
            &messaging,
            format!("jobs.{n}"),
            HeaderMap::new(),
            "job".into(),
        )
        .with_context(cx.clone())
        .await
        .expect("the stream's ack");
        cx.span().end();
    }
    let producers = of_kind(&finished(&exporter), SpanKind::Producer);
    assert_eq!(producers.len(), 5);

    let mut batch = consumer
        .batch()
        .max_messages(5)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("batch");
    let mut messages = Vec::new();
    while messages.len() < 5 {
        let message = tokio::time::timeout(Duration::from_secs(10), batch.next())
            .await
            .expect("5 messages within 10 s")
            .expect("the batch is open")
            .expect("a message");
        messages.push(message);
    }
    let destination = Destination::new("jobs.>").consumer_group("batcher");
    let capped = messaging.clone().max_links(3);
    let batch_span = nats::process_batch(&capped, &destination, messages.iter().map(|m| &**m));
    let capped_id = batch_span.context().span().span_context().span_id();
    batch_span.end(Ok(()));
    let all = nats::process_batch(&messaging, &destination, messages.iter().map(|m| &**m));
    let all_id = all.context().span().span_context().span_id();
    all.end(Ok(()));
    for message in &messages {
        message.ack().await.expect("ack");
    }

    let spans = finished(&exporter);
    assert_eq!(
        of_kind(&spans, SpanKind::Consumer).len(),
        2,
        "one span a batch"
    );
    let producer_contexts: Vec<SpanContext> =
        producers.iter().map(|p| p.span_context.clone()).collect();
    for (id, links) in [(capped_id, 3), (all_id, 5)] {
        let span = by_id(&spans, id);
        assert_eq!(span.span_kind, SpanKind::Consumer);
        assert_eq!(span.name, "process jobs.>");
        assert_eq!(
            attr(&span, "messaging.batch.message_count"),
            Some(Value::I64(5)),
            "every message counted"
        );
        assert_eq!(
            attr(&span, "messaging.consumer.group.name"),
            Some(Value::from("batcher"))
        );
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a trace of its own");
        assert!(
            producer_contexts
                .iter()
                .all(|p| p.trace_id() != span.span_context.trace_id()),
            "not in any producer's trace"
        );
        let linked: Vec<(TraceId, SpanId)> = span
            .links
            .iter()
            .map(|l| (l.span_context.trace_id(), l.span_context.span_id()))
            .collect();
        assert_eq!(
            linked,
            producer_contexts[..links]
                .iter()
                .map(|p| (p.trace_id(), p.span_id()))
                .collect::<Vec<_>>(),
            "linked to the first {links} messages' PRODUCER spans, in order"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Hostile messages
// ---------------------------------------------------------------------------

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A NATS connection speaking the protocol by hand: it writes `HPUB` frames
/// as given, so that nothing sanitizes the headers.
struct RawPublisher {
    writer: tokio::net::tcp::OwnedWriteHalf,
    /// The server's `-ERR` lines.
    errors: Arc<Mutex<Vec<String>>>,
}

impl RawPublisher {
    async fn connect(port: u16) -> RawPublisher {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("INFO "), "{line}");
        writer
            .write_all(
                b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1,\"lang\":\"raw\",\"version\":\"0\"}\r\nPING\r\n",
            )
            .await
            .unwrap();
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "PONG\r\n", "the server accepted CONNECT");
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        tokio::spawn(async move {
            let mut line = String::new();
            while matches!(reader.read_line(&mut line).await, Ok(n) if n > 0) {
                if line.starts_with("-ERR") {
                    seen.lock().unwrap().push(line.trim_end().to_owned());
                }
                line.clear();
            }
        });
        RawPublisher { writer, errors }
    }

    /// `HPUB <subject> <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`.
    async fn hpub(&mut self, subject: &str, headers: &[u8], payload: &[u8]) {
        let mut frame = format!(
            "HPUB {subject} {} {}\r\n",
            headers.len(),
            headers.len() + payload.len()
        )
        .into_bytes();
        frame.extend_from_slice(headers);
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.writer.write_all(&frame).await.expect("write HPUB");
    }
}

/// `NATS/1.0\r\n`, the header lines, the blank line.
fn block(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = b"NATS/1.0\r\n".to_vec();
    for line in lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What a hostile message's CONSUMER span should be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The child of `PARENT` in `TRACE`.
    Continued,
    /// A new trace, no parent.
    NewTrace,
}

struct Case {
    name: &'static str,
    headers: Vec<u8>,
    expect: Expect,
    /// Whether async-nats 0.52 makes a message of the frame. It does not when
    /// the header block is not UTF-8, has a line without a colon or lacks the
    /// `NATS/1.0` line: its reader fails, the connection is dropped and made
    /// again (events `disconnected`, `connected`), the frame is lost.
    delivered: bool,
}

fn hostile_cases() -> Vec<Case> {
    let traceparent = format!("traceparent: {VALID}");
    let valid = traceparent.as_bytes();
    let oversized = format!("traceparent: {VALID}-{}", "a".repeat(500 * 1024));
    let mut many: Vec<Vec<u8>> = (0..10_000)
        .map(|n| format!("x-h-{n}: {n}").into_bytes())
        .collect();
    many.push(valid.to_vec());
    let mut many_tracestate: Vec<Vec<u8>> = vec![valid.to_vec()];
    many_tracestate.extend((0..10_000).map(|n| format!("tracestate: k{n}=v{n}").into_bytes()));
    let refs = |lines: &[Vec<u8>]| block(&lines.iter().map(Vec::as_slice).collect::<Vec<_>>());
    vec![
        Case {
            name: "malformed traceparent (span id too short)",
            headers: block(&[
                b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
            ]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "malformed traceparent (upper-case hex)",
            headers: block(&[
                b"traceparent: 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
            ]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "malformed traceparent (all-zero trace id)",
            headers: block(&[
                b"traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01",
            ]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "duplicated traceparent (two lines)",
            headers: block(&[
                valid,
                b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            ]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "duplicated traceparent (two cases)",
            headers: block(&[
                valid,
                b"Traceparent: 00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            ]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "oversized traceparent (500 KB)",
            headers: block(&[oversized.as_bytes()]),
            expect: Expect::NewTrace,
            delivered: true,
        },
        Case {
            name: "odd-case name (TraceParent)",
            headers: block(&[format!("TraceParent: {VALID}").as_bytes()]),
            expect: Expect::Continued,
            delivered: true,
        },
        Case {
            name: "10,000 headers and a valid traceparent",
            headers: refs(&many),
            expect: Expect::Continued,
            delivered: true,
        },
        Case {
            name: "a valid traceparent and 10,000 tracestate lines",
            headers: refs(&many_tracestate),
            expect: Expect::Continued,
            delivered: true,
        },
        Case {
            name: "empty header block",
            headers: b"NATS/1.0\r\n\r\n".to_vec(),
            expect: Expect::NewTrace,
            delivered: true,
        },
        // Frames async-nats does not turn into a message (see `Case::delivered`):
        // the message after them is, once the client has reconnected.
        Case {
            name: "not UTF-8 in an unrelated value",
            headers: block(&[b"x-binary: \xff\xfe\x00\x80", valid]),
            expect: Expect::Continued,
            delivered: false,
        },
        Case {
            name: "not UTF-8 in the traceparent",
            headers: block(&[
                b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033\xff\xfe-01",
            ]),
            expect: Expect::NewTrace,
            delivered: false,
        },
        Case {
            name: "a header line without a colon",
            headers: block(&[b"this line has no colon", valid]),
            expect: Expect::Continued,
            delivered: false,
        },
        Case {
            name: "no NATS/1.0 version line",
            headers: format!("HTTP/1.1\r\n{traceparent}\r\n\r\n").into_bytes(),
            expect: Expect::Continued,
            delivered: false,
        },
    ]
}

/// The resident set size of this process, in KiB (`/proc/self/statm`, pages
/// of 4 KiB).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4
}

/// Processes `message` as a worker does; returns its CONSUMER span.
fn consume(
    messaging: &Messaging,
    exporter: &InMemorySpanExporter,
    message: &async_nats::Message,
) -> SpanData {
    let processing = nats::process(messaging, message, Some("hostile.*"), Some("workers"));
    let id = processing.context().span().span_context().span_id();
    processing.end(Ok(()));
    by_id(&finished(exporter), id)
}

fn assert_expected(span: &SpanData, expect: Expect, case: &str) {
    let continued = span.span_context.trace_id() == TraceId::from_hex(TRACE).unwrap()
        && span.parent_span_id == SpanId::from_hex(PARENT).unwrap();
    match expect {
        Expect::Continued => assert!(continued, "{case}: continued: {span:?}"),
        Expect::NewTrace => {
            assert!(!continued, "{case}: a new trace");
            assert_eq!(span.parent_span_id, SpanId::INVALID, "{case}: no parent");
            assert_ne!(
                span.span_context.trace_id(),
                TraceId::from_hex(TRACE).unwrap(),
                "{case}: a new trace"
            );
        }
    }
}

#[tokio::test]
async fn hostile_messages_never_fail_the_consumer_and_memory_stays_bounded() {
    let server = NatsServer::start();
    let (provider, exporter) = sdk();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let seen = seen.clone();
            async move { seen.lock().unwrap().push(event.to_string()) }
        })
        .connect(server.url())
        .await
        .expect("connect");
    let messaging = nats::messaging(&client).tracer_provider(&provider);
    let mut subscriber = client
        .queue_subscribe("hostile.*", "workers".to_string())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let sentinel = block(&[format!("traceparent: {VALID}").as_bytes(), b"x-sentinel: 1"]);

    let mut report = Vec::new();
    for (n, case) in hostile_cases().into_iter().enumerate() {
        let subject = format!("hostile.{n}");
        let mut raw = RawPublisher::connect(server.port()).await;
        events.lock().unwrap().clear();
        raw.hpub(&subject, &case.headers, b"hostile").await;
        // A valid message after it, again until it arrives: the client may
        // have dropped its connection (then it reconnects and subscribes
        // again, and what was sent meanwhile is lost).
        let mut delivered = None;
        let mut sentinel_span = None;
        'wait: for _ in 0..20 {
            raw.hpub(&subject, &sentinel, b"sentinel").await;
            loop {
                match tokio::time::timeout(Duration::from_millis(500), subscriber.next()).await {
                    Ok(Some(message)) => {
                        let span = consume(&messaging, &exporter, &message);
                        if message.payload.as_ref() == b"hostile" {
                            delivered = Some((
                                span,
                                message.headers.as_ref().map_or(0, |h| h.iter().count()),
                            ));
                        } else {
                            sentinel_span = Some(span);
                            break 'wait;
                        }
                    }
                    Ok(None) => panic!("{}: the subscription ended", case.name),
                    Err(_) => break,
                }
            }
        }
        let sentinel_span = sentinel_span
            .unwrap_or_else(|| panic!("{}: the consumer gets messages after it", case.name));
        assert_expected(&sentinel_span, Expect::Continued, "the message after it");
        let events = events.lock().unwrap().clone();
        let server_errors = raw.errors.lock().unwrap().clone();
        assert_eq!(
            delivered.is_some(),
            case.delivered,
            "{}: delivered by async-nats (events {events:?})",
            case.name
        );
        let outcome = match &delivered {
            Some((span, names)) => {
                assert_expected(span, case.expect, case.name);
                format!(
                    "delivered ({names} header names), {}",
                    match case.expect {
                        Expect::Continued => "trace continued",
                        Expect::NewTrace => "new trace",
                    }
                )
            }
            None => "NOT delivered by async-nats".to_owned(),
        };
        report.push(format!(
            "{:<48} {outcome}; client events {events:?}; server errors {server_errors:?}",
            case.name
        ));
        exporter.reset();
    }
    for line in &report {
        println!("{line}");
    }

    // Memory: 1,000 messages of each kind async-nats delivers (200 of the
    // kinds of over 64 KiB of headers, whose parsing by async-nats takes
    // tens of ms each in a debug build), processed in windows of 10 (so the
    // subscription's buffer holds few at a time).
    let cases = hostile_cases();
    let mut figures = Vec::new();
    for (n, case) in cases.iter().enumerate().filter(|(_, c)| c.delivered) {
        let subject = format!("memory.{n}");
        let mut sub = client.subscribe(subject.clone()).await.unwrap();
        client.flush().await.unwrap();
        let mut raw = RawPublisher::connect(server.port()).await;
        // Once, so that buffers reach their working size before measuring.
        raw.hpub(&subject, &case.headers, b"hostile").await;
        let _ = consume(&messaging, &exporter, &next(&mut sub).await);
        let before = rss_kib();
        let started = std::time::Instant::now();
        let total = match case.headers.len() > 64 * 1024 {
            true => 200,
            false => 1_000,
        };
        let mut processed = 0;
        let mut halfway = 0;
        while processed < total {
            for _ in 0..10 {
                raw.hpub(&subject, &case.headers, b"hostile").await;
            }
            for _ in 0..10 {
                let message = next(&mut sub).await;
                let processing = nats::process(&messaging, &message, None, None);
                processing.end(Ok(()));
                processed += 1;
            }
            exporter.reset();
            if processed == total / 2 {
                halfway = rss_kib();
            }
        }
        let after = rss_kib();
        figures.push(format!(
            "{:<48} {:>6} bytes of headers: RSS {before} KiB -> {halfway} KiB ({}) -> {after} KiB ({total} messages; {:+} KiB) in {:.1} s",
            case.name,
            case.headers.len(),
            total / 2,
            after as i64 - before as i64,
            started.elapsed().as_secs_f64()
        ));
        assert!(
            after < before + 64 * 1024,
            "{}: RSS {before} KiB -> {after} KiB after {total} messages",
            case.name
        );
    }
    for line in &figures {
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------
// 4. Python interop
// ---------------------------------------------------------------------------

fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

#[tokio::test]
async fn a_python_producer_s_trace_is_continued_by_the_rust_consumer() {
    let server = NatsServer::start();
    let venv = common::e2e_venv();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let (provider, exporter) = sdk();
    let messaging = nats::messaging(&client).tracer_provider(&provider);
    let mut subscriber = client.subscribe("orders.python").await.unwrap();
    client.flush().await.unwrap();

    let out = tokio::process::Command::new(venv.join("bin/python"))
        .arg(script("py_nats.py"))
        .args([server.url().as_str(), "orders.python"])
        .output()
        .await
        .expect("run scripts/py_nats.py");
    assert!(
        out.status.success(),
        "py_nats.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the headers as JSON");
    let traceparent = sent["traceparent"]
        .as_str()
        .expect("a traceparent")
        .to_owned();
    println!("Python sent traceparent {traceparent}");
    // Sampled + W3C Level 2 random.
    assert!(traceparent.ends_with("-03"), "{traceparent}");

    let message = next(&mut subscriber).await;
    let processing = nats::process(&messaging, &message, None, None);
    // What the Rust consumer passes on (to a next hop): the Python trace, its
    // flags kept.
    let mut onward = std::collections::HashMap::new();
    W3cTraceContextPropagator::new().inject_context(&processing.context(), &mut onward);
    processing.end(Ok(()));

    let consumers = of_kind(&finished(&exporter), SpanKind::Consumer);
    assert_eq!(consumers.len(), 1);
    let consumer = &consumers[0];
    assert_eq!(
        consumer.span_context.trace_id(),
        TraceId::from_hex(&traceparent[3..35]).unwrap(),
        "the Python trace"
    );
    assert_eq!(
        consumer.parent_span_id,
        SpanId::from_hex(&traceparent[36..52]).unwrap(),
        "the Python PRODUCER span as parent"
    );
    assert!(consumer.parent_span_is_remote);
    assert!(consumer.span_context.is_sampled());
    let next_hop = onward.get("traceparent").expect("an onward traceparent");
    println!("the Rust consumer passes on {next_hop}");
    assert_eq!(
        &next_hop[..36],
        &traceparent[..36],
        "same version and trace"
    );
    assert_eq!(
        &next_hop[36..52],
        format!("{:016x}", consumer.span_context.span_id()),
        "its own span"
    );
    assert!(
        next_hop.ends_with("-03"),
        "sampled and random kept: {next_hop}"
    );
}

/// Runs `scripts/py_nats_consumer.py` on `subject`, publishes one message
/// there with `nats::publish` (in `parent`, when given), and returns what the
/// Python consumer printed and the PRODUCER span.
async fn to_python(
    server: &NatsServer,
    venv: &std::path::Path,
    subject: &str,
    parent: Option<&'static str>,
) -> (serde_json::Value, SpanData) {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let (provider, exporter) = sdk();
    let messaging = nats::messaging(&client).tracer_provider(&provider);
    let mut python = tokio::process::Command::new(venv.join("bin/python"))
        .arg(script("py_nats_consumer.py"))
        .args([server.url().as_str(), subject])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run scripts/py_nats_consumer.py");
    let mut lines = BufReader::new(python.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the Python consumer ready within 30 s")
        .unwrap()
        .expect("a ready line");
    assert_eq!(ready, r#"{"ready": true}"#);

    let publish = nats::publish(&client, &messaging, subject.to_owned(), "from rust".into());
    match parent {
        Some(name) => {
            let cx = request(&provider, name);
            publish.with_context(cx.clone()).await.expect("publish");
            cx.span().end();
        }
        None => publish.await.expect("publish"),
    }
    client.flush().await.unwrap();

    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the Python consumer's span within 30 s")
        .unwrap()
        .expect("a JSON line");
    let got: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    println!("the Python consumer ({subject}): {got}");
    let status = python.wait().await.unwrap();
    assert!(status.success(), "py_nats_consumer.py exited with {status}");
    let producers = of_kind(&finished(&exporter), SpanKind::Producer);
    assert_eq!(producers.len(), 1);
    (got, producers[0].clone())
}

#[tokio::test]
async fn a_rust_producer_s_trace_is_continued_by_a_python_consumer() {
    let server = NatsServer::start();
    let venv = common::e2e_venv();
    // In a request's span (flags 01: the parent's), and as the root of a
    // trace (flags 03: sampled, and W3C Level 2 random, as Python's SDK sends).
    for (subject, parent, flags) in [
        ("orders.in_request", Some("request"), "01"),
        ("orders.root", None, "03"),
    ] {
        let (got, producer) = to_python(&server, &venv, subject, parent).await;
        assert_eq!(
            got["trace_id"].as_str().unwrap(),
            format!("{:032x}", producer.span_context.trace_id()),
            "{subject}: the Rust trace"
        );
        assert_eq!(
            got["parent_span_id"].as_str().unwrap(),
            format!("{:016x}", producer.span_context.span_id()),
            "{subject}: the Rust PRODUCER span as parent"
        );
        assert_ne!(
            got["span_id"].as_str().unwrap(),
            format!("{:016x}", producer.span_context.span_id()),
            "{subject}: a span of its own"
        );
        assert_eq!(got["parent_valid"], true, "{subject}");
        assert_eq!(got["sampled"], true, "{subject}");
        let traceparent = got["traceparent"].as_str().unwrap();
        assert!(
            traceparent.ends_with(&format!("-{flags}")),
            "{subject}: {traceparent}"
        );
        match parent {
            Some(_) => assert_ne!(producer.parent_span_id, SpanId::INVALID),
            None => assert_eq!(producer.parent_span_id, SpanId::INVALID),
        }
    }
}
