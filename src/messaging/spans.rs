//! [`Messaging`]: the PRODUCER span of a message sent and the CONSUMER span
//! of messages processed, with the messaging semantic conventions'
//! (v1.44.0) names and attributes, the sender's context carried in the
//! message's headers, and the receiver's [`Trust`] deciding what is
//! continued.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::propagation::{extract_context_from, inject_context_into, Trust};
use crate::untrusted::capped;

/// The default cap, in bytes, on each value copied from a message (or given
/// for it) into a span: destination names, message and conversation ids,
/// consumer group names.
pub const DEFAULT_MAX_ATTRIBUTE_LEN: usize = 256;

/// The default most message contexts a batch's CONSUMER span links to: the
/// OpenTelemetry span link limit's default (`OTEL_SPAN_LINK_COUNT_LIMIT`).
pub const DEFAULT_MAX_LINKS: usize = 128;

/// The instrumentation of one messaging system's client: what a message's
/// spans are called and carry.
///
/// ```
/// use distributed_tracing::messaging::{Message, Messaging, PairsInjector};
///
/// let nats = Messaging::new("nats").server("127.0.0.1", Some(4222));
/// let _request = distributed_tracing::DistributedTraceContext::new().enter();
/// let mut headers: Vec<(String, String)> = Vec::new();
/// let sending = nats.send("orders.created", &Message::new().body_size(42), &mut PairsInjector(&mut headers));
/// // ... publish the message with `headers` ...
/// sending.end(Ok(()));
/// assert_eq!(headers[0].0, "traceparent");
/// ```
#[derive(Clone)]
pub struct Messaging {
    system: Cow<'static, str>,
    trust: Trust,
    server: Option<(String, Option<u16>)>,
    max_attribute_len: usize,
    max_links: usize,
    body_size: bool,
    operation_send: &'static str,
    spans: crate::bridge::Spans,
}

impl fmt::Debug for Messaging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messaging")
            .field("system", &self.system)
            .field("trust", &self.trust)
            .field("server", &self.server)
            .field("max_attribute_len", &self.max_attribute_len)
            .field("max_links", &self.max_links)
            .field("body_size", &self.body_size)
            .finish_non_exhaustive()
    }
}

/// What a span knows of one message: each field optional.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Message<'a> {
    /// `messaging.message.id`.
    pub id: Option<&'a str>,
    /// `messaging.message.conversation_id`.
    pub conversation_id: Option<&'a str>,
    /// `messaging.message.body.size` (recorded when
    /// [`Messaging::body_size`] is on: the conventions make it opt-in).
    pub body_size: Option<usize>,
}

impl<'a> Message<'a> {
    /// A message whose id, conversation and size are not known.
    pub const fn new() -> Self {
        Self {
            id: None,
            conversation_id: None,
            body_size: None,
        }
    }

    /// With its id.
    pub const fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// With its conversation id (correlation id).
    pub const fn conversation_id(mut self, id: &'a str) -> Self {
        self.conversation_id = Some(id);
        self
    }

    /// With its body's size in bytes.
    pub const fn body_size(mut self, bytes: usize) -> Self {
        self.body_size = Some(bytes);
        self
    }
}

/// Where messages are consumed from: the destination, the subscription it
/// matched (a low-cardinality template: the span's name), the consumer
/// group.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Destination<'a> {
    /// `messaging.destination.name`: the message's subject, queue or topic.
    pub name: &'a str,
    /// `messaging.destination.template`: the subscription's pattern
    /// (`orders.*`), when the name holds ids.
    pub template: Option<&'a str>,
    /// `messaging.consumer.group.name`: the queue group, durable consumer
    /// or consumer group.
    pub consumer_group: Option<&'a str>,
}

impl<'a> Destination<'a> {
    /// The destination `name`.
    pub const fn new(name: &'a str) -> Self {
        Self {
            name,
            template: None,
            consumer_group: None,
        }
    }

    /// With the subscription's pattern.
    pub const fn template(mut self, template: &'a str) -> Self {
        self.template = Some(template);
        self
    }

