#![cfg(feature = "amqp")]
//! `messaging::amqp` against a real RabbitMQ (Debian's rabbitmq-server 3.10.8,
//! a private node of `common::rabbitmq` shared by this binary's tests: it
//! takes about 8 s to start), each test with an SDK of its own
//! (`SdkTracerProvider` + `InMemorySpanExporter` given to
//! `Messaging::tracer_provider`), exchanges and queues of its own, so that
//! they run in parallel:
//!
//! * a publish to a direct exchange in a request's span, consumed from a bound
//!   queue by an amqprs `AsyncConsumer`: the CONSUMER span is the child of the
//!   PRODUCER span, both with the conventions' attributes; the default
//!   exchange (`amq.default`);
//! * a nack with requeue: the redelivery gets a CONSUMER span of its own with
//!   the same parent;
//! * `Trust::NewTraceWithLink`: a new trace linked to the producer;
//! * hostile header tables published with amqprs' own `basic_publish` (the
//!   crate did not write them): the consumer never fails, a new trace where
//!   the context is not valid; what RabbitMQ refuses (a content header frame
//!   over its `frame_max`, 128 KiB) is reported;
//! * the private nodes themselves: two start in parallel, each with its own
//!   epmd and cookie, and a drop leaves no process, port or directory.
//!
//! Run with `--nocapture` to see the start-up times and what RabbitMQ did
//! with each hostile message.

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicNackArguments, BasicPublishArguments, Channel,
    ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::Connection;
use amqprs::consumer::AsyncConsumer;
use amqprs::{BasicProperties, Deliver, FieldTable, FieldValue};
use common::rabbitmq::RabbitMq;
use distributed_tracing::messaging::{amqp, Messaging};
use distributed_tracing::opentelemetry::trace::{
    FutureExt as _, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceId, Tracer as _,
    TracerProvider as _,
};
use distributed_tracing::opentelemetry::{Context, Value};
use distributed_tracing::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData,
};
use distributed_tracing::propagation::Trust;
use tokio::sync::mpsc;

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

/// A name no other test of this binary uses (they share the node).
fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("dt-{what}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn connect(node: &RabbitMq) -> (Connection, Channel) {
    let connection = Connection::open(&node.connection_arguments())
        .await
        .expect("an AMQP connection to the test's node");
    let channel = connection.open_channel(None).await.expect("a channel");
    (connection, channel)
}

/// What the consumer did with one delivery.
#[derive(Debug)]
struct Delivery {
    deliver: Deliver,
    properties: BasicProperties,
    content: Vec<u8>,
    /// The id of its CONSUMER span.
    span: SpanId,
}

/// A worker as users write one: each delivery processed in the CONSUMER span
/// of `amqp::process` (`Processing::run`), then acknowledged; with
/// `nack_first`, a first delivery is refused with requeue (its span ends
/// with the error) and its redelivery acknowledged.
struct Worker {
    messaging: Messaging,
    queue: String,
    nack_first: bool,
    done: mpsc::UnboundedSender<Delivery>,
}

#[async_trait::async_trait]
impl AsyncConsumer for Worker {
    async fn consume(
        &mut self,
        channel: &Channel,
        deliver: Deliver,
        properties: BasicProperties,
        content: Vec<u8>,
    ) {
        let processing = amqp::process(
            &self.messaging,
            &self.queue,
            &deliver,
            &properties,
            content.len(),
        );
        let span = processing.context().span().span_context().span_id();
        let tag = deliver.delivery_tag();
        let refuse = self.nack_first && !deliver.redelivered();
        let _ = processing
            .run(async {
                if refuse {
                    let _ = channel
                        .basic_nack(BasicNackArguments::new(tag, false, true))
                        .await;
                    Err("refused once (nack, requeue)")
                } else {
                    let _ = channel.basic_ack(BasicAckArguments::new(tag, false)).await;
                    Ok(())
                }
            })
            .await;
        let _ = self.done.send(Delivery {
            deliver,
            properties,
            content,
            span,
        });
    }
}

