//! RabbitMQ (AMQP 0.9.1, feature `amqp`) through
//! [`amqprs`](https://docs.rs/amqprs): a PRODUCER span for every publish and
//! a CONSUMER span for every delivery processed, the trace context in the
//! message's header table (`BasicProperties::headers`, long strings).
//!
//! ```no_run
//! # async fn demo(channel: amqprs::channel::Channel) -> Result<(), amqprs::error::Error> {
//! use amqprs::channel::BasicPublishArguments;
//! use amqprs::BasicProperties;
//! use distributed_tracing::messaging::amqp;
//!
//! let messaging = amqp::messaging();
//! let args = BasicPublishArguments::new("orders", "created");
//! amqp::publish(&channel, &messaging, BasicProperties::default(), b"42".to_vec(), args).await?;
//! // In the consumer (an `AsyncConsumer`'s `consume`):
//! // let processing = amqp::process(&messaging, "billing", &deliver, &properties, content.len());
//! // processing.run(async { /* the work */ Ok::<_, MyError>(()) }).await
//! # Ok(()) }
//! ```
//!
//! What it records, by the RabbitMQ conventions (v1.44.0): `messaging.system`
//! `rabbitmq`; `messaging.destination.name` `{exchange}:{routing key}` on
//! the producer, `{exchange}:{routing key}:{queue}` on the consumer (empty
//! parts left out, the queue when it equals the routing key; `amq.default`
//! when all are empty); the span's name is `{operation} {destination}`;
//! `messaging.rabbitmq.destination.routing_key` when not empty; the
//! properties' `message_id` and `correlation_id` as `messaging.message.id`
//! and `messaging.message.conversation_id`; the delivery tag
//! (`messaging.rabbitmq.message.delivery_tag`) on the consumer. A redelivered
//! message (`Deliver::redelivered`) gets a CONSUMER span of its own, with
//! the same parent.
//!
//! Headers are read as the conventions' carriers read any: names compared
//! case-insensitively (two names differing in case are a repeated header),
//! long-string values only (a byte array, a number or a nested table in
//! their place is no context: a new trace).

use amqprs::channel::{BasicPublishArguments, Channel};
use amqprs::{BasicProperties, Deliver, FieldName, FieldTable, FieldValue, LongStr};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;

use super::{Destination, Message, Messaging, Processing};
use crate::untrusted::capped;

/// Writes propagation fields into an AMQP header table as long strings,
/// replacing the fields of the same name in any case (a `TraceParent` a
/// forwarded message carries would otherwise make two, and the consumer a new
/// trace). A name AMQP does not allow (over 255 bytes) is skipped.
#[derive(Debug)]
pub struct AmqpHeaderInjector<'a>(pub &'a mut FieldTable);

impl Injector for AmqpHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let (Ok(name), Ok(value)) = (FieldName::try_from(key), LongStr::try_from(value)) else {
            return;
        };
        let same: Vec<FieldName> = self
            .0
            .as_ref()
            .keys()
            .filter(|k| AsRef::<String>::as_ref(*k).eq_ignore_ascii_case(key))
            .cloned()
            .collect();
        for old in &same {
            self.0.remove(old);
        }
        self.0.insert(name, FieldValue::S(value));
    }
}

/// Reads propagation fields from an AMQP header table: long-string values,
/// names compared case-insensitively.
#[derive(Debug, Clone, Copy)]
pub struct AmqpHeaderExtractor<'a>(pub &'a FieldTable);

fn text(value: &FieldValue) -> Option<&str> {
    match value {
        FieldValue::S(s) => Some(AsRef::<String>::as_ref(s).as_str()),
        _ => None,
    }
}

impl Extractor for AmqpHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .as_ref()
            .iter()
            .find(|(name, _)| AsRef::<String>::as_ref(*name).eq_ignore_ascii_case(key))
            .and_then(|(_, value)| text(value))
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .as_ref()
            .keys()
            .map(|name| AsRef::<String>::as_ref(name).as_str())
            .collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        // A value that is not a long string counts, as U+FFFD: two fields of
        // one name (in two cases) stay two, and no format accepts it.
        let values: Vec<&str> = self
            .0
            .as_ref()
            .iter()
            .filter(|(name, _)| AsRef::<String>::as_ref(*name).eq_ignore_ascii_case(key))
            .map(|(_, value)| text(value).unwrap_or(crate::propagation::carrier::NOT_TEXT))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// The instrumentation for RabbitMQ: `messaging.system` `rabbitmq`, the
/// sending operation named `publish` (give the broker with
/// [`Messaging::server`]).
pub fn messaging() -> Messaging {
    Messaging::new("rabbitmq")
}

