//! NATS (feature `nats`): core NATS and JetStream through
//! [`async-nats`](https://docs.rs/async-nats), a PRODUCER span for every
//! publish and a CONSUMER span for every message processed, the trace
//! context in the message's headers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use distributed_tracing::messaging::{nats, Messaging};
//! use futures::StreamExt as _;
//!
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let messaging = nats::messaging(&client);
//! // In a request: the job carries the request's trace.
//! nats::publish(&client, &messaging, "jobs.email", "hello".into()).await?;
//!
//! // In the worker: each job continues (or links to) its publisher's trace.
//! let mut jobs = client.queue_subscribe("jobs.*", "workers".into()).await?;
//! while let Some(message) = jobs.next().await {
//!     let processing = nats::process(&messaging, &message, Some("jobs.*"), Some("workers"));
//!     let _in_trace = processing.attach();
//!     tracing::info!("sending the e-mail"); // the publisher's trace id
//! }
//! # Ok(()) }
//! ```
//!
//! What it records: `messaging.system` `nats`; the subject as
//! `messaging.destination.name` (the subscription's pattern, when given, as
//! the template and the span's name); the queue group or JetStream consumer
//! as `messaging.consumer.group.name`; `Nats-Msg-Id` (else, on JetStream,
//! the stream sequence) as `messaging.message.id`; the payload's length as
//! the body size (when [`Messaging::body_size`] is on); the server the
//! client is connected to.

use async_nats::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;

use super::{Destination, Message, Messaging, Processing};

/// The header of a message's id in JetStream (deduplication).
const MSG_ID: &str = "Nats-Msg-Id";

/// Writes propagation fields into an `async_nats::HeaderMap`, replacing the
/// values of the same name. A name NATS does not allow is skipped (the
/// propagators' names are all allowed).
#[derive(Debug)]
pub struct NatsHeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for NatsHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // `insert` of a `&str` name panics on a name NATS refuses: parsed here.
        if let Ok(name) = key.parse::<HeaderName>() {
            self.0.insert(name, value);
        }
    }
}

/// Reads propagation fields from an `async_nats::HeaderMap`. NATS header
/// names are case-sensitive; these are compared case-insensitively, as HTTP
/// headers are, and a name repeated in two cases counts as repeated (a
/// repeated `traceparent` is invalid).
#[derive(Debug, Clone, Copy)]
pub struct NatsHeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for NatsHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(key))
            .and_then(|(_, values)| values.first())
            .map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(key))
            .flat_map(|(_, values)| values.iter().map(|v| v.as_str()))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// The instrumentation for `client`: `messaging.system` `nats`, and the
/// server it is connected to (`server.address`, `server.port`) as the server
/// announces itself; a server bound to every address (`0.0.0.0`, `::`)
/// does not say which one the client dialled, so none is recorded: give it
/// with [`Messaging::server`].
pub fn messaging(client: &async_nats::Client) -> Messaging {
    let info = client.server_info();
    let unspecified = info
        .host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    match unspecified || info.host.is_empty() {
        true => Messaging::new("nats"),
        false => Messaging::new("nats").server(info.host, Some(info.port)),
    }
}

/// What a span knows of a NATS message: its id, if any, and its body's size.
fn described(id: Option<&str>, body: usize) -> Message<'_> {
    let message = Message::new().body_size(body);
    match id {
        Some(id) => message.id(id),
        None => message,
    }
}

/// The headers of a message, or none.
fn headers_of(headers: Option<&HeaderMap>) -> &HeaderMap {
    headers.unwrap_or(&EMPTY)
}

/// Publishes `payload` on `subject` (core NATS) in a PRODUCER span
/// (`publish {subject}`), its context in the message's headers; the span
/// ends with the publish's result.
pub async fn publish(
    client: &async_nats::Client,
    messaging: &Messaging,
    subject: impl Into<String>,
    payload: bytes::Bytes,
) -> Result<(), async_nats::PublishError> {
    publish_with_headers(client, messaging, subject, HeaderMap::new(), payload).await
}

/// [`publish`] with headers of your own (a `traceparent` among them is
/// replaced by the span's).
pub async fn publish_with_headers(
    client: &async_nats::Client,
    messaging: &Messaging,
    subject: impl Into<String>,
    mut headers: HeaderMap,
    payload: bytes::Bytes,
) -> Result<(), async_nats::PublishError> {
    let subject: String = subject.into();
    // Owned: the headers are written into below.
    let id = headers.get(MSG_ID).map(|v| v.as_str().to_owned());
    let message = described(id.as_deref(), payload.len());
    let sending = messaging.send(&subject, &message, &mut NatsHeaderInjector(&mut headers));
    let result = client.publish_with_headers(subject, headers, payload).await;
    match &result {
        Ok(()) => sending.end(Ok(())),
        Err(e) => sending.end_with_error_type(e, error_type(&e.kind())),
    }
    result
}