/// Declares a direct exchange (when `exchange` is not empty) and a queue
/// bound to it with `routing_key`, and consumes it with a [`Worker`].
async fn worker(
    channel: &Channel,
    messaging: &Messaging,
    exchange: &str,
    queue: &str,
    routing_key: &str,
    nack_first: bool,
) -> mpsc::UnboundedReceiver<Delivery> {
    if !exchange.is_empty() {
        channel
            .exchange_declare(ExchangeDeclareArguments::new(exchange, "direct"))
            .await
            .expect("declare the exchange");
    }
    channel
        .queue_declare(QueueDeclareArguments::new(queue))
        .await
        .expect("declare the queue");
    if !exchange.is_empty() {
        channel
            .queue_bind(QueueBindArguments::new(queue, exchange, routing_key))
            .await
            .expect("bind the queue");
    }
    let (done, deliveries) = mpsc::unbounded_channel();
    channel
        .basic_consume(
            Worker {
                messaging: messaging.clone(),
                queue: queue.to_owned(),
                nack_first,
                done,
            },
            BasicConsumeArguments::new(queue, &unique("consumer")),
        )
        .await
        .expect("consume the queue");
    deliveries
}

async fn next(deliveries: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
        .await
        .expect("a delivery within 10 s")
        .expect("the consumer runs")
}

fn properties(message_id: &str, correlation_id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(message_id)
        .with_correlation_id(correlation_id)
        .finish()
}

// ---------------------------------------------------------------------------
// 1. A direct exchange, a bound queue, an AsyncConsumer
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_consumer_continues_the_producer_s_trace_with_the_conventions_attributes() {
    let node = RabbitMq::shared();
    let (_connection, channel) = connect(node).await;
    let (provider, exporter) = sdk();
    let messaging = amqp::messaging()
        .server("127.0.0.1", Some(node.port()))
        .body_size(true)
        .tracer_provider(&provider);
    let (exchange, queue) = (unique("orders"), unique("billing"));
    let mut deliveries = worker(&channel, &messaging, &exchange, &queue, "created", false).await;

    let cx = request(&provider, "request");
    amqp::publish(
        &channel,
        &messaging,
        properties("order-1", "conversation-1"),
        b"order 1".to_vec(),
        BasicPublishArguments::new(&exchange, "created"),
    )
    .with_context(cx.clone())
    .await
    .expect("publish");
    cx.span().end();
    let delivery = next(&mut deliveries).await;
    assert_eq!(delivery.content, b"order 1");
    assert!(!delivery.deliver.redelivered());
    let headers = delivery.properties.headers().expect("a header table");
    assert!(
        matches!(
            headers.get(&"traceparent".try_into().unwrap()),
            Some(FieldValue::S(_))
        ),
        "traceparent a long string: {headers}"
    );

    let spans = finished(&exporter);
    let producers = of_kind(&spans, SpanKind::Producer);
    assert_eq!(producers.len(), 1, "{spans:#?}");
    let producer = &producers[0];
    assert_child_of(producer, cx.span().span_context(), "the PRODUCER span");
    let destination = format!("{exchange}:created");
    assert_eq!(producer.name, format!("publish {destination}"));
    let common = [
        ("messaging.system", Value::from("rabbitmq")),
        (
            "messaging.destination.name",
            Value::from(destination.clone()),
        ),
        (
            "messaging.rabbitmq.destination.routing_key",
            Value::from("created"),
        ),
        ("messaging.message.id", Value::from("order-1")),
        (
            "messaging.message.conversation_id",
            Value::from("conversation-1"),
        ),
        ("messaging.message.body.size", Value::I64(7)),
        ("server.address", Value::from("127.0.0.1")),
        ("server.port", Value::I64(i64::from(node.port()))),
    ];
    for (key, value) in common.iter().cloned().chain([
        ("messaging.operation.name", Value::from("publish")),
        ("messaging.operation.type", Value::from("send")),
    ]) {
        assert_eq!(attr(producer, key), Some(value), "PRODUCER {key}");
    }
    assert_eq!(
        attr(producer, "messaging.rabbitmq.message.delivery_tag"),
        None,
        "no delivery tag when publishing"
    );

    let consumer = by_id(&spans, delivery.span);
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    // The consumer's destination adds the queue (v1.44.0).
    let consumed = format!("{destination}:{queue}");
    assert_eq!(consumer.name, format!("process {consumed}"));
    assert_child_of(&consumer, &producer.span_context, "the CONSUMER span");
    assert_eq!(
        attr(&consumer, "messaging.destination.name"),
        Some(Value::from(consumed))
    );
    for (key, value) in common
        .iter()
        .filter(|(k, _)| *k != "messaging.destination.name")
        .cloned()
        .chain([
            ("messaging.operation.name", Value::from("process")),
            ("messaging.operation.type", Value::from("process")),
            (
                "messaging.rabbitmq.message.delivery_tag",
                Value::I64(i64::try_from(delivery.deliver.delivery_tag()).unwrap()),
            ),
        ])
    {
        assert_eq!(attr(&consumer, key), Some(value), "CONSUMER {key}");
    }
    assert!(consumer.links.is_empty(), "continued, not linked");
}