/// `messaging.destination.name` of an exchange, a routing key and, on the
/// consumer, a queue: the non-empty ones joined by `:` (the queue left out
/// when it equals the routing key), `amq.default` when all are empty.
fn destination_name(exchange: &str, routing_key: &str, queue: &str) -> String {
    let queue = match queue == routing_key {
        true => "",
        false => queue,
    };
    let parts: Vec<&str> = [exchange, routing_key, queue]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    match parts.is_empty() {
        true => "amq.default".to_owned(),
        false => parts.join(":"),
    }
}

fn described<'a>(properties: &'a BasicProperties, body: usize) -> Message<'a> {
    let mut message = Message::new().body_size(body);
    if let Some(id) = properties.message_id() {
        message = message.id(id);
    }
    if let Some(id) = properties.correlation_id() {
        message = message.conversation_id(id);
    }
    message
}

/// Publishes `content` in a PRODUCER span (`publish {destination}`), its
/// context written into the properties' headers (a `traceparent` already
/// there is replaced); the span ends with the publish's result.
pub async fn publish(
    channel: &Channel,
    messaging: &Messaging,
    mut properties: BasicProperties,
    content: Vec<u8>,
    args: BasicPublishArguments,
) -> Result<(), amqprs::error::Error> {
    let name = destination_name(&args.exchange, &args.routing_key, "");
    let mut headers = properties.headers().cloned().unwrap_or_default();
    let sending = {
        let message = described(&properties, content.len());
        messaging.send(&name, &message, &mut AmqpHeaderInjector(&mut headers))
    };
    if !args.routing_key.is_empty() {
        sending.context().span().set_attribute(KeyValue::new(
            "messaging.rabbitmq.destination.routing_key",
            capped(&args.routing_key, super::DEFAULT_MAX_ATTRIBUTE_LEN).to_owned(),
        ));
    }
    properties.with_headers(headers);
    let result = channel.basic_publish(properties, content, args).await;
    match &result {
        Ok(()) => sending.end(Ok(())),
        Err(e) => sending.end_with_error_type(e, "publish"),
    }
    result
}

/// Starts the CONSUMER span of processing one delivery from `queue` (the
/// delivery does not name it), `process {exchange}:{routing key}:{queue}`,
/// with its routing key and delivery tag.
pub fn process(
    messaging: &Messaging,
    queue: &str,
    deliver: &Deliver,
    properties: &BasicProperties,
    content_len: usize,
) -> Processing {
    let empty = FieldTable::new();
    let headers = properties.headers().unwrap_or(&empty);
    let name = destination_name(deliver.exchange(), deliver.routing_key(), queue);
    let processing = messaging.process(
        &Destination::new(&name),
        &described(properties, content_len),
        &AmqpHeaderExtractor(headers),
    );
    let cx = processing.context();
    let span = cx.span();
    if !deliver.routing_key().is_empty() {
        span.set_attribute(KeyValue::new(
            "messaging.rabbitmq.destination.routing_key",
            capped(deliver.routing_key(), super::DEFAULT_MAX_ATTRIBUTE_LEN).to_owned(),
        ));
    }
    span.set_attribute(KeyValue::new(
        "messaging.rabbitmq.message.delivery_tag",
        i64::try_from(deliver.delivery_tag()).unwrap_or(i64::MAX),
    ));
    processing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_names_and_header_tables() {
        // (exchange, routing key, queue, name)
        for (exchange, key, queue, name) in [
            ("orders", "created", "", "orders:created"),
            ("orders", "created", "billing", "orders:created:billing"),
            ("orders", "", "billing", "orders:billing"),
            ("", "jobs", "jobs", "jobs"),
            ("orders", "", "", "orders"),
            ("", "jobs", "", "jobs"),
            ("", "", "", "amq.default"),
        ] {
            assert_eq!(destination_name(exchange, key, queue), name);
        }
        let mut table = FieldTable::new();
        table.insert(
            "TraceParent".try_into().unwrap(),
            FieldValue::S("00-old".try_into().unwrap()),
        );
        AmqpHeaderInjector(&mut table).set("traceparent", "00-a".into());
        AmqpHeaderInjector(&mut table).set(&"x".repeat(300), "too long a name".into());
        assert_eq!(AmqpHeaderExtractor(&table).get("TraceParent"), Some("00-a"));
        assert_eq!(
            AmqpHeaderExtractor(&table).get_all("traceparent"),
            Some(vec!["00-a"]),
            "the other case replaced, not kept beside"
        );
        assert_eq!(AmqpHeaderExtractor(&table).keys(), ["traceparent"]);
        table.insert("TraceParent".try_into().unwrap(), FieldValue::l(7));
        assert_eq!(
            AmqpHeaderExtractor(&table)
                .get_all("traceparent")
                .map(|v| v.len()),
            Some(2),
            "two names in two cases, one not a string: repeated"
        );
    }
}