    /// With the consumer group.
    pub const fn consumer_group(mut self, group: &'a str) -> Self {
        self.consumer_group = Some(group);
        self
    }
}

impl Messaging {
    /// The instrumentation of messaging system `system` (`messaging.system`:
    /// `nats`, `rabbitmq`, `kafka`, ...): callers' contexts continued
    /// ([`Trust::Continue`]), values cut to [`DEFAULT_MAX_ATTRIBUTE_LEN`]
    /// bytes, batches linked to at most [`DEFAULT_MAX_LINKS`] messages, no
    /// body size, the sending operation named `publish`.
    pub fn new(system: impl Into<Cow<'static, str>>) -> Self {
        Self {
            system: system.into(),
            trust: Trust::Continue,
            server: None,
            max_attribute_len: DEFAULT_MAX_ATTRIBUTE_LEN,
            max_links: DEFAULT_MAX_LINKS,
            body_size: false,
            operation_send: "publish",
            spans: crate::bridge::Spans::Global,
        }
    }

    /// What a consumer does with a message's context: continue it (the
    /// CONSUMER span a child of the PRODUCER span), only link to it, or
    /// ignore it. Messages that come from outside the system are no more
    /// trustworthy than requests: see [`Trust`].
    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// The broker (`server.address`, `server.port`).
    pub fn server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        let address = address.into();
        let address = capped(&address, self.max_attribute_len).to_owned();
        self.server = Some((address, port));
        self
    }

    /// The most bytes of each value copied into a span (default
    /// [`DEFAULT_MAX_ATTRIBUTE_LEN`]), cut at a character boundary.
    pub fn max_attribute_len(mut self, max: usize) -> Self {
        self.max_attribute_len = max;
        self
    }

    /// The most message contexts a batch's CONSUMER span links to (default
    /// [`DEFAULT_MAX_LINKS`]); `messaging.batch.message_count` still counts
    /// every message.
    pub fn max_links(mut self, max: usize) -> Self {
        self.max_links = max;
        self
    }

    /// Whether `messaging.message.body.size` is recorded (opt-in in the
    /// conventions; default off).
    pub fn body_size(mut self, on: bool) -> Self {
        self.body_size = on;
        self
    }

    /// The name of the sending operation (`messaging.operation.name`, the
    /// span name's first word): `publish` by default; `send` for systems that
    /// call it so.
    pub fn send_operation(mut self, name: &'static str) -> Self {
        self.operation_send = name;
        self
    }

    /// Starts this instrumentation's spans with `provider` instead of the
    /// global provider.
    pub fn tracer_provider(
        mut self,
        provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    ) -> Self {
        self.spans = crate::bridge::Spans::of(provider);
        self
    }

    fn common(&self, operation: &'static str, kind: &'static str) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(12);
        attributes.push(KeyValue::new("messaging.system", self.system.clone()));
        attributes.push(KeyValue::new("messaging.operation.name", operation));
        attributes.push(KeyValue::new("messaging.operation.type", kind));
        if let Some((address, port)) = &self.server {
            attributes.push(KeyValue::new("server.address", address.clone()));
            if let Some(port) = port {
                attributes.push(KeyValue::new("server.port", i64::from(*port)));
            }
        }
        attributes
    }

    fn message(&self, message: &Message<'_>, attributes: &mut Vec<KeyValue>) {
        let max = self.max_attribute_len;
        if let Some(id) = message.id {
            attributes.push(KeyValue::new(
                "messaging.message.id",
                capped(id, max).to_owned(),
            ));
        }
        if let Some(id) = message.conversation_id {
            attributes.push(KeyValue::new(
                "messaging.message.conversation_id",
                capped(id, max).to_owned(),
            ));
        }
        if let (true, Some(size)) = (self.body_size, message.body_size) {
            attributes.push(KeyValue::new(
                "messaging.message.body.size",
                i64::try_from(size).unwrap_or(i64::MAX),
            ));
        }
    }

    /// Starts the PRODUCER span of sending one message to `destination`
    /// (`{operation} {destination}`, a child of the current context) and
    /// writes its context into the message's headers with the configured
    /// propagator: the context the consumer continues or links to.
    pub fn send(
        &self,
        destination: &str,
        message: &Message<'_>,
        headers: &mut dyn Injector,
    ) -> Sending {
        let max = self.max_attribute_len;
        let destination = capped(destination, max);
        let mut attributes = self.common(self.operation_send, "send");
        attributes.push(KeyValue::new(
            "messaging.destination.name",
            destination.to_owned(),
        ));
        self.message(message, &mut attributes);
        let builder = SpanBuilder::from_name(format!("{} {destination}", self.operation_send))
            .with_kind(SpanKind::Producer)
            .with_attributes(attributes);
        let parent = crate::context::with_current_context(Clone::clone);
        let cx = self.spans.start(builder, &parent);
        inject_context_into(&cx, headers);
        Sending { cx: Some(cx) }
    }

    /// Starts the CONSUMER span of processing one message
    /// (`process {template or destination}`): a child of the message's
    /// context ([`Trust::Continue`]), else of the current context with a
    /// link to it ([`Trust::NewTraceWithLink`]), else of the current context
    /// alone. A message whose headers hold no valid context (none, malformed,
    /// too long, repeated) is processed in a new trace, as the W3C asks.
    ///
    /// A redelivered message gets a span of its own with the same parent:
    /// call this for each delivery.
    pub fn process(
        &self,
        destination: &Destination<'_>,
        message: &Message<'_>,
        headers: &dyn Extractor,
    ) -> Processing {
        let extracted = match self.trust {
            Trust::Ignore => None,
            _ => extract_context_from(headers),
        };
        let (parent, links) = match (self.trust, extracted) {
            // The message's context as parent; the current one (an ambient
            // span, as a server's) linked, as the conventions ask.
            (Trust::Continue, Some(remote)) => {
                let ambient =
                    crate::context::with_current_context(|cx| cx.span().span_context().clone());
                let links = match ambient.is_valid() {
                    true => vec![Link::with_context(ambient)],
                    false => Vec::new(),
                };
                (remote.into_context(), links)
            }
            (_, Some(remote)) => (
                crate::context::with_current_context(Clone::clone),
                vec![Link::with_context(remote.span_context())],
            ),
            (_, None) => (
                crate::context::with_current_context(Clone::clone),
                Vec::new(),
            ),
        };
        let mut attributes = self.consumer_attributes(destination);
        self.message(message, &mut attributes);
        self.start_process(destination, attributes, links, &parent)
    }

    /// Starts the CONSUMER span of processing a batch of messages: a child
    /// of the current context (its own trace when there is none), linked to
    /// each message's context (the first [`max_links`](Self::max_links)
    /// with a valid one), `messaging.batch.message_count` the batch's size.
    /// [`Trust::Ignore`] links to none.
    pub fn process_batch<'h>(
        &self,
        destination: &Destination<'_>,
        messages: impl IntoIterator<Item = &'h dyn Extractor>,
    ) -> Processing {
        let mut count: usize = 0;
        let mut links = Vec::new();
        for headers in messages {
            count += 1;
            if self.trust == Trust::Ignore || links.len() >= self.max_links {
                continue;
            }
            if let Some(remote) = extract_context_from(headers) {
                links.push(Link::with_context(remote.span_context()));
            }
        }
        let mut attributes = self.consumer_attributes(destination);
        attributes.push(KeyValue::new(
            "messaging.batch.message_count",
            i64::try_from(count).unwrap_or(i64::MAX),
        ));
        let parent = crate::context::with_current_context(Clone::clone);
        self.start_process(destination, attributes, links, &parent)
    }

    fn consumer_attributes(&self, destination: &Destination<'_>) -> Vec<KeyValue> {
        let max = self.max_attribute_len;
        let mut attributes = self.common("process", "process");
        attributes.push(KeyValue::new(
            "messaging.destination.name",
            capped(destination.name, max).to_owned(),
        ));
        if let Some(template) = destination.template {
            attributes.push(KeyValue::new(
                "messaging.destination.template",
                capped(template, max).to_owned(),
            ));
        }
        if let Some(group) = destination.consumer_group {
            attributes.push(KeyValue::new(
                "messaging.consumer.group.name",
                capped(group, max).to_owned(),
            ));
        }
        attributes
    }

    fn start_process(
        &self,
        destination: &Destination<'_>,
        attributes: Vec<KeyValue>,
        links: Vec<Link>,
        parent: &Context,
    ) -> Processing {
        let max = self.max_attribute_len;
        let named = capped(destination.template.unwrap_or(destination.name), max);
        let mut builder = SpanBuilder::from_name(format!("process {named}"))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        Processing {
            cx: Some(self.spans.start(builder, parent)),
        }
    }
}