#[tokio::test]
async fn the_default_exchange_is_amq_default_or_the_routing_key() {
    let node = RabbitMq::shared();
    let (_connection, channel) = connect(node).await;
    let (provider, exporter) = sdk();
    let messaging = amqp::messaging().tracer_provider(&provider);
    let queue = unique("jobs");
    let mut deliveries = worker(&channel, &messaging, "", &queue, "", false).await;

    // To a queue through the default exchange: the routing key is the queue.
    amqp::publish(
        &channel,
        &messaging,
        BasicProperties::default(),
        b"job".to_vec(),
        BasicPublishArguments::new("", &queue),
    )
    .await
    .expect("publish");
    let delivery = next(&mut deliveries).await;
    // Neither exchange nor routing key: nothing is routed, the span is named.
    let unrouted = amqp::publish(
        &channel,
        &messaging,
        BasicProperties::default(),
        b"nowhere".to_vec(),
        BasicPublishArguments::new("", ""),
    )
    .await;
    assert!(unrouted.is_ok(), "RabbitMQ drops it silently: {unrouted:?}");

    let spans = finished(&exporter);
    let producers = of_kind(&spans, SpanKind::Producer);
    assert_eq!(producers.len(), 2, "{spans:#?}");
    assert_eq!(producers[0].name, format!("publish {queue}"));
    assert_eq!(
        attr(&producers[0], "messaging.destination.name"),
        Some(Value::from(queue.clone()))
    );
    assert_eq!(producers[1].name, "publish amq.default");
    assert_eq!(
        attr(&producers[1], "messaging.rabbitmq.destination.routing_key"),
        None,
        "no routing key: no attribute"
    );
    let consumer = by_id(&spans, delivery.span);
    assert_eq!(consumer.name, format!("process {queue}"));
    assert_child_of(&consumer, &producers[0].span_context, "the CONSUMER span");
    for key in ["messaging.message.id", "messaging.message.conversation_id"] {
        assert_eq!(attr(&consumer, key), None, "no {key} in the properties");
    }
    assert_eq!(
        attr(&consumer, "messaging.message.body.size"),
        None,
        "body size off by default"
    );
}

// ---------------------------------------------------------------------------
// 2. A nack with requeue
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_nacked_message_is_redelivered_in_a_second_span_with_the_same_parent() {
    let node = RabbitMq::shared();
    let (_connection, channel) = connect(node).await;
    let (provider, exporter) = sdk();
    let messaging = amqp::messaging().tracer_provider(&provider);
    let (exchange, queue) = (unique("retry"), unique("retry-workers"));
    let mut deliveries = worker(&channel, &messaging, &exchange, &queue, "job", true).await;

    let cx = request(&provider, "request");
    amqp::publish(
        &channel,
        &messaging,
        properties("job-1", "c-1"),
        b"job".to_vec(),
        BasicPublishArguments::new(&exchange, "job"),
    )
    .with_context(cx.clone())
    .await
    .expect("publish");
    cx.span().end();
    let first = next(&mut deliveries).await;
    let second = next(&mut deliveries).await;
    assert!(!first.deliver.redelivered(), "the first delivery");
    assert!(second.deliver.redelivered(), "the redelivery");
    assert_ne!(
        first.deliver.delivery_tag(),
        second.deliver.delivery_tag(),
        "a new delivery tag"
    );

    let spans = finished(&exporter);
    let producer = &of_kind(&spans, SpanKind::Producer)[0];
    let consumers = of_kind(&spans, SpanKind::Consumer);
    assert_eq!(consumers.len(), 2, "{consumers:#?}");
    let (refused, accepted) = (by_id(&spans, first.span), by_id(&spans, second.span));
    assert_ne!(
        refused.span_context.span_id(),
        accepted.span_context.span_id()
    );
    for (span, what) in [
        (&refused, "the refused delivery"),
        (&accepted, "the redelivery"),
    ] {
        assert_child_of(span, &producer.span_context, what);
        assert_eq!(
            attr(span, "messaging.message.id"),
            Some(Value::from("job-1"))
        );
    }
    assert_eq!(
        attr(&refused, "messaging.rabbitmq.message.delivery_tag"),
        Some(Value::I64(first.deliver.delivery_tag() as i64))
    );
    assert_eq!(
        attr(&accepted, "messaging.rabbitmq.message.delivery_tag"),
        Some(Value::I64(second.deliver.delivery_tag() as i64))
    );
    assert!(
        matches!(
            refused.status,
            distributed_tracing::opentelemetry::trace::Status::Error { .. }
        ),
        "the refused delivery's span: {:?}",
        refused.status
    );
    assert_eq!(
        accepted.status,
        distributed_tracing::opentelemetry::trace::Status::Unset
    );
}

