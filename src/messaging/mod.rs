//! Trace context across message brokers: a job queued by one service and run
//! by another stays one story.
//!
//! [`Messaging`] is the instrumentation of one messaging system's client, by
//! the OpenTelemetry messaging semantic conventions (v1.44.0):
//!
//! * [`Messaging::send`]: a PRODUCER span `publish {destination}` (operation
//!   type `send`) whose context goes into the message's headers with the
//!   configured propagator (W3C `traceparent`/`tracestate`/`baggage`, or any
//!   other the crate has);
//! * [`Messaging::process`]: a CONSUMER span `process {destination}` for one
//!   message, the child of the message's context (the producer's trace goes
//!   on) under [`Trust::Continue`](crate::propagation::Trust), only linked to
//!   it under `NewTraceWithLink`; a redelivered message gets a new span with
//!   the same parent;
//! * [`Messaging::process_batch`]: one CONSUMER span for a batch, linked to
//!   each message's context (at most [`Messaging::max_links`]), its size in
//!   `messaging.batch.message_count`.
//!
//! The carriers: [`PairsInjector`] and
//! [`PairsExtractor`](crate::propagation::PairsExtractor) for any client's
//! name/value headers. Every value copied from a message or given for it is
//! cut to [`Messaging::max_attribute_len`] bytes; a message's headers are read
//! as the HTTP layers read a request's (a malformed, repeated or oversized
//! `traceparent` starts a new trace).
//!
//! | attribute | PRODUCER (`send`) | CONSUMER (`process`) |
//! |---|---|---|
//! | `messaging.system` | R | R |
//! | `messaging.operation.name` | R: `publish` ([`Messaging::send_operation`]) | R: `process` |
//! | `messaging.operation.type` | C: `send` | C: `process` |
//! | `messaging.destination.name` | C | C: the message's |
//! | `messaging.destination.template` | | C: the subscription's, when given (and the span's name) |
//! | `messaging.consumer.group.name` | | C: when given |
//! | `messaging.message.id`, `messaging.message.conversation_id` | r: when given | r: when given |
//! | `messaging.batch.message_count` | | C: a batch |
//! | `messaging.message.body.size` | O: [`Messaging::body_size`] | O |
//! | `server.address`, `server.port` | C/r: [`Messaging::server`] | C/r |
//! | `error.type` | C: on an error | C |
//!
//! The conventions use links by default and allow the message's context as
//! the parent of a single message's "process" span (a MAY, to be documented):
//! this crate makes it the parent under `Trust::Continue`, so that a job
//! queued by a request is one trace with it, and links the ambient context
//! (a server span the processing runs in) as the conventions ask.

#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub mod amqp;
mod carrier;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
mod spans;
#[cfg(test)]
mod tests;

pub use carrier::PairsInjector;
pub use spans::{
    Destination, Message, Messaging, Processing, Sending, DEFAULT_MAX_ATTRIBUTE_LEN,
    DEFAULT_MAX_LINKS,
};
