//! The RabbitMQ jobs example, run as a user runs it (the `web` service in one
//! process, the `worker` in another, a private RabbitMQ node of
//! `common::rabbitmq` between them: it takes about 8 s to start, one per
//! test), exporting over OTLP to a real receiver: each order's SERVER
//! span, its PRODUCER span `publish jobs.email` and the worker's CONSUMER span
//! of each delivery `process jobs.email`, with the messaging conventions'
//! attributes; the CONSUMER span a child of the PRODUCER span (one trace)
//! under the default `Trust::Continue`, a new trace linked to it under
//! `DT_JOBS_TRUST=link`; and the log lines of both processes with those ids.
//! The first delivery of order 1 is refused by the example's mail server (a
//! nack with requeue): its redelivery gets a CONSUMER span of its own, with
//! another delivery tag and the same parent (or link).

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;

use common::otlp::{hex, Protocol, Received, Receiver, Store};
use common::rabbitmq::RabbitMq;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

fn kind(s: &Received) -> SpanKind {
    SpanKind::try_from(s.span.kind).unwrap_or(SpanKind::Unspecified)
}

/// Runs the example against a new RabbitMQ node and receiver, with
/// `DT_JOBS_TRUST` set to `trust` (else unset); its output, what the
/// receiver got, and the node's AMQP port.
fn run(trust: Option<&str>) -> (String, Store, u16) {
    let node = RabbitMq::start();
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let mut command = Command::new(common::example_binary("amqp_jobs"));
    command
        .env("AMQP_HOST", "127.0.0.1")
        .env("AMQP_PORT", node.port().to_string())
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.addr),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("RUST_LOG");
    match trust {
        Some(trust) => command.env("DT_JOBS_TRUST", trust),
        None => command.env_remove("DT_JOBS_TRUST"),
    };
    let stdout = common::stdout_of(&mut command);
    assert!(stdout.contains("the worker sent 2 e-mails"), "{stdout}");
    (stdout, receiver.stop(), node.port())
}

/// The trace id of a log line `[service ] [trace id] [LEVEL] ...`.
fn trace_of(line: &str) -> &str {
    &line[12..44]
}

/// One order as the web service saw it: its trace, its PRODUCER span
/// (checked, with the SERVER span).
struct Order {
    n: u32,
    trace: String,
    producer: Received,
}

/// The two orders: their answers and the web's log lines agree on the trace
/// id; each trace has the web's SERVER span and, its child, the PRODUCER span
/// with the conventions' attributes.
fn orders(stdout: &str, spans: &[Received], amqp_port: u16) -> Vec<Order> {
    (1..=2)
        .map(|n| {
            let answer = stdout
                .lines()
                .find(|l| l.starts_with(&format!("POST /orders -> order {n} accepted (trace ")))
                .unwrap_or_else(|| panic!("order {n}'s answer: {stdout}"));
            let trace = answer[answer.len() - 33..answer.len() - 1].to_owned();
            let accepted = stdout
                .lines()
                .find(|l| {
                    l.starts_with("[web     ]") && l.contains(&format!("order accepted order={n} "))
                })
                .unwrap_or_else(|| panic!("order {n}'s log line: {stdout}"));
            assert_eq!(trace_of(accepted), trace, "the web's line: {stdout}");
            let message_id = accepted
                .split_whitespace()
                .find_map(|w| w.strip_prefix("message_id="))
                .unwrap()
                .to_owned();
            assert_eq!(message_id, format!("order-{n}"), "{stdout}");

            let in_trace: Vec<&Received> = spans.iter().filter(|s| s.trace_id() == trace).collect();
            let one = |k: SpanKind| -> Received {
                let found: Vec<&&Received> = in_trace
                    .iter()
                    .filter(|s| s.service == "web" && kind(s) == k)
                    .collect();
                assert_eq!(found.len(), 1, "one {k:?} span of web: {in_trace:#?}");
                (*found[0]).clone()
            };
            let server = one(SpanKind::Server);
            let producer = one(SpanKind::Producer);
            assert_eq!(server.span.name, "POST /orders");
            assert_eq!(server.parent_span_id(), "", "the web started the trace");
            assert_eq!(producer.span.name, "publish jobs.email");
            assert_eq!(
                producer.parent_span_id(),
                server.span_id(),
                "the job is queued in the request's span"
            );
            let port = amqp_port.to_string();
            for (key, value) in [
                ("messaging.system", "rabbitmq"),
                ("messaging.operation.type", "send"),
                ("messaging.operation.name", "publish"),
                // The default exchange: the routing key, the queue's name.
                ("messaging.destination.name", "jobs.email"),
                ("messaging.rabbitmq.destination.routing_key", "jobs.email"),
                ("messaging.message.id", message_id.as_str()),
                ("server.address", "127.0.0.1"),
                ("server.port", port.as_str()),
            ] {
                assert_eq!(
                    producer.attribute(key).as_deref(),
                    Some(value),
                    "{key}: {producer:#?}"
                );
            }
            assert_eq!(
                producer.attribute("messaging.rabbitmq.message.delivery_tag"),
                None,
                "no delivery tag when publishing"
            );
            assert_eq!(producer.span.status.as_ref().map_or(0, |s| s.code), 0);
            Order { n, trace, producer }
        })
        .collect()
}

