//! Smoke test of the NATS infrastructure (temporary: to be folded into the
//! messaging tests). A real `nats-server` (`common::nats::NatsServer`) and the
//! `async-nats` client: the `traceparent` header through core NATS, through a
//! JetStream stream and a pull consumer, a redelivery told apart by its
//! delivery count, and a message published by nats-py with the context the
//! OpenTelemetry Python SDK injected. Each test prints what a received message
//! carries (run with `--nocapture`): the facts the semantic conventions'
//! attributes are taken from.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use async_nats::HeaderMap;
use common::nats::NatsServer;
use futures::StreamExt as _;

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACESTATE: &str = "congo=t61rcWkgMzE";

fn trace_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TRACEPARENT);
    headers.insert("tracestate", TRACESTATE);
    headers
}

/// The headers as sorted `name: [values]` lines.
fn show(headers: Option<&HeaderMap>) -> String {
    let Some(headers) = headers else {
        return "none".into();
    };
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(name, values)| {
            let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
            format!("{name}: {values:?}")
        })
        .collect();
    lines.sort();
    format!("[{}]", lines.join(", "))
}

fn show_message(label: &str, m: &async_nats::Message) {
    println!(
        "{label}: subject={} reply={:?} payload={} bytes, length={} status={:?} description={:?}\n  headers={}",
        m.subject,
        m.reply.as_ref().map(|r| r.as_str()),
        m.payload.len(),
        m.length,
        m.status,
        m.description,
        show(m.headers.as_ref()),
    );
}

async fn next(subscriber: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(10), subscriber.next())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open")
}

#[tokio::test]
async fn core_nats_carries_the_traceparent_header() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    println!(
        "server {} (max_payload {} bytes, headers and body together)",
        server.url(),
        client.max_payload()
    );
    let mut plain = client.subscribe("orders.created").await.unwrap();
    let mut queue = client
        .queue_subscribe("orders.created", "billing".to_string())
        .await
        .unwrap();
    client
        .publish_with_headers("orders.created", trace_headers(), "order 1".into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let received = next(&mut plain).await;
    show_message("core NATS, plain subscriber", &received);
    let headers = received.headers.as_ref().expect("headers");
    assert_eq!(headers.get("traceparent").unwrap().as_str(), TRACEPARENT);
    assert_eq!(headers.get("tracestate").unwrap().as_str(), TRACESTATE);
    assert!(
        headers.get("Traceparent").is_none(),
        "header names are case-sensitive"
    );
    assert_eq!(received.payload.as_ref(), b"order 1");

    // The queue group is the subscriber's: nothing in the message names it.
    let received = next(&mut queue).await;
    show_message("core NATS, queue group \"billing\"", &received);
    assert_eq!(
        received
            .headers
            .as_ref()
            .unwrap()
            .get("traceparent")
            .unwrap()
            .as_str(),
        TRACEPARENT
    );
}

#[tokio::test]
async fn jetstream_pull_consumer_carries_the_traceparent_header() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client);
    let orders = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("create the stream");

    let ack = js
        .publish_with_headers("orders.created", trace_headers(), "order 1".into())
        .await
        .unwrap()
        .await
        .expect("the stream's ack");
    println!("publish ack (no message id): {ack:?}");
    // A message id is the publisher's choice: the `Nats-Msg-Id` header, the
    // stream's de-duplication key.
    let ack = js
        .send_publish(
            "orders.created",
            jetstream::message::PublishMessage::build()
                .payload("order 2".into())
                .headers(trace_headers())
                .message_id("order-2"),
        )
        .await
        .unwrap()
        .await
        .expect("the stream's ack");
    println!("publish ack (message id order-2): {ack:?}");

    let consumer = orders
        .create_consumer(pull::Config {
            durable_name: Some("billing".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create the consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .expect("fetch");
    let mut count = 0;
    while let Some(message) = messages.next().await {
        let message = message.expect("a message");
        count += 1;
        show_message(&format!("JetStream message {count}"), &message);
        println!("  info()={:?}", message.info().expect("JetStream info"));
        let headers = message.headers.as_ref().expect("headers");
        assert_eq!(headers.get("traceparent").unwrap().as_str(), TRACEPARENT);
        message.ack().await.expect("ack");
    }
    assert_eq!(count, 2);
}

#[tokio::test]
async fn jetstream_redelivery_is_told_by_its_delivery_count() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client);
    let orders = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("create the stream");
    js.publish_with_headers("orders.created", trace_headers(), "order 1".into())
        .await
        .unwrap()
        .await
        .expect("the stream's ack");
    let consumer = orders
        .create_consumer(pull::Config {
            durable_name: Some("billing".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .expect("create the consumer");

    let mut deliveries = Vec::new();
    for attempt in 1..=2 {
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
        show_message(&format!("delivery {attempt}, not acked"), &message);
        let info = message.info().expect("JetStream info");
        println!("  info()={info:?}");
        assert_eq!(
            message
                .headers
                .as_ref()
                .unwrap()
                .get("traceparent")
                .unwrap()
                .as_str(),
            TRACEPARENT,
            "the redelivered message keeps its headers"
        );
        deliveries.push((info.stream_sequence, info.consumer_sequence, info.delivered));
        // No ack: the server delivers it again after `ack_wait`.
    }
    assert_eq!(deliveries[0].0, deliveries[1].0, "the same stream message");
    assert_eq!(
        (deliveries[0].2, deliveries[1].2),
        (1, 2),
        "delivered counts"
    );
    assert!(
        deliveries[1].1 > deliveries[0].1,
        "a new consumer sequence for the redelivery"
    );
}

#[tokio::test]
async fn a_python_publisher_s_trace_context_arrives_in_the_headers() {
    let server = NatsServer::start();
    let venv = common::e2e_venv();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut subscriber = client.subscribe("orders.python").await.unwrap();
    client.flush().await.unwrap();

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/py_nats.py");
    let out = tokio::process::Command::new(venv.join("bin/python"))
        .arg(script)
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
    println!("nats-py sent the headers {sent}");

    let received = next(&mut subscriber).await;
    show_message("from nats-py", &received);
    let traceparent = received
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .expect("a traceparent header");
    assert_eq!(traceparent.as_str(), sent["traceparent"].as_str().unwrap());
    // Sampled (flag 01); the Python SDK also sets Level 2's random flag (02).
    let flags = u8::from_str_radix(&traceparent.as_str()[53..], 16).unwrap();
    assert!(
        traceparent.as_str().starts_with("00-") && flags & 1 == 1,
        "{traceparent}"
    );
}