// ---------------------------------------------------------------------------
// 3. Trust::NewTraceWithLink
// ---------------------------------------------------------------------------

#[tokio::test]
async fn new_trace_with_link_starts_a_trace_linked_to_the_producer() {
    let node = RabbitMq::shared();
    let (_connection, channel) = connect(node).await;
    let (provider, exporter) = sdk();
    let producing = amqp::messaging().tracer_provider(&provider);
    let consuming = amqp::messaging()
        .trust(Trust::NewTraceWithLink)
        .tracer_provider(&provider);
    let (exchange, queue) = (unique("outside"), unique("guarded"));
    let mut deliveries = worker(&channel, &consuming, &exchange, &queue, "in", false).await;

    let cx = request(&provider, "request");
    amqp::publish(
        &channel,
        &producing,
        BasicProperties::default(),
        b"from outside".to_vec(),
        BasicPublishArguments::new(&exchange, "in"),
    )
    .with_context(cx.clone())
    .await
    .expect("publish");
    cx.span().end();
    let delivery = next(&mut deliveries).await;

    let spans = finished(&exporter);
    let producer = &of_kind(&spans, SpanKind::Producer)[0];
    let consumer = by_id(&spans, delivery.span);
    assert_ne!(
        consumer.span_context.trace_id(),
        producer.span_context.trace_id(),
        "a new trace"
    );
    assert_eq!(consumer.parent_span_id, SpanId::INVALID, "a root");
    // The link's context is the remote one (`is_remote`), the producer's own.
    let links: Vec<(TraceId, SpanId)> = consumer
        .links
        .iter()
        .map(|l| (l.span_context.trace_id(), l.span_context.span_id()))
        .collect();
    let producer_ids = (
        producer.span_context.trace_id(),
        producer.span_context.span_id(),
    );
    assert_eq!(links, [producer_ids], "linked to the producer");
    assert!(consumer.links[0].span_context.is_remote());
}

// ---------------------------------------------------------------------------
// 4. Hostile header tables
// ---------------------------------------------------------------------------

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// What a hostile message's CONSUMER span should be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The child of `PARENT` in `TRACE`.
    Continued,
    /// A new trace, no parent.
    NewTrace,
    /// Not delivered: RabbitMQ closes the publisher's connection (the
    /// content header frame is over its `frame_max`, 131,072 bytes).
    Refused,
}

struct Case {
    name: &'static str,
    headers: FieldTable,
    expect: Expect,
}

fn table(fields: Vec<(String, FieldValue)>) -> FieldTable {
    let mut table = FieldTable::new();
    for (name, value) in fields {
        table.insert(name.try_into().unwrap(), value);
    }
    table
}

fn s(text: &str) -> FieldValue {
    FieldValue::S(text.try_into().unwrap())
}