/// The PRODUCER span of a message being sent; [`end`](Self::end) it with
/// the send's result (dropped, it ends as a success).
#[derive(Debug)]
#[must_use = "end the span with the send's result"]
pub struct Sending {
    cx: Option<Context>,
}

/// The CONSUMER span of messages being processed: make its context current
/// while processing ([`attach`](Self::attach), or
/// [`FutureExt::with_context`](opentelemetry::trace::FutureExt::with_context)
/// with [`context`](Self::context)), then [`end`](Self::end) it with the
/// result (dropped, it ends as a success).
#[derive(Debug)]
#[must_use = "process the messages in its context, then end it"]
pub struct Processing {
    cx: Option<Context>,
}

fn end(cx: Option<Context>, result: Result<(), &dyn fmt::Display>, error_type: &str) {
    let Some(cx) = cx else { return };
    let span = cx.span();
    if let Err(e) = result {
        span.set_status(Status::error(e.to_string()));
        span.set_attribute(KeyValue::new("error.type", error_type.to_owned()));
    }
    span.end();
}

macro_rules! span_guard {
    ($name:ident) => {
        impl $name {
            /// The span's context (its trace and span ids).
            pub fn context(&self) -> Context {
                self.cx.clone().unwrap_or_default()
            }

            /// Makes the span's context current until the guard is dropped
            /// (log lines carry its ids).
            pub fn attach(&self) -> opentelemetry::ContextGuard {
                self.context().attach()
            }

            /// Ends the span: with `Err`, an error status with its words and
            /// `error.type` `_OTHER` (use [`end_with_error_type`](Self::end_with_error_type)
            /// for a type of your own).
            pub fn end(mut self, result: Result<(), &dyn fmt::Display>) {
                end(self.cx.take(), result, "_OTHER");
            }

            /// Ends the span with an error of a low-cardinality type
            /// (`error.type`: `timeout`, `no_responders`, ...).
            pub fn end_with_error_type(mut self, error: &dyn fmt::Display, error_type: &str) {
                end(self.cx.take(), Err(error), error_type);
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                end(self.cx.take(), Ok(()), "");
            }
        }
    };
}

span_guard!(Sending);
span_guard!(Processing);

impl Processing {
    /// Runs `work` with the span's context current at every poll (its log
    /// lines carry the span's ids, the spans it starts are its children),
    /// then ends the span with the result (an `Err` an error, `error.type`
    /// `_OTHER`) and returns it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use distributed_tracing::messaging::{Destination, Message, Messaging};
    /// use distributed_tracing::propagation::PairsExtractor;
    ///
    /// let headers = PairsExtractor::new([("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]);
    /// let processing = Messaging::new("nats").process(&Destination::new("jobs"), &Message::new(), &headers);
    /// let trace = processing
    ///     .run(async { Ok::<_, std::io::Error>(distributed_tracing::current_trace_id()) })
    ///     .await
    ///     .unwrap();
    /// # let _ = trace;
    /// # }
    /// ```
    pub async fn run<T, E: fmt::Display>(
        mut self,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let cx = self.cx.take().unwrap_or_default();
        let result = opentelemetry::trace::FutureExt::with_context(work, cx.clone()).await;
        match &result {
            Ok(_) => end(Some(cx), Ok(()), ""),
            Err(e) => end(Some(cx), Err(e), "_OTHER"),
        }
        result
    }
}