/// The worker's CONSUMER spans of `order` (found by `belongs`), checked:
/// the conventions' attributes, one per delivery (order 1: two, the first
/// refused, each with a delivery tag of its own), each with the worker's
/// `send_mail` span inside.
fn consumers(
    order: &Order,
    spans: &[Received],
    belongs: impl Fn(&Received) -> bool,
) -> Vec<Received> {
    let found: Vec<Received> = spans
        .iter()
        .filter(|s| kind(s) == SpanKind::Consumer && belongs(s))
        .cloned()
        .collect();
    let deliveries = if order.n == 1 { 2 } else { 1 };
    assert_eq!(
        found.len(),
        deliveries,
        "order {}: a CONSUMER span per delivery: {spans:#?}",
        order.n
    );
    let message_id = order.producer.attribute("messaging.message.id");
    let mut tags = BTreeSet::new();
    for consumer in &found {
        assert_eq!(consumer.service, "worker");
        assert_eq!(consumer.span.name, "process jobs.email");
        for (key, value) in [
            ("messaging.system", "rabbitmq"),
            ("messaging.operation.type", "process"),
            ("messaging.operation.name", "process"),
            // The queue is left out: it equals the routing key.
            ("messaging.destination.name", "jobs.email"),
            ("messaging.rabbitmq.destination.routing_key", "jobs.email"),
        ] {
            assert_eq!(
                consumer.attribute(key).as_deref(),
                Some(value),
                "{key}: {consumer:#?}"
            );
        }
        assert_eq!(consumer.attribute("messaging.message.id"), message_id);
        tags.insert(
            consumer
                .attribute("messaging.rabbitmq.message.delivery_tag")
                .unwrap_or_else(|| panic!("a delivery tag: {consumer:#?}")),
        );
        // The job's work is inside the CONSUMER span.
        assert!(
            spans.iter().any(|s| s.service == "worker"
                && s.span.name == "send_mail"
                && s.trace_id() == consumer.trace_id()
                && s.parent_span_id() == consumer.span_id()),
            "send_mail under the CONSUMER span: {spans:#?}"
        );
    }
    assert_eq!(tags.len(), deliveries, "a delivery tag per delivery");
    let refused: Vec<&Received> = found
        .iter()
        .filter(|s| s.span.status.as_ref().is_some_and(|st| st.code == 2))
        .collect();
    assert_eq!(refused.len(), deliveries - 1, "{found:#?}");
    for span in refused {
        assert_eq!(
            span.attribute("error.type").as_deref(),
            Some("mail_refused")
        );
    }
    found
}

/// The trace ids on the worker's `sending the confirmation e-mail` lines of
/// order `n`.
fn worker_traces(stdout: &str, n: u32) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("[worker  ]")
                && l.contains(&format!("sending the confirmation e-mail order={n} "))
        })
        .map(|l| trace_of(l).to_owned())
        .collect()
}

#[test]
fn a_job_queued_by_a_request_runs_in_its_trace_in_the_worker() {
    let (stdout, store, port) = run(None);
    let spans = store.spans();
    let orders = orders(&stdout, &spans, port);
    for order in &orders {
        let consumers = consumers(order, &spans, |s| {
            s.trace_id() == order.trace && s.service == "worker"
        });
        for consumer in &consumers {
            assert_eq!(
                consumer.parent_span_id(),
                order.producer.span_id(),
                "the CONSUMER span is the PRODUCER span's child: {consumer:#?}"
            );
        }
        // Every worker line of the job, each delivery's, has the request's id.
        let traces = worker_traces(&stdout, order.n);
        assert_eq!(traces.len(), consumers.len(), "{stdout}");
        assert!(traces.iter().all(|t| *t == order.trace), "{stdout}");
    }
    // The refusal (order 1's first delivery) and the two e-mails sent are
    // logged in the orders' traces too.
    let worker_lines = |message: &str| -> BTreeSet<String> {
        stdout
            .lines()
            .filter(|l| l.starts_with("[worker  ]") && l.contains(message))
            .map(|l| trace_of(l).to_owned())
            .collect()
    };
    assert_eq!(
        worker_lines("the mail server refused the e-mail"),
        BTreeSet::from([orders[0].trace.clone()]),
        "{stdout}"
    );
    assert_eq!(
        worker_lines("confirmation e-mail sent"),
        orders.iter().map(|o| o.trace.clone()).collect(),
        "{stdout}"
    );
}

#[test]
fn a_worker_that_links_runs_each_delivery_in_a_trace_of_its_own() {
    let (stdout, store, port) = run(Some("link"));
    let spans = store.spans();
    let mut all = BTreeSet::new();
    for order in orders(&stdout, &spans, port) {
        let linked_to_producer = |s: &Received| {
            s.span.links.iter().any(|l| {
                hex(&l.trace_id) == order.trace && hex(&l.span_id) == order.producer.span_id()
            })
        };
        let consumers = consumers(&order, &spans, linked_to_producer);
        let mut traces = BTreeSet::new();
        for consumer in &consumers {
            assert_ne!(consumer.trace_id(), order.trace, "a new trace");
            assert_eq!(consumer.parent_span_id(), "", "the new trace's root");
            assert_eq!(consumer.span.links.len(), 1, "{consumer:#?}");
            traces.insert(consumer.trace_id());
        }
        assert_eq!(traces.len(), consumers.len(), "a trace per delivery");
        // Nothing of the worker is in the request's trace.
        assert!(
            spans
                .iter()
                .all(|s| s.service != "worker" || s.trace_id() != order.trace),
            "{spans:#?}"
        );
        // The worker's lines carry the new traces' ids.
        let logged: BTreeSet<String> = worker_traces(&stdout, order.n).into_iter().collect();
        assert_eq!(logged, traces, "{stdout}");
        all.extend(traces);
    }
    assert_eq!(all.len(), 3, "three deliveries, three traces");
}