fn hostile_cases() -> Vec<Case> {
    let tp = |value: FieldValue| ("traceparent".to_owned(), value);
    let other = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
    let many = |n: usize| {
        let mut fields: Vec<(String, FieldValue)> = (0..n)
            .map(|i| (format!("x-h-{i}"), s(&i.to_string())))
            .collect();
        fields.push(tp(s(VALID)));
        fields
    };
    let nested = table(vec![tp(s(VALID))]);
    vec![
        Case {
            name: "traceparent as a byte array (x)",
            headers: table(vec![tp(FieldValue::x(
                VALID.as_bytes().to_vec().try_into().unwrap(),
            ))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "traceparent as a number (l)",
            headers: table(vec![tp(FieldValue::l(42))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "traceparent as an array of strings (A)",
            headers: table(vec![tp(FieldValue::A(vec![s(VALID)].try_into().unwrap()))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "traceparent as a nested table holding one (F)",
            headers: table(vec![tp(FieldValue::F(nested.clone()))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "duplicated (traceparent and TraceParent)",
            headers: table(vec![tp(s(VALID)), ("TraceParent".to_owned(), s(other))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "duplicated, the other not a string (TraceParent: x)",
            headers: table(vec![
                tp(s(VALID)),
                (
                    "TraceParent".to_owned(),
                    FieldValue::x(b"junk".to_vec().try_into().unwrap()),
                ),
            ]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "malformed traceparent (upper-case hex)",
            headers: table(vec![tp(s(&VALID.to_uppercase()))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "odd-case name alone (TraceParent)",
            headers: table(vec![("TraceParent".to_owned(), s(VALID))]),
            expect: Expect::Continued,
        },
        Case {
            name: "valid, beside a nested table and a byte array",
            headers: table(vec![
                tp(s(VALID)),
                ("x-nested".to_owned(), FieldValue::F(nested)),
                (
                    "x-binary".to_owned(),
                    FieldValue::x(vec![0xff, 0xfe, 0, 0x80].try_into().unwrap()),
                ),
            ]),
            expect: Expect::Continued,
        },
        Case {
            name: "traceparent 100 KB long (under frame_max)",
            headers: table(vec![tp(s(&format!("{VALID}-{}", "a".repeat(100 * 1024))))]),
            expect: Expect::NewTrace,
        },
        Case {
            name: "5,000 other headers and a valid one (~90 KB)",
            headers: table(many(5_000)),
            expect: Expect::Continued,
        },
        Case {
            name: "traceparent 500 KB long",
            headers: table(vec![tp(s(&format!("{VALID}-{}", "a".repeat(500 * 1024))))]),
            expect: Expect::Refused,
        },
        Case {
            name: "10,000 other headers and a valid one (~190 KB)",
            headers: table(many(10_000)),
            expect: Expect::Refused,
        },
    ]
}

/// Publishes `headers` as they are, with amqprs alone, on a connection of its
/// own; returns what `basic_publish` said and whether RabbitMQ closed the
/// connection (amqprs' connection no longer open) within a moment.
async fn publish_raw(
    node: &RabbitMq,
    exchange: &str,
    headers: FieldTable,
    content: &[u8],
) -> String {
    let (connection, channel) = connect(node).await;
    let published = channel
        .basic_publish(
            BasicProperties::default().with_headers(headers).finish(),
            content.to_vec(),
            BasicPublishArguments::new(exchange, "hostile"),
        )
        .await;
    // A round trip on the channel: the broker has read the publish before it
    // answers (or has closed the connection).
    let round_trip = channel
        .queue_declare(
            QueueDeclareArguments::new(&unique("probe"))
                .exclusive(true)
                .auto_delete(true)
                .finish(),
        )
        .await;
    let open = connection.is_open();
    let outcome = format!(
        "basic_publish {}; next request {}; connection {}",
        match &published {
            Ok(()) => "Ok".to_owned(),
            Err(e) => format!("Err({e})"),
        },
        match &round_trip {
            Ok(_) => "Ok".to_owned(),
            Err(e) => format!("Err({e})"),
        },
        if open { "open" } else { "closed by the broker" }
    );
    if open {
        let _ = connection.close().await;
    }
    outcome
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
        Expect::Refused => panic!("{case}: delivered, RabbitMQ was expected to refuse it"),
    }
}

#[tokio::test]
async fn hostile_header_tables_never_fail_the_consumer() {
    let node = RabbitMq::shared();
    let (_connection, channel) = connect(node).await;
    let (provider, exporter) = sdk();
    let messaging = amqp::messaging().tracer_provider(&provider);
    let (exchange, queue) = (unique("hostile"), unique("hostile-workers"));
    let mut deliveries = worker(&channel, &messaging, &exchange, &queue, "hostile", false).await;
    let sentinel = || table(vec![("traceparent".to_owned(), s(VALID))]);

    let mut report = Vec::new();
    for case in hostile_cases() {
        let outcome = publish_raw(node, &exchange, case.headers, b"hostile").await;
        // A valid message after it, from another connection: the consumer
        // still gets messages.
        let after = publish_raw(node, &exchange, sentinel(), b"sentinel").await;
        let mut hostile = None;
        let sentinel_delivery = loop {
            let delivery = next(&mut deliveries).await;
            if delivery.content == b"hostile" {
                hostile = Some(delivery);
            } else {
                break delivery;
            }
        };
        let spans = finished(&exporter);
        assert_expected(
            &by_id(&spans, sentinel_delivery.span),
            Expect::Continued,
            &format!("the message after {}", case.name),
        );
        assert!(after.starts_with("basic_publish Ok"), "{after}");
        let what = match hostile {
            Some(delivery) => {
                assert_expected(&by_id(&spans, delivery.span), case.expect, case.name);
                let names = delivery
                    .properties
                    .headers()
                    .map_or(0, |h| h.as_ref().len());
                format!(
                    "delivered ({names} header names), {}",
                    match case.expect {
                        Expect::Continued => "trace continued",
                        _ => "new trace",
                    }
                )
            }
            None => {
                assert_eq!(
                    case.expect,
                    Expect::Refused,
                    "{}: not delivered ({outcome})",
                    case.name
                );
                "NOT delivered".to_owned()
            }
        };
        report.push(format!("{:<52} {what}; publisher: {outcome}", case.name));
        exporter.reset();
    }
    for line in &report {
        println!("{line}");
    }
    // What the broker logged about the connections it closed (its log is
    // written a moment later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = node.log();
    let too_large: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("frame_too_large"))
        .collect();
    for line in &too_large {
        println!("rabbitmq: {line}");
    }
    let refused = hostile_cases()
        .iter()
        .filter(|c| c.expect == Expect::Refused)
        .count();
    assert!(
        too_large.len() >= refused,
        "RabbitMQ names each refused frame frame_too_large (over frame_max 131,072): {too_large:?}"
    );
}

// ---------------------------------------------------------------------------
// 5. The private nodes
// ---------------------------------------------------------------------------

/// The names epmd on `port` knows, as `epmd -names` prints them.
fn epmd_names(port: u16) -> String {
    let out = Command::new("epmd")
        .args(["-port", &port.to_string(), "-names"])
        .output()
        .expect("run epmd -names");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z ") && !stat.contains(") X "))
}

#[test]
fn two_private_nodes_start_in_parallel_and_leave_nothing_behind() {
    let begin = Instant::now();
    let a = std::thread::spawn(RabbitMq::start);
    let b = std::thread::spawn(RabbitMq::start);
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    eprintln!(
        "two nodes in parallel: {:?} and {:?} each, {:?} in all",
        a.started_in(),
        b.started_in(),
        begin.elapsed()
    );
    assert_ne!(a.port(), b.port());
    assert_ne!(a.epmd_port(), b.epmd_port());
    // Each node is registered with its own epmd, and only there.
    let short = |n: &RabbitMq| n.node().split('@').next().unwrap().to_owned();
    let (names_a, names_b) = (epmd_names(a.epmd_port()), epmd_names(b.epmd_port()));
    assert!(
        names_a.contains(&format!("name {} ", short(&a))),
        "{names_a}"
    );
    assert!(!names_a.contains(&short(&b)), "{names_a}");
    assert!(
        names_b.contains(&format!("name {} ", short(&b))),
        "{names_b}"
    );
    // Each has a cookie of its own, in its own HOME.
    let cookie = |n: &RabbitMq| std::fs::read(n.dir().join("home/.erlang.cookie")).unwrap();
    assert_ne!(cookie(&a), cookie(&b));

    let pid_file = a.dir().join(format!("mnesia/{}.pid", a.node()));
    let beam = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(alive(&beam), "beam.smp {beam} of {}", a.node());
    let (port, epmd_port, dir) = (a.port(), a.epmd_port(), a.dir().to_owned());
    drop(a);
    assert!(!alive(&beam), "beam.smp {beam} still runs after the drop");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "AMQP port still open"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", epmd_port)).is_err(),
        "epmd still listens"
    );
    assert!(!dir.exists(), "{} not removed", dir.display());
    // The other node is untouched.
    assert!(TcpStream::connect(("127.0.0.1", b.port())).is_ok());
}