fn error_type(kind: &async_nats::client::PublishErrorKind) -> &'static str {
    match kind {
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => "max_payload_exceeded",
        async_nats::client::PublishErrorKind::InvalidSubject => "invalid_subject",
        _ => "send",
    }
}

/// Publishes `payload` on `subject` to JetStream in a PRODUCER span, which
/// ends when the stream acknowledges it (with the stream sequence as
/// `messaging.message.id` when the headers give no `Nats-Msg-Id`).
pub async fn publish_jetstream(
    jetstream: &async_nats::jetstream::Context,
    messaging: &Messaging,
    subject: impl Into<String>,
    mut headers: HeaderMap,
    payload: bytes::Bytes,
) -> Result<async_nats::jetstream::publish::PublishAck, async_nats::Error> {
    let subject: String = subject.into();
    // Owned: the headers are written into below.
    let id = headers.get(MSG_ID).map(|v| v.as_str().to_owned());
    let message = described(id.as_deref(), payload.len());
    let sending = messaging.send(&subject, &message, &mut NatsHeaderInjector(&mut headers));
    let acked = async {
        jetstream
            .publish_with_headers(subject, headers, payload)
            .await?
            .await
            .map_err(async_nats::Error::from)
    }
    .await;
    match &acked {
        Ok(ack) => {
            if id.is_none() {
                sending.context().span().set_attribute(KeyValue::new(
                    "messaging.message.id",
                    ack.sequence.to_string(),
                ));
            }
            sending.end(Ok(()));
        }
        Err(e) => sending.end_with_error_type(e, "publish"),
    }
    acked
}

/// Starts the CONSUMER span of processing a core NATS `message`:
/// `subscription`, the pattern subscribed to (the span's name, and
/// `messaging.destination.template`), `queue_group` the subscriber's.
pub fn process(
    messaging: &Messaging,
    message: &async_nats::Message,
    subscription: Option<&str>,
    queue_group: Option<&str>,
) -> Processing {
    let headers = headers_of(message.headers.as_ref());
    let mut destination = Destination::new(message.subject.as_str());
    if let Some(pattern) = subscription.filter(|p| *p != message.subject.as_str()) {
        destination = destination.template(pattern);
    }
    if let Some(group) = queue_group {
        destination = destination.consumer_group(group);
    }
    let id = headers.get(MSG_ID).map(|v| v.as_str());
    let info = described(id, message.payload.len());
    messaging.process(&destination, &info, &NatsHeaderExtractor(headers))
}

/// Starts the CONSUMER span of processing a JetStream `message`: the
/// consumer's name as the group, `Nats-Msg-Id` (else the stream sequence) as
/// the id. A redelivered message (`info().delivered` > 1) gets a span of its
/// own with the same parent.
pub fn process_jetstream(
    messaging: &Messaging,
    message: &async_nats::jetstream::Message,
) -> Processing {
    let headers = headers_of(message.headers.as_ref());
    let info = message.info().ok();
    let mut destination = Destination::new(message.subject.as_str());
    if let Some(info) = &info {
        destination = destination.consumer_group(info.consumer);
    }
    let sequence = info.as_ref().map(|i| i.stream_sequence.to_string());
    let id = headers
        .get(MSG_ID)
        .map(|v| v.as_str())
        .or(sequence.as_deref());
    let info = described(id, message.payload.len());
    messaging.process(&destination, &info, &NatsHeaderExtractor(headers))
}

/// Starts one CONSUMER span for a batch of JetStream (or core) messages:
/// linked to each message's context (at most [`Messaging::max_links`]),
/// `messaging.batch.message_count` the batch's size.
pub fn process_batch<'m>(
    messaging: &Messaging,
    destination: &Destination<'_>,
    messages: impl IntoIterator<Item = &'m async_nats::Message>,
) -> Processing {
    let extractors: Vec<NatsHeaderExtractor<'m>> = messages
        .into_iter()
        .map(|m| NatsHeaderExtractor(headers_of(m.headers.as_ref())))
        .collect();
    messaging.process_batch(destination, extractors.iter().map(|e| e as &dyn Extractor))
}

/// The headers of a message without any.
static EMPTY: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);
